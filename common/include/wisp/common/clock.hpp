#pragma once
// Time source, injected so tests control time.
#include <atomic>
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

/// A clock that only moves when told to (tests).
class ManualClock final : public Clock {
  public:
    explicit ManualClock(int64_t now_ms = 1700000000000) : now_ms_(now_ms) {}
    int64_t NowMs() const override { return now_ms_.load(); }
    int64_t MonotonicNs() const override { return now_ms_.load() * 1000000; }
    void Set(int64_t now_ms) { now_ms_.store(now_ms); }
    void Advance(int64_t ms) { now_ms_.fetch_add(ms); }

  private:
    std::atomic<int64_t> now_ms_;
};

}  // namespace wisp::common
