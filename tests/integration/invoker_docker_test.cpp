// InvokerService end to end on a real Docker daemon (ctest label `docker`): the
// DockerContainerFactory, the runtime images (wisp/action-python:3.11, wisp/action-nodejs:18,
// wisp/action-native:latest) and SQLite in memory. What a user sees is asserted on the acks and
// the stored activation records; container state is checked through the Engine API (curl on
// /var/run/docker.sock).
//
// Starts dockerd with tools/start-dockerd.sh when it is not running and builds the images with
// tools/build-runtime-images.sh only when one is missing. Every harness uses an invoker id unique
// to this process; its containers are removed at the end, also on failure.
#include <rapidjson/document.h>
#include <unistd.h>
#include <wisp/common/bounded_json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <wisp/common/clock.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/time.hpp>
#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/shell.hpp>
#include <wisp/testing/temp_dir.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using common::ActivationStatus;
using invoker::AckInfo;
using invoker::InvokerConfig;
using invoker::InvokerService;
using wisp::testing::Shell;

namespace {

constexpr const char* kPythonImage = "wisp/action-python:3.11";
constexpr const char* kNodejsImage = "wisp/action-nodejs:18";
constexpr const char* kNativeImage = "wisp/action-native:latest";

constexpr const char* kPythonAction = R"(import os, socket, sys, time

def main(args):
    name = args.get("name", "stranger")
    print("hello " + name)
    print("to stderr", file=sys.stderr)
    if args.get("sleep"):
        time.sleep(args["sleep"])
    if args.get("crash"):
        os._exit(3)
    if args.get("oom"):
        hog = []
        for _ in range(64):
            hog.append(b"x" * (8 << 20))
        return {"kept": len(hog)}
    if args.get("big"):
        return {"big": "x" * 1100000}
    return {"greeting": "Hello " + name, "host": socket.gethostname()}
)";

constexpr const char* kNodejsAction = R"(function main(args) {
    console.log("hello from node " + (args.name || "stranger"));
    console.error("node stderr");
    return {greeting: "Hi " + (args.name || "stranger"), host: require("os").hostname()};
}
)";

constexpr const char* kNativeProgram = R"(#include <stdio.h>
int main(int argc, char** argv) {
    printf("native stdout line\n");
    fflush(stdout);
    fprintf(stderr, "native stderr line\n");
    printf("{\"native\":true,\"args\":%s}\n", argc > 1 ? argv[1] : "null");
    return 0;
}
)";

constexpr const char* kZipMain = R"(import sys
import helper

def main(args):
    print("zip stdout " + helper.shout(args.get("name", "x")))
    print("zip stderr", file=sys.stderr)
    return {"zipped": helper.shout(args.get("name", "x"))}
)";

constexpr const char* kZipHelper = R"(def shout(s):
    return s.upper() + "!"
)";

std::string Env(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    REQUIRE(f.good());
}

// GET on the Engine API through curl; returns (HTTP status, body).
struct EngineReply {
    int status = 0;
    std::string body;
};
EngineReply EngineGet(const std::string& path, const std::string& filters = "") {
    std::string cmd =
        "curl -s -G --unix-socket /var/run/docker.sock -w '\\n%{http_code}' "
        "'http://localhost/v1.41" +
        path + "'";
    if (!filters.empty()) cmd += " --data-urlencode 'filters=" + filters + "'";
    std::string out;
    Shell(cmd, &out);
    EngineReply r;
    const auto nl = out.rfind('\n');
    if (nl == std::string::npos) return r;
    r.body = out.substr(0, nl);
    r.status = std::atoi(out.c_str() + nl + 1);
    return r;
}

enum class State { kGone, kRunning, kPaused, kOther };
State ContainerState(const std::string& id) {
    auto r = EngineGet("/containers/" + id + "/json");
    if (r.status == 404) return State::kGone;
    REQUIRE(r.status == 200);
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(r.body, d);
    REQUIRE(d.IsObject());
    const auto& s = d["State"];
    if (s["Paused"].GetBool()) return State::kPaused;
    if (s["Running"].GetBool()) return State::kRunning;
    return State::kOther;
}

// How long a state change may take before a check gives up: it returns as soon as the change is
// seen, and a pause or a remove takes well under a second on an idle host but many seconds with
// every suite running on a loaded 2-core CI machine. "Broken" (never happens) still fails.
constexpr auto kStateChangeLimit = 120s;

// Polls `done` every 100 ms until it holds or `limit` has passed; its last answer.
bool Eventually(const std::function<bool()>& done,
                std::chrono::milliseconds limit = kStateChangeLimit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (done()) return true;
        std::this_thread::sleep_for(100ms);
    }
    return done();
}

// Polls the Engine API until the container is in `want` (pauses and destroys are asynchronous).
bool WaitForState(const std::string& id, State want,
                  std::chrono::milliseconds limit = kStateChangeLimit) {
    return Eventually([&] { return ContainerState(id) == want; }, limit);
}

// Ids of the containers labelled wisp.invoker=<id>.
std::vector<std::string> LabelledContainers(const std::string& invoker_id) {
    auto r =
        EngineGet("/containers/json?all=1", R"({"label":["wisp.invoker=)" + invoker_id + R"("]})");
    REQUIRE(r.status == 200);
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(r.body, d);
    REQUIRE(d.IsArray());
    std::vector<std::string> ids;
    for (const auto& c : d.GetArray()) ids.emplace_back(c["Id"].GetString());
    return ids;
}

// Once per process: a daemon and the images.
void EnsureDocker() {
    static const bool ready = [] {
        std::string out;
        const std::string src = Env("WISP_SOURCE_DIR", ".");
        const int rc = Shell(src + "/tools/start-dockerd.sh", &out);
        INFO("tools/start-dockerd.sh said:\n" << out);
        REQUIRE(rc == 0);
        invoker::DockerContainerFactory probe;
        bool all = true;
        for (const char* image : {kPythonImage, kNodejsImage, kNativeImage}) {
            auto exists = probe.ImageExists(image);
            all = all && exists.ok() && *exists;
        }
        if (!all) {  // never rebuild images that exist: other runs use them
            const int brc = Shell(src + "/tools/build-runtime-images.sh --build-dir " +
                                      Env("WISP_BUILD_DIR", "build") + " python nodejs native",
                                  &out);
            INFO("tools/build-runtime-images.sh said:\n" << out);
            REQUIRE(brc == 0);
        }
        return true;
    }();
    REQUIRE(ready);
}

std::string UniqueInvokerId() {
    static std::atomic<int> n{0};
    return "it" + std::to_string(::getpid()) + "x" + std::to_string(n++);
}

common::RuntimeManifest Manifest(int python_stem_cells = 0) {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = kPythonImage;
    python.is_default = true;
    if (python_stem_cells > 0) python.stem_cells.push_back({python_stem_cells, 256});
    common::RuntimeManifest::Kind nodejs;
    nodejs.kind = "nodejs:18";
    nodejs.image = kNodejsImage;
    nodejs.is_default = true;
    common::RuntimeManifest::Blackbox native{"openwhisk/dockerskeleton:latest", kNativeImage};
    return common::RuntimeManifest({python, nodejs}, {}, {}, {native});
}

// The docker factory, counting creates and remembering the ids it made.
class CountingFactory final : public invoker::ContainerFactory {
  public:
    explicit CountingFactory(invoker::DockerContainerFactory& inner) : inner_(inner) {}
    [[nodiscard]] absl::StatusOr<std::unique_ptr<invoker::Container>> Create(
        const invoker::ContainerSpec& spec) override {
        auto c = inner_.Create(spec);
        if (c.ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            ids_.push_back((*c)->id());
        }
        return c;
    }
    [[nodiscard]] absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) override {
        return inner_.RemoveOrphans(invoker_id);
    }
    [[nodiscard]] absl::StatusOr<bool> ImageExists(std::string_view image) override {
        return inner_.ImageExists(image);
    }
    std::vector<std::string> ids() {
        std::lock_guard<std::mutex> lock(mu_);
        return ids_;
    }
    size_t creates() { return ids().size(); }
    // The full id of the container whose hostname (docker: the id's first 12 characters) is
    // `host`; empty when this factory did not make it.
    std::string IdOfHost(const std::string& host) {
        for (const auto& id : ids()) {
            if (!host.empty() && id.rfind(host, 0) == 0) return id;
        }
        return "";
    }

  private:
    invoker::DockerContainerFactory& inner_;
    std::mutex mu_;
    std::vector<std::string> ids_;
};

std::string Field(const common::ActivationRecord& r, const char* name) {
    REQUIRE(r.response.result.has_value());
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(r.response.result->text(), d);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember(name));
    REQUIRE(d[name].IsString());
    return d[name].GetString();
}
std::string ErrorText(const common::ActivationRecord& r) { return Field(r, "error"); }

bool HasLogLine(const common::ActivationRecord& r, const std::string& stream,
                const std::string& text) {
    const std::regex line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z\s+)" + stream + ": " + text +
                          "$");
    for (const auto& l : r.logs) {
        if (std::regex_match(l, line)) return true;
    }
    return false;
}

std::string LogsOf(const common::ActivationRecord& r) {
    std::string s;
    for (const auto& l : r.logs) s += l + "\n";
    return s;
}

struct Harness {
    std::string id = UniqueInvokerId();
    std::unique_ptr<invoker::DockerContainerFactory> docker;
    std::unique_ptr<CountingFactory> factory;
    std::unique_ptr<store::ArtifactStore> store;
    std::unique_ptr<InvokerService> service;
    std::map<std::string, std::string> revs;  // action name -> revision
    bool remove_orphans_at_end = true;        // false when a successor shares the id

    explicit Harness(InvokerConfig config = {}, common::RuntimeManifest manifest = Manifest(),
                     std::string invoker_id = "", bool inline_logs = true) {
        EnsureDocker();
        if (!invoker_id.empty()) id = invoker_id;
        invoker::DockerFactoryOptions options;
        options.user_memory_mb = config.user_memory_mb;
        options.inline_logs = inline_logs;  // false: docker's json-file path, as for other images
        docker = std::make_unique<invoker::DockerContainerFactory>(options);
        REQUIRE(docker->Ping().ok());
        factory = std::make_unique<CountingFactory>(*docker);
        auto opened = store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(opened.ok());
        store = std::move(*opened);
        config.invoker_id = id;
        if (config.housekeeping_interval == 1000ms) config.housekeeping_interval = 100ms;
        // Only the pause test pauses (it sets its own grace): with the default 10 s, a container
        // that a check expects running could be paused meanwhile when a loaded host makes the
        // steps between its last run and the check take longer than that.
        if (config.pause_grace == InvokerConfig{}.pause_grace) config.pause_grace = 1h;
        config.runner.log_idle_wait = 1000ms;
        service = std::make_unique<InvokerService>(*store, *factory, std::move(manifest),
                                                   common::SystemClock::Instance(), config);
        REQUIRE(service->Start().ok());
    }
    ~Harness() {
        if (service) service->Shutdown();
        service.reset();
        if (docker && remove_orphans_at_end) (void)docker->RemoveOrphans(id);
    }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    void Put(const std::string& name, common::Exec exec, int64_t memory_mb = 128,
             int64_t timeout_ms = 20000) {
        common::Action a;
        a.namespace_path = common::EntityPath(std::vector<std::string>{"guest"});
        a.name = name;
        a.exec = std::move(exec);
        a.limits.timeout_ms = timeout_ms;
        a.limits.memory_mb = memory_mb;
        a.updated_ms = 1;
        auto put = store->PutEntity(a, "");
        REQUIRE(put.ok());
        revs[name] = *put;
    }
    void PutPython(const std::string& name, int64_t memory_mb = 128, int64_t timeout_ms = 20000) {
        Put(name, common::CodeExec{"python:3.11", kPythonAction, false, std::nullopt}, memory_mb,
            timeout_ms);
    }

    // Submits one activation; the future holds its acks once the last one arrived.
    std::future<std::vector<AckInfo>> Submit(const std::string& name, const std::string& args) {
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-docker-it");
        m.mutable_transid()->set_start_ms(common::SystemClock::Instance().NowMs());
        m.mutable_action()->set_path("guest");
        m.mutable_action()->set_name(name);
        m.mutable_action()->set_version("0.0.1");
        m.set_revision(revs.at(name));
        m.mutable_user()->set_subject("guest");
        m.mutable_user()->set_namespace_name("guest");
        m.set_activation_id(common::ActivationId::Generate().str());
        m.set_blocking(true);
        m.set_content_json(args);
        m.set_wait_start_ms(common::SystemClock::Instance().NowMs());
        auto acks = std::make_shared<std::vector<AckInfo>>();
        auto done = std::make_shared<std::promise<std::vector<AckInfo>>>();
        auto future = done->get_future();
        service->Submit(m, [acks, done](AckInfo ack) {
            const bool last = ack.kind != AckInfo::Kind::kResult;
            acks->push_back(std::move(ack));  // never concurrent for one activation
            if (last) done->set_value(*acks);
        });
        return future;
    }
    std::vector<AckInfo> Invoke(const std::string& name, const std::string& args) {
        auto f = Submit(name, args);
        REQUIRE(f.wait_for(60s) == std::future_status::ready);
        auto acks = f.get();
        service->WaitIdle();
        return acks;
    }
    // Runs and returns the stored record (checked against the last ack).
    common::ActivationRecord Run(const std::string& name, const std::string& args) {
        auto acks = Invoke(name, args);
        REQUIRE(!acks.empty());
        const auto& rec = acks.back().record;
        auto stored = store->GetActivation("guest", rec.activation_id);
        REQUIRE(stored.ok());
        CHECK(stored->response.status == rec.response.status);
        CHECK(stored->logs == rec.logs);
        return *stored;
    }
};

std::string NativeZipBase64(const wisp::testing::TempDir& dir) {
    WriteFile(dir.File("main.c"), kNativeProgram);
    std::string out;
    const std::string d = "'" + dir.path().string() + "'";
    int rc =
        Shell("cd " + d + " && (cc -O2 -static -o exec main.c || cc -O2 -o exec main.c)", &out);
    INFO(out);
    REQUIRE(rc == 0);
    rc = Shell("cd " + d + " && python3 -m zipfile -c native.zip exec", &out);
    REQUIRE(rc == 0);
    rc = Shell("base64 -w0 " + d + "/native.zip", &out);
    REQUIRE(rc == 0);
    return out;
}

std::string PythonZipBase64(const wisp::testing::TempDir& dir) {
    WriteFile(dir.File("__main__.py"), kZipMain);
    WriteFile(dir.File("helper.py"), kZipHelper);
    std::string out;
    const std::string d = "'" + dir.path().string() + "'";
    int rc = Shell("cd " + d + " && python3 -m zipfile -c action.zip __main__.py helper.py", &out);
    INFO(out);
    REQUIRE(rc == 0);
    rc = Shell("base64 -w0 " + d + "/action.zip", &out);
    REQUIRE(rc == 0);
    return out;
}

}  // namespace

TEST_CASE("docker: python, nodejs, native and zip actions; cold start then warm reuse",
          "[docker]") {
    Harness h;
    wisp::testing::TempDir native_dir("wisp-itest-native-");
    wisp::testing::TempDir zip_dir("wisp-itest-zip-");
    h.PutPython("py");
    h.Put("node", common::CodeExec{"nodejs:18", kNodejsAction, false, std::nullopt});
    h.Put("native", common::BlackboxExec{"openwhisk/dockerskeleton", NativeZipBase64(native_dir),
                                         true, std::nullopt});
    h.Put("zip", common::CodeExec{"python:3.11", PythonZipBase64(zip_dir), true, std::nullopt});

    SECTION(
        "python: one combined ack (the logs came with /run's answer), logs, initTime only on "
        "the cold start") {
        auto acks = h.Invoke("py", R"({"name":"Ada"})");
        REQUIRE(acks.size() == 1);  // no RESULT ahead of the logs: they are at hand at once
        CHECK(acks[0].kind == AckInfo::Kind::kCombined);
        const auto cold = acks[0].record;
        INFO(cold.response.result->text() << "\n" << LogsOf(cold));
        CHECK(cold.response.status == ActivationStatus::kSuccess);
        CHECK(Field(cold, "greeting") == "Hello Ada");
        CHECK(cold.annotations.Get("initTime") != nullptr);
        CHECK(cold.annotations.Get("waitTime") != nullptr);
        CHECK(cold.annotations.Get("kind")->text() == R"("python:3.11")");
        CHECK(cold.annotations.Get("path")->text() == R"("guest/py")");
        CHECK(cold.logs.size() == 2);
        CHECK(HasLogLine(cold, "stdout", "hello Ada"));
        CHECK(HasLogLine(cold, "stderr", "to stderr"));
        const std::string container = h.factory->IdOfHost(Field(cold, "host"));
        REQUIRE_FALSE(container.empty());
        CHECK(ContainerState(container) == State::kRunning);
        CHECK(h.factory->creates() == 1);
        {  // what docker was asked for: the action's memory, no swap, our label
            auto inspected = EngineGet("/containers/" + container + "/json");
            rapidjson::Document d;
            (void)wisp::json::ParseBounded(inspected.body, d);
            REQUIRE(d.IsObject());
            CHECK(d["HostConfig"]["Memory"].GetInt64() == int64_t{128} << 20);
            CHECK(d["HostConfig"]["MemorySwap"].GetInt64() == int64_t{128} << 20);
            CHECK(std::string(d["Config"]["Labels"]["wisp.invoker"].GetString()) == h.id);
        }

        auto warm = h.Run("py", R"({"name":"Bob"})");
        INFO(LogsOf(warm));
        CHECK(warm.response.status == ActivationStatus::kSuccess);
        CHECK(Field(warm, "greeting") == "Hello Bob");
        CHECK(h.factory->IdOfHost(Field(warm, "host")) == container);
        CHECK(warm.annotations.Get("initTime") == nullptr);
        CHECK(warm.logs.size() == 2);
        CHECK(HasLogLine(warm, "stdout", "hello Bob"));
        CHECK(h.factory->creates() == 1);
        CHECK(h.service->pool().Stats().warm_starts == 1);
    }
    SECTION("nodejs") {
        auto r = h.Run("node", R"({"name":"Ada"})");
        INFO(r.response.result->text() << "\n" << LogsOf(r));
        CHECK(r.response.status == ActivationStatus::kSuccess);
        CHECK(Field(r, "greeting") == "Hi Ada");
        CHECK(r.annotations.Get("initTime") != nullptr);
        CHECK(r.annotations.Get("kind")->text() == R"("nodejs:18")");
        CHECK(r.logs.size() == 2);
        CHECK(HasLogLine(r, "stdout", "hello from node Ada"));
        CHECK(HasLogLine(r, "stderr", "node stderr"));
        auto warm = h.Run("node", R"({"name":"Bo"})");
        CHECK(Field(warm, "greeting") == "Hi Bo");
        CHECK(Field(warm, "host") == Field(r, "host"));
        CHECK(warm.annotations.Get("initTime") == nullptr);
        CHECK(h.factory->creates() == 1);
    }
    SECTION("native: a C program zipped as exec, blackbox openwhisk/dockerskeleton") {
        auto r = h.Run("native", R"({"name":"Ada"})");
        INFO(r.response.result->text() << "\n" << LogsOf(r));
        CHECK(r.response.status == ActivationStatus::kSuccess);
        CHECK(r.response.result->text() == R"({"native":true,"args":{"name":"Ada"}})");
        CHECK(r.annotations.Get("kind")->text() == R"("blackbox")");
        CHECK(r.logs.size() == 2);
        CHECK(HasLogLine(r, "stdout", "native stdout line"));
        CHECK(HasLogLine(r, "stderr", "native stderr line"));
        auto warm = h.Run("native", R"({"n":2})");
        CHECK(warm.response.result->text() == R"({"native":true,"args":{"n":2}})");
        CHECK(warm.annotations.Get("initTime") == nullptr);
        CHECK(h.factory->creates() == 1);
    }
    SECTION("python zip with __main__.py and a module") {
        auto r = h.Run("zip", R"({"name":"ada"})");
        INFO(r.response.result->text() << "\n" << LogsOf(r));
        CHECK(r.response.status == ActivationStatus::kSuccess);
        CHECK(r.response.result->text() == R"({"zipped":"ADA!"})");
        CHECK(r.logs.size() == 2);
        CHECK(HasLogLine(r, "stdout", "zip stdout ADA!"));
        CHECK(HasLogLine(r, "stderr", "zip stderr"));
    }
}

TEST_CASE("docker: paused after the grace, resumed on the next run", "[docker]") {
    InvokerConfig config;
    config.pause_grace = 300ms;
    Harness h(config);
    h.PutPython("py");
    auto first = h.Run("py", R"({"name":"Ada"})");
    REQUIRE(first.response.status == ActivationStatus::kSuccess);
    const std::string container = h.factory->IdOfHost(Field(first, "host"));
    REQUIRE_FALSE(container.empty());
    // Docker reports the container paused before the pool has heard back from its pause call:
    // wait for both.
    CHECK(WaitForState(container, State::kPaused));
    CHECK(Eventually([&] { return h.service->pool().Stats().paused == 1; }));

    auto second = h.Run("py", R"({"name":"Bob"})");
    CHECK(second.response.status == ActivationStatus::kSuccess);
    CHECK(Field(second, "greeting") == "Hello Bob");
    CHECK(h.factory->IdOfHost(Field(second, "host")) == container);
    CHECK(second.annotations.Get("initTime") == nullptr);
    CHECK(HasLogLine(second, "stdout", "hello Bob"));
    CHECK(h.factory->creates() == 1);
    // Paused again after the grace; the run itself found it running.
    CHECK(WaitForState(container, State::kPaused));
    CHECK(Eventually([&] { return h.service->pool().Stats().paused == 1; }));
}

TEST_CASE("docker: developer and application errors", "[docker]") {
    Harness h;
    // A 10 s limit: the first run (a cold start, then a print) must stay below it also on a
    // loaded host, and a sleep of 60 s is far beyond it.
    h.PutPython("slow", 128, 10000);
    h.PutPython("py");

    SECTION("a timeout destroys the container; the next run works") {
        auto first = h.Run("slow", R"({"name":"Ada"})");
        REQUIRE(first.response.status == ActivationStatus::kSuccess);
        const std::string container = h.factory->IdOfHost(Field(first, "host"));
        REQUIRE_FALSE(container.empty());
        auto slow = h.Run("slow", R"({"sleep":60})");
        CHECK(slow.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(slow) == "The action exceeded its time limits of 10000 milliseconds.");
        CHECK(slow.annotations.Get("timeout")->text() == "true");
        CHECK(slow.duration().value_or(0) >= 10000);
        CHECK(WaitForState(container, State::kGone));
        auto next = h.Run("slow", R"({"name":"Cy"})");
        CHECK(next.response.status == ActivationStatus::kSuccess);
        CHECK(next.annotations.Get("initTime") != nullptr);
        CHECK(h.factory->IdOfHost(Field(next, "host")) != container);
        CHECK(h.factory->creates() == 2);
    }
    SECTION("an OOM kill: allocating past 128 MB") {
        auto r = h.Run("py", R"({"oom":true})");
        INFO(r.response.result->text());
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) == "The action exhausted its memory and was aborted.");
        auto next = h.Run("py", R"({"name":"Dee"})");
        CHECK(next.response.status == ActivationStatus::kSuccess);
        CHECK(next.annotations.Get("initTime") != nullptr);
        CHECK(h.factory->creates() == 2);
        CHECK(WaitForState(h.factory->ids()[0], State::kGone));
    }
    SECTION("a crash (os._exit) is a developer error") {
        auto r = h.Run("py", R"({"crash":true})");
        INFO(r.response.result->text());
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(static_cast<int>(r.response.status) == 2);
        CHECK(ErrorText(r) ==
              "The action did not produce a valid response and exited unexpectedly.");
        CHECK(r.logs.empty());
        CHECK(WaitForState(h.factory->ids()[0], State::kGone));
        auto next = h.Run("py", R"({"name":"Eve"})");
        CHECK(next.response.status == ActivationStatus::kSuccess);
    }
    SECTION("a 1.1 MB result is an application error; the container is kept") {
        auto r = h.Run("py", R"({"big":true})");
        CHECK(r.response.status == ActivationStatus::kApplicationError);
        CHECK_THAT(
            ErrorText(r),
            Catch::StartsWith("The action produced a response that exceeded the allowed length"));
        auto next = h.Run("py", R"({"name":"Fay"})");
        CHECK(next.response.status == ActivationStatus::kSuccess);
        CHECK(next.annotations.Get("initTime") == nullptr);
        CHECK(h.factory->creates() == 1);
    }
}

TEST_CASE("docker: several actions at once within the budget, then LRU eviction", "[docker]") {
    // The pool's debug lines (which container it evicts, and why) go with a failure's output:
    // this case failed twice under CI load with a's container gone instead of b's.
    const auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::debug);
    struct RestoreLevel {
        spdlog::level::level_enum level;
        ~RestoreLevel() { spdlog::set_level(level); }
    } restore{level};
    InvokerConfig config;
    config.user_memory_mb = 256;
    Harness h(config);
    h.PutPython("a");
    h.PutPython("b");
    // Another kind: b's container cannot be reset and reused for it (that is for the same
    // namespace and kind, next test), so c evicts.
    h.Put("c", common::CodeExec{"nodejs:18", kNodejsAction, false, std::nullopt});

    // Both fit: they run at the same time (3 s each: the two cold starts may end seconds apart
    // on a loaded host).
    auto fa = h.Submit("a", R"({"sleep":3})");
    auto fb = h.Submit("b", R"({"sleep":3})");
    REQUIRE(fa.wait_for(60s) == std::future_status::ready);
    REQUIRE(fb.wait_for(60s) == std::future_status::ready);
    h.service->WaitIdle();
    const auto ra = fa.get().back().record;
    const auto rb = fb.get().back().record;
    REQUIRE(ra.response.status == ActivationStatus::kSuccess);
    REQUIRE(rb.response.status == ActivationStatus::kSuccess);
    CHECK(ra.start_ms < rb.end_ms);
    CHECK(rb.start_ms < ra.end_ms);
    const std::string ca = h.factory->IdOfHost(Field(ra, "host"));
    const std::string cb = h.factory->IdOfHost(Field(rb, "host"));
    REQUIRE_FALSE(ca.empty());
    REQUIRE_FALSE(cb.empty());
    CHECK(ca != cb);
    CHECK(h.service->pool().Stats().used_mb == 256);

    // a runs again (warm), so b is the least recently used; c evicts it.
    const auto pool_state = [&] {
        const auto s = h.service->pool().Stats();
        return common::Cat("pool: idle ", s.idle, " paused ", s.paused, " busy ", s.busy,
                           " evictions ", s.evictions, " pause failures ", s.pause_failures,
                           " destroyed after error ", s.destroyed_after_error, " creates ",
                           h.factory->creates());
    };
    auto ra2 = h.Run("a", "{}");
    INFO(pool_state());
    CHECK(ra2.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory->IdOfHost(Field(ra2, "host")) == ca);
    auto rc = h.Run("c", R"({"name":"Cy"})");
    INFO(pool_state());
    CHECK(rc.response.status == ActivationStatus::kSuccess);
    CHECK(h.service->pool().Stats().evictions == 1);
    CHECK(WaitForState(cb, State::kGone));
    CHECK(ContainerState(ca) == State::kRunning);
    CHECK(h.service->pool().Stats().used_mb == 256);
    CHECK(h.factory->creates() == 3);
}

TEST_CASE(
    "docker: over budget, an idle container of the same namespace and kind is reset and "
    "reused for another action",
    "[docker][reset]") {
    InvokerConfig config;
    config.user_memory_mb = 128;
    Harness h(config);
    h.PutPython("a");
    h.PutPython("b");

    auto ra = h.Run("a", R"({"name":"Al"})");
    REQUIRE(ra.response.status == ActivationStatus::kSuccess);
    const std::string ca = h.factory->IdOfHost(Field(ra, "host"));
    REQUIRE_FALSE(ca.empty());

    // Only one 128 MB container fits: b gets a's container after the proxy's reset, no start.
    auto rb = h.Run("b", R"({"name":"Bo"})");
    REQUIRE(rb.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory->IdOfHost(Field(rb, "host")) == ca);
    CHECK(h.factory->creates() == 1);
    CHECK(h.service->pool().Stats().evictions == 0);
    CHECK(rb.annotations.Get("initTime") != nullptr);  // b's code was initialised afresh
    bool b_logged = false;
    for (const auto& line : rb.logs) {
        CHECK(line.find("hello Al") == std::string::npos);  // none of a's output
        b_logged = b_logged || line.find("hello Bo") != std::string::npos;
    }
    CHECK(b_logged);
}

TEST_CASE("docker: a stem cell runs the first activation", "[docker]") {
    Harness h(InvokerConfig{}, Manifest(1));
    h.PutPython("py", 256);
    h.service->pool().Quiesce();
    REQUIRE(h.factory->creates() == 1);
    REQUIRE(h.service->pool().Stats().prewarm == 1);
    const std::string stem = h.factory->ids()[0];
    CHECK(ContainerState(stem) == State::kRunning);

    auto r = h.Run("py", R"({"name":"Ada"})");
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory->IdOfHost(Field(r, "host")) == stem);  // no create on the critical path
    CHECK(r.annotations.Get("initTime") != nullptr);
    CHECK(h.service->pool().Stats().prewarm_starts == 1);
    CHECK(h.service->pool().Stats().cold_starts == 0);
    h.service->pool().Quiesce();
    CHECK(h.factory->creates() == 2);  // refilled in the background
    CHECK(h.service->pool().Stats().prewarm == 1);
}

TEST_CASE("docker: a restarted invoker removes its predecessor's containers", "[docker]") {
    auto first = std::make_unique<Harness>();
    first->PutPython("py");
    auto r = first->Run("py", "{}");
    REQUIRE(r.response.status == ActivationStatus::kSuccess);
    const std::string container = first->factory->IdOfHost(Field(r, "host"));
    REQUIRE_FALSE(container.empty());
    REQUIRE(LabelledContainers(first->id).size() == 1);

    // Another invoker with the same id (the restarted process) cleans up at Start().
    Harness second(InvokerConfig{}, Manifest(), first->id);
    CHECK(ContainerState(container) == State::kGone);
    CHECK(LabelledContainers(first->id).empty());
    second.PutPython("py");
    auto again = second.Run("py", "{}");
    CHECK(again.response.status == ActivationStatus::kSuccess);
    first->remove_orphans_at_end = false;  // the successor's container is not an orphan
    first.reset();
    CHECK(LabelledContainers(second.id).size() == 1);
}

TEST_CASE("docker: logs past the action's log limit are cut and marked as OpenWhisk does",
          "[docker]") {
    const bool inline_logs = GENERATE(true, false);
    INFO((inline_logs ? "inline logs" : "json-file logs"));
    Harness h({}, Manifest(), "", inline_logs);
    const char* kLoud = R"(import sys
def main(args):
    if args.get("loud"):
        for i in range(3000):
            print("%04d " % i + "x" * 1000)
        sys.stdout.write("y" * 2000000)  # and a 2 MB line without a newline
        sys.stdout.flush()
    print("quiet", args.get("n", 0))
    return {"ok": True}
)";
    common::Action a;
    a.namespace_path = common::EntityPath(std::vector<std::string>{"guest"});
    a.name = "loud";
    a.exec = common::CodeExec{"python:3.11", kLoud, false, std::nullopt};
    a.limits.timeout_ms = 60000;
    a.limits.memory_mb = 256;
    a.limits.logs_mb = 1;
    a.updated_ms = 1;
    auto put = h.store->PutEntity(a, "");
    REQUIRE(put.ok());
    h.revs["loud"] = *put;

    auto r = h.Run("loud", R"({"loud":true})");
    REQUIRE(r.response.status == ActivationStatus::kSuccess);
    REQUIRE_FALSE(r.logs.empty());
    CHECK_THAT(r.logs.back(),
               Catch::EndsWith(" stderr: Logs were truncated because the total bytes size "
                               "exceeds the limit of 1048576 bytes."));
    size_t text_bytes = 0;
    for (const auto& l : r.logs) text_bytes += l.size();
    CHECK(text_bytes < 1200000);  // 1 MB of text plus the per-line prefixes
    CHECK(text_bytes > 900000);
    CHECK_THAT(r.logs.front(), Catch::Contains("0000 xxxx"));
    // Both paths keep the same lines (times aside): GENERATE runs the inline path first.
    static std::vector<std::string> inline_texts;
    std::vector<std::string> texts;
    for (const auto& l : r.logs) texts.push_back(l.substr(l.find(" std")));
    if (inline_logs) {
        inline_texts = texts;
    } else if (!inline_texts.empty()) {
        CHECK(texts == inline_texts);
    }

    // The next activation of the warm container gets its own lines only: the rest of the loud
    // one was consumed up to its sentinels.
    auto next = h.Run("loud", R"({"n":2})");
    REQUIRE(next.response.status == ActivationStatus::kSuccess);
    CHECK(next.annotations.Get("initTime") == nullptr);
    REQUIRE(next.logs.size() == 1);
    CHECK_THAT(next.logs[0], Catch::EndsWith(" stdout: quiet 2"));
}

TEST_CASE("docker: inline logs give the same record logs as docker's json-file path",
          "[docker][inline]") {
    const char* kChatty = R"(import sys
def main(args):
    for i in range(5):
        print("out %d" % i)
        print("err %d" % i, file=sys.stderr)
    print("")
    print("  indented\ttab \u00e9 %s" % args.get("n"))
    sys.stdout.write("no newline at the end")
    return {"ok": True}
)";
    // Per activation: the record lines split into time and "<stream>: <text>", grouped by
    // stream (docker reads stdout and stderr through separate pipes, so only the order within
    // a stream is defined on its path).
    struct Split {
        std::map<std::string, std::vector<std::string>> by_stream;
    };
    auto split = [](const common::ActivationRecord& r) {
        const std::regex line(
            R"(^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z) +(stdout|stderr): (.*)$)");
        Split out;
        std::map<std::string, int64_t> last_nanos;
        for (const auto& l : r.logs) {
            std::smatch m;
            INFO(l);
            REQUIRE(std::regex_match(l, m, line));
            // "{:<30} " as OpenWhisk: the time padded to 30 columns, then the stream.
            CHECK(l.find(m[3].str() + ": ") == std::max<size_t>(30, m[1].length()) + 1);
            const std::string stream = m[3];
            auto nanos = common::ParseRfc3339Nanos(m[1].str());
            REQUIRE(nanos.ok());
            CHECK(*nanos >= last_nanos[stream]);  // stamped when read: ordered per stream
            last_nanos[stream] = *nanos;
            out.by_stream[stream].push_back(m[4]);
        }
        return out;
    };
    std::vector<std::vector<Split>> runs;  // [path][activation]
    for (const bool inline_logs : {true, false}) {
        INFO((inline_logs ? "inline logs" : "json-file logs"));
        Harness h({}, Manifest(), "", inline_logs);
        h.Put("chatty", common::CodeExec{"python:3.11", kChatty, false, std::nullopt});
        std::vector<Split> path;
        for (int n = 1; n <= 2; ++n) {  // cold, then warm
            auto r = h.Run("chatty", R"({"n":)" + std::to_string(n) + "}");
            REQUIRE(r.response.status == ActivationStatus::kSuccess);
            INFO(LogsOf(r));
            CHECK(r.logs.size() == 13);
            path.push_back(split(r));
        }
        runs.push_back(std::move(path));
    }
    for (int n = 0; n < 2; ++n) {
        CHECK(runs[0][n].by_stream == runs[1][n].by_stream);
        const std::vector<std::string> out = {"out 0",
                                              "out 1",
                                              "out 2",
                                              "out 3",
                                              "out 4",
                                              "",
                                              "  indented\ttab \u00e9 " + std::to_string(n + 1),
                                              "no newline at the end"};
        CHECK(runs[0][n].by_stream["stdout"] == out);
        CHECK(runs[0][n].by_stream["stderr"] ==
              std::vector<std::string>{"err 0", "err 1", "err 2", "err 3", "err 4"});
    }
}
