#include <wisp/sim/workload.hpp>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include <wisp/sim/random.hpp>

namespace wisp::sim {

Workload::Workload(const WorkloadConfig& config)
    : config_(config), zipf_(std::max<int64_t>(1, config.actions), config.zipf_s) {
    std::mt19937_64 rng(config.seed ^ 0x5eed'ac71'0000'0001ULL);
    actions_.resize(static_cast<size_t>(zipf_.size()));
    std::vector<double> durations;
    durations.reserve(actions_.size());
    const auto step = std::max(1, config.memory_step_mb);
    for (size_t i = 0; i < actions_.size(); ++i) {
        double d = std::exp(config.duration_mu + config.duration_sigma * StandardNormal(rng));
        d = std::clamp(d, config.min_duration_s, config.max_duration_s);
        // Burr XII inverse CDF: x = lambda * ((1-u)^(-1/k) - 1)^(1/c).
        const double u = Uniform01(rng);
        const double mb = config.memory_burr_lambda *
                          std::pow(std::pow(1.0 - u, -1.0 / config.memory_burr_k) - 1.0,
                                   1.0 / config.memory_burr_c);
        auto rounded = static_cast<int32_t>(std::ceil(mb / step)) * step;
        rounded = std::clamp(rounded, config.memory_min_mb, config.memory_max_mb);
        actions_[i] = {static_cast<int64_t>(d * 1e6), rounded};
        durations.push_back(d);
    }
    for (size_t i = 0; i < actions_.size(); ++i) {
        const double p = zipf_.Probability(static_cast<int64_t>(i));
        const double d = static_cast<double>(actions_[i].mean_duration_us) / 1e6;
        mean_duration_s_ += p * d;
        mean_memory_mb_ += p * actions_[i].memory_mb;
        mean_mb_seconds_ += p * d * actions_[i].memory_mb;
    }
    auto mid = durations.begin() + static_cast<std::ptrdiff_t>(durations.size() / 2);
    std::nth_element(durations.begin(), mid, durations.end());
    median_action_duration_s_ = *mid;
}

void Workload::Names(int32_t action, std::string& ns, std::string& fqn) const {
    const int32_t per_ns = std::max(1, config_.actions_per_namespace);
    ns.clear();
    fmt::format_to(std::back_inserter(ns), "ns{}", action / per_ns);
    fqn.assign(ns);
    fmt::format_to(std::back_inserter(fqn), "/action{}", action);
}

Invocation Workload::Draw(std::mt19937_64& rng) const {
    const auto id = static_cast<int32_t>(zipf_.Sample(rng));
    const ActionProfile& a = actions_[static_cast<size_t>(id)];
    const double sigma = config_.invocation_sigma;
    // Log-normal factor with mean 1: exp(sigma z - sigma^2 / 2).
    const double factor = std::exp(sigma * StandardNormal(rng) - sigma * sigma / 2);
    const double us = std::clamp(static_cast<double>(a.mean_duration_us) * factor,
                                 config_.min_duration_s * 1e6, config_.max_duration_s * 1e6);
    return {id, static_cast<int64_t>(us)};
}

}  // namespace wisp::sim
