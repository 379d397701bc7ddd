// Tests of the test helpers themselves: ports, child processes, temp dirs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <wisp/testing/child_process.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/process_container.hpp>
#include <wisp/testing/shell.hpp>
#include <wisp/testing/temp_dir.hpp>

using namespace std::chrono_literals;
using wisp::testing::ChildProcess;
using wisp::testing::SpawnOptions;
using wisp::testing::TempDir;

namespace {

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// True while a live (not zombie) process is in process group `pgid`. Zombies count for
/// kill(-pgid, 0) until their new parent reaps them, which a container's init may do late.
bool GroupAlive(pid_t pgid) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = ReadFile(entry.path().string() + "/stat");
        const size_t paren = stat.rfind(')');
        if (paren == std::string::npos) continue;
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (std::sscanf(stat.c_str() + paren + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
        if (pgrp == pgid && state != 'Z' && state != 'X') return true;
    }
    return false;
}

// Killed processes leave the table once reaped (by us or by init): poll /proc until then.
bool GroupGoneWithin(pid_t pgid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (GroupAlive(pgid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

TEST_CASE("ports: a free loopback port can be listened on and waited for", "[support]") {
    auto port = wisp::testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    CHECK(*port > 0);
    CHECK(wisp::testing::WaitForTcpPort("127.0.0.1", *port, 0ms).code() ==
          absl::StatusCode::kDeadlineExceeded);

    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(*port));
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd, 4) == 0);
    CHECK(wisp::testing::WaitForTcpPort("127.0.0.1", *port, 1000ms).ok());
    ::close(fd);
}

TEST_CASE("temp dir: created, and removed with its contents", "[support]") {
    std::filesystem::path kept;
    {
        TempDir dir("wisp-support-test-");
        kept = dir.path();
        CHECK(std::filesystem::is_directory(kept));
        std::ofstream(dir.File("a.txt")) << "x";
        std::filesystem::create_directories(dir.path() / "sub/deeper");
        CHECK(std::filesystem::exists(dir.File("a.txt")));
    }
    CHECK(!std::filesystem::exists(kept));
}

TEST_CASE("child process: env, log, exit, process-group stop", "[support]") {
    TempDir dir;
    SECTION("environment and log file") {
        SpawnOptions opts;
        opts.argv = {"sh", "-c", "echo \"$WISP_SUPPORT_TEST\"; echo err >&2; pwd"};
        opts.env = {{"WISP_SUPPORT_TEST", "hello env"}};
        opts.log_path = dir.File("log.txt");
        opts.working_dir = dir.path().string();
        auto child = ChildProcess::Spawn(opts);
        REQUIRE(child.ok());
        auto st = (*child)->WaitForPort(1, 5000ms);  // nothing listens: the child exits first
        CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
        CHECK(!(*child)->Running());
        const std::string log = ReadFile(opts.log_path);
        CHECK(log.find("hello env\n") != std::string::npos);
        CHECK(log.find("err\n") != std::string::npos);
        CHECK(log.find(std::filesystem::canonical(dir.path()).string()) != std::string::npos);
        CHECK(std::string(st.message()).find("hello env") != std::string::npos);
    }
    SECTION("stop kills the whole process group") {
        SpawnOptions opts;
        opts.argv = {"sh", "-c", "trap '' TERM; sleep 60 & echo ready; sleep 60; wait"};
        opts.log_path = dir.File("group.txt");
        auto child = ChildProcess::Spawn(opts);
        REQUIRE(child.ok());
        const pid_t pgid = (*child)->pid();
        // Generous: CI runs this beside the docker suites on a loaded 2-core machine.
        const auto ready_by = std::chrono::steady_clock::now() + 10s;
        while (ReadFile(opts.log_path).empty() && std::chrono::steady_clock::now() < ready_by) {
            std::this_thread::sleep_for(10ms);
        }
        REQUIRE(ReadFile(opts.log_path) == "ready\n");
        CHECK((*child)->Running());
        const auto start = std::chrono::steady_clock::now();
        (*child)->Stop(200ms);  // everyone ignores TERM: SIGKILL after the grace period
        CHECK(std::chrono::steady_clock::now() - start >= 200ms);
        CHECK(!(*child)->Running());
        CHECK(WIFSIGNALED((*child)->exit_status()));
        // The grandchildren are gone too (killed with the group).
        CHECK(GroupGoneWithin(pgid, 10s));
    }
    SECTION("destruction stops the child") {
        pid_t pgid = 0;
        {
            auto child = ChildProcess::Spawn({.argv = {"sleep", "60"}});
            REQUIRE(child.ok());
            pgid = (*child)->pid();
        }
        CHECK(GroupGoneWithin(pgid, 10s));
    }
    SECTION("a missing program is an error, not a crash") {
        auto child = ChildProcess::Spawn({.argv = {"wisp-no-such-program-xyz"}});
        CHECK(child.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(ChildProcess::Spawn({}).status().code() == absl::StatusCode::kInvalidArgument);
        auto not_exec = ChildProcess::Spawn({.argv = {dir.path().string()}});
        CHECK(!not_exec.ok());
    }
}

std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

TEST_CASE("spawn with pipes: exact env, piped output, /dev/null stdin, own process group",
          "[support]") {
    SECTION("the child's output comes back on the pipes") {
        // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; fd 0 is /dev/null.
        auto child = wisp::testing::SpawnWithPipes(
            {"/bin/sh", "-c",
             "echo \"$WISP_SUPPORT_A|$HOME\"; cut -d' ' -f5 /proc/$$/stat; "
             "readlink /proc/$$/fd/0; echo to-stderr >&2; cat"},
            {"WISP_SUPPORT_A=1"});
        REQUIRE(child.ok());
        const std::string err = ReadAll(child->stderr_fd);
        const std::string out = ReadAll(child->stdout_fd);
        int status = 0;
        REQUIRE(::waitpid(child->pid, &status, 0) == child->pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        CHECK(out == "1|\n" + std::to_string(child->pid) + "\n/dev/null\n");
        CHECK(err == "to-stderr\n");
    }
    SECTION("a program that cannot start is Internal, naming it") {
        auto child = wisp::testing::SpawnWithPipes({"/wisp-no-such-dir/program"}, {});
        CHECK(child.status().code() == absl::StatusCode::kInternal);
        CHECK(
            std::string(child.status().message()).find("cannot start /wisp-no-such-dir/program") !=
            std::string::npos);
        CHECK(wisp::testing::SpawnWithPipes({}, {}).status().code() ==
              absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("piped lines: both streams, split at newlines, a last line without one", "[support]") {
    int out[2], err[2];
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(err) == 0);
    const std::string out_text = "one\n\ntwo\nno newline";
    const std::string err_text = "e1\n";
    REQUIRE(::write(out[1], out_text.data(), out_text.size()) ==
            static_cast<ssize_t>(out_text.size()));
    REQUIRE(::write(err[1], err_text.data(), err_text.size()) ==
            static_cast<ssize_t>(err_text.size()));
    ::close(out[1]);
    ::close(err[1]);
    std::vector<std::string> lines[2];
    wisp::testing::ReadPipedLines(out[0], err[0], [&](int stream, std::string line) {
        lines[stream].push_back(std::move(line));
    });
    CHECK(lines[0] == std::vector<std::string>{"one", "", "two", "no newline"});
    CHECK(lines[1] == std::vector<std::string>{"e1"});
    CHECK(::fcntl(out[0], F_GETFD) == -1);  // closed
    CHECK(::fcntl(err[0], F_GETFD) == -1);
}

TEST_CASE("the proxy kind of a runtime image", "[support]") {
    CHECK(wisp::testing::ProxyKindForImage("openwhisk/action-python-v3.11:nightly") == "python");
    CHECK(wisp::testing::ProxyKindForImage("wisp/action-nodejs-v20") == "nodejs");
    CHECK(wisp::testing::ProxyKindForImage("localhost:5000/action-native:1") == "native");
    CHECK(wisp::testing::ProxyKindForImage("busybox").empty());
}

TEST_CASE("inherited environment without a prefix", "[support]") {
    ::setenv("WISP_SUPPORT_DROP_ME", "x", 1);
    ::setenv("WISP_SUPPORT_KEEP_ME", "y", 1);
    const auto env = wisp::testing::InheritedEnvironment("WISP_SUPPORT_DROP_");
    CHECK(std::count(env.begin(), env.end(), "WISP_SUPPORT_KEEP_ME=y") == 1);
    CHECK(std::count(env.begin(), env.end(), "WISP_SUPPORT_DROP_ME=x") == 0);
    const auto all = wisp::testing::InheritedEnvironment();
    CHECK(std::count(all.begin(), all.end(), "WISP_SUPPORT_DROP_ME=x") == 1);
    ::unsetenv("WISP_SUPPORT_DROP_ME");
    ::unsetenv("WISP_SUPPORT_KEEP_ME");
}

}  // namespace

TEST_CASE("shell: exit status, stdout and stderr together, -1 for a signal", "[support]") {
    std::string out = "left over";
    CHECK(wisp::testing::Shell("echo one; echo two >&2; exit 3", &out) == 3);
    CHECK(out == "one\ntwo\n");
    CHECK(wisp::testing::Shell("true") == 0);
    CHECK(wisp::testing::Shell("printf x", &out) == 0);
    CHECK(out == "x");
    CHECK(wisp::testing::Shell("kill -KILL $$", &out) == -1);
}
