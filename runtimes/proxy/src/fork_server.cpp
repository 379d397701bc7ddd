#include "fork_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace wisp::proxy {
namespace {

// A descriptor moved to >= 10 (as MakePipe does), close-on-exec; -1 on failure.
int MoveHigh(int fd) {
    int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    ::close(fd);
    return moved;
}

// One message with `nfds` descriptors (SCM_RIGHTS); errno is left as sendmsg set it.
ssize_t SendWithFds(int socket, const std::string& message, const int* fds, int nfds) {
    iovec iov{const_cast<char*>(message.data()), message.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    if (nfds > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(static_cast<size_t>(nfds) * sizeof(int));
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(static_cast<size_t>(nfds) * sizeof(int));
        std::memcpy(CMSG_DATA(c), fds, static_cast<size_t>(nfds) * sizeof(int));
    }
    return ::sendmsg(socket, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

ForkServer::ForkServer(asio::io_context& io, ChildWatcher& watcher)
    : io_(io), watcher_(watcher), socket_(io), mutex_(io.get_executor()) {}

ForkServer::~ForkServer() { Kill(); }

bool ForkServer::Supported() {
    // Its launchers are re-parented to the proxy (PID 1 in a container already is). Setting
    // it again is harmless.
    return ::getpid() == 1 || ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

bool ForkServer::Start(SpawnSpec spec, std::string& error) {
    int raw[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, raw) != 0) {
        error = std::string("socketpair: ") + std::strerror(errno);
        return false;
    }
    int ours = MoveHigh(raw[0]);
    int theirs = MoveHigh(raw[1]);
    if (ours < 0 || theirs < 0) {
        error = std::string("fcntl: ") + std::strerror(errno);
        if (ours >= 0) ::close(ours);
        if (theirs >= 0) ::close(theirs);
        return false;
    }
    spec.fd3 = theirs;
    spec.stdin_fd = -1;
    pid_ = Spawn(spec, error);
    ::close(theirs);
    if (pid_ < 0) {
        ::close(ours);
        return false;
    }
    (void)::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK);
    socket_.assign(ours);
    std::weak_ptr<ForkServer> weak = weak_from_this();
    watcher_.Watch(pid_, [weak](int) {
        auto self = weak.lock();
        if (!self) return;
        self->exited_ = true;
        boost::system::error_code ignored;
        self->socket_.cancel(ignored);
    });
    return true;
}

void ForkServer::Kill() {
    if (pid_ > 0 && !exited_) ::kill(pid_, SIGKILL);
}

asio::awaitable<std::optional<std::string>> ForkServer::Request(const std::string& message,
                                                                const int* fds, int nfds,
                                                                std::chrono::milliseconds limit) {
    auto self = shared_from_this();
    co_await mutex_.Lock();
    std::optional<std::string> answer;
    if (alive() && socket_.is_open()) {
        ::kill(pid_, SIGCONT);  // an action may have stopped it
        // The deadline cancels the waits below; `expired` outlives this frame.
        auto expired = std::make_shared<bool>(false);
        asio::steady_timer timer(io_);
        timer.expires_after(limit);
        std::weak_ptr<ForkServer> weak = self;
        timer.async_wait([weak, expired](const boost::system::error_code& ec) {
            if (ec) return;
            *expired = true;
            if (auto s = weak.lock()) {
                boost::system::error_code ignored;
                s->socket_.cancel(ignored);
            }
        });
        const int fd = socket_.native_handle();
        bool sent = false;
        while (!*expired && alive()) {
            if (SendWithFds(fd, message, fds, nfds) >= 0) {
                sent = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) break;
            boost::system::error_code ec;
            co_await socket_.async_wait(asio::posix::descriptor_base::wait_write,
                                        asio::redirect_error(asio::use_awaitable, ec));
        }
        while (sent && !*expired && alive()) {
            char buffer[64];
            ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                answer.emplace(buffer, static_cast<size_t>(n));
                break;
            }
            if (n == 0) break;  // the server is gone
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) break;
            boost::system::error_code ec;
            co_await socket_.async_wait(asio::posix::descriptor_base::wait_read,
                                        asio::redirect_error(asio::use_awaitable, ec));
        }
        timer.cancel();
        // A server that does not answer is of no use: a late answer must not be taken for the
        // next request's.
        if (!answer) Kill();
    }
    mutex_.Unlock();
    co_return answer;
}

asio::awaitable<pid_t> ForkServer::Fork(std::string line, int requests_read, int results_write,
                                        std::chrono::milliseconds limit) {
    auto self = shared_from_this();
    const int fds[2] = {requests_read, results_write};
    std::optional<std::string> answer;
    if (line.size() <= kMaxForkOrderBytes) answer = co_await Request(line, fds, 2, limit);
    ::close(requests_read);  // the launcher holds its own copies now
    ::close(results_write);
    pid_t pid = -1;
    if (answer) {
        int value = 0;
        auto [end, ec] = std::from_chars(answer->data(), answer->data() + answer->size(), value);
        if (ec == std::errc() && end == answer->data() + answer->size() && value > 1) pid = value;
    }
    co_return pid;
}

asio::awaitable<bool> ForkServer::KillOthers(std::chrono::milliseconds limit) {
    auto self = shared_from_this();
    std::optional<std::string> answer = co_await Request("kill", nullptr, 0, limit);
    if (answer && *answer == "killed") co_return true;
    Kill();
    co_return false;
}

}  // namespace wisp::proxy
