#pragma once
// Time source, injected so tests control time (tests: wisp::testing::ManualClock,
// <wisp/testing/manual_clock.hpp>).
#include <cstdint>

namespace wisp::common {

class Clock {
  public:
    virtual ~Clock() = default;
    /// Milliseconds since the Unix epoch. Thread-safe, never blocks.
    virtual int64_t NowMs() const = 0;
    /// Monotonic nanoseconds for measuring durations. Thread-safe, never blocks.
    virtual int64_t MonotonicNs() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
  public:
    int64_t NowMs() const override;
    int64_t MonotonicNs() const override;
    /// A process-wide instance.
    static SystemClock& Instance();
};

}  // namespace wisp::common
