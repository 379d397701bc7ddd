// RoundRobinBalancer over the in-process bus.
//
// With one invoker (instance 0, as wisp-standalone runs it; tests tagged [one invoker]): a fake
// invoker that consumes "invoker0" and answers with acks on "completed0": results, records in the
// store, slots and overload, per-namespace counts, duplicate acks, forced completion, shutdown
// and health.
//
// With N fake invokers (consumers of "invoker<N>" answering on "completed0"; [roundrobin]):
// turns, memory slots per invoker (first fit, then forced), slots freed by completions and by the
// forced timeout, invokers discovered from pings and dropped when their pings stop.
#include <wisp/loadbalancer/round_robin_balancer.hpp>
#include <wisp/loadbalancer/sharding_placement.hpp>

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

#include <wisp/common/entity_json.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/testing/captured_log.hpp>
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

const std::string kGuest = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";
const std::string kOther = "8e1a2f3b-0000-4000-8000-000000000002";

/// Waits for `pred` by yielding (no sleeps); false after kLong.
bool Eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

common::ActivationRecord Record(const std::string& id, std::string_view result_json) {
    common::ActivationRecord r;
    r.namespace_path = common::EntityPath({"guest"});
    r.name = "hello";
    r.subject = "guest";
    r.activation_id = *common::ActivationId::Parse(id);
    r.start_ms = 1700000000000;
    r.end_ms = 1700000000042;
    r.response.result = *common::JsonValue::Parse(result_json);
    return r;
}

AcknowledgementMessage Ack(AcknowledgementMessage::Kind kind, const std::string& id,
                           std::string_view result_json = "") {
    AcknowledgementMessage ack;
    ack.set_kind(kind);
    ack.mutable_transid()->set_id("tid-" + id);
    ack.set_activation_id(id);
    ack.mutable_instance()->set_instance(0);
    if (!result_json.empty()) {
        ack.set_activation_json(
            common::ActivationToJson(Record(id, result_json), common::ActivationJsonForm::kStored));
    }
    return ack;
}

/// Receives what the balancer publishes on "invoker0" and answers through `respond` (or, when
/// it is null, keeps the message for the test to answer with Send()).
class FakeInvoker {
  public:
    using Respond = std::function<std::vector<AcknowledgementMessage>(const ActivationMessage&)>;

    FakeInvoker(messaging::MessagingProvider& bus, Respond respond = nullptr)
        : producer_(bus.GetProducer()),
          respond_(std::move(respond)),
          feed_(bus.GetConsumer("invoker0", "invoker0", 16), {.description = "fake invoker"},
                [this](messaging::Message m) { Handle(std::move(m)); }) {
        feed_.Start();
    }
    ~FakeInvoker() { feed_.Stop(); }

    void Send(const AcknowledgementMessage& ack) {
        REQUIRE(producer_->Send("completed0", ack.SerializeAsString()).ok());
    }

    /// Waits until `n` activations arrived; returns them.
    std::vector<ActivationMessage> WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(mu_);
        REQUIRE(cv_.wait_for(lock, kLong, [&] { return received_.size() >= n; }));
        return received_;
    }

  private:
    void Handle(messaging::Message m) {
        ActivationMessage msg;
        if (!msg.ParseFromString(m.payload)) return;
        if (respond_) {
            for (const auto& ack : respond_(msg)) {
                (void)producer_->Send("completed0", ack.SerializeAsString());
            }
        }
        {
            std::lock_guard<std::mutex> lock(mu_);
            received_.push_back(std::move(msg));
        }
        cv_.notify_all();
    }

    std::unique_ptr<messaging::MessageProducer> producer_;
    Respond respond_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<ActivationMessage> received_;
    messaging::MessageFeed feed_;  // last: stopped before the rest goes
};

/// Collects the callbacks' results by activation id.
struct Results {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::vector<ActivationResult>> by_id;

    loadbalancer::ResultCallback Callback() {
        return [this](ActivationResult r) {
            {
                std::lock_guard<std::mutex> lock(mu);
                by_id[r.activation_id].push_back(std::move(r));
            }
            cv.notify_all();
        };
    }
    ActivationResult WaitFor(const std::string& id) {
        std::unique_lock<std::mutex> lock(mu);
        REQUIRE(cv.wait_for(lock, kLong, [&] { return !by_id[id].empty(); }));
        return by_id[id].front();
    }
    size_t Count(const std::string& id) {
        std::lock_guard<std::mutex> lock(mu);
        return by_id[id].size();
    }
};

ActivationMessage Message(const std::string& ns_uuid = kGuest, bool blocking = true) {
    ActivationMessage m;
    const std::string id = common::ActivationId::Generate().str();
    m.mutable_transid()->set_id("tid-" + id);
    m.mutable_action()->set_path("guest");
    m.mutable_action()->set_name("hello");
    m.mutable_user()->set_namespace_name("guest");
    m.mutable_user()->set_namespace_uuid(ns_uuid);
    m.set_activation_id(id);
    m.set_blocking(blocking);
    m.set_content_json(R"({"name":"Ada"})");
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

void Ping(messaging::MessagingProvider& bus, int instance, int64_t memory_mb, bool enabled = true) {
    wisp::v1::PingMessage ping;
    ping.mutable_name()->set_instance(instance);
    ping.mutable_name()->set_user_memory_mb(memory_mb);
    ping.set_is_enabled(enabled);
    REQUIRE(bus.GetProducer()->Send("health", ping.SerializeAsString()).ok());
}

std::unique_ptr<RoundRobinBalancer> Make(messaging::MessagingProvider& bus,
                                         RoundRobinBalancerConfig config) {
    auto created = RoundRobinBalancer::Create(bus, std::move(config));
    REQUIRE(created.ok());
    return std::move(*created);
}

/// The balancer with the one invoker 0 (wisp-standalone's).
std::unique_ptr<RoundRobinBalancer> MakeOneInvoker(messaging::MessagingProvider& bus,
                                                   RoundRobinBalancerConfig config = {}) {
    config.invokers = {0};
    return Make(bus, std::move(config));
}

/// Blocking: RESULT with the record, then COMPLETION (OpenWhisk's order when logs follow).
std::vector<AcknowledgementMessage> ResultThenCompletion(const ActivationMessage& m) {
    return {Ack(AcknowledgementMessage::RESULT, m.activation_id(), R"({"greeting":"Ada"})"),
            Ack(AcknowledgementMessage::COMPLETION, m.activation_id())};
}

}  // namespace

TEST_CASE("balancer: forced completion timeout is max(timeout, 60 s) x 2 + 1 min",
          "[loadbalancer]") {
    using std::chrono::milliseconds;
    CHECK(loadbalancer::CompletionTimeout(milliseconds(100)) == 3min);
    CHECK(loadbalancer::CompletionTimeout(60s) == 3min);
    CHECK(loadbalancer::CompletionTimeout(300s) == 11min);
}

TEST_CASE(
    "balancer: a blocking activation gets its record from the RESULT ack; the "
    "COMPLETION frees the slot",
    "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus, {.invoker_user_memory_mb = 1024});
    FakeInvoker invoker(bus, ResultThenCompletion);

    auto msg = Message();
    const std::string id = msg.activation_id();
    REQUIRE(balancer->Publish(Placement(256), msg, results.Callback()).ok());

    auto result = results.WaitFor(id);
    CHECK(result.status.ok());
    CHECK(result.activation_id == id);
    CHECK_FALSE(result.record_in_store);
    REQUIRE(result.record.has_value());
    CHECK(result.record->activation_id.str() == id);
    CHECK(result.record->response.result->text() == R"({"greeting":"Ada"})");

    REQUIRE(Eventually([&] { return balancer->TotalActiveActivations() == 0; }));
    CHECK(balancer->ActiveActivationsFor(kGuest) == 0);
    CHECK(balancer->FreeMemoryMb(0) == 1024);
    CHECK(results.Count(id) == 1);

    // What the invoker received: the message, with this controller as its root.
    auto received = invoker.WaitFor(1);
    CHECK(received[0].activation_id() == id);
    CHECK(received[0].root_controller_index().as_string() == "0");
    CHECK(received[0].content_json() == R"({"name":"Ada"})");
}

TEST_CASE("balancer: an ack without a record says record_in_store", "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus);

    SECTION("COMBINED with an empty activation_json (too large for the bus)") {
        FakeInvoker invoker(bus, [](const ActivationMessage& m) {
            return std::vector<AcknowledgementMessage>{
                Ack(AcknowledgementMessage::COMBINED, m.activation_id())};
        });
        auto msg = Message();
        REQUIRE(balancer->Publish(Placement(), msg, results.Callback()).ok());
        auto result = results.WaitFor(msg.activation_id());
        CHECK(result.status.ok());
        CHECK(result.record_in_store);
        CHECK_FALSE(result.record.has_value());
        CHECK(balancer->TotalActiveActivations() == 0);  // COMBINED completes before the callback
    }
    SECTION("a COMPLETION without a RESULT") {
        FakeInvoker invoker(bus, [](const ActivationMessage& m) {
            auto ack = Ack(AcknowledgementMessage::COMPLETION, m.activation_id());
            ack.set_is_system_error(true);
            return std::vector<AcknowledgementMessage>{ack};
        });
        auto msg = Message();
        REQUIRE(balancer->Publish(Placement(), msg, results.Callback()).ok());
        auto result = results.WaitFor(msg.activation_id());
        CHECK(result.status.ok());
        CHECK(result.record_in_store);
        CHECK(result.is_system_error);
    }
    SECTION("an unreadable record") {
        FakeInvoker invoker(bus, [](const ActivationMessage& m) {
            auto ack = Ack(AcknowledgementMessage::COMBINED, m.activation_id());
            ack.set_activation_json("{not json");
            return std::vector<AcknowledgementMessage>{ack};
        });
        auto msg = Message();
        REQUIRE(balancer->Publish(Placement(), msg, results.Callback()).ok());
        auto result = results.WaitFor(msg.activation_id());
        CHECK(result.status.ok());
        CHECK(result.record_in_store);
    }
}

TEST_CASE("balancer: a record attached to the ack (in-process bus) is the result, no JSON",
          "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus);
    FakeInvoker invoker(bus);  // holds the message; the test answers
    auto msg = Message();
    REQUIRE(balancer->Publish(Placement(), msg, results.Callback()).ok());
    invoker.WaitFor(1);
    auto producer = bus.GetProducer();
    REQUIRE(producer->CarriesAttachments());
    auto record = std::make_shared<const common::ActivationRecord>(
        Record(msg.activation_id(), R"({"attached":true})"));
    const auto ack = Ack(AcknowledgementMessage::COMBINED, msg.activation_id());
    REQUIRE(ack.activation_json().empty());
    REQUIRE(producer->SendWithAttachment("completed0", ack.SerializeAsString(), record).ok());
    auto result = results.WaitFor(msg.activation_id());
    CHECK(result.status.ok());
    CHECK_FALSE(result.record_in_store);
    REQUIRE(result.record.has_value());
    CHECK(*result.record == *record);
    CHECK(balancer->TotalActiveActivations() == 0);
}

TEST_CASE(
    "balancer: memory slots are taken per activation, forced when full, freed on "
    "completion; in-flight counts per namespace",
    "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus, {.invoker_user_memory_mb = 512});
    FakeInvoker invoker(bus);  // holds everything; the test answers

    auto a = Message(kGuest);
    auto b = Message(kGuest, /*blocking=*/false);
    auto c = Message(kOther);
    REQUIRE(balancer->Publish(Placement(256), a, results.Callback()).ok());
    REQUIRE(balancer->Publish(Placement(256), b, nullptr).ok());
    CHECK(balancer->FreeMemoryMb(0) == 0);
    CHECK(balancer->ForcedAcquisitions() == 0);

    // Full: placed anyway (the invoker buffers it); the request never fails for memory.
    REQUIRE(balancer->Publish(Placement(512), c, results.Callback()).ok());
    CHECK(balancer->FreeMemoryMb(0) == -512);
    CHECK(balancer->ForcedAcquisitions() == 1);
    CHECK(balancer->ActiveActivationsFor(kGuest) == 2);
    CHECK(balancer->ActiveActivationsFor(kOther) == 1);
    CHECK(balancer->ActiveActivationsFor("nobody") == 0);
    CHECK(balancer->TotalActiveActivations() == 3);
    CHECK(invoker.WaitFor(3).size() == 3);

    // A RESULT answers the caller but keeps the slot and the count.
    invoker.Send(Ack(AcknowledgementMessage::RESULT, a.activation_id(), R"({"n":1})"));
    REQUIRE(results.WaitFor(a.activation_id()).record.has_value());
    CHECK(balancer->ActiveActivationsFor(kGuest) == 2);
    CHECK(balancer->FreeMemoryMb(0) == -512);

    invoker.Send(Ack(AcknowledgementMessage::COMPLETION, b.activation_id()));
    REQUIRE(Eventually([&] { return balancer->ActiveActivationsFor(kGuest) == 1; }));
    CHECK(balancer->FreeMemoryMb(0) == -256);

    invoker.Send(Ack(AcknowledgementMessage::COMPLETION, a.activation_id()));
    invoker.Send(Ack(AcknowledgementMessage::COMBINED, c.activation_id(), R"({"n":3})"));
    results.WaitFor(c.activation_id());
    REQUIRE(Eventually([&] { return balancer->TotalActiveActivations() == 0; }));
    CHECK(balancer->ActiveActivationsFor(kGuest) == 0);
    CHECK(balancer->ActiveActivationsFor(kOther) == 0);
    CHECK(balancer->FreeMemoryMb(0) == 512);
    CHECK(results.Count(a.activation_id()) == 1);  // the COMPLETION after the RESULT: no call
}

TEST_CASE("balancer: duplicate acks (at-least-once delivery) are ignored",
          "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus, {.invoker_user_memory_mb = 1024});
    FakeInvoker invoker(bus);

    auto msg = Message();
    const std::string id = msg.activation_id();
    REQUIRE(balancer->Publish(Placement(256), msg, results.Callback()).ok());
    invoker.WaitFor(1);
    invoker.Send(Ack(AcknowledgementMessage::RESULT, id, R"({"n":1})"));
    invoker.Send(Ack(AcknowledgementMessage::RESULT, id, R"({"n":2})"));
    invoker.Send(Ack(AcknowledgementMessage::COMBINED, id, R"({"n":3})"));
    invoker.Send(Ack(AcknowledgementMessage::COMPLETION, id));
    invoker.Send(Ack(AcknowledgementMessage::COMBINED, id, R"({"n":4})"));

    // A marker behind the duplicates: once it is answered, they have all been handled.
    auto marker = Message(kOther);
    REQUIRE(balancer->Publish(Placement(128), marker, results.Callback()).ok());
    invoker.Send(Ack(AcknowledgementMessage::COMBINED, marker.activation_id(), R"({})"));
    results.WaitFor(marker.activation_id());

    CHECK(results.Count(id) == 1);
    CHECK(results.WaitFor(id).record->response.result->text() == R"({"n":1})");
    CHECK(balancer->FreeMemoryMb(0) == 1024);  // released once
    CHECK(balancer->TotalActiveActivations() == 0);

    // Malformed and unknown acks do not disturb the feed.
    REQUIRE(bus.GetProducer()->Send("completed0", "\xff\xff not a proto").ok());
    auto next = Message();
    REQUIRE(balancer->Publish(Placement(128), next, results.Callback()).ok());
    invoker.Send(Ack(AcknowledgementMessage::COMBINED, next.activation_id(), R"({})"));
    CHECK(results.WaitFor(next.activation_id()).status.ok());
}

TEST_CASE(
    "balancer: an activation without completion is completed by force after the "
    "completion timeout",
    "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks

    SECTION("injected clock") {
        wisp::testing::ManualClock clock;
        auto balancer = MakeOneInvoker(bus, {.invoker_user_memory_mb = 1024,
                                             .completion_timeout = 1000ms,
                                             .timeout_thread = false,
                                             .clock = &clock});
        FakeInvoker invoker(bus);
        auto msg = Message();
        const std::string id = msg.activation_id();
        REQUIRE(balancer->Publish(Placement(256), msg, results.Callback()).ok());
        clock.Advance(999);
        CHECK(balancer->ExpireOverdue() == 0);
        CHECK(balancer->TotalActiveActivations() == 1);
        clock.Advance(1);
        CHECK(balancer->ExpireOverdue() == 1);

        auto result = results.WaitFor(id);
        CHECK(result.status.code() == absl::StatusCode::kDeadlineExceeded);
        CHECK_FALSE(result.record.has_value());
        CHECK(balancer->TotalActiveActivations() == 0);
        CHECK(balancer->ActiveActivationsFor(kGuest) == 0);
        CHECK(balancer->FreeMemoryMb(0) == 1024);

        // The late ack is ignored: no second call, no second release.
        invoker.Send(Ack(AcknowledgementMessage::COMBINED, id, R"({"late":true})"));
        auto marker = Message();
        REQUIRE(balancer->Publish(Placement(128), marker, results.Callback()).ok());
        invoker.Send(Ack(AcknowledgementMessage::COMBINED, marker.activation_id(), R"({})"));
        results.WaitFor(marker.activation_id());
        CHECK(results.Count(id) == 1);
        CHECK(balancer->FreeMemoryMb(0) == 1024);
    }
    SECTION("timer thread, default rule from the action's timeout") {
        auto balancer = MakeOneInvoker(bus, {.completion_timeout = 20ms});
        FakeInvoker invoker(bus);
        auto msg = Message();
        REQUIRE(balancer->Publish(Placement(256), msg, results.Callback()).ok());
        auto result = results.WaitFor(msg.activation_id());
        CHECK(result.status.code() == absl::StatusCode::kDeadlineExceeded);
        CHECK(balancer->TotalActiveActivations() == 0);
    }
}

TEST_CASE("balancer: Shutdown() fails pending callbacks and refuses new activations",
          "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus);
    FakeInvoker invoker(bus);

    auto a = Message();
    auto b = Message(kOther, /*blocking=*/false);
    REQUIRE(balancer->Publish(Placement(), a, results.Callback()).ok());
    REQUIRE(balancer->Publish(Placement(), b, nullptr).ok());
    balancer->Shutdown();

    CHECK(results.Count(a.activation_id()) == 1);
    CHECK(results.WaitFor(a.activation_id()).status.code() == absl::StatusCode::kUnavailable);
    CHECK(balancer->TotalActiveActivations() == 0);
    CHECK(balancer->Publish(Placement(), Message(), results.Callback()).code() ==
          absl::StatusCode::kUnavailable);
    balancer->Shutdown();  // idempotent
}

TEST_CASE("balancer: bad messages are refused without a callback", "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    Results results;  // outlives the balancer: Shutdown() answers pending callbacks
    auto balancer = MakeOneInvoker(bus);

    auto no_id = Message();
    no_id.clear_activation_id();
    CHECK(balancer->Publish(Placement(), no_id, results.Callback()).code() ==
          absl::StatusCode::kInvalidArgument);

    auto msg = Message();
    REQUIRE(balancer->Publish(Placement(), msg, results.Callback()).ok());
    CHECK(balancer->Publish(Placement(), msg, results.Callback()).code() ==
          absl::StatusCode::kInvalidArgument);  // same id already in flight

    auto huge = Message();
    huge.set_content_json(std::string(messaging::kDefaultMaxMessageBytes, 'x'));
    CHECK(balancer->Publish(Placement(), huge, results.Callback()).code() ==
          absl::StatusCode::kOutOfRange);
    CHECK(balancer->TotalActiveActivations() == 1);
    CHECK(balancer->FreeMemoryMb(0) == 2048 - 256);
    CHECK(results.Count(huge.activation_id()) == 0);
}

TEST_CASE("balancer: health is 'up' without pings, or while pings arrive within the timeout",
          "[loadbalancer][one invoker]") {
    messaging::InProcessMessagingProvider bus;
    using Info = loadbalancer::InvokerHealthInfo;

    SECTION("no ping mechanism (in-process invoker)") {
        auto balancer = MakeOneInvoker(bus);
        CHECK(balancer->InvokerHealth() == std::vector<Info>{{"invoker0", "up"}});
    }
    SECTION("pings") {
        wisp::testing::ManualClock clock;
        auto balancer =
            MakeOneInvoker(bus, {.expect_pings = true, .ping_timeout = 10000ms, .clock = &clock});
        CHECK(balancer->InvokerHealth() == std::vector<Info>{{"invoker0", "down"}});
        CHECK(balancer->Publish(Placement(), Message(), nullptr).code() ==
              absl::StatusCode::kUnavailable);

        auto producer = bus.GetProducer();
        wisp::v1::PingMessage other;
        other.mutable_name()->set_instance(1);  // not ours
        other.set_is_enabled(true);
        wisp::v1::PingMessage ping;
        ping.mutable_name()->set_instance(0);
        ping.set_is_enabled(true);
        REQUIRE(producer->Send("health", other.SerializeAsString()).ok());
        REQUIRE(producer->Send("health", ping.SerializeAsString()).ok());
        REQUIRE(Eventually([&] { return balancer->InvokerHealth()[0].status == "up"; }));
        CHECK(balancer->Publish(Placement(), Message(), nullptr).ok());

        clock.Advance(10000);
        CHECK(balancer->InvokerHealth()[0].status == "up");
        clock.Advance(1);
        CHECK(balancer->InvokerHealth()[0].status == "down");
    }
}

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

TEST_CASE(
    "round robin: an invoker whose pings say is_enabled=false (drained) gets no work "
    "until they say true again",
    "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    auto balancer = Make(bus, {.expect_pings = true, .ping_timeout = 10000ms, .clock = &clock});
    Ping(bus, 0, 1024);
    Ping(bus, 1, 1024);
    REQUIRE(Eventually([&] {
        return balancer->InvokerHealth() ==
               std::vector<loadbalancer::InvokerHealthInfo>{{"invoker0", "up"}, {"invoker1", "up"}};
    }));

    Ping(bus, 1, 1024, false);  // drained
    REQUIRE(Eventually([&] { return balancer->InvokerHealth()[1].status == "down"; }));
    for (int i = 0; i < 4; ++i) REQUIRE(balancer->Publish(Placement(), Message(), nullptr).ok());
    CHECK(balancer->ActiveActivationsOn(0) == 4);
    CHECK(balancer->ActiveActivationsOn(1) == 0);

    Ping(bus, 0, 1024, false);  // both drained: nobody takes work
    REQUIRE(Eventually([&] { return balancer->InvokerHealth()[0].status == "down"; }));
    CHECK(balancer->Publish(Placement(), Message(), nullptr).code() ==
          absl::StatusCode::kUnavailable);

    Ping(bus, 1, 1024);  // enabled again
    REQUIRE(Eventually([&] { return balancer->InvokerHealth()[1].status == "up"; }));
    for (int i = 0; i < 2; ++i) REQUIRE(balancer->Publish(Placement(), Message(), nullptr).ok());
    CHECK(balancer->ActiveActivationsOn(0) == 4);
    CHECK(balancer->ActiveActivationsOn(1) == 2);
}

TEST_CASE("round robin: no invokers configured and no pings expected is a configuration error",
          "[loadbalancer][roundrobin]") {
    messaging::InProcessMessagingProvider bus;
    CHECK(RoundRobinBalancer::Create(bus, {}).status().code() ==
          absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "balancer: a burst of forced placements logs one overload warning a second, with the count "
    "of the ones not logged",
    "[loadbalancer][one invoker][overload]") {
    messaging::InProcessMessagingProvider bus;
    wisp::testing::ManualClock clock;
    Results results;
    auto balancer = MakeOneInvoker(bus, {.invoker_user_memory_mb = 256, .clock = &clock});
    FakeInvoker invoker(bus);
    REQUIRE(balancer->Publish(Placement(256), Message(kGuest), results.Callback()).ok());
    std::string text;
    {
        wisp::testing::CapturedLog log(spdlog::level::warn);
        for (int i = 0; i < 5; ++i) {
            REQUIRE(balancer->Publish(Placement(256), Message(kGuest), results.Callback()).ok());
        }
        clock.Advance(1000);
        REQUIRE(balancer->Publish(Placement(256), Message(kGuest), results.Callback()).ok());
        text = log.text();
    }
    CHECK(balancer->ForcedAcquisitions() == 6);
    auto count = [&](const std::string& needle) {
        size_t n = 0;
        for (size_t pos = text.find(needle); pos != std::string::npos;
             pos = text.find(needle, pos + 1)) {
            ++n;
        }
        return n;
    };
    INFO(text);
    CHECK(count("system is overloaded") == 2);
    CHECK(count("(0 more forced since the last such warning, 1 in all)") == 1);
    CHECK(count("(4 more forced since the last such warning, 6 in all)") == 1);
    CHECK(invoker.WaitFor(7).size() == 7);
}

TEST_CASE("round robin: a keep-warm order goes to the same invoker every time, in flight for none",
          "[loadbalancer][roundrobin][keep-warm]") {
    messaging::InProcessMessagingProvider bus;
    auto balancer = Make(bus, {.invokers = {0, 1, 2}});
    auto order = [] {
        auto m = Message();
        m.mutable_keep_warm()->set_count(2);
        m.mutable_keep_warm()->set_ttl_ms(90000);
        return m;
    };
    const int32_t home =
        static_cast<int32_t>(loadbalancer::ShardingHash("guest", "guest/hello") % 3);
    for (int i = 0; i < 3; ++i) {
        auto sent = balancer->PublishKeepWarm(Placement(), order());
        REQUIRE(sent.ok());
        CHECK(*sent == home);
    }
    CHECK(balancer->TotalActiveActivations() == 0);
    CHECK(balancer->FreeMemoryMb(home) == 2048);
    auto got = Received(bus, home, 3);
    REQUIRE(got.size() == 3);
    CHECK(got[0].keep_warm().count() == 2);
    CHECK(got[0].root_controller_index().as_string() == "0");
    CHECK(balancer->PublishKeepWarm(Placement(), Message()).status().code() ==
          absl::StatusCode::kInvalidArgument);
}
