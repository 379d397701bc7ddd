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

void Add16(std::string& b, int16_t value) {
    const auto v = static_cast<uint16_t>(value);
    b.push_back(static_cast<char>(v >> 8));
    b.push_back(static_cast<char>(v & 0xff));
}
void Add32(std::string& b, int32_t value) {
    b.resize(b.size() + 4);
    Put32(b, b.size() - 4, value);
}
void Add64(std::string& b, int64_t value) {
    const auto v = static_cast<uint64_t>(value);
    Add32(b, static_cast<int32_t>(v >> 32));
    Add32(b, static_cast<int32_t>(v & 0xffffffffu));
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

/// A one-topic, one-partition Fetch request (v4..v11) without a fetch session: what the tail
/// cache can answer.
struct FetchAsk {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = -1;
    int32_t max_bytes = 0;  // partition_max_bytes
};

/// The fetch `frame` asks (fields after max_wait start at `after_wait`) when the tail cache could
/// answer it; nullopt otherwise.
std::optional<FetchAsk> ParseFetch(const std::string& frame, int16_t version, size_t after_wait) {
    Cursor c{frame, after_wait};
    c.Skip(4 + 4 + 1);  // min_bytes, max_bytes, isolation_level
    if (version >= 7) {
        const int32_t session_id = c.I32();
        const int32_t session_epoch = c.I32();
        if (session_id != 0 || session_epoch > 0) return std::nullopt;  // incremental session
    }
    if (c.I32() != 1) return std::nullopt;
    FetchAsk ask;
    ask.topic = ReadString(c);
    if (c.I32() != 1) return std::nullopt;
    ask.partition = c.I32();
    if (version >= 9) c.I32();  // current_leader_epoch
    ask.offset = c.I64();
    if (version >= 5) c.I64();  // log_start_offset
    ask.max_bytes = c.I32();
    if (version >= 7 && c.I32() > 0) return std::nullopt;  // forgotten topics
    if (!c.ok || ask.topic.empty() || ask.offset < 0) return std::nullopt;
    return ask;
}

/// The Fetch answer (v4..v11) to `corr` carrying `records` of one partition.
std::string FetchAnswer(int32_t corr, int16_t version, const FetchAsk& ask, int64_t high_watermark,
                        const std::string& records) {
    std::string b;
    b.reserve(96 + ask.topic.size() + records.size());
    Add32(b, 0);  // size, set below
    Add32(b, corr);
    Add32(b, 0);  // throttle_time_ms
    if (version >= 7) {
        Add16(b, 0);  // error_code
        Add32(b, 0);  // session_id
    }
    Add32(b, 1);  // topics
    Add16(b, static_cast<int16_t>(ask.topic.size()));
    b += ask.topic;
    Add32(b, 1);  // partitions
    Add32(b, ask.partition);
    Add16(b, 0);  // error_code
    Add64(b, high_watermark);
    Add64(b, high_watermark);         // last_stable_offset: no transactions in the cache
    if (version >= 5) Add64(b, -1);   // log_start_offset: not known to the cache
    Add32(b, 0);                      // aborted_transactions
    if (version >= 11) Add32(b, -1);  // preferred_read_replica
    Add32(b, static_cast<int32_t>(records.size()));
    b += records;
    Put32(b, 0, static_cast<int32_t>(b.size() - 4));
    return b;
}

/// One partition's records of a Produce request.
struct ProducedBatch {
    std::string topic;
    int32_t partition = 0;
    std::string records;
};

/// The partitions and records of a Produce request (v3..v8); empty when it cannot be read.
std::vector<ProducedBatch> ProduceBatches(const std::string& frame, int16_t version) {
    if (version < 3 || version > 8) return {};
    Cursor c{frame, BodyAt(frame)};
    c.SkipString();  // transactional_id
    c.Skip(2 + 4);   // acks, timeout_ms
    std::vector<ProducedBatch> batches;
    const int32_t topics = c.I32();
    for (int32_t t = 0; c.ok && t < topics; ++t) {
        std::string topic = ReadString(c);
        const int32_t partitions = c.I32();
        for (int32_t p = 0; c.ok && p < partitions; ++p) {
            const int32_t partition = c.I32();
            const int32_t size = c.I32();
            if (size <= 0 || !c.Need(static_cast<size_t>(size))) continue;
            batches.push_back({topic, partition, frame.substr(c.at, static_cast<size_t>(size))});
            c.at += static_cast<size_t>(size);
        }
    }
    if (!c.ok) return {};
    return batches;
}

/// The base offset the mock gave each partition of a Produce answer (v3..v8) that it took
/// without an error: (topic, partition) -> base offset.
std::map<std::pair<std::string, int32_t>, int64_t> ProduceOffsets(const std::string& frame,
                                                                  int16_t version) {
    std::map<std::pair<std::string, int32_t>, int64_t> offsets;
    if (version < 3 || version > 8) return offsets;
    Cursor c{frame, 8};  // size, correlation id
    const int32_t topics = c.I32();
    for (int32_t t = 0; c.ok && t < topics; ++t) {
        std::string topic = ReadString(c);
        const int32_t partitions = c.I32();
        for (int32_t p = 0; c.ok && p < partitions; ++p) {
            const int32_t partition = c.I32();
            const int16_t error = c.I16();
            const int64_t base = c.I64();
            c.Skip(8);                    // log_append_time_ms
            if (version >= 5) c.Skip(8);  // log_start_offset
            if (version >= 8) {
                const int32_t record_errors = c.I32();
                for (int32_t e = 0; c.ok && e < record_errors; ++e) {
                    c.I32();  // batch_index
                    c.SkipString();
                }
                c.SkipString();  // error_message
            }
            if (c.ok && error == 0 && base >= 0) offsets[{topic, partition}] = base;
        }
    }
    if (!c.ok) offsets.clear();
    return offsets;
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
    std::vector<std::string> topics;     // a fetch's topic ("" = unknown), a produce's
    uint64_t produced_seen = 0;          // ProxyCluster::produced(topic) when it was last sent
    std::optional<FetchAsk> ask;         // a fetch the tail cache could answer
    std::vector<ProducedBatch> batches;  // a produce's records, for the tail cache
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
    std::lock_guard<std::mutex> lock(mu_);
    if (topics.empty()) {
        for (auto& [name, count] : produced_) ++count;
    }
    for (const std::string& topic : topics) ++produced_[topic];
    ++produced_[""];
    // Under the lock: a waiter leaves waiting_ (and may go) only under it.
    if (topics.empty()) {
        for (auto& [topic, waiter] : waiting_) waiter->cv.notify_all();
        return;
    }
    auto wake = [&](const std::string& topic) {
        auto [from, to] = waiting_.equal_range(topic);
        for (auto it = from; it != to; ++it) it->second->cv.notify_all();
    };
    for (const std::string& topic : topics) wake(topic);
    wake("");
}

bool ProxyCluster::WaitForProduce(Waiter& waiter,
                                  const std::vector<std::pair<std::string, uint64_t>>& watched,
                                  Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<std::multimap<std::string, Waiter*>::iterator> registered;
    registered.reserve(watched.size());
    for (const auto& [topic, seen] : watched)
        registered.push_back(waiting_.emplace(topic, &waiter));
    waiter.cv.wait_until(lock, deadline, [&] {
        ++wakeups_;
        if (stopping_ || waiter.kicked) return true;
        for (const auto& [topic, seen] : watched) {
            auto it = produced_.find(topic);
            if ((it == produced_.end() ? 0 : it->second) != seen) return true;
        }
        return false;
    });
    waiter.kicked = false;
    for (auto it : registered) waiting_.erase(it);
    return !stopping_;
}

void ProxyCluster::Kick(Waiter& waiter) {
    std::lock_guard<std::mutex> lock(mu_);
    waiter.kicked = true;
    waiter.cv.notify_all();
}

void ProxyCluster::CacheBatch(const std::string& topic, int32_t partition, int64_t base_offset,
                              std::string batch) {
    // A record batch v2: base_offset(8) length(4) leader_epoch(4) magic(1) crc(4) attributes(2)
    // last_offset_delta(4) timestamps(16) producer id/epoch(10) base_sequence(4) count(4).
    constexpr size_t kHeader = 61;
    std::lock_guard<std::mutex> lock(cache_mu_);
    CachedLog& log = cache_[{topic, partition}];
    if (log.disabled) return;
    const bool one_batch = batch.size() >= kHeader &&
                           static_cast<size_t>(Get32(batch, 8)) + 12 == batch.size() &&
                           batch[16] == 2;
    if (!one_batch) return;  // not cached: a gap, so fetches past it go to the mock
    if ((Get16(batch, 21) & 0x30) != 0) {
        // Transactional or control: the cache knows nothing of aborted transactions.
        log = CachedLog{};
        log.disabled = true;
        return;
    }
    const int32_t count = Get32(batch, 57);
    if (count <= 0) return;
    // The mock gives the batch its offset (the producer sends 0); the CRC does not cover it.
    for (int i = 0; i < 8; ++i) {
        batch[static_cast<size_t>(i)] =
            static_cast<char>((static_cast<uint64_t>(base_offset) >> (56 - 8 * i)) & 0xff);
    }
    log.bytes += batch.size();
    log.batches[base_offset] = {base_offset + count - 1, std::move(batch)};
    while (log.bytes > kCacheBytes && log.batches.size() > 1) {
        log.bytes -= log.batches.begin()->second.second.size();
        log.batches.erase(log.batches.begin());
    }
}

bool ProxyCluster::CachedRecords(const std::string& topic, int32_t partition, int64_t offset,
                                 int32_t max_bytes, std::string& records,
                                 int64_t& high_watermark) const {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto log = cache_.find({topic, partition});
    if (log == cache_.end() || log->second.disabled) return false;
    const auto& batches = log->second.batches;
    auto it = batches.upper_bound(offset);
    if (it == batches.begin()) return false;
    --it;  // the batch starting at or before `offset`
    if (it->second.first < offset) return false;
    records.clear();
    int64_t next = it->first;
    bool full = false;
    for (; it != batches.end() && it->first == next; ++it) {
        full = full || (!records.empty() &&
                        records.size() + it->second.second.size() > static_cast<size_t>(max_bytes));
        if (!full) records += it->second.second;
        next = it->second.first + 1;
    }
    high_watermark = next;
    return true;
}

void ProxyCluster::Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [topic, waiter] : waiting_) waiter->cv.notify_all();
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
    std::mutex client_mu;             // writes to `client` (after mu when both are taken)
    ProxyCluster::Waiter waiter;      // the holder's, on the cluster
    std::atomic<bool> done{false};
    auto close_both = [&] {
        done = true;
        ::shutdown(client, SHUT_RDWR);
        ::shutdown(broker, SHUT_RDWR);
        { std::lock_guard<std::mutex> lock(mu); }
        held_cv.notify_all();
        cluster_->Kick(waiter);
    };
    // Queues a held fetch (mu held by `lock`, released here) and wakes the holder.
    auto hold = [&](int32_t corr, std::unique_lock<std::mutex>& lock) {
        held.push_back(corr);
        const bool kick = holder_watching;
        lock.unlock();
        held_cv.notify_one();
        if (kick) cluster_->Kick(waiter);
    };

    // Answers `fetch` from the tail cache when it holds the fetch offset (mu held by the
    // caller): false when it does not (then the mock must answer) or the client is gone.
    auto answer_from_cache = [&](int32_t corr, const Pending& fetch) {
        if (!fetch.ask) return false;
        const FetchAsk& ask = *fetch.ask;
        const uint64_t seen = cluster_->produced(ask.topic);  // before the cache is read
        std::string records;
        int64_t high_watermark = -1;
        if (!cluster_->CachedRecords(ask.topic, ask.partition, ask.offset, ask.max_bytes, records,
                                     high_watermark)) {
            return false;
        }
        // The next fetch from this end waits at the proxy until the topic gets a produce.
        ends[ask.topic] = End{high_watermark, seen};
        const std::string answer = FetchAnswer(corr, fetch.version, ask, high_watermark, records);
        cluster_->CountCachedFetch();
        std::lock_guard<std::mutex> write(client_mu);
        if (!WriteAll(client, answer.data(), answer.size())) done = true;
        return true;
    };

    // Held fetches: answered from the tail cache, or sent (again) to the mock, once their topic
    // got a produce or their MaxWait is over (then the mock's answer goes to the client
    // whatever it holds).
    std::thread holder([&] {
        while (!done) {
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
                    if ((produced != fetch.produced_seen || Clock::now() >= fetch.deadline) &&
                        answer_from_cache(*it, fetch)) {
                        pending.erase(*it);
                        it = held.erase(it);
                        sent = true;
                        if (done) break;
                    } else if (produced != fetch.produced_seen || Clock::now() >= fetch.deadline) {
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
            if (!cluster_->WaitForProduce(waiter, watched, next)) break;
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
                if (it != pending.end()) {
                    if (it->second.api_key == kProduce) {
                        watched = std::move(it->second);  // erased below
                    } else {
                        watched = it->second;
                    }
                }
            }
            if (watched && watched->api_key == kProduce && !watched->batches.empty()) {
                // Before the client (and the held fetches, woken by Produced()) hear of it.
                const auto offsets = ProduceOffsets(*frame, watched->version);
                for (ProducedBatch& batch : watched->batches) {
                    auto at = offsets.find({batch.topic, batch.partition});
                    if (at == offsets.end()) continue;
                    cluster_->CacheBatch(batch.topic, batch.partition, at->second,
                                         std::move(batch.records));
                }
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
            {
                std::lock_guard<std::mutex> write(client_mu);
                if (!WriteAll(client, frame->data(), frame->size())) break;
            }
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
                                seen,
                                ParseFetch(*frame, version, max_wait_at + 4),
                                {}};
            }
        } else if (api_key == kProduce) {
            watch = Pending{api_key,
                            version,
                            {},
                            {},
                            ProduceTopics(*frame, version),
                            0,
                            std::nullopt,
                            ProduceBatches(*frame, version)};
        } else if ((api_key == kMetadata && version <= 8) ||
                   (api_key == kFindCoordinator && version <= 2)) {
            watch = Pending{api_key, version, {}, {}, {}, 0, std::nullopt, {}};
        }
        std::unique_lock<std::mutex> lock(mu);
        if (watch && watch->api_key == kFetch && answer_from_cache(corr, *watch)) {
            if (done) break;
            continue;
        }
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
