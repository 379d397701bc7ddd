// ActivationRetention: records older than the retention go, batch by batch; newer ones and
// whole records stay; the flag's durations parse.
#include "activation_retention.hpp"

#include <catch2/catch.hpp>

#include <wisp/store/open_store.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

namespace wisp::controller {
namespace {

common::ActivationRecord Record(int64_t start_ms) {
    common::ActivationRecord r;
    r.namespace_path = common::EntityPath({"guest"});
    r.name = "a";
    r.subject = "guest";
    r.activation_id = common::ActivationId::Generate();
    r.start_ms = start_ms;
    r.end_ms = start_ms + 1;
    r.logs = {"2024-05-01T10:00:00.123456789Z stdout: hi"};
    return r;
}

}  // namespace

TEST_CASE("retention: --activation-retention durations", "[retention]") {
    using std::chrono::milliseconds;
    CHECK(ParseRetention("0").value() == milliseconds(0));
    CHECK(ParseRetention("7d").value() == std::chrono::hours(24 * 7));
    CHECK(ParseRetention("12h").value() == std::chrono::hours(12));
    CHECK(ParseRetention("30m").value() == std::chrono::minutes(30));
    CHECK(ParseRetention("45s").value() == std::chrono::seconds(45));
    for (const char* bad : {"", "7", "d", "-1d", "7w", "7dd", "1.5h", "x7d"}) {
        INFO(bad);
        auto r = ParseRetention(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(std::string(r.status().message()).find("<n>d") != std::string::npos);
    }
}

TEST_CASE("retention: a pass deletes what is older than the retention, in batches", "[retention]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    testing::ManualClock clock;
    const int64_t now = clock.NowMs();
    const int64_t day = 86400000;
    std::vector<common::ActivationRecord> old_records, young;
    for (int i = 0; i < 23; ++i) old_records.push_back(Record(now - 8 * day + i));
    for (int i = 0; i < 5; ++i) young.push_back(Record(now - 6 * day + i));
    REQUIRE(inner->CreateActivations(old_records).ok());
    REQUIRE(inner->CreateActivations(young).ok());
    ActivationRetention retention(store, clock,
                                  {.retention = std::chrono::hours(24 * 7),
                                   .batch = 5,
                                   .pause = std::chrono::milliseconds(0),
                                   .interval = std::chrono::milliseconds(0)});
    const int calls_before = store.calls.load();
    CHECK(retention.RunOnce().value() == 23);
    CHECK(store.calls.load() - calls_before == 5);  // 5+5+5+5+3: batches of 5, one call each
    CHECK(retention.deleted() == 23);
    for (const auto& r : old_records) {
        CHECK(inner->GetActivation("guest", r.activation_id).status().code() ==
              absl::StatusCode::kNotFound);
    }
    auto listed = inner->ListActivations({.namespace_name = "guest"}).value();
    REQUIRE(listed.size() == 5);
    for (const auto& r : listed) CHECK(r.logs == young[0].logs);  // whole records stay
    // Idempotent and cheap when nothing is old: one call, nothing deleted.
    CHECK(retention.RunOnce().value() == 0);
    // A day later the young ones are older than the retention too.
    clock.Advance(2 * day);
    CHECK(retention.RunOnce().value() == 5);
    CHECK(inner->CountActivations({.namespace_name = "guest"}).value() == 0);
    // A store that is down: an error, nothing lost, the next pass retries.
    store.down = true;
    CHECK(retention.RunOnce().status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("retention: 0 keeps every record", "[retention]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    testing::ManualClock clock;
    REQUIRE(store->CreateActivation(Record(0)).ok());
    ActivationRetention retention(*store, clock, {.retention = std::chrono::milliseconds(0)});
    CHECK(retention.RunOnce().value() == 0);
    CHECK(store->CountActivations({.namespace_name = "guest"}).value() == 1);
}

}  // namespace wisp::controller
