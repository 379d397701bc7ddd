// The whole REST request path from raw bytes: the controller's HTTP server (request parsing,
// limits, 100-continue, keep-alive, pipelining) -> router -> authentication -> entitlement ->
// handlers -> response, over an in-memory SQLite store and a balancer that completes every
// activation at once.
//
// Each input is sent as it is on a fresh loopback connection to a real HttpServer (one thread),
// then the client half-closes and reads until the server closes. The server exposes no
// in-process seam for its parser, and going through its socket also covers the connection
// state machine. Every input starts from the same store: guest (whose Basic credentials are in
// the seeds and the dictionary) owns an action, a web action, a sequence, a package and a
// binding, a trigger and a rule; "other" owns a namespace guest may not touch.
//
// Properties: the server never crashes or hangs; what it sends is a sequence of well-formed
// HTTP/1.1 responses with a status in 100..599, never 500 (an in-memory store does not fail, so
// a 500 means a handler threw or dropped its responder).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <wisp/common/activation.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http_server.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "fuzz_check.hpp"

namespace {

using namespace wisp;
using controller::HttpRequest;
using controller::HttpResponse;

// OpenWhisk's well-known development keys; this store is the fuzzer's own.
constexpr std::string_view kGuestKey =
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
constexpr std::string_view kGuestBasic =
    "Basic MjNiYzQ2YjEtNzFmNi00ZWQ1LThjNTQtODE2YWE0ZjhjNTAyOjEyM3pPM3haQ0xyTU42djJCS0sxZFhZRnBYbF"
    "BrY2NPRnFtMTJDZEFzTWdSVTRWck5aOWx5R1ZDR3VNREdJd1A=";
constexpr std::string_view kOtherKey =
    "789c46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

/// One store, balancer and controller; a fresh one for every input.
struct World {
    testing::ManualClock clock{1795000000000};
    std::unique_ptr<store::ArtifactStore> store;
    std::unique_ptr<testing::FakeBalancer> balancer;
    std::unique_ptr<controller::Controller> api;

    World() {
        store = store::OpenArtifactStore("sqlite::memory:").value();
        AddSubject("guest", kGuestKey);
        AddSubject("other", kOtherKey);
        // Completes every activation on one worker thread, in order: the result is the
        // arguments plus {"ran":"<action>"}, or an application error when they mention "fail".
        // Drain() waits until nothing is queued or running (sequences publish their next step
        // from a callback).
        testing::FakeBalancer::Options options;
        options.store = store.get();
        options.start_ms = 1795000000000;
        options.respond = [ran = testing::FakeBalancer::ArgumentsPlusRan("fail")](
                              const wisp::v1::ActivationMessage& msg,
                              common::ActivationRecord& record) {
            ran(msg, record);
            // The controller sent an object; it must round-trip.
            FUZZ_ASSERT(record.response.status != common::ActivationStatus::kWhiskError);
        };
        balancer = std::make_unique<testing::FakeBalancer>(std::move(options));
        controller::ControllerConfig config;
        config.system_limits.invocations_per_minute = 1 << 30;
        config.system_limits.concurrent_invocations = 1 << 30;
        config.system_limits.fires_per_minute = 1 << 30;
        config.max_blocking_wait = std::chrono::milliseconds(5000);
        api = std::make_unique<controller::Controller>(
            *store, *balancer, common::RuntimeManifest::BuiltIn(), clock, std::move(config));
        constexpr std::string_view kNs = "/api/v1/namespaces/_/";
        Put(kNs, "actions/hello", R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})");
        Put(kNs, "actions/web",
            R"({"exec":{"kind":"nodejs:18","code":"function main(a){return a}"},)"
            R"("annotations":[{"key":"web-export","value":true},{"key":"raw-http","value":false}]})");
        Put(kNs, "actions/seq",
            R"({"exec":{"kind":"sequence","components":["/guest/hello","/guest/hello"]}})");
        Put(kNs, "packages/pkg", R"({"publish":true,"parameters":[{"key":"p","value":1}]})");
        Put(kNs, "actions/pkg/inner",
            R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})");
        Put(kNs, "packages/bound", R"({"binding":{"namespace":"guest","name":"pkg"}})");
        Put(kNs, "triggers/t", R"({"parameters":[{"key":"x","value":"y"}]})");
        Put(kNs, "rules/r", R"({"trigger":"/_/t","action":"/_/hello"})");
        Put("/api/v1/namespaces/other/", "actions/secret",
            R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})", kOtherKey);
        balancer->Drain();
    }
    ~World() {
        api->Shutdown();
        balancer->Shutdown();
    }

    void AddSubject(std::string_view name, std::string_view key) {
        common::Subject subject;
        subject.subject = std::string(name);
        subject.namespaces.push_back({std::string(name), common::AuthKey::Parse(key).value()});
        FUZZ_ASSERT(store->PutSubject(subject, "").ok());
    }

    // A setup request through the controller itself; it must succeed.
    void Put(std::string_view prefix, std::string_view rest, std::string body,
             std::string_view key = kGuestKey) {
        HttpRequest req;
        req.method = "PUT";
        req.target = std::string(prefix) + std::string(rest);
        FUZZ_ASSERT(controller::ParseTarget(req.target, req.path, req.query));
        req.headers.emplace_back("authorization",
                                 key == kGuestKey ? std::string(kGuestBasic) : BasicFor(key));
        req.headers.emplace_back("content-type", "application/json");
        req.body = std::move(body);
        req.remote_address = "127.0.0.1";
        std::mutex mu;
        std::condition_variable cv;
        int status = 0;
        api->Handle(std::move(req), [&](HttpResponse r) {
            std::lock_guard lock(mu);
            status = r.status;
            cv.notify_all();
        });
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return status != 0; });
        if (status != 200) {
            std::fprintf(stderr, "fuzz setup: PUT %s%s answered %d\n", std::string(prefix).c_str(),
                         std::string(rest).c_str(), status);
            std::abort();
        }
    }

    static std::string BasicFor(std::string_view key) {
        return "Basic " + common::Base64Encode(key);
    }
};

struct Harness {
    std::mutex mu;
    std::shared_ptr<World> world;  // the controller the server's handler forwards to
    std::unique_ptr<controller::HttpServer> server;

    Harness() {
        controller::HttpServerConfig config;
        config.address = "127.0.0.1";
        config.port = 0;
        config.threads = 1;
        config.max_body_bytes = 1 << 20;  // small enough that limits are reachable
        config.stop_timeout = std::chrono::milliseconds(1000);
        config.head_check = [this](const HttpRequest& req) {
            return Current()->api->CheckHead(req);
        };
        server = std::make_unique<controller::HttpServer>(
            config, [this](HttpRequest&& req, controller::Responder respond) {
                Current()->api->Handle(std::move(req), std::move(respond));
            });
        FUZZ_ASSERT(server->Start().ok());
    }

    std::shared_ptr<World> Current() {
        std::lock_guard lock(mu);
        return world;
    }
};

Harness* g_harness = nullptr;

/// Sends `request` on a new connection, half-closes, returns everything until the server
/// closes. Aborts when the server does not finish within 8 s (a hang is a finding too).
std::string Exchange(uint16_t port, std::string_view request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_ASSERT(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A loopback connect can fail for a moment when the host runs short of ephemeral ports or
    // the accept queue is full (other suites beside this one); that is the host, not a finding:
    // retry a few times, then abort with the errno.
    int connected = -1;
    for (int attempt = 0; attempt < 50 && connected != 0; ++attempt) {
        connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        if (connected == 0) break;
        const int err = errno;
        if (err != EADDRNOTAVAIL && err != EAGAIN && err != EINTR && err != ECONNREFUSED &&
            err != ETIMEDOUT) {
            break;
        }
        std::fprintf(stderr, "fuzz_http_request: connect: %s (retrying)\n", std::strerror(err));
        ::close(fd);
        ::usleep(20000);
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        FUZZ_ASSERT(fd >= 0);
    }
    if (connected != 0)
        std::fprintf(stderr, "fuzz_http_request: connect: %s\n", std::strerror(errno));
    FUZZ_ASSERT(connected == 0);
    // Close with a reset: no TIME_WAIT, so thousands of connections a second never run out of
    // ephemeral ports.
    linger no_linger{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

    std::string response;
    size_t sent = 0;
    bool write_open = true;
    if (request.empty()) {
        ::shutdown(fd, SHUT_WR);
        write_open = false;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(8);
    char chunk[16384];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) {
            std::fprintf(stderr, "the server neither answered nor closed within 8 s\n");
            std::abort();
        }
        pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        FUZZ_ASSERT(r >= 0);
        if (write_open && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
            if (n > 0) sent += static_cast<size_t>(n);
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || sent == request.size()) {
                ::shutdown(fd, SHUT_WR);  // the server sees the end of the input
                write_open = false;
            }
        }
        if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n > 0) {
                response.append(chunk, static_cast<size_t>(n));
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                break;  // closed (or reset after an early answer)
            }
        }
    }
    ::close(fd);
    return response;
}

bool ParseDecimal(std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 18) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
}

/// Checks that `bytes` is a sequence of well-formed responses (the last may be cut short by a
/// reset after an early answer). Returns how many complete responses it holds.
int CheckResponses(std::string_view bytes) {
    int complete = 0;
    while (!bytes.empty()) {
        const size_t head_end = bytes.find("\r\n\r\n");
        if (head_end == std::string_view::npos) {
            FUZZ_ASSERT(std::string_view("HTTP/1.1 ").substr(0, bytes.size()) ==
                        bytes.substr(0, std::min<size_t>(bytes.size(), 9)));
            return complete;
        }
        const std::string_view head = bytes.substr(0, head_end);
        FUZZ_ASSERT(head.size() >= 12 && head.substr(0, 9) == "HTTP/1.1 ");
        uint64_t status = 0;
        FUZZ_ASSERT(ParseDecimal(head.substr(9, 3), status));
        FUZZ_ASSERT(status >= 100 && status <= 599);
        if (status == 500) {
            std::fprintf(stderr, "the server answered 500:\n%.*s\n",
                         static_cast<int>(std::min<size_t>(bytes.size(), 2000)), bytes.data());
            std::abort();
        }
        bytes.remove_prefix(head_end + 4);
        if (status < 200) continue;  // 100 Continue: the real answer follows
        std::optional<uint64_t> length;
        size_t pos = head.find("\r\n");
        while (pos != std::string_view::npos) {
            const size_t next = head.find("\r\n", pos + 2);
            std::string_view line = head.substr(
                pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
            const size_t colon = line.find(':');
            FUZZ_ASSERT(colon != std::string_view::npos && colon > 0);
            const std::string name = common::AsciiLower(line.substr(0, colon));
            FUZZ_ASSERT(line.find_first_of(std::string_view("\r\n\0", 3)) ==
                        std::string_view::npos);
            if (name == "content-length") {
                FUZZ_ASSERT(!length);  // exactly one
                uint64_t n = 0;
                FUZZ_ASSERT(ParseDecimal(line.substr(colon + 2), n));
                length = n;
            }
            pos = next;
        }
        if (status == 204 || status == 304) {
            ++complete;
            continue;
        }
        FUZZ_ASSERT(length.has_value());
        // The answer to HEAD declares the length of a body it does not send. Which one this is
        // shows where the next answer starts (or that the bytes end).
        auto starts_answer = [](std::string_view rest) {
            return rest.empty() || rest.substr(0, std::min<size_t>(rest.size(), 9)) ==
                                       std::string_view("HTTP/1.1 ").substr(0, rest.size());
        };
        if (*length <= bytes.size() && starts_answer(bytes.substr(static_cast<size_t>(*length)))) {
            bytes.remove_prefix(static_cast<size_t>(*length));
        } else if (!starts_answer(bytes)) {
            FUZZ_ASSERT(*length > bytes.size());  // else the framing is wrong
            return complete;                      // cut short by a reset after an early answer
        }
        ++complete;
    }
    return complete;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    spdlog::set_level(spdlog::level::off);
    g_harness = new Harness();  // lives until exit: the server's threads run through it
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto world = std::make_shared<World>();
    {
        std::lock_guard lock(g_harness->mu);
        g_harness->world = world;
    }
    const std::string response = Exchange(
        g_harness->server->port(), std::string_view(reinterpret_cast<const char*>(data), size));
    CheckResponses(response);
    // Activations started by the input (fires, non-blocking invokes) finish before the next one.
    world->balancer->Drain();
    return 0;
}
