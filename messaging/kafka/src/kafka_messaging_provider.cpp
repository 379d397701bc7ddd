#include <wisp/messaging/kafka_messaging_provider.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "connection_episodes.hpp"

namespace wisp::messaging {
namespace {

using kafka::ConnectionEpisodes;

/// Room for the record batch framing around one payload (Kafka's v2 batch header is 61 bytes,
/// a record's own header a few dozen): the producer's message.max.bytes and the consumer's
/// fetch size are the largest topic limit plus this.
constexpr int64_t kFramingBytes = 4096;

int ClampMs(std::chrono::milliseconds ms) {
    return static_cast<int>(std::clamp<int64_t>(ms.count(), 0, INT_MAX));
}

/// librdkafka's own log lines (one per reconnect attempt, among others) go to debug: what a
/// user needs is logged once per episode by ConnectionEpisodes.
void LogCallback(const rd_kafka_t*, int level, const char* facility, const char* message) {
    spdlog::debug("librdkafka[{}] {}: {}", level, facility, message);
}

/// The Status for a librdkafka error. Size errors are OutOfRange, authorization errors
/// PermissionDenied, everything else Unavailable (the network, the broker, timeouts).
[[nodiscard]] absl::Status KafkaStatus(rd_kafka_resp_err_t err, std::string_view what) {
    const std::string message = fmt::format("{}: {}", what, rd_kafka_err2str(err));
    switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
            return absl::OutOfRangeError(message);
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
            return absl::PermissionDeniedError(message);
        default:
            return absl::UnavailableError(message);
    }
}

struct ConfDeleter {
    void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

[[nodiscard]] absl::Status Set(rd_kafka_conf_t* conf, const std::string& name,
                               const std::string& value) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        // The value is not repeated: it may be a secret (sasl.password).
        return absl::InvalidArgumentError(
            fmt::format("Kafka client property '{}': {}", name, errstr));
    }
    return absl::OkStatus();
}

[[nodiscard]] absl::Status SetAll(
    rd_kafka_conf_t* conf, const std::vector<std::pair<std::string, std::string>>& properties) {
    for (const auto& [name, value] : properties) {
        absl::Status set = Set(conf, name, value);
        if (!set.ok()) return set;
    }
    return absl::OkStatus();
}

/// The properties every client of the provider shares; `extra` (role-specific) before the
/// user's own KafkaConfig::properties, which win.
[[nodiscard]] absl::StatusOr<ConfPtr> MakeConf(
    const KafkaConfig& config, const std::vector<std::pair<std::string, std::string>>& extra) {
    ConfPtr conf(rd_kafka_conf_new());
    rd_kafka_conf_set_log_cb(conf.get(), LogCallback);
    absl::Status set =
        SetAll(conf.get(),
               {
                   {"bootstrap.servers", config.bootstrap_servers},
                   {"client.id", config.client_id},
                   // Loopback and LAN hops of a few hundred bytes: Nagle would hold them back.
                   {"socket.nagle.disable", "true"},
                   {"reconnect.backoff.ms", "100"},
                   {"reconnect.backoff.max.ms",
                    std::to_string(std::max<int64_t>(100, config.reconnect_backoff_max.count()))},
                   // A disconnect is reported once per episode by ConnectionEpisodes.
                   {"log.connection.close", "false"},
               });
    if (set.ok()) set = SetAll(conf.get(), extra);
    if (set.ok()) set = SetAll(conf.get(), config.properties);
    if (!set.ok()) return set;
    return conf;
}

[[nodiscard]] absl::Status CheckTopicConfig(std::string_view topic, const TopicConfig& config) {
    if (config.max_message_bytes < 1 || config.retention_bytes < 1) {
        return absl::InvalidArgumentError(fmt::format(
            "topic '{}': max_message_bytes and retention_bytes must be positive", topic));
    }
    if (config.max_message_bytes > 1000000000 - kFramingBytes) {
        return absl::InvalidArgumentError(
            fmt::format("topic '{}': max_message_bytes {} is above Kafka's limit of 1000000000",
                        topic, config.max_message_bytes));
    }
    return absl::OkStatus();
}

std::string TooLarge(std::string_view topic, int64_t size, int64_t limit) {
    return fmt::format("message of {} bytes is larger than topic '{}' allows: {} > {} bytes.", size,
                       topic, size, limit);
}

}  // namespace

std::chrono::milliseconds FetchWaitMax(const KafkaConfig& config, std::string_view topic) {
    if (config.latency_topic_prefixes.empty()) return config.fetch_wait_max;
    for (const std::string& prefix : config.latency_topic_prefixes) {
        if (topic.substr(0, prefix.size()) == prefix) return config.fetch_wait_max;
    }
    return config.background_fetch_wait_max;
}

// ---- the provider's shared state: config, known topics, the admin client -------------------

struct KafkaMessagingProvider::Cluster {
    explicit Cluster(KafkaConfig c) : config(std::move(c)) {}
    ~Cluster() {
        if (admin != nullptr) rd_kafka_destroy(admin);
    }

    const KafkaConfig config;
    /// The producer every GetProducer() shares while one is alive (SharedKafkaProducer).
    std::mutex producer_mu;
    std::weak_ptr<MessageProducer> producer;  // guarded by producer_mu

    std::string Prefixed(std::string_view topic) const {
        return config.topic_prefix + std::string(topic);
    }

    /// The config this process created or found `topic` with, if it did.
    std::optional<TopicConfig> Known(std::string_view topic) const {
        std::lock_guard<std::mutex> lock(mu);
        auto it = topics.find(topic);
        if (it == topics.end()) return std::nullopt;
        return it->second;
    }

    /// The largest max_message_bytes of the topics known so far (at least the default).
    int64_t LargestMessageBytes() const {
        std::lock_guard<std::mutex> lock(mu);
        int64_t largest = kDefaultMaxMessageBytes;
        for (const auto& [name, topic] : topics) {
            largest = std::max(largest, topic.max_message_bytes);
        }
        return largest;
    }

    [[nodiscard]] absl::Status ValidateName(std::string_view topic) const {
        absl::Status valid = ValidateTopicName(topic);
        if (valid.ok() && !config.topic_prefix.empty()) {
            valid = ValidateTopicName(Prefixed(topic));
            if (!valid.ok()) {
                return absl::InvalidArgumentError(fmt::format("topic '{}' with the prefix '{}': {}",
                                                              topic, config.topic_prefix,
                                                              std::string(valid.message())));
            }
        }
        return valid;
    }

    /// The topic's config, making sure it exists first (with `wanted` if it is created).
    [[nodiscard]] absl::StatusOr<TopicConfig> Ensure(std::string_view topic,
                                                     const TopicConfig& wanted) {
        if (auto known = Known(topic)) return *known;
        absl::Status valid = ValidateName(topic);
        if (valid.ok()) valid = CheckTopicConfig(topic, wanted);
        if (!valid.ok()) return valid;

        std::lock_guard<std::mutex> admin_lock(admin_mu);
        if (auto known = Known(topic)) return *known;  // created while we waited
        absl::Status created = CreateLocked(topic, wanted);
        if (!created.ok()) return created;
        std::lock_guard<std::mutex> lock(mu);
        topics.emplace(std::string(topic), wanted);
        return wanted;
    }

    absl::Status CheckConnection(std::chrono::milliseconds timeout) {
        std::lock_guard<std::mutex> admin_lock(admin_mu);
        absl::Status ready = AdminLocked();
        if (!ready.ok()) return ready;
        const rd_kafka_metadata_t* metadata = nullptr;
        rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 0, nullptr, &metadata, ClampMs(timeout));
        if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return absl::UnavailableError(fmt::format(
                "Kafka at {} did not answer within {} ms ({}); is it running? set WISP_KAFKA "
                "(production: Apache Kafka; local runs: build/bin/wisp-kafka-dev-broker)",
                config.bootstrap_servers, timeout.count(), rd_kafka_err2str(err)));
        }
        return absl::OkStatus();
    }

  private:
    /// The admin client (a producer-type handle: its metadata requests may auto-create topics).
    [[nodiscard]] absl::Status AdminLocked() {
        if (admin != nullptr) return absl::OkStatus();
        auto conf = MakeConf(config, {});
        if (!conf.ok()) return conf.status();
        char errstr[512];
        admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
        if (admin == nullptr) {
            return absl::InternalError(fmt::format("cannot create a Kafka client: {}", errstr));
        }
        (void)conf->release();  // rd_kafka_new took it
        return absl::OkStatus();
    }

    /// CreateTopics, or the broker's automatic creation when CreateTopics is not available.
    [[nodiscard]] absl::Status CreateLocked(std::string_view topic, const TopicConfig& wanted) {
        absl::Status ready = AdminLocked();
        if (!ready.ok()) return ready;
        const std::string name = Prefixed(topic);
        const int timeout_ms = ClampMs(config.admin_timeout);
        char errstr[512];

        // CreateTopics goes to the cluster's controller. A cluster whose metadata names no
        // broker of its own as the controller (the dev broker: librdkafka's mock says 0, its
        // brokers are 1..N) has no CreateTopics, and librdkafka would wait the whole timeout
        // for the controller: go straight to automatic creation then.
        const rd_kafka_metadata_t* brokers = nullptr;
        rd_kafka_resp_err_t connected = rd_kafka_metadata(admin, 0, nullptr, &brokers, timeout_ms);
        bool has_controller = false;
        if (connected == RD_KAFKA_RESP_ERR_NO_ERROR && brokers != nullptr) {
            const int32_t controller = rd_kafka_controllerid(admin, 0);
            for (int i = 0; i < brokers->broker_cnt; ++i) {
                has_controller = has_controller || brokers->brokers[i].id == controller;
            }
        }
        if (brokers != nullptr) rd_kafka_metadata_destroy(brokers);
        if (connected != RD_KAFKA_RESP_ERR_NO_ERROR) {
            return absl::UnavailableError(fmt::format(
                "Kafka at {} did not answer within {} ms ({}) while creating topic {}; is it "
                "running? set WISP_KAFKA",
                config.bootstrap_servers, timeout_ms, rd_kafka_err2str(connected), name));
        }
        if (!has_controller) {
            return AutoCreateLocked(name, wanted, "the cluster names no controller broker");
        }

        rd_kafka_NewTopic_t* new_topic =
            rd_kafka_NewTopic_new(name.c_str(), 1, 1, errstr, sizeof errstr);
        if (new_topic == nullptr) {
            return absl::InvalidArgumentError(fmt::format("topic '{}': {}", name, errstr));
        }
        (void)rd_kafka_NewTopic_set_config(new_topic, "max.message.bytes",
                                           std::to_string(wanted.max_message_bytes).c_str());
        (void)rd_kafka_NewTopic_set_config(new_topic, "retention.bytes",
                                           std::to_string(wanted.retention_bytes).c_str());
        rd_kafka_AdminOptions_t* options =
            rd_kafka_AdminOptions_new(admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        (void)rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
        (void)rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms, errstr,
                                                          sizeof errstr);
        rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
        rd_kafka_CreateTopics(admin, &new_topic, 1, options, queue);
        rd_kafka_event_t* event = rd_kafka_queue_poll(queue, timeout_ms + 2000);

        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        std::string reason = "no answer";
        if (event != nullptr) {
            err = rd_kafka_event_error(event);
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                reason = rd_kafka_event_error_string(event);
            } else if (const auto* result = rd_kafka_event_CreateTopics_result(event)) {
                size_t count = 0;
                const rd_kafka_topic_result_t** results =
                    rd_kafka_CreateTopics_result_topics(result, &count);
                if (count > 0) {
                    err = rd_kafka_topic_result_error(results[0]);
                    const char* text = rd_kafka_topic_result_error_string(results[0]);
                    reason = text != nullptr ? text : rd_kafka_err2str(err);
                }
            }
            rd_kafka_event_destroy(event);
        }
        rd_kafka_queue_destroy(queue);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(new_topic);

        switch (err) {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                spdlog::info(
                    "Kafka: created topic {} (1 partition, max.message.bytes {}, "
                    "retention.bytes {})",
                    name, wanted.max_message_bytes, wanted.retention_bytes);
                return absl::OkStatus();
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
                return absl::OkStatus();
            case RD_KAFKA_RESP_ERR__TIMED_OUT:
            case RD_KAFKA_RESP_ERR__TRANSPORT:
            case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
            case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
                return absl::UnavailableError(fmt::format(
                    "Kafka at {} did not create topic {} within {} ms ({}); is it running? set "
                    "WISP_KAFKA",
                    config.bootstrap_servers, name, timeout_ms, reason));
            default:
                // No CreateTopics (the dev broker, old brokers), not authorized, or a policy:
                // let the broker create the topic on first use, if it does.
                return AutoCreateLocked(name, wanted, reason);
        }
    }

    /// Asks for the topic's metadata, which makes a broker with auto.create.topics.enable
    /// create it (with the broker's defaults); waits until it has a partition 0.
    [[nodiscard]] absl::Status AutoCreateLocked(const std::string& name, const TopicConfig& wanted,
                                                const std::string& create_error) {
        rd_kafka_topic_t* handle = rd_kafka_topic_new(admin, name.c_str(), nullptr);
        const auto deadline = std::chrono::steady_clock::now() + config.admin_timeout;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        while (true) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            const rd_kafka_metadata_t* metadata = nullptr;
            err = rd_kafka_metadata(admin, 0, handle, &metadata, ClampMs(left));
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata != nullptr &&
                metadata->topic_cnt > 0) {
                err = metadata->topics[0].err;
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topics[0].partition_cnt < 1) {
                    err = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
                }
            }
            if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
            if (err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                break;
            }
            // The broker is creating it: ask again shortly.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        rd_kafka_topic_destroy(handle);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            spdlog::info(
                "Kafka: topic {} is there, created by the broker's automatic topic "
                "creation (CreateTopics: {}); the broker's defaults apply, Send() "
                "enforces max.message.bytes {}",
                name, create_error, wanted.max_message_bytes);
            return absl::OkStatus();
        }
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
            return absl::UnavailableError(
                fmt::format("Kafka at {} did not answer a metadata request for topic {} ({}); "
                            "is it running? set WISP_KAFKA",
                            config.bootstrap_servers, name, rd_kafka_err2str(err)));
        }
        return absl::FailedPreconditionError(fmt::format(
            "Kafka topic {} does not exist and could not be created: CreateTopics said '{}' and "
            "the broker does not create topics on use ({}); create it (1 partition, "
            "max.message.bytes={}) or allow this client to",
            name, create_error, rd_kafka_err2str(err), wanted.max_message_bytes));
    }

    mutable std::mutex mu;
    std::map<std::string, TopicConfig, std::less<>> topics;  // guarded by mu
    std::mutex admin_mu;                                     // admin and topic creation
    rd_kafka_t* admin = nullptr;
};

namespace {

using Cluster = KafkaMessagingProvider::Cluster;

// ---- producer ------------------------------------------------------------------------------

/// One Send()'s wait for its delivery report.
struct Delivery {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool abandoned = false;  // the sender's producer closed: Send() returns without the report
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
};

/// The Send()s of one SharedKafkaProducer waiting for their delivery reports: its Close()
/// waits for them (close_timeout), then abandons them, without waiting for the other sharers'
/// messages (a component's heartbeats, sent every second, keep the shared client's queue from
/// ever being empty while the broker does not answer).
class SendWaiters {
  public:
    /// Registers `d`; false (and `d` abandoned) when Abandon() was called already.
    bool Add(const std::shared_ptr<Delivery>& d) {
        std::lock_guard<std::mutex> lock(mu_);
        if (abandoned_) {
            std::lock_guard<std::mutex> dl(d->mu);
            d->abandoned = true;
            return false;
        }
        waiting_.insert(d);
        return true;
    }
    void Remove(const std::shared_ptr<Delivery>& d) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            waiting_.erase(d);
        }
        cv_.notify_all();
    }
    /// Waits until no Send() waits or `deadline` passes; true when none waits.
    bool WaitIdle(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_until(lock, deadline, [&] { return waiting_.empty(); });
    }
    /// Makes every waiting (and later) Send() return; how many were waiting.
    size_t Abandon() {
        std::lock_guard<std::mutex> lock(mu_);
        abandoned_ = true;
        for (const auto& d : waiting_) {
            {
                std::lock_guard<std::mutex> dl(d->mu);
                d->abandoned = true;
            }
            d->cv.notify_all();
        }
        return waiting_.size();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool abandoned_ = false;  // guarded by mu_
    std::set<std::shared_ptr<Delivery>> waiting_;
};

class KafkaMessageProducer final : public MessageProducer {
  public:
    explicit KafkaMessageProducer(std::shared_ptr<Cluster> cluster)
        : cluster_(std::move(cluster)),
          episodes_(fmt::format("Kafka producer ({})", cluster_->config.bootstrap_servers)) {
        const KafkaConfig& config = cluster_->config;
        max_message_bytes_ = cluster_->LargestMessageBytes();
        auto conf = MakeConf(
            config, {
                        // See KafkaConfig::linger: no waiting for company.
                        {"linger.ms", std::to_string(config.linger.count())},
                        {"acks", std::to_string(config.acks)},
                        // No idempotent producer: it would need acks=all and turns some broker
                        // state losses (a restarted dev broker) into fatal errors that need a new
                        // producer. Order under retries comes from one request in flight at a time
                        // (messages queued meanwhile go together in the next request); a duplicate
                        // after a retry is tolerated (at least once, activation ids are idempotency
                        // keys).
                        {"enable.idempotence", "false"},
                        {"max.in.flight.requests.per.connection", "1"},
                        {"message.timeout.ms",
                         std::to_string(std::max<int64_t>(1, config.send_timeout.count()))},
                        {"retry.backoff.ms", "100"},
                        {"message.max.bytes", std::to_string(max_message_bytes_ + kFramingBytes)},
                    });
        if (!conf.ok()) {
            error_ = conf.status();
            return;
        }
        rd_kafka_conf_set_opaque(conf->get(), this);
        rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaMessageProducer::OnDelivery);
        rd_kafka_conf_set_error_cb(conf->get(), &KafkaMessageProducer::OnError);
        char errstr[512];
        rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
        if (rk_ == nullptr) {
            error_ = absl::InternalError(fmt::format("cannot create a Kafka producer: {}", errstr));
            return;
        }
        (void)conf->release();
        main_queue_ = rd_kafka_queue_get_main(rk_);
        poller_ = std::thread([this] { Poll(); });
    }

    ~KafkaMessageProducer() override { Close(); }

    absl::Status Send(std::string_view topic, std::string payload) override {
        return SendFor(topic, std::move(payload), nullptr);
    }

    /// Send() for a sharer: `waiters` (if any) lets the sharer's Close() abandon the wait.
    [[nodiscard]] absl::Status SendFor(std::string_view topic, std::string payload,
                                       SendWaiters* waiters) {
        {
            std::shared_lock<std::shared_mutex> lock(close_mu_);
            if (closed_) return absl::FailedPreconditionError("the message producer is closed");
            if (!error_.ok()) return error_;
        }
        auto config = cluster_->Ensure(topic, TopicConfig{});
        if (!config.ok()) return config.status();
        const int64_t size = static_cast<int64_t>(payload.size());
        if (size > config->max_message_bytes) {
            return absl::OutOfRangeError(TooLarge(topic, size, config->max_message_bytes));
        }
        auto delivery = std::make_shared<Delivery>();
        {
            std::shared_lock<std::shared_mutex> lock(close_mu_);
            if (closed_) return absl::FailedPreconditionError("the message producer is closed");
            if (!error_.ok()) return error_;
            const std::string name = cluster_->Prefixed(topic);
            const auto deadline = std::chrono::steady_clock::now() + cluster_->config.send_timeout;
            while (true) {
                // The delivery callback owns (and deletes) this reference.
                auto* opaque = new std::shared_ptr<Delivery>(delivery);
                rd_kafka_resp_err_t err =
                    rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(0),
                                      RD_KAFKA_V_VALUE(payload.data(), payload.size()),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
                if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
                delete opaque;
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                    std::chrono::steady_clock::now() >= deadline) {
                    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                        return absl::OutOfRangeError(
                            TooLarge(topic, size, cluster_->LargestMessageBytes()));
                    }
                    return KafkaStatus(err, fmt::format("sending to Kafka topic {}", name));
                }
                // The local queue is full (the broker is slow or away): wait for deliveries.
                std::unique_lock<std::mutex> wait(queue_mu_);
                queue_cv_.wait_for(wait, std::chrono::milliseconds(10));
            }
        }
        if (waiters != nullptr) (void)waiters->Add(delivery);
        {
            std::unique_lock<std::mutex> lock(delivery->mu);
            delivery->cv.wait(lock, [&] { return delivery->done || delivery->abandoned; });
        }
        if (waiters != nullptr) waiters->Remove(delivery);
        std::unique_lock<std::mutex> lock(delivery->mu);
        if (!delivery->done) {
            return absl::UnavailableError(fmt::format(
                "the message producer was closed before Kafka at {} acknowledged the message to "
                "topic {} (waited for it up to the close timeout of {} ms)",
                cluster_->config.bootstrap_servers, cluster_->Prefixed(topic),
                cluster_->config.close_timeout.count()));
        }
        if (delivery->err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
        if (delivery->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
            delivery->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
            return absl::UnavailableError(fmt::format(
                "the message producer was closed before Kafka acknowledged the message to "
                "topic {}",
                cluster_->Prefixed(topic)));
        }
        return KafkaStatus(
            delivery->err,
            fmt::format("Kafka at {} did not take the message to topic {}",
                        cluster_->config.bootstrap_servers, cluster_->Prefixed(topic)));
    }

    /// The message.max.bytes this client was made with (the largest topic known then).
    int64_t max_message_bytes() const { return max_message_bytes_; }

    void Close() override {
        {
            std::unique_lock<std::shared_mutex> lock(close_mu_);
            if (closed_) return;
            closed_ = true;
        }
        if (rk_ == nullptr) return;
        // The last sharer is gone, and each one's Close() waited (up to close_timeout) for its
        // own Send()s and then gave them up: what is still queued has no sender waiting for it
        // (a heartbeat the broker did not take). Waiting for it again would only hold the
        // shutdown for another close_timeout with the broker gone; it is purged.
        if (const int queued = rd_kafka_outq_len(rk_); queued > 0) {
            spdlog::info(
                "Kafka producer ({}): closing with {} message(s) given up by their senders",
                cluster_->config.bootstrap_servers, queued);
        }
        (void)rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        (void)rd_kafka_flush(rk_, 1000);  // serves the purged messages' reports
        stopping_.store(true);
        rd_kafka_queue_yield(main_queue_);
        if (poller_.joinable()) poller_.join();
        rd_kafka_queue_destroy(main_queue_);
        rd_kafka_destroy(rk_);
        rk_ = nullptr;
    }

  private:
    /// Serves delivery reports and errors as they come (rd_kafka_poll wakes on each event).
    void Poll() {
        while (!stopping_.load()) rd_kafka_poll(rk_, 1000);
    }

    static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
        auto* self = static_cast<KafkaMessageProducer*>(opaque);
        auto* delivery = static_cast<std::shared_ptr<Delivery>*>(message->_private);
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            self->episodes_.Recovered();
        } else if (message->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
                   message->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
            self->episodes_.Error(fmt::format("a message to topic {} failed: {}",
                                              rd_kafka_topic_name(message->rkt),
                                              rd_kafka_err2str(message->err)));
        }
        if (delivery != nullptr) {
            {
                std::lock_guard<std::mutex> lock((*delivery)->mu);
                (*delivery)->done = true;
                (*delivery)->err = message->err;
            }
            (*delivery)->cv.notify_all();
            delete delivery;
        }
        self->queue_cv_.notify_all();
    }

    static void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
        auto* self = static_cast<KafkaMessageProducer*>(opaque);
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            spdlog::error("Kafka producer ({}): fatal error: {}",
                          self->cluster_->config.bootstrap_servers, reason);
            return;
        }
        self->episodes_.Error(reason);
    }

    const std::shared_ptr<Cluster> cluster_;
    ConnectionEpisodes episodes_;
    absl::Status error_;  // set when the client could not be created
    int64_t max_message_bytes_ = 0;
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_queue_t* main_queue_ = nullptr;
    std::thread poller_;
    std::atomic<bool> stopping_{false};
    std::shared_mutex close_mu_;  // Send() holds it shared while it uses rk_
    bool closed_ = false;         // guarded by close_mu_
    std::mutex queue_mu_;         // a full local queue waits on queue_cv_
    std::condition_variable queue_cv_;
};

/// What GetProducer() hands out: a producer of its own (Close() ends this one only) over the
/// librdkafka producer that all of them share. librdkafka's producer is thread-safe and each
/// client costs four threads (its main loop, the internal, bootstrap and broker connections)
/// and their buffers: a controller made four (claim, cache invalidation, balancer, admin), now
/// one producer and the admin client. Each producer's Close() waits (up to close_timeout) for
/// its own sends only; the shared client closes with the last producer, purging what its
/// producers gave up.
class SharedKafkaProducer final : public MessageProducer {
  public:
    explicit SharedKafkaProducer(std::shared_ptr<KafkaMessageProducer> shared,
                                 std::chrono::milliseconds close_timeout)
        : shared_(std::move(shared)), close_timeout_(close_timeout) {}
    ~SharedKafkaProducer() override { Close(); }

    absl::Status Send(std::string_view topic, std::string payload) override {
        if (closed_.load()) return absl::FailedPreconditionError("the message producer is closed");
        return shared_->SendFor(topic, std::move(payload), &waiters_);
    }

    /// Refuses further sends of this producer and waits (up to close_timeout) for its Send()s
    /// in progress; those still waiting then return Unavailable. The other sharers' messages
    /// are not waited for: they go on.
    void Close() override {
        if (closed_.exchange(true)) return;
        (void)waiters_.WaitIdle(std::chrono::steady_clock::now() + close_timeout_);
        // Also a Send() that passed the closed_ check just now returns at once.
        const size_t abandoned = waiters_.Abandon();
        if (abandoned > 0) {
            spdlog::warn(
                "Kafka producer closed with {} send(s) not acknowledged after {} ms; they return "
                "Unavailable",
                abandoned, close_timeout_.count());
        }
    }

  private:
    const std::shared_ptr<KafkaMessageProducer> shared_;
    const std::chrono::milliseconds close_timeout_;
    std::atomic<bool> closed_{false};
    SendWaiters waiters_;
};

// ---- consumer ------------------------------------------------------------------------------

class KafkaMessageConsumer final : public MessageConsumer {
  public:
    KafkaMessageConsumer(std::shared_ptr<Cluster> cluster, std::string topic, std::string group_id,
                         int max_peek)
        : cluster_(std::move(cluster)),
          topic_(std::move(topic)),
          name_(cluster_->Prefixed(topic_)),
          group_id_(std::move(group_id)),
          max_peek_(max_peek),
          episodes_(fmt::format("Kafka consumer of {} (group {}, {})", name_, group_id_,
                                cluster_->config.bootstrap_servers)) {
        const KafkaConfig& config = cluster_->config;
        const int64_t largest = cluster_->LargestMessageBytes() + kFramingBytes;
        const std::string fetch_wait = std::to_string(ClampMs(FetchWaitMax(config, topic_)));
        auto conf = MakeConf(config, {
                                         {"group.id", group_id_},
                                         {"enable.auto.commit", "false"},
                                         {"enable.auto.offset.store", "false"},
                                         {"auto.offset.reset", "earliest"},
                                         {"allow.auto.create.topics", "true"},
                                         {"fetch.wait.max.ms", fetch_wait},
                                         {"fetch.error.backoff.ms", "100"},
                                         {"fetch.message.max.bytes", std::to_string(largest)},
                                     });
        if (!conf.ok()) {
            error_ = conf.status();
            return;
        }
        rd_kafka_conf_set_opaque(conf->get(), this);
        rd_kafka_conf_set_error_cb(conf->get(), &KafkaMessageConsumer::OnError);
        char errstr[512];
        rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
        if (rk_ == nullptr) {
            error_ = absl::InternalError(fmt::format("cannot create a Kafka consumer: {}", errstr));
            return;
        }
        (void)conf->release();
        (void)rd_kafka_poll_set_consumer(rk_);
        queue_ = rd_kafka_queue_get_consumer(rk_);
        // Partition 0, from the group's committed offset (earliest when it has none).
        rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(partitions, name_.c_str(), 0)->offset =
            RD_KAFKA_OFFSET_STORED;
        rd_kafka_resp_err_t err = rd_kafka_assign(rk_, partitions);
        rd_kafka_topic_partition_list_destroy(partitions);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            error_ = KafkaStatus(err, fmt::format("assigning Kafka topic {}", name_));
        }
    }

    ~KafkaMessageConsumer() override { Close(); }

    absl::StatusOr<std::vector<Message>> Peek(std::chrono::milliseconds timeout) override {
        std::lock_guard<std::mutex> peek(peek_mu_);
        if (closed_.load()) return absl::FailedPreconditionError(ClosedMessage());
        if (!error_.ok()) return error_;
        std::vector<Message> batch;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (batch.empty()) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            rd_kafka_message_t* message = rd_kafka_consumer_poll(rk_, ClampMs(left));
            if (closed_.load()) {
                if (message != nullptr) rd_kafka_message_destroy(message);
                return absl::FailedPreconditionError(ClosedMessage());
            }
            if (message == nullptr) return batch;  // timed out or woken up
            while (message != nullptr) {
                Take(message, batch);
                if (static_cast<int>(batch.size()) >= max_peek_) break;
                message = rd_kafka_consumer_poll(rk_, 0);
            }
            if (left.count() <= 0) break;
        }
        if (!batch.empty()) episodes_.Recovered();
        return batch;
    }

    absl::Status Commit() override {
        std::lock_guard<std::mutex> peek(peek_mu_);
        if (closed_.load()) return absl::FailedPreconditionError(ClosedMessage());
        if (!error_.ok()) return error_;
        if (position_ < 0) return absl::OkStatus();
        return CommitLocked(position_);
    }

    absl::Status CommitUpTo(int64_t next_offset) override {
        std::lock_guard<std::mutex> peek(peek_mu_);
        if (closed_.load()) return absl::FailedPreconditionError(ClosedMessage());
        if (!error_.ok()) return error_;
        if (next_offset > position_ || next_offset < committed_ || next_offset < 0) {
            return absl::InvalidArgumentError(fmt::format(
                "cannot commit offset {} of Kafka topic {} (group {}): it must lie between the "
                "committed offset {} and the position {}",
                next_offset, name_, group_id_, committed_, position_));
        }
        return CommitLocked(next_offset);
    }

    void Wakeup() override {
        std::lock_guard<std::mutex> lock(state_mu_);
        if (queue_ != nullptr) rd_kafka_queue_yield(queue_);
    }

    void Close() override {
        {
            std::lock_guard<std::mutex> lock(state_mu_);
            if (closed_.exchange(true)) return;
            if (queue_ != nullptr) rd_kafka_queue_yield(queue_);  // a blocked Peek returns
        }
        std::lock_guard<std::mutex> peek(peek_mu_);  // and is gone
        std::lock_guard<std::mutex> lock(state_mu_);
        if (rk_ == nullptr) return;
        // Unassigns; commits nothing (no auto-commit): what was not committed is redelivered.
        (void)rd_kafka_consumer_close(rk_);
        rd_kafka_queue_destroy(queue_);
        queue_ = nullptr;
        rd_kafka_destroy(rk_);
        rk_ = nullptr;
    }

    const std::string& topic() const override { return topic_; }
    const std::string& group_id() const override { return group_id_; }
    int max_peek() const override { return max_peek_; }

  private:
    /// Commits `next_offset` synchronously; peek_mu_ held.
    [[nodiscard]] absl::Status CommitLocked(int64_t next_offset) {
        if (next_offset == committed_) return absl::OkStatus();
        rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(offsets, name_.c_str(), 0)->offset = next_offset;
        rd_kafka_resp_err_t err = rd_kafka_commit(rk_, offsets, /*async=*/0);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && offsets->elems[0].err != 0) {
            err = offsets->elems[0].err;
        }
        rd_kafka_topic_partition_list_destroy(offsets);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            return KafkaStatus(err, fmt::format("committing offset {} of Kafka topic {} (group {})",
                                                next_offset, name_, group_id_));
        }
        committed_ = next_offset;
        episodes_.Recovered();
        return absl::OkStatus();
    }

    /// Appends a fetched message to the batch (or logs a consumer error) and frees it.
    void Take(rd_kafka_message_t* message, std::vector<Message>& batch) {
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            batch.push_back(
                Message{topic_, message->offset,
                        std::string(static_cast<const char*>(message->payload), message->len)});
            position_ = message->offset + 1;
            lag_position_.store(position_, std::memory_order_relaxed);
        } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            episodes_.Error(rd_kafka_message_errstr(message));
        }
        rd_kafka_message_destroy(message);
    }

  public:
    /// The high watermark librdkafka cached from its last fetch minus the position.
    int64_t Lag() override {
        const int64_t position = lag_position_.load(std::memory_order_relaxed);
        if (position < 0) return -1;
        std::lock_guard<std::mutex> lock(state_mu_);
        if (rk_ == nullptr || closed_.load()) return -1;
        int64_t low = 0;
        int64_t high = 0;
        if (rd_kafka_get_watermark_offsets(rk_, name_.c_str(), 0, &low, &high) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            high < 0) {
            return -1;
        }
        return std::max<int64_t>(0, high - position);
    }

  private:
    static void OnError(rd_kafka_t*, int, const char* reason, void* opaque) {
        static_cast<KafkaMessageConsumer*>(opaque)->episodes_.Error(reason);
    }

    std::string ClosedMessage() const {
        return fmt::format("the consumer of topic '{}' (group '{}') is closed", topic_, group_id_);
    }

    const std::shared_ptr<Cluster> cluster_;
    const std::string topic_;  // as the caller names it
    const std::string name_;   // on the broker (with the prefix)
    const std::string group_id_;
    const int max_peek_;
    ConnectionEpisodes episodes_;
    absl::Status error_;
    rd_kafka_t* rk_ = nullptr;
    rd_kafka_queue_t* queue_ = nullptr;
    std::atomic<bool> closed_{false};
    std::mutex state_mu_;                    // rk_ and queue_ against Close(); Wakeup() under it
    std::mutex peek_mu_;                     // held by Peek() and Commit()
    int64_t position_ = -1;                  // next offset after the last peeked message
    std::atomic<int64_t> lag_position_{-1};  // position_, for Lag() from other threads
    int64_t committed_ = -1;                 // last committed position
};

}  // namespace

// ---- the provider --------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<KafkaMessagingProvider>> KafkaMessagingProvider::Create(
    KafkaConfig config) {
    if (config.bootstrap_servers.empty()) {
        return absl::InvalidArgumentError(
            "no Kafka bootstrap servers; set WISP_KAFKA (host:port[,host:port])");
    }
    if (config.acks < -1) {
        return absl::InvalidArgumentError(
            fmt::format("Kafka acks must be -1 (all), 0 or 1 and up, not {}", config.acks));
    }
    // Let librdkafka check every property once, up front.
    auto conf = MakeConf(config, {{"linger.ms", std::to_string(config.linger.count())},
                                  {"acks", std::to_string(config.acks)}});
    if (!conf.ok()) return conf.status();
    return std::unique_ptr<KafkaMessagingProvider>(
        new KafkaMessagingProvider(std::make_shared<Cluster>(std::move(config))));
}

KafkaMessagingProvider::KafkaMessagingProvider(std::shared_ptr<Cluster> cluster)
    : cluster_(std::move(cluster)) {}

KafkaMessagingProvider::~KafkaMessagingProvider() = default;

const KafkaConfig& KafkaMessagingProvider::config() const { return cluster_->config; }

absl::Status KafkaMessagingProvider::CheckConnection(std::chrono::milliseconds timeout) {
    return cluster_->CheckConnection(timeout);
}

absl::Status KafkaMessagingProvider::EnsureTopic(std::string_view topic,
                                                 const TopicConfig& config) {
    return cluster_->Ensure(topic, config).status();
}

std::unique_ptr<MessageProducer> KafkaMessagingProvider::GetProducer() {
    std::lock_guard<std::mutex> lock(cluster_->producer_mu);
    auto shared = std::static_pointer_cast<KafkaMessageProducer>(cluster_->producer.lock());
    // A topic made since with larger messages needs a client with a larger message.max.bytes.
    if (shared == nullptr || shared->max_message_bytes() < cluster_->LargestMessageBytes()) {
        shared = std::make_shared<KafkaMessageProducer>(cluster_);
        cluster_->producer = shared;
    }
    return std::make_unique<SharedKafkaProducer>(std::move(shared), cluster_->config.close_timeout);
}

std::unique_ptr<MessageConsumer> KafkaMessagingProvider::GetConsumer(std::string_view topic,
                                                                     std::string_view group_id,
                                                                     int max_peek) {
    absl::Status valid = cluster_->ValidateName(topic);
    if (valid.ok()) valid = ValidateConsumerArgs(group_id, max_peek);
    if (!valid.ok()) return FailingConsumer(std::move(valid), topic, group_id, max_peek);
    auto ensured = cluster_->Ensure(topic, TopicConfig{});
    if (!ensured.ok()) {
        spdlog::warn("Kafka consumer of {} (group {}): {}; it reads once the topic exists",
                     cluster_->Prefixed(topic), group_id, std::string(ensured.status().message()));
    }
    return std::make_unique<KafkaMessageConsumer>(cluster_, std::string(topic),
                                                  std::string(group_id), max_peek);
}

}  // namespace wisp::messaging
