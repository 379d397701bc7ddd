#pragma once
// Child processes of the proxy: spawning (posix_spawn), reaping (SIGCHLD; the proxy is PID 1 in
// a container, so it reaps orphans too) and a coroutine mutex that serialises activations.
// Everything here runs on the single io_context thread.
#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace wisp::proxy {

namespace asio = boost::asio;

struct SpawnSpec {
    std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
    std::vector<std::string> env;   // "NAME=value"
    std::string cwd;                // empty: the proxy's
    int stdin_fd = -1;              // -1: /dev/null
    int stdout_fd = 1;
    int stderr_fd = 2;
    int fd3 = -1;  // dup'ed to fd 3 when >= 0
};

/// How a program file is executed, decided from its first bytes as execve(2) and execvp(3) do.
enum class ExecFormat {
    kElf,         // "\x7fELF": exec'ed directly
    kShebang,     // "#!": exec'ed directly, the kernel runs the interpreter
    kShell,       // anything else, an empty file too: run as "/bin/sh FILE ARGS..." (ENOEXEC rule)
    kUnreadable,  // cannot be opened or read: exec'ed directly, the kernel says why not
};

/// The format of the program file at `path` (reads at most 4 bytes). Never fails.
[[nodiscard]] ExecFormat DetectExecFormat(const std::string& path);

/// Starts a child: the given descriptors become 0, 1, 2 (and 3); every other descriptor is
/// closed; signal dispositions and mask are reset. When argv[0] is a path (has a '/'), it must
/// be an executable regular file, and a file that is neither ELF nor "#!" runs under /bin/sh
/// (like execvp). Both are decided before spawning, so they do not depend on the spawn
/// reporting exec errors: under qemu-user it cannot (its vfork is a fork). Returns the pid, or
/// -1 with `error` set ("cannot run PATH: REASON").
pid_t Spawn(const SpawnSpec& spec, std::string& error);

/// pipe2(O_CLOEXEC) with both ends moved to descriptors >= 10, so that dup2 onto 0..3 in a
/// child can never collide with them. fds[0] reads, fds[1] writes.
bool MakePipe(int fds[2], std::string& error);

/// Reads what `fd` holds right now without blocking (sets O_NONBLOCK) and appends it.
void ReadAvailable(int fd, std::string& into);

/// The environment of the proxy without its own WISP_PROXY_* settings, as "NAME=value".
std::vector<std::string> InheritedEnvironment();
/// Sets NAME=value in `env`, replacing an existing NAME.
void SetEnv(std::vector<std::string>& env, const std::string& name, const std::string& value);

/// Reaps every child on SIGCHLD and tells the watcher of a pid how it ended.
class ChildWatcher {
  public:
    explicit ChildWatcher(asio::io_context& io);
    /// `on_exit(wait_status)` runs on the io_context once `pid` has ended.
    void Watch(pid_t pid, std::function<void(int)> on_exit);
    /// Reaps what has ended now; true while children remain.
    bool Reap();
    /// While on, the status of an unwatched child is kept until Watch() claims it (a launcher
    /// forked by the fork server becomes our child before we learn its pid); off drops them.
    void HoldUnclaimed(bool on);

  private:
    void Arm();
    asio::signal_set signals_;
    std::map<pid_t, std::function<void(int)>> watched_;
    bool hold_unclaimed_ = false;
    std::map<pid_t, int> unclaimed_;
};

/// "exited with status 1" / "was killed by signal 9".
std::string DescribeWaitStatus(int status);

/// A FIFO mutex for coroutines on one thread.
class AsyncMutex {
  public:
    explicit AsyncMutex(asio::any_io_executor executor) : executor_(std::move(executor)) {}
    asio::awaitable<void> Lock();
    void Unlock();

  private:
    asio::any_io_executor executor_;
    bool locked_ = false;
    std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

/// A one-shot event a coroutine can wait for (set from any handler on the same thread).
class Event {
  public:
    explicit Event(asio::any_io_executor executor) : timer_(executor) {
        timer_.expires_at(asio::steady_timer::time_point::max());
    }
    asio::awaitable<void> Wait();
    void Set() {
        set_ = true;
        timer_.cancel();
    }
    bool is_set() const { return set_; }

  private:
    asio::steady_timer timer_;
    bool set_ = false;
};

}  // namespace wisp::proxy
