#include <wisp/testing/child_process.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <absl/strings/str_cat.h>
#include <wisp/testing/ports.hpp>

extern char** environ;

namespace wisp::testing {

namespace {

std::string FindInPath(const std::string& program, const std::string& path_var) {
    if (program.find('/') != std::string::npos) return program;
    size_t start = 0;
    while (start <= path_var.size()) {
        size_t colon = path_var.find(':', start);
        if (colon == std::string::npos) colon = path_var.size();
        const std::string dir = path_var.substr(start, colon - start);
        start = colon + 1;
        if (dir.empty()) continue;
        const std::string candidate = dir + "/" + program;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return {};
}

/// The inherited environment with `options`' changes applied, as "K=V" strings.
std::vector<std::string> BuildEnvironment(const SpawnOptions& options) {
    std::vector<std::string> env;
    auto replaced = [&](std::string_view entry) {
        const std::string_view key = entry.substr(0, entry.find('='));
        for (const auto& name : options.unset_env) {
            if (name == key) return true;
        }
        for (const auto& [name, value] : options.env) {
            if (name == key) return true;
        }
        return false;
    };
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (!replaced(*e)) env.emplace_back(*e);
    }
    for (const auto& [name, value] : options.env) env.push_back(absl::StrCat(name, "=", value));
    return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const SpawnOptions& options) {
    if (options.argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
    std::vector<std::string> env = BuildEnvironment(options);
    std::string path_var = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& entry : env) {
        if (entry.rfind("PATH=", 0) == 0) path_var = entry.substr(5);
    }
    const std::string program = FindInPath(options.argv[0], path_var);
    if (program.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Spawn: '", options.argv[0], "' not found in PATH (", path_var, "); is it installed?"));
    }
    std::vector<std::string> argv_strings = options.argv;
    std::vector<char*> argv = CStrings(argv_strings);
    std::vector<char*> envp = CStrings(env);

    int log_fd = -1;
    if (!options.log_path.empty()) {
        log_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0) {
            return absl::InternalError(absl::StrCat("Spawn: cannot open log ", options.log_path,
                                                    ": ", std::strerror(errno)));
        }
    }
    int error_pipe[2];
    if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
        if (log_fd >= 0) ::close(log_fd);
        return absl::InternalError(absl::StrCat("Spawn: pipe: ", std::strerror(errno)));
    }
    const pid_t parent = ::getpid();
    const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();

    const pid_t pid = ::fork();
    if (pid < 0) {
        const int err = errno;
        ::close(error_pipe[0]);
        ::close(error_pipe[1]);
        if (log_fd >= 0) ::close(log_fd);
        return absl::InternalError(absl::StrCat("Spawn: fork: ", std::strerror(err)));
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here on.
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (log_fd >= 0) {
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
        }
        int err = 0;
        if (working_dir != nullptr && ::chdir(working_dir) != 0) {
            err = errno;
        } else {
            ::execve(program.c_str(), argv.data(), envp.data());
            err = errno;
        }
        [[maybe_unused]] ssize_t n = ::write(error_pipe[1], &err, sizeof err);
        ::_exit(127);
    }
    // Parent.
    ::setpgid(pid, pid);  // also here, so the group exists before we could signal it
    ::close(error_pipe[1]);
    if (log_fd >= 0) ::close(log_fd);
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(error_pipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(error_pipe[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        return absl::InternalError(
            absl::StrCat("Spawn: cannot start ", program, ": ", std::strerror(child_errno)));
    }
    return std::unique_ptr<ChildProcess>(new ChildProcess(pid, options.log_path));
}

ChildProcess::~ChildProcess() { Stop(); }

bool ChildProcess::Running() {
    if (pid_ <= 0 || exit_status_ != -1) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
        exit_status_ = r == pid_ ? status : 0;
        return false;
    }
    return true;
}

absl::Status ChildProcess::WaitForPort(int port, std::chrono::milliseconds timeout,
                                       const std::string& host) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (WaitForTcpPort(host, port, std::chrono::milliseconds(0)).ok()) {
            return absl::OkStatus();
        }
        if (!Running()) {
            return absl::FailedPreconditionError(
                absl::StrCat("process ", pid_, " exited (wait status ", exit_status_, ") before ",
                             host, ":", port, " accepted connections; log tail:\n", LogTail()));
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return absl::DeadlineExceededError(
                absl::StrCat(host, ":", port, " did not accept connections within ",
                             timeout.count(), " ms; log tail:\n", LogTail()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return;
    if (Running()) {
        ::kill(-pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + grace;
        while (Running() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (Running()) {
            ::kill(-pid_, SIGKILL);
            int status = 0;
            if (::waitpid(pid_, &status, 0) == pid_) exit_status_ = status;
        }
    }
    ::kill(-pid_, SIGKILL);  // whatever the child left behind in its group
    pid_ = -1;
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
    if (log_path_.empty()) return {};
    std::ifstream in(log_path_, std::ios::binary);
    if (!in) return {};
    std::stringstream buf;
    buf << in.rdbuf();
    std::string all = buf.str();
    if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
    return all;
}

absl::StatusOr<PipedChild> SpawnWithPipes(const std::vector<std::string>& argv,
                                          const std::vector<std::string>& env) {
    if (argv.empty()) return absl::InvalidArgumentError("SpawnWithPipes: empty argv");
    auto failed = [&](int err) {
        return absl::InternalError(
            absl::StrCat("cannot start ", argv[0], ": ", std::strerror(err)));
    };
    // Checked here rather than left to the spawn: under qemu-user (the arm64 unit tests on an
    // x86 host) posix_spawn cannot report a failed exec, and the child would just exit 127.
    if (::access(argv[0].c_str(), X_OK) != 0) return failed(errno);
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return failed(errno);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        const int err = errno;
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        return failed(err);
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    sigset_t no_signals, default_signals;
    sigemptyset(&no_signals);
    sigemptyset(&default_signals);
    sigaddset(&default_signals, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &no_signals);
    posix_spawnattr_setsigdefault(&attr, &default_signals);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(
        &attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> cargv, cenv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
    cenv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    if (rc != 0) {
        ::close(out_pipe[0]);
        ::close(err_pipe[0]);
        return failed(rc);
    }
    return PipedChild{pid, out_pipe[0], err_pipe[0]};
}

void ReadPipedLines(int stdout_fd, int stderr_fd,
                    const std::function<void(int stream, std::string line)>& on_line) {
    pollfd fds[2] = {{stdout_fd, POLLIN, 0}, {stderr_fd, POLLIN, 0}};
    std::string partial[2];
    int open = 2;
    char buf[65536];
    while (open > 0) {
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) {
                if (!partial[i].empty()) on_line(i, std::move(partial[i]));
                partial[i].clear();
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open;
                continue;
            }
            partial[i].append(buf, static_cast<size_t>(got));
            size_t start = 0;
            for (size_t nl; (nl = partial[i].find('\n', start)) != std::string::npos;
                 start = nl + 1) {
                on_line(i, partial[i].substr(start, nl - start));
            }
            partial[i].erase(0, start);
        }
    }
    for (const pollfd& p : fds) {
        if (p.fd >= 0) ::close(p.fd);
    }
}

std::vector<std::string> InheritedEnvironment(std::string_view drop_prefix) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (drop_prefix.empty() ||
            std::string_view(*e).substr(0, drop_prefix.size()) != drop_prefix) {
            env.emplace_back(*e);
        }
    }
    return env;
}

}  // namespace wisp::testing
