#pragma once
// The discrete-event simulation: a virtual clock (microseconds), Poisson arrivals drawn from a
// Workload, one PlacementPolicy (the controller) and one SimContainerPool per invoker. Events
// are arrivals and completions, processed in time order (ties by insertion order); the same
// config and seed give the same counts on every run (only the wall-clock placement cost varies).
#include <cstdint>
#include <functional>
#include <string>

#include <wisp/sim/policy.hpp>
#include <wisp/sim/workload.hpp>

namespace wisp::sim {

struct SimConfig {
    int32_t invokers = 100;
    /// Per invoker: user-memory (the pool's capacity and the balancer's slots, one controller).
    int64_t user_memory_mb = 2048;
    /// Offered load: arrival rate = load x invokers x user_memory / E[duration x memory].
    double load = 0.5;
    double warmup_s = 600;
    double duration_s = 1200;  // measured, after the warm-up
    double idle_timeout_s = 600;
    double cold_start_s = 0.5;  // added to the run time of a cold activation
    double sample_interval_s = 1;
    uint64_t seed = 1;
};

struct SimResult {
    std::string policy;
    int32_t invokers = 0;
    int64_t actions = 0;
    double zipf_s = 0;
    double load = 0;
    double rate_per_s = 0;
    double measured_s = 0;
    // Activations that arrived in the measured window.
    int64_t activations = 0;
    int64_t placed = 0;
    int64_t rejected = 0;  // no invoker (never with all invokers healthy)
    int64_t forced = 0;    // placed beyond the invoker's free slots
    int64_t warm = 0;
    int64_t cold = 0;
    int64_t buffered = 0;        // waited in an invoker's run buffer
    int64_t still_buffered = 0;  // at the end
    double warm_hit_rate = 0;    // warm / (warm + cold)
    double cold_per_s = 0;
    // Busy memory (MB of running containers) across invokers, sampled every sample_interval.
    double imbalance_mean = 0;  // mean over samples of max/mean
    double imbalance_p99 = 0;
    double imbalance_max = 0;
    double busy_cv_mean = 0;      // mean over samples of stddev/mean (0 = perfectly even)
    double busy_utilization = 0;  // mean busy / capacity
    int64_t evicted_for_room = 0;
    int64_t expired_idle = 0;
    // Wall-clock nanoseconds around PlacementPolicy::Place (timer overhead included).
    double placement_ns_mean = 0;
    double placement_ns_p50 = 0;
    double placement_ns_p99 = 0;
    double wall_s = 0;
};

/// Runs one simulation; `progress` (may be empty) is called with the simulated fraction done.
SimResult RunSimulation(const SimConfig& config, const Workload& workload, PlacementPolicy& policy,
                        const std::function<void(double)>& progress = {});

}  // namespace wisp::sim
