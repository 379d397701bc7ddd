// Webhooks: POST /api/v1/webhooks/{namespace}/{trigger}, trigger fire proven by the trigger's
// `webhook-secret` instead of Basic auth (see webhook_handler.hpp).
#include "webhook_handler.hpp"

#include <optional>

#include <wisp/common/crypto.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

namespace {

constexpr size_t kMaxFailureEntries = 10000;
constexpr std::string_view kSignatureHeader = "x-hub-signature-256";
constexpr std::string_view kTokenHeader = "x-wisp-webhook-token";

/// Equal secrets, in time that depends on neither (both are hashed to 64 hex digits first, so
/// not even the length of the secret shows).
bool SecretEquals(std::string_view given, std::string_view secret) {
    return common::ConstantTimeEquals(common::Sha256Hex(given), common::Sha256Hex(secret));
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() &&
           common::EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace

absl::Status ValidateWebhookSecret(const common::Annotations& annotations) {
    const common::JsonValue* v = annotations.Get(kWebhookSecretAnnotation);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsString() || v->AsString().size() < kMinWebhookSecretLength) {
        return absl::InvalidArgumentError(common::Cat(
            "The annotation '", kWebhookSecretAnnotation, "' must be a string of at least ",
            kMinWebhookSecretLength, " characters (the secret webhook senders prove they know)."));
    }
    return absl::OkStatus();
}

bool WebhookProofValid(const HttpRequest& req, std::string_view secret) {
    if (secret.empty()) return false;
    bool valid = false;
    // Every proof given is checked (no early exit on the first), each in constant time.
    if (req.HasHeader(kSignatureHeader)) {
        std::string_view sig = common::TrimAsciiSpace(req.Header(kSignatureHeader));
        if (StartsWithIgnoreCase(sig, "sha256=")) {
            const std::string given = common::AsciiLower(sig.substr(7));
            valid |= common::ConstantTimeEquals(given, common::HmacSha256Hex(secret, req.body));
        }
    }
    if (req.HasHeader("authorization")) {
        std::string_view auth = common::TrimAsciiSpace(req.Header("authorization"));
        if (StartsWithIgnoreCase(auth, "bearer ")) {
            valid |= SecretEquals(common::TrimAsciiSpace(auth.substr(7)), secret);
        }
        valid |= SecretEquals(auth, secret);
    }
    if (req.HasHeader(kTokenHeader)) {
        valid |= SecretEquals(common::TrimAsciiSpace(req.Header(kTokenHeader)), secret);
    }
    return valid;
}

HeaderList WebhookForwardedHeaders(const HeaderList& headers) {
    HeaderList out;
    for (const auto& [name, value] : headers) {
        const std::string lower = common::AsciiLower(name);
        if (lower == "authorization" || lower == kSignatureHeader || lower == "x-hub-signature" ||
            lower == kTokenHeader) {
            continue;
        }
        out.emplace_back(lower, value);
    }
    return out;
}

bool WebhookHandler::IsBlocked(const std::string& key, int64_t now) {
    std::lock_guard lock(failures_mu_);
    auto it = failures_.find(key);
    return it != failures_.end() && it->second.blocked_until_ms > now;
}

void WebhookHandler::CountFailure(const std::string& key, int64_t now, const std::string& tid) {
    const int max_failures = config_.auth_failures_allowed;
    if (max_failures <= 0) return;  // no limit
    const int64_t window = config_.auth_failure_window.count();
    const int64_t block = config_.auth_failure_block.count();
    std::lock_guard lock(failures_mu_);
    auto it = failures_.find(key);
    if (it == failures_.end()) {
        if (failures_.size() >= kMaxFailureEntries) {
            // Forget what no longer matters, then pairs that are not blocked.
            std::erase_if(failures_, [&](const auto& kv) {
                return kv.second.blocked_until_ms <= now &&
                       now - kv.second.window_start_ms >= window;
            });
            if (failures_.size() >= kMaxFailureEntries) {
                std::erase_if(failures_,
                              [&](const auto& kv) { return kv.second.blocked_until_ms <= now; });
            }
        }
        it = failures_.emplace(key, Failures{now, 0, 0}).first;
    }
    Failures& f = it->second;
    if (now - f.window_start_ms >= window) f = Failures{now, 0, 0};
    if (++f.count >= max_failures) {
        f.blocked_until_ms = now + block;
        f.window_start_ms = f.blocked_until_ms;  // a fresh window once the block ends
        common::TidLog(tid).warn(
            "webhook: {} failed proofs for '{}' within {} ms; blocked for {} ms", max_failures, key,
            window, block);
    }
}

void WebhookHandler::Handle(const CallPtr& call, std::string_view rest_of_path) {
    const HttpRequest& req = call->req;
    if (req.method != "POST") {
        return replier_.ReplyError(call, 405, MethodsNotAllowed("POST"));
    }
    const size_t slash = rest_of_path.find('/');
    if (slash == std::string_view::npos) {
        return replier_.ReplyError(call, 404, kMsgResourceNotFound);
    }
    const std::string ns(rest_of_path.substr(0, slash));
    const std::string name(rest_of_path.substr(slash + 1));
    if (name.find('/') != std::string::npos) {
        return replier_.ReplyError(call, 404, kMsgResourceNotFound);
    }

    const int64_t now = clock_.NowMs();
    const std::string failure_key =
        common::Cat(ns, "/", name, " ", FailureCountKey(req.remote_address));
    if (IsBlocked(failure_key, now)) {
        return replier_.ReplyError(call, 429, kMsgWebhookFailuresExceeded);
    }
    // Whatever went wrong, the sender learns only this (and it counts as a failure).
    const auto refuse = [&](std::string_view why) {
        common::TidLog(call->tid).info("webhook {}/{} refused: {}", ns, name, why);
        CountFailure(failure_key, now, call->tid);
        replier_.ReplyError(call, 401, kMsgAuthInvalid);
    };
    if (!common::IsValidEntityName(ns) || !common::IsValidEntityName(name)) {
        return refuse("not a valid name");
    }
    auto owner = auth_.IdentityOfNamespace(ns);
    if (!owner.ok()) {
        if (common::HttpStatusFor(owner.status()) >= 500) {
            return replier_.ReplyStatus(call, owner.status());
        }
        return refuse("no such namespace");
    }
    const common::FullyQualifiedName fqn{common::EntityPath({ns}), name};
    auto trigger = store_.Get<common::Trigger>(fqn);
    if (!trigger.ok()) {
        if (common::HttpStatusFor(trigger.status()) >= 500) {
            return replier_.ReplyStatus(call, trigger.status());
        }
        return refuse("no such trigger");
    }
    const common::JsonValue* secret = trigger->doc.annotations.Get(kWebhookSecretAnnotation);
    if (secret == nullptr || !secret->IsString() ||
        secret->AsString().size() < kMinWebhookSecretLength) {
        return refuse("the trigger has no webhook-secret annotation");
    }
    if (!WebhookProofValid(req, secret->AsString())) return refuse("no valid proof");

    // Proven: from here on the sender is the trigger's owner and gets the fire route's answers.
    const common::Identity& who = *owner;
    const int64_t max_payload =
        who.limits.max_payload_size.value_or(config_.system_limits.max_payload_bytes);
    if (static_cast<int64_t>(req.body.size()) > max_payload) {
        return replier_.ReplyError(call, 413,
                                   common::Cat("Request larger than allowed: ", req.body.size(),
                                               " > ", max_payload, " bytes."));
    }
    std::optional<common::JsonValue> args;
    if (!common::Trim(req.body).empty()) {
        auto v = common::JsonValue::Parse(req.body);
        if (!v.ok()) return replier_.ReplyStatus(call, v.status());
        if (!v->IsObject()) {
            return replier_.ReplyError(
                call, 400, "The request content was malformed:\nexpected a JSON object");
        }
        args = *std::move(v);
    }
    if (auto st = invoke_.CheckFireRate(who); !st.ok()) return replier_.ReplyStatus(call, st);

    FireRequest fire;
    fire.who = who;
    fire.trigger = fqn;
    fire.args = std::move(args);
    fire.headers = WebhookForwardedHeaders(req.headers);
    fire.tid = call->tid;
    fire.received_ms = call->received_ms;
    FireOutcome fired = firer_.Fire(fire);
    if (!fired.status.ok()) {
        // Deleted since it was read: as if it never existed.
        if (absl::IsNotFound(fired.status)) return refuse("the trigger was deleted");
        return replier_.ReplyStatus(call, fired.status);
    }
    if (!fired.fired) return replier_.Reply(call, HttpResponse::Text(204, ""));
    HttpResponse resp = HttpResponse::Json(202, ActivationIdJson(fired.activation_id));
    resp.SetHeader("x-openwhisk-activation-id", fired.activation_id.str());
    replier_.Reply(call, std::move(resp));
}

}  // namespace wisp::controller
