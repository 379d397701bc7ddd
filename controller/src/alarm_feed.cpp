// The built-in /whisk.system/alarms feeds: the package install and the lifecycle events
// (OpenWhisk's alarms provider, action/alarmWebAction.js, as feeds.md §2 describes it).
#include "alarm_feed.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <absl/strings/ascii.h>
#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <fmt/format.h>

#include <wisp/common/crypto.hpp>
#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

#include "alarm_schedule.hpp"
#include "replier.hpp"

namespace wisp::controller {

namespace {

using common::JsonValue;
using rapidjson::Value;

constexpr std::string_view kAuthFailed = "Trigger authentication request failed.";
constexpr std::string_view kSuccess = R"({"status":"success"})";
/// Writes that lose a compare-and-set race (the scheduler recorded a firing meanwhile) are
/// redone from a fresh read this many times.
constexpr int kCasAttempts = 8;
/// JavaScript's Date range: ±8.64e15 ms.
constexpr double kMaxJsDateMs = 8.64e15;
/// The interval feed's default start: 30 s after CREATE (the provider's).
constexpr int64_t kIntervalStartDelayMs = 30000;
/// Wisp's bound on `minutes` (1000 years): keeps minutes * 60000 far from overflowing.
constexpr int64_t kMaxIntervalMinutes = int64_t{1000} * 366 * 24 * 60;

/// What one lifecycle event answers: success with a result object, or the provider's error.
struct Outcome {
    bool ok = true;
    std::string result;   // ok: the result object
    std::string error;    // !ok: the text
    std::string message;  // !ok: the detail ("message"), may be empty
    bool bare = false;    // !ok: the feed action's own rejection: {"error": text}
};

Outcome Success(std::string result = std::string(kSuccess)) {
    Outcome o;
    o.result = std::move(result);
    return o;
}

Outcome Fail(std::string error, std::string message = {}) {
    Outcome o;
    o.ok = false;
    o.error = std::move(error);
    o.message = std::move(message);
    return o;
}

// ---- parameters read as JavaScript reads them ---------------------------------------------

const Value* Param(const rapidjson::Document& d, const char* key) {
    if (!d.IsObject()) return nullptr;
    auto it = d.FindMember(key);
    return it == d.MemberEnd() ? nullptr : &it->value;
}

/// JavaScript truthiness (`if (params.x)`).
bool Truthy(const Value* v) {
    if (v == nullptr || v->IsNull()) return false;
    if (v->IsBool()) return v->GetBool();
    if (v->IsNumber()) {
        const double d = v->GetDouble();
        return d != 0 && !std::isnan(d);
    }
    if (v->IsString()) return v->GetStringLength() > 0;
    return true;  // objects and arrays
}

/// JavaScript's `${v}`.
std::string JsText(const Value& v) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    if (v.IsNull()) return "null";
    if (v.IsBool()) return v.GetBool() ? "true" : "false";
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsNumber()) {
        const double d = v.GetDouble();
        if (d == std::trunc(d) && std::fabs(d) < 1e21) return fmt::format("{:.0f}", d);
        return common::ToCompactJson(v);
    }
    if (v.IsArray()) {
        std::string out;
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
            if (i > 0) out += ',';
            if (!v[i].IsNull()) out += JsText(v[i]);
        }
        return out;
    }
    return "[object Object]";
}

/// `+v === parseInt(v)` (the provider's integer test), with the value.
bool JsInteger(const Value& v, int64_t& out) {
    if (v.IsInt64()) {
        out = v.GetInt64();
        return true;
    }
    if (v.IsNumber()) {
        const double d = v.GetDouble();
        if (!std::isfinite(d) || d != std::trunc(d) || std::fabs(d) > 9.0e15) return false;
        out = static_cast<int64_t>(d);
        return true;
    }
    if (!v.IsString()) return false;  // parseInt(true) is NaN
    const std::string s(
        common::TrimAsciiSpace(std::string_view(v.GetString(), v.GetStringLength())));
    // parseInt: an optional sign and the leading digits.
    size_t i = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
    const size_t digits_from = i;
    while (i < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == digits_from || i - digits_from > 15) return false;
    int64_t parsed = 0;
    if (!common::ParseInt(std::string_view(s).substr(digits_from, i - digits_from), parsed)) {
        return false;
    }
    if (s[0] == '-') parsed = -parsed;
    // +s: the whole string as a number.
    char* end = nullptr;
    const double whole = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || whole != static_cast<double>(parsed)) return false;
    out = parsed;
    return true;
}

/// An ISO-8601 date as JavaScript's Date.parse reads it: YYYY[-MM[-DD]] (or ±YYYYYY) with an
/// optional time `THH:mm[:ss[.sss]]` (a space instead of T is accepted) and offset `Z` or
/// `±HH:mm`. A time without an offset is taken as UTC (JavaScript would use the provider's
/// local zone, UTC on OpenWhisk's images).
std::optional<int64_t> ParseIsoDate(std::string_view s) {
    s = common::TrimAsciiSpace(s);
    const auto digits = [&s](int n, int64_t& out) {
        if (static_cast<int>(s.size()) < n) return false;
        out = 0;
        for (int i = 0; i < n; ++i) {
            if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return false;
            out = out * 10 + (s[i] - '0');
        }
        s.remove_prefix(n);
        return true;
    };
    const auto consume = [&s](char c) {
        if (s.empty() || s[0] != c) return false;
        s.remove_prefix(1);
        return true;
    };
    int64_t year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0;
    int64_t offset_min = 0;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        const bool negative = s[0] == '-';
        s.remove_prefix(1);
        if (!digits(6, year)) return std::nullopt;
        if (negative) {
            if (year == 0) return std::nullopt;  // -000000 is not a year
            year = -year;
        }
    } else if (!digits(4, year)) {
        return std::nullopt;
    }
    if (consume('-')) {
        if (!digits(2, month)) return std::nullopt;
        if (consume('-') && !digits(2, day)) return std::nullopt;
    }
    if (!s.empty() && (s[0] == 'T' || s[0] == 't' || s[0] == ' ')) {
        s.remove_prefix(1);
        if (!digits(2, hour) || !consume(':') || !digits(2, minute)) return std::nullopt;
        if (consume(':')) {
            if (!digits(2, second)) return std::nullopt;
            if (consume('.') || consume(',')) {
                int n = 0;
                int64_t frac = 0;
                while (!s.empty() && absl::ascii_isdigit(static_cast<unsigned char>(s[0]))) {
                    if (n < 3) frac = frac * 10 + (s[0] - '0');
                    ++n;
                    s.remove_prefix(1);
                }
                if (n == 0) return std::nullopt;
                for (int i = n; i < 3; ++i) frac *= 10;
                millis = frac;
            }
        }
        if (consume('Z') || consume('z')) {
            offset_min = 0;
        } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
            const int sign = s[0] == '-' ? -1 : 1;
            s.remove_prefix(1);
            int64_t oh = 0, om = 0;
            if (!digits(2, oh)) return std::nullopt;
            consume(':');
            if (!digits(2, om) || oh > 23 || om > 59) return std::nullopt;
            offset_min = sign * (oh * 60 + om);
        }
    }
    if (!s.empty()) return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || minute > 59 || second > 59) return std::nullopt;
    if (hour > 24 || (hour == 24 && (minute != 0 || second != 0 || millis != 0))) {
        return std::nullopt;
    }
    if (absl::CivilDay(year, static_cast<int>(month), static_cast<int>(day)).day() != day) {
        return std::nullopt;  // 2027-02-30
    }
    const absl::CivilSecond cs(year, static_cast<int>(month), static_cast<int>(day),
                               static_cast<int>(hour), static_cast<int>(minute),
                               static_cast<int>(second));
    const int64_t ms =
        absl::ToUnixMillis(absl::FromCivil(cs, absl::UTCTimeZone())) + millis - offset_min * 60000;
    if (std::fabs(static_cast<double>(ms)) > kMaxJsDateMs) return std::nullopt;
    return ms;
}

/// `new Date(v).getTime()`, nullopt for an invalid date.
std::optional<int64_t> JsDate(const Value& v) {
    if (v.IsString()) return ParseIsoDate(std::string_view(v.GetString(), v.GetStringLength()));
    if (v.IsNull()) return 0;
    if (v.IsBool()) return v.GetBool() ? 1 : 0;
    if (v.IsInt64()) {
        if (std::fabs(static_cast<double>(v.GetInt64())) > kMaxJsDateMs) return std::nullopt;
        return v.GetInt64();
    }
    if (v.IsNumber()) {
        const double d = v.GetDouble();
        if (!std::isfinite(d) || std::fabs(d) > kMaxJsDateMs) return std::nullopt;
        return static_cast<int64_t>(std::trunc(d));
    }
    return std::nullopt;
}

/// A start date a stop date is compared with: its time and its text as given.
struct StartDate {
    std::optional<int64_t> ms;  // nullopt: not a date (JavaScript's comparison is then false)
    std::string text;
};

/// The provider's validateDate: nullopt when valid (`out` = the time), else the error text.
std::optional<std::string> ValidateDate(const Value& v, std::string_view name, int64_t now,
                                        const std::optional<StartDate>& start, int64_t& out) {
    const std::optional<int64_t> t = JsDate(v);
    if (!t) return fmt::format("{} parameter '{}' is not a valid Date", name, JsText(v));
    if (now >= *t) return fmt::format("{} parameter '{}' must be in the future", name, JsText(v));
    if (start && start->ms && *t <= *start->ms) {
        return fmt::format("{} parameter '{}' must be greater than the startDate parameter '{}'",
                           name, JsText(v), start->text);
    }
    out = *t;
    return std::nullopt;
}

std::optional<DeleteAfterFire> ParseDeleteAfterFire(const Value& v) {
    const std::string s = common::AsciiLower(common::TrimAsciiSpace(JsText(v)));
    if (s == "false") return DeleteAfterFire::kNo;
    if (s == "true") return DeleteAfterFire::kTrigger;
    if (s == "rules") return DeleteAfterFire::kTriggerAndRules;
    return std::nullopt;
}

/// `strict`: true or "true" (the provider's sanitizer).
bool StrictOf(const Value* v) {
    if (v == nullptr) return false;
    if (v->IsBool()) return v->GetBool();
    if (v->IsString()) {
        return common::AsciiLower(common::TrimAsciiSpace(
                   std::string_view(v->GetString(), v->GetStringLength()))) == "true";
    }
    return false;
}

/// The provider's hasSecondsGranularity: 6 fields whose seconds field is not "0".
bool HasSecondsGranularity(std::string_view cron) {
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < cron.size()) {
        while (i < cron.size() && absl::ascii_isspace(static_cast<unsigned char>(cron[i]))) ++i;
        const size_t from = i;
        while (i < cron.size() && !absl::ascii_isspace(static_cast<unsigned char>(cron[i]))) ++i;
        if (i > from) fields.push_back(cron.substr(from, i - from));
    }
    return fields.size() > 5 && fields[fields.size() - 6] != "0";
}

/// The trigger payload: a string s -> {"payload": s}; an object as is; anything falsy -> {}.
/// Wisp refuses other values (the provider stored them and every firing then failed).
std::optional<JsonValue> PayloadOf(const Value* v) {
    if (v != nullptr && v->IsString()) {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("payload");
        w.String(v->GetString(), v->GetStringLength());
        w.EndObject();
        return JsonValue::Parse(sb.GetString()).value();
    }
    if (!Truthy(v)) return JsonValue::EmptyObject();
    if (!v->IsObject()) return std::nullopt;
    return JsonValue::FromRapid(*v);
}

constexpr std::string_view kBadPayload =
    "trigger_payload must be a JSON object or a string (Wisp fires the trigger with it as the "
    "body)";

/// Sets `key` of the object `d` to a copy of `v`.
void SetMember(rapidjson::Document& d, const char* key, const Value& v) {
    Value copy(v, d.GetAllocator());
    if (auto it = d.FindMember(key); it != d.MemberEnd()) {
        it->value = copy;
    } else {
        d.AddMember(Value(key, d.GetAllocator()), copy, d.GetAllocator());
    }
}

/// Reads deleteAfterFire into `s` and echoes it in `given`; the error text when it is not one
/// of false, true, rules.
std::optional<std::string> ApplyDeleteAfterFire(const Value& v, AlarmSchedule& s,
                                                rapidjson::Document& given) {
    auto d = ParseDeleteAfterFire(v);
    if (!d) return "deleteAfterFire parameter must be one of [false, true, rules].";
    s.delete_after_fire = *d;
    SetMember(given, "deleteAfterFire", Value(rapidjson::StringRef(DeleteAfterFireName(*d))));
    return std::nullopt;
}

std::string IsoUtc(int64_t ms) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

bool ValidTimezone(const Value& tz) {
    if (!tz.IsString()) return false;
    absl::TimeZone zone;
    return absl::LoadTimeZone(std::string(tz.GetString(), tz.GetStringLength()), &zone);
}

// ---- one lifecycle event ----------------------------------------------------------------------

class FeedRun {
  public:
    FeedRun(store::ArtifactStore& store, const common::Identity& who,
            const rapidjson::Document& args, int64_t now, std::string_view tid)
        : store_(store), who_(who), args_(args), now_(now), tid_(tid) {}

    Outcome Run();
    /// The schedule's SystemDoc id, and whether Run() wrote or deleted it.
    std::string DocId() const { return ns_ + "/" + name_; }
    bool wrote() const { return wrote_; }

  private:
    const Value* P(const char* key) const { return Param(args_, key); }
    /// A store failure's "message": the generic text of its HTTP class (ClientMessageFor: the
    /// store's own words, which may name hosts, are logged with the tid, not shown).
    std::string Detail(const absl::Status& st) const {
        return ClientMessageFor(st, tid_, "alarms feed");
    }
    std::string TriggerPath() const { return "/" + ns_ + "/" + name_; }
    Outcome NotFoundInDb(std::string message = {}) const {
        return Fail(fmt::format("could not find trigger {} in the database", TriggerPath()),
                    std::move(message));
    }

    /// The provider's verifyTriggerAuth: `authKey` is a valid key of the trigger's namespace and
    /// the trigger exists (DELETE: may be gone). nullopt when it holds.
    std::optional<Outcome> Authenticate(bool is_delete);
    /// Reads the schedule; NotFound when there is none.
    [[nodiscard]] absl::StatusOr<std::pair<AlarmSchedule, std::string>> Load();
    [[nodiscard]] absl::StatusOr<std::string> Put(const AlarmSchedule& s, std::string_view rev);

    Outcome Create();
    Outcome Read();
    Outcome Delete();
    /// Reads, lets `apply` change the schedule (or refuse: its Outcome), writes with the
    /// revision read; a lost race is redone from a fresh read.
    template <class F>
    Outcome Modify(F apply);
    std::optional<Outcome> ApplyUpdate(AlarmSchedule& s);

    store::ArtifactStore& store_;
    const common::Identity& who_;
    const rapidjson::Document& args_;
    const int64_t now_;
    const std::string_view tid_;
    std::string ns_;
    std::string name_;
    bool wrote_ = false;
};

Outcome FeedRun::Run() {
    const Value* event_value = P("lifecycleEvent");
    const std::string event =
        event_value != nullptr && event_value->IsString() ? event_value->GetString() : "";
    if (event != "CREATE" && event != "READ" && event != "UPDATE" && event != "DELETE" &&
        event != "PAUSE" && event != "UNPAUSE") {
        Outcome o = Fail("unsupported lifecycleEvent");
        o.bare = true;
        return o;
    }
    const Value* trigger_name = P("triggerName");
    if (!Truthy(trigger_name)) return Fail("no trigger name parameter was provided");
    // As the provider's feed action: the trigger is the invoking namespace's ("/_/t",
    // "/ns/t" and "t" all name <invoker's namespace>/t).
    const std::string qname = JsText(*trigger_name);
    if (!qname.empty() && qname[0] == '/') {
        const size_t second = qname.find('/', 1);
        name_ = second == std::string::npos ? std::string() : qname.substr(second + 1);
    } else {
        name_ = qname;
    }
    ns_ = who_.namespace_name;

    if (event == "CREATE") return Create();
    if (event == "READ") return Read();
    if (event == "DELETE") return Delete();
    if (auto refused = Authenticate(false)) return *refused;
    if (event == "UPDATE") {
        return Modify([this](AlarmSchedule& s) { return ApplyUpdate(s); });
    }
    const bool pause = event == "PAUSE";
    return Modify([this, pause](AlarmSchedule& s) -> std::optional<Outcome> {
        if (s.reason && s.reason->kind == "ADMIN") {
            return Fail(
                fmt::format("{} cannot be updated because it was disabled by an admin.  "
                            "Please contact support for further assistance",
                            TriggerPath()));
        }
        s.date_changed_ms = now_;
        if (pause) {
            s.active = false;
            s.reason = AlarmStatusReason{
                .kind = "AUTO", .status_code = {}, .message = "Paused by the user"};
        } else {
            s.active = true;
            // dateChanged = now: the scheduler fires nothing missed while paused.
            s.reason.reset();
        }
        return std::nullopt;
    });
}

std::optional<Outcome> FeedRun::Authenticate(bool is_delete) {
    const Outcome refused = Fail(std::string(kAuthFailed));
    const Value* key_value = P("authKey");
    if (key_value == nullptr || !key_value->IsString()) {
        return Fail(std::string(kAuthFailed),
                    "the authKey parameter must be the trigger owner's key \"<uuid>:<key>\"");
    }
    auto key = common::AuthKey::Parse(key_value->GetString());
    if (!key.ok() || !common::IsValidEntityName(name_)) return refused;
    auto identity = store_.GetIdentityByKey(*key);
    if (!identity.ok()) {
        if (absl::IsNotFound(identity.status())) return refused;
        return Fail(std::string(kAuthFailed), Detail(identity.status()));
    }
    if (identity->auth.uuid != key->uuid ||
        !common::ConstantTimeEquals(key->key, identity->auth.key) ||
        identity->namespace_name != ns_) {
        return refused;
    }
    auto trigger =
        store_.Get<common::Trigger>(common::FullyQualifiedName{common::EntityPath({ns_}), name_});
    if (trigger.ok()) return std::nullopt;
    if (absl::IsNotFound(trigger.status())) {
        if (is_delete) return std::nullopt;
        return refused;
    }
    return Fail(std::string(kAuthFailed), Detail(trigger.status()));
}

absl::StatusOr<std::pair<AlarmSchedule, std::string>> FeedRun::Load() {
    auto doc = store_.GetSystemDoc(kAlarmDocKind, DocId());
    if (!doc.ok()) return doc.status();
    auto s = AlarmScheduleFromJson(doc->body);
    if (!s.ok()) return s.status();
    return std::make_pair(*std::move(s), doc->rev);
}

absl::StatusOr<std::string> FeedRun::Put(const AlarmSchedule& s, std::string_view rev) {
    store::SystemDoc doc;
    doc.kind = std::string(kAlarmDocKind);
    doc.id = s.DocId();
    doc.body = AlarmScheduleToJson(s);
    doc.updated_ms = now_;
    return store_.PutSystemDoc(doc, rev);
}

Outcome FeedRun::Create() {
    AlarmSchedule s;
    s.namespace_name = ns_;
    s.trigger = name_;
    s.generation = common::ActivationId::Generate().str();
    s.active = true;
    s.created_ms = now_;
    s.date_changed_ms = now_;
    rapidjson::Document given(rapidjson::kObjectType);
    int64_t ms = 0;

    if (Truthy(P("fireOnce"))) {
        s.kind = AlarmKind::kOnce;
        const Value* date = P("date");
        if (!Truthy(date)) return Fail("alarms once trigger feed is missing the date parameter");
        if (auto e = ValidateDate(*date, "date", now_, std::nullopt, ms)) return Fail(*e);
        s.date_ms = ms;
        SetMember(given, "date", *date);
        if (const Value* daf = P("deleteAfterFire"); Truthy(daf)) {
            if (auto e = ApplyDeleteAfterFire(*daf, s, given)) return Fail(*e);
        }
    } else {
        const bool interval = Truthy(P("isInterval"));
        std::optional<CronExpression> cron;
        if (interval) {
            s.kind = AlarmKind::kInterval;
            const Value* minutes = P("minutes");
            if (!Truthy(minutes))
                return Fail("interval trigger feed is missing the minutes parameter");
            int64_t n = 0;
            if (!JsInteger(*minutes, n)) return Fail("the minutes parameter must be an integer");
            if (n <= 0) return Fail("the minutes parameter must be an integer greater than zero");
            if (n > kMaxIntervalMinutes) {
                return Fail(
                    fmt::format("the minutes parameter must be at most {}", kMaxIntervalMinutes));
            }
            s.minutes = n;
        } else {
            s.kind = AlarmKind::kCron;
            const Value* cron_value = P("cron");
            if (!Truthy(cron_value))
                return Fail("alarms trigger feed is missing the cron parameter");
            const std::string text = JsText(*cron_value);
            // The cron library checks the zone before the pattern.
            const Value* tz = P("timezone");
            if (Truthy(tz) && !ValidTimezone(*tz)) return Fail("Invalid timezone.");
            const std::string zone = Truthy(tz) ? JsText(*tz) : std::string();
            auto parsed = CronExpression::Parse(text);
            if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
            auto first = parsed->NextAfter(now_, zone);
            if (!first.ok()) return Fail(std::string(first.status().message()));
            if (!first->has_value())
                return Fail(fmt::format("cron pattern '{}' is not valid", text));
            if (Truthy(P("limitCronFields")) && HasSecondsGranularity(text)) {
                return Fail(
                    "cron pattern is limited to 5 fields with 1 minute as the finest granularity");
            }
            s.cron = text;
            s.timezone = zone;
            s.strict = StrictOf(P("strict"));
            cron = *std::move(parsed);
        }

        std::optional<StartDate> start;
        if (const Value* start_value = P("startDate"); Truthy(start_value)) {
            if (auto e = ValidateDate(*start_value, "startDate", now_, std::nullopt, ms)) {
                return Fail(*e);
            }
            s.start_ms = ms;
            SetMember(given, "startDate", *start_value);
            start = StartDate{ms, JsText(*start_value)};
        } else if (interval) {
            s.start_ms = now_ + kIntervalStartDelayMs;
            SetMember(given, "startDate", Value(static_cast<int64_t>(*s.start_ms)));
            start = StartDate{s.start_ms, std::to_string(*s.start_ms)};
        }

        const Value* max_triggers = P("maxTriggers");
        const Value* stop = P("stopDate");
        if (Truthy(max_triggers) && Truthy(stop)) {
            return Fail(interval ? "maxTriggers is not supported for the interval trigger feed"
                                 : "maxTriggers is not allowed when the stopDate parameter is "
                                   "specified");
        }
        if (Truthy(stop)) {
            if (auto e = ValidateDate(*stop, "stopDate", now_, start, ms)) return Fail(*e);
            s.stop_ms = ms;
            SetMember(given, "stopDate", *stop);
            if (cron) {
                // As the provider: the next tick from now, whatever the start date.
                auto next = cron->NextAfter(now_, s.timezone);
                if (!next.ok() || !next->has_value() || **next > ms) {
                    return Fail(
                        "the first scheduled trigger fire is not until after the stop date");
                }
            }
        }
        // maxTriggers (deprecated) counts only for `alarm`; the provider ignores it elsewhere.
        int64_t n = 0;
        if (!interval && Truthy(max_triggers) && JsInteger(*max_triggers, n) && n > 0) {
            s.max_triggers = n;
        }
    }

    auto payload = PayloadOf(P("trigger_payload"));
    if (!payload) return Fail(std::string(kBadPayload));
    s.payload = *std::move(payload);
    s.given = JsonValue::FromRapid(given);

    if (auto refused = Authenticate(false)) return *refused;

    // Over an existing schedule (its trigger was deleted without telling the feed): replaced,
    // with a fresh generation, as the provider does since 2.1.0.
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        std::string rev;
        auto existing = store_.GetSystemDoc(kAlarmDocKind, DocId());
        if (existing.ok()) {
            rev = existing->rev;
        } else if (!absl::IsNotFound(existing.status())) {
            return Fail("error creating alarm trigger.", Detail(existing.status()));
        }
        auto put = Put(s, rev);
        if (put.ok()) {
            wrote_ = true;
            return Success();
        }
        if (!absl::IsAborted(put.status()) && !absl::IsAlreadyExists(put.status())) {
            return Fail("error creating alarm trigger.", Detail(put.status()));
        }
    }
    return Fail("error creating alarm trigger.",
                "the schedule kept changing while it was written; try again");
}

Outcome FeedRun::Read() {
    if (auto refused = Authenticate(false)) return *refused;
    auto loaded = Load();
    if (!loaded.ok()) {
        return NotFoundInDb(absl::IsNotFound(loaded.status()) ? std::string()
                                                              : Detail(loaded.status()));
    }
    const AlarmSchedule& s = loaded->first;
    rapidjson::Document given;
    if (!common::ParseJson(s.given.text(), given).ok() || !given.IsObject()) given.SetObject();
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    const auto date = [&](const char* key, const std::optional<int64_t>& ms) {
        if (auto it = given.FindMember(key); it != given.MemberEnd()) {
            w.Key(key);
            it->value.Accept(w);
        } else if (ms) {
            w.Key(key);
            w.Int64(*ms);
        }
    };
    w.StartObject();
    w.Key("config");
    w.StartObject();
    w.Key("name");
    w.String(s.trigger.c_str());
    w.Key("namespace");
    w.String(s.namespace_name.c_str());
    w.Key("payload");
    w.RawValue(s.payload.text().data(), s.payload.text().size(), rapidjson::kObjectType);
    w.Key("strict");
    w.Bool(s.strict);
    switch (s.kind) {
        case AlarmKind::kOnce:
            date("date", s.date_ms);
            if (auto it = given.FindMember("deleteAfterFire"); it != given.MemberEnd()) {
                w.Key("deleteAfterFire");
                it->value.Accept(w);
            }
            break;
        case AlarmKind::kInterval:
            date("startDate", s.start_ms);
            date("stopDate", s.stop_ms);
            w.Key("minutes");
            w.Int64(s.minutes);
            break;
        case AlarmKind::kCron:
            date("startDate", s.start_ms);
            date("stopDate", s.stop_ms);
            w.Key("cron");
            w.String(s.cron.c_str());
            if (!s.timezone.empty()) {
                w.Key("timezone");
                w.String(s.timezone.c_str());
            }
            break;
    }
    w.EndObject();
    w.Key("status");
    w.StartObject();
    w.Key("active");
    w.Bool(s.active);
    w.Key("dateChanged");
    w.Int64(s.date_changed_ms);
    w.Key("dateChangedISO");
    w.String(IsoUtc(s.date_changed_ms).c_str());
    if (s.reason) {
        w.Key("reason");
        WriteAlarmStatusReason(w, *s.reason);
    }
    w.EndObject();
    w.EndObject();
    return Success(sb.GetString());
}

Outcome FeedRun::Delete() {
    if (auto refused = Authenticate(true)) return *refused;
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto doc = store_.GetSystemDoc(kAlarmDocKind, DocId());
        if (!doc.ok()) {
            return NotFoundInDb(absl::IsNotFound(doc.status()) ? std::string()
                                                               : Detail(doc.status()));
        }
        absl::Status st = store_.DeleteSystemDoc(kAlarmDocKind, DocId(), doc->rev);
        if (st.ok() || absl::IsNotFound(st)) {
            wrote_ = true;
            return Success();
        }
        if (!absl::IsAborted(st)) {
            return Fail("there was an error while deleting the trigger from the database.",
                        Detail(st));
        }
    }
    return Fail("there was an error while deleting the trigger from the database.",
                "the schedule kept changing while it was deleted; try again");
}

template <class F>
Outcome FeedRun::Modify(F apply) {
    for (int attempt = 0; attempt < kCasAttempts; ++attempt) {
        auto loaded = Load();
        if (!loaded.ok()) {
            return NotFoundInDb(absl::IsNotFound(loaded.status()) ? std::string()
                                                                  : Detail(loaded.status()));
        }
        AlarmSchedule& s = loaded->first;
        if (std::optional<Outcome> refused = apply(s)) return *refused;
        auto put = Put(s, loaded->second);
        if (put.ok()) {
            wrote_ = true;
            return Success();
        }
        if (!absl::IsAborted(put.status())) {
            return Fail("there was an error while updating the trigger in the database.",
                        Detail(put.status()));
        }
    }
    return Fail("there was an error while updating the trigger in the database.",
                "the schedule kept changing while it was updated; try again");
}

std::optional<Outcome> FeedRun::ApplyUpdate(AlarmSchedule& s) {
    if (s.reason && s.reason->kind == "ADMIN") {
        return Fail(
            fmt::format("{} cannot be updated because it was disabled by an admin.  Please "
                        "contact support for further assistance",
                        TriggerPath()));
    }
    rapidjson::Document given;
    if (!common::ParseJson(s.given.text(), given).ok() || !given.IsObject()) given.SetObject();
    bool changed = false;
    int64_t ms = 0;

    if (const Value* payload = P("trigger_payload"); Truthy(payload)) {
        auto p = PayloadOf(payload);
        if (!p) return Fail(std::string(kBadPayload));
        s.payload = *std::move(p);
        changed = true;
    }
    if (s.kind == AlarmKind::kOnce) {
        if (const Value* date = P("date"); Truthy(date)) {
            if (auto e = ValidateDate(*date, "date", now_, std::nullopt, ms)) return Fail(*e);
            s.date_ms = ms;
            SetMember(given, "date", *date);
            changed = true;
        }
        if (const Value* daf = P("deleteAfterFire"); Truthy(daf)) {
            if (auto e = ApplyDeleteAfterFire(*daf, s, given)) return Fail(*e);
            changed = true;
        }
    } else {
        if (s.kind == AlarmKind::kInterval) {
            if (const Value* minutes = P("minutes"); Truthy(minutes)) {
                int64_t n = 0;
                if (!JsInteger(*minutes, n))
                    return Fail("the minutes parameter must be an integer");
                if (n <= 0)
                    return Fail("the minutes parameter must be an integer greater than zero");
                if (n > kMaxIntervalMinutes) {
                    return Fail(fmt::format("the minutes parameter must be at most {}",
                                            kMaxIntervalMinutes));
                }
                s.minutes = n;
                changed = true;
            }
        } else {
            const Value* cron_value = P("cron");
            const Value* tz = P("timezone");
            if (Truthy(cron_value) || Truthy(tz)) {
                const std::string text = Truthy(cron_value) ? JsText(*cron_value) : s.cron;
                if (Truthy(tz) && !ValidTimezone(*tz)) return Fail("Invalid timezone.");
                const std::string zone = Truthy(tz) ? JsText(*tz) : s.timezone;
                auto parsed = CronExpression::Parse(text);
                if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
                auto next = parsed->NextAfter(now_, zone);
                if (!next.ok()) return Fail(std::string(next.status().message()));
                if (!next->has_value())
                    return Fail(fmt::format("cron pattern '{}' is not valid", text));
                if (Truthy(cron_value) && Truthy(P("limitCronFields")) &&
                    HasSecondsGranularity(text)) {
                    return Fail(
                        "cron pattern is limited to 5 fields with 1 minute as the finest "
                        "granularity");
                }
                s.cron = text;
                s.timezone = zone;
                changed = true;
            }
            if (const Value* strict = P("strict"); strict != nullptr) {
                s.strict = StrictOf(strict);
                changed = true;
            }
        }
        const Value* start_value = P("startDate");
        if (Truthy(start_value)) {
            if (auto e = ValidateDate(*start_value, "startDate", now_, std::nullopt, ms)) {
                return Fail(*e);
            }
            s.start_ms = ms;
            changed = true;
        }
        // The start a stop date is compared with: the new one, else the stored one.
        std::optional<StartDate> start;
        if (Truthy(start_value)) {
            start = StartDate{JsDate(*start_value), JsText(*start_value)};
        } else if (auto it = given.FindMember("startDate"); it != given.MemberEnd()) {
            start = StartDate{JsDate(it->value), JsText(it->value)};
        } else if (s.start_ms) {
            start = StartDate{s.start_ms, std::to_string(*s.start_ms)};
        }
        if (const Value* stop = P("stopDate"); Truthy(stop)) {
            if (auto e = ValidateDate(*stop, "stopDate", now_, start, ms)) return Fail(*e);
            s.stop_ms = ms;
            SetMember(given, "stopDate", *stop);
            changed = true;
        } else if (Truthy(start_value) && s.stop_ms && *s.start_ms >= *s.stop_ms) {
            std::string stop_text = std::to_string(*s.stop_ms);
            if (auto it = given.FindMember("stopDate"); it != given.MemberEnd()) {
                stop_text = JsText(it->value);
            }
            return Fail(fmt::format(
                "startDate parameter '{}' must be less than the stopDate parameter '{}'",
                JsText(*start_value), stop_text));
        }
        if (Truthy(start_value)) SetMember(given, "startDate", *start_value);
    }
    if (!changed) return Fail("no updatable parameters were specified");
    s.given = JsonValue::FromRapid(given);
    // As the provider: an update re-enables the schedule. dateChanged = now: the scheduler fires
    // nothing missed before it (lastFire stays the last slot fired).
    s.active = true;
    s.reason.reset();
    s.date_changed_ms = now_;
    return std::nullopt;
}

// ---- the package ---------------------------------------------------------------------------

constexpr std::string_view kFeedCode =
    "// The /whisk.system/alarms feeds are built into Wisp's controller: it answers invokes of\n"
    "// this action itself (wsk trigger create T --feed /whisk.system/alarms/alarm -p cron ...).\n"
    "function main() {\n"
    "    throw new Error('The alarms feeds are built into the Wisp controller and do not run in "
    "a container.');\n"
    "}\n";

[[nodiscard]] absl::Status Created(const absl::StatusOr<std::string>& put) {
    if (put.ok() || absl::IsAlreadyExists(put.status())) return absl::OkStatus();
    return put.status();
}

}  // namespace

absl::Status InstallAlarmsPackage(store::ArtifactStore& store,
                                  const common::RuntimeManifest& manifest,
                                  std::string_view api_host, int64_t now_ms) {
    const common::EntityPath ns({std::string(kAlarmsNamespace)});
    common::Package pkg;
    pkg.namespace_path = ns;
    pkg.name = std::string(kAlarmsPackage);
    pkg.publish = true;
    pkg.updated_ms = now_ms;
    pkg.annotations.Set("description", JsonValue::String("Alarms and periodic utility"));
    pkg.annotations.Set(
        "parameters", JsonValue::Parse(R"([{"name":"trigger_payload","required":false}])").value());
    pkg.parameters.Set("apihost", JsonValue::String(api_host));
    pkg.parameters.Set("trigger_payload", JsonValue::String(""));
    if (auto st = Created(store.PutEntity(common::WhiskEntity(pkg), "")); !st.ok()) return st;

    auto kind = manifest.ResolveKind("nodejs:default");
    if (!kind.ok()) return kind.status();
    struct Feed {
        const char* name;
        const char* description;
        const char* parameters;
        const char* bound;  // the parameter bound to true, or nullptr
    };
    static constexpr Feed kFeeds[] = {
        {"alarm", "Fire trigger when alarm occurs",
         R"([{"name":"cron","required":true},{"name":"timezone","required":false},)"
         R"({"name":"startDate","required":false},{"name":"stopDate","required":false},)"
         R"({"name":"strict","required":false}])",
         nullptr},
        {"once", "Fire trigger once when alarm occurs",
         R"([{"name":"date","required":true},{"name":"deleteAfterFire","required":false}])",
         "fireOnce"},
        {"interval", "Fire trigger at specified interval",
         R"([{"name":"minutes","required":true},{"name":"startDate","required":false},)"
         R"({"name":"stopDate","required":false}])",
         "isInterval"},
    };
    for (const Feed& f : kFeeds) {
        common::Action a;
        a.namespace_path = ns.Add(kAlarmsPackage);
        a.name = f.name;
        a.updated_ms = now_ms;
        a.exec = common::CodeExec{.kind = *kind, .code = std::string(kFeedCode)};
        a.annotations.Set("description", JsonValue::String(f.description));
        a.annotations.Set("parameters", JsonValue::Parse(f.parameters).value());
        a.annotations.Set("feed", JsonValue::Bool(true));
        a.annotations.Set(kBuiltinAnnotation, JsonValue::String(kAlarmsPackage));
        if (f.bound != nullptr) a.parameters.Set(f.bound, JsonValue::Bool(true));
        if (auto st = Created(store.PutEntity(common::WhiskEntity(a), "")); !st.ok()) return st;
    }
    return absl::OkStatus();
}

bool IsBuiltinAlarmFeed(const common::Action& action) {
    const auto& segs = action.namespace_path.segments();
    return segs.size() == 2 && segs[0] == kAlarmsNamespace && segs[1] == kAlarmsPackage &&
           action.annotations.Get(kBuiltinAnnotation) != nullptr;
}

absl::Status DeleteAlarmScheduleOf(store::ArtifactStore& store,
                                   const common::FullyQualifiedName& trigger) {
    absl::Status st =
        store.DeleteSystemDoc(kAlarmDocKind, trigger.Namespace() + "/" + trigger.name, "");
    if (st.ok() || absl::IsNotFound(st) || absl::IsUnimplemented(st)) return absl::OkStatus();
    return st;
}

common::ActivationRecord AlarmFeed::Run(const FeedInvoke& invoke) {
    const int64_t start = clock_.NowMs();
    rapidjson::Document args;
    if (!common::ParseJson(invoke.args_json, args).ok() || !args.IsObject()) args.SetObject();
    FeedRun run(store_, invoke.who, args, start, invoke.tid);
    const Outcome out = run.Run();
    if (run.wrote() && on_written_) on_written_(run.DocId());

    const common::Action& action = invoke.resolved.action;
    common::ActivationRecord rec;
    rec.namespace_path = common::EntityPath({invoke.who.namespace_name});
    rec.name = action.name;
    rec.subject = invoke.who.subject;
    rec.activation_id = common::ActivationId::Generate();
    rec.start_ms = start;
    rec.end_ms = std::max(start, clock_.NowMs());
    rec.version = action.version;
    rec.publish = false;
    rec.annotations.Set("path", JsonValue::String(action.Fqn().DocId()));
    rec.annotations.Set("kind", JsonValue::String(common::ExecKind(action.exec)));
    {
        rapidjson::StringBuffer sb;
        common::JsonWriter w(sb);
        common::WriteLimits(w, action.limits);
        rec.annotations.Set("limits", JsonValue::Parse(sb.GetString()).value());
    }
    rec.annotations.Set("waitTime",
                        JsonValue::Number(std::max<int64_t>(0, start - invoke.received_ms)));
    if (!invoke.resolved.binding.empty()) {
        rec.annotations.Set("binding", JsonValue::String(invoke.resolved.binding));
    }
    const Value* event = Param(args, "lifecycleEvent");
    rec.logs.push_back(fmt::format(
        "{} stdout: {} {}: run by the Wisp controller (built-in feed)",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(start), absl::UTCTimeZone()),
        event != nullptr ? JsText(*event) : std::string("(none)"), action.Fqn().ToString()));
    if (out.ok) {
        rec.response.status = common::ActivationStatus::kSuccess;
        rec.response.result = JsonValue::Parse(out.result).value();
        return rec;
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("error");
    if (out.bare) {
        w.String(out.error.c_str());
    } else {
        w.StartObject();
        w.Key("error");
        w.String(out.error.c_str());
        if (!out.message.empty()) {
            w.Key("message");
            w.String(out.message.c_str());
        }
        w.EndObject();
    }
    w.EndObject();
    rec.response.status = common::ActivationStatus::kApplicationError;
    rec.response.result = JsonValue::Parse(sb.GetString()).value();
    return rec;
}

}  // namespace wisp::controller
