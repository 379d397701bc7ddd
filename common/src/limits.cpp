#include <wisp/common/limits.hpp>

#include <limits>

#include <wisp/common/status.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::common {

const ActionLimitBounds& DefaultActionLimitBounds() {
    static const ActionLimitBounds bounds;
    return bounds;
}

namespace {

// OpenWhisk's "<what> <value><unit> exceeds|below allowed threshold of <bound><unit>" texts
// (Messages.sizeExceedsAllowedThreshold and friends); the upper bound is checked first.
[[nodiscard]] absl::Status CheckRange(std::string_view what, int64_t value, int64_t min,
                                      int64_t max, std::string_view unit) {
    if (value > max) {
        return absl::InvalidArgumentError(
            Cat(what, " ", value, unit, " exceeds allowed threshold of ", max, unit));
    }
    if (value < min) {
        return absl::InvalidArgumentError(
            Cat(what, " ", value, unit, " below allowed threshold of ", min, unit));
    }
    return absl::OkStatus();
}

}  // namespace

// OpenWhisk checks memory, then timeout, then logs, then concurrency (Actions.checkActionLimits).
absl::Status ActionLimits::Validate(const ActionLimitBounds& b) const {
    WISP_RETURN_IF_ERROR(
        CheckRange("memory size", memory_mb, b.min_memory_mb, b.max_memory_mb, " MB"));
    WISP_RETURN_IF_ERROR(
        CheckRange("duration", timeout_ms, b.min_timeout_ms, b.max_timeout_ms, " milliseconds"));
    WISP_RETURN_IF_ERROR(CheckRange("log size", logs_mb, b.min_logs_mb, b.max_logs_mb, " MB"));
    WISP_RETURN_IF_ERROR(
        CheckRange("concurrency", concurrency, b.min_concurrency, b.max_concurrency, ""));
    if (instances && *instances < 1) {
        return absl::InvalidArgumentError(
            "Action container concurrency must be greater than or equal to 1.");
    }
    return absl::OkStatus();
}

ActionLimitBounds BoundsFor(const NamespaceLimits& ns, const ActionLimitBounds& system) {
    ActionLimitBounds b = system;
    b.min_memory_mb = ns.min_action_memory.value_or(b.min_memory_mb);
    b.max_memory_mb = ns.max_action_memory.value_or(b.max_memory_mb);
    b.min_logs_mb = ns.min_action_logs.value_or(b.min_logs_mb);
    b.max_logs_mb = ns.max_action_logs.value_or(b.max_logs_mb);
    b.min_timeout_ms = ns.min_action_timeout.value_or(b.min_timeout_ms);
    b.max_timeout_ms = ns.max_action_timeout.value_or(b.max_timeout_ms);
    b.min_concurrency = ns.min_action_concurrency.value_or(b.min_concurrency);
    b.max_concurrency = ns.max_action_concurrency.value_or(b.max_concurrency);
    return b;
}

// ---- byte sizes
// --------------------------------------------------------------------------------------

std::string FormatByteSize(int64_t bytes) {
    constexpr int64_t kKb = 1024, kMb = kKb * 1024, kGb = kMb * 1024;
    if (bytes != 0) {
        if (bytes % kGb == 0) return std::to_string(bytes / kGb) + " GB";
        if (bytes % kMb == 0) return std::to_string(bytes / kMb) + " MB";
        if (bytes % kKb == 0) return std::to_string(bytes / kKb) + " KB";
    }
    return std::to_string(bytes) + " B";
}

[[nodiscard]] absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
    const auto unsupported = [] {
        return absl::InvalidArgumentError(
            "Size Unit not supported. Only \"B\", \"K[B]\", \"M[B]\" and \"G[B]\" are supported.");
    };
    const auto too_large = [&] {
        return absl::InvalidArgumentError("size " + std::string(text) + " is too large");
    };
    std::string_view s = Trim(text);
    size_t i = 0;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        const int digit = s[i] - '0';
        if (n > (std::numeric_limits<int64_t>::max() - digit) / 10) {
            return too_large();
        }
        n = n * 10 + digit;
        ++i;
    }
    if (i == 0) return unsupported();
    const std::string unit = AsciiLower(Trim(s.substr(i)));
    int64_t multiplier = 0;
    if (unit.empty() || unit == "b") {
        multiplier = 1;
    } else if (unit == "k" || unit == "kb") {
        multiplier = 1024;
    } else if (unit == "m" || unit == "mb") {
        multiplier = 1024 * 1024;
    } else if (unit == "g" || unit == "gb") {
        multiplier = 1024LL * 1024 * 1024;
    } else {
        return unsupported();
    }
    if (n > std::numeric_limits<int64_t>::max() / multiplier) {
        return too_large();
    }
    return n * multiplier;
}

}  // namespace wisp::common
