// Alarm schedules: the stored form, cron expressions and the next firing time.
#include "alarm_schedule.hpp"

#include <initializer_list>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <fmt/format.h>

#include <wisp/common/crypto.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

namespace {

constexpr int64_t kFiveYearsMs = int64_t{5} * 366 * 24 * 3600 * 1000;

const char* KindName(AlarmKind k) {
    switch (k) {
        case AlarmKind::kCron:
            return "alarm";
        case AlarmKind::kOnce:
            return "once";
        case AlarmKind::kInterval:
            return "interval";
    }
    return "alarm";
}

/// The value of `all` whose name_of is `name`, or nullopt (the inverse of KindName and
/// DeleteAfterFireName).
template <class E>
std::optional<E> FromName(std::string_view name, std::initializer_list<E> all,
                          const char* (*name_of)(E)) {
    for (E e : all) {
        if (name == name_of(e)) return e;
    }
    return std::nullopt;
}

// ---- cron fields ---------------------------------------------------------------------------

struct FieldSpec {
    int min;
    int max;
    const char* const* names;  // names[i] stands for min + i (or nullptr)
    int name_count;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

bool ParseValue(std::string_view text, const FieldSpec& spec, int& out) {
    if (text.empty()) return false;
    if (spec.names) {
        const std::string lower = common::AsciiLower(text);
        for (int i = 0; i < spec.name_count; ++i) {
            if (lower == spec.names[i]) {
                out = spec.min + i;
                return true;
            }
        }
    }
    for (char c : text) {
        if (c < '0' || c > '9') return false;
    }
    if (text.size() > 4) return false;
    int v = 0;
    if (!common::ParseInt(text, v)) return false;
    out = v;
    return true;
}

// One field ("*", "a", "a-b", "*/n", "a-b/n", "a/n", lists of those) into `bits` indexed by
// value; `any` says whether the field was a bare "*" (or "*/1").
bool ParseField(std::string_view field, const FieldSpec& spec, int hard_max,
                std::vector<bool>& bits, bool& any) {
    bits.assign(hard_max + 1, false);
    any = false;
    if (field.empty()) return false;
    for (std::string_view part : common::Split(field, ',')) {
        if (part.empty()) return false;
        std::string_view range = part;
        int step = 1;
        if (size_t slash = part.find('/'); slash != std::string_view::npos) {
            range = part.substr(0, slash);
            std::string_view step_text = part.substr(slash + 1);
            if (step_text.empty() || step_text.size() > 4) return false;
            for (char c : step_text) {
                if (c < '0' || c > '9') return false;
            }
            if (!common::ParseInt(step_text, step) || step < 1) return false;
        }
        int lo = spec.min;
        int hi = spec.max;
        if (range == "*") {
            if (step == 1 && part.find('/') == std::string_view::npos) any = true;
        } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
            if (!ParseValue(range.substr(0, dash), spec, lo) ||
                !ParseValue(range.substr(dash + 1), spec, hi)) {
                return false;
            }
        } else {
            if (!ParseValue(range, spec, lo)) return false;
            // "a/n": from a to the field's end in steps of n; "a": just a.
            hi = part.find('/') != std::string_view::npos ? spec.max : lo;
        }
        if (lo < spec.min || hi > hard_max || lo > hi) return false;
        for (int v = lo; v <= hi; v += step) bits[v] = true;
    }
    return true;
}

bool Test(const std::vector<bool>& bits, int v) {
    return v >= 0 && v < static_cast<int>(bits.size()) && bits[v];
}

}  // namespace

std::string_view AlarmFeedName(AlarmKind kind) { return KindName(kind); }

absl::StatusOr<CronExpression> CronExpression::Parse(std::string_view cron) {
    const auto invalid = [&] {
        return absl::InvalidArgumentError(fmt::format("cron pattern '{}' is not valid", cron));
    };
    std::vector<std::string_view> fields = common::Split(common::TrimAsciiSpace(cron), ' ', true);
    if (fields.size() != 5 && fields.size() != 6) return invalid();
    CronExpression e;
    e.has_seconds_ = fields.size() == 6;
    size_t i = 0;
    bool ignored = false;
    static constexpr FieldSpec kSeconds{0, 59, nullptr, 0};
    static constexpr FieldSpec kMinutes{0, 59, nullptr, 0};
    static constexpr FieldSpec kHours{0, 23, nullptr, 0};
    static constexpr FieldSpec kDays{1, 31, nullptr, 0};
    static constexpr FieldSpec kMonths{1, 12, kMonthNames, 12};
    static constexpr FieldSpec kWeekdays{0, 7, kDayNames, 7};
    if (e.has_seconds_) {
        if (!ParseField(fields[i++], kSeconds, 59, e.seconds_, ignored)) return invalid();
    } else {
        e.seconds_.assign(60, false);
        e.seconds_[0] = true;
    }
    if (!ParseField(fields[i++], kMinutes, 59, e.minutes_, ignored) ||
        !ParseField(fields[i++], kHours, 23, e.hours_, ignored) ||
        !ParseField(fields[i++], kDays, 31, e.days_, e.days_any_) ||
        !ParseField(fields[i++], kMonths, 12, e.months_, ignored) ||
        !ParseField(fields[i++], kWeekdays, 7, e.weekdays_, e.weekdays_any_)) {
        return invalid();
    }
    if (e.weekdays_[7]) e.weekdays_[0] = true;  // 7 is Sunday too
    return e;
}

absl::StatusOr<std::optional<int64_t>> CronExpression::NextAfter(int64_t after_ms,
                                                                 std::string_view timezone) const {
    absl::TimeZone tz = absl::UTCTimeZone();
    if (!timezone.empty() && !absl::LoadTimeZone(std::string(timezone), &tz)) {
        return absl::InvalidArgumentError("Invalid timezone.");
    }
    const absl::Time after = absl::FromUnixMillis(after_ms);
    // Start at the next whole second after `after`.
    absl::CivilSecond t = absl::ToCivilSecond(after, tz) + 1;
    const absl::CivilSecond limit =
        absl::ToCivilSecond(after + absl::Milliseconds(kFiveYearsMs), tz);
    const auto day_matches = [&](const absl::CivilDay& d) {
        const bool dom = Test(days_, d.day());
        const int wd = (static_cast<int>(absl::GetWeekday(d)) + 1) % 7;  // Monday=0 -> Sunday=0
        const bool dow = Test(weekdays_, wd);
        // Vixie cron: with both fields restricted, either matches.
        if (days_any_ && weekdays_any_) return true;
        if (days_any_) return dow;
        if (weekdays_any_) return dom;
        return dom || dow;
    };
    while (t < limit) {
        if (!Test(months_, t.month())) {
            t = absl::CivilSecond(absl::CivilMonth(t) + 1);
            continue;
        }
        if (!day_matches(absl::CivilDay(t))) {
            t = absl::CivilSecond(absl::CivilDay(t) + 1);
            continue;
        }
        if (!Test(hours_, t.hour())) {
            t = absl::CivilSecond(absl::CivilHour(t) + 1);
            continue;
        }
        if (!Test(minutes_, t.minute())) {
            t = absl::CivilSecond(absl::CivilMinute(t) + 1);
            continue;
        }
        if (!Test(seconds_, t.second())) {
            t += 1;
            continue;
        }
        const absl::TimeZone::TimeInfo info = tz.At(t);
        // A time skipped by a DST change fires at the transition (once).
        const absl::Time at =
            info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
        const int64_t ms = absl::ToUnixMillis(at);
        if (ms > after_ms) return std::optional<int64_t>(ms);
        t += 1;
    }
    return std::optional<int64_t>();
}

absl::StatusOr<std::optional<int64_t>> NextFireAfter(const AlarmSchedule& s, int64_t after_ms,
                                                     std::chrono::milliseconds minute) {
    using Next = std::optional<int64_t>;
    if (s.max_triggers >= 0 && s.fires >= s.max_triggers) return Next();
    Next next;
    switch (s.kind) {
        case AlarmKind::kOnce:
            if (s.date_ms && *s.date_ms > after_ms) next = *s.date_ms;
            return next;
        case AlarmKind::kInterval: {
            const int64_t period = s.minutes * static_cast<int64_t>(minute.count());
            if (period <= 0) return absl::InvalidArgumentError("the interval has no period");
            const int64_t start = s.start_ms.value_or(s.created_ms + 30000);
            int64_t slot = start;
            if (after_ms >= start) slot = start + ((after_ms - start) / period + 1) * period;
            next = slot;
            break;
        }
        case AlarmKind::kCron: {
            auto expr = CronExpression::Parse(s.cron);
            if (!expr.ok()) return expr.status();
            int64_t from = after_ms;
            if (s.start_ms && *s.start_ms - 1 > from) from = *s.start_ms - 1;
            auto n = expr->NextAfter(from, s.timezone);
            if (!n.ok()) return n.status();
            next = *n;
            break;
        }
    }
    if (next && s.stop_ms && *next > *s.stop_ms) return Next();
    return next;
}

common::ActivationId AlarmFireActivationId(const AlarmSchedule& s, int64_t scheduled_ms) {
    const std::string seed = fmt::format("alarm\n{}\n{}\n{}\n{}", s.namespace_name, s.trigger,
                                         s.generation, scheduled_ms);
    return common::ActivationId::Parse(common::Sha256Hex(seed).substr(0, 32)).value();
}

std::string AlarmFireClaimId(const AlarmSchedule& s, int64_t scheduled_ms) {
    return fmt::format("{}/{}/{}/{:015d}", s.namespace_name, s.trigger, s.generation, scheduled_ms);
}

// ---- JSON ------------------------------------------------------------------------------------

const char* DeleteAfterFireName(DeleteAfterFire d) {
    switch (d) {
        case DeleteAfterFire::kNo:
            return "false";
        case DeleteAfterFire::kTrigger:
            return "true";
        case DeleteAfterFire::kTriggerAndRules:
            return "rules";
    }
    return "false";
}

void WriteAlarmStatusReason(rapidjson::Writer<rapidjson::StringBuffer>& w,
                            const AlarmStatusReason& r) {
    w.StartObject();
    w.Key("kind");
    w.String(r.kind.c_str());
    if (r.status_code) {
        w.Key("statusCode");
        w.Int(*r.status_code);
    }
    w.Key("message");
    w.String(r.message.c_str());
    w.EndObject();
}

std::string AlarmScheduleToJson(const AlarmSchedule& s) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("namespace");
    w.String(s.namespace_name.c_str());
    w.Key("trigger");
    w.String(s.trigger.c_str());
    w.Key("generation");
    w.String(s.generation.c_str());
    w.Key("kind");
    w.String(KindName(s.kind));
    if (!s.cron.empty()) {
        w.Key("cron");
        w.String(s.cron.c_str());
    }
    if (!s.timezone.empty()) {
        w.Key("timezone");
        w.String(s.timezone.c_str());
    }
    w.Key("strict");
    w.Bool(s.strict);
    if (s.minutes > 0) {
        w.Key("minutes");
        w.Int64(s.minutes);
    }
    if (s.date_ms) {
        w.Key("date");
        w.Int64(*s.date_ms);
    }
    w.Key("deleteAfterFire");
    w.String(DeleteAfterFireName(s.delete_after_fire));
    if (s.start_ms) {
        w.Key("startDate");
        w.Int64(*s.start_ms);
    }
    if (s.stop_ms) {
        w.Key("stopDate");
        w.Int64(*s.stop_ms);
    }
    w.Key("maxTriggers");
    w.Int64(s.max_triggers);
    w.Key("payload");
    w.RawValue(s.payload.text().data(), s.payload.text().size(), rapidjson::kObjectType);
    if (s.given.IsObject() && s.given.text() != "{}") {
        w.Key("given");
        w.RawValue(s.given.text().data(), s.given.text().size(), rapidjson::kObjectType);
    }
    w.Key("active");
    w.Bool(s.active);
    w.Key("created");
    w.Int64(s.created_ms);
    w.Key("dateChanged");
    w.Int64(s.date_changed_ms);
    if (s.reason) {
        w.Key("reason");
        WriteAlarmStatusReason(w, *s.reason);
    }
    w.Key("lastFire");
    w.Int64(s.last_fire_ms);
    w.Key("fires");
    w.Int64(s.fires);
    w.EndObject();
    return sb.GetString();
}

absl::StatusOr<AlarmSchedule> AlarmScheduleFromJson(std::string_view json) {
    rapidjson::Document doc;
    if (auto st = common::ParseJson(json, doc); !st.ok()) return st;
    const auto bad = [](std::string_view what) {
        return absl::InvalidArgumentError(
            fmt::format("the stored alarm schedule is not valid: {}", what));
    };
    if (!doc.IsObject()) return bad("not an object");
    AlarmSchedule s;
    const auto str = [&](const char* key, std::string& out, bool required) -> bool {
        auto it = doc.FindMember(key);
        if (it == doc.MemberEnd()) return !required;
        if (!it->value.IsString()) return false;
        out.assign(it->value.GetString(), it->value.GetStringLength());
        return true;
    };
    const auto i64 = [&](const char* key, std::optional<int64_t>& out) -> bool {
        auto it = doc.FindMember(key);
        if (it == doc.MemberEnd()) return true;
        if (!it->value.IsInt64()) return false;
        out = it->value.GetInt64();
        return true;
    };
    const auto boolean = [&](const char* key, bool& out) -> bool {
        auto it = doc.FindMember(key);
        if (it == doc.MemberEnd()) return true;
        if (!it->value.IsBool()) return false;
        out = it->value.GetBool();
        return true;
    };
    std::string kind;
    std::string daf = "false";
    if (!str("namespace", s.namespace_name, true) || s.namespace_name.empty()) {
        return bad("namespace");
    }
    if (!str("trigger", s.trigger, true) || s.trigger.empty()) return bad("trigger");
    if (!str("generation", s.generation, true)) return bad("generation");
    if (!str("kind", kind, true)) return bad("kind");
    if (auto k =
            FromName(kind, {AlarmKind::kCron, AlarmKind::kOnce, AlarmKind::kInterval}, KindName)) {
        s.kind = *k;
    } else {
        return bad("kind");
    }
    if (!str("cron", s.cron, false) || !str("timezone", s.timezone, false)) return bad("cron");
    if (!boolean("strict", s.strict) || !boolean("active", s.active)) return bad("flags");
    std::optional<int64_t> minutes, created, changed, last, fires, max_triggers;
    if (!i64("minutes", minutes) || !i64("date", s.date_ms) || !i64("startDate", s.start_ms) ||
        !i64("stopDate", s.stop_ms) || !i64("maxTriggers", max_triggers) ||
        !i64("created", created) || !i64("dateChanged", changed) || !i64("lastFire", last) ||
        !i64("fires", fires)) {
        return bad("a number");
    }
    s.minutes = minutes.value_or(0);
    s.max_triggers = max_triggers.value_or(-1);
    s.created_ms = created.value_or(0);
    s.date_changed_ms = changed.value_or(0);
    s.last_fire_ms = last.value_or(0);
    s.fires = fires.value_or(0);
    if (!str("deleteAfterFire", daf, false)) return bad("deleteAfterFire");
    if (auto d = FromName(
            daf,
            {DeleteAfterFire::kNo, DeleteAfterFire::kTrigger, DeleteAfterFire::kTriggerAndRules},
            DeleteAfterFireName)) {
        s.delete_after_fire = *d;
    } else {
        return bad("deleteAfterFire");
    }
    if (auto it = doc.FindMember("payload"); it != doc.MemberEnd()) {
        if (!it->value.IsObject()) return bad("payload");
        s.payload = common::JsonValue::FromRapid(it->value);
    }
    if (auto it = doc.FindMember("given"); it != doc.MemberEnd()) {
        if (!it->value.IsObject()) return bad("given");
        s.given = common::JsonValue::FromRapid(it->value);
    }
    if (auto it = doc.FindMember("reason"); it != doc.MemberEnd()) {
        if (!it->value.IsObject()) return bad("reason");
        AlarmStatusReason r;
        auto k = it->value.FindMember("kind");
        auto m = it->value.FindMember("message");
        auto c = it->value.FindMember("statusCode");
        if (k == it->value.MemberEnd() || !k->value.IsString() || m == it->value.MemberEnd() ||
            !m->value.IsString()) {
            return bad("reason");
        }
        r.kind = k->value.GetString();
        r.message = m->value.GetString();
        if (c != it->value.MemberEnd()) {
            if (!c->value.IsInt()) return bad("reason");
            r.status_code = c->value.GetInt();
        }
        s.reason = std::move(r);
    }
    if (s.kind == AlarmKind::kCron && !CronExpression::Parse(s.cron).ok()) return bad("cron");
    if (s.kind == AlarmKind::kInterval && s.minutes <= 0) return bad("minutes");
    if (s.kind == AlarmKind::kOnce && !s.date_ms) return bad("date");
    return s;
}

}  // namespace wisp::controller
