// LongPollProxy in front of librdkafka's mock cluster (in this process): a consumer whose fetch
// may wait a minute still gets a record as soon as it is produced, through the proxy's port only
// (the metadata names the proxy, not the mock broker).
#include "long_poll_proxy.hpp"

#include <chrono>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include <wisp/messaging/kafka_messaging_provider.hpp>

using namespace std::chrono_literals;
using wisp::messaging::KafkaConfig;
using wisp::messaging::KafkaMessagingProvider;

namespace {

/// A mock cluster with one broker and a proxy in front of it.
class ProxiedMock {
  public:
    ProxiedMock() {
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        REQUIRE(rk_ != nullptr);
        cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
        REQUIRE(cluster_ != nullptr);
        wisp::kafka_dev::ProxyCluster::LimitApiVersions(cluster_);
        const std::string broker = rd_kafka_mock_cluster_bootstraps(cluster_);
        shared_ = std::make_shared<wisp::kafka_dev::ProxyCluster>();
        auto& shared = shared_;
        proxy_ = std::make_unique<wisp::kafka_dev::LongPollProxy>(
            shared, 0, std::stoi(broker.substr(broker.rfind(':') + 1)));
        REQUIRE(proxy_->Start());
        shared->SetProxyPort(1, proxy_->port());
    }
    ~ProxiedMock() {
        proxy_.reset();
        rd_kafka_mock_cluster_destroy(cluster_);
        rd_kafka_destroy(rk_);
    }
    std::string bootstrap() const { return "127.0.0.1:" + std::to_string(proxy_->port()); }
    const wisp::kafka_dev::ProxyCluster& cluster() const { return *shared_; }

  private:
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_mock_cluster_t* cluster_ = nullptr;
    std::shared_ptr<wisp::kafka_dev::ProxyCluster> shared_;
    std::unique_ptr<wisp::kafka_dev::LongPollProxy> proxy_;
};

}  // namespace

TEST_CASE("dev broker: a waiting fetch is answered when a record arrives, not after its wait",
          "[kafka][dev-broker]") {
    ProxiedMock mock;
    KafkaConfig config;
    config.bootstrap_servers = mock.bootstrap();
    config.client_id = "long_poll_proxy_test";
    config.fetch_wait_max = 120s;  // the mock alone would hold every empty fetch two minutes
    config.send_timeout = 30s;
    auto bus = KafkaMessagingProvider::Create(config);
    REQUIRE(bus.ok());
    REQUIRE((*bus)->CheckConnection(30s).ok());
    auto producer = (*bus)->GetProducer();
    auto consumer = (*bus)->GetConsumer("invoker0", "invoker0", 10);
    REQUIRE(producer->Send("invoker0", "first").ok());
    auto batch = consumer->Peek(60s);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 1);
    CHECK((*batch)[0].payload == "first");

    // The consumer's next fetch is now waiting (empty) at the proxy: a record sent later gets
    // through long before the fetch's 120 s are over.
    for (const char* payload : {"second", "third"}) {
        REQUIRE(producer->Send("invoker0", payload).ok());
        batch = consumer->Peek(60s);
        REQUIRE(batch.ok());
        REQUIRE(batch->size() == 1);
        CHECK((*batch)[0].payload == payload);
    }
    REQUIRE(consumer->Commit().ok());
    consumer->Close();
    producer->Close();
}

TEST_CASE("dev broker: a held fetch does not hold up the consumer's offset commit",
          "[kafka][dev-broker]") {
    ProxiedMock mock;
    KafkaConfig config;
    config.bootstrap_servers = mock.bootstrap();
    config.client_id = "long_poll_proxy_test";
    config.fetch_wait_max = 120s;  // a commit queued behind the held fetch would wait this long
    config.send_timeout = 30s;
    auto bus = KafkaMessagingProvider::Create(config);
    REQUIRE(bus.ok());
    REQUIRE((*bus)->CheckConnection(30s).ok());
    auto producer = (*bus)->GetProducer();
    auto consumer = (*bus)->GetConsumer("invoker0", "invoker0", 10);
    for (const char* payload : {"first", "second", "third"}) {
        REQUIRE(producer->Send("invoker0", payload).ok());
        auto batch = consumer->Peek(60s);
        REQUIRE(batch.ok());
        REQUIRE(batch->size() == 1);
        CHECK((*batch)[0].payload == payload);
        // The consumer's next fetch is held at the proxy (nothing more to read): the commit's
        // answer must get past it, long before the fetch's 120 s are over.
        const auto start = std::chrono::steady_clock::now();
        REQUIRE(consumer->Commit().ok());
        CHECK(std::chrono::steady_clock::now() - start < 60s);
    }
    consumer->Close();
    producer->Close();
}

TEST_CASE("dev broker: a fetch from the end of the log waits at the proxy, not at the mock",
          "[kafka][dev-broker]") {
    ProxiedMock mock;
    KafkaConfig config;
    config.bootstrap_servers = mock.bootstrap();
    config.client_id = "long_poll_proxy_test";
    config.fetch_wait_max = 120s;
    config.send_timeout = 30s;
    auto bus = KafkaMessagingProvider::Create(config);
    REQUIRE(bus.ok());
    REQUIRE((*bus)->CheckConnection(30s).ok());
    auto producer = (*bus)->GetProducer();
    auto consumer = (*bus)->GetConsumer("invoker0", "invoker0", 10);
    // After each record the consumer fetches from the new end of the log: the proxy knows the
    // mock would answer empty (nothing produced since), so it holds that fetch unsent (the
    // mock's fetch walks the whole log) and sends it once the next record is produced.
    for (int i = 0; i < 5; ++i) {
        const std::string payload = "record " + std::to_string(i);
        REQUIRE(producer->Send("invoker0", payload).ok());
        auto batch = consumer->Peek(60s);
        REQUIRE(batch.ok());
        REQUIRE(batch->size() == 1);
        CHECK((*batch)[0].payload == payload);
    }
    CHECK(mock.cluster().fetches_held_unsent() >= 1);
    // Once produced, each record is answered from the proxy's tail cache (or by the mock).
    CHECK(mock.cluster().fetches_sent() + mock.cluster().fetches_cached() >= 5);
    consumer->Close();
    producer->Close();
}

TEST_CASE(
    "dev broker: the tail of a log is served from the proxy's cache, older records by the mock",
    "[kafka][dev-broker]") {
    ProxiedMock mock;
    KafkaConfig config;
    config.bootstrap_servers = mock.bootstrap();
    config.client_id = "long_poll_proxy_test";
    config.fetch_wait_max = 120s;
    config.send_timeout = 30s;
    auto bus = KafkaMessagingProvider::Create(config);
    REQUIRE(bus.ok());
    REQUIRE((*bus)->CheckConnection(30s).ok());
    auto producer = (*bus)->GetProducer();
    // More than the cache keeps of one partition: the first records are only in the mock.
    const std::string filler(8 * 1024, 'x');
    const int total =
        static_cast<int>(2 * wisp::kafka_dev::ProxyCluster::kCacheBytes / filler.size());
    auto payload = [&](int i) { return std::to_string(i) + ":" + filler; };
    auto live = (*bus)->GetConsumer("invoker0", "live", 4);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(producer->Send("invoker0", payload(i)).ok());
        auto batch = live->Peek(60s);
        REQUIRE(batch.ok());
        REQUIRE(batch->size() == 1);
        CHECK((*batch)[0].offset == i);
        CHECK((*batch)[0].payload == payload(i));
    }
    const uint64_t cached = mock.cluster().fetches_cached();
    CHECK(cached >= 1);  // a live consumer's fetches at the tail never reach the mock
    for (int i = 3; i < total; ++i) REQUIRE(producer->Send("invoker0", payload(i)).ok());

    // A new group reads from the start: the first records come from the mock, the rest from
    // the cache; every record once, in order, with its offset.
    const uint64_t sent = mock.cluster().fetches_sent();
    auto late = (*bus)->GetConsumer("invoker0", "late", 16);
    int next = 0;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (next < total && std::chrono::steady_clock::now() < deadline) {
        auto batch = late->Peek(10s);
        REQUIRE(batch.ok());
        for (const auto& message : *batch) {
            REQUIRE(message.offset == next);
            REQUIRE(message.payload == payload(next));
            ++next;
        }
    }
    CHECK(next == total);
    CHECK(mock.cluster().fetches_sent() > sent);
    CHECK(mock.cluster().fetches_cached() > cached);
    late->Close();
    live->Close();
    producer->Close();
}

TEST_CASE("dev broker: a produce wakes only the fetches waiting for its topic",
          "[kafka][dev-broker]") {
    ProxiedMock mock;
    KafkaConfig config;
    config.bootstrap_servers = mock.bootstrap();
    config.client_id = "long_poll_proxy_test";
    config.fetch_wait_max = 120s;  // the quiet consumer's fetch waits at the proxy meanwhile
    config.send_timeout = 30s;
    auto bus = KafkaMessagingProvider::Create(config);
    REQUIRE(bus.ok());
    REQUIRE((*bus)->CheckConnection(30s).ok());
    auto producer = (*bus)->GetProducer();
    REQUIRE((*bus)->EnsureTopic("busy").ok());
    auto quiet = (*bus)->GetConsumer("quiet", "quiet", 10);
    REQUIRE(producer->Send("quiet", "first").ok());
    auto batch = quiet->Peek(60s);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 1);
    // The quiet consumer's next fetch is held; records to another topic leave it asleep.
    const uint64_t before = mock.cluster().wakeups();
    constexpr int kRecords = 40;
    for (int i = 0; i < kRecords; ++i) REQUIRE(producer->Send("busy", "other").ok());
    CHECK(mock.cluster().wakeups() - before < kRecords / 2);
    REQUIRE(producer->Send("quiet", "second").ok());
    batch = quiet->Peek(60s);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 1);
    CHECK((*batch)[0].payload == "second");
    quiet->Close();
    producer->Close();
}
