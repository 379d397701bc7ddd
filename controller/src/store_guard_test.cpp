// StoreGuard: a hung store costs a caller at most call_timeout, a stopped one a few failures;
// then calls fail at once (503) without reaching it, and a probe lets them through again once
// the store answers.
#include "store_guard.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>
#include <vector>

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

TEST_CASE("store guard: workers start with the calls that need them, up to the bound",
          "[store_guard]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore faulty(*inner);
    StoreGuardConfig config = Quick();
    config.call_timeout = std::chrono::seconds(60);  // the hung calls below must stay queued
    StoreGuard guard(faulty, config);
    CHECK(guard.worker_count() == 0);  // idle: no thread
    REQUIRE(guard.ListSubjects().ok());
    CHECK(guard.worker_count() >= 1);

    // Twice as many concurrent calls as workers on a hung store: every worker blocks in the
    // store, the rest wait in the queue, and no thread beyond the bound starts.
    faulty.Hang();
    const int calls_before = faulty.calls.load();
    std::vector<absl::StatusCode> codes(2 * config.workers, absl::StatusCode::kUnknown);
    std::vector<std::thread> callers;
    for (size_t i = 0; i < codes.size(); ++i) {
        callers.emplace_back(
            [&guard, &codes, i] { codes[i] = guard.ListSubjects().status().code(); });
    }
    CHECK(Eventually([&] { return faulty.calls.load() - calls_before >= config.workers; }));
    CHECK(guard.worker_count() == config.workers);
    faulty.Release();
    for (auto& t : callers) t.join();
    for (absl::StatusCode code : codes) CHECK(code == absl::StatusCode::kOk);
    CHECK(guard.worker_count() == config.workers);
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

TEST_CASE("store guard: system documents go through to the store", "[store_guard][system-docs]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore faulty(*inner);
    StoreGuard guard(faulty, Quick());
    auto doc = [](std::string id, std::string body) {
        return store::SystemDoc{"alarm", std::move(id), std::move(body), 7, ""};
    };
    const std::string rev = guard.PutSystemDoc(doc("guest/t", R"({"n":1})"), "").value();
    CHECK(guard.PutSystemDoc(doc("guest/t", R"({"n":2})"), "").status().code() ==
          absl::StatusCode::kAlreadyExists);
    const store::SystemDoc got = guard.GetSystemDoc("alarm", "guest/t").value();
    CHECK(got.body == R"({"n":1})");
    CHECK(got.rev == rev);
    CHECK(got.updated_ms == 7);
    const std::string rev2 = guard.PutSystemDoc(doc("guest/t", R"({"n":2})"), rev).value();
    CHECK(guard.PutSystemDoc(doc("guest/t", R"({"n":3})"), rev).status().code() ==
          absl::StatusCode::kAborted);
    REQUIRE(guard.PutSystemDoc(doc("guest/u", "{}"), "").ok());
    auto list = guard.ListSystemDocs("alarm", "guest/", "guest/t", 10).value();
    REQUIRE(list.size() == 1);
    CHECK(list[0].id == "guest/u");
    CHECK(guard.DeleteSystemDoc("alarm", "guest/t", rev).code() == absl::StatusCode::kAborted);
    CHECK(guard.DeleteSystemDoc("alarm", "guest/t", rev2).ok());
    CHECK(guard.GetSystemDoc("alarm", "guest/t").status().code() == absl::StatusCode::kNotFound);
    CHECK(faulty.system_doc_writes.load() == 7);

    // Injected write faults answer Unavailable and write nothing; reads still work.
    faulty.fail_next_system_doc_writes = 1;
    CHECK(guard.PutSystemDoc(doc("guest/v", "{}"), "").status().code() ==
          absl::StatusCode::kUnavailable);
    CHECK(guard.GetSystemDoc("alarm", "guest/v").status().code() == absl::StatusCode::kNotFound);
    REQUIRE(guard.PutSystemDoc(doc("guest/v", "{}"), "").ok());
    faulty.fail_system_doc_writes = true;
    CHECK(guard.DeleteSystemDoc("alarm", "guest/v", "").code() == absl::StatusCode::kUnavailable);
    CHECK(guard.GetSystemDoc("alarm", "guest/v").ok());
    faulty.fail_system_doc_writes = false;

    // A hung store: the caller gets Unavailable after call_timeout; the write itself may still
    // happen afterwards (an ambiguous answer: read again before concluding anything).
    faulty.Hang();
    {
        std::string id = "guest/hung";  // gone before the call runs: the guard copies it
        CHECK(guard.PutSystemDoc(doc(id, "{}"), "").status().code() ==
              absl::StatusCode::kUnavailable);
    }
    faulty.Release();
    CHECK(Eventually([&] { return guard.GetSystemDoc("alarm", "guest/hung").ok(); }));
}

}  // namespace wisp::controller
