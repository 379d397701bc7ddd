// ShardingPlacement: Java's String.hashCode (values printed by a JVM), the sharding hash, the
// co-prime steps, the managed/blackbox split, the probe order of the wire's worked example,
// health, forced overload, release and capacity changes, and the nested (per container)
// accounting of actions with max concurrency > 1.
#include <wisp/loadbalancer/sharding_placement.hpp>

#include <random>
#include <set>
#include <string>
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

TEST_CASE("concurrency 3: three activations share one container's memory, the fourth takes another",
          "[sharding][placement][concurrency]") {
    ShardingPlacement p({1024});
    std::mt19937_64 rng(1);
    const std::string a = "guest/a@0.0.1";
    for (int k = 0; k < 3; ++k) {
        auto c = p.Schedule(13, a, 3, 256, false, rng);
        REQUIRE(c);
        CHECK(c->invoker == 0);
        CHECK_FALSE(c->forced);
        CHECK(p.InUseMb(0) == 256);
        CHECK(p.Containers(0, a) == 1);
        CHECK(p.FreePermits(0, a) == 2 - k);
    }
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    CHECK(p.InUseMb(0) == 512);
    CHECK(p.Containers(0, a) == 2);
    CHECK(p.FreePermits(0, a) == 2);
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    CHECK(p.InUseMb(0) == 512);  // 6 activations, 2 containers
    CHECK(p.FreePermits(0, a) == 0);
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    CHECK(p.InUseMb(0) == 768);

    // Max concurrency 1 (and < 1) keeps the memory per activation, whatever the key.
    ShardingPlacement one({1024});
    for (int k = 0; k < 3; ++k) REQUIRE(one.Schedule(13, a, 1, 256, false, rng));
    CHECK(one.InUseMb(0) == 768);
    REQUIRE(one.Schedule(13, a, 0, 256, false, rng));
    CHECK(one.InUseMb(0) == 1024);
    CHECK(one.Containers(0, a) == 0);
    one.Release(0, a, 1, 256);
    CHECK(one.InUseMb(0) == 768);
}

TEST_CASE("concurrency: memory goes back only when a container's permits are all free",
          "[sharding][placement][concurrency]") {
    ShardingPlacement p({1024});
    std::mt19937_64 rng(1);
    const std::string a = "guest/a";
    for (int k = 0; k < 4; ++k) REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    REQUIRE(p.InUseMb(0) == 512);  // 2 containers: 3 + 1 activations, 2 free permits

    // 4 -> 3 in flight: the free permits make a whole container: its memory goes back.
    p.Release(0, a, 3, 256);
    CHECK(p.InUseMb(0) == 256);
    CHECK(p.Containers(0, a) == 1);
    CHECK(p.FreePermits(0, a) == 0);
    // 3 -> 2 -> 1: the container still runs one: its memory stays taken.
    p.Release(0, a, 3, 256);
    CHECK(p.InUseMb(0) == 256);
    CHECK(p.FreePermits(0, a) == 1);
    p.Release(0, a, 3, 256);
    CHECK(p.InUseMb(0) == 256);
    CHECK(p.FreePermits(0, a) == 2);
    // A new activation reuses a free permit: no memory.
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    CHECK(p.InUseMb(0) == 256);
    p.Release(0, a, 3, 256);
    // The last one: all 3 permits free, the memory goes back and the action holds nothing.
    p.Release(0, a, 3, 256);
    CHECK(p.InUseMb(0) == 0);
    CHECK(p.Containers(0, a) == 0);
    CHECK(p.FreePermits(0, a) == 0);
    // Releases of an action holding nothing (duplicates, unknown keys) are ignored.
    p.Release(0, a, 3, 256);
    p.Release(0, "guest/other", 2, 256);
    p.Release(9, a, 3, 256);
    CHECK(p.InUseMb(0) == 0);
    REQUIRE(p.Schedule(13, a, 3, 256, false, rng));
    CHECK(p.InUseMb(0) == 256);
}

TEST_CASE("concurrency: another version, concurrency or memory is another container",
          "[sharding][placement][concurrency]") {
    ShardingPlacement p({4096});
    std::mt19937_64 rng(1);
    REQUIRE(p.Schedule(13, "guest/a@0.0.1", 4, 256, false, rng));
    REQUIRE(p.Schedule(13, "guest/a@0.0.2", 4, 256, false, rng));
    REQUIRE(p.Schedule(13, "guest/a@0.0.2", 2, 256, false, rng));
    REQUIRE(p.Schedule(13, "guest/a@0.0.2", 2, 512, false, rng));
    CHECK(p.InUseMb(0) == 256 * 3 + 512);
    CHECK(p.Containers(0, "guest/a@0.0.2") == 3);
    CHECK(p.FreePermits(0, "guest/a@0.0.2") == 3 + 1 + 1);
    // Each release finds its own container.
    p.Release(0, "guest/a@0.0.2", 2, 512);
    CHECK(p.InUseMb(0) == 256 * 3);
    p.Release(0, "guest/a@0.0.1", 4, 256);
    CHECK(p.InUseMb(0) == 256 * 2);
    CHECK(p.Containers(0, "guest/a@0.0.1") == 0);
    CHECK(p.Containers(0, "guest/a@0.0.2") == 2);
}

TEST_CASE("concurrency: a probe takes a free permit on an invoker whose memory is full",
          "[sharding][placement][concurrency]") {
    ShardingPlacement p(std::vector<int64_t>(11, 256));  // hash 13: home 3, then 6
    std::mt19937_64 rng(1);
    auto first = p.Schedule(13, "guest/a", 2, 256, false, rng);
    REQUIRE(first);
    CHECK(first->invoker == 3);
    CHECK(p.FreeMb(3) == 0);
    // Another action with the same hash finds invoker 3 full.
    CHECK(p.Schedule(13, "guest/b", 2, 256, false, rng)->invoker == 6);
    // The first action's container on invoker 3 has a permit left: no memory needed.
    auto second = p.Schedule(13, "guest/a", 2, 256, false, rng);
    REQUIRE(second);
    CHECK(second->invoker == 3);
    CHECK_FALSE(second->forced);
    CHECK(p.FreeMb(3) == 0);
    // Its container is full now: the next goes on along the probe order.
    CHECK(p.Schedule(13, "guest/a", 2, 256, false, rng)->invoker == 9);
    // An unhealthy invoker's permits are not used.
    p.SetHealthy(3, false);
    p.Release(3, "guest/a", 2, 256);
    CHECK(p.FreePermits(3, "guest/a") == 1);
    CHECK(p.Schedule(13, "guest/a", 2, 256, false, rng)->invoker == 9);
}

TEST_CASE("concurrency: a forced placement takes a container's memory, then its permits",
          "[sharding][placement][concurrency]") {
    ShardingPlacement p({256, 256});
    std::mt19937_64 rng(7);
    REQUIRE_FALSE(p.Schedule(0, 256, false, rng)->forced);
    REQUIRE_FALSE(p.Schedule(1, 256, false, rng)->forced);  // both full now (c = 1)
    REQUIRE(p.FreeMb(0) + p.FreeMb(1) == 0);

    const std::string a = "guest/a";
    auto forced = p.Schedule(5, a, 3, 256, false, rng);
    REQUIRE(forced);
    CHECK(forced->forced);
    const int32_t on = forced->invoker;
    CHECK(p.FreeMb(on) == -256);  // overload: one container's memory
    CHECK(p.Containers(on, a) == 1);
    CHECK(p.FreePermits(on, a) == 2);
    // The forced container's permits serve the next two without force or memory.
    for (int k = 0; k < 2; ++k) {
        auto c = p.Schedule(5, a, 3, 256, false, rng);
        REQUIRE(c);
        CHECK(c->invoker == on);
        CHECK_FALSE(c->forced);
    }
    CHECK(p.FreeMb(on) == -256);
    // Then another forced container.
    auto again = p.Schedule(5, a, 3, 256, false, rng);
    REQUIRE(again);
    CHECK(again->forced);
    CHECK(p.FreeMb(0) + p.FreeMb(1) == -512);
    CHECK(p.Containers(0, a) + p.Containers(1, a) == 2);
    // Released like any other: all back once every permit is free.
    p.Release(again->invoker, a, 3, 256);
    for (int k = 0; k < 3; ++k) p.Release(on, a, 3, 256);
    CHECK(p.FreeMb(0) + p.FreeMb(1) == 0);
    CHECK(p.Containers(0, a) + p.Containers(1, a) == 0);
}
