#pragma once
// SingleInvokerBalancer: one invoker (instance 0) behind the bus — `wisp standalone` and small
// deployments (OpenWhisk's LeanBalancer, with the classic balancer's slot accounting and ack
// handling).
//
//   Publish: take the action's memory from the invoker's slots (force it when it does not fit:
//            the invoker buffers, the request never fails for lack of memory), publish the
//            serialized ActivationMessage on "<prefix>invoker0";
//   acks:    a MessageFeed on "<prefix>completed<controller id>" (serialized
//            AcknowledgementMessage): RESULT -> callback; COMPLETION -> slot freed, in-flight
//            count decremented (callback with record_in_store if no result came); COMBINED ->
//            both. Acks for activations no longer in flight (duplicates) are ignored;
//   timeout: an activation without a completion after CompletionTimeout(action timeout) is
//            completed by force (slot freed, callback with DeadlineExceeded);
//   health:  with expect_pings, "up" while PingMessages from invoker 0 arrive on
//            "<prefix>health" within ping_timeout, else "down" (then Publish answers
//            Unavailable); without, always "up".
//
// A RoundRobinBalancer with the one configured invoker 0.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/loadbalancer/round_robin_balancer.hpp>
#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::loadbalancer {

struct SingleInvokerBalancerConfig {
    /// This controller's id: acks come back on "<prefix>completed<controller_id>".
    std::string controller_id = "0";
    /// Prepended to every topic name (OpenWhisk's topics.prefix).
    std::string topic_prefix;
    /// The invoker's user memory (MB): the slots activations take.
    int64_t invoker_user_memory_mb = 2048;
    /// Track invoker health by PingMessages on "<prefix>health"; off for in-process invokers
    /// that send none (then the invoker is always "up").
    bool expect_pings = false;
    /// Without a ping for this long the invoker is "down".
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

class SingleInvokerBalancer final : public LoadBalancer {
  public:
    /// Ensures the topics, subscribes to the acks (and pings) and starts the feeds and the
    /// timer. `bus` must outlive the balancer. Errors: those of EnsureTopic.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<SingleInvokerBalancer>> Create(
        messaging::MessagingProvider& bus, SingleInvokerBalancerConfig config);

    /// Shutdown().
    ~SingleInvokerBalancer() override;
    SingleInvokerBalancer(const SingleInvokerBalancer&) = delete;
    SingleInvokerBalancer& operator=(const SingleInvokerBalancer&) = delete;

    [[nodiscard]] absl::Status Publish(const ActionPlacement& action,
                                       wisp::v1::ActivationMessage msg,
                                       ResultCallback on_result) override {
        return impl_->Publish(action, std::move(msg), std::move(on_result));
    }
    int64_t ActiveActivationsFor(std::string_view namespace_uuid) const override {
        return impl_->ActiveActivationsFor(namespace_uuid);
    }
    int64_t TotalActiveActivations() const override { return impl_->TotalActiveActivations(); }
    std::vector<InvokerHealthInfo> InvokerHealth() const override { return impl_->InvokerHealth(); }
    void Shutdown() override { impl_->Shutdown(); }

    /// Completes by force every activation whose completion timeout has passed on the clock;
    /// returns how many. Thread-safe (the timer thread calls it too).
    int ExpireOverdue() { return impl_->ExpireOverdue(); }

    /// Invoker memory not taken by activations in flight; negative when overloaded.
    int64_t FreeMemoryMb() const { return impl_->FreeMemoryMb(0); }
    /// Publishes whose memory did not fit and was taken by force.
    int64_t ForcedAcquisitions() const { return impl_->ForcedAcquisitions(); }

    const std::string& invoker_topic() const { return invoker_topic_; }
    const std::string& ack_topic() const { return impl_->ack_topic(); }

  private:
    explicit SingleInvokerBalancer(std::unique_ptr<RoundRobinBalancer> impl)
        : impl_(std::move(impl)), invoker_topic_(impl_->invoker_topic(0)) {}

    std::unique_ptr<RoundRobinBalancer> impl_;
    const std::string invoker_topic_;
};

}  // namespace wisp::loadbalancer
