#pragma once
// TriggerFirer: fires a trigger for its owner — each active rule's action is activated with the
// trigger's parameters < {"__ow_headers"} < the fire arguments, and a trigger activation record
// with one log line per rule is stored (wire §4). Used by the REST fire route (InvokeHandler),
// the alarm scheduler and the webhook route; each checks its caller's entitlement, limits and
// rate before calling Fire().
//
// A firing with a preset activation id (a scheduled one) is idempotent: if a record with that
// id is stored, nothing is activated again; the rules' activations get ids derived from it
// (DeriveRuleActivationId), so firing the same id again after a crash half-way re-publishes the
// same activation ids, and the store keeps one record per id (records are created only if
// absent). An action may then run twice; it never leaves two records.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/json.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activator.hpp"
#include "entity_resolver.hpp"

namespace wisp::controller {

struct FireRequest {
    common::Identity who;  // the trigger's owner (its namespace holds the trigger)
    common::FullyQualifiedName trigger;
    std::optional<common::JsonValue> args;  // a JSON object (the fire body), or none
    /// Request headers passed to the rules' actions as `__ow_headers` (Authorization never is).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string tid;
    int64_t received_ms = 0;
    /// Preset id of the trigger record (else a fresh one); see the file comment.
    std::optional<common::ActivationId> activation_id;
    /// Added to the trigger record's annotations (e.g. the schedule that fired it).
    common::Annotations annotations;
};

struct FireOutcome {
    absl::Status status;  // store errors reading the trigger (NotFound: no such trigger)
    /// False when the trigger has no active rule: nothing was activated or recorded (204).
    bool fired = false;
    /// True when a preset id's record was already stored: this firing happened before.
    bool already_fired = false;
    common::ActivationId activation_id;
};

/// The activation id of rule `rule`'s action when trigger record `trigger_id` fires it: a
/// stable function of both (the first 32 hex digits of SHA-256 over them).
common::ActivationId DeriveRuleActivationId(const common::ActivationId& trigger_id,
                                            std::string_view rule);

class TriggerFirer {
  public:
    /// Keeps references; all must outlive the firer.
    TriggerFirer(store::ArtifactStore& store, common::Clock& clock, EntityResolver& resolver,
                 Activator& activator)
        : store_(store), clock_(clock), resolver_(resolver), activator_(activator) {}

    /// Fires `req.trigger` as `req.who`. Thread-safe.
    FireOutcome Fire(const FireRequest& req);

  private:
    store::ArtifactStore& store_;
    common::Clock& clock_;
    EntityResolver& resolver_;
    Activator& activator_;
};

}  // namespace wisp::controller
