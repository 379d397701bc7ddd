#pragma once
// TimerQueue: runs callbacks at deadlines on one thread (blocking-invoke waits, sequence
// component waits). Cheap to schedule and cancel; callbacks must not block.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace wisp::controller {

class TimerQueue {
  public:
    using Clock = std::chrono::steady_clock;
    using TimerId = uint64_t;

    TimerQueue();
    /// Stop().
    ~TimerQueue();
    TimerQueue(const TimerQueue&) = delete;
    TimerQueue& operator=(const TimerQueue&) = delete;

    /// Runs `fn` on the timer thread once `delay` has passed. Thread-safe.
    TimerId Schedule(std::chrono::milliseconds delay, std::function<void()> fn);
    /// True when the timer was pending and will not run. Thread-safe; may be called from a
    /// timer callback.
    bool Cancel(TimerId id);
    /// Runs every pending callback now (shutdown: waiters answer at once), then stops the
    /// thread. Idempotent.
    void Stop();

  private:
    void Loop();

    std::mutex mu_;
    std::condition_variable cv_;
    std::multimap<Clock::time_point, TimerId> by_deadline_;
    std::unordered_map<TimerId, std::pair<Clock::time_point, std::function<void()>>> timers_;
    TimerId next_id_ = 1;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace wisp::controller
