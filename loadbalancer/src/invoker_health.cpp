#include <wisp/loadbalancer/invoker_health.hpp>

#include <algorithm>

namespace wisp::loadbalancer {

std::string_view InvokerStateName(InvokerState state) {
    switch (state) {
        case InvokerState::kHealthy:
            return "up";
        case InvokerState::kUnhealthy:
            return "unhealthy";
        case InvokerState::kUnresponsive:
            return "unresponsive";
        case InvokerState::kOffline:
            return "down";
    }
    return "down";
}

namespace {
bool Testing(InvokerState s) {
    return s == InvokerState::kUnhealthy || s == InvokerState::kUnresponsive;
}
}  // namespace

void InvokerHealthTracker::Refresh(int64_t now_ns) {
    if (state_ == InvokerState::kOffline) return;
    const int64_t timeout_ns = std::chrono::nanoseconds(config_.ping_timeout).count();
    if (!seen_ping_ || now_ns - last_ping_ns_ > timeout_ns) state_ = InvokerState::kOffline;
}

InvokerState InvokerHealthTracker::state(int64_t now_ns) const {
    if (state_ == InvokerState::kOffline) return state_;
    const int64_t timeout_ns = std::chrono::nanoseconds(config_.ping_timeout).count();
    if (!seen_ping_ || now_ns - last_ping_ns_ > timeout_ns) return InvokerState::kOffline;
    return state_;
}

bool InvokerHealthTracker::Request(int64_t now_ns) {
    last_test_ns_ = now_ns;
    ++tests_requested_;
    return true;
}

bool InvokerHealthTracker::Become(InvokerState next, int64_t now_ns) {
    const bool entered = next != state_ && Testing(next);
    state_ = next;
    return entered ? Request(now_ns) : false;
}

bool InvokerHealthTracker::OnPing(int64_t now_ns, bool enabled) {
    Refresh(now_ns);
    seen_ping_ = true;
    last_ping_ns_ = now_ns;
    if (!enabled) {
        state_ = InvokerState::kOffline;
        return false;
    }
    if (state_ == InvokerState::kOffline) return Become(InvokerState::kUnhealthy, now_ns);
    const int64_t interval_ns = std::chrono::nanoseconds(config_.test_interval).count();
    if (Testing(state_) && now_ns - last_test_ns_ >= interval_ns) return Request(now_ns);
    return false;
}

size_t InvokerHealthTracker::Count(InvocationOutcome outcome) const {
    return static_cast<size_t>(std::count(buffer_.begin(), buffer_.end(), outcome));
}

bool InvokerHealthTracker::OnOutcome(int64_t now_ns, InvocationOutcome outcome) {
    Refresh(now_ns);
    if (state_ == InvokerState::kOffline) return false;
    buffer_.push_back(outcome);
    while (buffer_.size() > std::max<size_t>(1, config_.buffer_size)) buffer_.pop_front();

    InvokerState next = state_;
    if (Count(InvocationOutcome::kSystemError) > config_.error_tolerance) {
        next = InvokerState::kUnhealthy;
    } else if (Count(InvocationOutcome::kTimeout) > config_.error_tolerance) {
        next = InvokerState::kUnresponsive;
    } else if (outcome == InvocationOutcome::kSuccess) {
        next = InvokerState::kHealthy;
    }
    const bool was_testing = Testing(state_);
    if (Become(next, now_ns)) return true;
    // Still sick after a success: test again at once to flush the errors out of the buffer.
    if (was_testing && Testing(next) && outcome == InvocationOutcome::kSuccess) {
        return Request(now_ns);
    }
    return false;
}

}  // namespace wisp::loadbalancer
