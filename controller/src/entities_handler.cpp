// Entity CRUD (wire §1.2-1.7): actions, triggers, rules, packages; namespaces and limits.
// The routes are in controller.cpp (Api::RouteCollection); this file is what they do.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

#include "entities_handler.hpp"
#include "webhook_handler.hpp"  // ValidateWebhookSecret

namespace wisp::controller {

namespace {

using common::Action;
using common::EntityType;
using common::FullyQualifiedName;
using common::Package;
using common::Rule;
using common::Trigger;

constexpr int64_t kListDefault = 30;
constexpr int64_t kListMax = 200;
constexpr int kLinkRetries = 10;

/// Parses ?limit/?skip with OpenWhisk's texts.
[[nodiscard]] absl::Status ParseListParams(const HttpRequest& req, std::string_view collection,
                                           int64_t& skip, int64_t& limit) {
    skip = 0;
    limit = kListDefault;
    if (auto v = req.Query("limit")) {
        if (!common::ParseInt(*v, limit)) {
            return absl::InvalidArgumentError(
                common::Cat("The value '", *v, "' is not an integer for ", collection, "."));
        }
        if (limit == 0) limit = kListMax;
        if (limit < 0 || limit > kListMax) {
            return absl::InvalidArgumentError(common::Cat("The value '", *v,
                                                          "' is not in the range of 0 to ",
                                                          kListMax, " for ", collection, "."));
        }
    }
    if (auto v = req.Query("skip")) {
        if (!common::ParseInt(*v, skip)) {
            return absl::InvalidArgumentError(
                common::Cat("The value '", *v, "' is not an integer for ", collection, "."));
        }
        if (skip < 0) {
            return absl::InvalidArgumentError(common::Cat(
                "The value '", *v, "' is not greater than or equal to 0 for ", collection, "."));
        }
    }
    return absl::OkStatus();
}

/// Inserts extra members into a JSON object document's text.
std::string WithMembers(const std::string& object_json,
                        const std::vector<std::pair<std::string, std::string>>& raw_members) {
    if (raw_members.empty()) return object_json;
    std::string out = object_json.substr(0, object_json.size() - 1);
    for (const auto& [k, v] : raw_members) {
        if (out.size() > 1) out += ',';
        out += common::JsonValue::String(k).text();
        out += ':';
        out += v;
    }
    out += '}';
    return out;
}

template <class T>
[[nodiscard]] absl::StatusOr<std::optional<store::Revisioned<T>>> GetOptional(
    store::ArtifactStore& store, const FullyQualifiedName& fqn) {
    auto r = store.Get<T>(fqn);
    if (r.ok()) return std::optional<store::Revisioned<T>>(*std::move(r));
    if (r.status().code() == absl::StatusCode::kNotFound) {
        return std::optional<store::Revisioned<T>>();
    }
    return r.status();
}

/// Applies `change` to the trigger's rule links, retrying on concurrent writers. NotFound when
/// the trigger is gone.
[[nodiscard]] absl::Status UpdateTrigger(store::ArtifactStore& store, common::Clock& clock,
                                         const FullyQualifiedName& trigger,
                                         const std::function<bool(Trigger&)>& change) {
    for (int attempt = 0; attempt < kLinkRetries; ++attempt) {
        auto t = store.Get<Trigger>(trigger);
        if (!t.ok()) return t.status();
        if (!change(t->doc)) return absl::OkStatus();
        t->doc.updated_ms = clock.NowMs();
        auto put = store.PutEntity(t->doc, t->rev);
        if (put.ok()) return absl::OkStatus();
        if (put.status().code() != absl::StatusCode::kAborted) return put.status();
    }
    return absl::AbortedError(std::string(common::kMsgConflict));
}

/// The rule's status as its trigger says (inactive when the trigger or link is gone).
common::RuleStatus RuleStatusOf(store::ArtifactStore& store, const Rule& rule) {
    auto t = store.Get<Trigger>(rule.trigger);
    if (!t.ok()) return common::RuleStatus::kInactive;
    auto it = t->doc.rules.find(rule.Fqn().DocId());
    return it == t->doc.rules.end() ? common::RuleStatus::kInactive : it->second.status;
}

}  // namespace

common::PutContext EntitiesHandler::PutContextFor(const common::Identity& who) const {
    common::PutContext ctx;
    ctx.caller_namespace = who.namespace_name;
    ctx.manifest = &manifest_;
    ctx.system_limits = config_.system_limits;
    ctx.bounds = common::BoundsFor(who.limits, config_.action_bounds);
    return ctx;
}

// ---- namespaces, limits ----------------------------------------------------------------------

void EntitiesHandler::ListNamespaces(const CallPtr& call) {
    if (call->req.method != "GET" && call->req.method != "HEAD") {
        return replier_.ReplyError(call, 405, MethodsNotAllowed("GET"));
    }
    replier_.ReplyJson(
        call, 200,
        common::Cat("[", common::JsonValue::String(call->identity->namespace_name).text(), "]"));
}

void EntitiesHandler::GetLimits(const CallPtr& call, const std::string& ns) {
    if (auto st = CheckOwnNamespace(*call->identity, ns, ns); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    const auto& l = call->identity->limits;
    const auto& s = config_.system_limits;
    const auto b = common::BoundsFor(l, config_.action_bounds);
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("invocationsPerMinute");
    w.Int64(l.invocations_per_minute.value_or(s.invocations_per_minute));
    w.Key("concurrentInvocations");
    w.Int64(l.concurrent_invocations.value_or(s.concurrent_invocations));
    w.Key("firesPerMinute");
    w.Int64(l.fires_per_minute.value_or(s.fires_per_minute));
    if (l.allowed_kinds) {
        w.Key("allowedKinds");
        w.StartArray();
        for (const auto& k : *l.allowed_kinds) w.String(k.c_str());
        w.EndArray();
    }
    if (l.store_activations) {
        w.Key("storeActivations");
        w.Bool(*l.store_activations);
    }
    w.Key("minActionMemory");
    w.Int64(b.min_memory_mb);
    w.Key("maxActionMemory");
    w.Int64(b.max_memory_mb);
    w.Key("minActionLogs");
    w.Int64(b.min_logs_mb);
    w.Key("maxActionLogs");
    w.Int64(b.max_logs_mb);
    w.Key("minActionTimeout");
    w.Int64(b.min_timeout_ms);
    w.Key("maxActionTimeout");
    w.Int64(b.max_timeout_ms);
    w.Key("minActionConcurrency");
    w.Int64(b.min_concurrency);
    w.Key("maxActionConcurrency");
    w.Int64(b.max_concurrency);
    w.Key("maxParameterSize");
    w.String(common::Cat(l.max_parameter_size.value_or(s.max_parameter_bytes), " B").c_str());
    w.Key("maxActionInstances");
    w.Int64(l.concurrent_invocations.value_or(s.concurrent_invocations));
    w.Key("maxKeepWarm");  // Wisp's own: the largest `keep-warm` annotation allowed
    w.Int64(l.max_keep_warm.value_or(s.max_keep_warm));
    w.EndObject();
    replier_.ReplyJson(call, 200, sb.GetString());
}

// ---- lists -----------------------------------------------------------------------------------

void EntitiesHandler::ListEntities(const CallPtr& call, EntityType type,
                                   const common::EntityPath& path) {
    const common::Identity& who = *call->identity;
    const std::string collection(common::EntityCollectionName(type));
    int64_t skip = 0, limit = 0;
    if (auto st = ParseListParams(call->req, collection, skip, limit); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    const bool count = call->req.QueryIsTrue("count");
    const bool own = path.root() == who.namespace_name;
    common::EntityPath list_path = path;

    if (!path.IsRoot()) {
        // The actions of a package (through a binding: of the bound package).
        auto chain = resolver_.ReadablePackageChain(
            who, FullyQualifiedName{path.Parent(), path.PackageName()}, path.ToString(),
            /*cached=*/false);
        if (!chain.ok()) return replier_.ReplyStatus(call, chain.status());
        list_path = chain->back().namespace_path.Add(chain->back().name);
    } else if (!own && type != EntityType::kPackage) {
        return replier_.ReplyStatus(call, NotAuthorized(path.ToString()));
    }

    const bool filter_public = !own && type == EntityType::kPackage;
    if (count && !filter_public) {
        auto n = store_.CountEntities(type, list_path);
        if (!n.ok()) return replier_.ReplyStatus(call, n.status());
        return replier_.ReplyJson(call, 200, common::Cat("{\"", collection, "\":", *n, "}"));
    }
    store::ListOptions opts;
    if (!filter_public) {
        opts.skip = skip;
        opts.limit = limit;
    }
    auto list = store_.ListEntities(type, list_path, opts);
    if (!list.ok()) return replier_.ReplyStatus(call, list.status());
    std::vector<const common::WhiskEntity*> shown;
    for (const auto& e : *list) {
        if (filter_public) {
            const auto& p = std::get<Package>(e);
            if (!p.publish || p.binding) continue;
        }
        shown.push_back(&e);
    }
    if (filter_public) {
        if (count) {
            return replier_.ReplyJson(call, 200,
                                      common::Cat("{\"", collection, "\":", shown.size(), "}"));
        }
        const size_t from = std::min<size_t>(shown.size(), static_cast<size_t>(skip));
        shown = std::vector<const common::WhiskEntity*>(
            shown.begin() + from,
            shown.begin() + std::min<size_t>(shown.size(), from + static_cast<size_t>(limit)));
    }
    std::string body = "[";
    for (size_t i = 0; i < shown.size(); ++i) {
        if (i > 0) body += ',';
        body += common::EntitySummaryToJson(*shown[i]);
    }
    body += ']';
    replier_.ReplyJson(call, 200, std::move(body));
}

// ---- GET -------------------------------------------------------------------------------------

void EntitiesHandler::GetEntity(const CallPtr& call, EntityType type,
                                const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    const bool own = fqn.Namespace() == who.namespace_name;
    switch (type) {
        case EntityType::kAction: {
            auto r = resolver_.ResolveAction(who, fqn, /*cached=*/false);
            if (!r.ok()) return replier_.ReplyStatus(call, r.status());
            common::ActionJsonOptions opts;
            if (auto code = call->req.Query("code"); code && *code == "false") {
                opts.include_code = false;
            }
            return replier_.ReplyJson(call, 200, common::ActionToJson(r->action, opts));
        }
        case EntityType::kTrigger: {
            if (!own) return replier_.ReplyStatus(call, NotAuthorized(fqn.DocId()));
            auto t = store_.Get<Trigger>(fqn);
            if (!t.ok()) return replier_.ReplyStatus(call, t.status());
            return replier_.ReplyJson(call, 200, common::TriggerToJson(t->doc));
        }
        case EntityType::kRule: {
            if (!own) return replier_.ReplyStatus(call, NotAuthorized(fqn.DocId()));
            auto r = store_.Get<Rule>(fqn);
            if (!r.ok()) return replier_.ReplyStatus(call, r.status());
            return replier_.ReplyJson(call, 200,
                                      common::RuleToJson(r->doc, RuleStatusOf(store_, r->doc)));
        }
        case EntityType::kPackage: {
            auto chain = resolver_.ReadablePackageChain(who, fqn, fqn.DocId(), /*cached=*/false);
            if (!chain.ok()) return replier_.ReplyStatus(call, chain.status());
            // A binding shows the bound package's parameters overlaid by its own.
            Package shown = chain->front();
            shown.parameters = common::Parameters();
            for (auto it = chain->rbegin(); it != chain->rend(); ++it) {
                shown.parameters = shown.parameters.Merge(it->parameters);
            }
            const common::EntityPath actions_path =
                chain->back().namespace_path.Add(chain->back().name);
            std::string actions = "[", feeds = "[";
            if (!actions_path.empty()) {
                auto list = store_.ListEntities(EntityType::kAction, actions_path, {});
                if (!list.ok()) return replier_.ReplyStatus(call, list.status());
                for (const auto& e : *list) {
                    const auto& a = std::get<Action>(e);
                    rapidjson::StringBuffer sb;
                    common::JsonWriter w(sb);
                    w.StartObject();
                    w.Key("name");
                    w.String(a.name.c_str());
                    w.Key("version");
                    w.String(a.version.ToString().c_str());
                    w.Key("annotations");
                    common::WriteParameters(w, a.annotations);
                    w.EndObject();
                    std::string& target = a.annotations.Get("feed") ? feeds : actions;
                    if (target.size() > 1) target += ',';
                    target += sb.GetString();
                }
            }
            actions += ']';
            feeds += ']';
            return replier_.ReplyJson(call, 200,
                                      WithMembers(common::PackageToJson(shown),
                                                  {{"actions", actions}, {"feeds", feeds}}));
        }
    }
}

// ---- PUT -------------------------------------------------------------------------------------

namespace {

/// Counts the atomic actions a sequence inlines; detects cycles and missing components.
[[nodiscard]] absl::Status CheckSequence(EntityResolver& resolver, const common::Identity& who,
                                         const FullyQualifiedName& self,
                                         const common::SequenceExec& seq, int64_t max_length) {
    int64_t atomic = 0;
    std::function<absl::Status(const common::SequenceExec&, int)> walk =
        [&](const common::SequenceExec& s, int depth) -> absl::Status {
        if (depth > 50) return absl::InvalidArgumentError("Sequence may not refer to itself.");
        for (const auto& c : s.components) {
            if (c == self) return absl::InvalidArgumentError("Sequence may not refer to itself.");
            auto r = resolver.ResolveAction(who, c);
            if (!r.ok()) {
                if (r.status().code() == absl::StatusCode::kNotFound) {
                    return absl::InvalidArgumentError("Sequence component does not exist.");
                }
                return r.status();
            }
            if (const auto* inner = std::get_if<common::SequenceExec>(&r->action.exec)) {
                WISP_RETURN_IF_ERROR(walk(*inner, depth + 1));
            } else {
                ++atomic;
            }
            if (atomic > max_length) {
                return absl::InvalidArgumentError("Too many actions in the sequence.");
            }
        }
        return absl::OkStatus();
    };
    return walk(seq, 0);
}

}  // namespace

void EntitiesHandler::PutEntity(const CallPtr& call, EntityType type,
                                const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    if (auto st = CheckOwnNamespace(who, fqn.Namespace(), fqn.DocId()); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    // Like OpenWhisk (Pekko's entity unmarshalling): a body must be JSON.
    const std::string_view content_type = call->req.Header("content-type");
    if (!call->req.body.empty() && !content_type.empty() &&
        common::AsciiLower(content_type).rfind("application/json", 0) != 0) {
        return replier_.ReplyError(
            call, 415, "The request's Content-Type is not supported. Expected:\napplication/json");
    }
    const bool overwrite = call->req.QueryIsTrue("overwrite");
    const common::PutContext ctx = PutContextFor(who);
    const std::string& body = call->req.body.empty() ? std::string("{}") : call->req.body;
    const int64_t now = clock_.NowMs();

    auto conflict_check = [&](const std::string& existing_rev) -> absl::Status {
        if (!existing_rev.empty() && !overwrite) {
            return absl::AlreadyExistsError(std::string(common::kMsgResourceExists));
        }
        return absl::OkStatus();
    };

    switch (type) {
        case EntityType::kAction: {
            auto put = common::ParseActionPut(body, ctx);
            if (!put.ok()) return replier_.ReplyStatus(call, put.status());
            if (!fqn.path.IsRoot()) {
                auto pkg = store_.Get<Package>(
                    FullyQualifiedName{fqn.path.Parent(), fqn.path.PackageName()});
                if (!pkg.ok()) return replier_.ReplyStatus(call, pkg.status());
                if (pkg->doc.binding) {
                    return replier_.ReplyError(call, 400,
                                               "Operation not permitted on package binding.");
                }
            }
            auto existing = GetOptional<Action>(store_, fqn);
            if (!existing.ok()) return replier_.ReplyStatus(call, existing.status());
            const std::string rev = *existing ? (*existing)->rev : std::string();
            if (auto st = conflict_check(rev); !st.ok()) return replier_.ReplyStatus(call, st);
            if (put->exec) {
                if (const auto* seq = std::get_if<common::SequenceExec>(&*put->exec)) {
                    if (auto st = CheckSequence(resolver_, who, fqn, *seq,
                                                config_.system_limits.sequence_max_length);
                        !st.ok()) {
                        return replier_.ReplyStatus(call, st);
                    }
                }
                if (who.limits.allowed_kinds) {
                    const std::string kind = common::ExecKind(*put->exec);
                    const auto& allowed = *who.limits.allowed_kinds;
                    if (kind != common::kSequenceKind &&
                        std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) {
                        return replier_.ReplyError(
                            call, 403,
                            common::Cat("The supplied authentication is not authorized to "
                                        "access actions of kind '",
                                        kind, "'."));
                    }
                }
            }
            auto action =
                common::ApplyActionPut(fqn, *put, *existing ? &(*existing)->doc : nullptr, ctx);
            if (!action.ok()) return replier_.ReplyStatus(call, action.status());
            // Wisp's `keep-warm` annotation: an integer within the namespace's maxKeepWarm.
            auto keep_warm = KeepWarm::Validate(*action, who.limits, config_.system_limits);
            if (!keep_warm.ok()) return replier_.ReplyStatus(call, keep_warm.status());
            if (keep_warm_ != nullptr && *keep_warm > 0) {
                keep_warm_->Register(*action, *keep_warm, call->tid);
            }
            action->updated_ms = now;
            auto st = store_.PutEntity(*action, rev);
            resolver_.Invalidate(fqn.DocId());
            if (!st.ok()) return replier_.ReplyStatus(call, st.status());
            if (keep_warm_ != nullptr) {
                const int64_t previous =
                    *existing ? KeepWarm::CountOf((*existing)->doc).value_or(0) : 0;
                keep_warm_->ActionWritten(who, *action, *st, previous, call->tid);
            }
            return replier_.ReplyJson(call, 200, common::ActionToJson(*action));
        }
        case EntityType::kTrigger: {
            auto put = common::ParseTriggerPut(body, ctx);
            if (!put.ok()) return replier_.ReplyStatus(call, put.status());
            auto existing = GetOptional<Trigger>(store_, fqn);
            if (!existing.ok()) return replier_.ReplyStatus(call, existing.status());
            const std::string rev = *existing ? (*existing)->rev : std::string();
            if (auto st = conflict_check(rev); !st.ok()) return replier_.ReplyStatus(call, st);
            auto trigger =
                common::ApplyTriggerPut(fqn, *put, *existing ? &(*existing)->doc : nullptr, ctx);
            if (!trigger.ok()) return replier_.ReplyStatus(call, trigger.status());
            if (auto st = ValidateWebhookSecret(trigger->annotations); !st.ok()) {
                return replier_.ReplyStatus(call, st);
            }
            trigger->updated_ms = now;
            auto st = store_.PutEntity(*trigger, rev);
            if (!st.ok()) return replier_.ReplyStatus(call, st.status());
            return replier_.ReplyJson(call, 200, common::TriggerToJson(*trigger));
        }
        case EntityType::kRule: {
            auto put = common::ParseRulePut(body, ctx);
            if (!put.ok()) return replier_.ReplyStatus(call, put.status());
            auto existing = GetOptional<Rule>(store_, fqn);
            if (!existing.ok()) return replier_.ReplyStatus(call, existing.status());
            const std::string rev = *existing ? (*existing)->rev : std::string();
            if (auto st = conflict_check(rev); !st.ok()) return replier_.ReplyStatus(call, st);
            auto rule =
                common::ApplyRulePut(fqn, *put, *existing ? &(*existing)->doc : nullptr, ctx);
            if (!rule.ok()) return replier_.ReplyStatus(call, rule.status());
            // The trigger must be the caller's; the action the caller's or shared.
            if (auto st = CheckOwnNamespace(who, rule->trigger.Namespace(), rule->trigger.DocId());
                !st.ok()) {
                return replier_.ReplyStatus(call, st);
            }
            auto trig = store_.Get<Trigger>(rule->trigger);
            if (!trig.ok()) {
                if (trig.status().code() == absl::StatusCode::kNotFound) {
                    return replier_.ReplyError(
                        call, 400,
                        common::Cat("trigger ", rule->trigger.ToString(), " does not exist"));
                }
                return replier_.ReplyStatus(call, trig.status());
            }
            auto act = resolver_.ResolveAction(who, rule->action);
            if (!act.ok()) {
                if (act.status().code() == absl::StatusCode::kNotFound) {
                    return replier_.ReplyError(
                        call, 400,
                        common::Cat("action ", rule->action.ToString(), " does not exist"));
                }
                return replier_.ReplyStatus(call, act.status());
            }
            rule->updated_ms = now;
            common::RuleStatus status = common::RuleStatus::kActive;
            if (*existing) {
                const Rule& old = (*existing)->doc;
                status = RuleStatusOf(store_, old);
                if (!(old.trigger == rule->trigger)) {
                    status = common::RuleStatus::kActive;
                    auto unlink = UpdateTrigger(store_, clock_, old.trigger, [&](Trigger& t) {
                        return t.rules.erase(fqn.DocId()) > 0;
                    });
                    if (!unlink.ok() && unlink.code() != absl::StatusCode::kNotFound) {
                        return replier_.ReplyStatus(call, unlink);
                    }
                }
            }
            if (put->status) status = *put->status;
            auto st = store_.PutEntity(*rule, rev);
            if (!st.ok()) return replier_.ReplyStatus(call, st.status());
            auto link = UpdateTrigger(store_, clock_, rule->trigger, [&](Trigger& t) {
                t.rules[fqn.DocId()] = common::ReducedRule{rule->action, status};
                return true;
            });
            if (!link.ok()) return replier_.ReplyStatus(call, link);
            return replier_.ReplyJson(call, 200, common::RuleToJson(*rule, status));
        }
        case EntityType::kPackage: {
            auto put = common::ParsePackagePut(body, ctx);
            if (!put.ok()) return replier_.ReplyStatus(call, put.status());
            auto existing = GetOptional<Package>(store_, fqn);
            if (!existing.ok()) return replier_.ReplyStatus(call, existing.status());
            const std::string rev = *existing ? (*existing)->rev : std::string();
            if (auto st = conflict_check(rev); !st.ok()) return replier_.ReplyStatus(call, st);
            auto pkg =
                common::ApplyPackagePut(fqn, *put, *existing ? &(*existing)->doc : nullptr, ctx);
            if (!pkg.ok()) return replier_.ReplyStatus(call, pkg.status());
            if (pkg->binding && put->binding && *put->binding) {
                const FullyQualifiedName target_fqn = pkg->binding->Fqn();
                auto target = store_.Get<Package>(target_fqn);
                if (!target.ok()) {
                    if (target.status().code() == absl::StatusCode::kNotFound ||
                        target.status().code() == absl::StatusCode::kFailedPrecondition) {
                        return replier_.ReplyError(
                            call, 400, "Binding references a package that does not exist.");
                    }
                    return replier_.ReplyStatus(call, target.status());
                }
                if (target->doc.binding) {
                    return replier_.ReplyError(call, 400,
                                               "Cannot bind to another package binding.");
                }
                if (target_fqn.Namespace() != who.namespace_name && !target->doc.publish) {
                    return replier_.ReplyStatus(call, NotAuthorized(target_fqn.DocId()));
                }
            }
            pkg->updated_ms = now;
            auto st = store_.PutEntity(*pkg, rev);
            resolver_.Invalidate(fqn.DocId());
            if (!st.ok()) return replier_.ReplyStatus(call, st.status());
            return replier_.ReplyJson(call, 200, common::PackageToJson(*pkg));
        }
    }
}

// ---- DELETE ----------------------------------------------------------------------------------

void EntitiesHandler::DeleteEntity(const CallPtr& call, EntityType type,
                                   const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    if (auto st = CheckOwnNamespace(who, fqn.Namespace(), fqn.DocId()); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    switch (type) {
        case EntityType::kAction: {
            if (!fqn.path.IsRoot()) {
                auto pkg = store_.Get<Package>(
                    FullyQualifiedName{fqn.path.Parent(), fqn.path.PackageName()});
                if (pkg.ok() && pkg->doc.binding) {
                    return replier_.ReplyError(call, 400,
                                               "Operation not permitted on package binding.");
                }
            }
            auto a = store_.Get<Action>(fqn);
            if (!a.ok()) return replier_.ReplyStatus(call, a.status());
            auto deleted = store_.DeleteEntity(type, fqn, a->rev);
            resolver_.Invalidate(fqn.DocId());
            if (!deleted.ok()) return replier_.ReplyStatus(call, deleted);
            if (keep_warm_ != nullptr) keep_warm_->ActionDeleted(who, a->doc, call->tid);
            return replier_.ReplyJson(call, 200, common::ActionToJson(a->doc));
        }
        case EntityType::kTrigger: {
            auto t = store_.Get<Trigger>(fqn);
            if (!t.ok()) return replier_.ReplyStatus(call, t.status());
            if (auto st = store_.DeleteEntity(type, fqn, t->rev); !st.ok()) {
                return replier_.ReplyStatus(call, st);
            }
            if (on_trigger_deleted_) on_trigger_deleted_(fqn);
            return replier_.ReplyJson(call, 200, common::TriggerToJson(t->doc));
        }
        case EntityType::kRule: {
            auto r = store_.Get<Rule>(fqn);
            if (!r.ok()) return replier_.ReplyStatus(call, r.status());
            auto unlink = UpdateTrigger(store_, clock_, r->doc.trigger,
                                        [&](Trigger& t) { return t.rules.erase(fqn.DocId()) > 0; });
            if (!unlink.ok() && unlink.code() != absl::StatusCode::kNotFound) {
                return replier_.ReplyStatus(call, unlink);
            }
            if (auto st = store_.DeleteEntity(type, fqn, r->rev); !st.ok()) {
                return replier_.ReplyStatus(call, st);
            }
            return replier_.ReplyJson(call, 200,
                                      common::RuleToJson(r->doc, common::RuleStatus::kInactive));
        }
        case EntityType::kPackage: {
            auto p = store_.Get<Package>(fqn);
            if (!p.ok()) return replier_.ReplyStatus(call, p.status());
            if (!p->doc.binding) {
                const common::EntityPath contents = fqn.path.Add(fqn.name);
                auto list = store_.ListEntities(EntityType::kAction, contents, {});
                if (!list.ok()) return replier_.ReplyStatus(call, list.status());
                if (!list->empty()) {
                    if (!call->req.QueryIsTrue("force")) {
                        return replier_.ReplyError(
                            call, 409,
                            common::Cat("Package not empty (contains ", list->size(),
                                        " entities). Set force param or delete package "
                                        "contents."));
                    }
                    for (const auto& e : *list) {
                        auto st =
                            store_.DeleteEntity(EntityType::kAction, common::HeaderOf(e).Fqn(), "");
                        resolver_.Invalidate(common::HeaderOf(e).Fqn().DocId());
                        if (!st.ok() && st.code() != absl::StatusCode::kNotFound) {
                            return replier_.ReplyStatus(call, st);
                        }
                    }
                }
            }
            auto deleted = store_.DeleteEntity(type, fqn, "");
            resolver_.Invalidate(fqn.DocId());
            if (!deleted.ok()) return replier_.ReplyStatus(call, deleted);
            return replier_.ReplyJson(call, 200, common::PackageToJson(p->doc));
        }
    }
}

// ---- rule status -----------------------------------------------------------------------------

void EntitiesHandler::SetRuleStatus(const CallPtr& call, const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    if (auto st = CheckOwnNamespace(who, fqn.Namespace(), fqn.DocId()); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    rapidjson::Document d;
    std::optional<common::RuleStatus> wanted;
    if (common::ParseJson(call->req.body, d).ok() && d.IsObject()) {
        auto it = d.FindMember("status");
        if (it != d.MemberEnd() && it->value.IsString()) {
            std::string_view s(it->value.GetString(), it->value.GetStringLength());
            if (s == "active") wanted = common::RuleStatus::kActive;
            if (s == "inactive") wanted = common::RuleStatus::kInactive;
        }
    }
    auto r = store_.Get<Rule>(fqn);
    if (!r.ok()) return replier_.ReplyStatus(call, r.status());
    if (!wanted) {
        return replier_.ReplyError(call, 400,
                                   "The request content was malformed:\nstatus must be 'active' or "
                                   "'inactive'");
    }
    auto st = UpdateTrigger(store_, clock_, r->doc.trigger, [&](Trigger& t) {
        auto& link = t.rules[fqn.DocId()];
        if (link.action == r->doc.action && link.status == *wanted) return false;
        link = common::ReducedRule{r->doc.action, *wanted};
        return true;
    });
    if (!st.ok()) {
        if (st.code() == absl::StatusCode::kNotFound) {
            return replier_.ReplyError(call, 404,
                                       "Only rules with existing triggers can be activated");
        }
        return replier_.ReplyStatus(call, st);
    }
    replier_.Reply(call, HttpResponse::Text(200, "OK"));
}

}  // namespace wisp::controller
