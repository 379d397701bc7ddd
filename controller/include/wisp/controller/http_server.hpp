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
// A client that sends only part of a request within request_timeout is disconnected.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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
