#include "native_runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>

#include "protocol.hpp"

namespace wisp::proxy {
namespace {

// Linux MAX_ARG_STRLEN - 1: longer arguments go on stdin only (as in the dockerskeleton).
constexpr size_t kMaxArgument = 131071;

struct Child {
    Child(asio::io_context& io, int in_fd, int out_fd, std::string argument)
        : in(io, in_fd), out(io, out_fd), input(std::move(argument)) {}
    asio::posix::stream_descriptor in;
    asio::posix::stream_descriptor out;
    std::string input;
    bool exited = false;
};

}  // namespace

asio::awaitable<NativeOutcome> NativeRunner::Run(std::string executable, std::string cwd,
                                                 std::vector<std::string> env, std::string input,
                                                 LogCapture* capture) {
    auto logs = [capture](std::string_view bytes) {
        if (capture != nullptr) {
            capture->Feed(1, bytes);
        } else {
            (void)WriteAll(1, bytes);
        }
    };
    NativeOutcome outcome;
    int in[2], out[2];
    if (!MakePipe(in, outcome.error)) co_return outcome;
    if (!MakePipe(out, outcome.error)) {
        ::close(in[0]);
        ::close(in[1]);
        co_return outcome;
    }
    SpawnSpec spec;
    spec.argv.push_back(std::move(executable));
    if (input.size() <= kMaxArgument) spec.argv.push_back(input);
    spec.env = std::move(env);
    spec.cwd = std::move(cwd);
    spec.stdin_fd = in[0];
    spec.stdout_fd = out[1];
    if (capture != nullptr && capture->is_open()) spec.stderr_fd = capture->stderr_fd();
    pid_t pid = Spawn(spec, outcome.error);
    ::close(in[0]);
    ::close(out[1]);
    if (pid < 0) {
        ::close(in[1]);
        ::close(out[0]);
        co_return outcome;
    }
    outcome.started = true;
    running_ = pid;
    auto child = std::make_shared<Child>(io_, in[1], out[0], std::move(input));
    watcher_.Watch(pid, [child](int) {
        child->exited = true;
        boost::system::error_code ignored;
        child->out.cancel(ignored);  // the reader drains the pipe and stops
    });
    asio::co_spawn(
        io_,
        [child]() -> asio::awaitable<void> {
            boost::system::error_code ec;  // EPIPE when the program ignores stdin: fine
            co_await asio::async_write(child->in, asio::buffer(child->input),
                                       asio::redirect_error(asio::use_awaitable, ec));
            child->in.close(ec);
        },
        asio::detached);

    LastLineSplitter splitter;
    std::string chunk(64 * 1024, '\0');
    while (!child->exited) {
        boost::system::error_code ec;
        size_t n = co_await child->out.async_read_some(
            asio::buffer(chunk), asio::redirect_error(asio::use_awaitable, ec));
        if (n > 0) logs(splitter.Feed(std::string_view(chunk.data(), n)));
        if (ec) break;
    }
    if (child->out.is_open()) {
        std::string rest;
        ReadAvailable(child->out.native_handle(), rest);
        logs(splitter.Feed(rest));
    }
    boost::system::error_code ignored;
    child->out.close(ignored);
    child->in.close(ignored);  // stops a writer the program never read from
    running_ = -1;
    NativeOutput split = splitter.Finish();
    logs(split.logs);
    outcome.result = std::string(split.result);
    outcome.too_long = split.too_long;
    co_return outcome;
}

void NativeRunner::Kill() {
    if (running_ > 0) {
        ::kill(-running_, SIGKILL);
        ::kill(running_, SIGKILL);
    }
}

}  // namespace wisp::proxy
