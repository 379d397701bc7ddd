#include <wisp/controller/http.hpp>

#include <catch2/catch.hpp>
#include <cctype>

namespace wisp::controller {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("PercentDecode decodes escapes, and '+' only in queries", "[http]") {
    CHECK(PercentDecode("plain", false) == "plain");
    CHECK(PercentDecode("a%20b%2Fc", false) == "a b/c");
    CHECK(PercentDecode("%e2%82%AC", false) == "\xe2\x82\xac");
    CHECK(PercentDecode("a+b", false) == "a+b");
    CHECK(PercentDecode("a+b", true) == "a b");
    CHECK(PercentDecode("a%2Bb", true) == "a+b");
    CHECK(PercentDecode("", true) == "");
}

TEST_CASE("PercentDecode rejects malformed escapes", "[http]") {
    CHECK_FALSE(PercentDecode("%", false));
    CHECK_FALSE(PercentDecode("a%2", false));
    CHECK_FALSE(PercentDecode("%zz", false));
    CHECK_FALSE(PercentDecode("%2g", true));
    CHECK_FALSE(PercentDecode("abc%", true));
}

TEST_CASE("ParseTarget splits path and query", "[http]") {
    std::string path;
    Query query;

    REQUIRE(ParseTarget("/api/v1/namespaces/_/actions", path, query));
    CHECK(path == "/api/v1/namespaces/_/actions");
    CHECK(query.empty());

    REQUIRE(
        ParseTarget("/a%20b/c?limit=3&name=hello+world&path=%2Fx%2Fy&flag&empty=", path, query));
    CHECK(path == "/a b/c");
    CHECK(query == Query{{"limit", "3"},
                         {"name", "hello world"},
                         {"path", "/x/y"},
                         {"flag", ""},
                         {"empty", ""}});

    SECTION("a trailing '?' gives no parameters") {
        REQUIRE(ParseTarget("/x?", path, query));
        CHECK(path == "/x");
        CHECK(query.empty());
    }
    SECTION("empty pairs are skipped, repeated keys kept in order") {
        REQUIRE(ParseTarget("/x?a=1&&a=2&", path, query));
        CHECK(query == Query{{"a", "1"}, {"a", "2"}});
    }
    SECTION("'=' inside a value stays") {
        REQUIRE(ParseTarget("/x?q=a=b", path, query));
        CHECK(query == Query{{"q", "a=b"}});
    }
    SECTION("'+' in the path stays") {
        REQUIRE(ParseTarget("/a+b?k=a+b", path, query));
        CHECK(path == "/a+b");
        CHECK(query == Query{{"k", "a b"}});
    }
    SECTION("absolute-form keeps only path and query") {
        REQUIRE(ParseTarget("http://example.com:3233/api/v1?x=1", path, query));
        CHECK(path == "/api/v1");
        CHECK(query == Query{{"x", "1"}});
    }
    SECTION("a fragment is ignored") {
        REQUIRE(ParseTarget("/p?x=1#frag", path, query));
        CHECK(path == "/p");
        CHECK(query == Query{{"x", "1"}});
    }
}

TEST_CASE("ParseTarget fails on malformed escapes", "[http]") {
    std::string path;
    Query query;
    CHECK_FALSE(ParseTarget("/a%zz", path, query));
    CHECK_FALSE(ParseTarget("/a?x=%G0", path, query));
    CHECK_FALSE(ParseTarget("/a?%=1", path, query));
}

TEST_CASE("HttpRequest header and query lookup", "[http]") {
    HttpRequest request;
    request.headers = {
        {"content-type", "application/json"}, {"x-request-id", "abc"}, {"x-request-id", "second"}};
    request.query = {{"limit", "3"}, {"Limit", "4"}};
    CHECK(request.Header("Content-Type") == "application/json");
    CHECK(request.Header("CONTENT-TYPE") == "application/json");
    CHECK(request.Header("X-Request-ID") == "abc");
    CHECK(request.Header("missing").empty());
    CHECK(request.HasHeader("X-REQUEST-ID"));
    CHECK_FALSE(request.HasHeader("authorization"));
    CHECK(request.Query("limit") == "3");
    CHECK(request.Query("Limit") == "4");  // query names are case-sensitive
    CHECK_FALSE(request.Query("skip"));
}

TEST_CASE("FindHeader and HasHeader ignore the name's case", "[http]") {
    const HeaderList headers = {
        {"X-Empty", ""}, {"Content-Type", "text/plain"}, {"content-type", "application/json"}};
    CHECK(FindHeader(headers, "CONTENT-TYPE") == "text/plain");  // the first one
    CHECK(HasHeader(headers, "x-empty"));
    CHECK(FindHeader(headers, "x-empty").empty());
    CHECK_FALSE(HasHeader(headers, "accept"));
    CHECK(FindHeader(headers, "accept").empty());
}

TEST_CASE("HttpResponse headers", "[http]") {
    HttpResponse response = HttpResponse::Json(201, "{}");
    CHECK(response.status == 201);
    CHECK(response.Header("content-type") == "application/json");
    response.SetHeader("CONTENT-TYPE", "text/html");
    CHECK(response.headers.size() == 1);
    CHECK(response.Header("Content-Type") == "text/html");
    response.SetHeader("X-Extra", "1");
    CHECK(response.headers.size() == 2);
    CHECK(HttpResponse::Text(200, "pong").Header("Content-Type").substr(0, 10) == "text/plain");
}

TEST_CASE("ErrorBody is OpenWhisk's error object", "[http]") {
    CHECK(ErrorBody("m", "t") == R"({"error":"m","code":"t"})");
}

TEST_CASE("web CORS headers yield to the action's own", "[http][web]") {
    HttpResponse r;
    r.headers.emplace_back("access-control-allow-origin", "https://example.com");
    AddWebCorsHeaders(r, "");
    CHECK(r.Header("Access-Control-Allow-Origin") == "https://example.com");
    CHECK(r.Header("Access-Control-Allow-Methods") ==
          "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH");
    CHECK(r.Header("Access-Control-Allow-Headers") ==
          "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent");
    HttpResponse echo;
    AddWebCorsHeaders(echo, "X-Foo");
    CHECK(echo.Header("Access-Control-Allow-Headers") == "X-Foo");
}

TEST_CASE("TransactionIdFor keeps X-Request-ID unless it is a system id", "[http]") {
    HttpRequest request;
    request.headers = {{"x-request-id", "my-id-1"}};
    CHECK(TransactionIdFor(request) == "my-id-1");

    auto is_random = [](const std::string& id) {
        if (id.size() != 32) return false;
        for (char c : id) {
            if (!std::isalnum(static_cast<unsigned char>(c))) return false;
        }
        return true;
    };
    request.headers = {{"x-request-id", "sid_invokerHealth"}};
    const std::string replaced = TransactionIdFor(request);
    CHECK(is_random(replaced));
    request.headers.clear();
    const std::string fresh = TransactionIdFor(request);
    CHECK(is_random(fresh));
    CHECK(fresh != replaced);
}

}  // namespace
}  // namespace wisp::controller
