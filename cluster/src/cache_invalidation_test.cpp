// CacheInvalidation over the in-process bus: every other component gets each main id, the
// sender does not, and a component that restarts resumes after what its group committed.
#include <wisp/cluster/cache_invalidation.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/messaging/inprocess_messaging_provider.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using cluster::CacheInvalidation;

namespace {

struct Received {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> ids;
    CacheInvalidation::Handler Handler() {
        return [this](const std::string& id) {
            std::lock_guard<std::mutex> lock(mu);
            ids.push_back(id);
            cv.notify_all();
        };
    }
    std::vector<std::string> WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        REQUIRE(cv.wait_for(lock, 10s, [&] { return ids.size() >= n; }));
        return ids;
    }
};

std::unique_ptr<CacheInvalidation> Start(messaging::MessagingProvider& bus, const std::string& id,
                                         Received& r) {
    auto started =
        CacheInvalidation::Start(bus, {.instance_id = id, .long_poll = 100ms}, r.Handler());
    REQUIRE(started.ok());
    return std::move(*started);
}

}  // namespace

TEST_CASE("cache invalidation: every other component sees each key; the sender ignores its own",
          "[cluster][invalidation]") {
    messaging::InProcessMessagingProvider bus;
    Received r0, r1, r2;
    auto c0 = Start(bus, "controller0", r0);
    auto c1 = Start(bus, "controller1", r1);
    auto i0 = Start(bus, "invoker0", r2);
    REQUIRE(c0->Notify("guest/hello").ok());
    REQUIRE(c1->Notify("guest").ok());
    CHECK(r1.WaitFor(1) == std::vector<std::string>{"guest/hello"});
    CHECK(r0.WaitFor(1) == std::vector<std::string>{"guest"});
    CHECK(r2.WaitFor(2) == std::vector<std::string>{"guest/hello", "guest"});
    // The sender's own message was read (the invoker got both, later) and skipped.
    REQUIRE(i0->Notify("guest/pkg/a").ok());
    CHECK(r0.WaitFor(2).back() == "guest/pkg/a");
    CHECK(r1.WaitFor(2).back() == "guest/pkg/a");
    CHECK(c0->received() == 2);
    CHECK(r2.WaitFor(2).size() == 2);
    CHECK(cluster::IsEntityKey("guest/hello"));
    CHECK_FALSE(cluster::IsEntityKey("guest"));
}

TEST_CASE("cache invalidation: a restarted component resumes after its group's commits",
          "[cluster][invalidation]") {
    messaging::InProcessMessagingProvider bus;
    Received before, after, sender_r;
    auto sender = Start(bus, "controller0", sender_r);
    {
        auto c1 = Start(bus, "controller1", before);
        REQUIRE(sender->Notify("guest/one").ok());
        before.WaitFor(1);
        c1->Stop();
    }
    REQUIRE(sender->Notify("guest/two").ok());
    auto c1 = Start(bus, "controller1", after);
    // guest/one again only if the stop came between its handling and the commit (at least once).
    auto got = after.WaitFor(1);
    if (got.front() == "guest/one") got = after.WaitFor(2);
    CHECK(got.back() == "guest/two");
}
