// The SQLite backend of the ArtifactStore contract suite, plus what only SQLite has: files that
// survive a reopen, two stores (processes) on one file, URIs.
//
// WISP_CONTRACT_SQLITE=memory runs the suite on ":memory:" stores; anything else (the default)
// on a fresh WAL database file per test case, which exercises the reader pool.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sqlite3.h>

#include <wisp/common/status.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "contract_backend.hpp"

namespace wisp::contract {

namespace {

bool MemoryMode() {
    const char* mode = std::getenv("WISP_CONTRACT_SQLITE");
    return mode != nullptr && std::string_view(mode) == "memory";
}

wisp::testing::TempDir& SuiteDir() {
    static wisp::testing::TempDir dir("wisp-sqlite-contract-");
    return dir;
}

}  // namespace

std::unique_ptr<store::ArtifactStore> MakeFreshStore() {
    static std::atomic<int> counter{0};
    const std::string path =
        MemoryMode() ? ":memory:" : SuiteDir().File("store-" + std::to_string(counter++) + ".db");
    auto store = store::SqliteArtifactStore::Open(path);
    INFO("SqliteArtifactStore::Open(" << path << "): " << store.status().ToString());
    REQUIRE(store.ok());
    return std::move(store).value();
}

std::string BackendName() { return MemoryMode() ? "sqlite(:memory:)" : "sqlite(file)"; }

}  // namespace wisp::contract

namespace {

using namespace wisp::common;
using wisp::store::SqliteArtifactStore;

Action SampleAction(std::string_view name) {
    Action a;
    a.namespace_path = EntityPath(std::vector<std::string>{"guest"});
    a.name = std::string(name);
    a.updated_ms = 42;
    a.exec = CodeExec{.kind = "python:3.11", .code = "def main(a): return a", .main = "main"};
    a.parameters.Set("p", JsonValue::String("v"));
    return a;
}

std::unique_ptr<SqliteArtifactStore> OpenOrFail(const std::string& path) {
    auto store = SqliteArtifactStore::Open(path);
    INFO(path << ": " << store.status().ToString());
    REQUIRE(store.ok());
    return std::move(store).value();
}

TEST_CASE("sqlite: a file database survives reopening", "[sqlite]") {
    wisp::testing::TempDir dir;
    const std::string path = dir.File("wisp.db");
    Action action = SampleAction("persisted");
    Subject subject{"persisted-subject", {{"guest", AuthKey::Generate()}}, false};
    ActivationRecord record;
    record.namespace_path = EntityPath(std::vector<std::string>{"guest"});
    record.name = "persisted";
    record.subject = "persisted-subject";
    record.activation_id = ActivationId::Generate();
    record.start_ms = 1000;
    record.end_ms = 1010;
    record.response.result = JsonValue::EmptyObject();
    std::string rev;
    {
        auto store = OpenOrFail(path);
        CHECK(store->path() == path);
        auto put = store->PutEntity(action, "");
        REQUIRE(put.ok());
        rev = *put;
        REQUIRE(store->PutSubject(subject, "").ok());
        REQUIRE(store->PutActivation(record).ok());
        REQUIRE(store->PutLimits("guest", NamespaceLimits{.invocations_per_minute = 5}).ok());
        CHECK(std::filesystem::exists(path + "-wal"));  // WAL mode
    }
    auto store = OpenOrFail(path);
    auto got = store->Get<Action>(action.Fqn());
    REQUIRE(got.ok());
    CHECK(got->doc == action);
    CHECK(got->rev == rev);
    auto identity = store->GetIdentityByKey(subject.namespaces[0].auth);
    REQUIRE(identity.ok());
    CHECK(identity->limits.invocations_per_minute == 5);
    auto activation = store->GetActivation("guest", record.activation_id);
    REQUIRE(activation.ok());
    CHECK(*activation == record);
}

TEST_CASE("sqlite: two stores on one file share data and revisions", "[sqlite]") {
    // What happens when wisp-admin writes to the file a running server uses.
    wisp::testing::TempDir dir;
    const std::string path = dir.File("shared.db");
    auto server = OpenOrFail(path);
    auto admin = OpenOrFail(path);

    auto rev1 = server->PutEntity(SampleAction("a"), "");
    REQUIRE(rev1.ok());
    auto seen = admin->Get<Action>(SampleAction("a").Fqn());
    REQUIRE(seen.ok());
    CHECK(seen->rev == *rev1);

    Action changed = SampleAction("a");
    changed.updated_ms = 43;
    auto rev2 = admin->PutEntity(changed, *rev1);
    REQUIRE(rev2.ok());
    CHECK(server->PutEntity(SampleAction("a"), *rev1).status().code() ==
          absl::StatusCode::kAborted);
    auto latest = server->Get<Action>(changed.Fqn());
    REQUIRE(latest.ok());
    CHECK(latest->doc == changed);

    Subject s{"shared-subject", {{"shared", AuthKey::Generate()}}, false};
    REQUIRE(admin->PutSubject(s, "").ok());
    CHECK(server->GetIdentityByKey(s.namespaces[0].auth).ok());
}

TEST_CASE("sqlite: unusable paths fail with a status, not a crash", "[sqlite]") {
    wisp::testing::TempDir dir;
    SECTION("missing directory") {
        auto store = SqliteArtifactStore::Open(dir.File("no/such/dir/wisp.db"));
        REQUIRE(!store.ok());
        CHECK(store.status().code() == absl::StatusCode::kUnavailable);
    }
    SECTION("not a database") {
        const std::string path = dir.File("garbage.db");
        std::ofstream(path) << std::string(8192, 'x');
        auto store = SqliteArtifactStore::Open(path);
        REQUIRE(!store.ok());
        CHECK(store.status().message().find("garbage.db") != std::string_view::npos);
    }
    SECTION("empty path") {
        CHECK(SqliteArtifactStore::Open("").status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("sqlite: in-memory stores are independent", "[sqlite]") {
    auto a = OpenOrFail(":memory:");
    auto b = OpenOrFail(":memory:");
    REQUIRE(a->PutEntity(SampleAction("x"), "").ok());
    CHECK(b->Get<Action>(SampleAction("x").Fqn()).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("sqlite: OpenArtifactStore URIs", "[sqlite]") {
    wisp::testing::TempDir dir;
    SECTION("sqlite::memory:") {
        auto store = wisp::store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(store.ok());
        CHECK((*store)->PutEntity(SampleAction("m"), "").ok());
    }
    SECTION("sqlite:PATH creates missing parent directories") {
        const std::string path = dir.File("nested/deeper/wisp.db");
        auto store = wisp::store::OpenArtifactStore("sqlite:" + path);
        INFO(store.status().ToString());
        REQUIRE(store.ok());
        CHECK((*store)->PutEntity(SampleAction("f"), "").ok());
        CHECK(std::filesystem::exists(path));
    }
    SECTION("bad URIs") {
        CHECK(wisp::store::OpenArtifactStore("sqlite:").status().code() ==
              absl::StatusCode::kInvalidArgument);
        CHECK(wisp::store::OpenArtifactStore("mysql://x").status().code() ==
              absl::StatusCode::kInvalidArgument);
        CHECK(wisp::store::OpenArtifactStore("").status().code() ==
              absl::StatusCode::kInvalidArgument);
    }
}

}  // namespace

namespace {

ActivationRecord LoggedRecord(int64_t start_ms) {
    ActivationRecord r;
    r.namespace_path = EntityPath(std::vector<std::string>{"guest"});
    r.name = "soak";
    r.subject = "guest";
    r.activation_id = ActivationId::Generate();
    r.start_ms = start_ms;
    r.end_ms = start_ms + 3;
    r.response.result = JsonValue::EmptyObject();
    r.logs = {std::string(600, 'x')};
    return r;
}

/// Stores `n` records (start = `first_ms` + i) in batches of 100.
void StoreRecords(SqliteArtifactStore& store, int n, int64_t first_ms) {
    std::vector<ActivationRecord> batch;
    for (int i = 0; i < n; ++i) {
        batch.push_back(LoggedRecord(first_ms + i));
        if (batch.size() == 100 || i == n - 1) {
            auto st = store.CreateActivations(batch);
            REQUIRE(st.ok());
            batch.clear();
        }
    }
}

}  // namespace

TEST_CASE("sqlite: retention frees pages that later records reuse: the file stops growing",
          "[sqlite][retention]") {
    wisp::testing::TempDir dir;
    const std::string path = dir.File("wisp.db");
    constexpr int kRecords = 3000;
    {
        auto store = OpenOrFail(path);
        StoreRecords(*store, kRecords, 1000000);
    }  // the last connection checkpoints the WAL into the file and removes it
    const auto full = std::filesystem::file_size(path);
    {
        auto store = OpenOrFail(path);
        int64_t deleted = 0;
        while (true) {
            auto n = store->DeleteActivationsBefore(2000000, 500);
            REQUIRE(n.ok());
            if (*n == 0) break;
            deleted += *n;
        }
        CHECK(deleted == kRecords);
        StoreRecords(*store, kRecords, 3000000);  // as many again, newer
    }
    const auto after = std::filesystem::file_size(path);
    INFO("file after the first " << kRecords << " records: " << full << " bytes; after retention "
                                 << "and as many again: " << after << " bytes");
    CHECK(full > static_cast<uintmax_t>(kRecords) * 600);
    CHECK(after < full + full / 5);  // without the freelist reuse it would double
}

TEST_CASE("sqlite: a database from before system documents gets their table on open",
          "[sqlite][system-docs]") {
    wisp::testing::TempDir dir;
    const std::string path = dir.File("old.db");
    {
        auto store = OpenOrFail(path);
        REQUIRE(store->PutEntity(SampleAction("kept"), "").ok());
    }
    {  // what an older wisp left: the same schema version without the table
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "DROP TABLE system_docs", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    auto store = OpenOrFail(path);
    CHECK(store->Get<Action>(SampleAction("kept").Fqn()).ok());
    auto rev = store->PutSystemDoc({"alarm", "guest/t", R"({"cron":"* * * * *"})", 5, ""}, "");
    INFO(rev.status().ToString());
    REQUIRE(rev.ok());
    auto got = store->GetSystemDoc("alarm", "guest/t");
    REQUIRE(got.ok());
    CHECK(got->body == R"({"cron":"* * * * *"})");  // SQLite keeps the caller's text
    CHECK(got->rev == *rev);
}

TEST_CASE("sqlite: system document lists return at most 1000", "[sqlite][system-docs]") {
    auto store = OpenOrFail(":memory:");
    for (int i = 0; i < 1005; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "n/%04d", i);
        REQUIRE(store->PutSystemDoc({"claim", id, "{}", i, ""}, "").ok());
    }
    auto first = store->ListSystemDocs("claim", "n/", "", 5000);
    REQUIRE(first.ok());
    REQUIRE(first->size() == 1000);
    CHECK(first->front().id == "n/0000");
    CHECK(first->back().id == "n/0999");
    auto rest = store->ListSystemDocs("claim", "n/", first->back().id, 1000);
    REQUIRE(rest.ok());
    REQUIRE(rest->size() == 5);
    CHECK(rest->front().id == "n/1000");
    CHECK(rest->back().updated_ms == 1004);
}

TEST_CASE("sqlite: prefixes are byte ranges, whatever bytes they hold", "[sqlite][system-docs]") {
    auto store = OpenOrFail(":memory:");
    for (const std::string& id :
         {std::string("a"), std::string("a\xc3\xa9"), std::string("a\xc3\xa9z"),
          std::string("a\xf4\x8f\xbf\xbf"), std::string("b")}) {
        REQUIRE(store->PutSystemDoc({"raw", id, "{}", 0, ""}, "").ok());
    }
    auto ids = [&](std::string_view prefix) {
        auto list = store->ListSystemDocs("raw", prefix, "", 10);
        REQUIRE(list.ok());
        std::vector<std::string> out;
        for (const auto& d : *list) out.push_back(d.id);
        return out;
    };
    CHECK(ids("a\xc3") == std::vector<std::string>{"a\xc3\xa9", "a\xc3\xa9z"});  // half a character
    CHECK(ids("a\xf4\x8f\xbf\xbf") == std::vector<std::string>{"a\xf4\x8f\xbf\xbf"});
    CHECK(ids("a\xff").empty());     // no id has it; the range ends before "b"
    CHECK(ids("\xff\xff").empty());  // no upper bound at all
    CHECK(ids("a").size() == 4);
    // Default string_views are empty strings, not SQL NULLs.
    CHECK(ids(std::string_view()).size() == 5);
    auto after = store->ListSystemDocs("raw", std::string_view(), std::string_view(), 10);
    REQUIRE(after.ok());
    CHECK(after->size() == 5);
}
