// End-to-end: hostile bytes against a real wisp-standalone, over raw loopback sockets (no HTTP
// library in between, so requests can lie). Every route that takes a body gets deep nesting,
// invalid UTF-8, huge numbers, NUL bytes, a lying Content-Length, a 60 MB chunked body, 64 KB
// of headers and a 1 MB URL. Each must be answered with a 4xx or a clean close — never a 2xx,
// never a 5xx, never a crash — and `/ping` must answer after every one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

Standalone& Wisp() {
    static std::unique_ptr<Standalone> instance = [] {
        auto s = Standalone::Start({});
        if (!s.ok()) FAIL("cannot start wisp-standalone: " << s.status().message());
        return *std::move(s);
    }();
    return *instance;
}

/// What came back on a raw connection: the status of the first response (0 = none), and
/// whether the server closed the connection cleanly (EOF or reset after the request).
struct RawOutcome {
    int status = 0;
    bool closed = false;
    std::string head;
    std::string Describe() const {
        return "status " + std::to_string(status) + (closed ? ", closed" : ", open") + ": " +
               head.substr(0, 300);
    }
};

/// One request as raw byte pieces (sent in order; a piece may be a generator for huge bodies).
/// Sending stops quietly when the server closes (it may refuse before reading everything).
class RawClient {
  public:
    explicit RawClient(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~RawClient() {
        if (fd_ >= 0) ::close(fd_);
    }

    /// False once the peer stopped accepting bytes (closed or reset).
    bool Send(std::string_view bytes) {
        while (!bytes.empty()) {
            pollfd p{fd_, POLLOUT, 0};
            // Generous: a loaded CI machine may take a while to drain 60 MB; the server never
            // needs to read it all (it may answer and close early).
            if (::poll(&p, 1, 120'000) <= 0) return false;
            if ((p.revents & (POLLERR | POLLHUP)) != 0) return false;
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                return false;  // EPIPE / ECONNRESET: the server refused and closed
            }
            bytes.remove_prefix(static_cast<size_t>(n));
            // Stop early when the server has already answered.
            pollfd r{fd_, POLLIN, 0};
            if (::poll(&r, 1, 0) > 0 && (r.revents & POLLIN) != 0) {
                answered_early_ = true;
                return false;
            }
        }
        return true;
    }
    void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

    /// Reads until the first response's head is complete and then until close or a quiet spell.
    RawOutcome Read(std::chrono::milliseconds overall = 120s) {
        RawOutcome out;
        std::string buf;
        const auto deadline = std::chrono::steady_clock::now() + overall;
        char chunk[65536];
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            // Once a full head is in, the rest is optional: wait briefly for a close.
            const int wait = out.status != 0 ? 2000 : static_cast<int>(left.count());
            const int pr = ::poll(&p, 1, wait);
            if (pr == 0) break;
            if (pr < 0) {
                if (errno == EINTR) continue;
                break;
            }
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n == 0 || (n < 0 && errno == ECONNRESET)) {
                out.closed = true;
                break;
            }
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                out.closed = true;
                break;
            }
            buf.append(chunk, static_cast<size_t>(n));
            if (out.status == 0 && buf.size() >= 12 && buf.compare(0, 5, "HTTP/") == 0) {
                out.status = std::atoi(buf.c_str() + 9);
            }
            if (buf.size() > (1u << 20)) break;
        }
        out.head = buf.substr(0, buf.find("\r\n\r\n"));
        return out;
    }

  private:
    int fd_ = -1;
    bool answered_early_ = false;
};

std::string Auth() {
    return "Authorization: Basic " + wisp::common::Base64Encode(Wisp().guest_auth()) + "\r\n";
}

std::string Head(const std::string& method, const std::string& path,
                 const std::string& extra_headers) {
    return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(Wisp().port()) +
           "\r\n" + Auth() + extra_headers;
}

/// A request with a whole body and an honest Content-Length.
RawOutcome SendJson(const std::string& method, const std::string& path, const std::string& body) {
    RawClient c(Wisp().port());
    c.Send(Head(method, path,
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n"));
    c.Send(body);
    return c.Read();
}

void CheckRefused(const RawOutcome& r) {
    INFO(r.Describe());
    if (r.status == 0) {
        CHECK(r.closed);
    } else {
        CHECK(r.status >= 400);
        CHECK(r.status < 500);
    }
}

void CheckPing() {
    HttpClient http(Wisp().api_host(), "");
    auto r = http.Get("/ping");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    CHECK(Wisp().Running());
}

/// The routes that take a body (entity names are unique to this test process).
std::vector<std::pair<std::string, std::string>> BodyRoutes() {
    const std::string ns = "/api/v1/namespaces/_";
    return {
        {"PUT", ns + "/actions/hostile-a"},  {"POST", ns + "/actions/hostile-a"},
        {"PUT", ns + "/triggers/hostile-t"}, {"POST", ns + "/triggers/hostile-t"},
        {"PUT", ns + "/rules/hostile-r"},    {"POST", ns + "/rules/hostile-r"},
        {"PUT", ns + "/packages/hostile-p"}, {"POST", "/api/v1/web/guest/default/hostile-w.json"},
    };
}

void Setup() {
    static bool done = false;
    if (done) return;
    HttpClient http(Wisp().api_host(), Wisp().guest_auth());
    const std::string ns = "/api/v1/namespaces/_";
    const std::string code = R"({"exec":{"kind":"python:3.11","code":"def main(a): return a"})";
    REQUIRE(http.Put(ns + "/actions/hostile-a", code + "}").status == 200);
    REQUIRE(http.Put(ns + "/actions/hostile-w",
                     code + R"(,"annotations":[{"key":"web-export","value":true}]})")
                .status == 200);
    REQUIRE(http.Put(ns + "/triggers/hostile-t", "{}").status == 200);
    REQUIRE(
        http.Put(ns + "/rules/hostile-r", R"({"trigger":"/_/hostile-t","action":"/_/hostile-a"})")
            .status == 200);
    done = true;
}

}  // namespace

TEST_CASE("hostile JSON bodies on every route that takes one", "[e2e][hostile]") {
    Setup();
    std::string deep_objects;
    for (int i = 0; i < 200'000; ++i) deep_objects += "{\"a\":";
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"a million [", std::string(1'000'000, '[')},
        {"deep objects", deep_objects},
        {"invalid UTF-8",
         "{\"exec\":{\"kind\":\"\xff\xfe\",\"code\":\"\xc0\xaf\"},\"status\":\"\xed\xa0\x80\"}"},
        {"huge numbers", "{\"status\":1e999999,\"n\":" + std::string(100'000, '9') + "}"},
        {"NUL bytes", std::string("{\"status\":\"active\"}\0\0{\"x\":1}", 27)},
        {"NUL in a key", std::string("{\"sta\0tus\":\"active\",\"exec\":0}", 29)},
        {"garbage", "\x01\x02\x03{{{]]]"},
    };
    for (const auto& [what, body] : bodies) {
        for (const auto& [method, path] : BodyRoutes()) {
            INFO(what << ": " << method << " " << path);
            CheckRefused(SendJson(method, path, body));
            CheckPing();
        }
    }
}

TEST_CASE("lying Content-Length and framing", "[e2e][hostile]") {
    Setup();
    for (const auto& [method, path] : BodyRoutes()) {
        INFO(method << " " << path);
        {  // declares more than it sends, then half-closes
            RawClient c(Wisp().port());
            c.Send(Head(method, path,
                        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"));
            c.Send("{\"status\":");
            c.ShutdownWrite();
            CheckRefused(c.Read());
        }
        CheckPing();
        {  // declares less than it sends: the rest is a second, garbage request
            RawClient c(Wisp().port());
            c.Send(
                Head(method, path, "Content-Type: application/json\r\nContent-Length: 5\r\n\r\n"));
            c.Send("{\"status\":\"active\"} GARBAGE / HTTP/9.9\r\n\r\n");
            CheckRefused(c.Read());
        }
        CheckPing();
        for (const char* length : {"99999999999999999999", "-1", "12abc", "1, 2"}) {
            INFO("Content-Length: " << length);
            RawClient c(Wisp().port());
            c.Send(Head(method, path,
                        std::string("Content-Type: application/json\r\nContent-Length: ") + length +
                            "\r\n\r\n{}"));
            CheckRefused(c.Read());
            CheckPing();
        }
        {  // both framings (request smuggling)
            RawClient c(Wisp().port());
            c.Send(Head(method, path,
                        "Content-Type: application/json\r\nContent-Length: 4\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"));
            auto r = c.Read();
            INFO(r.Describe());
            CHECK(r.status < 500);
        }
        CheckPing();
    }
}

TEST_CASE("a 60 MB chunked body is refused without being buffered", "[e2e][hostile]") {
    Setup();
    const std::string chunk_data(1 << 20, 'x');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk_data.size());
    const std::string chunk = std::string(size_line) + chunk_data + "\r\n";
    for (const auto& [method, path] : BodyRoutes()) {
        INFO(method << " " << path);
        RawClient c(Wisp().port());
        c.Send(Head(method, path,
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
        c.Send("1\r\n\"\r\n");
        for (int i = 0; i < 60; ++i) {
            if (!c.Send(chunk)) break;  // refused early: good
        }
        c.Send("1\r\n\"\r\n0\r\n\r\n");
        auto r = c.Read();
        INFO(r.Describe());
        CheckRefused(r);
        // Refused as too large when the server answered at all.
        if (r.status != 0) CHECK(r.status == 413);
        CheckPing();
    }
}

TEST_CASE("64 KB of headers and a 1 MB URL", "[e2e][hostile]") {
    Setup();
    for (const auto& [method, path] : BodyRoutes()) {
        INFO(method << " " << path);
        {
            RawClient c(Wisp().port());
            std::string headers;
            for (int i = 0; headers.size() < 64 * 1024; ++i) {
                headers += "X-Filler-" + std::to_string(i) + ": " + std::string(100, 'h') + "\r\n";
            }
            c.Send(Head(method, path, headers + "Content-Length: 2\r\n\r\n{}"));
            auto r = c.Read();
            CheckRefused(r);
            if (r.status != 0) CHECK(r.status == 431);
        }
        CheckPing();
        {
            RawClient c(Wisp().port());
            c.Send(Head(method, path + "?x=" + std::string(1 << 20, 'u'),
                        "Content-Length: 2\r\n\r\n{}"));
            auto r = c.Read();
            CheckRefused(r);
            if (r.status != 0) CHECK(r.status == 414);
        }
        CheckPing();
        {  // one header line of 64 KB
            RawClient c(Wisp().port());
            c.Send(
                Head(method, path,
                     "X-Big: " + std::string(64 * 1024, 'b') + "\r\nContent-Length: 2\r\n\r\n{}"));
            CheckRefused(c.Read());
        }
        CheckPing();
    }
}
