#pragma once
// CacheInvalidation: keeps the entity and identity caches of every controller and invoker
// correct across processes (OpenWhisk's RemoteCacheInvalidation, wire §6).
//
// A component that writes an entity (or learns of a changed key) calls Notify(main_id): a
// CacheInvalidationMessage {main_id, instance_id} goes on "<prefix>cacheInvalidation". Every
// component reads the topic in its own consumer group ("cacheInvalidation<instance_id>", so
// each sees every message) and hands the main ids of the others' messages to its handler; its
// own are skipped (it invalidated locally when it wrote).
//
// Keys: an entity by its document id, "ns/name" or "ns/pkg/name" (always with a '/'); the
// identities of a subject by the subject's name (never a '/'): IsEntityKey() tells them apart.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::cluster {

struct CacheInvalidationConfig {
    /// This component, e.g. "controller0": the sender of its messages and its group's suffix.
    std::string instance_id;
    /// The topic (with the deployment's topic prefix, if the bus does not add it).
    std::string topic = "cacheInvalidation";
    std::chrono::milliseconds long_poll{1000};
};

/// True for an entity's document id ("ns/name"), false for a subject name.
inline bool IsEntityKey(std::string_view main_id) {
    return main_id.find('/') != std::string_view::npos;
}

class CacheInvalidation {
  public:
    /// Called on the feed's thread with the main id of another component's message.
    using Handler = std::function<void(const std::string& main_id)>;

    /// Ensures the topic and starts reading it. `bus` must outlive the object.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<CacheInvalidation>> Start(
        messaging::MessagingProvider& bus, CacheInvalidationConfig config, Handler on_remote);

    /// Stop().
    ~CacheInvalidation();
    CacheInvalidation(const CacheInvalidation&) = delete;
    CacheInvalidation& operator=(const CacheInvalidation&) = delete;

    /// Tells every other component to drop `main_id`. Thread-safe. Errors: the bus's.
    [[nodiscard]] absl::Status Notify(std::string_view main_id);

    /// Stops reading. Idempotent.
    void Stop();

    /// Messages of other components handled so far.
    int64_t received() const { return received_.load(); }

  private:
    CacheInvalidation(messaging::MessagingProvider& bus, CacheInvalidationConfig config,
                      Handler on_remote);
    void OnMessage(messaging::Message message);

    const CacheInvalidationConfig config_;
    Handler on_remote_;
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::unique_ptr<messaging::MessageFeed> feed_;
    std::atomic<int64_t> received_{0};
};

/// Sends one message per main id as `config.instance_id` and reads nothing: for a tool that
/// changes the store and exits (wisp-admin after a key change). Ensures the topic; returns
/// once the bus has accepted every message. Errors: the bus's.
[[nodiscard]] absl::Status AnnounceInvalidations(messaging::MessagingProvider& bus,
                                                 const CacheInvalidationConfig& config,
                                                 const std::vector<std::string>& main_ids);

}  // namespace wisp::cluster
