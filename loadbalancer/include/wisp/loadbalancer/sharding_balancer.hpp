#pragma once
// ShardingContainerPoolBalancer: OpenWhisk's classic balancer (wire §7) over the bus.
//
//   invokers: discovered from their PingMessages on "<prefix>health" (instance ids index the
//            invokers; a gap below a pinging id is an invoker that never pinged: "down"), each
//            with the user memory its pings announce; `invokers` configured = only those; a
//            ping sent (its sent_at_ms) more than 3 ping timeouts ago is history and ignored;
//   slots:   per invoker max(128, user memory / cluster_size()) MB (the live controllers share
//            every invoker), recomputed when the cluster size changes (what is in use stays);
//            an action's limits.memory per activation, or with limits.concurrency c > 1 per
//            container of c activations (OpenWhisk's NestedSemaphore, keyed by the action's
//            name@version: ShardingPlacement's "slots");
//   health:  one InvokerHealthTracker per invoker (Healthy / Unhealthy / Unresponsive /
//            Offline), fed by the pings, by the outcome of every activation placed here
//            (completion: Success or SystemError; forced completion: Timeout) and by the health
//            test action `whisk.system/invokerHealthTestAction<controller id>`, which the
//            balancer publishes straight to the invoker (non-blocking, tid sid_invokerHealth,
//            not in flight: its completion ack is recognized by the tid). The action must exist
//            in the store (EnsureHealthTestAction in the controller creates it);
//   Publish: ShardingPlacement (sharding_placement.hpp): the home invoker by hash of the
//            invoking namespace and the action, co-prime step probing over the Healthy
//            invokers of the managed (or blackbox) subset, else forced onto a random Healthy
//            one; none Healthy -> Unavailable "No invokers available." (the controller's 503);
//   acks, timeout: CommonBalancer's (completions and the forced timeout free the slots: the
//            permit, and the container's memory once its c permits are all free).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/loadbalancer/common_balancer.hpp>
#include <wisp/loadbalancer/invoker_health.hpp>
#include <wisp/loadbalancer/sharding_placement.hpp>

namespace wisp::loadbalancer {

/// OpenWhisk's health test action and its transaction id.
inline constexpr std::string_view kHealthActionNamespace = "whisk.system";
inline constexpr std::string_view kHealthActionPrefix = "invokerHealthTestAction";
inline constexpr std::string_view kHealthTransactionId = "sid_invokerHealth";
/// "invokerHealthTestAction<controller id>".
std::string HealthTestActionName(std::string_view controller_id);

struct ShardingBalancerConfig {
    /// Controller id, topics, timeouts, clock, ack feed.
    CommonBalancerConfig common;
    /// The invoker instances to use. Empty: every invoker that pings.
    std::vector<int32_t> invokers;
    /// User memory of an invoker whose pings announce none.
    int64_t default_user_memory_mb = 2048;
    /// The number of live controllers sharing the invokers' memory; null = 1. Called under the
    /// balancer's lock at every publish and ping: must be cheap and must not call the balancer.
    std::function<int()> cluster_size;
    /// Ping timeout, test action period, ring buffer.
    InvokerHealthConfig health;
    /// Publish the health test action (off: an invoker becomes Healthy only from the outcomes
    /// of user activations, which it never gets; tests of placement alone switch it off and
    /// call MarkHealthy).
    bool send_test_actions = true;
    /// Seed of the random choice of a forced placement; unset = random.
    std::optional<uint64_t> seed;
};

class ShardingContainerPoolBalancer final : public CommonBalancer {
  public:
    /// Ensures the topics, subscribes to the acks and pings and starts the feeds and the
    /// timer. `bus` must outlive the balancer. Errors: those of EnsureTopic.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<ShardingContainerPoolBalancer>> Create(
        messaging::MessagingProvider& bus, ShardingBalancerConfig config);

    /// Shutdown().
    ~ShardingContainerPoolBalancer() override;

    /// Slot memory of invoker `instance` not taken (negative when overloaded); 0 if unknown.
    int64_t FreeMemoryMb(int32_t instance) const;
    /// The slot capacity of invoker `instance` (user memory / cluster size, at least 128).
    int64_t SlotCapacityMb(int32_t instance) const;
    /// Containers (memory reservations) that `action` ("ns/pkg/name@version", or without
    /// "@version" when the messages carry none) with limits.concurrency > 1 holds on invoker
    /// `instance`, and their free concurrency permits.
    int64_t ConcurrentContainers(int32_t instance, std::string_view action) const;
    int64_t FreeConcurrencyPermits(int32_t instance, std::string_view action) const;
    /// The health state of invoker `instance` now (Offline if unknown).
    InvokerState StateOf(int32_t instance) const;
    /// Health test actions published so far.
    int64_t HealthTestsSent() const;
    /// Healthy invokers now (GET /invokers/healthy/count).
    int32_t HealthyCount() const;
    /// Slot memory of the Healthy invokers and what activations take of it.
    std::optional<BalancerCapacity> Capacity() const override;

  private:
    struct Invoker {
        bool known = false;  // pinged at least once
        std::string name;    // OpenWhisk's InvokerInstanceId.toString: "invoker0/0"
        int64_t user_memory_mb = 0;
        InvokerHealthTracker health;
    };

    ShardingContainerPoolBalancer(messaging::MessagingProvider& bus, ShardingBalancerConfig config);
    /// The first Healthy invoker of the action's probe order (memory not considered).
    std::optional<int32_t> HomeInvokerLocked(const ActionPlacement& action,
                                             const wisp::v1::ActivationMessage& msg) override;
    std::optional<int32_t> PlaceLocked(const ActionPlacement& action, const SlotRequest& slot,
                                       const wisp::v1::ActivationMessage& msg,
                                       bool& forced) override;
    void ReleaseLocked(int32_t invoker, const SlotRequest& slot) override;
    void OnPingLocked(const wisp::v1::PingMessage& ping) override;
    std::vector<InvokerHealthInfo> InvokerHealthLocked() const override;
    void OnOutcomeLocked(int32_t invoker, InvocationOutcome outcome) override;
    void OnUntrackedAckLocked(const wisp::v1::AcknowledgementMessage& ack) override;

    /// Makes invokers_ and placement_ hold `instance`.
    void GrowLocked(int32_t instance);
    /// Applies a changed cluster size to every invoker's slots.
    void RefreshCapacityLocked();
    int64_t SlotFor(int64_t user_memory_mb) const;
    /// Copies every tracker's Usable() into placement_.
    void RefreshHealthLocked(int64_t now_ns);
    /// Queues the health test action for `instance`.
    void SendTestActionLocked(int32_t instance);
    /// Logs a state change of `instance` from `before`.
    void LogTransitionLocked(int32_t instance, InvokerState before, int64_t now_ns) const;

    const ShardingBalancerConfig config_;
    std::vector<Invoker> invokers_;  // by instance
    ShardingPlacement placement_{{}};
    int cluster_size_ = 1;
    std::mt19937_64 rng_;
    std::string health_uuid_;  // the synthetic whisk.system identity's uuid
    int64_t tests_sent_ = 0;
};

}  // namespace wisp::loadbalancer
