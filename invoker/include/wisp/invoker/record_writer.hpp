#pragma once
// RecordWriter: stores activation records and never drops one silently. A write the store
// refuses (Unavailable, Internal: an outage) is queued and retried by one thread with capped
// exponential backoff (common::Backoff) until the store takes it; AlreadyExists counts as
// stored (create-only: another writer's record stays). The queue is bounded: a record that finds
// it full is logged as lost with its id (an error line per record). Flush() on shutdown waits up
// to a deadline and logs every record still queued by id. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

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
};

class RecordWriter {
  public:
    RecordWriter(store::ArtifactStore& store, RecordWriterConfig config = {});
    /// Flush(0): what is still queued is logged as lost.
    ~RecordWriter();
    RecordWriter(const RecordWriter&) = delete;
    RecordWriter& operator=(const RecordWriter&) = delete;

    /// Stores `record` (create-only) on the calling thread; on failure queues it for retries
    /// (or logs it as lost when the queue is full). `tid` is for the log lines.
    void Write(const common::ActivationRecord& record, const std::string& tid);
    /// Waits until the queue is empty or `timeout` passed; then stops retrying and logs every
    /// record still queued (by id) as lost. Returns how many were. Idempotent.
    size_t Flush(std::chrono::milliseconds timeout);
    /// Records waiting for the store.
    size_t queued() const;
    /// Records stored after at least one failed attempt.
    int64_t stored_late() const;
    /// Records lost (queue full, or still queued at Flush()'s deadline).
    int64_t lost() const;

  private:
    struct Item {
        common::ActivationRecord record;
        std::string tid;
    };
    void RetryLoop();

    store::ArtifactStore& store_;
    const RecordWriterConfig config_;
    mutable std::mutex mu_;
    std::condition_variable cv_;        // queue changes, stop
    std::condition_variable empty_cv_;  // queue drained
    std::deque<Item> queue_;
    bool stopping_ = false;
    bool retrying_ = false;  // the retry thread is writing the head item
    int64_t stored_late_ = 0;
    int64_t lost_ = 0;
    std::thread thread_;
};

}  // namespace wisp::invoker
