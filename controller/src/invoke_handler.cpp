// Activations started over the REST API: POST .../actions/{name} (invoke, wire §1.4) and
// POST .../triggers/{name} (fire, §4). The Activator runs them (and sequences, §3).
#include "invoke_handler.hpp"

#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

namespace {

using common::ActivationRecord;
using common::ActivationStatus;
using common::FullyQualifiedName;
using common::JsonValue;
using common::Parameters;

/// The invoke or fire body: empty -> nullopt; a JSON object or array; else 400.
[[nodiscard]] absl::StatusOr<std::optional<JsonValue>> ParseArgumentBody(const std::string& body) {
    if (common::Trim(body).empty()) return std::optional<JsonValue>();
    if (body == "{}") return std::optional<JsonValue>(JsonValue::EmptyObject());  // no parse
    auto v = JsonValue::Parse(body);
    if (!v.ok()) return v.status();
    if (!v->IsObject() && !v->IsArray()) {
        return absl::InvalidArgumentError(
            "The request content was malformed:\nexpected a JSON object");
    }
    return std::optional<JsonValue>(*std::move(v));
}

int HttpStatusForRecord(const ActivationRecord& r) {
    switch (r.response.status) {
        case ActivationStatus::kSuccess:
            return 200;
        case ActivationStatus::kApplicationError:
        case ActivationStatus::kDeveloperError:
            return 502;
        case ActivationStatus::kWhiskError:
            return 500;
    }
    return 500;
}

/// Keys of the body that override defined parameters of a `final` action.
bool OverridesFinal(const common::Action& a, const std::optional<JsonValue>& args) {
    if (!args || !args->IsObject() || !a.annotations.IsTruthy("final")) return false;
    auto given = Parameters::FromObjectJson(args->text());
    if (!given.ok()) return false;
    for (const auto& p : given->items()) {
        if (a.parameters.Find(p.key) != nullptr) return true;
    }
    return false;
}

}  // namespace

// ---- POST /actions/{name}: invoke ------------------------------------------------------------

void InvokeHandler::ReplyActivation(const CallPtr& call, const ActivateOutcome& out,
                                    bool result_only) {
    if (!out.status.ok()) return replier_.ReplyStatus(call, out.status);
    HttpResponse resp;
    resp.SetHeader("x-openwhisk-activation-id", out.activation_id.str());
    resp.SetHeader("Content-Type", "application/json");
    if (!out.record) {
        resp.status = 202;
        resp.body = ActivationIdJson(out.activation_id);
        return replier_.Reply(call, std::move(resp));
    }
    const ActivationRecord& r = *out.record;
    resp.status = HttpStatusForRecord(r);
    const bool array_result = r.response.result && r.response.result->IsArray();
    if (result_only || array_result) {
        resp.body = r.response.result ? r.response.result->text() : std::string("{}");
    } else {
        resp.body = common::ActivationToJson(r, common::ActivationJsonForm::kApi);
    }
    replier_.Reply(call, std::move(resp));
}

void InvokeHandler::InvokeAction(const CallPtr& call, const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    const auto& req = call->req;
    const bool blocking = req.QueryIsTrue("blocking");
    const bool result_only = req.QueryIsTrue("result");
    std::chrono::milliseconds wait = config_.max_blocking_wait;
    if (auto t = req.Query("timeout")) {
        int64_t ms = 0;
        if (!common::ParseInt(*t, ms) || ms < 1 || ms > config_.max_blocking_wait.count()) {
            return replier_.ReplyError(call, 400,
                                       common::Cat("Timeout must be number of milliseconds up to ",
                                                   config_.max_blocking_wait.count(), "."));
        }
        wait = std::chrono::milliseconds(ms);
    }
    const int64_t max_payload =
        who.limits.max_payload_size.value_or(config_.system_limits.max_payload_bytes);
    if (static_cast<int64_t>(req.body.size()) > max_payload) {
        return replier_.ReplyError(call, 413,
                                   common::Cat("Request larger than allowed: ", req.body.size(),
                                               " > ", max_payload, " bytes."));
    }
    auto args = ParseArgumentBody(req.body);
    if (!args.ok()) return replier_.ReplyStatus(call, args.status());
    auto resolved = resolver_.ResolveAction(who, fqn);
    if (!resolved.ok()) return replier_.ReplyStatus(call, resolved.status());
    if (OverridesFinal(resolved->action, *args)) {
        return replier_.ReplyError(
            call, 400,
            "Request defines parameters that are not allowed (e.g., reserved "
            "properties).");
    }
    if (auto st = activator_.CheckInvokeThrottles(who); !st.ok())
        return replier_.ReplyStatus(call, st);

    if (alarm_feed_ != nullptr && IsBuiltinAlarmFeed(resolved->action)) {
        // Run here, at once: a few store calls, no container (alarm_feed.hpp).
        FeedInvoke feed;
        feed.who = who;
        feed.args_json = MergeArguments(ArgumentParams(resolved->action), *args);
        feed.received_ms = call->received_ms;
        feed.tid = call->tid;
        feed.resolved = *std::move(resolved);
        ActivateOutcome out;
        out.record = alarm_feed_->Run(feed);
        out.activation_id = out.record->activation_id;
        if (who.limits.store_activations.value_or(true)) {
            if (auto st = store_.PutActivation(*out.record); !st.ok()) {
                common::TidLog(call->tid).error("storing feed activation {} failed: {}; retrying",
                                                out.activation_id.str(), common::MessageOf(st));
                activator_.StoreLater(*out.record);
            }
        }
        metrics_.ObserveInvokeLatency(blocking,
                                      (clock_.MonotonicNs() - call->received_mono_ns) / 1e9);
        if (!blocking) {
            HttpResponse resp = HttpResponse::Json(202, ActivationIdJson(out.activation_id));
            resp.SetHeader("x-openwhisk-activation-id", out.activation_id.str());
            return replier_.Reply(call, std::move(resp));
        }
        return ReplyActivation(call, out, result_only);
    }

    ActivateRequest ar;
    ar.user = who;
    ar.content_json = MergeArguments(ArgumentParams(resolved->action), *args);
    ar.blocking = blocking;
    ar.wait = wait;
    ar.tid = call->tid;
    ar.received_ms = call->received_ms;
    const bool sequence = std::holds_alternative<common::SequenceExec>(resolved->action.exec);
    ar.resolved = *std::move(resolved);

    auto on_done = [this, call, result_only, blocking](ActivateOutcome out) {
        const double seconds = (clock_.MonotonicNs() - call->received_mono_ns) / 1e9;
        metrics_.ObserveInvokeLatency(blocking, seconds);
        if (!blocking && out.status.ok()) {
            HttpResponse resp = HttpResponse::Json(202, ActivationIdJson(out.activation_id));
            resp.SetHeader("x-openwhisk-activation-id", out.activation_id.str());
            return replier_.Reply(call, std::move(resp));
        }
        ReplyActivation(call, out, result_only);
    };
    if (sequence) {
        activator_.RunSequence(std::move(ar), std::move(on_done));
    } else {
        activator_.Activate(std::move(ar), std::move(on_done));
    }
}

// ---- POST /triggers/{name}: fire -------------------------------------------------------------

void InvokeHandler::FireTrigger(const CallPtr& call, const FullyQualifiedName& fqn) {
    const common::Identity& who = *call->identity;
    if (auto st = CheckOwnNamespace(who, fqn.Namespace(), fqn.DocId()); !st.ok()) {
        return replier_.ReplyStatus(call, st);
    }
    const int64_t max_payload =
        who.limits.max_payload_size.value_or(config_.system_limits.max_payload_bytes);
    if (static_cast<int64_t>(call->req.body.size()) > max_payload) {
        return replier_.ReplyError(
            call, 413,
            common::Cat("Request larger than allowed: ", call->req.body.size(), " > ", max_payload,
                        " bytes."));
    }
    auto args = ParseArgumentBody(call->req.body);
    if (!args.ok()) return replier_.ReplyStatus(call, args.status());
    if (*args && !(*args)->IsObject()) {
        return replier_.ReplyError(call, 400,
                                   "The request content was malformed:\nexpected a JSON object");
    }
    if (auto st = CheckFireRate(who); !st.ok()) return replier_.ReplyStatus(call, st);
    FireRequest fire;
    fire.who = who;
    fire.trigger = fqn;
    fire.args = *std::move(args);
    fire.headers = call->req.headers;
    fire.tid = call->tid;
    fire.received_ms = call->received_ms;
    FireOutcome fired = firer_.Fire(fire);
    if (!fired.status.ok()) return replier_.ReplyStatus(call, fired.status);
    if (!fired.fired) return replier_.Reply(call, HttpResponse::Text(204, ""));
    HttpResponse resp = HttpResponse::Json(202, ActivationIdJson(fired.activation_id));
    resp.SetHeader("x-openwhisk-activation-id", fired.activation_id.str());
    replier_.Reply(call, std::move(resp));
}

absl::Status InvokeHandler::CheckFireRate(const common::Identity& who) {
    const int64_t fires =
        ClusterShare(who.limits.fires_per_minute.value_or(config_.system_limits.fires_per_minute),
                     config_.cluster_size ? config_.cluster_size() : 1);
    auto st = fire_rate_.Check(who.namespace_name, fires, clock_.NowMs());
    if (!st.ok()) metrics_.CountThrottled("fires");
    return st;
}

}  // namespace wisp::controller
