// InvokerControl (gRPC) served on 127.0.0.1:0 in-process: the token on every call, the
// ENABLED -> DRAINING -> DRAINED -> ENABLED states over a fake target, and over a real
// InvokerReactive + InvokerService (fake containers, in-process bus): the pings flip
// is_enabled and carry the endpoint, and an activation published after the drain still runs.
#include <wisp/invoker/invoker_control.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <catch2/catch.hpp>

#include <wisp/v1/invoker.grpc.pb.h>
#include <wisp/common/entity_json.hpp>
#include <wisp/invoker/invoker_reactive.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_container.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using invoker::InvokerControlServer;
using invoker::InvokerControlTarget;
using wisp::v1::InvokerStatusResponse;

namespace {

constexpr auto kLong = 10s;  // only reached when something is broken
constexpr const char* kToken = "s3cret-token-for-tests-0123456789";

class FakeTarget final : public InvokerControlTarget {
  public:
    InvokerStatusResponse Status() const override {
        InvokerStatusResponse out;
        out.mutable_instance()->set_instance(7);
        out.set_in_flight(in_flight.load());
        out.set_buffered(buffered.load());
        out.set_user_memory_mb(1024);
        out.set_state(invoker::InvokerStateOf(enabled.load(), false, in_flight, buffered));
        return out;
    }
    void SetEnabled(bool e) override { enabled = e; }

    std::atomic<bool> enabled{true};
    std::atomic<int> in_flight{0};
    std::atomic<int> buffered{0};
};

std::unique_ptr<wisp::v1::InvokerControl::Stub> Client(const std::string& endpoint) {
    return wisp::v1::InvokerControl::NewStub(
        grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()));
}

/// Calls `rpc` with `token` ("" = no authorization metadata).
template <typename Request>
grpc::Status Call(wisp::v1::InvokerControl::Stub& stub, const std::string& token,
                  grpc::Status (wisp::v1::InvokerControl::Stub::*rpc)(grpc::ClientContext*,
                                                                      const Request&,
                                                                      InvokerStatusResponse*),
                  InvokerStatusResponse& response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kLong);
    if (!token.empty()) context.AddMetadata("authorization", token);
    return (stub.*rpc)(&context, Request(), &response);
}

using Stub = wisp::v1::InvokerControl::Stub;
const auto kStatus = &Stub::Status;
const auto kDrain = &Stub::Drain;
const auto kEnable = &Stub::Enable;
const std::string kBearer = std::string("Bearer ") + kToken;

}  // namespace

TEST_CASE("invoker control: every call needs the token", "[control]") {
    FakeTarget target;
    auto server = InvokerControlServer::Start(target, {.listen = "127.0.0.1:0", .token = kToken});
    REQUIRE(server.ok());
    CHECK((*server)->endpoint().starts_with("127.0.0.1:"));
    CHECK((*server)->endpoint() != "127.0.0.1:0");
    auto stub = Client((*server)->endpoint());
    InvokerStatusResponse response;

    SECTION("none") {
        grpc::Status st = Call(*stub, "", kDrain, response);
        CHECK(st.error_code() == grpc::StatusCode::UNAUTHENTICATED);
        CHECK_THAT(st.error_message(), Catch::Contains("--control-token"));
        CHECK(target.enabled);  // nothing happened
    }
    SECTION("wrong") {
        for (const std::string& token :
             {std::string("Bearer wrong"), std::string("Bearer ") + kToken + "x",
              std::string(kToken), std::string("Basic ") + kToken}) {
            grpc::Status st = Call(*stub, token, kDrain, response);
            CHECK(st.error_code() == grpc::StatusCode::UNAUTHENTICATED);
            CHECK_THAT(st.error_message(), Catch::Contains("wrong control token"));
        }
        CHECK(Call(*stub, "Bearer x", kStatus, response).error_code() ==
              grpc::StatusCode::UNAUTHENTICATED);
        CHECK(Call(*stub, "Bearer x", kEnable, response).error_code() ==
              grpc::StatusCode::UNAUTHENTICATED);
        CHECK(target.enabled);
    }
    SECTION("right") {
        grpc::Status st = Call(*stub, kBearer, kStatus, response);
        REQUIRE(st.ok());
        CHECK(response.instance().instance() == 7);
        CHECK(response.state() == InvokerStatusResponse::ENABLED);
        CHECK(response.control_endpoint() == (*server)->endpoint());
    }
}

TEST_CASE("invoker control: no token, or a bad address, no service", "[control]") {
    FakeTarget target;
    auto none = InvokerControlServer::Start(target, {.listen = "127.0.0.1:0", .token = ""});
    CHECK(none.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(none.status().message()), Catch::Contains("--control-token"));
    auto bad = InvokerControlServer::Start(target, {.listen = "127.0.0.1", .token = kToken});
    CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);

    // Taken port.
    auto first = InvokerControlServer::Start(target, {.listen = "127.0.0.1:0", .token = kToken});
    REQUIRE(first.ok());
    auto second =
        InvokerControlServer::Start(target, {.listen = (*first)->endpoint(), .token = kToken});
    CHECK(second.status().code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("invoker control: token helpers", "[control]") {
    CHECK(invoker::ConstantTimeEquals("abc", "abc"));
    CHECK_FALSE(invoker::ConstantTimeEquals("abc", "abd"));
    CHECK_FALSE(invoker::ConstantTimeEquals("abc", "abcd"));
    CHECK_FALSE(invoker::ConstantTimeEquals("", "a"));
    CHECK(invoker::IsLoopbackListen("127.0.0.1:1"));
    CHECK(invoker::IsLoopbackListen("[::1]:1"));
    CHECK(invoker::IsLoopbackListen("localhost:0"));
    CHECK_FALSE(invoker::IsLoopbackListen("0.0.0.0:1"));
    CHECK_FALSE(invoker::IsLoopbackListen("10.1.2.3:1"));
    CHECK(*invoker::ResolveControlToken(" tok \n", "") == "tok");
    CHECK(invoker::ResolveControlToken("", "")->empty());
    CHECK(invoker::ResolveControlToken("", "/nonexistent/token").status().code() ==
          absl::StatusCode::kNotFound);
}

TEST_CASE(
    "invoker control: drain -> DRAINING until in-flight and buffered are 0 -> DRAINED; "
    "enable",
    "[control]") {
    FakeTarget target;
    target.in_flight = 2;
    target.buffered = 1;
    auto server = InvokerControlServer::Start(target, {.token = kToken});
    REQUIRE(server.ok());
    auto stub = Client((*server)->endpoint());
    InvokerStatusResponse response;

    REQUIRE(Call(*stub, kBearer, kDrain, response).ok());
    CHECK_FALSE(target.enabled);
    CHECK(response.state() == InvokerStatusResponse::DRAINING);
    target.buffered = 0;
    REQUIRE(Call(*stub, kBearer, kStatus, response).ok());
    CHECK(response.state() == InvokerStatusResponse::DRAINING);
    target.in_flight = 0;
    REQUIRE(Call(*stub, kBearer, kStatus, response).ok());
    CHECK(response.state() == InvokerStatusResponse::DRAINED);
    REQUIRE(Call(*stub, kBearer, kDrain, response).ok());  // idempotent
    CHECK(response.state() == InvokerStatusResponse::DRAINED);

    REQUIRE(Call(*stub, kBearer, kEnable, response).ok());
    CHECK(target.enabled);
    CHECK(response.state() == InvokerStatusResponse::ENABLED);
    CHECK(invoker::InvokerStateOf(true, true, 0, 0) == InvokerStatusResponse::STOPPING);
}

namespace {

common::RuntimeManifest Manifest() {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = "wisp/action-python:3.11";
    python.is_default = true;
    return common::RuntimeManifest({python}, {"python:3"}, {"python:3.11"}, {});
}

/// The next ping on `health` (pings are sent at once on every change).
wisp::v1::PingMessage NextPing(messaging::MessageConsumer& health) {
    auto batch = health.Peek(kLong);
    REQUIRE(batch.ok());
    REQUIRE(!batch->empty());
    REQUIRE(health.Commit().ok());
    wisp::v1::PingMessage ping;
    REQUIRE(ping.ParseFromString(batch->back().payload));
    return ping;
}

}  // namespace

TEST_CASE(
    "invoker control: a real invoker's pings say is_enabled=false while drained; work "
    "already published still runs; DRAINED after it; enable flips the pings back",
    "[control]") {
    testing::ManualClock clock;
    invoker::testing::FakeContainerFactory factory;
    auto opened = store::OpenArtifactStore("sqlite::memory:");
    REQUIRE(opened.ok());
    auto store = std::move(*opened);
    invoker::InvokerConfig service_config;
    service_config.housekeeping_interval = 0ms;
    service_config.worker_threads = 2;
    service_config.stem_cells = false;
    service_config.user_memory_mb = 1024;
    invoker::InvokerService service(*store, factory, Manifest(), clock, service_config);
    REQUIRE(service.Start().ok());
    common::Action action;
    action.namespace_path = common::EntityPath({"guest"});
    action.name = "hello";
    action.exec =
        common::CodeExec{"python:3.11", "def main(a):\n    return a\n", false, std::nullopt};
    auto revision = store->PutEntity(action, "");
    REQUIRE(revision.ok());

    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    factory.set_handler([released](invoker::testing::FakeContainer&, std::string_view path,
                                   const std::string& body) {
        if (path == "/run") released.wait();
        return invoker::testing::FakeContainerFactory::DefaultReply(path, body);
    });

    messaging::InProcessMessagingProvider bus;
    invoker::InvokerReactiveConfig config;
    config.instance.set_instance(0);
    config.instance.set_user_memory_mb(1024);
    config.send_pings = true;
    config.ping_interval = std::chrono::hours(1);  // only the first ping and changes
    invoker::InvokerReactive reactive(bus, service, config);
    invoker::ReactiveControlTarget target(reactive, service, config.instance);
    auto server = InvokerControlServer::Start(target, {.token = kToken});
    REQUIRE(server.ok());
    reactive.SetControlEndpoint((*server)->endpoint());
    auto health = bus.GetConsumer("health", "health-test", 64);
    auto acks = bus.GetConsumer("completed0", "completed0", 64);
    REQUIRE(reactive.Start().ok());
    auto stub = Client((*server)->endpoint());

    wisp::v1::PingMessage ping = NextPing(*health);
    CHECK(ping.is_enabled());
    CHECK(ping.control_endpoint() == (*server)->endpoint());
    CHECK(ping.sent_at_ms() > 0);

    InvokerStatusResponse response;
    REQUIRE(Call(*stub, kBearer, kDrain, response).ok());
    CHECK(response.state() == InvokerStatusResponse::DRAINED);  // nothing taken yet
    ping = NextPing(*health);
    CHECK_FALSE(ping.is_enabled());
    CHECK(ping.control_endpoint() == (*server)->endpoint());

    // A controller that has not seen the ping yet publishes: the activation runs.
    wisp::v1::ActivationMessage m;
    m.mutable_transid()->set_id("tid-drain");
    m.mutable_action()->set_path("guest");
    m.mutable_action()->set_name("hello");
    m.set_revision(*revision);
    m.mutable_user()->set_subject("guest-subject");
    m.mutable_user()->set_namespace_name("guest");
    m.set_activation_id(common::ActivationId::Generate().str());
    m.mutable_root_controller_index()->set_as_string("0");
    m.set_content_json("{}");
    auto producer = bus.GetProducer();
    REQUIRE(producer->Send("invoker0", m.SerializeAsString()).ok());
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (reactive.outstanding() == 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    REQUIRE(Call(*stub, kBearer, kStatus, response).ok());
    CHECK(response.state() == InvokerStatusResponse::DRAINING);
    CHECK(response.in_flight() == 1);
    CHECK(response.user_memory_mb() == 1024);

    release.set_value();
    bool completed = false;
    while (!completed && std::chrono::steady_clock::now() < until) {
        auto batch = acks->Peek(kLong);
        REQUIRE(batch.ok());
        for (const auto& msg : *batch) {
            wisp::v1::AcknowledgementMessage ack;
            REQUIRE(ack.ParseFromString(msg.payload));
            completed |= ack.activation_id() == m.activation_id() &&
                         ack.kind() != wisp::v1::AcknowledgementMessage::RESULT;
        }
    }
    REQUIRE(completed);
    while (reactive.outstanding() > 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    REQUIRE(Call(*stub, kBearer, kStatus, response).ok());
    CHECK(response.state() == InvokerStatusResponse::DRAINED);
    CHECK(response.in_flight() == 0);
    CHECK(response.containers().idle() + response.containers().busy() == 1);
    CHECK(response.memory_in_use_mb() > 0);

    REQUIRE(Call(*stub, kBearer, kEnable, response).ok());
    CHECK(response.state() == InvokerStatusResponse::ENABLED);
    CHECK(NextPing(*health).is_enabled());

    reactive.Stop();
    REQUIRE(Call(*stub, kBearer, kStatus, response).ok());
    CHECK(response.state() == InvokerStatusResponse::STOPPING);
    service.Shutdown();
}
