// ShardingPlacement: Java's String.hashCode (values printed by a JVM), the sharding hash, the
// co-prime steps, the managed/blackbox split, the probe order of the wire's worked example,
// health, forced overload, release and capacity changes.
#include <wisp/loadbalancer/sharding_placement.hpp>

#include <random>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

using wisp::loadbalancer::JavaStringHash;
using wisp::loadbalancer::PairwiseCoprimeNumbersUntil;
using wisp::loadbalancer::ShardingHash;
using wisp::loadbalancer::ShardingPlacement;

TEST_CASE("JavaStringHash matches Java's String.hashCode", "[sharding][placement]") {
    // Each value printed by `System.out.println(s.hashCode())` on OpenJDK.
    CHECK(JavaStringHash("") == 0);
    CHECK(JavaStringHash("a") == 97);
    CHECK(JavaStringHash("guest") == 98708952);
    CHECK(JavaStringHash("guest/hello") == 86723035);
    CHECK(JavaStringHash("guest/pkg/hello") == 688753496);
    CHECK(JavaStringHash("whisk.system") == -1796040243);
    CHECK(JavaStringHash("whisk.system/invokerHealthTestAction0") == -1812739596);
    // Non-ASCII: UTF-8 decoded to UTF-16 code units (BMP, and a surrogate pair).
    CHECK(JavaStringHash("h\xC3\xA9llo") == 103094734);    // "héllo"
    CHECK(JavaStringHash("\xF0\x9F\x98\x80") == 1772899);  // U+1F600
    CHECK(JavaStringHash("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E/\xE3\x82\xA2\xE3\x82\xAF"
                         "\xE3\x82\xB7\xE3\x83\xA7\xE3\x83\xB3") ==
          -348984834);  // 日本語/アクション
    // A malformed byte counts as U+FFFD.
    CHECK(JavaStringHash("\xFF") == 0xFFFD);
}

TEST_CASE("ShardingHash is |hash(ns) XOR hash(fqn)|", "[sharding][placement]") {
    // Math.abs("guest".hashCode() ^ "guest/hello".hashCode()) on a JVM.
    CHECK(ShardingHash("guest", "guest/hello") == 13198339u);
    CHECK(ShardingHash("guest", "guest/pkg/hello") == 753903232u);
    // Negative XOR -> its absolute value.
    const int32_t x = JavaStringHash("whisk.system") ^ JavaStringHash("guest");
    REQUIRE(x < 0);
    CHECK(ShardingHash("whisk.system", "guest") == static_cast<uint32_t>(-static_cast<int64_t>(x)));
}

TEST_CASE("PairwiseCoprimeNumbersUntil", "[sharding][placement]") {
    CHECK(PairwiseCoprimeNumbersUntil(0).empty());
    CHECK(PairwiseCoprimeNumbersUntil(1) == std::vector<int32_t>{1});
    CHECK(PairwiseCoprimeNumbersUntil(2) == std::vector<int32_t>{1});
    CHECK(PairwiseCoprimeNumbersUntil(9) == std::vector<int32_t>{1, 2, 5, 7});
    CHECK(PairwiseCoprimeNumbersUntil(10) == std::vector<int32_t>{1, 3, 7});
}

TEST_CASE("managed and blackbox split", "[sharding][placement]") {
    auto split = [](int n) {
        ShardingPlacement p(std::vector<int64_t>(n, 1024));
        return std::pair{p.ManagedCount(), p.BlackboxCount()};
    };
    CHECK(split(0) == std::pair{0, 0});
    CHECK(split(1) == std::pair{1, 1});  // overlap: invoker 0 is both
    CHECK(split(2) == std::pair{2, 1});  // overlap: invoker 1 is both
    CHECK(split(10) == std::pair{9, 1});
    CHECK(split(11) == std::pair{10, 1});
    CHECK(split(20) == std::pair{18, 2});
    CHECK(split(100) == std::pair{90, 10});
    CHECK(split(1000) == std::pair{900, 100});

    std::mt19937_64 rng(1);
    ShardingPlacement one({1024});
    CHECK(one.Schedule(12345, 256, false, rng)->invoker == 0);
    CHECK(one.Schedule(12345, 256, true, rng)->invoker == 0);
    ShardingPlacement ten(std::vector<int64_t>(10, 1024));
    for (uint32_t h = 0; h < 50; ++h) {
        CHECK(ten.Schedule(h, 1, true, rng)->invoker == 9);
        CHECK(ten.Schedule(h, 1, false, rng)->invoker < 9);
    }
}

TEST_CASE("the wire's worked example: 10 managed invokers, hash 13", "[sharding][placement]") {
    // 11 invokers -> managed = the first ceil(9.9) = 10: home 13 % 10 = 3, steps [1, 3, 7],
    // step steps[13 % 3] = 3.
    ShardingPlacement p(std::vector<int64_t>(11, 256));
    REQUIRE(p.ManagedCount() == 10);
    const std::vector<int32_t> expected{3, 6, 9, 2, 5, 8, 1, 4, 7, 0};
    CHECK(p.ProbeOrder(13, false) == expected);

    // Schedule follows it: each 256 MB activation fills its invoker, the next probes on.
    std::mt19937_64 rng(7);
    for (int32_t want : expected) {
        auto choice = p.Schedule(13, 256, false, rng);
        REQUIRE(choice);
        CHECK(choice->invoker == want);
        CHECK_FALSE(choice->forced);
    }
    for (int32_t i = 0; i < 10; ++i) CHECK(p.FreeMb(i) == 0);
    CHECK(p.FreeMb(10) == 256);  // the blackbox invoker is not used for managed actions

    // Ten invokers (9 managed): home 13 % 9 = 4, steps(9) = [1, 2, 5, 7], step 2.
    ShardingPlacement ten(std::vector<int64_t>(10, 256));
    CHECK(ten.ProbeOrder(13, false) == std::vector<int32_t>{4, 6, 8, 1, 3, 5, 7, 0, 2});
}

TEST_CASE("the same hash stays on its home invoker while it has room", "[sharding][placement]") {
    ShardingPlacement p(std::vector<int64_t>(11, 1024));
    std::mt19937_64 rng(3);
    for (int i = 0; i < 4; ++i) CHECK(p.Schedule(13, 256, false, rng)->invoker == 3);
    CHECK(p.FreeMb(3) == 0);
    CHECK(p.Schedule(13, 256, false, rng)->invoker == 6);
    p.Release(3, 256);
    CHECK(p.Schedule(13, 256, false, rng)->invoker == 3);
}

TEST_CASE("only healthy invokers are chosen", "[sharding][placement]") {
    ShardingPlacement p(std::vector<int64_t>(11, 1024));
    std::mt19937_64 rng(5);
    p.SetHealthy(3, false);
    CHECK_FALSE(p.Healthy(3));
    CHECK(p.Schedule(13, 128, false, rng)->invoker == 6);
    p.SetHealthy(6, false);
    CHECK(p.Schedule(13, 128, false, rng)->invoker == 9);
    p.SetHealthy(3, true);
    CHECK(p.Schedule(13, 128, false, rng)->invoker == 3);
    // Out of range: ignored.
    p.SetHealthy(99, true);
    CHECK_FALSE(p.Healthy(99));
    CHECK_FALSE(p.Healthy(-1));

    for (int32_t i = 0; i < 11; ++i) p.SetHealthy(i, false);
    CHECK_FALSE(p.Schedule(13, 128, false, rng).has_value());
    CHECK_FALSE(p.Schedule(13, 128, true, rng).has_value());
    // Nothing acquired by a failed schedule.
    CHECK(p.InUseMb(9) == 128);

    ShardingPlacement empty({});
    CHECK_FALSE(empty.Schedule(13, 128, false, rng).has_value());
}

TEST_CASE("no room anywhere: forced onto a random healthy invoker", "[sharding][placement]") {
    ShardingPlacement p(std::vector<int64_t>(11, 256));
    std::mt19937_64 rng(11);
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(p.Schedule(13, 256, false, rng)->forced);
    p.SetHealthy(0, false);
    p.SetHealthy(1, false);

    std::set<int32_t> forced_on;
    int64_t total_over = 0;
    for (int i = 0; i < 200; ++i) {
        auto c = p.Schedule(static_cast<uint32_t>(i), 128, false, rng);
        REQUIRE(c);
        CHECK(c->forced);
        CHECK(c->invoker >= 2);
        CHECK(c->invoker <= 9);  // the managed subset, healthy only
        forced_on.insert(c->invoker);
    }
    CHECK(forced_on.size() > 1);  // random, not always the same one
    for (int32_t i = 2; i < 10; ++i) total_over += -p.FreeMb(i);
    CHECK(total_over == 200 * 128);  // free went negative by exactly what was forced
    CHECK(p.FreeMb(0) == 0);

    // A memory larger than any invoker is forced even on an idle cluster.
    ShardingPlacement idle({128, 128});
    auto c = idle.Schedule(0, 512, false, rng);
    REQUIRE(c);
    CHECK(c->forced);
    CHECK(idle.FreeMb(c->invoker) == 128 - 512);
}

TEST_CASE("release and capacity changes keep the accounting", "[sharding][placement]") {
    ShardingPlacement p({1024, 1024});
    std::mt19937_64 rng(2);
    auto c = p.Schedule(0, 512, false, rng);
    REQUIRE(c);
    CHECK(p.InUseMb(c->invoker) == 512);
    CHECK(p.FreeMb(c->invoker) == 512);

    // Half the capacity (a second controller came up): what is in use stays in use.
    p.SetCapacity(c->invoker, 256);
    CHECK(p.InUseMb(c->invoker) == 512);
    CHECK(p.FreeMb(c->invoker) == -256);
    p.Release(c->invoker, 512);
    CHECK(p.FreeMb(c->invoker) == 256);
    // Over-release never makes in-use negative.
    p.Release(c->invoker, 512);
    CHECK(p.InUseMb(c->invoker) == 0);
    CHECK(p.FreeMb(c->invoker) == 256);
    CHECK(p.FreeMb(7) == 0);

    // A new invoker joins unhealthy and changes the split.
    p.AddInvoker(2048, false);
    CHECK(p.size() == 3);
    CHECK_FALSE(p.Healthy(2));
    CHECK(p.FreeMb(2) == 2048);
    CHECK(p.ManagedCount() == 3);
}
