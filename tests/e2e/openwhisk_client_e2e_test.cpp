// End-to-end: the npm `openwhisk` client against a real wisp-standalone. Starts the standalone,
// then runs `node tests/e2e/openwhisk_client_test.js` with __OW_API_HOST/__OW_API_KEY set and
// NODE_PATH at .cache/npm/node_modules (tools/test-setup.sh installs openwhisk@3.21.9 there).
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

std::string Env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

TEST_CASE("the npm openwhisk client works against wisp-standalone", "[e2e][npm]") {
    const std::string script = Env("WISP_OW_CLIENT_TEST");
    const std::string node_modules = Env("WISP_NODE_MODULES");
    REQUIRE(!script.empty());
    REQUIRE(!node_modules.empty());
    if (!std::filesystem::exists(node_modules + "/openwhisk/package.json")) {
        FAIL("the npm openwhisk client is not installed in "
             << node_modules << "; run tools/test-setup.sh (make test does)");
    }

    auto wisp = Standalone::Start({});
    INFO(wisp.status().message());
    REQUIRE(wisp.ok());

    wisp::testing::TempDir logs("wisp-e2e-node-");
    wisp::testing::SpawnOptions spawn;
    spawn.argv = {"node", script};
    spawn.env = {{"__OW_API_HOST", (*wisp)->api_host()},
                 {"__OW_API_KEY", (*wisp)->guest_auth()},
                 {"NODE_PATH", node_modules}};
    spawn.unset_env = {"__OW_NAMESPACE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"};
    // Cluster mode: nginx's self-signed certificate (the client's ignore_certs).
    if (wisp::e2e::ClusterMode()) {
        spawn.env.emplace_back("__OW_IGNORE_CERTS", "true");
    } else {
        spawn.unset_env.push_back("__OW_IGNORE_CERTS");
    }
    spawn.log_path = logs.File("node.log");
    auto node = wisp::testing::ChildProcess::Spawn(spawn);
    REQUIRE(node.ok());

    const auto deadline = std::chrono::steady_clock::now() + 240s;
    while ((*node)->Running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }
    const bool finished = !(*node)->Running();
    const int status = (*node)->exit_status();
    const std::string output = (*node)->LogTail(16384);
    (*node)->Stop();
    std::printf("node %s:\n%s\n", script.c_str(), output.c_str());
    INFO("node output:\n" << output);
    INFO("standalone log tail:\n" << (*wisp)->LogTail(4096));
    REQUIRE(finished);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
