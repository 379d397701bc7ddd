#pragma once
// InvokeHandler: the routes that start activations over the REST API.
//   POST /api/v1/namespaces/{ns}/actions/[{pkg}/]{name}  invoke (?blocking, ?result, ?timeout)
//   POST /api/v1/namespaces/{ns}/triggers/{name}          fire: each active rule's action, a
//                                                         trigger record with a line per rule
// It checks the payload limit, the body, entitlement (through the EntityResolver) and the
// throttles, then hands the run to the Activator. It owns the trigger-fire rate throttle.
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activator.hpp"
#include "alarm_feed.hpp"
#include "call.hpp"
#include "entity_resolver.hpp"
#include "metrics.hpp"
#include "replier.hpp"
#include "throttler.hpp"
#include "trigger_firer.hpp"

namespace wisp::controller {

class InvokeHandler {
  public:
    /// Keeps references; all must outlive the handler.
    InvokeHandler(store::ArtifactStore& store, common::Clock& clock, const ControllerConfig& config,
                  Replier& replier, EntityResolver& resolver, Activator& activator,
                  TriggerFirer& firer, Metrics& metrics)
        : store_(store),
          clock_(clock),
          config_(config),
          replier_(replier),
          resolver_(resolver),
          activator_(activator),
          firer_(firer),
          metrics_(metrics) {}

    void InvokeAction(const CallPtr& call, const common::FullyQualifiedName& fqn);
    /// Invokes of the built-in /whisk.system/alarms feeds go to `feed` (not the Activator).
    void SetAlarmFeed(AlarmFeed* feed) { alarm_feed_ = feed; }
    void FireTrigger(const CallPtr& call, const common::FullyQualifiedName& fqn);
    /// Counts one fire of `who`'s namespace against its fire rate (this controller's share):
    /// ResourceExhausted (429) when over, counted in /metrics. The fire route and webhooks.
    [[nodiscard]] absl::Status CheckFireRate(const common::Identity& who);

  private:
    /// The blocking-invoke answer: 200/502/500 with the record or result, 202 when not done.
    void ReplyActivation(const CallPtr& call, const ActivateOutcome& out, bool result_only);

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const ControllerConfig& config_;
    Replier& replier_;
    EntityResolver& resolver_;
    Activator& activator_;
    TriggerFirer& firer_;
    AlarmFeed* alarm_feed_ = nullptr;  // null: the built-in feeds run as ordinary actions
    Metrics& metrics_;
    RateThrottler fire_rate_;
};

}  // namespace wisp::controller
