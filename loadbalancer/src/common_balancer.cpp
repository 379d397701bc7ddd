#include <wisp/loadbalancer/common_balancer.hpp>

#include <algorithm>
#include <any>
#include <memory>
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

CommonBalancer::CommonBalancer(messaging::MessagingProvider& bus, CommonBalancerConfig config)
    : bus_(bus),
      common_config_(std::move(config)),
      clock_(common_config_.clock ? *common_config_.clock : common::SystemClock::Instance()),
      ack_topic_(common_config_.topic_prefix + "completed" + common_config_.controller_id),
      health_topic_(common_config_.topic_prefix + "health") {}

CommonBalancer::~CommonBalancer() { Shutdown(); }

std::string CommonBalancer::invoker_topic(int32_t instance) const {
    return fmt::format("{}invoker{}", common_config_.topic_prefix, instance);
}

absl::Status CommonBalancer::StartFeeds(const std::vector<int32_t>& invokers, bool pings) {
    for (int32_t instance : invokers) {
        WISP_RETURN_IF_ERROR(bus_.EnsureTopic(invoker_topic(instance)));
    }
    WISP_RETURN_IF_ERROR(bus_.EnsureTopic(ack_topic_));
    if (pings) WISP_RETURN_IF_ERROR(bus_.EnsureTopic(health_topic_));
    producer_ = bus_.GetProducer();

    // Group = topic for the acks; every controller reads all pings (group health<ctrl>).
    ack_feed_ = std::make_unique<messaging::MessageFeed>(
        bus_.GetConsumer(ack_topic_, ack_topic_, std::max(1, common_config_.ack_max_peek)),
        // OnAck is thread-safe and short: an in-process invoker's acks are handled on the
        // invoker's thread that sends them (no wake-up of the feed thread per ack).
        messaging::MessageFeed::Options{.description = ack_topic_,
                                        .long_poll = common_config_.ack_long_poll,
                                        .direct_delivery = true},
        [this](messaging::Message m) { OnAck(std::move(m)); });
    ack_feed_->Start();
    if (pings) {
        ping_feed_ = std::make_unique<messaging::MessageFeed>(
            bus_.GetConsumer(health_topic_, health_topic_ + common_config_.controller_id, 128),
            messaging::MessageFeed::Options{.description = health_topic_,
                                            .long_poll = common_config_.ack_long_poll},
            [this](messaging::Message m) { OnPing(std::move(m)); });
        ping_feed_->Start();
    }
    if (common_config_.timeout_thread) timer_thread_ = std::thread([this] { TimerLoop(); });
    return absl::OkStatus();
}

std::chrono::milliseconds CommonBalancer::CompletionTimeoutFor(
    const ActionPlacement& action) const {
    return common_config_.completion_timeout ? *common_config_.completion_timeout
                                             : CompletionTimeout(action.timeout);
}

void CommonBalancer::SendLaterLocked(std::string topic, std::string payload) {
    outbox_.emplace_back(std::move(topic), std::move(payload));
}

void CommonBalancer::FlushOutbox() {
    std::vector<std::pair<std::string, std::string>> out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        out.swap(outbox_);
        if (out.empty() || !producer_) return;
    }
    for (auto& [topic, payload] : out) {
        absl::Status sent = producer_->Send(topic, std::move(payload));
        if (!sent.ok())
            spdlog::warn("load balancer: sending to {} failed: {}", topic, sent.ToString());
    }
}

absl::StatusOr<int32_t> CommonBalancer::PublishKeepWarm(const ActionPlacement& action,
                                                        wisp::v1::ActivationMessage msg) {
    if (!msg.has_keep_warm()) {
        return absl::InvalidArgumentError("the message is no keep-warm order");
    }
    if (msg.root_controller_index().as_string().empty()) {
        msg.mutable_root_controller_index()->set_as_string(common_config_.controller_id);
    }
    int32_t instance = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return absl::UnavailableError("the load balancer is shutting down");
        auto home = HomeInvokerLocked(action, msg);
        if (!home) return absl::UnavailableError("No invokers available.");
        instance = *home;
    }
    FlushOutbox();
    WISP_RETURN_IF_ERROR(producer_->Send(invoker_topic(instance), msg.SerializeAsString()));
    return instance;
}

absl::Status CommonBalancer::Publish(const ActionPlacement& action, wisp::v1::ActivationMessage msg,
                                     ResultCallback on_result) {
    if (msg.activation_id().empty()) {
        return absl::InvalidArgumentError("the activation message has no activation id");
    }
    if (msg.root_controller_index().as_string().empty()) {
        msg.mutable_root_controller_index()->set_as_string(common_config_.controller_id);
    }
    const std::string id = msg.activation_id();
    const std::string tid = msg.transid().id();
    const int64_t memory_mb = std::max<int64_t>(0, action.memory_mb);
    SlotRequest slot;
    slot.action = action.fqn;
    if (!msg.action().version().empty()) slot.action += "@" + msg.action().version();
    slot.max_concurrency = std::max<int32_t>(1, action.max_concurrency);
    slot.memory_mb = memory_mb;
    const auto timeout = CompletionTimeoutFor(action);
    int32_t instance = 0;
    bool warn_forced = false;     // log this forced placement (outside the lock)
    int64_t forced_unlogged = 0;  // forced placements not logged since the last warning
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return absl::UnavailableError("the load balancer is shutting down");
        if (in_flight_.count(id)) {
            return absl::InvalidArgumentError(
                fmt::format("activation {} is already in flight", id));
        }
        bool forced = false;
        ActionPlacement placement = action;
        placement.memory_mb = memory_mb;
        placement.max_concurrency = slot.max_concurrency;
        auto picked = PlaceLocked(placement, slot, msg, forced);
        if (!picked) return absl::UnavailableError("No invokers available.");
        instance = *picked;
        if (forced) {
            // Overload: the invoker buffers what does not fit; never refuse for memory. One
            // warning a second at most: in a burst a line per activation (thousands a second)
            // costs more than the activations and stalls every publish behind the log sink.
            ++forced_acquisitions_;
            const int64_t now_ns = clock_.MonotonicNs();
            if (forced_last_warning_ns_ < 0 ||
                now_ns - forced_last_warning_ns_ >= kForcedWarningIntervalNs) {
                warn_forced = true;
                forced_unlogged = std::exchange(forced_unlogged_, 0);
                forced_last_warning_ns_ = now_ns;
            } else {
                ++forced_unlogged_;
            }
        }
        ++per_invoker_[instance];
        InFlight entry;
        entry.invoker = instance;
        entry.namespace_uuid = msg.user().namespace_uuid();
        entry.slot = std::move(slot);
        entry.on_result = std::move(on_result);
        entry.forced = ForcedCompletionFor(msg, instance, timeout);
        entry.deadline_ns = clock_.MonotonicNs() +
                            std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
        const bool earliest = deadlines_.empty() || entry.deadline_ns < deadlines_.begin()->first;
        entry.timer = deadlines_.emplace(entry.deadline_ns, id);
        ++per_namespace_[entry.namespace_uuid];
        in_flight_.emplace(id, std::move(entry));
        if (earliest) timer_cv_.notify_all();
    }
    FlushOutbox();
    if (warn_forced) {
        common::TidLog(tid).warn(
            "system is overloaded: activation {} of {} needs {} MB and no usable invoker has it "
            "free; forcing it onto invoker{} ({} more forced since the last such warning, {} in "
            "all)",
            id, action.fqn, memory_mb, instance, forced_unlogged, ForcedAcquisitions());
    }

    const std::string topic = invoker_topic(instance);
    absl::Status sent = producer_->Send(topic, msg.SerializeAsString());
    if (!sent.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = in_flight_.find(id);
        // Gone: Shutdown() already answered the callback; the caller must not answer twice.
        if (it == in_flight_.end()) return absl::OkStatus();
        CompleteLocked(it);
        common::TidLog(tid).error("publishing activation {} on {} failed: {}", id, topic,
                                  sent.ToString());
        if (sent.code() == absl::StatusCode::kOutOfRange) return sent;
        return absl::UnavailableError(fmt::format(
            "the activation could not be sent to the invoker: {}", std::string(sent.message())));
    }
    common::TidLog(tid).debug("activation {} of {} ({} MB) published on {}", id, action.fqn,
                              memory_mb, topic);
    return absl::OkStatus();
}

void CommonBalancer::CompleteLocked(std::unordered_map<std::string, InFlight>::iterator it) {
    InFlight& entry = it->second;
    ReleaseLocked(entry.invoker, entry.slot);
    auto inv = per_invoker_.find(entry.invoker);
    if (inv != per_invoker_.end() && --inv->second <= 0) per_invoker_.erase(inv);
    auto ns = per_namespace_.find(entry.namespace_uuid);
    if (ns != per_namespace_.end() && --ns->second <= 0) per_namespace_.erase(ns);
    deadlines_.erase(entry.timer);
    in_flight_.erase(it);
}

void CommonBalancer::OnAck(messaging::Message message) {
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
                    "{} ack for activation {}: not in flight (a health test action, a "
                    "duplicate, or completed by force)",
                    AcknowledgementMessage::Kind_Name(ack.kind()), id);
            OnUntrackedAckLocked(ack);
        } else {
            switch (ack.kind()) {
                case AcknowledgementMessage::RESULT:
                    callback = std::exchange(it->second.on_result, nullptr);
                    it->second.forced.result_received = true;
                    break;
                case AcknowledgementMessage::COMPLETION:
                case AcknowledgementMessage::COMBINED: {
                    callback = std::exchange(it->second.on_result, nullptr);
                    const int32_t invoker = it->second.invoker;
                    CompleteLocked(it);
                    OnOutcomeLocked(invoker, ack.is_system_error() ? InvocationOutcome::kSystemError
                                                                   : InvocationOutcome::kSuccess);
                    break;
                }
                default:
                    common::TidLog(ack.transid().id())
                        .warn("ignoring an ack of unknown kind {} for activation {}",
                              static_cast<int>(ack.kind()), id);
                    break;
            }
        }
    }
    FlushOutbox();
    if (!callback) return;  // non-blocking, or the result already came

    ActivationResult result;
    result.activation_id = id;
    result.is_system_error = ack.is_system_error();
    if (ack.has_response_status() && ack.response_status() >= 0 && ack.response_status() <= 3) {
        result.response_status = static_cast<common::ActivationStatus>(ack.response_status());
    }
    using AttachedRecord = std::shared_ptr<const common::ActivationRecord>;
    const auto* attached = std::any_cast<AttachedRecord>(&message.attachment);
    if (ack.kind() != AcknowledgementMessage::COMPLETION && ack.activation_json().empty() &&
        attached != nullptr && *attached != nullptr) {
        // An in-process invoker attached the record (InvokerReactive::SendAck): no JSON.
        result.record = **attached;
    } else if (ack.kind() == AcknowledgementMessage::COMPLETION || ack.activation_json().empty()) {
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

void CommonBalancer::OnPing(messaging::Message message) {
    wisp::v1::PingMessage ping;
    if (!ping.ParseFromString(message.payload)) {
        spdlog::warn("load balancer: skipping a malformed ping at {}@{}", message.topic,
                     message.offset);
        return;
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return;
        OnPingLocked(ping);
    }
    FlushOutbox();
}

int CommonBalancer::ExpireOverdue() {
    struct Expired {
        std::string id;
        int32_t invoker;
        ResultCallback callback;
        ForcedCompletion forced;
    };
    std::vector<Expired> expired;
    ForcedCompletionHandler handler;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t now_ns = clock_.MonotonicNs();
        while (!deadlines_.empty() && deadlines_.begin()->first <= now_ns) {
            auto it = in_flight_.find(deadlines_.begin()->second);
            WISP_CHECK(it != in_flight_.end());
            const int32_t invoker = it->second.invoker;
            expired.push_back({it->first, invoker, std::exchange(it->second.on_result, nullptr),
                               std::move(it->second.forced)});
            CompleteLocked(it);
            OnOutcomeLocked(invoker, InvocationOutcome::kTimeout);
        }
        if (!expired.empty() && forced_handler_) {
            handler = forced_handler_;
            ++forced_calls_running_;
        }
    }
    FlushOutbox();
    for (auto& e : expired) {
        spdlog::warn("activation {}: no completion from invoker{} in time; completed by force",
                     e.id, e.invoker);
        // First the record (the controller's), then the caller: a 202 answered now finds it.
        if (handler) handler(e.forced);
        if (!e.callback) continue;
        ActivationResult result;
        result.activation_id = e.id;
        result.status = absl::DeadlineExceededError(
            fmt::format("activation {} was not completed by invoker{} in time; completed by force",
                        e.id, e.invoker));
        e.callback(std::move(result));
    }
    if (handler) {
        handler = nullptr;  // destroyed before a waiting SetForcedCompletionHandler returns
        std::lock_guard<std::mutex> lock(mu_);
        if (--forced_calls_running_ == 0) forced_cv_.notify_all();
    }
    return static_cast<int>(expired.size());
}

void CommonBalancer::SetForcedCompletionHandler(ForcedCompletionHandler handler) {
    std::unique_lock<std::mutex> lock(mu_);
    forced_handler_ = std::move(handler);
    forced_cv_.wait(lock, [this] { return forced_calls_running_ == 0; });
}

void CommonBalancer::TimerLoop() {
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

void CommonBalancer::Shutdown() {
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
        outbox_.clear();
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

int64_t CommonBalancer::ActiveActivationsFor(std::string_view namespace_uuid) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = per_namespace_.find(std::string(namespace_uuid));
    return it == per_namespace_.end() ? 0 : it->second;
}

int64_t CommonBalancer::TotalActiveActivations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int64_t>(in_flight_.size());
}

std::vector<InvokerHealthInfo> CommonBalancer::InvokerHealth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return InvokerHealthLocked();
}

int64_t CommonBalancer::ActiveActivationsOn(int32_t instance) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = per_invoker_.find(instance);
    return it == per_invoker_.end() ? 0 : it->second;
}

int64_t CommonBalancer::ForcedAcquisitions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return forced_acquisitions_;
}

}  // namespace wisp::loadbalancer
