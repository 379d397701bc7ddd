#include "options.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "action_proxy.hpp"
#include "http_server.hpp"

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

TEST_CASE("ParseOptions: the zygote is on (a fork server) unless turned off or once", "[options]") {
    std::string message;
    auto opts = Parse({"--kind", "python"}, {}, message);
    REQUIRE(opts);
    CHECK(opts->zygote);
    CHECK(opts->fork_server);
    opts = Parse({"--kind", "python"}, {{"WISP_PROXY_ZYGOTE", "off"}}, message);
    REQUIRE(opts);
    CHECK_FALSE(opts->zygote);
    CHECK_FALSE(opts->fork_server);
    opts = Parse({"--kind", "python", "--zygote", "once"}, {}, message);
    REQUIRE(opts);
    CHECK(opts->zygote);
    CHECK_FALSE(opts->fork_server);
    opts = Parse({"--kind", "nodejs", "--zygote", "on"}, {{"WISP_PROXY_ZYGOTE", "0"}}, message);
    REQUIRE(opts);
    CHECK(opts->zygote);
    CHECK_FALSE(Parse({"--kind", "python", "--zygote=maybe"}, {}, message));
    CHECK(message.find("invalid --zygote 'maybe'") != std::string::npos);
}

TEST_CASE("ParseOptions: --port none listens on the unix socket only", "[options]") {
    std::string message;
    auto opts = Parse({"--kind", "python", "--port", "none", "--socket", "/s/p.sock"}, {}, message);
    REQUIRE(opts);
    CHECK_FALSE(opts->tcp);
    opts = Parse({},
                 {{"WISP_PROXY_KIND", "native"},
                  {"WISP_PROXY_PORT", "none"},
                  {"WISP_PROXY_SOCKET", "/s/p.sock"}},
                 message);
    REQUIRE(opts);
    CHECK_FALSE(opts->tcp);
    CHECK(Parse({"--kind", "python"}, {}, message)->tcp);
    // Without a socket there would be no way in at all.
    CHECK_FALSE(Parse({"--kind", "python", "--port", "none"}, {}, message));
    CHECK(message.find("--port none needs a unix socket") != std::string::npos);
}

namespace {

// Inodes of the TCP sockets in LISTEN state (st 0A) in /proc/net/tcp and tcp6.
std::set<std::string> ListeningTcpInodes() {
    std::set<std::string> out;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string sl, local, remote, st, queues, tr, retr, uid, timeout, inode;
            fields >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >>
                inode;
            if (st == "0A") out.insert(inode);
        }
    }
    return out;
}

// How many of this process's descriptors are listening TCP sockets.
int OwnTcpListeners() {
    const std::set<std::string> listening = ListeningTcpInodes();
    int n = 0;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
        if (ec || !target.starts_with("socket:[")) continue;
        if (listening.count(target.substr(8, target.size() - 9)) > 0) ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("HttpServer without TCP opens no TCP listener", "[options]") {
    char dir[] = "/tmp/wisp-proxy-listen-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    const int before = OwnTcpListeners();
    for (const bool tcp : {false, true}) {
        INFO("tcp " << tcp);
        ProxyOptions options;
        options.kind = Kind::kNative;
        options.host = "127.0.0.1";
        options.port = 0;
        options.tcp = tcp;
        options.socket_path = std::string(dir) + "/proxy.sock";
        options.action_dir = dir;
        asio::io_context io(1);
        ActionProxy proxy(io, options);
        HttpServer server(io, proxy);
        std::string error;
        REQUIRE(server.Listen(options, error));
        struct stat st {};
        REQUIRE(::lstat(options.socket_path.c_str(), &st) == 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK(OwnTcpListeners() == before + (tcp ? 1 : 0));
        CHECK((server.port() != 0) == tcp);
        server.Close();
        ::unlink(options.socket_path.c_str());
    }
    ::rmdir(dir);
}
