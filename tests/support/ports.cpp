#include <wisp/testing/ports.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <absl/strings/str_cat.h>

namespace wisp::testing {

namespace {

/// Closes a socket descriptor when it goes out of scope.
class SocketGuard {
  public:
    explicit SocketGuard(int fd) : fd_(fd) {}
    ~SocketGuard() {
        if (fd_ >= 0) ::close(fd_);
    }
    SocketGuard(const SocketGuard&) = delete;
    SocketGuard& operator=(const SocketGuard&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

bool TryConnect(const std::string& host, int port) {
    SocketGuard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) !=
        1) {
        return false;
    }
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

}  // namespace

absl::StatusOr<int> FindFreeLoopbackPort() {
    SocketGuard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
        return absl::UnavailableError(absl::StrCat("socket(): ", std::strerror(errno)));
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        return absl::UnavailableError(
            absl::StrCat("bind(127.0.0.1:0): ", std::strerror(errno), "; is loopback up?"));
    }
    socklen_t len = sizeof addr;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        return absl::UnavailableError(absl::StrCat("getsockname(): ", std::strerror(errno)));
    }
    return static_cast<int>(ntohs(addr.sin_port));
}

absl::Status WaitForTcpPort(const std::string& host, int port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (TryConnect(host, port)) return absl::OkStatus();
        if (std::chrono::steady_clock::now() >= deadline) {
            return absl::DeadlineExceededError(absl::StrCat(
                host, ":", port, " did not accept connections within ", timeout.count(), " ms"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

}  // namespace wisp::testing
