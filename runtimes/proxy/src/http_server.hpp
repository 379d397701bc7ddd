#pragma once
// HTTP/1.1 (keep-alive) front of the proxy on TCP and, optionally, a unix socket:
// POST /init and POST /run go to ActionProxy; everything else is 404/405.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "action_proxy.hpp"
#include "options.hpp"

namespace wisp::proxy {

/// The largest request body accepted (OpenWhisk caps entities at 50 MB; base64 adds a third).
inline constexpr uint64_t kMaxBodyBytes = 128ull << 20;

class HttpServer {
  public:
    HttpServer(asio::io_context& io, ActionProxy& proxy) : io_(io), proxy_(proxy) {}

    /// Binds and starts accepting: on TCP unless `options.tcp` is false, and on the unix socket
    /// when one is set. False with `error` (e.g. the port is taken).
    bool Listen(const ProxyOptions& options, std::string& error);
    /// The bound TCP port (useful with --port 0).
    uint16_t port() const { return port_; }
    void Close();

  private:
    bool ListenTcp(const ProxyOptions& options, std::string& error);

    asio::io_context& io_;
    ActionProxy& proxy_;
    std::optional<asio::ip::tcp::acceptor> tcp_;
    std::optional<asio::local::stream_protocol::acceptor> unix_;
    uint16_t port_ = 0;
};

}  // namespace wisp::proxy
