// wisp-kafka-dev-broker: a Kafka-protocol broker for local runs and tests — a thin program
// around librdkafka's mock cluster (rdkafka_mock.h). Not for production: it keeps everything in
// memory, implements a subset of the protocol (produce, fetch, consumer groups, offset commits,
// metadata with automatic topic creation; no CreateTopics, no retention settings) and forgets
// everything when it stops. Production runs Apache Kafka.
//
//   wisp-kafka-dev-broker [--port P] [--brokers N]
//
// The mock brokers listen on ephemeral ports of 127.0.0.1. With --port P (not 0) a small TCP
// forwarder listens on 127.0.0.1:P and forwards to the first mock broker, so that clients can
// bootstrap from a fixed address; the cluster's metadata then points them at the brokers' own
// ports (also on 127.0.0.1). Once ready it prints one line on stdout,
//   bootstrap=127.0.0.1:P          (or the mock's own list with --port 0)
// and runs until SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "long_poll_proxy.hpp"

namespace {

/// Closes a descriptor when it goes out of scope.
class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

  private:
    int fd_;
};

/// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, const char* data, size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

/// Listens on 127.0.0.1:port and copies bytes both ways between each accepted connection and
/// a new connection to 127.0.0.1:target_port (one thread per connection: a few clients).
class Forwarder {
  public:
    Forwarder(int port, int target_port) : port_(port), target_port_(target_port) {}

    ~Forwarder() {
        if (stop_ && stop_->get() >= 0) {
            const uint64_t one = 1;
            (void)!::write(stop_->get(), &one, sizeof one);
        }
        if (acceptor_.joinable()) acceptor_.join();
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& t : connections_) t.join();
    }

    /// Binds and starts accepting; false (with a message on stderr) when the port is taken.
    bool Start() {
        listener_ = std::make_unique<Fd>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        stop_ = std::make_unique<Fd>(::eventfd(0, EFD_CLOEXEC));
        if (listener_->get() < 0 || stop_->get() < 0) return Fail("socket");
        const int yes = 1;
        ::setsockopt(listener_->get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in addr = Loopback(port_);
        if (::bind(listener_->get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return Fail("bind 127.0.0.1:" + std::to_string(port_));
        }
        if (::listen(listener_->get(), 64) != 0) return Fail("listen");
        acceptor_ = std::thread([this] { Accept(); });
        return true;
    }

  private:
    static sockaddr_in Loopback(int port) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return addr;
    }

    static bool Fail(const std::string& what) {
        std::fprintf(stderr, "wisp-kafka-dev-broker: %s: %s\n", what.c_str(), std::strerror(errno));
        return false;
    }

    void Accept() {
        while (true) {
            pollfd fds[2] = {{listener_->get(), POLLIN, 0}, {stop_->get(), POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[1].revents != 0) return;
            const int client = ::accept4(listener_->get(), nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            std::lock_guard<std::mutex> lock(mu_);
            connections_.emplace_back([this, client] { Shuttle(client); });
        }
    }

    void Shuttle(int client_fd) {
        Fd client(client_fd);
        Fd broker(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in addr = Loopback(target_port_);
        if (broker.get() < 0 ||
            ::connect(broker.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return;  // the client sees the connection close and retries
        }
        const int yes = 1;
        ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        ::setsockopt(broker.get(), IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        char buffer[64 * 1024];
        while (true) {
            pollfd fds[3] = {
                {client.get(), POLLIN, 0}, {broker.get(), POLLIN, 0}, {stop_->get(), POLLIN, 0}};
            if (::poll(fds, 3, -1) < 0) {
                if (errno == EINTR) continue;
                return;
            }
            if (fds[2].revents != 0) return;
            for (int i = 0; i < 2; ++i) {
                if (fds[i].revents == 0) continue;
                const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return;
                if (!WriteAll(fds[1 - i].fd, buffer, static_cast<size_t>(n))) return;
            }
        }
    }

    const int port_;
    const int target_port_;
    std::unique_ptr<Fd> listener_;
    std::unique_ptr<Fd> stop_;  // readable once the forwarder stops
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> connections_;
};

/// The port of the first "host:port" of a bootstrap list.
int FirstPort(const std::string& bootstraps) {
    const std::string first = bootstraps.substr(0, bootstraps.find(','));
    return std::stoi(first.substr(first.rfind(':') + 1));
}

/// The ports of a "host:port[,host:port...]" list.
std::vector<int> Ports(const std::string& list) {
    std::vector<int> ports;
    size_t start = 0;
    while (start < list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        const std::string one = list.substr(start, end - start);
        ports.push_back(std::stoi(one.substr(one.rfind(':') + 1)));
        start = end + 1;
    }
    return ports;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "wisp-kafka-dev-broker: a Kafka-protocol broker for local runs and tests (librdkafka's "
        "mock cluster, in memory, 127.0.0.1 only). Not for production: use Apache Kafka. "
        "Prints 'bootstrap=<host:port>' on stdout when ready; stops on SIGTERM/SIGINT."};
    int port = 0;
    int brokers = 1;
    app.add_option("--port", port,
                   "Port on 127.0.0.1 to bootstrap from (forwarded to the first broker); 0 = "
                   "print the brokers' own ephemeral ports")
        ->check(CLI::Range(0, 65535));
    app.add_option("--brokers", brokers, "Number of brokers in the cluster")
        ->check(CLI::Range(1, 16));
    bool long_poll = true;
    app.add_flag("!--no-long-poll", long_poll,
                 "Let the mock hold every empty fetch for the client's fetch.wait.max.ms, as "
                 "librdkafka's mock does (default: a fetch is answered as soon as a record "
                 "arrives, as Apache Kafka does)");
    CLI11_PARSE(app, argc, argv);

    // Every thread started from here on (librdkafka's, the forwarder's) inherits the mask, so
    // the signals reach only sigwait() below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    // The mock cluster needs a client instance for its bookkeeping; it never connects anywhere.
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == nullptr) {
        std::fprintf(stderr, "wisp-kafka-dev-broker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (cluster == nullptr) {
        std::fprintf(stderr, "wisp-kafka-dev-broker: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    const std::string brokers_list = rd_kafka_mock_cluster_bootstraps(cluster);

    std::unique_ptr<Forwarder> forwarder;
    std::vector<std::unique_ptr<wisp::kafka_dev::LongPollProxy>> proxies;
    std::string bootstrap = brokers_list;
    if (long_poll) {
        // Every client connection goes through a proxy (long_poll_proxy.hpp): node i's at
        // proxies[i - 1], the bootstrap one (--port) to node 1.
        wisp::kafka_dev::ProxyCluster::LimitApiVersions(cluster);
        auto shared = std::make_shared<wisp::kafka_dev::ProxyCluster>();
        const std::vector<int> ports = Ports(brokers_list);
        bootstrap.clear();
        for (size_t i = 0; i < ports.size(); ++i) {
            proxies.push_back(
                std::make_unique<wisp::kafka_dev::LongPollProxy>(shared, 0, ports[i]));
            if (!proxies.back()->Start()) return 1;
            shared->SetProxyPort(static_cast<int32_t>(i + 1), proxies.back()->port());
            bootstrap +=
                (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(proxies.back()->port());
        }
        if (port != 0) {
            proxies.push_back(
                std::make_unique<wisp::kafka_dev::LongPollProxy>(shared, port, ports[0]));
            if (!proxies.back()->Start()) return 1;
            bootstrap = "127.0.0.1:" + std::to_string(port);
        }
    } else if (port != 0) {
        forwarder = std::make_unique<Forwarder>(port, FirstPort(brokers_list));
        if (!forwarder->Start()) {
            forwarder.reset();
            rd_kafka_mock_cluster_destroy(cluster);
            rd_kafka_destroy(rk);
            return 1;
        }
        bootstrap = "127.0.0.1:" + std::to_string(port);
    }
    std::fprintf(stderr, "wisp-kafka-dev-broker: %d broker(s) at %s (dev/test only)\n", brokers,
                 brokers_list.c_str());
    std::printf("bootstrap=%s\n", bootstrap.c_str());
    std::fflush(stdout);

    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "wisp-kafka-dev-broker: stopping (signal %d)\n", signal);
    forwarder.reset();
    proxies.clear();
    rd_kafka_mock_cluster_destroy(cluster);
    rd_kafka_destroy(rk);
    return 0;
}
