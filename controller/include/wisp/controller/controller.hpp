#pragma once
// Controller: OpenWhisk's REST API v1 (wire §0-§4, §7, §9) as an HttpHandler.
//
// It authenticates callers against the ArtifactStore, checks entitlement and throttles, serves
// entity CRUD from the store, and runs activations through a LoadBalancer (which publishes them
// on the bus to an invoker). Blocking invokes wait for the result ack up to `timeout` (<= 60 s)
// and then answer 202. Sequences and trigger fires are orchestrated here. The HTTP server is the
// caller's (HttpServer in standalone and the distributed controller alike).
#include <chrono>
#include <string_view>

#include <absl/status/statusor.h>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/limits.hpp>
#include <wisp/common/prometheus.hpp>
#include <wisp/controller/http.hpp>
#include <wisp/controller/static_asset.hpp>

namespace wisp::store {
class ArtifactStore;
}
namespace wisp::loadbalancer {
class LoadBalancer;
}

namespace wisp::controller {

/// `--activation-retention`: `<n>d|<n>h|<n>m|<n>s` or `0` (keep everything); InvalidArgument
/// naming the accepted forms otherwise.
[[nodiscard]] absl::StatusOr<std::chrono::milliseconds> ParseRetention(std::string_view text);

struct ControllerConfig {
    /// "0": acks arrive on completed0; the root controller index of every activation.
    std::string controller_id = "0";
    /// Throttle defaults for namespaces without their own limits, payload and sequence limits.
    /// wisp-standalone raises the throttles (60000/min, 1000 concurrent); the distributed
    /// controller keeps OpenWhisk's production values (60/min, 30 concurrent, 60 fires/min).
    common::SystemLimits system_limits;
    common::ActionLimitBounds action_bounds = common::DefaultActionLimitBounds();
    /// How long an authenticated key stays cached. A key that is changed, deleted or blocked
    /// with wisp-admin stops working at most this long later (Invalidate() drops it at once).
    std::chrono::milliseconds auth_cache_ttl{5000};
    /// Failed authentications tolerated from one client address: `auth_failures_allowed` (0 =
    /// no limit) within `auth_failure_window` block the address for `auth_failure_block`: it
    /// gets 429 for every request that needs credentials meanwhile.
    int auth_failures_allowed = 20;
    std::chrono::milliseconds auth_failure_window{60000};
    std::chrono::milliseconds auth_failure_block{60000};
    /// Who may read GET /metrics (it names every namespace and action): a request with
    /// `Authorization: Bearer <metrics_token>` when a token is set; a loopback peer when no
    /// token is set, or also with a token when `metrics_loopback` is true. Anyone else gets
    /// 401 (token set) or 403.
    std::string metrics_token;
    bool metrics_loopback = false;
    /// More metrics for the same scrape (may be null): wisp-standalone adds its invoker's.
    /// Called on a server thread per GET /metrics; must be thread-safe.
    std::function<void(common::PrometheusWriter&)> extra_metrics;
    /// How long a read action or package stays cached (writes through this controller
    /// invalidate at once; 0 = no cache).
    std::chrono::milliseconds entity_cache_ttl{5000};
    /// The longest a blocking invoke waits before answering 202 (OpenWhisk: 60 s).
    std::chrono::milliseconds max_blocking_wait{60000};
    /// Extra time a sequence waits for each component beyond the component's own timeout.
    std::chrono::milliseconds sequence_component_slack{60000};
    /// Called with the document id of each action, package, trigger or rule written or deleted
    /// through this controller, after its own cache dropped it (may be null). The distributed
    /// controller tells the other components (cluster::CacheInvalidation).
    std::function<void(const std::string& docid)> on_entity_written;
    /// The live controllers of the deployment (null: 1, standalone). With more than one, each
    /// controller enforces its share of the invocation, concurrency and fire throttles, as
    /// OpenWhisk does: limit / controllers, x 1.2 (ClusterShare in throttler.hpp), and the 429
    /// texts name that share as "allowed". The distributed controller counts the heartbeats
    /// on componentHealth (cluster::ComponentClaim::LiveCount).
    std::function<int()> cluster_size;
    /// The journal of accepted activations (controller/README.md, "No accepted activation
    /// lost"): every activation is journaled in the store before the API answers with its id;
    /// after a crash, the ones left without a record get one ("interrupted by a restart").
    bool journal = true;
    /// At start, this controller id's entries left by an earlier process get their record at
    /// once (wisp-standalone: its bus and invoker died with it), not only past their forced
    /// completion deadline (the distributed controller: an invoker may still run them).
    bool journal_recover_all_at_start = false;
    /// Journal atomic actions too (wisp-standalone: its in-process bus dies with it). The
    /// distributed controller journals only sequences: an atomic activation is on Kafka before
    /// the API answers, its invoker stores the record (a killed invoker's work is redelivered,
    /// and a forced completion writes one), so a store write per invoke on the hot path would
    /// buy nothing but latency (a CouchDB round trip) and store load.
    bool journal_atomic = true;
    /// How often the journal removes recorded entries and stores what waits (0: never; tests).
    std::chrono::milliseconds journal_sweep_interval{1000};
    /// Activation records older than this are deleted in the background (`--activation-retention`,
    /// ActivationRetention in activation_retention.hpp: 500 per transaction, a pause between
    /// batches, a pass every 10 minutes); 0 keeps every record. Default 7 days.
    std::chrono::milliseconds activation_retention{std::chrono::hours(24 * 7)};
    /// The longest a request waits for one store call before answering 503 (StoreGuard, in
    /// store_guard.hpp: a hung store never holds the HTTP threads; after a failure calls fail at
    /// once until the store answers again). 0 = calls run inline (circuit breaker only).
    std::chrono::milliseconds store_call_timeout{5000};
    /// What GET / reports as the API host (and web action URLs), e.g. "http://127.0.0.1:3233".
    std::string api_host = "http://127.0.0.1:3233";
    /// Alarm schedules (the /whisk.system/alarms feeds; AlarmScheduler, alarm_scheduler.hpp):
    /// whether this controller fires them (`--no-alarms`: the feeds still work, other
    /// controllers fire). Each due time fires once across controllers (a claim document).
    bool alarms = true;
    /// The length of an interval alarm's minute (`--alarm-minute-ms`, hidden, tests only).
    std::chrono::milliseconds alarm_minute{60000};
    /// How often this controller re-lists the schedules (those other controllers wrote;
    /// `--alarm-poll-ms`, hidden). Schedules written through this controller load at once.
    std::chrono::milliseconds alarm_poll{5000};
    /// A firing claimed by a controller that has not finished it within this is fired by
    /// another (`--alarm-lease-ms`, hidden, tests only).
    std::chrono::milliseconds alarm_lease{60000};
    /// Keep-warm (the `keep-warm` action annotation; KeepWarm, keep_warm.hpp): how often this
    /// controller publishes the order of every keep-warm action again to its home invoker
    /// (`--keep-warm-refresh-ms`, hidden); orders hold 3 x this at the invoker. 0 = only when
    /// an action is written.
    std::chrono::milliseconds keep_warm_refresh{30000};
    /// The web console served at /console/ (console_handler.hpp): the files of its build, as
    /// wisp::console::EmbeddedAssets() gives them (wisp-standalone, wisp-controller). Must
    /// outlive the controller. Empty: /console/ answers 404 "The console is not part of this
    /// build.".
    std::span<const StaticAsset> console_assets;
};

class Api;

class Controller {
  public:
    /// Keeps references; `store`, `balancer` and `clock` must outlive the controller.
    Controller(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
               const common::RuntimeManifest& manifest, common::Clock& clock,
               ControllerConfig config);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    /// The HttpHandler: answers every route of the API. Thread-safe.
    void Handle(HttpRequest&& req, Responder respond);
    HttpHandler Handler() {
        return [this](HttpRequest&& r, Responder w) { Handle(std::move(r), std::move(w)); };
    }

    /// HttpServerConfig::head_check: refuses a request before its body is read when its route
    /// needs credentials (everything under /api/v1/namespaces but OPTIONS) and they are missing
    /// or invalid (401), or its address is blocked after failed authentications. Web actions
    /// and the meta routes pass (they may be anonymous). Thread-safe.
    std::optional<HttpResponse> CheckHead(const HttpRequest& req);
    RequestHeadCheck HeadCheck() {
        return [this](const HttpRequest& r) { return CheckHead(r); };
    }

    /// Drops every cached identity (after a key changed).
    void InvalidateAuthCache();
    /// Drops a cached action or package (`docid` "ns/name" or "ns/pkg/name") written by another
    /// controller. Does not call on_entity_written.
    void InvalidateEntity(const std::string& docid);

    /// Requests being answered (blocking invokes waiting included).
    int64_t in_flight_requests() const;

    /// Answers every request still waiting (blocking invokes answer 202 with their id) and
    /// stops the timers. Idempotent.
    void Shutdown();

  private:
    std::unique_ptr<Api> api_;
};

}  // namespace wisp::controller
