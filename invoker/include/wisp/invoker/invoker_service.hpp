#pragma once
// InvokerService: runs the ActivationMessages handed to it (wire §6, §8).
//
// The transport is the caller's: `wisp standalone` hands messages over in-process, the Kafka
// invoker feeds it from its `invoker<N>` topic. For each message, on a worker thread:
//
//   fetch the action (docid + revision; the latest revision when they differ)
//     missing -> fallback record (kind "unknown", application error "Action could not be
//                found or may have been deleted."), Combined/Completion ack, store
//   run it (ActivationRunner: pool placement, /init once, /run)
//   blocking and logs follow -> on_ack(kResult)   record without logs: answers the caller early
//   collect logs, give the container back
//   on_ack(kCompletion)  (after a kResult, or always for a non-blocking activation)
//   or on_ack(kCombined) (blocking, nothing follows: developer error, log limit 0)
//   store the record (ArtifactStore::CreateActivation, create-only: when a record with the id
//   exists already — the controller's forced completion, another invoker — that one stays;
//   a write the store refuses is retried with backoff by a RecordWriter, bounded queue)
//   unless the namespace's limits say store_activations=false (a transaction with extra_logging
//   is stored anyway)
//   on_finished()
//
// This is OpenWhisk's order: result ack -> logs -> completion ack -> store.
//
// Before running, the record is looked up by id (one GET): a message whose activation has a
// record already (redelivered after an invoker crash, or one the controller completed by force)
// is not run again; its final ack carries the stored record.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/invoker/activation_runner.hpp>
#include <wisp/invoker/container.hpp>
#include <wisp/invoker/container_pool.hpp>
#include <wisp/invoker/invoker_metrics.hpp>
#include <wisp/invoker/record_writer.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::invoker {

struct InvokerConfig {
    /// "0" for invoker0: container names (wsk0_...) and the wisp.invoker label.
    std::string invoker_id = "0";
    /// Container memory budget (MB).
    int64_t user_memory_mb = 2048;
    /// Idle time before a warm container is paused, and before it is removed.
    std::chrono::milliseconds pause_grace{10000};
    std::chrono::milliseconds idle_timeout{600000};
    /// Pool housekeeping period; 0 = no thread (tests call pool().Tick()).
    std::chrono::milliseconds housekeeping_interval{1000};
    /// Start the manifest's stem cells; remove our old containers at Start().
    bool stem_cells = true;
    bool remove_orphans = true;
    /// Environment of every container (e.g. {"__OW_API_HOST", "http://host:3233"}).
    std::vector<std::pair<std::string, std::string>> container_env;
    /// Threads kept for activations: 0 = automatic, from the cores (DefaultWorkerThreads()).
    /// Each activation holds a thread from dequeue to record (the waits for a container, /init,
    /// /run and the logs are blocking calls), so more threads start on demand while
    /// activations wait for one, up to max_worker_threads; such an extra thread ends after
    /// worker_idle_exit unused. Threads start with the activations that need them: a fresh
    /// invoker has none, a busy one keeps up to worker_threads whatever its memory.
    int worker_threads = 0;
    /// Threads at most (activations beyond queue for a thread). 0 = automatic: worker_threads
    /// when that was set (a fixed pool), else max(DefaultWorkerThreads(), 4 x user_memory_mb /
    /// 128): as many blocking runs as the budget can hold containers (and their waiters), so
    /// a budget full of slow actions fills as before.
    int max_worker_threads = 0;
    std::chrono::milliseconds worker_idle_exit{30000};
    /// Actions kept in memory by (docid, revision).
    size_t action_cache_entries = 512;
    /// Result size, log wait.
    ActivationRunnerConfig runner;
    /// Records the store refused are retried with backoff (RecordWriter); Shutdown() waits this
    /// long for them, then logs each one still unstored by id.
    RecordWriterConfig records;
    std::chrono::milliseconds record_flush_timeout{30000};
    /// Which activations are looked up in the store before they run (one that has a record is
    /// not run again, just acknowledged). Only those that can have one: received before this
    /// service started + `recorded_check_skew` (a redelivery of a killed predecessor's work;
    /// the margin covers clock differences between hosts), or older than
    /// `recorded_check_age` (the controller may have completed it by force). Everything else
    /// is new work, run without the store round trip.
    std::chrono::milliseconds recorded_check_skew{30000};
    std::chrono::milliseconds recorded_check_age{60000};
    /// Keep-warm (invoker/README.md "Keep-warm"): how often the keep-warm orders are reconciled
    /// with the pool (expired orders released, killed containers replaced, missing ones
    /// created and initialised); a new order is reconciled at once. 0 = no thread (tests call
    /// ReconcileKeepWarm()).
    std::chrono::milliseconds keep_warm_interval{5000};
    /// Everything the pool takes, derived from the fields above.
    ContainerPoolConfig PoolConfig() const;
};

/// One acknowledgement of an activation (OpenWhisk's CombinedCompletionAndResultMessage /
/// ResultMessage / CompletionMessage).
struct AckInfo {
    enum class Kind {
        kCombined,    // result + completion (frees the controller's slot)
        kResult,      // result only (blocking caller; logs pending, slot held)
        kCompletion,  // completion only (frees the slot)
    };
    Kind kind = Kind::kCombined;
    wisp::v1::TransactionId transid;
    std::string activation_id;
    bool blocking = false;
    /// The response is a whisk internal error (statusCode 3): counts against invoker health.
    bool is_system_error = false;
    /// kResult: the record without logs. kCombined and kCompletion: the complete record (the
    /// bus form of a Completion carries only the id; in-process callers may use the record).
    common::ActivationRecord record;
};

/// The bus form of an ack (proto). `activation_json` (stored form) is set for kResult and
/// kCombined when it fits in `max_record_bytes`; otherwise left empty and the controller reads
/// the record from the store (or, on a bus that carries attachments, takes the record attached
/// to the message: InvokerReactive passes 0 then, and no JSON is encoded).
wisp::v1::AcknowledgementMessage ToAcknowledgementMessage(
    const AckInfo& ack, const wisp::v1::InvokerInstanceId& instance,
    size_t max_record_bytes = 1048576);

class InvokerService {
  public:
    using AckCallback = std::function<void(AckInfo)>;
    /// Called once per activation after its last ack, once its record is stored (or storing
    /// failed and was logged, or the record is not to be stored).
    using FinishedCallback = std::function<void()>;

    /// Keeps references to `store`, `factory` and `clock`; they must outlive the service.
    InvokerService(store::ArtifactStore& store, ContainerFactory& factory,
                   common::RuntimeManifest manifest, common::Clock& clock, InvokerConfig config);
    /// Shutdown().
    ~InvokerService();
    InvokerService(const InvokerService&) = delete;
    InvokerService& operator=(const InvokerService&) = delete;

    /// Removes orphaned containers (an error is returned but the service works), starts stem
    /// cells, housekeeping and the workers. Blocks for the orphan removal only.
    [[nodiscard]] absl::Status Start();

    /// Queues `msg`; returns at once. `on_ack` is called on a worker thread, once or twice per
    /// activation (see the header comment), never concurrently for one activation; then
    /// `on_finished` (may be null). After Shutdown() the activation is answered at once with a
    /// whisk error (nothing stored: the invoker that takes it over, or the controller, records it).
    /// A keep-warm order (`msg.has_keep_warm()`) is no activation: it is taken (replacing the
    /// action's previous order), `on_finished` is called at once, `on_ack` never.
    void Submit(wisp::v1::ActivationMessage msg, AckCallback on_ack,
                FinishedCallback on_finished = nullptr);

    /// Blocks until every submitted activation is finished and stored.
    void WaitIdle();

    /// Finishes queued and running activations (queued ones never started get a whisk error
    /// record "The invoker is shutting down."), waits up to record_flush_timeout for records the
    /// store refused, then removes every container. Idempotent.
    void Shutdown();

    /// Keep-warm: releases the pins of expired orders (and of orders whose action is gone),
    /// replaces pinned containers that no longer run, and creates and initialises the missing
    /// ones (one at a time, on the calling thread; an order whose container cannot be made is
    /// retried after a backoff). Returns the containers created. Thread-safe (serialised).
    int ReconcileKeepWarm();
    /// The keep-warm orders held now (tests, status).
    int keep_warm_orders() const;

    /// Drops the cached action `docid` ("ns/name", "ns/pkg/name"), after another component
    /// wrote it. (A cached action is used only for the revision the message names, so this frees
    /// memory early rather than fixing staleness.) Thread-safe.
    void InvalidateAction(const std::string& docid);

    /// Activations queued or running.
    int in_flight() const { return in_flight_.load(); }
    /// Worker threads alive now (tests, metrics).
    int worker_thread_count() const { return live_workers_.load(); }
    /// max(8, 4 x std::thread::hardware_concurrency()): the threads kept; 4 per core so the
    /// invoker-side CPU work of short runs (~1 ms each) keeps the cores busy while other
    /// activations block on their containers.
    static int DefaultWorkerThreads();
    ContainerPool& pool() { return pool_; }
    /// The invoker's metrics (InvokerMetrics) with the gauges read now: the pool, the record
    /// writer, the activations in flight, and `consumer_lag` when the caller's bus knows it.
    /// Thread-safe.
    void WriteMetrics(common::PrometheusWriter& w,
                      std::optional<int64_t> consumer_lag = std::nullopt) const;
    const InvokerMetrics& metrics() const { return metrics_; }
    const common::RuntimeManifest& manifest() const { return manifest_; }

  private:
    struct Task {
        wisp::v1::ActivationMessage msg;
        AckCallback on_ack;
        FinishedCallback on_finished;
    };
    struct CachedAction {
        std::shared_ptr<const common::Action> action;
        std::string revision;
    };

    struct KeepWarmOrder {
        wisp::v1::ActivationMessage msg;  // the latest order (identity, action, revision)
        int count = 0;
        int64_t expires_ms = 0;  // on clock_
        int failures = 0;        // in a row, for the backoff
        int64_t retry_after_ms = 0;
        uint64_t generation = 0;  // per order taken: a reconcile forgets only what it saw
    };
    /// Takes a keep-warm order (Submit).
    void TakeKeepWarmOrder(const wisp::v1::ActivationMessage& msg);
    void KeepWarmLoop();

    void WorkerLoop();
    /// Starts one worker (mu_ held).
    void SpawnWorkerLocked();
    void Process(Task& task);
    [[nodiscard]] absl::StatusOr<CachedAction> FetchAction(const wisp::v1::ActivationMessage& msg);
    void Store(const wisp::v1::ActivationMessage& msg, const common::ActivationRecord& record);
    /// Whether the record of `msg` is to be stored (limits, extra_logging).
    static bool WantsRecord(const wisp::v1::ActivationMessage& msg);
    /// Whether `msg` may have a record already (see InvokerConfig::recorded_check_skew).
    bool MayHaveRecord(const wisp::v1::ActivationMessage& msg) const;
    static AckInfo MakeAck(AckInfo::Kind kind, const wisp::v1::ActivationMessage& msg,
                           const common::ActivationRecord& record);

    store::ArtifactStore& store_;
    const common::RuntimeManifest manifest_;
    common::Clock& clock_;
    const InvokerConfig config_;
    InvokerMetrics metrics_;
    ContainerPool pool_;
    ActivationRunner runner_;
    RecordWriter records_;
    const int64_t started_ms_;  // clock_ at construction: messages before it may be redelivered

    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<Task> queue_;
    bool stopping_ = false;
    bool started_ = false;
    std::list<std::thread> workers_;   // alive (or ending while stopping_)
    std::list<std::thread> finished_;  // ended after worker_idle_exit: joined by the next spawn
    int core_workers_ = 0;
    int max_workers_ = 0;
    int idle_workers_ = 0;  // waiting for a task
    std::atomic<int> live_workers_{0};
    std::atomic<int> in_flight_{0};

    // Keep-warm orders by "<invocation namespace>\n<action doc id>".
    mutable std::mutex kw_mu_;
    std::condition_variable kw_cv_;
    std::unordered_map<std::string, KeepWarmOrder> keep_warm_;
    bool kw_stop_ = false;
    bool kw_dirty_ = false;  // an order arrived since the last reconcile
    std::mutex kw_reconcile_mu_;
    std::thread kw_thread_;

    std::mutex cache_mu_;
    std::unordered_map<std::string, CachedAction> cache_;  // docid -> latest seen
    std::list<std::string> cache_order_;                   // insertion order, oldest first
};

}  // namespace wisp::invoker
