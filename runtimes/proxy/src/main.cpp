// wisp-action-proxy: runs inside every action container (or on a host, for tests) and serves
// the OpenWhisk action protocol. See runtimes/README.md.
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "action_proxy.hpp"
#include "http_server.hpp"
#include "options.hpp"
#include "protocol.hpp"

namespace {

void Fail(const std::string& message) {
    (void)wisp::proxy::WriteAll(2, "wisp-action-proxy: " + message);
    std::exit(2);
}

bool WritePortFile(const std::string& path, uint16_t port) {
    std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr) return false;
    bool ok = std::fprintf(f, "%u\n", static_cast<unsigned>(port)) > 0;
    ok = std::fclose(f) == 0 && ok;
    return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace wisp::proxy;
    std::string message;
    bool help = false;
    std::optional<ProxyOptions> options = ParseOptions(
        argc, argv, [](const char* name) { return std::getenv(name); }, message, help);
    if (!options) {
        if (help) {
            (void)WriteAll(1, message);
            return 0;
        }
        Fail(message);
    }
    // A launcher that died must not kill the proxy while it writes to its stdin.
    ::signal(SIGPIPE, SIG_IGN);

    asio::io_context io(1);
    ActionProxy proxy(io, *options);
    HttpServer server(io, proxy);
    std::string error;
    if (!server.Listen(*options, error)) Fail(error + "\n");
    // python/nodejs: the interpreter starts now, so that /init only hands it the code (before
    // the port file, so that a test that sees the port also sees the zygote).
    proxy.StartZygote();
    if (options->tcp && !options->port_file.empty() &&
        !WritePortFile(options->port_file, server.port())) {
        Fail("cannot write the port file " + options->port_file + "\n");
    }

    // PID 1 in a container ignores SIGTERM unless it handles it: docker stop must be quick.
    asio::signal_set stop(io, SIGTERM, SIGINT);
    stop.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        proxy.Shutdown();
        server.Close();
        io.stop();
    });
    io.run();
    if (!options->socket_path.empty()) ::unlink(options->socket_path.c_str());
    // Suspended coroutines (open connections, a run in flight) refer to `proxy` and `server`;
    // leave without unwinding them.
    ::_exit(0);
}
