#pragma once
// Per-action limits (wire §1.4) and per-namespace limits (wire §2, §9).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace wisp::common {

struct ActionLimitBounds {
    int64_t min_timeout_ms = 100, max_timeout_ms = 300000, default_timeout_ms = 60000;
    int64_t min_memory_mb = 128, max_memory_mb = 512, default_memory_mb = 256;
    int64_t min_logs_mb = 0, max_logs_mb = 10, default_logs_mb = 10;
    int64_t min_concurrency = 1, max_concurrency = 1, default_concurrency = 1;
};

/// The system's bounds (OpenWhisk defaults).
const ActionLimitBounds& DefaultActionLimitBounds();

struct ActionLimits {
    int64_t timeout_ms = 60000;
    int64_t memory_mb = 256;
    int64_t logs_mb = 10;
    int64_t concurrency = 1;
    std::optional<int64_t> instances;

    /// InvalidArgument with OpenWhisk's exact text for the first field out of `bounds`, e.g.
    /// "duration 50 milliseconds below allowed threshold of 100 milliseconds",
    /// "memory size 1024 MB exceeds allowed threshold of 512 MB".
    [[nodiscard]] absl::Status Validate(
        const ActionLimitBounds& bounds = DefaultActionLimitBounds()) const;
    bool operator==(const ActionLimits&) const = default;
};

/// A namespace's own limits (the `<ns>/limits` document); unset = the system default applies.
struct NamespaceLimits {
    std::optional<int64_t> invocations_per_minute;
    std::optional<int64_t> concurrent_invocations;
    std::optional<int64_t> fires_per_minute;
    std::optional<std::vector<std::string>> allowed_kinds;
    std::optional<bool> store_activations;
    std::optional<int64_t> min_action_memory, max_action_memory;    // MB
    std::optional<int64_t> min_action_logs, max_action_logs;        // MB
    std::optional<int64_t> min_action_timeout, max_action_timeout;  // ms
    std::optional<int64_t> min_action_concurrency, max_action_concurrency;
    std::optional<int64_t> max_parameter_size;  // bytes
    std::optional<int64_t> max_payload_size;    // bytes
    std::optional<int64_t> truncation_size;     // bytes
    /// The largest `keep-warm` annotation an action of the namespace may carry (Wisp's own).
    std::optional<int64_t> max_keep_warm;

    bool empty() const { return *this == NamespaceLimits{}; }
    bool operator==(const NamespaceLimits&) const = default;
};

/// `system` narrowed or widened by a namespace's own min/max action limits (the fields it sets),
/// as OpenWhisk's UserLimits.allowed* do. Defaults are kept.
ActionLimitBounds BoundsFor(const NamespaceLimits& ns,
                            const ActionLimitBounds& system = DefaultActionLimitBounds());

/// System-wide throttle defaults (wire §9), overridable by configuration.
struct SystemLimits {
    int64_t invocations_per_minute = 60;
    int64_t concurrent_invocations = 30;
    int64_t fires_per_minute = 60;
    int64_t sequence_max_length = 50;
    int64_t max_payload_bytes = 1048576;
    int64_t max_result_bytes = 1048576;
    int64_t max_parameter_bytes = 1048576;
    int64_t max_code_bytes = 48 * 1048576;
    /// The largest `keep-warm` annotation (initialised containers kept per action) of a
    /// namespace without its own `maxKeepWarm` (Wisp's own).
    int64_t max_keep_warm = 2;
};

// ---- byte sizes (OpenWhisk's ByteSize) ----------------------------------------------------------

/// OpenWhisk ByteSize syntax ("1 MB", "512k", "1048576 B"; case-insensitive) or a bare number
/// of bytes. InvalidArgument with OpenWhisk's "Size Unit not supported..." text otherwise.
[[nodiscard]] absl::StatusOr<int64_t> ParseByteSize(std::string_view text);
/// A size the way OpenWhisk's ByteSize renders it ("1 MB", "512 KB", "10 B"), in the largest
/// unit that divides the value exactly.
std::string FormatByteSize(int64_t bytes);

}  // namespace wisp::common
