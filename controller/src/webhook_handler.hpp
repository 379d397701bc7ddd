#pragma once
// WebhookHandler: POST /api/v1/webhooks/{namespace}/{trigger} — trigger fire for senders that
// cannot send Basic auth (GitHub, MinIO bucket notifications, ...). No credentials: the trigger's
// annotation `webhook-secret` (a string of at least 16 characters) enables the route, and the
// request proves it knows the secret with one of
//   X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under the secret>  (GitHub)
//   Authorization: Bearer <secret>   or   Authorization: <secret>               (MinIO auth_token)
//   X-Wisp-Webhook-Token: <secret>
// compared in constant time. Every failure (unknown namespace or trigger, no secret, no or a bad
// proof) answers the same 401 {"error":"The supplied authentication is invalid","code":tid} and
// counts as a failure of (trigger, client address); too many block that pair for a while (429),
// with the Authenticator's limits (ControllerConfig::auth_failures_*).
//
// A proven request fires as the namespace's owner (its first identity), through TriggerFirer:
// the body (a JSON object, or empty) is the parameters, the headers minus the proofs are
// `__ow_headers`; the owner's payload limit (413) and fire rate (429, shared with the REST fire
// route) apply. Answers like the fire route: 202 {"activationId"}, 204 without an active rule.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <absl/status/status.h>

#include <wisp/common/clock.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http.hpp>
#include <wisp/store/artifact_store.hpp>

#include "authenticator.hpp"
#include "call.hpp"
#include "invoke_handler.hpp"
#include "replier.hpp"
#include "trigger_firer.hpp"

namespace wisp::controller {

inline constexpr std::string_view kWebhookSecretAnnotation = "webhook-secret";
inline constexpr size_t kMinWebhookSecretLength = 16;
/// The 429 answered to a (trigger, client address) after too many failed proofs (Wisp's text).
inline constexpr std::string_view kMsgWebhookFailuresExceeded =
    "Too many failed webhook authentications for this trigger from this address; try again "
    "later.";

/// Trigger PUT: InvalidArgument unless the `webhook-secret` annotation is absent or a string of
/// at least kMinWebhookSecretLength characters.
[[nodiscard]] absl::Status ValidateWebhookSecret(const common::Annotations& annotations);

/// Whether `req` carries one of the accepted proofs of `secret` (see the file comment).
bool WebhookProofValid(const HttpRequest& req, std::string_view secret);

/// The request headers an action sees as `__ow_headers`: all but Authorization and the proof
/// headers (X-Hub-Signature-256, X-Hub-Signature, X-Wisp-Webhook-Token).
HeaderList WebhookForwardedHeaders(const HeaderList& headers);

class WebhookHandler {
  public:
    /// Keeps references; all must outlive the handler.
    WebhookHandler(store::ArtifactStore& store, common::Clock& clock,
                   const ControllerConfig& config, Authenticator& auth, Replier& replier,
                   InvokeHandler& invoke, TriggerFirer& firer)
        : store_(store),
          clock_(clock),
          config_(config),
          auth_(auth),
          replier_(replier),
          invoke_(invoke),
          firer_(firer) {}

    /// `rest_of_path`: the path after "/api/v1/webhooks/".
    void Handle(const CallPtr& call, std::string_view rest_of_path);

  private:
    struct Failures {
        int64_t window_start_ms = 0;
        int count = 0;
        int64_t blocked_until_ms = 0;
    };
    bool IsBlocked(const std::string& key, int64_t now);
    void CountFailure(const std::string& key, int64_t now, const std::string& tid);

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const ControllerConfig& config_;
    Authenticator& auth_;
    Replier& replier_;
    InvokeHandler& invoke_;
    TriggerFirer& firer_;
    std::mutex failures_mu_;
    std::unordered_map<std::string, Failures> failures_;  // by "<ns>/<trigger> <address>"
};

}  // namespace wisp::controller
