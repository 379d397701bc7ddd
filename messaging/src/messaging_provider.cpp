#include <wisp/messaging/messaging_provider.hpp>

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

}  // namespace wisp::messaging
