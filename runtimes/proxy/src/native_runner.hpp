#pragma once
// The native kind (OpenWhisk's dockerskeleton): every /run spawns the action executable with the
// JSON argument in argv[1] (when shorter than MAX_ARG_STRLEN) and on stdin. Its stdout lines are
// forwarded to the container's stdout as they come, except the last one, which is the result;
// its stderr is the container's stderr.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "log_capture.hpp"
#include "process.hpp"

namespace wisp::proxy {

struct NativeOutcome {
    bool started = false;
    std::string error;      // why it could not start
    std::string result;     // the last stdout line, trimmed
    bool too_long = false;  // the last line was over kMaxResultLineBytes (dropped)
};

class NativeRunner {
  public:
    NativeRunner(asio::io_context& io, ChildWatcher& watcher) : io_(io), watcher_(watcher) {}

    /// Runs `executable` once in `cwd` with `env` and the argument `input` (compact JSON).
    /// With `capture` its stdout log lines and its stderr go there instead of the container log.
    asio::awaitable<NativeOutcome> Run(std::string executable, std::string cwd,
                                       std::vector<std::string> env, std::string input,
                                       LogCapture* capture = nullptr);
    /// SIGKILL to the process group of the run in flight, if any.
    void Kill();

  private:
    pid_t running_ = -1;
    asio::io_context& io_;
    ChildWatcher& watcher_;
};

}  // namespace wisp::proxy
