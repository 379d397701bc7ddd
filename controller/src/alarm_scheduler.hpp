#pragma once
// AlarmScheduler: fires the alarm schedules (SystemDoc kind "alarm", alarm_schedule.hpp) that
// the built-in /whisk.system/alarms feeds store, exactly once per scheduled time across every
// controller of the deployment, without a leader (controller/README.md, "Scheduling and
// exactly-once").
//
// Loading: every `poll` the active schedules are listed (paged) and kept in memory; Reload(id)
// re-reads one at once (the feed that wrote it calls it, so the controller that handled a
// CREATE/UPDATE/DELETE does not wait for the poll). One timer per schedule, all in one priority
// queue served by one firing thread; a loader thread lists, reloads and sweeps. Work per wake
// is bounded (a page of schedules, `max_fires_per_wake` firings), so 10,000 schedules never
// hold the lock long.
//
// Firing the slot `t` of a schedule:
//   1. claim: create SystemDoc kind "alarm-fire", id AlarmFireClaimId(s, t), only if absent,
//      body {"controller","holder","claimed":<ms>,"state":"claimed"}. The winner fires; a
//      claim already "fired" means another controller did it; a "claimed" one older than
//      `lease` (the holder died mid-firing) is taken over with a CAS update, and the new holder
//      fires again with the same activation id (TriggerFirer then does nothing if the record
//      exists, or re-publishes the same rule activation ids: one record per id).
//   2. the first identity of the schedule's namespace (none left: disabled, 403);
//   3. the namespace's fire rate (ResourceExhausted: retried like OpenWhisk's provider treats a
//      429: max(1, n^2) x `throttle_unit`, 10 retries, all throttled -> disabled, 429);
//   4. TriggerFirer::Fire with the preset id AlarmFireActivationId(s, t), the schedule's
//      payload and the annotation `schedule` {"feed","scheduledTime"}; NotFound (the trigger
//      is gone) and other 4xx but 408/409/429 disable the schedule with the provider's text;
//      store failures are retried with backoff (`store_backoff`, `store_attempts`), then the
//      slot is given up (logged);
//   5. the claim is marked "fired" and the schedule CAS-updated (lastFire, fires; re-read and
//      retried when another writer won); `once` then disables itself or deletes the trigger
//      (and its rules); past the stop date / maxTriggers it disables itself (feeds.md §3.2).
//
// Missed firings: a schedule (re)loaded with slots between its last firing (or its creation,
// or its last change) and now fires the latest of them at once; older ones are skipped.
// Claims older than `claim_retention` are deleted in the background in small batches.
// Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/common/backoff.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/store/artifact_store.hpp>

#include "alarm_schedule.hpp"
#include "trigger_firer.hpp"

namespace wisp::controller {

struct AlarmSchedulerConfig {
    /// Written into claims (which controller fired a slot).
    std::string controller_id = "0";
    /// The length of an interval minute (`--alarm-minute-ms`, tests shorten it).
    std::chrono::milliseconds minute{60000};
    /// How often every schedule is re-listed (`--alarm-poll-ms`); 0 = no threads: tests call
    /// Poll(), RunDue() and SweepClaims() themselves.
    std::chrono::milliseconds poll{5000};
    /// A "claimed" claim older than this is taken over (`--alarm-lease-ms`).
    std::chrono::milliseconds lease{60000};
    /// Claims of slots older than this are deleted.
    std::chrono::milliseconds claim_retention{std::chrono::hours(24 * 7)};
    std::chrono::milliseconds sweep_interval{std::chrono::hours(1)};
    std::chrono::milliseconds sweep_first_delay{std::chrono::minutes(5)};
    int64_t sweep_batch = 100;
    std::chrono::milliseconds sweep_pause{100};
    /// Schedules per ListSystemDocs page.
    int64_t page = 500;
    /// Firings per wake of the firing thread before it re-checks the queue and the stop flag.
    int max_fires_per_wake = 64;
    /// Store failures while firing one slot: retried with this backoff, `store_attempts` times
    /// at most, then the slot is given up.
    common::BackoffPolicy store_backoff{.initial = std::chrono::milliseconds(500),
                                        .multiplier = 2.0,
                                        .jitter = 0.2,
                                        .max = std::chrono::milliseconds(8000)};
    int store_attempts = 5;
    /// A throttled firing waits max(1, n^2) x this (n = throttled tries so far), 10 retries.
    std::chrono::milliseconds throttle_unit{1000};
    int max_retries = 10;
};

class AlarmScheduler {
  public:
    /// Fires a trigger (TriggerFirer::Fire in the controller).
    using FireFn = std::function<FireOutcome(const FireRequest&)>;
    /// Counts one firing of `who`'s namespace against its fires per minute; ResourceExhausted
    /// when over (InvokeHandler::CheckFireRate in the controller; may be null).
    using RateFn = std::function<absl::Status(const common::Identity&)>;

    /// Keeps references to `store` and `clock`. Starts the threads when `config.poll` > 0.
    AlarmScheduler(store::ArtifactStore& store, common::Clock& clock, FireFn fire, RateFn rate,
                   AlarmSchedulerConfig config);
    ~AlarmScheduler();
    AlarmScheduler(const AlarmScheduler&) = delete;
    AlarmScheduler& operator=(const AlarmScheduler&) = delete;

    /// Re-reads schedule `doc_id` ("<ns>/<trigger>") soon (on the loader thread): a feed wrote
    /// or deleted it. Never blocks on the store.
    void Reload(const std::string& doc_id);

    /// Lists every schedule (paged), re-arms the changed ones, drops the deleted or inactive
    /// ones; then re-reads the ids passed to Reload(). The loader thread calls it every `poll`.
    [[nodiscard]] absl::Status Poll();
    /// Runs what is due now (at most `max_items`, < 0: everything due); returns how many queue
    /// items it processed. The firing thread calls it; tests call it with a ManualClock.
    int RunDue(int max_items = -1);
    /// Deletes the claims of slots older than `claim_retention`, `sweep_batch` per page.
    /// Returns how many it deleted.
    [[nodiscard]] absl::StatusOr<int64_t> SweepClaims();

    /// Stops the threads (a firing in progress completes first). Idempotent.
    void Stop();

    // ---- observation (tests, logs)
    /// Schedules loaded (active ones).
    size_t size() const;
    /// The slot armed for `doc_id` (nullopt: not loaded, or it never fires again).
    std::optional<int64_t> ArmedSlot(const std::string& doc_id) const;
    /// The earliest due time in the queue.
    std::optional<int64_t> NextDue() const;
    int64_t fired() const;     // firings this scheduler did (claim won, trigger fired)
    int64_t given_up() const;  // slots given up after retries

  private:
    /// Retry state of one slot being fired.
    struct Attempt {
        explicit Attempt(const common::BackoffPolicy& p) : backoff(p) {}
        common::Backoff backoff;
        int tries = 0;
        int throttled = 0;
        bool only_throttled = true;
    };
    enum class ItemKind { kSlot, kTakeover };
    struct Item {
        int64_t due = 0;
        std::string id;  // schedule doc id
        std::string generation;
        int64_t slot = 0;
        ItemKind kind = ItemKind::kSlot;
        uint64_t token = 0;  // kSlot: the Entry's token when armed
        std::shared_ptr<Attempt> attempt;
        bool operator>(const Item& o) const { return due > o.due; }
    };
    struct Entry {
        std::string rev;
        AlarmSchedule s;
        int64_t floor = 0;  // slots <= floor are done here (fired, lost, given up)
        std::optional<int64_t> slot;
        uint64_t token = 0;
    };
    /// What firing one slot came to.
    struct Outcome {
        enum Kind { kDone, kRetry, kTakeoverAt, kRemoved } kind = kDone;
        int64_t at = 0;  // kRetry, kTakeoverAt: when to try again
    };

    void LoaderLoop();
    void FiringLoop();
    /// Under mu_: inserts or updates one loaded schedule; arms its timer.
    void UpsertLocked(const std::string& id, const std::string& rev, AlarmSchedule s, int64_t now);
    void RemoveLocked(const std::string& id);
    /// Under mu_: computes the entry's next slot and queues it when it changed.
    void ArmLocked(const std::string& id, Entry& e, int64_t now);
    [[nodiscard]] absl::Status ReloadOne(const std::string& id);
    [[nodiscard]] absl::StatusOr<std::vector<store::SystemDoc>> ListPage(const std::string& after);

    /// Fires one slot (no lock held).
    Outcome Process(const AlarmSchedule& s, int64_t slot, Attempt& attempt);
    /// A failure of step `what` that may pass: retry with backoff, or give the slot up.
    Outcome StoreRetry(const AlarmSchedule& s, int64_t slot, Attempt& attempt,
                       const absl::Status& st, const char* what);
    /// A throttled firing: retry (max(1, n^2) units), or disable after only throttles.
    Outcome ThrottleRetry(const AlarmSchedule& s, int64_t slot, Attempt& attempt,
                          const std::string& tid);
    /// Sets active=false with the reason (CAS, re-read on conflict); false if it could not.
    bool Disable(const AlarmSchedule& s, int status_code, const std::string& message,
                 const std::string& tid);
    /// Step 5: lastFire/fires, then once/stopDate/maxTriggers. Returns kRemoved when the
    /// schedule ended.
    Outcome AfterFire(const AlarmSchedule& s, int64_t slot, const std::string& tid);
    void DeleteTriggerAndRules(const AlarmSchedule& s, bool rules, const std::string& tid);
    std::string ClaimBody(int64_t claimed_ms, const char* state) const;

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const FireFn fire_;
    const RateFn rate_;
    const AlarmSchedulerConfig config_;
    const std::string holder_;  // this process's claims ("<controller_id>/<random>")

    mutable std::mutex mu_;
    std::condition_variable fire_cv_;    // the firing thread: the queue changed, or stop
    std::condition_variable loader_cv_;  // the loader thread: a Reload(), or stop
    bool stopping_ = false;
    std::map<std::string, Entry> entries_;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue_;
    std::set<std::string> reloads_;
    uint64_t next_token_ = 1;
    int64_t fired_ = 0;
    int64_t given_up_ = 0;
    std::thread loader_;
    std::thread firer_;
};

}  // namespace wisp::controller
