// The process-wide memory settings every Wisp program applies at start (issue 14, idle RSS), and
// the bounded shutdown (ShutdownSequence).
#include <wisp/launch/launch.hpp>

#include <dlfcn.h>
#include <malloc.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace {

/// The malloc arenas of this process (glibc's malloc_info: one <heap nr=...> per arena).
int ArenaCount() {
    char* text = nullptr;
    size_t size = 0;
    FILE* out = open_memstream(&text, &size);
    REQUIRE(out != nullptr);
    REQUIRE(malloc_info(0, out) == 0);
    std::fclose(out);
    const std::string xml(text, size);
    std::free(text);
    int n = 0;
    for (size_t at = xml.find("<heap nr="); at != std::string::npos;
         at = xml.find("<heap nr=", at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("launch: ConfigureMalloc keeps the arenas to max(2, cores) however many threads allocate",
          "[launch]") {
    REQUIRE(std::getenv("MALLOC_ARENA_MAX") == nullptr);  // the operator's setting would win
    wisp::launch::ConfigureMalloc();
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int limit = std::max(2, cores);
    // Threads alive at once, each allocating: without the limit each gets an arena of its own
    // (glibc: up to 8 per core).
    const int threads = limit + 6;
    std::barrier all_allocated(threads + 1);
    std::barrier may_end(threads + 1);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
        pool.emplace_back([&] {
            std::vector<char> block(4096, 'x');  // this thread's first allocation
            all_allocated.arrive_and_wait();
            may_end.arrive_and_wait();
        });
    }
    all_allocated.arrive_and_wait();
    const int arenas = ArenaCount();
    may_end.arrive_and_wait();
    for (auto& t : pool) t.join();
    CHECK(arenas <= limit);
}

TEST_CASE("launch: the programs export the hook that skips GnuTLS's implicit initialisation",
          "[launch]") {
    // libgnutls's constructor asks this symbol through its PLT: it must be the executable's
    // (exported, answering 1), not libgnutls's weak default (answering 0).
    auto* hook = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "_gnutls_global_init_skip"));
    REQUIRE(hook != nullptr);
    CHECK(hook() == 1);
    wisp::launch::ReleaseFreeMemory();  // callable any time; returns nothing to check
}

namespace {

/// Runs `body` in a forked child whose stdout and stderr come back through a pipe; returns
/// the child's raw wait status and what it printed. The child is SIGKILLed when it has not
/// exited `timeout` after the start (status then says so).
std::pair<int, std::string> RunInChild(const std::function<void()>& body,
                                       std::chrono::seconds timeout) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        body();
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        pollfd p{fds[0], POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            kill(pid, SIGKILL);  // the bound did not end it
            break;
        }
        char buf[4096];
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0) break;  // the child exited (every write end is closed)
        out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return {status, out};
}

}  // namespace

TEST_CASE("launch: a shutdown step that never returns ends the process after the bound, named",
          "[launch][shutdown]") {
    auto [status, out] = RunInChild(
        [] {
            wisp::launch::ShutdownSequence shutdown("test-program", std::chrono::milliseconds(300));
            shutdown.Start();
            shutdown.Step("a wait that never ends", [] {
                for (;;) pause();  // a network wait nobody answers
            });
        },
        std::chrono::seconds(60));
    INFO(out);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK(out.find("test-program: shutdown: still waiting for a wait that never ends after") !=
          std::string::npos);
}

TEST_CASE("launch: a shutdown that finishes within the bound is not ended", "[launch][shutdown]") {
    auto [status, out] = RunInChild(
        [] {
            {
                wisp::launch::ShutdownSequence shutdown("test-program",
                                                        std::chrono::milliseconds(60000));
                shutdown.Start();
                shutdown.Step("a quick step", [] {});
                shutdown.Now("the destructors");
            }  // disarmed
            std::printf("finished\n");
            std::fflush(stdout);
        },
        std::chrono::seconds(60));
    INFO(out);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(out.find("finished") != std::string::npos);
    CHECK(out.find("still waiting") == std::string::npos);
}
