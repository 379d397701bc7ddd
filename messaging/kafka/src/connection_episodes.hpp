#pragma once
// ConnectionEpisodes: logs a broken connection once per episode, not once per failed message.
// The first error after a healthy spell is a warning; further errors of the same episode are
// counted (debug lines only); the first success afterwards logs one line with the count and
// ends the episode. Thread-safe (librdkafka calls back from its own threads).
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

namespace wisp::messaging::kafka {

class ConnectionEpisodes {
  public:
    /// `who`: what is connected, for the log lines, e.g. "Kafka producer (127.0.0.1:9092)".
    explicit ConnectionEpisodes(std::string who) : who_(std::move(who)) {}

    /// An error: a warning if it starts an episode, else counted.
    void Error(std::string_view reason) {
        std::lock_guard<std::mutex> lock(mu_);
        ++errors_;
        if (errors_ == 1) {
            ++episodes_;
            spdlog::warn(
                "{}: {}; librdkafka keeps reconnecting (further errors are logged at "
                "debug level until it works again)",
                who_, reason);
        } else {
            spdlog::debug("{}: {}", who_, reason);
        }
    }

    /// A success: ends the episode, if any, with one line.
    void Recovered() {
        std::lock_guard<std::mutex> lock(mu_);
        if (errors_ == 0) return;
        spdlog::info("{}: working again after {} error(s)", who_, errors_);
        errors_ = 0;
    }

    /// Whether an episode is going on.
    bool failing() const {
        std::lock_guard<std::mutex> lock(mu_);
        return errors_ > 0;
    }
    /// Episodes so far (for tests).
    int64_t episodes() const {
        std::lock_guard<std::mutex> lock(mu_);
        return episodes_;
    }

  private:
    const std::string who_;
    mutable std::mutex mu_;
    int64_t errors_ = 0;
    int64_t episodes_ = 0;
};

}  // namespace wisp::messaging::kafka
