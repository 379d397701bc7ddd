#pragma once
// LongPollProxy: makes librdkafka's mock cluster answer a waiting fetch as soon as a record
// arrives, as Apache Kafka does. The mock holds an empty fetch for the whole fetch.wait.max.ms
// (it cannot cut the wait short), so every hop of a message costs up to that wait. One proxy
// listens in front of each mock broker on 127.0.0.1; clients talk to the proxies only:
//   - Metadata and FindCoordinator answers name the proxies' ports instead of the brokers';
//   - a Fetch goes to the mock with MaxWait 0; an answer without records (and without errors)
//     is held, and the same request is sent again as soon as a Produce to its topic was
//     answered (or the client's MaxWait is over: then the empty answer goes out). A fetch from
//     the end of the log (the high watermark of the last answer for its topic, nothing produced
//     to the topic since) is held before it reaches the mock, whose fetch walks the whole log
//     (librdkafka 2.0's mock keeps up to 5 MB of record batches per partition in a list);
//   - held fetches wait on a thread of their own: the other answers of the connection (offset
//     commits, metadata) go out meanwhile; librdkafka matches answers by correlation id;
//   - the tail of every partition's log (record batches produced through the proxies, with the
//     offsets the mock's produce answers gave them) is kept in a small cache: a fetch whose
//     offset lies in it is answered from the cache without reaching the mock. The mock finds a
//     fetch offset by walking its whole log (up to 5 MB of record batches per partition, one
//     list entry per batch) on its one thread: at a few thousand activations that walk was
//     most of the dev broker's CPU and the one thread every produce, fetch and commit of the
//     cluster queued behind. Fetches below the cache, across a gap (a produce whose answer is
//     not seen yet) or of transactional batches go to the mock as before;
//   - everything else is copied as it is.
// The API versions whose layout this reads are pinned on the mock (LimitApiVersions): Metadata
// up to v8, FindCoordinator up to v2, Fetch up to v11 (the last non-flexible ones).
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h must come after rdkafka.h.
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace wisp::kafka_dev {

/// What the proxies of one cluster share: the brokers' node ids → proxy ports, and the count of
/// answered produce requests (the wake-up of held fetches).
class ProxyCluster {
  public:
    /// Pins the API versions the proxies parse on `cluster` (call before any client connects).
    static void LimitApiVersions(rd_kafka_mock_cluster_t* cluster);

    void SetProxyPort(int32_t node_id, int port);
    /// The proxy port of `node_id`, or -1.
    int ProxyPort(int32_t node_id) const;

    /// How many produce requests to `topic` were answered ("" = to any topic).
    uint64_t produced(const std::string& topic) const;
    /// A produce request to `topics` was answered (empty = unknown: wakes every fetch).
    void Produced(const std::vector<std::string>& topics);
    /// What one connection's holder of fetches sleeps on: a produce wakes only the holders
    /// watching its topic (a wake-up of every connection's holder per produce was most of the
    /// dev broker's context switches).
    struct Waiter {
        std::condition_variable cv;
        bool kicked = false;  // guarded by the cluster's lock
    };
    /// Waits until produced(topic) differs from `seen` for one of `watched` (topic, seen),
    /// Kick(waiter) was called since the last wait returned, or `deadline` passes; false when
    /// stopping.
    bool WaitForProduce(Waiter& waiter,
                        const std::vector<std::pair<std::string, uint64_t>>& watched,
                        std::chrono::steady_clock::time_point deadline);
    /// Wakes `waiter` (a new held fetch, a closed socket), now or at its next wait.
    void Kick(Waiter& waiter);
    /// How often a waiting holder woke up to look at its watched topics.
    uint64_t wakeups() const { return wakeups_.load(); }

    /// Fetches sent to the mock, fetches from the end of a log held before reaching it, and
    /// fetches answered from the tail cache.
    uint64_t fetches_sent() const { return fetches_sent_.load(); }
    uint64_t fetches_held_unsent() const { return fetches_held_unsent_.load(); }
    uint64_t fetches_cached() const { return fetches_cached_.load(); }
    void CountFetch(bool held_unsent) { ++(held_unsent ? fetches_held_unsent_ : fetches_sent_); }
    void CountCachedFetch() { ++fetches_cached_; }
    void Stop();

    /// The tail cache. Remember one record batch (magic 2, `records` of the batch) the mock
    /// appended to `topic`/`partition` at `base_offset` (from its produce answer).
    /// Transactional or control batches make the partition uncacheable from then on.
    void CacheBatch(const std::string& topic, int32_t partition, int64_t base_offset,
                    std::string batch);
    /// The cached batches from the one holding `offset` on, contiguous, up to `max_bytes` (at
    /// least one), and the end of the contiguous run (the high watermark as far as the cache
    /// knows it); false when the cache does not hold `offset`.
    bool CachedRecords(const std::string& topic, int32_t partition, int64_t offset,
                       int32_t max_bytes, std::string& records, int64_t& high_watermark) const;

    /// Per partition, at most this many bytes of batches are kept (the oldest go first).
    static constexpr size_t kCacheBytes = 512 * 1024;

  private:
    mutable std::mutex mu_;
    std::map<int32_t, int> ports_;
    std::map<std::string, uint64_t> produced_;     // by topic
    std::multimap<std::string, Waiter*> waiting_;  // by watched topic, while they wait
    std::atomic<uint64_t> fetches_sent_{0};
    std::atomic<uint64_t> fetches_held_unsent_{0};
    std::atomic<uint64_t> fetches_cached_{0};
    std::atomic<uint64_t> wakeups_{0};
    bool stopping_ = false;

    struct CachedLog {
        std::map<int64_t, std::pair<int64_t, std::string>> batches;  // base -> (last, bytes)
        size_t bytes = 0;
        bool disabled = false;  // transactional or control batches seen
    };
    mutable std::mutex cache_mu_;
    std::map<std::pair<std::string, int32_t>, CachedLog> cache_;
};

/// Listens on 127.0.0.1:`port` (0 = a free one) and proxies every connection to the mock broker
/// on 127.0.0.1:`target_port`.
class LongPollProxy {
  public:
    LongPollProxy(std::shared_ptr<ProxyCluster> cluster, int port, int target_port);
    ~LongPollProxy();
    LongPollProxy(const LongPollProxy&) = delete;
    LongPollProxy& operator=(const LongPollProxy&) = delete;

    /// Binds and starts accepting; false (with a message on stderr) when the port is taken.
    bool Start();
    /// The port it listens on (after Start()).
    int port() const { return port_; }

  private:
    void Accept();
    void Serve(int client_fd);

    const std::shared_ptr<ProxyCluster> cluster_;
    int port_;
    const int target_port_;
    int listener_ = -1;
    int stop_ = -1;  // eventfd, readable once the proxy stops
    std::thread acceptor_;
    std::mutex mu_;
    std::vector<std::thread> connections_;
    std::set<int> open_;  // both sockets of every connection, shut down when stopping
    bool stopping_ = false;
};

}  // namespace wisp::kafka_dev
