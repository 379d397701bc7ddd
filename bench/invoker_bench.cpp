// wisp-bench-invoker: what a caller of the invoker waits for, per container state (printed,
// never asserted). InvokerService over DockerContainerFactory, SQLite in memory, a no-op python
// action; every figure is submit -> the first ack (the result a blocking caller gets):
//   cold start without a stem cell, cold start from a python stem cell, warm invoke through the
//   pool, invoke of a paused container, and `docker run` + /init + first /run of the same image
//   as the baseline.
// usage: wisp-bench-invoker [--samples N] [--quick] [--image IMAGE]
// Needs a running dockerd (tools/start-dockerd.sh) and the runtime images
// (tools/build-runtime-images.sh). See bench/README.md.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/invoker/proxy_client.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>

namespace {

using wisp::invoker::AckInfo;
using wisp::invoker::DockerContainerFactory;
using wisp::invoker::InvokerConfig;
using wisp::invoker::InvokerService;
using wisp::invoker::ProxyClient;
using wisp::invoker::ProxyResponse;
using Steady = std::chrono::steady_clock;

constexpr const char* kKind = "python:3.11";
constexpr const char* kNoop = "def main(args):\n    return {}\n";
constexpr const char* kInitBody =
    R"({"value":{"name":"noop","main":"main","binary":false,"code":"def main(args):\n    return {}\n"}})";
constexpr const char* kRunBody =
    R"({"value":{},"namespace":"guest","action_name":"/guest/noop","action_version":"0.0.1",)"
    R"("activation_id":"a","transaction_id":"t","deadline":"99999999999999"})";

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Options {
    int warm = 1000;    // --samples
    int cold = 10;      // each of: cold, stem cell
    int paused = 20;    // resume from paused
    int baseline = 10;  // docker run
    int warm_up = 100;  // warm invokes before the warm samples
    std::string image = "wisp/action-python:3.11";
};

class Samples {
  public:
    void Add(double ms) { v_.push_back(ms); }
    size_t n() const { return v_.size(); }
    // Nearest-rank percentile; with n < 100 the p99 is the largest sample.
    double Pct(double p) const {
        if (v_.empty()) return 0;
        std::vector<double> s = v_;
        std::sort(s.begin(), s.end());
        const auto rank = static_cast<size_t>(p * static_cast<double>(s.size()) + 0.999999);
        return s[std::clamp<size_t>(rank, 1, s.size()) - 1];
    }

  private:
    std::vector<double> v_;
};

struct Row {
    std::string what;
    Samples samples;
    Samples wait;  // the record's waitTime annotation (container creation included)
    Samples init;  // its initTime annotation (cold starts only)
};

// One activation as the caller saw it, and the record's own split of it.
struct Timing {
    double to_first_ack_ms = 0;
    std::optional<double> wait_ms, init_ms;
};

std::optional<double> AnnotationMs(const wisp::common::ActivationRecord& r, const char* key) {
    const auto* v = r.annotations.Get(key);
    if (v == nullptr) return std::nullopt;
    return std::atof(v->text().c_str());
}

void Record(Row& row, const Timing& t) {
    row.samples.Add(t.to_first_ack_ms);
    if (t.wait_ms) row.wait.Add(*t.wait_ms);
    if (t.init_ms) row.init.Add(*t.init_ms);
}

void PrintMachine(const Options& o) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    const double mem_gib =
        static_cast<double>(pages) * static_cast<double>(page_size) / (1024.0 * 1024.0 * 1024.0);
    struct utsname u {};
    ::uname(&u);
    std::printf(
        "wisp-bench-invoker: %s, no-op python action, DockerContainerFactory (unix "
        "socket transport), SQLite :memory:\n",
        o.image.c_str());
    std::printf("machine: %u cores, %.1f GiB memory, %s %s %s\n",
                std::thread::hardware_concurrency(), mem_gib, u.sysname, u.release, u.machine);
    double load[3] = {0, 0, 0};
    if (::getloadavg(load, 3) == 3) {
        std::printf("load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
    }
    std::fflush(stdout);
}

wisp::common::RuntimeManifest Manifest(const std::string& image, int stem_cells) {
    wisp::common::RuntimeManifest::Kind python;
    python.kind = kKind;
    python.image = image;
    python.is_default = true;
    if (stem_cells > 0) python.stem_cells.push_back({stem_cells, 256});
    return wisp::common::RuntimeManifest({python}, {}, {}, {});
}

// One invoker over the shared factory and store; the action names are the caller's.
class Bench {
  public:
    Bench(wisp::store::ArtifactStore& store, DockerContainerFactory& factory,
          const std::string& image, int stem_cells, InvokerConfig config)
        : store_(store) {
        service_ = std::make_unique<InvokerService>(store, factory, Manifest(image, stem_cells),
                                                    wisp::common::SystemClock::Instance(),
                                                    std::move(config));
    }
    ~Bench() { service_->Shutdown(); }
    Bench(const Bench&) = delete;
    Bench& operator=(const Bench&) = delete;

    bool Start() {
        if (auto st = service_->Start(); !st.ok()) {
            std::fprintf(stderr, "invoker start: %s\n", st.ToString().c_str());
            return false;
        }
        return true;
    }

    // Stores a fresh no-op action; returns false on a store error.
    bool PutAction(const std::string& name) {
        wisp::common::Action a;
        a.namespace_path = wisp::common::EntityPath(std::vector<std::string>{"guest"});
        a.name = name;
        a.exec = wisp::common::CodeExec{kKind, kNoop, false, std::nullopt};
        a.updated_ms = 1;
        auto put = store_.PutEntity(a, "");
        if (!put.ok()) {
            std::fprintf(stderr, "storing action %s: %s\n", name.c_str(),
                         put.status().ToString().c_str());
            return false;
        }
        revisions_[name] = *put;
        return true;
    }

    // Submits a blocking activation of `name` and waits for all of its acks; returns the time
    // from Submit to the first ack, or nothing when the activation did not succeed.
    std::optional<Timing> Invoke(const std::string& name) {
        auto& clock = wisp::common::SystemClock::Instance();
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-bench");
        m.mutable_transid()->set_start_ms(clock.NowMs());
        m.mutable_action()->set_path("guest");
        m.mutable_action()->set_name(name);
        m.mutable_action()->set_version("0.0.1");
        m.set_revision(revisions_[name]);
        m.mutable_user()->set_subject("guest");
        m.mutable_user()->set_namespace_name("guest");
        m.set_activation_id(wisp::common::ActivationId::Generate().str());
        m.set_blocking(true);
        m.set_content_json("{}");
        m.set_wait_start_ms(clock.NowMs());

        struct Shared {
            std::mutex mu;
            std::optional<Steady::time_point> first;
            std::optional<double> wait_ms, init_ms;
            bool ok = false;
            std::promise<void> done;
        };
        auto shared = std::make_shared<Shared>();
        auto done = shared->done.get_future();
        const auto t0 = Steady::now();
        service_->Submit(std::move(m), [shared](AckInfo ack) {
            const auto now = Steady::now();
            const bool last = ack.kind != AckInfo::Kind::kResult;
            {
                std::lock_guard<std::mutex> lock(shared->mu);
                if (!shared->first) {
                    shared->first = now;
                    shared->wait_ms = AnnotationMs(ack.record, "waitTime");
                    shared->init_ms = AnnotationMs(ack.record, "initTime");
                    shared->ok =
                        ack.record.response.status == wisp::common::ActivationStatus::kSuccess;
                    if (!shared->ok && ack.record.response.result) {
                        std::fprintf(stderr, "activation failed: %s\n",
                                     ack.record.response.result->text().c_str());
                    }
                }
            }
            if (last) shared->done.set_value();
        });
        if (done.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
            std::fprintf(stderr, "no ack within 120 s\n");
            return std::nullopt;
        }
        service_->WaitIdle();
        std::lock_guard<std::mutex> lock(shared->mu);
        if (!shared->ok) return std::nullopt;
        return Timing{Ms(*shared->first - t0), shared->wait_ms, shared->init_ms};
    }

    // Polls the pool until `pred` holds; false after `limit`.
    bool WaitFor(const std::function<bool(const wisp::invoker::ContainerPoolStats&)>& pred,
                 std::chrono::milliseconds limit = std::chrono::seconds(60)) {
        const auto until = Steady::now() + limit;
        while (!pred(service_->pool().Stats())) {
            if (Steady::now() > until) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }

  private:
    wisp::store::ArtifactStore& store_;
    std::unique_ptr<InvokerService> service_;
    std::unordered_map<std::string, std::string> revisions_;
};

InvokerConfig Config(const std::string& invoker_id) {
    InvokerConfig c;
    c.invoker_id = invoker_id;
    c.worker_threads = 4;
    c.housekeeping_interval = std::chrono::milliseconds(10);
    c.stem_cells = false;
    c.remove_orphans = true;  // our earlier phases' containers, if any are left
    return c;
}

// Runs a shell command; returns its stdout (trailing newline removed) or nothing on failure.
std::optional<std::string> Shell(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return std::nullopt;
    std::string out;
    std::array<char, 256> buf{};
    size_t got = 0;
    while ((got = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), got);
    if (::pclose(p) != 0) return std::nullopt;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

bool Ok(const absl::StatusOr<ProxyResponse>& r) {
    return r.ok() && r->failure == ProxyResponse::Failure::kNone && r->status == 200;
}

// `docker run -d -p 127.0.0.1::8080` + wait for the proxy + /init + /run; the container carries
// our label so RemoveOrphans finds it should this program die before `docker rm`.
std::optional<double> DockerRunOnce(const Options& o, const std::string& invoker_id, int seq) {
    const std::string name = "wsk" + invoker_id + "_baseline_" + std::to_string(seq);
    const auto t0 = Steady::now();
    auto id = Shell("docker run -d -p 127.0.0.1::8080 --label wisp.invoker=" + invoker_id +
                    " --name " + name + " " + o.image + " 2>/dev/null");
    if (!id) {
        std::fprintf(stderr, "docker run %s failed\n", o.image.c_str());
        return std::nullopt;
    }
    std::optional<double> result;
    auto port_line = Shell("docker port " + *id + " 8080/tcp 2>/dev/null");
    const auto colon = port_line ? port_line->find_first_of('\n') : std::string::npos;
    std::string first_line = port_line ? port_line->substr(0, colon) : "";
    const auto sep = first_line.rfind(':');
    if (sep != std::string::npos) {
        ProxyClient client(
            ProxyClient::Endpoint::Tcp("127.0.0.1", std::atoi(first_line.c_str() + sep + 1)));
        // docker-proxy accepts before the action proxy listens: retry until anything answers.
        bool up = false;
        const auto until = Steady::now() + std::chrono::seconds(30);
        while (!up && Steady::now() < until) {
            auto r = client.Post("/", "{}", std::chrono::seconds(2), true);
            up = r.ok() && r->failure == ProxyResponse::Failure::kNone;
            if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (up && Ok(client.Post("/init", kInitBody, std::chrono::seconds(30), false)) &&
            Ok(client.Post("/run", kRunBody, std::chrono::seconds(30), false))) {
            result = Ms(Steady::now() - t0);
        } else {
            std::fprintf(stderr, "baseline container %s did not answer /init + /run\n",
                         name.c_str());
        }
    } else {
        std::fprintf(stderr, "docker port %s: no published port\n", id->c_str());
    }
    (void)Shell("docker rm -f " + *id + " >/dev/null 2>&1");
    return result;
}

int Usage(const char* argv0) {
    std::fprintf(
        stderr,
        "usage: %s [--samples N] [--quick] [--image IMAGE]\n"
        "  --samples N  warm invokes measured (default 1000); cold and stem-cell\n"
        "               starts, paused resumes and docker runs scale with it\n"
        "               (N/100, N/50, N/100; at least 10, 20, 10)\n"
        "  --quick      a smoke run: 50 warm, 2 cold, 2 stem cell, 3 paused, 2 docker run\n"
        "  --image      the python runtime image (default wisp/action-python:3.11)\n",
        argv0);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--samples" && i + 1 < argc) {
            o.warm = std::max(1, std::atoi(argv[++i]));
            o.cold = std::max(10, o.warm / 100);
            o.paused = std::max(20, o.warm / 50);
            o.baseline = std::max(10, o.warm / 100);
        } else if (arg == "--quick") {
            o.warm = 50;
            o.cold = 2;
            o.paused = 3;
            o.baseline = 2;
            o.warm_up = 10;
        } else if (arg == "--image" && i + 1 < argc) {
            o.image = argv[++i];
        } else {
            return Usage(argv[0]);
        }
    }
    spdlog::set_level(spdlog::level::warn);
    PrintMachine(o);

    DockerContainerFactory factory;
    if (auto st = factory.Ping(); !st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
    }
    auto opened = wisp::store::SqliteArtifactStore::Open(":memory:");
    if (!opened.ok()) {
        std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
        return 1;
    }
    auto& store = **opened;
    const std::string invoker_id = "bench" + std::to_string(::getpid());
    std::vector<Row> rows;
    bool failed = false;
    int seq = 0;

    // (1) Cold start, no stem cell: a fresh invoker per sample (no other container around, no
    // eviction in the background), the first invoke of a new action.
    {
        Row row{"cold start, no stem cell", {}};
        for (int i = 0; i < o.cold + 1 && !failed; ++i) {
            Bench b(store, factory, o.image, 0, Config(invoker_id));
            const std::string action = "cold" + std::to_string(++seq);
            if (!b.Start() || !b.PutAction(action)) {
                failed = true;
                break;
            }
            auto ms = b.Invoke(action);
            if (!ms)
                failed = true;
            else if (i > 0)
                Record(row, *ms);  // the first one warms the page cache
        }
        rows.push_back(std::move(row));
    }

    // (2) Cold start from a stem cell: a fresh invoker with one python stem cell; once it is
    // pre-started, the first invoke of a new action takes it (its replacement starts at once,
    // in the background, as in production).
    if (!failed) {
        Row row{"cold start, from a stem cell", {}};
        for (int i = 0; i < o.cold && !failed; ++i) {
            InvokerConfig c = Config(invoker_id);
            c.stem_cells = true;
            Bench b(store, factory, o.image, 1, c);
            const std::string action = "stem" + std::to_string(++seq);
            if (!b.Start() || !b.PutAction(action) ||
                !b.WaitFor([](const auto& s) { return s.prewarm >= 1 && s.starting == 0; })) {
                std::fprintf(stderr, "the stem cell did not start\n");
                failed = true;
                break;
            }
            auto ms = b.Invoke(action);
            if (!ms)
                failed = true;
            else
                Record(row, *ms);
        }
        rows.push_back(std::move(row));
    }

    // (3) Warm invoke through the pool: one container, a long pause grace, after warm-up.
    if (!failed) {
        Row row{"warm invoke", {}};
        Bench b(store, factory, o.image, 0, Config(invoker_id));
        const std::string action = "warm" + std::to_string(++seq);
        failed = !b.Start() || !b.PutAction(action);
        for (int i = 0; i < o.warm_up + o.warm && !failed; ++i) {
            auto ms = b.Invoke(action);
            if (!ms)
                failed = true;
            else if (i >= o.warm_up)
                Record(row, *ms);
        }
        rows.push_back(std::move(row));
    }

    // (4) Resume from paused: pause grace 50 ms, housekeeping every 10 ms; wait until the
    // container is paused (docker pause done), then invoke.
    if (!failed) {
        Row row{"invoke of a paused container", {}};
        InvokerConfig c = Config(invoker_id);
        c.pause_grace = std::chrono::milliseconds(50);
        Bench b(store, factory, o.image, 0, c);
        const std::string action = "paused" + std::to_string(++seq);
        failed = !b.Start() || !b.PutAction(action) || !b.Invoke(action);
        for (int i = 0; i < o.paused && !failed; ++i) {
            if (!b.WaitFor([](const auto& s) { return s.paused == 1; })) {
                std::fprintf(stderr, "the container was not paused within 60 s\n");
                failed = true;
                break;
            }
            auto ms = b.Invoke(action);
            if (!ms)
                failed = true;
            else
                Record(row, *ms);
        }
        rows.push_back(std::move(row));
    }

    // (5) Baseline: `docker run` of the same image (docker's defaults, no limits) + /init +
    // the first /run through the published port, from the CLI.
    if (!failed) {
        Row row{"baseline: docker run + /init + /run", {}};
        for (int i = 0; i < o.baseline + 1 && !failed; ++i) {
            auto ms = DockerRunOnce(o, invoker_id, i);
            if (!ms)
                failed = true;
            else if (i > 0)
                row.samples.Add(*ms);
        }
        rows.push_back(std::move(row));
    }

    auto removed = factory.RemoveOrphans(invoker_id);
    if (!removed.ok()) {
        std::fprintf(stderr, "removing our containers: %s\n", removed.status().ToString().c_str());
    }

    std::printf("\n%-38s %10s %10s %6s   %s\n", "submit -> first ack", "median ms", "p99 ms", "n",
                "record: waitTime / initTime medians (ms)");
    for (const Row& r : rows) {
        std::printf("%-38s %10.2f %10.2f %6zu", r.what.c_str(), r.samples.Pct(0.5),
                    r.samples.Pct(0.99), r.samples.n());
        if (r.wait.n() > 0) std::printf("   %.0f", r.wait.Pct(0.5));
        if (r.init.n() > 0) std::printf(" / %.0f", r.init.Pct(0.5));
        std::printf("\n");
    }
    std::printf(
        "(p99 of fewer than 100 samples is the largest one; the baseline row is "
        "client-side: docker run -> /run answered)\n");
    if (failed) {
        std::fprintf(stderr, "wisp-bench-invoker: a phase failed; the table is incomplete\n");
        return 1;
    }
    return 0;
}
