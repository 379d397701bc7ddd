// CouchDB-specific integration tests against a real pouchdb-server: what lands in CouchDB has
// OpenWhisk's shape, start-up creates databases and views, documents written by OpenWhisk's own
// tools are read, failures say where CouchDB is, credentials are sent and never echoed.
// (Behaviour common to every backend is in tests/contract/.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <absl/strings/escaping.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/bounded_json.hpp>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/store/couchdb_artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/ports.hpp>

#include <wisp/testing/pouchdb_server.hpp>
#include "couchdb_client.hpp"
#include "design_documents.hpp"

namespace {

using namespace wisp;
using store::CouchDbArtifactStore;
using store::CouchDbConfig;
using store::couchdb::Cat;
using testing::PouchDbServer;

PouchDbServer& Server() {
    auto server = PouchDbServer::Shared();
    if (!server.ok()) FAIL(server.status().ToString());
    return **server;
}

CouchDbConfig FreshConfig() {
    auto config = CouchDbConfig::FromUri(Server().StoreUri(PouchDbServer::UniquePrefix()));
    REQUIRE(config.ok());
    return *config;
}

std::unique_ptr<CouchDbArtifactStore> OpenFresh(CouchDbConfig config = FreshConfig()) {
    auto store = CouchDbArtifactStore::Open(config);
    if (!store.ok()) FAIL(store.status().ToString());
    return std::move(*store);
}

/// A raw document straight from CouchDB.
rapidjson::Document RawGet(const CouchDbConfig& config, const std::string& db,
                           const std::string& id) {
    store::couchdb::CouchDbClient client(config);
    auto r = client.Request("GET", Cat("/", db, "/", store::couchdb::Encode(id)));
    REQUIRE(r.ok());
    INFO(r->body);
    REQUIRE(r->status == 200);
    rapidjson::Document doc;
    (void)wisp::json::ParseBounded(r->body, doc);
    REQUIRE(doc.IsObject());
    return doc;
}

void RawPut(const CouchDbConfig& config, const std::string& db, const std::string& id,
            const std::string& json) {
    store::couchdb::CouchDbClient client(config);
    auto r = client.Request("PUT", Cat("/", db, "/", store::couchdb::Encode(id)), json);
    REQUIRE(r.ok());
    INFO(r->body);
    REQUIRE(r->status == 201);
}

std::string Str(const rapidjson::Value& v, const char* member) {
    REQUIRE(v.HasMember(member));
    REQUIRE(v[member].IsString());
    return v[member].GetString();
}

common::EntityPath Path(std::string_view p) { return *common::EntityPath::Parse(p); }

common::Action MakeAction(std::string_view path, std::string_view name) {
    common::Action a;
    a.namespace_path = Path(path);
    a.name = std::string(name);
    a.exec = common::CodeExec{.kind = "nodejs:20", .code = "function main() {}"};
    a.updated_ms = 1700000000123;
    return a;
}

}  // namespace

TEST_CASE("Open creates the three databases and OpenWhisk's design documents",
          "[couchdb][integration]") {
    const CouchDbConfig config = FreshConfig();
    auto store = OpenFresh(config);
    store::couchdb::CouchDbClient client(config);
    auto dbs = client.Request("GET", "/_all_dbs");
    REQUIRE(dbs.ok());
    for (const char* db :
         {"whisks", "subjects", "activations", "activation_journal", "system_docs"}) {
        CHECK(absl::StrContains(dbs->body, Cat("\"", config.db_prefix, db, "\"")));
    }
    CHECK(store->whisks_db() == config.db_prefix + "whisks");
    for (const auto& d : store::couchdb::AllDesignDocuments()) {
        const std::string db = d.db == store::couchdb::Database::kWhisks ? store->whisks_db()
                               : d.db == store::couchdb::Database::kSubjects
                                   ? store->subjects_db()
                                   : store->activations_db();
        rapidjson::Document doc = RawGet(config, db, Cat("_design/", d.name));
        for (const auto& v : d.views) CHECK(doc["views"].HasMember(std::string(v.name).c_str()));
    }
    // OpenWhisk's names.
    CHECK(
        RawGet(config, store->whisks_db(), "_design/whisks.v2.1.0")["views"].HasMember("actions"));
    CHECK(RawGet(config, store->subjects_db(), "_design/subjects.v2.0.0")["views"].HasMember(
        "identities"));
    CHECK(
        RawGet(config, store->activations_db(), "_design/whisks-filters.v2.1.1")["views"].HasMember(
            "activations"));

    SECTION("opening again keeps the design documents untouched") {
        const std::string rev =
            Str(RawGet(config, store->whisks_db(), "_design/whisks.v2.1.0"), "_rev");
        auto again = OpenFresh(config);
        CHECK(Str(RawGet(config, store->whisks_db(), "_design/whisks.v2.1.0"), "_rev") == rev);
    }
    SECTION("an outdated design document is replaced") {
        rapidjson::Document old = RawGet(config, store->whisks_db(), "_design/whisks.v2.1.0");
        RawPut(config, store->whisks_db(), "_design/whisks.v2.1.0",
               Cat(R"({"_rev":")", Str(old, "_rev"),
                   R"(","views":{"actions":{"map":"function (doc) {}"}}})"));
        auto again = OpenFresh(config);
        CHECK(RawGet(config, store->whisks_db(), "_design/whisks.v2.1.0")["views"].HasMember(
            "triggers"));
    }
}

TEST_CASE("entities are stored as OpenWhisk whisks documents", "[couchdb][integration]") {
    const CouchDbConfig config = FreshConfig();
    auto store = OpenFresh(config);

    common::Action action = MakeAction("guest/pkg", "hello world");
    auto rev = store->PutEntity(action, "");
    REQUIRE(rev.ok());
    rapidjson::Document doc = RawGet(config, store->whisks_db(), "guest/pkg/hello world");
    CHECK(Str(doc, "_id") == "guest/pkg/hello world");
    CHECK(Str(doc, "_rev") == *rev);
    CHECK(Str(doc, "entityType") == "action");
    CHECK(Str(doc, "namespace") == "guest/pkg");
    CHECK(Str(doc, "name") == "hello world");
    CHECK(Str(doc, "version") == "0.0.1");
    CHECK(doc["updated"].GetInt64() == 1700000000123);
    REQUIRE(doc.HasMember("exec"));
    CHECK(Str(doc["exec"], "kind") == "nodejs:20");
    CHECK(doc.HasMember("limits"));
    CHECK(doc["annotations"].IsArray());

    common::Trigger trigger;
    trigger.namespace_path = Path("guest");
    trigger.name = "t";
    REQUIRE(store->PutEntity(trigger, "").ok());
    CHECK(Str(RawGet(config, store->whisks_db(), "guest/t"), "entityType") == "trigger");

    common::Rule rule;
    rule.namespace_path = Path("guest");
    rule.name = "r";
    rule.trigger = {Path("guest"), "t"};
    rule.action = {Path("guest/pkg"), "hello world"};
    REQUIRE(store->PutEntity(rule, "").ok());
    rapidjson::Document rule_doc = RawGet(config, store->whisks_db(), "guest/r");
    CHECK(Str(rule_doc, "entityType") == "rule");
    CHECK(rule_doc.HasMember("trigger"));

    common::Package package;
    package.namespace_path = Path("guest");
    package.name = "pkg";
    REQUIRE(store->PutEntity(package, "").ok());
    CHECK(Str(RawGet(config, store->whisks_db(), "guest/pkg"), "entityType") == "package");

    SECTION("a stale _rev is CouchDB's conflict, reported as Aborted") {
        auto updated = store->PutEntity(action, *rev);
        REQUIRE(updated.ok());
        CHECK(*updated != *rev);
        CHECK(absl::StartsWith(*updated, "2-"));
        CHECK(store->PutEntity(action, *rev).status().code() == absl::StatusCode::kAborted);
        CHECK(store->PutEntity(action, "garbage").status().code() == absl::StatusCode::kAborted);
        CHECK(store->DeleteEntity(common::EntityType::kAction, action.Fqn(), *rev).code() ==
              absl::StatusCode::kAborted);
    }
    SECTION("a document written by OpenWhisk (no entityType) is typed by its fields") {
        RawPut(config, store->whisks_db(), "guest/legacy",
               R"({"namespace":"guest","name":"legacy","version":"0.0.1","publish":false,)"
               R"("annotations":[],"parameters":[],"limits":{},"updated":1})");
        auto t = store->Get<common::Trigger>({Path("guest"), "legacy"});
        REQUIRE(t.ok());
        CHECK(t->doc.name == "legacy");
        CHECK(store->Get<common::Action>({Path("guest"), "legacy"}).status().code() ==
              absl::StatusCode::kFailedPrecondition);
    }
}

TEST_CASE("subjects, limits and activations have OpenWhisk's shapes", "[couchdb][integration]") {
    const CouchDbConfig config = FreshConfig();
    auto store = OpenFresh(config);

    common::Subject subject;
    subject.subject = "guest";
    subject.namespaces.push_back({"guest", *common::AuthKey::Parse(common::kGuestAuth)});
    REQUIRE(store->PutSubject(subject, "").ok());
    rapidjson::Document s = RawGet(config, store->subjects_db(), "guest");
    CHECK(Str(s, "_id") == "guest");
    CHECK(Str(s, "subject") == "guest");
    REQUIRE(s["namespaces"].IsArray());
    REQUIRE(s["namespaces"].Size() == 1);
    CHECK(Str(s["namespaces"][0], "name") == "guest");
    CHECK(Str(s["namespaces"][0], "uuid") == "23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
    CHECK(Str(s["namespaces"][0], "key").size() == 64);

    common::NamespaceLimits limits;
    limits.invocations_per_minute = 7;
    REQUIRE(store->PutLimits("guest", limits).ok());
    rapidjson::Document l = RawGet(config, store->subjects_db(), "guest/limits");
    CHECK(Str(l, "_id") == "guest/limits");
    CHECK(l["invocationsPerMinute"].GetInt() == 7);
    limits.invocations_per_minute = 8;
    REQUIRE(store->PutLimits("guest", limits).ok());  // last writer wins, no rev needed
    CHECK(RawGet(config, store->subjects_db(), "guest/limits")["invocationsPerMinute"].GetInt() ==
          8);
    // ListSubjects skips the limits document and the design documents.
    auto subjects = store->ListSubjects();
    REQUIRE(subjects.ok());
    REQUIRE(subjects->size() == 1);
    CHECK(subjects->front().subject == "guest");

    common::ActivationRecord record;
    record.namespace_path = Path("guest");
    record.name = "hello";
    record.subject = "guest";
    record.activation_id = *common::ActivationId::Parse("c7bb1339cb4f40e3a6ccead6c99f804e");
    record.start_ms = 1493327653767;
    record.end_ms = 1493327653769;
    record.response.status = common::ActivationStatus::kApplicationError;
    record.response.result = *common::JsonValue::Parse(R"({"error":"boom"})");
    REQUIRE(store->PutActivation(record).ok());
    rapidjson::Document a =
        RawGet(config, store->activations_db(), "guest/c7bb1339cb4f40e3a6ccead6c99f804e");
    CHECK(Str(a, "_id") == "guest/c7bb1339cb4f40e3a6ccead6c99f804e");
    CHECK(Str(a, "entityType") == "activation");
    CHECK(Str(a, "activationId") == "c7bb1339cb4f40e3a6ccead6c99f804e");
    CHECK(Str(a, "namespace") == "guest");
    CHECK(a["start"].GetInt64() == 1493327653767);
    REQUIRE(a.HasMember("response"));
    CHECK(a["response"]["statusCode"].GetInt() == 1);
    CHECK_FALSE(a["response"].HasMember("success"));

    SECTION("storing the same activation again replaces it") {
        record.response = {};
        REQUIRE(store->PutActivation(record).ok());
        REQUIRE(store->PutActivation(record).ok());
        auto got = store->GetActivation("guest", record.activation_id);
        REQUIRE(got.ok());
        CHECK(got->response.status == common::ActivationStatus::kSuccess);
        CHECK(absl::StartsWith(
            Str(RawGet(config, store->activations_db(), "guest/c7bb1339cb4f40e3a6ccead6c99f804e"),
                "_rev"),
            "3-"));
    }
}

TEST_CASE("system documents live in their own database as {kind, id, updated, body}",
          "[couchdb][integration][system-docs]") {
    const CouchDbConfig config = FreshConfig();
    auto store = OpenFresh(config);
    CHECK(store->system_db() == config.db_prefix + "system_docs");
    auto rev =
        store->PutSystemDoc({"alarm", "guest/every-minute",
                             R"({"cron":"* * * * *","payload":{"a":[1,2]}})", 1700000000000, ""},
                            "");
    REQUIRE(rev.ok());
    rapidjson::Document d = RawGet(config, store->system_db(), "alarm/guest/every-minute");
    CHECK(Str(d, "_id") == "alarm/guest/every-minute");
    CHECK(Str(d, "_rev") == *rev);
    CHECK(Str(d, "kind") == "alarm");
    CHECK(Str(d, "id") == "guest/every-minute");
    CHECK(d["updated"].GetInt64() == 1700000000000);
    REQUIRE(d["body"].IsObject());
    CHECK(Str(d["body"], "cron") == "* * * * *");
    CHECK_FALSE(d.HasMember("entityType"));  // no view of the other databases would see it anyway

    // A document another writer put there directly is read as long as it has the shape.
    RawPut(config, store->system_db(), "alarm/guest/raw",
           R"({"kind":"alarm","id":"guest/raw","updated":5,"body":{"x":1}})");
    auto raw = store->GetSystemDoc("alarm", "guest/raw");
    REQUIRE(raw.ok());
    CHECK(raw->body == R"({"x":1})");
    CHECK(raw->updated_ms == 5);
    // One without it is Internal naming the database and id, not a crash or a silent skip.
    RawPut(config, store->system_db(), "alarm/guest/broken", R"({"something":"else"})");
    auto broken = store->GetSystemDoc("alarm", "guest/broken");
    CHECK(broken.status().code() == absl::StatusCode::kInternal);
    CHECK(absl::StrContains(broken.status().message(), "alarm/guest/broken"));
    CHECK(store->ListSystemDocs("alarm", "guest/b", "", 10).status().code() ==
          absl::StatusCode::kInternal);
}

TEST_CASE("identities come from subject documents written by OpenWhisk's tools",
          "[couchdb][integration]") {
    const CouchDbConfig config = FreshConfig();
    auto store = OpenFresh(config);
    const std::string key(64, 'k');
    // What `wskadmin user create` writes, and a limits document.
    RawPut(config, store->subjects_db(), "someone",
           Cat(R"({"subject":"someone","namespaces":[{"name":"ns1","uuid":"u-1","key":")", key,
               R"("},{"name":"ns2","uuid":"u-2","key":")", key, R"("}]})"));
    RawPut(config, store->subjects_db(), "ns2/limits",
           R"({"concurrentInvocations":3,"allowedKinds":["nodejs:20"]})");

    auto id1 = store->GetIdentityByKey({"u-1", key});
    REQUIRE(id1.ok());
    CHECK(id1->subject == "someone");
    CHECK(id1->namespace_name == "ns1");
    CHECK(id1->limits.empty());
    auto id2 = store->GetIdentityByKey({"u-2", key});
    REQUIRE(id2.ok());
    CHECK(id2->namespace_name == "ns2");
    CHECK(id2->limits.concurrent_invocations == 3);
    CHECK(id2->limits.allowed_kinds == std::vector<std::string>{"nodejs:20"});
    CHECK(store->GetIdentityByKey({"u-2", std::string(64, 'x')}).status().code() ==
          absl::StatusCode::kNotFound);

    // Blocking (as wskadmin user block does) hides every key of the subject.
    rapidjson::Document doc = RawGet(config, store->subjects_db(), "someone");
    RawPut(config, store->subjects_db(), "someone",
           Cat(R"({"_rev":")", Str(doc, "_rev"),
               R"(","subject":"someone","blocked":true,"namespaces":[{"name":"ns1",)"
               R"("uuid":"u-1","key":")",
               key, R"("}]})"));
    CHECK(store->GetIdentityByKey({"u-1", key}).status().code() == absl::StatusCode::kNotFound);
    auto in_ns = store->ListIdentitiesInNamespace("ns1");
    REQUIRE(in_ns.ok());
    CHECK(in_ns->empty());
}

TEST_CASE("an unreachable CouchDB is Unavailable and says where it is", "[couchdb][integration]") {
    auto port = testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    auto config = CouchDbConfig::FromUri(
        Cat("http://admin:hunter2pw@127.0.0.1:", *port, "?max_retries=2&initial_backoff_ms=1"));
    REQUIRE(config.ok());
    const auto start = std::chrono::steady_clock::now();
    auto store = CouchDbArtifactStore::Open(*config);
    REQUIRE_FALSE(store.ok());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    const std::string message(store.status().message());
    INFO(message);
    CHECK(store.status().code() == absl::StatusCode::kUnavailable);
    CHECK(
        absl::StartsWith(message, Cat("CouchDB at http://127.0.0.1:", *port, " is unreachable: ")));
    CHECK(absl::StrContains(message, "WISP_COUCHDB_URL"));
    CHECK(absl::StrContains(message, "3 attempts"));
    CHECK_FALSE(absl::StrContains(message, "hunter2pw"));
    CHECK_FALSE(absl::StrContains(message, "admin:"));
}

TEST_CASE("a write fails loudly when CouchDB goes away, and retries reach a returning server",
          "[couchdb][integration]") {
    auto port = testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    auto server = PouchDbServer::Start(*port);
    if (!server.ok()) FAIL(server.status().ToString());
    auto config = CouchDbConfig::FromUri(
        Cat((*server)->url(), "?prefix=gone_&max_retries=1&initial_backoff_ms=1"));
    REQUIRE(config.ok());
    auto store = OpenFresh(*config);
    server->reset();  // stops pouchdb-server

    common::Trigger trigger;
    trigger.namespace_path = Path("guest");
    trigger.name = "t";
    auto put = store->PutEntity(trigger, "");
    INFO(put.status().ToString());
    CHECK(put.status().code() == absl::StatusCode::kUnavailable);
    CHECK(absl::StartsWith(put.status().message(), "CouchDB at http://127.0.0.1:"));

    // A server that comes back during the retries is reached (in-memory: the data is gone, so
    // only Open is checked here).
    config->max_retries = 40;
    config->initial_backoff_ms = 100;  // 100, 200, 400, ... up to 5 s: well over a restart
    std::atomic<bool> opened{false};
    absl::Status open_status;
    std::thread opener([&] {
        auto again = CouchDbArtifactStore::Open(*config);
        open_status = again.status();
        opened = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto restarted = PouchDbServer::Start(*port);
    opener.join();
    REQUIRE(restarted.ok());
    CHECK(opened);
    CHECK(open_status.ok());
}

TEST_CASE("requests carry basic auth and Content-Type: application/json", "[couchdb]") {
    // A one-shot fake server that records the first request and answers 201.
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    REQUIRE(::listen(listener, 4) == 0);
    const int port = ntohs(addr.sin_port);
    std::string request;
    std::thread fake([&] {
        const int conn = ::accept(listener, nullptr, nullptr);
        if (conn < 0) return;
        char buf[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
            if (n <= 0) break;
            request.append(buf, static_cast<size_t>(n));
        }
        static constexpr std::string_view kAnswer =
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
            "Connection: close\r\n\r\n{\"ok\":true}";
        [[maybe_unused]] ssize_t sent = ::send(conn, kAnswer.data(), kAnswer.size(), MSG_NOSIGNAL);
        ::close(conn);
        ::shutdown(listener, SHUT_RDWR);
    });
    auto config = CouchDbConfig::FromUri(
        Cat("http://wisp:p%40ss@127.0.0.1:", port, "?prefix=auth_&max_retries=0"));
    REQUIRE(config.ok());
    auto store = CouchDbArtifactStore::Open(*config);  // fails after the first request
    fake.join();
    ::close(listener);
    INFO(request);
    CHECK(absl::StartsWith(request, "PUT /auth_whisks HTTP/1.1\r\n"));
    CHECK(
        absl::StrContains(request, Cat("Authorization: Basic ", absl::Base64Escape("wisp:p@ss"))));
    CHECK(absl::StrContains(request, "Content-Type: application/json"));
    REQUIRE_FALSE(store.ok());
    CHECK_FALSE(absl::StrContains(store.status().message(), "p@ss"));
    CHECK_FALSE(absl::StrContains(store.status().message(), "p%40ss"));
}

TEST_CASE("concurrent callers share the store safely", "[couchdb][integration]") {
    auto store = OpenFresh();
    constexpr int kThreads = 8, kPerThread = 10;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                common::ActivationRecord r;
                r.namespace_path = Path("guest");
                r.name = "a";
                r.activation_id = common::ActivationId::Generate();
                r.start_ms = 1000 + t * kPerThread + i;
                if (!store->PutActivation(r).ok()) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    store::ActivationQuery q;
    q.namespace_name = "guest";
    auto count = store->CountActivations(q);
    REQUIRE(count.ok());
    CHECK(*count == kThreads * kPerThread);
    q.limit = 5;
    auto newest = store->ListActivations(q);
    REQUIRE(newest.ok());
    REQUIRE(newest->size() == 5);
    CHECK(newest->front().start_ms == 1000 + kThreads * kPerThread - 1);
}

TEST_CASE("OpenArtifactStore opens couchdb: URIs", "[couchdb][integration]") {
    auto store =
        store::OpenArtifactStore(Cat("couchdb:", Server().StoreUri(PouchDbServer::UniquePrefix())));
    if (!store.ok()) FAIL(store.status().ToString());
    common::Trigger trigger;
    trigger.namespace_path = Path("guest");
    trigger.name = "t";
    CHECK((*store)->PutEntity(trigger, "").ok());

    auto port = testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    auto closed = store::OpenArtifactStore(
        Cat("couchdb:http://admin:hunter2pw@127.0.0.1:", *port, "?max_retries=0"));
    CHECK(closed.status().code() == absl::StatusCode::kUnavailable);
    CHECK_FALSE(absl::StrContains(closed.status().message(), "hunter2pw"));
    CHECK(store::OpenArtifactStore("couchdb:ftp://x").status().code() ==
          absl::StatusCode::kInvalidArgument);
}
