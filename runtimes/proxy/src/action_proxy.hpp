#pragma once
// The action protocol state machine: /init once (code to files, launcher started and acked),
// /run per activation (to the launcher or a native spawn), sentinels after each activation.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fork_server.hpp"
#include "launcher.hpp"
#include "log_capture.hpp"
#include "native_runner.hpp"
#include "options.hpp"
#include "process.hpp"
#include "protocol.hpp"

namespace wisp::proxy {

class ActionProxy {
  public:
    ActionProxy(asio::io_context& io, ProxyOptions options);

    /// POST /init. 200 {"ok":true}; 403 on a second init; 502 {"error"} when the code cannot be
    /// loaded.
    asio::awaitable<Reply> Init(std::string body);
    /// POST /run. 200 + the action's object/array; 502 {"error"} on a developer error. With
    /// `inline_logs` (X-Wisp-Logs: inline) the activation's log lines come with the reply
    /// instead of going to the container log between sentinels.
    asio::awaitable<Reply> Run(std::string body, bool inline_logs = false);
    /// POST /wisp/reset: kills every process of the action (as PID 1: every process but the
    /// proxy), empties the action dir and the tmp dir, and goes back to "not initialised".
    /// 200 {"ok":true} once done; 500 {"error"} when something survived.
    asio::awaitable<Reply> Reset();
    /// Kills the launcher (SIGTERM/SIGINT of the proxy).
    void Shutdown();
    /// python/nodejs (unless --zygote off): starts a fresh zygote launcher, the interpreter with
    /// the launcher's imports done, blocked until /init sends it the code (launcher.hpp); an
    /// unused one still there is killed first. Called at proxy start and after a reset. When it
    /// cannot start, or dies before /init, /init spawns the launcher as without a zygote.
    /// python (--zygote on): the zygote is a fork server (fork_server.hpp) that each /init
    /// forks a launcher from and that survives resets; started only when none is running.
    void StartZygote();

  private:
    enum class State { kUninitialized, kInitializing, kReady };

    /// A launcher forked by the fork server with the load-order `line`, and WaitReady()'s
    /// answer; no launcher when the server could not fork one that took the order (the
    /// caller spawns: nothing of the action ran).
    struct ForkOutcome {
        std::shared_ptr<Launcher> launcher;
        std::optional<std::string> failure;
    };
    asio::awaitable<ForkOutcome> ForkLauncher(std::string line);
    asio::awaitable<Reply> InitLauncher(InitRequest request);
    Reply InitNative(const InitRequest& request);
    asio::awaitable<Reply> RunLauncher(std::string body, bool inline_logs);
    asio::awaitable<Reply> RunNative(std::string body, bool inline_logs);
    /// The end of an activation's logs: into `reply` (inline) or to the container log, then
    /// the sentinels (unless inline).
    void FinishLogs(Reply& reply, bool inline_logs);
    /// FinishLogs for a failed /init: what was captured, then the sentinels.
    void FlushLogs();
    /// Where the children's stdout/stderr go: the capture pipes, or the proxy's own.
    void RedirectOutput(SpawnSpec& spec) const;
    /// Writes the action code of /init into the action dir; "" or the error text.
    std::string WriteCode(const InitRequest& request, int& status);
    std::string ExecPath() const;

    asio::io_context& io_;
    ProxyOptions options_;
    ChildWatcher watcher_;
    NativeRunner native_;
    AsyncMutex run_mutex_;
    State state_ = State::kUninitialized;
    std::shared_ptr<Launcher> launcher_;
    std::shared_ptr<Launcher> zygote_;    // started before /init, not yet given code
    std::shared_ptr<ForkServer> server_;  // python: forks each /init's launcher, kept at reset
    std::vector<std::string> env_;        // the action's environment (container + /init env)
    LogCapture capture_;
    bool capture_on_ = false;  // serial runs: the action's stdout/stderr go through capture_
    bool copy_logs_ = false;   // WISP_PROXY_COPY_LOGS: inline lines also go to the container log
    std::optional<std::string> native_stub_;  // the image's /action/exec, restored by Reset
};

}  // namespace wisp::proxy
