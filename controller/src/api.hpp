#pragma once
// The controller's internals, split by route family:
//   controller.cpp       dispatch, auth, responses, meta routes (/, /api/v1, /ping, /metrics)
//   entities_api.cpp     actions/triggers/rules/packages CRUD, lists, namespaces, limits
//   invoke_api.cpp       action invoke, Activate(), sequences, trigger fire
//   activations_api.cpp  activation list/get/result/logs
//   web_api.cpp          /api/v1/web/...
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/entity_json.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activations_handler.hpp"
#include "authenticator.hpp"
#include "call.hpp"
#include "entities_handler.hpp"
#include "entity_resolver.hpp"
#include "metrics.hpp"
#include "replier.hpp"
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

/// What one topmost sequence has run so far, nested sequences included (invoke_api.cpp).
struct SequenceBudget;

class Api {
  public:
    Api(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
        const common::RuntimeManifest& manifest, common::Clock& clock, ControllerConfig config);
    ~Api();

    void Handle(HttpRequest&& req, Responder respond);
    std::optional<HttpResponse> CheckHead(const HttpRequest& req);
    void Shutdown();
    void InvalidateAuthCache() { auth_.Invalidate(); }
    int64_t in_flight_requests() const { return replier_.in_flight(); }

    // ---- router (controller.cpp) ----
    /// nullopt when the caller may read /metrics (ControllerConfig::metrics_token), else the
    /// 401/403 answer.
    std::optional<HttpResponse> CheckMetricsAccess(const CallPtr& call) const;
    /// The head check of an authenticated request: 413 when an invoke or fire declares a body
    /// over the namespace's payload limit (see CheckHead).
    std::optional<HttpResponse> CheckPayloadHead(const HttpRequest& req,
                                                 const common::Identity& who);
    /// /namespaces/{ns}/{actions,triggers,rules,packages}/...: parses the rest of the path
    /// into a list or an entity name and picks the handler by method.
    void RouteCollection(const CallPtr& call, common::EntityType type, const std::string& ns,
                         const std::vector<std::string>& rest);

    // ---- activation (invoke_api.cpp) ----
    void InvokeAction(const CallPtr& call, const common::FullyQualifiedName& fqn);
    void FireTrigger(const CallPtr& call, const common::FullyQualifiedName& fqn);
    /// Publishes one atomic action; `done` runs once (at once for non-blocking, else with the
    /// record or at the wait's end). No throttles here.
    void Activate(ActivateRequest req, ActivateDone done);
    /// Runs a sequence action; `done` gets the sequence's record (or only its id when the
    /// wait ran out first; the sequence continues and is stored when it ends). `budget` is
    /// shared by a topmost sequence and the sequences nested in it (null: a topmost one): it
    /// counts the atomic actions run, at most SystemLimits::sequence_max_length (OpenWhisk's
    /// dynamic count), whatever the stored documents say.
    void RunSequence(ActivateRequest req, int depth, ActivateDone done,
                     std::shared_ptr<SequenceBudget> budget = nullptr);
    /// Invocation throttles of `who`: per minute, then concurrency. Counts a 429.
    [[nodiscard]] absl::Status CheckInvokeThrottles(const common::Identity& who);
    /// The blocking-invoke answer: 200/502/500 with the record or result, 202 when not done.
    void ReplyActivation(const CallPtr& call, const ActivateOutcome& out, bool result_only);

    // ---- web actions (web_api.cpp) ----
    void HandleWeb(const CallPtr& call, std::string_view rest_of_path);

    store::ArtifactStore& store_;
    loadbalancer::LoadBalancer& balancer_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ControllerConfig config_;
    Authenticator auth_;
    Metrics metrics_;
    Replier replier_{metrics_};
    EntityResolver resolver_;
    EntitiesHandler entities_;
    ActivationsHandler activations_;
    RateThrottler invoke_rate_;
    RateThrottler fire_rate_;
    TimerQueue timers_;
    std::atomic<bool> shutting_down_{false};
};

}  // namespace wisp::controller
