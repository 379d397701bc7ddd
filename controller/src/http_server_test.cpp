#include <wisp/controller/http_server.hpp>
#include <wisp/controller/metrics_endpoint.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace wisp::controller {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string Header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    bool Has(const std::string& name) const { return headers.count(name) > 0; }
};

/// Throws instead of Catch2's REQUIRE, which must not be used on other threads.
void Require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

/// A blocking TCP client speaking raw bytes, with a receive timeout so that no test hangs.
/// Usable from any thread (it throws on failure).
class RawClient {
  public:
    explicit RawClient(uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        Require(fd_ >= 0, "socket");
        timeval tv{};
        tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
        tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        Require(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0, "connect");
    }
    ~RawClient() { Close(); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    void Send(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            Require(n > 0, "send");
            data.remove_prefix(static_cast<size_t>(n));
        }
    }

    /// One complete response; nullopt when the connection ends (or times out) first.
    std::optional<Response> Read(bool head = false) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        parser.body_limit(boost::none);
        if (head) parser.skip(true);
        boost::system::error_code ec;
        for (;;) {
            if (!pending_.empty()) {
                const size_t used = parser.put(boost::asio::buffer(pending_), ec);
                pending_.erase(0, used);
                if (ec && ec != http::error::need_more) {
                    throw std::runtime_error("bad response: " + ec.message());
                }
                if (parser.is_done()) break;
                if (!ec && used > 0) continue;
            }
            char chunk[16384];
            const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
            if (n <= 0) return std::nullopt;
            pending_.append(chunk, static_cast<size_t>(n));
        }
        auto message = parser.release();
        Response response;
        response.status = static_cast<int>(message.result_int());
        for (const auto& field : message) {
            std::string name(field.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            response.headers[name] = std::string(field.value());
        }
        response.body = std::move(message.body());
        return response;
    }

    /// True when the server closes the connection (no more bytes) within the timeout.
    bool ClosedByServer() {
        if (!pending_.empty()) return false;
        char c;
        const ssize_t n = ::recv(fd_, &c, 1, 0);
        return n == 0 || (n < 0 && errno == ECONNRESET);
    }

    void Close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
    std::string pending_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
    return std::string("GET ") + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
           std::string(extra_headers) + "\r\n";
}

std::string Post(std::string_view target, std::string_view body,
                 std::string_view extra_headers = "") {
    return std::string("POST ") + std::string(target) +
           " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
           std::string(body);
}

/// A server on a free loopback port with a small thread pool.
struct TestServer {
    explicit TestServer(HttpHandler handler, HttpServerConfig config = Config())
        : server(std::move(config), std::move(handler)) {
        const absl::Status status = server.Start();
        REQUIRE(status.ok());
        REQUIRE(server.port() != 0);
    }
    static HttpServerConfig Config() {
        HttpServerConfig config;
        config.port = 0;
        config.threads = 2;
        return config;
    }
    HttpServer server;
};

HttpHandler Echo() {
    return [](HttpRequest&& request, Responder respond) {
        HttpResponse response = HttpResponse::Text(200, request.method + " " + request.path);
        response.SetHeader("X-Body", std::to_string(request.body.size()));
        response.body += "|" + request.body;
        respond(std::move(response));
    };
}

bool IsRandomId(const std::string& id) {
    if (id.size() != 32) return false;
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

void CheckOpenWhiskError(const Response& response, int status, const std::string& message) {
    CHECK(response.status == status);
    const std::string tid = response.Header("x-request-id");
    CHECK(!tid.empty());
    CHECK(response.body == "{\"error\":\"" + message + "\",\"code\":\"" + tid + "\"}");
    CHECK(response.Header("content-type") == "application/json");
    CHECK(response.Header("access-control-allow-origin") == "*");
    CHECK(response.Header("access-control-allow-methods") == "GET, DELETE, POST, PUT, HEAD");
    CHECK(response.Header("access-control-allow-headers") ==
          "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent");
}

TEST_CASE("HttpServer decodes the target and passes the request", "[http_server]") {
    std::promise<HttpRequest> seen;
    TestServer ts([&](HttpRequest&& request, Responder respond) {
        respond(HttpResponse::Json(200, "{\"ok\":true}"));
        seen.set_value(std::move(request));
    });
    RawClient client(ts.server.port());
    client.Send(Get("/api/v1/a%20b?name=hello+world&path=%2Fx%2Fy&flag",
                    "X-Custom-Header: Some Value\r\n"));
    auto response = client.Read();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "{\"ok\":true}");
    CHECK(response->Header("content-length") == "11");
    CHECK(response->Has("date"));
    CHECK_FALSE(response->Has("connection"));  // HTTP/1.1: keep-alive is the default

    const HttpRequest request = seen.get_future().get();
    CHECK(request.method == "GET");
    CHECK(request.target == "/api/v1/a%20b?name=hello+world&path=%2Fx%2Fy&flag");
    CHECK(request.path == "/api/v1/a b");
    using Query = std::vector<std::pair<std::string, std::string>>;
    CHECK(request.query == Query{{"name", "hello world"}, {"path", "/x/y"}, {"flag", ""}});
    CHECK(request.remote_address == "127.0.0.1");
    CHECK(request.Header("X-CUSTOM-HEADER") == "Some Value");
    bool lower_case_names = false;
    for (const auto& [name, value] : request.headers) {
        if (name == "x-custom-header") lower_case_names = true;
    }
    CHECK(lower_case_names);
    CHECK(request.body.empty());
}

TEST_CASE("HttpServer: a trailing '?' gives no query parameters", "[http_server]") {
    std::promise<HttpRequest> seen;
    TestServer ts([&](HttpRequest&& request, Responder respond) {
        respond(HttpResponse::Text(200, "ok"));
        seen.set_value(std::move(request));
    });
    RawClient client(ts.server.port());
    client.Send(Get("/ping?"));
    REQUIRE(client.Read());
    const HttpRequest request = seen.get_future().get();
    CHECK(request.path == "/ping");
    CHECK(request.query.empty());
}

TEST_CASE("HttpServer serves POST bodies and keep-alive", "[http_server]") {
    TestServer ts(Echo());
    RawClient client(ts.server.port());
    client.Send(Post("/one", "{\"a\":1}"));
    auto first = client.Read();
    REQUIRE(first);
    CHECK(first->status == 200);
    CHECK(first->body == "POST /one|{\"a\":1}");
    CHECK(first->Header("x-body") == "7");

    client.Send(Get("/two"));
    auto second = client.Read();
    REQUIRE(second);
    CHECK(second->body == "GET /two|");

    SECTION("pipelined requests are answered in order") {
        client.Send(Post("/three", "3") + Get("/four") + Post("/five", "55555"));
        auto r3 = client.Read();
        auto r4 = client.Read();
        auto r5 = client.Read();
        REQUIRE((r3 && r4 && r5));
        CHECK(r3->body == "POST /three|3");
        CHECK(r4->body == "GET /four|");
        CHECK(r5->body == "POST /five|55555");
    }
    SECTION("a chunked body") {
        client.Send(
            "POST /chunked HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->body == "POST /chunked|abcde");
    }
    SECTION("Connection: close from the client") {
        client.Send(Get("/bye", "Connection: close\r\n"));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->Header("connection") == "close");
        CHECK(client.ClosedByServer());
    }
}

TEST_CASE("HttpServer closes HTTP/1.0 connections unless asked to keep them", "[http_server]") {
    TestServer ts(Echo());
    SECTION("HTTP/1.0") {
        RawClient client(ts.server.port());
        client.Send("GET /old HTTP/1.0\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->body == "GET /old|");
        CHECK(r->Header("connection") == "close");
        CHECK(client.ClosedByServer());
    }
    SECTION("HTTP/1.0 with keep-alive") {
        RawClient client(ts.server.port());
        client.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->Header("connection") == "keep-alive");
        client.Send("GET /b HTTP/1.0\r\n\r\n");
        auto r2 = client.Read();
        REQUIRE(r2);
        CHECK(r2->body == "GET /b|");
        CHECK(client.ClosedByServer());
    }
}

TEST_CASE("HttpServer answers Expect: 100-continue", "[http_server]") {
    TestServer ts(Echo());
    RawClient client(ts.server.port());
    client.Send(
        "POST /big HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: "
        "100-continue\r\n\r\n");
    auto interim = client.Read();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    client.Send("hello");
    auto r = client.Read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "POST /big|hello");
}

TEST_CASE("HttpServer: the responder may answer later from another thread", "[http_server]") {
    // Each answer waits for `release`, which the test gives only after the handler returned
    // (`handled`): the responder answers after the handler, from another thread.
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::counting_semaphore<> handled(0);
    std::counting_semaphore<> release(0);
    TestServer ts([&](HttpRequest&& request, Responder respond) {
        {
            std::lock_guard lock(mutex);
            workers.emplace_back([&release, respond = std::move(respond), path = request.path] {
                release.acquire();
                respond(HttpResponse::Text(202, "later " + path));
            });
        }
        handled.release();
    });
    RawClient client(ts.server.port());
    client.Send(Get("/slow"));
    handled.acquire();
    release.release();
    auto r = client.Read();
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK(r->body == "later /slow");
    // The connection is still usable.
    client.Send(Get("/again"));
    handled.acquire();
    release.release();
    auto r2 = client.Read();
    REQUIRE(r2);
    CHECK(r2->body == "later /again");
    std::lock_guard lock(mutex);
    for (auto& t : workers) t.join();
}

TEST_CASE("HttpServer serves many connections at once", "[http_server]") {
    HttpServer* server = nullptr;
    TestServer ts([&](HttpRequest&& request, Responder respond) {
        if (request.path.back() % 2 == 0) {
            respond(HttpResponse::Text(200, request.path));
            return;
        }
        // Answer from another thread of the pool, off this connection's strand.
        boost::asio::post(server->context(),
                          [respond = std::move(respond), path = std::move(request.path)] {
                              respond(HttpResponse::Text(200, path));
                          });
    });
    server = &ts.server;
    constexpr int kClients = 6;
    constexpr int kRequests = 100;
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            try {
                RawClient client(ts.server.port());
                for (int i = 0; i < kRequests; ++i) {
                    const std::string path = "/c" + std::to_string(c) + "/" + std::to_string(i);
                    client.Send(i % 10 == 9 ? Post(path, std::string(5000, 'x')) : Get(path));
                    auto r = client.Read();
                    if (r && r->status == 200 && r->body == path) ++ok;
                }
            } catch (const std::exception&) {
            }
        });
    }
    for (auto& t : clients) t.join();
    CHECK(ok.load() == kClients * kRequests);
}

TEST_CASE("HttpServer drops answers to clients that went away", "[http_server]") {
    std::mutex mutex;
    std::vector<Responder> held;
    std::atomic<int> calls{0};
    auto config = TestServer::Config();
    config.stop_timeout = 100ms;
    std::optional<TestServer> ts;
    ts.emplace(
        [&](HttpRequest&& request, Responder respond) {
            ++calls;
            if (request.path == "/hold") {
                std::lock_guard lock(mutex);
                held.push_back(std::move(respond));
            } else {
                respond(HttpResponse::Text(200, "fine"));
            }
        },
        config);
    const uint16_t port = ts->server.port();
    {
        RawClient client(port);
        client.Send(Get("/hold"));
        while (calls.load() < 1) std::this_thread::yield();
    }  // the client disconnects before the answer
    std::thread([&] {
        std::lock_guard lock(mutex);
        held.at(0)(HttpResponse::Text(200, "too late"));
    }).join();

    RawClient other(port);
    other.Send(Get("/other"));
    auto r = other.Read();
    REQUIRE(r);
    CHECK(r->body == "fine");
    other.Close();

    SECTION("even after the server is gone") {
        RawClient client(port);
        client.Send(Get("/hold"));
        while (calls.load() < 3) std::this_thread::yield();
        ts.reset();  // Stop() gives up on the held request after stop_timeout
        CHECK(client.ClosedByServer());
        std::lock_guard lock(mutex);
        held.at(1)(HttpResponse::Text(200, "nobody listens"));
        held.clear();
    }
}

TEST_CASE("HttpServer ignores a second answer", "[http_server]") {
    TestServer ts([](HttpRequest&&, Responder respond) {
        respond(HttpResponse::Text(200, "first"));
        respond(HttpResponse::Text(500, "second"));
    });
    RawClient client(ts.server.port());
    client.Send(Get("/x"));
    auto r = client.Read();
    REQUIRE(r);
    CHECK(r->body == "first");
    client.Send(Get("/y"));
    auto r2 = client.Read();
    REQUIRE(r2);
    CHECK(r2->body == "first");
}

TEST_CASE("HttpServer answers 500 when the handler fails", "[http_server]") {
    TestServer ts([](HttpRequest&& request, Responder respond) {
        if (request.path == "/throw") throw std::runtime_error("boom");
        if (request.path == "/drop") return;  // the responder dies unanswered
        respond(HttpResponse::Text(200, "ok"));
    });
    RawClient client(ts.server.port());
    SECTION("throwing") {
        client.Send(Get("/throw", "X-Request-ID: my-tid-42\r\n"));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 500, "There was an internal server error.");
        CHECK(r->Header("x-request-id") == "my-tid-42");
    }
    SECTION("a system transaction id is replaced") {
        client.Send(Get("/throw", "X-Request-ID: sid_health\r\n"));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 500, "There was an internal server error.");
        CHECK(IsRandomId(r->Header("x-request-id")));
    }
    SECTION("dropping the responder") {
        client.Send(Get("/drop"));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 500, "There was an internal server error.");
        CHECK(IsRandomId(r->Header("x-request-id")));
    }
    // The connection survives.
    client.Send(Get("/fine"));
    auto r = client.Read();
    REQUIRE(r);
    CHECK(r->body == "ok");
}

TEST_CASE("HttpServer: HEAD gets the headers of the body but no body", "[http_server]") {
    TestServer ts([](HttpRequest&& request, Responder respond) {
        respond(HttpResponse::Text(200, request.method == "HEAD" ? "hello" : "other"));
    });
    RawClient client(ts.server.port());
    client.Send("HEAD /x HTTP/1.1\r\nHost: localhost\r\n\r\n");
    auto r = client.Read(/*head=*/true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->Header("content-length") == "5");
    CHECK(r->body.empty());
    // Nothing but the next response follows on the connection.
    client.Send(Get("/y"));
    auto r2 = client.Read();
    REQUIRE(r2);
    CHECK(r2->body == "other");
}

TEST_CASE("HttpServer rejects bodies over the limit with 413", "[http_server]") {
    auto config = TestServer::Config();
    config.max_body_bytes = 1024;
    std::atomic<int> calls{0};
    TestServer ts(
        [&](HttpRequest&&, Responder respond) {
            ++calls;
            respond(HttpResponse::Text(200, "ok"));
        },
        config);
    RawClient client(ts.server.port());
    auto check_closed_unhandled = [&] {
        CHECK(client.ClosedByServer());
        CHECK(calls.load() == 0);
    };
    SECTION("by Content-Length") {
        client.Send(
            "POST /x HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: big-1\r\nContent-Length: "
            "2048\r\n\r\n" +
            std::string(100, 'a'));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 413, "Request larger than allowed: 2048 > 1024 bytes.");
        CHECK(r->Header("x-request-id") == "big-1");
        CHECK(r->Header("connection") == "close");
        check_closed_unhandled();
    }
    SECTION("with Expect: 100-continue, instead of 100") {
        client.Send(
            "POST /x HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: "
            "5000\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 413, "Request larger than allowed: 5000 > 1024 bytes.");
        check_closed_unhandled();
    }
    SECTION("chunked") {
        client.Send(
            "POST /x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 413);
        check_closed_unhandled();
    }
    SECTION("exactly the limit is fine") {
        client.Send(Post("/x", std::string(1024, 'b')));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 200);
    }
}

TEST_CASE("HttpServer rejects long targets with 414", "[http_server]") {
    auto config = TestServer::Config();
    config.max_target_bytes = 100;
    config.max_header_bytes = 1024;
    TestServer ts(Echo(), config);
    RawClient client(ts.server.port());
    SECTION("just over") {
        client.Send(Get("/" + std::string(100, 'a')));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 414, "URI Too Long");
    }
    SECTION("beyond the whole header limit") {
        client.Send(Get("/" + std::string(5000, 'a')));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 414, "URI Too Long");
    }
    SECTION("the limit itself is fine") {
        client.Send(Get("/" + std::string(99, 'a')));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 200);
        return;
    }
    CHECK(client.ClosedByServer());
}

TEST_CASE("HttpServer rejects too many header bytes with 431", "[http_server]") {
    auto config = TestServer::Config();
    config.max_header_bytes = 1024;
    TestServer ts(Echo(), config);
    RawClient client(ts.server.port());
    client.Send(Get("/x", "X-Big: " + std::string(3000, 'h') + "\r\n"));
    auto r = client.Read();
    REQUIRE(r);
    CheckOpenWhiskError(*r, 431, "Request header fields too large.");
    CHECK(client.ClosedByServer());
}

TEST_CASE("HttpServer rejects malformed requests with 400", "[http_server]") {
    TestServer ts(Echo());
    RawClient client(ts.server.port());
    SECTION("a broken request line closes the connection") {
        client.Send("THIS IS NOT HTTP\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->body.find("The request content was malformed:\\n") != std::string::npos);
        CHECK(r->Header("access-control-allow-origin") == "*");
        CHECK(client.ClosedByServer());
    }
    SECTION("a bad Content-Length") {
        client.Send("POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(client.ClosedByServer());
    }
    SECTION("bad percent-encoding keeps the connection") {
        client.Send(Get("/a%zz?x=1", "X-Request-ID: pct\r\n"));
        auto r = client.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 400,
                            "The request content was malformed:\\nInvalid percent-encoding in "
                            "'/a%zz?x=1'");
        CHECK(r->Header("x-request-id") == "pct");
        client.Send(Get("/next"));
        auto r2 = client.Read();
        REQUIRE(r2);
        CHECK(r2->body == "GET /next|");
    }
}

TEST_CASE("HttpServer closes a connection whose request does not arrive in time", "[http_server]") {
    auto config = TestServer::Config();
    config.request_timeout = 1s;
    TestServer ts(Echo(), config);
    RawClient client(ts.server.port());
    client.Send("POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nabc");
    const auto start = std::chrono::steady_clock::now();
    CHECK(client.ClosedByServer());
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= 900ms);
    CHECK(waited < 4s);
}

TEST_CASE("HttpServer closes idle keep-alive connections", "[http_server]") {
    auto config = TestServer::Config();
    config.idle_timeout = 1s;
    TestServer ts(Echo(), config);
    RawClient client(ts.server.port());
    client.Send(Get("/x"));
    REQUIRE(client.Read());
    const auto start = std::chrono::steady_clock::now();
    CHECK(client.ClosedByServer());
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= 900ms);
    CHECK(waited < 4s);
}

TEST_CASE("HttpServer::Stop completes while a request is pending", "[http_server]") {
    std::mutex mutex;
    std::vector<Responder> held;
    std::atomic<int> calls{0};
    auto config = TestServer::Config();
    config.stop_timeout = 200ms;
    HttpServer server(config, [&](HttpRequest&&, Responder respond) {
        std::lock_guard lock(mutex);
        held.push_back(std::move(respond));
        ++calls;
    });
    REQUIRE(server.Start().ok());
    RawClient busy(server.port());
    busy.Send(Get("/pending"));
    RawClient idle(server.port());
    while (calls.load() < 1) std::this_thread::yield();

    SECTION("answered during Stop: the answer goes out, then the connection closes") {
        std::thread stopper([&] { server.Stop(); });
        {
            std::lock_guard lock(mutex);
            held.at(0)(HttpResponse::Text(200, "last words"));
        }
        auto r = busy.Read();
        REQUIRE(r);
        CHECK(r->body == "last words");
        CHECK(busy.ClosedByServer());
        stopper.join();
    }
    SECTION("never answered: Stop gives up after stop_timeout") {
        const auto start = std::chrono::steady_clock::now();
        server.Stop();
        CHECK(std::chrono::steady_clock::now() - start < 3s);
        CHECK(busy.ClosedByServer());
    }
    CHECK(idle.ClosedByServer());
    server.Stop();  // idempotent
    std::lock_guard lock(mutex);
    held.clear();  // answering nothing after Stop does not crash either
}

TEST_CASE("HttpServer::Start reports a port in use", "[http_server]") {
    TestServer first(Echo());
    HttpServerConfig config;
    config.port = first.server.port();
    config.threads = 1;
    HttpServer second(config, Echo());
    const absl::Status status = second.Start();
    CHECK(status.code() == absl::StatusCode::kUnavailable);
    CHECK(std::string(status.message()) ==
          "port " + std::to_string(config.port) +
              " on 127.0.0.1 is in use; stop the other process or pass --port");

    HttpServerConfig bad;
    bad.address = "not-an-ip";
    HttpServer third(bad, Echo());
    CHECK(third.Start().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("HttpServer::context runs the controller's work", "[http_server]") {
    TestServer ts(Echo());
    std::promise<std::thread::id> ran;
    boost::asio::post(ts.server.context(), [&] { ran.set_value(std::this_thread::get_id()); });
    CHECK(ran.get_future().get() != std::this_thread::get_id());
}

/// Waits (polling, up to 20 s) until `done` holds; for state the server changes asynchronously.
template <class F>
bool Eventually(F done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

constexpr const char* kUnavailableText =
    "The server is currently unavailable (because it is overloaded or down for maintenance).";

TEST_CASE("HttpServer answers 503 to connections over max_connections", "[http_server]") {
    auto config = TestServer::Config();
    config.max_connections = 3;
    std::atomic<int> calls{0};
    TestServer ts(
        [&](HttpRequest&& request, Responder respond) {
            ++calls;
            respond(HttpResponse::Text(200, request.path));
        },
        config);
    CHECK(ts.server.max_connections() == 3);
    std::vector<std::unique_ptr<RawClient>> open;
    for (int i = 0; i < 3; ++i) {
        open.push_back(std::make_unique<RawClient>(ts.server.port()));
        open.back()->Send(Get("/open"));
        auto r = open.back()->Read();
        REQUIRE(r);
        CHECK(r->status == 200);
    }
    CHECK(ts.server.open_connections() == 3);

    for (int i = 0; i < 2; ++i) {  // refused, and again: the server does not fall over
        RawClient over(ts.server.port());
        over.Send(Get("/over"));
        auto r = over.Read();
        REQUIRE(r);
        CheckOpenWhiskError(*r, 503, kUnavailableText);
        CHECK(IsRandomId(r->Header("x-request-id")));
        CHECK(r->Header("connection") == "close");
        CHECK(over.ClosedByServer());
    }
    CHECK(calls.load() == 3);

    // The open ones keep working.
    open[2]->Send(Get("/still"));
    auto still = open[2]->Read();
    REQUIRE(still);
    CHECK(still->body == "/still");

    // Once one closes, a new connection is served.
    open[0]->Close();
    REQUIRE(Eventually([&] { return ts.server.open_connections() < 3; }));
    RawClient again(ts.server.port());
    again.Send(Get("/again"));
    auto r = again.Read();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/again");
}

TEST_CASE("HttpServer derives max_connections from the descriptor limit", "[http_server]") {
    TestServer ts(Echo());
    CHECK(ts.server.max_connections() >= 16);
    CHECK(ts.server.max_connections() <= 65536);
}

TEST_CASE("HttpServer: head_check refuses a request before its body is read", "[http_server]") {
    auto config = TestServer::Config();
    std::mutex mutex;
    std::vector<HttpRequest> checked;
    config.head_check = [&](const HttpRequest& request) -> std::optional<HttpResponse> {
        {
            std::lock_guard lock(mutex);
            checked.push_back(request);
        }
        if (request.Header("authorization") == "Basic good") return std::nullopt;
        HttpResponse refusal =
            HttpResponse::Json(401, ErrorBody("The supplied authentication is invalid", "tid-1"));
        refusal.SetHeader("X-Request-ID", "tid-1");
        return refusal;
    };
    std::atomic<int> calls{0};
    TestServer ts(
        [&](HttpRequest&& request, Responder respond) {
            ++calls;
            respond(HttpResponse::Text(200, std::to_string(request.body.size())));
        },
        config);
    RawClient client(ts.server.port());
    const std::string head =
        "POST /api/v1/namespaces/_/actions/a%20b?blocking=true HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Length: 1000000\r\n";
    auto checked_count = [&] {
        std::lock_guard lock(mutex);
        return checked.size();
    };

    SECTION("Expect: 100-continue with bad credentials: 401 instead of 100 Continue") {
        client.Send(head + "Authorization: Basic bad\r\nExpect: 100-continue\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 401);  // a 100 here would be read as a response of its own
        CHECK(r->body == R"({"error":"The supplied authentication is invalid","code":"tid-1"})");
        CHECK(r->Header("x-request-id") == "tid-1");
        CHECK(r->Header("connection") == "close");
        CHECK(client.ClosedByServer());
        CHECK(calls.load() == 0);
        REQUIRE(checked_count() == 1);
        const HttpRequest& seen = checked[0];
        CHECK(seen.method == "POST");
        CHECK(seen.path == "/api/v1/namespaces/_/actions/a b");
        CHECK(seen.QueryIsTrue("blocking"));
        CHECK(seen.remote_address == "127.0.0.1");
        CHECK(seen.body.empty());
    }
    SECTION("without Expect, the body still to come is not read") {
        client.Send(head + "\r\n" + std::string(1000, 'x'));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->Header("connection") == "close");
        CHECK(calls.load() == 0);
    }
    SECTION("accepted credentials get 100 Continue, then the body is read") {
        client.Send(
            "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nAuthorization: Basic "
            "good\r\nExpect: 100-continue\r\n\r\n");
        auto interim = client.Read();
        REQUIRE(interim);
        CHECK(interim->status == 100);
        client.Send("hello");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "5");
        CHECK(checked_count() == 1);
    }
    SECTION("a request without a body goes to the handler only") {
        client.Send(Get("/api/v1/namespaces/_/actions"));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(checked_count() == 0);
        CHECK(calls.load() == 1);
    }
    SECTION("a Content-Length over the limit is refused before the check") {
        client.Send(
            "POST /x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 60000000\r\nExpect: "
            "100-continue\r\n\r\n");
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(client.ClosedByServer());
        CHECK(checked_count() == 0);
    }
}

TEST_CASE("HttpServer on loopback answers only to loopback and allowed Host names",
          "[http_server]") {
    auto config = TestServer::Config();
    config.allowed_hosts = {"wisp.test", ".dev.example", "Upper.Example:8080"};
    std::atomic<int> calls{0};
    TestServer ts(
        [&](HttpRequest&&, Responder respond) {
            ++calls;
            respond(HttpResponse::Text(200, "ok"));
        },
        config);
    auto status_for = [&](const std::string& host_line) {
        RawClient client(ts.server.port());
        client.Send("GET /api/v1 HTTP/1.1\r\n" + host_line + "\r\n");
        auto r = client.Read();
        REQUIRE(r);
        return *r;
    };
    for (const std::string host :
         {"localhost", "localhost:3233", "LOCALHOST", "localhost.", "app.localhost:80", "127.0.0.1",
          "127.0.0.1:3233", "127.9.8.7", "[::1]", "[::1]:3233", "wisp.test", "WISP.test:443",
          "dev.example", "a.b.dev.example:1", "upper.example"}) {
        INFO(host);
        CHECK(status_for("Host: " + host + "\r\n").status == 200);
    }
    CHECK(status_for("").status == 200);  // no Host at all (HTTP/1.0 style)
    const int served = calls.load();
    for (const std::string host : {"evil.example", "evil.example:3233", "localhost.evil.example",
                                   "127.0.0.1.nip.io", "10.0.0.1", "192.168.1.1:3233", "[::2]",
                                   "[::1", "wisp.test.evil", "xdev.example", "a:b:c", ""}) {
        INFO(host);
        const Response r = status_for("Host: " + host + "\r\n");
        CheckOpenWhiskError(r, 403,
                            "The Host header '" + host +
                                "' names no address this server answers to; add the name to "
                                "--allowed-hosts to allow it.");
        CHECK(r.Header("connection") == "close");
    }
    CHECK(status_for("Host: localhost\r\nHost: evil.example\r\n").status == 403);
    CHECK(calls.load() == served);  // the handler never saw a refused request
}

TEST_CASE("HttpServer on a wildcard address checks Host only against configured names",
          "[http_server]") {
    auto config = TestServer::Config();
    config.address = "0.0.0.0";  // the test still connects to 127.0.0.1 only
    auto status_for = [](uint16_t port, const std::string& host) {
        RawClient client(port);
        client.Send(Get("/x").replace(Get("/x").find("localhost"), 9, host));
        auto r = client.Read();
        REQUIRE(r);
        return r->status;
    };
    SECTION("no names configured: any Host") {
        TestServer ts(Echo(), config);
        CHECK(status_for(ts.server.port(), "evil.example") == 200);
        CHECK(status_for(ts.server.port(), "10.1.2.3:3233") == 200);
    }
    SECTION("names configured: those, loopback names and IP addresses") {
        config.allowed_hosts = {"wisp.test"};
        TestServer ts(Echo(), config);
        CHECK(status_for(ts.server.port(), "evil.example") == 403);
        CHECK(status_for(ts.server.port(), "wisp.test:3233") == 200);
        CHECK(status_for(ts.server.port(), "localhost") == 200);
        CHECK(status_for(ts.server.port(), "10.1.2.3:3233") == 200);
        CHECK(status_for(ts.server.port(), "[fe80::1]:3233") == 200);
    }
}

TEST_CASE("HttpServer replaces an over-long or unsafe X-Request-ID", "[http_server]") {
    auto config = TestServer::Config();
    config.max_body_bytes = 10;
    TestServer ts(Echo(), config);
    for (const std::string& id : {std::string(129, 'a'), std::string("a\"b"), std::string("a b")}) {
        RawClient client(ts.server.port());
        client.Send(Post("/x", std::string(11, 'x'), "X-Request-ID: " + id + "\r\n"));
        auto r = client.Read();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(IsRandomId(r->Header("x-request-id")));
        CHECK(r->body.find(id) == std::string::npos);
    }
}

TEST_CASE("HttpServer keep-alive round trip time", "[.][bench]") {
    auto config = TestServer::Config();
    if (const char* threads = std::getenv("WISP_BENCH_THREADS"))
        config.threads = std::atoi(threads);
    TestServer ts(
        [](HttpRequest&&, Responder respond) { respond(HttpResponse::Json(200, "{\"ok\":true}")); },
        config);
    RawClient client(ts.server.port());
    const std::string request = Get("/api/v1/namespaces/_/actions?limit=3",
                                    "Authorization: Basic dXNlcjpwYXNz\r\nAccept: */*\r\n");
    for (int i = 0; i < 1000; ++i) {
        client.Send(request);
        REQUIRE(client.Read());
    }
    constexpr int kRounds = 20000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
        client.Send(request);
        REQUIRE(client.Read());
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const double micros = std::chrono::duration<double, std::micro>(elapsed).count() / kRounds;
    WARN("keep-alive round trip: " << micros << " us");
}

TEST_CASE("MetricsServer: /metrics with the bearer token rule, /ping, 404 elsewhere",
          "[http_server][metrics]") {
    auto one = [](uint16_t port, const std::string& request) {
        RawClient client(port);
        client.Send(request);
        auto response = client.Read();
        REQUIRE(response);
        return *response;
    };
    {
        auto server = MetricsServer::Start(
            {.listen = "127.0.0.1:0", .token = "t0k", .render = [] { return "x_total 1\n"; }});
        REQUIRE(server.ok());
        const uint16_t port = (*server)->port();
        REQUIRE(port != 0);
        auto r = one(port, Get("/metrics"));  // a token is set: loopback needs it too
        CHECK(r.status == 401);
        CHECK(r.Header("www-authenticate") == "Bearer realm=\"wisp metrics\"");
        CHECK(one(port, Get("/metrics", "Authorization: Bearer nope\r\n")).status == 401);
        r = one(port, Get("/metrics", "Authorization: Bearer t0k\r\n"));
        CHECK(r.status == 200);
        CHECK(r.body == "x_total 1\n");
        CHECK(r.Header("content-type").rfind("text/plain; version=0.0.4", 0) == 0);
        r = one(port, Get("/ping"));
        CHECK(r.status == 200);
        CHECK(r.body == "pong");
        CHECK(one(port, Get("/other")).status == 404);
        CHECK(one(port, Post("/metrics", "{}")).status == 405);
    }
    {
        // No token: loopback clients read it.
        auto server = MetricsServer::Start(
            {.listen = "127.0.0.1:0", .render = [] { return std::string("y 2\n"); }});
        REQUIRE(server.ok());
        auto r = one((*server)->port(), Get("/metrics"));
        CHECK(r.status == 200);
        CHECK(r.body == "y 2\n");
    }
    auto bad = MetricsServer::Start({.listen = "9095"});
    CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(bad.status().message()).find("HOST:PORT") != std::string::npos);
}

}  // namespace
}  // namespace wisp::controller
