#pragma once
// A child process for integration tests (pouchdb-server, dev brokers, the platform binaries).
//
// The child runs in its own process group; destroying the ChildProcess stops the whole group
// (SIGTERM, then SIGKILL after a grace period), so peers are stopped also when a test fails and
// unwinds. If the test binary itself dies, the direct child gets SIGKILL (PR_SET_PDEATHSIG;
// Linux sends it when the *thread* that spawned the child exits, so spawn from a thread that
// outlives the child, e.g. the test's main thread). Not thread-safe: one owner thread.
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace wisp::testing {

struct SpawnOptions {
    /// argv[0] is looked up in PATH unless it contains a '/'.
    std::vector<std::string> argv;
    /// Added to (or replacing) the inherited environment.
    std::vector<std::pair<std::string, std::string>> env;
    /// Removed from the inherited environment.
    std::vector<std::string> unset_env;
    /// Working directory; empty = the current one.
    std::string working_dir;
    /// stdout and stderr go here (created/truncated); empty = inherit the test's own.
    std::string log_path;
};

class ChildProcess {
  public:
    /// Starts the process. InvalidArgument when argv is empty or argv[0] is not found;
    /// Internal when fork/exec fails.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
        const SpawnOptions& options);

    /// Stops the process group (see Stop).
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    /// False once the child has exited (reaps it; see exit_status()).
    bool Running();
    /// The raw wait status once the child has exited, else -1.
    int exit_status() const { return exit_status_; }

    /// Polls until `host:port` accepts a connection. FailedPrecondition if the child exits
    /// first, DeadlineExceeded after `timeout`; both messages carry the end of the log.
    [[nodiscard]] absl::Status WaitForPort(int port, std::chrono::milliseconds timeout,
                                           const std::string& host = "127.0.0.1");

    /// SIGTERM to the process group, SIGKILL after `grace`; waits for the child. Idempotent.
    void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));

    /// The last `max_bytes` of the log file (empty when not logging to a file).
    std::string LogTail(size_t max_bytes = 4096) const;

  private:
    ChildProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
    pid_t pid_;
    std::string log_path_;
    int exit_status_ = -1;
};

/// A process started by SpawnWithPipes: its pid (also its process group id) and the read ends
/// of its stdout and stderr pipes (close-on-exec; the caller reads, closes and reaps).
struct PipedChild {
    pid_t pid = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
};

/// Starts `argv` (argv[0] a path, not looked up in PATH) with exactly the environment `env`
/// ("NAME=value" entries), stdin from /dev/null, stdout and stderr piped back, in its own process
/// group, no signals blocked and SIGPIPE at its default. Unlike ChildProcess, nothing stops it
/// for the caller. Internal "cannot start <argv[0]>: <reason>" when the pipes or the spawn fail.
[[nodiscard]] absl::StatusOr<PipedChild> SpawnWithPipes(const std::vector<std::string>& argv,
                                                        const std::vector<std::string>& env);

/// Reads `stdout_fd` and `stderr_fd` (e.g. a PipedChild's) until both end, calling `on_line` with
/// each line without its '\n' (a last line without one too) and the stream it came from: 0 for
/// stdout, 1 for stderr. Closes both descriptors. Blocks: run it on a reader thread.
void ReadPipedLines(int stdout_fd, int stderr_fd,
                    const std::function<void(int stream, std::string line)>& on_line);

/// This process's environment as "NAME=value" entries, without the variables whose name starts
/// with `drop_prefix` (e.g. "WISP_PROXY_", so a test's settings do not leak into a proxy).
std::vector<std::string> InheritedEnvironment(std::string_view drop_prefix = {});

}  // namespace wisp::testing
