#pragma once
// One long-lived launcher process per container (python, nodejs) and its line protocol:
//   proxy -> launcher stdin : one /run body per line (newlines stripped)
//   launcher -> fd 3        : first {"ok":true} (or {"ok":false,"error":"..."}) once the action
//                             code is loaded, then one result line per request line.
// In concurrent mode (nodejs, __OW_ALLOW_CONCURRENT=true) both directions prefix each line
// with "<seq> " so that results can come back in any order.
// Zygote (python, nodejs): the proxy starts `<interpreter> <launcher> --zygote` at container
// start, before /init, with the container environment; it does its imports and blocks on
// stdin. At /init the proxy sends one load-order line first (ZygoteLoadLine)
//   {"argv":["<action_dir>","<main>","<source|archive>"(,"--concurrent")],
//    "env":[["NAME","value"],...]}
// which makes the launcher what `<interpreter> <launcher> <argv...>` with that /init env would
// have been: sys.argv / process.argv and the environment are set, then the code loads and the
// ready line comes as above.
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
#include <utility>
#include <vector>

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

/// The zygote's load-order line (ending in '\n') for a launcher that would have been started
/// with `argv_tail` after the launcher script and the /init `env` added to its environment;
/// nullopt when that env must be seen by a fresh process: a name the interpreter or the C
/// library reads at start (PYTHON*, NODE_*, LD_*, LC_*, LANG, TZ, HOME, PATH, ...), a name that
/// is empty or holds '=' or NUL, or text that is not UTF-8. A value is cut at a NUL byte, as
/// the environment of a spawned process cuts it.
std::optional<std::string> ZygoteLoadLine(
    const std::vector<std::string>& argv_tail,
    const std::vector<std::pair<std::string, std::string>>& env);

class Launcher : public std::enable_shared_from_this<Launcher> {
  public:
    Launcher(asio::io_context& io, ChildWatcher& watcher,
             size_t max_line_bytes = kMaxResultLineBytes);
    ~Launcher();
    Launcher(const Launcher&) = delete;
    Launcher& operator=(const Launcher&) = delete;

    /// Spawns `spec` (its stdin/fd3 are replaced by pipes to this object). False with `error`.
    bool Start(SpawnSpec spec, bool concurrent, std::string& error);

    /// For a launcher forked by the fork server: makes the pipes and returns the launcher's
    /// ends in `child_fds` ({requests read end, results write end}; the caller passes them on
    /// and closes them). False with `error`.
    bool OpenPipes(bool concurrent, int child_fds[2], std::string& error);
    /// The forked launcher `pid` (now a child of the proxy) took the pipes of OpenPipes and a
    /// load order: watches it and reads its lines; then Loaded().
    void AttachForked(pid_t pid);

    /// Waits for the ready line: nullopt once {"ok":true} came, otherwise the error text.
    asio::awaitable<std::optional<std::string>> WaitReady();

    /// What Load saw: whether the zygote took the load order, and WaitReady()'s answer if so.
    struct LoadOutcome {
        bool delivered = false;  // false: the zygote ended before it took the order
        std::optional<std::string> failure;
    };
    /// Zygote: sends the load-order `line` (ZygoteLoadLine), waits for the launcher's
    /// {"loading":true} (written before any of the action's code runs), then WaitReady().
    /// Not delivered when the zygote ended first: nothing of the action ran, a fresh process
    /// can start it.
    asio::awaitable<LoadOutcome> Load(std::string line);
    /// After Load's write, or AttachForked: waits for {"loading":true}, then WaitReady().
    asio::awaitable<LoadOutcome> Loaded();

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
    /// Watches `pid` and starts ReadLoop.
    void Attach(pid_t pid);

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
    // Zygote: the launcher's {"loading":true} line says it took the load order (Load).
    bool loading_ = false;
    bool load_acked_ = false;
    Event load_ack_;

    uint64_t next_seq_ = 1;
    std::map<uint64_t, std::shared_ptr<Pending>> pending_;
    AsyncMutex write_mutex_;
};

}  // namespace wisp::proxy
