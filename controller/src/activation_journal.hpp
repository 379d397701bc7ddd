#pragma once
// ActivationJournal: the controller's promise that an accepted activation ends with a record,
// even across a crash (controller/README.md, "No accepted activation lost").
//
// Accept() writes a JournalEntry to the store before the API answers 200/202 (concurrent
// callers share one store write: group commit). The entry holds the record to store if the
// activation never finishes. A sweeper thread removes the entries whose record has been stored
// and, at start, recovers the entries an earlier process of the same controller id left behind:
// each gets its record (whisk internal error, "interrupted by a restart") unless it has one.
//
// When an entry may be recovered (the rule):
//   - an entry of this process: only once its record exists (then it is removed), or when its
//     forced completion deadline (recover_after_ms, wire §7) has passed without one (its invoker
//     died or lost it);
//   - an entry of an earlier process of the same controller id (the bus's ComponentClaim makes
//     that process dead): a sequence's at once (only its controller drives it); an atomic
//     action's once its record exists (removed) or its deadline has passed, since an invoker may
//     still run it from the bus until then — unless `recover_all_at_start` (wisp-standalone: the
//     in-process bus and invoker died with the process, nothing can still run it).
// Records are written create-only (CreateActivation; AlreadyExists counts as done), so a real
// record is never overwritten. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <absl/status/status.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

struct ActivationJournalConfig {
    std::string controller_id = "0";
    /// Entries of an earlier process are recovered at once (wisp-standalone).
    bool recover_all_at_start = false;
    /// How often the sweeper runs; 0 = no thread (tests call Sweep()).
    std::chrono::milliseconds sweep_interval{1000};
    /// Entries younger than this are not looked up yet (most finish within it).
    std::chrono::milliseconds min_age{500};
    /// Records StoreLater() holds at most.
    size_t max_records_to_store = 10000;
    /// Entries the sweeper removes per store call (one write transaction each, which an
    /// Accept on the request path may wait for).
    size_t sweep_remove_batch = 64;
};

/// The message of a record written for an activation interrupted by a restart.
inline constexpr std::string_view kMsgInterruptedByRestart =
    "The activation was interrupted by a restart of the controller before it finished.";
/// ... and for one whose forced completion deadline passed without a record.
inline constexpr std::string_view kMsgNoRecordByDeadline =
    "The activation did not finish before its forced completion timeout (its invoker may have "
    "stopped).";

class ActivationJournal {
  public:
    /// Starts the sweeper (when sweep_interval > 0); its first pass recovers what an earlier
    /// process left. `store` and `clock` must outlive the journal.
    ActivationJournal(store::ArtifactStore& store, common::Clock& clock,
                      ActivationJournalConfig config);
    ~ActivationJournal();
    ActivationJournal(const ActivationJournal&) = delete;
    ActivationJournal& operator=(const ActivationJournal&) = delete;

    /// Journals an accepted activation; blocks until the store has it (shares the write with
    /// concurrent callers). Unavailable (with the store's reason) when it could not be written:
    /// the caller must not accept the activation.
    [[nodiscard]] absl::Status Accept(common::ActivationRecord pending, int64_t recover_after_ms,
                                      bool sequence);
    /// Replaces an accepted entry's record (a sequence's progress). Best effort: logs failures.
    void Update(const common::ActivationRecord& pending);
    /// The activation's record is stored (by this controller), or it was never accepted (the
    /// publish failed): drops the entry. Removals are group-committed: the first caller removes
    /// what concurrent callers queued in one store call; the others return at once (their
    /// entries go with that caller's next round, or the next sweep).
    void Done(const common::ActivationRecord& record) { Done(record.activation_id); }
    void Done(const common::ActivationId& id);
    /// This controller could not store `record` (the store is down): the sweeper stores it,
    /// retrying every pass until the store takes it (also after a restart when the entry could
    /// be updated). Bounded: beyond `max_records_to_store` it is dropped with an error line.
    void StoreLater(const common::ActivationRecord& record);

    /// One sweeper pass (the first one also recovers the earlier process's entries).
    [[nodiscard]] absl::Status Sweep();
    /// Entries this process tracks (accepted, not yet known recorded) plus those left to
    /// recover from an earlier process.
    size_t pending() const;
    /// Stops the sweeper; entries stay in the store. Idempotent.
    void Stop();

  private:
    struct Tracked {
        store::JournalEntry entry;
        int64_t accepted_ms = 0;
        bool sequence = false;
        bool earlier_process = false;
        bool final_record = false;  // store entry.record as is (StoreLater)
    };
    struct Slot;

    [[nodiscard]] absl::Status RecoverEarlierProcess();
    /// Writes the record of `t` (create-only) with `message`; OK when a record exists after.
    [[nodiscard]] absl::Status WriteRecord(const Tracked& t, std::string_view message);
    void SweeperLoop();
    /// Removes `to_remove_` in batches (at most `max_rounds`); `lock` holds mu_.
    void RemoveQueued(std::unique_lock<std::mutex>& lock, int max_rounds);
    static constexpr int kMaxRemoveRounds = 4;

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const ActivationJournalConfig config_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::pair<store::JournalEntry, std::shared_ptr<Slot>>> queued_;
    bool writing_ = false;
    std::vector<store::JournalEntry> to_remove_;  // Done() entries not yet removed
    bool removing_ = false;
    std::unordered_map<std::string, Tracked> tracked_;  // by activation id
    bool recovered_ = false;
    bool list_ids_ = true;  // the store answers ListJournalIds (under sweep_mu_)
    size_t records_to_store_ = 0;
    bool stopping_ = false;
    std::mutex sweep_mu_;  // one Sweep() at a time
    std::thread sweeper_;
};

}  // namespace wisp::controller
