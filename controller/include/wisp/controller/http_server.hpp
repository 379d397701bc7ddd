#pragma once
// HttpServer: the controller's HTTP/1.1 front door (Boost.Beast on a thread pool).
//
// Keep-alive (HTTP/1.1 by default, HTTP/1.0 only when asked), one strand per connection, one
// request at a time per connection (a pipelining client is served in order). For each request
// the handler gets an HttpRequest and a Responder; it may answer at once or later from any
// thread. The server itself answers, with OpenWhisk's error body and CORS headers:
//   400  malformed request or percent-encoding   413  body larger than max_body_bytes
//   414  request target longer than max_target_bytes
//   431  header fields larger than max_header_bytes
//   500  the handler threw, or dropped its Responder without calling it
//   403  a Host header this server does not answer to (DNS rebinding protection, see
//        allowed_hosts)
//   503  a connection over max_connections (answered at once, then closed)
// A client that sends only part of a request within request_timeout is disconnected.
//
// Order of the checks on a request, all before its body is read (and before `100 Continue`):
// the sizes of the request line, the header fields and the declared Content-Length (413), the
// Host header, then `head_check` (the controller's authentication) when a body is still to come.
// A request refused there is answered with `Connection: close` and its body is never stored.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <boost/asio/io_context.hpp>
#include <wisp/controller/http.hpp>

namespace wisp::controller {

struct HttpServerConfig {
    std::string address = "127.0.0.1";
    uint16_t port = 3233;  // 0 = any free port; see HttpServer::port()
    int threads = 0;       // 0 = std::thread::hardware_concurrency(), at least 2
    size_t max_body_bytes = 50 * 1024 * 1024;
    size_t max_target_bytes = 8192;
    size_t max_header_bytes = 64 * 1024;  // all header fields, without the request line
    /// From the first byte of a request to its last, and for writing a response.
    std::chrono::seconds request_timeout{65};
    /// A keep-alive connection waiting for its next request is closed after this.
    std::chrono::seconds idle_timeout{120};
    /// Stop() lets in-flight requests answer for this long before it closes their connections.
    std::chrono::milliseconds stop_timeout{5000};
    /// Open connections at most; one more is answered 503 and closed. 0 = derived from the
    /// descriptor limit (RLIMIT_NOFILE minus 128 for the rest of the process, 16 to 65536).
    size_t max_connections = 0;
    /// DNS rebinding protection. When `address` is a loopback address, a request whose Host
    /// header is not a loopback name or address (localhost, *.localhost, 127.x.x.x, [::1]; any
    /// port) nor one of these names is answered 403. When `address` is not a loopback address,
    /// the check applies only when names are given here: then loopback names, IP address
    /// literals and these names are accepted. A request without Host (HTTP/1.0) passes. Names
    /// compare case-insensitively, without the port; a name starting with '.' allows its
    /// subdomains too (".example.com").
    std::vector<std::string> allowed_hosts;
    /// Called on the connection's strand once a request's header fields are complete and its
    /// body is still to be read (before any `100 Continue`), with everything but the body: a
    /// response refuses the request without reading its body; nullopt lets it go on. Requests
    /// whose body has arrived with the header (or have none) go to the handler only.
    RequestHeadCheck head_check;
};

class HttpServer {
  public:
    /// `handler` is called on the connection's strand, concurrently for different connections,
    /// so it must be thread-safe. It must not block for long (it runs on the server's threads).
    HttpServer(HttpServerConfig config, HttpHandler handler);
    /// Stops the server (see Stop()).
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    /// Binds and listens, then starts the threads. Unavailable when the port is taken,
    /// InvalidArgument for a bad address, FailedPrecondition when called twice.
    [[nodiscard]] absl::Status Start();

    /// The port actually bound (useful with port 0); 0 before Start().
    uint16_t port() const;

    /// Connections open now, not counting those being refused for max_connections.
    size_t open_connections() const;
    /// The effective max_connections (after deriving the default).
    size_t max_connections() const;

    /// Stops accepting, lets in-flight requests answer (with `Connection: close`) for up to
    /// stop_timeout, then closes every connection and joins the threads. Idempotent; blocks.
    /// Must not be called from a handler or anything else running on context().
    void Stop();

    /// The io_context the server's threads run, for the controller's own timers. Work posted
    /// here runs until Stop().
    boost::asio::io_context& context();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace wisp::controller
