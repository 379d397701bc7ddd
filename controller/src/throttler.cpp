#include "throttler.hpp"

#include <algorithm>

#include <wisp/common/strings.hpp>

namespace wisp::controller {

absl::Status RateThrottler::Check(std::string_view ns, int64_t allowed, int64_t now_ms) {
    const int64_t minute = now_ms / 60000;
    std::lock_guard lock(mu_);
    if (windows_.size() > 100000) windows_.clear();  // bounded: stale namespaces go
    auto& w = windows_[std::string(ns)];
    if (w.minute != minute) {
        w.minute = minute;
        w.count = 0;
    }
    ++w.count;
    if (w.count > allowed) {
        return absl::ResourceExhaustedError(
            common::Cat("Too many requests in the last minute (count: ", w.count,
                        ", allowed: ", allowed, ")."));
    }
    return absl::OkStatus();
}

int64_t ClusterShare(int64_t limit, int controllers) {
    if (controllers <= 1) return limit;
    const int64_t individual = std::max<int64_t>(1, limit / controllers);
    return (individual * 12 + 9) / 10;  // ceil(individual x 1.2), exact in integers
}

[[nodiscard]] absl::Status CheckConcurrency(int64_t in_flight, int64_t allowed) {
    if (in_flight >= allowed) {
        return absl::ResourceExhaustedError(
            common::Cat("Too many concurrent requests in flight (count: ", in_flight,
                        ", allowed: ", allowed, ")."));
    }
    return absl::OkStatus();
}

}  // namespace wisp::controller
