#pragma once
// RecordWriter: stores activation records with group commit and never drops one silently.
//
// Write() queues the record; the first caller that finds no write under way becomes the writer:
// it stores everything queued meanwhile in ONE store call (ArtifactStore::CreateActivations:
// one SQLite transaction, one CouchDB _bulk_docs) and the callers whose records were in it
// return (group commit, as the controller journal's Accept). Uncontended, a record is written on
// the calling thread right away as before; under load, many records share one transaction.
// Write() returns after its record's first attempt, as before group commit (the invoker's
// on_finished, which lets the bus commit the offset, still follows it). A record the store
// refuses (Unavailable, Internal: an outage; or the whole batch failed) goes to the retry queue,
// retried by one thread with capped exponential backoff (common::Backoff) until the store takes
// it; AlreadyExists counts as stored (create-only: another writer's record stays).
//
// Guarantee: a record is acknowledged as stored (`on_stored`, stored()) only
// after the store call that committed it returned. Records not yet committed live only in this
// process's memory: a kill -9 loses them, exactly as it loses an activation between its ack and
// its record write; the controller's journal (controller/README.md) gives every such accepted
// activation a record after the restart or its forced completion deadline. Nothing acknowledged
// as stored is lost.
//
// Bounded: records waiting (queued, being written, or retried) are at most `max_queued`; a record
// that finds that many is logged as lost with its id (an error line per record). Flush() on
// shutdown waits up to a deadline and logs every record still waiting by id. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <wisp/common/activation.hpp>
#include <wisp/common/backoff.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::invoker {

struct RecordWriterConfig {
    /// Records waiting for the store at most; beyond, a record is logged as lost.
    size_t max_queued = 10000;
    common::BackoffPolicy backoff{.initial = std::chrono::milliseconds(200),
                                  .multiplier = 1.6,
                                  .jitter = 0.2,
                                  .max = std::chrono::milliseconds(10000)};
    /// Records per store call at most.
    size_t max_batch = 256;
    /// Called (on the writing thread, no lock held) for every record once it is stored
    /// (committed, or AlreadyExists). Tests, metrics; may be null.
    std::function<void(const common::ActivationRecord&)> on_stored;
};

class RecordWriter {
  public:
    RecordWriter(store::ArtifactStore& store, RecordWriterConfig config = {});
    /// Flush(0): what is still waiting is logged as lost.
    ~RecordWriter();
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;

    /// Stores `record` (create-only), sharing one store call with concurrent callers (group
    /// commit); returns after that attempt. A refused write is retried later (or the record is
    /// logged as lost when `max_queued` wait already). `tid` is for the log lines.
    void Write(const common::ActivationRecord& record, const std::string& tid);
    /// Waits until nothing waits or `timeout` passed; then stops retrying and logs every
    /// record still waiting (by id) as lost. Returns how many were. Idempotent.
    size_t Flush(std::chrono::milliseconds timeout);
    /// Records waiting for the store (queued, being written, or retried).
    size_t queued() const;
    /// Records stored (acknowledged as stored).
    int64_t stored() const;
    /// Store calls that wrote a batch (one transaction each).
    int64_t batches() const;
    /// Records stored after at least one failed attempt.
    int64_t stored_late() const;
    /// Records lost (queue full, or still queued at Flush()'s deadline).
    int64_t lost() const;

  private:
    struct Item {
        common::ActivationRecord record;
        std::string tid;
        uint64_t seq = 0;  // order of Write() calls
    };
    /// Writes the oldest `max_batch` of `pending_` in one store call. Called with `lock` held
    /// and `writing_` set by the caller.
    void WriteBatch(std::unique_lock<std::mutex>& lock);
    size_t WaitingLocked() const { return pending_.size() + in_flight_ + queue_.size(); }
    bool IdleLocked() const {
        return pending_.empty() && !writing_ && queue_.empty() && !retrying_;
    }
    void RetryLoop();

    store::ArtifactStore& store_;
    const RecordWriterConfig config_;
    mutable std::mutex mu_;
    std::condition_variable cv_;        // retry queue changes, stop
    std::condition_variable empty_cv_;  // a write finished
    std::deque<Item> pending_;          // not yet attempted
    size_t in_flight_ = 0;              // taken by the current writer
    bool writing_ = false;              // a Write() caller is in WriteBatch
    uint64_t enqueued_ = 0;             // seq of the last Write()
    uint64_t attempted_ = 0;            // every seq up to this had its first attempt
    std::deque<Item> queue_;            // refused once: retried with backoff
    bool stopping_ = false;
    bool retrying_ = false;  // the retry thread is writing the head item
    int64_t stored_ = 0;
    int64_t batches_ = 0;
    int64_t stored_late_ = 0;
    int64_t lost_ = 0;
    std::thread thread_;
};

}  // namespace wisp::invoker
