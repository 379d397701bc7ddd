#pragma once
// ManualClock: a common::Clock that only moves when the test tells it to (Set, Advance), so
// timeouts, idle pauses and timestamps are asserted without sleeping. Thread-safe.
#include <atomic>
#include <cstdint>

#include <wisp/common/clock.hpp>

namespace wisp::testing {

class ManualClock final : public common::Clock {
  public:
    explicit ManualClock(int64_t now_ms = 1700000000000) : now_ms_(now_ms) {}
    int64_t NowMs() const override { return now_ms_.load(); }
    int64_t MonotonicNs() const override { return now_ms_.load() * 1000000; }
    void Set(int64_t now_ms) { now_ms_.store(now_ms); }
    void Advance(int64_t ms) { now_ms_.fetch_add(ms); }

  private:
    std::atomic<int64_t> now_ms_;
};

}  // namespace wisp::testing
