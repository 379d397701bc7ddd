#include "log_capture.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "process.hpp"
#include "protocol.hpp"

namespace wisp::proxy {
namespace {

constexpr int kPipeSize = 1 << 20;  // fewer wake-ups (and fewer blocked writers) for chatty actions

int64_t NowNanos() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string EncodeLogs(const LogBatch& batch) {
    size_t size = 0;
    for (const LogRecord& r : batch.lines) size += r.text.size() + 28;
    std::string out;
    out.reserve(size);
    for (const LogRecord& r : batch.lines) {
        out += std::to_string(r.unix_nanos);
        out += r.stream == 2 ? " stderr " : " stdout ";
        out += r.text;
        out += '\n';
    }
    return out;
}

void LineCollector::Feed(int stream, std::string_view bytes, int64_t now_nanos) {
    const int s = stream == 2 ? 2 : 1;
    Partial& partial = partial_[s];
    const size_t keep = max_bytes_ + 1;  // enough to tell that a line is too long
    while (!bytes.empty()) {
        if (!partial.active) {
            partial.active = true;
            partial.nanos = now_nanos;
        }
        const size_t nl = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, nl);
        if (partial.text.size() < keep) {
            partial.text.append(piece.data(), std::min(piece.size(), keep - partial.text.size()));
        }
        if (nl == std::string_view::npos) return;
        Emit(s, partial);
        bytes.remove_prefix(nl + 1);
    }
}

void LineCollector::Emit(int stream, Partial& partial) {
    Partial p = std::move(partial);
    partial = Partial{};
    if (batch_.truncated) return;
    if (bytes_ + p.text.size() > max_bytes_) {
        batch_.truncated = true;
        return;
    }
    bytes_ += p.text.size();
    batch_.lines.push_back(LogRecord{p.nanos, stream, std::move(p.text)});
}

LogBatch LineCollector::Take() {
    // Unfinished lines end here, as the sentinel written after them would end them.
    for (int s = 1; s <= 2; ++s) {
        if (partial_[s].active) Emit(s, partial_[s]);
    }
    LogBatch out = std::move(batch_);
    batch_ = LogBatch{};
    bytes_ = 0;
    return out;
}

LogCapture::LogCapture(asio::io_context& io, size_t max_bytes)
    : read_{asio::posix::stream_descriptor(io), asio::posix::stream_descriptor(io)},
      collector_(max_bytes) {}

LogCapture::~LogCapture() {
    for (int fd : write_fd_) {
        if (fd >= 0) ::close(fd);
    }
}

bool LogCapture::Open(std::string& error) {
    int fds[2][2];
    if (!MakePipe(fds[0], error)) return false;
    if (!MakePipe(fds[1], error)) {
        ::close(fds[0][0]);
        ::close(fds[0][1]);
        return false;
    }
    for (int i = 0; i < 2; ++i) {
        (void)::fcntl(fds[i][0], F_SETPIPE_SZ, kPipeSize);
        ::fcntl(fds[i][0], F_SETFL, ::fcntl(fds[i][0], F_GETFL) | O_NONBLOCK);
        read_[i].assign(fds[i][0]);
        write_fd_[i] = fds[i][1];  // close-on-exec: Spawn dup2s it onto 1 or 2
        Arm(i);
    }
    return true;
}

void LogCapture::Arm(int index) {
    read_[index].async_wait(asio::posix::descriptor_base::wait_read,
                            [this, index](const boost::system::error_code& ec) {
                                if (ec) return;  // closed (the proxy is ending)
                                ReadNow(index);
                                Arm(index);
                            });
}

void LogCapture::ReadNow(int index) {
    if (!read_[index].is_open()) return;
    char chunk[65536];
    for (;;) {
        const ssize_t n = ::read(read_[index].native_handle(), chunk, sizeof chunk);
        if (n > 0) {
            collector_.Feed(index + 1, std::string_view(chunk, static_cast<size_t>(n)), NowNanos());
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;  // EAGAIN: empty for now (the proxy holds the write ends: never EOF)
    }
}

void LogCapture::Feed(int stream, std::string_view bytes) {
    if (!bytes.empty()) collector_.Feed(stream, bytes, NowNanos());
}

LogBatch LogCapture::Take() {
    ReadNow(0);
    ReadNow(1);
    return collector_.Take();
}

void LogCapture::WriteToContainer(const LogBatch& batch) {
    std::string out[3];
    int last = 0;
    for (const LogRecord& r : batch.lines) {
        const int s = r.stream == 2 ? 2 : 1;
        if (s != last && last != 0) {  // keep the order across the streams
            (void)WriteAll(last, out[last]);
            out[last].clear();
        }
        last = s;
        out[s] += r.text;
        out[s] += '\n';
    }
    if (last != 0) (void)WriteAll(last, out[last]);
}

}  // namespace wisp::proxy
