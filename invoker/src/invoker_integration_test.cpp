// InvokerService end to end with the real wisp-action-proxy (runtimes/proxy) running as a host
// process per "container" (<wisp/testing/process_container.hpp>) and python actions run by the
// host's python3. Needs WISP_ACTION_PROXY and WISP_RUNTIMES_DIR (ctest sets both).
#include <wisp/invoker/invoker_service.hpp>

#include <wisp/common/bounded_json.hpp>

#include <future>
#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/clock.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/temp_dir.hpp>

#include <wisp/testing/process_container.hpp>

using namespace wisp;
using common::ActivationStatus;
using invoker::AckInfo;
using invoker::InvokerConfig;
using invoker::InvokerService;
using wisp::testing::ProcessContainerFactory;
using wisp::testing::ProcessContainerOptions;

namespace {

constexpr const char* kPythonAction = R"(import sys, time

def main(args):
    name = args.get("name", "stranger")
    print("hello " + name)
    print("to stderr", file=sys.stderr)
    if args.get("fail"):
        return {"error": "failed on purpose"}
    if args.get("sleep"):
        time.sleep(args["sleep"])
    return {"greeting": "Hello " + name}
)";

common::RuntimeManifest Manifest(int python_stem_cells = 0) {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = "wisp/action-python:3.11";
    python.is_default = true;
    if (python_stem_cells > 0) python.stem_cells.push_back({python_stem_cells, 256});
    return common::RuntimeManifest({python}, {}, {}, {});
}

bool HavePrerequisites() {
    const char* proxy = std::getenv("WISP_ACTION_PROXY");
    const char* runtimes = std::getenv("WISP_RUNTIMES_DIR");
    if (proxy == nullptr || runtimes == nullptr) {
        WARN("WISP_ACTION_PROXY / WISP_RUNTIMES_DIR not set (ctest sets them); skipping");
        return false;
    }
    if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
        WARN("python3 is not on PATH; skipping");
        return false;
    }
    return true;
}

/// OpenWhisk's maximum action time limit: no /init or /run of these tests gets near it.
constexpr int64_t kNoReachableLimitMs = 300000;

std::string ErrorText(const common::ActivationRecord& r) {
    REQUIRE(r.response.result.has_value());
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(r.response.result->text(), d);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    REQUIRE(d["error"].IsString());
    return d["error"].GetString();
}

struct Invoker {
    wisp::testing::TempDir work{"wisp-invoker-it-"};
    std::unique_ptr<ProcessContainerFactory> factory;
    std::unique_ptr<store::ArtifactStore> store;
    std::unique_ptr<InvokerService> service;
    std::string rev;

    /// `timeout_ms`: the action's time limit, which OpenWhisk applies to /init as well as /run.
    /// A cold python start beside the docker suites once took more than 3 s and came back as a
    /// developer error (one kCombined ack instead of kResult + kCompletion), so the tests that
    /// check results run without a reachable limit (OpenWhisk's maximum); only the time-limit
    /// test sets a short one and warms the container before it measures anything.
    explicit Invoker(InvokerConfig config = {}, common::RuntimeManifest manifest = Manifest(),
                     int64_t timeout_ms = kNoReachableLimitMs) {
        ProcessContainerOptions options;
        options.work_dir = work.path().string();
        factory = std::make_unique<ProcessContainerFactory>(options);
        auto opened = store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(opened.ok());
        store = std::move(*opened);
        config.housekeeping_interval = std::chrono::milliseconds(0);
        config.worker_threads = 4;
        service = std::make_unique<InvokerService>(*store, *factory, std::move(manifest),
                                                   common::SystemClock::Instance(), config);
        REQUIRE(service->Start().ok());

        common::Action a;
        a.namespace_path = common::EntityPath(std::vector<std::string>{"guest"});
        a.name = "hello";
        a.exec = common::CodeExec{"python:3.11", kPythonAction, false, std::nullopt};
        a.limits.timeout_ms = timeout_ms;
        a.updated_ms = 1;
        auto put = store->PutEntity(a, "");
        REQUIRE(put.ok());
        rev = *put;
    }
    ~Invoker() {
        service->Shutdown();
        service.reset();
    }

    std::vector<AckInfo> Invoke(const std::string& args) {
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-it");
        m.mutable_transid()->set_start_ms(common::SystemClock::Instance().NowMs());
        m.mutable_action()->set_path("guest");
        m.mutable_action()->set_name("hello");
        m.mutable_action()->set_version("0.0.1");
        m.set_revision(rev);
        m.mutable_user()->set_subject("guest");
        m.mutable_user()->set_namespace_name("guest");
        m.set_activation_id(common::ActivationId::Generate().str());
        m.set_blocking(true);
        m.set_content_json(args);
        m.set_wait_start_ms(common::SystemClock::Instance().NowMs());
        auto acks = std::make_shared<std::vector<AckInfo>>();
        auto mu = std::make_shared<std::mutex>();
        auto done = std::make_shared<std::promise<void>>();
        auto future = done->get_future();
        service->Submit(m, [acks, mu, done](AckInfo ack) {
            bool last = ack.kind != AckInfo::Kind::kResult;
            {
                std::lock_guard<std::mutex> lock(*mu);
                acks->push_back(std::move(ack));
            }
            if (last) done->set_value();
        });
        // Acks come in order on one worker thread; the last is the first that is not kResult.
        REQUIRE(future.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
        service->WaitIdle();
        std::lock_guard<std::mutex> lock(*mu);
        return *acks;
    }
    common::ActivationRecord Run(const std::string& args) { return Invoke(args).back().record; }

    /// Runs on a container whose /init finished. The time limit covers /init too, and a cold
    /// python start under load can exceed a short one: such an init time-out (the container is
    /// destroyed) is retried on a new container, so that what a test measures is its own /run.
    common::ActivationRecord RunInitialised(const std::string& args, int64_t limit_ms) {
        const std::string init_timed_out = "The action exceeded its time limits of " +
                                           std::to_string(limit_ms) +
                                           " milliseconds during initialization.";
        for (int attempt = 0;; ++attempt) {
            auto record = Run(args);
            const bool init_timeout = record.response.status == ActivationStatus::kDeveloperError &&
                                      ErrorText(record) == init_timed_out;
            if (!init_timeout || attempt == 9) return record;
            WARN("a cold start exceeded " << limit_ms << " ms during /init; another container");
        }
    }
};

}  // namespace

TEST_CASE("integration: a python action's result and logs, warm reuse, errors", "[integration]") {
    if (!HavePrerequisites()) return;
    Invoker inv;

    // Cold start.
    auto acks = inv.Invoke(R"({"name":"Ada"})");
    INFO((acks.back().record.response.result ? acks.back().record.response.result->text()
                                             : std::string("no result")));
    REQUIRE(acks.size() == 2);  // result first, completion after the logs
    CHECK(acks[0].kind == AckInfo::Kind::kResult);
    CHECK(acks[1].kind == AckInfo::Kind::kCompletion);
    const auto& first = acks[1].record;
    INFO(first.response.result->text());
    CHECK(first.response.status == ActivationStatus::kSuccess);
    CHECK(first.response.result->text() == R"({"greeting":"Hello Ada"})");
    CHECK(first.annotations.Get("initTime") != nullptr);
    REQUIRE(first.logs.size() == 2);
    const std::regex stdout_line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout: hello Ada$)");
    const std::regex stderr_line(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stderr: to stderr$)");
    bool has_stdout = false, has_stderr = false;
    for (const auto& l : first.logs) {
        has_stdout |= std::regex_match(l, stdout_line);
        has_stderr |= std::regex_match(l, stderr_line);
    }
    CHECK(has_stdout);
    CHECK(has_stderr);
    auto stored = inv.store->GetActivation("guest", first.activation_id);
    REQUIRE(stored.ok());
    CHECK(stored->response.result->text() == R"({"greeting":"Hello Ada"})");
    CHECK(stored->logs == first.logs);
    CHECK(inv.factory->creates() == 1);

    // Warm: same container, no init.
    auto second = inv.Run(R"({"name":"Bob"})");
    CHECK(second.response.result->text() == R"({"greeting":"Hello Bob"})");
    CHECK(second.annotations.Get("initTime") == nullptr);
    REQUIRE(second.logs.size() == 2);
    CHECK(inv.factory->creates() == 1);

    // An application error keeps the container.
    auto failed = inv.Run(R"({"fail":true})");
    CHECK(failed.response.status == ActivationStatus::kApplicationError);
    CHECK(ErrorText(failed) == "failed on purpose");
    auto after = inv.Run(R"({"name":"Cy"})");
    CHECK(after.response.status == ActivationStatus::kSuccess);
    CHECK(inv.factory->creates() == 1);

    CHECK(inv.service->pool().Stats().idle == 1);
}

TEST_CASE("integration: a run over the time limit destroys the container; the next one works",
          "[integration]") {
    if (!HavePrerequisites()) return;
    constexpr int64_t kLimitMs = 3000;
    Invoker inv(InvokerConfig{}, Manifest(), kLimitMs);

    auto warm = inv.RunInitialised(R"({"name":"Ada"})", kLimitMs);
    REQUIRE(warm.response.status == ActivationStatus::kSuccess);
    const int creates_before = inv.factory->creates();
    CHECK(inv.service->pool().Stats().idle == 1);

    // On the warm container: only /run is measured.
    auto slow = inv.Run(R"({"sleep":10})");
    CHECK(slow.response.status == ActivationStatus::kDeveloperError);
    CHECK(ErrorText(slow) == "The action exceeded its time limits of 3000 milliseconds.");
    CHECK(slow.annotations.Get("timeout")->text() == "true");
    CHECK(slow.annotations.Get("initTime") == nullptr);
    CHECK(slow.duration().value_or(0) >= kLimitMs);
    inv.service->pool().Quiesce();
    CHECK(inv.service->pool().Stats().idle == 0);
    CHECK(inv.factory->creates() == creates_before);

    auto recovered = inv.RunInitialised(R"({"name":"Dee"})", kLimitMs);
    CHECK(recovered.response.status == ActivationStatus::kSuccess);
    CHECK(recovered.response.result->text() == R"({"greeting":"Hello Dee"})");
    CHECK(recovered.annotations.Get("initTime") != nullptr);
    CHECK(inv.factory->creates() > creates_before);
}

TEST_CASE("integration: pause (SIGSTOP) after the grace, resume (SIGCONT) on reuse",
          "[integration]") {
    if (!HavePrerequisites()) return;
    InvokerConfig config;
    config.pause_grace = std::chrono::milliseconds(0);
    Invoker inv(config);
    auto first = inv.Run(R"({"name":"Ada"})");
    INFO((first.response.result ? first.response.result->text() : std::string("no result")));
    REQUIRE(first.response.status == ActivationStatus::kSuccess);
    inv.service->pool().Tick();
    inv.service->pool().Quiesce();
    REQUIRE(inv.service->pool().Stats().paused == 1);
    // The proxy's process group is stopped.
    auto pids = inv.factory->pids();
    REQUIRE(pids.size() == 1);
    CHECK(wisp::testing::ProcessIsStopped(pids[0]));
    auto second = inv.Run(R"({"name":"Bob"})");
    CHECK(second.response.status == ActivationStatus::kSuccess);
    CHECK(second.response.result->text() == R"({"greeting":"Hello Bob"})");
    CHECK(inv.factory->creates() == 1);
    CHECK(inv.service->pool().Stats().paused == 0);
    CHECK_FALSE(wisp::testing::ProcessIsStopped(pids[0]));
}

TEST_CASE("integration: a stem cell runs the first activation", "[integration]") {
    if (!HavePrerequisites()) return;
    Invoker inv(InvokerConfig{}, Manifest(1));
    inv.service->pool().Quiesce();
    REQUIRE(inv.factory->creates() == 1);
    REQUIRE(inv.service->pool().Stats().prewarm == 1);
    auto r = inv.Run(R"({"name":"Ada"})");
    INFO((r.response.result ? r.response.result->text() : std::string("no result")));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(inv.service->pool().Stats().prewarm_starts == 1);
    inv.service->pool().Quiesce();
    CHECK(inv.factory->creates() == 2);  // refilled
    CHECK(inv.service->pool().Stats().prewarm == 1);
}

TEST_CASE("integration: orphans of an earlier run are removed", "[integration]") {
    if (!HavePrerequisites()) return;
    wisp::testing::TempDir work("wisp-invoker-orphans-");
    ProcessContainerOptions options;
    options.work_dir = work.path().string();
    options.kill_on_destruction = false;
    pid_t pid = 0;
    {
        ProcessContainerFactory crashed(options);
        invoker::ContainerSpec spec;
        spec.image = "wisp/action-python:3.11";
        spec.name = "wsk5_0_prewarm";
        spec.labels["wisp.invoker"] = "5";
        auto c = crashed.Create(spec);
        REQUIRE(c.ok());
        pid = crashed.PidOf((*c)->id());
        REQUIRE(wisp::testing::ProcessIsAlive(pid));
    }  // the "invoker" is gone; its container is not
    REQUIRE(wisp::testing::ProcessIsAlive(pid));
    options.kill_on_destruction = true;
    ProcessContainerFactory restarted(options);
    auto removed = restarted.RemoveOrphans("5");
    REQUIRE(removed.ok());
    CHECK(*removed == 1);
    CHECK_FALSE(wisp::testing::ProcessIsAlive(pid));
    CHECK(*restarted.RemoveOrphans("5") == 0);
}
