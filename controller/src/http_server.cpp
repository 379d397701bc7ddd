#include <wisp/controller/http_server.hpp>

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <condition_variable>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
using common::Cat;

// OpenWhisk's (Pekko's default) text; the real one is logged with the transaction id.
constexpr std::string_view kInternalError = "There was an internal server error.";
constexpr std::string_view kMalformed = "The request content was malformed:\n";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr size_t kHeaderReadBytes = 16 * 1024;
constexpr size_t kBodyReadBytes = 64 * 1024;
/// After a response that closes the connection, unread request bytes are drained for this long
/// so that the client sees the response instead of a reset.
constexpr std::chrono::seconds kLingerTime{2};
constexpr size_t kLingerBytes = 1024 * 1024;
/// Connections over max_connections that get a 503 at most at once; more are closed unanswered.
constexpr size_t kMaxRefusing = 64;
/// Akka HTTP's text for 503, which OpenWhisk answers when it is overloaded.
constexpr std::string_view kUnavailable =
    "The server is currently unavailable (because it is overloaded or down for maintenance).";

/// Wraps the completion handler of a connection's next I/O step, which continues the step that
/// is running. Asio then runs an operation that completes at once (a write into the socket
/// buffer, a read of bytes already there) on this thread instead of waking another one: that
/// cross-thread wakeup would cost more than the whole request on loopback.
template <class F>
struct Continuation {
    F f;
    template <class... Args>
    void operator()(Args&&... args) {
        f(std::forward<Args>(args)...);
    }
    friend bool asio_handler_is_continuation(Continuation*) { return true; }
};
template <class F>
Continuation<std::decay_t<F>> Continue(F&& f) {
    return {std::forward<F>(f)};
}

/// OpenWhisk's error body with X-Request-ID and the CORS headers.
HttpResponse ErrorResponse(int status, std::string_view message, const std::string& tid) {
    HttpResponse response = HttpResponse::Json(status, ErrorBody(message, tid));
    response.headers.emplace_back("X-Request-ID", tid);
    AddRestCorsHeaders(response);
    return response;
}

bool IsTokenChar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

/// A header a handler may send: a token name, and a value without CR, LF or NUL (no response
/// splitting through values taken from user input).
bool IsSafeHeader(std::string_view name, std::string_view value) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) return false;
    return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

using common::EqualsIgnoreCase;

/// The host of a Host header value, lower case, without the port or a trailing dot; IPv6
/// literals without their brackets. Empty when malformed.
std::string HostName(std::string_view value) {
    std::string_view host = value;
    if (!host.empty() && host.front() == '[') {
        const size_t close = host.find(']');
        if (close == std::string_view::npos) return {};
        const std::string_view rest = host.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return {};
        host = host.substr(1, close - 1);
    } else if (const size_t colon = host.find(':'); colon != std::string_view::npos) {
        if (host.find(':', colon + 1) != std::string_view::npos) return {};
        host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    return common::AsciiLower(host);
}

std::optional<asio::ip::address> IpLiteral(const std::string& host) {
    error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return address;
}

/// localhost, *.localhost (RFC 6761: always loopback in browsers), 127.0.0.0/8, ::1.
bool IsLoopbackHost(const std::string& host) {
    if (host == "localhost") return true;
    if (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0) return true;
    const auto address = IpLiteral(host);
    if (!address) return false;
    if (address->is_v6() && address->to_v6().is_v4_mapped()) {
        return asio::ip::make_address_v4(asio::ip::v4_mapped, address->to_v6()).is_loopback();
    }
    return address->is_loopback();
}

bool IsConfiguredHost(const std::string& host, const std::vector<std::string>& allowed) {
    for (const std::string& pattern : allowed) {
        if (pattern.empty()) continue;
        const std::string name = HostName(pattern);
        if (pattern.front() == '.') {  // ".example.com": example.com and its subdomains
            if (host == std::string_view(name).substr(1)) return true;
            if (host.size() > name.size() &&
                host.compare(host.size() - name.size(), name.size(), name) == 0) {
                return true;
            }
        } else if (host == name) {
            return true;
        }
    }
    return false;
}

/// DNS rebinding protection (HttpServerConfig::allowed_hosts).
bool HostAllowed(std::string_view value, bool loopback_server,
                 const std::vector<std::string>& allowed) {
    if (!loopback_server && allowed.empty()) return true;
    const std::string host = HostName(value);
    if (host.empty()) return false;
    if (IsLoopbackHost(host) || IsConfiguredHost(host, allowed)) return true;
    return !loopback_server && IpLiteral(host).has_value();
}

size_t DefaultMaxConnections() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 65536;
    const rlim_t usable = limit.rlim_cur > 128 ? limit.rlim_cur - 128 : 0;
    return static_cast<size_t>(std::clamp<rlim_t>(usable, 16, 65536));
}

/// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", formatted once per second per thread.
std::string_view DateHeaderLine() {
    thread_local std::time_t cached_second = 0;
    thread_local char line[64] = {};
    thread_local size_t length = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        length = std::strftime(line, sizeof(line), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        cached_second = now;
    }
    return std::string_view(line, length);
}

/// A request parser that fills an HttpRequest directly (no intermediate beast::fields).
class RequestParser final : public http::basic_parser<true> {
  public:
    RequestParser(size_t max_target_bytes, size_t max_body_bytes, size_t max_header_bytes)
        : max_target_bytes_(max_target_bytes), max_header_bytes_(max_header_bytes) {
        eager(true);
        body_limit(max_body_bytes);
        header_limit(static_cast<std::uint32_t>(
            std::min<size_t>(max_target_bytes + max_header_bytes + 64, UINT32_MAX)));
        request_.headers.reserve(16);
    }

    HttpRequest& request() { return request_; }
    int version() const { return version_; }
    bool expect_continue() const { return expect_continue_; }
    bool target_too_long() const { return target_too_long_; }
    std::optional<uint64_t> declared_length() const { return declared_length_; }
    /// Once the request is accepted: room for the declared body (at most the body limit, which
    /// the parser checked against Content-Length already).
    void ReserveBody() {
        if (declared_length_) request_.body.reserve(static_cast<size_t>(*declared_length_));
    }

  private:
    void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                         int version, error_code& ec) override {
        if (target.size() > max_target_bytes_) {
            target_too_long_ = true;
            ec = http::error::bad_target;
            return;
        }
        request_.method.assign(method.data(), method.size());
        request_.target.assign(target.data(), target.size());
        version_ = version;
    }
    void on_response_impl(int, beast::string_view, int, error_code&) override {}
    void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                       error_code& ec) override {
        header_bytes_ += name_string.size() + value.size() + 4;  // ": " and CRLF
        if (header_bytes_ > max_header_bytes_) {
            ec = http::error::header_limit;
            return;
        }
        if (name == http::field::expect) {
            expect_continue_ = beast::iequals(value, "100-continue");
        } else if (name == http::field::content_length) {
            uint64_t n = 0;
            if (common::ParseInt(std::string_view(value.data(), value.size()), n)) {
                declared_length_ = n;
            }
        }
        std::string lower(name_string.data(), name_string.size());
        for (char& c : lower) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        request_.headers.emplace_back(std::move(lower), std::string(value.data(), value.size()));
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(beast::string_view body, error_code&) override {
        request_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
        request_.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}

    size_t max_target_bytes_;
    size_t max_header_bytes_;
    size_t header_bytes_ = 0;
    HttpRequest request_;
    int version_ = 11;
    bool expect_continue_ = false;
    bool target_too_long_ = false;
    std::optional<uint64_t> declared_length_;
};

class Connection;

/// What the server and its connections share. Holds no I/O objects, so a connection may outlive
/// it only as long as the io_context does.
struct ServerState {
    ServerState(HttpServerConfig c, HttpHandler h)
        : config(std::move(c)),
          handler(std::move(h)),
          max_connections(config.max_connections > 0 ? config.max_connections
                                                     : DefaultMaxConnections()),
          loopback_server(IsLoopbackHost(common::AsciiLower(config.address))) {}

    const HttpServerConfig config;
    const HttpHandler handler;
    const size_t max_connections;
    /// Listening on a loopback address: Host headers are checked (DNS rebinding).
    const bool loopback_server;
    std::atomic<bool> stopping{false};

    enum class Admission { kServe, kRefuse, kDrop };

    std::mutex mutex;
    std::condition_variable all_closed;
    struct Entry {
        std::shared_ptr<Connection> connection;
        bool counted;  // served (counts against max_connections), else being refused
    };
    std::unordered_map<Connection*, Entry> connections;  // open ones, refused ones included
    size_t serving = 0;
    size_t refusing = 0;

    /// Registers a new connection: served while under max_connections, else refused with a
    /// 503 (or dropped unanswered when many are being refused already).
    Admission Add(const std::shared_ptr<Connection>& c) {
        std::lock_guard lock(mutex);
        if (serving < max_connections) {
            connections.emplace(c.get(), Entry{c, true});
            ++serving;
            return Admission::kServe;
        }
        if (refusing >= kMaxRefusing) return Admission::kDrop;
        connections.emplace(c.get(), Entry{c, false});
        ++refusing;
        return Admission::kRefuse;
    }
    void Remove(Connection* c) {
        std::shared_ptr<Connection> last;  // destroyed outside the lock
        std::lock_guard lock(mutex);
        auto it = connections.find(c);
        if (it == connections.end()) return;
        last = std::move(it->second.connection);
        --(it->second.counted ? serving : refusing);
        connections.erase(it);
        if (connections.empty()) all_closed.notify_all();
    }
    size_t Serving() {
        std::lock_guard lock(mutex);
        return serving;
    }
    std::vector<std::shared_ptr<Connection>> Snapshot() {
        std::lock_guard lock(mutex);
        std::vector<std::shared_ptr<Connection>> out;
        out.reserve(connections.size());
        for (auto& [ptr, entry] : connections) out.push_back(entry.connection);
        return out;
    }
};

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(std::shared_ptr<ServerState> state, tcp::socket socket, std::string remote_address)
        : state_(std::move(state)),
          config_(state_->config),
          socket_(std::move(socket)),
          timer_(socket_.get_executor()),
          remote_address_(std::move(remote_address)) {}

    /// Any thread.
    void Start() {
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->DoRead(); });
    }

    /// Over max_connections: answers 503 without reading a request, then closes. Any thread.
    void Refuse() {
        asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
            self->WriteServerError(
                503, kUnavailable, common::MakeTransactionId(),
                Cat(" (", self->state_->max_connections, " connections open; --max-connections)"));
        });
    }

    /// Answers request number `seq`. Any thread; dropped when the connection is gone or no
    /// longer waiting for that answer.
    void Deliver(uint64_t seq, HttpResponse response) {
        if (closed_.load(std::memory_order_acquire)) return;
        asio::dispatch(socket_.get_executor(),
                       [self = shared_from_this(), seq, r = std::move(response)]() mutable {
                           self->OnResponse(seq, std::move(r));
                       });
    }

    /// Server shutdown: close when idle, else after the response in flight. Any thread.
    void RequestStop() {
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
            self->stopping_ = true;
            if (self->phase_ == Phase::kIdle || self->phase_ == Phase::kLingering) self->Close();
        });
    }

    /// Only once no thread runs the io_context any more.
    void CloseAfterThreadsJoined() { Close(); }

  private:
    /// The server is stopping: no keep-alive, no further requests on this connection.
    bool Stopping() const { return stopping_ || state_->stopping.load(std::memory_order_relaxed); }

    enum class Phase { kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

    // ---- reading ------------------------------------------------------------------------
    // Bytes are read into buffer_ and fed to the parser here rather than through Beast's
    // composed reads: those post their completion when the bytes are already buffered, which
    // costs a wakeup of another thread per request.
    void DoRead() {
        if (phase_ == Phase::kClosed) return;
        if (Stopping()) {
            Close();
            return;
        }
        parser_.emplace(config_.max_target_bytes, config_.max_body_bytes, config_.max_header_bytes);
        continue_sent_ = false;
        head_checked_ = false;
        bad_target_ = false;
        phase_ = Phase::kIdle;
        if (buffer_.size() > 0) {  // a pipelined request is already here
            Parse();
            return;
        }
        SetDeadline(Clock::now() + config_.idle_timeout);
        ReadSome();
    }

    void ReadSome() {
        const size_t size = parser_->is_header_done() ? kBodyReadBytes : kHeaderReadBytes;
        socket_.async_read_some(buffer_.prepare(size),
                                Continue([self = shared_from_this()](error_code ec, size_t n) {
                                    self->OnRead(ec, n);
                                }));
    }

    void OnRead(error_code ec, size_t n) {
        if (phase_ == Phase::kClosed) return;
        if (ec) {
            Close();  // the client went away, maybe mid-request (the timeout closes, too)
            return;
        }
        buffer_.commit(n);
        Parse();
    }

    void Parse() {
        if (phase_ == Phase::kIdle) {  // the first bytes of a request
            phase_ = Phase::kReading;
            SetDeadline(Clock::now() + config_.request_timeout);
        }
        error_code ec;
        while (buffer_.size() > 0 && !parser_->is_done()) {
            const size_t used = parser_->put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec && ec != http::error::need_more) {
                OnParseError(ec);
                return;
            }
            if (!head_checked_ && parser_->is_header_done()) {
                head_checked_ = true;
                if (!CheckHead()) return;  // refused and answered
            }
            if (ec || used == 0) break;
        }
        if (parser_->is_done()) {
            HandleRequest();
            return;
        }
        if (parser_->is_header_done() && parser_->expect_continue() && !continue_sent_ &&
            parser_->version() >= 11) {
            // libcurl waits a second for this before sending a large body.
            continue_sent_ = true;
            asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                              Continue([self = shared_from_this()](error_code ec, size_t) {
                                  if (self->phase_ == Phase::kClosed) return;
                                  if (ec) {
                                      self->Close();
                                      return;
                                  }
                                  self->ReadSome();
                              }));
            return;
        }
        ReadSome();
    }

    void OnParseError(error_code ec) {
        const std::string tid =
            common::MakeTransactionId(parser_->request().Header("x-request-id"));
        if (ec == http::error::body_limit) {
            const auto declared = parser_->declared_length();
            const std::string size = declared ? std::to_string(*declared) : "more than";
            WriteServerError(413,
                             Cat("Request larger than allowed: ", size, declared ? " > " : " ",
                                 config_.max_body_bytes, " bytes."),
                             tid);
        } else if (parser_->target_too_long() ||
                   (ec == http::error::header_limit && RequestLineTooLong())) {
            WriteServerError(414, "URI Too Long", tid);
        } else if (ec == http::error::header_limit) {
            WriteServerError(431, "Request header fields too large.", tid);
        } else {
            WriteServerError(400, Cat(kMalformed, ec.message()), tid);
        }
    }

    /// Once the header fields are complete, before the body is read: the target, the Host
    /// header and the head_check hook. False when the request was refused (and answered).
    bool CheckHead() {
        HttpRequest& request = parser_->request();
        request.remote_address = remote_address_;
        bad_target_ = !ParseTarget(request.target, request.path, request.query);
        for (const auto& [name, value] : request.headers) {
            if (name != "host") continue;
            if (!HostAllowed(value, state_->loopback_server, config_.allowed_hosts)) {
                const std::string_view shown = std::string_view(value).substr(0, 100);
                WriteServerError(403,
                                 Cat("The Host header '", shown,
                                     "' names no address this server answers to; add the "
                                     "name to --allowed-hosts to allow it."),
                                 TransactionIdFor(request));
                return false;
            }
        }
        if (config_.head_check && !bad_target_ && !parser_->is_done()) {
            std::optional<HttpResponse> refusal;
            try {
                refusal = config_.head_check(request);
            } catch (const std::exception& e) {
                const std::string tid = TransactionIdFor(request);
                common::TidLog(tid).error("request head check threw: {}", e.what());
                refusal = ErrorResponse(500, kInternalError, tid);
            }
            if (refusal) {
                common::TidLog(refusal->Header("X-Request-ID"))
                    .info("HTTP {} for {} {} from {} before its body", refusal->status,
                          request.method, request.path, remote_address_);
                keep_alive_ = false;
                head_request_ = false;
                phase_ = Phase::kHandling;
                ++seq_;
                OnResponse(seq_, std::move(*refusal));
                return false;
            }
        }
        parser_->ReserveBody();
        return true;
    }

    /// After header_limit: whether the request line alone is over max_target_bytes.
    bool RequestLineTooLong() const {
        const auto data = buffer_.data();
        std::string_view seen(static_cast<const char*>(data.data()), data.size());
        const size_t eol = seen.find('\n');
        const size_t line = eol == std::string_view::npos ? seen.size() : eol;
        return line > config_.max_target_bytes;
    }

    /// An error the server answers itself before reading the whole request: then close.
    /// `log_detail` is appended to the log line only.
    void WriteServerError(int status, std::string_view message, const std::string& tid,
                          std::string_view log_detail = {}) {
        std::string one_line(message);
        std::replace(one_line.begin(), one_line.end(), '\n', ' ');
        common::TidLog(tid).info("HTTP {} for {}: {}{}", status, remote_address_, one_line,
                                 log_detail);
        keep_alive_ = false;
        head_request_ = false;
        phase_ = Phase::kHandling;
        ++seq_;
        OnResponse(seq_, ErrorResponse(status, message, tid));
    }

    // ---- handling -----------------------------------------------------------------------
    /// Calls Answer() exactly once, or a 500 when dropped without an answer.
    class ResponseSlot {
      public:
        ResponseSlot(std::weak_ptr<Connection> connection, uint64_t seq, std::string request_id)
            : connection_(std::move(connection)), seq_(seq), request_id_(std::move(request_id)) {}
        ResponseSlot(const ResponseSlot&) = delete;
        ResponseSlot& operator=(const ResponseSlot&) = delete;
        ~ResponseSlot() {
            if (answered_.exchange(true)) return;
            auto connection = connection_.lock();
            if (!connection || connection->closed_.load(std::memory_order_acquire)) return;
            const std::string tid = common::MakeTransactionId(request_id_);
            common::TidLog(tid).error(
                "the request handler dropped its responder without answering");
            connection->Deliver(seq_, ErrorResponse(500, kInternalError, tid));
        }

        /// False (and logged) when already answered.
        bool Answer(HttpResponse response) {
            if (answered_.exchange(true)) return false;
            Send(std::move(response));
            return true;
        }
        const std::string& request_id() const { return request_id_; }

      private:
        void Send(HttpResponse response) {
            if (auto c = connection_.lock()) c->Deliver(seq_, std::move(response));
        }
        std::weak_ptr<Connection> connection_;
        uint64_t seq_;
        std::string request_id_;
        std::atomic<bool> answered_{false};
    };

    void HandleRequest() {
        phase_ = Phase::kHandling;
        SetDeadline(Clock::time_point::max());
        HttpRequest request = std::move(parser_->request());
        keep_alive_ = parser_->keep_alive() && !Stopping();
        version_ = parser_->version();
        parser_.reset();
        head_request_ = request.method == "HEAD";
        ++seq_;
        if (bad_target_) {  // CheckHead() found it
            const std::string tid = TransactionIdFor(request);
            common::TidLog(tid).info("HTTP 400 for {}: bad percent-encoding in {}", remote_address_,
                                     request.target);
            OnResponse(seq_, ErrorResponse(400,
                                           Cat(kMalformed, "Invalid percent-encoding in '",
                                               request.target, "'"),
                                           tid));
            return;
        }
        auto slot = std::make_shared<ResponseSlot>(weak_from_this(), seq_,
                                                   std::string(request.Header("x-request-id")));
        auto fail = [&](std::string_view what) {
            const std::string tid = common::MakeTransactionId(slot->request_id());
            if (slot->Answer(ErrorResponse(500, kInternalError, tid))) {
                common::TidLog(tid).error("request handler threw: {}", what);
            } else {
                common::TidLog(tid).error("request handler threw after answering: {}", what);
            }
        };
        try {
            state_->handler(std::move(request), [slot](HttpResponse response) {
                if (!slot->Answer(std::move(response))) {
                    common::TidLog(common::MakeTransactionId(slot->request_id()))
                        .warn("a request was answered twice; the second answer is dropped");
                }
            });
        } catch (const std::exception& e) {
            fail(e.what());
        } catch (...) {
            fail("unknown exception");
        }
    }

    // ---- writing ------------------------------------------------------------------------
    void OnResponse(uint64_t seq, HttpResponse response) {
        if (phase_ != Phase::kHandling || seq != seq_) {
            if (phase_ != Phase::kClosed) {
                spdlog::warn("HTTP connection from {}: dropping an answer to an old request",
                             remote_address_);
            }
            return;
        }
        if (Stopping()) keep_alive_ = false;
        if (response.status < 200 || response.status > 999) {
            spdlog::error("HTTP handler answered with status {}; sending 500 instead",
                          response.status);
            response = ErrorResponse(500, kInternalError, common::MakeTransactionId());
        }
        const bool no_body = response.status == 204 || response.status == 304;
        head_out_.clear();
        head_out_.append("HTTP/1.1 ");
        head_out_.append(std::to_string(response.status));
        head_out_.push_back(' ');
        const auto reason = http::obsolete_reason(static_cast<http::status>(response.status));
        if (http::int_to_status(static_cast<unsigned>(response.status)) == http::status::unknown) {
            head_out_.append("Unknown");
        } else {
            head_out_.append(reason.data(), reason.size());
        }
        head_out_.append("\r\n");
        for (const auto& [name, value] : response.headers) {
            if (EqualsIgnoreCase(name, "content-length") ||
                EqualsIgnoreCase(name, "transfer-encoding") || EqualsIgnoreCase(name, "date")) {
                continue;
            }
            if (EqualsIgnoreCase(name, "connection")) {
                if (beast::iequals(beast::string_view(value.data(), value.size()), "close")) {
                    keep_alive_ = false;
                }
                continue;
            }
            if (!IsSafeHeader(name, value)) {
                spdlog::warn("HTTP handler set an invalid header '{}'; not sent", name);
                continue;
            }
            common::Append(head_out_, name, ": ", value, "\r\n");
        }
        if (!no_body) common::Append(head_out_, "Content-Length: ", response.body.size(), "\r\n");
        head_out_.append(DateHeaderLine());
        if (!keep_alive_) {
            head_out_.append("Connection: close\r\n");
        } else if (version_ < 11) {
            head_out_.append("Connection: keep-alive\r\n");
        }
        head_out_.append("\r\n");
        if (head_request_ || no_body) {
            body_out_.clear();
        } else {
            body_out_ = std::move(response.body);
        }

        phase_ = Phase::kWriting;
        SetDeadline(Clock::now() + config_.request_timeout);
        const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_out_),
                                                        asio::buffer(body_out_)};
        asio::async_write(
            socket_, buffers,
            Continue([self = shared_from_this()](error_code ec, size_t) { self->OnWritten(ec); }));
    }

    void OnWritten(error_code ec) {
        if (phase_ == Phase::kClosed) return;
        body_out_ = std::string();  // a large body's memory goes back now
        if (ec) {
            Close();
        } else if (Stopping()) {
            Close();
        } else if (!keep_alive_) {
            Linger();
        } else {
            DoRead();
        }
    }

    // ---- closing ------------------------------------------------------------------------
    /// Half-closes, then drains what the client still sends until it closes too (or for a
    /// short while), so that it reads the response instead of a connection reset.
    void Linger() {
        phase_ = Phase::kLingering;
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_send, ignored);
        buffer_.clear();
        SetDeadline(Clock::now() + kLingerTime);
        DrainSome(0);
    }

    void DrainSome(size_t drained) {
        socket_.async_read_some(
            buffer_.prepare(kHeaderReadBytes),
            Continue([self = shared_from_this(), drained](error_code ec, size_t n) {
                if (self->phase_ == Phase::kClosed) return;
                if (ec || drained + n > kLingerBytes) {
                    self->Close();
                    return;
                }
                self->DrainSome(drained + n);
            }));
    }

    void Close() {
        if (phase_ == Phase::kClosed) return;
        phase_ = Phase::kClosed;
        closed_.store(true, std::memory_order_release);
        error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
        timer_.cancel();
        parser_.reset();
        state_->Remove(this);  // may drop the registry's reference; `this` lives on in handlers
    }

    // ---- timeouts -----------------------------------------------------------------------
    /// One timer per connection that is only re-armed when a deadline moves earlier, so a
    /// keep-alive round trip usually costs no timer operation at all.
    void SetDeadline(Clock::time_point deadline) {
        deadline_ = deadline;
        if (deadline < timer_expiry_) ArmTimer(deadline);
    }

    void ArmTimer(Clock::time_point expiry) {
        timer_expiry_ = expiry;
        timer_.expires_at(expiry);
        timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
    }

    void OnTimer(error_code ec) {
        if (ec == asio::error::operation_aborted || phase_ == Phase::kClosed) return;
        if (Clock::now() >= deadline_) {
            if (phase_ == Phase::kReading) {
                spdlog::info("HTTP connection from {}: request not received within {}s; closing",
                             remote_address_, config_.request_timeout.count());
            }
            Close();  // cancels the pending read or write
            return;
        }
        ArmTimer(deadline_);
    }

    std::shared_ptr<ServerState> state_;
    const HttpServerConfig& config_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    const std::string remote_address_;
    beast::flat_buffer buffer_;
    std::optional<RequestParser> parser_;
    std::string head_out_;
    std::string body_out_;
    Phase phase_ = Phase::kIdle;
    bool keep_alive_ = false;
    bool head_request_ = false;
    bool stopping_ = false;
    bool continue_sent_ = false;
    bool head_checked_ = false;  // CheckHead() ran for the request being read
    bool bad_target_ = false;    // its target has a malformed percent-escape
    int version_ = 11;
    uint64_t seq_ = 0;  // number of the request being handled
    Clock::time_point deadline_ = Clock::time_point::max();
    Clock::time_point timer_expiry_ = Clock::time_point::max();
    std::atomic<bool> closed_{false};
};

}  // namespace

struct HttpServer::Impl {
    Impl(HttpServerConfig config, HttpHandler handler)
        : state(std::make_shared<ServerState>(std::move(config), std::move(handler))),
          acceptor(asio::make_strand(io)),
          accept_retry(acceptor.get_executor()) {}

    void DoAccept() {
        acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
            OnAccept(ec, std::move(socket));
        });
    }

    void OnAccept(error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {  // e.g. out of descriptors: retry shortly instead of spinning
            spdlog::warn("HTTP server on port {}: accept failed: {}", port, ec.message());
            accept_retry.expires_after(std::chrono::milliseconds(20));
            accept_retry.async_wait([this](error_code wait_ec) {
                if (!wait_ec && acceptor.is_open()) DoAccept();
            });
            return;
        }
        if (state->stopping.load()) return;  // `socket` closes on return
        error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        const auto peer = socket.remote_endpoint(ignored);
        std::string remote;
        if (!ignored) {
            const auto address = peer.address();
            remote =
                address.is_v6() && address.to_v6().is_v4_mapped()
                    ? asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string()
                    : address.to_string();
        }
        auto connection = std::make_shared<Connection>(state, std::move(socket), std::move(remote));
        switch (state->Add(connection)) {
            case ServerState::Admission::kServe:
                connection->Start();
                break;
            case ServerState::Admission::kRefuse:
                connection->Refuse();
                break;
            case ServerState::Admission::kDrop:
                break;  // closes on return
        }
        DoAccept();
    }

    // Destroyed in reverse: threads first, then the acceptor, then the io_context (and with
    // it the handlers still holding connections), then the shared state.
    std::shared_ptr<ServerState> state;
    asio::io_context io;
    tcp::acceptor acceptor;
    asio::steady_timer accept_retry;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    std::mutex lifecycle_mutex;
    bool started = false;
    bool stopped = false;
    std::atomic<uint16_t> port{0};
};

HttpServer::HttpServer(HttpServerConfig config, HttpHandler handler)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(handler))) {}

HttpServer::~HttpServer() { Stop(); }

uint16_t HttpServer::port() const { return impl_->port.load(); }

size_t HttpServer::open_connections() const { return impl_->state->Serving(); }

size_t HttpServer::max_connections() const { return impl_->state->max_connections; }

boost::asio::io_context& HttpServer::context() { return impl_->io; }

absl::Status HttpServer::Start() {
    Impl& impl = *impl_;
    std::lock_guard lock(impl.lifecycle_mutex);
    if (impl.started || impl.stopped) {
        return absl::FailedPreconditionError("the HTTP server was already started");
    }
    const HttpServerConfig& config = impl.state->config;
    error_code ec;
    const asio::ip::address address = asio::ip::make_address(config.address, ec);
    if (ec) {
        return absl::InvalidArgumentError(
            Cat("invalid listen address '", config.address, "'; pass an IPv4 or IPv6 address"));
    }
    const tcp::endpoint endpoint(address, config.port);
    impl.acceptor.open(endpoint.protocol(), ec);
    if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl.acceptor.bind(endpoint, ec);
    if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error_code ignored;
        impl.acceptor.close(ignored);
        if (ec == asio::error::address_in_use) {
            return absl::UnavailableError(Cat("port ", config.port, " on ", config.address,
                                              " is in use; stop the other process or pass --port"));
        }
        if (ec == asio::error::access_denied) {
            return absl::UnavailableError(Cat("no permission to listen on port ", config.port,
                                              " of ", config.address,
                                              "; use a port above 1023 or pass --port"));
        }
        return absl::UnavailableError(
            Cat("cannot listen on ", config.address, ":", config.port, ": ", ec.message()));
    }
    impl.port = impl.acceptor.local_endpoint().port();
    impl.started = true;

    int threads = config.threads;
    if (threads <= 0) {
        threads = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
    }
    impl.work.emplace(impl.io.get_executor());
    asio::post(impl.acceptor.get_executor(), [&impl] { impl.DoAccept(); });
    impl.threads.reserve(static_cast<size_t>(threads));
    for (int i = 0; i < threads; ++i) {
        impl.threads.emplace_back([&impl] {
            for (;;) {
                try {
                    impl.io.run();
                    return;
                } catch (const std::exception& e) {
                    spdlog::error("HTTP server thread: unhandled exception: {}", e.what());
                }
            }
        });
    }
    spdlog::info("HTTP server listening on {}:{} with {} threads", config.address, impl.port.load(),
                 threads);
    return absl::OkStatus();
}

void HttpServer::Stop() {
    Impl& impl = *impl_;
    std::lock_guard lock(impl.lifecycle_mutex);
    if (impl.stopped) return;
    impl.stopped = true;
    if (!impl.started) return;
    for (const std::thread& t : impl.threads) WISP_CHECK(t.get_id() != std::this_thread::get_id());

    // 1. No new connections; idle ones close, busy ones close after their response.
    impl.state->stopping.store(true);
    asio::post(impl.acceptor.get_executor(), [&impl] {
        error_code ignored;
        impl.acceptor.close(ignored);
        impl.accept_retry.cancel();
    });
    for (const auto& connection : impl.state->Snapshot()) connection->RequestStop();

    // 2. Give in-flight requests until the deadline.
    {
        std::unique_lock state_lock(impl.state->mutex);
        impl.state->all_closed.wait_for(state_lock, impl.state->config.stop_timeout,
                                        [&] { return impl.state->connections.empty(); });
    }

    // 3. Stop the threads, then close whatever is left from here.
    impl.work.reset();
    impl.io.stop();
    for (std::thread& t : impl.threads) t.join();
    impl.threads.clear();
    const auto leftovers = impl.state->Snapshot();
    if (!leftovers.empty()) {
        spdlog::warn("HTTP server: closing {} connections still busy after {} ms", leftovers.size(),
                     impl.state->config.stop_timeout.count());
    }
    for (const auto& connection : leftovers) connection->CloseAfterThreadsJoined();
    error_code ignored;
    impl.acceptor.close(ignored);
    spdlog::info("HTTP server on port {} stopped", impl.port.load());
}

}  // namespace wisp::controller
