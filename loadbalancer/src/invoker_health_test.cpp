// InvokerHealthTracker: the health state machine of wire §7, driven with explicit times (no
// clock, no sleeps).
#include <wisp/loadbalancer/invoker_health.hpp>

#include <catch2/catch.hpp>

using wisp::loadbalancer::InvocationOutcome;
using wisp::loadbalancer::InvokerHealthTracker;
using wisp::loadbalancer::InvokerState;
using wisp::loadbalancer::InvokerStateName;

namespace {
constexpr int64_t kSec = 1'000'000'000;
}

TEST_CASE("health: names", "[health]") {
    CHECK(InvokerStateName(InvokerState::kHealthy) == "up");
    CHECK(InvokerStateName(InvokerState::kUnhealthy) == "unhealthy");
    CHECK(InvokerStateName(InvokerState::kUnresponsive) == "unresponsive");
    CHECK(InvokerStateName(InvokerState::kOffline) == "down");
}

TEST_CASE("health: first ping -> Unhealthy with a test action; its success -> Healthy",
          "[health]") {
    InvokerHealthTracker t;
    CHECK(t.state(0) == InvokerState::kOffline);
    CHECK(t.OnPing(1 * kSec, true));  // entry into Unhealthy: test action
    CHECK(t.state(1 * kSec) == InvokerState::kUnhealthy);
    CHECK_FALSE(t.Usable(1 * kSec));
    CHECK_FALSE(t.OnPing(2 * kSec, true));  // no second test within the minute
    CHECK_FALSE(t.OnOutcome(3 * kSec, InvocationOutcome::kSuccess));
    CHECK(t.state(3 * kSec) == InvokerState::kHealthy);
    CHECK(t.Usable(3 * kSec));
    CHECK(t.tests_requested() == 1);
}

TEST_CASE("health: 10 s without a ping -> Offline; a ping -> Unhealthy", "[health]") {
    InvokerHealthTracker t;
    REQUIRE(t.OnPing(0, true));
    t.OnOutcome(1 * kSec, InvocationOutcome::kSuccess);
    t.OnPing(5 * kSec, true);
    CHECK(t.state(15 * kSec) == InvokerState::kHealthy);  // exactly 10 s: still up
    CHECK(t.state(15 * kSec + 1) == InvokerState::kOffline);
    // Outcomes while Offline are ignored.
    CHECK_FALSE(t.OnOutcome(16 * kSec, InvocationOutcome::kSuccess));
    CHECK(t.state(16 * kSec) == InvokerState::kOffline);
    CHECK(t.OnPing(17 * kSec, true));  // back: Unhealthy, test action
    CHECK(t.state(17 * kSec) == InvokerState::kUnhealthy);
}

TEST_CASE("health: more than 3 system errors -> Unhealthy; more than 3 timeouts -> Unresponsive",
          "[health]") {
    InvokerHealthTracker t;
    t.OnPing(0, true);
    t.OnOutcome(0, InvocationOutcome::kSuccess);
    REQUIRE(t.state(0) == InvokerState::kHealthy);
    for (int i = 0; i < 3; ++i) CHECK_FALSE(t.OnOutcome(0, InvocationOutcome::kSystemError));
    CHECK(t.state(0) == InvokerState::kHealthy);             // 3 tolerated
    CHECK(t.OnOutcome(0, InvocationOutcome::kSystemError));  // the 4th: Unhealthy + test
    CHECK(t.state(0) == InvokerState::kUnhealthy);
    // A success while 4 errors are still in the buffer: stays, and tests again at once.
    CHECK(t.OnOutcome(0, InvocationOutcome::kSuccess));
    CHECK(t.state(0) == InvokerState::kUnhealthy);
    // Enough successes push the errors out of the 10-entry ring buffer.
    for (int i = 0; i < 5; ++i) t.OnOutcome(0, InvocationOutcome::kSuccess);
    CHECK(t.state(0) == InvokerState::kUnhealthy);  // buffer: E E E E S S S S S S
    t.OnOutcome(0, InvocationOutcome::kSuccess);    // E E E S S S S S S S
    CHECK(t.state(0) == InvokerState::kHealthy);

    for (int i = 0; i < 4; ++i) t.OnOutcome(0, InvocationOutcome::kTimeout);
    CHECK(t.state(0) == InvokerState::kUnresponsive);
    CHECK_FALSE(t.Usable(0));
    // One system error (the old ones are out of the buffer) leaves it Unresponsive.
    t.OnOutcome(0, InvocationOutcome::kSystemError);
    CHECK(t.state(0) == InvokerState::kUnresponsive);
    // Four more: system errors are checked first.
    for (int i = 0; i < 3; ++i) t.OnOutcome(0, InvocationOutcome::kSystemError);
    CHECK(t.state(0) == InvokerState::kUnhealthy);
}

TEST_CASE("health: an Unhealthy invoker whose test actions fail stays Unhealthy", "[health]") {
    InvokerHealthTracker t;
    REQUIRE(t.OnPing(0, true));
    CHECK_FALSE(t.OnOutcome(1 * kSec, InvocationOutcome::kSystemError));
    CHECK(t.state(1 * kSec) == InvokerState::kUnhealthy);
    // The test action again every minute (seen at a ping; pings every 5 s here).
    int tests = 0;
    for (int64_t s = 5; s <= 120; s += 5) {
        if (t.OnPing(s * kSec, true)) {
            ++tests;
            CHECK(s % 60 == 0);
        }
    }
    CHECK(tests == 2);
    CHECK(t.state(120 * kSec) == InvokerState::kUnhealthy);
    CHECK(t.tests_requested() == 3);
}

TEST_CASE("health: a disabled invoker is down until it pings enabled again", "[health]") {
    InvokerHealthTracker t;
    t.OnPing(0, true);
    t.OnOutcome(0, InvocationOutcome::kSuccess);
    REQUIRE(t.Usable(0));
    CHECK_FALSE(t.OnPing(1 * kSec, false));
    CHECK(t.state(1 * kSec) == InvokerState::kOffline);
    CHECK_FALSE(t.OnPing(2 * kSec, false));
    CHECK(t.state(2 * kSec) == InvokerState::kOffline);
    CHECK(t.OnPing(3 * kSec, true));
    CHECK(t.state(3 * kSec) == InvokerState::kUnhealthy);
    t.OnOutcome(4 * kSec, InvocationOutcome::kSuccess);
    CHECK(t.Usable(4 * kSec));
}
