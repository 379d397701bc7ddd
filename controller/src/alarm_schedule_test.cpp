#include <catch2/catch.hpp>

#include <wisp/common/time.hpp>

#include "alarm_schedule.hpp"

using namespace wisp::controller;

namespace {

int64_t Ms(std::string_view rfc3339) {
    return wisp::common::ParseRfc3339Nanos(rfc3339).value() / 1000000;
}

int64_t Next(std::string_view cron, std::string_view after, std::string_view tz = "") {
    auto e = CronExpression::Parse(cron);
    REQUIRE(e.ok());
    auto n = e->NextAfter(Ms(after), tz);
    REQUIRE(n.ok());
    REQUIRE(n->has_value());
    return **n;
}

}  // namespace

TEST_CASE("cron: 5 fields fire on whole minutes, 6 fields take a leading seconds field",
          "[alarms][cron]") {
    CHECK(Next("* * * * *", "2026-12-05T10:00:00Z") == Ms("2026-12-05T10:01:00Z"));
    CHECK(Next("* * * * *", "2026-12-05T10:00:30.5Z") == Ms("2026-12-05T10:01:00Z"));
    CHECK(Next("*/20 * * * * *", "2026-12-05T10:00:00Z") == Ms("2026-12-05T10:00:20Z"));
    CHECK(Next("*/20 * * * * *", "2026-12-05T10:00:59Z") == Ms("2026-12-05T10:01:00Z"));
    CHECK(Next("0 9 * * mon-fri", "2026-12-05T10:00:00Z") ==
          Ms("2026-12-07T09:00:00Z"));  // Sat -> Mon
    CHECK(Next("30 2 1 jan *", "2026-12-05T10:00:00Z") == Ms("2027-01-01T02:30:00Z"));
    CHECK(Next("0 0 * * 7", "2026-12-05T10:00:00Z") == Ms("2026-12-06T00:00:00Z"));  // 7 = Sunday
    CHECK(Next("5,10-12 * * * *", "2026-12-05T10:11:00Z") == Ms("2026-12-05T10:12:00Z"));
    CHECK(Next("10/25 * * * *", "2026-12-05T10:36:00Z") == Ms("2026-12-05T11:10:00Z"));
    // Both day fields restricted: either matches (Vixie cron). 2026-12-13 is a Sunday.
    CHECK(Next("0 0 15 * sun", "2026-12-05T10:00:00Z") == Ms("2026-12-06T00:00:00Z"));
    // Leap day.
    CHECK(Next("0 0 29 2 *", "2026-12-05T10:00:00Z") == Ms("2028-02-29T00:00:00Z"));
}

TEST_CASE("cron: invalid patterns get the provider's error text", "[alarms][cron]") {
    for (const char* bad :
         {"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
          "* * * * 8", "*/0 * * * *", "5-2 * * * *", "a * * * *", "1,,2 * * * *", "* * * foo *"}) {
        auto e = CronExpression::Parse(bad);
        INFO(bad);
        REQUIRE_FALSE(e.ok());
        CHECK(e.status().message() == "cron pattern '" + std::string(bad) + "' is not valid");
    }
}

TEST_CASE("cron: a timezone shifts evaluation; an unknown one is rejected", "[alarms][cron]") {
    // 09:00 in New York in December is 14:00 UTC.
    CHECK(Next("0 9 * * *", "2026-12-05T10:00:00Z", "America/New_York") ==
          Ms("2026-12-05T14:00:00Z"));
    auto e = CronExpression::Parse("0 9 * * *");
    REQUIRE(e.ok());
    auto n = e->NextAfter(Ms("2026-12-05T10:00:00Z"), "Mars/Olympus_Mons");
    REQUIRE_FALSE(n.ok());
    CHECK(n.status().message() == "Invalid timezone.");
    // A time skipped by the spring DST change (02:30 on 2027-03-14 in New York) fires once, at
    // the change.
    CHECK(Next("30 2 * * *", "2027-03-14T05:00:00Z", "America/New_York") ==
          Ms("2027-03-14T07:00:00Z"));
}

TEST_CASE("cron: a pattern that never matches has no next time", "[alarms][cron]") {
    auto e = CronExpression::Parse("0 0 30 2 *");
    REQUIRE(e.ok());
    auto n = e->NextAfter(Ms("2026-12-05T10:00:00Z"), "");
    REQUIRE(n.ok());
    CHECK_FALSE(n->has_value());
}

TEST_CASE("NextFireAfter: interval slots, once, start and stop dates", "[alarms]") {
    AlarmSchedule s;
    s.namespace_name = "guest";
    s.trigger = "t";
    s.kind = AlarmKind::kInterval;
    s.minutes = 2;
    s.created_ms = 1000000;
    // Default start: created + 30 s; then every 2 minutes (of `minute`).
    const std::chrono::milliseconds minute(100);
    CHECK(NextFireAfter(s, 0, minute).value() == 1030000);
    CHECK(NextFireAfter(s, 1030000, minute).value() == 1030200);
    CHECK(NextFireAfter(s, 1030199, minute).value() == 1030200);
    CHECK(NextFireAfter(s, 1030200, minute).value() == 1030400);
    s.stop_ms = 1030300;
    CHECK(NextFireAfter(s, 1030000, minute).value() == 1030200);
    CHECK_FALSE(NextFireAfter(s, 1030200, minute).value().has_value());

    AlarmSchedule once;
    once.kind = AlarmKind::kOnce;
    once.date_ms = 5000;
    CHECK(NextFireAfter(once, 4999).value() == 5000);
    CHECK_FALSE(NextFireAfter(once, 5000).value().has_value());

    AlarmSchedule cron;
    cron.kind = AlarmKind::kCron;
    cron.cron = "0 * * * *";
    cron.start_ms = Ms("2026-12-05T12:00:00Z");
    cron.stop_ms = Ms("2026-12-05T14:30:00Z");
    CHECK(NextFireAfter(cron, Ms("2026-12-05T10:10:00Z")).value() == Ms("2026-12-05T12:00:00Z"));
    CHECK(NextFireAfter(cron, Ms("2026-12-05T12:00:00Z")).value() == Ms("2026-12-05T13:00:00Z"));
    CHECK_FALSE(NextFireAfter(cron, Ms("2026-12-05T14:00:00Z")).value().has_value());
    cron.stop_ms.reset();
    cron.max_triggers = 2;
    cron.fires = 2;
    CHECK_FALSE(NextFireAfter(cron, Ms("2026-12-05T14:00:00Z")).value().has_value());
}

TEST_CASE("alarm schedules round-trip through their stored JSON; bad documents are rejected",
          "[alarms]") {
    AlarmSchedule s;
    s.namespace_name = "guest";
    s.trigger = "every-minute";
    s.generation = "g1";
    s.kind = AlarmKind::kCron;
    s.cron = "*/5 * * * * *";
    s.timezone = "Europe/Berlin";
    s.strict = true;
    s.start_ms = 10;
    s.stop_ms = 20;
    s.payload = wisp::common::JsonValue::Parse(R"({"payload":"hi","n":[1,2]})").value();
    s.active = false;
    s.created_ms = 5;
    s.date_changed_ms = 6;
    s.reason = AlarmStatusReason{"AUTO", 404, "Trigger automatically disabled"};
    s.last_fire_ms = 7;
    s.fires = 3;
    auto back = AlarmScheduleFromJson(AlarmScheduleToJson(s));
    REQUIRE(back.ok());
    CHECK(AlarmScheduleToJson(*back) == AlarmScheduleToJson(s));
    CHECK(back->reason->status_code == 404);
    CHECK(back->payload.text() == R"({"payload":"hi","n":[1,2]})");

    for (
        const char* bad :
        {"[]", "{}", R"({"namespace":"g","trigger":"t","generation":"x","kind":"nope"})",
         R"({"namespace":"g","trigger":"t","generation":"x","kind":"alarm","cron":"x"})",
         R"({"namespace":"g","trigger":"t","generation":"x","kind":"interval"})",
         R"({"namespace":"g","trigger":"t","generation":"x","kind":"once","date":"soon"})",
         R"({"namespace":"g","trigger":"t","generation":"x","kind":"once","date":1,"payload":3})"}) {
        INFO(bad);
        CHECK_FALSE(AlarmScheduleFromJson(bad).ok());
    }
}

TEST_CASE("firing ids and claim ids are stable per slot and differ across generations",
          "[alarms]") {
    AlarmSchedule s;
    s.namespace_name = "guest";
    s.trigger = "t";
    s.generation = "a";
    const auto id1 = AlarmFireActivationId(s, 1000);
    CHECK(id1 == AlarmFireActivationId(s, 1000));
    CHECK_FALSE(id1 == AlarmFireActivationId(s, 2000));
    CHECK(AlarmFireClaimId(s, 1000) == "guest/t/a/000000000001000");
    s.generation = "b";
    CHECK_FALSE(id1 == AlarmFireActivationId(s, 1000));
}
