#pragma once
// Replier: how every handler answers a Call — once, with X-Request-ID, the REST API's CORS
// headers, the response counted in /metrics, and errors in OpenWhisk's {"error","code"} shape
// (internal texts of server errors stay in the log under the transaction id). It also counts
// the requests in flight (StartCall() .. the answer).
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>

#include <wisp/common/ids.hpp>
#include <wisp/controller/http.hpp>

#include "call.hpp"
#include "metrics.hpp"

namespace wisp::controller {

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
inline constexpr std::string_view kMsgResourceNotFound =
    "The requested resource could not be found.";

/// What the client is told for a failed status: its message below 500, a generic text above
/// (see the constants above). Log the real message with the transaction id.
std::string ClientMessageFor(const absl::Status& st);
/// The same, logging the real message of a 5xx with the transaction id and `context`.
std::string ClientMessageFor(const absl::Status& st, std::string_view tid,
                             std::string_view context);

/// 202's body {"activationId":id}.
std::string ActivationIdJson(const common::ActivationId& id);

/// "HTTP method not allowed, supported methods: <supported>".
std::string MethodsNotAllowed(std::string_view supported);

/// Thread-safe; shared by the router and every handler (Api owns it).
class Replier {
  public:
    explicit Replier(Metrics& metrics) : metrics_(metrics) {}

    /// Counts `call` as in flight until it is answered (the router, once per request).
    void StartCall() { in_flight_.fetch_add(1); }
    int64_t in_flight() const { return in_flight_.load(); }

    /// Adds X-Request-ID and (unless `rest_cors` is false: web actions and /metrics set their
    /// own) the REST API's CORS headers, counts, answers once (a second answer is logged and
    /// dropped).
    void Reply(const CallPtr& call, HttpResponse resp, bool rest_cors = true);
    void ReplyJson(const CallPtr& call, int status, std::string body);
    /// {"error":msg,"code":tid}; a 401 also gets OpenWhisk's WWW-Authenticate.
    void ReplyError(const CallPtr& call, int status, std::string_view msg);
    /// Status -> HTTP status (common::HttpStatusFor) + error body; 5xx texts are logged with
    /// the transaction id and the client gets ClientMessageFor's generic text.
    void ReplyStatus(const CallPtr& call, const absl::Status& st);

  private:
    Metrics& metrics_;
    std::atomic<int64_t> in_flight_{0};
};

}  // namespace wisp::controller
