#pragma once
// ConsoleHandler: the web console (console/, README "Console") at /console and /console/...,
// from the table the binary embeds (ControllerConfig::console_assets, wisp::console_assets).
//
// The page is public (it holds no data; the data needs the user's key, sent by the page as the
// Authorization header), so Api::Handle routes here before authentication. GET and HEAD only
// (405), /console redirects (301) to /console/, index.html is revalidated on every load
// (no-cache; ETag -> 304) and the hashed files under assets/ are cached for a year (immutable).
// Every answer carries a strict Content-Security-Policy and the other security headers below,
// and no CORS headers: no other origin may read the console. An empty table (a build with
// WISP_CONSOLE=OFF) answers 404 "The console is not part of this build.".
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <wisp/controller/static_asset.hpp>

#include "call.hpp"
#include "replier.hpp"

namespace wisp::controller {

/// The console's Content-Security-Policy: its own scripts, styles, images and API only.
inline constexpr std::string_view kConsoleContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";
inline constexpr std::string_view kMsgConsoleNotBuilt = "The console is not part of this build.";

/// Thread-safe (immutable after construction).
class ConsoleHandler {
  public:
    /// `assets` must outlive the handler (the generated table is static).
    ConsoleHandler(std::span<const StaticAsset> assets, Replier& replier);

    /// Whether `path` (the request's decoded path) is the console's: /console or /console/...
    static bool Owns(std::string_view path);
    /// Answers `call`, whose path Owns().
    void Handle(const CallPtr& call);

  private:
    void Answer(const CallPtr& call, HttpResponse response);
    void AnswerError(const CallPtr& call, int status, std::string_view message);

    std::unordered_map<std::string_view, const StaticAsset*> by_path_;
    Replier& replier_;
};

/// Whether an If-None-Match header value ("\"a\", W/\"b\"" or "*") matches `etag` (quoted).
bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag);

}  // namespace wisp::controller
