#include <wisp/messaging/messaging_provider.hpp>

#include <utility>

#include <fmt/format.h>

namespace wisp::messaging {

[[nodiscard]] absl::Status ValidateTopicName(std::string_view topic) {
    if (topic.empty() || topic.size() > 249) {
        return absl::InvalidArgumentError(
            fmt::format("topic name '{}' must have 1 to 249 characters", topic));
    }
    if (topic == "." || topic == "..") {
        return absl::InvalidArgumentError(fmt::format("topic name '{}' is reserved", topic));
    }
    for (char c : topic) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return absl::InvalidArgumentError(fmt::format(
                "topic name '{}' may contain only letters, digits, '.', '_' and '-'", topic));
        }
    }
    return absl::OkStatus();
}

absl::Status ValidateConsumerArgs(std::string_view group_id, int max_peek) {
    if (group_id.empty()) return absl::InvalidArgumentError("a consumer needs a group id");
    if (max_peek < 1) {
        return absl::InvalidArgumentError(
            fmt::format("max_peek must be at least 1, not {}", max_peek));
    }
    return absl::OkStatus();
}

namespace {

class FailingMessageConsumer final : public MessageConsumer {
  public:
    FailingMessageConsumer(absl::Status error, std::string topic, std::string group_id,
                           int max_peek)
        : error_(std::move(error)),
          topic_(std::move(topic)),
          group_id_(std::move(group_id)),
          max_peek_(max_peek) {}

    absl::StatusOr<std::vector<Message>> Peek(std::chrono::milliseconds) override { return error_; }
    absl::Status Commit() override { return error_; }
    absl::Status CommitUpTo(int64_t) override { return error_; }
    void Wakeup() override {}
    void Close() override {}
    const std::string& topic() const override { return topic_; }
    const std::string& group_id() const override { return group_id_; }
    int max_peek() const override { return max_peek_; }

  private:
    const absl::Status error_;
    const std::string topic_;
    const std::string group_id_;
    const int max_peek_;
};

}  // namespace

std::unique_ptr<MessageConsumer> FailingConsumer(absl::Status error, std::string_view topic,
                                                 std::string_view group_id, int max_peek) {
    return std::make_unique<FailingMessageConsumer>(std::move(error), std::string(topic),
                                                    std::string(group_id), max_peek);
}

}  // namespace wisp::messaging
