#pragma once
// LoadBalancer: how the controller hands an activation to an invoker and learns its outcome
// (wire §7). It picks an invoker, accounts the invoker's memory slots, publishes the
// ActivationMessage on the bus, matches the acks coming back and counts what is in flight per
// namespace (the concurrent-invocations throttle reads it).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/common/activation.hpp>

namespace wisp::loadbalancer {

/// What placement needs to know about the action being invoked.
struct ActionPlacement {
    /// The action's memory limit: the slot it takes on the invoker (per container when
    /// max_concurrency > 1).
    int64_t memory_mb = 256;
    /// "ns/pkg/name" (or "ns/name"); the sharding key together with the namespace.
    std::string fqn;
    /// The image must be pulled (docker exec): goes to the blackbox invokers.
    bool blackbox = false;
    /// The action's time limit; the forced completion timeout is derived from it.
    std::chrono::milliseconds timeout{60000};
    /// The action's limits.concurrency: activations one container runs at once. With more
    /// than 1, the sharding balancer takes memory per container, not per activation (wire §7
    /// "Slots"). < 1 counts as 1.
    int32_t max_concurrency = 1;
};

/// The outcome of one published activation, handed to the ResultCallback.
struct ActivationResult {
    /// OK when an ack arrived. DeadlineExceeded when the forced completion timeout fired
    /// before any result; Unavailable when the balancer shut down first.
    absl::Status status;
    std::string activation_id;
    /// The record from the ack (result without logs for a RESULT ack; complete for COMBINED).
    std::optional<common::ActivationRecord> record;
    /// OK but the ack carried no record (too large for the bus, or a Completion without a
    /// result): read the record from the store.
    bool record_in_store = false;
    /// The invoker flagged the response as a whisk internal error.
    bool is_system_error = false;
    /// The response's status as the ack names it (also without a record); unset from an
    /// invoker that does not say.
    std::optional<common::ActivationStatus> response_status;
};

/// Called exactly once per published activation (never when Publish() fails), on a balancer
/// thread (the ack feed, the timeout timer or the thread calling Shutdown()). Must not block.
using ResultCallback = std::function<void(ActivationResult)>;

/// An activation the balancer completed by force: no completion ack within the forced
/// completion timeout (wire §7; its invoker died, hangs or lost it). What the controller needs
/// to write its record (whisk internal error) when the invoker wrote none.
struct ForcedCompletion {
    std::string activation_id;
    std::string tid;
    /// From the ActivationMessage: the invoking identity and the action.
    std::string namespace_name;
    std::string subject;
    std::string action_path;  // "ns" or "ns/pkg"
    std::string action_name;
    std::string action_version;
    std::string cause;  // the enclosing sequence's activation id, or empty
    /// The namespace's limits want records (store_activations, or extra logging).
    bool store_record = true;
    /// Where it was published, e.g. 3 for "invoker3".
    int32_t invoker = 0;
    /// The forced completion timeout that passed.
    std::chrono::milliseconds timeout{0};
    /// A RESULT ack arrived before (a blocking caller got the result; the logs never came).
    bool result_received = false;
};

/// Fills a ForcedCompletion from the published message (what every balancer keeps per
/// activation in flight, without the arguments).
inline ForcedCompletion ForcedCompletionFor(const wisp::v1::ActivationMessage& msg, int32_t invoker,
                                            std::chrono::milliseconds timeout) {
    ForcedCompletion f;
    f.activation_id = msg.activation_id();
    f.tid = msg.transid().id();
    f.namespace_name = msg.user().namespace_name();
    f.subject = msg.user().subject();
    f.action_path = msg.action().path();
    f.action_name = msg.action().name();
    f.action_version = msg.action().version();
    f.cause = msg.cause();
    const auto& limits = msg.user().limits();
    f.store_record = !limits.has_store_activations() || limits.store_activations() ||
                     msg.transid().extra_logging();
    f.invoker = invoker;
    f.timeout = timeout;
    return f;
}

/// Called once per activation completed by force, whether or not it has a ResultCallback
/// (non-blocking ones have none), on the balancer's timer thread, before the ResultCallback
/// gets DeadlineExceeded. May block for a store write.
using ForcedCompletionHandler = std::function<void(const ForcedCompletion&)>;

struct InvokerHealthInfo {
    std::string name;    // "invoker0"
    std::string status;  // "up" | "unhealthy" | "unresponsive" | "down"
    bool operator==(const InvokerHealthInfo&) const = default;
};

/// The invoker memory a balancer places activations into (OpenWhisk's totalCapacity and
/// memoryInflight gauges), over the invokers usable now.
struct BalancerCapacity {
    int64_t total_mb = 0;   // slot memory of the usable invokers
    int64_t in_use_mb = 0;  // taken by activations in flight there
};

/// OpenWhisk's forced completion timeout: max(action timeout, 60 s) x 2 + 1 min.
std::chrono::milliseconds CompletionTimeout(std::chrono::milliseconds action_timeout);

class LoadBalancer {
  public:
    virtual ~LoadBalancer() = default;

    /// Places `msg` on an invoker and publishes it. Returns once it is on the bus (does not
    /// wait for the invoker). `on_result` (may be null, e.g. for non-blocking activations) is
    /// called once: when the result (RESULT or COMBINED ack) arrives, when only a COMPLETION
    /// arrives (record_in_store), when the forced completion timeout fires, or at Shutdown().
    /// The activation counts as in flight for its namespace (msg.user().namespace_uuid()) until
    /// its COMPLETION or COMBINED ack, the timeout or Shutdown(). Thread-safe.
    /// Errors: InvalidArgument (no activation id, or one already in flight), Unavailable (no
    /// invoker is up, shut down, or the bus refused the message), OutOfRange (the message is
    /// larger than the bus allows).
    [[nodiscard]] virtual absl::Status Publish(const ActionPlacement& action,
                                               wisp::v1::ActivationMessage msg,
                                               ResultCallback on_result) = 0;

    /// Keep-warm (invoker/README.md "Keep-warm"): publishes `msg`, a keep-warm order
    /// (`msg.keep_warm()` set), to the action's HOME invoker — the one its activations go to
    /// first (the sharding balancer's first usable invoker in the action's probe order; the
    /// round-robin balancer's usable invoker chosen by the same hash) — without taking a slot,
    /// counting it in flight or expecting an ack. Returns that invoker's instance. Unavailable
    /// when no invoker is usable; Unimplemented by balancers without it. Thread-safe.
    [[nodiscard]] virtual absl::StatusOr<int32_t> PublishKeepWarm(
        const ActionPlacement& /*action*/, wisp::v1::ActivationMessage /*msg*/) {
        return absl::UnimplementedError("this load balancer cannot keep actions warm");
    }

    /// Activations of the namespace (by uuid) in flight. Thread-safe, never blocks for long.
    virtual int64_t ActiveActivationsFor(std::string_view namespace_uuid) const = 0;
    /// Activations in flight in total. Thread-safe.
    virtual int64_t TotalActiveActivations() const = 0;
    /// One entry per known invoker, in instance order. Thread-safe.
    virtual std::vector<InvokerHealthInfo> InvokerHealth() const = 0;
    /// The memory capacity of the usable invokers and what of it is taken (the metrics'
    /// gauges); nullopt when the policy accounts none. Thread-safe, never blocks for long.
    virtual std::optional<BalancerCapacity> Capacity() const { return std::nullopt; }

    /// The handler of every forced completion (null: none). The controller writes the record of
    /// an activation that has none there (create-only), so an accepted activation always ends
    /// with exactly one record. Replacing it (with null at the owner's teardown) waits until
    /// running calls of the old handler have returned. Thread-safe.
    virtual void SetForcedCompletionHandler(ForcedCompletionHandler handler) = 0;

    /// Stops consuming acks, fails every pending callback with Unavailable and refuses further
    /// Publish() calls. Blocks until the balancer's threads have stopped. Idempotent.
    virtual void Shutdown() = 0;
};

}  // namespace wisp::loadbalancer
