#include "replier.hpp"

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

std::string ClientMessageFor(const absl::Status& st) {
    switch (common::HttpStatusFor(st)) {
        case 500:
            return std::string(kMsgInternalServerError);
        case 503:
            // The balancer's own texts are meant for users; a store's or the bus's are not.
            if (st.message() == "No invokers available.") return std::string(st.message());
            return std::string(kMsgServiceUnavailable);
        case 504:
            return std::string(kMsgGatewayTimeout);
        default:
            return std::string(st.message());
    }
}

std::string ClientMessageFor(const absl::Status& st, std::string_view tid,
                             std::string_view context) {
    if (common::HttpStatusFor(st) >= 500) {
        common::TidLog(tid).error("{}: {}", context, common::RedactUri(common::MessageOf(st)));
    }
    return ClientMessageFor(st);
}

std::string ActivationIdJson(const common::ActivationId& id) {
    return common::Cat("{\"activationId\":\"", id.str(), "\"}");
}

std::string MethodsNotAllowed(std::string_view supported) {
    return common::Cat("HTTP method not allowed, supported methods: ", supported);
}

void Replier::Reply(const CallPtr& call, HttpResponse resp, bool rest_cors) {
    if (call->answered.exchange(true)) {
        common::TidLog(call->tid).warn("second answer to {} {} dropped", call->req.method,
                                       call->req.path);
        return;
    }
    resp.SetHeader("X-Request-ID", call->tid);
    if (rest_cors) AddRestCorsHeaders(resp);
    metrics_.CountResponse(resp.status);
    in_flight_.fetch_sub(1);
    auto responder = std::move(call->responder);
    responder(std::move(resp));
}

void Replier::ReplyJson(const CallPtr& call, int status, std::string body) {
    Reply(call, HttpResponse::Json(status, std::move(body)));
}

void Replier::ReplyError(const CallPtr& call, int status, std::string_view msg) {
    HttpResponse r = HttpResponse::Json(status, ErrorBody(msg, call->tid));
    if (status == 401) r.SetHeader("WWW-Authenticate", "Basic realm=\"OpenWhisk secure realm\"");
    Reply(call, std::move(r));
}

void Replier::ReplyStatus(const CallPtr& call, const absl::Status& st) {
    const int code = common::HttpStatusFor(st);
    if (code >= 500) {
        // The real text stays in the log, under the transaction id the client gets as "code".
        common::TidLog(call->tid).error("{} {}: {}", call->req.method, call->req.path,
                                        common::RedactUri(common::MessageOf(st)));
    }
    ReplyError(call, code, ClientMessageFor(st));
}

}  // namespace wisp::controller
