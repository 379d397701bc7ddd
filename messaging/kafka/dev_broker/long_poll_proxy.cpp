#include "long_poll_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

namespace wisp::kafka_dev {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int16_t kProduce = 0;
constexpr int16_t kFetch = 1;
constexpr int16_t kMetadata = 3;
constexpr int16_t kFindCoordinator = 10;
constexpr int32_t kMaxFrame = 100 * 1024 * 1024;

int16_t Get16(const std::string& b, size_t at) {
    return static_cast<int16_t>((static_cast<uint8_t>(b[at]) << 8) |
                                static_cast<uint8_t>(b[at + 1]));
}
int32_t Get32(const std::string& b, size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
    return static_cast<int32_t>(v);
}
void Put32(std::string& b, size_t at, int32_t value) {
    const auto v = static_cast<uint32_t>(value);
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

/// Reads exactly `n` bytes; false on EOF or error.
bool ReadAll(int fd, char* data, size_t n) {
    while (n > 0) {
        const ssize_t got = ::recv(fd, data, n, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return false;
        data += got;
        n -= static_cast<size_t>(got);
    }
    return true;
}

bool WriteAll(int fd, const char* data, size_t n) {
    while (n > 0) {
        const ssize_t put = ::send(fd, data, n, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) return false;
        data += put;
        n -= static_cast<size_t>(put);
    }
    return true;
}

/// One Kafka frame (the 4-byte size and what follows), or nullopt at EOF.
std::optional<std::string> ReadFrame(int fd) {
    char size_bytes[4];
    if (!ReadAll(fd, size_bytes, 4)) return std::nullopt;
    const int32_t size = Get32(std::string(size_bytes, 4), 0);
    if (size < 0 || size > kMaxFrame) return std::nullopt;
    std::string frame(4 + static_cast<size_t>(size), '\0');
    std::memcpy(frame.data(), size_bytes, 4);
    if (!ReadAll(fd, frame.data() + 4, static_cast<size_t>(size))) return std::nullopt;
    return frame;
}

/// A bounds-checked reader over a response frame.
struct Cursor {
    const std::string& b;
    size_t at;
    bool ok = true;
    bool Need(size_t n) {
        if (!ok || at + n > b.size()) ok = false;
        return ok;
    }
    int16_t I16() {
        if (!Need(2)) return 0;
        at += 2;
        return Get16(b, at - 2);
    }
    int32_t I32() {
        if (!Need(4)) return 0;
        at += 4;
        return Get32(b, at - 4);
    }
    int64_t I64() {
        const auto high = static_cast<uint32_t>(I32());
        const auto low = static_cast<uint32_t>(I32());
        return static_cast<int64_t>((static_cast<uint64_t>(high) << 32) | low);
    }
    void Skip(size_t n) {
        if (Need(n)) at += n;
    }
    void SkipString() {  // int16 length, -1 = null
        const int16_t n = I16();
        if (n > 0) Skip(static_cast<size_t>(n));
    }
};

/// Whether a Fetch answer (v4..v11, frame with its size) carries records or any error: then it
/// goes to the client; false = empty, worth asking again. Unparseable: true. `high_watermark`:
/// the one partition's (-1 when the answer has several or none).
bool FetchHasNews(const std::string& frame, int16_t version, int64_t& high_watermark) {
    high_watermark = -1;
    Cursor c{frame, 8};         // size, correlation id
    if (version >= 1) c.I32();  // throttle_time_ms
    if (version >= 7) {
        if (c.I16() != 0) return true;  // error_code
        c.I32();                        // session_id
    }
    const int32_t topics = c.I32();
    for (int32_t t = 0; c.ok && t < topics; ++t) {
        c.SkipString();
        const int32_t partitions = c.I32();
        for (int32_t p = 0; c.ok && p < partitions; ++p) {
            c.I32();                        // partition_index
            if (c.I16() != 0) return true;  // error_code
            const int64_t hw = c.I64();
            high_watermark = (topics == 1 && partitions == 1 && c.ok) ? hw : -1;
            if (version >= 4) c.Skip(8);  // last_stable_offset
            if (version >= 5) c.Skip(8);  // log_start_offset
            if (version >= 4) {
                const int32_t aborted = c.I32();
                if (aborted > 0) c.Skip(16 * static_cast<size_t>(aborted));
            }
            if (version >= 11) c.I32();  // preferred_read_replica
            const int32_t records = c.I32();
            if (records > 0) return true;
        }
    }
    return !c.ok;
}

/// Points the broker entries of a Metadata answer (v0..v8) at the proxies.
void RewriteMetadata(std::string& frame, int16_t version, const ProxyCluster& cluster) {
    Cursor c{frame, 8};
    if (version >= 3) c.I32();  // throttle_time_ms
    const int32_t brokers = c.I32();
    for (int32_t i = 0; c.ok && i < brokers; ++i) {
        const int32_t node = c.I32();
        c.SkipString();  // host
        const size_t port_at = c.at;
        c.I32();
        if (!c.ok) return;
        const int proxy = cluster.ProxyPort(node);
        if (proxy > 0) Put32(frame, port_at, proxy);
        if (version >= 1) c.SkipString();  // rack
    }
}

/// Points a FindCoordinator answer (v0..v2) at the coordinator's proxy.
void RewriteCoordinator(std::string& frame, int16_t version, const ProxyCluster& cluster) {
    Cursor c{frame, 8};
    if (version >= 1) c.I32();         // throttle_time_ms
    c.I16();                           // error_code
    if (version >= 1) c.SkipString();  // error_message
    const int32_t node = c.I32();
    c.SkipString();  // host
    const size_t port_at = c.at;
    c.I32();
    if (!c.ok) return;
    const int proxy = cluster.ProxyPort(node);
    if (proxy > 0) Put32(frame, port_at, proxy);
}

/// The request body's first byte after the header (size, api, version, correlation, client id).
size_t BodyAt(const std::string& frame) {
    const int16_t client_id = Get16(frame, 12);
    return 14 + static_cast<size_t>(std::max<int16_t>(0, client_id));
}

std::string ReadString(Cursor& c) {
    const int16_t n = c.I16();
    if (n <= 0 || !c.Need(static_cast<size_t>(n))) return {};
    c.at += static_cast<size_t>(n);
    return c.b.substr(c.at - static_cast<size_t>(n), static_cast<size_t>(n));
}

/// The topic of a one-topic Fetch request (v4..v11) whose fields after max_wait start at
/// `after_wait`; "" when it asks for several or cannot be read (woken by any produce).
/// `offset`: the fetch offset when it asks for one partition, else -1.
std::string FetchTopic(const std::string& frame, int16_t version, size_t after_wait,
                       int64_t& offset) {
    offset = -1;
    Cursor c{frame, after_wait};
    c.Skip(4 + 4 + 1);            // min_bytes, max_bytes, isolation_level
    if (version >= 7) c.Skip(8);  // session_id, session_epoch
    if (c.I32() != 1) return {};
    std::string topic = ReadString(c);
    if (c.I32() == 1) {
        c.I32();                     // partition
        if (version >= 9) c.I32();   // current_leader_epoch
        const int64_t at = c.I64();  // fetch_offset
        if (c.ok) offset = at;
    }
    return c.ok ? topic : std::string();
}

/// The topics of a Produce request (v0..v8); empty when it cannot be read.
std::vector<std::string> ProduceTopics(const std::string& frame, int16_t version) {
    if (version > 8) return {};
    Cursor c{frame, BodyAt(frame)};
    if (version >= 3) c.SkipString();  // transactional_id
    c.Skip(2 + 4);                     // acks, timeout_ms
    const int32_t topics = c.I32();
    std::vector<std::string> names;
    for (int32_t t = 0; c.ok && t < topics; ++t) {
        names.push_back(ReadString(c));
        const int32_t partitions = c.I32();
        for (int32_t p = 0; c.ok && p < partitions; ++p) {
            c.I32();  // partition index
            const int32_t records = c.I32();
            if (records > 0) c.Skip(static_cast<size_t>(records));
        }
    }
    if (!c.ok) return {};
    return names;
}

sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

/// A request the proxy watches for: its API and, for a fetch, what to send again.
struct Pending {
    int16_t api_key = 0;
    int16_t version = 0;
    std::string fetch;  // the rewritten fetch request (MaxWait 0)
    Clock::time_point deadline;
    std::vector<std::string> topics;  // a fetch's topic ("" = unknown), a produce's
    uint64_t produced_seen = 0;       // ProxyCluster::produced(topic) when it was last sent
};

}  // namespace

void ProxyCluster::LimitApiVersions(rd_kafka_mock_cluster_t* cluster) {
    rd_kafka_mock_set_apiversion(cluster, kMetadata, 0, 8);
    rd_kafka_mock_set_apiversion(cluster, kFindCoordinator, 0, 2);
    rd_kafka_mock_set_apiversion(cluster, kFetch, 0, 11);
}

void ProxyCluster::SetProxyPort(int32_t node_id, int port) {
    std::lock_guard<std::mutex> lock(mu_);
    ports_[node_id] = port;
}

int ProxyCluster::ProxyPort(int32_t node_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = ports_.find(node_id);
    return it == ports_.end() ? -1 : it->second;
}

uint64_t ProxyCluster::produced(const std::string& topic) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = produced_.find(topic);
    return it == produced_.end() ? 0 : it->second;
}

void ProxyCluster::Produced(const std::vector<std::string>& topics) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (topics.empty()) {
            for (auto& [name, count] : produced_) ++count;
        }
        for (const std::string& topic : topics) ++produced_[topic];
        ++produced_[""];
    }
    cv_.notify_all();
}

bool ProxyCluster::WaitForProduce(const std::vector<std::pair<std::string, uint64_t>>& watched,
                                  uint64_t kicks_seen, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, deadline, [&] {
        if (stopping_ || kicks_ != kicks_seen) return true;
        for (const auto& [topic, seen] : watched) {
            auto it = produced_.find(topic);
            if ((it == produced_.end() ? 0 : it->second) != seen) return true;
        }
        return false;
    });
    return !stopping_;
}

uint64_t ProxyCluster::kicks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return kicks_;
}

void ProxyCluster::Kick() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        ++kicks_;
    }
    cv_.notify_all();
}

void ProxyCluster::Stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
}

LongPollProxy::LongPollProxy(std::shared_ptr<ProxyCluster> cluster, int port, int target_port)
    : cluster_(std::move(cluster)), port_(port), target_port_(target_port) {}

LongPollProxy::~LongPollProxy() {
    if (stop_ >= 0) {
        const uint64_t one = 1;
        (void)!::write(stop_, &one, sizeof one);
    }
    cluster_->Stop();
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> connections;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
        connections.swap(connections_);
    }
    for (auto& t : connections) t.join();
    if (listener_ >= 0) ::close(listener_);
    if (stop_ >= 0) ::close(stop_);
}

bool LongPollProxy::Start() {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    stop_ = ::eventfd(0, EFD_CLOEXEC);
    auto fail = [](const std::string& what) {
        std::fprintf(stderr, "wisp-kafka-dev-broker: %s: %s\n", what.c_str(), std::strerror(errno));
        return false;
    };
    if (listener_ < 0 || stop_ < 0) return fail("socket");
    const int yes = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in addr = Loopback(port_);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        return fail("bind 127.0.0.1:" + std::to_string(port_));
    }
    if (::listen(listener_, 64) != 0) return fail("listen");
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
    return true;
}

void LongPollProxy::Accept() {
    while (true) {
        pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents != 0) return;
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;
        std::lock_guard<std::mutex> lock(mu_);
        connections_.emplace_back([this, client] { Serve(client); });
    }
}

void LongPollProxy::Serve(int client) {
    const int broker = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_port_);
    if (broker < 0 || ::connect(broker, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (broker >= 0) ::close(broker);
        ::close(client);
        return;  // the client sees the connection close and retries
    }
    const int yes = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    ::setsockopt(broker, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    {
        std::lock_guard<std::mutex> lock(mu_);
        open_.insert(client);
        open_.insert(broker);
        if (stopping_) {
            ::shutdown(client, SHUT_RDWR);
            ::shutdown(broker, SHUT_RDWR);
        }
    }

    std::mutex mu;                       // pending, held, ends and writes to `broker`
    std::map<int32_t, Pending> pending;  // by correlation id
    std::vector<int32_t> held;           // fetches waiting for a produce (in `pending`)
    std::condition_variable held_cv;     // the holder, idle, waits on it for `held`
    bool holder_watching = false;        // the holder waits on the cluster for `held`: Kick()
    struct End {
        int64_t high_watermark = -1;
        uint64_t produced_seen = 0;  // produced(topic) when the fetch that told it was sent
    };
    std::map<std::string, End> ends;  // by topic: the last fetch answer's
    std::atomic<bool> done{false};
    auto close_both = [&] {
        done = true;
        ::shutdown(client, SHUT_RDWR);
        ::shutdown(broker, SHUT_RDWR);
        { std::lock_guard<std::mutex> lock(mu); }
        held_cv.notify_all();
        cluster_->Kick();
    };
    // Queues a held fetch (mu held by `lock`, released here) and wakes the holder.
    auto hold = [&](int32_t corr, std::unique_lock<std::mutex>& lock) {
        held.push_back(corr);
        const bool kick = holder_watching;
        lock.unlock();
        held_cv.notify_one();
        if (kick) cluster_->Kick();
    };

    // Held fetches: sent (again) to the mock once their topic got a produce or their MaxWait is
    // over (then the mock's answer goes to the client whatever it holds).
    std::thread holder([&] {
        while (!done) {
            const uint64_t kicks = cluster_->kicks();
            std::vector<std::pair<std::string, uint64_t>> watched;
            auto next = Clock::now() + std::chrono::hours(1);
            bool sent = false;
            {
                std::unique_lock<std::mutex> lock(mu);
                holder_watching = false;
                held_cv.wait(lock, [&] { return done || !held.empty(); });
                if (done) break;
                for (auto it = held.begin(); it != held.end();) {
                    Pending& fetch = pending[*it];
                    const std::string& topic = fetch.topics[0];
                    const uint64_t produced = cluster_->produced(topic);
                    if (produced != fetch.produced_seen || Clock::now() >= fetch.deadline) {
                        fetch.produced_seen = produced;
                        cluster_->CountFetch(false);
                        if (!WriteAll(broker, fetch.fetch.data(), fetch.fetch.size())) {
                            done = true;
                            break;
                        }
                        it = held.erase(it);
                        sent = true;
                    } else {
                        watched.emplace_back(topic, fetch.produced_seen);
                        next = std::min(next, fetch.deadline);
                        ++it;
                    }
                }
                holder_watching = !sent && !watched.empty();
            }
            if (done) break;
            if (sent) continue;
            if (!cluster_->WaitForProduce(watched, kicks, next)) break;
        }
        close_both();
    });

    // Answers: broker -> client.
    std::thread answers([&] {
        while (!done) {
            auto frame = ReadFrame(broker);
            if (!frame || frame->size() < 8) break;
            const int32_t corr = Get32(*frame, 4);
            std::optional<Pending> watched;
            {
                std::lock_guard<std::mutex> lock(mu);
                auto it = pending.find(corr);
                if (it != pending.end()) watched = it->second;
            }
            if (watched) {
                if (watched->api_key == kFetch) {
                    int64_t high_watermark = -1;
                    const bool news = FetchHasNews(*frame, watched->version, high_watermark);
                    const std::string& topic = watched->topics[0];
                    std::unique_lock<std::mutex> lock(mu);
                    if (high_watermark >= 0 && !topic.empty()) {
                        ends[topic] = End{high_watermark, watched->produced_seen};
                    }
                    if (!news && Clock::now() < watched->deadline) {
                        // Empty: ask again once something was produced (or at the client's
                        // MaxWait), on the holder's thread; other answers go on meanwhile.
                        hold(corr, lock);
                        continue;
                    }
                } else if (watched->api_key == kMetadata) {
                    RewriteMetadata(*frame, watched->version, *cluster_);
                } else if (watched->api_key == kFindCoordinator) {
                    RewriteCoordinator(*frame, watched->version, *cluster_);
                }
                std::lock_guard<std::mutex> lock(mu);
                pending.erase(corr);
            }
            if (!WriteAll(client, frame->data(), frame->size())) break;
            if (watched && watched->api_key == kProduce) cluster_->Produced(watched->topics);
        }
        close_both();
    });

    // Requests: client -> broker.
    while (!done) {
        auto frame = ReadFrame(client);
        if (!frame || frame->size() < 12) break;
        const int16_t api_key = Get16(*frame, 4);
        const int16_t version = Get16(*frame, 6);
        const int32_t corr = Get32(*frame, 8);
        std::optional<Pending> watch;
        int64_t fetch_offset = -1;
        if (api_key == kFetch && version >= 4 && version <= 11 && frame->size() >= 14) {
            const int16_t client_id = Get16(*frame, 12);
            const size_t max_wait_at =
                14 + static_cast<size_t>(std::max<int16_t>(0, client_id)) + 4;
            if (max_wait_at + 4 <= frame->size()) {
                const int32_t max_wait = Get32(*frame, max_wait_at);
                Put32(*frame, max_wait_at, 0);
                std::string topic = FetchTopic(*frame, version, max_wait_at + 4, fetch_offset);
                if (max_wait <= 0) fetch_offset = -1;  // nothing to wait for
                const uint64_t seen = cluster_->produced(topic);
                watch = Pending{kFetch,
                                version,
                                *frame,
                                Clock::now() + std::chrono::milliseconds(std::max(0, max_wait)),
                                {std::move(topic)},
                                seen};
            }
        } else if (api_key == kProduce) {
            watch = Pending{api_key, version, {}, {}, ProduceTopics(*frame, version), 0};
        } else if ((api_key == kMetadata && version <= 8) ||
                   (api_key == kFindCoordinator && version <= 2)) {
            watch = Pending{api_key, version, {}, {}, {}, 0};
        }
        std::unique_lock<std::mutex> lock(mu);
        if (watch && watch->api_key == kFetch && fetch_offset >= 0 && !watch->topics[0].empty()) {
            // From the end of the log and nothing produced to the topic since the answer that
            // told where the end is: the mock would answer empty; hold it until a produce.
            auto end = ends.find(watch->topics[0]);
            if (end != ends.end() && end->second.high_watermark == fetch_offset &&
                end->second.produced_seen == watch->produced_seen) {
                pending[corr] = std::move(*watch);
                cluster_->CountFetch(true);
                hold(corr, lock);
                continue;
            }
        }
        if (watch && watch->api_key == kFetch) cluster_->CountFetch(false);
        if (watch) pending[corr] = std::move(*watch);
        if (!WriteAll(broker, frame->data(), frame->size())) break;
    }
    close_both();
    answers.join();
    holder.join();
    {
        std::lock_guard<std::mutex> lock(mu_);
        open_.erase(client);
        open_.erase(broker);
    }
    ::close(client);
    ::close(broker);
}

}  // namespace wisp::kafka_dev
