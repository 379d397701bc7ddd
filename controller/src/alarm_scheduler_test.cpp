// AlarmScheduler: each due slot fires once (across schedulers sharing a store), with the slot's
// id and the `schedule` annotation; missed slots fire the latest once; once/stopDate/maxTriggers
// end the schedule with the provider's texts; failures disable or retry as feeds.md §3.3; a
// dead holder's claim is taken over; old claims are swept. Time is a ManualClock and the
// scheduler runs without threads (poll 0: the test calls Poll/RunDue), but for the Reload case.
#include "alarm_scheduler.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include <wisp/common/json.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

namespace wisp::controller {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kT0 = 1800000000000;  // a whole second
constexpr int64_t kMinute = 1000;       // the tests' interval minute

struct Fixture {
    std::unique_ptr<store::ArtifactStore> inner =
        store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store{*inner};
    testing::ManualClock clock{kT0};

    std::mutex mu;
    std::vector<FireRequest> calls;  // every Fire()
    std::set<std::string> records;   // ids "stored" (a second firing is a no-op)
    absl::Status fire_status;        // what Fire() answers
    absl::Status rate_status;        // what the fire-rate check answers
    int rate_checks = 0;

    Fixture() {
        common::Subject s;
        s.subject = "guest";
        s.namespaces.push_back({"guest", common::AuthKey::Parse(common::kGuestAuth).value()});
        REQUIRE(inner->PutSubject(s, "").ok());
    }

    static AlarmSchedulerConfig Config() {
        AlarmSchedulerConfig c;
        c.controller_id = "test";
        c.minute = milliseconds(kMinute);
        c.poll = milliseconds(0);  // no threads
        c.lease = milliseconds(60000);
        c.store_backoff = {.initial = milliseconds(100),
                           .multiplier = 2.0,
                           .jitter = 0.1,
                           .max = milliseconds(1000)};
        c.store_attempts = 5;
        c.throttle_unit = milliseconds(10);
        return c;
    }

    std::unique_ptr<AlarmScheduler> Make(AlarmSchedulerConfig c = Config()) {
        return std::make_unique<AlarmScheduler>(
            store, clock,
            [this](const FireRequest& r) {
                std::lock_guard lock(mu);
                FireOutcome out;
                calls.push_back(r);
                if (!fire_status.ok()) {
                    out.status = fire_status;
                    return out;
                }
                out.fired = true;
                out.activation_id = *r.activation_id;
                out.already_fired = !records.insert(r.activation_id->str()).second;
                return out;
            },
            [this](const common::Identity& who) {
                std::lock_guard lock(mu);
                CHECK(who.namespace_name == "guest");
                ++rate_checks;
                return rate_status;
            },
            std::move(c));
    }

    /// Creates or replaces the schedule document.
    void Put(const AlarmSchedule& s) {
        auto cur = inner->GetSystemDoc(kAlarmDocKind, s.DocId());
        const std::string rev = cur.ok() ? cur->rev : "";
        auto put = inner->PutSystemDoc({.kind = std::string(kAlarmDocKind),
                                        .id = s.DocId(),
                                        .body = AlarmScheduleToJson(s),
                                        .updated_ms = clock.NowMs()},
                                       rev);
        REQUIRE(put.ok());
    }
    AlarmSchedule Get(const std::string& id) {
        auto doc = inner->GetSystemDoc(kAlarmDocKind, id);
        REQUIRE(doc.ok());
        auto s = AlarmScheduleFromJson(doc->body);
        REQUIRE(s.ok());
        return *s;
    }
    /// The scheduled times fired for the first time (not no-op repeats), in order.
    std::vector<int64_t> FiredSlots() {
        std::lock_guard lock(mu);
        std::vector<int64_t> out;
        std::set<std::string> seen;
        for (const auto& c : calls) {
            if (!seen.insert(c.activation_id->str()).second) continue;
            const common::JsonValue* a = c.annotations.Get("schedule");
            REQUIRE(a != nullptr);
            rapidjson::Document d;
            a->ToRapid(d);
            out.push_back(d["scheduledTime"].GetInt64());
        }
        return out;
    }
    std::string ClaimState(const AlarmSchedule& s, int64_t slot) {
        auto doc = inner->GetSystemDoc(kAlarmFireDocKind, AlarmFireClaimId(s, slot));
        if (!doc.ok()) return "absent";
        rapidjson::Document d;
        REQUIRE(common::ParseJson(doc->body, d).ok());
        return d["state"].GetString();
    }
};

AlarmSchedule Base(AlarmKind kind, std::string trigger = "t") {
    AlarmSchedule s;
    s.namespace_name = "guest";
    s.trigger = std::move(trigger);
    s.generation = "gen1";
    s.kind = kind;
    s.created_ms = kT0 - 5000;
    s.date_changed_ms = s.created_ms;
    s.payload = common::JsonValue::Parse(R"({"payload":"hello"})").value();
    return s;
}

AlarmSchedule Interval(int64_t start_ms) {
    AlarmSchedule s = Base(AlarmKind::kInterval);
    s.minutes = 1;
    s.start_ms = start_ms;
    return s;
}

void PutTriggerWithRules(store::ArtifactStore& store, const std::vector<std::string>& rules) {
    common::Trigger t;
    t.namespace_path = common::EntityPath({"guest"});
    t.name = "t";
    for (const auto& r : rules) {
        t.rules["guest/" + r] = {.action = {common::EntityPath({"guest"}), "a"}};
        common::Rule rule;
        rule.namespace_path = common::EntityPath({"guest"});
        rule.name = r;
        rule.trigger = {common::EntityPath({"guest"}), "t"};
        rule.action = {common::EntityPath({"guest"}), "a"};
        REQUIRE(store.PutEntity(rule, "").ok());
    }
    REQUIRE(store.PutEntity(t, "").ok());
}

}  // namespace

TEST_CASE(
    "alarm scheduler: an interval fires each slot once with its id, payload and the "
    "schedule annotation",
    "[alarms][scheduler]") {
    Fixture f;
    const AlarmSchedule s = Interval(kT0 + 1000);
    f.Put(s);
    auto sched = f.Make();
    REQUIRE(sched->Poll().ok());
    CHECK(sched->size() == 1);
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 1000);
    CHECK(sched->RunDue() == 0);  // not due yet
    CHECK(f.calls.empty());

    f.clock.Advance(1000);
    CHECK(sched->RunDue() == 1);
    REQUIRE(f.calls.size() == 1);
    const FireRequest& r = f.calls[0];
    CHECK(r.trigger.DocId() == "guest/t");
    CHECK(r.who.namespace_name == "guest");
    CHECK(r.activation_id == AlarmFireActivationId(s, kT0 + 1000));
    REQUIRE(r.args.has_value());
    CHECK(r.args->text() == R"({"payload":"hello"})");
    REQUIRE(r.annotations.Get("schedule") != nullptr);
    CHECK(r.annotations.Get("schedule")->text() ==
          R"({"feed":"/whisk.system/alarms/interval","scheduledTime":1800000001000})");
    CHECK(f.rate_checks == 1);  // counted against the namespace's fire rate
    CHECK(f.ClaimState(s, kT0 + 1000) == "fired");
    AlarmSchedule stored = f.Get(s.DocId());
    CHECK(stored.last_fire_ms == kT0 + 1000);
    CHECK(stored.fires == 1);
    CHECK(stored.active);
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 2000);

    // A poll that sees our own write changes nothing.
    REQUIRE(sched->Poll().ok());
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 2000);
    f.clock.Advance(1000);
    CHECK(sched->RunDue() == 1);
    CHECK(f.FiredSlots() == std::vector<int64_t>{kT0 + 1000, kT0 + 2000});
    CHECK(f.Get(s.DocId()).fires == 2);
    CHECK(sched->fired() == 2);
}

TEST_CASE("alarm scheduler: two schedulers on one store fire every slot exactly once",
          "[alarms][scheduler]") {
    Fixture f;
    const AlarmSchedule s = Interval(kT0 + 1000);
    f.Put(s);
    auto a = f.Make();
    auto b = f.Make();
    REQUIRE(a->Poll().ok());
    REQUIRE(b->Poll().ok());
    for (int i = 0; i < 5; ++i) {
        f.clock.Advance(1000);
        // Alternate who comes first.
        if (i % 2 == 0) {
            a->RunDue();
            b->RunDue();
        } else {
            b->RunDue();
            a->RunDue();
        }
    }
    CHECK(f.calls.size() == 5);  // the loser of each claim never calls Fire
    CHECK(f.FiredSlots() ==
          std::vector<int64_t>{kT0 + 1000, kT0 + 2000, kT0 + 3000, kT0 + 4000, kT0 + 5000});
    CHECK(a->fired() + b->fired() == 5);
    CHECK(f.Get(s.DocId()).fires == 5);
    // Both moved on to the next slot.
    CHECK(a->ArmedSlot(s.DocId()) == kT0 + 6000);
    CHECK(b->ArmedSlot(s.DocId()) == kT0 + 6000);
}

TEST_CASE(
    "alarm scheduler: a claim whose holder died is taken over after the lease and fired "
    "with the same id",
    "[alarms][scheduler]") {
    Fixture f;
    AlarmSchedule s = Interval(kT0 + 1000);
    f.Put(s);
    // Another controller claimed the first slot and died before firing.
    const std::string dead = R"({"controller":"1","holder":"1/dead","claimed":1800000001000,)"
                             R"("state":"claimed"})";
    REQUIRE(f.inner
                ->PutSystemDoc({.kind = std::string(kAlarmFireDocKind),
                                .id = AlarmFireClaimId(s, kT0 + 1000),
                                .body = dead,
                                .updated_ms = kT0 + 1000},
                               "")
                .ok());
    auto sched = f.Make();
    REQUIRE(sched->Poll().ok());
    f.clock.Advance(1000);
    sched->RunDue();
    CHECK(f.calls.empty());                            // the claim is fresh: not ours to fire
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 2000);  // the next slots go on meanwhile
    CHECK(sched->NextDue() == kT0 + 2000);

    f.clock.Set(kT0 + 1000 + 60000);  // the lease has passed
    sched->RunDue();
    // Slot 1 is taken over and fired with its own id (slot 2, armed, fires late; then the
    // latest missed one).
    auto fired = f.FiredSlots();
    CHECK(std::count(fired.begin(), fired.end(), kT0 + 1000) == 1);
    std::sort(fired.begin(), fired.end());
    CHECK(fired == std::vector<int64_t>{kT0 + 1000, kT0 + 2000, kT0 + 61000});
    CHECK(f.ClaimState(s, kT0 + 1000) == "fired");
    auto claim = f.inner->GetSystemDoc(kAlarmFireDocKind, AlarmFireClaimId(s, kT0 + 1000));
    REQUIRE(claim.ok());
    CHECK(claim->body.find("1/dead") == std::string::npos);  // the holder is the taker-over
    CHECK(claim->body.find(R"("controller":"test")") != std::string::npos);
}

TEST_CASE("alarm scheduler: a restart fires the latest missed slot once, older ones never",
          "[alarms][scheduler]") {
    Fixture f;
    AlarmSchedule s = Interval(kT0 - 4000);
    s.created_ms = kT0 - 10000;
    s.date_changed_ms = s.created_ms;
    s.last_fire_ms = kT0 - 3000;  // fired slots up to -3000; -2000 .. +2000 were missed
    s.fires = 2;
    f.Put(s);
    f.clock.Set(kT0 + 2500);
    auto sched = f.Make();
    REQUIRE(sched->Poll().ok());
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 2000);
    CHECK(sched->RunDue() == 1);
    CHECK(f.FiredSlots() == std::vector<int64_t>{kT0 + 2000});
    CHECK(f.Get(s.DocId()).last_fire_ms == kT0 + 2000);
    CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 3000);

    SECTION("a once whose date passed while no controller ran fires at load") {
        AlarmSchedule once = Base(AlarmKind::kOnce, "late");
        once.date_ms = kT0 + 1000;  // before now, after its creation
        f.Put(once);
        REQUIRE(sched->Poll().ok());
        sched->RunDue();
        auto fired = f.FiredSlots();
        CHECK(std::count(fired.begin(), fired.end(), kT0 + 1000) == 1);
        CHECK_FALSE(f.Get(once.DocId()).active);
    }
    SECTION("a cron with seconds down for a day costs a minute of steps, fires once") {
        AlarmSchedule cron = Base(AlarmKind::kCron, "every-second");
        cron.cron = "* * * * * *";
        f.Put(cron);
        f.clock.Set(kT0 + 86400000 + 300);
        REQUIRE(sched->Poll().ok());
        CHECK(sched->ArmedSlot(cron.DocId()) == kT0 + 86400000);
    }
}

TEST_CASE("alarm scheduler: once disables itself, or deletes its trigger (and rules)",
          "[alarms][scheduler]") {
    Fixture f;
    PutTriggerWithRules(*f.inner, {"r1", "r2"});
    AlarmSchedule s = Base(AlarmKind::kOnce);
    s.date_ms = kT0 + 1000;
    auto sched = f.Make();
    const common::FullyQualifiedName trigger{common::EntityPath({"guest"}), "t"};
    const common::FullyQualifiedName r1{common::EntityPath({"guest"}), "r1"};

    SECTION("deleteAfterFire false: disabled with the provider's text") {
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        f.clock.Advance(1000);
        CHECK(sched->RunDue() == 1);
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        REQUIRE(stored.reason.has_value());
        CHECK(stored.reason->kind == "AUTO");
        CHECK(stored.reason->message == "Automatically disabled after firing once");
        CHECK(stored.last_fire_ms == kT0 + 1000);
        CHECK(sched->size() == 0);
        CHECK(f.inner->Get<common::Trigger>(trigger).ok());
    }
    SECTION("deleteAfterFire true: the trigger and the schedule are gone, the rules stay") {
        s.delete_after_fire = DeleteAfterFire::kTrigger;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        f.clock.Advance(1000);
        CHECK(sched->RunDue() == 1);
        CHECK(f.FiredSlots() == std::vector<int64_t>{kT0 + 1000});
        CHECK(absl::IsNotFound(f.inner->GetSystemDoc(kAlarmDocKind, s.DocId()).status()));
        CHECK(absl::IsNotFound(f.inner->Get<common::Trigger>(trigger).status()));
        CHECK(f.inner->Get<common::Rule>(r1).ok());
        CHECK(sched->size() == 0);
    }
    SECTION("deleteAfterFire rules: the rules go too") {
        s.delete_after_fire = DeleteAfterFire::kTriggerAndRules;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        f.clock.Advance(1000);
        CHECK(sched->RunDue() == 1);
        CHECK(absl::IsNotFound(f.inner->Get<common::Trigger>(trigger).status()));
        CHECK(absl::IsNotFound(f.inner->Get<common::Rule>(r1).status()));
        CHECK(absl::IsNotFound(
            f.inner->Get<common::Rule>({common::EntityPath({"guest"}), "r2"}).status()));
    }
    // Nothing fires again.
    f.clock.Advance(100000);
    REQUIRE(sched->Poll().ok());
    sched->RunDue();
    CHECK(f.FiredSlots().size() == 1);
}

TEST_CASE("alarm scheduler: stopDate and maxTriggers end the schedule with the provider's texts",
          "[alarms][scheduler]") {
    Fixture f;
    auto sched = f.Make();
    SECTION("interval past its stop date") {
        AlarmSchedule s = Interval(kT0 + 1000);
        s.stop_ms = kT0 + 2500;  // slots at +1000 and +2000
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        f.clock.Advance(1000);
        sched->RunDue();
        CHECK(f.Get(s.DocId()).active);
        f.clock.Advance(1000);
        sched->RunDue();
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        CHECK(stored.reason->message ==
              "Automatically disabled after firing last scheduled interval trigger");
        CHECK(stored.fires == 2);
    }
    SECTION("cron past its stop date") {
        AlarmSchedule s = Base(AlarmKind::kCron);
        s.cron = "* * * * * *";
        s.stop_ms = kT0 + 1500;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        f.clock.Advance(1000);
        sched->RunDue();
        CHECK(f.Get(s.DocId()).reason->message ==
              "Automatically disabled after firing last scheduled cron trigger");
    }
    SECTION("cron with maxTriggers 2") {
        AlarmSchedule s = Base(AlarmKind::kCron);
        s.cron = "* * * * * *";
        s.max_triggers = 2;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        for (int i = 0; i < 4; ++i) {
            f.clock.Advance(1000);
            sched->RunDue();
        }
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        CHECK(stored.reason->message == "Automatically disabled after reaching max triggers");
        CHECK(f.FiredSlots().size() == 2);
    }
}

TEST_CASE("alarm scheduler: firing failures disable or retry as the provider does",
          "[alarms][scheduler]") {
    Fixture f;
    const AlarmSchedule s = Interval(kT0 + 1000);
    f.Put(s);
    auto sched = f.Make();
    REQUIRE(sched->Poll().ok());
    f.clock.Advance(1000);

    SECTION("the trigger is gone: disabled, 404") {
        f.fire_status = absl::NotFoundError("The requested resource does not exist.");
        sched->RunDue();
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        CHECK(stored.reason->status_code == 404);
        CHECK(stored.reason->message ==
              "Trigger automatically disabled: Received a 404 status code when firing the "
              "trigger");
        CHECK(sched->size() == 0);
        CHECK(f.ClaimState(s, kT0 + 1000) == "fired");  // nobody fires it again
    }
    SECTION("no identity left in the namespace: disabled, 403") {
        REQUIRE(f.inner->DeleteSubject("guest", "").ok());
        sched->RunDue();
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        CHECK(stored.reason->status_code == 403);
        CHECK(stored.reason->message ==
              "Trigger automatically disabled: Received a 403 status code when firing the "
              "trigger");
        CHECK(f.calls.empty());
    }
    SECTION("throttled every time: 10 retries of max(1, n^2) units, then disabled, 429") {
        f.rate_status = absl::ResourceExhaustedError("Too many requests in the last minute");
        int waited_units = 0;
        for (int i = 1; i <= 11 && sched->size() == 1; ++i) {
            CHECK(sched->RunDue() == 1);
            if (sched->size() == 0) break;
            const int64_t wait = *sched->NextDue() - f.clock.NowMs();
            CHECK(wait == std::max(1, i * i) * 10);  // throttle_unit 10 ms
            waited_units += static_cast<int>(wait / 10);
            f.clock.Advance(wait);
        }
        CHECK(f.rate_checks == 11);
        CHECK(waited_units == 385);  // 1 + 4 + ... + 100
        AlarmSchedule stored = f.Get(s.DocId());
        CHECK_FALSE(stored.active);
        CHECK(stored.reason->status_code == 429);
        CHECK(stored.reason->message ==
              "Automatically disabled after continuously receiving a 429 status code when "
              "firing the trigger");
        CHECK(f.calls.empty());
        CHECK(f.ClaimState(s, kT0 + 1000) == "fired");  // no other controller takes it over
    }
    SECTION("throttled, then allowed: fires late, stays active") {
        f.rate_status = absl::ResourceExhaustedError("Too many requests in the last minute");
        sched->RunDue();
        f.rate_status = absl::OkStatus();
        f.clock.Advance(10);
        CHECK(sched->RunDue() == 1);
        CHECK(f.FiredSlots() == std::vector<int64_t>{kT0 + 1000});
        CHECK(f.Get(s.DocId()).active);
    }
    SECTION("the store is down: retried with backoff, then this slot is given up") {
        f.store.down = true;
        for (int i = 0; i < 5; ++i) {
            CHECK(sched->RunDue(1) == 1);
            if (i < 4) {
                REQUIRE(sched->NextDue().has_value());
                f.clock.Set(*sched->NextDue());
            }
        }
        CHECK(sched->given_up() == 1);
        CHECK(f.calls.empty());
        f.store.down = false;
        // The schedule goes on with its next slot.
        REQUIRE(sched->ArmedSlot(s.DocId()).has_value());
        f.clock.Set(std::max(f.clock.NowMs(), *sched->ArmedSlot(s.DocId())));
        CHECK(sched->RunDue() == 1);
        CHECK(f.FiredSlots().size() == 1);
        CHECK(f.Get(s.DocId()).active);
    }
}

TEST_CASE("alarm scheduler: deleted, disabled and recreated schedules stop or restart",
          "[alarms][scheduler]") {
    Fixture f;
    AlarmSchedule s = Interval(kT0 + 1000);
    f.Put(s);
    auto sched = f.Make();
    REQUIRE(sched->Poll().ok());
    const auto nothing_fires = [&] {
        f.clock.Advance(5000);
        sched->RunDue();
        CHECK(f.calls.empty());
    };
    SECTION("deleted: nothing fires") {
        REQUIRE(f.inner->DeleteSystemDoc(kAlarmDocKind, s.DocId(), "").ok());
        REQUIRE(sched->Poll().ok());
        CHECK(sched->size() == 0);
        nothing_fires();
    }
    SECTION("paused (inactive): nothing fires") {
        s.active = false;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        CHECK(sched->size() == 0);
        nothing_fires();
    }
    SECTION("created again: the new generation's slots and ids") {
        s.generation = "gen2";
        s.start_ms = kT0 + 1500;
        f.Put(s);
        REQUIRE(sched->Poll().ok());
        CHECK(sched->ArmedSlot(s.DocId()) == kT0 + 1500);
        f.clock.Advance(1000);
        CHECK(sched->RunDue() == 0);  // the old generation's slot is stale
        f.clock.Advance(500);
        CHECK(sched->RunDue() == 1);
        REQUIRE(f.calls.size() == 1);
        CHECK(f.calls[0].activation_id == AlarmFireActivationId(s, kT0 + 1500));
    }
}

TEST_CASE("alarm scheduler: Reload arms a written schedule at once, the thread fires it",
          "[alarms][scheduler]") {
    Fixture f;
    common::SystemClock& real = common::SystemClock::Instance();
    AlarmSchedulerConfig c = Fixture::Config();
    c.poll = milliseconds(3600000);  // only the first poll and Reload()
    auto sched = std::make_unique<AlarmScheduler>(
        f.store, real,
        [&](const FireRequest& r) {
            std::lock_guard lock(f.mu);
            f.calls.push_back(r);
            FireOutcome out;
            out.fired = true;
            out.activation_id = *r.activation_id;
            return out;
        },
        nullptr, c);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    AlarmSchedule s = Base(AlarmKind::kOnce);
    s.created_ms = real.NowMs();
    s.date_changed_ms = s.created_ms;
    s.date_ms = s.created_ms + 300;
    f.Put(s);
    sched->Reload(s.DocId());
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(f.mu);
            if (!f.calls.empty()) break;
        }
        std::this_thread::sleep_for(milliseconds(10));
    }
    {
        std::lock_guard lock(f.mu);
        REQUIRE(f.calls.size() == 1);
        CHECK(f.calls[0].activation_id == AlarmFireActivationId(s, *s.date_ms));
    }
    CHECK(real.NowMs() >= *s.date_ms);  // not before its time
    // The once schedule disables itself after the firing returns: wait for that write.
    while (f.Get(s.DocId()).active && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    CHECK_FALSE(f.Get(s.DocId()).active);
    // A Reload of a deleted one drops it.
    AlarmSchedule other = Interval(real.NowMs() + 3600000);
    other.trigger = "other";
    f.Put(other);
    sched->Reload(other.DocId());
    while (sched->size() != 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    CHECK(sched->size() == 1);
    REQUIRE(f.inner->DeleteSystemDoc(kAlarmDocKind, other.DocId(), "").ok());
    sched->Reload(other.DocId());
    while (sched->size() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(10));
    }
    CHECK(sched->size() == 0);
    sched->Stop();
}

TEST_CASE("alarm scheduler: 10,000 schedules load in pages; a wake fires a bounded batch",
          "[alarms][scheduler]") {
    Fixture f;
    for (int i = 0; i < 10000; ++i) {
        AlarmSchedule s = Interval(kT0 + 1000);
        s.trigger = "t" + std::to_string(i);
        f.Put(s);
    }
    auto sched = f.Make();
    const int calls_before = f.store.calls.load();
    REQUIRE(sched->Poll().ok());
    CHECK(f.store.calls.load() - calls_before == 21);  // 20 pages of 500, then an empty one
    CHECK(sched->size() == 10000);
    f.clock.Advance(1000);
    CHECK(sched->RunDue(64) == 64);  // one wake of the firing thread
    CHECK(f.calls.size() == 64);
    // A poll with nothing changed re-parses nothing and re-arms nothing.
    REQUIRE(sched->Poll().ok());
    CHECK(sched->size() == 10000);
}

TEST_CASE("alarm scheduler: claims older than the retention are swept in batches",
          "[alarms][scheduler]") {
    Fixture f;
    AlarmSchedule a = Interval(kT0), b = Interval(kT0);
    b.trigger = "u";
    const int64_t day = 86400000;
    std::vector<std::pair<AlarmSchedule*, int64_t>> claims;
    for (int i = 0; i < 7; ++i) claims.emplace_back(&a, kT0 - 9 * day + i * 1000);  // old
    for (int i = 0; i < 3; ++i) claims.emplace_back(&a, kT0 - 1 * day + i * 1000);  // young
    for (int i = 0; i < 4; ++i) claims.emplace_back(&b, kT0 - 8 * day + i * 1000);  // old
    claims.emplace_back(&b, kT0 - 2 * day);                                         // young
    for (const auto& [s, slot] : claims) {
        REQUIRE(f.inner
                    ->PutSystemDoc({.kind = std::string(kAlarmFireDocKind),
                                    .id = AlarmFireClaimId(*s, slot),
                                    .body = R"({"state":"fired"})",
                                    .updated_ms = slot},
                                   "")
                    .ok());
    }
    AlarmSchedulerConfig c = Fixture::Config();
    c.sweep_batch = 3;
    auto sched = f.Make(c);
    CHECK(sched->SweepClaims().value() == 11);
    auto left = f.inner->ListSystemDocs(kAlarmFireDocKind, "", "", 100).value();
    CHECK(left.size() == 4);
    CHECK(sched->SweepClaims().value() == 0);
}

}  // namespace wisp::controller
