#pragma once
// Backoff: capped exponential backoff with jitter, gRPC's connection-backoff shape (initial
// delay, x multiplier per attempt, +-jitter, a maximum), for every retry loop of the platform
// (CONVENTIONS.md). Pure: it computes delays, the caller waits (on a condition variable, so a
// shutdown interrupts it). Not thread-safe: one per retry loop.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace wisp::common {

struct BackoffPolicy {
    std::chrono::milliseconds initial{1000};
    double multiplier = 1.6;
    double jitter = 0.2;  // the delay varies by up to +-20 %
    std::chrono::milliseconds max{120000};
};

class Backoff {
  public:
    explicit Backoff(BackoffPolicy policy = {}) : policy_(policy), rng_(std::random_device{}()) {}

    /// The delay before the next attempt; grows by `multiplier` up to `max`, with jitter.
    std::chrono::milliseconds Next() {
        const double base = current_ms_ < 0 ? static_cast<double>(policy_.initial.count())
                                            : std::min(current_ms_ * policy_.multiplier,
                                                       static_cast<double>(policy_.max.count()));
        current_ms_ = base;
        ++attempts_;
        std::uniform_real_distribution<double> spread(-policy_.jitter, policy_.jitter);
        const double jittered = base * (1.0 + spread(rng_));
        return std::chrono::milliseconds(
            std::clamp<int64_t>(static_cast<int64_t>(jittered), 0, policy_.max.count()));
    }
    /// After a success: the next failure starts from `initial` again.
    void Reset() {
        current_ms_ = -1;
        attempts_ = 0;
    }
    /// Delays handed out since the last Reset().
    int attempts() const { return attempts_; }

  private:
    BackoffPolicy policy_;
    std::minstd_rand rng_;
    double current_ms_ = -1;
    int attempts_ = 0;
};

}  // namespace wisp::common
