#include "options.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <string>

using namespace wisp::proxy;

namespace {

std::optional<ProxyOptions> Parse(std::vector<const char*> args,
                                  std::map<std::string, std::string> env, std::string& message) {
    args.insert(args.begin(), "wisp-action-proxy");
    bool help = false;
    return ParseOptions(
        static_cast<int>(args.size()), args.data(),
        [&](const char* name) -> const char* {
            auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
        },
        message, help);
}

}  // namespace

TEST_CASE("ParseOptions: environment, then flags", "[options]") {
    std::string message;
    auto opts =
        Parse({}, {{"WISP_PROXY_KIND", "python"}, {"WISP_PROXY_SOCKET", "/s/x.sock"}}, message);
    REQUIRE(opts);
    CHECK(opts->kind == Kind::kPython);
    CHECK(opts->port == 8080);
    CHECK(opts->host == "0.0.0.0");
    CHECK(opts->socket_path == "/s/x.sock");
    CHECK(opts->action_dir == "/action");
    CHECK(opts->launcher == "/opt/wisp/launcher.py");
    CHECK(opts->interpreter == "python3");

    opts = Parse({"--kind", "nodejs:18", "--port=0", "--action-dir", "/tmp/a"},
                 {{"WISP_PROXY_KIND", "python"}, {"__OW_ALLOW_CONCURRENT", "true"}}, message);
    REQUIRE(opts);
    CHECK(opts->kind == Kind::kNodejs);
    CHECK(opts->port == 0);
    CHECK(opts->action_dir == "/tmp/a");
    CHECK(opts->launcher == "/opt/wisp/launcher.js");
    CHECK(opts->concurrent);

    opts = Parse({"--kind", "blackbox"}, {}, message);
    REQUIRE(opts);
    CHECK(opts->kind == Kind::kNative);
    CHECK_FALSE(opts->concurrent);
}

TEST_CASE("ParseOptions explains bad input", "[options]") {
    std::string message;
    CHECK_FALSE(Parse({}, {}, message));
    CHECK(message.find("WISP_PROXY_KIND") != std::string::npos);
    CHECK_FALSE(Parse({"--kind", "cobol"}, {}, message));
    CHECK(message.find("unknown kind 'cobol'") != std::string::npos);
    CHECK_FALSE(Parse({"--kind", "native", "--port", "70000"}, {}, message));
    CHECK(message.find("invalid port") != std::string::npos);
    CHECK_FALSE(Parse({"--kind", "native", "--bogus"}, {}, message));
    CHECK_FALSE(Parse({"--kind"}, {}, message));
}
