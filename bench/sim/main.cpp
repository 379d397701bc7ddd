// wisp-sim: the placement simulator (bench/README.md "Simulation"). Drives the real balancer
// core (wisp::loadbalancer::ShardingPlacement) and baseline policies with a simulated cluster
// and an Azure-Functions-shaped workload; prints a table on stdout (or JSON with --json),
// progress on stderr.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include <wisp/sim/policy.hpp>
#include <wisp/sim/simulator.hpp>
#include <wisp/sim/workload.hpp>

namespace {

constexpr const char* kUsage = R"(usage: wisp-sim [flags]
Simulates placement of an Azure-Functions-shaped workload (bench/README.md "Simulation") on a
cluster of invokers: warm hit rate, cold starts/s, load imbalance, placement cost.

  --invokers N[,N...]   cluster sizes (default 10,100,1000)
  --actions M           distinct actions (default 1000 per invoker: 10k, 100k, 1M)
  --policy P[,P...]     hash-sharding, random, least-loaded, power-of-two, bounded-hash,
                        or all (default all)
  --zipf S              popularity exponent (default 1.0)
  --load L              offered busy memory / cluster memory (default 0.5)
  --user-memory MB      per invoker (default 2048)
  --warmup S            simulated seconds before measuring (default 600 = the idle timeout)
  --duration S          simulated seconds measured (default 1200)
  --idle-timeout S      idle container removal (default 600, OpenWhisk's idle-container)
  --cold-start-ms MS    added to a cold activation's run time (default 500)
  --seed N              (default 1)
  --quick               small smoke sizes: invokers 10,50, 60 s warm-up, 300 s measured
  --json                JSON on stdout instead of the table
)";

[[noreturn]] void Usage(const std::string& error) {
    if (!error.empty()) std::fprintf(stderr, "wisp-sim: %s\n", error.c_str());
    std::fputs(kUsage, stderr);
    std::exit(2);
}

std::vector<std::string> Split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t comma = s.find(',', start);
        const size_t end = comma == std::string::npos ? s.size() : comma;
        if (end > start) out.push_back(s.substr(start, end - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

double Number(const std::string& flag, const std::string& value) {
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || v < 0) {
        Usage(fmt::format("{} wants a non-negative number, got '{}'", flag, value));
    }
    return v;
}

std::string Json(const wisp::sim::SimResult& r) {
    return fmt::format(
        R"({{"policy":"{}","invokers":{},"actions":{},"zipf_s":{},"load":{},"rate_per_s":{:.3f},)"
        R"("measured_s":{},"activations":{},"placed":{},"rejected":{},"forced":{},"warm":{},)"
        R"("cold":{},"buffered":{},"still_buffered":{},"warm_hit_rate":{:.6f},)"
        R"("cold_starts_per_s":{:.4f},"imbalance_mean":{:.4f},"imbalance_p99":{:.4f},)"
        R"("imbalance_max":{:.4f},"busy_cv":{:.4f},"busy_utilization":{:.4f},"evicted_for_room":{},)"
        R"("expired_idle":{},"placement_ns_mean":{:.1f},"placement_ns_p50":{:.1f},)"
        R"("placement_ns_p99":{:.1f},"wall_s":{:.3f}}})",
        r.policy, r.invokers, r.actions, r.zipf_s, r.load, r.rate_per_s, r.measured_s,
        r.activations, r.placed, r.rejected, r.forced, r.warm, r.cold, r.buffered, r.still_buffered,
        r.warm_hit_rate, r.cold_per_s, r.imbalance_mean, r.imbalance_p99, r.imbalance_max,
        r.busy_cv_mean, r.busy_utilization, r.evicted_for_room, r.expired_idle, r.placement_ns_mean,
        r.placement_ns_p50, r.placement_ns_p99, r.wall_s);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int32_t> sizes = {10, 100, 1000};
    std::vector<std::string> policies = wisp::sim::PolicyNames();
    int64_t actions = 0;  // 0: 1000 per invoker
    double duration = -1;
    bool json = false;
    wisp::sim::SimConfig base;
    wisp::sim::WorkloadConfig wl;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--help" || flag == "-h") Usage("");
        if (flag == "--json") {
            json = true;
            continue;
        }
        if (flag == "--quick") {
            sizes = {10, 50};
            base.warmup_s = 60;
            duration = 300;
            continue;
        }
        if (i + 1 >= argc) Usage(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--invokers") {
            sizes.clear();
            for (const auto& s : Split(value)) {
                const double v = Number(flag, s);
                if (v < 1) Usage("--invokers must be at least 1");
                sizes.push_back(static_cast<int32_t>(v));
            }
        } else if (flag == "--actions") {
            actions = static_cast<int64_t>(Number(flag, value));
            if (actions < 1) Usage("--actions must be at least 1");
        } else if (flag == "--policy") {
            policies = value == "all" ? wisp::sim::PolicyNames() : Split(value);
        } else if (flag == "--zipf") {
            wl.zipf_s = Number(flag, value);
        } else if (flag == "--load") {
            base.load = Number(flag, value);
        } else if (flag == "--user-memory") {
            base.user_memory_mb = static_cast<int64_t>(Number(flag, value));
        } else if (flag == "--warmup") {
            base.warmup_s = Number(flag, value);
        } else if (flag == "--duration") {
            duration = Number(flag, value);
        } else if (flag == "--idle-timeout") {
            base.idle_timeout_s = Number(flag, value);
        } else if (flag == "--cold-start-ms") {
            base.cold_start_s = Number(flag, value) / 1000;
        } else if (flag == "--seed") {
            base.seed = static_cast<uint64_t>(Number(flag, value));
        } else {
            Usage("unknown flag " + flag);
        }
    }
    for (const auto& p : policies) {
        if (!wisp::sim::MakePolicy(p, 1, base.user_memory_mb).ok()) {
            Usage(fmt::format("unknown policy '{}'", p));
        }
    }
    if (base.user_memory_mb < 128) Usage("--user-memory must be at least 128");

    std::vector<wisp::sim::SimResult> results;
    for (const int32_t n : sizes) {
        wl.actions = actions > 0 ? actions : int64_t{1000} * n;
        wl.seed = base.seed;
        const wisp::sim::Workload workload(wl);
        wisp::sim::SimConfig config = base;
        config.invokers = n;
        config.duration_s = duration >= 0 ? duration : 1200;
        fmt::print(
            stderr,
            "wisp-sim: {} invokers x {} MB, {} actions (zipf {}, top 1% of actions take "
            "{:.0f}% of invocations), E[duration] {:.2f} s, E[memory] {:.0f} MB, load "
            "{} -> {:.1f} activations/s, {} s warm-up + {} s measured\n",
            n, config.user_memory_mb, workload.size(), wl.zipf_s,
            100 * workload.popularity().TopShare(std::max<int64_t>(1, workload.size() / 100)),
            workload.MeanDurationSeconds(), workload.MeanMemoryMb(), config.load,
            config.load * n * static_cast<double>(config.user_memory_mb) / workload.MeanMbSeconds(),
            config.warmup_s, config.duration_s);
        for (const auto& name : policies) {
            auto policy = wisp::sim::MakePolicy(name, n, config.user_memory_mb);
            if (!policy.ok()) Usage(std::string(policy.status().message()));
            std::function<void(double)> progress;
            if (isatty(STDERR_FILENO)) {
                progress = [&](double f) {
                    fmt::print(stderr, "  {:<14} {:3.0f}%\r", name, 100 * f);
                };
            }
            auto r = wisp::sim::RunSimulation(config, workload, **policy, progress);
            fmt::print(stderr, "  {:<14} done: {} activations, warm {:.1f}%, {:.3f} s wall      \n",
                       name, r.activations, 100 * r.warm_hit_rate, r.wall_s);
            results.push_back(std::move(r));
        }
    }

    if (json) {
        fmt::print("{{\"simulation\":[");
        for (size_t i = 0; i < results.size(); ++i) {
            fmt::print("{}{}", i ? ",\n" : "\n", Json(results[i]));
        }
        fmt::print("\n]}}\n");
        return 0;
    }
    // imbalance = max/mean busy memory across invokers (mean over 1 s samples, and their p99);
    // busy cv = stddev/mean of the same; place ns = wall time of one Place call (p50, p99).
    fmt::print("{:>8} {:>8} {:<14} {:>11} {:>7} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8} {:>7}\n",
               "invokers", "actions", "policy", "activations", "warm %", "cold/s", "imbalance",
               "imb p99", "busy cv", "busy %", "place ns", "p99 ns");
    for (const auto& r : results) {
        fmt::print(
            "{:>8} {:>8} {:<14} {:>11} {:>7.2f} {:>9.2f} {:>9.2f} {:>8.2f} {:>7.2f} {:>7.1f} "
            "{:>8.0f} {:>7.0f}\n",
            r.invokers, r.actions, r.policy, r.activations, 100 * r.warm_hit_rate, r.cold_per_s,
            r.imbalance_mean, r.imbalance_p99, r.busy_cv_mean, 100 * r.busy_utilization,
            r.placement_ns_p50, r.placement_ns_p99);
    }
    return 0;
}
