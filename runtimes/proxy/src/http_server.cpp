#include "http_server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <type_traits>

namespace wisp::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

asio::awaitable<Reply> Route(http::request<http::string_body>& req, ActionProxy& proxy) {
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    const bool init = target == "/init";
    const bool run = target == "/run";
    const bool reset = target == "/wisp/reset";
    if (!init && !run && !reset) {
        co_return ErrorReply(404, "The requested resource could not be found.");
    }
    if (req.method() != http::verb::post) {
        co_return ErrorReply(405, "HTTP method not allowed, supported methods: POST");
    }
    if (init) co_return co_await proxy.Init(std::move(req.body()));
    if (reset) co_return co_await proxy.Reset();
    const bool inline_logs = beast::iequals(req["X-Wisp-Logs"], "inline");
    co_return co_await proxy.Run(std::move(req.body()), inline_logs);
}

template <class Socket>
asio::awaitable<void> Session(Socket socket, ActionProxy& proxy) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxBodyBytes);
        boost::system::error_code ec;
        co_await http::async_read_header(socket, buffer, parser,
                                         asio::redirect_error(use_awaitable, ec));
        if (!ec && !parser.is_done() &&
            beast::iequals(parser.get()[http::field::expect], "100-continue")) {
            // libcurl sends large POSTs this way: without an answer it waits a second.
            http::response<http::empty_body> go_on{http::status::continue_, 11};
            co_await http::async_write(socket, go_on, asio::redirect_error(use_awaitable, ec));
        }
        if (!ec) {
            co_await http::async_read(socket, buffer, parser,
                                      asio::redirect_error(use_awaitable, ec));
        }
        Reply reply;
        bool keep_alive = false;
        unsigned version = 11;
        if (ec == http::error::body_limit) {
            reply = ErrorReply(413, "The request body is larger than " +
                                        std::to_string(kMaxBodyBytes) + " bytes.");
        } else if (ec) {
            break;  // the peer closed the connection, or sent garbage
        } else {
            http::request<http::string_body> req = parser.release();
            keep_alive = req.keep_alive();
            version = req.version();
            reply = co_await Route(req, proxy);
        }
        http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
        res.set(http::field::content_type, "application/json");
        res.keep_alive(keep_alive);
        if (reply.logs) {  // inline logs: the result, then the lines (runtimes/README.md)
            res.set("X-Wisp-Result-Length", std::to_string(reply.body.size()));
            if (reply.logs_truncated) res.set("X-Wisp-Logs-Truncated", "true");
            reply.body += *reply.logs;
        }
        res.body() = std::move(reply.body);
        res.prepare_payload();
        co_await http::async_write(socket, res, asio::redirect_error(use_awaitable, ec));
        if (ec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    socket.shutdown(Socket::shutdown_send, ignored);
    socket.close(ignored);
}

template <class Acceptor>
asio::awaitable<void> AcceptLoop(Acceptor& acceptor, ActionProxy& proxy) {
    for (;;) {
        boost::system::error_code ec;
        auto socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {  // e.g. out of descriptors: retry shortly instead of spinning
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(20));
            co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
            continue;
        }
        if constexpr (std::is_same_v<Acceptor, asio::ip::tcp::acceptor>) {
            socket.set_option(asio::ip::tcp::no_delay(true), ec);
        }
        asio::co_spawn(acceptor.get_executor(), Session(std::move(socket), proxy), asio::detached);
    }
}

}  // namespace

bool HttpServer::ListenTcp(const ProxyOptions& options, std::string& error) {
    boost::system::error_code ec;
    asio::ip::address address = asio::ip::make_address(options.host, ec);
    if (ec) {
        error = "invalid listen address '" + options.host + "'";
        return false;
    }
    asio::ip::tcp::endpoint endpoint(address, options.port);
    tcp_.emplace(io_);
    tcp_->open(endpoint.protocol(), ec);
    if (!ec) tcp_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) tcp_->bind(endpoint, ec);
    if (!ec) tcp_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error = "cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " +
                ec.message();
        return false;
    }
    port_ = tcp_->local_endpoint().port();
    asio::co_spawn(io_, AcceptLoop(*tcp_, proxy_), asio::detached);
    return true;
}

bool HttpServer::Listen(const ProxyOptions& options, std::string& error) {
    boost::system::error_code ec;
    if (options.tcp && !ListenTcp(options, error)) return false;

    if (!options.socket_path.empty()) {
        const std::string& path = options.socket_path;
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
        asio::local::stream_protocol::endpoint where(path);
        unix_.emplace(io_);
        unix_->open(where.protocol(), ec);
        if (!ec) unix_->bind(where, ec);
        if (!ec) unix_->listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            error = "cannot listen on unix socket " + path + ": " + ec.message();
            return false;
        }
        ::chmod(path.c_str(), 0666);  // the invoker may run as another user
        asio::co_spawn(io_, AcceptLoop(*unix_, proxy_), asio::detached);
    }
    return true;
}

void HttpServer::Close() {
    boost::system::error_code ignored;
    if (tcp_) tcp_->close(ignored);
    if (unix_) unix_->close(ignored);
}

}  // namespace wisp::proxy
