#include <wisp/controller/controller.hpp>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>
#include <wisp/controller/metrics_endpoint.hpp>

#include "api.hpp"

namespace wisp::controller {

namespace {

using common::EntityType;
using common::FullyQualifiedName;

constexpr std::string_view kApiPrefix = "/api/v1";

std::optional<EntityType> CollectionType(std::string_view s) {
    if (s == "actions") return EntityType::kAction;
    if (s == "triggers") return EntityType::kTrigger;
    if (s == "rules") return EntityType::kRule;
    if (s == "packages") return EntityType::kPackage;
    return std::nullopt;
}

/// GET /'s "runtimes": the manifest's kinds by family, as OpenWhisk's RuntimeManifests.toJson:
/// {"python":[{"kind":"python:3.11","image":"...","default":true,"deprecated":false,
/// "requireMain":false}],...}
void WriteRuntimes(const common::RuntimeManifest& m,
                   rapidjson::Writer<rapidjson::StringBuffer>& w) {
    std::map<std::string, std::vector<const common::RuntimeManifest::Kind*>> families;
    for (const auto& k : m.kinds()) families[k.kind.substr(0, k.kind.find(':'))].push_back(&k);
    w.StartObject();
    for (const auto& [family, kinds] : families) {
        w.Key(family.c_str());
        w.StartArray();
        for (const auto* k : kinds) {
            w.StartObject();
            w.Key("kind");
            w.String(k->kind.c_str());
            w.Key("image");
            w.String(k->image.c_str());
            w.Key("default");
            w.Bool(k->is_default);
            w.Key("deprecated");
            w.Bool(k->deprecated);
            w.Key("requireMain");
            w.Bool(k->requires_main);
            w.EndObject();
        }
        w.EndArray();
    }
    w.EndObject();
}

}  // namespace

// ---- Controller ------------------------------------------------------------------------------

Controller::Controller(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
                       const common::RuntimeManifest& manifest, common::Clock& clock,
                       ControllerConfig config)
    : api_(std::make_unique<Api>(store, balancer, manifest, clock, std::move(config))) {}

Controller::~Controller() { api_->Shutdown(); }

void Controller::Handle(HttpRequest&& req, Responder respond) {
    api_->Handle(std::move(req), std::move(respond));
}

std::optional<HttpResponse> Controller::CheckHead(const HttpRequest& req) {
    return api_->CheckHead(req);
}

void Controller::InvalidateAuthCache() { api_->InvalidateAuthCache(); }
void Controller::InvalidateEntity(const std::string& docid) { api_->InvalidateEntity(docid); }
int64_t Controller::in_flight_requests() const { return api_->in_flight_requests(); }
void Controller::Shutdown() { api_->Shutdown(); }

// ---- Api -------------------------------------------------------------------------------------

Api::Api(store::ArtifactStore& store, loadbalancer::LoadBalancer& balancer,
         const common::RuntimeManifest& manifest, common::Clock& clock, ControllerConfig config)
    : balancer_(balancer),
      manifest_(manifest),
      clock_(clock),
      config_(std::move(config)),
      guard_(store, StoreGuardConfig{.call_timeout = config_.store_call_timeout}),
      auth_(guard_, clock, config_.auth_cache_ttl,
            AuthFailureLimit{config_.auth_failures_allowed, config_.auth_failure_window,
                             config_.auth_failure_block}),
      resolver_(guard_, clock, config_.entity_cache_ttl, config_.on_entity_written),
      journal_(config_.journal
                   ? std::make_unique<ActivationJournal>(
                         guard_, clock,
                         ActivationJournalConfig{
                             .controller_id = config_.controller_id,
                             .recover_all_at_start = config_.journal_recover_all_at_start,
                             .sweep_interval = config_.journal_sweep_interval})
                   : nullptr),
      activator_(guard_, balancer, manifest, clock, config_, resolver_, metrics_, journal_.get()),
      firer_(guard_, clock, resolver_, activator_),
      alarm_feed_(guard_, clock, [this](const std::string& doc_id) { ReloadAlarm(doc_id); }),
      entities_(guard_, manifest, clock, config_, replier_, resolver_),
      invoke_(guard_, clock, config_, replier_, resolver_, activator_, firer_, metrics_),
      activations_(guard_, replier_),
      web_(clock, config_, auth_, replier_, resolver_, activator_, metrics_),
      routes_(guard_, clock, config_, auth_, web_),
      webhooks_(guard_, clock, config_, auth_, replier_, invoke_, firer_),
      console_(config_.console_assets, replier_) {
    // The raw store for keep-warm too: its refresh runs off the request path.
    keep_warm_ = std::make_unique<KeepWarm>(store, activator_, clock, config_.system_limits,
                                            config_.keep_warm_refresh);
    entities_.SetKeepWarm(keep_warm_.get());
    keep_warm_->Start();
    // The built-in /whisk.system/alarms feeds: their invokes run in AlarmFeed, a trigger deleted
    // over the API loses its schedule (a client may delete it without telling the feed), and
    // every controller creates the package when it is absent.
    invoke_.SetAlarmFeed(&alarm_feed_);
    entities_.OnTriggerDeleted([this](const FullyQualifiedName& trigger) {
        if (auto st = DeleteAlarmScheduleOf(guard_, trigger); !st.ok()) {
            spdlog::warn("trigger {} was deleted but its alarm schedule could not be: {}",
                         trigger.DocId(), common::MessageOf(st));
            return;
        }
        ReloadAlarm(trigger.Namespace() + "/" + trigger.name);
    });
    if (auto st = InstallAlarmsPackage(guard_, manifest, config_.api_host, clock.NowMs());
        !st.ok()) {
        spdlog::warn(
            "the built-in package /whisk.system/alarms could not be created: {} (the next start "
            "tries again)",
            common::MessageOf(st));
    }
    // The raw store, not guard_: a slow retention batch must not open the request path's breaker.
    if (config_.activation_retention.count() > 0) {
        retention_ = std::make_unique<ActivationRetention>(
            store, clock, ActivationRetentionConfig{.retention = config_.activation_retention});
    }
    if (config_.alarms) {
        alarms_ = std::make_unique<AlarmScheduler>(
            guard_, clock, [this](const FireRequest& req) { return firer_.Fire(req); },
            [this](const common::Identity& who) { return invoke_.CheckFireRate(who); },
            AlarmSchedulerConfig{.controller_id = config_.controller_id,
                                 .minute = config_.alarm_minute,
                                 .poll = config_.alarm_poll,
                                 .lease = config_.alarm_lease});
    }
}

Api::~Api() { Shutdown(); }

std::optional<HttpResponse> Api::CheckMetricsAccess(const CallPtr& call) const {
    return controller::CheckMetricsAccess(call->req, config_.metrics_token,
                                          config_.metrics_loopback, call->tid);
}

// ---- /namespaces/{ns}/{actions,triggers,rules,packages}/...
// --------------------------------------------------------------------------------

void Api::RouteCollection(const CallPtr& call, EntityType type, const std::string& ns,
                          const std::vector<std::string>& rest) {
    const std::string& method = call->req.method;
    auto ns_path = common::EntityPath::Parse(ns);
    if (!ns_path.ok()) return replier_.ReplyStatus(call, ns_path.status());

    if (rest.empty()) {
        if (method != "GET" && method != "HEAD") {
            return replier_.ReplyError(call, 405, MethodsNotAllowed("GET"));
        }
        return entities_.ListEntities(call, type, *ns_path);
    }
    // GET /actions/{pkg}/ : the actions of a package.
    if (type == EntityType::kAction && rest.size() == 2 && rest[1].empty()) {
        if (method != "GET" && method != "HEAD") {
            return replier_.ReplyError(call, 405, MethodsNotAllowed("GET"));
        }
        if (auto st = common::ValidateEntityName(rest[0]); !st.ok()) {
            return replier_.ReplyStatus(call, st);
        }
        return entities_.ListEntities(call, type, ns_path->Add(rest[0]));
    }
    const bool packaged = type == EntityType::kAction && rest.size() == 2;
    if (rest.size() != 1 && !packaged) {
        return replier_.ReplyError(call, 404, kMsgResourceNotFound);
    }
    for (const auto& seg : rest) {
        if (auto st = common::ValidateEntityName(seg); !st.ok())
            return replier_.ReplyStatus(call, st);
    }
    FullyQualifiedName fqn{packaged ? ns_path->Add(rest[0]) : *ns_path, rest.back()};

    if (method == "GET" || method == "HEAD") return entities_.GetEntity(call, type, fqn);
    if (method == "PUT") return entities_.PutEntity(call, type, fqn);
    if (method == "DELETE") return entities_.DeleteEntity(call, type, fqn);
    if (method == "POST") {
        switch (type) {
            case EntityType::kAction:
                return invoke_.InvokeAction(call, fqn);
            case EntityType::kTrigger:
                return invoke_.FireTrigger(call, fqn);
            case EntityType::kRule:
                return entities_.SetRuleStatus(call, fqn);
            case EntityType::kPackage:
                break;
        }
        return replier_.ReplyError(call, 405, MethodsNotAllowed("GET, PUT, DELETE"));
    }
    return replier_.ReplyError(
        call, 405,
        MethodsNotAllowed(type == EntityType::kPackage ? "GET, PUT, DELETE"
                                                       : "GET, PUT, DELETE, POST"));
}

std::optional<HttpResponse> Api::CheckHead(const HttpRequest& req) {
    const std::string ns_prefix = common::Cat(kApiPrefix, "/namespaces");
    if (req.method == "OPTIONS" ||
        (req.path != ns_prefix && req.path.rfind(ns_prefix + "/", 0) != 0)) {
        return std::nullopt;
    }
    // Handle() authenticates again, from the cache.
    auto identity = auth_.Authenticate(req.Header("authorization"), req.remote_address);
    if (identity.ok()) return CheckPayloadHead(req, *identity);
    const absl::Status& st = identity.status();
    if (st.code() != absl::StatusCode::kUnauthenticated &&
        st.code() != absl::StatusCode::kResourceExhausted) {
        return std::nullopt;  // a store error: Handle() answers it
    }
    const std::string tid = common::MakeTransactionId(req.Header("x-request-id"));
    HttpResponse r =
        HttpResponse::Json(common::HttpStatusFor(st), ErrorBody(common::MessageOf(st), tid));
    if (r.status == 401) r.SetHeader("WWW-Authenticate", "Basic realm=\"OpenWhisk secure realm\"");
    r.SetHeader("X-Request-ID", tid);
    AddRestCorsHeaders(r);
    metrics_.CountResponse(r.status);
    return r;
}

std::optional<HttpResponse> Api::CheckPayloadHead(const HttpRequest& req,
                                                  const common::Identity& who) {
    // Invoke (POST .../actions/...) and fire (POST .../triggers/...) take at most the
    // namespace's payload limit: a larger declared body is refused before it is read, with the
    // text the handler would send after reading it.
    if (req.method != "POST") return std::nullopt;
    const std::string ns_prefix = common::Cat(kApiPrefix, "/namespaces/");
    std::string_view rest(req.path);
    rest.remove_prefix(std::min(rest.size(), ns_prefix.size()));
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(slash + 1);
    if (rest.rfind("actions/", 0) != 0 && rest.rfind("triggers/", 0) != 0) return std::nullopt;
    int64_t declared = 0;
    if (!common::ParseInt(req.Header("content-length"), declared)) return std::nullopt;
    const int64_t max_payload =
        who.limits.max_payload_size.value_or(config_.system_limits.max_payload_bytes);
    if (declared <= max_payload) return std::nullopt;
    const std::string tid = common::MakeTransactionId(req.Header("x-request-id"));
    HttpResponse r =
        HttpResponse::Json(413, ErrorBody(common::Cat("Request larger than allowed: ", declared,
                                                      " > ", max_payload, " bytes."),
                                          tid));
    r.SetHeader("X-Request-ID", tid);
    AddRestCorsHeaders(r);
    metrics_.CountResponse(r.status);
    return r;
}

void Api::Handle(HttpRequest&& req, Responder respond) {
    auto call = std::make_shared<Call>();
    call->tid = common::MakeTransactionId(req.Header("x-request-id"));
    call->received_ms = clock_.NowMs();
    call->received_mono_ns = clock_.MonotonicNs();
    call->responder = std::move(respond);
    call->req = std::move(req);
    replier_.StartCall();
    try {
        const std::string& path = call->req.path;
        const std::string& method = call->req.method;

        if (path == "/ping") {
            if (method != "GET" && method != "HEAD") {
                return replier_.ReplyError(call, 405,
                                           "HTTP method not allowed, supported methods: GET");
            }
            return replier_.Reply(call, HttpResponse::Text(200, "pong"));
        }
        if (path == "/metrics") {
            // Operators only (it names every namespace and action), and no CORS headers: a
            // web page must not read it through a developer's browser.
            if (method != "GET" && method != "HEAD") {
                return replier_.ReplyError(call, 405,
                                           "HTTP method not allowed, supported methods: GET");
            }
            if (auto refused = CheckMetricsAccess(call)) {
                return replier_.Reply(call, *std::move(refused), /*rest_cors=*/false);
            }
            common::PrometheusWriter w;
            metrics_.Write(w, balancer_.TotalActiveActivations());
            Metrics::WriteBalancer(w, balancer_);
            if (config_.extra_metrics) config_.extra_metrics(w);
            return replier_.Reply(call, MetricsResponse(w.Take()), /*rest_cors=*/false);
        }
        // The web console's page and files: public (the data needs the key), GET/HEAD only.
        if (ConsoleHandler::Owns(path)) return console_.Handle(call);
        // Web actions take any method, OPTIONS included (web-custom-options).
        const std::string web_prefix = common::Cat(kApiPrefix, "/web/");
        if (path.rfind(web_prefix, 0) == 0) {
            const std::string_view rest = std::string_view(path).substr(web_prefix.size());
            if (ApiRoutesHandler::OwnsManagement(rest)) return routes_.HandleManagement(call, rest);
            return web_.Handle(call, rest);
        }
        // API routes: /api/<namespace>/<basePath>/<relPath>; /api/v1 is always the REST API.
        if (path.rfind("/api/", 0) == 0 && path != kApiPrefix &&
            path.rfind(common::Cat(kApiPrefix, "/"), 0) != 0) {
            return routes_.Serve(call, std::string_view(path).substr(5));
        }
        if (method == "OPTIONS") return replier_.Reply(call, HttpResponse::Text(200, ""));
        // Webhooks prove the trigger's secret instead of sending credentials.
        const std::string webhook_prefix = common::Cat(kApiPrefix, "/webhooks/");
        if (path.rfind(webhook_prefix, 0) == 0) {
            return webhooks_.Handle(call, std::string_view(path).substr(webhook_prefix.size()));
        }

        if (path == "/invokers/healthy/count") {
            // OpenWhisk's: the number of invokers in state Healthy ("up"), a JSON number.
            if (method != "GET" && method != "HEAD") {
                return replier_.ReplyError(call, 405,
                                           "HTTP method not allowed, supported methods: GET");
            }
            int64_t healthy = 0;
            for (const auto& inv : balancer_.InvokerHealth()) healthy += inv.status == "up";
            return replier_.ReplyJson(call, 200, std::to_string(healthy));
        }
        if (path == "/" || path == "/invokers" || path == kApiPrefix ||
            path == common::Cat(kApiPrefix, "/")) {
            if (method != "GET" && method != "HEAD") {
                return replier_.ReplyError(call, 405,
                                           "HTTP method not allowed, supported methods: GET");
            }
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            w.StartObject();
            if (path == "/invokers") {
                for (const auto& inv : balancer_.InvokerHealth()) {
                    w.Key(inv.name.c_str());
                    w.String(inv.status.c_str());
                }
            } else if (path == "/") {
                const auto& l = config_.system_limits;
                w.Key("description");
                w.String("OpenWhisk");
                w.Key("support");
                w.StartObject();
                w.Key("github");
                w.String("https://github.com/apache/openwhisk/issues");
                w.EndObject();
                w.Key("api_paths");
                w.StartArray();
                w.String("/api/v1");
                w.EndArray();
                w.Key("limits");
                w.StartObject();
                w.Key("actions_per_minute");
                w.Int64(l.invocations_per_minute);
                w.Key("triggers_per_minute");
                w.Int64(l.fires_per_minute);
                w.Key("concurrent_actions");
                w.Int64(l.concurrent_invocations);
                w.Key("sequence_length");
                w.Int64(l.sequence_max_length);
                w.Key("min_action_duration");
                w.Int64(config_.action_bounds.min_timeout_ms);
                w.Key("max_action_duration");
                w.Int64(config_.action_bounds.max_timeout_ms);
                w.Key("min_action_memory");
                w.Int64(config_.action_bounds.min_memory_mb * 1048576);
                w.Key("max_action_memory");
                w.Int64(config_.action_bounds.max_memory_mb * 1048576);
                w.Key("min_action_logs");
                w.Int64(config_.action_bounds.min_logs_mb * 1048576);
                w.Key("max_action_logs");
                w.Int64(config_.action_bounds.max_logs_mb * 1048576);
                w.EndObject();
                w.Key("runtimes");
                WriteRuntimes(manifest_, w);
            } else {
                w.Key("description");
                w.String("OpenWhisk API");
                w.Key("api_version");
                w.String("1.0.0");
                w.Key("api_version_path");
                w.String("v1");
                w.Key("build");
                w.String("wisp");
                w.Key("swagger_paths");
                w.StartObject();
                w.Key("ui");
                w.String("/docs");
                w.Key("api-docs");
                w.String("/api/v1/api-docs");
                w.EndObject();
            }
            w.EndObject();
            return replier_.ReplyJson(call, 200, sb.GetString());
        }

        const std::string ns_prefix = common::Cat(kApiPrefix, "/namespaces");
        if (path != ns_prefix && path.rfind(ns_prefix + "/", 0) != 0) {
            return replier_.ReplyError(call, 404, kMsgResourceNotFound);
        }

        // Everything under /namespaces needs credentials.
        auto identity =
            auth_.Authenticate(call->req.Header("authorization"), call->req.remote_address);
        if (!identity.ok()) return replier_.ReplyStatus(call, identity.status());
        call->identity = *std::move(identity);

        std::string_view rest = std::string_view(path).substr(ns_prefix.size());
        if (!rest.empty()) rest.remove_prefix(1);  // the '/'
        auto segs_views = common::Split(rest, '/');
        for (auto s : segs_views) call->segs.emplace_back(s);
        auto& segs = call->segs;
        if (segs.empty() || (segs.size() == 1 && segs[0].empty()))
            return entities_.ListNamespaces(call);

        std::string ns =
            segs[0] == common::kDefaultNamespace ? call->identity->namespace_name : segs[0];
        if (segs.size() == 1) {
            return replier_.ReplyError(call, 404, kMsgResourceNotFound);
        }
        const std::string& collection = segs[1];
        std::vector<std::string> tail(segs.begin() + 2, segs.end());
        if (collection == "limits" && tail.empty()) {
            if (method != "GET" && method != "HEAD") {
                return replier_.ReplyError(call, 405,
                                           "HTTP method not allowed, supported methods: GET");
            }
            return entities_.GetLimits(call, ns);
        }
        if (collection == "activations") return activations_.Handle(call, ns, tail);
        if (auto type = CollectionType(collection)) return RouteCollection(call, *type, ns, tail);
        return replier_.ReplyError(call, 404, kMsgResourceNotFound);
    } catch (const std::exception& e) {
        common::TidLog(call->tid).error("{} {} failed: {}", call->req.method, call->req.path,
                                        e.what());
        if (!call->answered.load()) replier_.ReplyError(call, 500, kMsgInternalServerError);
    }
}

}  // namespace wisp::controller
