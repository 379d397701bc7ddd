#pragma once
// The controller's HTTP/1.1 request and response, independent of the server library.
//
// A handler receives the parsed request and a Responder; it answers by calling the responder
// exactly once, on any thread, possibly later (a blocking invoke answers when the result
// arrives). The server writes the response on the connection's own strand.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wisp::controller {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// The value of the first header with this (case-insensitive) name, or empty.
std::string_view FindHeader(const HeaderList& headers, std::string_view name);
/// Whether a header with this (case-insensitive) name is there (its value may be empty).
bool HasHeader(const HeaderList& headers, std::string_view name);

struct HttpRequest {
    std::string method;  // upper case, as sent: "GET", "POST", ...
    std::string target;  // raw request target: "/api/v1/namespaces/_/actions?limit=3"
    std::string path;    // percent-decoded path without the query: "/api/v1/namespaces/_/actions"
    /// Percent-decoded ('+' -> ' ') query parameters in order; a trailing '?' gives none.
    std::vector<std::pair<std::string, std::string>> query;
    /// Header names in lower case, values as sent.
    HeaderList headers;
    std::string body;
    std::string remote_address;  // peer IP

    /// The first header with this (case-insensitive) name, or empty.
    std::string_view Header(std::string_view name) const;
    bool HasHeader(std::string_view name) const;
    /// The first query parameter with this name.
    std::optional<std::string> Query(std::string_view name) const;
    /// The query parameter is present and exactly "true" (?blocking=true, ?overwrite=true).
    bool QueryIsTrue(std::string_view name) const;
};

struct HttpResponse {
    int status = 200;
    HeaderList headers;  // Content-Length, Date and Connection are added by the server
    std::string body;

    /// Replaces a header of this (case-insensitive) name, or adds it.
    void SetHeader(std::string_view name, std::string_view value);
    std::string_view Header(std::string_view name) const;

    static HttpResponse Json(int status, std::string body);
    static HttpResponse Text(int status, std::string body);
};

/// Call exactly once. Thread-safe; may be called after the handler returned.
using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest&&, Responder)>;
/// Looks at a request before its body is read (HttpServerConfig::head_check): a response refuses
/// it, nullopt lets it go on. Thread-safe.
using RequestHeadCheck = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

/// OpenWhisk's error body: {"error":"<msg>","code":"<transaction id>"}.
std::string ErrorBody(std::string_view msg, std::string_view tid);
/// The REST API's CORS headers (wire §0); web actions set their own.
void AddRestCorsHeaders(HttpResponse& response);
/// Adds the web-action CORS headers the response does not already carry. Allow-Headers
/// echoes `requested_headers` (the request's Access-Control-Request-Headers) when not empty.
void AddWebCorsHeaders(HttpResponse& response, std::string_view requested_headers);

/// Splits and percent-decodes a request target into `path` and `query`. False on a malformed
/// escape.
bool ParseTarget(std::string_view target, std::string& path,
                 std::vector<std::pair<std::string, std::string>>& query);
/// Percent-decoding; `plus_is_space` for query strings. nullopt on a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

/// The request's transaction id: its X-Request-ID unless empty or starting with "sid_" (reserved
/// for system transactions), else 32 random [A-Za-z0-9]. Random each call when not given.
std::string TransactionIdFor(const HttpRequest& request);

}  // namespace wisp::controller
