#include <wisp/loadbalancer/single_invoker_balancer.hpp>

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::loadbalancer {

using wisp::v1::AcknowledgementMessage;

std::chrono::milliseconds CompletionTimeout(std::chrono::milliseconds action_timeout) {
    return std::max(action_timeout, std::chrono::milliseconds(60000)) * 2 +
           std::chrono::milliseconds(60000);
}

absl::StatusOr<std::unique_ptr<SingleInvokerBalancer>> SingleInvokerBalancer::Create(
    messaging::MessagingProvider& bus, SingleInvokerBalancerConfig config) {
    std::unique_ptr<SingleInvokerBalancer> balancer(
        new SingleInvokerBalancer(bus, std::move(config)));
    absl::Status started = balancer->Start();
    if (!started.ok()) return started;
    return balancer;
}

SingleInvokerBalancer::SingleInvokerBalancer(messaging::MessagingProvider& bus,
                                             SingleInvokerBalancerConfig config)
    : bus_(bus),
      config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : common::SystemClock::Instance()),
      invoker_topic_(config_.topic_prefix + "invoker0"),
      ack_topic_(config_.topic_prefix + "completed" + config_.controller_id),
      health_topic_(config_.topic_prefix + "health"),
      free_memory_mb_(config_.invoker_user_memory_mb) {}

SingleInvokerBalancer::~SingleInvokerBalancer() { Shutdown(); }

absl::Status SingleInvokerBalancer::Start() {
    WISP_RETURN_IF_ERROR(bus_.EnsureTopic(invoker_topic_));
    WISP_RETURN_IF_ERROR(bus_.EnsureTopic(ack_topic_));
    if (config_.expect_pings) WISP_RETURN_IF_ERROR(bus_.EnsureTopic(health_topic_));
    producer_ = bus_.GetProducer();

    // Group = topic for the acks; every controller reads all pings (group health<ctrl>).
    ack_feed_ = std::make_unique<messaging::MessageFeed>(
        bus_.GetConsumer(ack_topic_, ack_topic_, std::max(1, config_.ack_max_peek)),
        messaging::MessageFeed::Options{.description = ack_topic_,
                                        .long_poll = config_.ack_long_poll},
        [this](messaging::Message m) { OnAck(std::move(m)); });
    ack_feed_->Start();
    if (config_.expect_pings) {
        ping_feed_ = std::make_unique<messaging::MessageFeed>(
            bus_.GetConsumer(health_topic_, health_topic_ + config_.controller_id, 128),
            messaging::MessageFeed::Options{.description = health_topic_,
                                            .long_poll = config_.ack_long_poll},
            [this](messaging::Message m) { OnPing(std::move(m)); });
        ping_feed_->Start();
    }
    if (config_.timeout_thread) timer_thread_ = std::thread([this] { TimerLoop(); });
    spdlog::info("load balancer: one invoker on topic {}, {} MB; acks on {}{}", invoker_topic_,
                 config_.invoker_user_memory_mb, ack_topic_,
                 config_.expect_pings ? ", health from pings" : "");
    return absl::OkStatus();
}

std::chrono::milliseconds SingleInvokerBalancer::CompletionTimeoutFor(
    const ActionPlacement& action) const {
    return config_.completion_timeout ? *config_.completion_timeout
                                      : CompletionTimeout(action.timeout);
}

bool SingleInvokerBalancer::InvokerUpLocked() const {
    if (!config_.expect_pings) return true;
    if (!last_ping_ns_) return false;
    const int64_t age_ns = clock_.MonotonicNs() - *last_ping_ns_;
    return age_ns <= std::chrono::nanoseconds(config_.ping_timeout).count();
}

absl::Status SingleInvokerBalancer::Publish(const ActionPlacement& action,
                                            wisp::v1::ActivationMessage msg,
                                            ResultCallback on_result) {
    if (msg.activation_id().empty()) {
        return absl::InvalidArgumentError("the activation message has no activation id");
    }
    if (msg.root_controller_index().as_string().empty()) {
        msg.mutable_root_controller_index()->set_as_string(config_.controller_id);
    }
    const std::string id = msg.activation_id();
    const std::string tid = msg.transid().id();
    std::string payload = msg.SerializeAsString();
    const int64_t memory_mb = std::max<int64_t>(0, action.memory_mb);
    const auto timeout = CompletionTimeoutFor(action);
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return absl::UnavailableError("the load balancer is shutting down");
        if (!InvokerUpLocked()) return absl::UnavailableError("No invokers available.");
        if (in_flight_.count(id)) {
            return absl::InvalidArgumentError(
                fmt::format("activation {} is already in flight", id));
        }
        if (free_memory_mb_ < memory_mb) {
            // Overload: the invoker buffers what does not fit; never refuse for memory.
            ++forced_acquisitions_;
            common::TidLog(tid).warn(
                "invoker0 overloaded: activation {} of {} needs {} MB, {} MB free; forcing the "
                "placement",
                id, action.fqn, memory_mb, free_memory_mb_);
        }
        free_memory_mb_ -= memory_mb;
        InFlight entry;
        entry.namespace_uuid = msg.user().namespace_uuid();
        entry.memory_mb = memory_mb;
        entry.on_result = std::move(on_result);
        entry.deadline_ns = clock_.MonotonicNs() +
                            std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        const bool earliest = deadlines_.empty() || entry.deadline_ns < deadlines_.begin()->first;
        entry.timer = deadlines_.emplace(entry.deadline_ns, id);
        ++per_namespace_[entry.namespace_uuid];
        in_flight_.emplace(id, std::move(entry));
        if (earliest) timer_cv_.notify_all();
    }

    absl::Status sent = producer_->Send(invoker_topic_, std::move(payload));
    if (!sent.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = in_flight_.find(id);
        // Gone: Shutdown() already answered the callback; the caller must not answer twice.
        if (it == in_flight_.end()) return absl::OkStatus();
        CompleteLocked(it);
        common::TidLog(tid).error("publishing activation {} on {} failed: {}", id, invoker_topic_,
                                  sent.ToString());
        if (sent.code() == absl::StatusCode::kOutOfRange) return sent;
        return absl::UnavailableError(fmt::format(
            "the activation could not be sent to the invoker: {}", std::string(sent.message())));
    }
    common::TidLog(tid).debug("activation {} of {} ({} MB) published on {}", id, action.fqn,
                              memory_mb, invoker_topic_);
    return absl::OkStatus();
}

void SingleInvokerBalancer::CompleteLocked(std::unordered_map<std::string, InFlight>::iterator it) {
    InFlight& entry = it->second;
    free_memory_mb_ += entry.memory_mb;
    auto ns = per_namespace_.find(entry.namespace_uuid);
    if (ns != per_namespace_.end() && --ns->second <= 0) per_namespace_.erase(ns);
    deadlines_.erase(entry.timer);
    in_flight_.erase(it);
}

void SingleInvokerBalancer::OnAck(messaging::Message message) {
    AcknowledgementMessage ack;
    if (!ack.ParseFromString(message.payload)) {
        spdlog::warn("load balancer: skipping a malformed ack at {}@{}", message.topic,
                     message.offset);
        return;
    }
    const std::string& id = ack.activation_id();
    ResultCallback callback;
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = in_flight_.find(id);
        if (it == in_flight_.end()) {
            common::TidLog(ack.transid().id())
                .debug(
                    "ignoring {} ack for activation {}: not in flight (a duplicate, or completed "
                    "by force)",
                    AcknowledgementMessage::Kind_Name(ack.kind()), id);
            return;
        }
        switch (ack.kind()) {
            case AcknowledgementMessage::RESULT:
                callback = std::exchange(it->second.on_result, nullptr);
                break;
            case AcknowledgementMessage::COMPLETION:
            case AcknowledgementMessage::COMBINED:
                callback = std::exchange(it->second.on_result, nullptr);
                CompleteLocked(it);
                break;
            default:
                common::TidLog(ack.transid().id())
                    .warn("ignoring an ack of unknown kind {} for activation {}",
                          static_cast<int>(ack.kind()), id);
                return;
        }
    }
    if (!callback) return;  // non-blocking, or the result already came

    ActivationResult result;
    result.activation_id = id;
    result.is_system_error = ack.is_system_error();
    if (ack.kind() == AcknowledgementMessage::COMPLETION || ack.activation_json().empty()) {
        result.record_in_store = true;
    } else {
        auto record = common::ActivationFromJson(ack.activation_json());
        if (record.ok()) {
            result.record = std::move(*record);
        } else {
            common::TidLog(ack.transid().id())
                .warn(
                    "the ack of activation {} carries an unreadable record ({}); the store has it",
                    id, record.status().ToString());
            result.record_in_store = true;
        }
    }
    callback(std::move(result));
}

void SingleInvokerBalancer::OnPing(messaging::Message message) {
    wisp::v1::PingMessage ping;
    if (!ping.ParseFromString(message.payload)) {
        spdlog::warn("load balancer: skipping a malformed ping at {}@{}", message.topic,
                     message.offset);
        return;
    }
    if (ping.name().instance() != 0) return;  // another invoker: not ours to use
    std::lock_guard<std::mutex> lock(mu_);
    if (!InvokerUpLocked()) spdlog::info("load balancer: invoker0 is up");
    last_ping_ns_ = clock_.MonotonicNs();
}

int SingleInvokerBalancer::ExpireOverdue() {
    std::vector<std::pair<std::string, ResultCallback>> expired;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t now_ns = clock_.MonotonicNs();
        while (!deadlines_.empty() && deadlines_.begin()->first <= now_ns) {
            auto it = in_flight_.find(deadlines_.begin()->second);
            WISP_CHECK(it != in_flight_.end());
            expired.emplace_back(it->first, std::exchange(it->second.on_result, nullptr));
            CompleteLocked(it);
        }
    }
    for (auto& [id, callback] : expired) {
        spdlog::warn("activation {}: no completion from invoker0 in time; completed by force", id);
        if (!callback) continue;
        ActivationResult result;
        result.activation_id = id;
        result.status = absl::DeadlineExceededError(fmt::format(
            "activation {} was not completed by invoker0 in time; completed by force", id));
        callback(std::move(result));
    }
    return static_cast<int>(expired.size());
}

void SingleInvokerBalancer::TimerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!shutdown_) {
        if (deadlines_.empty()) {
            timer_cv_.wait(lock, [this] { return shutdown_ || !deadlines_.empty(); });
            continue;
        }
        const int64_t wait_ns = deadlines_.begin()->first - clock_.MonotonicNs();
        if (wait_ns > 0) {
            timer_cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
            continue;
        }
        lock.unlock();
        ExpireOverdue();
        lock.lock();
    }
}

void SingleInvokerBalancer::Shutdown() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return;
        shutdown_ = true;
    }
    timer_cv_.notify_all();
    if (ack_feed_) ack_feed_->Stop();
    if (ping_feed_) ping_feed_->Stop();
    if (timer_thread_.joinable()) timer_thread_.join();
    if (producer_) producer_->Close();

    std::vector<std::pair<std::string, ResultCallback>> pending;
    {
        std::lock_guard<std::mutex> lock(mu_);
        while (!in_flight_.empty()) {
            auto it = in_flight_.begin();
            pending.emplace_back(it->first, std::exchange(it->second.on_result, nullptr));
            CompleteLocked(it);
        }
    }
    for (auto& [id, callback] : pending) {
        if (!callback) continue;
        ActivationResult result;
        result.activation_id = id;
        result.status = absl::UnavailableError(
            fmt::format("the load balancer shut down before activation {} completed", id));
        callback(std::move(result));
    }
}

int64_t SingleInvokerBalancer::ActiveActivationsFor(std::string_view namespace_uuid) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = per_namespace_.find(std::string(namespace_uuid));
    return it == per_namespace_.end() ? 0 : it->second;
}

int64_t SingleInvokerBalancer::TotalActiveActivations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(in_flight_.size());
}

std::vector<InvokerHealthInfo> SingleInvokerBalancer::InvokerHealth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {InvokerHealthInfo{"invoker0", InvokerUpLocked() ? "up" : "down"}};
}

int64_t SingleInvokerBalancer::FreeMemoryMb() const {
    std::lock_guard<std::mutex> lock(mu_);
    return free_memory_mb_;
}

int64_t SingleInvokerBalancer::ForcedAcquisitions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return forced_acquisitions_;
}

}  // namespace wisp::loadbalancer
