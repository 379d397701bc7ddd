#include <wisp/invoker/record_writer.hpp>

#include <algorithm>

#include <spdlog/spdlog.h>

#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::invoker {

namespace {

bool Stored(const absl::Status& st) {
    return st.ok() || st.code() == absl::StatusCode::kAlreadyExists;
}

}  // namespace

RecordWriter::RecordWriter(store::ArtifactStore& store, RecordWriterConfig config)
    : store_(store), config_(std::move(config)), thread_([this] { RetryLoop(); }) {}

RecordWriter::~RecordWriter() { (void)Flush(std::chrono::milliseconds(0)); }

void RecordWriter::Write(const common::ActivationRecord& record, const std::string& tid) {
    std::unique_lock lock(mu_);
    if (stopping_ || WaitingLocked() >= config_.max_queued) {
        ++lost_;
        common::TidLog(tid).error("activation {} is LOST: {} records wait for the store already{}",
                                  record.activation_id.str(), WaitingLocked(),
                                  stopping_ ? " (shutting down)" : "");
        return;
    }
    const uint64_t seq = ++enqueued_;
    pending_.push_back({record, tid, seq});
    // Group commit (as the journal's Accept): the first caller to find no write under way
    // writes everything queued, in one store call; the others wait for that call and return
    // once their record had its first attempt (stored, or queued for retries) — the same
    // point as before, so on_finished (the bus offset commit) still follows the write.
    while (attempted_ < seq) {
        if (writing_) {
            empty_cv_.wait(lock);
            continue;
        }
        writing_ = true;
        WriteBatch(lock);
        writing_ = false;
        empty_cv_.notify_all();
    }
}

void RecordWriter::WriteBatch(std::unique_lock<std::mutex>& lock) {
    std::vector<Item> batch;
    const size_t n = std::min(pending_.size(), config_.max_batch);
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
    }
    in_flight_ = batch.size();
    lock.unlock();
    std::vector<common::ActivationRecord> records;
    records.reserve(batch.size());
    for (Item& item : batch) records.push_back(std::move(item.record));
    auto statuses = store_.CreateActivations(records);
    std::vector<bool> stored(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        const absl::Status& st = statuses.ok() ? (*statuses)[i] : statuses.status();
        stored[i] = Stored(st);
        if (st.code() == absl::StatusCode::kAlreadyExists) {
            common::TidLog(batch[i].tid)
                .debug("activation {} has a record already; keeping it",
                       records[i].activation_id.str());
        }
        if (stored[i]) {
            if (config_.on_stored) config_.on_stored(records[i]);
            continue;
        }
        common::TidLog(batch[i].tid)
            .warn("storing activation {} failed: {}; retrying with backoff",
                  records[i].activation_id.str(), common::MessageOf(st));
    }
    lock.lock();
    in_flight_ = 0;
    ++batches_;
    if (!batch.empty()) attempted_ = batch.back().seq;
    bool refused = false;
    for (size_t i = 0; i < records.size(); ++i) {
        if (stored[i]) {
            ++stored_;
            continue;
        }
        refused = true;
        queue_.push_back({std::move(records[i]), std::move(batch[i].tid), batch[i].seq});
    }
    if (refused) cv_.notify_all();
}

void RecordWriter::RetryLoop() {
    common::Backoff backoff(config_.backoff);
    std::unique_lock lock(mu_);
    while (true) {
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        Item item = queue_.front();
        retrying_ = true;
        lock.unlock();
        const absl::Status st = store_.CreateActivation(item.record);
        if (Stored(st) && config_.on_stored) config_.on_stored(item.record);
        lock.lock();
        retrying_ = false;
        if (Stored(st)) {
            if (!queue_.empty() &&
                queue_.front().record.activation_id == item.record.activation_id) {
                queue_.pop_front();
            }
            ++stored_;
            ++stored_late_;
            if (backoff.attempts() > 0) {
                spdlog::info("activation records: the store takes them again ({} queued)",
                             queue_.size());
            }
            backoff.Reset();
            empty_cv_.notify_all();
            continue;
        }
        if (backoff.attempts() == 0) {
            spdlog::warn(
                "activation records: the store refuses them ({}); {} queued, retrying "
                "with backoff",
                common::MessageOf(st), queue_.size());
        }
        const auto delay = backoff.Next();
        cv_.wait_for(lock, delay, [&] { return stopping_; });
    }
}

size_t RecordWriter::Flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    empty_cv_.wait_for(lock, timeout, [&] { return IdleLocked(); });
    stopping_ = true;
    cv_.notify_all();
    empty_cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
    lock.lock();
    // Callers inside Write() make their records' first attempt (what the store refuses joins
    // the retry queue, counted below).
    empty_cv_.wait(lock, [&] { return !writing_ && pending_.empty(); });
    const size_t left = queue_.size();
    for (const Item& item : queue_) {
        ++lost_;
        common::TidLog(item.tid).error(
            "activation {} is LOST: its record could not be stored before the shutdown",
            item.record.activation_id.str());
    }
    queue_.clear();
    return left;
}

size_t RecordWriter::queued() const {
    std::lock_guard lock(mu_);
    return WaitingLocked();
}

int64_t RecordWriter::stored() const {
    std::lock_guard lock(mu_);
    return stored_;
}

int64_t RecordWriter::batches() const {
    std::lock_guard lock(mu_);
    return batches_;
}

int64_t RecordWriter::stored_late() const {
    std::lock_guard lock(mu_);
    return stored_late_;
}

int64_t RecordWriter::lost() const {
    std::lock_guard lock(mu_);
    return lost_;
}

}  // namespace wisp::invoker
