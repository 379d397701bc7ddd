#pragma once
// InProcessMessagingProvider: the bus inside one process (`wisp standalone`, unit tests), with
// Kafka's semantics (see messaging_provider.hpp): each topic is an in-memory log, each consumer
// group has a committed offset per topic, messages every subscribed group has committed are
// dropped. A waiting Peek() sleeps on the topic's condition variable until a Send() wakes it (no
// spinning, no polling sleeps). A consumer with EnableDirectDelivery() that is caught up gets a
// message on the sending thread inside Send(): no thread hand-off at all (MessageFeed with
// Options::direct_delivery).
#include <cstdint>
#include <memory>
#include <string_view>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::messaging {

class InProcessMessagingProvider final : public MessagingProvider {
  public:
    InProcessMessagingProvider();
    ~InProcessMessagingProvider() override;
    InProcessMessagingProvider(const InProcessMessagingProvider&) = delete;
    InProcessMessagingProvider& operator=(const InProcessMessagingProvider&) = delete;

    /// Never blocks; errors: InvalidArgument (bad name, max_message_bytes < 1).
    [[nodiscard]] absl::Status EnsureTopic(std::string_view topic,
                                           const TopicConfig& config = {}) override;
    /// Producers and consumers share the provider's topics and may outlive the provider.
    std::unique_ptr<MessageProducer> GetProducer() override;
    /// An invalid topic name or max_peek < 1 yields a consumer whose Peek() and Commit()
    /// return InvalidArgument.
    std::unique_ptr<MessageConsumer> GetConsumer(std::string_view topic, std::string_view group_id,
                                                 int max_peek) override;

    /// Messages `topic` holds in memory (0 for an unknown topic). Thread-safe.
    int64_t RetainedMessages(std::string_view topic) const;
    /// The offset the next message of `topic` gets (0 for an unknown topic). Thread-safe.
    int64_t EndOffset(std::string_view topic) const;

    struct State;  // shared with producers and consumers

  private:
    std::shared_ptr<State> state_;
};

}  // namespace wisp::messaging
