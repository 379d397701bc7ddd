#pragma once
// ContainerPool: which container runs an activation (wire §8, OpenWhisk's ContainerPool).
//
// Placing a request, in order:
//   1. a warm container of the same invocation namespace + action + revision with a free slot
//      (limits.concurrency runs share one container); a paused one is resumed;
//   2'. before 2, wait or take a stem cell? When the action has warm containers, all busy, the
//      request waits for one of them if that is expected to be quicker (same estimate as 3'
//      below, warm containers only) than a stem cell's first run (moving average over all
//      actions, /init included). Why: a 400/s soak of a 2 ms action took a stem cell whenever
//      two runs overlapped, and each replacement's `docker run` (seconds of CPU on 2 cores)
//      stalled every request; the pool grew to the budget in a minute;
//   2. a stem cell (prewarm: started, not initialised) of the same kind + memory + image; a
//      replacement is started at once in the background;
//   3. a new (cold) container when busy + idle + prewarm + starting + request <= user memory;
//   4'. when over budget: an idle container of the SAME invocation namespace, kind, image and
//      memory (least recently used) is reset (Container::Reset: the proxy kills the action's
//      processes, empties its work dir and /tmp, back to not initialised) and initialised
//      for this action instead of evicting and creating (invoker/README.md "Reuse after
//      reset" has the isolation argument); a container that cannot be reset (OpenWhisk
//      images: Unimplemented) is destroyed and the request placed again;
//   4. evict idle warm containers, least recently used first (never stem cells), then 3 —
//      unless a container of the same action is still starting: then the request waits for
//      that one (it is free once its first run ends) rather than evict others' warm
//      containers;
//   3'. before 3 or 4, wait or start? When the action has containers busy or starting, the
//      request waits for one of them if that is expected to be quicker than a cold start:
//      (requests of the action already waiting + 1) / its containers x its mean run time
//      (+ what is left of a start) < the mean cold start. Means are measured here (moving
//      averages: warm runs per action, or of all actions before the action's first warm run;
//      container creation); without a measured run time the pool starts a container, as
//      OpenWhisk does. A container busy (or starting) for much longer than the mean does not
//      count; Tick() re-decides for the requests that wait. Why: a burst of short runs on a
//      loaded Docker host (a `docker run` of seconds) otherwise starts a container per request
//      and the requests wait for slow starts while the warm container idles; evicting for
//      them thrashes the pool (warm containers destroyed, the new ones slower still) until
//      nothing completes;
//   5. else wait in a FIFO buffer; while anything waits for memory, new requests queue behind
//      it (head-of-line, as OpenWhisk's runBuffer); requests waiting for their action's
//      starting container do not hold up the ones behind them.
// Idle warm containers are paused after `pause_grace` and removed after `idle_timeout`
// (measured on the injected Clock by Tick(), called by a housekeeping thread or by tests).
// A pause that fails (under load runc's cgroup v2 freeze gives up with "unable to freeze"
// while the cgroup is busy) leaves the container running and idle, inside the budget and
// evictable like any idle container; the pause is retried after pause_retry, doubling per
// failure, and the container is destroyed only after max_pause_failures failures in a row.
// A lease returned with kDestroy (a developer error) destroys its container; kKeep (success,
// application error) makes it idle again.
//
// Keep-warm (invoker/README.md "Keep-warm"): containers pinned for an action's `keep-warm`
// annotation (PinKeepWarm, AcquireKeepWarm) serve its requests like any warm container (1.
// above) and are paused when idle, but the idle timer never removes them, 4' never resets them
// for another action, and 4 evicts them only when nothing else could ever free memory (as stem
// cells). They count in the memory budget like every container.
//
// Thread-safe. Container creation for a cold start runs on the requesting thread (it is the
// critical path either way); stem cells, pauses and destroys run on background threads.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/invoker/container.hpp>

namespace wisp::invoker {

struct ContainerPoolConfig {
    /// Names containers "wsk<invoker_id>_<seq>_<hint>" and labels them wisp.invoker=<id>.
    std::string invoker_id = "0";
    /// Memory budget for busy + idle + stem cell + starting containers.
    int64_t user_memory_mb = 2048;
    /// Idle time before a warm container is paused.
    std::chrono::milliseconds pause_grace{10000};
    /// A failed pause is retried after this long, doubled per further failure (capped at 32x).
    std::chrono::milliseconds pause_retry{1000};
    /// Failed pauses in a row after which the container is destroyed.
    int max_pause_failures = 5;
    /// Idle time before a warm container is removed.
    std::chrono::milliseconds idle_timeout{600000};
    /// How often the housekeeping thread calls Tick(); 0 = no thread (tests call Tick()).
    std::chrono::milliseconds housekeeping_interval{1000};
    /// Start the manifest's stem cells.
    bool stem_cells = true;
    /// A stem cell whose creation failed is retried after this long.
    std::chrono::milliseconds stem_cell_retry{30000};
    /// Remove containers an earlier run of this invoker left behind, at Start().
    bool remove_orphans = true;
    /// Threads for stem cells, pauses and destroys.
    int background_threads = 2;
    /// 4'. above: reuse an idle container of the same namespace and kind after a reset rather
    /// than evict one and create another.
    bool reuse_after_reset = true;
    /// Environment of every container (e.g. __OW_API_HOST).
    std::vector<std::pair<std::string, std::string>> container_env;
};

/// What an activation needs from the pool.
struct ContainerRequest {
    std::string invocation_namespace;  // the caller's namespace
    std::string action;                // "ns[/pkg]/name"
    std::string revision;              // the action document revision
    std::string kind;                  // "python:3.11" | "blackbox"
    std::string image;                 // the image to run
    bool pull_if_missing = false;      // blackbox images outside the manifest
    int64_t memory_mb = 256;
    int concurrency = 1;         // runs that may share the container
    std::string name_hint;       // "guest_hello": readable part of the container name
    std::string transaction_id;  // of the request, for its log lines; empty outside a request
};

/// How /init of one container went (shared by every lease of that container).
struct InitOutcome {
    bool ok = true;
    common::ActivationResponse failure;  // when !ok: the developer error to report
    bool timed_out = false;
};

/// Counters and gauges, for tests, metrics and `wisp standalone` status.
struct ContainerPoolStats {
    int starting = 0;
    int prewarm = 0;
    int busy = 0;    // warm, at least one run
    int idle = 0;    // warm, no run (paused included)
    int paused = 0;  // idle and paused
    int buffered = 0;
    int64_t used_mb = 0;
    // Since start:
    int64_t cold_starts = 0;
    int64_t prewarm_starts = 0;
    int64_t warm_starts = 0;
    int64_t evictions = 0;
    int64_t removed_idle = 0;
    int64_t destroyed_after_error = 0;
    int64_t pause_failures = 0;    // failed pauses (the container was kept unless too many)
    int64_t reset_reuses = 0;      // containers reset and given to another action (4')
    int keep_warm = 0;             // live containers pinned for keep-warm (any state)
    int64_t keep_warm_starts = 0;  // containers created for keep-warm (AcquireKeepWarm)
};

class ContainerPool;

/// A container lent to one activation. Return it with ContainerPool::Release; a lease dropped
/// without Release counts as kDestroy. Move-only.
class ContainerLease {
  public:
    enum class Source { kWarm, kPrewarm, kCold };

    ContainerLease() = default;
    ContainerLease(ContainerLease&& o) noexcept;
    ContainerLease& operator=(ContainerLease&& o) noexcept;
    ~ContainerLease();

    explicit operator bool() const { return entry_ != nullptr; }
    Container& container() const;
    /// Where the container came from.
    Source source() const { return source_; }
    /// True when a paused container was resumed for this lease.
    bool resumed() const { return resumed_; }
    /// Backend id of the container (tests, logs).
    const std::string& container_id() const;

    /// Runs `init` once per container: the first lease to get here runs it; leases arriving
    /// while it runs wait and share its outcome; later leases get the remembered outcome.
    /// Returns {true, outcome} to the lease that ran it.
    std::pair<bool, InitOutcome> InitOnce(const std::function<InitOutcome()>& init);

    struct Entry;

  private:
    friend class ContainerPool;
    ContainerPool* pool_ = nullptr;
    std::shared_ptr<Entry> entry_;
    Source source_ = Source::kCold;
    bool resumed_ = false;
    bool keep_warm_init_ = false;  // AcquireKeepWarm's: only /init runs, no run is measured
    int64_t acquired_ms_ = 0;      // on the pool's clock
};

class ContainerPool {
  public:
    enum class Outcome { kKeep, kDestroy };

    ContainerPool(ContainerFactory& factory, const common::RuntimeManifest& manifest,
                  common::Clock& clock, ContainerPoolConfig config);
    /// Shutdown().
    ~ContainerPool();
    ContainerPool(const ContainerPool&) = delete;
    ContainerPool& operator=(const ContainerPool&) = delete;

    /// Removes orphans (when configured; an error is returned but the pool stays usable),
    /// starts the stem cells in the background and the housekeeping thread. Call once.
    [[nodiscard]] absl::Status Start();

    /// A container for `request`. Blocks while the request waits in the buffer, while a cold
    /// container starts and while a paused one resumes. Errors: ResourceExhausted when the
    /// request is larger than the whole budget; Unavailable after Shutdown(); the factory's
    /// error when the container cannot be created (the memory is freed).
    [[nodiscard]] absl::StatusOr<ContainerLease> Acquire(const ContainerRequest& request);

    /// Gives a lease back. kDestroy removes the container once its last run ends.
    void Release(ContainerLease lease, Outcome outcome);

    // ---- keep-warm (invoker/README.md "Keep-warm") ----
    /// A NEW container for `request`, pinned for keep-warm and labelled
    /// `wisp.keep-warm=<action>`; the caller runs /init (InitOnce) and releases it. Never waits
    /// in the buffer: ResourceExhausted when requests wait for memory or the budget has no room
    /// even after evicting idle containers that are not pinned (the caller retries later).
    /// Unavailable after Shutdown(); the factory's error when the container cannot be created.
    [[nodiscard]] absl::StatusOr<ContainerLease> AcquireKeepWarm(const ContainerRequest& request);
    /// Makes at most `count` live containers of `request`'s namespace + action + revision the
    /// pinned ones (pinning unpinned warm ones of it first), and unpins every other container of
    /// that namespace + action (other revisions, the excess); count 0 unpins them all. Unpinned
    /// containers become ordinary idle ones. Returns how many are pinned now.
    int PinKeepWarm(const ContainerRequest& request, int count);
    /// Asks every idle pinned container whether it still runs (Container::Running: one engine
    /// call each, outside the pool's lock) and removes the ones that do not (killed from
    /// outside). Returns how many were removed.
    int RemoveDeadKeepWarm();

    /// Pauses containers idle for pause_grace, removes those idle for idle_timeout, refills stem
    /// cells. Pauses and removals run in the background (see Quiesce()).
    void Tick();

    /// Waits until no background task (stem cell, pause, destroy) is queued or running.
    void Quiesce();

    /// Fails waiting requests with Unavailable, stops housekeeping and destroys every container.
    /// Blocks until they are gone. Idempotent.
    void Shutdown();

    ContainerPoolStats Stats() const;
    const ContainerPoolConfig& config() const { return config_; }

    /// What identifies an action's containers (namespace, action, revision) as one string: the
    /// key of its measured run time.
    static std::string ActionKey(const ContainerRequest& r);

  private:
    struct Waiter;
    struct Placement;
    struct StemCellTarget;
    class TaskRunner;
    using EntryPtr = std::shared_ptr<ContainerLease::Entry>;

    enum class Place { kPlaced, kWaitMemory, kWaitStarting };
    Place TryPlaceLocked(const ContainerRequest& request, Placement& placement);
    /// A new container entry for `request`, starting, with its one run counted (not listed yet).
    EntryPtr NewStartingEntryLocked(const ContainerRequest& request, int64_t now);
    /// Counts a new request of the action for its arrival rate.
    void NoteArrivalLocked(const ContainerRequest& request);
    /// True when waiting for one of the action's busy (or, unless warm_only, starting)
    /// containers is expected to be quicker than the alternative, which takes alternative_ms
    /// (2' and 3' above), and those containers keep up with the action's arrivals.
    bool WaitForSiblingLocked(const ContainerRequest& request, int64_t now, double alternative_ms,
                              bool warm_only) const;
    void DrainBufferLocked();
    void RemoveEntryLocked(const EntryPtr& entry);
    void ScheduleDestroyLocked(const EntryPtr& entry);
    void BackfillStemCellsLocked();
    int64_t UsedMbLocked() const;
    ContainerSpec SpecFor(const ContainerLease::Entry& entry, std::string_view hint);
    [[nodiscard]] absl::StatusOr<ContainerLease> Complete(Placement placement,
                                                          const ContainerRequest& request);
    void CreateStemCell(const EntryPtr& entry);
    void PauseIfStillIdle(const EntryPtr& entry);
    void Housekeeping();

    ContainerFactory& factory_;
    common::Clock& clock_;
    const ContainerPoolConfig config_;
    std::vector<StemCellTarget> stem_cells_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<EntryPtr> entries_;  // every live container (starting, prewarm, warm)
    std::deque<std::shared_ptr<Waiter>> buffer_;
    uint64_t next_seq_ = 0;
    // Orders uses exactly (least recently used first), whatever the wall clock does: a use
    // stamps its entry with ++use_seq_ (under mu_).
    uint64_t use_seq_ = 0;
    bool shutdown_ = false;
    bool started_ = false;
    ContainerPoolStats counters_;
    // Moving averages (ms) for wait-or-start: container creation, and a warm run's hold of its
    // container per action (bounded map) and over all actions. Negative: not measured yet.
    double cold_start_ms_ = -1;
    double hold_all_ms_ = -1;
    struct HoldMean {
        double mean = -1;
        bool seeded = false;  // from a cold or stem-cell first run, until a warm run is measured
    };
    std::unordered_map<std::string, HoldMean> hold_ms_;
    // Per action: the moving average of the gap between requests (ms), so wait-or-start can
    // tell whether the action's containers keep up (bounded map, like hold_ms_).
    struct Arrivals {
        int64_t last_ms = -1;
        double gap_mean = -1;
    };
    std::unordered_map<std::string, Arrivals> arrivals_;
    // A stem cell's first run, /init included (over all actions): the cost 2' weighs.
    double prewarm_ms_ = -1;

    std::unique_ptr<TaskRunner> background_;
    std::thread housekeeping_;
    std::mutex hk_mu_;
    std::condition_variable hk_cv_;
    bool hk_stop_ = false;
};

/// OpenWhisk's container names allow [a-zA-Z0-9_.-]; anything else becomes '_'.
std::string SanitizeContainerNamePart(std::string_view text);

}  // namespace wisp::invoker
