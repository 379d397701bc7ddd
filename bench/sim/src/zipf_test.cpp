#include <wisp/sim/zipf.hpp>

#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/sim/workload.hpp>

namespace wisp::sim {

TEST_CASE("ZipfSampler: probabilities are 1/(k+1)^s normalized", "[zipf]") {
    const ZipfSampler z(4, 1.0);
    const double h = 1 + 1.0 / 2 + 1.0 / 3 + 1.0 / 4;
    CHECK(z.Probability(0) == Approx(1 / h));
    CHECK(z.Probability(1) == Approx(0.5 / h));
    CHECK(z.Probability(3) == Approx(0.25 / h));
    CHECK(z.Probability(4) == 0);
    CHECK(z.TopShare(2) == Approx(1.5 / h));
    CHECK(z.TopShare(4) == 1);
}

TEST_CASE("ZipfSampler: sampled rank frequencies follow the distribution", "[zipf]") {
    for (const double s : {0.0, 0.8, 1.0, 1.3}) {
        CAPTURE(s);
        const int64_t n = 1000;
        const ZipfSampler z(n, s);
        std::mt19937_64 rng(42);
        const int draws = 400'000;
        std::vector<int> count(static_cast<size_t>(n), 0);
        for (int i = 0; i < draws; ++i) {
            const int64_t k = z.Sample(rng);
            REQUIRE(k >= 0);
            REQUIRE(k < n);
            ++count[static_cast<size_t>(k)];
        }
        // The head ranks, each within 5 standard deviations of its expected count.
        for (const int64_t k : {0, 1, 2, 9, 99}) {
            CAPTURE(k);
            const double expected = draws * z.Probability(k);
            const double sd = std::sqrt(expected * (1 - z.Probability(k)));
            CHECK(std::abs(count[static_cast<size_t>(k)] - expected) < 5 * sd + 1);
        }
        // The rank-1 to rank-10 ratio is 10^s (log-log slope -s).
        if (s > 0) {
            const double ratio = static_cast<double>(count[0]) / count[9];
            CHECK(std::log10(ratio) == Approx(s).margin(0.1));
        }
        // The top 10% of ranks take their share.
        int64_t top = 0;
        for (int64_t k = 0; k < n / 10; ++k) top += count[static_cast<size_t>(k)];
        CHECK(static_cast<double>(top) / draws == Approx(z.TopShare(n / 10)).margin(0.01));
    }
}

TEST_CASE("ZipfSampler: the same seed draws the same ranks", "[zipf]") {
    const ZipfSampler z(100'000, 1.0);
    std::mt19937_64 a(7), b(7);
    for (int i = 0; i < 1000; ++i) REQUIRE(z.Sample(a) == z.Sample(b));
}

TEST_CASE("Workload: durations and memory follow the configured shape", "[workload]") {
    WorkloadConfig config;
    config.actions = 20'000;
    const Workload w(config);
    // Median of the per-action mean durations ~ exp(mu) = 0.68 s (log-normal median).
    CHECK(w.MedianActionDurationSeconds() == Approx(std::exp(config.duration_mu)).epsilon(0.1));
    int small = 0;
    for (int32_t i = 0; i < w.size(); ++i) {
        const auto& a = w.action(i);
        REQUIRE(a.memory_mb >= 128);
        REQUIRE(a.memory_mb <= 512);
        REQUIRE(a.memory_mb % 128 == 0);
        REQUIRE(a.mean_duration_us >= 1000);
        REQUIRE(a.mean_duration_us <= 60'000'000);
        small += a.memory_mb <= 256;
    }
    // The Burr fit puts most applications below 256 MB.
    CHECK(small > w.size() * 8 / 10);
    std::string ns, fqn;
    w.Names(17, ns, fqn);
    CHECK(ns == "ns2");
    CHECK(fqn == "ns2/action17");
}

}  // namespace wisp::sim
