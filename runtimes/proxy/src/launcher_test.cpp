// Launcher's line protocol against small shell "launchers" (fd 3 carries the ready and result
// lines): over-long lines are skipped, never held whole, and answer their request cleanly.
#include "launcher.hpp"
#include "protocol.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

using namespace wisp::proxy;

namespace {

constexpr size_t kSmallLimit = 4096;

// Runs `body` as a coroutine on a fresh io_context with a launcher running `script` under sh,
// until it finishes (or 60 s pass: then the test fails).
void WithLauncher(const std::string& script, std::function<asio::awaitable<void>(Launcher&)> body) {
    asio::io_context io;
    ChildWatcher watcher(io);
    auto launcher = std::make_shared<Launcher>(io, watcher, kSmallLimit);
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = InheritedEnvironment();
    std::string error;
    REQUIRE(launcher->Start(spec, false, error));
    bool finished = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await body(*launcher);
            launcher->Kill();
            finished = true;
            io.stop();
        },
        asio::detached);
    asio::steady_timer guard(io);
    guard.expires_after(std::chrono::seconds(60));
    guard.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) io.stop();
    });
    io.run();
    launcher->Kill();
    REQUIRE(finished);
}

}  // namespace

TEST_CASE("Launcher: an over-long result line answers too_long; the next one is read",
          "[launcher]") {
    std::optional<std::string> ready;
    LauncherResult first, second;
    WithLauncher(
        R"(printf '{"ok":true}\n' >&3
           read line; head -c 100000 /dev/zero | tr '\0' a >&3; printf '\n' >&3
           read line; printf '{"second":true}\n' >&3
           read line)",
        [&](Launcher& launcher) -> asio::awaitable<void> {
            ready = co_await launcher.WaitReady();
            first = co_await launcher.Run("{}\n");
            second = co_await launcher.Run("{}\n");
        });
    CHECK_FALSE(ready);
    CHECK(first.too_long);
    CHECK_FALSE(first.line);
    CHECK_FALSE(second.too_long);
    CHECK(second.line == R"({"second":true})");
}

TEST_CASE("Launcher: a result line without end is cut off at the limit", "[launcher]") {
    LauncherResult result;
    WithLauncher(
        R"(printf '{"ok":true}\n' >&3
           read line; yes aaaaaaaaaaaaaaa | tr -d '\n' >&3)",
        [&](Launcher& launcher) -> asio::awaitable<void> {
            REQUIRE_FALSE(co_await launcher.WaitReady());
            result = co_await launcher.Run("{}\n");
        });
    CHECK(result.too_long);
    CHECK_FALSE(result.line);
}

TEST_CASE("Launcher: an over-long ready line fails the initialization", "[launcher]") {
    std::optional<std::string> ready;
    WithLauncher(R"(head -c 100000 /dev/zero | tr '\0' a >&3; printf '\n' >&3; sleep 30)",
                 [&](Launcher& launcher) -> asio::awaitable<void> {
                     ready = co_await launcher.WaitReady();
                 });
    CHECK(ready == "cannot start action: the launcher's ready line is longer than 4096 bytes.");
}

TEST_CASE("ResultTooLongText", "[launcher]") {
    CHECK(ResultTooLongText(kMaxResultLineBytes) ==
          "The action produced a response that exceeded the allowed length: more than 67108864 "
          "bytes.");
}

TEST_CASE("ZygoteLoadLine: argv and the /init env in order, one line", "[launcher][zygote]") {
    auto line = ZygoteLoadLine({"/action", "main", "source"},
                               {{"GREETING", "h\"i\n"}, {"__OW_API_HOST", "x"}, {"GREETING", "2"}});
    REQUIRE(line);
    CHECK(*line == R"({"argv":["/action","main","source"],"env":[["GREETING","h\"i\n"],)"
                   R"(["__OW_API_HOST","x"],["GREETING","2"]]})"
                   "\n");
    // A NUL ends the value, as it ends "NAME=value" in the environment of a spawned process.
    line = ZygoteLoadLine({"/a"}, {{"A", std::string("left\0right", 10)}});
    REQUIRE(line);
    CHECK(*line == "{\"argv\":[\"/a\"],\"env\":[[\"A\",\"left\"]]}\n");
}

TEST_CASE("ZygoteLoadLine: env the interpreter reads at start needs a fresh process",
          "[launcher][zygote]") {
    for (const char* name :
         {"PYTHONPATH", "PYTHONHASHSEED", "NODE_OPTIONS", "NODE_PATH", "LD_PRELOAD", "LC_ALL",
          "LANG", "TZ", "HOME", "PATH", "UV_THREADPOOL_SIZE", "", "A=B"}) {
        INFO(name);
        CHECK_FALSE(ZygoteLoadLine({"/a"}, {{"OK", "1"}, {name, "x"}}));
    }
    CHECK_FALSE(ZygoteLoadLine({"/a"}, {{std::string("A\0B", 3), "x"}}));
    CHECK_FALSE(ZygoteLoadLine({"/a"}, {{"A", "\xff\xfe"}}));  // not UTF-8
    CHECK(ZygoteLoadLine({"/a"}, {{"MY_PATH", "x"}, {"THE_HOME", "y"}}));
}
