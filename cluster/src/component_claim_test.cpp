// ComponentClaim over the in-process bus: a free id is claimed at once; a second process with a
// live holder's id is refused with a clear message; a holder that stopped cleanly frees the id
// at once; one that was killed (heartbeats in the history, then silence) is replaced after the
// lease, with a progress line; two claimants started together: one wins; Release() returns when
// the bus stops answering (the goodbye waits at most the lease).
#include <wisp/cluster/component_claim.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/v1/activation.pb.h>
#include <wisp/messaging/inprocess_messaging_provider.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using cluster::ComponentClaim;
using cluster::ComponentClaimConfig;

namespace {

struct Lines {
    std::mutex mu;
    std::vector<std::string> lines;
    std::function<void(const std::string&)> Sink() {
        return [this](const std::string& l) {
            std::lock_guard<std::mutex> lock(mu);
            lines.push_back(l);
        };
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(mu);
        return lines.size();
    }
};

ComponentClaimConfig Config(const std::string& component, Lines* lines = nullptr) {
    ComponentClaimConfig c;
    c.component = component;
    c.heartbeat_interval = 100ms;
    c.lease = 1500ms;  // 15 heartbeats: a live holder cannot go unseen on a loaded machine
    if (lines) c.progress = lines->Sink();
    return c;
}

void Heartbeat(messaging::MessagingProvider& bus, const std::string& component,
               const std::string& incarnation, v1::ComponentHeartbeat::State state) {
    v1::ComponentHeartbeat hb;
    hb.set_component(component);
    hb.set_incarnation(incarnation);
    hb.set_state(state);
    REQUIRE(bus.GetProducer()->Send("componentHealth", hb.SerializeAsString()).ok());
}

}  // namespace

TEST_CASE("component claim: a free id is claimed at once, without waiting", "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    Lines lines;
    auto other = ComponentClaim::Acquire(bus, Config("invoker1"));  // another id
    REQUIRE(other.ok());
    const auto start = std::chrono::steady_clock::now();
    auto claim = ComponentClaim::Acquire(bus, Config("invoker0", &lines));
    REQUIRE(claim.ok());
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);  // no lease waited
    CHECK(lines.size() == 0);
    CHECK((*claim)->incarnation() != (*other)->incarnation());
}

TEST_CASE("component claim: a second process with a live holder's id is refused",
          "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    auto holder = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(holder.ok());
    auto second = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(second.status().code() == absl::StatusCode::kAlreadyExists);
    const std::string message(second.status().message());
    CHECK_THAT(message, Catch::Contains("another controller0 is running"));
    CHECK_THAT(message, Catch::Contains("start this one with another --id"));
    CHECK_THAT(message, Catch::Contains((*holder)->incarnation()));
    // The holder keeps the id (and saw no RUNNING competitor).
    CHECK((*holder)->conflicts() == 0);
}

TEST_CASE("component claim: a holder that stopped cleanly frees the id at once",
          "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    Lines lines;
    {
        auto holder = ComponentClaim::Acquire(bus, Config("invoker0"));
        REQUIRE(holder.ok());
        (*holder)->Release();
    }
    const auto start = std::chrono::steady_clock::now();
    auto next = ComponentClaim::Acquire(bus, Config("invoker0", &lines));
    REQUIRE(next.ok());
    CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    CHECK(lines.size() == 0);
}

TEST_CASE("component claim: a killed holder (silent) is replaced after the lease",
          "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    Lines lines;
    // What a process killed with -9 leaves: heartbeats, no LEAVING.
    Heartbeat(bus, "invoker0", "0dead", v1::ComponentHeartbeat::STARTING);
    Heartbeat(bus, "invoker0", "0dead", v1::ComponentHeartbeat::RUNNING);
    Heartbeat(bus, "invoker0", "0dead", v1::ComponentHeartbeat::RUNNING);
    const auto start = std::chrono::steady_clock::now();
    auto claim = ComponentClaim::Acquire(bus, Config("invoker0", &lines));
    REQUIRE(claim.ok());
    CHECK(std::chrono::steady_clock::now() - start >= 1500ms);
    std::lock_guard<std::mutex> lock(lines.mu);
    REQUIRE(lines.lines.size() == 2);
    CHECK_THAT(lines.lines[0], Catch::Contains("did not say goodbye; watching 1500 ms"));
    CHECK_THAT(lines.lines[1], Catch::Contains("the id is ours"));
}

TEST_CASE("component claim: a holder that keeps beating during the lease is live",
          "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    Heartbeat(bus, "controller1", "ffff", v1::ComponentHeartbeat::RUNNING);
    // A live holder in another process: beats while the claimant watches.
    std::atomic<bool> stop{false};
    std::thread beating([&] {
        while (!stop.load()) {
            Heartbeat(bus, "controller1", "ffff", v1::ComponentHeartbeat::RUNNING);
            std::this_thread::sleep_for(50ms);  // the fake holder's heartbeat period
        }
    });
    auto claim = ComponentClaim::Acquire(bus, Config("controller1"));
    stop = true;
    beating.join();
    REQUIRE(claim.status().code() == absl::StatusCode::kAlreadyExists);
    CHECK_THAT(std::string(claim.status().message()), Catch::Contains("ffff"));
}

TEST_CASE("component claim: of two claimants started together, exactly one gets the id",
          "[cluster][claim]") {
    messaging::InProcessMessagingProvider bus;
    auto a = std::async(std::launch::async,
                        [&] { return ComponentClaim::Acquire(bus, Config("invoker2")); });
    auto b = std::async(std::launch::async,
                        [&] { return ComponentClaim::Acquire(bus, Config("invoker2")); });
    auto ra = a.get();
    auto rb = b.get();
    CHECK(ra.ok() + rb.ok() == 1);
    for (auto* r : {&ra, &rb}) {
        if (!r->ok()) CHECK(r->status().code() == absl::StatusCode::kAlreadyExists);
    }
}

namespace {

/// Polls `pred` (another thread's state) until it holds or 30 s pass.
bool Eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

}  // namespace

TEST_CASE("component claim: LiveCount counts the live components of a kind",
          "[cluster][claim][live]") {
    messaging::InProcessMessagingProvider bus;
    auto c0 = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(c0.ok());
    CHECK((*c0)->LiveCount("controller") == 1);  // itself
    CHECK((*c0)->LiveCount("invoker") == 0);

    auto c1 = ComponentClaim::Acquire(bus, Config("controller1"));
    REQUIRE(c1.ok());
    auto i0 = ComponentClaim::Acquire(bus, Config("invoker0"));
    REQUIRE(i0.ok());
    CHECK(Eventually([&] { return (*c0)->LiveCount("controller") == 2; }));
    CHECK(Eventually([&] { return (*c1)->LiveCount("controller") == 2; }));
    CHECK(Eventually([&] { return (*c0)->LiveCount("invoker") == 1; }));
    // Only "kind + digits" ids count.
    Heartbeat(bus, "controllerX", "x", v1::ComponentHeartbeat::RUNNING);
    Heartbeat(bus, "controller", "y", v1::ComponentHeartbeat::RUNNING);

    // A clean stop (LEAVING) is seen at once; the count never goes through a stale value.
    (*c1)->Release();
    CHECK(Eventually([&] { return (*c0)->LiveCount("controller") == 1; }));

    // A killed component (heartbeats, then silence) drops out after the lease.
    Heartbeat(bus, "controller5", "killed", v1::ComponentHeartbeat::RUNNING);
    CHECK(Eventually([&] { return (*c0)->LiveCount("controller") == 2; }));
    CHECK(Eventually([&] { return (*c0)->LiveCount("controller") == 1; }));
}

TEST_CASE("component claim: a goodbye removes only its own incarnation", "[cluster][claim][live]") {
    // A second controller5 refused while the first is alive says LEAVING as it exits: the live
    // one must still count (it did not leave). The in-process bus keeps one order, so once the
    // marker sent after a heartbeat is seen, that heartbeat was too.
    messaging::InProcessMessagingProvider bus;
    auto c0 = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(c0.ok());
    Heartbeat(bus, "controller5", "first", v1::ComponentHeartbeat::RUNNING);
    REQUIRE(Eventually([&] { return (*c0)->LiveCount("controller") == 2; }));

    Heartbeat(bus, "controller5", "refused", v1::ComponentHeartbeat::STARTING);
    Heartbeat(bus, "controller5", "refused", v1::ComponentHeartbeat::LEAVING);
    Heartbeat(bus, "marker1", "m", v1::ComponentHeartbeat::RUNNING);
    REQUIRE(Eventually([&] { return (*c0)->LiveCount("marker") == 1; }));
    CHECK((*c0)->LiveCount("controller") == 2);

    // The holder's own goodbye does remove it.
    Heartbeat(bus, "controller5", "first", v1::ComponentHeartbeat::LEAVING);
    Heartbeat(bus, "marker2", "m", v1::ComponentHeartbeat::RUNNING);
    REQUIRE(Eventually([&] { return (*c0)->LiveCount("marker") == 2; }));
    CHECK((*c0)->LiveCount("controller") == 1);
}

TEST_CASE("component claim: auto ids of claimants started together are distinct and lowest",
          "[cluster][claim][auto]") {
    messaging::InProcessMessagingProvider bus;
    Lines lines;
    std::vector<std::future<absl::StatusOr<std::unique_ptr<ComponentClaim>>>> starts;
    for (int i = 0; i < 4; ++i) {
        starts.push_back(std::async(std::launch::async, [&] {
            return ComponentClaim::AcquireLowestFree(bus, "invoker", Config("", &lines));
        }));
    }
    std::vector<std::unique_ptr<ComponentClaim>> claims;
    std::set<int> indexes;
    for (auto& s : starts) {
        auto claim = s.get();
        REQUIRE(claim.ok());
        indexes.insert((*claim)->index());
        CHECK((*claim)->component() == "invoker" + std::to_string((*claim)->index()));
        claims.push_back(std::move(*claim));
    }
    CHECK(indexes == std::set<int>{0, 1, 2, 3});
    // Each claim keeps beating and sees no other incarnation running with its id.
    for (const auto& c : claims) CHECK(c->conflicts() == 0);
    std::lock_guard<std::mutex> lock(lines.mu);
    CHECK(std::count_if(lines.lines.begin(), lines.lines.end(), [](const std::string& l) {
              return l.find("id auto: claimed invoker") != std::string::npos;
          }) == 4);
}

TEST_CASE("component claim: auto skips live ids and reuses a released or killed one",
          "[cluster][claim][auto]") {
    messaging::InProcessMessagingProvider bus;
    auto i0 = ComponentClaim::Acquire(bus, Config("invoker0"));
    REQUIRE(i0.ok());
    auto i1 = ComponentClaim::Acquire(bus, Config("invoker1"));
    REQUIRE(i1.ok());
    auto i2 = ComponentClaim::Acquire(bus, Config("invoker2"));
    REQUIRE(i2.ok());
    // Other kinds do not count.
    auto c0 = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(c0.ok());

    SECTION("the lowest id after the live ones") {
        auto next = ComponentClaim::AcquireLowestFree(bus, "invoker", Config(""));
        REQUIRE(next.ok());
        CHECK((*next)->component() == "invoker3");
        auto controller = ComponentClaim::AcquireLowestFree(bus, "controller", Config(""));
        REQUIRE(controller.ok());
        CHECK((*controller)->index() == 1);
    }
    SECTION("a cleanly stopped holder's id, at once") {
        (*i1)->Release();
        const auto start = std::chrono::steady_clock::now();
        auto next = ComponentClaim::AcquireLowestFree(bus, "invoker", Config(""));
        REQUIRE(next.ok());
        CHECK((*next)->index() == 1);
        // Watched only until the live holders beat (not the whole lease), then claimed at once.
        CHECK(std::chrono::steady_clock::now() - start < 1500ms);
    }
    SECTION("a killed holder's id (silent past the lease): its topic's work is picked up") {
        Heartbeat(bus, "invoker4", "0dead", v1::ComponentHeartbeat::RUNNING);  // killed
        (*i1)->Release();
        i1->reset();
        Heartbeat(bus, "invoker1", "1dead", v1::ComponentHeartbeat::STARTING);
        Heartbeat(bus, "invoker1", "1dead", v1::ComponentHeartbeat::RUNNING);  // killed
        Lines lines;
        auto next = ComponentClaim::AcquireLowestFree(bus, "invoker", Config("", &lines));
        REQUIRE(next.ok());
        CHECK((*next)->component() == "invoker1");
        CHECK((*i0)->conflicts() == 0);
        CHECK((*i2)->conflicts() == 0);
        std::lock_guard<std::mutex> lock(lines.mu);
        REQUIRE(!lines.lines.empty());
        CHECK_THAT(lines.lines.front(), Catch::Contains("live on the bus: invoker0, invoker2"));
        CHECK_THAT(lines.lines.back(), Catch::Contains("id auto: claimed invoker1"));
    }
}

TEST_CASE("component claim: index() is the number the id ends with", "[cluster][claim][auto]") {
    messaging::InProcessMessagingProvider bus;
    auto claim = ComponentClaim::Acquire(bus, Config("invoker17"));
    REQUIRE(claim.ok());
    CHECK((*claim)->index() == 17);
    auto named = ComponentClaim::Acquire(bus, Config("scheduler"));
    REQUIRE(named.ok());
    CHECK((*named)->index() == -1);
}

namespace {

/// The in-process bus whose producers, once `Hang()` was called, hold every Send() until that
/// producer's Close() (then Unavailable), as a Kafka producer does whose broker stopped
/// answering. Unhang() lets everything held go on (the test's clean-up).
class HangingBus final : public messaging::MessagingProvider {
  public:
    [[nodiscard]] absl::Status EnsureTopic(std::string_view topic,
                                           const messaging::TopicConfig& c) override {
        return bus_.EnsureTopic(topic, c);
    }
    std::unique_ptr<messaging::MessageProducer> GetProducer() override {
        bool hangs = false;
        {
            std::lock_guard<std::mutex> lock(mu_);
            hangs = hang_new_;
        }
        return std::make_unique<Producer>(*this, bus_.GetProducer(), hangs);
    }
    std::unique_ptr<messaging::MessageConsumer> GetConsumer(std::string_view topic,
                                                            std::string_view group_id,
                                                            int max_peek) override {
        return bus_.GetConsumer(topic, group_id, max_peek);
    }
    void Hang() {
        std::lock_guard<std::mutex> lock(mu_);
        hanging_ = true;
    }
    /// Only the producers made from now on hold their sends.
    void HangNewProducers() {
        std::lock_guard<std::mutex> lock(mu_);
        hang_new_ = true;
    }
    void Unhang() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            hanging_ = false;
            hang_new_ = false;
        }
        cv_.notify_all();
    }

  private:
    class Producer final : public messaging::MessageProducer {
      public:
        Producer(HangingBus& owner, std::unique_ptr<messaging::MessageProducer> inner, bool hangs)
            : owner_(owner), inner_(std::move(inner)), hangs_(hangs) {}
        [[nodiscard]] absl::Status Send(std::string_view topic, std::string payload) override {
            {
                std::unique_lock<std::mutex> lock(owner_.mu_);
                owner_.cv_.wait(lock, [&] {
                    return closed_ || !(owner_.hanging_ || (hangs_ && owner_.hang_new_));
                });
                if (closed_) return absl::UnavailableError("closed before the bus answered");
            }
            return inner_->Send(topic, std::move(payload));
        }
        void Close() override {
            {
                std::lock_guard<std::mutex> lock(owner_.mu_);
                closed_ = true;
            }
            owner_.cv_.notify_all();
            inner_->Close();
        }

      private:
        HangingBus& owner_;
        std::unique_ptr<messaging::MessageProducer> inner_;
        const bool hangs_;     // made after HangNewProducers()
        bool closed_ = false;  // guarded by owner_.mu_
    };

    messaging::InProcessMessagingProvider bus_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool hanging_ = false;   // guarded by mu_
    bool hang_new_ = false;  // guarded by mu_
};

}  // namespace

TEST_CASE("component claim: Release() returns when the bus stops answering",
          "[cluster][claim][release]") {
    HangingBus bus;
    auto holder = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(holder.ok());
    bus.Hang();  // the heartbeats (every 100 ms) and the goodbye are held from now on
    auto released = std::async(std::launch::async, [&] { (*holder)->Release(); });
    // Before: Release() joined the heartbeat thread, whose Send() only its producer's Close()
    // (after the join) would end: it never returned.
    const bool returned = released.wait_for(30s) == std::future_status::ready;
    bus.Unhang();  // a Release() still stuck goes on, so the test ends either way
    released.get();
    CHECK(returned);
}

TEST_CASE("component claim: the goodbye waits for the bus at most the lease",
          "[cluster][claim][release]") {
    HangingBus bus;
    auto holder = ComponentClaim::Acquire(bus, Config("controller0"));
    REQUIRE(holder.ok());
    bus.HangNewProducers();  // the heartbeats go on; the goodbye's producer is made later
    const auto started = std::chrono::steady_clock::now();
    auto released = std::async(std::launch::async, [&] { (*holder)->Release(); });
    const bool returned = released.wait_for(30s) == std::future_status::ready;
    const auto took = std::chrono::steady_clock::now() - started;
    bus.Unhang();
    released.get();
    CHECK(returned);
    CHECK(took < 10s);  // the lease is 1.5 s (Config); generous for a loaded machine
}
