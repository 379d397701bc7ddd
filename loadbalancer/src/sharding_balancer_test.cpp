// ShardingContainerPoolBalancer over the in-process bus with fake invokers (consumers of
// "invoker<N>" answering on "completed0") and a ManualClock: health from pings and the test
// action, home-invoker placement, step probing past full or sick invokers, 503 text when none
// is healthy, forced completions freeing slots and counting as timeouts, drained invokers, slots
// shared by the live controllers, slot accounting under concurrent publishes, and memory per
// container for actions with limits.concurrency > 1 (NestedSemaphore).
#include <wisp/loadbalancer/sharding_balancer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/ids.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using loadbalancer::ActionPlacement;
using loadbalancer::InvokerHealthInfo;
using loadbalancer::InvokerState;
using loadbalancer::ShardingBalancerConfig;
using loadbalancer::ShardingContainerPoolBalancer;
using wisp::v1::AcknowledgementMessage;
using wisp::v1::ActivationMessage;

namespace {

constexpr auto kLong = 10s;  // only reached when something is broken
const std::string kGuest = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";

bool Eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

/// Fake invokers 0..n-1: answer health test actions with a COMPLETION (a system error while
/// `broken[i]`), and user activations with a COMPLETION when `auto_complete` (else keep them).
class FakeInvokers {
  public:
    FakeInvokers(messaging::MessagingProvider& bus, int n) : producer_(bus.GetProducer()) {
        broken_ = std::vector<std::atomic<bool>>(n);
        for (int i = 0; i < n; ++i) {
            const std::string topic = "invoker" + std::to_string(i);
            REQUIRE(bus.EnsureTopic(topic).ok());
            feeds_.push_back(std::make_unique<messaging::MessageFeed>(
                bus.GetConsumer(topic, topic, 64), messaging::MessageFeed::Options{},
                [this, i](messaging::Message m) { Handle(i, std::move(m)); }));
        }
        for (auto& f : feeds_) f->Start();
    }
    ~FakeInvokers() {
        for (auto& f : feeds_) f->Stop();
    }

    std::vector<std::atomic<bool>> broken_;
    std::atomic<bool> auto_complete{false};
    /// Keep test actions unanswered until ReleaseTests().
    std::atomic<bool> hold_tests{false};

    void ReleaseTests() {
        std::vector<std::pair<int, ActivationMessage>> held;
        {
            std::lock_guard<std::mutex> lock(mu_);
            held.swap(held_);
        }
        hold_tests = false;
        for (auto& [i, msg] : held) AnswerTest(i, msg);
    }

    void Complete(int invoker, const std::string& id, bool system_error = false) {
        AcknowledgementMessage ack;
        ack.set_kind(AcknowledgementMessage::COMPLETION);
        ack.mutable_transid()->set_id("tid-" + id);
        ack.set_activation_id(id);
        ack.set_is_system_error(system_error);
        ack.mutable_instance()->set_instance(invoker);
        // Called on the feeds' threads too, where Catch2 assertions are not allowed: a lost ack
        // fails the test through what it waits for.
        (void)producer_->Send("completed0", ack.SerializeAsString());
    }
    int Tests(int invoker) {
        std::lock_guard<std::mutex> lock(mu_);
        return tests_[invoker];
    }
    int Answered(int invoker) {
        std::lock_guard<std::mutex> lock(mu_);
        return answered_[invoker];
    }
    std::vector<ActivationMessage> UserMessages(int invoker) {
        std::lock_guard<std::mutex> lock(mu_);
        return user_[invoker];
    }
    ActivationMessage LastTest() {
        std::lock_guard<std::mutex> lock(mu_);
        return last_test_;
    }
    size_t UserCount() {
        std::lock_guard<std::mutex> lock(mu_);
        size_t n = 0;
        for (auto& [i, v] : user_) n += v.size();
        return n;
    }

  private:
    void Handle(int invoker, messaging::Message m) {
        ActivationMessage msg;
        if (!msg.ParseFromString(m.payload)) return;
        const bool test = msg.transid().id() == "sid_invokerHealth";
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (test) {
                ++tests_[invoker];
                last_test_ = msg;
                if (hold_tests) {
                    held_.emplace_back(invoker, msg);
                    return;
                }
            } else {
                user_[invoker].push_back(msg);
            }
        }
        if (test) {
            AnswerTest(invoker, msg);
        } else if (auto_complete) {
            Complete(invoker, msg.activation_id());
        }
    }

    void AnswerTest(int invoker, const ActivationMessage& msg) {
        AcknowledgementMessage ack;
        ack.set_kind(AcknowledgementMessage::COMPLETION);
        ack.mutable_transid()->set_id(msg.transid().id());
        ack.set_activation_id(msg.activation_id());
        ack.set_is_system_error(broken_[invoker].load());
        ack.mutable_instance()->set_instance(invoker);
        (void)producer_->Send("completed0", ack.SerializeAsString());
        std::lock_guard<std::mutex> lock(mu_);
        ++answered_[invoker];
    }

    std::unique_ptr<messaging::MessageProducer> producer_;
    std::vector<std::pair<int, ActivationMessage>> held_;
    std::mutex mu_;
    std::map<int, int> tests_;
    std::map<int, int> answered_;  // test actions answered (their result decided and sent)
    std::map<int, std::vector<ActivationMessage>> user_;
    ActivationMessage last_test_;
    std::vector<std::unique_ptr<messaging::MessageFeed>> feeds_;
};

void Ping(messaging::MessagingProvider& bus, int instance, int64_t memory_mb = 2048,
          bool enabled = true) {
    wisp::v1::PingMessage ping;
    ping.mutable_name()->set_instance(instance);
    ping.mutable_name()->set_user_memory_mb(memory_mb);
    ping.mutable_name()->set_unique_name(std::to_string(instance));
    ping.set_is_enabled(enabled);
    REQUIRE(bus.GetProducer()->Send("health", ping.SerializeAsString()).ok());
}

ActivationMessage Message(const std::string& action = "hello") {
    ActivationMessage m;
    const std::string id = common::ActivationId::Generate().str();
    m.mutable_transid()->set_id("tid-" + id);
    m.mutable_action()->set_path("guest");
    m.mutable_action()->set_name(action);
    m.mutable_user()->set_namespace_name("guest");
    m.mutable_user()->set_namespace_uuid(kGuest);
    m.set_activation_id(id);
    m.set_blocking(false);
    return m;
}

ActionPlacement Placement(int64_t memory_mb = 256, const std::string& action = "hello") {
    return ActionPlacement{.memory_mb = memory_mb, .fqn = "guest/" + action};
}

std::unique_ptr<ShardingContainerPoolBalancer> Make(messaging::MessagingProvider& bus,
                                                    ShardingBalancerConfig config) {
    auto created = ShardingContainerPoolBalancer::Create(bus, std::move(config));
    REQUIRE(created.ok());
    return std::move(*created);
}

ShardingBalancerConfig Config(testing::ManualClock& clock) {
    ShardingBalancerConfig c;
    c.common.clock = &clock;
    c.common.timeout_thread = false;
    c.seed = 42;
    return c;
}

std::vector<InvokerHealthInfo> AllUp(int n) {
    std::vector<InvokerHealthInfo> out;
    for (int i = 0; i < n; ++i)
        out.push_back({"invoker" + std::to_string(i) + "/" + std::to_string(i), "up"});
    return out;
}

/// Pings invokers 0..n-1 and waits until every one is up (test action answered).
void BringUp(messaging::MessagingProvider& bus, ShardingContainerPoolBalancer& b, int n,
             int64_t memory_mb = 2048) {
    for (int i = 0; i < n; ++i) Ping(bus, i, memory_mb);
    REQUIRE(Eventually([&] { return b.InvokerHealth() == AllUp(n); }));
}

/// The invokers ShardingPlacement probes for guest's `action` among n managed invokers.
std::vector<int32_t> ProbeOrder(int n, const std::string& action = "hello") {
    loadbalancer::ShardingPlacement p(std::vector<int64_t>(n, 1));
    return p.ProbeOrder(loadbalancer::ShardingHash("guest", "guest/" + action), false);
}

}  // namespace

TEST_CASE(
    "sharding: an invoker is unhealthy at its first ping and up once the test action succeeds",
    "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 3);
    auto b = Make(bus, Config(clock));
    CHECK(b->InvokerHealth().empty());
    CHECK(b->Publish(Placement(), Message(), nullptr).message() == "No invokers available.");

    // Invoker 1 first: invoker 0 never pinged and is listed "down".
    invokers.broken_[1] = true;  // its test action fails: it stays unhealthy
    Ping(bus, 1);
    REQUIRE(Eventually([&] { return invokers.Tests(1) == 1; }));
    REQUIRE(Eventually([&] {
        return b->InvokerHealth() ==
               std::vector<InvokerHealthInfo>{{"invoker0", "down"}, {"invoker1/1", "unhealthy"}};
    }));
    CHECK(b->Publish(Placement(), Message(), nullptr).code() == absl::StatusCode::kUnavailable);

    const ActivationMessage test = invokers.LastTest();
    CHECK(test.action().path() == "whisk.system");
    CHECK(test.action().name() == "invokerHealthTestAction0");
    CHECK(test.user().namespace_name() == "whisk.system");
    CHECK_FALSE(test.blocking());
    CHECK(test.root_controller_index().as_string() == "0");
    CHECK(b->TotalActiveActivations() == 0);  // test actions are not in flight

    // Received is not answered: reset broken_ only once invoker 1's failure is on its way.
    REQUIRE(Eventually([&] { return invokers.Answered(1) == 1; }));
    invokers.broken_[1] = false;
    Ping(bus, 0);
    Ping(bus, 2);
    REQUIRE(Eventually([&] {
        return b->InvokerHealth() == std::vector<InvokerHealthInfo>{{"invoker0/0", "up"},
                                                                    {"invoker1/1", "unhealthy"},
                                                                    {"invoker2/2", "up"}};
    }));
    CHECK(b->HealthyCount() == 2);
    // Invoker 1 gets its next test action a minute later (seen at a ping); it passes now.
    for (int s = 10; s <= 60; s += 10) {
        clock.Advance(10000);
        for (int i = 0; i < 3; ++i) Ping(bus, i, 2048 + s);  // a new size says it was read
        REQUIRE(Eventually([&] { return b->SlotCapacityMb(2) == 2048 + s; }));
    }
    REQUIRE(Eventually([&] { return b->InvokerHealth() == AllUp(3); }));
    CHECK(invokers.Tests(1) == 2);
    CHECK(invokers.Tests(0) == 1);
}

TEST_CASE("sharding: the same action always lands on its home invoker, then the step invoker",
          "[loadbalancer][sharding]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 3);
    auto cfg = Config(clock);
    cfg.cluster_size = [] { return 2; };  // two controllers: 1024 MB of each invoker each
    auto b = Make(bus, cfg);
    BringUp(bus, *b, 3);
    const auto order = ProbeOrder(3);
    REQUIRE(order.size() == 3);
    for (int i = 0; i < 3; ++i) CHECK(b->SlotCapacityMb(i) == 1024);

    std::vector<std::string> ids;
    for (int k = 0; k < 4; ++k) {
        auto m = Message();
        ids.push_back(m.activation_id());
        REQUIRE(b->Publish(Placement(256), m, nullptr).ok());
    }
    CHECK(b->ActiveActivationsOn(order[0]) == 4);
    CHECK(b->FreeMemoryMb(order[0]) == 0);
    // Home full: the next goes to the step invoker.
    REQUIRE(b->Publish(Placement(256), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(order[1]) == 1);
    // A completion frees the home slot: back home.
    invokers.Complete(order[0], ids[0]);
    REQUIRE(Eventually([&] { return b->FreeMemoryMb(order[0]) == 256; }));
    REQUIRE(b->Publish(Placement(256), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(order[0]) == 4);
    CHECK(b->ForcedAcquisitions() == 0);
    REQUIRE(Eventually([&] { return invokers.UserMessages(order[0]).size() == 5; }));
    CHECK(invokers.UserMessages(order[0]).front().action().name() == "hello");
}

TEST_CASE(
    "sharding: a keep-warm order goes to the home invoker, takes no slot, and moves when "
    "the home invoker is lost",
    "[loadbalancer][sharding][keep-warm]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 3);
    auto b = Make(bus, Config(clock));
    auto order_msg = [] {
        auto m = Message();
        m.mutable_keep_warm()->set_count(1);
        m.mutable_keep_warm()->set_ttl_ms(90000);
        return m;
    };
    CHECK(b->PublishKeepWarm(Placement(), order_msg()).status().code() ==
          absl::StatusCode::kUnavailable);
    BringUp(bus, *b, 3);
    const auto order = ProbeOrder(3);
    // Home full of activations: a keep-warm order still goes home (memory is not its business).
    for (int k = 0; k < 8; ++k) REQUIRE(b->Publish(Placement(256), Message(), nullptr).ok());
    REQUIRE(b->FreeMemoryMb(order[0]) == 0);
    auto home = b->PublishKeepWarm(Placement(), order_msg());
    REQUIRE(home.ok());
    CHECK(*home == order[0]);
    CHECK(b->TotalActiveActivations() == 8);  // not in flight
    CHECK(b->FreeMemoryMb(order[0]) == 0);    // no slot taken
    REQUIRE(Eventually([&] { return invokers.UserMessages(order[0]).size() == 9; }));
    CHECK(invokers.UserMessages(order[0]).back().keep_warm().count() == 1);
    CHECK(b->PublishKeepWarm(Placement(), Message()).status().code() ==
          absl::StatusCode::kInvalidArgument);  // not an order

    // The home invoker stops pinging: its duty moves to the next invoker of the probe order.
    clock.Advance(11000);
    for (int i = 0; i < 3; ++i) {
        if (i != order[0]) Ping(bus, i);
    }
    REQUIRE(Eventually([&] { return b->HealthyCount() == 2; }));
    home = b->PublishKeepWarm(Placement(), order_msg());
    REQUIRE(home.ok());
    CHECK(*home == order[1]);
}

TEST_CASE("sharding: four system errors make an invoker unhealthy: no work until a test passes",
          "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 3);
    auto b = Make(bus, Config(clock));
    BringUp(bus, *b, 3);
    const int home = ProbeOrder(3)[0];
    const int step = ProbeOrder(3)[1];

    invokers.broken_[home] = true;
    for (int k = 0; k < 4; ++k) {
        auto m = Message();
        REQUIRE(b->Publish(Placement(128), m, nullptr).ok());
        REQUIRE(b->ActiveActivationsOn(home) == 1);
        invokers.Complete(home, m.activation_id(), /*system_error=*/true);
        REQUIRE(Eventually([&] { return b->ActiveActivationsOn(home) == 0; }));
    }
    REQUIRE(Eventually([&] { return b->StateOf(home) == InvokerState::kUnhealthy; }));
    // Entering Unhealthy sent a test action, which failed too.
    REQUIRE(Eventually([&] { return invokers.Tests(home) == 2; }));
    CHECK(b->HealthyCount() == 2);
    REQUIRE(b->Publish(Placement(128), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(step) == 1);
    CHECK(b->ActiveActivationsOn(home) == 0);
}

TEST_CASE("sharding: 10 s without pings -> down and 503; a ping -> unhealthy -> up",
          "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 2);
    auto b = Make(bus, Config(clock));
    BringUp(bus, *b, 2);
    clock.Advance(10000);
    CHECK(b->InvokerHealth() == AllUp(2));
    Ping(bus, 1, 4096);  // a new size says it was read
    REQUIRE(Eventually([&] { return b->SlotCapacityMb(1) == 4096; }));
    CHECK(invokers.Tests(1) == 1);  // it stayed up: no new test action
    clock.Advance(1);
    CHECK(b->InvokerHealth() ==
          std::vector<InvokerHealthInfo>{{"invoker0/0", "down"}, {"invoker1/1", "up"}});
    for (int k = 0; k < 3; ++k) REQUIRE(b->Publish(Placement(), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(1) == 3);

    clock.Advance(10000);
    CHECK(b->HealthyCount() == 0);
    auto refused = b->Publish(Placement(), Message(), nullptr);
    CHECK(refused.code() == absl::StatusCode::kUnavailable);
    CHECK(refused.message() == "No invokers available.");

    Ping(bus, 0);
    REQUIRE(Eventually([&] { return invokers.Tests(0) == 2; }));
    REQUIRE(Eventually([&] { return b->StateOf(0) == InvokerState::kHealthy; }));
    REQUIRE(b->Publish(Placement(), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(0) == 1);
}

TEST_CASE("sharding: forced completions free the slot and four of them make it unresponsive",
          "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 1);
    auto cfg = Config(clock);
    cfg.common.completion_timeout = 1000ms;
    auto b = Make(bus, cfg);
    BringUp(bus, *b, 1);

    invokers.hold_tests = true;
    for (int k = 0; k < 4; ++k) REQUIRE(b->Publish(Placement(512), Message(), nullptr).ok());
    CHECK(b->FreeMemoryMb(0) == 0);
    clock.Advance(1000);
    CHECK(b->ExpireOverdue() == 4);
    CHECK(b->FreeMemoryMb(0) == 2048);
    CHECK(b->TotalActiveActivations() == 0);
    CHECK(b->StateOf(0) == InvokerState::kUnresponsive);
    CHECK(b->InvokerHealth() == std::vector<InvokerHealthInfo>{{"invoker0/0", "unresponsive"}});
    // Entering Unresponsive sends a test action.
    REQUIRE(Eventually([&] { return invokers.Tests(0) == 2; }));
    CHECK(b->Publish(Placement(), Message(), nullptr).message() == "No invokers available.");
    // Its success leaves 4 timeouts in the buffer (S T T T T S): another test at once, and so on
    // until the 7th success pushes a timeout out of the 10 entries: up again, no more tests.
    invokers.ReleaseTests();
    REQUIRE(Eventually([&] { return b->StateOf(0) == InvokerState::kHealthy; }));
    CHECK(invokers.Tests(0) == 1 + 7);
    CHECK(b->HealthTestsSent() == 8);
    REQUIRE(b->Publish(Placement(), Message(), nullptr).ok());
}

TEST_CASE("sharding: an invoker whose pings say is_enabled=false is down and gets no work",
          "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 2);
    auto b = Make(bus, Config(clock));
    BringUp(bus, *b, 2);
    const int home = ProbeOrder(2)[0];
    const int other = 1 - home;

    Ping(bus, home, 2048, /*enabled=*/false);
    REQUIRE(Eventually([&] { return b->StateOf(home) == InvokerState::kOffline; }));
    CHECK(b->InvokerHealth()[home].status == "down");
    for (int k = 0; k < 3; ++k) REQUIRE(b->Publish(Placement(), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(home) == 0);
    CHECK(b->ActiveActivationsOn(other) == 3);

    Ping(bus, home);  // enabled again: unhealthy, test action, up
    REQUIRE(Eventually([&] { return b->StateOf(home) == InvokerState::kHealthy; }));
    REQUIRE(b->Publish(Placement(), Message(), nullptr).ok());
    CHECK(b->ActiveActivationsOn(home) == 1);
}

TEST_CASE("sharding: pings sent long ago (the topic's history) are ignored",
          "[loadbalancer][sharding][health]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 2);
    auto b = Make(bus, Config(clock));
    auto ping = [&](int instance, int64_t sent_at_ms) {
        wisp::v1::PingMessage p;
        p.mutable_name()->set_instance(instance);
        p.mutable_name()->set_unique_name(std::to_string(instance));
        p.set_is_enabled(true);
        p.set_sent_at_ms(sent_at_ms);
        REQUIRE(bus.GetProducer()->Send("health", p.SerializeAsString()).ok());
    };
    ping(1, clock.NowMs() - 30001);  // an invoker gone long ago
    ping(0, clock.NowMs() - 30000);  // recent enough
    REQUIRE(Eventually([&] { return b->HealthyCount() == 1; }));
    CHECK(b->InvokerHealth() == AllUp(1));
    CHECK(invokers.Tests(1) == 0);
}

TEST_CASE("sharding: slots are the invoker's memory divided by the live controllers",
          "[loadbalancer][sharding]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 2);
    std::atomic<int> controllers{1};
    auto cfg = Config(clock);
    cfg.cluster_size = [&controllers] { return controllers.load(); };
    auto b = Make(bus, cfg);
    Ping(bus, 0, 2048);
    Ping(bus, 1, 200);
    REQUIRE(Eventually([&] { return b->HealthyCount() == 2; }));
    CHECK(b->SlotCapacityMb(0) == 2048);
    CHECK(b->SlotCapacityMb(1) == 200);
    const int home = ProbeOrder(2)[0];
    REQUIRE(b->Publish(Placement(128), Message(), nullptr).ok());

    controllers = 4;  // seen at the next publish or ping
    REQUIRE(b->Publish(Placement(128), Message(), nullptr).ok());
    CHECK(b->SlotCapacityMb(0) == 512);
    CHECK(b->SlotCapacityMb(1) == 128);  // 200 / 4 = 50: the floor is 128 MB
    // What was taken stays taken (one 128 MB on each size).
    int64_t in_use = 0;
    for (int i = 0; i < 2; ++i) in_use += b->SlotCapacityMb(i) - b->FreeMemoryMb(i);
    CHECK(in_use == 256);
    CHECK(b->FreeMemoryMb(home) < b->SlotCapacityMb(home));

    controllers = 0;  // nonsense from the counter: at least 1
    Ping(bus, 0, 2048);
    REQUIRE(Eventually([&] { return b->SlotCapacityMb(0) == 2048; }));
}

TEST_CASE("sharding: slot accounting stays exact under concurrent publishes and completions",
          "[loadbalancer][sharding]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 4);
    invokers.auto_complete = true;
    auto b = Make(bus, Config(clock));
    BringUp(bus, *b, 4, 1 << 20);  // room for all: no forced placements

    constexpr int kThreads = 4;
    constexpr int kEach = 150;
    std::atomic<int> published{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < kEach; ++k) {
                const std::string action = "a" + std::to_string((t * kEach + k) % 7);
                if (b->Publish(Placement(256, action), Message(action), nullptr).ok()) ++published;
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(published == kThreads * kEach);
    REQUIRE(Eventually([&] { return invokers.UserCount() == size_t(kThreads * kEach); }));
    REQUIRE(Eventually([&] { return b->TotalActiveActivations() == 0; }));
    for (int i = 0; i < 4; ++i) {
        CHECK(b->FreeMemoryMb(i) == 1 << 20);
        CHECK(b->ActiveActivationsOn(i) == 0);
    }
    CHECK(b->ActiveActivationsFor(kGuest) == 0);
    CHECK(b->ForcedAcquisitions() == 0);
    CHECK(b->HealthyCount() == 4);
    // Each action stayed on its home invoker (room everywhere).
    loadbalancer::ShardingPlacement p(std::vector<int64_t>(4, 1));
    for (int i = 0; i < 4; ++i) {
        for (const auto& m : invokers.UserMessages(i)) {
            CHECK(p.ProbeOrder(loadbalancer::ShardingHash("guest", "guest/" + m.action().name()),
                               false)[0] == i);
        }
    }
}

namespace {
ActionPlacement Concurrent(int32_t max_concurrency, int64_t memory_mb = 256,
                           const std::string& action = "hello") {
    ActionPlacement p = Placement(memory_mb, action);
    p.max_concurrency = max_concurrency;
    return p;
}
}  // namespace

TEST_CASE("sharding: limits.concurrency 3 takes memory per container of 3 activations",
          "[loadbalancer][sharding][concurrency]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 1);
    auto b = Make(bus, Config(clock));
    BringUp(bus, *b, 1);

    std::vector<std::string> ids;
    auto publish = [&](const std::string& version) {
        auto m = Message();
        m.mutable_action()->set_version(version);
        ids.push_back(m.activation_id());
        REQUIRE(b->Publish(Concurrent(3), m, nullptr).ok());
    };
    for (int k = 0; k < 3; ++k) publish("0.0.1");
    CHECK(b->FreeMemoryMb(0) == 2048 - 256);
    CHECK(b->ConcurrentContainers(0, "guest/hello@0.0.1") == 1);
    publish("0.0.1");
    CHECK(b->FreeMemoryMb(0) == 2048 - 512);
    CHECK(b->FreeConcurrencyPermits(0, "guest/hello@0.0.1") == 2);
    // Another version of the action runs in other containers.
    publish("0.0.2");
    CHECK(b->FreeMemoryMb(0) == 2048 - 768);
    CHECK(b->ConcurrentContainers(0, "guest/hello@0.0.2") == 1);
    // limits.concurrency 1: per activation, as before.
    REQUIRE(b->Publish(Placement(256, "single"), Message("single"), nullptr).ok());
    REQUIRE(b->Publish(Placement(256, "single"), Message("single"), nullptr).ok());
    CHECK(b->FreeMemoryMb(0) == 2048 - 1280);
    CHECK(b->ActiveActivationsOn(0) == 7);

    // Completions: 4 -> 3 in flight of 0.0.1 frees a container; 3 -> 1 frees nothing.
    invokers.Complete(0, ids[0]);
    REQUIRE(Eventually([&] { return b->FreeMemoryMb(0) == 2048 - 1024; }));
    invokers.Complete(0, ids[1]);
    invokers.Complete(0, ids[2]);
    REQUIRE(Eventually([&] { return b->ActiveActivationsOn(0) == 4; }));
    CHECK(b->FreeMemoryMb(0) == 2048 - 1024);
    CHECK(b->FreeConcurrencyPermits(0, "guest/hello@0.0.1") == 2);
    invokers.Complete(0, ids[3]);
    REQUIRE(Eventually([&] { return b->FreeMemoryMb(0) == 2048 - 768; }));
    CHECK(b->ConcurrentContainers(0, "guest/hello@0.0.1") == 0);
    CHECK(b->ForcedAcquisitions() == 0);
}

TEST_CASE(
    "sharding: concurrency > 1 on a full cluster is forced once per container; the timeout "
    "frees it",
    "[loadbalancer][sharding][concurrency]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 1);
    auto cfg = Config(clock);
    cfg.common.completion_timeout = 1000ms;
    auto b = Make(bus, cfg);
    BringUp(bus, *b, 1, 512);
    REQUIRE(b->Publish(Placement(512, "big"), Message("big"), nullptr).ok());
    REQUIRE(b->FreeMemoryMb(0) == 0);

    REQUIRE(b->Publish(Concurrent(2), Message(), nullptr).ok());
    CHECK(b->ForcedAcquisitions() == 1);
    CHECK(b->FreeMemoryMb(0) == -256);
    // The forced container's second permit: no memory, not forced.
    REQUIRE(b->Publish(Concurrent(2), Message(), nullptr).ok());
    CHECK(b->ForcedAcquisitions() == 1);
    CHECK(b->FreeMemoryMb(0) == -256);
    REQUIRE(b->Publish(Concurrent(2), Message(), nullptr).ok());
    CHECK(b->ForcedAcquisitions() == 2);
    CHECK(b->FreeMemoryMb(0) == -512);
    CHECK(b->ConcurrentContainers(0, "guest/hello") == 2);

    // The forced completion timeout releases with the same key: everything comes back.
    clock.Advance(1000);
    CHECK(b->ExpireOverdue() == 4);
    CHECK(b->FreeMemoryMb(0) == 512);
    CHECK(b->ConcurrentContainers(0, "guest/hello") == 0);
    CHECK(b->FreeConcurrencyPermits(0, "guest/hello") == 0);
}

TEST_CASE("sharding: mixed concurrency 1 and > 1 accounting stays exact under threads",
          "[loadbalancer][sharding][concurrency]") {
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    FakeInvokers invokers(bus, 4);
    auto b = Make(bus, Config(clock));
    constexpr int64_t kMemory = 1 << 20;
    BringUp(bus, *b, 4, kMemory);  // room for all: every action stays home

    constexpr int kActions = 7;
    auto concurrency = [](int a) { return a % 3 == 0 ? 1 : a + 1; };  // 1, 2, 3, 1, 5, 6, 1
    constexpr int kThreads = 4;
    constexpr int kEach = 100;
    std::vector<std::thread> threads;
    std::mutex ids_mu;
    std::vector<std::pair<int, std::string>> ids;  // action, activation id
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int k = 0; k < kEach; ++k) {
                const int a = (t * kEach + k) % kActions;
                const std::string action = "a" + std::to_string(a);
                auto m = Message(action);
                if (!b->Publish(Concurrent(concurrency(a), 256, action), m, nullptr).ok()) return;
                std::lock_guard<std::mutex> lock(ids_mu);
                ids.emplace_back(a, m.activation_id());
            }
        });
    }
    for (auto& th : threads) th.join();
    REQUIRE(ids.size() == size_t(kThreads * kEach));
    CHECK(b->ForcedAcquisitions() == 0);
    REQUIRE(Eventually([&] { return invokers.UserCount() == ids.size(); }));

    // In flight per action k: ceil(k / c) containers of 256 MB on its home invoker.
    std::map<int, int64_t> in_flight;
    for (const auto& [a, id] : ids) ++in_flight[a];
    std::vector<int64_t> expected_in_use(4, 0);
    std::vector<int> home(kActions);
    for (int a = 0; a < kActions; ++a) {
        home[a] = ProbeOrder(4, "a" + std::to_string(a))[0];
        const int64_t c = concurrency(a);
        expected_in_use[home[a]] += (in_flight[a] + c - 1) / c * 256;
        if (c > 1) {
            CHECK(b->ConcurrentContainers(home[a], "guest/a" + std::to_string(a)) ==
                  (in_flight[a] + c - 1) / c);
        }
    }
    for (int i = 0; i < 4; ++i) CHECK(kMemory - b->FreeMemoryMb(i) == expected_in_use[i]);

    // Completions from several threads, interleaved with more publishes of the same actions.
    threads.clear();
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (size_t k = t; k < ids.size(); k += kThreads) {
                invokers.Complete(home[ids[k].first], ids[k].second);
            }
        });
    }
    invokers.auto_complete = true;
    for (int k = 0; k < 50; ++k) {
        const int a = k % kActions;
        const std::string action = "a" + std::to_string(a);
        REQUIRE(b->Publish(Concurrent(concurrency(a), 256, action), Message(action), nullptr).ok());
    }
    for (auto& th : threads) th.join();
    REQUIRE(Eventually([&] { return b->TotalActiveActivations() == 0; }));
    for (int i = 0; i < 4; ++i) CHECK(b->FreeMemoryMb(i) == kMemory);
    for (int a = 0; a < kActions; ++a) {
        CHECK(b->ConcurrentContainers(home[a], "guest/a" + std::to_string(a)) == 0);
        CHECK(b->FreeConcurrencyPermits(home[a], "guest/a" + std::to_string(a)) == 0);
    }
}
