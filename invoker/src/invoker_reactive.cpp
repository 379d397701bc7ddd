#include <wisp/invoker/invoker_reactive.hpp>

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include <wisp/common/tid_log.hpp>

namespace wisp::invoker {
namespace {

/// Activations whose record is being stored, per slot of max_peek, before the feed stops pulling.
constexpr int kUnfinishedPerSlot = 8;

}  // namespace

InvokerReactive::InvokerReactive(messaging::MessagingProvider& bus, InvokerService& service,
                                 InvokerReactiveConfig config)
    : bus_(bus),
      service_(service),
      config_(std::move(config)),
      topic_(config_.topic_prefix + "invoker" + std::to_string(config_.instance.instance())) {}

InvokerReactive::~InvokerReactive() { Stop(); }

absl::Status InvokerReactive::Start() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (started_ || stopping_) {
            return absl::FailedPreconditionError("InvokerReactive::Start() was called before");
        }
    }
    absl::Status ensured = bus_.EnsureTopic(topic_);
    if (!ensured.ok()) return ensured;
    if (config_.send_pings) {
        ensured = bus_.EnsureTopic(config_.topic_prefix + "health");
        if (!ensured.ok()) return ensured;
    }
    producer_ = bus_.GetProducer();

    const int max_peek =
        config_.max_peek > 0
            ? config_.max_peek
            : static_cast<int>(std::max<int64_t>(config_.instance.user_memory_mb() / 128, 16));
    feed_ = std::make_unique<messaging::MessageFeed>(
        bus_.GetConsumer(topic_, topic_, max_peek),
        // Committed only up to the lowest activation whose record is not stored yet: after a
        // kill -9 the next consumer gets every unfinished one again (the service skips those
        // that have a record by then).
        // Capacity is held while an activation runs (until its last ack); the commit waits for
        // its record, and max_unfinished bounds the records being stored meanwhile: a slow store
        // (CouchDB) does not cap how many activations run at once.
        messaging::MessageFeed::Options{
            .description = topic_,
            .max_outstanding = max_peek,
            .max_unfinished = kUnfinishedPerSlot * max_peek,
            .long_poll = config_.long_poll,
            .commit = messaging::MessageFeed::CommitPolicy::kUpToLowestUnfinished,
            // OnMessage only parses and queues: on an in-process bus it runs on the thread
            // that publishes the activation (no wake-up of the feed thread per activation).
            .direct_delivery = true},
        [this](messaging::Message m) { OnMessage(std::move(m)); });
    {
        std::lock_guard<std::mutex> lock(mu_);
        started_ = true;
    }
    feed_->Start();
    if (config_.send_pings) ping_thread_ = std::thread([this] { PingLoop(); });
    spdlog::info("invoker{}: consuming {} (max {} activations pulled){}",
                 config_.instance.instance(), topic_, max_peek,
                 config_.send_pings ? ", pinging health" : "");
    return absl::OkStatus();
}

void InvokerReactive::OnMessage(messaging::Message message) {
    wisp::v1::ActivationMessage msg;
    if (!msg.ParseFromString(message.payload) || msg.activation_id().empty()) {
        spdlog::warn("invoker{}: skipping a malformed activation message at {}@{} ({} bytes)",
                     config_.instance.instance(), message.topic, message.offset,
                     message.payload.size());
        feed_->Processed(message.offset);
        return;
    }
    std::string controller = msg.root_controller_index().as_string();
    if (controller.empty()) controller = config_.default_controller_id;
    common::TidLog(msg.transid().id())
        .debug("invoker{}: activation {} of {}/{} from {}@{}", config_.instance.instance(),
               msg.activation_id(), msg.action().path(), msg.action().name(), message.topic,
               message.offset);
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++outstanding_;
    }
    service_.Submit(
        std::move(msg),
        [this, controller = std::move(controller), offset = message.offset](AckInfo ack) {
            // The last ack (COMPLETION or COMBINED): the action ran; only its record is being
            // stored.
            const bool last = ack.kind != AckInfo::Kind::kResult;
            SendAck(std::move(ack), controller);
            if (last) feed_->Released(offset);
        },
        [this, offset = message.offset] {
            // The last ack is sent and the record stored: the bus may commit past it.
            feed_->Processed(offset);
            std::lock_guard<std::mutex> lock(mu_);
            --outstanding_;
            cv_.notify_all();  // under the lock: Stop() may return (and `this` go) right after
        });
}

void InvokerReactive::SendAck(AckInfo ack, const std::string& controller_id) {
    const std::string topic = config_.topic_prefix + "completed" + controller_id;
    // On a bus within this process the record goes along as the object it is: no JSON encoded
    // here, none parsed by the balancer (together ~10 % of a warm invoke's instructions).
    const bool attach = ack.kind != AckInfo::Kind::kCompletion && producer_->CarriesAttachments();
    wisp::v1::AcknowledgementMessage message =
        ToAcknowledgementMessage(ack, config_.instance, attach ? 0 : config_.max_ack_record_bytes);
    absl::Status sent;
    if (attach) {
        sent = producer_->SendWithAttachment(
            topic, message.SerializeAsString(),
            std::make_shared<const common::ActivationRecord>(std::move(ack.record)));
    } else {
        sent = producer_->Send(topic, message.SerializeAsString());
    }
    if (sent.code() == absl::StatusCode::kOutOfRange && !message.activation_json().empty()) {
        // Too large for the bus: send it shrunk; the controller reads the record from the store.
        message.clear_activation_json();
        sent = producer_->Send(topic, message.SerializeAsString());
    }
    if (!sent.ok()) {
        common::TidLog(ack.transid.id())
            .error("invoker{}: sending the {} ack of activation {} to {} failed: {}",
                   config_.instance.instance(),
                   wisp::v1::AcknowledgementMessage::Kind_Name(message.kind()), ack.activation_id,
                   topic, sent.ToString());
    }
}

void InvokerReactive::PingLoop() {
    wisp::v1::PingMessage ping;
    *ping.mutable_name() = config_.instance;
    const std::string topic = config_.topic_prefix + "health";
    bool failing = false;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        ping.set_is_enabled(enabled_);
        ping.set_control_endpoint(control_endpoint_);
        ping.set_sent_at_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
        ping_now_ = false;
        lock.unlock();
        const std::string payload = ping.SerializeAsString();
        absl::Status sent = producer_->Send(topic, payload);
        if (!sent.ok() && !failing) {
            spdlog::warn("invoker{}: sending a ping to {} failed: {}", config_.instance.instance(),
                         topic, sent.ToString());
        }
        failing = !sent.ok();
        lock.lock();
        cv_.wait_for(lock, config_.ping_interval, [this] { return stopping_ || ping_now_; });
    }
}

void InvokerReactive::Stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!started_ || stopping_) return;
        stopping_ = true;
    }
    cv_.notify_all();
    feed_->Drain();  // waits for every taken activation's record, then commits them all
    if (ping_thread_.joinable()) ping_thread_.join();
    {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return outstanding_ == 0; });
    }
    producer_->Close();
    spdlog::info("invoker{}: stopped consuming {}", config_.instance.instance(), topic_);
}

std::optional<int64_t> InvokerReactive::ConsumerLag() const {
    messaging::MessageFeed* feed = nullptr;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!started_ || stopping_) return std::nullopt;
        feed = feed_.get();
    }
    if (feed == nullptr) return std::nullopt;
    const int64_t lag = feed->Lag();
    if (lag < 0) return std::nullopt;
    return lag;
}

int InvokerReactive::outstanding() const {
    std::lock_guard<std::mutex> lock(mu_);
    return outstanding_;
}

void InvokerReactive::SetEnabled(bool enabled) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (enabled_ == enabled) return;
        enabled_ = enabled;
        ping_now_ = true;
    }
    cv_.notify_all();
    spdlog::info("invoker{}: {}", config_.instance.instance(),
                 enabled
                     ? "enabled: pings invite work again"
                     : "draining: pings say is_enabled=false, what reaches the topic still runs");
}

bool InvokerReactive::enabled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return enabled_;
}

bool InvokerReactive::stopping() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
}

void InvokerReactive::SetControlEndpoint(std::string endpoint) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        control_endpoint_ = std::move(endpoint);
        ping_now_ = true;
    }
    cv_.notify_all();
}

}  // namespace wisp::invoker
