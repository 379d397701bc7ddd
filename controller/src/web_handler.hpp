#pragma once
// WebHandler: web actions, /api/v1/web/{ns}/{pkg|default}/{action}{.ext}{/path} (wire §1.9),
// any method. Anyone may call an action annotated web-export; it runs as the owner of its
// namespace (found through the Authenticator), with optional caller credentials for
// require-whisk-auth and __ow_user. The pure rules (URL, arguments, rendering, CORS) are in
// web_action.{hpp,cpp}; this class does the I/O: resolve, throttle, activate (blocking), answer.
// No state of its own beyond the references it is given.
#include <string_view>

#include <wisp/common/clock.hpp>
#include <wisp/controller/controller.hpp>

#include "activator.hpp"
#include "authenticator.hpp"
#include "call.hpp"
#include "entity_resolver.hpp"
#include "metrics.hpp"
#include "replier.hpp"
#include "web_action.hpp"

namespace wisp::controller {

class WebHandler {
  public:
    /// Keeps references; all must outlive the handler.
    WebHandler(common::Clock& clock, const ControllerConfig& config, Authenticator& auth,
               Replier& replier, EntityResolver& resolver, Activator& activator, Metrics& metrics)
        : clock_(clock),
          config_(config),
          auth_(auth),
          replier_(replier),
          resolver_(resolver),
          activator_(activator),
          metrics_(metrics) {}

    /// `rest_of_path`: the path after "/api/v1/web/".
    void Handle(const CallPtr& call, std::string_view rest_of_path);

    /// Which CORS headers an answer carries: none (before the action is known, and for
    /// web-custom-options actions, which answer CORS themselves), the web-action defaults, or
    /// an API route's (api_routes.hpp: the gateway's, over whatever the action set).
    enum class Cors { kNone, kWebDefaults, kGateway };

    /// One web-action run that a caller has already routed: the action `fqn` of `owner`'s
    /// namespace, rendered with `extension`; `extra_path` becomes __ow_path; `path_params`
    /// (an API route's {x} values) lie between the action's parameters and the request's.
    struct Target {
        common::Identity owner;
        common::FullyQualifiedName fqn;
        web::Extension extension = web::Extension::kHttp;
        std::string extra_path;
        common::Parameters path_params;
        Cors cors = Cors::kWebDefaults;  // kWebDefaults or kGateway
    };
    /// Runs `target` as a web action for `call` and answers: 404 unless the action exists and
    /// is web-exported, the payload limit, throttles, OPTIONS, require-whisk-auth (read from
    /// the request's headers), arguments, blocking activation, rendering.
    void Run(const CallPtr& call, Target target);

    /// Answers `resp` with the `cors` policy (Replier::Reply without the REST CORS headers).
    void Answer(const CallPtr& call, HttpResponse resp, Cors cors);

    /// Answers 413 (with `cors`) and returns true when the body is over the payload limit.
    [[nodiscard]] bool RejectOversized(const CallPtr& call, Cors cors);

  private:
    common::Clock& clock_;
    const ControllerConfig& config_;
    Authenticator& auth_;
    Replier& replier_;
    EntityResolver& resolver_;
    Activator& activator_;
    Metrics& metrics_;
};

}  // namespace wisp::controller
