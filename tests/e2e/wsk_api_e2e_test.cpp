// End-to-end: `wsk api create|list|get|delete` against a real wisp-standalone (issue 17): routes
// to a python web action, called over plain HTTP (no key) through the URL wsk prints, with a
// query, a path parameter and the method checked; gone (404) after delete. Needs Docker and the
// runtime images (python).
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;

namespace {

/// Answers as an `http` web action; under `json` the whole object is the answer.
constexpr const char* kCode =
    "def main(args):\n"
    "    out = {'id': args.get('id'), 'name': args.get('name'),\n"
    "           'path': args.get('__ow_path', ''), 'method': args.get('__ow_method')}\n"
    "    return {'statusCode': 200, 'headers': {'Content-Type': 'application/json'},\n"
    "            'body': out}\n";

struct User : WskUser {
    explicit User(const Standalone& wisp) : WskUser("wisp-wsk-api-e2e-") {
        WskRun r = PropertySet(wisp);
        INFO(r);
        REQUIRE(r.code == 0);
    }
};

/// The path of `url` under `base` ("http://127.0.0.1:P/api/..." -> "/api/...").
std::string PathOf(const std::string& url, const std::string& base) {
    REQUIRE(url.rfind(base, 0) == 0);
    return url.substr(base.size());
}

}  // namespace

TEST_CASE("wsk api: create, call over HTTP, list, get, delete", "[e2e][wsk][api]") {
    auto wisp = Standalone::Start({});
    INFO((wisp.ok() ? std::string() : std::string(wisp.status().message())));
    REQUIRE(wisp.ok());
    const User u(**wisp);
    const std::string base = (*wisp)->api_host();
    const HttpClient anonymous(base, "");
    const std::string action = UniqueName("hello");
    u.Write("hello.py", kCode);
    WskRun r = u.Wsk({"action", "create", action, "hello.py", "--web", "true"});
    INFO(r);
    REQUIRE(r.code == 0);

    // create (json): the Go CLI's two lines.
    r = u.Wsk({"api", "create", "/hello", "/world", "get", action, "--response-type", "json"});
    INFO(r);
    REQUIRE(r.code == 0);
    const std::regex created("^ok: created API /hello/world GET for action /_/" + action +
                             "\n(http://\\S+/api/[^/\\s]+/hello/world)\n$");
    std::smatch m;
    REQUIRE(std::regex_match(r.out, m, created));
    const std::string world_url = m[1].str();
    const std::string tenant_base = world_url.substr(0, world_url.size() - 12);  // "/hello/world"

    // GET with a query through the route, no credentials.
    auto h = anonymous.Get(PathOf(world_url, base) + "?name=ann");
    INFO(h.body);
    REQUIRE(h.status == 200);
    auto d = ParseJson(h.body);
    CHECK(GetString(d, "body.name") == "ann");
    CHECK(GetString(d, "body.method") == "get");
    CHECK(h.headers.count("access-control-allow-origin") == 1);
    // The method is checked.
    CHECK(anonymous.Post(PathOf(world_url, base), std::string("{}")).status == 405);

    // A path parameter needs http; with it the action gets {id} and the path.
    r = u.Wsk({"api", "create", "/hello", "/books/{id}", "get", action});
    CHECK(r.code != 0);
    CHECK(r.err.find("A response type of 'http' is required when using path parameters.") !=
          std::string::npos);
    r = u.Wsk({"api", "create", "/hello", "/books/{id}", "get", action, "--response-type", "http"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out.find(tenant_base + "/hello/books/{id}\n") != std::string::npos);
    h = anonymous.Get(PathOf(tenant_base, base) + "/hello/books/978-0596?name=bob");
    INFO(h.body);
    REQUIRE(h.status == 200);
    d = ParseJson(h.body);
    CHECK(GetString(d, "id") == "978-0596");
    CHECK(GetString(d, "name") == "bob");
    CHECK(GetString(d, "path") == "/hello/books/978-0596");
    CHECK(anonymous.Get(PathOf(tenant_base, base) + "/hello/nothing").status == 404);

    // list: the header and one row per operation.
    r = u.Wsk({"api", "list"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out.rfind("ok: APIs\n", 0) == 0);
    CHECK(std::regex_search(r.out, std::regex("Action +Verb +API Name  URL\n")));
    CHECK(std::regex_search(r.out, std::regex("/" + action + " +get +/hello  " + world_url)));
    CHECK(r.out.find(tenant_base + "/hello/books/{id}") != std::string::npos);
    r = u.Wsk({"api", "list", "/hello", "/world", "get", "-f"});
    INFO(r);
    CHECK(r.out.find("   Path: /world\n") != std::string::npos);
    CHECK(r.out.find("/books/") == std::string::npos);

    // get: the swagger document.
    r = u.Wsk({"api", "get", "/hello"});
    INFO(r);
    REQUIRE(r.code == 0);
    d = ParseJson(r.out);
    CHECK(GetString(d, "basePath") == "/hello");
    CHECK(GetString(d, "swagger") == "2.0");

    // A non-web action is refused by the CLI.
    const std::string plain = UniqueName("plain");
    REQUIRE(u.Wsk({"action", "create", plain, "hello.py"}).code == 0);
    r = u.Wsk({"api", "create", "/p", "/q", "get", plain});
    CHECK(r.code != 0);
    CHECK(r.err.find("Action '/_/" + plain + "' is not a web action.") != std::string::npos);

    // delete one operation, then the API: 404 after.
    r = u.Wsk({"api", "delete", "/hello", "/books/{id}", "get"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out == "ok: deleted /books/{id} GET from /hello\n");
    CHECK(anonymous.Get(PathOf(tenant_base, base) + "/hello/books/1").status == 404);
    CHECK(anonymous.Get(PathOf(world_url, base)).status == 200);
    r = u.Wsk({"api", "delete", "/hello"});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out == "ok: deleted API /hello\n");
    CHECK(anonymous.Get(PathOf(world_url, base)).status == 404);
    r = u.Wsk({"api", "delete", "/hello"});
    CHECK(r.code != 0);
    CHECK(r.err.find("error: Unable to delete API: API deletion failure: API '/hello' does not "
                     "exist.") != std::string::npos);
    r = u.Wsk({"api", "get", "/hello"});
    CHECK(r.err.find("API does not exist for basepath /hello") != std::string::npos);
}
