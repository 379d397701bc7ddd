#include <wisp/invoker/record_writer.hpp>

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
    : store_(store), config_(config), thread_([this] { RetryLoop(); }) {}

RecordWriter::~RecordWriter() { (void)Flush(std::chrono::milliseconds(0)); }

void RecordWriter::Write(const common::ActivationRecord& record, const std::string& tid) {
    absl::Status st = store_.CreateActivation(record);
    if (st.code() == absl::StatusCode::kAlreadyExists) {
        common::TidLog(tid).debug("activation {} has a record already; keeping it",
                                  record.activation_id.str());
    }
    if (Stored(st)) return;
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= config_.max_queued) {
        ++lost_;
        common::TidLog(tid).error(
            "activation {} is LOST: the store refused its record ({}) and {} records wait for "
            "it already{}",
            record.activation_id.str(), common::MessageOf(st), queue_.size(),
            stopping_ ? " (shutting down)" : "");
        return;
    }
    common::TidLog(tid).warn("storing activation {} failed: {}; retrying with backoff ({} queued)",
                             record.activation_id.str(), common::MessageOf(st), queue_.size() + 1);
    queue_.push_back({record, tid});
    cv_.notify_all();
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
        lock.lock();
        retrying_ = false;
        if (Stored(st)) {
            if (!queue_.empty() &&
                queue_.front().record.activation_id == item.record.activation_id) {
                queue_.pop_front();
            }
            ++stored_late_;
            if (backoff.attempts() > 0) {
                spdlog::info("activation records: the store takes them again ({} queued)",
                             queue_.size());
            }
            backoff.Reset();
            if (queue_.empty()) empty_cv_.notify_all();
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
    empty_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !retrying_; });
    stopping_ = true;
    cv_.notify_all();
    lock.unlock();
    if (thread_.joinable()) thread_.join();
    lock.lock();
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
    return queue_.size();
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
