#pragma once
// InvokerHealth: OpenWhisk's per-invoker health state machine (InvokerSupervision's
// InvokerActor, wire §7), pure: no bus, no clock of its own (every event carries the time), no
// threads, not thread-safe (the balancer serializes calls).
//
//   states:  Healthy ("up"), Unhealthy ("unhealthy"), Unresponsive ("unresponsive"),
//            Offline ("down"); a tracker starts Offline and its first ping makes it Unhealthy;
//   pings:   ping_timeout without a ping -> Offline (applied lazily at the next event or read);
//            a ping while Offline -> Unhealthy;
//   disabled: a ping with is_enabled=false (an operator drained the invoker) -> Offline, and it
//            stays Offline while its pings say so (reported "down", no work); the first enabled
//            ping -> Unhealthy, then the test action brings it back (OpenWhisk treats a
//            disabled invoker as Offline too);
//   outcomes: a ring buffer of the last 10 outcomes (test actions and user activations alike);
//            after each one: more than 3 SystemErrors -> Unhealthy, else more than 3 Timeouts ->
//            Unresponsive, else a Success -> Healthy (a SystemError or Timeout within the
//            tolerance leaves the state as it is). Outcomes while Offline are ignored;
//   test action: in Unhealthy / Unresponsive the owner sends the health test action when an
//            event returns true: on entry, after each Success that leaves it there, and when
//            test_interval passed since the last one (checked at every ping: pings arrive every
//            second while the invoker lives). Only Healthy invokers get work.
#include <chrono>
#include <cstdint>
#include <deque>
#include <string_view>

namespace wisp::loadbalancer {

enum class InvokerState { kHealthy, kUnhealthy, kUnresponsive, kOffline };
enum class InvocationOutcome { kSuccess, kSystemError, kTimeout };

/// "up", "unhealthy", "unresponsive", "down" (OpenWhisk's InvokerState.asString).
std::string_view InvokerStateName(InvokerState state);

struct InvokerHealthConfig {
    /// Without a ping for this long an invoker is Offline (OpenWhisk: 10 s).
    std::chrono::milliseconds ping_timeout{10000};
    /// The test action's period while Unhealthy / Unresponsive (OpenWhisk: 1 min).
    std::chrono::milliseconds test_interval{60000};
    /// Ring buffer size and the errors tolerated in it (OpenWhisk: 10 and 3).
    size_t buffer_size = 10;
    size_t error_tolerance = 3;
};

class InvokerHealthTracker {
  public:
    explicit InvokerHealthTracker(InvokerHealthConfig config = {}) : config_(config) {}

    /// A ping at `now_ns` (a monotonic clock's ns). Returns true when the owner must send the
    /// test action now.
    bool OnPing(int64_t now_ns, bool enabled);
    /// An activation placed on this invoker finished (or was completed by force: kTimeout).
    /// Returns true when the owner must send the test action now.
    bool OnOutcome(int64_t now_ns, InvocationOutcome outcome);

    /// The state at `now_ns` (Offline once the pings stopped for ping_timeout).
    InvokerState state(int64_t now_ns) const;
    bool Usable(int64_t now_ns) const { return state(now_ns) == InvokerState::kHealthy; }
    /// Test actions requested so far (for tests and metrics).
    int64_t tests_requested() const { return tests_requested_; }

  private:
    /// Applies the ping timeout.
    void Refresh(int64_t now_ns);
    /// Moves to `next`; returns true when that entered Unhealthy / Unresponsive.
    bool Become(InvokerState next, int64_t now_ns);
    bool Request(int64_t now_ns);
    size_t Count(InvocationOutcome outcome) const;

    InvokerHealthConfig config_;
    InvokerState state_ = InvokerState::kOffline;
    bool seen_ping_ = false;
    int64_t last_ping_ns_ = 0;
    int64_t last_test_ns_ = 0;
    int64_t tests_requested_ = 0;
    std::deque<InvocationOutcome> buffer_;
};

}  // namespace wisp::loadbalancer
