// Webhooks through the controller's HTTP API (no sockets): POST /api/v1/webhooks/{ns}/{trigger}
// proven by the trigger's webhook-secret (HMAC signature or token), over an in-memory SQLite
// store and a fake balancer that "runs" the rules' actions.
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/crypto.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "controller_test_support.hpp"
#include "webhook_handler.hpp"

namespace wisp::controller {
namespace {

constexpr const char* kSecret = "s3cr3t-webhook-token-1234";  // 25 characters
constexpr const char* kAction = R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})";
constexpr const char* kNs = "/api/v1/namespaces/_";
constexpr const char* kHook = "/api/v1/webhooks/guest/t";

struct Request {
    std::string method = "POST";
    std::string target = kHook;
    std::string body;
    HeaderList headers;
    std::string basic_auth;  // "uuid:key": Basic auth (the REST API), else none
    std::string peer = "203.0.113.7";
};

struct Fixture : test_support::ControllerOverSqlite {
    const std::string guest = std::string(common::kGuestAuth);

    explicit Fixture(ControllerConfig config = {}) {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        clock.Set(1795000000000);
        Start(std::move(config));
    }

    HttpResponse Send(Request r) {
        HttpRequest req;
        req.method = std::move(r.method);
        req.target = r.target;
        REQUIRE(ParseTarget(r.target, req.path, req.query));
        req.headers = std::move(r.headers);
        if (!r.basic_auth.empty()) {
            req.headers.emplace_back("authorization",
                                     "Basic " + common::Base64Encode(r.basic_auth));
        }
        if (!r.body.empty() && r.body[0] == '{') {
            req.headers.emplace_back("content-type", "application/json");
        }
        req.body = std::move(r.body);
        req.remote_address = std::move(r.peer);
        return test_support::Answer(*controller, std::move(req));
    }
    /// The REST API as the guest.
    HttpResponse Rest(std::string method, std::string target, std::string body = "") {
        return Send(Request{.method = std::move(method),
                            .target = std::move(target),
                            .body = std::move(body),
                            .basic_auth = guest,
                            .peer = "127.0.0.1"});
    }
    /// A webhook POST of `body` to `target` with `headers`.
    HttpResponse Hook(std::string body, HeaderList headers, std::string target = kHook,
                      std::string peer = "203.0.113.7") {
        return Send(Request{.target = std::move(target),
                            .body = std::move(body),
                            .headers = std::move(headers),
                            .peer = std::move(peer)});
    }

    /// Action a, trigger t (with `trigger_annotations`), rule r: t -> a.
    void CreateChain(const std::string& trigger_annotations =
                         common::Cat(R"([{"key":"webhook-secret","value":")", kSecret, R"("}])")) {
        REQUIRE(Rest("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
        auto r = Rest("PUT", common::Cat(kNs, "/triggers/t"),
                      common::Cat(R"({"annotations":)", trigger_annotations,
                                  R"(,"parameters":[{"key":"from","value":"trigger"}]})"));
        REQUIRE(r.status == 200);
        REQUIRE(Rest("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                    .status == 200);
    }
    /// The number of activation records of the guest namespace.
    size_t Records() {
        balancer->Drain();
        auto r = Rest("GET", common::Cat(kNs, "/activations?limit=200"));
        REQUIRE(r.status == 200);
        rapidjson::Document d;
        REQUIRE(wisp::json::ParseBounded(r.body, d).empty());
        REQUIRE(d.IsArray());
        return d.Size();
    }
};

using test_support::ErrorOf;
using test_support::Parse;

HeaderList Signed(const std::string& body, const std::string& secret = kSecret) {
    return {{"x-hub-signature-256", "sha256=" + common::HmacSha256Hex(secret, body)},
            {"x-github-event", "push"}};
}

/// A MinIO bucket notification (webhook target) for an object put, as MinIO sends it.
constexpr const char* kMinioEvent = R"({
  "EventName": "s3:ObjectCreated:Put",
  "Key": "images/uploads/cat.jpg",
  "Records": [{
    "eventVersion": "2.0", "eventSource": "minio:s3", "awsRegion": "",
    "eventTime": "2026-12-05T09:00:00.000Z", "eventName": "s3:ObjectCreated:Put",
    "userIdentity": {"principalId": "minioadmin"},
    "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
    "responseElements": {"x-amz-request-id": "17A3C5E0F1B2D3E4", "x-minio-origin-endpoint": "http://127.0.0.1:9000"},
    "s3": {
      "s3SchemaVersion": "1.0", "configurationId": "Config",
      "bucket": {"name": "images", "ownerIdentity": {"principalId": "minioadmin"}, "arn": "arn:aws:s3:::images"},
      "object": {"key": "uploads%2Fcat.jpg", "size": 48213, "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                 "contentType": "image/jpeg", "userMetadata": {"content-type": "image/jpeg"},
                 "sequencer": "17A3C5E0F1C2D3E4"}
    },
    "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"}
  }]
})";

}  // namespace

TEST_CASE("webhook: a signed POST fires the trigger: 202, its record and the rule's activation",
          "[webhook]") {
    Fixture f;
    f.CreateChain();
    const std::string body = R"({"ref":"refs/heads/main","from":"body"})";
    auto r = f.Hook(body, Signed(body));
    REQUIRE(r.status == 202);
    const std::string id = Parse(r.body)["activationId"].GetString();
    CHECK(r.Header("x-openwhisk-activation-id") == id);
    f.balancer->Drain();

    // The rule's action got the body over the trigger's parameters, and the headers minus the
    // proof as __ow_headers.
    CHECK(f.balancer->published() == 1);
    auto args = Parse(f.balancer->last_content());
    CHECK(std::string(args["ref"].GetString()) == "refs/heads/main");
    CHECK(std::string(args["from"].GetString()) == "body");
    REQUIRE(args.HasMember("__ow_headers"));
    CHECK(std::string(args["__ow_headers"]["x-github-event"].GetString()) == "push");
    CHECK_FALSE(args["__ow_headers"].HasMember("x-hub-signature-256"));
    CHECK_FALSE(args["__ow_headers"].HasMember("authorization"));

    // The trigger record, with the rule's activation in its log line.
    r = f.Rest("GET", common::Cat(kNs, "/activations/", id));
    REQUIRE(r.status == 200);
    auto rec = Parse(r.body);
    CHECK(std::string(rec["name"].GetString()) == "t");
    CHECK(std::string(rec["response"]["result"]["ref"].GetString()) == "refs/heads/main");
    REQUIRE(rec["logs"].Size() == 1);
    auto line = Parse(rec["logs"][0].GetString());
    CHECK(line["success"].GetBool());
    CHECK(std::string(line["rule"].GetString()) == "guest/r");
    r = f.Rest("GET", common::Cat(kNs, "/activations/", line["activationId"].GetString()));
    REQUIRE(r.status == 200);
    CHECK(std::string(Parse(r.body)["response"]["result"]["ran"].GetString()) == "a");
    CHECK(f.Records() == 2);

    // An empty body fires with the trigger's parameters.
    r = f.Hook("", Signed(""));
    CHECK(r.status == 202);
    f.balancer->Drain();
    CHECK(std::string(Parse(f.balancer->last_content())["from"].GetString()) == "trigger");
}

TEST_CASE("webhook: every failure answers the same 401 and fires nothing", "[webhook]") {
    Fixture f;
    f.CreateChain();
    REQUIRE(f.Rest("PUT", common::Cat(kNs, "/triggers/plain"), "{}").status == 200);
    REQUIRE(
        f.Rest("PUT", common::Cat(kNs, "/rules/r2"), R"({"trigger":"/_/plain","action":"/_/a"})")
            .status == 200);
    const std::string body = R"({"x":1})";
    const std::string wrong = "wrong-secret-of-enough-length";
    struct Case {
        const char* what;
        std::string target;
        HeaderList headers;
    };
    const std::vector<Case> cases = {
        {"bad signature", kHook, Signed(body, wrong)},
        {"signature of another body", kHook, Signed(R"({"x":2})")},
        {"signature without sha256=",
         kHook,
         {{"x-hub-signature-256", common::HmacSha256Hex(kSecret, body)}}},
        {"missing signature", kHook, {{"x-github-event", "push"}}},
        {"wrong token (X-Wisp-Webhook-Token)", kHook, {{"x-wisp-webhook-token", wrong}}},
        {"wrong token (Bearer)", kHook, {{"authorization", "Bearer " + wrong}}},
        {"the secret's prefix",
         kHook,
         {{"x-wisp-webhook-token", std::string(kSecret).substr(0, 16)}}},
        {"Basic auth of the owner",
         kHook,
         {{"authorization", "Basic " + common::Base64Encode(f.guest)}}},
        {"unknown trigger", "/api/v1/webhooks/guest/nope", Signed(body)},
        {"unknown namespace", "/api/v1/webhooks/nobody/t", Signed(body)},
        {"invalid name", "/api/v1/webhooks/guest/-t", Signed(body)},
        {"an action's name", "/api/v1/webhooks/guest/a", Signed(body)},
        {"trigger without secret",
         "/api/v1/webhooks/guest/plain",
         {{"x-wisp-webhook-token", ""}, {"authorization", ""}}},
    };
    std::string first_body;
    for (const auto& c : cases) {
        INFO(c.what);
        HeaderList headers = c.headers;
        headers.emplace_back("x-request-id", "webhook-401");
        auto r = f.Hook(body, headers, c.target);
        CHECK(r.status == 401);
        CHECK(ErrorOf(r) == "The supplied authentication is invalid");
        if (first_body.empty()) first_body = r.body;
        CHECK(r.body == first_body);  // nothing tells the cases apart
    }
    CHECK(f.balancer->published() == 0);
    CHECK(f.Records() == 0);
}

TEST_CASE("webhook: GitHub's documented signature example is accepted", "[webhook]") {
    // docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody",
    // payload "Hello, World!" -> X-Hub-Signature-256: sha256=757107ea...
    constexpr const char* kGitHubSecret = "It's a Secret to Everybody";
    constexpr const char* kGitHubSignature =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    HttpRequest req;
    req.body = "Hello, World!";
    req.headers = {{"x-hub-signature-256", kGitHubSignature}};
    CHECK(WebhookProofValid(req, kGitHubSecret));
    req.headers = {{"x-hub-signature-256",
                    "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"}};
    CHECK(WebhookProofValid(req, kGitHubSecret));  // hex digits in either case
    req.body = "Hello, World?";
    CHECK_FALSE(WebhookProofValid(req, kGitHubSecret));

    // Through the route: proven, so the sender gets the fire route's answer (the body is not a
    // JSON object: 400), not the 401 of a bad proof.
    Fixture f;
    f.CreateChain(common::Cat(R"([{"key":"webhook-secret","value":")", kGitHubSecret, R"("}])"));
    auto r = f.Hook("Hello, World!", {{"x-hub-signature-256", kGitHubSignature}});
    CHECK(r.status == 400);
    CHECK(ErrorOf(r).rfind("The request content was malformed:", 0) == 0);
    r = f.Hook("Hello, World?", {{"x-hub-signature-256", kGitHubSignature}});
    CHECK(r.status == 401);
    const std::string json = R"({"zen":"Keep it logically awesome."})";
    r = f.Hook(json,
               {{"x-hub-signature-256", "sha256=" + common::HmacSha256Hex(kGitHubSecret, json)}});
    CHECK(r.status == 202);
}

TEST_CASE("webhook: the token in Bearer, raw Authorization and X-Wisp-Webhook-Token", "[webhook]") {
    Fixture f;
    f.CreateChain();
    const std::string s = kSecret;
    for (const HeaderList& headers :
         {HeaderList{{"authorization", "Bearer " + s}},
          HeaderList{{"authorization", "bearer " + s}}, HeaderList{{"authorization", s}},
          HeaderList{{"x-wisp-webhook-token", s}}}) {
        INFO(headers[0].first << ": " << headers[0].second);
        auto r = f.Hook(R"({"k":"v"})", headers);
        CHECK(r.status == 202);
        f.balancer->Drain();
        auto args = Parse(f.balancer->last_content());
        CHECK(std::string(args["k"].GetString()) == "v");
        CHECK_FALSE(args["__ow_headers"].HasMember("authorization"));
        CHECK_FALSE(args["__ow_headers"].HasMember("x-wisp-webhook-token"));
    }
    CHECK(f.balancer->published() == 4);
}

TEST_CASE("webhook: a MinIO bucket notification reaches the action's parameters", "[webhook]") {
    // MinIO's webhook target with auth_token=<secret> sends "Authorization: Bearer <secret>".
    Fixture f;
    f.CreateChain();
    auto r = f.Hook(kMinioEvent, {{"authorization", common::Cat("Bearer ", kSecret)},
                                  {"user-agent", "MinIO (linux; amd64) minio-go/v7.0.70"}});
    REQUIRE(r.status == 202);
    f.balancer->Drain();
    auto args = Parse(f.balancer->last_content());
    CHECK(std::string(args["EventName"].GetString()) == "s3:ObjectCreated:Put");
    CHECK(std::string(args["Key"].GetString()) == "images/uploads/cat.jpg");
    REQUIRE(args["Records"].IsArray());
    CHECK(std::string(args["Records"][0]["s3"]["object"]["key"].GetString()) ==
          "uploads%2Fcat.jpg");
    CHECK(std::string(args["Records"][0]["s3"]["bucket"]["name"].GetString()) == "images");
    CHECK(std::string(args["__ow_headers"]["user-agent"].GetString()).rfind("MinIO", 0) == 0);
}

TEST_CASE("webhook: no active rule 204, methods, and paths", "[webhook]") {
    Fixture f;
    f.CreateChain();
    REQUIRE(f.Rest("POST", common::Cat(kNs, "/rules/r"), R"({"status":"inactive"})").status == 200);
    auto r = f.Hook(R"({"x":1})", Signed(R"({"x":1})"));
    CHECK(r.status == 204);
    CHECK(f.balancer->published() == 0);

    r = f.Send(Request{.method = "GET", .headers = Signed("")});
    CHECK(r.status == 405);
    CHECK(ErrorOf(r) == "HTTP method not allowed, supported methods: POST");
    r = f.Hook("", Signed(""), "/api/v1/webhooks/guest");
    CHECK(r.status == 404);
    r = f.Hook("", Signed(""), "/api/v1/webhooks/guest/t/extra");
    CHECK(r.status == 404);
}

TEST_CASE("webhook: trigger PUT takes webhook-secret only as a string of 16+ characters",
          "[webhook]") {
    Fixture f;
    const std::string msg =
        "The annotation 'webhook-secret' must be a string of at least 16 characters (the secret "
        "webhook senders prove they know).";
    for (const char* value : {R"("fifteen-chars-x")", "1234567890123456789", "true", "null",
                              R"(["0123456789abcdef"])", R"("")"}) {
        INFO(value);
        auto r = f.Rest(
            "PUT", common::Cat(kNs, "/triggers/t?overwrite=true"),
            common::Cat(R"({"annotations":[{"key":"webhook-secret","value":)", value, "}]}"));
        CHECK(r.status == 400);
        CHECK(ErrorOf(r) == msg);
    }
    CHECK(f.Rest("GET", common::Cat(kNs, "/triggers/t")).status == 404);
    auto r = f.Rest("PUT", common::Cat(kNs, "/triggers/t"),
                    R"({"annotations":[{"key":"webhook-secret","value":"sixteen-chars-ok"}]})");
    CHECK(r.status == 200);
    // The owner sees it (it is an annotation).
    r = f.Rest("GET", common::Cat(kNs, "/triggers/t"));
    CHECK(r.body.find("sixteen-chars-ok") != std::string::npos);
}

TEST_CASE("webhook: the owner's payload limit (413) and fire rate (429) apply", "[webhook]") {
    ControllerConfig config;
    config.system_limits.max_payload_bytes = 100;
    config.system_limits.fires_per_minute = 2;
    Fixture f(std::move(config));
    f.CreateChain();
    const std::string big = common::Cat(R"({"pad":")", std::string(200, 'x'), R"("})");
    auto r = f.Hook(big, Signed(big));
    CHECK(r.status == 413);
    CHECK(ErrorOf(r) == common::Cat("Request larger than allowed: ", big.size(), " > 100 bytes."));
    // A bad proof of a big body is still only a 401.
    CHECK(f.Hook(big, Signed(big, "wrong-secret-of-enough-length")).status == 401);

    // The fire rate is the namespace's, shared with the REST fire route.
    CHECK(f.Rest("POST", common::Cat(kNs, "/triggers/t"), "{}").status == 202);
    CHECK(f.Hook("{}", Signed("{}")).status == 202);
    r = f.Hook("{}", Signed("{}"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == "Too many requests in the last minute (count: 3, allowed: 2).");
    CHECK(f.balancer->published() == 2);
}

TEST_CASE("webhook: failed proofs block the trigger for that address for a while", "[webhook]") {
    ControllerConfig config;
    config.auth_failures_allowed = 3;
    config.auth_failure_window = std::chrono::milliseconds(60000);
    config.auth_failure_block = std::chrono::milliseconds(30000);
    Fixture f(std::move(config));
    f.CreateChain();
    const std::string wrong = "wrong-secret-of-enough-length";
    for (int i = 0; i < 3; ++i) CHECK(f.Hook("{}", Signed("{}", wrong)).status == 401);
    // Blocked: even the right proof gets 429 from this address, for this trigger.
    auto r = f.Hook("{}", Signed("{}"));
    CHECK(r.status == 429);
    CHECK(ErrorOf(r) == std::string(kMsgWebhookFailuresExceeded));
    CHECK(f.balancer->published() == 0);
    // Another address, and the REST API from the same one, are not blocked.
    CHECK(f.Hook("{}", Signed("{}"), kHook, "198.51.100.1").status == 202);
    CHECK(
        f.Send(Request{
                   .target = common::Cat(kNs, "/triggers/t"), .body = "{}", .basic_auth = f.guest})
            .status == 202);
    // Unknown triggers count too (so the answers tell nothing apart).
    for (int i = 0; i < 3; ++i) {
        CHECK(f.Hook("{}", Signed("{}"), "/api/v1/webhooks/guest/nope").status == 401);
    }
    CHECK(f.Hook("{}", Signed("{}"), "/api/v1/webhooks/guest/nope").status == 429);

    f.clock.Advance(30000);
    CHECK(f.Hook("{}", Signed("{}")).status == 202);
}

}  // namespace wisp::controller
