// Kafka-only behaviour of KafkaMessagingProvider, against librdkafka's mock cluster in this
// process (rdkafka_mock.h lets the test take the broker down and up): reconnects without a
// crash, sends resume, one warning per outage; configuration errors; ConnectionEpisodes. The
// bus semantics themselves are the contract suite's (tests/contract, messaging_contract_kafka).
#include <wisp/messaging/kafka_messaging_provider.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <catch2/catch.hpp>

#include "connection_episodes.hpp"

using namespace wisp::messaging;
using namespace std::chrono_literals;

namespace {

constexpr auto kLong = 30s;  // only reached when something is broken

/// A mock Kafka cluster in this process.
class MockCluster {
  public:
    explicit MockCluster(int brokers = 1) {
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        char errstr[256];
        rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        REQUIRE(rk_ != nullptr);
        cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
        REQUIRE(cluster_ != nullptr);
    }
    ~MockCluster() {
        rd_kafka_mock_cluster_destroy(cluster_);
        rd_kafka_destroy(rk_);
    }
    std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
    void Down() { REQUIRE(rd_kafka_mock_broker_set_down(cluster_, -1) == 0); }
    void Up() { REQUIRE(rd_kafka_mock_broker_set_up(cluster_, -1) == 0); }

  private:
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

KafkaConfig TestConfig(const std::string& bootstrap) {
    KafkaConfig config;
    config.bootstrap_servers = bootstrap;
    config.client_id = "messaging_kafka_test";
    config.fetch_wait_max = 5ms;  // the mock holds empty fetches this long
    config.reconnect_backoff_max = 500ms;
    config.send_timeout = kLong;
    return config;
}

/// The log lines (level + text) of the default logger while it lives; waits for a line.
class LogLines {
  public:
    LogLines() : previous_(spdlog::default_logger()) {
        sink_ = std::make_shared<Sink>(this);
        auto logger = std::make_shared<spdlog::logger>("captured", sink_);
        logger->set_level(spdlog::level::info);
        spdlog::set_default_logger(logger);
    }
    ~LogLines() { spdlog::set_default_logger(previous_); }

    /// Lines at `level` containing every one of `parts`.
    int Count(spdlog::level::level_enum level, const std::vector<std::string>& parts) {
        std::lock_guard<std::mutex> lock(mu_);
        return CountLocked(level, parts);
    }
    /// Waits until Count(level, parts) >= n.
    bool WaitFor(int n, spdlog::level::level_enum level, const std::vector<std::string>& parts) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, kLong, [&] { return CountLocked(level, parts) >= n; });
    }
    std::string All() {
        std::lock_guard<std::mutex> lock(mu_);
        std::string all;
        for (const auto& [level, text] : lines_) all += text + "\n";
        return all;
    }

  private:
    class Sink final : public spdlog::sinks::base_sink<std::mutex> {
      public:
        explicit Sink(LogLines* owner) : owner_(owner) {}

      protected:
        void sink_it_(const spdlog::details::log_msg& msg) override {
            {
                std::lock_guard<std::mutex> lock(owner_->mu_);
                owner_->lines_.emplace_back(msg.level,
                                            std::string(msg.payload.begin(), msg.payload.end()));
            }
            owner_->cv_.notify_all();
        }
        void flush_() override {}

      private:
        LogLines* owner_;
    };

    int CountLocked(spdlog::level::level_enum level, const std::vector<std::string>& parts) {
        int n = 0;
        for (const auto& [l, text] : lines_) {
            bool all = l == level;
            for (const auto& part : parts) all = all && text.find(part) != std::string::npos;
            n += all ? 1 : 0;
        }
        return n;
    }

    std::shared_ptr<spdlog::logger> previous_;
    std::shared_ptr<Sink> sink_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<spdlog::level::level_enum, std::string>> lines_;
};

/// Peeks (and commits) until `n` messages arrived or kLong passed.
std::vector<std::string> Receive(MessageConsumer& consumer, size_t n) {
    std::vector<std::string> got;
    const auto deadline = std::chrono::steady_clock::now() + kLong;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
        auto batch = consumer.Peek(1s);
        if (!batch.ok()) continue;
        for (auto& m : *batch) got.push_back(std::move(m.payload));
        if (!batch->empty()) (void)consumer.Commit();
    }
    return got;
}

/// A loopback port nothing listens on (bound, then released).
int ClosedPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("kafka: connection episodes log one warning per outage and one line on recovery",
          "[kafka]") {
    LogLines log;
    wisp::messaging::kafka::ConnectionEpisodes episodes("Kafka producer (x)");
    for (int i = 0; i < 5; ++i) episodes.Error("Connection refused");
    CHECK(episodes.failing());
    episodes.Recovered();
    episodes.Recovered();
    CHECK_FALSE(episodes.failing());
    episodes.Error("Disconnected");
    CHECK(log.Count(spdlog::level::warn, {"Kafka producer (x)"}) == 2);
    CHECK(log.Count(spdlog::level::warn, {"Connection refused", "keeps reconnecting"}) == 1);
    CHECK(log.Count(spdlog::level::info, {"working again after 5 error(s)"}) == 1);
    CHECK(episodes.episodes() == 2);
}

TEST_CASE("kafka: a bad librdkafka property is refused by Create with its name", "[kafka]") {
    KafkaConfig config = TestConfig("127.0.0.1:1");
    config.properties = {{"no.such.property", "1"}};
    auto provider = KafkaMessagingProvider::Create(config);
    REQUIRE_FALSE(provider.ok());
    CHECK(provider.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(provider.status().message().find("no.such.property") != std::string_view::npos);

    CHECK(KafkaMessagingProvider::Create(TestConfig("")).status().code() ==
          absl::StatusCode::kInvalidArgument);
}

TEST_CASE("kafka: CheckConnection says where it looked and what to set when no broker answers",
          "[kafka]") {
    const std::string bootstrap = "127.0.0.1:" + std::to_string(ClosedPort());
    auto provider = KafkaMessagingProvider::Create(TestConfig(bootstrap));
    REQUIRE(provider.ok());
    absl::Status status = (*provider)->CheckConnection(500ms);
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(status.message().find(bootstrap) != std::string_view::npos);
    CHECK(status.message().find("WISP_KAFKA") != std::string_view::npos);
}

/// This process's threads now (/proc/self/task).
size_t ThreadCount() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/task")) {
        ++n;
    }
    return n;
}

TEST_CASE("kafka: producers share one client; closing one leaves the others sending", "[kafka]") {
    MockCluster cluster;
    auto provider = KafkaMessagingProvider::Create(TestConfig(cluster.bootstraps()));
    REQUIRE(provider.ok());
    REQUIRE((*provider)->CheckConnection(kLong).ok());
    auto first = (*provider)->GetProducer();
    REQUIRE(first->Send("shared", "one").ok());
    const size_t threads = ThreadCount();
    // Two more producers add no client (a client of their own costs four threads at least).
    auto second = (*provider)->GetProducer();
    auto third = (*provider)->GetProducer();
    REQUIRE(second->Send("shared", "two").ok());
    REQUIRE(third->Send("other", "three").ok());
    CHECK(ThreadCount() <= threads);

    first->Close();
    CHECK(first->Send("shared", "late").code() == absl::StatusCode::kFailedPrecondition);
    REQUIRE(second->Send("shared", "four").ok());  // the shared client is still open
    first.reset();
    third.reset();
    REQUIRE(second->Send("shared", "five").ok());

    auto consumer = (*provider)->GetConsumer("shared", "reader", 10);
    CHECK(Receive(*consumer, 4) == std::vector<std::string>{"one", "two", "four", "five"});
}

TEST_CASE("kafka: the topic prefix names the topics on the broker, not in messages", "[kafka]") {
    MockCluster cluster;
    KafkaConfig config = TestConfig(cluster.bootstraps());
    config.topic_prefix = "staging.";
    auto provider = KafkaMessagingProvider::Create(config);
    REQUIRE(provider.ok());
    REQUIRE((*provider)->CheckConnection(kLong).ok());
    auto producer = (*provider)->GetProducer();
    REQUIRE(producer->Send("invoker0", "hello").ok());

    // A client without the prefix reads the broker's "staging.invoker0".
    auto plain = KafkaMessagingProvider::Create(TestConfig(cluster.bootstraps()));
    REQUIRE(plain.ok());
    auto raw = (*plain)->GetConsumer("staging.invoker0", "raw", 10);
    auto got = Receive(*raw, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == "hello");

    auto consumer = (*provider)->GetConsumer("invoker0", "invoker0", 10);
    auto batch = consumer->Peek(kLong);
    REQUIRE(batch.ok());
    REQUIRE(batch->size() == 1);
    CHECK((*batch)[0].topic == "invoker0");

    // The prefix counts towards Kafka's 249 characters.
    CHECK((*provider)->EnsureTopic(std::string(245, 'a')).code() ==
          absl::StatusCode::kInvalidArgument);
}

TEST_CASE(
    "kafka: the broker goes down and comes back: no crash, sends resume, one warning per "
    "outage",
    "[kafka]") {
    MockCluster cluster;
    auto provider = KafkaMessagingProvider::Create(TestConfig(cluster.bootstraps()));
    REQUIRE(provider.ok());
    auto producer = (*provider)->GetProducer();
    auto consumer = (*provider)->GetConsumer("invoker0", "invoker0", 100);
    REQUIRE(producer->Send("invoker0", "before").ok());
    REQUIRE(Receive(*consumer, 1) == std::vector<std::string>{"before"});

    LogLines log;
    size_t expected = 0;
    for (int outage = 1; outage <= 2; ++outage) {
        cluster.Down();
        // Twenty sends during the outage, from as many threads: they wait for the broker.
        std::vector<std::future<absl::Status>> sends;
        for (int i = 0; i < 20; ++i) {
            sends.push_back(std::async(std::launch::async, [&, i] {
                return producer->Send("invoker0",
                                      "during" + std::to_string(outage) + "." + std::to_string(i));
            }));
        }
        INFO(log.All());
        REQUIRE(log.WaitFor(outage, spdlog::level::warn, {"Kafka producer"}));
        cluster.Up();
        for (auto& send : sends) CHECK(send.get().ok());
        REQUIRE(log.WaitFor(outage, spdlog::level::info, {"Kafka producer", "working again"}));
        CHECK(log.Count(spdlog::level::warn, {"Kafka producer"}) == outage);
        expected += 20;
    }
    REQUIRE(producer->Send("invoker0", "after").ok());
    auto got = Receive(*consumer, expected + 1);
    CHECK(got.size() == expected + 1);
    CHECK(got.back() == "after");
}

TEST_CASE("kafka: a blocked Peek during an outage returns; the consumer reads after it",
          "[kafka]") {
    MockCluster cluster;
    auto provider = KafkaMessagingProvider::Create(TestConfig(cluster.bootstraps()));
    REQUIRE(provider.ok());
    auto producer = (*provider)->GetProducer();
    auto consumer = (*provider)->GetConsumer("completed0", "completed0", 10);
    REQUIRE(producer->Send("completed0", "a").ok());
    REQUIRE(Receive(*consumer, 1).size() == 1);

    cluster.Down();
    auto peeked = std::async(std::launch::async, [&] { return consumer->Peek(kLong); });
    consumer->Wakeup();
    REQUIRE(peeked.wait_for(kLong) == std::future_status::ready);
    auto batch = peeked.get();
    REQUIRE(batch.ok());
    CHECK(batch->empty());
    cluster.Up();

    REQUIRE(producer->Send("completed0", "b").ok());
    CHECK(Receive(*consumer, 1) == std::vector<std::string>{"b"});
}

TEST_CASE("kafka: only the latency topics fetch with fetch_wait_max; the others wait longer",
          "[kafka]") {
    KafkaConfig config;
    config.fetch_wait_max = 1ms;
    config.background_fetch_wait_max = 100ms;
    // No prefixes: every topic is a latency topic (the default).
    CHECK(FetchWaitMax(config, "health") == 1ms);
    config.latency_topic_prefixes = {"invoker", "completed"};
    CHECK(FetchWaitMax(config, "invoker0") == 1ms);
    CHECK(FetchWaitMax(config, "completed12") == 1ms);
    CHECK(FetchWaitMax(config, "health") == 100ms);
    CHECK(FetchWaitMax(config, "cacheInvalidation") == 100ms);
    CHECK(FetchWaitMax(config, "componentHealth") == 100ms);
    CHECK(FetchWaitMax(config, "invoke") == 100ms);  // a prefix of the name, not the reverse
}
