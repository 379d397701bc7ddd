#include <wisp/invoker/proxy_client.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using wisp::invoker::ProxyClient;
using wisp::invoker::ProxyResponse;
using namespace std::chrono_literals;

namespace {

// A scripted HTTP server on loopback: for each request read on a connection, `handler` returns
// the raw bytes to answer (or "" to close the connection without answering).
class ScriptedServer {
  public:
    using Handler = std::function<std::string(const std::string& request, int index)>;

    explicit ScriptedServer(Handler handler, std::string unix_path = {})
        : handler_(std::move(handler)), unix_path_(std::move(unix_path)) {
        if (unix_path_.empty()) {
            fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
            socklen_t len = sizeof(a);
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
            port_ = ntohs(a.sin_port);
        } else {
            fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::strncpy(a.sun_path, unix_path_.c_str(), sizeof(a.sun_path) - 1);
            ::unlink(unix_path_.c_str());
            REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        }
        REQUIRE(::listen(fd_, 16) == 0);
        thread_ = std::thread([this] { Loop(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (int c : open_) ::shutdown(c, SHUT_RDWR);
        }
        for (auto& t : conns_) t.join();
        for (int c : open_) ::close(c);
        if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    }
    int port() const { return port_; }
    int requests() const { return requests_.load(); }
    int accepted() const { return accepted_.load(); }

  private:
    void Loop() {
        while (!stop_) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            ++accepted_;
            {
                std::lock_guard<std::mutex> lock(mu_);
                open_.push_back(c);
            }
            conns_.emplace_back([this, c] { Serve(c); });
        }
    }
    void Serve(int c) {
        std::string buf;
        char tmp[65536];
        while (true) {
            // read one request: headers + Content-Length body
            size_t head_end;
            while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
                ssize_t n = ::recv(c, tmp, sizeof(tmp), 0);
                if (n <= 0) {
                    ::shutdown(c, SHUT_RDWR);
                    return;
                }
                buf.append(tmp, static_cast<size_t>(n));
            }
            size_t cl_pos = buf.find("Content-Length: ");
            size_t cl = std::stoul(buf.substr(cl_pos + 16));
            while (buf.size() < head_end + 4 + cl) {
                ssize_t n = ::recv(c, tmp, sizeof(tmp), 0);
                if (n <= 0) {
                    ::shutdown(c, SHUT_RDWR);
                    return;
                }
                buf.append(tmp, static_cast<size_t>(n));
            }
            std::string request = buf.substr(0, head_end + 4 + cl);
            buf.erase(0, head_end + 4 + cl);
            int index = requests_++;
            std::string answer = handler_(request, index);
            if (answer.empty()) {
                ::shutdown(c, SHUT_RDWR);
                return;
            }
            ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
            if (answer.find("Connection: close") != std::string::npos) {
                ::shutdown(c, SHUT_RDWR);
                return;
            }
        }
    }

    Handler handler_;
    std::string unix_path_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> requests_{0};
    std::atomic<int> accepted_{0};
    std::thread thread_;
    std::vector<std::thread> conns_;
    std::mutex mu_;
    std::vector<int> open_;  // accepted sockets, shut down at the end (closed by Serve)
};

std::string Ok(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string BodyOf(const std::string& request) {
    return request.substr(request.find("\r\n\r\n") + 4);
}

int FreeClosedPort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace

TEST_CASE("ProxyClient posts JSON and reuses the keep-alive connection", "[proxy_client]") {
    ScriptedServer server([](const std::string& req, int) {
        CHECK(req.find("POST /run HTTP/1.1\r\n") == 0);
        CHECK(req.find("Content-Type: application/json") != std::string::npos);
        CHECK(req.find("Accept: application/json") != std::string::npos);
        return Ok(BodyOf(req));
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    for (int i = 0; i < 5; ++i) {
        auto r = client.Post("/run", "{\"i\":" + std::to_string(i) + "}", 2000ms, false);
        REQUIRE(r.ok());
        CHECK(r->failure == ProxyResponse::Failure::kNone);
        CHECK(r->status == 200);
        CHECK(r->body == "{\"i\":" + std::to_string(i) + "}");
        CHECK(r->ElapsedMs() >= 0);
    }
    CHECK(client.connections_opened() == 1);
    CHECK(server.accepted() == 1);
}

TEST_CASE("ProxyClient decodes chunked bodies", "[proxy_client]") {
    ScriptedServer server([](const std::string&, int) -> std::string {
        return "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
               "4;ext=1\r\n{\"er\r\n"
               "b\r\nror\":\"bad\"}\r\n0\r\nX-Trailer: 1\r\n\r\n";
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    for (int i = 0; i < 2; ++i) {
        auto r = client.Post("/init", "{}", 2000ms, false);
        REQUIRE(r.ok());
        CHECK(r->status == 502);
        CHECK(r->body == "{\"error\":\"bad\"}");
    }
    CHECK(client.connections_opened() == 1);
}

TEST_CASE("ProxyClient: a chunk size near 2^64 is too large, not wrapped around",
          "[proxy_client]") {
    // 2 bytes, then 2^64 - 2: the sum wrapped to 0, the "chunk" swallowed the rest of the
    // buffer and the parser went back to read its bytes again as chunk sizes (found by
    // fuzz_proxy_response).
    ScriptedServer server([](const std::string&, int) -> std::string {
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\nab\r\nfffffffffffffffe\r\n0\r\n\r\n{\"smuggled\":true}";
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    auto r = client.Post("/run", "{}", 2000ms, false);
    CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("ProxyClient: HTTP/1.0 body until close", "[proxy_client]") {
    ScriptedServer server([](const std::string&, int) -> std::string {
        return "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n[1,2,3]";
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    for (int i = 0; i < 2; ++i) {
        auto r = client.Post("/run", "{}", 2000ms, false);
        REQUIRE(r.ok());
        CHECK(r->failure == ProxyResponse::Failure::kNone);
        CHECK(r->body == "[1,2,3]");
    }
    CHECK(client.connections_opened() == 2);
}

TEST_CASE("ProxyClient reconnects when the server closed the idle connection", "[proxy_client]") {
    // Every answer closes the connection; the client must notice before or after sending.
    ScriptedServer server([](const std::string& req, int) {
        std::string body = BodyOf(req);
        return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body;
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    for (int i = 0; i < 3; ++i) {
        auto r = client.Post("/run", "{\"n\":1}", 2000ms, false);
        REQUIRE(r.ok());
        CHECK(r->status == 200);
        CHECK(r->body == "{\"n\":1}");
    }
    CHECK(server.requests() == 3);
}

TEST_CASE("ProxyClient retries a stale keep-alive connection closed without notice",
          "[proxy_client]") {
    // The server answers with keep-alive, then silently drops the connection after the answer
    // of the first request on it (a proxy restarting its listener, an idle timeout).
    ScriptedServer server([](const std::string& req, int index) -> std::string {
        if (index == 1) return "";  // close the first connection on its second request
        return Ok(BodyOf(req));
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    auto r1 = client.Post("/run", "{\"a\":1}", 2000ms, false);
    REQUIRE(r1.ok());
    auto r2 = client.Post("/run", "{\"a\":2}", 2000ms, false);
    REQUIRE(r2.ok());
    CHECK(r2->failure == ProxyResponse::Failure::kNone);
    CHECK(r2->body == "{\"a\":2}");
    CHECK(client.connections_opened() == 2);
}

TEST_CASE("ProxyClient reports a timeout", "[proxy_client]") {
    // The server answers only after the client gave up (`answer` is released afterwards).
    std::counting_semaphore<> answer(0);
    ScriptedServer server([&](const std::string& req, int) {
        answer.acquire();
        return Ok(BodyOf(req));
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    auto r = client.Post("/run", "{}", 100ms, false);
    answer.release();
    REQUIRE(r.ok());
    CHECK(r->failure == ProxyResponse::Failure::kTimeout);
    CHECK(r->ElapsedMs() >= 100);
}

TEST_CASE("ProxyClient: refused connections", "[proxy_client]") {
    int port = FreeClosedPort();
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", port));
    SECTION("without retry: connection lost at once") {
        auto r = client.Post("/init", "{}", 1000ms, false);
        REQUIRE(r.ok());
        CHECK(r->failure == ProxyResponse::Failure::kConnectionLost);
        CHECK(r->ElapsedMs() < 500);
    }
    SECTION("with retry: timeout after the limit") {
        auto r = client.Post("/init", "{}", 200ms, true);
        REQUIRE(r.ok());
        CHECK(r->failure == ProxyResponse::Failure::kTimeout);
        CHECK(r->ElapsedMs() >= 190);
    }
}

TEST_CASE("ProxyClient retries refused connections until the server listens", "[proxy_client]") {
    char dir_template[] = "/tmp/wisp-proxy-client-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    std::string path = std::string(dir_template) + "/action.sock";
    ProxyClient client(ProxyClient::Endpoint::Unix(path));
    absl::StatusOr<ProxyResponse> r = absl::UnknownError("not posted");
    // The post starts before anything listens; the server starts only once the client has been
    // refused at least once (an event, not a sleep), so the answer proves the retry.
    std::thread poster([&] { r = client.Post("/init", "{\"value\":{}}", 30000ms, true); });
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (client.refused_attempts() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    const int64_t refused_before_listening = client.refused_attempts();
    auto server = std::make_unique<ScriptedServer>(
        [](const std::string&, int) { return Ok("{\"ok\":true}"); }, path);
    poster.join();
    CHECK(refused_before_listening >= 1);
    REQUIRE(r.ok());
    CHECK(r->failure == ProxyResponse::Failure::kNone);
    CHECK(r->body == "{\"ok\":true}");
    CHECK(client.connections_opened() == 1);
    server.reset();
    ::rmdir(dir_template);
}

TEST_CASE("ProxyClient reports a connection lost mid-answer", "[proxy_client]") {
    ScriptedServer server([](const std::string&, int) -> std::string {
        return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"partial\"";
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    auto r = client.Post("/run", "{}", 2000ms, false);
    REQUIRE(r.ok());
    CHECK(r->failure == ProxyResponse::Failure::kConnectionLost);
}

TEST_CASE("ProxyClient is thread-safe with concurrent posts", "[proxy_client]") {
    // The first four requests are answered only once all four are in flight: the posts overlap
    // by design (four connections at once), not by a sleep in the server.
    std::mutex mu;
    std::condition_variable cv;
    int arrived = 0;
    ScriptedServer server([&](const std::string& req, int) {
        std::unique_lock<std::mutex> lock(mu);
        if (++arrived <= 4) {
            cv.notify_all();
            cv.wait(lock, [&] { return arrived >= 4; });
        }
        return Ok(BodyOf(req));
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                std::string body =
                    "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
                auto r = client.Post("/run", body, 5000ms, false);
                if (r.ok() && r->body == body) ++good;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(good == 40);
    CHECK(client.connections_opened() == 4);
}

TEST_CASE("ProxyClient: large bodies both ways", "[proxy_client]") {
    ScriptedServer server([](const std::string& req, int) { return Ok(BodyOf(req)); });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    std::string big = "{\"x\":\"" + std::string(3 << 20, 'a') + "\"}";
    auto r = client.Post("/run", big, 5000ms, false);
    REQUIRE(r.ok());
    CHECK(r->body.size() == big.size());
    CHECK(r->body == big);

    ProxyClient::Options small;
    small.max_response_bytes = 1024;
    ProxyClient limited(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()), small);
    auto too_big = limited.Post("/run", big, 5000ms, false);
    CHECK(too_big.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("ProxyClient rejects a bad endpoint", "[proxy_client]") {
    ProxyClient client(ProxyClient::Endpoint::Tcp("localhost", 80));
    auto r = client.Post("/run", "{}", 100ms, false);
    CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
}

namespace {

// A proxy that answers with a chunked body and then streams trailer bytes until the client goes
// away: `line` is sent again and again after "0\r\n".
class EndlessTrailerServer {
  public:
    explicit EndlessTrailerServer(std::string line) : line_(std::move(line)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
        socklen_t len = sizeof(a);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        REQUIRE(::listen(fd_, 4) == 0);
        thread_ = std::thread([this] { Serve(); });
    }
    ~EndlessTrailerServer() {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }
    size_t sent() const { return sent_.load(); }

  private:
    void Serve() {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string buf;
        char tmp[4096];
        while (buf.find("\r\n\r\n{}") == std::string::npos) {
            ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
            if (n <= 0) break;
            buf.append(tmp, static_cast<size_t>(n));
        }
        std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n";
        ::send(c, head.data(), head.size(), MSG_NOSIGNAL);
        std::string block;
        while (block.size() < 16384) block += line_;
        // Until the client closes (send fails); bounded so that a client that never stops
        // reading does not keep the test alive forever (it then fails on the checks).
        while (sent_ < (size_t{256} << 20)) {
            ssize_t n = ::send(c, block.data(), block.size(), MSG_NOSIGNAL);
            if (n <= 0) break;
            sent_ += static_cast<size_t>(n);
        }
        ::close(c);
    }

    std::string line_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<size_t> sent_{0};
    std::thread thread_;
};

}  // namespace

TEST_CASE("ProxyClient cuts off an endless chunked trailer", "[proxy_client]") {
    SECTION("endless trailer lines") {
        EndlessTrailerServer server("X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
        auto r = client.Post("/run", "{}", 60000ms, false);
        REQUIRE(!r.ok());
        CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
        CHECK(std::string(r.status().message()).find("trailer") != std::string::npos);
    }
    SECTION("one trailer line without an end") {
        EndlessTrailerServer server("aaaaaaaaaaaaaaaa");
        ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
        auto r = client.Post("/run", "{}", 60000ms, false);
        REQUIRE(!r.ok());
        CHECK(r.status().code() == absl::StatusCode::kResourceExhausted);
    }
}

TEST_CASE("ProxyClient never follows a symlink in place of the unix socket", "[proxy_client]") {
    char dir_template[] = "/tmp/wisp-proxy-client-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    const std::string dir = dir_template;
    // A server elsewhere (think: the Docker daemon's socket), and a symlink to it planted where
    // the proxy's socket should be.
    ScriptedServer elsewhere([](const std::string&, int) { return Ok("{\"hijacked\":true}"); },
                             dir + "/elsewhere.sock");
    REQUIRE(::symlink((dir + "/elsewhere.sock").c_str(), (dir + "/proxy.sock").c_str()) == 0);
    ProxyClient client(ProxyClient::Endpoint::Unix(dir + "/proxy.sock"));
    auto r = client.Post("/run", "{}", 2000ms, /*retry_refused=*/true);
    REQUIRE_FALSE(r.ok());
    CHECK(std::string(r.status().message()).find("is not a socket") != std::string::npos);
    CHECK(elsewhere.accepted() == 0);

    // The real socket still works (connected through the descriptor of the file itself).
    ProxyClient direct(ProxyClient::Endpoint::Unix(dir + "/elsewhere.sock"));
    auto ok = direct.Post("/run", "{}", 2000ms, false);
    REQUIRE(ok.ok());
    CHECK(ok->body == "{\"hijacked\":true}");
    ::unlink((dir + "/proxy.sock").c_str());
}

TEST_CASE("ProxyClient: extra request headers and an inline-logs answer split off the result",
          "[proxy_client]") {
    ScriptedServer server([](const std::string& req, int index) -> std::string {
        CHECK(req.find("\r\nX-Wisp-Logs: inline\r\n") != std::string::npos);
        const std::string result = "{\"a\":1}";
        const std::string logs = "1700000000000000000 stdout hi\n";
        if (index == 1) {  // a length past the body: a broken proxy
            return "HTTP/1.1 200 OK\r\nX-Wisp-Result-Length: 99\r\nContent-Length: 2\r\n\r\n{}";
        }
        return "HTTP/1.1 200 OK\r\nX-Wisp-Result-Length: " + std::to_string(result.size()) +
               "\r\nX-Wisp-Logs-Truncated: true\r\nContent-Length: " +
               std::to_string(result.size() + logs.size()) + "\r\n\r\n" + result + logs;
    });
    ProxyClient client(ProxyClient::Endpoint::Tcp("127.0.0.1", server.port()));
    auto r = client.Post("/run", "{}", 2000ms, false, "X-Wisp-Logs: inline\r\n");
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == "{\"a\":1}");
    REQUIRE(r->inline_logs);
    CHECK(*r->inline_logs == "1700000000000000000 stdout hi\n");
    CHECK(r->inline_logs_truncated);
    auto broken = client.Post("/run", "{}", 2000ms, false, "X-Wisp-Logs: inline\r\n");
    REQUIRE(broken.ok());
    CHECK(broken->failure == ProxyResponse::Failure::kConnectionLost);
    // Without the header in the answer (an OpenWhisk runtime): the body as it is.
    ScriptedServer plain([](const std::string&, int) { return Ok("{\"b\":2}"); });
    ProxyClient other(ProxyClient::Endpoint::Tcp("127.0.0.1", plain.port()));
    auto p = other.Post("/run", "{}", 2000ms, false, "X-Wisp-Logs: inline\r\n");
    REQUIRE(p.ok());
    CHECK(p->body == "{\"b\":2}");
    CHECK_FALSE(p->inline_logs);
}
