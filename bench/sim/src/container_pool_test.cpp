#include <wisp/sim/container_pool.hpp>

#include <vector>

#include <catch2/catch.hpp>

namespace wisp::sim {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kIdle = 600 * kSecond;

SimContainerPool::Request Req(int32_t action, int32_t mb = 256) {
    return {action, mb, kSecond, 0, 0};
}

// Submits and expects exactly one start; returns it.
SimContainerPool::Started Run(SimContainerPool& pool, int32_t action, int64_t now,
                              int32_t mb = 256) {
    std::vector<SimContainerPool::Started> started;
    auto r = Req(action, mb);
    r.arrival_us = now;
    pool.Submit(r, now, started);
    REQUIRE(started.size() == 1);
    return started[0];
}

}  // namespace

TEST_CASE("SimContainerPool: a finished container is reused warm by its action only", "[pool]") {
    SimContainerPool pool(1024, kIdle);
    std::vector<SimContainerPool::Started> out;
    const auto first = Run(pool, 1, 0);
    CHECK(first.cold);
    CHECK(pool.BusyMb() == 256);
    pool.Complete(first.container, kSecond, out);
    CHECK(pool.BusyMb() == 0);
    CHECK(pool.IdleMb() == 256);
    const auto other = Run(pool, 2, 2 * kSecond);
    CHECK(other.cold);  // another action never takes it
    const auto again = Run(pool, 1, 2 * kSecond);
    CHECK_FALSE(again.cold);
    CHECK(again.container == first.container);
    CHECK(pool.counters().warm == 1);
    CHECK(pool.counters().cold == 2);
}

TEST_CASE("SimContainerPool: when full, a cold start evicts the least recently used idle",
          "[pool]") {
    SimContainerPool pool(1024, kIdle);  // 4 containers of 256 MB
    std::vector<SimContainerPool::Started> out;
    // Actions 1..4 run and finish at t = 1..4 s: idle, oldest first 1, 2, 3, 4.
    for (int32_t a = 1; a <= 4; ++a) {
        const auto s = Run(pool, a, 0);
        pool.Complete(s.container, a * kSecond, out);
    }
    // Touch action 1 again: now 2 is the least recently used.
    pool.Complete(Run(pool, 1, 5 * kSecond).container, 6 * kSecond, out);
    CHECK(pool.IdleContainers() == 4);
    // Action 5 needs room: action 2's container goes, the others stay warm.
    Run(pool, 5, 7 * kSecond);
    CHECK(pool.counters().evicted_for_room == 1);
    CHECK_FALSE(pool.HasIdle(2));
    CHECK(pool.HasIdle(1));
    CHECK(pool.HasIdle(3));
    CHECK(pool.HasIdle(4));
    // A 512 MB action evicts the next two in LRU order (3, 4), not the recently used 1.
    Run(pool, 6, 8 * kSecond, 512);
    CHECK(pool.counters().evicted_for_room == 3);
    CHECK(pool.HasIdle(1));
    CHECK_FALSE(pool.HasIdle(3));
    CHECK_FALSE(pool.HasIdle(4));
    CHECK(pool.BusyMb() == 768);
    CHECK(pool.IdleMb() == 256);
}

TEST_CASE("SimContainerPool: idle containers are destroyed after the idle timeout", "[pool]") {
    SimContainerPool pool(1024, kIdle);
    std::vector<SimContainerPool::Started> out;
    const auto s = Run(pool, 1, 0);
    pool.Complete(s.container, kSecond, out);
    pool.ExpireIdle(kSecond + kIdle - 1);
    CHECK(pool.HasIdle(1));  // one microsecond before: still warm
    pool.ExpireIdle(kSecond + kIdle);
    CHECK_FALSE(pool.HasIdle(1));
    CHECK(pool.IdleMb() == 0);
    CHECK(pool.counters().expired_idle == 1);
    CHECK(Run(pool, 1, kSecond + kIdle).cold);
}

TEST_CASE("SimContainerPool: busy memory is never evicted; the excess waits in FIFO order",
          "[pool]") {
    SimContainerPool pool(512, kIdle);
    std::vector<SimContainerPool::Started> out;
    const auto a = Run(pool, 1, 0);
    const auto b = Run(pool, 2, 0);
    pool.Submit(Req(3), 0, out);
    pool.Submit(Req(1), 0, out);
    CHECK(out.empty());
    CHECK(pool.Buffered() == 2);
    // Action 2 finishes: the head (action 3) starts cold in the evicted room; action 1 still
    // waits behind it (head of line) until action 1's container is free.
    pool.Complete(b.container, kSecond, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].request.action == 3);
    CHECK(out[0].cold);
    CHECK(out[0].start_us == kSecond);
    out.clear();
    pool.Complete(a.container, 2 * kSecond, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].request.action == 1);
    CHECK_FALSE(out[0].cold);
    CHECK(pool.Buffered() == 0);
    CHECK(pool.counters().buffered == 2);
}

}  // namespace wisp::sim
