#include <wisp/sim/simulator.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <vector>

#include <wisp/sim/container_pool.hpp>
#include <wisp/sim/random.hpp>

namespace wisp::sim {
namespace {

struct Completion {
    int64_t time_us;
    uint64_t seq;
    int32_t invoker;
    int32_t container;
    int32_t memory_mb;
    bool operator>(const Completion& o) const {
        return time_us != o.time_us ? time_us > o.time_us : seq > o.seq;
    }
};

double Percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const auto k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

}  // namespace

SimResult RunSimulation(const SimConfig& config, const Workload& workload, PlacementPolicy& policy,
                        const std::function<void(double)>& progress) {
    const auto wall_start = std::chrono::steady_clock::now();
    const int32_t n = std::max(1, config.invokers);
    const auto us = [](double s) { return static_cast<int64_t>(s * 1e6); };
    const int64_t warmup_us = us(config.warmup_s);
    const int64_t end_us = warmup_us + us(config.duration_s);
    const int64_t cold_start_us = us(config.cold_start_s);
    const int64_t sample_us = std::max<int64_t>(1, us(config.sample_interval_s));

    SimResult r;
    r.policy = std::string(policy.Name());
    r.invokers = n;
    r.actions = workload.size();
    r.zipf_s = workload.popularity().exponent();
    r.load = config.load;
    r.rate_per_s = config.load * n * static_cast<double>(config.user_memory_mb) /
                   std::max(1e-9, workload.MeanMbSeconds());
    r.measured_s = config.duration_s;
    const double mean_gap_us = 1e6 / r.rate_per_s;

    std::vector<SimContainerPool> pools;
    pools.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i)
        pools.emplace_back(config.user_memory_mb, us(config.idle_timeout_s));

    std::mt19937_64 arrivals_rng(config.seed);
    std::mt19937_64 policy_rng(config.seed ^ 0x9e37'79b9'7f4a'7c15ULL);
    std::priority_queue<Completion, std::vector<Completion>, std::greater<>> completions;
    uint64_t seq = 0;
    std::vector<SimContainerPool::Started> started;
    std::vector<double> placement_ns;
    std::vector<double> imbalance;
    double cv_sum = 0;
    double busy_sum = 0;
    int64_t busy_samples = 0;
    std::string ns, fqn;
    ns.reserve(32);
    fqn.reserve(64);

    const auto schedule_started = [&](int32_t invoker) {
        for (const auto& s : started) {
            const int64_t done = s.start_us + s.request.duration_us + (s.cold ? cold_start_us : 0);
            completions.push({done, seq++, invoker, s.container, s.request.memory_mb});
            if (s.request.arrival_us >= warmup_us) {
                ++(s.cold ? r.cold : r.warm);
                if (s.start_us > s.request.arrival_us) ++r.buffered;
            }
        }
        started.clear();
    };

    int64_t next_arrival = static_cast<int64_t>(Exponential(arrivals_rng, mean_gap_us));
    int64_t next_sample = warmup_us;
    int64_t next_progress = 0;
    const int64_t progress_step = std::max<int64_t>(1, end_us / 20);
    while (true) {
        const bool arrival_next = completions.empty() || next_arrival <= completions.top().time_us;
        const int64_t now = arrival_next ? next_arrival : completions.top().time_us;
        if (now >= end_us) break;
        while (next_sample <= now) {
            int64_t max_busy = 0, sum_busy = 0;
            double sum_sq = 0;
            for (const auto& p : pools) {
                max_busy = std::max(max_busy, p.BusyMb());
                sum_busy += p.BusyMb();
                sum_sq += static_cast<double>(p.BusyMb()) * static_cast<double>(p.BusyMb());
            }
            if (sum_busy > 0) {
                const double mean = static_cast<double>(sum_busy) / n;
                imbalance.push_back(static_cast<double>(max_busy) / mean);
                cv_sum += std::sqrt(std::max(0.0, sum_sq / n - mean * mean)) / mean;
            }
            busy_sum +=
                static_cast<double>(sum_busy) / n / static_cast<double>(config.user_memory_mb);
            ++busy_samples;
            next_sample += sample_us;
        }
        if (progress && now >= next_progress) {
            progress(static_cast<double>(now) / static_cast<double>(end_us));
            next_progress += progress_step;
        }
        if (!arrival_next) {
            const Completion c = completions.top();
            completions.pop();
            policy.Release(c.invoker, c.memory_mb);
            pools[static_cast<size_t>(c.invoker)].Complete(c.container, now, started);
            schedule_started(c.invoker);
            continue;
        }
        next_arrival = now + std::max<int64_t>(
                                 1, static_cast<int64_t>(Exponential(arrivals_rng, mean_gap_us)));
        const Invocation inv = workload.Draw(arrivals_rng);
        const int32_t memory_mb = workload.action(inv.action).memory_mb;
        workload.Names(inv.action, ns, fqn);
        const ActivationRef ref{ns, fqn, memory_mb};
        const auto t0 = std::chrono::steady_clock::now();
        const auto placed = policy.Place(ref, policy_rng);
        const auto t1 = std::chrono::steady_clock::now();
        const bool measured = now >= warmup_us;
        if (measured) {
            ++r.activations;
            placement_ns.push_back(static_cast<double>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
        }
        if (!placed) {
            if (measured) ++r.rejected;
            continue;
        }
        if (measured) {
            ++r.placed;
            if (placed->forced) ++r.forced;
        }
        const SimContainerPool::Request request{inv.action, memory_mb, inv.duration_us, now, 0};
        pools[static_cast<size_t>(placed->invoker)].Submit(request, now, started);
        schedule_started(placed->invoker);
    }
    if (progress) progress(1.0);

    for (auto& p : pools) {
        p.ExpireIdle(end_us);
        r.still_buffered += static_cast<int64_t>(p.Buffered());
        r.evicted_for_room += p.counters().evicted_for_room;
        r.expired_idle += p.counters().expired_idle;
    }
    const int64_t starts = r.warm + r.cold;
    r.warm_hit_rate = starts ? static_cast<double>(r.warm) / static_cast<double>(starts) : 0;
    r.cold_per_s = config.duration_s > 0 ? static_cast<double>(r.cold) / config.duration_s : 0;
    if (!imbalance.empty()) {
        double sum = 0;
        for (double x : imbalance) sum += x;
        r.imbalance_mean = sum / static_cast<double>(imbalance.size());
        r.imbalance_max = *std::max_element(imbalance.begin(), imbalance.end());
        r.busy_cv_mean = cv_sum / static_cast<double>(imbalance.size());
        r.imbalance_p99 = Percentile(imbalance, 0.99);
    }
    r.busy_utilization = busy_samples ? busy_sum / static_cast<double>(busy_samples) : 0;
    if (!placement_ns.empty()) {
        double sum = 0;
        for (double x : placement_ns) sum += x;
        r.placement_ns_mean = sum / static_cast<double>(placement_ns.size());
        r.placement_ns_p50 = Percentile(placement_ns, 0.5);
        r.placement_ns_p99 = Percentile(placement_ns, 0.99);
    }
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    return r;
}

}  // namespace wisp::sim
