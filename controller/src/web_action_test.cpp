#include "web_action.hpp"

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <wisp/common/bounded_json.hpp>

#include <wisp/common/strings.hpp>

using namespace wisp::controller;
using namespace wisp::controller::web;
using wisp::common::ActivationResponse;
using wisp::common::ActivationStatus;
using wisp::common::JsonValue;
using wisp::common::Parameters;

namespace {

JsonValue J(std::string_view text) { return JsonValue::Parse(text).value(); }

Parameters Annotations(std::string_view object_json) {
    return Parameters::FromObjectJson(object_json).value();
}

HttpRequest Request(std::string method, std::string body = "", std::string content_type = "") {
    HttpRequest r;
    r.method = std::move(method);
    r.target = "/api/v1/web/guest/default/a";
    r.path = r.target;
    r.headers = {{"host", "localhost"}, {"accept", "*/*"}};
    if (!content_type.empty()) r.headers.emplace_back("content-type", content_type);
    if (!body.empty()) r.headers.emplace_back("content-length", std::to_string(body.size()));
    r.body = std::move(body);
    return r;
}

/// The arguments as a parsed document.
rapidjson::Document Args(const WebArgumentsInput& in) {
    auto p = BuildWebArguments(in);
    REQUIRE(p.ok());
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(p->ToObjectJson(), d);
    return d;
}

std::string Msg(const absl::Status& st) { return wisp::common::MessageOf(st); }

std::string Str(const rapidjson::Value& v) {
    return std::string(v.GetString(), v.GetStringLength());
}

}  // namespace

TEST_CASE("web path: namespace, package, action, extension, extra path", "[web]") {
    auto t = ParseWebPath("guest/default/hello");
    REQUIRE(t);
    CHECK(t->ns == "guest");
    CHECK_FALSE(t->package);
    CHECK(t->action == "hello");
    CHECK(t->extension == Extension::kHttp);
    CHECK(t->extra_path.empty());

    t = ParseWebPath("guest/demo/hello.json/a/b");
    REQUIRE(t);
    CHECK(t->package == std::optional<std::string>("demo"));
    CHECK(t->action == "hello");
    CHECK(t->extension == Extension::kJson);
    CHECK(t->extra_path == "/a/b");

    CHECK(ParseWebPath("guest/default/hello.html")->extension == Extension::kHtml);
    CHECK(ParseWebPath("guest/default/hello.svg")->extension == Extension::kSvg);
    CHECK(ParseWebPath("guest/default/hello.text")->extension == Extension::kText);
    CHECK(ParseWebPath("guest/default/hello.http/")->extra_path == "/");

    // An unknown extension stays part of the name and the response is .http.
    t = ParseWebPath("guest/default/hello.xml");
    REQUIRE(t);
    CHECK(t->action == "hello.xml");
    CHECK(t->extension == Extension::kHttp);

    CHECK_FALSE(ParseWebPath("guest/default"));
    CHECK_FALSE(ParseWebPath("guest"));
    CHECK_FALSE(ParseWebPath("guest//hello"));
    CHECK_FALSE(ParseWebPath("guest/default/.json"));
    CHECK_FALSE(ParseWebPath("gu$st/default/hello"));
}

TEST_CASE("web annotations are booleans; require-whisk-auth forms", "[web]") {
    CHECK(AnnotationIsTrue(Annotations(R"({"web-export":true})"), kWebExport));
    CHECK_FALSE(AnnotationIsTrue(Annotations(R"({"web-export":"true"})"), kWebExport));
    CHECK_FALSE(AnnotationIsTrue(Annotations(R"({"web-export":false})"), kWebExport));
    CHECK_FALSE(AnnotationIsTrue(Annotations("{}"), kWebExport));

    HttpRequest req = Request("GET");
    CHECK(RequireWhiskAuthAllows(Annotations("{}"), req, false));
    CHECK(RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":true})"), req, true));
    CHECK_FALSE(RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":true})"), req, false));
    CHECK_FALSE(RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":false})"), req, true));
    CHECK_FALSE(
        RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":"secret"})"), req, true));
    req.headers.emplace_back("x-require-whisk-auth", "secret");
    CHECK(RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":"secret"})"), req, false));
    CHECK_FALSE(
        RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":"other"})"), req, true));
    req.headers.back().second = "1234";
    CHECK(RequireWhiskAuthAllows(Annotations(R"({"require-whisk-auth":1234})"), req, false));
}

TEST_CASE("web arguments: metadata, query, JSON body (body wins)", "[web]") {
    HttpRequest req = Request("POST", R"({"name":"Jane","x":1})", "application/json");
    req.headers.emplace_back("X-Custom", "v");
    req.query = {{"name", "Query"}, {"q", "1"}};
    auto protected_names = ProtectedParameters(Parameters(), Parameters());
    WebArgumentsInput in{&req, "/extra", std::nullopt, false, &protected_names};
    auto d = Args(in);
    CHECK(Str(d["__ow_method"]) == "post");
    CHECK(Str(d["__ow_path"]) == "/extra");
    CHECK_FALSE(d.HasMember("__ow_user"));
    CHECK_FALSE(d.HasMember("__ow_body"));
    CHECK(Str(d["__ow_headers"]["host"]) == "localhost");
    CHECK(Str(d["__ow_headers"]["x-custom"]) == "v");
    CHECK(Str(d["__ow_headers"]["content-type"]) == "application/json");
    CHECK_FALSE(d["__ow_headers"].HasMember("content-length"));
    CHECK(Str(d["name"]) == "Jane");
    CHECK(Str(d["q"]) == "1");
    CHECK(d["x"].GetInt() == 1);

    in.user_namespace = "alice";
    CHECK(Str(Args(in)["__ow_user"]) == "alice");
}

TEST_CASE("web arguments: non-object bodies go to __ow_body", "[web]") {
    SECTION("JSON array") {
        HttpRequest req = Request("POST", "[1,2]", "application/json");
        auto d = Args({&req, "", std::nullopt, false, nullptr});
        REQUIRE(d["__ow_body"].IsArray());
        CHECK(d["__ow_body"].Size() == 2);
    }
    SECTION("text") {
        HttpRequest req = Request("POST", "Jane", "text/plain");
        CHECK(Str(Args({&req, "", std::nullopt, false, nullptr})["__ow_body"]) == "Jane");
    }
    SECTION("binary is base64") {
        HttpRequest req = Request("POST", std::string("\x89PNG", 4), "image/png");
        CHECK(Str(Args({&req, "", std::nullopt, false, nullptr})["__ow_body"]) == "iVBORw==");
    }
    SECTION("no content type means octet-stream") {
        HttpRequest req = Request("POST", "abc");
        CHECK(Str(Args({&req, "", std::nullopt, false, nullptr})["__ow_body"]) == "YWJj");
    }
    SECTION("unknown type with a charset is text") {
        HttpRequest req = Request("POST", "abc", "application/x-foo; charset=utf-8");
        CHECK(Str(Args({&req, "", std::nullopt, false, nullptr})["__ow_body"]) == "abc");
    }
    SECTION("empty JSON body adds nothing") {
        HttpRequest req = Request("POST", "", "application/json");
        CHECK_FALSE(Args({&req, "", std::nullopt, false, nullptr}).HasMember("__ow_body"));
    }
    SECTION("malformed JSON is 400") {
        HttpRequest req = Request("POST", "{bad", "application/json");
        auto p = BuildWebArguments({&req, "", std::nullopt, false, nullptr});
        REQUIRE_FALSE(p.ok());
        CHECK(p.status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("web arguments: form fields", "[web]") {
    HttpRequest req =
        Request("POST", "name=Jane+Doe&city=K%C3%B6ln&flag", "application/x-www-form-urlencoded");
    req.query = {{"name", "q"}};
    auto d = Args({&req, "", std::nullopt, false, nullptr});
    CHECK(Str(d["name"]) == "Jane Doe");
    CHECK(Str(d["city"]) == "K\xC3\xB6ln");
    CHECK(Str(d["flag"]).empty());
}

TEST_CASE("web arguments: raw-http boxes query and body", "[web]") {
    HttpRequest req = Request("POST", R"({"name":"Jane"})", "application/json");
    req.target = "/api/v1/web/guest/default/a?name=Jane&__ow_method=x";
    req.query = {{"name", "Jane"}, {"__ow_method", "x"}};
    auto protected_names = ProtectedParameters(Parameters(), Parameters());
    auto d = Args({&req, "", std::nullopt, true, &protected_names});
    CHECK(Str(d["__ow_query"]) == "name=Jane&__ow_method=x");
    CHECK(Str(d["__ow_body"]) == "eyJuYW1lIjoiSmFuZSJ9");  // JSON is base64 under raw-http
    CHECK(Str(d["__ow_method"]) == "post");
    CHECK_FALSE(d.HasMember("name"));

    HttpRequest text = Request("PUT", "hi", "text/plain");
    CHECK(Str(Args({&text, "", std::nullopt, true, nullptr})["__ow_body"]) == "hi");
    HttpRequest empty = Request("GET");
    auto e = Args({&empty, "", std::nullopt, true, nullptr});
    CHECK(Str(e["__ow_body"]).empty());
    CHECK(Str(e["__ow_query"]).empty());
}

TEST_CASE("web arguments: reserved and final parameters cannot be overridden", "[web]") {
    auto reserved = ProtectedParameters(Parameters(), Parameters());
    HttpRequest q = Request("GET");
    q.query = {{"__ow_path", "/x"}};
    auto st = BuildWebArguments({&q, "", std::nullopt, false, &reserved});
    REQUIRE_FALSE(st.ok());
    CHECK(Msg(st.status()) == kMsgParametersNotAllowed);

    HttpRequest b = Request("POST", R"({"__ow_body":1})", "application/json");
    CHECK_FALSE(BuildWebArguments({&b, "", std::nullopt, false, &reserved}).ok());

    auto action_params = Parameters::FromObjectJson(R"({"name":"Jane","unset":null})").value();
    auto finals = ProtectedParameters(Annotations(R"({"final":true})"), action_params);
    HttpRequest n = Request("GET");
    n.query = {{"name", "Mallory"}};
    CHECK_FALSE(BuildWebArguments({&n, "", std::nullopt, false, &finals}).ok());
    n.query = {{"unset", "ok"}};  // null parameters are not defined, so not final
    CHECK(BuildWebArguments({&n, "", std::nullopt, false, &finals}).ok());
    // Without final the action's parameters may be overridden.
    auto open = ProtectedParameters(Parameters(), action_params);
    n.query = {{"name", "Mallory"}};
    CHECK(BuildWebArguments({&n, "", std::nullopt, false, &open}).ok());
}

TEST_CASE(".http rendering", "[web]") {
    SECTION("string body defaults to text/html") {
        auto r = RenderResult(Extension::kHttp, J(R"({"body":"<p>hi</p>"})"));
        REQUIRE(r.ok());
        CHECK(r->status == 200);
        CHECK(r->Header("Content-Type") == "text/html; charset=UTF-8");
        CHECK(r->body == "<p>hi</p>");
    }
    SECTION("status code, headers of every kind") {
        auto r =
            RenderResult(Extension::kHttp,
                         J(R"({"statusCode":302,"headers":{"location":"http://x","n":1,"b":true,)"
                           R"("set-cookie":["a=1","b=2"]}})"));
        REQUIRE(r.ok());
        CHECK(r->status == 302);
        CHECK(r->Header("location") == "http://x");
        CHECK(r->Header("n") == "1");
        CHECK(r->Header("b") == "true");
        int cookies = 0;
        for (const auto& h : r->headers) cookies += h.first == "set-cookie";
        CHECK(cookies == 2);
        CHECK(r->body.empty());
    }
    SECTION("empty body is 204 without a content type") {
        for (const char* js : {"{}", R"({"body":""})", R"({"body":null})",
                               R"({"headers":{"Content-Type":"text/plain"}})"}) {
            auto r = RenderResult(Extension::kHttp, J(js));
            REQUIRE(r.ok());
            CHECK(r->status == 204);
            CHECK(r->Header("Content-Type").empty());
        }
        CHECK(RenderResult(Extension::kHttp, J(R"({"statusCode":"201"})"))->status == 201);
    }
    SECTION("JSON body is application/json") {
        auto r = RenderResult(Extension::kHttp, J(R"({"body":{"a":[1,2]}})"));
        REQUIRE(r.ok());
        CHECK(r->status == 200);
        CHECK(r->Header("Content-Type") == "application/json");
        CHECK(r->body == R"({"a":[1,2]})");
    }
    SECTION("JSON body with another +json type is pretty-printed") {
        auto r = RenderResult(
            Extension::kHttp,
            J(R"({"headers":{"content-type":"application/ld+json"},"body":{"a":[1,2]}})"));
        REQUIRE(r.ok());
        CHECK(r->Header("Content-Type") == "application/ld+json");
        CHECK(r->body == "{\n  \"a\": [1, 2]\n}");
    }
    SECTION("JSON body with a non-JSON type is rejected") {
        auto r = RenderResult(Extension::kHttp,
                              J(R"({"headers":{"Content-Type":"text/plain"},"body":[1]})"));
        REQUIRE_FALSE(r.ok());
        CHECK(Msg(r.status()) == kMsgContentTypeError);
    }
    SECTION("binary content type: body is base64-decoded") {
        auto r = RenderResult(Extension::kHttp,
                              J(R"({"headers":{"Content-Type":"image/png"},"body":"iVBORw=="})"));
        REQUIRE(r.ok());
        CHECK(r->body == std::string("\x89PNG", 4));
        CHECK(r->Header("Content-Type") == "image/png");
        auto bad = RenderResult(Extension::kHttp,
                                J(R"({"headers":{"Content-Type":"image/png"},"body":"%%%"})"));
        REQUIRE_FALSE(bad.ok());
        CHECK(Msg(bad.status()) == kMsgContentTypeError);
    }
    SECTION("application/json string body: base64 decoded when it looks like base64") {
        auto r = RenderResult(
            Extension::kHttp,
            J(R"({"headers":{"Content-Type":"application/json"},"body":"eyJhIjoxfQ=="})"));
        REQUIRE(r.ok());
        CHECK(r->body == R"({"a":1})");
        CHECK(r->Header("Content-Type") == "application/json");
        auto plain = RenderResult(
            Extension::kHttp,
            J(R"({"headers":{"Content-Type":"application/json"},"body":"{\"a\":1}"})"));
        REQUIRE(plain.ok());
        CHECK(plain->body == R"({"a":1})");
    }
    SECTION("text content types get a UTF-8 charset") {
        auto r = RenderResult(Extension::kHttp,
                              J(R"({"headers":{"Content-Type":"text/plain"},"body":"hi"})"));
        REQUIRE(r.ok());
        CHECK(r->Header("Content-Type") == "text/plain; charset=UTF-8");
        int content_types = 0;
        for (const auto& h : r->headers)
            content_types += h.first == "Content-Type" || h.first == "content-type";
        CHECK(content_types == 1);
    }
    SECTION("unknown content type") {
        auto r = RenderResult(Extension::kHttp,
                              J(R"({"headers":{"Content-Type":"nonsense"},"body":"hi"})"));
        REQUIRE_FALSE(r.ok());
        CHECK(Msg(r.status()) == kMsgUnknownContentType);
    }
    SECTION("invalid responses") {
        for (const char* js :
             {R"("text")", R"([1])", R"({"headers":"x"})", R"({"headers":{"a":{}}})",
              R"({"headers":{"a":null}})", R"({"statusCode":"abc"})", R"({"statusCode":200.5})",
              R"({"statusCode":999})", R"({"statusCode":true})"}) {
            auto r = RenderResult(Extension::kHttp, J(js));
            REQUIRE_FALSE(r.ok());
            CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
            CHECK(Msg(r.status()) == "Response is not valid 'message/http'.");
        }
    }
}

TEST_CASE(".json .html .svg .text rendering", "[web]") {
    auto json = RenderResult(Extension::kJson, J(R"({"a":1})"));
    REQUIRE(json.ok());
    CHECK(json->Header("Content-Type") == "application/json");
    CHECK(json->body == R"({"a":1})");
    CHECK(RenderResult(Extension::kJson, J("[1]"))->body == "[1]");
    CHECK(Msg(RenderResult(Extension::kJson, J(R"("s")")).status()) ==
          "Response is not valid 'application/json'.");

    auto html = RenderResult(Extension::kHtml, J(R"({"html":"<b>x</b>"})"));
    REQUIRE(html.ok());
    CHECK(html->Header("Content-Type") == "text/html; charset=UTF-8");
    CHECK(html->body == "<b>x</b>");
    CHECK(RenderResult(Extension::kHtml, J(R"({"body":"b","html":"h"})"))->body == "b");
    CHECK(Msg(RenderResult(Extension::kHtml, J(R"({"other":"x"})")).status()) ==
          "Response is not valid 'text/html'.");
    CHECK(Msg(RenderResult(Extension::kHtml, J(R"({"body":1,"html":"h"})")).status()) ==
          "Response is not valid 'text/html'.");

    auto svg = RenderResult(Extension::kSvg, J(R"({"svg":"<svg/>"})"));
    REQUIRE(svg.ok());
    CHECK(svg->Header("Content-Type") == "image/svg+xml");
    CHECK(svg->body == "<svg/>");
    CHECK(Msg(RenderResult(Extension::kSvg, J("{}")).status()) ==
          "Response is not valid 'image/svg+xml'.");

    auto text = RenderResult(Extension::kText, J(R"({"text":"plain"})"));
    REQUIRE(text.ok());
    CHECK(text->Header("Content-Type") == "text/plain; charset=UTF-8");
    CHECK(text->body == "plain");
    CHECK(RenderResult(Extension::kText, J(R"({"text":42})"))->body == "42");
    CHECK(RenderResult(Extension::kText, J(R"({"text":null})"))->body == "null");
    CHECK(RenderResult(Extension::kText, J(R"({"body":{"a":{"b":[1,{"c":2}]}}})"))->body ==
          "{\n  \"a\": {\n    \"b\": [1, {\n      \"c\": 2\n    }]\n  }\n}");
    auto missing = RenderResult(Extension::kText, J(R"({"other":1})"));
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.status().code() == absl::StatusCode::kNotFound);
    CHECK(Msg(missing.status()) == kMsgPropertyNotFound);
}

TEST_CASE("activation outcomes: success, application error, other failures", "[web]") {
    ActivationResponse ok;
    ok.status = ActivationStatus::kSuccess;
    ok.result = J(R"({"body":"hi"})");
    CHECK(RenderActivationResponse(Extension::kHttp, ok)->body == "hi");

    // An application error renders its error property.
    ActivationResponse app;
    app.status = ActivationStatus::kApplicationError;
    app.result = J(R"({"error":{"statusCode":404,"body":"nope"}})");
    auto r = RenderActivationResponse(Extension::kHttp, app);
    REQUIRE(r.ok());
    CHECK(r->status == 404);
    CHECK(r->body == "nope");
    auto j = RenderActivationResponse(Extension::kJson, app);
    REQUIRE(j.ok());
    CHECK(j->status == 200);
    CHECK(j->body == R"({"statusCode":404,"body":"nope"})");
    app.result = J(R"({"error":"boom"})");
    CHECK(RenderActivationResponse(Extension::kText, app)->body == "boom");
    CHECK(Msg(RenderActivationResponse(Extension::kHttp, app).status()) ==
          "Response is not valid 'message/http'.");
    app.result = J(R"({"other":1})");
    CHECK(RenderActivationResponse(Extension::kJson, app).status().code() ==
          absl::StatusCode::kNotFound);

    for (auto st : {ActivationStatus::kDeveloperError, ActivationStatus::kWhiskError}) {
        auto failed = ActivationResponse::Error(st, "crash");
        auto f = RenderActivationResponse(Extension::kJson, failed);
        REQUIRE_FALSE(f.ok());
        CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(Msg(f.status()) == kMsgErrorProcessingRequest);
    }
}
