// End-to-end: the REST API of a real wisp-standalone (Docker containers, SQLite store), spoken
// raw over HTTP. Every test asserts what an OpenWhisk client sees: status codes, the exact
// error bodies ({"error","code"}), headers, activation records (wire §0-§4, §9-§10).
//
// One standalone serves most test cases (started on first use, stopped at exit); the restart
// test starts its own. Names are unique per test process, so test cases are independent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPythonKind = "python:3.11";

Standalone& Wisp() {
    static std::unique_ptr<Standalone> instance = [] {
        auto s = Standalone::Start({});
        if (!s.ok()) {
            FAIL("cannot start wisp-standalone: " << s.status().message());
        }
        return *std::move(s);
    }();
    return *instance;
}

HttpClient Guest() { return HttpClient(Wisp().api_host(), Wisp().guest_auth()); }
HttpClient Anonymous() { return HttpClient(Wisp().api_host(), ""); }

std::string Ns(const std::string& rest) { return "/api/v1/namespaces/_" + rest; }

/// {"exec":{"kind":"python:3.11","code":...}} plus extra top-level members (",\"limits\":...").
std::string PythonAction(const std::string& code, const std::string& extra = "") {
    return std::string(R"({"exec":{"kind":")") + kPythonKind + R"(","code":)" + Quote(code) + "}" +
           extra + "}";
}

void PutAction(const HttpClient& http, const std::string& name, const std::string& body) {
    auto r = http.Put(Ns("/actions/" + name), body);
    REQUIRE(r.status == 200);
}

const char* kEchoCode = "def main(args):\n    return args\n";

/// Checks an OpenWhisk error response: status, {"error":msg,"code":<X-Request-ID>}.
void CheckError(const HttpResult& r, int status, const std::string& message) {
    INFO(r.Describe());
    CHECK(r.status == status);
    auto d = ParseJson(r.body);
    REQUIRE(d.IsObject());
    CHECK(GetString(d, "error") == message);
    auto code = GetString(d, "code");
    REQUIRE(code);
    CHECK(r.Header("x-request-id") == *code);
    CHECK(d.MemberCount() == 2);
}

/// Like CheckError, but only requires the message to start with `prefix`.
void CheckErrorPrefix(const HttpResult& r, int status, const std::string& prefix) {
    INFO(r.Describe());
    CHECK(r.status == status);
    auto d = ParseJson(r.body);
    REQUIRE(d.IsObject());
    auto error = GetString(d, "error");
    REQUIRE(error);
    CHECK(error->rfind(prefix, 0) == 0);
    CHECK(GetString(d, "code"));
}

/// Polls GET /activations/{id} until it exists (activations are stored after completion).
rapidjson::Document WaitForActivation(const HttpClient& http, const std::string& id,
                                      std::chrono::milliseconds timeout = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    HttpResult r;
    while (std::chrono::steady_clock::now() < deadline) {
        r = http.Get(Ns("/activations/" + id));
        if (r.status == 200) return ParseJson(r.body);
        std::this_thread::sleep_for(200ms);
    }
    FAIL("activation " << id << " not found in time: " << r.Describe());
    return {};
}

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Waits until the wall-clock minute has at least `needed` seconds left (per-minute throttles
/// count calendar minutes).
void AvoidMinuteBoundary(int needed = 15) {
    const auto s = (NowMs() / 1000) % 60;
    if (s > 60 - needed) std::this_thread::sleep_for(std::chrono::seconds(61 - s));
}

bool IsAlnum32(const std::string& s) {
    return s.size() == 32 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

/// Creates a subject with its own namespace on the standalone's store; returns "uuid:key".
std::string CreateUser(const std::string& name) {
    auto r = RunAdmin(Wisp().store_uri(), {"user", "create", name, "-ns", name});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::string key = r.output.substr(0, r.output.find('\n'));
    REQUIRE(key.find(':') != std::string::npos);
    return key;
}

}  // namespace

// ---- unauthenticated routes, headers ---------------------------------------------------------

TEST_CASE("GET / describes the platform, its limits and runtimes", "[e2e][meta]") {
    auto r = Anonymous().Get("/");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    CHECK(GetString(d, "description") == "OpenWhisk");
    const auto* paths = Find(d, "api_paths");
    REQUIRE(paths);
    CHECK(ToJson(*paths) == R"(["/api/v1"])");
    CHECK(Find(d, "limits") != nullptr);
    CHECK(GetInt(d, "limits.actions_per_minute"));
    const auto* python = Find(d, "runtimes.python");
    REQUIRE(python);
    CHECK(ToJson(*python).find("\"python:3.11\"") != std::string::npos);
    CHECK(Find(d, "runtimes.nodejs") != nullptr);
}

TEST_CASE("GET /api/v1, /ping, /metrics", "[e2e][standalone-only][meta]") {
    auto api = Anonymous().Get("/api/v1");
    INFO(api.Describe());
    REQUIRE(api.status == 200);
    auto d = ParseJson(api.body);
    CHECK(GetString(d, "description") == "OpenWhisk API");
    CHECK(GetString(d, "api_version") == "1.0.0");
    CHECK(GetString(d, "api_version_path") == "v1");

    auto ping = Anonymous().Get("/ping");
    CHECK(ping.status == 200);
    CHECK(ping.body == "pong");

    HttpRequestSpec post_ping;
    post_ping.method = "POST";
    post_ping.path = "/ping";
    CheckError(Anonymous().Send(post_ping), 405, "HTTP method not allowed, supported methods: GET");

    // Something to count first: one invoke and one throttle-free error.
    auto http = Guest();
    const std::string name = UniqueName("metrics");
    PutAction(http, name, PythonAction(kEchoCode));
    CHECK(http.Post(Ns("/actions/" + name + "?blocking=true"), "{}").status == 200);

    auto m = Anonymous().Get("/metrics");
    INFO(m.body);
    REQUIRE(m.status == 200);
    CHECK(m.Header("content-type").value_or("").rfind("text/plain", 0) == 0);
    for (const char* metric :
         {"# TYPE wisp_activations_total counter", "# TYPE wisp_invoke_latency_seconds histogram",
          "# TYPE wisp_activations_in_flight gauge", "# TYPE wisp_throttled_requests_total counter",
          "# TYPE wisp_http_requests_total counter", "wisp_http_requests_total{code=\"200\"}",
          "wisp_invoke_latency_seconds_bucket{blocking=\"true\"",
          // One scrape: the standalone's invoker too.
          "# TYPE wisp_invoker_container_starts_total counter",
          "wisp_invoker_container_starts_total{kind=\"python:3.11\",start=\"cold\"}",
          "# TYPE wisp_invoker_containers gauge", "# TYPE wisp_invoker_init_seconds histogram",
          "# TYPE wisp_invoker_pool_memory_used_bytes gauge"}) {
        CHECK(m.body.find(metric) != std::string::npos);
    }
    CHECK(m.body.find("wisp_activations_total{namespace=\"guest\",action=\"" + name + "\"") !=
          std::string::npos);
}

TEST_CASE("X-Request-ID is echoed, or a fresh transaction id is made", "[e2e][headers]") {
    auto http = Guest();
    HttpRequestSpec spec;
    spec.path = "/api/v1/namespaces";
    spec.auth = http.auth();
    spec.headers = {"X-Request-ID: e2e-request-42"};
    auto r = http.Send(spec);
    CHECK(r.status == 200);
    CHECK(r.Header("x-request-id") == "e2e-request-42");

    // An error's "code" is the same transaction id.
    spec.path = Ns("/actions/" + UniqueName("missing"));
    auto missing = http.Send(spec);
    CheckError(missing, 404, "The requested resource does not exist.");
    CHECK(missing.Header("x-request-id") == "e2e-request-42");

    // "sid_..." ids are the system's own: replaced.
    spec.headers = {"X-Request-ID: sid_invokerHealth"};
    auto sid = http.Send(spec);
    REQUIRE(sid.Header("x-request-id"));
    CHECK(IsAlnum32(*sid.Header("x-request-id")));

    spec.headers.clear();
    auto none = http.Send(spec);
    REQUIRE(none.Header("x-request-id"));
    CHECK(IsAlnum32(*none.Header("x-request-id")));
    CHECK(none.Header("x-request-id") != sid.Header("x-request-id"));
}

TEST_CASE("CORS headers on every response; OPTIONS answers 200", "[e2e][headers]") {
    auto check_cors = [](const HttpResult& r) {
        INFO(r.Describe());
        CHECK(r.Header("access-control-allow-origin") == "*");
        CHECK(r.Header("access-control-allow-methods") == "GET, DELETE, POST, PUT, HEAD");
        CHECK(r.Header("access-control-allow-headers") ==
              "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent");
    };
    HttpRequestSpec options;
    options.method = "OPTIONS";
    options.path = Ns("/actions");
    auto r = Anonymous().Send(options);  // preflight: no credentials
    CHECK(r.status == 200);
    check_cors(r);
    check_cors(Guest().Get(Ns("/actions")));
    check_cors(Anonymous().Get(Ns("/actions")));  // 401 too
}

TEST_CASE("a trailing '?' and a POST invoke with no body and no content type", "[e2e][client]") {
    auto http = Guest();
    auto list = http.Get(Ns("/actions?"));
    INFO(list.Describe());
    CHECK(list.status == 200);
    CHECK(ParseJson(list.body).IsArray());

    const std::string name = UniqueName("nobody");
    auto put = http.Put(Ns("/actions/" + name + "?"), PythonAction(kEchoCode));
    CHECK(put.status == 200);

    // No body at all (no Content-Length, no Content-Type).
    HttpRequestSpec spec;
    spec.method = "POST";
    spec.path = Ns("/actions/" + name + "?blocking=true");
    spec.auth = http.auth();
    auto r = http.Send(spec);
    INFO(r.Describe());
    CHECK(r.status == 200);
    auto d = ParseJson(r.body);
    CHECK(GetBool(d, "response.success") == true);

    // Content-Length: 0 without a Content-Type, as the npm client sends invoke('name').
    spec.body = "";
    spec.json_content_type = false;
    auto empty = http.Send(spec);
    INFO(empty.Describe());
    CHECK(empty.status == 200);

    // Non-blocking, bare "?".
    spec.path = Ns("/actions/" + name + "?");
    auto async = http.Send(spec);
    INFO(async.Describe());
    CHECK(async.status == 202);
    CHECK(GetString(ParseJson(async.body), "activationId"));
}

// ---- 401 / 403 / 404 / 405 / 409 --------------------------------------------------------------

TEST_CASE("401: missing or invalid credentials", "[e2e][errors]") {
    auto missing = Anonymous().Get(Ns("/actions"));
    CheckError(missing, 401,
               "The resource requires authentication, which was not supplied with the request");
    CHECK(missing.Header("www-authenticate") == "Basic realm=\"OpenWhisk secure realm\"");

    const std::string wrong_key =
        "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
        "000zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
    auto bad = HttpClient(Wisp().api_host(), wrong_key).Get(Ns("/actions"));
    CheckError(bad, 401, "The supplied authentication is invalid");
    CHECK(bad.Header("www-authenticate") == "Basic realm=\"OpenWhisk secure realm\"");

    auto short_key = HttpClient(Wisp().api_host(), "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:short")
                         .Get(Ns("/actions"));
    CheckError(short_key, 401, "The supplied authentication is invalid");

    HttpRequestSpec garbage;
    garbage.path = Ns("/actions");
    garbage.headers = {"Authorization: Basic !!!notbase64"};
    CheckError(Anonymous().Send(garbage), 401, "The supplied authentication is invalid");
}

TEST_CASE("403: another namespace", "[e2e][errors]") {
    auto http = Guest();
    const std::string other = UniqueName("other");
    const std::string other_key = CreateUser(other);
    HttpClient other_http(Wisp().api_host(), other_key);

    // The new user works in its own namespace ...
    const std::string name = UniqueName("private");
    auto own =
        other_http.Put("/api/v1/namespaces/" + other + "/actions/" + name, PythonAction(kEchoCode));
    INFO(own.Describe());
    REQUIRE(own.status == 200);
    CHECK(GetString(ParseJson(own.body), "namespace") == other);

    // ... and guest may not read, write, list or invoke there.
    CheckError(
        http.Get("/api/v1/namespaces/" + other + "/actions/" + name), 403,
        "The supplied authentication is not authorized to access '" + other + "/" + name + "'.");
    CheckError(http.Put("/api/v1/namespaces/" + other + "/actions/mine", PythonAction(kEchoCode)),
               403,
               "The supplied authentication is not authorized to access '" + other + "/mine'.");
    CheckError(
        http.Post("/api/v1/namespaces/" + other + "/actions/" + name, "{}"), 403,
        "The supplied authentication is not authorized to access '" + other + "/" + name + "'.");
    CheckError(http.Get("/api/v1/namespaces/" + other + "/actions"), 403,
               "The supplied authentication is not authorized to access '" + other + "'.");
    CheckError(http.Get("/api/v1/namespaces/" + other + "/activations"), 403,
               "The supplied authentication is not authorized to access '" + other + "'.");
    CheckError(
        http.Delete("/api/v1/namespaces/" + other + "/actions/" + name), 403,
        "The supplied authentication is not authorized to access '" + other + "/" + name + "'.");
}

TEST_CASE("404: unknown entities, activations and routes", "[e2e][errors]") {
    auto http = Guest();
    const std::string name = UniqueName("nothing");
    for (const char* collection : {"actions", "triggers", "rules", "packages"}) {
        CheckError(http.Get(Ns(std::string("/") + collection + "/" + name)), 404,
                   "The requested resource does not exist.");
        CheckError(http.Delete(Ns(std::string("/") + collection + "/" + name)), 404,
                   "The requested resource does not exist.");
    }
    CheckError(http.Post(Ns("/actions/" + name + "?blocking=true"), "{}"), 404,
               "The requested resource does not exist.");
    CheckError(http.Post(Ns("/triggers/" + name), "{}"), 404,
               "The requested resource does not exist.");
    CheckError(http.Get(Ns("/activations/0123456789abcdef0123456789abcdef")), 404,
               "The requested resource does not exist.");
    CheckError(http.Get("/api/v1/nowhere"), 404, "The requested resource could not be found.");
    CheckError(http.Get(Ns("/widgets")), 404, "The requested resource could not be found.");
}

TEST_CASE("405: methods a route does not support", "[e2e][errors]") {
    auto http = Guest();
    HttpRequestSpec spec;
    spec.auth = http.auth();

    spec.method = "POST";
    spec.path = Ns("/activations");
    CheckError(http.Send(spec), 405, "HTTP method not allowed, supported methods: GET");

    spec.method = "DELETE";
    spec.path = Ns("/actions");
    CheckError(http.Send(spec), 405, "HTTP method not allowed, supported methods: GET");

    spec.method = "PUT";
    spec.path = "/api/v1/namespaces";
    CheckError(http.Send(spec), 405, "HTTP method not allowed, supported methods: GET");

    // Packages have no POST.
    const std::string pkg = UniqueName("pkg405");
    REQUIRE(http.Put(Ns("/packages/" + pkg), "{}").status == 200);
    spec.method = "POST";
    spec.path = Ns("/packages/" + pkg);
    auto post = http.Send(spec);
    CheckErrorPrefix(post, 405, "HTTP method not allowed, supported methods: ");
    const std::string msg = GetString(ParseJson(post.body), "error").value_or("");
    CHECK(msg.find("GET") != std::string::npos);
    CHECK(msg.find("PUT") != std::string::npos);
    CHECK(msg.find("DELETE") != std::string::npos);
    CHECK(msg.find("POST") == std::string::npos);
}

TEST_CASE("409: create twice; a name taken by another entity type", "[e2e][errors]") {
    auto http = Guest();
    const std::string name = UniqueName("twice");
    PutAction(http, name, PythonAction(kEchoCode));
    CheckError(http.Put(Ns("/actions/" + name), PythonAction(kEchoCode)), 409,
               "resource already exists");
    // overwrite=true updates (patch bump).
    auto updated = http.Put(Ns("/actions/" + name + "?overwrite=true"), PythonAction(kEchoCode));
    REQUIRE(updated.status == 200);
    CHECK(GetString(ParseJson(updated.body), "version") == "0.0.2");

    // Actions, triggers, rules and packages share one id space.
    CheckError(http.Put(Ns("/triggers/" + name), "{}"), 409,
               "Resource by this name exists but is not in this collection.");
    CheckError(http.Put(Ns("/packages/" + name), "{}"), 409,
               "Resource by this name exists but is not in this collection.");
    CheckError(http.Get(Ns("/triggers/" + name)), 409,
               "Resource by this name exists but is not in this collection.");

    const std::string trigger = UniqueName("trig409");
    REQUIRE(http.Put(Ns("/triggers/" + trigger), "{}").status == 200);
    CheckError(http.Put(Ns("/triggers/" + trigger), "{}"), 409, "resource already exists");

    // A non-empty package.
    const std::string pkg = UniqueName("full");
    REQUIRE(http.Put(Ns("/packages/" + pkg), "{}").status == 200);
    PutAction(http, pkg + "/inner", PythonAction(kEchoCode));
    CheckError(http.Delete(Ns("/packages/" + pkg)), 409,
               "Package not empty (contains 1 entities). Set force param or delete package "
               "contents.");
    CHECK(http.Delete(Ns("/packages/" + pkg + "?force=true")).status == 200);
}

// ---- 400 -------------------------------------------------------------------------------------

TEST_CASE("400: an invalid entity name", "[e2e][errors][400]") {
    auto http = Guest();
    CheckError(http.Put(Ns("/actions/%24bad"), PythonAction(kEchoCode)), 400,
               "The name of the entity contains illegal characters.");
    CheckError(http.Put(Ns("/triggers/-dash"), "{}"), 400,
               "The name of the entity contains illegal characters.");
    CheckError(http.Get(Ns("/rules/a%21b")), 400,
               "The name of the entity contains illegal characters.");
}

TEST_CASE("400: limits out of range", "[e2e][errors][400]") {
    auto http = Guest();
    const std::string name = UniqueName("limits");
    auto memory =
        http.Put(Ns("/actions/" + name), PythonAction(kEchoCode, R"(,"limits":{"memory":1024})"));
    CheckErrorPrefix(memory, 400, "");
    CHECK(GetString(ParseJson(memory.body), "error")
              .value_or("")
              .find("memory size 1024 MB exceeds allowed threshold of 512 MB") !=
          std::string::npos);

    auto timeout =
        http.Put(Ns("/actions/" + name), PythonAction(kEchoCode, R"(,"limits":{"timeout":50})"));
    CheckErrorPrefix(timeout, 400, "");
    CHECK(GetString(ParseJson(timeout.body), "error")
              .value_or("")
              .find("duration 50 milliseconds below allowed threshold of 100 milliseconds") !=
          std::string::npos);

    auto concurrency =
        http.Put(Ns("/actions/" + name), PythonAction(kEchoCode, R"(,"limits":{"concurrency":2})"));
    CheckErrorPrefix(concurrency, 400, "");
    CHECK(GetString(ParseJson(concurrency.body), "error")
              .value_or("")
              .find("concurrency 2 exceeds allowed threshold of 1") != std::string::npos);
    CHECK(http.Get(Ns("/actions/" + name)).status == 404);  // nothing was created
}

TEST_CASE("400: unknown kind, missing exec", "[e2e][errors][400]") {
    auto http = Guest();
    const std::string name = UniqueName("kind");
    auto r = http.Put(Ns("/actions/" + name), R"({"exec":{"kind":"cobol:85","code":"x"}})");
    CheckErrorPrefix(r, 400, "");
    CHECK(GetString(ParseJson(r.body), "error")
              .value_or("")
              .find("The specified runtime 'cobol:85' is not supported by this platform.") !=
          std::string::npos);
    CheckError(http.Put(Ns("/actions/" + name), "{}"), 400, "exec undefined");
}

TEST_CASE("400: malformed JSON bodies", "[e2e][errors][400]") {
    auto http = Guest();
    const std::string name = UniqueName("malformed");
    CheckErrorPrefix(http.Put(Ns("/actions/" + name), "{\"exec\": {"), 400,
                     "The request content was malformed:\n");
    CheckErrorPrefix(http.Put(Ns("/triggers/" + name), "[1,2"), 400,
                     "The request content was malformed:\n");
    PutAction(http, name, PythonAction(kEchoCode));
    CheckErrorPrefix(http.Post(Ns("/actions/" + name + "?blocking=true"), "{not json"), 400,
                     "The request content was malformed:\n");
    // A rule without its references.
    CheckError(http.Put(Ns("/rules/" + UniqueName("rule")), R"({"trigger":"/_/x"})"), 400,
               "rule requires a valid trigger and a valid action");
}

TEST_CASE("400: activation ids and list parameters", "[e2e][errors][400]") {
    auto http = Guest();
    CheckError(http.Get(Ns("/activations/zzzz456789abcdef0123456789abcdef")), 400,
               "The activation id is not valid.");
    CheckError(http.Get(Ns("/activations/0123456789ABCDEF0123456789ABCDEF/result")), 400,
               "The activation id is not valid.");
    CHECK(http.Get(Ns("/activations/123")).status == 400);
    CheckError(http.Get(Ns("/activations?limit=201")), 400,
               "The value '201' is not in the range of 0 to 200 for activations.");
    CheckError(http.Get(Ns("/actions?limit=201")), 400,
               "The value '201' is not in the range of 0 to 200 for actions.");
    CheckError(http.Get(Ns("/triggers?skip=-1")), 400,
               "The value '-1' is not greater than or equal to 0 for triggers.");
    CheckError(http.Get(Ns("/activations?count=true&docs=true")), 400,
               "The parameter 'docs' is not permitted with 'count'.");
}

TEST_CASE("400: blocking timeout outside 1..60000", "[e2e][errors][400]") {
    auto http = Guest();
    const std::string name = UniqueName("timeout400");
    PutAction(http, name, PythonAction(kEchoCode));
    for (const char* t : {"0", "60001", "abc"}) {
        CheckError(http.Post(Ns("/actions/" + name + "?blocking=true&timeout=" + t), "{}"), 400,
                   "Timeout must be number of milliseconds up to 60000.");
    }
}

// ---- 413 / 429 -------------------------------------------------------------------------------
// The 429 cases are [standalone-only]: with several controllers each enforces its share of a
// limit (OpenWhisk's limit / controllers x 1.2), which tests/distributed/cluster_e2e_test.cpp
// "[throttle]" checks controller by controller.

TEST_CASE("413: an invoke payload over 1 MB", "[e2e][errors]") {
    auto http = Guest();
    const std::string name = UniqueName("big");
    PutAction(http, name, PythonAction(kEchoCode));
    const std::string body = "{\"x\":\"" + std::string(1048576, 'a') + "\"}";
    CheckError(http.Post(Ns("/actions/" + name + "?blocking=true"), body), 413,
               "Request larger than allowed: " + std::to_string(body.size()) + " > 1048576 bytes.");
    // Just under the limit is fine.
    const std::string fits = "{\"x\":\"" + std::string(1048576 - 100, 'a') + "\"}";
    auto ok = http.Post(Ns("/actions/" + name + "?blocking=true&result=true"), fits);
    INFO(ok.status);
    CHECK(ok.status == 200);
}

TEST_CASE("429: invocations per minute (namespace limit set with wisp-admin)",
          "[e2e][standalone-only][429]") {
    const std::string user = UniqueName("ratelim");
    const std::string key = CreateUser(user);
    auto set = RunAdmin(Wisp().store_uri(), {"limits", "set", user, "--invocationsPerMinute", "3"});
    INFO(set.output);
    REQUIRE(set.exit_code == 0);
    HttpClient http(Wisp().api_host(), key);
    const std::string name = UniqueName("rated");
    auto put = http.Put("/api/v1/namespaces/_/actions/" + name, PythonAction(kEchoCode));
    REQUIRE(put.status == 200);

    auto limits = ParseJson(http.Get("/api/v1/namespaces/_/limits").body);
    CHECK(GetInt(limits, "invocationsPerMinute") == 3);

    AvoidMinuteBoundary();
    for (int i = 0; i < 3; ++i) {
        auto r = http.Post("/api/v1/namespaces/_/actions/" + name, "{}");
        INFO(r.Describe());
        CHECK(r.status == 202);
    }
    CheckError(http.Post("/api/v1/namespaces/_/actions/" + name, "{}"), 429,
               "Too many requests in the last minute (count: 4, allowed: 3).");
    // Other namespaces are not affected.
    auto guest = Guest();
    const std::string mine = UniqueName("unrated");
    PutAction(guest, mine, PythonAction(kEchoCode));
    CHECK(guest.Post(Ns("/actions/" + mine), "{}").status == 202);
}

TEST_CASE("429: concurrent invocations", "[e2e][standalone-only][429]") {
    const std::string user = UniqueName("conclim");
    const std::string key = CreateUser(user);
    auto set =
        RunAdmin(Wisp().store_uri(), {"limits", "set", user, "--concurrentInvocations", "2"});
    INFO(set.output);
    REQUIRE(set.exit_code == 0);
    HttpClient http(Wisp().api_host(), key);
    const std::string name = UniqueName("slow");
    auto put = http.Put("/api/v1/namespaces/_/actions/" + name,
                        PythonAction("import time\ndef main(args):\n    time.sleep(5)\n"
                                     "    return {'slept': 5}\n"));
    REQUIRE(put.status == 200);
    std::vector<std::string> ids;
    for (int i = 0; i < 2; ++i) {
        auto r = http.Post("/api/v1/namespaces/_/actions/" + name, "{}");
        INFO(r.Describe());
        REQUIRE(r.status == 202);
        ids.push_back(GetString(ParseJson(r.body), "activationId").value_or(""));
    }
    CheckError(http.Post("/api/v1/namespaces/_/actions/" + name + "?blocking=true", "{}"), 429,
               "Too many concurrent requests in flight (count: 2, allowed: 2).");
    // Once they finish, invokes are accepted again.
    for (const auto& id : ids) {
        auto rec = WaitForActivation(http, id);
        CHECK(GetBool(rec, "response.success") == true);
    }
    std::this_thread::sleep_for(500ms);
    CHECK(http.Post("/api/v1/namespaces/_/actions/" + name, "{}").status == 202);
}

TEST_CASE("429: trigger fires per minute", "[e2e][standalone-only][429]") {
    const std::string user = UniqueName("firelim");
    const std::string key = CreateUser(user);
    auto set = RunAdmin(Wisp().store_uri(), {"limits", "set", user, "--firesPerMinute", "2"});
    INFO(set.output);
    REQUIRE(set.exit_code == 0);
    HttpClient http(Wisp().api_host(), key);
    const std::string trigger = UniqueName("fired");
    REQUIRE(http.Put("/api/v1/namespaces/_/triggers/" + trigger, "{}").status == 200);
    AvoidMinuteBoundary();
    for (int i = 0; i < 2; ++i) {
        auto r = http.Post("/api/v1/namespaces/_/triggers/" + trigger, "{}");
        INFO(r.Describe());
        CHECK(r.status == 204);  // no rules
    }
    CheckError(http.Post("/api/v1/namespaces/_/triggers/" + trigger, "{}"), 429,
               "Too many requests in the last minute (count: 3, allowed: 2).");
}

// ---- invoke outcomes -------------------------------------------------------------------------

TEST_CASE("blocking invoke: 200 with the record, result=true with the result", "[e2e][invoke]") {
    auto http = Guest();
    const std::string name = UniqueName("hello");
    PutAction(http, name,
              PythonAction("def main(args):\n    return {'greeting': 'Hello ' + "
                           "args.get('name', 'stranger')}\n",
                           R"(,"parameters":[{"key":"name","value":"param"}])"));
    auto r = http.Post(Ns("/actions/" + name + "?blocking=true"), R"({"name":"World"})");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    CHECK(GetString(d, "response.result.greeting") == "Hello World");
    CHECK(GetBool(d, "response.success") == true);
    CHECK(GetString(d, "response.status") == "success");
    CHECK(GetString(d, "namespace") == "guest");
    CHECK(GetString(d, "name") == name);
    CHECK(GetString(d, "subject") == "guest");
    const auto id = GetString(d, "activationId");
    REQUIRE(id);
    CHECK(id->size() == 32);
    CHECK(r.Header("x-openwhisk-activation-id") == *id);
    REQUIRE(Find(d, "annotations"));
    const auto* path = KeyValue(*Find(d, "annotations"), "path");
    REQUIRE(path);
    CHECK(ToJson(*path) == "\"guest/" + name + "\"");
    const auto* kind = KeyValue(*Find(d, "annotations"), "kind");
    REQUIRE(kind);
    CHECK(ToJson(*kind) == "\"python:3.11\"");

    auto result = http.Post(Ns("/actions/" + name + "?blocking=true&result=true"), "{}");
    REQUIRE(result.status == 200);
    CHECK(result.body == R"({"greeting":"Hello param"})");

    // The stored record: GET, /result, /logs.
    auto stored = WaitForActivation(http, *id);
    CHECK(GetString(stored, "response.result.greeting") == "Hello World");
    auto res = http.Get(Ns("/activations/" + *id + "/result"));
    REQUIRE(res.status == 200);
    auto rd = ParseJson(res.body);
    CHECK(GetString(rd, "result.greeting") == "Hello World");
    CHECK(GetBool(rd, "success") == true);
    CHECK(GetString(rd, "status") == "success");
    auto logs = http.Get(Ns("/activations/" + *id + "/logs"));
    REQUIRE(logs.status == 200);
    CHECK(Find(ParseJson(logs.body), "logs") != nullptr);
}

TEST_CASE("502: application error (the action returned {\"error\":...})", "[e2e][invoke]") {
    auto http = Guest();
    const std::string name = UniqueName("apperror");
    PutAction(http, name, PythonAction("def main(args):\n    return {'error': 'boom'}\n"));
    auto r = http.Post(Ns("/actions/" + name + "?blocking=true"), "{}");
    INFO(r.Describe());
    CHECK(r.status == 502);
    auto d = ParseJson(r.body);
    CHECK(GetString(d, "response.status") == "application error");
    CHECK(GetBool(d, "response.success") == false);
    CHECK(GetString(d, "response.result.error") == "boom");
    CHECK(Find(d, "code") == nullptr);  // wsk must not read it as an API error
    CHECK(r.Header("x-openwhisk-activation-id") == GetString(d, "activationId"));

    auto result = http.Post(Ns("/actions/" + name + "?blocking=true&result=true"), "{}");
    CHECK(result.status == 502);
    CHECK(result.body == R"({"error":"boom"})");
}

TEST_CASE("502: an action that raises (the runtime reports {\"error\":...})", "[e2e][invoke]") {
    // The Python runtime catches the exception and returns {"error": str(ex)}: an application
    // error, as in OpenWhisk's actionloop launcher; the traceback goes to the logs.
    auto http = Guest();
    const std::string raises = UniqueName("raises");
    PutAction(http, raises, PythonAction("def main(args):\n    raise ValueError('bad input')\n"));
    auto r = http.Post(Ns("/actions/" + raises + "?blocking=true"), "{}");
    INFO(r.Describe());
    CHECK(r.status == 502);
    auto d = ParseJson(r.body);
    CHECK(GetBool(d, "response.success") == false);
    CHECK(GetString(d, "response.status") == "application error");
    CHECK(GetString(d, "response.result.error") == "bad input");
    CHECK(Find(d, "code") == nullptr);
    auto stored = WaitForActivation(http, GetString(d, "activationId").value_or(""));
    const auto* logs = Find(stored, "logs");
    REQUIRE(logs);
    CHECK(ToJson(*logs).find("ValueError: bad input") != std::string::npos);
}

TEST_CASE("502: developer errors (not a dictionary, time limit)", "[e2e][invoke]") {
    auto http = Guest();
    const std::string scalar = UniqueName("scalar");
    PutAction(http, scalar, PythonAction("def main(args):\n    return 42\n"));
    auto s = http.Post(Ns("/actions/" + scalar + "?blocking=true"), "{}");
    INFO(s.Describe());
    CHECK(s.status == 502);
    auto sd = ParseJson(s.body);
    CHECK(GetString(sd, "response.status") == "action developer error");
    CHECK(GetBool(sd, "response.success") == false);
    // The actionloop proxy's text (openwhisk-runtime-go executor).
    CHECK(GetString(sd, "response.result.error") ==
          "The action did not return a dictionary or array.");
    CHECK(Find(sd, "code") == nullptr);

    const std::string sleepy = UniqueName("overtime");
    PutAction(http, sleepy,
              PythonAction("import time\ndef main(args):\n    time.sleep(5)\n    return {}\n",
                           R"(,"limits":{"timeout":1000})"));
    auto t = http.Post(Ns("/actions/" + sleepy + "?blocking=true"), "{}");
    INFO(t.Describe());
    CHECK(t.status == 502);
    auto td = ParseJson(t.body);
    CHECK(GetString(td, "response.status") == "action developer error");
    // The run's limit (OpenWhisk's text), or, when the cold /init alone outlasts the 1 s limit on
    // a loaded host, the same text for initialization; both are the limit being enforced.
    const std::string error = GetString(td, "response.result.error").value_or("(none)");
    CHECK((error == "The action exceeded its time limits of 1000 milliseconds." ||
           error ==
               "The action exceeded its time limits of 1000 milliseconds during initialization."));
    const auto* timeout = KeyValue(*Find(td, "annotations"), "timeout");
    REQUIRE(timeout);
    CHECK(ToJson(*timeout) == "true");
}

TEST_CASE("202: a blocking invoke that outlives ?timeout=", "[e2e][invoke]") {
    auto http = Guest();
    const std::string name = UniqueName("sleeper");
    PutAction(http, name,
              PythonAction("import time\ndef main(args):\n    time.sleep(3)\n"
                           "    return {'done': True}\n"));
    const auto started = std::chrono::steady_clock::now();
    auto r = http.Post(Ns("/actions/" + name + "?blocking=true&timeout=500"), "{}");
    const auto waited = std::chrono::steady_clock::now() - started;
    INFO(r.Describe());
    CHECK(r.status == 202);
    CHECK(waited < 3s);
    auto d = ParseJson(r.body);
    auto id = GetString(d, "activationId");
    REQUIRE(id);
    CHECK(d.MemberCount() == 1);
    CHECK(r.Header("x-openwhisk-activation-id") == *id);
    auto rec = WaitForActivation(http, *id);
    CHECK(GetBool(rec, "response.result.done") == true);
}

TEST_CASE("a 3-step sequence pipes results; its logs are the component ids", "[e2e][sequence]") {
    auto http = Guest();
    const std::string prefix = UniqueName("step");
    const char* steps[] = {
        "def main(args):\n    return {'n': args.get('n', 0) + 1, 'trail': "
        "args.get('trail', '') + 'a'}\n",
        "def main(args):\n    return {'n': args['n'] * 10, 'trail': "
        "args['trail'] + 'b'}\n",
        "def main(args):\n    return {'n': args['n'] + 5, 'trail': "
        "args['trail'] + 'c'}\n"};
    std::string components;
    for (int i = 0; i < 3; ++i) {
        const std::string name = prefix + "-" + std::to_string(i);
        PutAction(http, name, PythonAction(steps[i]));
        components += (i ? "," : "") + Quote("/_/" + name);
    }
    const std::string seq = prefix + "-seq";
    auto put = http.Put(Ns("/actions/" + seq),
                        R"({"exec":{"kind":"sequence","components":[)" + components + "]}}");
    INFO(put.Describe());
    REQUIRE(put.status == 200);
    auto pd = ParseJson(put.body);
    CHECK(GetString(pd, "exec.kind") == "sequence");

    auto r = http.Post(Ns("/actions/" + seq + "?blocking=true"), R"({"n":1})");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    CHECK(GetInt(d, "response.result.n") == 25);  // (1+1)*10+5
    CHECK(GetString(d, "response.result.trail") == "abc");
    const auto seq_id = GetString(d, "activationId").value_or("");
    const auto* logs = Find(d, "logs");
    REQUIRE(logs);
    REQUIRE(logs->IsArray());
    REQUIRE(logs->Size() == 3);
    const auto* kind = KeyValue(*Find(d, "annotations"), "kind");
    REQUIRE(kind);
    CHECK(ToJson(*kind) == "\"sequence\"");
    const auto* topmost = KeyValue(*Find(d, "annotations"), "topmost");
    REQUIRE(topmost);
    CHECK(ToJson(*topmost) == "true");
    for (rapidjson::SizeType i = 0; i < 3; ++i) {
        const std::string id = (*logs)[i].GetString();
        auto component = WaitForActivation(http, id);
        CHECK(GetString(component, "name") == prefix + "-" + std::to_string(i));
        CHECK(GetString(component, "cause") == seq_id);
    }
    auto stored = WaitForActivation(http, seq_id);
    CHECK(GetInt(stored, "response.result.n") == 25);
}

// ---- triggers and rules ----------------------------------------------------------------------

TEST_CASE("trigger -> 2 rules -> 2 actions, trigger params < fire body", "[e2e][trigger]") {
    auto http = Guest();
    const std::string base = UniqueName("tr");
    const std::string trigger = base + "-t";
    REQUIRE(
        http.Put(Ns("/triggers/" + trigger),
                 R"({"parameters":[{"key":"a","value":"trigger"},{"key":"b","value":"trigger"}]})")
            .status == 200);
    std::vector<std::string> actions = {base + "-a1", base + "-a2"};
    for (const auto& a : actions) {
        PutAction(
            http, a,
            PythonAction(
                "def main(args):\n    headers = args.pop('__ow_headers', {})\n"
                "    args['marker'] = headers.get('x-e2e-fire', '')\n    return args\n",
                R"(,"parameters":[{"key":"a","value":"action"},{"key":"c","value":"action"}])"));
    }
    for (int i = 0; i < 2; ++i) {
        auto rule =
            http.Put(Ns("/rules/" + base + "-r" + std::to_string(i)),
                     R"({"trigger":"/_/)" + trigger + R"(","action":"/_/)" + actions[i] + R"("})");
        INFO(rule.Describe());
        REQUIRE(rule.status == 200);
        auto rd = ParseJson(rule.body);
        CHECK(GetString(rd, "status") == "active");
        CHECK(GetString(rd, "trigger.name") == trigger);
        CHECK(GetString(rd, "action.name") == actions[i]);
    }
    auto t = ParseJson(http.Get(Ns("/triggers/" + trigger)).body);
    const auto* links = Find(t, "rules");
    REQUIRE(links);
    CHECK(links->MemberCount() == 2);

    HttpRequestSpec fire_spec;
    fire_spec.method = "POST";
    fire_spec.path = Ns("/triggers/" + trigger);
    fire_spec.body = R"({"b":"fire"})";
    fire_spec.auth = http.auth();
    fire_spec.headers = {"X-E2E-Fire: yes"};
    auto fire = http.Send(fire_spec);
    INFO(fire.Describe());
    REQUIRE(fire.status == 202);
    const auto trigger_id = GetString(ParseJson(fire.body), "activationId");
    REQUIRE(trigger_id);
    CHECK(fire.Header("x-openwhisk-activation-id") == *trigger_id);

    auto record = WaitForActivation(http, *trigger_id);
    CHECK(GetString(record, "name") == trigger);
    CHECK(GetString(record, "response.result.b") == "fire");
    const auto* logs = Find(record, "logs");
    REQUIRE(logs);
    REQUIRE(logs->IsArray());
    REQUIRE(logs->Size() == 2);
    std::set<std::string> fired_actions;
    for (const auto& line : logs->GetArray()) {
        auto l = ParseJson(line.GetString());
        INFO(line.GetString());
        CHECK(GetInt(l, "statusCode") == 0);
        CHECK(GetBool(l, "success") == true);
        const auto action = GetString(l, "action").value_or("");
        fired_actions.insert(action);
        CHECK(GetString(l, "rule").value_or("").rfind("guest/" + base + "-r", 0) == 0);
        const auto id = GetString(l, "activationId");
        REQUIRE(id);
        auto a = WaitForActivation(http, *id);
        INFO(ToJson(a));
        CHECK(GetString(a, "response.result.a") == "trigger");  // trigger params > action's
        CHECK(GetString(a, "response.result.b") == "fire");     // fire body > trigger params
        CHECK(GetString(a, "response.result.c") == "action");
        // The fire request's headers arrive as __ow_headers (OpenWhisk #5273).
        CHECK(GetString(a, "response.result.marker") == "yes");
    }
    CHECK(fired_actions == std::set<std::string>{"guest/" + actions[0], "guest/" + actions[1]});
}

TEST_CASE("rule disabled -> fire answers 204; enabled again -> 202", "[e2e][trigger]") {
    auto http = Guest();
    const std::string base = UniqueName("toggle");
    REQUIRE(http.Put(Ns("/triggers/" + base + "-t"), "{}").status == 200);
    PutAction(http, base + "-a", PythonAction(kEchoCode));
    REQUIRE(http.Put(Ns("/rules/" + base + "-r"),
                     R"({"trigger":"/_/)" + base + R"(-t","action":"/_/)" + base + R"(-a"})")
                .status == 200);

    auto off = http.Post(Ns("/rules/" + base + "-r"), R"({"status":"inactive"})");
    CHECK(off.status == 200);
    CHECK(off.body == "OK");
    CHECK(GetString(ParseJson(http.Get(Ns("/rules/" + base + "-r")).body), "status") == "inactive");
    auto fire = http.Post(Ns("/triggers/" + base + "-t"), R"({"x":1})");
    CHECK(fire.status == 204);
    CHECK(fire.body.empty());

    auto on = http.Post(Ns("/rules/" + base + "-r"), R"({"status":"active"})");
    CHECK(on.status == 200);
    CHECK(http.Post(Ns("/triggers/" + base + "-t"), R"({"x":1})").status == 202);

    // DELETE answers the rule as inactive; a rule needs an existing trigger and action.
    auto del = http.Delete(Ns("/rules/" + base + "-r"));
    CHECK(del.status == 200);
    CHECK(GetString(ParseJson(del.body), "status") == "inactive");
    CheckError(
        http.Put(Ns("/rules/" + base + "-r2"),
                 R"({"trigger":"/_/)" + base + R"(-missing","action":"/_/)" + base + R"(-a"})"),
        400, "trigger /guest/" + base + "-missing does not exist");
    CheckError(
        http.Put(Ns("/rules/" + base + "-r2"),
                 R"({"trigger":"/_/)" + base + R"(-t","action":"/_/)" + base + R"(-missing"})"),
        400, "action /guest/" + base + "-missing does not exist");
}

// ---- entities --------------------------------------------------------------------------------

TEST_CASE("entity routes: create, get, list, count, update, delete", "[e2e][entities]") {
    auto http = Guest();
    const std::string base = UniqueName("crud");

    auto ns = http.Get("/api/v1/namespaces");
    REQUIRE(ns.status == 200);
    CHECK(ns.body == R"(["guest"])");
    auto limits = ParseJson(http.Get(Ns("/limits")).body);
    CHECK(GetInt(limits, "maxActionMemory") == 512);
    CHECK(GetInt(limits, "maxActionTimeout") == 300000);
    CHECK(GetString(limits, "maxParameterSize") == "1048576 B");

    // Action.
    auto put = http.Put(Ns("/actions/" + base),
                        PythonAction(kEchoCode, R"(,"limits":{"timeout":5000,"memory":128})"));
    REQUIRE(put.status == 200);
    auto a = ParseJson(put.body);
    CHECK(GetString(a, "namespace") == "guest");
    CHECK(GetString(a, "name") == base);
    CHECK(GetString(a, "version") == "0.0.1");
    CHECK(GetBool(a, "publish") == false);
    CHECK(GetString(a, "exec.kind") == "python:3.11");
    CHECK(GetBool(a, "exec.binary") == false);
    CHECK(GetInt(a, "limits.timeout") == 5000);
    CHECK(GetInt(a, "limits.memory") == 128);
    const auto* exec_ann = KeyValue(*Find(a, "annotations"), "exec");
    REQUIRE(exec_ann);
    CHECK(ToJson(*exec_ann) == "\"python:3.11\"");

    auto got = ParseJson(http.Get(Ns("/actions/" + base)).body);
    CHECK(GetString(got, "exec.code") == kEchoCode);
    auto no_code = ParseJson(http.Get(Ns("/actions/" + base + "?code=false")).body);
    CHECK(GetString(no_code, "exec.code") == std::nullopt);

    auto update = http.Put(Ns("/actions/" + base + "?overwrite=true"),
                           R"({"parameters":[{"key":"p","value":1}]})");
    INFO(update.Describe());
    REQUIRE(update.status == 200);
    auto u = ParseJson(update.body);
    CHECK(GetString(u, "version") == "0.0.2");
    CHECK(GetInt(u, "limits.timeout") == 5000);  // kept
    CHECK(GetString(u, "exec.kind") == "python:3.11");

    // Lists and counts for each collection.
    REQUIRE(http.Put(Ns("/triggers/" + base + "-t"), "{}").status == 200);
    REQUIRE(
        http.Put(Ns("/packages/" + base + "-p"), R"({"parameters":[{"key":"pk","value":"pv"}]})")
            .status == 200);
    PutAction(http, base + "-p/inner", PythonAction(kEchoCode));
    REQUIRE(http.Put(Ns("/rules/" + base + "-r"),
                     R"({"trigger":"/_/)" + base + R"(-t","action":"/_/)" + base + R"("})")
                .status == 200);
    for (const char* c : {"actions", "triggers", "rules", "packages"}) {
        auto list = http.Get(Ns(std::string("/") + c + "?limit=200"));
        INFO(c << ": " << list.Describe());
        REQUIRE(list.status == 200);
        auto l = ParseJson(list.body);
        REQUIRE(l.IsArray());
        CHECK(l.Size() >= 1);
        auto count = ParseJson(http.Get(Ns(std::string("/") + c + "?count=true")).body);
        CHECK(GetInt(count, c).value_or(-1) >= 1);
    }
    auto first = ParseJson(http.Get(Ns("/actions?limit=1")).body);
    CHECK(first.Size() == 1);

    // The package: its actions (GET /actions/pkg/ and in the package doc), merged params.
    auto in_pkg = ParseJson(http.Get(Ns("/actions/" + base + "-p/")).body);
    REQUIRE(in_pkg.IsArray());
    REQUIRE(in_pkg.Size() == 1);
    CHECK(GetString(in_pkg[0], "name") == "inner");
    CHECK(GetString(in_pkg[0], "namespace") == "guest/" + base + "-p");
    auto pkg = ParseJson(http.Get(Ns("/packages/" + base + "-p")).body);
    REQUIRE(Find(pkg, "actions"));
    CHECK(Find(pkg, "actions")->Size() == 1);
    auto packaged =
        http.Post(Ns("/actions/" + base + "-p/inner?blocking=true&result=true"), R"({"x":1})");
    INFO(packaged.Describe());
    CHECK(packaged.status == 200);
    auto pr = ParseJson(packaged.body);
    CHECK(GetString(pr, "pk") == "pv");
    CHECK(GetInt(pr, "x") == 1);

    // Deletes answer the deleted entity.
    for (const std::string& path :
         {"/rules/" + base + "-r", "/triggers/" + base + "-t", "/actions/" + base + "-p/inner",
          "/packages/" + base + "-p", "/actions/" + base}) {
        auto del = http.Delete(Ns(path));
        INFO(path << ": " << del.Describe());
        CHECK(del.status == 200);
        CHECK(GetString(ParseJson(del.body), "name"));
        CHECK(http.Get(Ns(path)).status == 404);
    }
}

// ---- activation list -------------------------------------------------------------------------

TEST_CASE("activation list: name, since/upto, skip/limit, count, docs", "[e2e][activations]") {
    auto http = Guest();
    const std::string name = UniqueName("listed");
    PutAction(http, name, PythonAction(kEchoCode));
    std::vector<std::string> ids;
    std::vector<int64_t> starts;
    for (int i = 0; i < 3; ++i) {
        auto r = http.Post(Ns("/actions/" + name + "?blocking=true"),
                           "{\"i\":" + std::to_string(i) + "}");
        REQUIRE(r.status == 200);
        auto d = ParseJson(r.body);
        ids.push_back(GetString(d, "activationId").value_or(""));
        starts.push_back(GetInt(d, "start").value_or(0));
        std::this_thread::sleep_for(20ms);
    }
    for (const auto& id : ids) WaitForActivation(http, id);

    auto all = ParseJson(http.Get(Ns("/activations?name=" + name)).body);
    REQUIRE(all.IsArray());
    REQUIRE(all.Size() == 3);
    // Newest first, summaries without response.
    CHECK(GetString(all[0], "activationId") == ids[2]);
    CHECK(GetString(all[2], "activationId") == ids[0]);
    CHECK(GetString(all[0], "name") == name);
    CHECK(Find(all[0], "start") != nullptr);

    auto limited = ParseJson(http.Get(Ns("/activations?name=" + name + "&limit=2")).body);
    REQUIRE(limited.Size() == 2);
    CHECK(GetString(limited[0], "activationId") == ids[2]);
    auto skipped = ParseJson(http.Get(Ns("/activations?name=" + name + "&skip=1&limit=2")).body);
    REQUIRE(skipped.Size() == 2);
    CHECK(GetString(skipped[0], "activationId") == ids[1]);
    CHECK(GetString(skipped[1], "activationId") == ids[0]);

    auto since = ParseJson(
        http.Get(Ns("/activations?name=" + name + "&since=" + std::to_string(starts[1]))).body);
    REQUIRE(since.IsArray());
    std::set<std::string> since_ids;
    for (const auto& e : since.GetArray()) since_ids.insert(GetString(e, "activationId").value());
    CHECK(since_ids.count(ids[2]) == 1);
    CHECK(since_ids.count(ids[0]) == 0);
    auto upto = ParseJson(
        http.Get(Ns("/activations?name=" + name + "&upto=" + std::to_string(starts[1]))).body);
    std::set<std::string> upto_ids;
    for (const auto& e : upto.GetArray()) upto_ids.insert(GetString(e, "activationId").value());
    CHECK(upto_ids.count(ids[0]) == 1);
    CHECK(upto_ids.count(ids[2]) == 0);

    auto count = http.Get(Ns("/activations?name=" + name + "&count=true"));
    CHECK(count.body == R"({"activations":3})");
    auto docs = ParseJson(http.Get(Ns("/activations?name=" + name + "&docs=true&limit=1")).body);
    REQUIRE(docs.Size() == 1);
    CHECK(GetInt(docs[0], "response.result.i") == 2);
    auto other = ParseJson(http.Get(Ns("/activations?name=" + UniqueName("none"))).body);
    CHECK(other.IsArray());
    CHECK(other.Size() == 0);
}

// ---- load ------------------------------------------------------------------------------------

TEST_CASE("100 concurrent blocking invokes all succeed", "[e2e][load]") {
    auto http = Guest();
    const std::string name = UniqueName("parallel");
    PutAction(http, name,
              PythonAction("def main(args):\n    return {'twice': args['n'] * 2}\n",
                           R"(,"limits":{"memory":128})"));
    constexpr int kCalls = 100;
    std::vector<HttpResult> results(kCalls);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCalls; ++i) {
        threads.emplace_back([&, i] {
            results[i] = http.Post(Ns("/actions/" + name + "?blocking=true&result=true"),
                                   "{\"n\":" + std::to_string(i) + "}");
        });
    }
    for (auto& t : threads) t.join();
    int ok = 0;
    for (int i = 0; i < kCalls; ++i) {
        INFO("call " << i << ": " << results[i].Describe());
        CHECK(results[i].status == 200);
        CHECK(GetInt(ParseJson(results[i].body), "twice") == 2 * i);
        if (results[i].status == 200) ++ok;
    }
    CHECK(ok == kCalls);
}

// ---- restart ---------------------------------------------------------------------------------

TEST_CASE("a restart keeps entities and activations", "[e2e][standalone-only][restart]") {
    wisp::testing::TempDir data("wisp-e2e-restart-");
    std::string id;
    const std::string name = "survivor";
    {
        auto first =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        INFO(first.status().message());
        REQUIRE(first.ok());
        HttpClient http((*first)->api_host(), (*first)->guest_auth());
        PutAction(http, name, PythonAction(kEchoCode));
        auto r = http.Post(Ns("/actions/" + name + "?blocking=true"), R"({"kept":true})");
        INFO(r.Describe());
        REQUIRE(r.status == 200);
        id = GetString(ParseJson(r.body), "activationId").value_or("");
        WaitForActivation(http, id);
        (*first)->Stop();
    }
    auto second =
        Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
    INFO(second.status().message());
    REQUIRE(second.ok());
    HttpClient http((*second)->api_host(), (*second)->guest_auth());
    auto action = http.Get(Ns("/actions/" + name));
    INFO(action.Describe());
    CHECK(action.status == 200);
    CHECK(GetString(ParseJson(action.body), "exec.code") == kEchoCode);
    auto rec = http.Get(Ns("/activations/" + id));
    INFO(rec.Describe());
    REQUIRE(rec.status == 200);
    CHECK(GetBool(ParseJson(rec.body), "response.result.kept") == true);
    // And it still runs actions.
    auto again = http.Post(Ns("/actions/" + name + "?blocking=true&result=true"), R"({"n":2})");
    CHECK(again.status == 200);
    CHECK(again.body == R"({"n":2})");
}

// ---- local safety: keys and file modes -------------------------------------------------------

namespace {

constexpr const char* kWellKnownGuestKey =
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

int ModeOf(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
}

/// GET /api/v1/namespaces with `auth`: its status.
int NamespacesStatus(const Standalone& s, const std::string& auth) {
    return HttpClient(s.api_host(), auth).Get("/api/v1/namespaces").status;
}

}  // namespace

TEST_CASE(
    "each data dir gets its own random guest key; --well-known-guest-key restores OpenWhisk's",
    "[e2e][standalone-only][security]") {
    static const std::regex uuid_v4_key(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:[A-Za-z0-9]{64}$");
    wisp::testing::TempDir data("wisp-e2e-keys-");
    // A folder an earlier version (or mkdir) left open to others: fixed at start.
    REQUIRE(::chmod(data.path().c_str(), 0755) == 0);
    std::string key;
    {
        auto first =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        INFO(first.status().message());
        REQUIRE(first.ok());
        key = (*first)->guest_auth();  // from the printed `wsk property set` line
        CHECK(std::regex_match(key, uuid_v4_key));
        CHECK(key != kWellKnownGuestKey);
        CHECK(NamespacesStatus(**first, key) == 200);
        CHECK(NamespacesStatus(**first, kWellKnownGuestKey) == 401);
        // The data dir and the store (with its WAL files) are the owner's alone.
        CHECK(ModeOf(data.path()) == 0700);
        for (const char* file : {"wisp.db", "wisp.db-wal", "wisp.db-shm"}) {
            INFO(file);
            CHECK(ModeOf(data.path() / file) == 0600);
        }
        (*first)->Stop();
    }
    {
        auto again =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        INFO(again.status().message());
        REQUIRE(again.ok());
        CHECK((*again)->guest_auth() == key);  // kept in the store
        (*again)->Stop();
    }
    {
        auto known = Standalone::Start({.args = {"--no-stem-cells", "--well-known-guest-key"},
                                        .data_dir = data.path().string()});
        INFO(known.status().message());
        REQUIRE(known.ok());
        CHECK((*known)->guest_auth() == kWellKnownGuestKey);
        CHECK(NamespacesStatus(**known, kWellKnownGuestKey) == 200);
        CHECK(NamespacesStatus(**known, key) == 401);
    }
    // Another data dir, another key.
    auto other = Standalone::Start({.args = {"--no-stem-cells"}});
    INFO(other.status().message());
    REQUIRE(other.ok());
    CHECK(std::regex_match((*other)->guest_auth(), uuid_v4_key));
    CHECK((*other)->guest_auth() != key);
    CHECK((*other)->guest_auth() != kWellKnownGuestKey);
}

/// Raw bytes to the standalone's port: what libcurl hides (100 Continue, early answers).
class RawConnection {
  public:
    explicit RawConnection(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        timeval tv{};
        tv.tv_sec = 30;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    }
    ~RawConnection() { ::close(fd_); }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    bool connected() const { return connected_; }
    void Send(const std::string& data) {
        (void)::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    }
    /// One response with a Content-Length body; empty when the connection closes first.
    std::string ReadResponse() {
        std::string out;
        char buf[4096];
        for (;;) {
            const size_t end = out.find("\r\n\r\n");
            if (end != std::string::npos) {
                const size_t cl = out.find("Content-Length: ");
                const size_t body = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
                if (out.size() >= end + 4 + body) return out;
            }
            const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0) return {};
            out.append(buf, static_cast<size_t>(n));
        }
    }
    /// Everything the server sends until it closes the connection (or 30 s pass).
    std::string ReadUntilClosed() {
        std::string out;
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n <= 0) return out;
            out.append(buf, static_cast<size_t>(n));
        }
    }

  private:
    int fd_ = -1;
    bool connected_ = false;
};

TEST_CASE("the API edge: Host names, credentials before the body, --max-connections",
          "[e2e][standalone-only][security]") {
    const std::string port = std::to_string(Wisp().port());
    auto http = Guest();
    HttpRequestSpec spec;
    spec.path = Ns("/actions");
    spec.auth = http.auth();

    // DNS rebinding: a page on another name that resolves to 127.0.0.1 is refused.
    spec.headers = {"Host: evil.example:" + port};
    CheckError(http.Send(spec), 403,
               "The Host header 'evil.example:" + port +
                   "' names no address this server answers to; add the name to "
                   "--allowed-hosts to allow it.");
    for (const std::string& host : {"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port}) {
        spec.headers = {"Host: " + host};
        INFO(host);
        CHECK(http.Send(spec).status == 200);
    }

    // No 100 Continue (and no body read) before the credentials are accepted.
    const std::string head = "PUT " + Ns("/actions/" + UniqueName("big")) +
                             " HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                             "\r\nContent-Type: application/json\r\nContent-Length: 40000000\r\n"
                             "Expect: 100-continue\r\n";
    {
        RawConnection c(Wisp().port());
        REQUIRE(c.connected());
        c.Send(head + "\r\n");
        const std::string answer = c.ReadUntilClosed();
        INFO(answer);
        CHECK(answer.rfind("HTTP/1.1 401 ", 0) == 0);
        CHECK(answer.find("100 Continue") == std::string::npos);
        CHECK(answer.find("The resource requires authentication, which was not supplied with "
                          "the request") != std::string::npos);
    }
    // A Content-Length over the server's limit: 413 from the header alone.
    {
        RawConnection c(Wisp().port());
        REQUIRE(c.connected());
        c.Send("PUT " + Ns("/actions/x") + " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " +
               "60000000\r\nExpect: 100-continue\r\n\r\n");
        const std::string answer = c.ReadUntilClosed();
        INFO(answer);
        CHECK(answer.rfind("HTTP/1.1 413 ", 0) == 0);
        CHECK(answer.find("Request larger than allowed: 60000000 > 52428800 bytes.") !=
              std::string::npos);
    }

    // The flags: --max-connections, and WISP_ALLOWED_HOSTS (the env twin of --allowed-hosts).
    ::setenv("WISP_ALLOWED_HOSTS", "wisp.test,.dev.test", 1);
    auto capped = Standalone::Start({.args = {"--max-connections", "2", "--no-stem-cells"}});
    ::unsetenv("WISP_ALLOWED_HOSTS");
    REQUIRE(capped.ok());
    HttpClient capped_http((*capped)->api_host(), (*capped)->guest_auth());
    spec.auth = capped_http.auth();
    spec.headers = {"Host: api.dev.test"};
    CHECK(capped_http.Send(spec).status == 200);
    spec.headers = {"Host: evil.example"};
    CHECK(capped_http.Send(spec).status == 403);

    // Two connections served and kept open (the server may still be closing the client's
    // earlier ones, which count until it has: then a try is refused, and repeated).
    std::vector<std::unique_ptr<RawConnection>> open;
    for (int tries = 0; open.size() < 2 && tries < 100; ++tries) {
        auto c = std::make_unique<RawConnection>((*capped)->port());
        c->Send("GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
        if (c->ReadResponse().rfind("HTTP/1.1 200 ", 0) == 0) open.push_back(std::move(c));
    }
    REQUIRE(open.size() == 2);
    RawConnection over((*capped)->port());
    REQUIRE(over.connected());
    over.Send("GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const std::string refused = over.ReadUntilClosed();
    INFO(refused);
    CHECK(refused.rfind("HTTP/1.1 503 ", 0) == 0);
    CHECK(refused.find("{\"error\":\"The server is currently unavailable (because it is "
                       "overloaded or down for maintenance).\",\"code\":\"") != std::string::npos);
}

TEST_CASE("HEAD answers like GET without a body", "[e2e][headers]") {
    auto http = Guest();
    for (const std::string& path :
         {Ns("/actions"), Ns("/limits"), std::string("/api/v1/namespaces"), Ns("/activations"),
          std::string("/api/v1")}) {
        HttpRequestSpec head;
        head.method = "HEAD";
        head.path = path;
        head.auth = http.auth();
        auto r = http.Send(head);
        INFO(path << ": " << r.Describe());
        CHECK(r.status == 200);
        CHECK(r.body.empty());
    }
}

TEST_CASE("SIGTERM lets running activations finish, answer and be stored",
          "[e2e][standalone-only][restart]") {
    wisp::testing::TempDir data("wisp-e2e-sigterm-");
    std::string background_id;
    HttpResult blocking;
    {
        auto first =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        INFO(first.status().message());
        REQUIRE(first.ok());
        HttpClient http((*first)->api_host(), (*first)->guest_auth());
        const char* slow = "import time\ndef main(args):\n    time.sleep(2)\n    return args\n";
        PutAction(http, "slow", PythonAction(slow));
        PutAction(http, "slow2", PythonAction(slow));
        // One blocking caller waits on the answer; one non-blocking activation runs meanwhile.
        std::thread caller([&] {
            blocking = http.Post(Ns("/actions/slow?blocking=true"), R"({"who":"blocking"})");
        });
        auto nb = http.Post(Ns("/actions/slow2"), R"({"who":"background"})");
        REQUIRE(nb.status == 202);
        background_id = GetString(ParseJson(nb.body), "activationId").value_or("");
        // Let both reach their containers (a cold start takes well under a second), then stop.
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        (*first)->Stop();
        caller.join();
        CHECK_FALSE((*first)->Running());
    }
    INFO(blocking.Describe());
    CHECK(blocking.status == 200);
    CHECK(GetString(ParseJson(blocking.body), "response.result.who") == "blocking");

    auto second =
        Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
    INFO(second.status().message());
    REQUIRE(second.ok());
    HttpClient http((*second)->api_host(), (*second)->guest_auth());
    auto rec = http.Get(Ns("/activations/" + background_id));
    INFO(rec.Describe());
    REQUIRE(rec.status == 200);
    auto d = ParseJson(rec.body);
    CHECK(GetString(d, "response.status") == "success");
    CHECK(GetString(d, "response.result.who") == "background");
}

TEST_CASE("without Docker the standalone says what to run and exits 1",
          "[e2e][standalone-only][startup]") {
    wisp::testing::TempDir data("wisp-e2e-nodocker-");
    const std::string cmd = StandaloneBinary() + " --port 1 --data-dir '" + data.path().string() +
                            "' --docker-socket /nonexistent/docker.sock 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int status = ::pclose(p);
    INFO(out);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    // The error is a line of its own (the first start logs the subjects it created before).
    CHECK((out.rfind("error: ", 0) == 0 || out.find("\nerror: ") != std::string::npos));
    CHECK(out.find("tools/start-dockerd.sh") != std::string::npos);
    CHECK(out.find("wsk property set") == std::string::npos);
}

TEST_CASE("web actions: extensions, __ow_ fields, raw-http, auth, errors", "[e2e][web]") {
    auto http = Guest();
    const std::string web = R"(,"annotations":[{"key":"web-export","value":true}])";
    // Echoes what the platform passes, as JSON; or an .http response when asked to.
    const char* echo =
        "def main(args):\n"
        "    if args.get('mode') == 'http':\n"
        "        return {'statusCode': 201, 'headers': {'X-Made-By': 'wisp', 'Content-Type': "
        "'text/plain'}, 'body': 'made ' + args.get('__ow_method')}\n"
        "    if args.get('mode') == 'html':\n"
        "        return {'html': '<p>hi</p>'}\n"
        "    if args.get('mode') == 'fail':\n"
        "        return {'error': {'statusCode': 418, 'body': 'teapot'}}\n"
        "    return args\n";
    PutAction(http, "webecho", PythonAction(echo, web));
    PutAction(http, "hidden", PythonAction(echo));
    PutAction(http, "rawecho",
              PythonAction(echo, R"(,"annotations":[{"key":"web-export","value":true},)"
                                 R"({"key":"raw-http","value":true}])"));
    PutAction(http, "secret",
              PythonAction(echo, R"(,"annotations":[{"key":"web-export","value":true},)"
                                 R"({"key":"require-whisk-auth","value":"s3cret"}])"));
    HttpClient anon(http.base_url(), "");

    // .json: query and JSON body merged, __ow_ fields, no credentials needed.
    auto r = anon.Send({.method = "POST",
                        .path = "/api/v1/web/guest/default/webecho.json/a/b?q=1",
                        .body = R"({"b":2})"});
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    CHECK(GetString(d, "q") == "1");
    CHECK(GetInt(d, "b") == 2);
    CHECK(GetString(d, "__ow_method") == "post");
    CHECK(GetString(d, "__ow_path") == "/a/b");
    CHECK(d.HasMember("__ow_headers"));
    CHECK_FALSE(d.HasMember("__ow_user"));
    CHECK(r.Header("x-openwhisk-activation-id").has_value());

    // .http: status, headers and body come from the result.
    r = anon.Get("/api/v1/web/guest/default/webecho.http?mode=http");
    INFO(r.Describe());
    CHECK(r.status == 201);
    CHECK(r.Header("x-made-by") == "wisp");
    CHECK(r.body == "made get");
    // Without an extension: .http.
    r = anon.Get("/api/v1/web/guest/default/webecho?mode=http");
    CHECK(r.status == 201);

    // .html uses the html field.
    r = anon.Get("/api/v1/web/guest/default/webecho.html?mode=html");
    CHECK(r.status == 200);
    CHECK(r.body == "<p>hi</p>");
    CHECK(r.Header("content-type").value_or("").rfind("text/html", 0) == 0);

    // An application error renders result.error as the response.
    r = anon.Get("/api/v1/web/guest/default/webecho.http?mode=fail");
    CHECK(r.status == 418);
    CHECK(r.body == "teapot");

    // raw-http: the query string and body arrive unparsed.
    r = anon.Send({.method = "POST",
                   .path = "/api/v1/web/guest/default/rawecho.json?x=1&y=2",
                   .body = "plain words",
                   .headers = {"Content-Type: text/plain"},
                   .json_content_type = false});
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    d = ParseJson(r.body);
    CHECK(GetString(d, "__ow_query") == "x=1&y=2");
    CHECK(GetString(d, "__ow_body") == "plain words");
    CHECK_FALSE(d.HasMember("x"));

    // Overriding an __ow_ field is refused.
    r = anon.Get("/api/v1/web/guest/default/webecho.json?__ow_method=put");
    CHECK(r.status == 400);

    // require-whisk-auth with a secret: the header must match.
    CHECK(anon.Get("/api/v1/web/guest/default/secret.json").status == 401);
    r = anon.Send({.method = "GET",
                   .path = "/api/v1/web/guest/default/secret.json",
                   .headers = {"X-Require-Whisk-Auth: s3cret"}});
    CHECK(r.status == 200);

    // Credentials add __ow_user.
    r = http.Get("/api/v1/web/guest/default/webecho.json");
    REQUIRE(r.status == 200);
    CHECK(GetString(ParseJson(r.body), "__ow_user") == "guest");

    // Not exported, unknown action, unknown namespace: 404 alike.
    for (const char* path :
         {"/api/v1/web/guest/default/hidden.json", "/api/v1/web/guest/default/nothing.json",
          "/api/v1/web/nobody/default/webecho.json"}) {
        r = anon.Get(path);
        INFO(path);
        CHECK(r.status == 404);
        CHECK(GetString(ParseJson(r.body), "error") == "The requested resource does not exist.");
    }

    // OPTIONS answers with CORS without running the action.
    r = anon.Send({.method = "OPTIONS", .path = "/api/v1/web/guest/default/webecho.json"});
    CHECK(r.status == 200);
    CHECK(r.Header("access-control-allow-origin") == "*");
}

TEST_CASE("a key blocked with wisp-admin stops working within the auth cache TTL", "[e2e][auth]") {
    const std::string user = UniqueName("blocked");
    const std::string key = CreateUser(user);
    HttpClient http(Wisp().api_host(), key);
    REQUIRE(http.Get(Ns("/actions")).status == 200);  // now cached
    auto r = RunAdmin(Wisp().store_uri(), {"user", "block", user});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    // ControllerConfig::auth_cache_ttl is 5 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 200;
    while (std::chrono::steady_clock::now() < deadline) {
        status = http.Get(Ns("/actions")).status;
        if (status == 401) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    CHECK(status == 401);
    r = RunAdmin(Wisp().store_uri(), {"user", "unblock", user});
    REQUIRE(r.exit_code == 0);
}

TEST_CASE("--container-storage bounds the writable layer of action containers",
          "[e2e][standalone-only][startup][security]") {
    auto wisp = Standalone::Start({.args = {"--no-stem-cells", "--container-storage", "64"}});
    REQUIRE(wisp.ok());
    HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
    REQUIRE(http.Put(Ns("/actions/disk"), PythonAction(kEchoCode)).status == 200);
    auto r = http.Post(Ns("/actions/disk?blocking=true&result=true"), std::string("{}"));
    INFO(r.Describe());
    if (r.status == 200) {
        // A storage driver with size support (overlay2 on xfs+pquota, btrfs, zfs): the action ran
        // in a container created with the size.
        const std::string cmd = "docker ps -aq --filter name=wsk0-" +
                                std::to_string((*wisp)->port()) +
                                "_ | xargs -r docker inspect --format "
                                "'{{json .HostConfig.StorageOpt}}' 2>&1";
        std::string out;
        if (FILE* p = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
            ::pclose(p);
        }
        INFO(out);
        CHECK(out.find("\"size\":\"64M\"") != std::string::npos);
    } else {
        // Elsewhere Docker refuses the size: the flag reached the Engine API, and the run fails
        // as OpenWhisk's does when no container can be had.
        CHECK(r.status >= 500);
        CHECK((*wisp)->LogTail(1 << 16).find("--storage-opt") != std::string::npos);
    }
}

namespace {
/// Ids of the containers (running or not) labelled wisp.invoker=0-<port>.
std::string ContainersOf(int port) {
    const std::string cmd =
        "docker ps -aq --filter label=wisp.invoker=0-" + std::to_string(port) + " 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}
}  // namespace

TEST_CASE("a crashed standalone's containers are removed by the next start on any port",
          "[e2e][standalone-only][startup][security]") {
    wisp::testing::TempDir data("wisp-e2e-crash-");
    int crashed_port = 0;
    {
        auto first =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        REQUIRE(first.ok());
        crashed_port = (*first)->port();
        HttpClient http((*first)->api_host(), (*first)->guest_auth());
        REQUIRE(http.Put(Ns("/actions/left"), PythonAction(kEchoCode)).status == 200);
        auto r = http.Post(Ns("/actions/left?blocking=true&result=true"), std::string("{}"));
        REQUIRE(r.status == 200);
        REQUIRE_FALSE(ContainersOf(crashed_port).empty());
        (*first)->Kill();
        // Killed -9: nothing removed its warm container.
        CHECK_FALSE(ContainersOf(crashed_port).empty());
    }
    // The next start uses another port, yet owns the same data dir's containers. Hold the old
    // port meanwhile so the harness cannot pick it again.
    const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(holder >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(crashed_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // fails: taken anyway
    auto second =
        Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
    ::close(holder);
    REQUIRE(second.ok());
    REQUIRE((*second)->port() != crashed_port);
    // Orphans are removed during start-up; allow a loaded machine some time.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!ContainersOf(crashed_port).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
    }
    CHECK(ContainersOf(crashed_port).empty());
}

namespace {
/// Ids of the network sandboxes labelled wisp.network-sandbox=0-<port>, one a line: running
/// ones only with `running`, else all.
std::string SandboxesOf(int port, bool running = false) {
    const std::string cmd = std::string(running ? "docker ps -q" : "docker ps -aq") +
                            " --filter label=wisp.network-sandbox=0-" + std::to_string(port) +
                            " 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

/// The NetworkMode of the container of action `action` of the standalone on `port`.
std::string NetworkModeOf(int port, const std::string& action) {
    const std::string cmd =
        "docker ps -aq --filter label=wisp.invoker=0-" + std::to_string(port) +
        " --filter name=_guest_" + action +
        " | xargs -r docker inspect --format '{{.HostConfig.NetworkMode}}' 2>&1";
    std::string out;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

/// Waits (up to 120 s: a loaded machine) until the standalone on `port` runs `n` network
/// sandboxes. They are made one after the other, so with 2 running the first is ready to take.
bool WaitForSandbox(int port, int n = 1) {
    auto count = [&] {
        const std::string ids = SandboxesOf(port, true);
        return static_cast<int>(std::count(ids.begin(), ids.end(), '\n'));
    };
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (count() < n && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
    }
    return count() >= n;
}
}  // namespace

TEST_CASE("network sandboxes are removed at shutdown and, after a kill -9, by the next start",
          "[e2e][standalone-only][startup][network-sandbox]") {
    wisp::testing::TempDir data("wisp-e2e-sandbox-");
    const std::vector<std::string> args = {"--no-stem-cells", "--docker-network-sandboxes", "2"};
    {
        // The sandboxes are made after the first container's create.
        auto wisp = Standalone::Start({.args = args, .data_dir = data.path().string()});
        REQUIRE(wisp.ok());
        const int port = (*wisp)->port();
        HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
        REQUIRE(http.Put(Ns("/actions/first"), PythonAction(kEchoCode)).status == 200);
        REQUIRE(
            http.Post(Ns("/actions/first?blocking=true&result=true"), std::string("{}")).status ==
            200);
        REQUIRE(WaitForSandbox(port, 2));
        // The next new action's container joins one (and still answers).
        REQUIRE(http.Put(Ns("/actions/second"), PythonAction(kEchoCode)).status == 200);
        auto r =
            http.Post(Ns("/actions/second?blocking=true&result=true"), std::string(R"({"x":1})"));
        INFO(r.Describe());
        REQUIRE(r.status == 200);
        CHECK(r.body.find("\"x\":1") != std::string::npos);
        CHECK(NetworkModeOf(port, "second").starts_with("container:"));
        CHECK(NetworkModeOf(port, "first").starts_with("wisp-actions"));
        REQUIRE(WaitForSandbox(port));
        // SIGTERM: the standalone removes the ready ones and those its containers joined.
        (*wisp)->Stop();
        CHECK(SandboxesOf(port).empty());
    }
    int crashed_port = 0;
    {
        auto first = Standalone::Start({.args = args, .data_dir = data.path().string()});
        REQUIRE(first.ok());
        crashed_port = (*first)->port();
        HttpClient http((*first)->api_host(), (*first)->guest_auth());
        REQUIRE(http.Put(Ns("/actions/left"), PythonAction(kEchoCode)).status == 200);
        REQUIRE(
            http.Post(Ns("/actions/left?blocking=true&result=true"), std::string("{}")).status ==
            200);
        REQUIRE(WaitForSandbox(crashed_port));
        (*first)->Kill();
        CHECK_FALSE(SandboxesOf(crashed_port).empty());
    }
    // The next start on the same data dir (another port, sandboxes off) removes what the killed
    // one left.
    auto second =
        Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
    REQUIRE(second.ok());
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!SandboxesOf(crashed_port).empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(200ms);
    }
    CHECK(SandboxesOf(crashed_port).empty());
    CHECK(ContainersOf(crashed_port).empty());
}

// The web console (issue 16): the real binary serves the page it embeds, the page's script comes
// back as JavaScript, and the standalone prints the one-click sign-in link next to `wsk property
// set`. A build without the console (WISP_CONSOLE off, or node < 20.19) answers 404 instead.
TEST_CASE("the web console is served at /console/ and its sign-in link printed",
          "[e2e][standalone-only][console]") {
    auto wisp = Standalone::Start({.args = {"--no-stem-cells"}});
    INFO(wisp.status().message());
    REQUIRE(wisp.ok());
    HttpClient anonymous((*wisp)->api_host(), "");
    const std::string link = (*wisp)->api_host() + "/console/#key=" + (*wisp)->guest_auth();
    const std::string log = (*wisp)->LogTail(1 << 20);
    auto page = anonymous.Get("/console/");
    INFO(page.Describe());
#if WISP_CONSOLE_BUILT
    // stdout: "wsk property set ..." then "console: http://127.0.0.1:<port>/console/#key=<key>".
    const auto wsk_line = log.find("wsk property set --apihost ");
    REQUIRE(wsk_line != std::string::npos);
    const auto next = log.find('\n', wsk_line) + 1;
    CHECK(log.substr(next, log.find('\n', next) - next) == "console: " + link);

    REQUIRE(page.status == 200);
    CHECK(page.Header("content-type").value_or("") == "text/html; charset=utf-8");
    CHECK(page.Header("cache-control").value_or("") == "no-cache");
    CHECK(page.Header("content-security-policy").value_or("").find("script-src 'self'") !=
          std::string::npos);
    CHECK_FALSE(page.Header("access-control-allow-origin"));
    // <script type="module" crossorigin src="/console/assets/index-<hash>.js"></script>
    std::smatch m;
    REQUIRE(std::regex_search(page.body, m, std::regex("/console/assets/[A-Za-z0-9_.-]+\\.js")));
    auto script = anonymous.Get(m.str(0));
    INFO(m.str(0) << ": " << script.status);
    REQUIRE(script.status == 200);
    CHECK(script.Header("content-type").value_or("").rfind("text/javascript", 0) == 0);
    CHECK(script.Header("cache-control").value_or("") == "public, max-age=31536000, immutable");
    CHECK(script.body.size() > 1000);
    // Revalidation: the ETag answers 304.
    const auto etag = script.Header("etag");
    REQUIRE(etag);
    auto again = anonymous.Send({.path = m.str(0), .headers = {"If-None-Match: " + *etag}});
    CHECK(again.status == 304);
    // /console redirects to the page; other methods are refused.
    CHECK(anonymous.Get("/console").status == 301);
    CHECK(anonymous.Post("/console/", std::string("{}")).status == 405);
#else
    CHECK(log.find("console: ") == std::string::npos);
    CheckError(page, 404, "The console is not part of this build.");
#endif
    (*wisp)->Stop();
}
