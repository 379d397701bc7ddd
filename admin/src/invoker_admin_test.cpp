// wisp-admin invoker list|status|drain|enable against a real InvokerControl gRPC server on
// 127.0.0.1:0 (over a fake target), and the invokers' pings on an in-process bus: the lines,
// JSON and exit codes a user sees.
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/common/json.hpp>
#include <wisp/invoker/invoker_control.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/open_store.hpp>

namespace {

using wisp::v1::InvokerStatusResponse;
using namespace std::chrono_literals;

constexpr auto kLong = 20s;  // only reached when something is broken
const std::string kToken = "admin-test-token-0123456789abcdef";

class FakeTarget final : public wisp::invoker::InvokerControlTarget {
  public:
    explicit FakeTarget(int instance) : instance_(instance) {}
    InvokerStatusResponse Status() const override {
        InvokerStatusResponse out;
        const int now_in_flight = in_flight.load();  // one read: the answer is consistent
        out.mutable_instance()->set_instance(instance_);
        out.set_in_flight(now_in_flight);
        out.set_user_memory_mb(2048);
        out.set_memory_in_use_mb(256);
        out.mutable_containers()->set_busy(now_in_flight);
        out.mutable_containers()->set_prewarm(2);
        out.set_state(wisp::invoker::InvokerStateOf(enabled.load(), false, now_in_flight, 0));
        if (out.state() == InvokerStatusResponse::DRAINING) ++draining_answers;
        return out;
    }
    void SetEnabled(bool e) override { enabled = e; }

    std::atomic<bool> enabled{true};
    std::atomic<int> in_flight{0};
    mutable std::atomic<int> draining_answers{0};  // Status() answers that said "draining"

  private:
    int instance_;
};

class BorrowedBus final : public wisp::messaging::MessagingProvider {
  public:
    explicit BorrowedBus(wisp::messaging::MessagingProvider& bus) : bus_(bus) {}
    absl::Status EnsureTopic(std::string_view topic,
                             const wisp::messaging::TopicConfig& config) override {
        return bus_.EnsureTopic(topic, config);
    }
    std::unique_ptr<wisp::messaging::MessageProducer> GetProducer() override {
        return bus_.GetProducer();
    }
    std::unique_ptr<wisp::messaging::MessageConsumer> GetConsumer(std::string_view topic,
                                                                  std::string_view group_id,
                                                                  int max_peek) override {
        return bus_.GetConsumer(topic, group_id, max_peek);
    }

  private:
    wisp::messaging::MessagingProvider& bus_;
};

struct Result {
    int rc;
    std::string out, err;
};

std::unique_ptr<wisp::invoker::InvokerControlServer> StartServer(FakeTarget& target) {
    auto s = wisp::invoker::InvokerControlServer::Start(target, {.token = kToken});
    REQUIRE(s.ok());
    return std::move(*s);
}

struct Fixture {
    FakeTarget target{3};
    std::unique_ptr<wisp::invoker::InvokerControlServer> server = StartServer(target);
    wisp::messaging::InProcessMessagingProvider bus;

    Result Run(std::vector<std::string> args) {
        args.insert(args.begin(), "wisp-admin");
        std::ostringstream out, err;
        auto open_bus = [this](const wisp::admin::BusOptions&)
            -> absl::StatusOr<std::unique_ptr<wisp::messaging::MessagingProvider>> {
            return std::make_unique<BorrowedBus>(bus);
        };
        const int rc =
            wisp::admin::RunAdmin(args, out, err, wisp::store::OpenArtifactStore, open_bus);
        return {rc, out.str(), err.str()};
    }

    void Ping(int instance, const std::string& endpoint, bool enabled, int64_t sent_at_ms) {
        wisp::v1::PingMessage ping;
        ping.mutable_name()->set_instance(instance);
        ping.mutable_name()->set_user_memory_mb(2048);
        ping.set_is_enabled(enabled);
        ping.set_control_endpoint(endpoint);
        ping.set_sent_at_ms(sent_at_ms);
        REQUIRE(bus.GetProducer()->Send("health", ping.SerializeAsString()).ok());
    }
};

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

TEST_CASE("cli invoker: status of one invoker, table and JSON", "[admin][invoker]") {
    Fixture f;
    const std::string ep = f.server->endpoint();
    auto r = f.Run({"invoker", "status", "--invoker", ep, "--control-token", kToken});
    REQUIRE(r.rc == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Catch::StartsWith("INVOKER"));
    CHECK_THAT(r.out, Catch::Contains("invoker3"));
    CHECK_THAT(r.out, Catch::Contains(ep));
    CHECK_THAT(r.out, Catch::Contains("enabled"));
    CHECK_THAT(r.out, Catch::Contains("256/2048"));

    r = f.Run({"invoker", "status", "--invoker", ep, "--control-token", kToken, "--json"});
    REQUIRE(r.rc == 0);
    rapidjson::Document doc;
    REQUIRE(wisp::common::ParseJson(r.out, doc).ok());
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == 1);
    CHECK(std::string(doc[0]["invoker"].GetString()) == "invoker3");
    CHECK(std::string(doc[0]["state"].GetString()) == "enabled");
    CHECK(doc[0]["user_memory_mb"].GetInt64() == 2048);
    CHECK(doc[0]["containers"]["prewarm"].GetInt() == 2);
}

TEST_CASE("cli invoker: token missing or wrong, invoker unreachable: one line, non-zero exit",
          "[admin][invoker]") {
    Fixture f;
    const std::string ep = f.server->endpoint();
    auto r = f.Run({"invoker", "drain", "--invoker", ep});
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("--control-token"));

    r = f.Run({"invoker", "drain", "--invoker", ep, "--control-token", "nope"});
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("wrong control token"));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(f.target.enabled);  // refused: nothing changed

    // A port nobody listens on: the server's, after it is gone.
    f.server->Shutdown();
    r = f.Run({"invoker", "status", "--invoker", ep, "--control-token", kToken});
    CHECK(r.rc == 1);
    CHECK_THAT(r.err, Catch::Contains("did not answer"));
    CHECK_THAT(r.err, Catch::Contains("wisp-admin invoker list"));

    r = f.Run({"invoker", "status", "--control-token", kToken});
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("--invoker HOST:PORT"));
}

TEST_CASE("cli invoker: drain --wait reports progress until drained; enable", "[admin][invoker]") {
    Fixture f;
    const std::string ep = f.server->endpoint();
    f.target.in_flight = 2;
    auto drained = std::async(std::launch::async, [&] {
        return f.Run({"invoker", "drain", "--wait", "--invoker", ep, "--control-token", kToken});
    });
    // The drain took effect and --wait has polled at least once while activations were in
    // flight (waiting for the drain alone raced the first poll: it could come after the
    // in-flight count dropped to 0).
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (f.target.draining_answers == 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    REQUIRE_FALSE(f.target.enabled);
    REQUIRE(f.target.draining_answers > 0);
    CHECK(drained.wait_for(0ms) == std::future_status::timeout);
    f.target.in_flight = 0;
    REQUIRE(drained.wait_for(kLong) == std::future_status::ready);
    Result r = drained.get();
    CHECK(r.rc == 0);
    CHECK_THAT(r.err, Catch::Contains("invoker3 (" + ep + "): draining, 2 in flight"));
    CHECK_THAT(r.err, Catch::Contains("invoker3 (" + ep + "): drained, 0 in flight"));
    CHECK_THAT(r.out, Catch::Contains("drained"));

    r = f.Run({"invoker", "enable", "--invoker", ep, "--control-token", kToken});
    CHECK(r.rc == 0);
    CHECK(f.target.enabled);
    CHECK_THAT(r.out, Catch::Contains("enabled"));
}

TEST_CASE("cli invoker: list and --all find the live invokers from their pings on health",
          "[admin][invoker]") {
    Fixture f;
    const std::string ep = f.server->endpoint();
    f.Ping(1, "127.0.0.1:9", true, NowMs() - 3600 * 1000);  // an hour old: gone
    f.Ping(3, ep, true, NowMs());
    f.Ping(4, "", false, NowMs());  // no control service, drained
    auto r = f.Run({"invoker", "list", "--kafka", "127.0.0.1:9", "--listen-ms", "300"});
    REQUIRE(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("invoker3"));
    CHECK_THAT(r.out, Catch::Contains(ep));
    CHECK_THAT(r.out, Catch::Contains("invoker4"));
    CHECK_THAT(r.out, Catch::Contains("disabled"));
    CHECK_THAT(r.out, !Catch::Contains("invoker1"));

    r = f.Run({"invoker", "list", "--kafka", "x:1", "--listen-ms", "300", "--json"});
    REQUIRE(r.rc == 0);
    rapidjson::Document doc;
    REQUIRE(wisp::common::ParseJson(r.out, doc).ok());
    REQUIRE(doc.Size() == 2);
    CHECK(std::string(doc[0]["endpoint"].GetString()) == ep);
    CHECK(doc[1]["enabled"].GetBool() == false);

    f.Ping(3, ep, true, NowMs());
    r = f.Run({"invoker", "drain", "--all", "--kafka", "x:1", "--listen-ms", "300",
               "--control-token", kToken});
    CHECK(r.rc == 0);
    CHECK_FALSE(f.target.enabled);
    CHECK_THAT(r.err, Catch::Contains("invoker4 serves no control service"));
    CHECK_THAT(r.out, Catch::Contains("drained"));

    r = f.Run({"invoker", "list", "--listen-ms", "300"});
    CHECK(r.rc == 2);
    CHECK_THAT(r.err, Catch::Contains("--kafka"));
}
