#pragma once
// The pure parts of web actions (wire §1.9): parsing the web URL, the action's arguments from
// the HTTP request, the require-whisk-auth check, and rendering an activation's result as the
// HTTP response for each extension. No store, bus or Api here, so all of it is unit-tested.
//
// Behaviour follows OpenWhisk's WebActions.scala. Which bodies are text and which travel
// base64-encoded (in `__ow_body` and in a result's `body`) is media_types.hpp's call; the CORS
// headers web actions answer with are AddWebCorsHeaders (wisp/controller/http.hpp).
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/controller/http.hpp>

namespace wisp::controller::web {

// OpenWhisk's messages for web actions.
inline constexpr std::string_view kMsgParametersNotAllowed =
    "Request defines parameters that are not allowed (e.g., reserved properties).";
inline constexpr std::string_view kMsgPropertyNotFound =
    "Response does not include requested property.";
inline constexpr std::string_view kMsgResponseNotReady = "Response not yet ready.";
inline constexpr std::string_view kMsgUnknownContentType =
    "Response did not specify a known content-type.";
inline constexpr std::string_view kMsgContentTypeError =
    "Response type in header did not match generated content type.";
inline constexpr std::string_view kMsgErrorProcessingRequest =
    "There was an error processing your request.";
/// Akka's default text for 401, which OpenWhisk answers when require-whisk-auth fails.
inline constexpr std::string_view kMsgUnauthorized =
    "Authentication is possible but has failed or not yet been provided.";
/// No route matched (an incomplete web URL or a bad name segment).
inline constexpr std::string_view kMsgRouteNotFound = "The requested resource could not be found.";
inline constexpr std::string_view kMsgMethodNotAllowed =
    "HTTP method not allowed, supported methods: GET, DELETE, POST, PUT, HEAD, OPTIONS, PATCH";

/// Annotation names.
inline constexpr std::string_view kWebExport = "web-export";
inline constexpr std::string_view kRawHttp = "raw-http";
inline constexpr std::string_view kFinal = "final";
inline constexpr std::string_view kRequireWhiskAuth = "require-whisk-auth";
inline constexpr std::string_view kWebCustomOptions = "web-custom-options";
/// The request header a string/number require-whisk-auth annotation is compared with.
inline constexpr std::string_view kRequireWhiskAuthHeader = "x-require-whisk-auth";

enum class Extension { kHttp, kJson, kHtml, kSvg, kText };

/// "/api/v1/web/{ns}/{pkg|default}/{action}{.ext}{/extra}" after "/api/v1/web/".
struct WebTarget {
    std::string ns;
    std::optional<std::string> package;  // nullopt for "default"
    std::string action;                  // without the extension
    Extension extension = Extension::kHttp;
    std::string extra_path;  // "/a/b" or "" (becomes __ow_path)
};

/// Parses the part of the path after "/api/v1/web/". A known extension (.http .json .html .svg
/// .text) is split off the action segment; any other name (e.g. "a.xml") is the whole action
/// name with `.http`, as in OpenWhisk (which never enforces an extension). nullopt when there
/// are fewer than three segments or a segment is not a valid entity name.
std::optional<WebTarget> ParseWebPath(std::string_view rest);

/// OpenWhisk reads web annotations as booleans: only a JSON `true` counts.
bool AnnotationIsTrue(const common::Parameters& annotations, std::string_view key);

/// require-whisk-auth: absent → allowed; `true` → allowed when the caller gave valid
/// credentials; a string or number → allowed when `x-require-whisk-auth` equals it; any other
/// value → denied.
bool RequireWhiskAuthAllows(const common::Parameters& annotations, const HttpRequest& req,
                            bool authenticated);

/// Parameter names a request may not define: the __ow_* names, plus the action's defined
/// (non-null) parameters when it is annotated `final: true`.
std::set<std::string> ProtectedParameters(const common::Parameters& annotations,
                                          const common::Parameters& action_parameters);

struct WebArgumentsInput {
    const HttpRequest* request = nullptr;
    std::string_view extra_path;
    std::optional<std::string> user_namespace;  // the caller's, when valid credentials came
    bool raw_http = false;
    const std::set<std::string>* protected_names = nullptr;  // may be null
};

/// The request's part of the action argument, to be laid over the action's parameters:
/// __ow_method, __ow_headers, __ow_path, __ow_user, then query parameters (strings), then the
/// body (JSON object members or form fields; any other body as __ow_body). With raw-http the
/// query goes whole into __ow_query and the body into __ow_body. InvalidArgument for a
/// malformed JSON or form body, or when a query/body name is protected.
[[nodiscard]] absl::StatusOr<common::Parameters> BuildWebArguments(const WebArgumentsInput& in);

/// The HTTP answer for an activation's response (success: the result; application error:
/// result.error; other failures: 400 kMsgErrorProcessingRequest). Errors come back as
/// InvalidArgument (400) or NotFound (404) with OpenWhisk's message.
[[nodiscard]] absl::StatusOr<HttpResponse> RenderActivationResponse(
    Extension ext, const common::ActivationResponse& response);
/// The HTTP answer for one JSON value under an extension's rules.
[[nodiscard]] absl::StatusOr<HttpResponse> RenderResult(Extension ext,
                                                        const common::JsonValue& value);

}  // namespace wisp::controller::web
