// InvokerService + ActivationRunner with a fake container factory, a ManualClock and the SQLite
// store in memory: records, texts, acks, logs and storage as a user sees them.
#include <wisp/invoker/invoker_service.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/bounded_json.hpp>

#include <wisp/common/entity_json.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>

#include <wisp/testing/fake_container.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using common::ActivationStatus;
using invoker::AckInfo;
using invoker::InvokerConfig;
using invoker::InvokerService;
using invoker::testing::FakeContainer;
using invoker::testing::FakeContainerFactory;
using invoker::testing::FakeReply;
using testing::ManualClock;
using Failure = invoker::ProxyResponse::Failure;

namespace {

common::RuntimeManifest Manifest(int python_stem_cells = 0) {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = "wisp/action-python:3.11";
    python.is_default = true;
    if (python_stem_cells > 0) python.stem_cells.push_back({python_stem_cells, 256});
    common::RuntimeManifest::Blackbox native{"openwhisk/dockerskeleton:latest",
                                             "wisp/action-native:latest"};
    return common::RuntimeManifest({python}, {"python:3"}, {"python:3.11"}, {native});
}

rapidjson::Document Parse(const std::string& json) {
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(json, d);
    return d;
}

std::string AnnotationText(const common::ActivationRecord& r, std::string_view key) {
    const auto* v = r.annotations.Get(key);
    return v ? v->text() : std::string("<absent>");
}

std::vector<std::string> AnnotationKeys(const common::ActivationRecord& r) {
    std::vector<std::string> keys;
    for (const auto& p : r.annotations.items()) keys.push_back(p.key);
    return keys;
}

std::string ErrorText(const common::ActivationRecord& r) {
    REQUIRE(r.response.result.has_value());
    auto d = Parse(r.response.result->text());
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    if (!d["error"].IsString()) return common::ToCompactJson(d["error"]);
    return d["error"].GetString();
}

struct Harness {
    ManualClock clock;
    FakeContainerFactory factory;
    std::unique_ptr<store::ArtifactStore> store;
    std::unique_ptr<InvokerService> service;

    explicit Harness(InvokerConfig config = {}, common::RuntimeManifest manifest = Manifest()) {
        auto opened = store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(opened.ok());
        store = std::move(*opened);
        config.housekeeping_interval = std::chrono::milliseconds(0);
        if (config.worker_threads == 0) config.worker_threads = 4;
        service = std::make_unique<InvokerService>(*store, factory, std::move(manifest), clock,
                                                   std::move(config));
        REQUIRE(service->Start().ok());
    }

    /// Stores an action and returns its revision.
    std::string Put(const common::Action& action, const std::string& rev = "") {
        auto r = store->PutEntity(action, rev);
        REQUIRE(r.ok());
        return *r;
    }

    static common::Action Action(std::string name = "hello", std::string pkg = "") {
        common::Action a;
        std::vector<std::string> segments{"guest"};
        if (!pkg.empty()) segments.push_back(pkg);
        a.namespace_path = common::EntityPath(segments);
        a.name = std::move(name);
        a.exec = common::CodeExec{"python:3.11", "def main(args):\n    return args\n", false,
                                  std::nullopt};
        a.updated_ms = 1;
        return a;
    }

    wisp::v1::ActivationMessage Message(const common::Action& a, const std::string& rev,
                                        std::string content = "{\"name\":\"Ada\"}",
                                        bool blocking = true) {
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-1");
        m.mutable_transid()->set_start_ms(clock.NowMs());
        m.mutable_action()->set_path(a.namespace_path.ToString());
        m.mutable_action()->set_name(a.name);
        m.mutable_action()->set_version(a.version.ToString());
        m.set_revision(rev);
        auto* u = m.mutable_user();
        u->set_subject("guest-subject");
        u->set_namespace_name("guest");
        u->set_namespace_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
        u->mutable_auth()->set_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
        u->mutable_auth()->set_key(std::string(64, 'k'));
        m.set_activation_id(common::ActivationId::Generate().str());
        m.set_blocking(blocking);
        m.set_content_json(std::move(content));
        m.set_wait_start_ms(clock.NowMs());
        return m;
    }

    /// Submits; the future holds every ack once the last one (Completion or Combined) came.
    /// No Catch2 assertions here: it may run off the main thread.
    std::future<std::vector<AckInfo>> Submit(wisp::v1::ActivationMessage m) {
        struct State {
            std::mutex mu;
            std::vector<AckInfo> acks;
            std::promise<std::vector<AckInfo>> done;
        };
        auto state = std::make_shared<State>();
        auto future = state->done.get_future();
        service->Submit(std::move(m), [state](AckInfo ack) {
            std::lock_guard<std::mutex> lock(state->mu);
            bool last = ack.kind != AckInfo::Kind::kResult;
            state->acks.push_back(std::move(ack));
            if (last) state->done.set_value(state->acks);
        });
        return future;
    }

    /// Submits and waits for the last ack and the storage; returns every ack.
    std::vector<AckInfo> Invoke(wisp::v1::ActivationMessage m) {
        auto future = Submit(std::move(m));
        REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
        service->WaitIdle();  // stored
        return future.get();
    }

    common::ActivationRecord Run(const wisp::v1::ActivationMessage& m) {
        auto acks = Invoke(m);
        REQUIRE(!acks.empty());
        return acks.back().record;
    }
};

/// A handler taking `init_ms` for /init and `run_ms` for /run on the ManualClock, answering
/// with `run_reply` (default: echo).
FakeContainerFactory::Handler Timed(ManualClock& clock, int64_t init_ms, int64_t run_ms) {
    return
        [&clock, init_ms, run_ms](FakeContainer&, std::string_view path, const std::string& body) {
            clock.Advance(path == "/init" ? init_ms : run_ms);
            return FakeContainerFactory::DefaultReply(path, body);
        };
}

FakeContainerFactory::Handler RunReply(FakeReply reply) {
    return [reply](FakeContainer&, std::string_view path, const std::string& body) {
        if (path == "/init") return FakeContainerFactory::DefaultReply(path, body);
        return reply;
    };
}

}  // namespace

TEST_CASE("service: cold start then warm reuse; initTime only on the cold start", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    h.factory.set_handler(Timed(h.clock, 30, 10));

    auto m1 = h.Message(action, rev);
    h.clock.Advance(5);  // 5 ms in the controller and the bus
    const int64_t t0 = h.clock.NowMs();
    auto first = h.Run(m1);
    CHECK(first.response.status == ActivationStatus::kSuccess);
    CHECK(first.response.result->text() == R"({"name":"Ada"})");
    CHECK(first.start_ms == t0);  // = init start
    CHECK(first.end_ms == t0 + 40);
    CHECK(first.duration() == 40);  // init included
    CHECK(AnnotationText(first, "initTime") == "30");
    CHECK(AnnotationText(first, "waitTime") == "5");

    auto m2 = h.Message(action, rev);
    const int64_t t1 = h.clock.NowMs();
    auto second = h.Run(m2);
    CHECK(second.response.status == ActivationStatus::kSuccess);
    CHECK(second.start_ms == t1);
    CHECK(second.duration() == 10);
    CHECK(AnnotationText(second, "initTime") == "<absent>");
    CHECK(AnnotationText(second, "waitTime") == "0");

    CHECK(h.factory.creates() == 1);
    CHECK(h.factory.container(0)->inits() == 1);
    CHECK(h.factory.container(0)->runs() == 2);

    // Both are stored.
    auto stored = h.store->GetActivation("guest", first.activation_id);
    REQUIRE(stored.ok());
    CHECK(stored->response.result->text() == R"({"name":"Ada"})");
    CHECK(h.store->GetActivation("guest", second.activation_id).ok());
}

TEST_CASE("service: the record's fields and annotations", "[service]") {
    Harness h;
    auto action = Harness::Action("hello", "utils");
    action.limits.timeout_ms = 5000;
    action.limits.memory_mb = 128;
    action.limits.logs_mb = 1;
    auto rev = h.Put(action);
    auto m = h.Message(action, rev);
    // Alice invokes guest's (public) action through her binding, inside a sequence.
    m.mutable_user()->set_subject("alice-subject");
    m.mutable_user()->set_namespace_name("alice");
    m.mutable_action()->set_binding("alice/myutils");
    const std::string cause = common::ActivationId::Generate().str();
    m.set_cause(cause);
    auto r = h.Run(m);
    CHECK(r.namespace_path.ToString() == "alice");
    CHECK(r.subject == "alice-subject");
    CHECK(r.name == "hello");
    CHECK(r.version.ToString() == "0.0.1");
    CHECK(r.activation_id.str() == m.activation_id());
    REQUIRE(r.cause.has_value());
    CHECK(r.cause->str() == cause);
    CHECK(AnnotationKeys(r) == std::vector<std::string>{"limits", "path", "kind", "timeout",
                                                        "causedBy", "initTime", "waitTime",
                                                        "binding"});
    CHECK(AnnotationText(r, "limits") ==
          R"({"timeout":5000,"memory":128,"logs":1,"concurrency":1})");
    CHECK(AnnotationText(r, "path") == R"("guest/utils/hello")");
    CHECK(AnnotationText(r, "kind") == R"("python:3.11")");
    CHECK(AnnotationText(r, "timeout") == "false");
    CHECK(AnnotationText(r, "causedBy") == R"("sequence")");
    CHECK(AnnotationText(r, "binding") == R"("alice/myutils")");

    // Stored under the invoking namespace, in the stored form.
    auto stored = h.store->GetActivation("alice", r.activation_id);
    REQUIRE(stored.ok());
    CHECK(AnnotationText(*stored, "path") == R"("guest/utils/hello")");

    // What the container saw: /init env and the /run body.
    auto* c = h.factory.container(0);
    REQUIRE(c != nullptr);
    auto init = Parse(c->last_init_body());
    REQUIRE(init.IsObject());
    const auto& value = init["value"];
    CHECK(std::string(value["name"].GetString()) == "hello");
    CHECK(std::string(value["main"].GetString()) == "main");
    CHECK_FALSE(value["binary"].GetBool());
    CHECK(std::string(value["code"].GetString()).find("def main") == 0);
    const auto& env = value["env"];
    CHECK(std::string(env["__OW_NAMESPACE"].GetString()) == "alice");
    CHECK(std::string(env["__OW_ACTION_NAME"].GetString()) == "/guest/utils/hello");
    CHECK(std::string(env["__OW_ACTION_VERSION"].GetString()) == "0.0.1");
    CHECK(std::string(env["__OW_ACTIVATION_ID"].GetString()) == m.activation_id());
    CHECK(std::string(env["__OW_TRANSACTION_ID"].GetString()) == "tid-1");
    CHECK(std::string(env["__OW_API_KEY"].GetString()) ==
          "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:" + std::string(64, 'k'));
    CHECK(env.HasMember("__OW_DEADLINE"));

    auto run = Parse(c->last_run_body());
    CHECK(common::ToCompactJson(run["value"]) == R"({"name":"Ada"})");
    CHECK(std::string(run["namespace"].GetString()) == "alice");
    CHECK(std::string(run["action_name"].GetString()) == "/guest/utils/hello");
    CHECK(std::string(run["action_version"].GetString()) == "0.0.1");
    CHECK(std::string(run["activation_id"].GetString()) == m.activation_id());
    CHECK(std::string(run["transaction_id"].GetString()) == "tid-1");
    CHECK(std::stoll(run["deadline"].GetString()) == h.clock.NowMs() + 5000);
    CHECK(run.HasMember("api_key"));
}

TEST_CASE("service: init parameters go to /init env; provide-api-key:false hides the key",
          "[service]") {
    Harness h;
    auto action = Harness::Action();
    action.annotations.Set("provide-api-key", common::JsonValue::Bool(false));
    auto rev = h.Put(action);
    auto m = h.Message(action, rev, R"({"name":"Ada","secret":{"a":1},"token":"t0k"})");
    m.add_init_args("secret");
    m.add_init_args("token");
    auto r = h.Run(m);
    CHECK(r.response.result->text() == R"({"name":"Ada"})");
    auto* c = h.factory.container(0);
    auto init = Parse(c->last_init_body());
    const auto& env = init["value"]["env"];
    CHECK(std::string(env["secret"].GetString()) == R"({"a":1})");
    CHECK(std::string(env["token"].GetString()) == "t0k");
    CHECK_FALSE(env.HasMember("__OW_API_KEY"));
    auto run = Parse(c->last_run_body());
    CHECK_FALSE(run.HasMember("api_key"));
    CHECK(common::ToCompactJson(run["value"]) == R"({"name":"Ada"})");
}

TEST_CASE("service: an updated action gets a new container", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev1 = h.Put(action);
    h.Run(h.Message(action, rev1));
    action.version = action.version.UpPatch();
    action.exec =
        common::CodeExec{"python:3.11", "def main(a):\n    return {'v': 2}\n", false, std::nullopt};
    auto rev2 = h.Put(action, rev1);
    REQUIRE(rev2 != rev1);
    auto r = h.Run(h.Message(action, rev2));
    CHECK(r.version.ToString() == "0.0.2");
    CHECK(h.factory.creates() == 2);
    CHECK(h.factory.container(1)->inits() == 1);
    CHECK(h.factory.container(0)->runs() == 1);
    // A message naming the old revision runs the latest (OpenWhisk retries without the rev).
    auto stale = h.Run(h.Message(action, rev1));
    CHECK(stale.version.ToString() == "0.0.2");
    CHECK(h.factory.creates() == 2);
}

TEST_CASE("service: paused after the grace, resumed for the next run", "[service]") {
    InvokerConfig config;
    config.pause_grace = std::chrono::milliseconds(10000);
    Harness h(config);
    auto action = Harness::Action();
    auto rev = h.Put(action);
    h.Run(h.Message(action, rev));
    h.clock.Advance(10000);
    h.service->pool().Tick();
    h.service->pool().Quiesce();
    CHECK(h.factory.container(0)->paused());
    auto r = h.Run(h.Message(action, rev));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory.resumes() == 1);
    CHECK(h.factory.creates() == 1);
    CHECK(AnnotationText(r, "initTime") == "<absent>");
}

TEST_CASE("service: a stem cell serves the first run, off the critical path", "[service]") {
    Harness h(InvokerConfig{}, Manifest(1));
    h.service->pool().Quiesce();
    REQUIRE(h.factory.creates() == 1);
    auto action = Harness::Action();
    auto rev = h.Put(action);
    std::atomic<int> creates_at_init{-1};
    h.factory.set_handler([&](FakeContainer&, std::string_view path, const std::string& body) {
        if (path == "/init") creates_at_init = h.factory.creates();
        return FakeContainerFactory::DefaultReply(path, body);
    });
    auto r = h.Run(h.Message(action, rev));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory.container(0)->inits() == 1);  // the stem cell ran it
    CHECK(creates_at_init.load() <= 2);           // at most the background replacement
    CHECK(AnnotationText(r, "initTime") != "<absent>");
    h.service->pool().Quiesce();
    CHECK(h.factory.creates() == 2);
    CHECK(h.service->pool().Stats().prewarm == 1);
}

TEST_CASE("service: application errors keep the container, developer errors destroy it",
          "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);

    SECTION("application error: {error} with 200") {
        h.factory.set_handler(RunReply({Failure::kNone, 200, R"({"error":{"code":42}})"}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kApplicationError);
        CHECK(r.response.result->text() == R"({"error":{"code":42}})");
        h.Run(h.Message(action, rev));
        CHECK(h.factory.creates() == 1);
        CHECK(h.factory.destroys() == 0);
    }
    SECTION("developer error: a non-200 answer with an error") {
        h.factory.set_handler(
            RunReply({Failure::kNone, 502,
                      R"({"error":"The action did not return a dictionary or array."})"}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) == "The action did not return a dictionary or array.");
        h.service->pool().Quiesce();
        CHECK(h.factory.destroys() == 1);
        h.factory.set_handler(nullptr);
        auto next = h.Run(h.Message(action, rev));
        CHECK(next.response.status == ActivationStatus::kSuccess);
        CHECK(h.factory.creates() == 2);
    }
    SECTION("developer error: a non-200 answer without an error member") {
        h.factory.set_handler(RunReply({Failure::kNone, 500, "oops"}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) ==
              "The action did not produce a valid JSON or JSON Array response: oops");
    }
    SECTION("bad responses") {
        h.factory.set_handler(RunReply({Failure::kNone, 200, "not json"}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) ==
              "The action did not produce a valid JSON or JSON Array response: not json");
        h.factory.set_handler(RunReply({Failure::kNone, 200, R"("a string")"}));
        r = h.Run(h.Message(action, rev));
        CHECK(ErrorText(r) ==
              R"(The action did not produce a valid JSON or JSON Array response: "a string")");
        h.factory.set_handler(RunReply({Failure::kNone, 200, ""}));
        r = h.Run(h.Message(action, rev));
        CHECK(ErrorText(r) == "The action did not produce a valid JSON or JSON Array response.");
        h.service->pool().Quiesce();
        CHECK(h.factory.destroys() == 3);
    }
    SECTION("an array result is a success") {
        h.factory.set_handler(RunReply({Failure::kNone, 200, "[1, 2, 3]"}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kSuccess);
        CHECK(r.response.result->text() == "[1,2,3]");
    }
}

TEST_CASE("service: time limits with OpenWhisk's texts", "[service]") {
    Harness h;
    auto action = Harness::Action();
    action.limits.timeout_ms = 1000;
    auto rev = h.Put(action);

    SECTION("during /run") {
        h.factory.set_handler(RunReply({Failure::kTimeout, 0, ""}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) == "The action exceeded its time limits of 1000 milliseconds.");
        CHECK(AnnotationText(r, "timeout") == "true");
        CHECK(r.logs.empty());
        h.service->pool().Quiesce();
        CHECK(h.factory.destroys() == 1);
        h.factory.set_handler(nullptr);
        auto next = h.Run(h.Message(action, rev));
        CHECK(next.response.status == ActivationStatus::kSuccess);
        CHECK(h.factory.creates() == 2);
    }
    SECTION("during /init") {
        h.factory.set_handler([](FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/init") return FakeReply{Failure::kTimeout, 0, ""};
            return FakeContainerFactory::DefaultReply(path, body);
        });
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) ==
              "The action exceeded its time limits of 1000 milliseconds during initialization.");
        CHECK(AnnotationText(r, "timeout") == "true");
        CHECK(AnnotationText(r, "initTime") != "<absent>");
        CHECK(h.factory.container(0)->runs() == 0);
        h.service->pool().Quiesce();
        CHECK(h.factory.destroys() == 1);
    }
}

TEST_CASE("service: init failures", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    SECTION("the proxy's error") {
        h.factory.set_handler([](FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/init")
                return FakeReply{Failure::kNone, 502, R"({"error":"SyntaxError"})"};
            return FakeContainerFactory::DefaultReply(path, body);
        });
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) == "SyntaxError");
    }
    SECTION("no error member") {
        h.factory.set_handler([](FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/init") return FakeReply{Failure::kNone, 500, "kaputt"};
            return FakeContainerFactory::DefaultReply(path, body);
        });
        auto r = h.Run(h.Message(action, rev));
        CHECK(ErrorText(r) == "The action failed during initialization: kaputt");
    }
    SECTION("the container died") {
        h.factory.set_handler([](FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/init") return FakeReply{Failure::kConnectionLost, 0, ""};
            return FakeContainerFactory::DefaultReply(path, body);
        });
        auto r = h.Run(h.Message(action, rev));
        CHECK(ErrorText(r) == "The action did not initialize and exited unexpectedly.");
    }
    h.service->pool().Quiesce();
    CHECK(h.factory.destroys() == 1);
}

TEST_CASE("service: hostile container answers are refused, never crash the invoker",
          "[service][hostile]") {
    // An action image answering /init or /run with a million '[' crashed the invoker through a
    // recursive parse; it is now a developer error like any answer that is not JSON.
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    const std::string deep(1'000'000, '[');
    SECTION("/run") {
        h.factory.set_handler(RunReply(FakeReply{Failure::kNone, 200, deep}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r).rfind("The action did not produce a valid JSON or JSON Array response",
                                 0) == 0);
    }
    SECTION("/init") {
        h.factory.set_handler([&](FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/init") return FakeReply{Failure::kNone, 502, "{\"error\":" + deep};
            return FakeContainerFactory::DefaultReply(path, body);
        });
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r).rfind("The action failed during initialization: ", 0) == 0);
    }
    SECTION("NUL bytes and ill-formed UTF-8 in a /run answer") {
        h.factory.set_handler(
            RunReply(FakeReply{Failure::kNone, 200, std::string("{\"a\":1}\0{\"b\":2}", 15)}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        h.factory.set_handler(RunReply(FakeReply{Failure::kNone, 200, "{\"a\":\"\xff\"}"}));
        r = h.Run(h.Message(action, rev));
        // OpenWhisk decodes such bytes with replacement characters: still a result.
        REQUIRE(r.response.status == ActivationStatus::kSuccess);
        CHECK(r.response.result->text() == "{\"a\":\"\xEF\xBF\xBD\"}");
    }
}

TEST_CASE("service: OOM and crashes", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    SECTION("OOM-killed") {
        FakeReply reply{Failure::kConnectionLost, 0, ""};
        reply.oom = true;
        h.factory.set_handler(RunReply(reply));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) == "The action exhausted its memory and was aborted.");
    }
    SECTION("OOM-killed launcher behind a live proxy (502)") {
        FakeReply reply{
            Failure::kNone, 502,
            R"({"error":"The action did not produce a valid response and exited unexpectedly."})"};
        reply.oom = true;
        h.factory.set_handler(RunReply(reply));
        auto r = h.Run(h.Message(action, rev));
        CHECK(ErrorText(r) == "The action exhausted its memory and was aborted.");
    }
    SECTION("crashed") {
        h.factory.set_handler(RunReply({Failure::kConnectionLost, 0, ""}));
        auto r = h.Run(h.Message(action, rev));
        CHECK(r.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r) ==
              "The action did not produce a valid response and exited unexpectedly.");
    }
    h.service->pool().Quiesce();
    CHECK(h.factory.destroys() == 1);
}

TEST_CASE("service: a result over 1 MB is an application error", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    const std::string big = R"({"data":")" + std::string(1100000, 'x') + R"("})";
    h.factory.set_handler(RunReply({Failure::kNone, 200, big}));
    auto r = h.Run(h.Message(action, rev));
    CHECK(r.response.status == ActivationStatus::kApplicationError);
    const std::string text = ErrorText(r);
    const std::string prefix = "The action produced a response that exceeded the allowed length: " +
                               std::to_string(big.size()) +
                               " > 1048576 bytes. The truncated response was: {\"data\":\"xxx";
    CHECK(text.rfind(prefix, 0) == 0);
    CHECK(text.size() == prefix.size() - 12 + 1048576);  // 12: the quoted part of the body
    h.service->pool().Quiesce();
    CHECK(h.factory.destroys() == 0);  // kept
    CHECK(h.service->pool().Stats().idle == 1);
}

TEST_CASE("service: logs are formatted, cut at the limit, and follow the result ack", "[service]") {
    Harness h;
    auto action = Harness::Action();
    action.limits.logs_mb = 1;
    auto rev = h.Put(action);

    SECTION("formatting and ack order") {
        FakeReply reply = FakeContainerFactory::DefaultReply("/run", R"({"value":{"ok":1}})");
        reply.logs = {{"2024-05-01T10:00:00.123456789Z", "stdout", "hello"},
                      {"2024-05-01T10:00:00Z", "stderr", "warn: x"}};
        h.factory.set_handler(RunReply(reply));
        auto acks = h.Invoke(h.Message(action, rev));
        REQUIRE(acks.size() == 2);
        CHECK(acks[0].kind == AckInfo::Kind::kResult);
        CHECK(acks[0].record.logs.empty());
        CHECK(acks[0].record.response.result->text() == R"({"ok":1})");
        CHECK(acks[1].kind == AckInfo::Kind::kCompletion);
        CHECK(acks[1].record.logs ==
              std::vector<std::string>{"2024-05-01T10:00:00.123456789Z stdout: hello",
                                       "2024-05-01T10:00:00Z           stderr: warn: x"});
        CHECK(h.factory.container(0)->last_sentinels() == 2);
        auto stored = h.store->GetActivation("guest", acks[1].record.activation_id);
        REQUIRE(stored.ok());
        CHECK(stored->logs.size() == 2);
    }
    SECTION("truncation") {
        FakeReply reply = FakeContainerFactory::DefaultReply("/run", R"({"value":{}})");
        for (int i = 0; i < 3; ++i) {
            reply.logs.push_back({"2024-05-01T10:00:00.000000000Z", "stdout",
                                  std::string(400000, static_cast<char>('a' + i))});
        }
        h.factory.set_handler(RunReply(reply));
        auto r = h.Run(h.Message(action, rev));
        REQUIRE(r.logs.size() == 3);
        CHECK(r.logs[0].find("stdout: aaaa") != std::string::npos);
        CHECK(r.logs[2].find(" stderr: Logs were truncated because the total bytes size exceeds "
                             "the limit of 1048576 bytes.") != std::string::npos);
    }
    SECTION("missing sentinels") {
        FakeReply reply = FakeContainerFactory::DefaultReply("/run", R"({"value":{}})");
        reply.logs = {{"2024-05-01T10:00:00.000000000Z", "stdout", "partial"}};
        reply.no_sentinels = true;
        h.factory.set_handler(RunReply(reply));
        auto r = h.Run(h.Message(action, rev));
        REQUIRE(r.logs.size() == 2);
        CHECK(r.logs[1].find("stderr: There was an issue while collecting your logs. Data might "
                             "be missing.") != std::string::npos);
    }
}

TEST_CASE("service: acks per case", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    SECTION("non-blocking: one Completion with the full record") {
        auto acks = h.Invoke(h.Message(action, rev, "{}", /*blocking=*/false));
        REQUIRE(acks.size() == 1);
        CHECK(acks[0].kind == AckInfo::Kind::kCompletion);
        CHECK_FALSE(acks[0].blocking);
        CHECK_FALSE(acks[0].is_system_error);
    }
    SECTION("blocking developer error: one Combined") {
        h.factory.set_handler(RunReply({Failure::kConnectionLost, 0, ""}));
        auto acks = h.Invoke(h.Message(action, rev));
        REQUIRE(acks.size() == 1);
        CHECK(acks[0].kind == AckInfo::Kind::kCombined);
        CHECK_FALSE(acks[0].is_system_error);
    }
    SECTION("log limit 0: no collection, one Combined") {
        auto quiet = Harness::Action("quiet");
        quiet.limits.logs_mb = 0;
        auto qrev = h.Put(quiet);
        auto acks = h.Invoke(h.Message(quiet, qrev));
        REQUIRE(acks.size() == 1);
        CHECK(acks[0].kind == AckInfo::Kind::kCombined);
        CHECK(h.factory.container(0)->last_sentinels() == -1);
        CHECK(acks[0].record.logs.empty());
    }
    SECTION("the bus form") {
        auto acks = h.Invoke(h.Message(action, rev));
        REQUIRE(acks.size() == 2);
        wisp::v1::InvokerInstanceId instance;
        instance.set_instance(0);
        auto result = invoker::ToAcknowledgementMessage(acks[0], instance);
        CHECK(result.kind() == wisp::v1::AcknowledgementMessage::RESULT);
        CHECK(result.activation_id() == acks[0].activation_id);
        auto parsed = common::ActivationFromJson(result.activation_json());
        REQUIRE(parsed.ok());
        CHECK(parsed->activation_id == acks[0].record.activation_id);
        auto completion = invoker::ToAcknowledgementMessage(acks[1], instance);
        CHECK(completion.kind() == wisp::v1::AcknowledgementMessage::COMPLETION);
        CHECK(completion.activation_json().empty());
        auto tiny = invoker::ToAcknowledgementMessage(acks[0], instance, 10);
        CHECK(tiny.activation_json().empty());  // too large: the controller reads the store
    }
}

TEST_CASE("service: a missing action gets the fallback record", "[service]") {
    Harness h;
    auto ghost = Harness::Action("ghost", "pkg");
    auto acks = h.Invoke(h.Message(ghost, "1-abc"));
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].kind == AckInfo::Kind::kCombined);
    const auto& r = acks[0].record;
    CHECK(r.response.status == ActivationStatus::kApplicationError);
    CHECK(ErrorText(r) == "Action could not be found or may have been deleted.");
    CHECK(AnnotationText(r, "kind") == R"("unknown")");
    CHECK(AnnotationText(r, "path") == R"("guest/pkg/ghost")");
    CHECK(r.duration() == 0);
    CHECK(r.name == "ghost");
    CHECK(r.subject == "guest-subject");
    CHECK(h.factory.creates() == 0);
    CHECK(h.store->GetActivation("guest", r.activation_id).ok());
}

TEST_CASE("service: invoker_annotation names the invoker on every record it writes", "[service]") {
    SECTION("unset: no such annotation") {
        Harness h;
        auto action = Harness::Action();
        auto r = h.Run(h.Message(action, h.Put(action)));
        CHECK(AnnotationText(r, "invoker") == "<absent>");
    }
    SECTION("set: run, and the fallback record of a missing action") {
        InvokerConfig config;
        config.runner.invoker_annotation = "invoker2";
        Harness h(config);
        auto action = Harness::Action();
        auto r = h.Run(h.Message(action, h.Put(action)));
        CHECK(r.response.status == ActivationStatus::kSuccess);
        CHECK(AnnotationText(r, "invoker") == R"("invoker2")");
        auto stored = h.store->GetActivation("guest", r.activation_id);
        REQUIRE(stored.ok());
        CHECK(AnnotationText(*stored, "invoker") == R"("invoker2")");
        auto ghost = h.Run(h.Message(Harness::Action("ghost"), "1-abc"));
        CHECK(AnnotationText(ghost, "invoker") == R"("invoker2")");
    }
}

TEST_CASE("service: store_activations=false skips storage", "[service]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    auto m = h.Message(action, rev);
    m.mutable_user()->mutable_limits()->set_store_activations(false);
    auto r = h.Run(m);
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.store->GetActivation("guest", r.activation_id).status().code() ==
          absl::StatusCode::kNotFound);

    auto forced = h.Message(action, rev);
    forced.mutable_user()->mutable_limits()->set_store_activations(false);
    forced.mutable_transid()->set_extra_logging(true);  // X-OW-EXTRA-LOGGING: on
    auto r2 = h.Run(forced);
    CHECK(h.store->GetActivation("guest", r2.activation_id).ok());
}

TEST_CASE("service: concurrency > 1 shares one container", "[service]") {
    Harness h;
    auto action = Harness::Action();
    action.limits.concurrency = 2;
    auto rev = h.Put(action);
    // Both runs must be inside the container at once before either answers.
    std::mutex mu;
    std::condition_variable cv;
    int inside = 0;
    h.factory.set_handler([&](FakeContainer&, std::string_view path, const std::string& body) {
        if (path == "/run") {
            std::unique_lock<std::mutex> lock(mu);
            ++inside;
            cv.notify_all();
            cv.wait_for(lock, std::chrono::seconds(5), [&] { return inside >= 2; });
        }
        return FakeContainerFactory::DefaultReply(path, body);
    });
    auto a = h.Submit(h.Message(action, rev));
    auto b = h.Submit(h.Message(action, rev));
    REQUIRE(a.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    REQUIRE(b.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    auto ra = a.get();
    auto rb = b.get();
    CHECK(ra.back().record.response.status == ActivationStatus::kSuccess);
    CHECK(rb.back().record.response.status == ActivationStatus::kSuccess);
    CHECK(inside == 2);
    CHECK(h.factory.creates() == 1);
    CHECK(h.factory.container(0)->inits() == 1);
    CHECK(h.factory.container(0)->runs() == 2);
    // Logs cannot be cut by sentinels when runs overlap: not collected.
    CHECK(ra.size() == 1);
    CHECK(ra[0].kind == AckInfo::Kind::kCombined);
}

TEST_CASE("service: orphans are removed at start; Shutdown destroys containers", "[service]") {
    InvokerConfig config;
    config.invoker_id = "3";
    ManualClock clock;
    FakeContainerFactory factory;
    factory.add_orphans("3", 2);
    auto store = store::OpenArtifactStore("sqlite::memory:");
    REQUIRE(store.ok());
    config.housekeeping_interval = std::chrono::milliseconds(0);
    InvokerService service(**store, factory, Manifest(), clock, config);
    REQUIRE(service.Start().ok());
    CHECK(factory.orphan_calls() == std::vector<std::string>{"3"});

    auto action = Harness::Action();
    auto rev = (*store)->PutEntity(action, "");
    REQUIRE(rev.ok());
    std::promise<AckInfo> done;
    wisp::v1::ActivationMessage m;
    m.mutable_action()->set_path("guest");
    m.mutable_action()->set_name("hello");
    m.set_revision(*rev);
    m.mutable_user()->set_namespace_name("guest");
    m.set_activation_id(common::ActivationId::Generate().str());
    service.Submit(m, [&](AckInfo ack) { done.set_value(std::move(ack)); });
    auto ack = done.get_future().get();
    CHECK(ack.kind == AckInfo::Kind::kCompletion);
    service.WaitIdle();
    CHECK(factory.specs().at(0).name.rfind("wsk3_", 0) == 0);
    service.Shutdown();
    CHECK(factory.container(0)->destroyed());

    // After shutdown: answered at once with a whisk error.
    std::promise<AckInfo> late;
    service.Submit(m, [&](AckInfo a) { late.set_value(std::move(a)); });
    auto late_ack = late.get_future().get();
    CHECK(late_ack.is_system_error);
    CHECK(late_ack.record.response.status == ActivationStatus::kWhiskError);
}

TEST_CASE("service: blackbox images", "[service]") {
    Harness h;
    auto native = Harness::Action("native");
    native.exec = common::BlackboxExec{"openwhisk/dockerskeleton",
                                       std::string("#!/bin/sh\necho {}"), false, std::nullopt};
    auto rev = h.Put(native);
    auto r = h.Run(h.Message(native, rev));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(AnnotationText(r, "kind") == R"("blackbox")");
    auto spec = h.factory.specs().at(0);
    CHECK(spec.image == "wisp/action-native:latest");
    CHECK_FALSE(spec.pull_if_missing);
    CHECK(h.factory.container(0)->last_sentinels() == 2);

    auto custom = Harness::Action("custom");
    custom.exec = common::BlackboxExec{"someone/image", std::nullopt, false, std::nullopt};
    auto crev = h.Put(custom);
    auto r2 = h.Run(h.Message(custom, crev));
    CHECK(r2.response.status == ActivationStatus::kSuccess);
    auto cspec = h.factory.specs().at(1);
    CHECK(cspec.image == "someone/image:latest");
    CHECK(cspec.pull_if_missing);
    CHECK(h.factory.container(1)->last_sentinels() == 0);  // no sentinels in foreign images
    auto init = Parse(h.factory.container(1)->last_init_body());
    CHECK_FALSE(init["value"].HasMember("code"));

    SECTION("a failed pull is a developer error") {
        auto other = Harness::Action("other");
        other.exec = common::BlackboxExec{"someone/missing", std::nullopt, false, std::nullopt};
        auto orev = h.Put(other);
        h.factory.set_create_error(absl::NotFoundError("pull access denied"));
        auto r3 = h.Run(h.Message(other, orev));
        CHECK(r3.response.status == ActivationStatus::kDeveloperError);
        CHECK(ErrorText(r3) == "Failed to pull container image 'someone/missing:latest'.");
    }
    SECTION("a managed kind that cannot start is a whisk error") {
        auto py = Harness::Action("py");
        auto prev = h.Put(py);
        h.factory.set_create_error(absl::UnavailableError("docker is down"));
        auto acks = h.Invoke(h.Message(py, prev));
        CHECK(acks.back().record.response.status == ActivationStatus::kWhiskError);
        CHECK(ErrorText(acks.back().record) == "Failed to provision resources to run the action.");
        CHECK(acks.back().is_system_error);
    }
}

TEST_CASE("service: blackbox images outside the allow list do not run", "[service]") {
    InvokerConfig config;
    config.runner.allowed_images = {"ghcr.io/acme", "docker.io/openwhisk"};
    Harness h(config);
    auto allowed = Harness::Action("allowed");
    allowed.exec = common::BlackboxExec{"ghcr.io/acme/tool:1", std::nullopt, false, std::nullopt};
    auto r = h.Run(h.Message(allowed, h.Put(allowed)));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    REQUIRE(h.factory.specs().size() == 1);

    auto denied = Harness::Action("denied");
    denied.exec = common::BlackboxExec{"someone/image", std::nullopt, false, std::nullopt};
    auto r2 = h.Run(h.Message(denied, h.Put(denied)));
    CHECK(r2.response.status == ActivationStatus::kDeveloperError);
    CHECK(ErrorText(r2) ==
          "The container image 'someone/image:latest' is not allowed on this platform.");

    // A stored action whose image is no valid reference never reaches the factory.
    auto hostile = Harness::Action("hostile");
    hostile.exec = common::BlackboxExec{"../../x?y", std::nullopt, false, std::nullopt};
    auto r3 = h.Run(h.Message(hostile, h.Put(hostile)));
    CHECK(r3.response.status == ActivationStatus::kDeveloperError);
    CHECK(ErrorText(r3).find("is not a valid container image reference") != std::string::npos);
    CHECK(h.factory.specs().size() == 1);  // neither was created
}

TEST_CASE("FormatLogLine and FormatIsoTime", "[service]") {
    CHECK(invoker::FormatLogLine({"2024-05-01T10:00:00Z", "stdout", "hi"}) ==
          "2024-05-01T10:00:00Z           stdout: hi");
    CHECK(invoker::FormatIsoTime(1714557600123) == "2024-05-01T10:00:00.123Z");
}

TEST_CASE("service metrics: starts by kind, init/wait/run histograms, outcomes, pool gauges",
          "[service][metrics]") {
    Harness h;
    auto action = Harness::Action();
    auto rev = h.Put(action);
    auto metrics = [&h](std::optional<int64_t> lag = std::nullopt) {
        common::PrometheusWriter w;
        h.service->WriteMetrics(w, lag);
        return w.Take();
    };
    auto has = [](const std::string& text, const std::string& line) {
        INFO(text);
        return text.find(line + "\n") != std::string::npos;
    };
    const std::string before = metrics();
    CHECK(
        has(before, "wisp_invoker_container_starts_total{kind=\"python:3.11\",start=\"cold\"} 0"));
    CHECK(has(before, "wisp_invoker_init_seconds_count 0"));
    CHECK(has(before, "wisp_invoker_activations_total{status=\"success\"} 0"));
    CHECK(before.find("wisp_invoker_consumer_lag") == std::string::npos);  // unknown: left out

    // A cold start (30 ms /init, 10 ms /run, 5 ms waiting), then two warm runs, one failing.
    h.factory.set_handler(Timed(h.clock, 30, 10));
    auto m1 = h.Message(action, rev);
    h.clock.Advance(5);
    h.Run(m1);
    h.Run(h.Message(action, rev));
    h.factory.set_handler(RunReply({Failure::kNone, 200, R"({"error":"no"})"}));
    CHECK(h.Run(h.Message(action, rev)).response.status == ActivationStatus::kApplicationError);
    // An action that is gone: an outcome, but no container taken.
    auto gone = Harness::Action("gone");
    h.Run(h.Message(gone, "1-abc"));

    const std::string after = metrics(7);
    CHECK(has(after, "wisp_invoker_container_starts_total{kind=\"python:3.11\",start=\"cold\"} 1"));
    CHECK(has(after, "wisp_invoker_container_starts_total{kind=\"python:3.11\",start=\"warm\"} 2"));
    CHECK(has(after,
              "wisp_invoker_container_starts_total{kind=\"python:3.11\",start=\"prewarm\"} 0"));
    CHECK(has(after, "wisp_invoker_init_seconds_count 1"));
    CHECK(has(after, "wisp_invoker_init_seconds_sum 0.03"));
    CHECK(has(after, "wisp_invoker_init_seconds_bucket{le=\"0.025\"} 0"));
    CHECK(has(after, "wisp_invoker_init_seconds_bucket{le=\"0.05\"} 1"));
    CHECK(has(after, "wisp_invoker_wait_seconds_count 3"));
    CHECK(has(after, "wisp_invoker_wait_seconds_sum 0.005"));
    CHECK(has(after, "wisp_invoker_run_seconds_count 3"));
    CHECK(has(after, "wisp_invoker_run_seconds_bucket{le=\"0.01\"} 2"));  // 10 ms, 0 ms
    CHECK(has(after, "wisp_invoker_run_seconds_bucket{le=\"0.05\"} 3"));  // and 40 ms
    CHECK(has(after, "wisp_invoker_activations_total{status=\"success\"} 2"));
    CHECK(has(after, "wisp_invoker_activations_total{status=\"application_error\"} 2"));
    CHECK(has(after, "wisp_invoker_activations_total{status=\"whisk_internal_error\"} 0"));
    CHECK(has(after, "wisp_invoker_containers{state=\"idle\"} 1"));
    CHECK(has(after, "wisp_invoker_containers{state=\"busy\"} 0"));
    CHECK(has(after, "wisp_invoker_pool_memory_used_bytes 268435456"));
    CHECK(has(after, "wisp_invoker_pool_memory_budget_bytes 2147483648"));
    CHECK(has(after, "wisp_invoker_activations_in_flight 0"));
    CHECK(has(after, "wisp_invoker_record_writes_lost_total 0"));
    CHECK(has(after, "wisp_invoker_consumer_lag 7"));
    CHECK(has(after, "# TYPE wisp_invoker_run_seconds histogram"));
}

TEST_CASE("service: worker threads come from the work, not from the memory budget",
          "[service][threads]") {
    auto threads_at = [](int64_t user_memory_mb) {
        ManualClock clock;
        FakeContainerFactory factory;
        auto opened = store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(opened.ok());
        InvokerConfig config;
        config.housekeeping_interval = std::chrono::milliseconds(0);
        config.user_memory_mb = user_memory_mb;  // worker_threads left automatic
        InvokerService service(**opened, factory, Manifest(), clock, config);
        REQUIRE(service.Start().ok());
        const int n = service.worker_thread_count();
        service.Shutdown();
        CHECK(service.worker_thread_count() == 0);
        return n;
    };
    // Idle: no thread at all, whatever the budget (threads start with the activations that
    // need them; the test below grows them).
    CHECK(threads_at(1024) == 0);
    CHECK(threads_at(65536) == 0);  // was 2,048 threads, then DefaultWorkerThreads()
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    CHECK(InvokerService::DefaultWorkerThreads() == std::max(8, 4 * cores));
}

TEST_CASE("service: activations beyond the worker threads queue and all run",
          "[service][threads]") {
    InvokerConfig config;
    config.worker_threads = 1;
    config.max_worker_threads = 2;
    Harness h(config);
    CHECK(h.service->worker_thread_count() == 0);  // none before the first activation
    // /run blocks until released, so each activation holds its thread.
    std::mutex mu;
    std::condition_variable cv;
    int inside = 0;
    int runs = 0;
    bool release = false;
    h.factory.set_handler([&](FakeContainer&, std::string_view path, const std::string& body) {
        if (path == "/run") {
            std::unique_lock<std::mutex> lock(mu);
            ++inside;
            ++runs;
            cv.notify_all();
            cv.wait(lock, [&] { return release; });
            --inside;
        }
        return FakeContainerFactory::DefaultReply(path, body);
    });
    std::vector<std::future<std::vector<AckInfo>>> done;
    for (int i = 0; i < 5; ++i) {
        auto action = Harness::Action("act" + std::to_string(i));
        auto rev = h.Put(action);
        done.push_back(h.Submit(h.Message(action, rev)));
    }
    {
        // Grown from 1 to the bound of 2 threads, never beyond: the others wait in the queue.
        std::unique_lock<std::mutex> lock(mu);
        REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return inside == 2; }));
        CHECK(h.service->worker_thread_count() == 2);
        CHECK(h.service->in_flight() == 5);
        CHECK(runs == 2);
        release = true;
        cv.notify_all();
    }
    for (auto& f : done) {
        REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
        CHECK(f.get().back().record.response.status == ActivationStatus::kSuccess);
    }
    h.service->WaitIdle();
    CHECK(runs == 5);
    CHECK(h.service->worker_thread_count() <= 2);
}

// ---- keep-warm --------------------------------------------------------------------------------

namespace {

wisp::v1::ActivationMessage KeepWarmOrder(Harness& h, const common::Action& a,
                                          const std::string& rev, int count,
                                          int64_t ttl_ms = 60000) {
    auto m = h.Message(a, rev, "{}", false);
    m.mutable_keep_warm()->set_count(count);
    m.mutable_keep_warm()->set_ttl_ms(ttl_ms);
    return m;
}

}  // namespace

TEST_CASE("service: a keep-warm order pre-initialises containers; the next invoke is warm",
          "[service][keep-warm]") {
    InvokerConfig config;
    config.keep_warm_interval = std::chrono::milliseconds(0);  // the test reconciles
    config.idle_timeout = std::chrono::seconds(5);
    Harness h(config);
    auto action = Harness::Action();
    action.parameters.Set("secret", common::JsonValue::String("s3"), /*init=*/true);
    auto rev = h.Put(action);

    bool finished = false;
    bool acked = false;
    h.service->Submit(
        KeepWarmOrder(h, action, rev, 2), [&](AckInfo) { acked = true; }, [&] { finished = true; });
    CHECK(finished);  // taken at once: no worker, no ack, no record
    CHECK_FALSE(acked);
    CHECK(h.service->in_flight() == 0);
    CHECK(h.service->keep_warm_orders() == 1);

    CHECK(h.service->ReconcileKeepWarm() == 2);
    REQUIRE(h.factory.creates() == 2);
    for (size_t i = 0; i < 2; ++i) {
        const auto* c = h.factory.container(i);
        CHECK(c->inits() == 1);
        CHECK(c->runs() == 0);
        // /init as a first activation would send it: code, the identity's key, init parameters.
        const std::string body = c->last_init_body();
        CHECK(body.find("def main") != std::string::npos);
        CHECK(body.find("\"__OW_API_KEY\":\"23bc46b1") != std::string::npos);
        CHECK(body.find("\"secret\":\"s3\"") != std::string::npos);
    }
    CHECK(h.service->ReconcileKeepWarm() == 0);  // nothing missing

    // Far beyond the idle timeout (the order renewed meanwhile), the next invoke is warm.
    h.clock.Advance(50000);
    h.service->Submit(KeepWarmOrder(h, action, rev, 2), nullptr);
    h.service->pool().Tick();
    h.service->pool().Quiesce();
    CHECK(h.service->pool().Stats().keep_warm == 2);
    auto rec = h.Run(h.Message(action, rev));
    CHECK(rec.response.status == ActivationStatus::kSuccess);
    CHECK(AnnotationText(rec, "initTime") == "<absent>");
    CHECK(h.factory.creates() == 2);
    // The record store holds the invoke's record only.
    store::ActivationQuery query;
    query.namespace_name = "guest";
    auto listed = h.store->ListActivations(query);
    REQUIRE(listed.ok());
    CHECK(listed->size() == 1);
}

TEST_CASE("service: keep-warm replaces a killed container, follows updates and is released",
          "[service][keep-warm]") {
    InvokerConfig config;
    config.keep_warm_interval = std::chrono::milliseconds(0);
    Harness h(config);
    auto action = Harness::Action();
    auto rev = h.Put(action);
    h.service->Submit(KeepWarmOrder(h, action, rev, 1), nullptr);
    CHECK(h.service->ReconcileKeepWarm() == 1);

    h.factory.container(0)->Kill();
    CHECK(h.service->ReconcileKeepWarm() == 1);  // the dead one is removed and replaced
    CHECK(h.factory.creates() == 2);
    CHECK(h.factory.container(1)->inits() == 1);

    // An update: the new revision's order replaces the old one's container.
    auto updated = action;
    updated.exec = common::CodeExec{"python:3.11", "def main(args):\n    return {'v': 2}\n", false,
                                    std::nullopt};
    auto rev2 = h.Put(updated, rev);
    h.service->Submit(KeepWarmOrder(h, updated, rev2, 1), nullptr);
    CHECK(h.service->ReconcileKeepWarm() == 1);
    CHECK(h.factory.container(2)->last_init_body().find("'v': 2") != std::string::npos);
    CHECK(h.service->pool().Stats().keep_warm == 1);

    // count 0 releases (the containers become ordinary idle ones), and the order is dropped.
    h.service->Submit(KeepWarmOrder(h, updated, rev2, 0), nullptr);
    CHECK(h.service->ReconcileKeepWarm() == 0);
    CHECK(h.service->pool().Stats().keep_warm == 0);
    CHECK(h.service->keep_warm_orders() == 0);

    // An order that is not renewed expires; so does one whose action was deleted.
    h.service->Submit(KeepWarmOrder(h, updated, rev2, 1, /*ttl_ms=*/1000), nullptr);
    CHECK(h.service->ReconcileKeepWarm() == 0);  // the idle one of that revision is pinned again
    CHECK(h.service->pool().Stats().keep_warm == 1);
    h.clock.Advance(1000);
    CHECK(h.service->ReconcileKeepWarm() == 0);
    CHECK(h.service->pool().Stats().keep_warm == 0);
    CHECK(h.service->keep_warm_orders() == 0);

    h.service->Submit(KeepWarmOrder(h, updated, rev2, 1), nullptr);
    CHECK(h.service->pool().Stats().keep_warm == 0);
    REQUIRE(h.store->DeleteEntity(common::EntityType::kAction, updated.Fqn(), "").ok());
    h.service->InvalidateAction(updated.Fqn().DocId());
    CHECK(h.service->ReconcileKeepWarm() == 0);
    CHECK(h.service->pool().Stats().keep_warm == 0);
    CHECK(h.service->keep_warm_orders() == 0);
}

TEST_CASE("service: on an aarch64 host the runtime images are the -arm64 ones", "[service][arch]") {
    // What wisp-invoker and wisp-standalone do with uname -m (common::HostMachine()).
    Harness h(InvokerConfig{}, Manifest(1).ForMachine("aarch64"));
    h.service->pool().Quiesce();
    REQUIRE(h.factory.creates() == 1);
    CHECK(h.factory.specs().at(0).image == "wisp/action-python:3.11-arm64");  // the stem cell

    auto py = Harness::Action("py");
    auto r = h.Run(h.Message(py, h.Put(py)));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory.container(0)->runs() == 1);  // the -arm64 stem cell ran it

    auto native = Harness::Action("native");
    native.exec = common::BlackboxExec{"openwhisk/dockerskeleton",
                                       std::string("#!/bin/sh\necho {}"), false, std::nullopt};
    r = h.Run(h.Message(native, h.Put(native)));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    h.service->pool().Quiesce();
    std::vector<std::string> images;
    for (const auto& spec : h.factory.specs()) images.push_back(spec.image);
    CHECK(std::count(images.begin(), images.end(), "wisp/action-native:latest-arm64") == 1);
    CHECK(std::count(images.begin(), images.end(), "wisp/action-native:latest") == 0);

    // An image the user names is pulled as named: its registry serves the node's architecture.
    auto custom = Harness::Action("custom");
    custom.exec = common::BlackboxExec{"someone/image", std::nullopt, false, std::nullopt};
    r = h.Run(h.Message(custom, h.Put(custom)));
    CHECK(r.response.status == ActivationStatus::kSuccess);
    CHECK(h.factory.specs().back().image == "someone/image:latest");
}
