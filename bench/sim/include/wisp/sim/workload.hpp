#pragma once
// The simulated workload: a table of actions (namespace, name, memory limit, mean duration) and
// the draw of one invocation (which action, how long it runs). The shape approximates the Azure
// Functions 2019 trace as characterized in Shahrad et al., "Serverless in the Wild" (USENIX ATC
// 2020); bench/README.md ("Simulation") states the parameters and what they approximate.
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <wisp/sim/zipf.hpp>

namespace wisp::sim {

struct WorkloadConfig {
    int64_t actions = 100'000;
    /// Popularity: action of rank k is invoked with probability ~ 1/(k+1)^s.
    double zipf_s = 1.0;
    /// Per-action mean execution time: log-normal, ln(seconds) ~ N(mu, sigma) (the paper's fit
    /// of per-function average execution time), clamped to [min_duration_s, max_duration_s]
    /// (60 s: OpenWhisk's default action timeout).
    double duration_mu = -0.38;
    double duration_sigma = 2.36;
    double max_duration_s = 60.0;
    double min_duration_s = 0.001;
    /// Per-invocation spread around the action's mean: log-normal with this sigma, mean 1.
    double invocation_sigma = 0.3;
    /// Memory: the paper's Burr XII fit of allocated memory per application (c, k, lambda in
    /// MB), rounded up to a multiple of memory_step_mb within [memory_min_mb, memory_max_mb].
    double memory_burr_c = 11.652;
    double memory_burr_k = 0.221;
    double memory_burr_lambda = 107.083;
    int32_t memory_step_mb = 128;
    int32_t memory_min_mb = 128;
    int32_t memory_max_mb = 512;
    /// Actions per namespace (an "application" of the trace owns a few functions).
    int32_t actions_per_namespace = 8;
    uint64_t seed = 1;
};

struct ActionProfile {
    int64_t mean_duration_us = 0;
    int32_t memory_mb = 0;
};

struct Invocation {
    int32_t action = 0;
    int64_t duration_us = 0;
};

class Workload {
  public:
    explicit Workload(const WorkloadConfig& config);

    const WorkloadConfig& config() const { return config_; }
    int64_t size() const { return static_cast<int64_t>(actions_.size()); }
    const ActionProfile& action(int32_t id) const { return actions_[static_cast<size_t>(id)]; }
    const ZipfSampler& popularity() const { return zipf_; }

    /// The action's namespace ("ns17") and fully qualified name ("ns17/action123"), written
    /// into the caller's buffers (no allocation once they have grown).
    void Names(int32_t action, std::string& ns, std::string& fqn) const;

    /// One invocation: an action by popularity (rank = action id) and its run time.
    Invocation Draw(std::mt19937_64& rng) const;

    /// E[duration x memory] of one invocation, in MB x s: the offered load per invocation.
    double MeanMbSeconds() const { return mean_mb_seconds_; }
    /// E[duration] of one invocation in seconds, and E[memory] in MB (by popularity).
    double MeanDurationSeconds() const { return mean_duration_s_; }
    double MeanMemoryMb() const { return mean_memory_mb_; }
    /// Median of the per-action mean durations (unweighted), seconds.
    double MedianActionDurationSeconds() const { return median_action_duration_s_; }

  private:
    WorkloadConfig config_;
    ZipfSampler zipf_;
    std::vector<ActionProfile> actions_;
    double mean_mb_seconds_ = 0;
    double mean_duration_s_ = 0;
    double mean_memory_mb_ = 0;
    double median_action_duration_s_ = 0;
};

}  // namespace wisp::sim
