#include <wisp/messaging/inprocess_messaging_provider.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace wisp::messaging {
namespace {

/// A consumer that takes messages on the sending thread (EnableDirectDelivery).
struct DirectConsumer {
    DirectDelivery direct;
    std::string group;
    int64_t* position = nullptr;  // the consumer's position; guarded by the topic's mu
    bool* batch_out = nullptr;    // the consumer's last Peek() returned messages (topic's mu)
    int running = 0;              // deliver calls in progress; guarded by the topic's mu
};

/// One topic: an ordered log plus the committed offset of every group that subscribed.
struct Topic {
    Topic(std::string n, TopicConfig c) : name(std::move(n)), config(c) {}

    const std::string name;
    const TopicConfig config;

    std::mutex mu;
    std::condition_variable cv;         // a message arrived, or a consumer was woken or closed
    std::condition_variable direct_cv;  // a DirectConsumer's deliver returned
    struct Entry {
        std::string payload;
        std::any attachment;
    };
    std::deque<Entry> log;                                  // offsets [base, base + log.size())
    int64_t base = 0;                                       // offset of log.front()
    int64_t bytes = 0;                                      // payload bytes in `log`
    std::map<std::string, int64_t, std::less<>> committed;  // group -> next offset to read
    std::vector<std::shared_ptr<DirectConsumer>> direct;    // open, direct-delivery consumers

    int64_t EndLocked() const { return base + static_cast<int64_t>(log.size()); }

    void PopFrontLocked() {
        bytes -= static_cast<int64_t>(log.front().payload.size());
        log.pop_front();
        ++base;
    }

    /// Drops what every group has committed, then the oldest beyond retention_bytes. Without
    /// any group nothing is committed, so messages wait (within retention_bytes) for the first.
    void TrimLocked() {
        if (!committed.empty()) {
            int64_t min_committed = std::numeric_limits<int64_t>::max();
            for (const auto& [group, offset] : committed) {
                min_committed = std::min(min_committed, offset);
            }
            while (!log.empty() && base < min_committed) PopFrontLocked();
        }
        while (!log.empty() && bytes > config.retention_bytes) PopFrontLocked();
    }
};

}  // namespace

struct InProcessMessagingProvider::State {
    mutable std::mutex mu;
    std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics;

    std::shared_ptr<Topic> Find(std::string_view name) const {
        std::lock_guard<std::mutex> lock(mu);
        auto it = topics.find(name);
        return it == topics.end() ? nullptr : it->second;
    }

    /// The topic, created with `config` if missing. The name must be valid.
    std::shared_ptr<Topic> FindOrCreate(std::string_view name, const TopicConfig& config) {
        std::lock_guard<std::mutex> lock(mu);
        auto it = topics.find(name);
        if (it != topics.end()) return it->second;
        auto topic = std::make_shared<Topic>(std::string(name), config);
        topics.emplace(std::string(name), topic);
        return topic;
    }
};

namespace {

using State = InProcessMessagingProvider::State;

class InProcessMessageProducer final : public MessageProducer {
  public:
    explicit InProcessMessageProducer(std::shared_ptr<State> state) : state_(std::move(state)) {}

    absl::Status Send(std::string_view topic_name, std::string payload) override {
        return SendWithAttachment(topic_name, std::move(payload), std::any());
    }

    bool CarriesAttachments() const override { return true; }

    absl::Status SendWithAttachment(std::string_view topic_name, std::string payload,
                                    std::any attachment) override {
        if (closed_.load(std::memory_order_acquire)) {
            return absl::FailedPreconditionError("the message producer is closed");
        }
        std::shared_ptr<Topic> topic = state_->Find(topic_name);
        if (!topic) {
            absl::Status valid = ValidateTopicName(topic_name);
            if (!valid.ok()) return valid;
            topic = state_->FindOrCreate(topic_name, TopicConfig{});
        }
        const int64_t size = static_cast<int64_t>(payload.size());
        if (size > topic->config.max_message_bytes) {
            return absl::OutOfRangeError(
                fmt::format("message of {} bytes is larger than topic '{}' allows: {} > {} bytes.",
                            size, topic->name, size, topic->config.max_message_bytes));
        }
        std::shared_ptr<DirectConsumer> taker;
        Message direct_message;
        bool wake = true;
        {
            std::lock_guard<std::mutex> lock(topic->mu);
            const int64_t offset = topic->EndLocked();
            for (const auto& d : topic->direct) {
                if (*d->position == offset && !*d->batch_out && d->direct.claim(offset)) {
                    taker = d;
                    break;
                }
            }
            if (!taker) {
                topic->log.push_back(Topic::Entry{std::move(payload), std::move(attachment)});
                topic->bytes += size;
                topic->TrimLocked();
            } else {
                *taker->position = offset + 1;
                ++taker->running;
                const bool sole_group = topic->committed.size() == 1;
                int64_t& committed = topic->committed[taker->group];
                const bool commit = taker->direct.commit_on_claim && committed == offset;
                if (commit) committed = offset + 1;
                if (commit && sole_group && topic->log.empty()) {
                    // Taken and committed by the only group: nothing to retain.
                    ++topic->base;
                    direct_message =
                        Message{topic->name, offset, std::move(payload), std::move(attachment)};
                } else {
                    topic->log.push_back(Topic::Entry{payload, attachment});
                    topic->bytes += size;
                    topic->TrimLocked();
                    direct_message =
                        Message{topic->name, offset, std::move(payload), std::move(attachment)};
                }
                wake = !sole_group;  // another group's consumer may wait for it
            }
        }
        if (wake) topic->cv.notify_all();
        if (taker) {
            taker->direct.deliver(std::move(direct_message));
            bool last = false;
            {
                std::lock_guard<std::mutex> lock(topic->mu);
                last = --taker->running == 0;
            }
            if (last) topic->direct_cv.notify_all();
        }
        return absl::OkStatus();
    }

    void Close() override { closed_.store(true, std::memory_order_release); }

  private:
    std::shared_ptr<State> state_;
    std::atomic<bool> closed_{false};
};

class InProcessMessageConsumer final : public MessageConsumer {
  public:
    InProcessMessageConsumer(std::shared_ptr<Topic> topic, std::string group_id, int max_peek)
        : topic_(std::move(topic)),
          topic_name_(topic_->name),
          group_id_(std::move(group_id)),
          max_peek_(max_peek) {
        std::lock_guard<std::mutex> lock(topic_->mu);
        auto it = topic_->committed.find(group_id_);
        if (it == topic_->committed.end()) {
            // A new group starts at the earliest retained message (auto.offset.reset=earliest).
            it = topic_->committed.emplace(group_id_, topic_->base).first;
        }
        position_ = it->second;
    }

    ~InProcessMessageConsumer() override { Close(); }

    absl::StatusOr<std::vector<Message>> Peek(std::chrono::milliseconds timeout) override {
        // Sleeps on the topic's condition variable (no spinning: a spin costs more CPU than
        // the futex wake-up it saves, and with direct delivery nothing waits here on the hot
        // path).
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        std::unique_lock<std::mutex> lock(topic_->mu);
        batch_out_ = false;  // the previous batch is handled: Send() may deliver directly
        topic_->cv.wait_until(lock, deadline, [this] {
            return closed_ || wakeup_ || std::max(position_, topic_->base) < topic_->EndLocked();
        });
        if (closed_) return absl::FailedPreconditionError(ClosedMessage());
        std::vector<Message> batch;
        if (wakeup_) {
            wakeup_ = false;
            return batch;
        }
        position_ = std::max(position_, topic_->base);  // skipped what retention dropped
        const int64_t available = topic_->EndLocked() - position_;
        const int64_t n = std::min<int64_t>(available, max_peek_);
        batch.reserve(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) {
            const int64_t offset = position_ + i;
            const Topic::Entry& e = topic_->log[static_cast<size_t>(offset - topic_->base)];
            batch.push_back(Message{topic_name_, offset, e.payload, e.attachment});
        }
        position_ += n;
        // Until the next Peek() the batch is being handled: a direct delivery now would
        // overtake it.
        batch_out_ = n > 0;
        return batch;
    }

    int64_t Lag() override {
        std::lock_guard<std::mutex> lock(topic_->mu);
        return topic_->EndLocked() - std::max(position_, topic_->base);
    }

    absl::Status Commit() override {
        std::lock_guard<std::mutex> lock(topic_->mu);
        if (closed_) return absl::FailedPreconditionError(ClosedMessage());
        topic_->committed[group_id_] = position_;
        topic_->TrimLocked();
        return absl::OkStatus();
    }

    absl::Status CommitUpTo(int64_t next_offset) override {
        std::lock_guard<std::mutex> lock(topic_->mu);
        if (closed_) return absl::FailedPreconditionError(ClosedMessage());
        int64_t& committed = topic_->committed[group_id_];
        if (next_offset > position_ || next_offset < committed) {
            return absl::InvalidArgumentError(fmt::format(
                "cannot commit offset {} of topic '{}' (group '{}'): it must lie between the "
                "committed offset {} and the position {}",
                next_offset, topic_name_, group_id_, committed, position_));
        }
        committed = next_offset;
        topic_->TrimLocked();
        return absl::OkStatus();
    }

    void Wakeup() override {
        {
            std::lock_guard<std::mutex> lock(topic_->mu);
            wakeup_ = true;
        }
        topic_->cv.notify_all();
    }

    bool EnableDirectDelivery(DirectDelivery direct) override {
        if (!direct.claim || !direct.deliver) return false;
        std::lock_guard<std::mutex> lock(topic_->mu);
        if (closed_ || direct_) return false;
        direct_ = std::make_shared<DirectConsumer>();
        direct_->direct = std::move(direct);
        direct_->group = group_id_;
        direct_->position = &position_;
        direct_->batch_out = &batch_out_;
        topic_->direct.push_back(direct_);
        return true;
    }

    void Close() override {
        {
            std::unique_lock<std::mutex> lock(topic_->mu);
            if (closed_) return;
            closed_ = true;
            if (direct_) {
                std::erase(topic_->direct, direct_);
                // A Send() may be delivering to us: the deliver function must outlive it.
                topic_->direct_cv.wait(lock, [this] { return direct_->running == 0; });
            }
        }
        topic_->cv.notify_all();
    }

    const std::string& topic() const override { return topic_name_; }
    const std::string& group_id() const override { return group_id_; }
    int max_peek() const override { return max_peek_; }

  private:
    std::string ClosedMessage() const {
        return fmt::format("the consumer of topic '{}' (group '{}') is closed", topic_name_,
                           group_id_);
    }

    const std::shared_ptr<Topic> topic_;
    const std::string topic_name_;
    const std::string group_id_;
    const int max_peek_;
    // Guarded by topic_->mu.
    int64_t position_ = 0;
    bool wakeup_ = false;
    bool closed_ = false;
    bool batch_out_ = false;
    std::shared_ptr<DirectConsumer> direct_;  // set by EnableDirectDelivery
};

}  // namespace

InProcessMessagingProvider::InProcessMessagingProvider() : state_(std::make_shared<State>()) {}

InProcessMessagingProvider::~InProcessMessagingProvider() = default;

absl::Status InProcessMessagingProvider::EnsureTopic(std::string_view topic,
                                                     const TopicConfig& config) {
    absl::Status valid = ValidateTopicName(topic);
    if (!valid.ok()) return valid;
    if (config.max_message_bytes < 1 || config.retention_bytes < 1) {
        return absl::InvalidArgumentError(fmt::format(
            "topic '{}': max_message_bytes and retention_bytes must be positive", topic));
    }
    state_->FindOrCreate(topic, config);
    return absl::OkStatus();
}

std::unique_ptr<MessageProducer> InProcessMessagingProvider::GetProducer() {
    return std::make_unique<InProcessMessageProducer>(state_);
}

std::unique_ptr<MessageConsumer> InProcessMessagingProvider::GetConsumer(std::string_view topic,
                                                                         std::string_view group_id,
                                                                         int max_peek) {
    absl::Status valid = ValidateTopicName(topic);
    if (valid.ok()) valid = ValidateConsumerArgs(group_id, max_peek);
    if (!valid.ok()) return FailingConsumer(std::move(valid), topic, group_id, max_peek);
    return std::make_unique<InProcessMessageConsumer>(state_->FindOrCreate(topic, TopicConfig{}),
                                                      std::string(group_id), max_peek);
}

int64_t InProcessMessagingProvider::RetainedMessages(std::string_view topic_name) const {
    std::shared_ptr<Topic> topic = state_->Find(topic_name);
    if (!topic) return 0;
    std::lock_guard<std::mutex> lock(topic->mu);
    return static_cast<int64_t>(topic->log.size());
}

int64_t InProcessMessagingProvider::EndOffset(std::string_view topic_name) const {
    std::shared_ptr<Topic> topic = state_->Find(topic_name);
    if (!topic) return 0;
    std::lock_guard<std::mutex> lock(topic->mu);
    return topic->EndLocked();
}

}  // namespace wisp::messaging
