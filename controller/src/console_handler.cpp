#include "console_handler.hpp"

#include <wisp/common/strings.hpp>

namespace wisp::controller {

namespace {

constexpr std::string_view kMount = "/console";
constexpr std::string_view kAllowedMethods = "GET, HEAD";

}  // namespace

bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag) {
    while (!if_none_match.empty()) {
        const size_t comma = if_none_match.find(',');
        std::string_view tag = common::TrimAsciiSpace(if_none_match.substr(0, comma));
        if_none_match =
            comma == std::string_view::npos ? std::string_view() : if_none_match.substr(comma + 1);
        if (tag == "*") return true;
        // Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        if (!tag.empty() && tag == etag) return true;
    }
    return false;
}

ConsoleHandler::ConsoleHandler(std::span<const StaticAsset> assets, Replier& replier)
    : replier_(replier) {
    for (const StaticAsset& asset : assets) by_path_.emplace(asset.path, &asset);
}

bool ConsoleHandler::Owns(std::string_view path) {
    return path.starts_with(kMount) && (path.size() == kMount.size() || path[kMount.size()] == '/');
}

void ConsoleHandler::Answer(const CallPtr& call, HttpResponse response) {
    response.SetHeader("Content-Security-Policy", kConsoleContentSecurityPolicy);
    response.SetHeader("X-Content-Type-Options", "nosniff");
    response.SetHeader("X-Frame-Options", "DENY");
    response.SetHeader("Referrer-Policy", "no-referrer");
    response.SetHeader("Cross-Origin-Opener-Policy", "same-origin");
    response.SetHeader("Cross-Origin-Resource-Policy", "same-origin");
    // No CORS headers: the page and its files are for the same origin only.
    replier_.Reply(call, std::move(response), /*rest_cors=*/false);
}

void ConsoleHandler::AnswerError(const CallPtr& call, int status, std::string_view message) {
    HttpResponse r = HttpResponse::Json(status, ErrorBody(message, call->tid));
    r.SetHeader("Cache-Control", "no-store");
    Answer(call, std::move(r));
}

void ConsoleHandler::Handle(const CallPtr& call) {
    const std::string& method = call->req.method;
    if (method != "GET" && method != "HEAD") {
        HttpResponse r =
            HttpResponse::Json(405, ErrorBody(MethodsNotAllowed(kAllowedMethods), call->tid));
        r.SetHeader("Allow", kAllowedMethods);
        return Answer(call, std::move(r));
    }
    if (by_path_.empty()) return AnswerError(call, 404, kMsgConsoleNotBuilt);

    const std::string_view path(call->req.path);
    if (path == kMount) {
        // Relative URLs in the page (./assets/...) need the trailing slash.
        HttpResponse r;
        r.status = 301;
        r.SetHeader("Location", common::Cat(kMount, "/"));
        r.SetHeader("Cache-Control", "no-cache");
        return Answer(call, std::move(r));
    }
    std::string_view rel = path.substr(kMount.size() + 1);  // after "/console/"
    if (rel.empty()) rel = "index.html";
    const auto it = by_path_.find(rel);
    if (it == by_path_.end()) return AnswerError(call, 404, kMsgResourceNotFound);
    const StaticAsset& asset = *it->second;

    HttpResponse r;
    // Vite names every file under assets/ after a hash of its content: it never changes. The
    // rest (index.html, which names the current ones) is revalidated on every load.
    r.SetHeader("Cache-Control",
                rel.starts_with("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
    r.SetHeader("ETag", asset.etag);
    if (IfNoneMatchHits(call->req.Header("if-none-match"), asset.etag)) {
        r.status = 304;
        return Answer(call, std::move(r));
    }
    r.status = 200;
    r.SetHeader("Content-Type", asset.content_type);
    r.body.assign(asset.body);
    Answer(call, std::move(r));
}

}  // namespace wisp::controller
