// Web actions (wire §1.9): /api/v1/web/{ns}/{pkg|default}/{action}{.ext}{/path}.
//
// Anyone may call a web action; it runs as the owner of its namespace. The pure rules (URL,
// arguments, require-whisk-auth, rendering) live in web_action.{hpp,cpp}.
#include "web_handler.hpp"

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

#include "web_action.hpp"

namespace wisp::controller {

namespace {

using common::FullyQualifiedName;

using Cors = WebHandler::Cors;

bool IsWebMethod(std::string_view m) {
    return m == "GET" || m == "DELETE" || m == "POST" || m == "PUT" || m == "HEAD" ||
           m == "OPTIONS" || m == "PATCH";
}

HttpResponse WebError(const CallPtr& call, int status, std::string_view msg) {
    return HttpResponse::Json(status, ErrorBody(msg, call->tid));
}

HttpResponse WebStatusError(const CallPtr& call, const absl::Status& st) {
    const int code = common::HttpStatusFor(st);
    if (code >= 500) {
        common::TidLog(call->tid).error("{} {}: {}", call->req.method, call->req.path,
                                        common::RedactUri(common::MessageOf(st)));
    }
    return WebError(call, code, ClientMessageFor(st));
}

}  // namespace

void WebHandler::Handle(const CallPtr& call, std::string_view rest_of_path) {
    const HttpRequest& req = call->req;
    if (!IsWebMethod(req.method)) {
        return Answer(call, WebError(call, 405, web::kMsgMethodNotAllowed), Cors::kNone);
    }
    auto target = web::ParseWebPath(rest_of_path);
    if (!target) {
        return Answer(call, WebError(call, 404, web::kMsgRouteNotFound), Cors::kNone);
    }
    // Checked before the owner lookup too: an oversized body gets 413 whatever the namespace.
    if (RejectOversized(call, Cors::kNone)) return;

    // The owner of the namespace runs the action; nothing is revealed about what is missing.
    const auto not_found = [&] {
        Answer(call, WebError(call, 404, common::kMsgResourceDoesNotExist), Cors::kNone);
    };
    auto owner = auth_.IdentityOfNamespace(target->ns);
    if (!owner.ok()) {
        if (owner.status().code() != absl::StatusCode::kNotFound) {
            common::TidLog(call->tid).warn("web action owner of '{}': {}", target->ns,
                                           common::RedactUri(common::MessageOf(owner.status())));
        }
        return not_found();
    }
    common::EntityPath path({target->ns});
    if (target->package) path = path.Add(*target->package);
    Target run{.owner = *std::move(owner),
               .fqn = FullyQualifiedName{path, target->action},
               .extension = target->extension,
               .extra_path = target->extra_path};
    Run(call, std::move(run));
}

bool WebHandler::RejectOversized(const CallPtr& call, Cors cors) {
    const int64_t max_payload = config_.system_limits.max_payload_bytes;
    const auto size = static_cast<int64_t>(call->req.body.size());
    if (size <= max_payload) return false;
    Answer(
        call,
        WebError(call, 413,
                 common::Cat("Request larger than allowed: ", size, " > ", max_payload, " bytes.")),
        cors);
    return true;
}

void WebHandler::Answer(const CallPtr& call, HttpResponse resp, Cors cors) {
    if (cors == Cors::kGateway) {
        // The API gateway's CORS (cors.lua): over the action's own headers.
        const std::string_view origin = call->req.Header("origin");
        resp.SetHeader("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
        resp.SetHeader("Access-Control-Allow-Methods",
                       "GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS");
        resp.SetHeader("Access-Control-Allow-Credentials", "true");
    }
    if (cors != Cors::kNone) {
        AddWebCorsHeaders(resp, call->req.Header("access-control-request-headers"));
    }
    replier_.Reply(call, std::move(resp), /*rest_cors=*/false);
}

void WebHandler::Run(const CallPtr& call, Target target) {
    const HttpRequest& req = call->req;
    const Cors early = target.cors == Cors::kGateway ? Cors::kGateway : Cors::kNone;
    const auto not_found = [&] {
        Answer(call, WebError(call, 404, common::kMsgResourceDoesNotExist), early);
    };
    if (RejectOversized(call, early)) return;
    const common::Identity* owner = &target.owner;
    auto resolved = resolver_.ResolveAction(*owner, target.fqn);
    if (!resolved.ok()) {
        const auto code = resolved.status().code();
        if (code == absl::StatusCode::kNotFound || code == absl::StatusCode::kPermissionDenied) {
            return not_found();
        }
        return Answer(call, WebStatusError(call, resolved.status()), early);
    }
    const common::Action& action = resolved->action;
    if (!web::AnnotationIsTrue(action.annotations, web::kWebExport)) return not_found();
    if (auto st = activator_.CheckInvokeThrottles(*owner); !st.ok()) {
        return Answer(call, WebStatusError(call, st), early);
    }

    const bool custom_options = web::AnnotationIsTrue(action.annotations, web::kWebCustomOptions);
    const Cors cors = target.cors == Cors::kGateway ? Cors::kGateway
                      : custom_options              ? Cors::kNone
                                                    : Cors::kWebDefaults;
    const bool options = req.method == "OPTIONS";
    if (options && (!custom_options || target.cors == Cors::kGateway)) {
        HttpResponse resp;
        resp.status = 200;
        return Answer(call, std::move(resp), cors);
    }

    // Credentials are optional: valid ones make __ow_user; invalid ones count as none.
    std::optional<common::Identity> caller;
    if (req.HasHeader("authorization")) {
        auto who = auth_.Authenticate(req.Header("authorization"), req.remote_address);
        if (who.ok()) {
            caller = *std::move(who);
        } else if (who.status().code() == absl::StatusCode::kResourceExhausted) {
            // The address is blocked after failed authentications.
            return Answer(call, WebStatusError(call, who.status()), cors);
        }
    }
    if (!options && !web::RequireWhiskAuthAllows(action.annotations, req, caller.has_value())) {
        return Answer(call, WebError(call, 401, web::kMsgUnauthorized), cors);
    }

    const bool raw_http = web::AnnotationIsTrue(action.annotations, web::kRawHttp);
    const auto protected_names = web::ProtectedParameters(action.annotations, action.parameters);
    web::WebArgumentsInput in;
    in.request = &req;
    in.extra_path = target.extra_path;
    if (caller) in.user_namespace = caller->namespace_name;
    in.raw_http = raw_http;
    in.protected_names = &protected_names;
    auto args = web::BuildWebArguments(in);
    if (!args.ok()) return Answer(call, WebStatusError(call, args.status()), cors);

    ActivateRequest ar;
    ar.user = *owner;
    ar.content_json = ArgumentParams(action).Merge(target.path_params).Merge(*args).ToObjectJson();
    ar.blocking = true;
    ar.wait = config_.max_blocking_wait;
    ar.tid = call->tid;
    ar.received_ms = call->received_ms;
    const bool sequence = std::holds_alternative<common::SequenceExec>(action.exec);
    ar.resolved = *std::move(resolved);
    const web::Extension ext = target.extension;

    auto on_done = [this, call, ext, cors](ActivateOutcome out) {
        const double seconds = (clock_.MonotonicNs() - call->received_mono_ns) / 1e9;
        metrics_.ObserveInvokeLatency(true, seconds);
        if (!out.status.ok()) return Answer(call, WebStatusError(call, out.status), cors);
        HttpResponse resp;
        if (!out.record) {
            resp = WebError(call, 202, web::kMsgResponseNotReady);
        } else {
            auto rendered = web::RenderActivationResponse(ext, out.record->response);
            resp = rendered.ok() ? *std::move(rendered) : WebStatusError(call, rendered.status());
        }
        resp.SetHeader("x-openwhisk-activation-id", out.activation_id.str());
        Answer(call, std::move(resp), cors);
    };
    if (sequence) {
        activator_.RunSequence(std::move(ar), std::move(on_done));
    } else {
        activator_.Activate(std::move(ar), std::move(on_done));
    }
}

}  // namespace wisp::controller
