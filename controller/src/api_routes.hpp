#pragma once
// API routes (`wsk api`, the npm client's `routes`): OpenWhisk's API gateway served by the
// controller itself (../shared/reference/api-routes-and-manifests.md part A).
//
// Management: the built-in web endpoints /api/v1/web/whisk.system/apimgmt/{createApi,getApi,
// deleteApi}[.http] with the V2 wire shapes; the caller's key (Basic auth) names the tenant.
// Each API (one basePath of one namespace) is a SystemDoc of kind "api-route", id
// "<namespace>/<basePath>", body {"namespace","apidoc":<swagger 2.0>}, so it lives in whichever
// artifact store the controller has and survives restarts.
//
// Serving: METHOD /api/<namespace>/<basePath>/<relPath> finds the API by the longest basePath,
// the operation by the relPath template ({x} = one segment) and the method, and runs the
// operation's web action (x-openwhisk) through WebHandler::Run with the response type of its
// URL's extension, {x} values as parameters, gateway CORS, and X-Require-Whisk-Auth set to the
// route's secure key. The tenant in the URL is the namespace (not the key's UUID, which upstream
// uses: a URL should not carry half a credential); a namespace named "v1" cannot have APIs, so
// /api/v1/... is always the REST API.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <wisp/common/clock.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>

#include "authenticator.hpp"
#include "call.hpp"
#include "replier.hpp"
#include "web_handler.hpp"

namespace wisp::controller {

namespace routes {

inline constexpr std::string_view kRouteDocKind = "api-route";
/// The namespace of the built-in endpoints and their package.
inline constexpr std::string_view kManagementPrefix = "whisk.system/apimgmt/";

/// OpenWhisk's operationId: lower-case method + relPath with every character outside
/// [0-9A-Za-z_-] a separator and each word capitalised ("get", "/books/{isbn}" -> getBooksIsbn).
std::string OperationId(std::string_view method, std::string_view rel_path);

/// Whether a relPath template ("/books/{isbn}") matches `path` ("/books/978"); the {x} values
/// go to `params` in order of appearance.
bool MatchTemplate(std::string_view tmpl, std::string_view path,
                   std::vector<std::pair<std::string, std::string>>& params);

/// The web-action reference inside an x-openwhisk url ".../api/v1/web/<ns>/<pkg|default>/
/// <action>.<ext>": nullopt unless it has that shape.
struct WebUrl {
    std::string ns;
    std::optional<std::string> package;
    std::string action;
    web::Extension extension = web::Extension::kJson;
};
std::optional<WebUrl> ParseBackendUrl(std::string_view url);

}  // namespace routes

class ApiRoutesHandler {
  public:
    /// Keeps references; all must outlive the handler.
    ApiRoutesHandler(store::ArtifactStore& store, common::Clock& clock,
                     const ControllerConfig& config, Authenticator& auth, WebHandler& web)
        : store_(store), clock_(clock), config_(config), auth_(auth), web_(web) {}

    /// `rest` (the path after "/api/v1/web/") names a management endpoint.
    static bool OwnsManagement(std::string_view rest) {
        return rest.substr(0, routes::kManagementPrefix.size()) == routes::kManagementPrefix;
    }
    /// createApi / getApi / deleteApi (any method, as upstream; `.http`/`.json` or none).
    void HandleManagement(const CallPtr& call, std::string_view rest);
    /// `rest`: the path after "/api/" (never "v1/...").
    void Serve(const CallPtr& call, std::string_view rest);

  private:
    void CreateApi(const CallPtr& call, const std::string& ns);
    void GetApi(const CallPtr& call, const std::string& ns);
    void DeleteApi(const CallPtr& call, const std::string& ns);
    /// The API of `ns` whose basePath (leading '/') or name (info.title) is `key`.
    [[nodiscard]] absl::StatusOr<std::optional<store::SystemDoc>> FindApi(const std::string& ns,
                                                                          const std::string& key);
    /// upstream's failure: 502 {"error": text}.
    void Fail(const CallPtr& call, std::string_view text);
    void ReplyJson(const CallPtr& call, int status, std::string body);
    std::string GwApiUrl(const std::string& ns, std::string_view base_path) const;

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const ControllerConfig& config_;
    Authenticator& auth_;
    WebHandler& web_;
};

}  // namespace wisp::controller
