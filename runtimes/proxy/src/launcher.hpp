#pragma once
// One long-lived launcher process per container (python, nodejs) and its line protocol:
//   proxy -> launcher stdin : one /run body per line (newlines stripped)
//   launcher -> fd 3        : first {"ok":true} (or {"ok":false,"error":"..."}) once the action
//                             code is loaded, then one result line per request line.
// In concurrent mode (nodejs, __OW_ALLOW_CONCURRENT=true) both directions prefix each line
// with "<seq> " so that results can come back in any order.
// The launcher's stdout/stderr are the proxy's, so the action's prints reach the container log.
#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "process.hpp"

namespace wisp::proxy {

/// The longest result (or ready) line read from a launcher: what the invoker's proxy client
/// accepts at most. A longer line is skipped (never held in memory) and answers its request
/// with too_long.
inline constexpr size_t kMaxResultLineBytes = size_t{64} << 20;

/// What Launcher::Run() got back for one request.
struct LauncherResult {
    std::optional<std::string> line;  // the result line without '\n'; nullopt when none came
    bool too_long = false;            // the line exceeded the limit and was skipped
};

class Launcher : public std::enable_shared_from_this<Launcher> {
  public:
    Launcher(asio::io_context& io, ChildWatcher& watcher,
             size_t max_line_bytes = kMaxResultLineBytes);
    ~Launcher();
    Launcher(const Launcher&) = delete;
    Launcher& operator=(const Launcher&) = delete;

    /// Spawns `spec` (its stdin/fd3 are replaced by pipes to this object). False with `error`.
    bool Start(SpawnSpec spec, bool concurrent, std::string& error);

    /// Waits for the ready line: nullopt once {"ok":true} came, otherwise the error text.
    asio::awaitable<std::optional<std::string>> WaitReady();

    /// Sends one request line (ending in '\n') and returns its result line (without '\n'),
    /// no line when the launcher died before answering, or too_long when the answer was longer
    /// than max_line_bytes (the launcher stays usable). In serial mode callers must not overlap
    /// calls (ActionProxy holds a mutex around run + sentinels).
    asio::awaitable<LauncherResult> Run(std::string line);

    bool alive() const { return !closed_; }
    pid_t pid() const { return pid_; }
    /// "exited with status 1" once the process has ended, else "".
    const std::string& exit_description() const { return exit_description_; }
    /// Waits up to `limit` for the process to end (after its result pipe closed).
    asio::awaitable<void> WaitExit(std::chrono::milliseconds limit);
    /// SIGKILL to the launcher's process group.
    void Kill();

  private:
    struct Pending {
        explicit Pending(asio::any_io_executor ex) : done(std::move(ex)) {}
        LauncherResult result;
        Event done;
    };

    asio::awaitable<void> ReadLoop();
    void ExtractLines();
    void Dispatch(std::string line);
    /// The line now in buffer_ is over max_line_bytes_: answers its request with too_long.
    void DispatchTooLong();
    /// The request a result line answers (its "<seq> " prefix removed in concurrent mode).
    std::map<uint64_t, std::shared_ptr<Pending>>::iterator Addressee(std::string& line);
    void Drain();
    void Close();

    asio::io_context& io_;
    ChildWatcher& watcher_;
    asio::posix::stream_descriptor stdin_;
    asio::posix::stream_descriptor results_;
    pid_t pid_ = -1;
    bool concurrent_ = false;
    bool exited_ = false;
    bool closed_ = false;
    std::string exit_description_;

    const size_t max_line_bytes_;
    std::string buffer_;     // bytes read from fd 3, not yet a full line
    size_t scanned_ = 0;     // buffer_[0, scanned_) holds no '\n'
    bool skipping_ = false;  // dropping the rest of a line that was too long
    bool acked_ = false;
    bool ack_too_long_ = false;
    std::string ack_line_;
    Event ready_;

    uint64_t next_seq_ = 1;
    std::map<uint64_t, std::shared_ptr<Pending>> pending_;
    AsyncMutex write_mutex_;
};

}  // namespace wisp::proxy
