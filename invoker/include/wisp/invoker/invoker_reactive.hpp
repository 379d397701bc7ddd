#pragma once
// InvokerReactive: the invoker's side of the bus (OpenWhisk's InvokerReactive, wire §6).
//
//   consume "<prefix>invoker<N>" (group "<prefix>invoker<N>", max_peek activations pulled and
//   not yet run (their last ack not sent), and at most 8 x max_peek whose record is not stored
//   yet: backpressure keeps the rest on the bus; committed only up to the lowest activation
//   whose record is not stored, so a killed invoker's unfinished work is delivered again to its
//   successor)
//     -> parse the ActivationMessage (a malformed one is logged, committed and skipped)
//     -> InvokerService::Submit
//     -> each AckInfo as a serialized AcknowledgementMessage on
//        "<prefix>completed<root controller>" (the message's rootControllerIndex); on a bus
//        that carries attachments (in-process) the record is attached, not JSON-encoded
//   optionally a PingMessage on "<prefix>health" every ping_interval, saying whether the
//   invoker takes work (SetEnabled: an operator's drain) and where its control service is.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <absl/status/status.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::invoker {

struct InvokerReactiveConfig {
    /// This invoker: `instance` picks the topic invoker<instance>; the whole id goes into acks
    /// and pings. user_memory_mb sizes the default max_peek.
    wisp::v1::InvokerInstanceId instance;
    /// Prepended to every topic name (OpenWhisk's topics.prefix).
    std::string topic_prefix;
    /// Activations pulled from the bus and not yet completed; 0 = max(user memory / 128, 16).
    int max_peek = 0;
    /// One Peek()'s long poll (the feed wakes at once on new messages and on Stop()).
    std::chrono::milliseconds long_poll{1000};
    /// Publish a PingMessage on "health" every ping_interval (a distributed deployment's
    /// controllers track invoker health by them); off in `wisp standalone`.
    bool send_pings = false;
    std::chrono::milliseconds ping_interval{1000};
    /// Acks go to the message's root controller; this one when the message names none.
    std::string default_controller_id = "0";
    /// Records larger than this travel without activation_json (the controller reads the store).
    size_t max_ack_record_bytes = 1048576;
};

class InvokerReactive {
  public:
    /// Keeps references to `bus` and `service`; both must outlive this object. The service
    /// must be started by its owner.
    InvokerReactive(messaging::MessagingProvider& bus, InvokerService& service,
                    InvokerReactiveConfig config);
    /// Stop().
    ~InvokerReactive();
    InvokerReactive(const InvokerReactive&) = delete;
    InvokerReactive& operator=(const InvokerReactive&) = delete;

    /// Ensures the invoker topic, starts consuming (and pinging). Call once. Errors: those of
    /// MessagingProvider::EnsureTopic.
    [[nodiscard]] absl::Status Start();

    /// Stops consuming and pinging, then blocks until every activation taken from the bus has
    /// sent its last ack and stored its record, and commits them. Idempotent.
    void Stop();

    /// "<prefix>invoker<N>".
    const std::string& topic() const { return topic_; }
    /// Activations taken from the bus whose last ack is not sent yet.
    int outstanding() const;
    /// Messages on the invoker topic not yet taken (the consumer's lag); nullopt when the bus
    /// does not know (yet) or before Start(). Thread-safe.
    std::optional<int64_t> ConsumerLag() const;

    /// Whether the pings invite work (is_enabled). A disabled (drained) invoker still runs what
    /// reaches its topic — controllers stop sending once they see the ping — so nothing already
    /// published is lost. A change is pinged at once. Thread-safe; true initially.
    void SetEnabled(bool enabled);
    bool enabled() const;
    /// Stop() was called.
    bool stopping() const;
    /// HOST:PORT of the invoker's control service, carried by the pings (empty: none).
    /// Thread-safe.
    void SetControlEndpoint(std::string endpoint);

  private:
    void OnMessage(messaging::Message message);
    void SendAck(AckInfo ack, const std::string& controller_id);
    void PingLoop();

    messaging::MessagingProvider& bus_;
    InvokerService& service_;
    const InvokerReactiveConfig config_;
    const std::string topic_;
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::unique_ptr<messaging::MessageFeed> feed_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    int outstanding_ = 0;
    bool started_ = false;
    bool stopping_ = false;
    bool enabled_ = true;
    bool ping_now_ = false;
    std::string control_endpoint_;
    std::thread ping_thread_;
};

}  // namespace wisp::invoker
