// Figures for the Docker backend (printed, never asserted):
//   create + start -> proxy answering, per transport setup;  /init;  warm /run p50/p99 through
//   the unix socket vs the port published on 127.0.0.1 (same container, one keep-alive
//   connection each, interleaved blocks);  pause / resume;  destroy.
// usage: invoker_docker_bench [runs=2000] [image=wisp/action-python:3.11]
//        invoker_docker_bench --runtimes runc,crun [cycles=20] [image]
//   the OCI runtimes side by side in one run (samples interleaved runtime by runtime): create +
//   start -> proxy answering, /init, pause, resume, first /run after resume, destroy; plus
//   pause attempts that failed. "runc" is the daemon's default; others must be registered
//   (tools/start-dockerd.sh registers crun).
// Needs a running dockerd (tools/start-dockerd.sh) and the runtime images.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/invoker/proxy_client.hpp>

using namespace wisp::invoker;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
    std::vector<double> v;
    void Add(double x) { v.push_back(x); }
    double Pct(double p) {
        if (v.empty()) return 0;
        std::sort(v.begin(), v.end());
        return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
    }
};

ContainerSpec Spec(const std::string& image, int n) {
    ContainerSpec spec;
    spec.image = image;
    spec.name = "wskbench" + std::to_string(::getpid()) + "_" + std::to_string(n) + "_bench";
    spec.memory_mb = 256;
    spec.labels = {{"wisp.invoker", "bench-" + std::to_string(::getpid())}};
    return spec;
}

const char* kInit =
    R"({"value":{"name":"noop","main":"main","binary":false,"code":"def main(args):\n    return {\"ok\": True}\n"}})";
const char* kInitNode =
    R"({"value":{"name":"noop","main":"main","binary":false,"code":"function main(args) { return {ok: true}; }"}})";
const char* kRun = R"({"value":{},"namespace":"guest","action_name":"/guest/noop",)"
                   R"("action_version":"0.0.1","activation_id":"a","transaction_id":"t",)"
                   R"("deadline":"99999999999999"})";

bool Check(const absl::StatusOr<ProxyResponse>& r, const char* what) {
    if (!r.ok() || r->failure != ProxyResponse::Failure::kNone || r->status != 200) {
        std::fprintf(stderr, "%s failed: %s\n", what,
                     r.ok() ? (std::to_string(r->status) + " " + r->body).c_str()
                            : std::string(r.status().message()).c_str());
        return false;
    }
    return true;
}

std::vector<std::string> SplitComma(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const size_t end = comma == std::string::npos ? text.size() : comma;
        if (end > start) out.push_back(text.substr(start, end - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

int CompareRuntimes(const std::vector<std::string>& runtimes, int cycles,
                    const std::string& image) {
    const bool node = image.find("nodejs") != std::string::npos;
    const char* init_body = node ? kInitNode : kInit;
    struct PerRuntime {
        std::unique_ptr<DockerContainerFactory> factory;
        Stats create, init, pause, resume, after, destroy;
        int pause_failures = 0;
    };
    std::vector<PerRuntime> per(runtimes.size());
    for (size_t r = 0; r < runtimes.size(); ++r) {
        DockerFactoryOptions options;
        options.runtime = runtimes[r] == "runc" ? "" : runtimes[r];
        per[r].factory = std::make_unique<DockerContainerFactory>(options);
        if (auto st = per[r].factory->Ping(); !st.ok()) {
            std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
            return 1;
        }
    }
    std::printf("OCI runtimes side by side (%s, %d cycles each, interleaved)\n", image.c_str(),
                cycles);
    int seq = 0;
    for (int i = 0; i < cycles + 1; ++i) {  // the first cycle is a warm-up
        for (size_t r = 0; r < runtimes.size(); ++r) {
            PerRuntime& p = per[r];
            auto t0 = Clock::now();
            auto c = p.factory->CreateDocker(Spec(image, ++seq));
            auto t1 = Clock::now();
            if (!c.ok()) {
                std::fprintf(stderr, "%s: create failed: %s\n", runtimes[r].c_str(),
                             std::string(c.status().message()).c_str());
                return 1;
            }
            if (!Check((*c)->Init(init_body, std::chrono::seconds(30)), "/init")) return 1;
            auto t2 = Clock::now();
            // A failed pause (runc: "unable to freeze") is counted and retried.
            auto t3 = Clock::now();
            absl::Status paused = (*c)->Pause();
            for (int attempt = 0; !paused.ok() && attempt < 5; ++attempt) {
                ++p.pause_failures;
                t3 = Clock::now();
                paused = (*c)->Pause();
            }
            auto t4 = Clock::now();
            if (!paused.ok()) return 1;
            if (!(*c)->Resume().ok()) return 1;
            auto t5 = Clock::now();
            if (!Check((*c)->Run(kRun, std::chrono::seconds(10)), "/run after resume")) return 1;
            auto t6 = Clock::now();
            (void)(*c)->Destroy();
            auto t7 = Clock::now();
            if (i == 0) continue;
            p.create.Add(Ms(t1 - t0));
            p.init.Add(Ms(t2 - t1));
            p.pause.Add(Ms(t4 - t3));
            p.resume.Add(Ms(t5 - t4));
            p.after.Add(Ms(t6 - t5));
            p.destroy.Add(Ms(t7 - t6));
        }
    }
    std::printf("  %-6s %22s %10s %10s %10s %14s %10s %8s\n", "", "create+start->ready", "/init",
                "pause", "resume", "/run(resumed)", "destroy", "pause");
    std::printf("  %-6s %22s %10s %10s %10s %14s %10s %8s\n", "runtime", "p50 (p90) ms", "p50 ms",
                "p50 ms", "p50 ms", "p50 ms", "p50 ms", "failed");
    for (size_t r = 0; r < runtimes.size(); ++r) {
        PerRuntime& p = per[r];
        std::printf("  %-6s %13.1f (%6.1f) %10.1f %10.1f %10.1f %14.2f %10.1f %8d\n",
                    runtimes[r].c_str(), p.create.Pct(0.5), p.create.Pct(0.9), p.init.Pct(0.5),
                    p.pause.Pct(0.5), p.resume.Pct(0.5), p.after.Pct(0.5), p.destroy.Pct(0.5),
                    p.pause_failures);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--runtimes") {
        if (argc < 3) {
            std::fprintf(stderr,
                         "usage: invoker_docker_bench --runtimes runc,crun [cycles] [image]\n");
            return 2;
        }
        return CompareRuntimes(SplitComma(argv[2]), argc > 3 ? std::atoi(argv[3]) : 20,
                               argc > 4 ? argv[4] : "wisp/action-python:3.11");
    }
    const int runs = argc > 1 ? std::atoi(argv[1]) : 2000;
    const std::string image = argc > 2 ? argv[2] : "wisp/action-python:3.11";
    const bool node = image.find("nodejs") != std::string::npos;
    const char* init_body = node ? kInitNode : kInit;
    int seq = 0;

    std::printf("Docker backend figures (%s, %d warm runs per transport)\n", image.c_str(), runs);

    struct Setup {
        const char* label;
        DockerFactoryOptions::Transport transport;
        bool publish;
    };
    const Setup setups[] = {
        {"unix socket + port published", DockerFactoryOptions::Transport::kUnixSocket, true},
        {"unix socket, no port        ", DockerFactoryOptions::Transport::kUnixSocket, false},
        {"published port only         ", DockerFactoryOptions::Transport::kPublishedPort, true},
    };
    constexpr int kColdPerSetup = 8;
    for (const Setup& s : setups) {
        DockerFactoryOptions options;
        options.transport = s.transport;
        options.publish_port = s.publish;
        DockerContainerFactory factory(options);
        if (auto st = factory.Ping(); !st.ok()) {
            std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
            return 1;
        }
        Stats create, init, first_run, destroy;
        for (int i = 0; i < kColdPerSetup + 1; ++i) {
            auto t0 = Clock::now();
            auto c = factory.CreateDocker(Spec(image, ++seq));
            auto t1 = Clock::now();
            if (!c.ok()) {
                std::fprintf(stderr, "create failed: %s\n",
                             std::string(c.status().message()).c_str());
                return 1;
            }
            auto r = (*c)->Init(init_body, std::chrono::seconds(30));
            auto t2 = Clock::now();
            if (!Check(r, "/init")) return 1;
            r = (*c)->Run(kRun, std::chrono::seconds(30));
            auto t3 = Clock::now();
            if (!Check(r, "/run")) return 1;
            (void)(*c)->Destroy();
            auto t4 = Clock::now();
            if (i == 0) continue;  // warm-up (page cache, first docker-proxy)
            create.Add(Ms(t1 - t0));
            init.Add(Ms(t2 - t1));
            first_run.Add(Ms(t3 - t2));
            destroy.Add(Ms(t4 - t3));
        }
        std::printf(
            "  %s: create+start->ready p50 %.1f ms (min %.1f, max %.1f); /init p50 %.1f ms;"
            " first /run p50 %.2f ms; destroy p50 %.1f ms\n",
            s.label, create.Pct(0.5), create.Pct(0), create.Pct(0.999), init.Pct(0.5),
            first_run.Pct(0.5), destroy.Pct(0.5));
    }

    // Warm /run: one container, both transports, interleaved blocks of 250.
    DockerContainerFactory factory;
    auto c = factory.CreateDocker(Spec(image, ++seq));
    if (!c.ok()) return 1;
    if (!Check((*c)->Init(init_body, std::chrono::seconds(30)), "/init")) return 1;
    auto port = (*c)->HostPort();
    if (!port.ok()) return 1;
    ProxyClient tcp(ProxyClient::Endpoint::Tcp("127.0.0.1", *port));
    ProxyClient unix_client(ProxyClient::Endpoint::Unix((*c)->socket_path()));
    for (int i = 0; i < 200; ++i) {  // warm-up
        if (!Check(tcp.Post("/run", kRun, std::chrono::seconds(10), false), "tcp /run")) return 1;
        if (!Check(unix_client.Post("/run", kRun, std::chrono::seconds(10), false), "unix /run"))
            return 1;
    }
    Stats via_unix, via_tcp;
    for (int done = 0; done < runs; done += 250) {
        for (int pass = 0; pass < 2; ++pass) {
            ProxyClient& client = pass == 0 ? unix_client : tcp;
            Stats& stats = pass == 0 ? via_unix : via_tcp;
            for (int i = 0; i < 250 && done + i < runs; ++i) {
                auto t0 = Clock::now();
                auto r = client.Post("/run", kRun, std::chrono::seconds(10), false);
                stats.Add(Ms(Clock::now() - t0));
                if (!Check(r, "/run")) return 1;
            }
        }
    }
    std::printf(
        "  warm /run, unix socket in a bind mount : p50 %.3f ms  p99 %.3f ms  (%zu runs, %lld "
        "connection(s))\n",
        via_unix.Pct(0.5), via_unix.Pct(0.99), via_unix.v.size(),
        static_cast<long long>(unix_client.connections_opened()));
    std::printf(
        "  warm /run, port published on 127.0.0.1: p50 %.3f ms  p99 %.3f ms  (%zu runs, %lld "
        "connection(s))\n",
        via_tcp.Pct(0.5), via_tcp.Pct(0.99), via_tcp.v.size(),
        static_cast<long long>(tcp.connections_opened()));

    // Pause / resume, then the first /run after a resume.
    Stats pause, resume, after;
    for (int i = 0; i < 20; ++i) {
        auto t0 = Clock::now();
        if (!(*c)->Pause().ok()) return 1;
        auto t1 = Clock::now();
        if (!(*c)->Resume().ok()) return 1;
        auto t2 = Clock::now();
        auto r = (*c)->Run(kRun, std::chrono::seconds(10));
        auto t3 = Clock::now();
        if (!Check(r, "/run after resume")) return 1;
        pause.Add(Ms(t1 - t0));
        resume.Add(Ms(t2 - t1));
        after.Add(Ms(t3 - t2));
    }
    std::printf(
        "  pause p50 %.1f ms, resume p50 %.1f ms, first /run after resume p50 %.2f ms (20 "
        "cycles)\n",
        pause.Pct(0.5), resume.Pct(0.5), after.Pct(0.5));

    // Log collection for one activation (both sentinels already written).
    Stats logs;
    (void)(*c)->CollectLogs(0, 1 << 20, std::chrono::milliseconds(100));
    for (int i = 0; i < 50; ++i) {
        if (!Check((*c)->Run(kRun, std::chrono::seconds(10)), "/run")) return 1;
        auto t0 = Clock::now();
        auto l = (*c)->CollectLogs(2, 1 << 20, std::chrono::seconds(2));
        logs.Add(Ms(Clock::now() - t0));
        if (!l.ok() || !l->complete) {
            std::fprintf(stderr, "log collection incomplete\n");
            return 1;
        }
    }
    std::printf("  CollectLogs after a /run (to both sentinels) p50 %.2f ms  p99 %.2f ms\n",
                logs.Pct(0.5), logs.Pct(0.99));
    return 0;
}
