// StoreGuard: timeouts, a circuit breaker and a bounded queue between the controller's request
// path and the store (see the header).
#include "store_guard.hpp"

#include <future>

#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

namespace {

[[nodiscard]] const absl::Status& StatusOf(const absl::Status& st) { return st; }
template <class T>
[[nodiscard]] absl::Status StatusOf(const absl::StatusOr<T>& r) {
    return r.status();
}

bool IsOutage(const absl::Status& st) {
    return st.code() == absl::StatusCode::kUnavailable ||
           st.code() == absl::StatusCode::kDeadlineExceeded;
}

}  // namespace

StoreGuard::StoreGuard(store::ArtifactStore& inner, StoreGuardConfig config)
    : inner_(inner), config_(config), open_backoff_(config.open_for) {}

StoreGuard::~StoreGuard() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
}

void StoreGuard::WorkerLoop() {
    std::unique_lock lock(mu_);
    while (true) {
        ++idle_workers_;
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        --idle_workers_;
        if (queue_.empty()) return;
        auto job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

int StoreGuard::worker_count() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(workers_.size());
}

bool StoreGuard::open() const {
    std::lock_guard lock(mu_);
    return tripped_;
}

absl::Status StoreGuard::Admit() {
    std::lock_guard lock(mu_);
    if (!tripped_) return absl::OkStatus();
    if (std::chrono::steady_clock::now() >= open_until_ && !probing_) {
        probing_ = true;  // this call finds out whether the store is back
        return absl::OkStatus();
    }
    return absl::UnavailableError(common::Cat("the store is unavailable (", last_error_,
                                              "); not tried again yet, retry shortly"));
}

void StoreGuard::Record(const absl::Status& st, bool timed_out) {
    std::lock_guard lock(mu_);
    const bool was_probe = probing_;
    probing_ = false;
    if (!IsOutage(st)) {
        if (tripped_) spdlog::info("store: answering again; requests use it again");
        tripped_ = false;
        consecutive_failures_ = 0;
        open_backoff_.Reset();
        return;
    }
    // A hung store trips at once; errors after `failure_threshold` in a row (one may be a
    // blip), and a failed probe keeps it open.
    ++consecutive_failures_;
    if (!timed_out && !was_probe && !tripped_ &&
        consecutive_failures_ < config_.failure_threshold) {
        return;
    }
    last_error_ = common::RedactUri(common::MessageOf(st));
    if (!tripped_) {
        spdlog::warn("store: {}; requests answer 503 until it answers again", last_error_);
    }
    tripped_ = true;
    open_until_ = std::chrono::steady_clock::now() + open_backoff_.Next();
}

template <class R>
R StoreGuard::Run(std::function<R()> f) {
    if (absl::Status admitted = Admit(); !admitted.ok()) return admitted;
    if (config_.call_timeout.count() <= 0) {
        R result = f();
        Record(StatusOf(result), false);
        return result;
    }
    auto promise = std::make_shared<std::promise<R>>();
    std::future<R> future = promise->get_future();
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= config_.max_queued) {
            probing_ = false;
            return absl::UnavailableError(
                common::Cat("the store is not keeping up: ", queue_.size(),
                            " calls wait for it; retry shortly"));
        }
        queue_.push_back([promise, f = std::move(f)] {
            // A throwing call becomes an Internal status here rather than travel as an
            // exception_ptr: the caller would read what() of an exception object whose last
            // reference this thread may drop at the same time (TSan saw it in CI).
            try {
                promise->set_value(f());
            } catch (const std::exception& e) {
                promise->set_value(
                    R(absl::InternalError(common::Cat("the store call threw: ", e.what()))));
            } catch (...) {
                promise->set_value(
                    R(absl::InternalError("the store call threw an unknown exception")));
            }
        });
        // Every worker busy (or none yet): one more, up to the bound. Idle processes keep no
        // threads they never used.
        if (static_cast<int>(queue_.size()) > idle_workers_ &&
            static_cast<int>(workers_.size()) < std::max(1, config_.workers)) {
            workers_.emplace_back([this] { WorkerLoop(); });
        }
    }
    cv_.notify_one();
    if (future.wait_for(config_.call_timeout) != std::future_status::ready) {
        const absl::Status timed_out = absl::UnavailableError(
            common::Cat("the store did not answer within ", config_.call_timeout.count(), " ms"));
        Record(timed_out, true);
        return timed_out;
    }
    R result = future.get();
    Record(StatusOf(result), false);
    return result;
}

// ---- forwarding: every argument copied (the call may outlive the caller's wait) ----------------

absl::StatusOr<std::string> StoreGuard::PutEntity(const common::WhiskEntity& entity,
                                                  std::string_view expected_rev) {
    return Run<absl::StatusOr<std::string>>(
        [this, entity, rev = std::string(expected_rev)] { return inner_.PutEntity(entity, rev); });
}
absl::StatusOr<store::Revisioned<common::WhiskEntity>> StoreGuard::GetEntity(
    common::EntityType type, const common::FullyQualifiedName& fqn) {
    return Run<absl::StatusOr<store::Revisioned<common::WhiskEntity>>>(
        [this, type, fqn] { return inner_.GetEntity(type, fqn); });
}
absl::Status StoreGuard::DeleteEntity(common::EntityType type,
                                      const common::FullyQualifiedName& fqn,
                                      std::string_view expected_rev) {
    return Run<absl::Status>([this, type, fqn, rev = std::string(expected_rev)] {
        return inner_.DeleteEntity(type, fqn, rev);
    });
}
absl::StatusOr<std::vector<common::WhiskEntity>> StoreGuard::ListEntities(
    common::EntityType type, const common::EntityPath& path, const store::ListOptions& opts) {
    return Run<absl::StatusOr<std::vector<common::WhiskEntity>>>(
        [this, type, path, opts] { return inner_.ListEntities(type, path, opts); });
}
absl::StatusOr<int64_t> StoreGuard::CountEntities(common::EntityType type,
                                                  const common::EntityPath& path) {
    return Run<absl::StatusOr<int64_t>>(
        [this, type, path] { return inner_.CountEntities(type, path); });
}
absl::StatusOr<store::Revisioned<common::Subject>> StoreGuard::GetSubject(
    std::string_view subject) {
    return Run<absl::StatusOr<store::Revisioned<common::Subject>>>(
        [this, s = std::string(subject)] { return inner_.GetSubject(s); });
}
absl::StatusOr<std::string> StoreGuard::PutSubject(const common::Subject& subject,
                                                   std::string_view expected_rev) {
    return Run<absl::StatusOr<std::string>>([this, subject, rev = std::string(expected_rev)] {
        return inner_.PutSubject(subject, rev);
    });
}
absl::Status StoreGuard::DeleteSubject(std::string_view subject, std::string_view expected_rev) {
    return Run<absl::Status>([this, s = std::string(subject), rev = std::string(expected_rev)] {
        return inner_.DeleteSubject(s, rev);
    });
}
absl::StatusOr<std::vector<common::Subject>> StoreGuard::ListSubjects() {
    return Run<absl::StatusOr<std::vector<common::Subject>>>(
        [this] { return inner_.ListSubjects(); });
}
absl::StatusOr<common::Identity> StoreGuard::GetIdentityByKey(const common::AuthKey& key) {
    return Run<absl::StatusOr<common::Identity>>(
        [this, key] { return inner_.GetIdentityByKey(key); });
}
absl::StatusOr<std::vector<common::Identity>> StoreGuard::ListIdentitiesInNamespace(
    std::string_view ns) {
    return Run<absl::StatusOr<std::vector<common::Identity>>>(
        [this, n = std::string(ns)] { return inner_.ListIdentitiesInNamespace(n); });
}
absl::StatusOr<store::Revisioned<common::NamespaceLimits>> StoreGuard::GetLimits(
    std::string_view ns) {
    return Run<absl::StatusOr<store::Revisioned<common::NamespaceLimits>>>(
        [this, n = std::string(ns)] { return inner_.GetLimits(n); });
}
absl::Status StoreGuard::PutLimits(std::string_view ns, const common::NamespaceLimits& limits) {
    return Run<absl::Status>(
        [this, n = std::string(ns), limits] { return inner_.PutLimits(n, limits); });
}
absl::Status StoreGuard::DeleteLimits(std::string_view ns) {
    return Run<absl::Status>([this, n = std::string(ns)] { return inner_.DeleteLimits(n); });
}
absl::Status StoreGuard::PutActivation(const common::ActivationRecord& record) {
    return Run<absl::Status>([this, record] { return inner_.PutActivation(record); });
}
absl::Status StoreGuard::CreateActivation(const common::ActivationRecord& record) {
    return Run<absl::Status>([this, record] { return inner_.CreateActivation(record); });
}
absl::StatusOr<std::vector<absl::Status>> StoreGuard::CreateActivations(
    std::span<const common::ActivationRecord> records) {
    return Run<absl::StatusOr<std::vector<absl::Status>>>(
        [this, batch = std::vector<common::ActivationRecord>(records.begin(), records.end())] {
            return inner_.CreateActivations(batch);
        });
}
absl::StatusOr<int64_t> StoreGuard::DeleteActivationsBefore(int64_t cutoff_ms, int64_t limit) {
    return Run<absl::StatusOr<int64_t>>(
        [this, cutoff_ms, limit] { return inner_.DeleteActivationsBefore(cutoff_ms, limit); });
}
absl::StatusOr<common::ActivationRecord> StoreGuard::GetActivation(std::string_view ns,
                                                                   const common::ActivationId& id) {
    return Run<absl::StatusOr<common::ActivationRecord>>(
        [this, n = std::string(ns), id] { return inner_.GetActivation(n, id); });
}
absl::StatusOr<bool> StoreGuard::HasActivation(std::string_view ns,
                                               const common::ActivationId& id) {
    return Run<absl::StatusOr<bool>>(
        [this, n = std::string(ns), id] { return inner_.HasActivation(n, id); });
}
absl::Status StoreGuard::DeleteActivation(std::string_view ns, const common::ActivationId& id) {
    return Run<absl::Status>(
        [this, n = std::string(ns), id] { return inner_.DeleteActivation(n, id); });
}
absl::StatusOr<std::vector<common::ActivationRecord>> StoreGuard::ListActivations(
    const store::ActivationQuery& q) {
    return Run<absl::StatusOr<std::vector<common::ActivationRecord>>>(
        [this, q] { return inner_.ListActivations(q); });
}
absl::StatusOr<int64_t> StoreGuard::CountActivations(const store::ActivationQuery& q) {
    return Run<absl::StatusOr<int64_t>>([this, q] { return inner_.CountActivations(q); });
}
absl::Status StoreGuard::PutJournalEntries(std::vector<store::JournalEntry>& entries) {
    // The entries travel to the worker and back (with their revisions) by move, not copied:
    // they hold the records, and this is on every invoke's path. On an error (a timeout: the
    // worker may still hold them) `entries` comes back empty; the caller does not use them then.
    auto shared = std::make_shared<std::vector<store::JournalEntry>>(std::move(entries));
    entries.clear();
    using Result = absl::StatusOr<std::vector<store::JournalEntry>>;
    Result written = Run<Result>([this, shared]() -> Result {
        if (absl::Status st = inner_.PutJournalEntries(*shared); !st.ok()) return st;
        return std::move(*shared);
    });
    if (!written.ok()) return written.status();
    entries = *std::move(written);
    return absl::OkStatus();
}
absl::StatusOr<std::vector<store::JournalEntry>> StoreGuard::ListJournalEntries(
    std::string_view controller, int64_t limit) {
    return Run<absl::StatusOr<std::vector<store::JournalEntry>>>(
        [this, c = std::string(controller), limit] { return inner_.ListJournalEntries(c, limit); });
}
absl::Status StoreGuard::RemoveJournalEntries(const std::vector<store::JournalEntry>& entries) {
    return Run<absl::Status>([this, entries] { return inner_.RemoveJournalEntries(entries); });
}
absl::StatusOr<std::vector<std::string>> StoreGuard::ListJournalIds(std::string_view controller) {
    return Run<absl::StatusOr<std::vector<std::string>>>(
        [this, c = std::string(controller)] { return inner_.ListJournalIds(c); });
}
absl::StatusOr<std::string> StoreGuard::PutSystemDoc(const store::SystemDoc& doc,
                                                     std::string_view expected_rev) {
    return Run<absl::StatusOr<std::string>>(
        [this, doc, rev = std::string(expected_rev)] { return inner_.PutSystemDoc(doc, rev); });
}
absl::StatusOr<store::SystemDoc> StoreGuard::GetSystemDoc(std::string_view kind,
                                                          std::string_view id) {
    return Run<absl::StatusOr<store::SystemDoc>>(
        [this, k = std::string(kind), i = std::string(id)] { return inner_.GetSystemDoc(k, i); });
}
absl::Status StoreGuard::DeleteSystemDoc(std::string_view kind, std::string_view id,
                                         std::string_view expected_rev) {
    return Run<absl::Status>(
        [this, k = std::string(kind), i = std::string(id), rev = std::string(expected_rev)] {
            return inner_.DeleteSystemDoc(k, i, rev);
        });
}
absl::StatusOr<std::vector<store::SystemDoc>> StoreGuard::ListSystemDocs(std::string_view kind,
                                                                         std::string_view id_prefix,
                                                                         std::string_view after_id,
                                                                         int64_t limit) {
    return Run<absl::StatusOr<std::vector<store::SystemDoc>>>(
        [this, k = std::string(kind), p = std::string(id_prefix), a = std::string(after_id),
         limit] { return inner_.ListSystemDocs(k, p, a, limit); });
}

}  // namespace wisp::controller
