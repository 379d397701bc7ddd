// StoreGuard: a hung store costs a caller at most call_timeout, a stopped one a few failures;
// then calls fail at once (503) without reaching it, and a probe lets them through again once
// the store answers.
#include "store_guard.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <wisp/store/open_store.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>

namespace wisp::controller {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

StoreGuardConfig Quick() {
    return {
        .call_timeout = milliseconds(300),
        .workers = 4,
        .max_queued = 64,
        .failure_threshold = 3,
        .open_for = {
            .initial = milliseconds(50), .multiplier = 2, .jitter = 0, .max = milliseconds(100)}};
}

/// Calls until `ok` answers true or 30 s pass (the breaker reopens after its backoff).
template <class F>
bool Eventually(F ok) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(30);
    while (SteadyClock::now() < deadline) {
        if (ok()) return true;
        std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
}

}  // namespace

TEST_CASE("store guard: a hung store answers Unavailable after call_timeout, then at once",
          "[store_guard]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore faulty(*inner);
    StoreGuard guard(faulty, Quick());
    REQUIRE(guard.ListSubjects().ok());
    CHECK_FALSE(guard.open());

    faulty.Hang();
    const auto t0 = SteadyClock::now();
    auto hung = guard.ListSubjects();
    const auto waited = SteadyClock::now() - t0;
    CHECK(hung.status().code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(hung.status().message()).find("did not answer within 300 ms") !=
          std::string::npos);
    CHECK(waited < std::chrono::seconds(10));  // bounded by call_timeout, not by the store
    CHECK(guard.open());
    // Open: calls fail at once and never reach the store.
    const int reached = faulty.calls.load();
    for (int i = 0; i < 20; ++i) {
        CHECK(guard.GetSubject("guest").status().code() == absl::StatusCode::kUnavailable);
    }
    CHECK(faulty.calls.load() <= reached + 1);  // at most one probe got through

    faulty.Release();
    CHECK(Eventually([&] { return guard.ListSubjects().ok(); }));
    CHECK_FALSE(guard.open());
}

TEST_CASE("store guard: a stopped store opens the breaker after failures in a row",
          "[store_guard]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore faulty(*inner);
    StoreGuard guard(faulty, Quick());
    faulty.down = true;
    // A blip does not open it.
    CHECK(guard.ListSubjects().status().code() == absl::StatusCode::kUnavailable);
    CHECK_FALSE(guard.open());
    CHECK(guard.ListSubjects().status().code() == absl::StatusCode::kUnavailable);
    CHECK(guard.ListSubjects().status().code() == absl::StatusCode::kUnavailable);
    CHECK(guard.open());
    const int reached = faulty.calls.load();
    auto fast = guard.GetActivation("guest", common::ActivationId::Generate());
    CHECK(fast.status().code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(fast.status().message()).find("the store is unavailable") !=
          std::string::npos);
    CHECK(faulty.calls.load() <= reached + 1);
    // Answers other than outages count as the store answering.
    faulty.down = false;
    CHECK(Eventually([&] {
        return guard.GetActivation("guest", common::ActivationId::Generate()).status().code() ==
               absl::StatusCode::kNotFound;
    }));
    CHECK_FALSE(guard.open());
}

TEST_CASE("store guard: journal writes come back with their revisions", "[store_guard]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    StoreGuard guard(*inner, Quick());
    std::vector<store::JournalEntry> entries(1);
    entries[0].controller = "c0";
    entries[0].record.namespace_path = common::EntityPath({"guest"});
    entries[0].record.name = "a";
    entries[0].record.activation_id = common::ActivationId::Generate();
    REQUIRE(guard.PutJournalEntries(entries).ok());
    CHECK_FALSE(entries[0].rev.empty());
    CHECK(guard.ListJournalEntries("c0", 0).value().size() == 1);
}

}  // namespace wisp::controller
