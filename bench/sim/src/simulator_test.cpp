#include <wisp/sim/simulator.hpp>

#include <catch2/catch.hpp>

#include <wisp/sim/policy.hpp>
#include <wisp/sim/workload.hpp>

namespace wisp::sim {
namespace {

SimConfig Small() {
    SimConfig c;
    c.invokers = 20;
    c.warmup_s = 120;
    c.duration_s = 600;
    c.seed = 3;
    return c;
}

WorkloadConfig SmallWorkload() {
    WorkloadConfig w;
    w.actions = 5'000;
    w.zipf_s = 1.0;
    w.seed = 3;
    return w;
}

SimResult Run(const std::string& name, const SimConfig& c, const Workload& w) {
    auto policy = MakePolicy(name, c.invokers, c.user_memory_mb);
    REQUIRE(policy.ok());
    return RunSimulation(c, w, **policy);
}

}  // namespace

TEST_CASE("Simulation: every policy gives sane metrics", "[simulation]") {
    const SimConfig c = Small();
    const Workload w(SmallWorkload());
    for (const auto& name : PolicyNames()) {
        CAPTURE(name);
        const SimResult r = Run(name, c, w);
        CHECK(r.policy == name);
        CHECK(r.activations > 1000);
        // All activations placed (every invoker is healthy), all of them started or buffered.
        CHECK(r.placed == r.activations);
        CHECK(r.rejected == 0);
        CHECK(r.warm + r.cold + r.still_buffered >= r.activations);
        CHECK(r.warm_hit_rate >= 0);
        CHECK(r.warm_hit_rate <= 1);
        CHECK(r.warm > 0);
        CHECK(r.cold_per_s > 0);
        CHECK(r.imbalance_mean >= 1);
        CHECK(r.imbalance_p99 >= r.imbalance_mean * 0.99);
        CHECK(r.imbalance_max <= c.invokers);
        CHECK(r.busy_utilization > 0.1);
        CHECK(r.busy_utilization < 1.0);
        CHECK(r.placement_ns_mean > 0);
    }
}

TEST_CASE("Simulation: hash-sharding keeps more activations warm than random placement",
          "[simulation]") {
    // The property the sharding balancer exists for: an action's activations go to its home
    // invoker, so its warm containers are there; random placement spreads them over the cluster
    // and pays a cold start wherever it has none.
    const SimConfig c = Small();
    const Workload w(SmallWorkload());
    const SimResult sharding = Run("hash-sharding", c, w);
    const SimResult random = Run("random", c, w);
    CHECK(sharding.warm_hit_rate > random.warm_hit_rate + 0.02);
    CHECK(sharding.cold_per_s < random.cold_per_s);
    // ... at the price of balance: least-loaded spreads busy memory more evenly.
    const SimResult least = Run("least-loaded", c, w);
    CHECK(least.imbalance_mean < sharding.imbalance_mean);
    // Consistent hashing with bounded loads keeps most of the locality and most of the balance.
    const SimResult bounded = Run("bounded-hash", c, w);
    CHECK(bounded.busy_cv_mean < sharding.busy_cv_mean);
    CHECK(bounded.warm_hit_rate > random.warm_hit_rate + 0.02);
}

TEST_CASE("Simulation: the same seed gives the same run", "[simulation]") {
    const SimConfig c = Small();
    const Workload w1(SmallWorkload());
    const Workload w2(SmallWorkload());
    const SimResult a = Run("hash-sharding", c, w1);
    const SimResult b = Run("hash-sharding", c, w2);
    CHECK(a.activations == b.activations);
    CHECK(a.warm == b.warm);
    CHECK(a.cold == b.cold);
    CHECK(a.forced == b.forced);
    CHECK(a.imbalance_mean == b.imbalance_mean);
}

TEST_CASE("MakePolicy: an unknown name is an error that lists the policies", "[simulation]") {
    const auto p = MakePolicy("round-robin", 10, 2048);
    REQUIRE_FALSE(p.ok());
    CHECK(std::string(p.status().message()).find("hash-sharding") != std::string::npos);
}

}  // namespace wisp::sim
