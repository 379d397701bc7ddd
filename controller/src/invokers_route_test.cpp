// GET /invokers and GET /invokers/healthy/count over the real ShardingContainerPoolBalancer
// (in-process bus, fake invokers answering the health test action, a ManualClock), and the
// health test action the controller creates in the store.
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/health_test_action.hpp>
#include <wisp/loadbalancer/sharding_balancer.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/manual_clock.hpp>

namespace wisp::controller {
namespace {

using namespace std::chrono_literals;

bool Eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

/// Invokers 0..n-1 that answer every health test action: a success, or a system error for
/// `broken`.
class TestActionAnswerer {
  public:
    TestActionAnswerer(messaging::MessagingProvider& bus, int n, int broken)
        : producer_(bus.GetProducer()) {
        for (int i = 0; i < n; ++i) {
            const std::string topic = "invoker" + std::to_string(i);
            REQUIRE(bus.EnsureTopic(topic).ok());
            feeds_.push_back(std::make_unique<messaging::MessageFeed>(
                bus.GetConsumer(topic, topic, 16), messaging::MessageFeed::Options{},
                [this, i, broken](messaging::Message m) {
                    wisp::v1::ActivationMessage msg;
                    if (!msg.ParseFromString(m.payload)) return;
                    wisp::v1::AcknowledgementMessage ack;
                    ack.set_kind(wisp::v1::AcknowledgementMessage::COMPLETION);
                    ack.mutable_transid()->set_id(msg.transid().id());
                    ack.set_activation_id(msg.activation_id());
                    ack.set_is_system_error(i == broken);
                    ack.mutable_instance()->set_instance(i);
                    (void)producer_->Send("completed0", ack.SerializeAsString());
                }));
        }
        for (auto& f : feeds_) f->Start();
    }
    ~TestActionAnswerer() {
        for (auto& f : feeds_) f->Stop();
    }

  private:
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::vector<std::unique_ptr<messaging::MessageFeed>> feeds_;
};

void Ping(messaging::MessagingProvider& bus, int instance) {
    wisp::v1::PingMessage ping;
    ping.mutable_name()->set_instance(instance);
    ping.mutable_name()->set_user_memory_mb(2048);
    ping.mutable_name()->set_unique_name(std::to_string(instance));
    ping.set_is_enabled(true);
    REQUIRE(bus.GetProducer()->Send("health", ping.SerializeAsString()).ok());
}

HttpResponse Get(Controller& controller, const std::string& target,
                 const std::string& method = "GET") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.path = target;
    req.remote_address = "127.0.0.1";
    std::promise<HttpResponse> p;
    auto f = p.get_future();
    controller.Handle(std::move(req), [&p](HttpResponse r) { p.set_value(std::move(r)); });
    REQUIRE(f.wait_for(10s) == std::future_status::ready);
    return f.get();
}

}  // namespace

TEST_CASE("controller: GET /invokers and /invokers/healthy/count answer as OpenWhisk does",
          "[controller][invokers]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    loadbalancer::ShardingBalancerConfig cfg;
    cfg.common.clock = &clock;
    cfg.common.timeout_thread = false;
    auto balancer = loadbalancer::ShardingContainerPoolBalancer::Create(bus, cfg);
    REQUIRE(balancer.ok());
    TestActionAnswerer invokers(bus, 3, /*broken=*/1);
    Controller controller(*store, **balancer, common::RuntimeManifest::BuiltIn(), clock, {});

    CHECK(Get(controller, "/invokers").body == "{}");
    CHECK(Get(controller, "/invokers/healthy/count").body == "0");

    for (int i = 0; i < 3; ++i) Ping(bus, i);
    const std::string want = R"({"invoker0/0":"up","invoker1/1":"unhealthy","invoker2/2":"up"})";
    REQUIRE(Eventually([&] { return Get(controller, "/invokers").body == want; }));
    auto count = Get(controller, "/invokers/healthy/count");
    CHECK(count.status == 200);
    CHECK(count.body == "2");
    CHECK(Get(controller, "/invokers/healthy/count", "POST").status == 405);

    // No pings for more than 10 s: all down.
    clock.Advance(10001);
    CHECK(Get(controller, "/invokers").body ==
          R"({"invoker0/0":"down","invoker1/1":"down","invoker2/2":"down"})");
    CHECK(Get(controller, "/invokers/healthy/count").body == "0");

    controller.Shutdown();
    (*balancer)->Shutdown();
}

TEST_CASE("controller: no healthy invoker -> 503 with OpenWhisk's \"No invokers available.\"",
          "[controller][invokers]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    common::Subject guest;
    guest.subject = "guest";
    guest.namespaces.push_back({"guest", common::AuthKey::Parse(common::kGuestAuth).value()});
    REQUIRE(store->PutSubject(guest, "").ok());
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    loadbalancer::ShardingBalancerConfig cfg;
    cfg.common.clock = &clock;
    cfg.common.timeout_thread = false;
    auto balancer = loadbalancer::ShardingContainerPoolBalancer::Create(bus, cfg);
    REQUIRE(balancer.ok());
    Controller controller(*store, **balancer, common::RuntimeManifest::BuiltIn(), clock, {});

    auto send = [&](const std::string& method, const std::string& target, std::string body) {
        HttpRequest req;
        req.method = method;
        req.target = target;
        req.path = target;
        req.remote_address = "127.0.0.1";
        req.headers.emplace_back("authorization",
                                 "Basic " + common::Base64Encode(common::kGuestAuth));
        req.headers.emplace_back("content-type", "application/json");
        req.body = std::move(body);
        std::promise<HttpResponse> p;
        auto f = p.get_future();
        controller.Handle(std::move(req), [&p](HttpResponse r) { p.set_value(std::move(r)); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        return f.get();
    };
    REQUIRE(send("PUT", "/api/v1/namespaces/_/actions/hello",
                 R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})")
                .status == 200);
    auto r = send("POST", "/api/v1/namespaces/_/actions/hello", "{}");
    CHECK(r.status == 503);
    CHECK(r.body.find(R"("error":"No invokers available.")") != std::string::npos);

    controller.Shutdown();
    (*balancer)->Shutdown();
}

TEST_CASE("controller: the invoker health test action is created once in the store",
          "[controller][invokers]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    const auto& manifest = common::RuntimeManifest::BuiltIn();
    const common::FullyQualifiedName fqn{common::EntityPath::Parse("whisk.system").value(),
                                         "invokerHealthTestAction3"};
    REQUIRE(store->GetEntity(common::EntityType::kAction, fqn).status().code() ==
            absl::StatusCode::kNotFound);

    REQUIRE(EnsureHealthTestAction(*store, manifest, "3", 1795000000000).ok());
    auto got = store->GetEntity(common::EntityType::kAction, fqn);
    REQUIRE(got.ok());
    const auto& action = std::get<common::Action>(got->doc);
    const auto& exec = std::get<common::CodeExec>(action.exec);
    CHECK(exec.kind == manifest.ResolveKind("nodejs:default").value());
    CHECK(exec.code == "function main(p){return p}");
    CHECK(action.limits.memory_mb == 128);
    const std::string rev = got->rev;

    // A second start leaves it alone.
    REQUIRE(EnsureHealthTestAction(*store, manifest, "3", 1795000001000).ok());
    CHECK(store->GetEntity(common::EntityType::kAction, fqn)->rev == rev);
    // Another controller gets its own.
    REQUIRE(EnsureHealthTestAction(*store, manifest, "4", 1795000000000).ok());
    CHECK(store
              ->GetEntity(
                  common::EntityType::kAction,
                  {common::EntityPath::Parse("whisk.system").value(), "invokerHealthTestAction4"})
              .ok());
}

}  // namespace wisp::controller
