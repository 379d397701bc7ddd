#pragma once
// RoundRobinBalancer: N invokers behind the bus, taken in turn (OpenWhisk's classic balancer's
// slot accounting and ack handling, without its sharding and health FSM, which are the
// sharding balancer's).
//
//   invokers: `invokers` configured (instances, each with invoker_user_memory_mb), or, when
//            none are configured, discovered from the PingMessages on "<prefix>health" (each
//            with the user memory its pings announce);
//   alive:   without expect_pings every configured invoker is alive; with it, an invoker is
//            alive while its pings arrive within ping_timeout (a configured list then only
//            filters which instances are used);
//   Publish: the next alive invoker after the last one used whose free memory fits the action;
//            when none fits, the next alive invoker by force (overload: the invoker buffers,
//            the request never fails for memory); none alive -> Unavailable ("No invokers
//            available."). The serialized ActivationMessage goes to "<prefix>invoker<N>";
//   acks:    a MessageFeed on "<prefix>completed<controller id>": RESULT -> callback;
//            COMPLETION -> the invoker's slot freed, in-flight count decremented (callback with
//            record_in_store if no result came); COMBINED -> both. Acks for activations no
//            longer in flight (duplicates) are ignored;
//   timeout: an activation without a completion after CompletionTimeout(action timeout) is
//            completed by force (slot freed, callback with DeadlineExceeded).
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
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::loadbalancer {

struct RoundRobinBalancerConfig {
    /// This controller's id: acks come back on "<prefix>completed<controller_id>".
    std::string controller_id = "0";
    /// Prepended to every topic name (OpenWhisk's topics.prefix).
    std::string topic_prefix;
    /// The user memory (MB) of each configured invoker: the slots activations take.
    int64_t invoker_user_memory_mb = 2048;
    /// The invoker instances to use. Empty: every invoker that pings (needs expect_pings).
    std::vector<int32_t> invokers;
    /// Track invoker health by PingMessages on "<prefix>health"; off for in-process invokers
    /// that send none (then every configured invoker is alive).
    bool expect_pings = false;
    /// Without a ping for this long an invoker is "down" and gets no work.
    std::chrono::milliseconds ping_timeout{10000};
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

class RoundRobinBalancer final : public LoadBalancer {
  public:
    /// Ensures the topics, subscribes to the acks (and pings) and starts the feeds and the
    /// timer. `bus` must outlive the balancer. Errors: InvalidArgument (no invokers configured
    /// and no pings expected), those of EnsureTopic.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<RoundRobinBalancer>> Create(
        messaging::MessagingProvider& bus, RoundRobinBalancerConfig config);

    /// Shutdown().
    ~RoundRobinBalancer() override;
    RoundRobinBalancer(const RoundRobinBalancer&) = delete;
    RoundRobinBalancer& operator=(const RoundRobinBalancer&) = delete;

    [[nodiscard]] absl::Status Publish(const ActionPlacement& action,
                                       wisp::v1::ActivationMessage msg,
                                       ResultCallback on_result) override;
    int64_t ActiveActivationsFor(std::string_view namespace_uuid) const override;
    int64_t TotalActiveActivations() const override;
    std::vector<InvokerHealthInfo> InvokerHealth() const override;
    void Shutdown() override;

    /// Completes by force every activation whose completion timeout has passed on the clock;
    /// returns how many. Thread-safe (the timer thread calls it too).
    int ExpireOverdue();

    /// Memory of invoker `instance` not taken by activations in flight; negative when
    /// overloaded; 0 for an unknown invoker.
    int64_t FreeMemoryMb(int32_t instance) const;
    /// Activations in flight on invoker `instance`.
    int64_t ActiveActivationsOn(int32_t instance) const;
    /// Publishes whose memory did not fit on any alive invoker and were placed by force.
    int64_t ForcedAcquisitions() const;

    /// "<prefix>invoker<instance>".
    std::string invoker_topic(int32_t instance) const;
    const std::string& ack_topic() const { return ack_topic_; }

  private:
    struct Invoker {
        int64_t user_memory_mb = 0;
        int64_t free_memory_mb = 0;
        int64_t active = 0;
        std::optional<int64_t> last_ping_ns;  // clock MonotonicNs
    };
    struct InFlight {
        int32_t invoker = 0;
        std::string namespace_uuid;
        int64_t memory_mb = 0;
        ResultCallback on_result;  // null once called
        int64_t deadline_ns = 0;   // clock MonotonicNs
        std::multimap<int64_t, std::string>::iterator timer;
    };

    RoundRobinBalancer(messaging::MessagingProvider& bus, RoundRobinBalancerConfig config);
    [[nodiscard]] absl::Status Start();
    void OnAck(messaging::Message message);
    void OnPing(messaging::Message message);
    void TimerLoop();
    /// Removes `id` from the in-flight state (slot, counts, timer); mu_ held.
    void CompleteLocked(std::unordered_map<std::string, InFlight>::iterator it);
    std::chrono::milliseconds CompletionTimeoutFor(const ActionPlacement& action) const;
    bool AliveLocked(const Invoker& invoker) const;
    /// The invoker for `memory_mb` (round robin, first fit, else forced); nullopt when none is
    /// alive. Sets `forced` when the memory did not fit. mu_ held.
    std::optional<int32_t> PickLocked(int64_t memory_mb, bool& forced);

    messaging::MessagingProvider& bus_;
    const RoundRobinBalancerConfig config_;
    common::Clock& clock_;
    const std::string ack_topic_;
    const std::string health_topic_;
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::unique_ptr<messaging::MessageFeed> ack_feed_;
    std::unique_ptr<messaging::MessageFeed> ping_feed_;

    mutable std::mutex mu_;
    std::condition_variable timer_cv_;
    bool shutdown_ = false;
    std::map<int32_t, Invoker> invokers_;                     // by instance, in order
    std::optional<int32_t> last_used_;                        // the round robin's position
    std::unordered_map<std::string, InFlight> in_flight_;     // by activation id
    std::unordered_map<std::string, int64_t> per_namespace_;  // uuid -> in flight
    std::multimap<int64_t, std::string> deadlines_;           // deadline_ns -> id
    int64_t forced_acquisitions_ = 0;
    std::thread timer_thread_;
};

}  // namespace wisp::loadbalancer
