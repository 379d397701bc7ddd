#pragma once
// Per-namespace rate throttles over calendar minutes (OpenWhisk's RateThrottler): invocations
// per minute and trigger fires per minute.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <absl/status/status.h>

namespace wisp::controller {

class RateThrottler {
  public:
    /// Counts one request of `ns` in the calendar minute of `now_ms`. ResourceExhausted with
    /// "Too many requests in the last minute (count: N, allowed: M)." when the count exceeds
    /// `allowed`. Thread-safe.
    [[nodiscard]] absl::Status Check(std::string_view ns, int64_t allowed, int64_t now_ms);

  private:
    struct Window {
        int64_t minute = -1;
        int64_t count = 0;
    };
    std::mutex mu_;
    std::unordered_map<std::string, Window> windows_;
};

/// One controller's share of a namespace limit when `controllers` controllers run (OpenWhisk's
/// Entitlement): each controller counts only what it admitted itself, so it enforces
/// limit / controllers (at least 1), dilated by 1.2 (rounded up) for the uneven spread of
/// requests over the controllers; one controller (or an unknown count, <= 1) enforces `limit`.
int64_t ClusterShare(int64_t limit, int controllers);

/// "Too many concurrent requests in flight (count: N, allowed: M)." when `in_flight` >= allowed.
[[nodiscard]] absl::Status CheckConcurrency(int64_t in_flight, int64_t allowed);

}  // namespace wisp::controller
