#pragma once
// Alarm schedules: what the built-in /whisk.system/alarms feeds store (one document per trigger,
// SystemDoc kind "alarm", id "<namespace>/<trigger>") and when they fire.
//
// Feeds (../shared/reference/feeds.md §2): `alarm` (cron, 5 or 6 fields, optional timezone),
// `once` (a date) and `interval` (every N minutes from a start date). Times are epoch ms, UTC.
// The scheduler (alarm_scheduler.*) fires them; the feed actions (alarm_feed.*) create, read,
// update, pause and delete them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <absl/status/statusor.h>

#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>

namespace wisp::controller {

/// The SystemDoc kinds of the alarm documents.
inline constexpr std::string_view kAlarmDocKind = "alarm";
inline constexpr std::string_view kAlarmFireDocKind = "alarm-fire";

enum class AlarmKind { kCron, kOnce, kInterval };  // feed `alarm`, `once`, `interval`

/// The feed's name in /whisk.system/alarms: "alarm", "once" or "interval".
std::string_view AlarmFeedName(AlarmKind kind);

/// `once`'s deleteAfterFire: false (disable after firing), true (delete the trigger), rules
/// (delete the trigger and its rules).
enum class DeleteAfterFire { kNo, kTrigger, kTriggerAndRules };

struct AlarmStatusReason {
    std::string kind = "AUTO";  // "AUTO" or "ADMIN"
    std::optional<int> status_code;
    std::string message;
};

/// Writes `r` as {"kind", "statusCode" (when set), "message"}: the stored `reason` and READ's
/// `status.reason`.
void WriteAlarmStatusReason(rapidjson::Writer<rapidjson::StringBuffer>& w,
                            const AlarmStatusReason& r);

/// deleteAfterFire as text: "false", "true" or "rules".
const char* DeleteAfterFireName(DeleteAfterFire d);

struct AlarmSchedule {
    // ---- identity
    std::string namespace_name;  // the trigger's namespace (resolved, never "_")
    std::string trigger;         // the trigger's name
    /// A fresh random string on every CREATE (not on UPDATE): firing ids derive from it, so a
    /// trigger deleted and created again under the same name never collides with its past.
    std::string generation;

    // ---- configuration (feeds.md §2.2)
    AlarmKind kind = AlarmKind::kCron;
    std::string cron;      // kCron: as given (5 or 6 fields)
    std::string timezone;  // kCron: IANA name; empty = UTC
    bool strict = false;
    int64_t minutes = 0;             // kInterval
    std::optional<int64_t> date_ms;  // kOnce
    DeleteAfterFire delete_after_fire = DeleteAfterFire::kNo;
    std::optional<int64_t> start_ms;  // kCron, kInterval (interval default: created + 30 s)
    std::optional<int64_t> stop_ms;   // kCron, kInterval
    int64_t max_triggers = -1;        // kCron (deprecated); -1 = unlimited
    /// What the trigger is fired with: always a JSON object (a string s became {"payload": s}).
    common::JsonValue payload = common::JsonValue::EmptyObject();
    /// The feed parameters as the user gave them, where READ echoes them as OpenWhisk's provider
    /// does (a date may be a number or an ISO string): a JSON object with some of `date`,
    /// `startDate`, `stopDate`, `deleteAfterFire` (alarm_feed.cpp writes it; the typed fields
    /// above are what counts).
    common::JsonValue given = common::JsonValue::EmptyObject();

    // ---- state
    bool active = true;
    int64_t created_ms = 0;
    int64_t date_changed_ms = 0;              // last change of `active`/configuration
    std::optional<AlarmStatusReason> reason;  // set when disabled
    /// The scheduled time of the last firing that completed (0 = never fired). The scheduler
    /// fires only times after it.
    int64_t last_fire_ms = 0;
    int64_t fires = 0;  // completed firings (maxTriggers counts these)

    std::string DocId() const { return namespace_name + "/" + trigger; }
};

/// The stored JSON object of a schedule, and back. FromJson rejects (InvalidArgument) anything
/// that is not a schedule ToJson wrote (the store is hostile input too).
std::string AlarmScheduleToJson(const AlarmSchedule& s);
[[nodiscard]] absl::StatusOr<AlarmSchedule> AlarmScheduleFromJson(std::string_view json);

/// A parsed cron expression: 5 fields (minute granularity, seconds = 0) or 6 (leading seconds),
/// with the npm `cron` library's syntax (numbers, `*`, ranges `a-b`, steps `*/n` and `a-b/n`,
/// lists `a,b`, month and weekday names, weekday 7 = Sunday).
class CronExpression {
  public:
    /// InvalidArgument with the message `cron pattern '<cron>' is not valid` (feeds.md §2.2).
    [[nodiscard]] static absl::StatusOr<CronExpression> Parse(std::string_view cron);
    bool has_seconds() const { return has_seconds_; }
    /// The first matching time strictly after `after_ms`, evaluated in `timezone` (IANA name,
    /// empty = UTC; an unknown zone -> InvalidArgument `Invalid timezone.`); nullopt when no time
    /// matches within 5 years (e.g. "0 0 30 2 *").
    [[nodiscard]] absl::StatusOr<std::optional<int64_t>> NextAfter(int64_t after_ms,
                                                                   std::string_view timezone) const;

  private:
    bool has_seconds_ = false;
    std::vector<bool> seconds_, minutes_, hours_, days_, months_, weekdays_;
    bool days_any_ = true, weekdays_any_ = true;  // `*` in day-of-month / day-of-week
};

/// The first time the schedule fires strictly after `after_ms`, honouring start and stop dates,
/// or nullopt when it never fires again (once: its date is not after `after_ms`; past the stop
/// date). `minute` is the length of an interval minute (tests shorten it; 60 s otherwise).
[[nodiscard]] absl::StatusOr<std::optional<int64_t>> NextFireAfter(
    const AlarmSchedule& s, int64_t after_ms,
    std::chrono::milliseconds minute = std::chrono::minutes(1));

/// The trigger record's activation id for the firing of `s` at `scheduled_ms`: a stable
/// function of namespace, trigger, generation and time (SHA-256), so every controller that
/// fires the same slot uses the same id (TriggerFirer makes a second firing a no-op).
common::ActivationId AlarmFireActivationId(const AlarmSchedule& s, int64_t scheduled_ms);

/// The id of the claim document of one firing: "<namespace>/<trigger>/<generation>/<ms as 15
/// digits, zero-padded>".
std::string AlarmFireClaimId(const AlarmSchedule& s, int64_t scheduled_ms);

}  // namespace wisp::controller
