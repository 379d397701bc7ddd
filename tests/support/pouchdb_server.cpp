#include <wisp/testing/pouchdb_server.hpp>

#include <signal.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <absl/strings/str_cat.h>

#include <wisp/testing/ports.hpp>

namespace wisp::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr int kStartAttempts = 3;  // a free port can be taken before the server binds it

/// The repository root: WISP_SOURCE_DIR when the build defines it, else derived from this
/// file's path (tests/support/pouchdb_server.cpp).
std::filesystem::path SourceDir() {
#ifdef WISP_SOURCE_DIR
    return WISP_SOURCE_DIR;
#else
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
#endif
}

/// Sends "GET / HTTP/1.0" to 127.0.0.1:port; true on a 200 answer.
bool AnswersHttp(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    timeval tv{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        static constexpr std::string_view kRequest =
            "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n";
        if (::send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(kRequest.size())) {
            char buf[64] = {0};
            const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
            const std::string_view answer(buf, n > 0 ? static_cast<size_t>(n) : 0);
            ok = answer.starts_with("HTTP/1.") && answer.substr(8, 4) == " 200";
        }
    }
    ::close(fd);
    return ok;
}

}  // namespace

std::string PouchDbServer::BinaryPath() {
    if (const char* env = std::getenv("WISP_POUCHDB_SERVER"); env != nullptr && *env != '\0') {
        return env;
    }
    return (SourceDir() / ".cache/npm/node_modules/.bin/pouchdb-server").string();
}

absl::StatusOr<std::unique_ptr<PouchDbServer>> PouchDbServer::Start(int port) {
    const std::string binary = BinaryPath();
    if (::access(binary.c_str(), X_OK) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("pouchdb-server not found at ", binary,
                         "; run tools/test-setup.sh (or set WISP_POUCHDB_SERVER)"));
    }
    absl::Status last = absl::UnknownError("not started");
    for (int attempt = 0; attempt < (port == 0 ? kStartAttempts : 1); ++attempt) {
        std::unique_ptr<PouchDbServer> server(new PouchDbServer());
        server->dir_ = std::make_unique<TempDir>("wisp-pouchdb-");
        if (port != 0) {
            server->port_ = port;
        } else {
            auto free_port = FindFreeLoopbackPort();
            if (!free_port.ok()) return free_port.status();
            server->port_ = *free_port;
        }
        SpawnOptions options;
        options.argv = {binary,      "--in-memory",
                        "--host",    "127.0.0.1",
                        "--port",    std::to_string(server->port_),
                        "--config",  server->dir_->File("config.json"),
                        "--no-color"};
        options.working_dir = server->dir_->path().string();  // log.txt lands here
        options.log_path = server->dir_->File("stdout.log");
        auto child = ChildProcess::Spawn(options);
        if (!child.ok()) return child.status();
        server->child_ = std::move(*child);

        last = server->child_->WaitForPort(
            server->port_, std::chrono::duration_cast<std::chrono::milliseconds>(kStartTimeout));
        if (last.ok()) {
            const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
            while (!AnswersHttp(server->port_) && server->child_->Running() &&
                   std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            if (AnswersHttp(server->port_)) return server;
            last = absl::UnavailableError(
                absl::StrCat("no HTTP 200 from GET / ; log tail:\n", server->child_->LogTail()));
        }
        // Port taken by someone else, or a slow start: stop this one and try a fresh port.
    }
    return absl::UnavailableError(
        absl::StrCat("pouchdb-server (", binary, ") did not come up: ", last.message()));
}

absl::StatusOr<PouchDbServer*> PouchDbServer::Shared() {
    static absl::StatusOr<std::unique_ptr<PouchDbServer>> server = Start(0);
    if (!server.ok()) return server.status();
    return server->get();
}

PouchDbServer::~PouchDbServer() {
    if (child_) child_->Stop();
    child_.reset();
    dir_.reset();  // after the server stopped writing into it
}

std::string PouchDbServer::url() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::string PouchDbServer::StoreUri(std::string_view db_prefix) const {
    return absl::StrCat(url(), "?prefix=", std::string(db_prefix));
}

std::string PouchDbServer::UniquePrefix() {
    static std::atomic<int> counter{0};
    return absl::StrCat("t", ::getpid(), "_", counter.fetch_add(1), "_");
}

void PouchDbServer::Pause() {
    if (child_) (void)::kill(-child_->pid(), SIGSTOP);
}

void PouchDbServer::Resume() {
    if (child_) (void)::kill(-child_->pid(), SIGCONT);
}

}  // namespace wisp::testing
