#include "wskprops.hpp"

#include <map>
#include <string>

#include <catch2/catch.hpp>

using namespace wsk;

namespace {

std::function<const char*(const char*)> FakeEnv(std::map<std::string, std::string> vars) {
    auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
    return [shared](const char* name) -> const char* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
    };
}

}  // namespace

TEST_CASE("wskprops lines are KEY=VALUE with # comments", "[wskprops]") {
    const Props p = ParseProps(
        "# a comment\nAPIHOST=http://127.0.0.1:3233/\n  AUTH=uuid:key  # trailing\nNAMESPACE=_\n"
        "BROKEN\nTWO=a=b\n\n");
    CHECK(p.at("APIHOST") == "http://127.0.0.1:3233/");
    CHECK(p.at("AUTH") == "uuid:key");
    CHECK(p.at("NAMESPACE") == "_");
    CHECK(p.count("BROKEN") == 0);
    CHECK(p.count("TWO") == 0);  // more than one '=': skipped, as the Go CLI does
}

TEST_CASE("wskprops are written back upper-cased and sorted", "[wskprops]") {
    CHECK(FormatProps({{"auth", "k"}, {"APIHOST", "h"}}) == "APIHOST=h\nAUTH=k\n");
    CHECK(ParseProps(FormatProps({{"AUTH", "a:b"}})).at("AUTH") == "a:b");
}

TEST_CASE("the properties file path comes from WSK_CONFIG_FILE, else ~/.wskprops", "[wskprops]") {
    CHECK(PropsFilePath(FakeEnv({{"HOME", "/home/u"}})) == "/home/u/.wskprops");
    CHECK(PropsFilePath(FakeEnv({{"HOME", "/home/u"}, {"WSK_CONFIG_FILE", "/tmp/p"}})) == "/tmp/p");
}

TEST_CASE("configuration precedence: file < WHISK_* env < global flags", "[wskprops]") {
    const Props props{{"APIHOST", "file-host/"}, {"AUTH", "file-auth"}, {"APIVERSION", "v9"}};
    GlobalFlags none;
    Config c = ResolveConfig(props, none, FakeEnv({}));
    CHECK(c.apihost == "file-host");  // trailing '/' dropped
    CHECK(c.auth == "file-auth");
    CHECK(c.apiversion == "v9");
    CHECK(c.ns == "_");

    c = ResolveConfig(props, none,
                      FakeEnv({{"WHISK_APIHOST", "env-host"}, {"WHISK_AUTH", "env-auth"}}));
    CHECK(c.apihost == "env-host");
    CHECK(c.auth == "env-auth");

    GlobalFlags flags;
    flags.apihost = "flag-host";
    flags.auth = "flag-auth";
    flags.insecure = true;
    c = ResolveConfig(props, flags, FakeEnv({{"WHISK_APIHOST", "env-host"}}));
    CHECK(c.apihost == "flag-host");
    CHECK(c.auth == "flag-auth");
    CHECK(c.insecure);
    CHECK(ResolveConfig({}, none, FakeEnv({})).apiversion == "v1");
    CHECK(ResolveConfig({}, none, FakeEnv({{"WSK_CLI_DEBUG", "1"}})).debug);
}

TEST_CASE("an API host without a scheme gets https://", "[wskprops]") {
    CHECK(*ApiBaseUrl("http://127.0.0.1:3233") == "http://127.0.0.1:3233/api");
    CHECK(*ApiBaseUrl("http://127.0.0.1:3233/") == "http://127.0.0.1:3233/api");
    CHECK(*ApiBaseUrl("openwhisk.example.com") == "https://openwhisk.example.com/api");
    CHECK(*ApiBaseUrl("httpbin.local") == "https://httpbin.local/api");
    auto empty = ApiBaseUrl("");
    REQUIRE(!empty.ok());
    CHECK(empty.error().message == "An API host must be provided.");
}
