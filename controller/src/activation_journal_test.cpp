// ActivationJournal: journaled before accepted, removed once recorded, recovered after a crash
// by the rule in activation_journal.hpp; StoreLater retries a record until the store takes it.
#include "activation_journal.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include <wisp/common/exec.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

namespace wisp::controller {
namespace {

using common::ActivationId;
using common::ActivationRecord;
using common::ActivationStatus;

ActivationRecord Pending(std::string_view name, int64_t start_ms) {
    ActivationRecord r;
    r.namespace_path = common::EntityPath({"guest"});
    r.name = std::string(name);
    r.subject = "guest";
    r.activation_id = ActivationId::Generate();
    r.start_ms = start_ms;
    r.annotations.Set("path", common::JsonValue::String(std::string("guest/") + std::string(name)));
    return r;
}

ActivationRecord Finished(ActivationRecord r, std::string_view result) {
    r.end_ms = r.start_ms + 5;
    r.response.status = ActivationStatus::kSuccess;
    r.response.result = common::JsonValue::Parse(result).value();
    return r;
}

ActivationJournalConfig TestConfig(bool recover_all = false) {
    return {.controller_id = "controller0",
            .recover_all_at_start = recover_all,
            .sweep_interval = std::chrono::milliseconds(0),
            .min_age = std::chrono::milliseconds(500)};
}

}  // namespace

TEST_CASE("journal: accepted entries are removed once their record exists", "[journal]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    testing::ManualClock clock;
    ActivationJournal journal(*store, clock, TestConfig());
    REQUIRE(journal.Sweep().ok());  // start: nothing earlier

    const ActivationRecord a = Pending("a", clock.NowMs());
    const ActivationRecord b = Pending("b", clock.NowMs());
    REQUIRE(journal.Accept(a, clock.NowMs() + 180000, false).ok());
    REQUIRE(journal.Accept(b, clock.NowMs() + 180000, false).ok());
    CHECK(store->ListJournalEntries("controller0", 0).value().size() == 2);

    REQUIRE(store->PutActivation(Finished(a, R"({"done":true})")).ok());
    REQUIRE(journal.Sweep().ok());
    CHECK(journal.pending() == 2);  // younger than min_age: not looked up yet
    clock.Advance(1000);
    REQUIRE(journal.Sweep().ok());
    CHECK(journal.pending() == 1);
    auto left = store->ListJournalEntries("controller0", 0).value();
    REQUIRE(left.size() == 1);
    CHECK(left[0].record.activation_id == b.activation_id);
    // b runs on: no record is invented before its deadline.
    CHECK(store->GetActivation("guest", b.activation_id).status().code() ==
          absl::StatusCode::kNotFound);
    // Its deadline passes without a record (its invoker died): the journal writes one.
    clock.Advance(180000);
    REQUIRE(journal.Sweep().ok());
    auto rec = store->GetActivation("guest", b.activation_id);
    REQUIRE(rec.ok());
    CHECK(rec->response.status == ActivationStatus::kWhiskError);
    CHECK(rec->response.result->text().find("forced completion timeout") != std::string::npos);
    CHECK(store->ListJournalEntries("controller0", 0).value().empty());
    CHECK(journal.pending() == 0);
}

TEST_CASE("journal: wisp-standalone recovers every entry of the crashed process at start",
          "[journal]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    testing::ManualClock clock;
    ActivationRecord finished = Pending("done", clock.NowMs());
    ActivationRecord interrupted = Pending("slow", clock.NowMs());
    ActivationRecord other_controller = Pending("elsewhere", clock.NowMs());
    {
        ActivationJournal crashed(*store, clock, TestConfig(true));
        REQUIRE(crashed.Accept(finished, clock.NowMs() + 180000, false).ok());
        REQUIRE(crashed.Accept(interrupted, clock.NowMs() + 180000, false).ok());
        ActivationJournal other(
            *store, clock,
            {.controller_id = "controller1", .sweep_interval = std::chrono::milliseconds(0)});
        REQUIRE(other.Accept(other_controller, clock.NowMs() + 180000, false).ok());
        // The invoker stored one record before the crash; the journal never saw it.
        REQUIRE(store->PutActivation(Finished(finished, R"({"real":1})")).ok());
    }  // kill -9: nothing more happens

    clock.Advance(1000);
    ActivationJournal restarted(*store, clock, TestConfig(true));
    REQUIRE(restarted.Sweep().ok());
    auto real = store->GetActivation("guest", finished.activation_id).value();
    CHECK(real.response.result->text() == R"({"real":1})");  // never overwritten
    auto rec = store->GetActivation("guest", interrupted.activation_id);
    REQUIRE(rec.ok());
    CHECK(rec->response.status == ActivationStatus::kWhiskError);
    CHECK(rec->response.result->text().find(std::string(kMsgInterruptedByRestart)) !=
          std::string::npos);
    CHECK(rec->name == "slow");
    CHECK(rec->annotations.Get("path")->AsString() == "guest/slow");
    CHECK(store->ListJournalEntries("controller0", 0).value().empty());
    // Another controller's entries are its own business.
    CHECK(store->GetActivation("guest", other_controller.activation_id).status().code() ==
          absl::StatusCode::kNotFound);
    CHECK(store->ListJournalEntries("controller1", 0).value().size() == 1);
}

TEST_CASE(
    "journal: a restarted distributed controller waits for the deadline of atomic "
    "activations but recovers sequences at once",
    "[journal]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    testing::ManualClock clock;
    ActivationRecord atomic = Pending("a", clock.NowMs());
    ActivationRecord seq = Pending("seq", clock.NowMs());
    seq.annotations.Set("kind", common::JsonValue::String(common::kSequenceKind));
    {
        ActivationJournal crashed(*store, clock, TestConfig(false));
        REQUIRE(crashed.Accept(atomic, clock.NowMs() + 180000, false).ok());
        REQUIRE(crashed.Accept(seq, clock.NowMs() + 180000, true).ok());
        // The first component ran and is stored; the sequence's progress is journaled.
        seq.logs.push_back(ActivationId::Generate().str());
        seq.response.status = ActivationStatus::kSuccess;
        crashed.Update(seq);
    }
    ActivationJournal restarted(*store, clock, TestConfig(false));
    REQUIRE(restarted.Sweep().ok());
    auto seq_rec = store->GetActivation("guest", seq.activation_id);
    REQUIRE(seq_rec.ok());
    CHECK(seq_rec->response.status == ActivationStatus::kWhiskError);
    CHECK(seq_rec->logs == seq.logs);
    CHECK(seq_rec->response.result->text().find("stopped after 1 component") != std::string::npos);
    // An invoker may still run the atomic one from the bus: no record yet.
    CHECK(store->GetActivation("guest", atomic.activation_id).status().code() ==
          absl::StatusCode::kNotFound);
    CHECK(restarted.pending() == 1);
    SECTION("its invoker finishes it: the entry goes, the record stays") {
        REQUIRE(store->PutActivation(Finished(atomic, R"({"late":true})")).ok());
        REQUIRE(restarted.Sweep().ok());
        CHECK(store->GetActivation("guest", atomic.activation_id)->response.success());
    }
    SECTION("nobody does: past its deadline it is recorded as interrupted") {
        clock.Advance(180001);
        REQUIRE(restarted.Sweep().ok());
        auto rec = store->GetActivation("guest", atomic.activation_id);
        REQUIRE(rec.ok());
        CHECK(rec->response.result->text().find(std::string(kMsgInterruptedByRestart)) !=
              std::string::npos);
    }
    CHECK(restarted.pending() == 0);
    CHECK(store->ListJournalEntries("controller0", 0).value().empty());
}

TEST_CASE("journal: concurrent accepts share store writes and none is lost", "[journal]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    testing::ManualClock clock;
    ActivationJournal journal(store, clock, TestConfig());
    constexpr int kThreads = 8, kEach = 50;
    std::vector<std::thread> threads;
    std::atomic<int> refused{0};  // Catch2 assertions only on the test's thread
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                if (!journal.Accept(Pending("a", clock.NowMs()), 1, false).ok()) ++refused;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(refused.load() == 0);
    CHECK(inner->ListJournalEntries("controller0", 0).value().size() == kThreads * kEach);
    CHECK(store.journal_writes.load() <= kThreads * kEach);
    CHECK(journal.pending() == kThreads * kEach);
}

TEST_CASE("journal: concurrent Done() removals share store calls (group commit)",
          "[journal][group-commit]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    testing::ManualClock clock;
    ActivationJournal journal(store, clock, TestConfig());
    REQUIRE(journal.Sweep().ok());
    constexpr int kEntries = 200;
    std::vector<ActivationRecord> accepted;
    for (int i = 0; i < kEntries; ++i) {
        accepted.push_back(Pending("a", clock.NowMs()));
        REQUIRE(journal.Accept(accepted.back(), clock.NowMs() + 180000, false).ok());
    }
    // The first Done() blocks in the store; the others queue behind it and return at once.
    store.Hang();
    std::thread first([&] { journal.Done(Finished(accepted[0], "{}")); });
    while (store.journal_removals.load() == 0) std::this_thread::yield();
    for (int i = 1; i < kEntries; ++i) journal.Done(Finished(accepted[i], "{}"));
    CHECK(journal.pending() == 0);
    store.Release();
    first.join();  // its next round removed what the others queued
    CHECK(inner->ListJournalEntries("controller0", 0).value().empty());
    CHECK(store.journal_removals.load() == 2);  // one store call each round, not one per Done
}

TEST_CASE("journal: the sweeper removes recorded entries in small batches", "[journal]") {
    // One store call per batch, never a second's worth of entries in one write transaction
    // (the request path's Accept waits for the write under way). A store without
    // ListJournalIds (CouchDB) is where the sweeper looks each record up and removes entries.
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    store.no_journal_ids = true;
    testing::ManualClock clock;
    ActivationJournalConfig config = TestConfig();
    config.sweep_remove_batch = 64;
    ActivationJournal journal(store, clock, config);
    REQUIRE(journal.Sweep().ok());
    constexpr int kEntries = 200;
    for (int i = 0; i < kEntries; ++i) {
        const ActivationRecord pending = Pending("a", clock.NowMs());
        REQUIRE(journal.Accept(pending, clock.NowMs() + 180000, false).ok());
        REQUIRE(inner->CreateActivation(Finished(pending, "{}")).ok());
    }
    clock.Advance(1000);
    REQUIRE(journal.Sweep().ok());
    CHECK(journal.pending() == 0);
    CHECK(inner->ListJournalEntries("controller0", 0).value().empty());
    CHECK(store.journal_removals.load() == (kEntries + 63) / 64);
}

TEST_CASE("journal: a store that is down refuses accepts; StoreLater stores when it is back",
          "[journal]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    testing::ManualClock clock;
    ActivationJournal journal(store, clock, TestConfig());
    REQUIRE(journal.Sweep().ok());
    ActivationRecord seq = Pending("seq", clock.NowMs());
    REQUIRE(journal.Accept(seq, clock.NowMs() + 1000, true).ok());

    store.down = true;
    const absl::Status refused = journal.Accept(Pending("a", clock.NowMs()), 1, false);
    CHECK(refused.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(refused.message()).find("the store is down") != std::string::npos);

    // The sequence ends while the store is down: the journal keeps its record.
    journal.StoreLater(Finished(seq, R"({"seq":"result"})"));
    CHECK_FALSE(journal.Sweep().ok());
    CHECK(journal.pending() == 1);
    store.down = false;
    REQUIRE(journal.Sweep().ok());
    auto rec = inner->GetActivation("guest", seq.activation_id);
    REQUIRE(rec.ok());
    CHECK(rec->response.result->text() == R"({"seq":"result"})");
    CHECK(journal.pending() == 0);
    CHECK(inner->ListJournalEntries("controller0", 0).value().empty());
}

TEST_CASE("journal: where the record's write removes the entry, the sweeper has nothing to do",
          "[journal]") {
    // SQLite removes an activation's entry in its record's transaction (CreateActivations,
    // the invoker's group commit): the sweeper forgets it without a lookup or a removal.
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    testing::ManualClock clock;
    ActivationJournal journal(store, clock, TestConfig());
    REQUIRE(journal.Sweep().ok());
    const ActivationRecord a = Pending("a", clock.NowMs());
    const ActivationRecord b = Pending("b", clock.NowMs());
    REQUIRE(journal.Accept(a, clock.NowMs() + 180000, false).ok());
    REQUIRE(journal.Accept(b, clock.NowMs() + 180000, false).ok());

    const std::vector<ActivationRecord> records{Finished(a, R"({"a":1})")};
    auto written = inner->CreateActivations(records);
    REQUIRE(written.ok());
    REQUIRE((*written)[0].ok());
    auto left = inner->ListJournalEntries("controller0", 0).value();
    REQUIRE(left.size() == 1);
    CHECK(left[0].record.activation_id == b.activation_id);

    clock.Advance(1000);
    REQUIRE(journal.Sweep().ok());
    CHECK(journal.pending() == 1);  // b runs on
    CHECK(store.journal_removals.load() == 0);
    CHECK(inner->GetActivation("guest", a.activation_id).value().response.result->text() ==
          R"({"a":1})");

    // A record StoreLater keeps is stored even though the store has no entry for it (its
    // entry's write failed): only entries of accepted activations go by absence.
    ActivationRecord late = Finished(Pending("late", clock.NowMs()), R"({"late":1})");
    store.down = true;
    journal.StoreLater(late);
    store.down = false;
    CHECK(inner->ListJournalEntries("controller0", 0).value().size() == 1);  // b's only
    REQUIRE(journal.Sweep().ok());
    auto rec = inner->GetActivation("guest", late.activation_id);
    REQUIRE(rec.ok());
    CHECK(rec->response.result->text() == R"({"late":1})");

    // b's deadline passes without a record: the journal writes one, and its entry goes too.
    clock.Advance(180000);
    REQUIRE(journal.Sweep().ok());
    CHECK(inner->GetActivation("guest", b.activation_id).value().response.status ==
          ActivationStatus::kWhiskError);
    CHECK(inner->ListJournalEntries("controller0", 0).value().empty());
    CHECK(journal.pending() == 0);
}

}  // namespace wisp::controller
