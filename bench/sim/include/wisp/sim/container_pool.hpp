#pragma once
// SimContainerPool: one simulated invoker's container pool (wire §8), reduced to what decides
// warm vs cold: warm containers per action, a memory capacity (user-memory), idle containers
// destroyed after idle_timeout (OpenWhisk's idle-container, 10 min; the pause grace only
// changes the resume cost, which this model ignores), LRU eviction of idle containers when a
// cold start needs the memory, and a FIFO run buffer when even that is not enough. Time is the
// caller's virtual clock in microseconds; not thread-safe.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

namespace wisp::sim {

class SimContainerPool {
  public:
    struct Request {
        int32_t action = 0;
        int32_t memory_mb = 0;
        int64_t duration_us = 0;
        int64_t arrival_us = 0;
        uint64_t id = 0;  // the caller's
    };
    struct Started {
        Request request;
        int32_t container = 0;
        bool cold = false;
        int64_t start_us = 0;  // when it got its container (> arrival_us if it was buffered)
    };

    SimContainerPool(int64_t capacity_mb, int64_t idle_timeout_us);

    /// An activation arrives at `now_us`: starts it on a warm idle container of its action, or
    /// cold (evicting least recently used idle containers for room), or buffers it (FIFO; also
    /// whenever the buffer is not empty). What started is appended to `started`.
    void Submit(const Request& request, int64_t now_us, std::vector<Started>& started);

    /// The activation on `container` finished at `now_us`: the container turns idle (warm for
    /// its action), then buffered activations start in order while they fit.
    void Complete(int32_t container, int64_t now_us, std::vector<Started>& started);

    /// Destroys the containers idle for idle_timeout or longer at `now_us` (done lazily by
    /// Submit/Complete too; call it before reading IdleMb()).
    void ExpireIdle(int64_t now_us);

    int64_t capacity_mb() const { return capacity_mb_; }
    int64_t BusyMb() const { return busy_mb_; }
    int64_t IdleMb() const { return idle_mb_; }
    int64_t IdleContainers() const { return idle_count_; }
    size_t Buffered() const { return buffer_.size(); }
    /// Whether an idle container of `action` exists (after ExpireIdle(now_us)).
    bool HasIdle(int32_t action) const { return idle_by_action_.count(action) != 0; }

    struct Counters {
        int64_t warm = 0;
        int64_t cold = 0;
        int64_t buffered = 0;          // activations that waited in the run buffer
        int64_t evicted_for_room = 0;  // idle containers removed (LRU) to make room
        int64_t expired_idle = 0;      // idle containers removed after idle_timeout
    };
    const Counters& counters() const { return counters_; }

  private:
    struct Container {
        int32_t action = 0;
        int32_t memory_mb = 0;
        bool busy = false;
        int64_t idle_since_us = 0;
        int32_t lru_prev = -1, lru_next = -1;  // idle containers, oldest first
        int32_t act_prev = -1, act_next = -1;  // idle containers of one action, newest first
    };

    bool TryStart(const Request& request, int64_t now_us, std::vector<Started>& started);
    void MakeIdle(int32_t id, int64_t now_us);
    void Unidle(int32_t id);   // off both idle lists
    void Destroy(int32_t id);  // an idle container
    int32_t NewContainer(int32_t action, int32_t memory_mb);

    int64_t capacity_mb_;
    int64_t idle_timeout_us_;
    std::vector<Container> containers_;
    std::vector<int32_t> free_ids_;
    std::unordered_map<int32_t, int32_t> idle_by_action_;  // action -> newest idle container
    int32_t lru_oldest_ = -1;
    int32_t lru_newest_ = -1;
    int64_t busy_mb_ = 0;
    int64_t idle_mb_ = 0;
    int64_t idle_count_ = 0;
    std::deque<Request> buffer_;
    Counters counters_;
};

}  // namespace wisp::sim
