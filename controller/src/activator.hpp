#pragma once
// Activator: runs an action once the caller is allowed to. Activate() publishes one atomic
// action through the LoadBalancer and, for a blocking call, waits for its result ack (on the
// TimerQueue it owns) up to the request's wait; RunSequence() runs a sequence's components one
// after another (OpenWhisk's SequenceActions: results piped, the first failure stops, the
// sequence's own record stored here). CheckInvokeThrottles() is the per-namespace invocation
// rate (its RateThrottler) and concurrency check. Used by InvokeHandler (invoke, trigger fire)
// and WebHandler. Thread-safe.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <absl/status/status.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activation_journal.hpp"
#include "entity_resolver.hpp"
#include "metrics.hpp"
#include "throttler.hpp"
#include "timer_queue.hpp"

namespace wisp::controller {

/// What an activation needs besides the action.
struct ActivateRequest {
    common::Identity user;
    ResolvedAction resolved;
    std::string content_json = "{}";  // merged arguments
    bool blocking = false;            // wait for the result
    std::chrono::milliseconds wait{60000};
    std::optional<common::ActivationId> cause;
    std::string tid;
    int64_t received_ms = 0;
    std::optional<common::ActivationId> activation_id;  // preset id (else generated)
};

struct ActivateOutcome {
    absl::Status status;  // publish failed (503, 429 ...): nothing ran
    common::ActivationId activation_id;
    std::optional<common::ActivationRecord> record;  // blocking and finished in time
};

using ActivateDone = std::function<void(ActivateOutcome)>;

/// `params` overlaid by the members of `args` (an object); an array passes through as is.
std::string MergeArguments(const common::Parameters& params,
                           const std::optional<common::JsonValue>& args);
/// The parameters an action's arguments start from (a sequence's `_actions` stays out).
common::Parameters ArgumentParams(const common::Action& a);

/// What one topmost sequence has run so far, nested sequences included (activator.cpp).
struct SequenceBudget;

class Activator {
  public:
    /// Keeps references; all must outlive the activator. With a `journal`, every activation is
    /// journaled before it is published (a failed journal write refuses it: 503).
    Activator(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
              const common::RuntimeManifest& manifest, common::Clock& clock,
              const ControllerConfig& config, EntityResolver& resolver, Metrics& metrics,
              ActivationJournal* journal = nullptr)
        : store_(store),
          balancer_(balancer),
          manifest_(manifest),
          clock_(clock),
          config_(config),
          resolver_(resolver),
          metrics_(metrics),
          journal_(journal) {
        balancer_.SetForcedCompletionHandler(
            [this](const loadbalancer::ForcedCompletion& f) { OnForcedCompletion(f); });
    }
    /// Detaches from the balancer's forced completions (waits for a running one).
    ~Activator() { balancer_.SetForcedCompletionHandler(nullptr); }
    Activator(const Activator&) = delete;
    Activator& operator=(const Activator&) = delete;

    /// Publishes one atomic action; `done` runs once (at once for non-blocking, else with the
    /// record or at the wait's end). No throttles here.
    void Activate(ActivateRequest req, ActivateDone done);
    /// Runs a sequence action (a topmost one); `done` gets the sequence's record (or only its
    /// id when the wait ran out first; the sequence continues and is stored when it ends).
    /// Counts the sequence's record in the metrics (Activate() counts every atomic one).
    void RunSequence(ActivateRequest req, ActivateDone done);
    /// Invocation throttles of `who`: per minute, then concurrency. Counts a 429.
    [[nodiscard]] absl::Status CheckInvokeThrottles(const common::Identity& who);
    /// The balancer completed an activation by force (wire §7: no completion within its
    /// timeout): writes its record — whisk internal error, naming the invoker and the timeout —
    /// unless one exists (create-only: the invoker's late result and this never both exist).
    /// Blocks for the store write. Called on the balancer's timer thread.
    void OnForcedCompletion(const loadbalancer::ForcedCompletion& forced);
    /// A record this controller could not store (e.g. a trigger's, the store being down): the
    /// journal retries it until stored (without a journal: only logged). Thread-safe.
    void StoreLater(const common::ActivationRecord& record) {
        if (journal_ != nullptr) journal_->StoreLater(record);
    }
    /// Keep-warm (KeepWarm, keep_warm.hpp): publishes the order to hold `count` initialised
    /// containers of `action` at `revision` for `who`'s namespace, valid for `ttl`, to the
    /// action's home invoker (LoadBalancer::PublishKeepWarm). Returns that invoker.
    [[nodiscard]] absl::StatusOr<int32_t> PublishKeepWarm(const common::Identity& who,
                                                          const common::Action& action,
                                                          const std::string& revision, int count,
                                                          std::chrono::milliseconds ttl);
    /// Waiting blocking invokes answer now (their id: 202); running sequences stop before
    /// their next component. Idempotent.
    void Shutdown();

  private:
    /// `budget` is shared by a topmost sequence and the sequences nested in it (null: a
    /// topmost one): it counts the atomic actions run, at most SystemLimits::sequence_max_length
    /// (OpenWhisk's dynamic count), whatever the stored documents say.
    void RunSequence(ActivateRequest req, int depth, ActivateDone done,
                     std::shared_ptr<SequenceBudget> budget);
    /// Counts one atomic activation's outcome in the metrics (wisp_activations_total).
    void CountOutcome(const std::string& ns, const std::string& action,
                      const loadbalancer::ActivationResult& result);

    store::ArtifactStore& store_;
    loadbalancer::LoadBalancer& balancer_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ControllerConfig& config_;
    EntityResolver& resolver_;
    Metrics& metrics_;
    ActivationJournal* journal_;  // null: no journal
    RateThrottler invoke_rate_;
    TimerQueue timers_;
    std::atomic<bool> shutting_down_{false};
};

}  // namespace wisp::controller
