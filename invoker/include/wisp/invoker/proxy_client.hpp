#pragma once
// ProxyClient: a small HTTP/1.1 keep-alive client for one action proxy (wire §5).
//
// It speaks exactly what the invoker needs: `POST <path>` with a JSON body to one endpoint, a TCP
// address on loopback (a port docker published on 127.0.0.1) or a unix socket path (a socket in
// a bind-mounted folder). Raw sockets + poll(); responses framed by Content-Length, chunked
// transfer encoding, or the end of the connection. Idle connections are kept in a small pool and
// reused; a connection the server closed while idle is detected and replaced transparently.
//
//   ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", 32768));
//   auto r = client.Post("/run", body, std::chrono::milliseconds(60000), false);
//
// Thread-safe: concurrent Post() calls each use their own connection (an action with
// limits.concurrency > 1 runs several /run at once on one container).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/invoker/container.hpp>

namespace wisp::invoker {

class ProxyClient {
  public:
    struct Endpoint {
        std::string host = "127.0.0.1";  // numeric IPv4/IPv6 address (TCP)
        int port = 0;                    // TCP port; ignored when unix_path is set
        std::string unix_path;           // unix socket path; when set, TCP is not used

        static Endpoint Tcp(std::string host, int port) { return {std::move(host), port, {}}; }
        static Endpoint Unix(std::string path) { return {{}, 0, std::move(path)}; }
        std::string ToString() const;
    };

    struct Options {
        /// Idle keep-alive connections kept for reuse.
        size_t max_idle_connections = 8;
        /// A response body larger than this is refused (ResourceExhausted); guards the invoker
        /// against a proxy that streams without end.
        size_t max_response_bytes = 64u << 20;
        /// Pause between attempts when the connection is refused and retry_refused is set.
        std::chrono::milliseconds refused_retry_interval{50};
    };

    explicit ProxyClient(Endpoint endpoint);
    ProxyClient(Endpoint endpoint, Options options);
    ~ProxyClient();
    ProxyClient(const ProxyClient&) = delete;
    ProxyClient& operator=(const ProxyClient&) = delete;

    /// POST `body` (Content-Type/Accept application/json) to `path` and waits for the answer.
    /// Blocks at most `timeout` (the whole exchange, connecting included). Thread-safe.
    ///
    /// Outcomes (ProxyResponse::failure):
    ///  - kNone: an HTTP answer (any status) with its body;
    ///  - kTimeout: no complete answer within `timeout` (also when the connection kept being
    ///    refused until `timeout` with `retry_refused`);
    ///  - kConnectionLost: the connection was refused (without `retry_refused`), reset or closed
    ///    before a complete answer.
    /// Error status only for local failures: InvalidArgument for a bad endpoint, Internal when no
    /// socket can be made, ResourceExhausted for an answer over Options::max_response_bytes.
    /// `extra_headers`: more request header lines, each ending in "\r\n" (e.g.
    /// "X-Wisp-Logs: inline\r\n"). An answer carrying X-Wisp-Result-Length is split: `body` is
    /// that many bytes, the rest is `inline_logs` (X-Wisp-Logs-Truncated sets
    /// inline_logs_truncated); a length past the body is a lost connection (a broken proxy).
    [[nodiscard]] absl::StatusOr<ProxyResponse> Post(std::string_view path, std::string_view body,
                                                     std::chrono::milliseconds timeout,
                                                     bool retry_refused,
                                                     std::string_view extra_headers = {});

    /// Closes every idle connection (e.g. before pausing the container). Thread-safe.
    void CloseIdle();

    const Endpoint& endpoint() const { return endpoint_; }
    /// Connections opened so far (tests: shows keep-alive reuse).
    int64_t connections_opened() const;
    /// Connection attempts refused so far (tests: shows that a Post is waiting for the server).
    int64_t refused_attempts() const;

  private:
    struct Connection;
    enum class Attempt { kDone, kStale };

    Attempt Exchange(Connection& conn, std::string_view request, bool reused,
                     std::chrono::steady_clock::time_point deadline, ProxyResponse& out,
                     absl::Status& local_error, bool& keep_alive);
    std::unique_ptr<Connection> TakeIdle();
    void ReturnIdle(std::unique_ptr<Connection> conn);

    const Endpoint endpoint_;
    const Options options_;
    mutable std::mutex mu_;
    std::vector<std::unique_ptr<Connection>> idle_;
    int64_t opened_ = 0;
    int64_t refused_ = 0;
};

}  // namespace wisp::invoker
