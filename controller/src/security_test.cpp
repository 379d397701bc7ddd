// The controller's secrets and error texts (issue 9): the auth cache keyed by uuid, failed
// authentications limited per client address, /metrics for operators only, internal error texts
// kept in the log, require-whisk-auth compared whole. Driven without sockets; client addresses
// are only strings here (no traffic leaves the process).
#include <atomic>
#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <rapidjson/document.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "authenticator.hpp"
#include "web_action.hpp"

namespace wisp::controller {
namespace {

using common::Base64Encode;

/// Delegates to a real store; counts identity lookups and fails chosen calls.
class FaultyStore final : public store::ArtifactStore {
  public:
    explicit FaultyStore(std::unique_ptr<store::ArtifactStore> inner) : inner_(std::move(inner)) {}

    std::atomic<int> identity_lookups{0};
    /// Set: ListEntities answers it.
    std::optional<absl::Status> list_error;
    /// GetEntity throws.
    std::atomic<bool> get_throws{false};

    absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& e,
                                          std::string_view rev) override {
        return inner_->PutEntity(e, rev);
    }
    absl::StatusOr<store::Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) override {
        if (get_throws) throw std::runtime_error("bad_alloc in /srv/wisp/secret-module");
        return inner_->GetEntity(type, fqn);
    }
    absl::Status DeleteEntity(common::EntityType type, const common::FullyQualifiedName& fqn,
                              std::string_view rev) override {
        return inner_->DeleteEntity(type, fqn, rev);
    }
    absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path,
        const store::ListOptions& opts) override {
        if (list_error) return *list_error;
        return inner_->ListEntities(type, path, opts);
    }
    absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                          const common::EntityPath& path) override {
        return inner_->CountEntities(type, path);
    }
    absl::StatusOr<store::Revisioned<common::Subject>> GetSubject(std::string_view s) override {
        return inner_->GetSubject(s);
    }
    absl::StatusOr<std::string> PutSubject(const common::Subject& s,
                                           std::string_view rev) override {
        return inner_->PutSubject(s, rev);
    }
    absl::Status DeleteSubject(std::string_view s, std::string_view rev) override {
        return inner_->DeleteSubject(s, rev);
    }
    absl::StatusOr<std::vector<common::Subject>> ListSubjects() override {
        return inner_->ListSubjects();
    }
    absl::StatusOr<common::Identity> GetIdentityByKey(const common::AuthKey& key) override {
        ++identity_lookups;
        return inner_->GetIdentityByKey(key);
    }
    absl::StatusOr<std::vector<common::Identity>> ListIdentitiesInNamespace(
        std::string_view ns) override {
        return inner_->ListIdentitiesInNamespace(ns);
    }
    absl::StatusOr<store::Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) override {
        return inner_->GetLimits(ns);
    }
    absl::Status PutLimits(std::string_view ns, const common::NamespaceLimits& l) override {
        return inner_->PutLimits(ns, l);
    }
    absl::Status DeleteLimits(std::string_view ns) override { return inner_->DeleteLimits(ns); }
    absl::Status PutActivation(const common::ActivationRecord& r) override {
        return inner_->PutActivation(r);
    }
    absl::Status CreateActivation(const common::ActivationRecord& r) override {
        return inner_->CreateActivation(r);
    }
    absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override {
        return inner_->GetActivation(ns, id);
    }
    absl::Status DeleteActivation(std::string_view ns, const common::ActivationId& id) override {
        return inner_->DeleteActivation(ns, id);
    }
    absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const store::ActivationQuery& q) override {
        return inner_->ListActivations(q);
    }
    absl::Status PutJournalEntries(std::vector<store::JournalEntry>& entries) override {
        return inner_->PutJournalEntries(entries);
    }
    absl::StatusOr<std::vector<store::JournalEntry>> ListJournalEntries(std::string_view c,
                                                                        int64_t limit) override {
        return inner_->ListJournalEntries(c, limit);
    }
    absl::Status RemoveJournalEntries(const std::vector<store::JournalEntry>& entries) override {
        return inner_->RemoveJournalEntries(entries);
    }
    absl::StatusOr<int64_t> CountActivations(const store::ActivationQuery& q) override {
        return inner_->CountActivations(q);
    }
    absl::StatusOr<std::string> PutSystemDoc(const store::SystemDoc& doc,
                                             std::string_view rev) override {
        return inner_->PutSystemDoc(doc, rev);
    }
    absl::StatusOr<store::SystemDoc> GetSystemDoc(std::string_view kind,
                                                  std::string_view id) override {
        return inner_->GetSystemDoc(kind, id);
    }
    absl::Status DeleteSystemDoc(std::string_view kind, std::string_view id,
                                 std::string_view rev) override {
        return inner_->DeleteSystemDoc(kind, id, rev);
    }
    absl::StatusOr<std::vector<store::SystemDoc>> ListSystemDocs(std::string_view kind,
                                                                 std::string_view id_prefix,
                                                                 std::string_view after_id,
                                                                 int64_t limit) override {
        return inner_->ListSystemDocs(kind, id_prefix, after_id, limit);
    }

  private:
    std::unique_ptr<store::ArtifactStore> inner_;
};

struct Fixture {
    FaultyStore* store = nullptr;
    std::unique_ptr<FaultyStore> owned_store;
    testing::FakeBalancer balancer;  // every activation succeeds with {}
    testing::ManualClock clock;
    std::unique_ptr<Controller> controller;
    const std::string guest = std::string(common::kGuestAuth);

    explicit Fixture(ControllerConfig config = {}) {
        owned_store =
            std::make_unique<FaultyStore>(store::OpenArtifactStore("sqlite::memory:").value());
        store = owned_store.get();
        common::Subject s;
        s.subject = "guest";
        s.namespaces.push_back({"guest", common::AuthKey::Parse(common::kGuestAuth).value()});
        REQUIRE(store->PutSubject(s, "").ok());
        clock.Set(1795000000000);
        controller = std::make_unique<Controller>(
            *store, balancer, common::RuntimeManifest::BuiltIn(), clock, std::move(config));
    }
    ~Fixture() {
        controller->Shutdown();
        balancer.Shutdown();
    }

    /// `authorization` is the header value as sent ("" = none).
    HttpResponse Send(std::string method, std::string target, std::string authorization,
                      std::string peer, std::string body = "",
                      std::vector<std::pair<std::string, std::string>> extra_headers = {}) {
        HttpRequest req;
        req.method = std::move(method);
        req.target = target;
        REQUIRE(ParseTarget(target, req.path, req.query));
        if (!authorization.empty()) req.headers.emplace_back("authorization", authorization);
        for (auto& h : extra_headers) req.headers.push_back(std::move(h));
        if (!body.empty()) req.headers.emplace_back("content-type", "application/json");
        req.body = std::move(body);
        req.remote_address = std::move(peer);
        std::promise<HttpResponse> p;
        auto f = p.get_future();
        controller->Handle(std::move(req), [&p](HttpResponse r) { p.set_value(std::move(r)); });
        REQUIRE(f.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
        return f.get();
    }
    std::string Basic(std::string_view uuid_key) const { return "Basic " + Base64Encode(uuid_key); }
};

rapidjson::Document ParseBody(const std::string& s) {
    auto v = common::JsonValue::Parse(s);
    REQUIRE(v.ok());
    rapidjson::Document d;
    v->ToRapid(d);
    return d;
}

/// Checks an OpenWhisk error body {"error":msg,"code":tid} whose code is the X-Request-ID.
void CheckErrorBody(const HttpResponse& r, int status, std::string_view msg) {
    INFO(r.body);
    CHECK(r.status == status);
    CHECK(r.Header("Content-Type") == "application/json");
    auto d = ParseBody(r.body);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    REQUIRE(d.HasMember("code"));
    CHECK(std::string(d["error"].GetString()) == msg);
    CHECK(std::string(d["code"].GetString()) == r.Header("X-Request-ID"));
}

constexpr const char* kActions = "/api/v1/namespaces/_/actions";
constexpr const char* kRemote = "192.0.2.10";  // TEST-NET-1: a string here, never dialled

/// Captures what the controller logs while alive.
struct LogCapture {
    std::ostringstream out;
    std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();
    LogCapture() {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    }
    ~LogCapture() { spdlog::set_default_logger(previous); }
    std::string text() {
        spdlog::default_logger()->flush();
        return out.str();
    }
};

}  // namespace

TEST_CASE("auth cache: keyed by the parsed uuid, never by the raw header", "[controller][auth]") {
    Fixture f;
    auto r = f.Send("GET", kActions, f.Basic(f.guest), kRemote);
    REQUIRE(r.status == 200);
    REQUIRE(f.store->identity_lookups == 1);

    // Other spellings of the same credentials hit the cached entry: no store lookup.
    for (const std::string& header :
         {"basic " + Base64Encode(f.guest), "BASIC   " + Base64Encode(f.guest) + "  ",
          "Basic " + Base64Encode(f.guest) + " "}) {
        INFO(header);
        CHECK(f.Send("GET", kActions, header, kRemote).status == 200);
    }
    CHECK(f.store->identity_lookups == 1);

    // A wrong key for the cached uuid is never accepted, whatever its length.
    const std::string uuid = f.guest.substr(0, f.guest.find(':'));
    std::string wrong = f.guest;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';
    for (const std::string& key : {wrong, uuid + ":" + std::string(64, 'A'),
                                   uuid + ":" + f.guest.substr(f.guest.find(':') + 1, 63)}) {
        INFO(key);
        r = f.Send("GET", kActions, f.Basic(key), kRemote);
        CheckErrorBody(r, 401, kMsgAuthInvalid);
    }
    // ... and the right one still works, still from the cache.
    const int lookups = f.store->identity_lookups;
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), kRemote).status == 200);
    CHECK(f.store->identity_lookups == lookups);

    // The entry expires: the next request asks the store again.
    f.clock.Advance(5001);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), kRemote).status == 200);
    CHECK(f.store->identity_lookups == lookups + 1);
}

TEST_CASE("failed authentications are limited per client address", "[controller][auth]") {
    ControllerConfig config;
    config.auth_failures_allowed = 3;
    config.auth_failure_window = std::chrono::milliseconds(60000);
    config.auth_failure_block = std::chrono::milliseconds(30000);
    Fixture f(config);
    const std::string attacker = "198.51.100.7";
    std::string wrong = f.guest;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';

    // Failures spread over two windows never block.
    CHECK(f.Send("GET", kActions, f.Basic(wrong), attacker).status == 401);
    CHECK(f.Send("GET", kActions, "Basic !!notbase64", attacker).status == 401);
    f.clock.Advance(60000);
    CHECK(f.Send("GET", kActions, f.Basic(wrong), attacker).status == 401);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), attacker).status == 200);
    // No credentials at all is not a failure.
    for (int i = 0; i < 5; ++i) CHECK(f.Send("GET", kActions, "", attacker).status == 401);

    // The third failure within the window blocks the address...
    CHECK(f.Send("GET", kActions, f.Basic(wrong), attacker).status == 401);
    CHECK(f.Send("GET", kActions, f.Basic(wrong), attacker).status == 401);
    auto r = f.Send("GET", kActions, f.Basic(wrong), attacker);
    CheckErrorBody(r, 429, kMsgAuthFailuresExceeded);
    // ... for everything that needs credentials, the right key included.
    r = f.Send("GET", kActions, f.Basic(f.guest), attacker);
    CheckErrorBody(r, 429, kMsgAuthFailuresExceeded);
    // Other addresses are not affected.
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), kRemote).status == 200);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), "::1").status == 200);
    CHECK(f.Send("GET", kActions, f.Basic(wrong), kRemote).status == 401);

    // The block ends.
    f.clock.Advance(29999);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), attacker).status == 429);
    f.clock.Advance(1);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), attacker).status == 200);
    CHECK(f.Send("GET", kActions, f.Basic(wrong), attacker).status == 401);
}

TEST_CASE("failed authentications: IPv6 counted by /64, IPv4-mapped as IPv4",
          "[controller][auth]") {
    CHECK(FailureCountKey("198.51.100.7") == "198.51.100.7");
    CHECK(FailureCountKey("::ffff:198.51.100.7") == "198.51.100.7");
    CHECK(FailureCountKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
    CHECK(FailureCountKey("2001:db8:1:2::1") == "2001:db8:1:2::/64");
    CHECK(FailureCountKey("2001:db8:1:3::1") == "2001:db8:1:3::/64");
    CHECK(FailureCountKey("not an address") == "not an address");

    ControllerConfig config;
    config.auth_failures_allowed = 3;
    Fixture f(config);
    std::string wrong = f.guest;
    wrong.back() = wrong.back() == 'x' ? 'y' : 'x';
    // Three failures from three addresses of one /64 block the whole /64.
    for (const char* a : {"2001:db8::1", "2001:db8::2", "2001:db8::ffff:1"}) {
        CHECK(f.Send("GET", kActions, f.Basic(wrong), a).status == 401);
    }
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), "2001:db8::abcd").status == 429);
    CHECK(f.Send("GET", kActions, f.Basic(f.guest), "2001:db8:0:1::1").status == 200);
}

TEST_CASE("/metrics: loopback peers only when no token is configured", "[controller][metrics]") {
    Fixture f;
    REQUIRE(f.Send("PUT", std::string(kActions) + "/secret-action", f.Basic(f.guest), kRemote,
                   R"({"exec":{"kind":"python:3","code":"x"}})")
                .status == 200);
    REQUIRE(f.Send("POST", std::string(kActions) + "/secret-action?blocking=true", f.Basic(f.guest),
                   kRemote, "{}")
                .status == 200);

    for (const char* loopback : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}) {
        INFO(loopback);
        auto r = f.Send("GET", "/metrics", "", loopback);
        CHECK(r.status == 200);
        CHECK(r.body.find("action=\"secret-action\"") != std::string::npos);
        // No CORS: a web page in the operator's browser must not read it.
        CHECK(r.Header("Access-Control-Allow-Origin").empty());
    }
    // Anyone else, with any credentials, is refused and learns no name.
    for (const char* remote : {kRemote, "::ffff:192.0.2.10", "2001:db8::1", ""}) {
        for (const std::string& auth : {std::string(), f.Basic(f.guest), std::string("Bearer x")}) {
            INFO(remote << " " << auth);
            auto r = f.Send("GET", "/metrics", auth, remote);
            CheckErrorBody(r, 403,
                           "The supplied authentication is not authorized to access this "
                           "resource.");
            CHECK(r.body.find("secret-action") == std::string::npos);
            CHECK(r.body.find("guest") == std::string::npos);
        }
    }
    CHECK(f.Send("POST", "/metrics", "", "127.0.0.1").status == 405);
}

TEST_CASE("/metrics: a bearer token when one is configured", "[controller][metrics]") {
    ControllerConfig config;
    config.metrics_token = "m3trics-t0ken";
    {
        Fixture f(config);
        auto r = f.Send("GET", "/metrics", "Bearer m3trics-t0ken", kRemote);
        CHECK(r.status == 200);
        CHECK(r.body.find("# TYPE wisp_http_requests_total counter") != std::string::npos);
        CHECK(f.Send("GET", "/metrics", "bearer   m3trics-t0ken ", kRemote).status == 200);

        r = f.Send("GET", "/metrics", "", kRemote);
        CheckErrorBody(r, 401, kMsgAuthRequired);
        CHECK(r.Header("WWW-Authenticate").find("Bearer") == 0);
        // Loopback needs the token too, unless metrics_loopback.
        CheckErrorBody(f.Send("GET", "/metrics", "", "127.0.0.1"), 401, kMsgAuthRequired);
        for (const std::string& bad :
             {std::string("Bearer m3trics-t0kem"), std::string("Bearer m3trics-t0ke"),
              std::string("Bearer m3trics-t0ken2"), std::string("Bearer "), f.Basic(f.guest),
              std::string("m3trics-t0ken")}) {
            INFO(bad);
            CheckErrorBody(f.Send("GET", "/metrics", bad, kRemote), 401, kMsgAuthInvalid);
        }
    }
    config.metrics_loopback = true;
    Fixture f(config);
    CHECK(f.Send("GET", "/metrics", "", "127.0.0.1").status == 200);
    CHECK(f.Send("GET", "/metrics", "", kRemote).status == 401);
    CHECK(f.Send("GET", "/metrics", "Bearer m3trics-t0ken", kRemote).status == 200);
}

TEST_CASE("internal errors: the client gets the generic text and the id, the log the rest",
          "[controller][errors]") {
    LogCapture logs;
    Fixture f;
    const std::string tid = "tid4internal0error";
    const std::vector<std::pair<std::string, std::string>> with_tid = {{"x-request-id", tid}};

    f.store->list_error = absl::InternalError("SQLite /srv/wisp/secret.db: disk I/O error");
    auto r = f.Send("GET", kActions, f.Basic(f.guest), kRemote, "", with_tid);
    CheckErrorBody(r, 500, "There was an internal server error.");
    CHECK(ParseBody(r.body)["code"].GetString() == tid);
    CHECK(r.body.find("secret.db") == std::string::npos);
    CHECK(r.body.find("SQLite") == std::string::npos);

    // A store that cannot be reached: 503 with no URL (nor its credentials) in the body.
    f.store->list_error =
        absl::UnavailableError("CouchDB at http://admin:pw0rd@db.internal:5984 is unreachable");
    r = f.Send("GET", kActions, f.Basic(f.guest), kRemote);
    CheckErrorBody(r, 503,
                   "The server is currently unavailable (because it is overloaded or down for "
                   "maintenance).");
    CHECK(r.body.find("db.internal") == std::string::npos);
    const std::string unavailable_tid(r.Header("X-Request-ID"));
    f.store->list_error.reset();

    // An exception: the same generic answer.
    f.store->get_throws = true;
    r = f.Send("GET", std::string(kActions) + "/a", f.Basic(f.guest), kRemote);
    CheckErrorBody(r, 500, "There was an internal server error.");
    CHECK(r.body.find("secret-module") == std::string::npos);
    const std::string thrown_tid(r.Header("X-Request-ID"));
    f.store->get_throws = false;

    // User errors keep their OpenWhisk text.
    CheckErrorBody(f.Send("GET", std::string(kActions) + "/nothere", f.Basic(f.guest), kRemote),
                   404, "The requested resource does not exist.");

    const std::string log = logs.text();
    INFO(log);
    CHECK(log.find("[" + tid + "]") != std::string::npos);
    CHECK(log.find("secret.db: disk I/O error") != std::string::npos);
    CHECK(log.find("[" + unavailable_tid + "]") != std::string::npos);
    CHECK(log.find("http://admin:***@db.internal:5984") != std::string::npos);
    CHECK(log.find("pw0rd") == std::string::npos);
    CHECK(log.find("[" + thrown_tid + "]") != std::string::npos);
    CHECK(log.find("secret-module") != std::string::npos);
}

TEST_CASE("require-whisk-auth: the whole secret must match", "[controller][web]") {
    auto annotations =
        common::Parameters::FromObjectJson(R"({"require-whisk-auth":"s3cret"})").value();
    HttpRequest req;
    req.method = "GET";
    CHECK_FALSE(web::RequireWhiskAuthAllows(annotations, req, true));
    req.headers.emplace_back("x-require-whisk-auth", "s3cret");
    CHECK(web::RequireWhiskAuthAllows(annotations, req, false));
    for (const char* wrong : {"s3cre", "s3cretx", "s3creT", "", "S3CRET"}) {
        INFO(wrong);
        req.headers.back().second = wrong;
        CHECK_FALSE(web::RequireWhiskAuthAllows(annotations, req, false));
    }
}

}  // namespace wisp::controller
