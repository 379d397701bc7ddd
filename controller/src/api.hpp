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

#include "authenticator.hpp"
#include "entity_cache.hpp"
#include "metrics.hpp"
#include "throttler.hpp"
#include "timer_queue.hpp"

namespace wisp::controller {

/// One request being answered. Shared by the async steps of a request; `Reply` answers once.
struct Call {
    HttpRequest req;
    std::string tid;
    int64_t received_ms = 0;
    int64_t received_mono_ns = 0;
    Responder responder;
    std::atomic<bool> answered{false};
    std::optional<common::Identity> identity;  // set once authenticated
    std::vector<std::string> segs;             // path segments after /api/v1/namespaces/
};
using CallPtr = std::shared_ptr<Call>;

/// An action ready to run: parameters merged (package < binding < action).
struct ResolvedAction {
    common::Action action;
    std::string revision;  // the action document's revision (the invoker's cache key)
    std::string binding;   // "ns/binding" when reached through a package binding
};

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
    int64_t in_flight_requests() const { return in_flight_.load(); }

    // ---- responses (controller.cpp) ----
    /// Adds X-Request-ID and (unless `rest_cors` is false: web actions set their own) the REST
    /// API's CORS headers, counts, answers once.
    void Reply(const CallPtr& call, HttpResponse resp, bool rest_cors = true);
    void ReplyJson(const CallPtr& call, int status, std::string body);
    /// {"error":msg,"code":tid}.
    void ReplyError(const CallPtr& call, int status, std::string_view msg);
    /// Status -> HTTP status (common::HttpStatusFor) + error body; 5xx texts are logged with
    /// the transaction id and the client gets ClientMessageFor's generic text.
    void ReplyStatus(const CallPtr& call, const absl::Status& st);
    /// nullopt when the caller may read /metrics (ControllerConfig::metrics_token), else the
    /// 401/403 answer.
    std::optional<HttpResponse> CheckMetricsAccess(const CallPtr& call) const;
    /// The head check of an authenticated request: 413 when an invoke or fire declares a body
    /// over the namespace's payload limit (see CheckHead).
    std::optional<HttpResponse> CheckPayloadHead(const HttpRequest& req,
                                                 const common::Identity& who);

    // ---- entities (entities_api.cpp) ----
    void HandleNamespaces(const CallPtr& call);
    void HandleCollection(const CallPtr& call, common::EntityType type, const std::string& ns,
                          const std::vector<std::string>& rest);
    void ListEntities(const CallPtr& call, common::EntityType type, const common::EntityPath& path);
    void GetEntity(const CallPtr& call, common::EntityType type,
                   const common::FullyQualifiedName& fqn);
    void PutEntity(const CallPtr& call, common::EntityType type,
                   const common::FullyQualifiedName& fqn);
    void DeleteEntity(const CallPtr& call, common::EntityType type,
                      const common::FullyQualifiedName& fqn);
    void SetRuleStatus(const CallPtr& call, const common::FullyQualifiedName& fqn);
    void GetLimits(const CallPtr& call);

    /// Resolves an action reference for reading or activating as `who`: entitlement (own
    /// namespace, or a published package), package bindings, parameter merge.
    absl::StatusOr<ResolvedAction> ResolveAction(const common::Identity& who,
                                                 const common::FullyQualifiedName& fqn);
    /// OpenWhisk's READ entitlement on a package or binding (also for reading, listing and
    /// activating its actions): the chain from `fqn` to the package holding the actions, or
    /// 403 naming `resource` (404 when the caller's own package is missing).
    absl::StatusOr<std::vector<common::Package>> ReadablePackageChain(
        const common::Identity& who, const common::FullyQualifiedName& fqn,
        std::string_view resource, bool cached);
    /// 403 unless `who` may write to `ns`.
    absl::Status CheckOwnNamespace(const common::Identity& who, const std::string& ns,
                                   std::string_view resource);
    common::PutContext PutContextFor(const common::Identity& who) const;
    /// An action or package through the entity cache.
    template <class T>
    absl::StatusOr<store::Revisioned<T>> GetCached(const common::FullyQualifiedName& fqn);

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
    absl::Status CheckInvokeThrottles(const common::Identity& who);
    /// The blocking-invoke answer: 200/502/500 with the record or result, 202 when not done.
    void ReplyActivation(const CallPtr& call, const ActivateOutcome& out, bool result_only);

    // ---- activations (activations_api.cpp) ----
    void HandleActivations(const CallPtr& call, const std::string& ns,
                           const std::vector<std::string>& rest);

    // ---- web actions (web_api.cpp) ----
    void HandleWeb(const CallPtr& call, std::string_view rest_of_path);

    store::ArtifactStore& store_;
    loadbalancer::LoadBalancer& balancer_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ControllerConfig config_;
    Authenticator auth_;
    EntityCache entities_;
    RateThrottler invoke_rate_;
    RateThrottler fire_rate_;
    Metrics metrics_;
    TimerQueue timers_;
    std::atomic<int64_t> in_flight_{0};
    std::atomic<bool> shutting_down_{false};
};

/// OpenWhisk's (Pekko's default) texts for server errors: internal texts (store, bus, exceptions)
/// never reach the client; it gets these plus the transaction id.
inline constexpr std::string_view kMsgInternalServerError = "There was an internal server error.";
inline constexpr std::string_view kMsgServiceUnavailable =
    "The server is currently unavailable (because it is overloaded or down for maintenance).";
inline constexpr std::string_view kMsgGatewayTimeout =
    "The server was not able to produce a timely response to your request.\r\nPlease try again "
    "in a short while!";
inline constexpr std::string_view kMsgNotAuthorizedForResource =
    "The supplied authentication is not authorized to access this resource.";

/// What the client is told for a failed status: its message below 500, a generic text above
/// (see the constants above). Log the real message with the transaction id.
std::string ClientMessageFor(const absl::Status& st);
/// The same, logging the real message of a 5xx with the transaction id and `context`.
std::string ClientMessageFor(const absl::Status& st, std::string_view tid,
                             std::string_view context);

/// Answers 202 {"activationId":id}.
std::string ActivationIdJson(const common::ActivationId& id);

}  // namespace wisp::controller
