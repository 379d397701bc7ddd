// The messaging contract suite on Kafka: one wisp-kafka-dev-broker child per test binary
// (started on first use with --port on a free loopback port, so the clients bootstrap through
// its forwarder; stopped at exit), and for each test case a KafkaMessagingProvider with a fresh
// topic prefix, so test cases are independent. Plus the Kafka-only case that restarts the dev
// broker on the same port under a live provider.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include <wisp/messaging/kafka_messaging_provider.hpp>
#include <wisp/testing/child_process.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "messaging_backend.hpp"

namespace wisp::contract {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = 30s;

/// build/bin/wisp-kafka-dev-broker ($WISP_KAFKA_DEV_BROKER, set by CMake).
std::string BrokerBinary() {
    const char* env = std::getenv("WISP_KAFKA_DEV_BROKER");
    return env != nullptr && *env != '\0' ? env : "wisp-kafka-dev-broker";
}

/// A wisp-kafka-dev-broker child process on 127.0.0.1:port.
class DevBroker {
  public:
    /// Starts one on `port` (0: a free port, retried if someone takes it first) and waits
    /// until the port accepts connections (the forwarder binds once the cluster is up).
    static absl::StatusOr<std::unique_ptr<DevBroker>> Start(int port = 0) {
        absl::Status last = absl::UnknownError("not started");
        for (int attempt = 0; attempt < (port == 0 ? 3 : 1); ++attempt) {
            auto broker = std::unique_ptr<DevBroker>(new DevBroker());
            broker->port_ = port;
            if (port == 0) {
                auto free_port = testing::FindFreeLoopbackPort();
                if (!free_port.ok()) return free_port.status();
                broker->port_ = *free_port;
            }
            testing::SpawnOptions options;
            options.argv = {BrokerBinary(), "--port", std::to_string(broker->port_)};
            options.log_path = broker->dir_.File("broker.log");
            auto child = testing::ChildProcess::Spawn(options);
            if (!child.ok()) return child.status();
            broker->child_ = std::move(*child);
            last = broker->child_->WaitForPort(
                broker->port_,
                std::chrono::duration_cast<std::chrono::milliseconds>(kStartTimeout));
            if (last.ok()) return broker;
        }
        return last;
    }

    /// One broker for the whole test binary, started from the calling (main) thread.
    static absl::StatusOr<DevBroker*> Shared() {
        static absl::StatusOr<std::unique_ptr<DevBroker>> broker = Start();
        if (!broker.ok()) return broker.status();
        return broker->get();
    }

    ~DevBroker() {
        if (child_) child_->Stop();
    }

    std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    void Stop() { child_->Stop(); }
    std::string LogTail() const { return child_->LogTail(); }

  private:
    DevBroker() : dir_("wisp-kafka-dev-broker-") {}
    testing::TempDir dir_;
    std::unique_ptr<testing::ChildProcess> child_;
    int port_ = 0;
};

messaging::KafkaConfig ConfigFor(const std::string& bootstrap, std::string prefix) {
    messaging::KafkaConfig config;
    config.bootstrap_servers = bootstrap;
    config.topic_prefix = std::move(prefix);
    config.client_id = "messaging_contract_kafka";
    // The dev broker holds an empty fetch for the full fetch.wait.max.ms (Apache Kafka answers
    // as soon as a message arrives): keep hops short.
    config.fetch_wait_max = 5ms;
    config.reconnect_backoff_max = 500ms;
    config.send_timeout = 30s;
    return config;
}

std::string UniquePrefix() {
    static std::atomic<int> counter{0};
    return "c" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + ".";
}

}  // namespace

std::unique_ptr<messaging::MessagingProvider> MakeFreshBus() {
    auto broker = DevBroker::Shared();
    if (!broker.ok()) FAIL("cannot start wisp-kafka-dev-broker: " << broker.status().ToString());
    auto provider = messaging::KafkaMessagingProvider::Create(
        ConfigFor((*broker)->bootstrap(), UniquePrefix()));
    if (!provider.ok()) FAIL(provider.status().ToString());
    return std::move(*provider);
}

std::string BusName() { return "kafka"; }

int LatencyRounds() { return 200; }

}  // namespace wisp::contract

using namespace std::chrono_literals;

TEST_CASE(
    "kafka dev broker: clients bootstrap through --port; after a restart on the same port "
    "sends resume without a crash",
    "[kafka]") {
    auto broker = wisp::contract::DevBroker::Start();
    REQUIRE(broker.ok());
    const int port = (*broker)->port();
    auto provider = wisp::messaging::KafkaMessagingProvider::Create(
        wisp::contract::ConfigFor((*broker)->bootstrap(), ""));
    REQUIRE(provider.ok());
    REQUIRE((*provider)->CheckConnection(30s).ok());
    auto producer = (*provider)->GetProducer();
    REQUIRE(producer->Send("health", "before").ok());

    // A restart loses everything the broker held (it is in memory): the client reconnects
    // through the same bootstrap port and finds the new cluster's brokers.
    (*broker)->Stop();
    broker->reset();
    auto restarted = wisp::contract::DevBroker::Start(port);
    REQUIRE(restarted.ok());
    auto sent = std::async(std::launch::async, [&] { return producer->Send("health", "after"); });
    REQUIRE(sent.wait_for(60s) == std::future_status::ready);
    CHECK(sent.get().ok());

    auto consumer = (*provider)->GetConsumer("health", "health0", 10);
    auto batch = consumer->Peek(30s);
    REQUIRE(batch.ok());
    REQUIRE_FALSE(batch->empty());
    CHECK(batch->back().payload == "after");
}
