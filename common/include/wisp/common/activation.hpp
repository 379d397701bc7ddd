#pragma once
// The activation record (wire §3).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <wisp/common/entity_path.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/common/semver.hpp>

namespace wisp::common {

enum class ActivationStatus : int {
    kSuccess = 0,
    kApplicationError = 1,
    kDeveloperError = 2,
    kWhiskError = 3,
};
/// "success", "application error", "action developer error", "whisk internal error".
std::string_view ActivationStatusName(ActivationStatus s);
/// The metric label of a status, as OpenWhisk's user-events service names it: "success",
/// "application_error", "action_developer_error", "whisk_internal_error".
std::string_view ActivationStatusLabel(ActivationStatus s);

struct ActivationResponse {
    ActivationStatus status = ActivationStatus::kSuccess;
    std::optional<JsonValue> result;  // failures are always {"error": ...}
    std::optional<int64_t> size;

    bool success() const { return status == ActivationStatus::kSuccess; }
    /// {"error": message} with the given status.
    static ActivationResponse Error(ActivationStatus status, std::string_view message);
    bool operator==(const ActivationResponse&) const = default;
};

struct ActivationRecord {
    EntityPath namespace_path;  // the invoking identity's namespace
    std::string name;
    std::string subject;
    ActivationId activation_id;
    int64_t start_ms = 0;
    int64_t end_ms = 0;  // 0 = not ended (omitted, as for trigger records)
    std::optional<ActivationId> cause;
    ActivationResponse response;
    std::vector<std::string> logs;
    SemVer version;
    bool publish = false;
    Annotations annotations;
    /// An explicit duration that differs from `end - start` (a sequence's record holds the sum
    /// of its components' durations); unset for ordinary records.
    std::optional<int64_t> duration_ms;

    /// `duration_ms` when set, else `end - start` when ended.
    std::optional<int64_t> duration() const;
    /// Storage id "ns/<activationId>".
    std::string DocId() const;
    /// What the `name` filter of activation lists matches: "a" or "pkg/a" — taken from the
    /// `binding` annotation when present, else the `path` annotation minus its namespace,
    /// else the record's name.
    std::string FilterName() const;
    bool operator==(const ActivationRecord&) const = default;
};

}  // namespace wisp::common
