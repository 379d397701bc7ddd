// End-to-end: webhooks (POST /api/v1/webhooks/{ns}/{trigger}) against a real wisp-standalone
// (Docker, python action). A signed POST without credentials fires the trigger, the rule runs
// the action, and the action's record shows the body's fields: a GitHub-style HMAC signature,
// and a MinIO bucket notification with its auth_token (the image-pipeline example of
// controller/README.md, "Webhooks"). A bad signature gets 401.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/crypto.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "e2e-webhook-secret-0123456789";

std::string Ns(const std::string& rest) { return "/api/v1/namespaces/_" + rest; }

/// GET the record of `id` until it exists (records are stored when the activation completes).
rapidjson::Document WaitForRecord(const HttpClient& http, const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    HttpResult r;
    while (std::chrono::steady_clock::now() < deadline) {
        r = http.Get(Ns("/activations/" + id));
        if (r.status == 200) return ParseJson(r.body);
        std::this_thread::sleep_for(200ms);
    }
    FAIL("activation " << id << " not found in time: " << r.Describe());
    return {};
}

/// The record of the action the trigger record `trigger_id` started (its one log line).
rapidjson::Document WaitForRuleActivation(const HttpClient& http, const std::string& trigger_id) {
    auto trigger_record = WaitForRecord(http, trigger_id);
    const auto* logs = Find(trigger_record, "logs");
    REQUIRE(logs);
    REQUIRE(logs->IsArray());
    REQUIRE(logs->Size() == 1);
    auto line = ParseJson((*logs)[0].GetString());
    INFO((*logs)[0].GetString());
    REQUIRE(GetBool(line, "success") == true);
    const auto id = GetString(line, "activationId");
    REQUIRE(id);
    return WaitForRecord(http, *id);
}

HttpResult Hook(const std::string& api_host, const std::string& path, const std::string& body,
                std::vector<std::string> headers) {
    HttpClient anonymous(api_host, "");
    HttpRequestSpec spec;
    spec.method = "POST";
    spec.path = path;
    spec.body = body;
    spec.headers = std::move(headers);
    return anonymous.Send(spec);
}

}  // namespace

TEST_CASE("webhook: a signed POST without credentials runs the rule's action", "[e2e][webhook]") {
    auto wisp = Standalone::Start({});
    REQUIRE(wisp.ok());
    const std::string host = (*wisp)->api_host();
    HttpClient http(host, (*wisp)->guest_auth());
    const std::string base = UniqueName("hook");
    // The image-pipeline action of the README: the object key of a MinIO event, or the field of
    // a GitHub-style body; and whether a proof header reached it (it must not).
    const std::string code =
        "def main(args):\n"
        "    headers = args.get('__ow_headers', {})\n"
        "    records = args.get('Records') or [{}]\n"
        "    key = records[0].get('s3', {}).get('object', {}).get('key')\n"
        "    return {'key': key, 'bucket': records[0].get('s3', {}).get('bucket', "
        "{}).get('name'),\n"
        "            'ref': args.get('ref'), 'event': headers.get('x-github-event'),\n"
        "            'proof_seen': 'authorization' in headers or 'x-hub-signature-256' in "
        "headers}\n";
    REQUIRE(http.Put(Ns("/actions/" + base + "-a"),
                     R"({"exec":{"kind":"python:3.11","code":)" + Quote(code) + "}}")
                .status == 200);
    auto t = http.Put(
        Ns("/triggers/" + base + "-t"),
        std::string(R"({"annotations":[{"key":"webhook-secret","value":")") + kSecret + R"("}]})");
    INFO(t.Describe());
    REQUIRE(t.status == 200);
    REQUIRE(http.Put(Ns("/rules/" + base + "-r"),
                     R"({"trigger":"/_/)" + base + R"(-t","action":"/_/)" + base + R"(-a"})")
                .status == 200);
    const std::string hook = "/api/v1/webhooks/guest/" + base + "-t";

    // GitHub: X-Hub-Signature-256 over the raw body.
    const std::string push = R"({"ref":"refs/heads/main","commits":[]})";
    auto r = Hook(host, hook, push,
                  {"X-GitHub-Event: push",
                   "X-Hub-Signature-256: sha256=" + wisp::common::HmacSha256Hex(kSecret, push)});
    INFO(r.Describe());
    REQUIRE(r.status == 202);
    auto id = GetString(ParseJson(r.body), "activationId");
    REQUIRE(id);
    auto action = WaitForRuleActivation(http, *id);
    INFO(ToJson(action));
    CHECK(GetString(action, "response.result.ref") == "refs/heads/main");
    CHECK(GetString(action, "response.result.event") == "push");
    CHECK(GetBool(action, "response.result.proof_seen") == false);

    // A bad signature: 401 with OpenWhisk's text, no activation id.
    r = Hook(
        host, hook, push,
        {"X-Hub-Signature-256: sha256=" + wisp::common::HmacSha256Hex("not-the-secret!!", push)});
    CHECK(r.status == 401);
    CHECK(GetString(ParseJson(r.body), "error") == "The supplied authentication is invalid");
    CHECK_FALSE(r.Header("x-openwhisk-activation-id").has_value());

    // MinIO's webhook target with auth_token=<secret>: Authorization: Bearer <secret>.
    const std::string event = R"({"EventName":"s3:ObjectCreated:Put","Key":"images/cat.jpg",)"
                              R"("Records":[{"eventName":"s3:ObjectCreated:Put",)"
                              R"("s3":{"bucket":{"name":"images"},)"
                              R"("object":{"key":"cat.jpg","size":48213,)"
                              R"("contentType":"image/jpeg"}}}]})";
    r = Hook(host, hook, event, {std::string("Authorization: Bearer ") + kSecret});
    INFO(r.Describe());
    REQUIRE(r.status == 202);
    id = GetString(ParseJson(r.body), "activationId");
    REQUIRE(id);
    action = WaitForRuleActivation(http, *id);
    INFO(ToJson(action));
    CHECK(GetString(action, "response.result.key") == "cat.jpg");
    CHECK(GetString(action, "response.result.bucket") == "images");
    CHECK(GetBool(action, "response.result.proof_seen") == false);

    // The bad signature fired nothing: the trigger has the two good firings' records only (a
    // trigger's record is written when it fires, before the MinIO firing's action ran).
    const auto listed = http.Get(Ns("/activations?name=" + base + "-t&limit=50"));
    REQUIRE(listed.status == 200);
    const auto records = ParseJson(listed.body);
    REQUIRE(records.IsArray());
    CHECK(records.Size() == 2);
}
