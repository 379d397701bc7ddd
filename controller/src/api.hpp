#pragma once
// Api: the controller's router. It owns the shared pieces and one handler per resource, makes a
// Call of each request, authenticates what needs it, and hands the call to the handler of its
// route. The handler of a route is in the file named after its resource:
//
//   controller.cpp             Api: dispatch, authentication, the head check, RouteCollection,
//                              and the meta routes /, /api/v1, /invokers, /ping, /metrics
//   entities_handler.*         GET /namespaces, .../limits; list/GET/PUT/DELETE of actions,
//                              triggers, rules, packages; POST .../rules/{name} (rule status)
//   invoke_handler.*           POST .../actions/{name} (invoke), POST .../triggers/{name} (fire);
//                              owns the fire-rate throttle
//   activations_handler.*      GET .../activations[/{id}[/result|/logs]]
//   web_handler.*              /api/v1/web/... (web actions, any method)
//   webhook_handler.*          POST /api/v1/webhooks/{ns}/{trigger} (fire proven by the
//                              trigger's webhook-secret, no Basic auth)
//   console_handler.*          GET /console/... (the web console's files; public, before
//                              authentication: the data it shows needs the user's key)
//
// Shared pieces, owned here and passed to the handlers by reference:
//   call.hpp                   Call: one request being answered
//   replier.*                  Replier: answers a Call once (X-Request-ID, CORS, metrics,
//                              OpenWhisk's error bodies); counts requests in flight
//   entity_resolver.*          EntityResolver: read/activate entitlement, package bindings,
//                              parameter merge; owns the entity cache
//   activator.*                Activator: publishes activations and waits for results, runs
//                              sequences; owns the invocation throttle and the TimerQueue
//   trigger_firer.*            TriggerFirer: a trigger's rules' activations and its record
//                              (the fire route, schedules, webhooks)
//   alarm_feed.*               AlarmFeed: the built-in /whisk.system/alarms feed actions
//                              (schedules' CREATE/READ/UPDATE/DELETE/PAUSE/UNPAUSE); the
//                              package is installed at start
//   authenticator.*            Authenticator (Basic auth, its cache, failure blocking)
//   metrics.*                  Metrics (/metrics)
//
// Adding a route: parse it in Api::Handle or Api::RouteCollection (controller.cpp), and answer it
// in the handler of its resource (a new resource gets a new <resource>_handler.{hpp,cpp} whose
// constructor takes the shared pieces it needs, and a member here). Handlers answer through
// Replier only, and log with common::TidLog(call->tid).
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activation_retention.hpp"
#include "activations_handler.hpp"
#include "activator.hpp"
#include "alarm_feed.hpp"
#include "alarm_scheduler.hpp"
#include "api_routes.hpp"
#include "authenticator.hpp"
#include "call.hpp"
#include "console_handler.hpp"
#include "entities_handler.hpp"
#include "entity_resolver.hpp"
#include "invoke_handler.hpp"
#include "keep_warm.hpp"
#include "metrics.hpp"
#include "replier.hpp"
#include "store_guard.hpp"
#include "trigger_firer.hpp"
#include "web_handler.hpp"
#include "webhook_handler.hpp"

namespace wisp::controller {

class Api {
  public:
    /// Keeps references to `store`, `balancer`, `manifest` and `clock`.
    Api(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
        const common::RuntimeManifest& manifest, common::Clock& clock, ControllerConfig config);
    ~Api();
    Api(const Api&) = delete;
    Api& operator=(const Api&) = delete;

    void Handle(HttpRequest&& req, Responder respond);
    std::optional<HttpResponse> CheckHead(const HttpRequest& req);
    void Shutdown() {
        if (alarms_) alarms_->Stop();  // first: no scheduled firing after the activator stops
        if (keep_warm_) keep_warm_->Stop();
        activator_.Shutdown();
        if (journal_) journal_->Stop();
        if (retention_) retention_->Stop();
    }
    /// A feed wrote or deleted alarm schedule `doc_id`: the scheduler re-reads it now.
    void ReloadAlarm(const std::string& doc_id) {
        if (alarms_) alarms_->Reload(doc_id);
    }
    void InvalidateAuthCache() { auth_.Invalidate(); }
    void InvalidateEntity(const std::string& docid) { resolver_.DropCached(docid); }
    int64_t in_flight_requests() const { return replier_.in_flight(); }

  private:
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

    loadbalancer::LoadBalancer& balancer_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ControllerConfig config_;
    // The store as the request path uses it: timeouts and a circuit breaker (store_guard.hpp).
    StoreGuard guard_;
    // Shared pieces (declared before the handlers that keep references to them).
    Authenticator auth_;
    Metrics metrics_;
    Replier replier_{metrics_};
    EntityResolver resolver_;
    std::unique_ptr<ActivationJournal> journal_;      // null when ControllerConfig::journal is off
    std::unique_ptr<ActivationRetention> retention_;  // null when activation_retention is 0
    Activator activator_;
    std::unique_ptr<KeepWarm> keep_warm_;  // the keep-warm annotation's orders (keep_warm.hpp)
    TriggerFirer firer_;
    AlarmFeed alarm_feed_;  // the built-in /whisk.system/alarms feeds (InvokeHandler runs them)
    // One handler per resource.
    EntitiesHandler entities_;
    InvokeHandler invoke_;
    ActivationsHandler activations_;
    WebHandler web_;
    ApiRoutesHandler routes_;  // API routes: whisk.system/apimgmt and /api/<namespace>/...
    WebhookHandler webhooks_;
    ConsoleHandler console_;
    // Last: built after (and stopped before) everything it fires through. Null with --no-alarms.
    std::unique_ptr<AlarmScheduler> alarms_;
};

}  // namespace wisp::controller
