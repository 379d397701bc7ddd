#include <wisp/invoker/proxy_client.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include <wisp/common/strings.hpp>

namespace wisp::invoker {
namespace {

using SteadyClock = std::chrono::steady_clock;

int RemainingMs(SteadyClock::time_point deadline) {
    // rounded up, so poll() never wakes before the deadline
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return 0;
    return static_cast<int>(std::min<int64_t>(left, 1 << 30));
}

using common::AsciiLower;
using common::EqualsIgnoreCase;

bool IContains(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
        if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
    }
    return false;
}

std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

std::optional<uint64_t> ParseUnsigned(std::string_view s, int base) {
    if (s.empty()) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (base == 16 && AsciiLower(c) >= 'a' && AsciiLower(c) <= 'f') {
            d = AsciiLower(c) - 'a' + 10;
        } else {
            return std::nullopt;
        }
        if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
            return std::nullopt;
        }
        v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
    return v;
}

// Incremental HTTP/1.x response parser over a growing buffer.
class ResponseParser {
  public:
    enum class Result { kNeedMore, kComplete, kMalformed, kTooLarge, kTrailersTooLarge };

    explicit ResponseParser(size_t max_body) : max_body_(max_body) {}

    /// Parses what `buf` holds; `eof` says the peer closed the connection.
    Result Parse(const std::string& buf, bool eof) {
        while (true) {
            switch (state_) {
                case State::kHeaders: {
                    size_t end = buf.find("\r\n\r\n", pos_);
                    if (end == std::string::npos) {
                        if (buf.size() - pos_ > kMaxHeaderBytes) return Result::kMalformed;
                        return eof ? Result::kMalformed : Result::kNeedMore;
                    }
                    Result r = ParseHead(std::string_view(buf).substr(pos_, end - pos_));
                    if (r != Result::kComplete) return r;
                    pos_ = end + 4;
                    if (status_ >= 100 && status_ < 200) {
                        ResetHead();  // 100 Continue and friends: the real answer follows
                        continue;
                    }
                    if (status_ == 204 || status_ == 304) {
                        state_ = State::kDone;
                    } else if (chunked_) {
                        state_ = State::kChunkSize;
                    } else if (content_length_) {
                        if (*content_length_ > max_body_) return Result::kTooLarge;
                        state_ = State::kFixedBody;
                    } else {
                        state_ = State::kUntilClose;
                        keep_alive_ = false;
                    }
                    continue;
                }
                case State::kFixedBody: {
                    if (buf.size() - pos_ < *content_length_) {
                        return eof ? Result::kMalformed : Result::kNeedMore;
                    }
                    body_.assign(buf, pos_, *content_length_);
                    pos_ += *content_length_;
                    state_ = State::kDone;
                    continue;
                }
                case State::kUntilClose: {
                    if (buf.size() - pos_ > max_body_) return Result::kTooLarge;
                    if (!eof) return Result::kNeedMore;
                    body_.assign(buf, pos_, std::string::npos);
                    pos_ = buf.size();
                    state_ = State::kDone;
                    continue;
                }
                case State::kChunkSize: {
                    size_t end = buf.find("\r\n", pos_);
                    if (end == std::string::npos) {
                        if (buf.size() - pos_ > 1024) return Result::kMalformed;
                        return eof ? Result::kMalformed : Result::kNeedMore;
                    }
                    std::string_view line = std::string_view(buf).substr(pos_, end - pos_);
                    if (size_t semi = line.find(';'); semi != std::string_view::npos) {
                        line = line.substr(0, semi);  // chunk extensions
                    }
                    auto size = ParseUnsigned(Trim(line), 16);
                    if (!size) return Result::kMalformed;
                    pos_ = end + 2;
                    if (*size == 0) {
                        state_ = State::kTrailers;
                        trailers_start_ = pos_;
                    } else {
                        // Not `body_.size() + *size`: a size near 2^64 wrapped it around and
                        // the chunk's bytes were then read again as chunk framing.
                        if (*size > max_body_ - body_.size()) return Result::kTooLarge;
                        chunk_left_ = *size;
                        state_ = State::kChunkData;
                    }
                    continue;
                }
                case State::kChunkData: {
                    // chunk bytes + CRLF
                    if (buf.size() - pos_ < chunk_left_ + 2) {
                        return eof ? Result::kMalformed : Result::kNeedMore;
                    }
                    body_.append(buf, pos_, chunk_left_);
                    pos_ += chunk_left_;
                    if (buf.compare(pos_, 2, "\r\n") != 0) return Result::kMalformed;
                    pos_ += 2;
                    state_ = State::kChunkSize;
                    continue;
                }
                case State::kTrailers: {
                    // Trailer fields are capped like the head: a proxy streaming an endless
                    // trailer (many lines, or one line without end) is cut off.
                    size_t end = buf.find("\r\n", pos_);
                    const size_t limit_end = trailers_start_ + kMaxHeaderBytes;
                    if (end == std::string::npos) {
                        if (buf.size() > limit_end) return Result::kTrailersTooLarge;
                        return eof ? Result::kMalformed : Result::kNeedMore;
                    }
                    if (end + 2 > limit_end) return Result::kTrailersTooLarge;
                    bool empty = end == pos_;
                    pos_ = end + 2;
                    if (empty) state_ = State::kDone;
                    continue;
                }
                case State::kDone:
                    return Result::kComplete;
            }
        }
    }

    int status() const { return status_; }
    std::optional<uint64_t> result_length() const { return result_length_; }
    bool logs_truncated() const { return logs_truncated_; }
    std::string& body() { return body_; }
    bool keep_alive() const { return keep_alive_; }
    /// Bytes after the response (a server must not send any; the connection is then dropped).
    bool has_trailing_bytes(const std::string& buf) const { return pos_ < buf.size(); }

    static constexpr size_t kMaxHeaderBytes = 64 * 1024;

  private:
    enum class State {
        kHeaders,
        kFixedBody,
        kUntilClose,
        kChunkSize,
        kChunkData,
        kTrailers,
        kDone
    };

    void ResetHead() {
        status_ = 0;
        result_length_.reset();
        logs_truncated_ = false;
        chunked_ = false;
        content_length_.reset();
        keep_alive_ = true;
    }

    Result ParseHead(std::string_view head) {
        size_t eol = head.find("\r\n");
        std::string_view status_line = head.substr(0, eol);
        // "HTTP/1.1 200 OK"
        if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") {
            return Result::kMalformed;
        }
        bool http10 = status_line.substr(5, 3) == "1.0";
        auto code = ParseUnsigned(status_line.substr(9, 3), 10);
        if (!code || *code < 100 || *code > 999) return Result::kMalformed;
        status_ = static_cast<int>(*code);
        keep_alive_ = !http10;
        std::string_view rest =
            eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
        while (!rest.empty()) {
            size_t e = rest.find("\r\n");
            std::string_view line = rest.substr(0, e);
            rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
            size_t colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            std::string_view name = Trim(line.substr(0, colon));
            std::string_view value = Trim(line.substr(colon + 1));
            if (EqualsIgnoreCase(name, "content-length")) {
                auto n = ParseUnsigned(value, 10);
                if (!n) return Result::kMalformed;
                content_length_ = *n;
            } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
                chunked_ = IContains(value, "chunked");
            } else if (EqualsIgnoreCase(name, "x-wisp-result-length")) {
                result_length_ = ParseUnsigned(value, 10);
                if (!result_length_) return Result::kMalformed;
            } else if (EqualsIgnoreCase(name, "x-wisp-logs-truncated")) {
                logs_truncated_ = IContains(value, "true");
            } else if (EqualsIgnoreCase(name, "connection")) {
                if (IContains(value, "close")) keep_alive_ = false;
                if (IContains(value, "keep-alive")) keep_alive_ = true;
            }
        }
        return Result::kComplete;
    }

    const size_t max_body_;
    State state_ = State::kHeaders;
    size_t pos_ = 0;
    int status_ = 0;
    bool chunked_ = false;
    bool keep_alive_ = true;
    std::optional<uint64_t> content_length_;
    std::optional<uint64_t> result_length_;  // X-Wisp-Result-Length (inline logs)
    bool logs_truncated_ = false;            // X-Wisp-Logs-Truncated
    uint64_t chunk_left_ = 0;
    size_t trailers_start_ = 0;
    std::string body_;
};

}  // namespace

struct ProxyClient::Connection {
    int fd = -1;
    explicit Connection(int f) : fd(f) {}
    ~Connection() {
        if (fd >= 0) ::close(fd);
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// True when the server closed (or wrote to) the idle connection.
    bool LooksClosed() const {
        pollfd p{fd, POLLIN, 0};
        int n = ::poll(&p, 1, 0);
        return n != 0;  // readable (EOF/RST or junk), error, or poll failure
    }
};

std::string ProxyClient::Endpoint::ToString() const {
    if (!unix_path.empty()) return "unix:" + unix_path;
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

ProxyClient::ProxyClient(Endpoint endpoint) : ProxyClient(std::move(endpoint), Options{}) {}

ProxyClient::ProxyClient(Endpoint endpoint, Options options)
    : endpoint_(std::move(endpoint)), options_(options) {}

ProxyClient::~ProxyClient() = default;

int64_t ProxyClient::connections_opened() const {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_;
}

int64_t ProxyClient::refused_attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
}

void ProxyClient::CloseIdle() {
    std::vector<std::unique_ptr<Connection>> idle;
    {
        std::lock_guard<std::mutex> lock(mu_);
        idle.swap(idle_);
    }
}

std::unique_ptr<ProxyClient::Connection> ProxyClient::TakeIdle() {
    while (true) {
        std::unique_ptr<Connection> conn;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (idle_.empty()) return nullptr;
            conn = std::move(idle_.back());
            idle_.pop_back();
        }
        if (!conn->LooksClosed()) return conn;
        // closed by the server while idle: drop it and try the next one
    }
}

void ProxyClient::ReturnIdle(std::unique_ptr<Connection> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(conn));
}

namespace {

enum class ConnectResult { kOk, kRefused, kTimeout, kFailed, kLocalError };

ConnectResult Connect(const ProxyClient::Endpoint& ep, SteadyClock::time_point deadline,
                      int& fd_out, std::string& error) {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    int family;
    // The socket file itself, opened without following a symlink (see below).
    struct PathFd {
        int fd = -1;
        ~PathFd() {
            if (fd >= 0) ::close(fd);
        }
    } socket_file;
    if (!ep.unix_path.empty()) {
        auto* un = reinterpret_cast<sockaddr_un*>(&addr);
        if (ep.unix_path.size() >= sizeof(un->sun_path)) {
            error = "unix socket path too long: " + ep.unix_path;
            return ConnectResult::kLocalError;
        }
        // The socket lives in a folder the container shares: a symlink planted there (say, to
        // the Docker daemon's socket) must never be followed. Open the last component itself
        // (O_PATH | O_NOFOLLOW), check that it is a socket, and connect through
        // /proc/self/fd/N, which names exactly that inode.
        std::string target = ep.unix_path;
        socket_file.fd = ::open(ep.unix_path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (socket_file.fd < 0) {
            if (errno == ENOENT) return ConnectResult::kRefused;  // not listening yet
            error = fmt::format("cannot open the action proxy socket {}: {}", ep.unix_path,
                                std::strerror(errno));
            return ConnectResult::kFailed;
        }
        struct stat st {};
        if (::fstat(socket_file.fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            error = fmt::format(
                "the action proxy socket {} is not a socket (a symlink or another file was put "
                "in its place); not connecting",
                ep.unix_path);
            return ConnectResult::kLocalError;
        }
        if (::access("/proc/self/fd", X_OK) == 0) {
            target = fmt::format("/proc/self/fd/{}", socket_file.fd);
        }
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, target.data(), target.size());
        addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
        family = AF_UNIX;
    } else {
        if (ep.port <= 0 || ep.port > 65535) {
            error = fmt::format("bad action proxy port {}", ep.port);
            return ConnectResult::kLocalError;
        }
        auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
        if (::inet_pton(AF_INET, ep.host.c_str(), &in4->sin_addr) == 1) {
            in4->sin_family = AF_INET;
            in4->sin_port = htons(static_cast<uint16_t>(ep.port));
            addr_len = sizeof(sockaddr_in);
            family = AF_INET;
        } else if (::inet_pton(AF_INET6, ep.host.c_str(), &in6->sin6_addr) == 1) {
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(static_cast<uint16_t>(ep.port));
            addr_len = sizeof(sockaddr_in6);
            family = AF_INET6;
        } else {
            error = "action proxy host must be a numeric address, got '" + ep.host + "'";
            return ConnectResult::kLocalError;
        }
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = fmt::format("socket(): {}", std::strerror(errno));
        return ConnectResult::kLocalError;
    }
    if (family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    auto classify = [&](int err) {
        ::close(fd);
        // A unix socket that does not exist yet (ENOENT) or whose backlog is full (EAGAIN)
        // is "not listening yet", like a refused TCP connection.
        if (err == ECONNREFUSED || err == ENOENT || (family == AF_UNIX && err == EAGAIN)) {
            return ConnectResult::kRefused;
        }
        error = std::strerror(err);
        return ConnectResult::kFailed;
    };
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
        if (errno != EINPROGRESS) return classify(errno);
        pollfd p{fd, POLLOUT, 0};
        int n;
        do {
            n = ::poll(&p, 1, RemainingMs(deadline));
        } while (n < 0 && errno == EINTR);
        if (n == 0) {
            ::close(fd);
            return ConnectResult::kTimeout;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return classify(err);
    }
    fd_out = fd;
    return ConnectResult::kOk;
}

}  // namespace

ProxyClient::Attempt ProxyClient::Exchange(Connection& conn, std::string_view request, bool reused,
                                           SteadyClock::time_point deadline, ProxyResponse& out,
                                           absl::Status& local_error, bool& keep_alive) {
    keep_alive = false;
    bool received_any = false;
    auto lost = [&]() {
        if (reused && !received_any) return Attempt::kStale;
        out.failure = ProxyResponse::Failure::kConnectionLost;
        return Attempt::kDone;
    };
    auto timed_out = [&]() {
        out.failure = ProxyResponse::Failure::kTimeout;
        return Attempt::kDone;
    };

    // Send.
    size_t sent = 0;
    while (sent < request.size()) {
        ssize_t n = ::send(conn.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{conn.fd, POLLOUT, 0};
            int r = ::poll(&p, 1, RemainingMs(deadline));
            if (r == 0) return timed_out();
            if (r < 0 && errno != EINTR) return lost();
            continue;
        }
        return lost();  // EPIPE, ECONNRESET, ...
    }

    // Receive.
    ResponseParser parser(options_.max_response_bytes);
    std::string buf;
    constexpr size_t kReadChunk = 64 * 1024;
    // recv() goes into an uninitialised chunk: growing `buf` by 64 KiB before each recv() zeroed
    // 64 KiB per exchange (a tenth of the platform's instructions per warm invoke).
    const auto chunk = std::make_unique_for_overwrite<char[]>(kReadChunk);
    bool eof = false;
    while (true) {
        auto r = parser.Parse(buf, eof);  // lint-json: not JSON (HTTP)
        if (r == ResponseParser::Result::kComplete) break;
        if (r == ResponseParser::Result::kTooLarge) {
            local_error = absl::ResourceExhaustedError(
                fmt::format("the action proxy at {} answered more than {} bytes",
                            endpoint_.ToString(), options_.max_response_bytes));
            return Attempt::kDone;
        }
        if (r == ResponseParser::Result::kTrailersTooLarge) {
            local_error = absl::ResourceExhaustedError(
                fmt::format("the action proxy at {} sent more than {} bytes of chunked trailer "
                            "fields; the connection was cut off",
                            endpoint_.ToString(), ResponseParser::kMaxHeaderBytes));
            return Attempt::kDone;
        }
        if (r == ResponseParser::Result::kMalformed) {
            if (eof && buf.empty()) return lost();
            out.failure = ProxyResponse::Failure::kConnectionLost;
            out.body = std::move(buf);
            return Attempt::kDone;
        }
        pollfd p{conn.fd, POLLIN, 0};
        int pr = ::poll(&p, 1, RemainingMs(deadline));
        if (pr == 0) return timed_out();
        if (pr < 0) {
            if (errno == EINTR) continue;
            return lost();
        }
        ssize_t n = ::recv(conn.fd, chunk.get(), kReadChunk, 0);
        if (n > 0) {
            buf.append(chunk.get(), static_cast<size_t>(n));
            received_any = true;
            continue;
        }
        if (n == 0) {
            eof = true;
            continue;  // let the parser decide (read-until-close bodies end here)
        }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        return lost();  // ECONNRESET
    }
    out.failure = ProxyResponse::Failure::kNone;
    out.status = parser.status();
    out.body = std::move(parser.body());
    if (const std::optional<uint64_t> n = parser.result_length()) {
        if (*n > out.body.size()) {
            out.failure = ProxyResponse::Failure::kConnectionLost;
            return Attempt::kDone;
        }
        out.inline_logs = out.body.substr(static_cast<size_t>(*n));
        out.body.resize(static_cast<size_t>(*n));
        out.inline_logs_truncated = parser.logs_truncated();
    }
    keep_alive = parser.keep_alive() && !eof && !parser.has_trailing_bytes(buf);
    return Attempt::kDone;
}

absl::StatusOr<ProxyResponse> ProxyClient::Post(std::string_view path, std::string_view body,
                                                std::chrono::milliseconds timeout,
                                                bool retry_refused,
                                                std::string_view extra_headers) {
    ProxyResponse out;
    out.started = SteadyClock::now();
    const auto deadline = out.started + timeout;
    const std::string host_header =
        endpoint_.unix_path.empty() ? endpoint_.ToString() : std::string("localhost");
    std::string request;
    request.reserve(body.size() + 200);
    request.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(host_header);
    request.append("\r\nContent-Type: application/json\r\nAccept: application/json\r\n");
    request.append(extra_headers).append("Content-Length: ");
    request.append(std::to_string(body.size())).append("\r\n\r\n").append(body);

    auto finish = [&](ProxyResponse::Failure failure) {
        out.failure = failure;
        out.finished = SteadyClock::now();
        return out;
    };

    while (true) {
        std::unique_ptr<Connection> conn = TakeIdle();
        bool reused = conn != nullptr;
        if (!conn) {
            int fd = -1;
            std::string error;
            switch (Connect(endpoint_, deadline, fd, error)) {
                case ConnectResult::kOk:
                    conn = std::make_unique<Connection>(fd);
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        ++opened_;
                    }
                    break;
                case ConnectResult::kRefused: {
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        ++refused_;
                    }
                    if (!retry_refused) return finish(ProxyResponse::Failure::kConnectionLost);
                    int left = RemainingMs(deadline);
                    if (left <= 0) return finish(ProxyResponse::Failure::kTimeout);
                    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
                        options_.refused_retry_interval, std::chrono::milliseconds(left)));
                    continue;
                }
                case ConnectResult::kTimeout:
                    return finish(ProxyResponse::Failure::kTimeout);
                case ConnectResult::kFailed:
                    return finish(ProxyResponse::Failure::kConnectionLost);
                case ConnectResult::kLocalError:
                    return absl::InvalidArgumentError(error);
            }
        }
        absl::Status local_error;
        bool keep_alive = false;
        Attempt a = Exchange(*conn, request, reused, deadline, out, local_error, keep_alive);
        if (a == Attempt::kStale) continue;  // closed while idle: reconnect and send again
        if (!local_error.ok()) return local_error;
        out.finished = SteadyClock::now();
        if (out.failure == ProxyResponse::Failure::kNone && keep_alive) {
            ReturnIdle(std::move(conn));
        }
        return out;
    }
}

}  // namespace wisp::invoker
