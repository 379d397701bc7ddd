#pragma once
// The message bus between controllers and invokers (wire §6): named topics, producers and
// consumer groups with committed offsets, shaped after Kafka so that a librdkafka backend
// (kafka/) and the in-memory one (inprocess/) are interchangeable.
//
// Semantics every backend keeps:
//   - order: one topic is one ordered log (Kafka: one partition); a consumer sees its topic's
//     messages in the order they were sent;
//   - at least once: a consumer's position starts at its group's committed offset; Peek()
//     advances the position, Commit() makes it the group's committed offset (CommitUpTo(o)
//     commits only the messages before offset o). Messages peeked but not committed when a
//     consumer is closed are delivered again to the group's next consumer;
//   - groups: every group sees every message of the topic (a group is a subscriber);
//   - one consumer per group at a time (Kafka assigns the single partition to one member);
//   - size: a message larger than its topic's max_message_bytes is refused by Send().
#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace wisp::messaging {

/// OpenWhisk's `max.message.bytes` for the invoker and completed topics: 1 MB + 6068 B.
inline constexpr int64_t kDefaultMaxMessageBytes = 1024 * 1024 + 6068;
/// Kafka's `retention.bytes` per topic in OpenWhisk: 1 GB.
inline constexpr int64_t kDefaultRetentionBytes = 1024LL * 1024 * 1024;

struct TopicConfig {
    /// Largest payload Send() accepts on this topic.
    int64_t max_message_bytes = kDefaultMaxMessageBytes;
    /// Oldest messages are dropped beyond this many payload bytes, committed or not (Kafka's
    /// retention.bytes); a consumer behind the retained log skips ahead to its start.
    int64_t retention_bytes = kDefaultRetentionBytes;
};

/// One message read from a topic.
struct Message {
    std::string topic;
    int64_t offset = 0;  // position in the topic's log, from 0, increasing by one
    std::string payload;
    /// What the sender attached with SendWithAttachment, as it was (an object of the sending
    /// process, e.g. an ack's activation record: nothing encoded or parsed). Empty unless the
    /// backend's CarriesAttachments() is true.
    std::any attachment;
};

/// Sends messages to topics. Thread-safe: one producer may serve every thread of a process.
class MessageProducer {
  public:
    virtual ~MessageProducer() = default;

    /// Appends `payload` to `topic` (created with the default TopicConfig if missing). Does not
    /// wait for consumers; a backend with a network may block briefly while its send queue is
    /// full. Errors: OutOfRange (payload larger than the topic's max_message_bytes),
    /// InvalidArgument (bad topic name), FailedPrecondition (after Close()), Unavailable (the
    /// broker cannot be reached).
    [[nodiscard]] virtual absl::Status Send(std::string_view topic, std::string payload) = 0;

    /// Whether SendWithAttachment hands its attachment to the consumers (a backend whose
    /// producers and consumers share one process). False by default.
    [[nodiscard]] virtual bool CarriesAttachments() const { return false; }

    /// Send() with an object for the consumers' Message::attachment; the payload must still be
    /// a complete message (the attachment only saves work). Backends that do not carry
    /// attachments drop it (the default). Same errors as Send().
    [[nodiscard]] virtual absl::Status SendWithAttachment(std::string_view topic,
                                                          std::string payload,
                                                          std::any /*attachment*/) {
        return Send(topic, std::move(payload));
    }

    /// Flushes what is queued and refuses further sends. Idempotent; thread-safe.
    virtual void Close() = 0;
};

/// Hand-over of a message on the sending thread, for backends in the same process as both ends
/// (MessageConsumer::EnableDirectDelivery): no consumer thread wakes up, nothing is copied.
struct DirectDelivery {
    /// Called by Send() with the backend's topic lock held, for a message sent while the
    /// consumer has peeked everything before it. True claims the message: the consumer's
    /// position moves past it and `deliver` gets it. False leaves it to Peek(). Must not block
    /// or call into the bus (the consumer's own lock may be taken: it is never held around a
    /// bus call).
    std::function<bool(int64_t offset)> claim;
    /// Called with a claimed message on the sending thread, after Send() released its locks;
    /// Send() returns once it returned. May call Send() (other topics or the same).
    std::function<void(Message)> deliver;
    /// Commit a claimed message at once when everything before it is committed (the feed's
    /// kAfterHandover); otherwise Commit()/CommitUpTo() from the consumer's thread do it.
    bool commit_on_claim = false;
};

/// Reads one topic as a member of one consumer group. Peek() and Commit() are called from one
/// thread at a time (like a Kafka consumer); Wakeup() and Close() from any thread.
class MessageConsumer {
  public:
    virtual ~MessageConsumer() = default;

    /// Returns up to max_peek messages after the consumer's position and advances it. Blocks
    /// until at least one message is there, `timeout` passes (an empty vector), Wakeup() is
    /// called (an empty vector) or the consumer is closed (FailedPrecondition). Errors:
    /// FailedPrecondition (closed), Unavailable (the broker cannot be reached).
    [[nodiscard]] virtual absl::StatusOr<std::vector<Message>> Peek(
        std::chrono::milliseconds timeout) = 0;

    /// Makes everything peeked so far the group's committed offset. Blocks until the backend
    /// has it (Kafka's commitSync). Errors: FailedPrecondition (closed), Unavailable.
    [[nodiscard]] virtual absl::Status Commit() = 0;

    /// Makes `next_offset` the group's committed offset: the group's next consumer starts at
    /// the message with that offset, so everything from it on is delivered again. This commits
    /// only a prefix of what was peeked (an invoker commits up to its lowest unfinished
    /// activation). Blocks like Commit(). Errors: InvalidArgument (`next_offset` is past the
    /// position, i.e. one after the last peeked message, or below what this consumer committed
    /// before), FailedPrecondition (closed), Unavailable.
    [[nodiscard]] virtual absl::Status CommitUpTo(int64_t next_offset) = 0;

    /// Makes a blocked (or the next) Peek() return an empty batch at once. Thread-safe.
    virtual void Wakeup() = 0;

    /// Leaves the group without committing; a blocked Peek() returns FailedPrecondition.
    /// Idempotent; thread-safe.
    virtual void Close() = 0;

    /// Messages on the topic after this consumer's position (the records-lag of a Kafka
    /// consumer), for metrics; -1 when unknown (the Kafka backend knows the high watermark only
    /// after its first fetch, and its position after the first message). Never blocks for the
    /// network; thread-safe.
    virtual int64_t Lag() { return -1; }

    /// Lets Send() hand this consumer's messages straight to `direct` on the sending thread
    /// while the consumer is caught up: it peeked everything before the message and, if its
    /// last Peek() returned messages, called Peek() again since (that batch is handled). A
    /// consumer behind reads the backlog with Peek() first, so one sending thread's messages
    /// arrive in order. False: the backend cannot
    /// (a broker in another process), only Peek() delivers. Call once, before the first Peek().
    /// Close() stops it and waits until no `deliver` runs: never call Close() from `deliver`.
    virtual bool EnableDirectDelivery(DirectDelivery /*direct*/) { return false; }

    virtual const std::string& topic() const = 0;
    virtual const std::string& group_id() const = 0;
    virtual int max_peek() const = 0;
};

/// Creates topics, producers and consumers. Thread-safe. Producers and consumers may outlive
/// the provider object only if the backend says so (InProcessMessagingProvider: they may).
class MessagingProvider {
  public:
    virtual ~MessagingProvider() = default;

    /// Creates `topic` with `config` unless it exists (an existing topic keeps its config).
    /// Topic names are Kafka's: 1..249 characters of [a-zA-Z0-9._-]. Blocks until the broker
    /// answers. Errors: InvalidArgument (bad name or config), Unavailable.
    [[nodiscard]] virtual absl::Status EnsureTopic(std::string_view topic,
                                                   const TopicConfig& config = {}) = 0;

    /// A new producer. Never null.
    virtual std::unique_ptr<MessageProducer> GetProducer() = 0;

    /// A consumer of `topic` in group `group_id` (the topic is created with the default
    /// config if missing). A group that never committed starts at the earliest retained
    /// message. `max_peek` (>= 1) bounds the batch a Peek() returns. Never null.
    virtual std::unique_ptr<MessageConsumer> GetConsumer(std::string_view topic,
                                                         std::string_view group_id,
                                                         int max_peek) = 0;
};

/// Whether `topic` is a valid topic name (see EnsureTopic); InvalidArgument says why not.
[[nodiscard]] absl::Status ValidateTopicName(std::string_view topic);

/// The checks of GetConsumer()'s other arguments every backend makes: a group id, max_peek >= 1.
[[nodiscard]] absl::Status ValidateConsumerArgs(std::string_view group_id, int max_peek);

/// What a backend's GetConsumer() returns for arguments it cannot serve (GetConsumer never
/// returns null): every Peek() and Commit() fails with `error`.
std::unique_ptr<MessageConsumer> FailingConsumer(absl::Status error, std::string_view topic,
                                                 std::string_view group_id, int max_peek);

}  // namespace wisp::messaging
