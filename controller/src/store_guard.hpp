#pragma once
// StoreGuard: the ArtifactStore as the controller's request path sees it — a hung or stopped
// store never holds an HTTP thread for long (issue 12, "Store outage").
//
//   - every call runs on the guard's own workers; the calling thread waits at most
//     `call_timeout`, then answers Unavailable "the store did not answer within ..." (the call
//     itself finishes in the background, its result dropped);
//   - a circuit breaker: after `failure_threshold` calls in a row fail with Unavailable or
//     DeadlineExceeded, or one times out, calls fail at once with Unavailable for a while
//     (common::Backoff: 250 ms growing to 5 s), then one probe goes through; its success closes the
//     breaker;
//   - at most `max_queued` calls wait for a worker; beyond, Unavailable at once;
//   - the workers start with the calls that need them (none at idle), up to `workers`, and stay.
// The controller maps Unavailable to 503 with OpenWhisk's "The server is currently unavailable"
// text, so reads answer 503 while the store is down and /ping (which never touches the store)
// keeps answering. `call_timeout` 0 = calls run inline on the caller's thread (breaker only).
// Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <wisp/common/backoff.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

struct StoreGuardConfig {
    std::chrono::milliseconds call_timeout{5000};
    int workers = 16;  // at most; started when a call finds none idle
    size_t max_queued = 1024;
    /// Unavailable answers in a row that open the breaker (a timeout opens it at once).
    int failure_threshold = 3;
    common::BackoffPolicy open_for{.initial = std::chrono::milliseconds(250),
                                   .multiplier = 2,
                                   .jitter = 0.2,
                                   .max = std::chrono::milliseconds(5000)};
};

class StoreGuard final : public store::ArtifactStore {
  public:
    StoreGuard(store::ArtifactStore& inner, StoreGuardConfig config);
    ~StoreGuard() override;
    StoreGuard(const StoreGuard&) = delete;
    StoreGuard& operator=(const StoreGuard&) = delete;

    /// Whether calls currently fail at once.
    bool open() const;
    /// Worker threads started so far (0 until the first call; never more than `workers`).
    int worker_count() const;

    [[nodiscard]] absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& entity,
                                                        std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) override;
    [[nodiscard]] absl::Status DeleteEntity(common::EntityType type,
                                            const common::FullyQualifiedName& fqn,
                                            std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path,
        const store::ListOptions& opts) override;
    [[nodiscard]] absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                                        const common::EntityPath& path) override;
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::Subject>> GetSubject(
        std::string_view subject) override;
    [[nodiscard]] absl::StatusOr<std::string> PutSubject(const common::Subject& subject,
                                                         std::string_view expected_rev) override;
    [[nodiscard]] absl::Status DeleteSubject(std::string_view subject,
                                             std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::Subject>> ListSubjects() override;
    [[nodiscard]] absl::StatusOr<common::Identity> GetIdentityByKey(
        const common::AuthKey& key) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::Identity>> ListIdentitiesInNamespace(
        std::string_view ns) override;
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) override;
    [[nodiscard]] absl::Status PutLimits(std::string_view ns,
                                         const common::NamespaceLimits& limits) override;
    [[nodiscard]] absl::Status DeleteLimits(std::string_view ns) override;
    [[nodiscard]] absl::Status PutActivation(const common::ActivationRecord& record) override;
    [[nodiscard]] absl::Status CreateActivation(const common::ActivationRecord& record) override;
    [[nodiscard]] absl::StatusOr<std::vector<absl::Status>> CreateActivations(
        std::span<const common::ActivationRecord> records) override;
    [[nodiscard]] absl::StatusOr<int64_t> DeleteActivationsBefore(int64_t cutoff_ms,
                                                                  int64_t limit) override;
    [[nodiscard]] absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override;
    [[nodiscard]] absl::StatusOr<bool> HasActivation(std::string_view ns,
                                                     const common::ActivationId& id) override;
    [[nodiscard]] absl::Status DeleteActivation(std::string_view ns,
                                                const common::ActivationId& id) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const store::ActivationQuery& q) override;
    [[nodiscard]] absl::StatusOr<int64_t> CountActivations(
        const store::ActivationQuery& q) override;
    [[nodiscard]] absl::Status PutJournalEntries(
        std::vector<store::JournalEntry>& entries) override;
    [[nodiscard]] absl::StatusOr<std::vector<store::JournalEntry>> ListJournalEntries(
        std::string_view controller, int64_t limit) override;
    [[nodiscard]] absl::Status RemoveJournalEntries(
        const std::vector<store::JournalEntry>& entries) override;
    [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListJournalIds(
        std::string_view controller) override;
    [[nodiscard]] absl::StatusOr<std::string> PutSystemDoc(const store::SystemDoc& doc,
                                                           std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<store::SystemDoc> GetSystemDoc(std::string_view kind,
                                                                std::string_view id) override;
    [[nodiscard]] absl::Status DeleteSystemDoc(std::string_view kind, std::string_view id,
                                               std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<std::vector<store::SystemDoc>> ListSystemDocs(
        std::string_view kind, std::string_view id_prefix, std::string_view after_id,
        int64_t limit) override;

  private:
    /// Runs `f` (which owns copies of its arguments) under the breaker and the timeout.
    template <class R>
    R Run(std::function<R()> f);
    /// Unavailable when the breaker is open (and this call is not the probe).
    [[nodiscard]] absl::Status Admit();
    void Record(const absl::Status& st, bool timed_out);
    void WorkerLoop();

    store::ArtifactStore& inner_;
    const StoreGuardConfig config_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    int idle_workers_ = 0;  // waiting for a call
    std::vector<std::thread> workers_;

    // breaker (under mu_)
    common::Backoff open_backoff_;
    std::chrono::steady_clock::time_point open_until_{};
    bool tripped_ = false;
    bool probing_ = false;
    int consecutive_failures_ = 0;
    std::string last_error_;
};

}  // namespace wisp::controller
