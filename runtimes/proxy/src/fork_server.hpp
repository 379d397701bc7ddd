#pragma once
// Python's fork server: the zygote that survives /wisp/reset (runtimes/README.md "Fork
// server"). `python3 -u launcher.py --fork-server` does its imports once, at container start;
// each /init then gets a launcher forked from it (the interpreter's start and the imports are
// not paid again after a reset), and as PID 1 the reset asks it to kill(-1, SIGKILL), which
// ends every process but the proxy and the server.
//   proxy -> server : one SOCK_SEQPACKET message per request on the server's fd 3:
//                     a load-order line (ZygoteLoadLine) + SCM_RIGHTS {request pipe read end,
//                     result pipe write end}, or "kill"
//   server -> proxy : the forked launcher's pid, "error", or "killed"
// The launcher is forked through an intermediate process that exits at once, so that it is
// re-parented to the proxy (PID 1, or a child subreaper on a host), which reaps it.
#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "process.hpp"

namespace wisp::proxy {

/// The longest load-order line sent to the fork server; a longer one spawns a launcher.
inline constexpr size_t kMaxForkOrderBytes = 64 * 1024;

class ForkServer : public std::enable_shared_from_this<ForkServer> {
  public:
    ForkServer(asio::io_context& io, ChildWatcher& watcher);
    ~ForkServer();
    ForkServer(const ForkServer&) = delete;
    ForkServer& operator=(const ForkServer&) = delete;

    /// Whether forked launchers can be the proxy's children: as PID 1 they are re-parented to
    /// it anyway; on a host the proxy becomes a child subreaper (prctl). False where that is
    /// refused (qemu-user answers EINVAL): the proxy keeps the single-use zygote then, since a
    /// launcher it cannot reap could not report how it ended.
    static bool Supported();

    /// Spawns `spec` (its fd 3 becomes the server's end of the socket pair); Supported() first.
    /// False with `error`.
    bool Start(SpawnSpec spec, std::string& error);

    /// Forks a launcher that reads requests from `requests_read` and writes results to
    /// `results_write` (both closed here), given the load-order `line`. Its pid, or -1 when
    /// the server failed to answer within `limit` (then it is killed: the caller spawns).
    asio::awaitable<pid_t> Fork(std::string line, int requests_read, int results_write,
                                std::chrono::milliseconds limit);

    /// Only as PID 1: the server sends SIGKILL to every process but itself and PID 1. False
    /// (and the server killed) when it did not answer within `limit`.
    asio::awaitable<bool> KillOthers(std::chrono::milliseconds limit);

    bool alive() const { return pid_ > 0 && !exited_; }
    pid_t pid() const { return pid_; }
    /// SIGKILL to the server.
    void Kill();

  private:
    /// Sends `message` (with `fds`) and waits for the one answer; nullopt on failure.
    asio::awaitable<std::optional<std::string>> Request(const std::string& message, const int* fds,
                                                        int nfds, std::chrono::milliseconds limit);

    asio::io_context& io_;
    ChildWatcher& watcher_;
    asio::posix::stream_descriptor socket_;
    pid_t pid_ = -1;
    bool exited_ = false;
    AsyncMutex mutex_;  // one request at a time
};

}  // namespace wisp::proxy
