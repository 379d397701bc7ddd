// The web console's routes (/console, /console/...) through the controller's HTTP API (no
// sockets), with a fake asset table in ControllerConfig::console_assets: what a browser gets —
// the page, its hashed files, caching, 304s, the security headers, and nothing for other origins.
#include <array>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/static_asset.hpp>

#include "console_handler.hpp"
#include "controller_test_support.hpp"

namespace wisp::controller {
namespace {

using test_support::ErrorOf;
using test_support::MakeRequest;

constexpr std::string_view kIndexEtag = "\"1111aaaa\"";
constexpr std::string_view kJsEtag = "\"2222bbbb\"";
constexpr std::string_view kJsBody = std::string_view("console.log(\"hi\");\0tail", 23);

const std::array<StaticAsset, 3> kFakeAssets = {{
    {"index.html", "text/html; charset=utf-8",
     "<!doctype html><script type=\"module\" src=\"/console/assets/index-abc.js\"></script>",
     kIndexEtag},
    {"assets/index-abc.js", "text/javascript; charset=utf-8", kJsBody, kJsEtag},
    {"assets/index-def.css", "text/css; charset=utf-8", "body{}", "\"3333cccc\""},
}};

struct ConsoleFixture : test_support::ControllerOverSqlite {
    explicit ConsoleFixture(std::span<const StaticAsset> assets = kFakeAssets) {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        clock.Set(1795000000000);
        ControllerConfig config;
        config.console_assets = assets;
        Start(std::move(config));
    }

    /// An anonymous request (the page needs no key), with `headers`.
    HttpResponse Get(const std::string& target, HeaderList headers = {},
                     std::string method = "GET") {
        HttpRequest req = MakeRequest(std::move(method), target, "", "");
        for (auto& h : headers) req.headers.push_back(std::move(h));
        return test_support::Answer(*controller, std::move(req));
    }
};

void CheckSecurityHeaders(const HttpResponse& r) {
    CHECK(r.Header("Content-Security-Policy") ==
          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
          "form-action 'none'; frame-ancestors 'none'");
    CHECK(r.Header("X-Content-Type-Options") == "nosniff");
    CHECK(r.Header("X-Frame-Options") == "DENY");
    CHECK(r.Header("Referrer-Policy") == "no-referrer");
    CHECK(r.Header("Cross-Origin-Opener-Policy") == "same-origin");
    CHECK(r.Header("Cross-Origin-Resource-Policy") == "same-origin");
    // Same origin only: no CORS header of the REST API or of web actions.
    for (const auto& [name, value] : r.headers) {
        INFO(name << ": " << value);
        CHECK_FALSE(std::string_view(name).starts_with("Access-Control-"));
    }
}

TEST_CASE("console: /console/ serves index.html, anonymously, with the CSP", "[console]") {
    ConsoleFixture f;
    for (const std::string target : {"/console/", "/console/index.html", "/console/?x=1"}) {
        INFO(target);
        HttpResponse r = f.Get(target);
        REQUIRE(r.status == 200);
        CHECK(r.body == kFakeAssets[0].body);
        CHECK(r.Header("Content-Type") == "text/html; charset=utf-8");
        CHECK(r.Header("Cache-Control") == "no-cache");
        CHECK(r.Header("ETag") == kIndexEtag);
        CHECK_FALSE(r.Header("X-Request-ID").empty());
        CheckSecurityHeaders(r);
    }
    // HEAD: the same headers (the server drops the body).
    HttpResponse head = f.Get("/console/", {}, "HEAD");
    CHECK(head.status == 200);
    CHECK(head.Header("ETag") == kIndexEtag);
    CheckSecurityHeaders(head);
}

TEST_CASE("console: hashed assets are immutable and served byte for byte", "[console]") {
    ConsoleFixture f;
    HttpResponse js = f.Get("/console/assets/index-abc.js");
    REQUIRE(js.status == 200);
    CHECK(js.body == kJsBody);  // a NUL inside is kept
    CHECK(js.body.size() == 23);
    CHECK(js.Header("Content-Type") == "text/javascript; charset=utf-8");
    CHECK(js.Header("Cache-Control") == "public, max-age=31536000, immutable");
    CHECK(js.Header("ETag") == kJsEtag);
    CheckSecurityHeaders(js);

    HttpResponse css = f.Get("/console/assets/index-def.css");
    REQUIRE(css.status == 200);
    CHECK(css.Header("Content-Type") == "text/css; charset=utf-8");
    CHECK(css.body == "body{}");
}

TEST_CASE("console: If-None-Match with the ETag answers 304 without a body", "[console]") {
    ConsoleFixture f;
    SECTION("the same tag") {
        HttpResponse r = f.Get("/console/", {{"if-none-match", std::string(kIndexEtag)}});
        CHECK(r.status == 304);
        CHECK(r.body.empty());
        CHECK(r.Header("ETag") == kIndexEtag);
        CHECK(r.Header("Cache-Control") == "no-cache");
        CheckSecurityHeaders(r);
    }
    SECTION("a list, a weak tag, or *") {
        for (const std::string& value : {std::string("\"zz\", ") + std::string(kJsEtag),
                                         "W/" + std::string(kJsEtag), std::string("*")}) {
            INFO(value);
            CHECK(f.Get("/console/assets/index-abc.js", {{"if-none-match", value}}).status == 304);
        }
    }
    SECTION("another tag: the file") {
        HttpResponse r = f.Get("/console/", {{"if-none-match", std::string(kJsEtag)}});
        CHECK(r.status == 200);
        CHECK(r.body == kFakeAssets[0].body);
    }
}

TEST_CASE("console: /console redirects to /console/", "[console]") {
    ConsoleFixture f;
    HttpResponse r = f.Get("/console");
    CHECK(r.status == 301);
    CHECK(r.Header("Location") == "/console/");
    CheckSecurityHeaders(r);
}

TEST_CASE("console: GET and HEAD only", "[console]") {
    ConsoleFixture f;
    for (const std::string method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
        for (const std::string target : {"/console/", "/console", "/console/assets/index-abc.js"}) {
            INFO(method << " " << target);
            HttpResponse r = f.Get(target, {}, method);
            CHECK(r.status == 405);
            CHECK(ErrorOf(r) == "HTTP method not allowed, supported methods: GET, HEAD");
            CHECK(r.Header("Allow") == "GET, HEAD");
            CheckSecurityHeaders(r);
        }
    }
}

TEST_CASE("console: an unknown file is 404, not the page", "[console]") {
    ConsoleFixture f;
    for (const std::string target :
         {"/console/nope.js", "/console/assets/", "/console/assets/index-zzz.js",
          "/console/../api/v1", "/console/index.html/", "/console/assets/index-abc.js/x"}) {
        INFO(target);
        HttpResponse r = f.Get(target);
        CHECK(r.status == 404);
        CHECK(ErrorOf(r) == "The requested resource could not be found.");
        CheckSecurityHeaders(r);
    }
    // Not the console's: /consoles is the API's 404 (with the REST API's CORS headers).
    HttpResponse other = f.Get("/consoles");
    CHECK(other.status == 404);
    CHECK(other.Header("Content-Security-Policy").empty());
}

TEST_CASE("console: a build without the console answers 404 with a reason", "[console]") {
    ConsoleFixture f(std::span<const StaticAsset>{});
    for (const std::string target : {"/console/", "/console", "/console/assets/index-abc.js"}) {
        INFO(target);
        HttpResponse r = f.Get(target);
        CHECK(r.status == 404);
        CHECK(ErrorOf(r) == "The console is not part of this build.");
        CheckSecurityHeaders(r);
    }
}

TEST_CASE("console: the REST API still needs the key next to the public page", "[console]") {
    ConsoleFixture f;
    HttpResponse r = f.Get("/api/v1/namespaces/_/actions");
    CHECK(r.status == 401);
    CHECK_FALSE(r.Header("Access-Control-Allow-Origin").empty());  // the REST API's CORS
}

TEST_CASE("console: If-None-Match parsing", "[console]") {
    CHECK(IfNoneMatchHits("\"a\"", "\"a\""));
    CHECK(IfNoneMatchHits(" \"b\" ,\t\"a\" ", "\"a\""));
    CHECK(IfNoneMatchHits("W/\"a\"", "\"a\""));
    CHECK(IfNoneMatchHits("*", "\"a\""));
    CHECK_FALSE(IfNoneMatchHits("", "\"a\""));
    CHECK_FALSE(IfNoneMatchHits("\"ab\"", "\"a\""));
    CHECK_FALSE(IfNoneMatchHits("a", "\"a\""));
    CHECK_FALSE(IfNoneMatchHits(",,", "\"a\""));
}

}  // namespace
}  // namespace wisp::controller
