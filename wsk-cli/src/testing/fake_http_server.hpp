#pragma once
// Test support for the wsk unit tests: a tiny HTTP/1.1 server on a loopback port (one
// connection at a time, Connection: close) that records each request and answers it with a
// handler. The fakes of the controller (trigger_commands_test, project_commands_test) are built
// on it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

namespace wsk::testing {

struct Request {
    std::string method;
    std::string target;  // path and query
    std::string body;

    std::string path() const { return target.substr(0, target.find('?')); }
    std::string query() const {
        const auto q = target.find('?');
        return q == std::string::npos ? "" : target.substr(q);
    }
};

class FakeHttpServer {
  public:
    /// status and JSON body for a request; called under the server's lock.
    using Handler = std::function<std::pair<int, std::string>(const Request&)>;

    explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 16) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { Serve(); });
    }
    ~FakeHttpServer() {
        ::shutdown(fd_, SHUT_RDWR);  // accept() returns: the thread ends
        thread_.join();
        ::close(fd_);
    }
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::vector<Request> requests() {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }
    /// "METHOD /path" of each request, without the query (for sequence checks).
    std::vector<std::string> calls() {
        std::vector<std::string> out;
        for (const auto& r : requests()) out.push_back(r.method + " " + r.path());
        return out;
    }
    void clear() {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.clear();
    }
    /// The number of requests so far (inside a handler: including the current one).
    size_t count_locked() const { return requests_.size(); }
    std::mutex& mutex() { return mu_; }

  private:
    void Serve() {
        for (;;) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) {
                if (errno == EINTR) continue;
                return;
            }
            HandleConnection(c);
            ::close(c);
        }
    }

    void HandleConnection(int c) {
        std::string buf;
        char chunk[4096];
        size_t head_end = std::string::npos;
        while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
            const ssize_t n = ::read(c, chunk, sizeof chunk);
            if (n <= 0) return;
            buf.append(chunk, static_cast<size_t>(n));
        }
        Request req;
        std::istringstream head(buf.substr(0, head_end));
        head >> req.method >> req.target;
        size_t length = 0;
        std::string line;
        while (std::getline(head, line)) {
            std::string lower;
            for (char ch : line) lower += static_cast<char>(std::tolower(ch));
            if (lower.rfind("content-length:", 0) == 0) length = std::stoul(line.substr(15));
        }
        req.body = buf.substr(head_end + 4);
        while (req.body.size() < length) {
            const ssize_t n = ::read(c, chunk, sizeof chunk);
            if (n <= 0) return;
            req.body.append(chunk, static_cast<size_t>(n));
        }
        std::pair<int, std::string> answer;
        {
            std::lock_guard<std::mutex> lock(mu_);
            requests_.push_back(req);
            answer = handler_(req);
        }
        const auto& [status, body] = answer;
        const std::string out = "HTTP/1.1 " + std::to_string(status) +
                                " X\r\nContent-Type: application/json\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
                                body;
        size_t sent = 0;
        while (sent < out.size()) {
            const ssize_t n = ::write(c, out.data() + sent, out.size() - sent);
            if (n <= 0) return;
            sent += static_cast<size_t>(n);
        }
    }

    Handler handler_;
    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
    std::mutex mu_;
    std::vector<Request> requests_;
};

}  // namespace wsk::testing
