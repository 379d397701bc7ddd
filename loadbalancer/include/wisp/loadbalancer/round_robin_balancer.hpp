#pragma once
// RoundRobinBalancer: N invokers behind the bus, taken in turn (OpenWhisk's classic balancer's
// slot accounting and ack handling, without its sharding and health FSM, which are the
// sharding balancer's).
//
//   invokers: `invokers` configured (instances, each with invoker_user_memory_mb), or, when
//            none are configured, discovered from the PingMessages on "<prefix>health" (each
//            with the user memory its pings announce);
//   alive:   without expect_pings every configured invoker is alive; with it, an invoker is
//            alive while its pings arrive within ping_timeout and its last ping says
//            is_enabled (false: an operator drained it); a configured list then only filters
//            which instances are used;
//   Publish: the next alive invoker after the last one used whose free memory fits the action;
//            when none fits, the next alive invoker by force (overload: the invoker buffers,
//            the request never fails for memory); none alive -> Unavailable ("No invokers
//            available."). The serialized ActivationMessage goes to "<prefix>invoker<N>";
//   acks, timeout: CommonBalancer's (completions and the forced timeout free the slot).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/loadbalancer/common_balancer.hpp>
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

class RoundRobinBalancer final : public CommonBalancer {
  public:
    /// Ensures the topics, subscribes to the acks (and pings) and starts the feeds and the
    /// timer. `bus` must outlive the balancer. Errors: InvalidArgument (no invokers configured
    /// and no pings expected), those of EnsureTopic.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<RoundRobinBalancer>> Create(
        messaging::MessagingProvider& bus, RoundRobinBalancerConfig config);

    /// Shutdown().
    ~RoundRobinBalancer() override;

    /// Memory of invoker `instance` not taken by activations in flight; negative when
    /// overloaded; 0 for an unknown invoker.
    int64_t FreeMemoryMb(int32_t instance) const;

  private:
    struct Invoker {
        int64_t user_memory_mb = 0;
        int64_t free_memory_mb = 0;
        std::optional<int64_t> last_ping_ns;  // clock MonotonicNs
        bool enabled = true;                  // the last ping's is_enabled
    };

    RoundRobinBalancer(messaging::MessagingProvider& bus, RoundRobinBalancerConfig config);
    /// The alive invoker at ShardingHash(namespace, action) % alive count (instance order).
    std::optional<int32_t> HomeInvokerLocked(const ActionPlacement& action,
                                             const wisp::v1::ActivationMessage& msg) override;
    std::optional<int32_t> PlaceLocked(const ActionPlacement& action, const SlotRequest& slot,
                                       const wisp::v1::ActivationMessage& msg,
                                       bool& forced) override;
    void ReleaseLocked(int32_t invoker, const SlotRequest& slot) override;
    void OnPingLocked(const wisp::v1::PingMessage& ping) override;
    std::vector<InvokerHealthInfo> InvokerHealthLocked() const override;
    bool AliveLocked(const Invoker& invoker) const;

    const RoundRobinBalancerConfig config_;
    std::map<int32_t, Invoker> invokers_;  // by instance, in order
    std::optional<int32_t> last_used_;     // the round robin's position
};

}  // namespace wisp::loadbalancer
