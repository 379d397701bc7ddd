#pragma once
// CommonBalancer: what every bus-backed balancer policy shares (OpenWhisk's CommonLoadBalancer):
// publishing the ActivationMessage on "<prefix>invoker<N>", the ack feed on
// "<prefix>completed<controller id>", the in-flight table with per-namespace and per-invoker
// counts, the forced completion timeout, the ping feed on "<prefix>health" and Shutdown().
// A policy (RoundRobinBalancer, ShardingContainerPoolBalancer) derives from it and supplies,
// under the base's lock, where an activation goes and what its invokers' health is:
//
//   acks:    RESULT -> callback; COMPLETION -> slot released (ReleaseLocked, with the
//            SlotRequest PlaceLocked acquired: action@version, concurrency, memory), in-flight
//            counts decremented, outcome reported (OnOutcomeLocked: Success or SystemError),
//            callback with record_in_store if no result came; COMBINED -> both. Acks for
//            activations not in flight go to OnUntrackedAckLocked (the health test action's, or
//            duplicates);
//   timeout: an activation without a completion after CompletionTimeout(action timeout) is
//            completed by force (slot released, outcome Timeout, the ForcedCompletionHandler
//            called — for every activation, with or without a callback —, then the callback
//            with DeadlineExceeded).
//
// A policy's destructor must call Shutdown() (the hooks are virtual).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include <wisp/common/clock.hpp>
#include <wisp/loadbalancer/invoker_health.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::loadbalancer {

struct CommonBalancerConfig {
    /// This controller's id: acks come back on "<prefix>completed<controller_id>".
    std::string controller_id = "0";
    /// Prepended to every topic name (OpenWhisk's topics.prefix).
    std::string topic_prefix;
    /// The forced completion timeout for every activation; unset = CompletionTimeout(the
    /// action's timeout), OpenWhisk's rule. Tests set a short one.
    std::optional<std::chrono::milliseconds> completion_timeout;
    /// Run a timer thread that fires forced completions. Off: the owner calls ExpireOverdue()
    /// (tests with a ManualClock).
    bool timeout_thread = true;
    /// Time source for timeouts and ping ages; null = the system clock. Must outlive the
    /// balancer.
    common::Clock* clock = nullptr;
    /// Ack feed: batch size and long poll (OpenWhisk: 128, 1 s).
    int ack_max_peek = 128;
    std::chrono::milliseconds ack_long_poll{1000};
};

/// What one activation takes from its invoker's slots: PlaceLocked acquires it, ReleaseLocked
/// gives the same back (completion, forced timeout, shutdown).
struct SlotRequest {
    /// The concurrency slots' key: the action's fully qualified name with its version,
    /// "ns/pkg/name@0.0.1" (OpenWhisk's fullyQualifiedName(true)); activations of another
    /// version run in other containers.
    std::string action;
    /// limits.concurrency, at least 1.
    int32_t max_concurrency = 1;
    /// limits.memory, at least 0.
    int64_t memory_mb = 0;
};

class CommonBalancer : public LoadBalancer {
  public:
    ~CommonBalancer() override;
    CommonBalancer(const CommonBalancer&) = delete;
    CommonBalancer& operator=(const CommonBalancer&) = delete;

    [[nodiscard]] absl::Status Publish(const ActionPlacement& action,
                                       wisp::v1::ActivationMessage msg,
                                       ResultCallback on_result) final;
    [[nodiscard]] absl::StatusOr<int32_t> PublishKeepWarm(const ActionPlacement& action,
                                                          wisp::v1::ActivationMessage msg) final;
    int64_t ActiveActivationsFor(std::string_view namespace_uuid) const final;
    int64_t TotalActiveActivations() const final;
    std::vector<InvokerHealthInfo> InvokerHealth() const final;
    void SetForcedCompletionHandler(ForcedCompletionHandler handler) final;
    void Shutdown() final;

    /// Completes by force every activation whose completion timeout has passed on the clock;
    /// returns how many. Thread-safe (the timer thread calls it too).
    int ExpireOverdue();
    /// Activations in flight on invoker `instance`.
    int64_t ActiveActivationsOn(int32_t instance) const;
    /// Publishes whose memory did not fit on any usable invoker and were placed by force.
    int64_t ForcedAcquisitions() const;

    /// "<prefix>invoker<instance>".
    std::string invoker_topic(int32_t instance) const;
    const std::string& ack_topic() const { return ack_topic_; }
    const std::string& health_topic() const { return health_topic_; }

  protected:
    CommonBalancer(messaging::MessagingProvider& bus, CommonBalancerConfig config);

    /// Ensures the topics of `invokers`, the ack topic (and "health" with `pings`), subscribes
    /// to the acks (and pings) and starts the feeds and the timer. Call once, from the
    /// policy's Create().
    [[nodiscard]] absl::Status StartFeeds(const std::vector<int32_t>& invokers, bool pings);

    // Policy hooks, called with mu_ held; they must not block.
    /// Chooses the invoker for `action` and takes `slot` there; nullopt when no invoker is
    /// usable. Sets `forced` when the memory did not fit anywhere (overload).
    virtual std::optional<int32_t> PlaceLocked(const ActionPlacement& action,
                                               const SlotRequest& slot,
                                               const wisp::v1::ActivationMessage& msg,
                                               bool& forced) = 0;
    /// The home invoker of `action` for `msg`'s namespace (PublishKeepWarm): where its
    /// activations go first while it is usable; nullopt when no invoker is usable. Takes
    /// nothing.
    virtual std::optional<int32_t> HomeInvokerLocked(const ActionPlacement& action,
                                                     const wisp::v1::ActivationMessage& msg) = 0;
    /// Gives back the `slot` an activation took on `invoker` (completion, timeout, shutdown).
    virtual void ReleaseLocked(int32_t invoker, const SlotRequest& slot) = 0;
    /// A ping arrived on "health".
    virtual void OnPingLocked(const wisp::v1::PingMessage& ping) = 0;
    /// One entry per known invoker, in instance order.
    virtual std::vector<InvokerHealthInfo> InvokerHealthLocked() const = 0;
    /// An activation placed on `invoker` finished (completion ack) or was completed by force.
    virtual void OnOutcomeLocked(int32_t /*invoker*/, InvocationOutcome /*outcome*/) {}
    /// An ack for an activation not in flight (a health test action's, or a duplicate).
    virtual void OnUntrackedAckLocked(const wisp::v1::AcknowledgementMessage& /*ack*/) {}

    /// Queues a message to send once mu_ is released (by the base, after the hook returns).
    void SendLaterLocked(std::string topic, std::string payload);
    /// Sends what SendLaterLocked queued. Call without mu_ (the base does after its hooks).
    void FlushOutbox();

    messaging::MessagingProvider& bus_;
    const CommonBalancerConfig common_config_;
    common::Clock& clock_;
    mutable std::mutex mu_;

  private:
    struct InFlight {
        int32_t invoker = 0;
        std::string namespace_uuid;
        SlotRequest slot;
        ResultCallback on_result;  // null once called
        ForcedCompletion forced;   // what the forced completion handler gets
        int64_t deadline_ns = 0;   // clock MonotonicNs
        std::multimap<int64_t, std::string>::iterator timer;
    };

    void OnAck(messaging::Message message);
    void OnPing(messaging::Message message);
    void TimerLoop();
    /// Removes `id` from the in-flight state (slot, counts, timer); mu_ held.
    void CompleteLocked(std::unordered_map<std::string, InFlight>::iterator it);
    std::chrono::milliseconds CompletionTimeoutFor(const ActionPlacement& action) const;

    const std::string ack_topic_;
    const std::string health_topic_;
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::unique_ptr<messaging::MessageFeed> ack_feed_;
    std::unique_ptr<messaging::MessageFeed> ping_feed_;

    std::condition_variable timer_cv_;
    bool shutdown_ = false;
    // The forced completion handler and how many calls of it run (mu_).
    ForcedCompletionHandler forced_handler_;
    int forced_calls_running_ = 0;
    std::condition_variable forced_cv_;
    std::unordered_map<std::string, InFlight> in_flight_;      // by activation id
    std::unordered_map<std::string, int64_t> per_namespace_;   // uuid -> in flight
    std::map<int32_t, int64_t> per_invoker_;                   // instance -> in flight
    std::multimap<int64_t, std::string> deadlines_;            // deadline_ns -> id
    std::vector<std::pair<std::string, std::string>> outbox_;  // topic, payload
    int64_t forced_acquisitions_ = 0;
    // The overload warning: at most one per kForcedWarningIntervalNs, saying how many forced
    // placements went unlogged since the previous one.
    static constexpr int64_t kForcedWarningIntervalNs = 1'000'000'000;
    int64_t forced_last_warning_ns_ = -1;
    int64_t forced_unlogged_ = 0;
    std::thread timer_thread_;
};

}  // namespace wisp::loadbalancer
