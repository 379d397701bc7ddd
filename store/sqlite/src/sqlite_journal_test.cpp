// The SQLite store removes an activation's journal entry in its record's transaction, so that
// the journal's sweeper has nothing to look up or remove (controller/README.md, "No accepted
// activation lost"); only the entries of controllers this store object journaled for.
#include <stdlib.h>
#include "sqlite_scratch_dir_test.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/activation.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>

namespace {

using wisp::common::ActivationId;
using wisp::common::ActivationRecord;
using wisp::store::JournalEntry;

using wisp::store::testing::ScratchDir;

ActivationRecord Record(std::string_view name) {
    ActivationRecord r;
    r.namespace_path = wisp::common::EntityPath({"guest"});
    r.name = std::string(name);
    r.subject = "guest";
    r.activation_id = ActivationId::Generate();
    r.start_ms = 1000;
    r.end_ms = 1005;
    return r;
}

JournalEntry Entry(std::string controller, const ActivationRecord& r) {
    JournalEntry e;
    e.controller = std::move(controller);
    e.record = r;
    e.recover_after_ms = 181000;
    return e;
}

std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

TEST_CASE("sqlite store: a record's write removes its activation's journal entry",
          "[sqlite][journal]") {
    ScratchDir dir;
    auto store = wisp::store::SqliteArtifactStore::Open(dir.File("wisp.db"));
    REQUIRE(store.ok());
    const ActivationRecord a = Record("a"), b = Record("b"), c = Record("c");
    std::vector<JournalEntry> entries{Entry("0", a), Entry("0", b), Entry("0", c)};
    REQUIRE((*store)->PutJournalEntries(entries).ok());
    CHECK(Sorted((*store)->ListJournalIds("0").value()) ==
          Sorted({a.activation_id.str(), b.activation_id.str(), c.activation_id.str()}));

    // The group commit (the invoker's records) and the single write (the controller's).
    const std::vector<ActivationRecord> batch{a};
    auto statuses = (*store)->CreateActivations(batch);
    REQUIRE(statuses.ok());
    CHECK((*statuses)[0].ok());
    REQUIRE((*store)->CreateActivation(b).ok());
    CHECK((*store)->ListJournalIds("0").value() == std::vector{c.activation_id.str()});
    auto left = (*store)->ListJournalEntries("0", 0).value();
    REQUIRE(left.size() == 1);
    CHECK(left[0].record.activation_id == c.activation_id);
    CHECK((*store)->HasActivation("guest", a.activation_id).value());
    CHECK((*store)->HasActivation("guest", b.activation_id).value());

    // A record that exists already (AlreadyExists) still finishes an entry written after it
    // (a StoreLater entry whose record landed meanwhile).
    std::vector<JournalEntry> again{Entry("0", a)};
    REQUIRE((*store)->PutJournalEntries(again).ok());
    CHECK((*store)->CreateActivation(a).code() == absl::StatusCode::kAlreadyExists);
    CHECK((*store)->ListJournalIds("0").value() == std::vector{c.activation_id.str()});
    CHECK((*store)->ListJournalIds("1").value().empty());
}

TEST_CASE("sqlite store: records remove only entries of controllers this object journaled for",
          "[sqlite][journal]") {
    // Another process on the same file (another controller id) keeps its own entries: its
    // sweeper looks their records up as before.
    ScratchDir dir;
    auto mine = wisp::store::SqliteArtifactStore::Open(dir.File("wisp.db"));
    auto theirs = wisp::store::SqliteArtifactStore::Open(dir.File("wisp.db"));
    REQUIRE(mine.ok());
    REQUIRE(theirs.ok());
    const ActivationRecord a = Record("a"), b = Record("b");
    std::vector<JournalEntry> my_entries{Entry("0", a)};
    std::vector<JournalEntry> their_entries{Entry("1", b)};
    REQUIRE((*mine)->PutJournalEntries(my_entries).ok());
    REQUIRE((*theirs)->PutJournalEntries(their_entries).ok());
    const std::vector<ActivationRecord> batch{a, b};
    auto statuses = (*mine)->CreateActivations(batch);
    REQUIRE(statuses.ok());
    CHECK((*mine)->ListJournalIds("0").value().empty());
    CHECK((*mine)->ListJournalIds("1").value() == std::vector{b.activation_id.str()});
}
