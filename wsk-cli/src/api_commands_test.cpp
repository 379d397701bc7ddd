// `wsk api` against a fake controller on a loopback port: the requests (endpoint, V2 query,
// the createApi apidoc), the local checks and the output lines of the Go CLI.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "commands.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "testing/cli_session.hpp"
#include "testing/fake_http_server.hpp"

using namespace wsk;
using testing::Request;

namespace {

constexpr const char* kAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret";
constexpr const char* kMgmt = "/api/v1/web/whisk.system/apimgmt/";

/// getApi's answer: two APIs (one with a package action and a long name).
const std::string kApis =
    R"({"apis":[{"id":"Not Used","key":"Not Used","value":{"gwApiUrl":"http://h/api/guest/club",)"
    R"("apidoc":{"swagger":"2.0","basePath":"/club","info":{"title":"Book Club","version":"1"},)"
    R"("paths":{"/books":{"get":{"operationId":"getBooks","x-openwhisk":{"namespace":"guest",)"
    R"("package":"lib","action":"list","url":"u"}},"post":{"operationId":"postBooks",)"
    R"("x-openwhisk":{"namespace":"guest","package":"","action":"add","url":"u"}}}}}}},)"
    R"({"id":"Not Used","key":"Not Used","value":{"gwApiUrl":"http://h/api/guest/hello",)"
    R"("apidoc":{"swagger":"2.0","basePath":"/hello","info":{"title":"/hello","version":"1"},)"
    R"("paths":{"/world":{"get":{"operationId":"getWorld","x-openwhisk":{"namespace":"guest",)"
    R"("package":"","action":"hello","url":"u"}}}}}}}]})";

struct Fake {
    std::string action = R"({"name":"hello","annotations":[{"key":"web-export","value":true}]})";
    std::string create_error;  // non-empty: createApi fails with it (502)
    testing::FakeHttpServer server{[this](const Request& r) -> std::pair<int, std::string> {
        const std::string path = r.path();
        if (path == "/api/v1/namespaces/_/actions/hello") return {200, action};
        if (path == std::string(kMgmt) + "createApi.http") {
            if (!create_error.empty()) return {502, R"({"error":")" + create_error + "\"}"};
            return {200, R"({"namespace":"Not Used","gwApiActivated":true,"tenantId":"Not Used",)"
                         R"("gwApiUrl":"http://h/api/guest/hello","apidoc":{}})"};
        }
        if (path == std::string(kMgmt) + "getApi.http") {
            if (r.query().find("basepath=%2Fnone") != std::string::npos)
                return {200, R"({"apis":[]})"};
            return {200, kApis};
        }
        if (path == std::string(kMgmt) + "deleteApi.http") {
            if (r.query().find("basepath=%2Fnone") != std::string::npos) {
                return {502, R"({"error":"API deletion failure: API '/none' does not exist."})"};
            }
            return {200, "{}"};
        }
        return {404, R"({"error":"The requested resource does not exist.","code":"c"})"};
    }};
};

struct Cli : testing::CliSession {
    explicit Cli(const Fake& f) : CliSession(f.server.port(), kAuth) {}
};

using testing::Json;

}  // namespace

TEST_CASE("wsk api create: the apidoc, the V2 query and the output", "[wsk][api]") {
    Fake f;
    Cli c(f);
    auto st = ApiCreate(c.s, {"/hello", "/world", "get", "hello"}, ApiFlags{});
    REQUIRE_FALSE(st);
    CHECK(c.out.str() ==
          "ok: created API /hello/world GET for action /_/hello\nhttp://h/api/guest/hello/world\n");
    auto reqs = f.server.requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].method == "GET");  // the web-action check
    CHECK(reqs[1].method == "POST");
    CHECK(reqs[1].path() == std::string(kMgmt) + "createApi.http");
    CHECK(reqs[1].query() ==
          "?responsetype=json&spaceguid=23bc46b1-71f6-4ed5-8c54-816aa4f8c502&accesstoken=DUMMY%"
          "20TOKEN");
    auto body = Json(reqs[1].body);
    const auto& doc = body["apidoc"];
    CHECK(std::string(doc["namespace"].GetString()) == "_");
    CHECK(std::string(doc["gatewayBasePath"].GetString()) == "/hello");
    CHECK(std::string(doc["gatewayPath"].GetString()) == "/world");
    CHECK(std::string(doc["gatewayMethod"].GetString()) == "GET");
    CHECK(std::string(doc["id"].GetString()) == "API:_:/hello");
    CHECK(std::string(doc["action"]["name"].GetString()) == "hello");
    CHECK(std::string(doc["action"]["backendUrl"].GetString()) ==
          c.s.config.apihost + "/api/v1/web/_/default/hello.http");
    CHECK(std::string(doc["action"]["authkey"].GetString()) == kAuth);
    CHECK_FALSE(doc["action"].HasMember("secureKey"));
    CHECK_FALSE(doc.HasMember("pathParameters"));
}

TEST_CASE("wsk api create: path parameters, secure key, local checks, server errors",
          "[wsk][api]") {
    Fake f;
    f.action = R"({"name":"hello","annotations":[{"key":"web-export","value":true},)"
               R"({"key":"require-whisk-auth","value":"s3cret"}]})";
    {
        Cli c(f);
        ApiFlags flags;
        flags.response_type = "http";
        REQUIRE_FALSE(ApiCreate(c.s, {"/club", "/books/{isbn}", "get", "hello"}, flags));
        auto body = Json(f.server.requests().back().body);
        CHECK(std::string(body["apidoc"]["action"]["secureKey"].GetString()) == "s3cret");
        const auto& pp = body["apidoc"]["pathParameters"];
        REQUIRE(pp.Size() == 1);
        CHECK(std::string(pp[0]["name"].GetString()) == "isbn");
        CHECK(std::string(pp[0]["description"].GetString()) == "Default description for 'isbn'");
        CHECK(f.server.requests().back().query().rfind("?responsetype=http&", 0) == 0);
    }
    auto error_of = [&](std::vector<std::string> args, ApiFlags flags = {}) {
        Cli c(f);
        auto st = ApiCreate(c.s, args, flags);
        REQUIRE(st);
        return st->message;
    };
    CHECK(error_of({"/club", "/books/{isbn}", "get", "hello"}) ==
          "A response type of 'http' is required when using path parameters.");
    CHECK(error_of({"/c/{x}", "/b", "get", "hello"}) ==
          "The base path '/c/{x}' cannot have parameters. Only the relative path supports path "
          "parameters.");
    CHECK(error_of({"/c", "b", "get", "hello"}) == "'b' must begin with '/'.");
    CHECK(error_of({"/c", "/b", "fetch", "hello"}).rfind("'fetch' is not a valid API verb.", 0) ==
          0);
    ApiFlags named;
    named.api_name = "x";
    CHECK(error_of({"club", "/b", "get", "hello"}, named) ==
          "An API name can only be specified once.");
    CHECK(error_of({}) ==
          "Invalid argument(s). Specify a swagger file or specify an API base path with an API "
          "path, an API verb, and an action name.");
    f.action = R"({"name":"hello","annotations":[]})";
    CHECK(error_of({"/c", "/b", "get", "hello"}) ==
          "Action '/_/hello' is not a web action. Issue 'wsk action update \"/_/hello\" --web "
          "true' to convert the action to a web action.");
    f.action = R"({"name":"hello","annotations":[{"key":"web-export","value":true}]})";
    f.create_error = "apidoc is missing the namespace field";
    CHECK(error_of({"/c", "/b", "get", "hello"}) ==
          "Unable to create API: apidoc is missing the namespace field");
}

TEST_CASE("wsk api create -c: a swagger file is sent as a string", "[wsk][api]") {
    Fake f;
    Cli c(f);
    const auto dir =
        std::filesystem::temp_directory_path() / ("wsk-api-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = (dir / "api.yaml").string();
    std::ofstream(file) << "swagger: '2.0'\nbasePath: /club\ninfo: {title: Club, version: '1'}\n"
                           "paths: {}\n";
    ApiFlags flags;
    flags.config_file = file;
    REQUIRE_FALSE(ApiCreate(c.s, {}, flags));
    auto body = Json(f.server.requests().back().body);
    REQUIRE(body["apidoc"]["swagger"].IsString());
    auto sw = Json(body["apidoc"]["swagger"].GetString());
    CHECK(std::string(sw["basePath"].GetString()) == "/club");
    CHECK(std::string(sw["swagger"].GetString()) == "2.0");
    std::ofstream(file) << "swagger: '2.0'\nbasePath: club\ninfo: {title: Club}\npaths: {}\n";
    auto st = ApiCreate(c.s, {}, flags);
    REQUIRE(st);
    CHECK(
        st->message ==
        "Unable to parse swagger file: Swagger file basePath must start with a leading slash (/)");
    std::filesystem::remove_all(dir);
}

TEST_CASE("wsk api list: the table, filters, -n and -f", "[wsk][api]") {
    Fake f;
    {
        Cli c(f);
        REQUIRE_FALSE(ApiList(c.s, {}, ApiListFlags{.name_sort = true}));
        CHECK(c.out.str() ==
              "ok: APIs\n"
              "Action             Verb   API Name  URL\n"
              "/guest/lib/list     get  Book Club  http://h/api/guest/club/books\n"
              "/guest/add         post  Book Club  http://h/api/guest/club/books\n"
              "/guest/hello        get     /hello  http://h/api/guest/hello/world\n");
        CHECK(f.server.requests().back().query() ==
              "?limit=30&skip=0&spaceguid=23bc46b1-71f6-4ed5-8c54-816aa4f8c502&accesstoken=DUMMY%"
              "20TOKEN");
    }
    {
        Cli c(f);
        REQUIRE_FALSE(ApiList(c.s, {"/club", "/books", "post"}, ApiListFlags{.full = true}));
        CHECK(c.out.str() ==
              "ok: APIs\nAction: /guest/add\n   API Name: Book Club\n   Base path: /club\n"
              "   Path: /books\n   Verb: post\n   URL: http://h/api/guest/club/books\n");
    }
    {
        Cli c(f);
        REQUIRE_FALSE(ApiList(c.s, {"/none"}, ApiListFlags{}));
        CHECK(c.out.str() ==
              "ok: APIs\nAction                            Verb             API Name  URL\n");
    }
}

TEST_CASE("wsk api get and delete", "[wsk][api]") {
    Fake f;
    {
        Cli c(f);
        REQUIRE_FALSE(ApiGet(c.s, {"/club"}, ApiGetFlags{}));
        auto d = Json(c.out.str());
        CHECK(std::string(d["basePath"].GetString()) == "/club");
        CHECK(c.out.str().find("\n    \"basePath\"") != std::string::npos);  // 4-space indent
    }
    {
        Cli c(f);
        REQUIRE_FALSE(ApiGet(c.s, {"/club"}, ApiGetFlags{.full = true}));
        CHECK(Json(c.out.str()).HasMember("gwApiUrl"));
    }
    {
        Cli c(f);
        auto st = ApiGet(c.s, {"/none"}, ApiGetFlags{});
        REQUIRE(st);
        CHECK(st->message == "API does not exist for basepath /none");
        st = ApiGet(c.s, {"/club"}, ApiGetFlags{.format = "xml"});
        REQUIRE(st);
        CHECK(st->message == "Invalid format type: xml");
    }
    {
        Cli c(f);
        REQUIRE_FALSE(ApiDelete(c.s, {"/club"}));
        REQUIRE_FALSE(ApiDelete(c.s, {"/club", "/books"}));
        REQUIRE_FALSE(ApiDelete(c.s, {"/club", "/books", "get"}));
        CHECK(c.out.str() ==
              "ok: deleted API /club\nok: deleted /books from /club\n"
              "ok: deleted /books GET from /club\n");
        CHECK(f.server.requests().back().query() ==
              "?basepath=%2Fclub&relpath=%2Fbooks&operation=GET&spaceguid=23bc46b1-71f6-4ed5-"
              "8c54-816aa4f8c502&accesstoken=DUMMY%20TOKEN");
        auto st = ApiDelete(c.s, {"/none"});
        REQUIRE(st);
        CHECK(st->message ==
              "Unable to delete API: API deletion failure: API '/none' does not exist.");
    }
}
