// RoundRobinBalancer over the in-process bus with N fake invokers (consumers of "invoker<N>"
// answering on "completed0"): turns, memory slots per invoker (first fit, then forced), slots
// freed by completions and by the forced timeout, invokers discovered from pings and dropped
// when their pings stop.
#include <wisp/loadbalancer/round_robin_balancer.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using loadbalancer::ActionPlacement;
using loadbalancer::ActivationResult;
using loadbalancer::RoundRobinBalancer;
using loadbalancer::RoundRobinBalancerConfig;
using wisp::v1::AcknowledgementMessage;
using wisp::v1::ActivationMessage;

namespace {

constexpr auto kLong = 10s;  // only reached when something is broken

bool Eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

ActivationMessage Message() {
    ActivationMessage m;
    const std::string id = common::ActivationId::Generate().str();
    m.mutable_transid()->set_id("tid-" + id);
    m.mutable_action()->set_path("guest");
    m.mutable_action()->set_name("hello");
    m.mutable_user()->set_namespace_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
    m.set_activation_id(id);
    m.set_blocking(true);
    return m;
}

ActionPlacement Placement(int64_t memory_mb = 256) {
    return ActionPlacement{.memory_mb = memory_mb, .fqn = "guest/hello"};
}

/// Reads what was published on "invoker<instance>" (peeked, never committed).
std::vector<ActivationMessage> Received(messaging::MessagingProvider& bus, int instance,
                                        size_t at_least) {
    const std::string topic = "invoker" + std::to_string(instance);
    auto consumer = bus.GetConsumer(topic, "test-" + topic, 100);
    std::vector<ActivationMessage> out;
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (out.size() < at_least && std::chrono::steady_clock::now() < until) {
        auto batch = consumer->Peek(100ms);
        REQUIRE(batch.ok());
        for (const auto& m : *batch) {
            ActivationMessage msg;
            REQUIRE(msg.ParseFromString(m.payload));
            out.push_back(std::move(msg));
        }
    }
    consumer->Close();
    return out;
}

void Complete(messaging::MessagingProvider& bus, const std::string& id, int instance) {
    AcknowledgementMessage ack;
    ack.set_kind(AcknowledgementMessage::COMPLETION);
    ack.set_activation_id(id);
    ack.mutable_instance()->set_instance(instance);
    REQUIRE(bus.GetProducer()->Send("completed0", ack.SerializeAsString()).ok());
}

void Ping(messaging::MessagingProvider& bus, int instance, int64_t memory_mb) {
    wisp::v1::PingMessage ping;
    ping.mutable_name()->set_instance(instance);
    ping.mutable_name()->set_user_memory_mb(memory_mb);
    ping.set_is_enabled(true);
    REQUIRE(bus.GetProducer()->Send("health", ping.SerializeAsString()).ok());
}

std::unique_ptr<RoundRobinBalancer> Make(messaging::MessagingProvider& bus,
                                         RoundRobinBalancerConfig config) {
    auto created = RoundRobinBalancer::Create(bus, std::move(config));
    REQUIRE(created.ok());
    return std::move(*created);
}

}  // namespace

TEST_CASE("round robin: activations go to the configured invokers in turn",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    auto balancer = Make(bus, {.invokers = {0, 1, 2}});
    std::vector<std::string> ids;
    for (int i = 0; i < 6; ++i) {
        auto m = Message();
        ids.push_back(m.activation_id());
        REQUIRE(balancer->Publish(Placement(), m, nullptr).ok());
    }
    for (int instance = 0; instance < 3; ++instance) {
        auto got = Received(bus, instance, 2);
        REQUIRE(got.size() == 2);
        CHECK(got[0].activation_id() == ids[instance]);
        CHECK(got[1].activation_id() == ids[instance + 3]);
        CHECK(got[0].root_controller_index().as_string() == "0");
        CHECK(balancer->ActiveActivationsOn(instance) == 2);
        CHECK(balancer->FreeMemoryMb(instance) == 2048 - 512);
    }
    CHECK(balancer->InvokerHealth() ==
          std::vector<loadbalancer::InvokerHealthInfo>{
              {"invoker0", "up"}, {"invoker1", "up"}, {"invoker2", "up"}});
}

TEST_CASE("round robin: an invoker whose slots are full is skipped; all full forces the next",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    auto balancer = Make(bus, {.invoker_user_memory_mb = 512, .invokers = {0, 1}});
    auto a = Message();  // invoker0: 512 of 512
    REQUIRE(balancer->Publish(Placement(512), a, nullptr).ok());
    auto b = Message();  // invoker1: 256 of 512
    REQUIRE(balancer->Publish(Placement(256), b, nullptr).ok());
    auto c = Message();  // invoker0 is next but full: invoker1 fits (512 of 512)
    REQUIRE(balancer->Publish(Placement(256), c, nullptr).ok());
    CHECK(balancer->FreeMemoryMb(0) == 0);
    CHECK(balancer->FreeMemoryMb(1) == 0);
    CHECK(balancer->ForcedAcquisitions() == 0);

    auto d = Message();  // nothing fits: the next in turn (invoker0) by force
    REQUIRE(balancer->Publish(Placement(128), d, nullptr).ok());
    CHECK(balancer->ForcedAcquisitions() == 1);
    CHECK(balancer->FreeMemoryMb(0) == -128);

    // A completion frees the slot of the invoker that ran it, and only that one.
    Complete(bus, c.activation_id(), 1);
    REQUIRE(Eventually([&] { return balancer->FreeMemoryMb(1) == 256; }));
    CHECK(balancer->FreeMemoryMb(0) == -128);
    auto e = Message();  // invoker1 is next and has room
    REQUIRE(balancer->Publish(Placement(256), e, nullptr).ok());
    CHECK(balancer->FreeMemoryMb(1) == 0);
    CHECK(balancer->ForcedAcquisitions() == 1);
    CHECK(balancer->TotalActiveActivations() == 4);
}

TEST_CASE("round robin: the forced completion timeout frees the invoker's slot",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    std::mutex mu;
    std::vector<ActivationResult> results;
    auto balancer = Make(bus, {.invoker_user_memory_mb = 1024,
                               .invokers = {3, 7},
                               .completion_timeout = 5000ms,
                               .timeout_thread = false,
                               .clock = &clock});
    REQUIRE(balancer
                ->Publish(Placement(1024), Message(),
                          [&](ActivationResult r) {
                              std::lock_guard<std::mutex> lock(mu);
                              results.push_back(std::move(r));
                          })
                .ok());
    CHECK(balancer->FreeMemoryMb(3) == 0);
    clock.Advance(4999);
    CHECK(balancer->ExpireOverdue() == 0);
    clock.Advance(1);
    CHECK(balancer->ExpireOverdue() == 1);
    CHECK(balancer->FreeMemoryMb(3) == 1024);
    CHECK(balancer->ActiveActivationsOn(3) == 0);
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(results.size() == 1);
    CHECK(results[0].status.code() == absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("round robin: invokers are discovered from their pings and skipped when they stop",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    auto balancer = Make(bus, {.expect_pings = true, .ping_timeout = 10000ms, .clock = &clock});
    CHECK(balancer->InvokerHealth().empty());
    CHECK(balancer->Publish(Placement(), Message(), nullptr).code() ==
          absl::StatusCode::kUnavailable);

    Ping(bus, 1, 1024);
    Ping(bus, 4, 512);
    REQUIRE(Eventually([&] { return balancer->InvokerHealth().size() == 2; }));
    CHECK(balancer->FreeMemoryMb(1) == 1024);  // the memory its pings announce
    CHECK(balancer->FreeMemoryMb(4) == 512);

    auto a = Message();
    auto b = Message();
    REQUIRE(balancer->Publish(Placement(), a, nullptr).ok());
    REQUIRE(balancer->Publish(Placement(), b, nullptr).ok());
    CHECK(Received(bus, 1, 1).at(0).activation_id() == a.activation_id());
    CHECK(Received(bus, 4, 1).at(0).activation_id() == b.activation_id());

    // invoker4 keeps pinging, invoker1 stops: after the timeout only invoker4 gets work.
    clock.Advance(6000);
    Ping(bus, 4, 512);  // handled at 6000 or later: alive at 11000 either way
    clock.Advance(5000);
    REQUIRE(Eventually([&] {
        return balancer->InvokerHealth() == std::vector<loadbalancer::InvokerHealthInfo>{
                                                {"invoker1", "down"}, {"invoker4", "up"}};
    }));
    for (int i = 0; i < 2; ++i) REQUIRE(balancer->Publish(Placement(), Message(), nullptr).ok());
    CHECK(balancer->ActiveActivationsOn(1) == 1);
    CHECK(balancer->ActiveActivationsOn(4) == 3);
    CHECK(balancer->ForcedAcquisitions() == 1);  // invoker4 has 512 MB: the third is forced
}

TEST_CASE("round robin: no invokers configured and no pings expected is a configuration error",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    CHECK(RoundRobinBalancer::Create(bus, {}).status().code() ==
          absl::StatusCode::kInvalidArgument);
}
