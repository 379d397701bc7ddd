// The alarm scheduler inside the controller (Api owns it): a due schedule fires the trigger
// through the real TriggerFirer — the trigger record has the slot's id and the `schedule`
// annotation, the rule's action runs with the payload under its derived id — and `--no-alarms`
// (ControllerConfig::alarms = false) fires nothing.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include <wisp/common/base64.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "alarm_schedule.hpp"
#include "controller_test_support.hpp"
#include "trigger_firer.hpp"

namespace wisp::controller {
namespace {

constexpr const char* kNs = "/api/v1/namespaces/_";
constexpr const char* kAction = R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})";

struct AlarmSetup : test_support::ControllerOverSqlite {
    explicit AlarmSetup(bool alarms) {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        ControllerConfig config;
        config.alarms = alarms;
        config.alarm_poll = std::chrono::milliseconds(20);
        Start(config);
    }

    HttpResponse Send(std::string method, std::string target, std::string body = "") {
        return test_support::Answer(
            *controller, test_support::MakeRequest(std::move(method), target, std::move(body),
                                                   std::string(common::kGuestAuth)));
    }

    /// A once schedule of trigger t whose date passed (a missed firing: it fires at load).
    AlarmSchedule PutMissedOnce() {
        AlarmSchedule s;
        s.namespace_name = "guest";
        s.trigger = "t";
        s.generation = "g";
        s.kind = AlarmKind::kOnce;
        s.created_ms = clock.NowMs() - 2000;
        s.date_changed_ms = s.created_ms;
        s.date_ms = clock.NowMs() - 1000;
        s.payload = common::JsonValue::Parse(R"({"payload":"hi"})").value();
        REQUIRE(store
                    ->PutSystemDoc({.kind = std::string(kAlarmDocKind),
                                    .id = s.DocId(),
                                    .body = AlarmScheduleToJson(s),
                                    .updated_ms = clock.NowMs()},
                                   "")
                    .ok());
        return s;
    }

    [[nodiscard]] absl::StatusOr<common::ActivationRecord> WaitForRecord(
        const common::ActivationId& id, std::chrono::seconds within) {
        const auto deadline = std::chrono::steady_clock::now() + within;
        while (true) {
            auto r = store->GetActivation("guest", id);
            if (r.ok() || std::chrono::steady_clock::now() > deadline) return r;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
};

}  // namespace

TEST_CASE("controller alarms: a due schedule fires the trigger's rules through the controller",
          "[alarms][scheduler][controller]") {
    AlarmSetup s(true);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                .status == 200);
    const AlarmSchedule schedule = s.PutMissedOnce();
    const common::ActivationId trigger_id = AlarmFireActivationId(schedule, *schedule.date_ms);

    auto record = s.WaitForRecord(trigger_id, std::chrono::seconds(30));
    REQUIRE(record.ok());
    CHECK(record->name == "t");
    REQUIRE(record->response.result.has_value());
    CHECK(record->response.result->text() == R"({"payload":"hi"})");
    const common::JsonValue* annotation = record->annotations.Get("schedule");
    REQUIRE(annotation != nullptr);
    CHECK(annotation->text() == common::Cat(R"({"feed":"/whisk.system/alarms/once",)",
                                            R"("scheduledTime":)", *schedule.date_ms, "}"));
    REQUIRE(record->logs.size() == 1);  // one line per rule

    // The rule's action ran with the payload, under the id derived from the trigger record's.
    auto ran =
        s.WaitForRecord(DeriveRuleActivationId(trigger_id, "guest/r"), std::chrono::seconds(30));
    REQUIRE(ran.ok());
    CHECK(ran->name == "a");
    REQUIRE(ran->response.result.has_value());
    CHECK(ran->response.result->text().find(R"("payload":"hi")") != std::string::npos);

    // Once without deleteAfterFire: disabled.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        auto doc = s.store->GetSystemDoc(kAlarmDocKind, schedule.DocId());
        REQUIRE(doc.ok());
        if (!AlarmScheduleFromJson(doc->body)->active) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto doc = s.store->GetSystemDoc(kAlarmDocKind, schedule.DocId());
    REQUIRE(doc.ok());
    auto stored = AlarmScheduleFromJson(doc->body);
    REQUIRE(stored.ok());
    CHECK_FALSE(stored->active);
    REQUIRE(stored->reason.has_value());
    CHECK(stored->reason->message == "Automatically disabled after firing once");
}

TEST_CASE("controller alarms: with alarms off the controller fires nothing",
          "[alarms][scheduler][controller]") {
    AlarmSetup off(false);
    REQUIRE(off.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(off.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    REQUIRE(off.Send("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                .status == 200);
    const AlarmSchedule schedule = off.PutMissedOnce();
    // A controller with alarms on, on another store, fires within this wait (the case above);
    // 2 s is 100 polls of 20 ms.
    auto record = off.WaitForRecord(AlarmFireActivationId(schedule, *schedule.date_ms),
                                    std::chrono::seconds(2));
    CHECK(absl::IsNotFound(record.status()));
    CHECK(off.store->ListSystemDocs(kAlarmFireDocKind, "", "", 10).value().empty());  // no claim
}

}  // namespace wisp::controller
