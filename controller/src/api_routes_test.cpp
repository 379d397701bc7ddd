// API routes through the controller (no sockets): the whisk.system/apimgmt endpoints createApi,
// getApi, deleteApi (shapes and error texts of the reference, part A) and serving
// /api/<namespace>/<basePath>/<relPath> over a SQLite store and a fake balancer whose actions
// answer their arguments plus {"ran": name}.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/open_store.hpp>

#include "api_routes.hpp"
#include "controller_test_support.hpp"

namespace wisp::controller {
namespace {

using test_support::Parse;

constexpr const char* kMgmt = "/api/v1/web/whisk.system/apimgmt/";
constexpr const char* kGuid = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502";
constexpr const char* kHost = "https://wisp.example:3233";

/// A createApi body as the Go CLI sends it (route fields).
std::string RouteApidoc(const std::string& base, const std::string& rel, const std::string& verb,
                        const std::string& action, const std::string& ext = "json",
                        const std::string& extra_action = "", const std::string& extra = "") {
    return common::Cat(R"({"apidoc":{"namespace":"_","gatewayBasePath":")", base,
                       R"(","gatewayPath":")", rel, R"(","gatewayMethod":")", verb,
                       R"(","id":"API:_:)", base, R"(",)", extra, R"("action":{"name":")", action,
                       R"(","namespace":"_","backendMethod":")", verb,
                       R"(","backendUrl":"https://h/api/v1/web/_/default/)", action, ".", ext,
                       R"(","authkey":"x")", extra_action, "}}}");
}

struct Fixture : test_support::ControllerOverSqlite {
    const std::string guest = std::string(common::kGuestAuth);

    explicit Fixture(std::unique_ptr<store::ArtifactStore> s = nullptr) {
        if (s) store = std::move(s);
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        clock.Set(1795000000000);
        ControllerConfig config;
        config.api_host = kHost;
        Start(std::move(config));
    }

    HttpResponse Send(const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& auth = "",
                      HeaderList headers = {}) {
        HttpRequest req = test_support::MakeRequest(method, target, body, auth);
        for (auto& h : headers) req.headers.push_back(std::move(h));
        return test_support::Answer(*controller, std::move(req));
    }
    HttpResponse Rest(const std::string& method, const std::string& target,
                      const std::string& body = "") {
        return Send(method, target, body, guest);
    }
    void WebAction(const std::string& name, const std::string& extra_annotations = "") {
        auto r = Rest("PUT", "/api/v1/namespaces/_/actions/" + name,
                      common::Cat(R"({"exec":{"kind":"python:3","code":"def main(a): return a"},)",
                                  R"("annotations":[{"key":"web-export","value":true})",
                                  extra_annotations, "]}"));
        REQUIRE(r.status == 200);
    }
    HttpResponse Create(const std::string& body, const std::string& query = "") {
        return Send("POST",
                    common::Cat(kMgmt, "createApi.http?spaceguid=", kGuid,
                                "&accesstoken=DUMMY%20TOKEN", query),
                    body, guest);
    }
    HttpResponse GetApis(const std::string& query = "") {
        return Send("GET", common::Cat(kMgmt, "getApi.http?spaceguid=", kGuid, query), "", guest);
    }
    HttpResponse Delete(const std::string& query) {
        return Send("DELETE", common::Cat(kMgmt, "deleteApi.http?spaceguid=", kGuid, query), "",
                    guest);
    }
};

std::string ErrorText(const HttpResponse& r) {
    auto d = Parse(r.body);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    return d["error"].GetString();
}

TEST_CASE("routes: operationId and path templates", "[apimgmt]") {
    CHECK(routes::OperationId("get", "/path/with/sub_paths/in/it") == "getPathWithSub_pathsInIt");
    CHECK(routes::OperationId("GET", "/books/{isbn}") == "getBooksIsbn");
    std::vector<std::pair<std::string, std::string>> p;
    CHECK(routes::MatchTemplate("/books/{isbn}", "/books/978", p));
    REQUIRE(p.size() == 1);
    CHECK(p[0] == std::pair<std::string, std::string>{"isbn", "978"});
    CHECK_FALSE(routes::MatchTemplate("/books/{isbn}", "/books/978/x", p));
    CHECK_FALSE(routes::MatchTemplate("/books", "/book", p));
    auto url = routes::ParseBackendUrl("https://h/api/v1/web/guest/pkg/a.text");
    REQUIRE(url);
    CHECK(url->ns == "guest");
    CHECK(url->package == std::optional<std::string>("pkg"));
    CHECK(url->action == "a");
    CHECK(url->extension == web::Extension::kText);
    CHECK_FALSE(routes::ParseBackendUrl("https://h/x/hello.json"));
}

TEST_CASE("createApi: the value object and the generated swagger", "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    auto r = f.Create(
        RouteApidoc("/hello", "/world", "GET", "hello", "json", "", R"("apiName":"Hello API",)"));
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["namespace"].GetString()) == "Not Used");
    CHECK(std::string(d["tenantId"].GetString()) == "Not Used");
    CHECK(d["gwApiActivated"].GetBool());
    CHECK(std::string(d["gwApiUrl"].GetString()) == "https://wisp.example:3233/api/guest/hello");
    const auto& sw = d["apidoc"];
    CHECK(std::string(sw["swagger"].GetString()) == "2.0");
    CHECK(std::string(sw["basePath"].GetString()) == "/hello");
    CHECK(std::string(sw["info"]["title"].GetString()) == "Hello API");
    const auto& op = sw["paths"]["/world"]["get"];
    CHECK(std::string(op["operationId"].GetString()) == "getWorld");
    CHECK(std::string(op["x-openwhisk"]["namespace"].GetString()) == "guest");
    CHECK(std::string(op["x-openwhisk"]["package"].GetString()).empty());
    CHECK(std::string(op["x-openwhisk"]["action"].GetString()) == "hello");
    CHECK(std::string(op["x-openwhisk"]["url"].GetString()) ==
          "https://wisp.example:3233/api/v1/web/guest/default/hello.json");
    const auto& cases =
        sw["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"];
    REQUIRE(cases.Size() == 1);
    CHECK(std::string(cases[0]["operations"][0].GetString()) == "getWorld");
    CHECK(std::string(cases[0]["execute"][0]["invoke"]["target-url"].GetString()) ==
          "https://wisp.example:3233/api/v1/web/guest/default/hello.json");

    // A second operation joins the same API; the same one again replaces its case.
    REQUIRE(f.Create(RouteApidoc("/hello", "/world", "POST", "hello")).status == 200);
    r = f.Create(RouteApidoc("/hello", "/world", "GET", "hello"));
    REQUIRE(r.status == 200);
    d = Parse(r.body);
    CHECK(d["apidoc"]["paths"]["/world"].MemberCount() == 2);
    CHECK(d["apidoc"]["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"]
              .Size() == 2);
    CHECK(std::string(d["apidoc"]["info"]["title"].GetString()) == "Hello API");  // kept
}

TEST_CASE("createApi: the error texts", "[apimgmt]") {
    Fixture f;
    auto r = f.Send("POST", std::string(kMgmt) + "createApi.http", R"({"apidoc":{}})");
    CHECK(r.status == 502);
    CHECK(ErrorText(r) == "A valid auth key is required.");
    r = f.Create("{}");
    CHECK(r.status == 502);
    CHECK(ErrorText(r) == "apidoc is required.");
    CHECK(ErrorText(f.Create(R"({"apidoc":"{nope"})")) ==
          "apidoc field cannot be parsed. Ensure it is valid JSON.");
    CHECK(ErrorText(f.Create(R"({"apidoc":{"gatewayBasePath":"/a"}})")) ==
          "apidoc is missing the namespace field");
    CHECK(ErrorText(
              f.Create(R"({"apidoc":{"namespace":"_","gatewayBasePath":"/a","swagger":{}}})")) ==
          "swagger and gatewayBasePath are mutually exclusive and cannot be specified together.");
    CHECK(ErrorText(f.Create(R"({"apidoc":{"namespace":"_","swagger":{"paths":{},"info":{}}}})")) ==
          "swagger is missing the basePath field.");
    CHECK(ErrorText(f.Create(R"({"apidoc":{"namespace":"_","gatewayBasePath":"/a"}})")) ==
          "apidoc is missing the gatewayPath field");
    CHECK(
        ErrorText(f.Create(
            R"({"apidoc":{"namespace":"_","gatewayBasePath":"/a","gatewayPath":"/b","gatewayMethod":"GET"}})")) ==
        "apidoc is missing the action field.");
    CHECK(
        ErrorText(f.Create(
            R"({"apidoc":{"namespace":"_","gatewayBasePath":"/a","gatewayPath":"/b","gatewayMethod":"GET","action":{"name":"x"}}})")) ==
        "action is missing the backendMethod field.");
    CHECK(ErrorText(f.Create(RouteApidoc("/a/{x}", "/b", "GET", "hello"))) ==
          "API creation failure: The base path (/a/{x}) cannot have parameters. Only the "
          "relative path supports path parameters.");
    CHECK(ErrorText(f.Create(RouteApidoc("/a", "/b/{x}", "GET", "hello"), "&responsetype=json")) ==
          "API creation failure: The action must use a response type of '.http' in order to "
          "receive the path parameters.");
    CHECK(f.Create(RouteApidoc("/a", "/b/{x}", "GET", "hello"), "&responsetype=http").status ==
          200);
}

TEST_CASE("getApi and deleteApi: shapes, filters and error texts", "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    REQUIRE(f.Create(RouteApidoc("/club", "/books", "GET", "hello", "json", "",
                                 R"("apiName":"Book Club",)"))
                .status == 200);
    REQUIRE(f.Create(RouteApidoc("/club", "/books", "POST", "hello")).status == 200);
    REQUIRE(f.Create(RouteApidoc("/club", "/members", "GET", "hello")).status == 200);
    REQUIRE(f.Create(RouteApidoc("/other", "/x", "GET", "hello")).status == 200);

    auto r = f.GetApis();
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    REQUIRE(d["apis"].Size() == 2);
    CHECK(std::string(d["apis"][0]["id"].GetString()) == "Not Used");
    CHECK(std::string(d["apis"][0]["key"].GetString()) == "Not Used");
    CHECK(std::string(d["apis"][0]["value"]["gwApiUrl"].GetString()) ==
          "https://wisp.example:3233/api/guest/club");
    CHECK(Parse(f.GetApis("&basepath=/club").body)["apis"].Size() == 1);
    CHECK(Parse(f.GetApis("&basepath=Book%20Club").body)["apis"].Size() == 1);  // by name
    CHECK(Parse(f.GetApis("&basepath=/nothing").body)["apis"].Size() == 0);
    CHECK(Parse(f.GetApis("&limit=1").body)["apis"].Size() == 1);
    CHECK(Parse(f.GetApis("&skip=1").body)["apis"].Size() == 1);
    CHECK(ErrorText(f.GetApis("&outputFormat=xml")) ==
          "Invalid outputFormat value. Valid values are: apigw, swagger");
    CHECK(ErrorText(f.Send("GET", std::string(kMgmt) + "getApi.http")) ==
          "Invalid authentication.");

    CHECK(ErrorText(f.Delete("")) == "basepath is required.");
    CHECK(ErrorText(f.Delete("&basepath=/club&operation=get")) ==
          "When specifying an operation, the path is required.");
    CHECK(ErrorText(f.Delete("&basepath=/nope")) ==
          "API deletion failure: API '/nope' does not exist.");
    CHECK(ErrorText(f.Delete("&basepath=/club&relpath=/nope")) ==
          "API deletion failure: path '/nope' does not exist in the API");
    CHECK(ErrorText(f.Delete("&basepath=/club&relpath=/books&operation=put")) ==
          "API deletion failure: path '/books' with operation 'put' does not exist in the API");
    // One operation, then a path, then the last path removes the API.
    r = f.Delete("&basepath=/club&relpath=/books&operation=post");
    REQUIRE(r.status == 200);
    CHECK(r.body == "{}");
    d = Parse(f.GetApis("&basepath=/club").body);
    CHECK(d["apis"][0]["value"]["apidoc"]["paths"]["/books"].MemberCount() == 1);
    CHECK(d["apis"][0]["value"]["apidoc"]["x-ibm-configuration"]["assembly"]["execute"][0]
           ["operation-switch"]["case"]
               .Size() == 2);
    REQUIRE(f.Delete("&basepath=/club&relpath=/books").status == 200);
    REQUIRE(f.Delete("&basepath=Book%20Club&relpath=/members").status == 200);
    CHECK(Parse(f.GetApis("&basepath=/club").body)["apis"].Size() == 0);
    REQUIRE(f.Delete("&basepath=/other").status == 200);
    CHECK(Parse(f.GetApis().body)["apis"].Size() == 0);
}

TEST_CASE("createApi: a base path without '/' is an API name (the Go CLI's first argument)",
          "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    auto r = f.Create(RouteApidoc("club", "/books", "GET", "hello"));
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["apidoc"]["basePath"].GetString()) == "/club");
    CHECK(std::string(d["apidoc"]["info"]["title"].GetString()) == "club");
    CHECK(Parse(f.GetApis("&basepath=club").body)["apis"].Size() == 1);
    CHECK(f.Send("GET", "/api/guest/club/books").status == 200);
    REQUIRE(f.Delete("&basepath=club").status == 200);
    CHECK(Parse(f.GetApis().body)["apis"].Size() == 0);
}

TEST_CASE("createApi: concurrent operations on one API are all kept", "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    // The requests are made here: MakeRequest asserts, and Catch2 is not thread-safe.
    std::vector<HttpRequest> creates;
    for (int i = 0; i < 8; ++i) {
        creates.push_back(test_support::MakeRequest(
            "POST", common::Cat(kMgmt, "createApi.http"),
            RouteApidoc("/c", "/p" + std::to_string(i), "GET", "hello"), f.guest));
    }
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&f, &ok, &creates, i] {
            auto r = test_support::Call(*f.controller, std::move(creates[i]));
            if (r.status == 200) {
                ++ok;
            } else {
                std::fprintf(stderr, "createApi: %d %s\n", r.status, r.body.c_str());
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(ok == 8);
    auto d = Parse(f.GetApis("&basepath=/c").body);
    REQUIRE(d["apis"].Size() == 1);
    CHECK(d["apis"][0]["value"]["apidoc"]["paths"].MemberCount() == 8);
    CHECK(d["apis"][0]["value"]["apidoc"]["x-ibm-configuration"]["assembly"]["execute"][0]
           ["operation-switch"]["case"]
               .Size() == 8);

    // Concurrent deletes of one path each: all succeed, the last one removes the API.
    threads.clear();
    ok = 0;
    std::vector<HttpRequest> deletes;
    for (int i = 0; i < 8; ++i) {
        deletes.push_back(test_support::MakeRequest(
            "DELETE",
            common::Cat(kMgmt, "deleteApi.http?basepath=/c&relpath=/p", std::to_string(i)), "",
            f.guest));
    }
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&f, &ok, &deletes, i] {
            auto r = test_support::Call(*f.controller, std::move(deletes[i]));
            if (r.status == 200) {
                ++ok;
            } else {
                std::fprintf(stderr, "deleteApi: %d %s\n", r.status, r.body.c_str());
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(ok == 8);
    CHECK(Parse(f.GetApis().body)["apis"].Size() == 0);
}

TEST_CASE("serving: query, body, path parameters, methods, 404, CORS", "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    REQUIRE(f.Create(RouteApidoc("/hello", "/world", "GET", "hello")).status == 200);
    // GET with a query: the JSON result of the web action.
    auto r = f.Send("GET", "/api/guest/hello/world?name=ann");
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(std::string(d["ran"].GetString()) == "hello");
    CHECK(std::string(d["name"].GetString()) == "ann");
    CHECK(std::string(d["__ow_method"].GetString()) == "get");
    CHECK(r.Header("Access-Control-Allow-Origin") == "*");
    CHECK(r.Header("Access-Control-Allow-Credentials") == "true");
    // The method is checked.
    r = f.Send("POST", "/api/guest/hello/world", R"({"a":1})");
    CHECK(r.status == 405);
    CHECK(r.Header("Allow") == "GET");
    // OPTIONS: the gateway's CORS answer, echoing the Origin.
    r = f.Send("OPTIONS", "/api/guest/hello/world", "", "",
               {{"origin", "https://app.example"}, {"access-control-request-headers", "x-a"}});
    CHECK(r.status == 200);
    CHECK(r.Header("Access-Control-Allow-Origin") == "https://app.example");
    CHECK(r.Header("Access-Control-Allow-Headers") == "x-a");
    // Unknown routes: 404 with OpenWhisk's error body.
    for (const char* miss : {"/api/guest/hello/nope", "/api/guest/nope/world",
                             "/api/nobody/hello/world", "/api/guest"}) {
        r = f.Send("GET", miss);
        CHECK(r.status == 404);
        CHECK(test_support::ErrorOf(r) == "The requested resource does not exist.");
    }

    // POST with a body and a {param} (swagger form: the json type keeps the result visible).
    const std::string swagger =
        R"({"swagger":"2.0","basePath":"/club","info":{"title":"Club","version":"1"},
      "paths":{"/books/{isbn}":{"post":{"operationId":"postBooksIsbn","x-openwhisk":{"namespace":"_",
      "package":"","action":"hello","url":"https://h/api/v1/web/_/default/hello.json"}}}}})";
    r = f.Create(common::Cat(R"({"apidoc":{"namespace":"_","swagger":)",
                             common::JsonValue::String(swagger).text(), "}}"));
    REQUIRE(r.status == 200);
    CHECK(std::string(
              Parse(r.body)["apidoc"]["paths"]["/books/{isbn}"]["post"]["x-openwhisk"]["namespace"]
                  .GetString()) == "guest");
    r = f.Send("POST", "/api/guest/club/books/978-0596?q=1", R"({"title":"JS"})");
    REQUIRE(r.status == 200);
    d = Parse(r.body);
    CHECK(std::string(d["isbn"].GetString()) == "978-0596");
    CHECK(std::string(d["q"].GetString()) == "1");
    CHECK(std::string(d["title"].GetString()) == "JS");
    CHECK(f.Send("GET", "/api/guest/club/books/978").status == 405);
    // Over the payload limit: 413 with the gateway's CORS, for a route and for no route alike.
    for (const char* big : {"/api/guest/club/books/1", "/api/nobody/club/books/1"}) {
        r = f.Send("POST", big, std::string(1048577, ' '));
        CHECK(r.status == 413);
        CHECK(test_support::ErrorOf(r) == "Request larger than allowed: 1048577 > 1048576 bytes.");
        CHECK(r.Header("Access-Control-Allow-Origin") == "*");
    }

    // http type: __ow_path is the path after /api/<namespace>.
    REQUIRE(f.Create(RouteApidoc("/h", "/p/{id}", "GET", "hello", "http"), "&responsetype=http")
                .status == 200);
    d = Parse(f.GetApis("&basepath=/h").body);
    CHECK(std::string(d["apis"][0]["value"]["apidoc"]["x-ibm-configuration"]["assembly"]["execute"]
                       [0]["operation-switch"]["case"][0]["execute"][0]["invoke"]["target-url"]
                           .GetString()) ==
          "https://wisp.example:3233/api/v1/web/guest/default/hello.http$(request.path)");

    // Not a web action: 404.
    REQUIRE(f.Rest("PUT", "/api/v1/namespaces/_/actions/plain",
                   R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})")
                .status == 200);
    REQUIRE(f.Create(RouteApidoc("/plain", "/p", "GET", "plain")).status == 200);
    CHECK(f.Send("GET", "/api/guest/plain/p").status == 404);
    // After delete: 404.
    REQUIRE(f.Delete("&basepath=/hello").status == 200);
    CHECK(f.Send("GET", "/api/guest/hello/world").status == 404);
}

TEST_CASE("serving: the secure key is sent as X-Require-Whisk-Auth", "[apimgmt]") {
    Fixture f;
    f.WebAction("guarded", R"(,{"key":"require-whisk-auth","value":"s3cret"})");
    REQUIRE(
        f.Create(RouteApidoc("/open", "/g", "GET", "guarded", "json", R"(,"secureKey":"s3cret")"))
            .status == 200);
    REQUIRE(f.Create(RouteApidoc("/closed", "/g", "GET", "guarded")).status == 200);
    CHECK(f.Send("GET", "/api/guest/open/g").status == 200);
    CHECK(f.Send("GET", "/api/guest/closed/g").status == 401);
    CHECK(
        f.Send("GET", "/api/guest/closed/g", "", "", {{"x-require-whisk-auth", "s3cret"}}).status ==
        200);
    CHECK(
        f.Send("GET", "/api/guest/closed/g", "", "", {{"x-require-whisk-auth", "wrong"}}).status ==
        401);
}

TEST_CASE("routes: /api/v1 stays the REST API; basePath /v1 is served under the namespace",
          "[apimgmt]") {
    Fixture f;
    f.WebAction("hello");
    REQUIRE(f.Create(RouteApidoc("/v1", "/namespaces", "GET", "hello")).status == 200);
    CHECK(f.Send("GET", "/api/guest/v1/namespaces").status == 200);
    auto r = f.Rest("GET", "/api/v1/namespaces");
    REQUIRE(r.status == 200);
    CHECK(Parse(r.body).IsArray());
    CHECK(f.Send("GET", "/api/v1").status == 200);
    // A namespace named v1 cannot have APIs.
    test_support::PutSubject(*f.store, "v1",
                             "11111111-2222-3333-4444-555555555555:"
                             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    auto refused = f.Send("POST", common::Cat(kMgmt, "createApi.http"),
                          RouteApidoc("/a", "/b", "GET", "hello"),
                          "11111111-2222-3333-4444-555555555555:"
                          "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    CHECK(refused.status == 502);
    CHECK(ErrorText(refused).find("'v1'") != std::string::npos);
}

TEST_CASE("routes survive a controller restart on the same store", "[apimgmt]") {
    const auto path = std::filesystem::temp_directory_path() /
                      ("wisp-apimgmt-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path);
    {
        Fixture f(store::OpenArtifactStore("sqlite:" + path.string()).value());
        f.WebAction("hello");
        REQUIRE(f.Create(RouteApidoc("/hello", "/world", "GET", "hello")).status == 200);
    }
    {
        auto s = store::OpenArtifactStore("sqlite:" + path.string()).value();
        test_support::ControllerOverSqlite g;
        g.store = std::move(s);
        ControllerConfig config;
        config.api_host = kHost;
        g.Start(std::move(config));
        auto r = test_support::Answer(
            *g.controller, test_support::MakeRequest("GET", "/api/guest/hello/world?x=1", "", ""));
        CHECK(r.status == 200);
        CHECK(std::string(Parse(r.body)["x"].GetString()) == "1");
        r = test_support::Answer(
            *g.controller, test_support::MakeRequest("GET", std::string(kMgmt) + "getApi.http", "",
                                                     std::string(common::kGuestAuth)));
        CHECK(Parse(r.body)["apis"].Size() == 1);
    }
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace wisp::controller
