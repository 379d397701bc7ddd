#include <wisp/cluster/cache_invalidation.hpp>

#include <utility>

#include <spdlog/spdlog.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/common/status.hpp>

namespace wisp::cluster {

namespace {
/// Invalidations are small; only the last minutes matter (OpenWhisk keeps 5 min).
constexpr messaging::TopicConfig kTopicConfig{.max_message_bytes = 64 * 1024,
                                              .retention_bytes = 8 * 1024 * 1024};
}  // namespace

absl::StatusOr<std::unique_ptr<CacheInvalidation>> CacheInvalidation::Start(
    messaging::MessagingProvider& bus, CacheInvalidationConfig config, Handler on_remote) {
    if (config.instance_id.empty()) {
        return absl::InvalidArgumentError("cache invalidation needs this component's id");
    }
    WISP_RETURN_IF_ERROR(bus.EnsureTopic(config.topic, kTopicConfig));
    std::unique_ptr<CacheInvalidation> self(
        new CacheInvalidation(bus, std::move(config), std::move(on_remote)));
    self->feed_->Start();
    return self;
}

CacheInvalidation::CacheInvalidation(messaging::MessagingProvider& bus,
                                     CacheInvalidationConfig config, Handler on_remote)
    : config_(std::move(config)), on_remote_(std::move(on_remote)), producer_(bus.GetProducer()) {
    const std::string group = config_.topic + config_.instance_id;
    feed_ = std::make_unique<messaging::MessageFeed>(
        bus.GetConsumer(config_.topic, group, 128),
        messaging::MessageFeed::Options{.description = group, .long_poll = config_.long_poll},
        [this](messaging::Message m) { OnMessage(std::move(m)); });
}

CacheInvalidation::~CacheInvalidation() { Stop(); }

absl::Status CacheInvalidation::Notify(std::string_view main_id) {
    wisp::v1::CacheInvalidationMessage msg;
    msg.set_main_id(std::string(main_id));
    msg.set_instance_id(config_.instance_id);
    return producer_->Send(config_.topic, msg.SerializeAsString());
}

void CacheInvalidation::OnMessage(messaging::Message message) {
    wisp::v1::CacheInvalidationMessage msg;
    if (!msg.ParseFromString(message.payload) || msg.main_id().empty()) {
        spdlog::warn("cache invalidation: skipping a malformed message at {}@{}", message.topic,
                     message.offset);
        return;
    }
    if (msg.instance_id() == config_.instance_id) return;  // our own: invalidated when written
    ++received_;
    spdlog::debug("cache invalidation: {} from {}", msg.main_id(), msg.instance_id());
    if (on_remote_) on_remote_(msg.main_id());
}

absl::Status AnnounceInvalidations(messaging::MessagingProvider& bus,
                                   const CacheInvalidationConfig& config,
                                   const std::vector<std::string>& main_ids) {
    if (config.instance_id.empty()) {
        return absl::InvalidArgumentError("cache invalidation needs the sender's id");
    }
    WISP_RETURN_IF_ERROR(bus.EnsureTopic(config.topic, kTopicConfig));
    auto producer = bus.GetProducer();
    absl::Status status;
    for (const auto& main_id : main_ids) {
        wisp::v1::CacheInvalidationMessage msg;
        msg.set_main_id(main_id);
        msg.set_instance_id(config.instance_id);
        status = producer->Send(config.topic, msg.SerializeAsString());
        if (!status.ok()) break;
    }
    producer->Close();
    return status;
}

void CacheInvalidation::Stop() {
    if (feed_) feed_->Stop();
    if (producer_) producer_->Close();
}

}  // namespace wisp::cluster
