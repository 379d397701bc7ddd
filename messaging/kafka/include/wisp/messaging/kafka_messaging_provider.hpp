#pragma once
// KafkaMessagingProvider: the bus on Apache Kafka through librdkafka's C API (rdkafka.h), with
// the semantics of messaging_provider.hpp. Production runs against Apache Kafka;
// wisp-kafka-dev-broker (dev_broker/, librdkafka's mock cluster) serves local runs and tests.
//
// Mapping (see messaging/README.md, "Kafka backend"):
//   - a topic is `<topic_prefix><topic>` with one partition (created with CreateTopics: 1
//     partition, replication factor 1, max.message.bytes and retention.bytes from TopicConfig;
//     when the broker cannot create topics — the dev broker has no CreateTopics — the broker's
//     automatic topic creation is used). Everything is produced to and consumed from partition 0,
//     so a topic auto-created with more partitions is still one ordered log;
//   - Send() waits for the broker's acknowledgement (acks=1 by default) and returns its outcome;
//   - a consumer is assigned partition 0 directly (no group join/rebalance: it starts reading at
//     once, also when a crashed predecessor of its group has not timed out yet); group.id is used
//     for committed offsets only. One consumer per group at a time is the caller's duty (the
//     component ids of the distributed topology are unique);
//   - Commit() is a synchronous offset commit of everything peeked; no auto-commit;
//     auto.offset.reset=earliest; Close() leaves without committing.
//   - connection loss: librdkafka reconnects by itself; each producer and consumer logs one
//     warning when its connection breaks and one line when it works again, not one per message.
//
// Producers and consumers hold the provider's shared state and may outlive the provider.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::messaging {

struct KafkaConfig {
    /// Kafka's bootstrap.servers: "host:port[,host:port...]".
    std::string bootstrap_servers = "127.0.0.1:9092";
    /// Prepended to every topic name on the broker (OpenWhisk's topics.prefix); "" = none.
    /// Lets several installations share one Kafka cluster.
    std::string topic_prefix;
    /// Kafka's client.id (shown in broker logs and metrics), e.g. "controller0".
    std::string client_id = "wisp";
    /// Producer linger.ms. 0: a message is sent as soon as Send() is called — an activation
    /// waits for nothing (librdkafka 2.0's default is 5 ms, a delay on every hop). Batching
    /// still happens under load: messages queued while a request is in flight go together.
    std::chrono::milliseconds linger{0};
    /// Producer acks: 1 (OpenWhisk's choice; the partition leader has written the message).
    /// The topics have replication factor 1, so acks=-1 (all) would add no durability.
    int acks = 1;
    /// How long Send() waits for the broker's acknowledgement, retries included (Kafka's
    /// message.timeout.ms); then Unavailable.
    std::chrono::milliseconds send_timeout{10000};
    /// How long a producer's Close() waits for what it sent to be acknowledged: a Send() still
    /// waiting then returns Unavailable, and the last producer of the provider gives up on
    /// (purges) what is still queued. A shutdown with the broker gone or stalled takes this
    /// long per close, not send_timeout.
    std::chrono::milliseconds close_timeout{3000};
    /// Consumer fetch.wait.max.ms: how long the broker may hold an empty fetch. Apache Kafka
    /// answers a waiting fetch as soon as a message arrives, so a long wait costs nothing; the
    /// dev broker (librdkafka's mock) always holds an empty fetch this long, so every hop can
    /// wait this long there: use a few milliseconds against it.
    std::chrono::milliseconds fetch_wait_max{500};
    /// Topics (as the callers name them, without `topic_prefix`) whose consumers fetch with
    /// `fetch_wait_max`, matched by name prefix (e.g. "invoker", "completed": the activation
    /// path); empty = every topic. The consumers of the other topics (health pings, cache
    /// invalidation, id claims) use `background_fetch_wait_max`. Against Apache Kafka the choice
    /// costs nothing either way (a waiting fetch returns when a record arrives); against the dev
    /// broker every idle consumer sends a fetch per wait to its single thread, so a short wait
    /// for every topic keeps that thread busy and every hop waits behind the others' fetches.
    std::vector<std::string> latency_topic_prefixes;
    std::chrono::milliseconds background_fetch_wait_max{500};
    /// Timeout of topic creation and metadata requests (EnsureTopic, CheckConnection).
    std::chrono::milliseconds admin_timeout{10000};
    /// Cap of librdkafka's exponential reconnect backoff (reconnect.backoff.max.ms; it starts
    /// at 100 ms with jitter).
    std::chrono::milliseconds reconnect_backoff_max{2000};
    /// Further librdkafka properties for every client (e.g. security.protocol, sasl.*), applied
    /// last. Secrets here are never logged.
    std::vector<std::pair<std::string, std::string>> properties;
};

/// The fetch.wait.max.ms of a consumer of `topic` (as the caller names it): fetch_wait_max for
/// the latency topics, background_fetch_wait_max for the others.
std::chrono::milliseconds FetchWaitMax(const KafkaConfig& config, std::string_view topic);

class KafkaMessagingProvider final : public MessagingProvider {
  public:
    /// Checks the configuration (librdkafka's property parser: InvalidArgument names the bad
    /// property). Does not connect: see CheckConnection().
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaMessagingProvider>> Create(
        KafkaConfig config);

    ~KafkaMessagingProvider() override;
    KafkaMessagingProvider(const KafkaMessagingProvider&) = delete;
    KafkaMessagingProvider& operator=(const KafkaMessagingProvider&) = delete;

    /// Asks the cluster for its metadata. Blocks up to `timeout`. Unavailable (with a hint)
    /// when no broker answers.
    [[nodiscard]] absl::Status CheckConnection(std::chrono::milliseconds timeout);

    /// CreateTopics (1 partition, RF 1, max.message.bytes and retention.bytes from `config`);
    /// an existing topic is fine. If the broker refuses or lacks CreateTopics, falls back to
    /// its automatic topic creation (then the broker's defaults apply; Send() still enforces
    /// config.max_message_bytes). Blocks up to admin_timeout. Errors: InvalidArgument,
    /// Unavailable, FailedPrecondition (the topic does not exist and cannot be created).
    [[nodiscard]] absl::Status EnsureTopic(std::string_view topic,
                                           const TopicConfig& config = {}) override;
    /// A producer; its Close() ends it alone. The producers of one provider share one
    /// librdkafka client (its connection and delivery thread) while any is alive. Never null
    /// (a producer that could not be set up fails every Send with Internal).
    std::unique_ptr<MessageProducer> GetProducer() override;
    /// A consumer with its own connection. Never null (bad arguments: every call fails with
    /// InvalidArgument). Creates the topic when missing (a failure is logged; the consumer
    /// starts reading once the topic exists).
    std::unique_ptr<MessageConsumer> GetConsumer(std::string_view topic, std::string_view group_id,
                                                 int max_peek) override;

    const KafkaConfig& config() const;

    struct Cluster;  // shared with producers and consumers

  private:
    explicit KafkaMessagingProvider(std::shared_ptr<Cluster> cluster);
    std::shared_ptr<Cluster> cluster_;
};

}  // namespace wisp::messaging
