// The forced completion hook of every bus-backed balancer (CommonBalancer, here through the
// RoundRobinBalancer over the in-process bus, with an injected clock): an activation without a
// completion ack within its forced completion timeout is handed to the ForcedCompletionHandler
// once — non-blocking ones (no ResultCallback) too, and blocking ones whose RESULT came but whose
// COMPLETION did not — before its callback gets DeadlineExceeded; completed ones never are.
#include <wisp/loadbalancer/round_robin_balancer.hpp>

#include <algorithm>
#include <chrono>
#include <map>
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
using loadbalancer::ForcedCompletion;
using loadbalancer::RoundRobinBalancer;
using wisp::v1::AcknowledgementMessage;
using wisp::v1::ActivationMessage;

namespace {

ActivationMessage Message(bool blocking) {
    ActivationMessage m;
    const std::string id = common::ActivationId::Generate().str();
    m.mutable_transid()->set_id("tid-" + id);
    m.mutable_action()->set_path("guest/pkg");
    m.mutable_action()->set_name("hello");
    m.mutable_action()->set_version("0.0.3");
    m.mutable_user()->set_namespace_name("guest");
    m.mutable_user()->set_subject("guest-subject");
    m.mutable_user()->set_namespace_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
    m.set_activation_id(id);
    m.set_blocking(blocking);
    m.set_content_json(R"({"name":"Ada"})");
    return m;
}

ActionPlacement Placement() { return ActionPlacement{.memory_mb = 256, .fqn = "guest/pkg/hello"}; }

/// Records the handler's calls and the callbacks' results, in the order they came.
struct Log {
    std::mutex mu;
    std::vector<std::string> events;  // "forced <id>", "result <id> <code>"
    std::map<std::string, ForcedCompletion> forced;

    loadbalancer::ForcedCompletionHandler Handler() {
        return [this](const ForcedCompletion& f) {
            std::lock_guard<std::mutex> lock(mu);
            events.push_back("forced " + f.activation_id);
            forced.emplace(f.activation_id, f);
        };
    }
    loadbalancer::ResultCallback Callback() {
        return [this](ActivationResult r) {
            std::lock_guard<std::mutex> lock(mu);
            events.push_back("result " + r.activation_id + " " +
                             absl::StatusCodeToString(r.status.code()));
        };
    }
};

void SendAck(messaging::MessagingProvider& bus, AcknowledgementMessage::Kind kind,
             const std::string& id) {
    AcknowledgementMessage ack;
    ack.set_kind(kind);
    ack.set_activation_id(id);
    ack.mutable_instance()->set_instance(2);
    REQUIRE(bus.GetProducer()->Send("completed0", ack.SerializeAsString()).ok());
}

}  // namespace

TEST_CASE(
    "forced completion: every activation without a completion in time reaches the handler "
    "once (non-blocking ones too), before its callback's DeadlineExceeded; completed ones never",
    "[loadbalancer][forced-completion]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    Log log;  // outlives the balancer
    auto created = RoundRobinBalancer::Create(
        bus,
        {.invokers = {2}, .completion_timeout = 1000ms, .timeout_thread = false, .clock = &clock});
    REQUIRE(created.ok());
    auto& balancer = **created;
    balancer.SetForcedCompletionHandler(log.Handler());

    auto non_blocking = Message(false);
    auto blocking = Message(true);
    auto result_only = Message(true);  // RESULT came, COMPLETION never
    auto completed = Message(false);
    auto no_records = Message(false);
    no_records.mutable_user()->mutable_limits()->set_store_activations(false);
    REQUIRE(balancer.Publish(Placement(), non_blocking, nullptr).ok());
    REQUIRE(balancer.Publish(Placement(), blocking, log.Callback()).ok());
    REQUIRE(balancer.Publish(Placement(), result_only, log.Callback()).ok());
    REQUIRE(balancer.Publish(Placement(), completed, nullptr).ok());
    REQUIRE(balancer.Publish(Placement(), no_records, nullptr).ok());

    SendAck(bus, AcknowledgementMessage::RESULT, result_only.activation_id());
    SendAck(bus, AcknowledgementMessage::COMPLETION, completed.activation_id());
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (balancer.TotalActiveActivations() > 4 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    // Acks are handled in order: the RESULT's callback ran before the COMPLETION freed a slot.
    REQUIRE(balancer.TotalActiveActivations() == 4);

    clock.Advance(999);
    CHECK(balancer.ExpireOverdue() == 0);
    clock.Advance(1);
    CHECK(balancer.ExpireOverdue() == 4);

    std::lock_guard<std::mutex> lock(log.mu);
    CHECK(log.forced.size() == 4);
    CHECK(log.forced.count(completed.activation_id()) == 0);
    REQUIRE(log.forced.count(non_blocking.activation_id()) == 1);
    const ForcedCompletion& f = log.forced.at(non_blocking.activation_id());
    CHECK(f.invoker == 2);
    CHECK(f.timeout == 1000ms);
    CHECK(f.tid == non_blocking.transid().id());
    CHECK(f.namespace_name == "guest");
    CHECK(f.subject == "guest-subject");
    CHECK(f.action_path == "guest/pkg");
    CHECK(f.action_name == "hello");
    CHECK(f.action_version == "0.0.3");
    CHECK(f.store_record);
    CHECK_FALSE(f.result_received);
    CHECK(log.forced.at(result_only.activation_id()).result_received);
    CHECK_FALSE(log.forced.at(no_records.activation_id()).store_record);

    // The handler runs before the callback (a 202 answered then finds the record).
    auto at = [&](const std::string& event) {
        return std::find(log.events.begin(), log.events.end(), event) - log.events.begin();
    };
    const std::string forced_blocking = "forced " + blocking.activation_id();
    const std::string result_blocking = "result " + blocking.activation_id() + " DEADLINE_EXCEEDED";
    REQUIRE(at(result_blocking) < static_cast<long>(log.events.size()));
    CHECK(at(forced_blocking) < at(result_blocking));
    // The result-only one had its callback already: it is not called again.
    CHECK(std::count(log.events.begin(), log.events.end(),
                     "result " + result_only.activation_id() + " OK") == 1);
    CHECK(at("result " + result_only.activation_id() + " DEADLINE_EXCEEDED") ==
          static_cast<long>(log.events.size()));
}

TEST_CASE("forced completion: a null handler detaches; Shutdown() is no forced completion",
          "[loadbalancer][forced-completion]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    Log log;
    auto created = RoundRobinBalancer::Create(
        bus,
        {.invokers = {0}, .completion_timeout = 1000ms, .timeout_thread = false, .clock = &clock});
    REQUIRE(created.ok());
    auto& balancer = **created;
    balancer.SetForcedCompletionHandler(log.Handler());
    balancer.SetForcedCompletionHandler(nullptr);
    REQUIRE(balancer.Publish(Placement(), Message(false), nullptr).ok());
    clock.Advance(1000);
    CHECK(balancer.ExpireOverdue() == 1);

    balancer.SetForcedCompletionHandler(log.Handler());
    REQUIRE(balancer.Publish(Placement(), Message(false), nullptr).ok());
    balancer.Shutdown();
    std::lock_guard<std::mutex> lock(log.mu);
    CHECK(log.forced.empty());
}
