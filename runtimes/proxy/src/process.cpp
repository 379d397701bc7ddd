#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <string_view>

extern char** environ;

namespace wisp::proxy {
namespace {

// A posix_spawn attribute/file-action pair that cleans up after itself.
struct SpawnSetup {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;
};

int SpawnOnce(const SpawnSpec& spec, const std::vector<std::string>& argv, pid_t& pid) {
    SpawnSetup setup;
    if (spec.stdin_fd >= 0) {
        posix_spawn_file_actions_adddup2(&setup.actions, spec.stdin_fd, 0);
    } else {
        posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    }
    if (spec.stdout_fd != 1) posix_spawn_file_actions_adddup2(&setup.actions, spec.stdout_fd, 1);
    if (spec.stderr_fd != 2) posix_spawn_file_actions_adddup2(&setup.actions, spec.stderr_fd, 2);
    if (spec.fd3 >= 0) posix_spawn_file_actions_adddup2(&setup.actions, spec.fd3, 3);
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, spec.fd3 >= 0 ? 4 : 3);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, spec.cwd.c_str());

    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&setup.attr, &all);
    posix_spawnattr_setsigmask(&setup.attr, &none);
    // Its own process group, so that shutting down can kill what the action started.
    posix_spawnattr_setpgroup(&setup.attr, 0);
    posix_spawnattr_setflags(
        &setup.attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    return posix_spawnp(&pid, args[0], &setup.actions, &setup.attr, args.data(), envp.data());
}

}  // namespace

ExecFormat DetectExecFormat(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ExecFormat::kUnreadable;
    char head[4];
    size_t have = 0;
    while (have < sizeof head) {
        ssize_t n = ::read(fd, head + have, sizeof head - have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            ::close(fd);
            return ExecFormat::kUnreadable;
        }
        if (n == 0) break;
        have += static_cast<size_t>(n);
    }
    ::close(fd);
    const std::string_view start(head, have);
    if (start == std::string_view("\x7f"
                                  "ELF",
                                  4))
        return ExecFormat::kElf;
    if (start.starts_with("#!")) return ExecFormat::kShebang;
    return ExecFormat::kShell;
}

pid_t Spawn(const SpawnSpec& spec, std::string& error) {
    if (spec.argv.empty()) {
        error = "nothing to run";
        return -1;
    }
    std::vector<std::string> argv = spec.argv;
    const std::string& program = spec.argv[0];
    if (program.find('/') != std::string::npos) {
        // A relative path is looked up after the child's chdir.
        const std::string path =
            program.front() == '/' || spec.cwd.empty() ? program : spec.cwd + "/" + program;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || ::access(path.c_str(), X_OK) != 0) {
            error = "cannot run " + program + ": " + std::strerror(errno);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            error = "cannot run " + program + ": " + std::strerror(EACCES);
            return -1;
        }
        // A script without "#!": the shell runs it, as execvp does on ENOEXEC.
        if (DetectExecFormat(path) == ExecFormat::kShell) argv.insert(argv.begin(), "/bin/sh");
    }
    pid_t pid = -1;
    int rc = SpawnOnce(spec, argv, pid);
    if (rc == ENOEXEC && argv[0] != "/bin/sh") {  // e.g. a foreign binary: as execvp does
        argv.insert(argv.begin(), "/bin/sh");
        rc = SpawnOnce(spec, argv, pid);
    }
    if (rc != 0) {
        error = "cannot run " + spec.argv[0] + ": " + std::strerror(rc);
        return -1;
    }
    return pid;
}

bool MakePipe(int fds[2], std::string& error) {
    int raw[2];
    if (::pipe2(raw, O_CLOEXEC) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    for (int i = 0; i < 2; ++i) {
        int moved = ::fcntl(raw[i], F_DUPFD_CLOEXEC, 10);
        if (moved < 0) {
            error = std::string("fcntl: ") + std::strerror(errno);
            ::close(raw[i]);
            if (i == 0) ::close(raw[1]);
            if (i == 1) ::close(fds[0]);
            return false;
        }
        ::close(raw[i]);
        fds[i] = moved;
    }
    return true;
}

void ReadAvailable(int fd, std::string& into) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    char chunk[65536];
    for (;;) {
        ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            into.append(chunk, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;
    }
}

std::vector<std::string> InheritedEnvironment() {
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        if (entry.starts_with("WISP_PROXY_")) continue;
        env.emplace_back(entry);
    }
    return env;
}

void SetEnv(std::vector<std::string>& env, const std::string& name, const std::string& value) {
    std::string entry = name + "=" + value;
    for (auto& e : env) {
        if (e.size() > name.size() && e.compare(0, name.size(), name) == 0 &&
            e[name.size()] == '=') {
            e = std::move(entry);
            return;
        }
    }
    env.push_back(std::move(entry));
}

ChildWatcher::ChildWatcher(asio::io_context& io) : signals_(io, SIGCHLD) { Arm(); }

void ChildWatcher::Watch(pid_t pid, std::function<void(int)> on_exit) {
    if (auto it = unclaimed_.find(pid); it != unclaimed_.end()) {  // ended already
        const int status = it->second;
        unclaimed_.erase(it);
        asio::post(signals_.get_executor(),
                   [on_exit = std::move(on_exit), status] { on_exit(status); });
        return;
    }
    watched_[pid] = std::move(on_exit);
}

void ChildWatcher::HoldUnclaimed(bool on) {
    hold_unclaimed_ = on;
    if (!on) unclaimed_.clear();
}

void ChildWatcher::Arm() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) return;
        Reap();
        Arm();
    });
}

bool ChildWatcher::Reap() {
    for (;;) {
        int status = 0;
        pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return pid == 0 || (pid < 0 && errno == EINTR);
        auto it = watched_.find(pid);
        if (it == watched_.end()) {  // an orphan re-parented to us (PID 1, subreaper)
            if (hold_unclaimed_) unclaimed_[pid] = status;
            continue;
        }
        auto callback = std::move(it->second);
        watched_.erase(it);
        callback(status);
    }
}

std::string DescribeWaitStatus(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = ::strsignal(WTERMSIG(status));
        return "was killed by signal " + std::to_string(WTERMSIG(status)) +
               (name != nullptr ? std::string(" (") + name + ")" : std::string());
    }
    return "ended";
}

asio::awaitable<void> AsyncMutex::Lock() {
    if (!locked_) {
        locked_ = true;
        co_return;
    }
    auto timer = std::make_shared<asio::steady_timer>(executor_);
    timer->expires_at(asio::steady_timer::time_point::max());
    waiters_.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // Unlock handed the lock over to us without releasing it.
}

void AsyncMutex::Unlock() {
    if (waiters_.empty()) {
        locked_ = false;
        return;
    }
    auto next = std::move(waiters_.front());
    waiters_.pop_front();
    next->cancel();
}

asio::awaitable<void> Event::Wait() {
    if (set_) co_return;
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace wisp::proxy
