// The Controller driven directly (no sockets) over an in-memory SQLite store and a fake
// balancer that "runs" actions itself: routes, auth, entitlement, throttles, sequences, fires.
#include <atomic>
#include <future>
#include <memory>
#include <thread>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "authenticator.hpp"
#include "controller_test_support.hpp"
#include "throttler.hpp"
#include "timer_queue.hpp"

namespace wisp::controller {
namespace {

using common::Base64Encode;
using common::JsonValue;

struct Fixture : test_support::ControllerOverSqlite {
    const std::string guest = std::string(common::kGuestAuth);

    explicit Fixture(ControllerConfig config = {}) {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        test_support::PutSubject(*store, "other", common::kSystemAuth);
        clock.Set(1795000000000);
        // Runs every action itself: the result is the arguments plus {"ran":"<action>"}, or an
        // application error when the arguments hold "fail". Records are stored like the invoker
        // does.
        Start(std::move(config));
    }

    HttpResponse Send(std::string method, std::string target, std::string body = "",
                      std::string auth = "default") {
        if (auth == "default") auth = guest;
        const bool json = !body.empty() && (body[0] == '{' || body[0] == '[');
        // From 127.0.0.1: a local client (it may read /metrics). Also called from other threads
        // (std::async), where Catch2 assertions are not allowed: no answer within 10 s is
        // status 0, which every caller's check rejects.
        return test_support::Call(
            *controller,
            test_support::MakeRequest(std::move(method), target, std::move(body), auth, json));
    }
};

using test_support::ErrorOf;
using test_support::Parse;

const char* kAction = R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})";
constexpr const char* kNs = "/api/v1/namespaces/_";

}  // namespace

TEST_CASE("controller: authentication and entitlement", "[controller]") {
    Fixture f;
    auto r = f.Send("GET", common::Cat(kNs, "/actions"), "", "");
    CHECK(r.status == 401);
    CHECK(ErrorOf(r) ==
          "The resource requires authentication, which was not supplied with the request");
    CHECK(r.Header("WWW-Authenticate") == "Basic realm=\"OpenWhisk secure realm\"");
    CHECK(r.Header("Access-Control-Allow-Origin") == "*");
    CHECK(!r.Header("X-Request-ID").empty());

    std::string bad = f.guest;
    bad.back() = bad.back() == 'x' ? 'y' : 'x';
    r = f.Send("GET", common::Cat(kNs, "/actions"), "", bad);
    CHECK(r.status == 401);
    CHECK(ErrorOf(r) == "The supplied authentication is invalid");

    r = f.Send("GET", "/api/v1/namespaces");
    CHECK(r.status == 200);
    CHECK(r.body == R"(["guest"])");

    r = f.Send("PUT", "/api/v1/namespaces/other/actions/x", kAction);
    CHECK(r.status == 403);
    CHECK(ErrorOf(r) == "The supplied authentication is not authorized to access 'other/x'.");
    r = f.Send("GET", "/api/v1/namespaces/other/triggers");
    CHECK(r.status == 403);
}

TEST_CASE("controller: action CRUD, conflicts and lists", "[controller]") {
    Fixture f;
    auto r = f.Send("PUT", common::Cat(kNs, "/actions/hello"), kAction);
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["exec"]["kind"].GetString()) == "python:3.11");
    CHECK(std::string(d["version"].GetString()) == "0.0.1");

    r = f.Send("PUT", common::Cat(kNs, "/actions/hello"), kAction);
    CHECK(r.status == 409);
    CHECK(ErrorOf(r) == "resource already exists");
    r = f.Send("PUT", common::Cat(kNs, "/actions/hello?overwrite=true"), kAction);
    CHECK(r.status == 200);
    CHECK(std::string(Parse(r.body)["version"].GetString()) == "0.0.2");

    r = f.Send("PUT", common::Cat(kNs, "/triggers/hello"), "{}");
    CHECK(r.status == 409);
    CHECK(ErrorOf(r) == "Resource by this name exists but is not in this collection.");

    r = f.Send("GET", common::Cat(kNs, "/actions/hello?code=false"));
    CHECK(r.status == 200);
    CHECK_FALSE(Parse(r.body)["exec"].HasMember("code"));

    r = f.Send("GET", common::Cat(kNs, "/actions?"));
    CHECK(r.status == 200);
    CHECK(Parse(r.body).Size() == 1);
    r = f.Send("GET", common::Cat(kNs, "/actions?count=true"));
    CHECK(r.body == R"({"actions":1})");
    r = f.Send("GET", common::Cat(kNs, "/actions?limit=201"));
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "The value '201' is not in the range of 0 to 200 for actions.");

    r = f.Send("PUT", common::Cat(kNs, "/actions/big"),
               R"({"exec":{"kind":"python:3","code":"x"},"limits":{"memory":1024}})");
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "memory size 1024 MB exceeds allowed threshold of 512 MB");
    r = f.Send("PUT", common::Cat(kNs, "/actions/bad"),
               R"({"exec":{"kind":"cobol:1","code":"x"}})");
    CHECK(r.status == 400);
    r = f.Send("PUT", common::Cat(kNs, "/actions/bad"), "{not json");
    CHECK(r.status == 400);
    // A number far below the smallest double (it crashed rapidjson 1.1.0's full-precision
    // strtod, killing the process) is a parameter like any other; one past the largest is a 400.
    const std::string tiny = "0." + std::string(400, '0') + "1";
    r = f.Send("PUT", common::Cat(kNs, "/actions/tiny"),
               R"({"exec":{"kind":"python:3","code":"x"},"parameters":[{"key":"n","value":)" +
                   tiny + "}]}");
    CHECK(r.status == 200);
    r = f.Send("GET", common::Cat(kNs, "/actions/tiny"));
    REQUIRE(r.status == 200);
    CHECK(Parse(r.body)["parameters"][0]["value"].IsNumber());
    r = f.Send(
        "PUT", common::Cat(kNs, "/actions/huge"),
        R"({"exec":{"kind":"python:3","code":"x"},"parameters":[{"key":"n","value":1.8e308}]})");
    CHECK(r.status == 400);
    CHECK_THAT(ErrorOf(r), Catch::Matchers::Contains("Number too big to be stored in double."));

    r = f.Send("PATCH", common::Cat(kNs, "/actions/hello"));
    CHECK(r.status == 405);
    r = f.Send("GET", common::Cat(kNs, "/actions/nothere"));
    CHECK(r.status == 404);
    CHECK(ErrorOf(r) == "The requested resource does not exist.");

    r = f.Send("DELETE", common::Cat(kNs, "/actions/hello"));
    CHECK(r.status == 200);
    r = f.Send("DELETE", common::Cat(kNs, "/actions/hello"));
    CHECK(r.status == 404);
}

TEST_CASE("controller: the balancer is told an action's memory and limits.concurrency",
          "[controller][placement]") {
    // The sharding balancer takes memory per container of `concurrency` activations.
    ControllerConfig config;
    config.action_bounds.max_concurrency = 10;
    Fixture f(config);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/shared"),
                   R"({"exec":{"kind":"nodejs:18","code":"x"},)"
                   R"("limits":{"memory":128,"concurrency":3}})")
                .status == 200);
    auto r = f.Send("POST", common::Cat(kNs, "/actions/shared?blocking=true"), "{}");
    INFO(r.body);
    CHECK(r.status == 200);
    const auto placement = f.balancer->last_placement();
    CHECK(placement.memory_mb == 128);
    CHECK(placement.max_concurrency == 3);
    CHECK(placement.fqn == "guest/shared");
}

TEST_CASE("controller: invoke blocking, non-blocking, result, errors", "[controller]") {
    Fixture f;
    REQUIRE(
        f.Send("PUT", common::Cat(kNs, "/actions/echo"),
               R"({"exec":{"kind":"python:3","code":"x"},"parameters":[{"key":"p","value":1}]})")
            .status == 200);
    auto r = f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true"), R"({"q":2})");
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["response"]["status"].GetString()) == "success");
    CHECK(d["response"]["result"]["p"].GetInt() == 1);
    CHECK(d["response"]["result"]["q"].GetInt() == 2);
    CHECK(r.Header("x-openwhisk-activation-id") == d["activationId"].GetString());

    r = f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true&result=true"), R"({"p":3})");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"p":3,"ran":"echo"})");

    r = f.Send("POST", common::Cat(kNs, "/actions/echo"));  // no body, no content type
    CHECK(r.status == 202);
    CHECK(Parse(r.body).HasMember("activationId"));

    r = f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true"), R"({"fail":1})");
    CHECK(r.status == 502);
    CHECK_FALSE(Parse(r.body).HasMember("code"));

    r = f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true&timeout=0"));
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "Timeout must be number of milliseconds up to 60000.");

    r = f.Send("POST", common::Cat(kNs, "/actions/echo"), std::string(1048577, ' '));
    CHECK(r.status == 413);
    CHECK(ErrorOf(r) == "Request larger than allowed: 1048577 > 1048576 bytes.");

    r = f.Send("POST", common::Cat(kNs, "/actions/echo"), "[1,");
    CHECK(r.status == 400);

    // A blocking invoke that outlives its wait answers 202 with the id.
    f.balancer->Hold();
    r = f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true&timeout=50"));
    CHECK(r.status == 202);
    CHECK(Parse(r.body).HasMember("activationId"));
    f.balancer->Release();
}

TEST_CASE("controller: an activation the balancer refuses answers 503", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    f.balancer->FailPublish(absl::UnavailableError("no invoker is up"));
    for (const char* query : {"", "?blocking=true"}) {
        INFO(query);
        auto r = f.Send("POST", common::Cat(kNs, "/actions/a", query));
        CHECK(r.status == 503);
        CHECK(ErrorOf(r) ==
              "The server is currently unavailable (because it is overloaded or down for "
              "maintenance).");
    }
    CHECK(f.balancer->published() == 0);
    f.balancer->FailPublish(absl::OkStatus());
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    CHECK(f.balancer->published() == 1);
}

TEST_CASE("controller: throttles answer 429 with OpenWhisk's texts", "[controller]") {
    ControllerConfig config;
    config.system_limits.invocations_per_minute = 2;
    config.system_limits.concurrent_invocations = 1;
    config.system_limits.fires_per_minute = 1;
    Fixture f(config);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    f.balancer->Hold();
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    auto r = f.Send("POST", common::Cat(kNs, "/actions/a"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many concurrent requests in flight (count: 1, allowed: 1).");
    f.balancer->Release();
    f.balancer->Drain();  // nothing in flight now
    r = f.Send("POST", common::Cat(kNs, "/actions/a"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many requests in the last minute (count: 3, allowed: 2).");
    f.clock.Advance(60000);  // a new calendar minute
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);

    REQUIRE(f.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    CHECK(f.Send("POST", common::Cat(kNs, "/triggers/t")).status == 204);  // no rule
    r = f.Send("POST", common::Cat(kNs, "/triggers/t"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many requests in the last minute (count: 2, allowed: 1).");
    auto metrics = f.Send("GET", "/metrics", "", "");
    CHECK(metrics.body.find("wisp_throttled_requests_total{reason=\"fires\"} 1") !=
          std::string::npos);
    CHECK(metrics.body.find("wisp_throttled_requests_total{reason=\"rate\"} 1") !=
          std::string::npos);
}

TEST_CASE("controller: throttles are shared out among the live controllers (OpenWhisk)",
          "[controller][throttle]") {
    CHECK(ClusterShare(60, 0) == 60);  // unknown: the whole limit
    CHECK(ClusterShare(60, 1) == 60);
    CHECK(ClusterShare(60, 2) == 36);  // 30 x 1.2
    CHECK(ClusterShare(60, 3) == 24);  // 20 x 1.2
    CHECK(ClusterShare(3, 2) == 2);    // 1 x 1.2, rounded up
    CHECK(ClusterShare(1, 5) == 2);    // at least 1 each, x 1.2 rounded up
    CHECK(ClusterShare(10, 2) == 6);

    ControllerConfig config;
    config.system_limits.invocations_per_minute = 20;  // 12 each of 2
    config.system_limits.concurrent_invocations = 10;  // 6 each of 2
    config.system_limits.fires_per_minute = 10;
    std::atomic<int> controllers{2};
    config.cluster_size = [&] { return controllers.load(); };
    Fixture f(config);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    f.balancer->Hold();
    for (int i = 0; i < 6; ++i) CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    auto r = f.Send("POST", common::Cat(kNs, "/actions/a"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many concurrent requests in flight (count: 6, allowed: 6).");
    controllers = 1;  // the other controller left: the whole limit again
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    f.balancer->Release();
    f.balancer->Drain();
    controllers = 2;  // 8 requests counted in this minute so far
    for (int i = 0; i < 4; ++i) CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    r = f.Send("POST", common::Cat(kNs, "/actions/a"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many requests in the last minute (count: 13, allowed: 12).");

    REQUIRE(f.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    for (int i = 0; i < 6; ++i)
        CHECK(f.Send("POST", common::Cat(kNs, "/triggers/t")).status == 204);
    r = f.Send("POST", common::Cat(kNs, "/triggers/t"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many requests in the last minute (count: 7, allowed: 6).");
}

TEST_CASE("controller: sequence pipes results and records component ids", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/b"), kAction).status == 200);
    auto r = f.Send("PUT", common::Cat(kNs, "/actions/s"),
                    R"({"exec":{"kind":"sequence","components":["/_/a","/_/b","/guest/a"]}})");
    REQUIRE(r.status == 200);
    r = f.Send("PUT", common::Cat(kNs, "/actions/s2"),
               R"({"exec":{"kind":"sequence","components":["/_/missing"]}})");
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "Sequence component does not exist.");

    r = f.Send("POST", common::Cat(kNs, "/actions/s?blocking=true"), R"({"x":1})");
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(d["logs"].Size() == 3);
    CHECK(d["response"]["result"]["x"].GetInt() == 1);
    CHECK(std::string(d["response"]["result"]["ran"].GetString()) == "a");  // the last one
    CHECK(f.balancer->published() == 3);
    // The sequence's record is stored; components carry it as their cause.
    const std::string seq_id = d["activationId"].GetString();
    r = f.Send("GET", common::Cat(kNs, "/activations/", seq_id));
    CHECK(r.status == 200);
    r = f.Send("GET", common::Cat(kNs, "/activations/", d["logs"][0].GetString()));
    REQUIRE(r.status == 200);
    CHECK(std::string(Parse(r.body)["cause"].GetString()) == seq_id);
}

/// Writes a sequence of `n` times `component` straight to the store (PUT's checks bypassed, as
/// a document changed since its PUT or written by another tool).
void PutStoredSequence(Fixture& f, const std::string& name, const std::string& component, int n) {
    common::Action a;
    a.namespace_path = common::EntityPath({"guest"});
    a.name = name;
    common::SequenceExec seq;
    for (int i = 0; i < n; ++i) {
        seq.components.push_back(common::FullyQualifiedName::Parse(component, "guest").value());
    }
    a.exec = std::move(seq);
    REQUIRE(f.store->PutEntity(a, "").ok());
}

TEST_CASE("controller: a sequence's length is enforced when it runs", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    auto check_too_long = [&](const HttpResponse& r, size_t logs) {
        REQUIRE(r.status == 502);
        auto d = Parse(r.body);
        CHECK(std::string(d["response"]["status"].GetString()) == "application error");
        CHECK(std::string(d["response"]["result"]["error"].GetString()) ==
              "Too many actions in the sequence.");
        CHECK(d["logs"].Size() == logs);
    };

    // 51 atomic components: the first 50 run (OpenWhisk's dynamic count), then it stops.
    PutStoredSequence(f, "long", "/_/a", 51);
    check_too_long(f.Send("POST", common::Cat(kNs, "/actions/long?blocking=true")), 50);
    CHECK(f.balancer->published() == 50);

    // Nested sequences count their atomic actions together: 2 x 30 stops at 50.
    std::string thirty;
    for (int i = 0; i < 30; ++i) thirty += std::string(i ? "," : "") + "\"/_/a\"";
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/thirty"),
                   R"({"exec":{"kind":"sequence","components":[)" + thirty + "]}}")
                .status == 200);
    auto r = f.Send("PUT", common::Cat(kNs, "/actions/outer"),
                    R"({"exec":{"kind":"sequence","components":["/_/thirty","/_/thirty"]}})");
    CHECK(r.status == 400);  // PUT counts the same way
    CHECK(ErrorOf(r) == "Too many actions in the sequence.");
    PutStoredSequence(f, "outer", "/_/thirty", 2);
    check_too_long(f.Send("POST", common::Cat(kNs, "/actions/outer?blocking=true")), 2);
    CHECK(f.balancer->published() == 100);

    // A stored sequence that names itself ends too, with no action run.
    PutStoredSequence(f, "loop", "/_/loop", 1);
    check_too_long(f.Send("POST", common::Cat(kNs, "/actions/loop?blocking=true")), 1);
    CHECK(f.balancer->published() == 100);
}

TEST_CASE("controller: sequence components count against the namespace's concurrency",
          "[controller]") {
    ControllerConfig config;
    config.system_limits.concurrent_invocations = 1;
    Fixture f(config);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/s"),
                   R"({"exec":{"kind":"sequence","components":["/_/a","/_/a"]}})")
                .status == 200);
    const std::string uuid = common::AuthKey::Parse(common::kGuestAuth).value().uuid;
    f.balancer->Hold();
    REQUIRE(f.Send("POST", common::Cat(kNs, "/actions/s")).status == 202);
    CHECK(f.balancer->ActiveActivationsFor(uuid) == 1);  // its first component
    for (const char* target : {"/actions/a", "/actions/s"}) {
        auto r = f.Send("POST", common::Cat(kNs, target));
        CHECK(r.status == 429);
        CHECK(ErrorOf(r) == "Too many concurrent requests in flight (count: 1, allowed: 1).");
    }
    f.balancer->Release();
    f.balancer->Drain();  // both components finished
    CHECK(f.balancer->published() == 2);
    CHECK(f.balancer->ActiveActivationsFor(uuid) == 0);
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
}

TEST_CASE("controller: trigger fire runs active rules with merged parameters", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/b"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/triggers/t"),
                   R"({"parameters":[{"key":"k","value":"trigger"},{"key":"t","value":1}]})")
                .status == 200);
    auto r = f.Send("PUT", common::Cat(kNs, "/rules/r1"), R"({"trigger":"/_/t","action":"/_/a"})");
    REQUIRE(r.status == 200);
    CHECK(std::string(Parse(r.body)["status"].GetString()) == "active");
    REQUIRE(
        f.Send("PUT", common::Cat(kNs, "/rules/r2"), R"({"trigger":"/_/t","action":"/guest/b"})")
            .status == 200);
    r = f.Send("PUT", common::Cat(kNs, "/rules/r3"), R"({"trigger":"/_/nope","action":"/_/a"})");
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "trigger /guest/nope does not exist");

    r = f.Send("POST", common::Cat(kNs, "/triggers/t"), R"({"k":"body"})");
    REQUIRE(r.status == 202);
    const std::string fire_id = Parse(r.body)["activationId"].GetString();
    f.balancer->Drain();  // both rule activations finished
    auto content = Parse(f.balancer->last_content());
    CHECK(std::string(content["k"].GetString()) == "body");
    CHECK(content["t"].GetInt() == 1);
    CHECK(content.HasMember("__ow_headers"));
    r = f.Send("GET", common::Cat(kNs, "/activations/", fire_id));
    REQUIRE(r.status == 200);
    auto rec = Parse(r.body);
    CHECK(rec["logs"].Size() == 2);
    CHECK_FALSE(rec.HasMember("end"));

    // Disabled rules: nothing to run -> 204.
    CHECK(f.Send("POST", common::Cat(kNs, "/rules/r1"), R"({"status":"inactive"})").body == "OK");
    CHECK(f.Send("POST", common::Cat(kNs, "/rules/r2"), R"({"status":"inactive"})").status == 200);
    r = f.Send("GET", common::Cat(kNs, "/rules/r2"));
    CHECK(std::string(Parse(r.body)["status"].GetString()) == "inactive");
    CHECK(f.Send("POST", common::Cat(kNs, "/triggers/t")).status == 204);

    r = f.Send("DELETE", common::Cat(kNs, "/rules/r1"));
    CHECK(r.status == 200);
    r = f.Send("GET", common::Cat(kNs, "/triggers/t"));
    CHECK(Parse(r.body)["rules"].MemberCount() == 1);
}

TEST_CASE("controller: packages, bindings and shared packages", "[controller]") {
    Fixture f;
    const std::string other(common::kSystemAuth);
    REQUIRE(f.Send("PUT", "/api/v1/namespaces/_/packages/utils",
                   R"({"publish":true,"parameters":[{"key":"from","value":"pkg"}]})", other)
                .status == 200);
    REQUIRE(f.Send("PUT", "/api/v1/namespaces/_/actions/utils/echo", kAction, other).status == 200);
    REQUIRE(f.Send("PUT", "/api/v1/namespaces/_/packages/private", "{}", other).status == 200);

    // Shared: readable and invocable by guest; private: not.
    auto r = f.Send("GET", "/api/v1/namespaces/other/packages/utils");
    REQUIRE(r.status == 200);
    CHECK(Parse(r.body)["actions"].Size() == 1);
    CHECK(f.Send("GET", "/api/v1/namespaces/other/packages/private").status == 403);
    r = f.Send("GET", "/api/v1/namespaces/other/packages");
    CHECK(Parse(r.body).Size() == 1);

    r = f.Send(
        "PUT", common::Cat(kNs, "/packages/mine"),
        R"({"binding":{"namespace":"other","name":"utils"},"parameters":[{"key":"b","value":2}]})");
    REQUIRE(r.status == 200);
    r = f.Send("POST", common::Cat(kNs, "/actions/mine/echo?blocking=true&result=true"), "{}");
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["from"].GetString()) == "pkg");
    CHECK(d["b"].GetInt() == 2);
    r = f.Send("PUT", common::Cat(kNs, "/actions/mine/x"), kAction);
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "Operation not permitted on package binding.");
    r = f.Send("PUT", common::Cat(kNs, "/packages/b2"),
               R"({"binding":{"namespace":"other","name":"nothing"}})");
    CHECK(r.status == 400);
    CHECK(ErrorOf(r) == "Binding references a package that does not exist.");

    r = f.Send("DELETE", "/api/v1/namespaces/_/packages/utils", "", other);
    CHECK(r.status == 409);
    CHECK(ErrorOf(r) ==
          "Package not empty (contains 1 entities). Set force param or delete package contents.");
    CHECK(f.Send("DELETE", "/api/v1/namespaces/_/packages/utils?force=true", "", other).status ==
          200);
}

TEST_CASE("controller: reads through a binding need the bound package shared", "[controller]") {
    Fixture f;
    const std::string other(common::kSystemAuth);
    auto put = [&](const std::string& path, const std::string& body) {
        REQUIRE(f.Send("PUT", "/api/v1/namespaces/_/" + path, body, other).status == 200);
    };
    put("packages/pub", R"({"publish":true,"parameters":[{"key":"secret","value":"s"}]})");
    put("actions/pub/echo", kAction);
    put("packages/priv", R"({"parameters":[{"key":"secret","value":"s"}]})");
    put("actions/priv/echo", kAction);
    // other's own binding to its private package, published: still other's alone.
    put("packages/obind", R"({"publish":true,"binding":{"namespace":"other","name":"priv"}})");

    REQUIRE(f.Send("PUT", common::Cat(kNs, "/packages/mine"),
                   R"({"binding":{"namespace":"other","name":"pub"}})")
                .status == 200);
    auto r = f.Send("GET", common::Cat(kNs, "/packages/mine"));
    REQUIRE(r.status == 200);
    CHECK(Parse(r.body)["actions"].Size() == 1);

    // other stops sharing: every read through guest's binding is refused, not only invoke.
    put("packages/pub?overwrite=true", R"({"publish":false})");
    r = f.Send("GET", common::Cat(kNs, "/packages/mine"));
    CHECK(r.status == 403);
    CHECK(ErrorOf(r) == "The supplied authentication is not authorized to access 'guest/mine'.");
    CHECK(r.body.find("secret") == std::string::npos);
    r = f.Send("GET", common::Cat(kNs, "/actions/mine/"));
    CHECK(r.status == 403);
    CHECK(ErrorOf(r) == "The supplied authentication is not authorized to access 'guest/mine'.");
    r = f.Send("GET", common::Cat(kNs, "/actions/mine/echo"));
    CHECK(r.status == 403);
    CHECK(ErrorOf(r) ==
          "The supplied authentication is not authorized to access 'guest/mine/echo'.");
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/mine/echo?blocking=true")).status == 403);

    // Another namespace's binding is never readable, published or not.
    r = f.Send("GET", "/api/v1/namespaces/other/packages/obind");
    CHECK(r.status == 403);
    CHECK(ErrorOf(r) == "The supplied authentication is not authorized to access 'other/obind'.");
    CHECK(f.Send("GET", "/api/v1/namespaces/other/actions/obind/").status == 403);
    CHECK(f.Send("GET", "/api/v1/namespaces/other/actions/obind/echo").status == 403);
    CHECK(f.Send("POST", "/api/v1/namespaces/other/actions/obind/echo?blocking=true").status ==
          403);
    CHECK(f.balancer->published() == 0);
    // ... while its owner reads it.
    CHECK(f.Send("GET", "/api/v1/namespaces/_/packages/obind", "", other).status == 200);
    CHECK(f.Send("GET", "/api/v1/namespaces/_/actions/obind/", "", other).status == 200);

    // The caller's own binding to its own package that is gone: 404, as OpenWhisk.
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/packages/p"), "{}").status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/packages/b"),
                   R"({"binding":{"namespace":"_","name":"p"}})")
                .status == 200);
    REQUIRE(f.Send("DELETE", common::Cat(kNs, "/packages/p")).status == 200);
    CHECK(f.Send("GET", common::Cat(kNs, "/packages/b")).status == 404);
}

TEST_CASE("controller: activation list filters", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/b"), kAction).status == 200);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(f.Send("POST", common::Cat(kNs, "/actions/a?blocking=true")).status == 200);
    }
    REQUIRE(f.Send("POST", common::Cat(kNs, "/actions/b?blocking=true")).status == 200);
    CHECK(f.Send("GET", common::Cat(kNs, "/activations?count=true")).body ==
          R"({"activations":4})");
    CHECK(f.Send("GET", common::Cat(kNs, "/activations?count=true&name=a")).body ==
          R"({"activations":3})");
    CHECK(Parse(f.Send("GET", common::Cat(kNs, "/activations?limit=2&skip=1")).body).Size() == 2);
    CHECK(f.Send("GET", common::Cat(kNs, "/activations?count=true&docs=true")).status == 400);
    CHECK(f.Send("GET", common::Cat(kNs, "/activations/nothex")).status == 400);
    CHECK(f.Send("GET", common::Cat(kNs, "/activations/0123456789abcdef0123456789abcdef")).status ==
          404);
}

TEST_CASE("controller: web actions run as the owner with __ow_ fields", "[controller]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/web"),
                   R"({"exec":{"kind":"python:3","code":"x"},)"
                   R"("annotations":[{"key":"web-export","value":true}]})")
                .status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/hidden"), kAction).status == 200);
    auto r = f.Send("GET", "/api/v1/web/guest/default/web.json/some/path?x=1", "", "");
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["x"].GetString()) == "1");
    CHECK(std::string(d["__ow_method"].GetString()) == "get");
    CHECK(std::string(d["__ow_path"].GetString()) == "/some/path");
    CHECK_FALSE(d.HasMember("__ow_user"));
    CHECK_FALSE(r.Header("x-openwhisk-activation-id").empty());
    r = f.Send("POST", "/api/v1/web/guest/default/web.json", R"({"y":2})");
    REQUIRE(r.status == 200);
    d = Parse(r.body);
    CHECK(d["y"].GetInt() == 2);
    CHECK(std::string(d["__ow_user"].GetString()) == "guest");
    CHECK(f.Send("GET", "/api/v1/web/guest/default/hidden.json", "", "").status == 404);
    CHECK(f.Send("GET", "/api/v1/web/nobody/default/web.json", "", "").status == 404);
}

TEST_CASE("controller: meta routes", "[controller]") {
    Fixture f;
    CHECK(f.Send("GET", "/ping", "", "").body == "pong");
    auto d = Parse(f.Send("GET", "/api/v1", "", "").body);
    CHECK(std::string(d["api_version"].GetString()) == "1.0.0");
    d = Parse(f.Send("GET", "/", "", "").body);
    CHECK(std::string(d["description"].GetString()) == "OpenWhisk");
    CHECK(std::string(d["api_paths"][0].GetString()) == "/api/v1");
    // Every kind of the built-in manifest, by family, with OpenWhisk's fields.
    const auto& runtimes = d["runtimes"];
    REQUIRE(runtimes.IsObject());
    size_t listed = 0;
    for (const auto& kind : common::RuntimeManifest::BuiltIn().kinds()) {
        const std::string family = kind.kind.substr(0, kind.kind.find(':'));
        REQUIRE(runtimes.HasMember(family.c_str()));
        bool found = false;
        for (const auto& k : runtimes[family.c_str()].GetArray()) {
            if (k["kind"].GetString() != kind.kind) continue;
            found = true;
            CHECK(k["image"].GetString() == kind.image);
            CHECK(k["default"].GetBool() == kind.is_default);
            CHECK(k["deprecated"].GetBool() == kind.deprecated);
            CHECK(k["requireMain"].GetBool() == kind.requires_main);
        }
        CHECK(found);
        ++listed;
    }
    size_t total = 0;
    for (const auto& family : runtimes.GetObject()) total += family.value.GetArray().Size();
    CHECK(total == listed);
    CHECK(listed >= 2);
    CHECK(f.Send("GET", "/invokers", "", "").body == R"({"invoker0":"up"})");
    CHECK(f.Send("GET", "/nowhere", "", "").status == 404);
    auto limits = Parse(f.Send("GET", common::Cat(kNs, "/limits")).body);
    CHECK(limits["invocationsPerMinute"].GetInt() == 60);
    CHECK(std::string(limits["maxParameterSize"].GetString()) == "1048576 B");
}

TEST_CASE("controller: CheckHead refuses requests without credentials before their body",
          "[controller]") {
    Fixture f;
    auto head = [](std::string method, std::string target, std::string auth) {
        HttpRequest req;
        req.method = std::move(method);
        req.target = target;
        REQUIRE(ParseTarget(target, req.path, req.query));
        if (!auth.empty()) {
            req.headers.emplace_back("authorization", "Basic " + Base64Encode(auth));
        }
        req.headers.emplace_back("x-request-id", "head-1");
        req.headers.emplace_back("content-length", "40000000");
        req.remote_address = "127.0.0.1";
        return req;
    };
    auto r = f.controller->CheckHead(head("PUT", common::Cat(kNs, "/actions/big"), ""));
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(ErrorOf(*r) ==
          "The resource requires authentication, which was not supplied with the request");
    CHECK(r->Header("WWW-Authenticate") == "Basic realm=\"OpenWhisk secure realm\"");
    CHECK(r->Header("X-Request-ID") == "head-1");
    CHECK(r->Header("Access-Control-Allow-Origin") == "*");

    std::string bad = f.guest;
    bad.back() = bad.back() == 'x' ? 'y' : 'x';
    r = f.controller->CheckHead(head("POST", "/api/v1/namespaces/guest/actions/a", bad));
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(ErrorOf(*r) == "The supplied authentication is invalid");
    CHECK(f.controller->CheckHead(head("PUT", "/api/v1/namespaces", "")).has_value());

    // Good credentials, and routes that may be anonymous, go on to the handler.
    CHECK_FALSE(f.controller->CheckHead(head("PUT", common::Cat(kNs, "/actions/a"), f.guest)));
    CHECK_FALSE(f.controller->CheckHead(head("POST", "/api/v1/web/guest/default/a.json", "")));
    CHECK_FALSE(f.controller->CheckHead(head("OPTIONS", common::Cat(kNs, "/actions/a"), "")));
    CHECK_FALSE(f.controller->CheckHead(head("POST", "/api/v1", "")));
    CHECK_FALSE(f.controller->CheckHead(head("POST", "/api/v1/namespacesX", "")));
}

TEST_CASE("controller: CheckHead refuses an invoke or fire body over the payload limit",
          "[controller]") {
    Fixture f;
    auto head = [&](std::string method, std::string target, std::string length) {
        HttpRequest req;
        req.method = std::move(method);
        req.target = target;
        REQUIRE(ParseTarget(target, req.path, req.query));
        req.headers.emplace_back("authorization", "Basic " + Base64Encode(f.guest));
        req.headers.emplace_back("content-length", std::move(length));
        req.remote_address = "127.0.0.1";
        return req;
    };
    for (const std::string route : {"/actions/a", "/actions/pkg/a", "/triggers/t"}) {
        INFO(route);
        auto r = f.controller->CheckHead(head("POST", common::Cat(kNs, route), "40000000"));
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(ErrorOf(*r) == "Request larger than allowed: 40000000 > 1048576 bytes.");
        CHECK(r->Header("Access-Control-Allow-Origin") == "*");
        CHECK_FALSE(f.controller->CheckHead(head("POST", common::Cat(kNs, route), "1048576")));
    }
    // Entity PUTs have their own (larger) limits, checked by the handler.
    CHECK_FALSE(f.controller->CheckHead(head("PUT", common::Cat(kNs, "/actions/a"), "40000000")));
    CHECK_FALSE(f.controller->CheckHead(head("POST", common::Cat(kNs, "/rules/r"), "40000000")));
}

TEST_CASE("controller: an over-long or unsafe X-Request-ID is not echoed", "[controller]") {
    Fixture f;
    for (const std::string& id : {std::string(129, 'a'), std::string("<script>"),
                                  std::string("a\"b"), std::string("sid_x")}) {
        HttpRequest req;
        req.method = "GET";
        req.target = req.path = "/api/v1/namespaces/_/actions/missing";
        req.headers.emplace_back("x-request-id", id);
        std::promise<HttpResponse> p;
        f.controller->Handle(std::move(req), [&p](HttpResponse r) { p.set_value(std::move(r)); });
        const HttpResponse r = p.get_future().get();
        CHECK(r.status == 401);
        const std::string tid(r.Header("X-Request-ID"));
        CHECK(tid.size() == 32);
        CHECK(tid != id);
        CHECK(r.body.find(id) == std::string::npos);
    }
    HttpRequest req;
    req.method = "GET";
    req.target = req.path = "/ping";
    const std::string longest(128, 'z');
    req.headers.emplace_back("x-request-id", longest);
    std::promise<HttpResponse> p;
    f.controller->Handle(std::move(req), [&p](HttpResponse r) { p.set_value(std::move(r)); });
    CHECK(p.get_future().get().Header("X-Request-ID") == longest);
}

TEST_CASE("controller: building blocks", "[controller]") {
    CHECK_FALSE(ParseBasicAuthorization("Basic Z3V!").has_value());
    CHECK_FALSE(ParseBasicAuthorization("Bearer xyz").has_value());
    CHECK(ParseBasicAuthorization("Basic " + Base64Encode(std::string(common::kGuestAuth)))
              .has_value());

    RateThrottler t;
    CHECK(t.Check("ns", 2, 0).ok());
    CHECK(t.Check("ns", 2, 1).ok());
    CHECK_FALSE(t.Check("ns", 2, 2).ok());
    CHECK(t.Check("ns", 2, 60000).ok());
    CHECK(CheckConcurrency(0, 1).ok());
    CHECK_FALSE(CheckConcurrency(1, 1).ok());

    TimerQueue q;
    std::promise<void> fired;
    q.Schedule(std::chrono::milliseconds(1), [&] { fired.set_value(); });
    CHECK(fired.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready);
    std::atomic<int> cancelled{0};
    auto id = q.Schedule(std::chrono::hours(1), [&] { ++cancelled; });
    CHECK(q.Cancel(id));
    CHECK_FALSE(q.Cancel(id));
    std::atomic<int> at_stop{0};
    q.Schedule(std::chrono::hours(1), [&] { ++at_stop; });
    q.Stop();
    CHECK(at_stop == 1);
    CHECK(cancelled == 0);
}

TEST_CASE("controller: hostile JSON bodies get 4xx on every route that takes a body",
          "[controller][hostile]") {
    // A million '[' on the rule activation route crashed wisp-standalone (recursive parse).
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                .status == 200);
    std::string deep_objects;
    for (int i = 0; i < 200'000; ++i) deep_objects += "{\"a\":";
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"a million [", std::string(1'000'000, '[')},
        {"deep objects", deep_objects},
        {"invalid UTF-8", "{\"status\":\"\xff\xfe\",\"exec\":{\"kind\":\"\xc0\xaf\"}}"},
        {"NUL byte", std::string("{\"status\":\"active\"}\0{}", 22)},
        {"huge number", R"({"status":1e999999,"n":)" + std::string(10000, '9') + "}"},
        {"truncated", "{\"status\":\"act"},
    };
    const std::vector<std::pair<std::string, std::string>> routes = {
        {"POST", "/rules/r"},   {"PUT", "/rules/r2"},    {"PUT", "/actions/a2"},
        {"POST", "/actions/a"}, {"PUT", "/triggers/t2"}, {"POST", "/triggers/t"},
        {"PUT", "/packages/p"},
    };
    for (const auto& [what, body] : bodies) {
        for (const auto& [method, route] : routes) {
            INFO(what << " " << method << " " << route);
            auto r = f.Send(method, common::Cat(kNs, route), body);
            CHECK(r.status >= 400);
            CHECK(r.status < 500);
        }
    }
    // The platform still answers, and the rule still works.
    CHECK(f.Send("POST", common::Cat(kNs, "/rules/r"), R"({"status":"inactive"})").status == 200);
    CHECK(f.Send("GET", "/api/v1/namespaces").status == 200);
}

TEST_CASE(
    "controller: an activation the balancer completes by force gets a whisk internal error "
    "record naming the invoker (non-blocking and blocking); a record already stored stays",
    "[controller][forced-completion]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/echo"), kAction).status == 200);
    f.balancer->Hold();  // the invoker never answers

    // Non-blocking: no ResultCallback, yet the forced completion stores a record.
    auto r = f.Send("POST", common::Cat(kNs, "/actions/echo"));
    REQUIRE(r.status == 202);
    const std::string lost = Parse(r.body)["activationId"].GetString();
    // Blocking: the caller gets its id (202) when the balancer gives up.
    auto blocking = std::async(std::launch::async, [&] {
        return f.Send("POST", common::Cat(kNs, "/actions/echo?blocking=true"));
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (f.balancer->published() < 2 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    REQUIRE(f.balancer->published() == 2);
    CHECK(f.balancer->ForceCompleteQueued(std::chrono::milliseconds(180000)) == 2);
    auto answered = blocking.get();
    REQUIRE(answered.status == 202);
    const std::string waited = Parse(answered.body)["activationId"].GetString();

    for (const std::string& id : {lost, waited}) {
        INFO(id);
        auto got = f.Send("GET", common::Cat(kNs, "/activations/", id));
        REQUIRE(got.status == 200);
        auto d = Parse(got.body);
        CHECK(std::string(d["name"].GetString()) == "echo");
        CHECK(std::string(d["response"]["status"].GetString()) == "whisk internal error");
        CHECK_FALSE(d["response"]["success"].GetBool());
        CHECK(std::string(d["response"]["result"]["error"].GetString()) ==
              "The activation was not completed by invoker0 within 180000 ms (the invoker died "
              "or timed out).");
    }

    // The invoker stored its record first: the forced completion keeps it.
    r = f.Send("POST", common::Cat(kNs, "/actions/echo"));
    REQUIRE(r.status == 202);
    const std::string raced = Parse(r.body)["activationId"].GetString();
    common::ActivationRecord real;
    real.namespace_path = common::EntityPath({"guest"});
    real.name = "echo";
    real.subject = "guest";
    real.activation_id = common::ActivationId::Parse(raced).value();
    real.start_ms = 1795000000000;
    real.end_ms = 1795000000005;
    real.response.result = JsonValue::Parse(R"({"late":true})").value();
    REQUIRE(f.store->CreateActivation(real).ok());
    CHECK(f.balancer->ForceCompleteQueued(std::chrono::milliseconds(180000)) == 1);
    auto got = f.Send("GET", common::Cat(kNs, "/activations/", raced));
    REQUIRE(got.status == 200);
    auto d = Parse(got.body);
    CHECK(std::string(d["response"]["status"].GetString()) == "success");
    CHECK(d["response"]["result"]["late"].GetBool());
    f.balancer->Release();
}

TEST_CASE("metrics: every activation is counted at its completion, blocking or not",
          "[controller][metrics]") {
    Fixture f;
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/actions/s"),
                   R"({"exec":{"kind":"sequence","components":["/_/a","/_/a"]}})")
                .status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    REQUIRE(f.Send("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                .status == 200);

    // Non-blocking: answered 202 before anything ran; counted when the completion comes.
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a")).status == 202);
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a"), R"({"x":"fail"})").status == 202);
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/a?blocking=true")).status == 200);
    CHECK(f.Send("POST", common::Cat(kNs, "/triggers/t")).status == 202);  // the rule's a
    CHECK(f.Send("POST", common::Cat(kNs, "/actions/s?blocking=true")).status == 200);  // 2 a
    f.balancer->Drain();

    auto m = f.Send("GET", "/metrics", "", "");
    INFO(m.body);
    auto has = [&m](const std::string& line) {
        return m.body.find(line + "\n") != std::string::npos;
    };
    CHECK(has(R"(wisp_activations_total{namespace="guest",action="a",status="success"} 5)"));
    CHECK(has(
        R"(wisp_activations_total{namespace="guest",action="a",status="application_error"} 1)"));
    CHECK(has(R"(wisp_activations_total{namespace="guest",action="s",status="success"} 1)"));
    CHECK(has(R"(wisp_invoke_latency_seconds_count{blocking="false"} 2)"));
    CHECK(has(R"(wisp_invoke_latency_seconds_count{blocking="true"} 2)"));
    CHECK(has(R"(wisp_loadbalancer_invokers{state="up"} 1)"));
    CHECK(has(R"(wisp_loadbalancer_invoker_state{invoker="invoker0",state="up"} 1)"));
    CHECK(has(R"(wisp_loadbalancer_invoker_state{invoker="invoker0",state="down"} 0)"));
    CHECK(has("wisp_activations_in_flight 0"));
    CHECK(m.Header("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
}

}  // namespace wisp::controller
