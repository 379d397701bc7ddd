#include "activation_retention.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

#include <wisp/common/strings.hpp>

namespace wisp::controller {

absl::StatusOr<std::chrono::milliseconds> ParseRetention(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    int64_t n = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc() || n < 0 || ptr + 1 != end || n > 365LL * 100) {
        return absl::InvalidArgumentError(common::Cat(
            "activation retention '", text,
            "' is not a duration: use <n>d, <n>h, <n>m or <n>s (e.g. 7d, 12h), or 0 to keep "
            "every activation"));
    }
    switch (*ptr) {
        case 'd':
            return std::chrono::milliseconds(n * 86400000);
        case 'h':
            return std::chrono::milliseconds(n * 3600000);
        case 'm':
            return std::chrono::milliseconds(n * 60000);
        case 's':
            return std::chrono::milliseconds(n * 1000);
        default:
            break;
    }
    return absl::InvalidArgumentError(common::Cat(
        "activation retention '", text,
        "' has an unknown unit: use <n>d, <n>h, <n>m or <n>s (e.g. 7d), or 0 to keep every "
        "activation"));
}

ActivationRetention::ActivationRetention(store::ArtifactStore& store, common::Clock& clock,
                                         ActivationRetentionConfig config)
    : store_(store), clock_(clock), config_(config) {
    if (config_.retention.count() > 0 && config_.interval.count() > 0) {
        thread_ = std::thread([this] { Loop(); });
    }
}

ActivationRetention::~ActivationRetention() { Stop(); }

void ActivationRetention::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

int64_t ActivationRetention::deleted() const {
    std::lock_guard lock(mu_);
    return deleted_;
}

absl::StatusOr<int64_t> ActivationRetention::RunOnce() {
    if (config_.retention.count() <= 0) return 0;
    const int64_t cutoff = clock_.NowMs() - config_.retention.count();
    int64_t total = 0;
    while (true) {
        auto n = store_.DeleteActivationsBefore(cutoff, config_.batch);
        if (!n.ok()) return n.status();
        total += *n;
        {
            std::unique_lock lock(mu_);
            deleted_ += *n;
            if (*n < config_.batch || stopping_) break;
            // Let invokes' writes in between batches.
            if (config_.pause.count() > 0 &&
                cv_.wait_for(lock, config_.pause, [&] { return stopping_; })) {
                break;
            }
        }
    }
    return total;
}

void ActivationRetention::Loop() {
    {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, config_.first_delay, [&] { return stopping_; })) return;
    }
    bool failing = false;
    while (true) {
        auto n = RunOnce();
        if (!n.ok() && n.status().code() == absl::StatusCode::kUnimplemented) {
            spdlog::warn("activation retention is off: {}", common::MessageOf(n.status()));
            return;
        }
        if (!n.ok() && !failing) {
            spdlog::warn(
                "activation retention: deleting old records failed (retrying every {} s): {}",
                config_.interval.count() / 1000, common::MessageOf(n.status()));
            failing = true;
        } else if (n.ok()) {
            failing = false;
            if (*n > 0)
                spdlog::info("activation retention: deleted {} record(s) older than {} h", *n,
                             config_.retention.count() / 3600000.0);
        }
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, config_.interval, [&] { return stopping_; })) return;
    }
}

}  // namespace wisp::controller
