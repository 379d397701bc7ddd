#pragma once
// The action's stdout/stderr, captured by the proxy through two pipes instead of going to the
// container's own stdout/stderr (docker's json-file log). Each line is stamped when the proxy
// reads it; at the end of an activation the proxy takes the lines written since the previous
// one and either hands them to the invoker with the /run answer (X-Wisp-Logs: inline) or writes
// them to its stdout/stderr followed by the sentinels, as before (OpenWhisk's invoker, and
// invokers that do not ask). See runtimes/README.md, "Inline logs".
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wisp::proxy {

namespace asio = boost::asio;

/// What the proxy keeps of one activation's lines (line texts, without newlines) at most; the
/// invoker applies the action's own limit (limits.logs, at most 10 MB in OpenWhisk) on top.
inline constexpr size_t kMaxCapturedLogBytes = size_t{16} << 20;

/// One captured line: when it started (Unix nanoseconds), stream 1 (stdout) or 2 (stderr).
struct LogRecord {
    int64_t unix_nanos = 0;
    int stream = 1;
    std::string text;
};

/// The lines of one activation, in the order the proxy read them.
struct LogBatch {
    std::vector<LogRecord> lines;
    bool truncated = false;  // lines were dropped past the limit
};

/// The logs part of a /run answer: one "<unix nanos> <stdout|stderr> <text>\n" per line.
std::string EncodeLogs(const LogBatch& batch);

/// Bytes -> lines, per stream, with the invoker's limit rule (LogAssembler): line texts count;
/// the first line that would pass the limit and everything after it are dropped and the batch
/// is marked truncated. A line without end keeps limit + 1 bytes (memory stays bounded).
class LineCollector {
  public:
    explicit LineCollector(size_t max_bytes = kMaxCapturedLogBytes) : max_bytes_(max_bytes) {}
    void Feed(int stream, std::string_view bytes, int64_t now_nanos);
    /// The lines so far, unfinished lines included (as the sentinel would end them); resets.
    LogBatch Take();

  private:
    struct Partial {
        std::string text;
        int64_t nanos = 0;
        bool active = false;
    };
    void Emit(int stream, Partial& partial);

    size_t max_bytes_;
    size_t bytes_ = 0;
    LogBatch batch_;
    Partial partial_[3];
};

/// Two pipes whose write ends become the children's stdout/stderr, read on the io_context.
class LogCapture {
  public:
    explicit LogCapture(asio::io_context& io, size_t max_bytes = kMaxCapturedLogBytes);
    ~LogCapture();
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    /// Creates the pipes and starts reading. False with `error`.
    bool Open(std::string& error);
    bool is_open() const { return write_fd_[0] >= 0; }
    /// Write ends for SpawnSpec::stdout_fd / stderr_fd.
    int stdout_fd() const { return write_fd_[0]; }
    int stderr_fd() const { return write_fd_[1]; }

    /// Adds output that did not come through the pipes (native stdout lines, split off there).
    void Feed(int stream, std::string_view bytes);
    /// Reads what the pipes hold now, then returns and forgets every line so far.
    LogBatch Take();

    /// Writes the lines to the proxy's own stdout/stderr (the container log), each with '\n'.
    static void WriteToContainer(const LogBatch& batch);

  private:
    void Arm(int index);
    void ReadNow(int index);

    asio::posix::stream_descriptor read_[2];
    int write_fd_[2] = {-1, -1};
    LineCollector collector_;
};

}  // namespace wisp::proxy
