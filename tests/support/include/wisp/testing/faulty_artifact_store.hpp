#pragma once
// FaultyArtifactStore: wraps any ArtifactStore and fails chosen calls (CONVENTIONS.md, fault
// injection per seam): `down` fails every call with Unavailable, as a stopped CouchDB does;
// `fail_activation_writes` fails only Put/CreateActivation; `fail_next_activation_writes`
// fails that many of those calls and then lets them through (`fail_system_doc_writes` and
// `fail_next_system_doc_writes` the same for Put/DeleteSystemDoc); Hang() makes every call block
// until Release(), as a stopped (SIGSTOP) CouchDB does. Counts the calls that reached it.
// Thread-safe; header-only (link wisp::store and whatever backend the inner store is).
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <wisp/store/artifact_store.hpp>

namespace wisp::testing {

class FaultyArtifactStore final : public store::ArtifactStore {
  public:
    explicit FaultyArtifactStore(store::ArtifactStore& inner) : inner_(inner) {}

    std::atomic<bool> down{false};
    std::atomic<bool> fail_activation_writes{false};
    // ListJournalIds answers Unimplemented, as a store without it (CouchDB) does.
    std::atomic<bool> no_journal_ids{false};
    std::atomic<int> fail_next_activation_writes{0};
    std::atomic<int> activation_writes{0};   // Put/CreateActivation calls, failed ones included
    std::atomic<int> activation_batches{0};  // CreateActivations calls
    std::atomic<int> journal_writes{0};      // PutJournalEntries calls
    std::atomic<int> journal_removals{0};    // RemoveJournalEntries calls
    /// Put/DeleteSystemDoc fail with Unavailable (reads still work).
    std::atomic<bool> fail_system_doc_writes{false};
    /// The next that many Put/DeleteSystemDoc calls fail with Unavailable.
    std::atomic<int> fail_next_system_doc_writes{0};
    std::atomic<int> system_doc_writes{0};  // Put/DeleteSystemDoc calls, failed ones included

    std::atomic<int> calls{0};  // every call that reached the wrapper

    void Hang() {
        std::lock_guard lock(hang_mu_);
        hung_ = true;
    }
    void Release() {
        {
            std::lock_guard lock(hang_mu_);
            hung_ = false;
        }
        hang_cv_.notify_all();
    }

    /// Unavailable when `down`; blocks while hung. Every call goes through it.
    [[nodiscard]] absl::Status Gate() {
        ++calls;
        {
            std::unique_lock lock(hang_mu_);
            hang_cv_.wait(lock, [&] { return !hung_; });
        }
        return down ? absl::UnavailableError("the store is down (FaultyArtifactStore)")
                    : absl::OkStatus();
    }

    [[nodiscard]] absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& e,
                                                        std::string_view rev) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.PutEntity(e, rev);
    }
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetEntity(type, fqn);
    }
    [[nodiscard]] absl::Status DeleteEntity(common::EntityType type,
                                            const common::FullyQualifiedName& fqn,
                                            std::string_view rev) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.DeleteEntity(type, fqn, rev);
    }
    [[nodiscard]] absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path,
        const store::ListOptions& opts) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListEntities(type, path, opts);
    }
    [[nodiscard]] absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                                        const common::EntityPath& path) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.CountEntities(type, path);
    }
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::Subject>> GetSubject(
        std::string_view s) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetSubject(s);
    }
    [[nodiscard]] absl::StatusOr<std::string> PutSubject(const common::Subject& s,
                                                         std::string_view rev) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.PutSubject(s, rev);
    }
    [[nodiscard]] absl::Status DeleteSubject(std::string_view s, std::string_view rev) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.DeleteSubject(s, rev);
    }
    [[nodiscard]] absl::StatusOr<std::vector<common::Subject>> ListSubjects() override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListSubjects();
    }
    [[nodiscard]] absl::StatusOr<common::Identity> GetIdentityByKey(
        const common::AuthKey& key) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetIdentityByKey(key);
    }
    [[nodiscard]] absl::StatusOr<std::vector<common::Identity>> ListIdentitiesInNamespace(
        std::string_view ns) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListIdentitiesInNamespace(ns);
    }
    [[nodiscard]] absl::StatusOr<store::Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetLimits(ns);
    }
    [[nodiscard]] absl::Status PutLimits(std::string_view ns,
                                         const common::NamespaceLimits& l) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.PutLimits(ns, l);
    }
    [[nodiscard]] absl::Status DeleteLimits(std::string_view ns) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.DeleteLimits(ns);
    }
    [[nodiscard]] absl::Status PutActivation(const common::ActivationRecord& r) override {
        ++activation_writes;
        if (auto st = Gate(); !st.ok()) return st;
        if (fail_activation_writes) return Refused();
        int left = fail_next_activation_writes.load();
        while (left > 0 && !fail_next_activation_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) return Refused();
        return inner_.PutActivation(r);
    }
    [[nodiscard]] absl::Status CreateActivation(const common::ActivationRecord& r) override {
        ++activation_writes;
        if (auto st = Gate(); !st.ok()) return st;
        if (fail_activation_writes) return Refused();
        int left = fail_next_activation_writes.load();
        while (left > 0 && !fail_next_activation_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) return Refused();
        return inner_.CreateActivation(r);
    }
    /// One call (counted once in `activation_writes` and `activation_batches`; the fault
    /// switches fail the whole batch), then the inner store's batch (one transaction).
    [[nodiscard]] absl::StatusOr<std::vector<absl::Status>> CreateActivations(
        std::span<const common::ActivationRecord> records) override {
        ++activation_writes;
        ++activation_batches;
        if (auto st = Gate(); !st.ok()) return st;
        if (fail_activation_writes) return Refused();
        int left = fail_next_activation_writes.load();
        while (left > 0 && !fail_next_activation_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) return Refused();
        return inner_.CreateActivations(records);
    }
    [[nodiscard]] absl::StatusOr<int64_t> DeleteActivationsBefore(int64_t cutoff_ms,
                                                                  int64_t limit) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.DeleteActivationsBefore(cutoff_ms, limit);
    }
    [[nodiscard]] absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetActivation(ns, id);
    }
    [[nodiscard]] absl::StatusOr<bool> HasActivation(std::string_view ns,
                                                     const common::ActivationId& id) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.HasActivation(ns, id);
    }
    [[nodiscard]] absl::Status DeleteActivation(std::string_view ns,
                                                const common::ActivationId& id) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.DeleteActivation(ns, id);
    }
    [[nodiscard]] absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const store::ActivationQuery& q) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListActivations(q);
    }
    [[nodiscard]] absl::StatusOr<int64_t> CountActivations(
        const store::ActivationQuery& q) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.CountActivations(q);
    }
    [[nodiscard]] absl::Status PutJournalEntries(
        std::vector<store::JournalEntry>& entries) override {
        ++journal_writes;
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.PutJournalEntries(entries);
    }
    [[nodiscard]] absl::StatusOr<std::vector<store::JournalEntry>> ListJournalEntries(
        std::string_view c, int64_t limit) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListJournalEntries(c, limit);
    }
    [[nodiscard]] absl::Status RemoveJournalEntries(
        const std::vector<store::JournalEntry>& entries) override {
        ++journal_removals;
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.RemoveJournalEntries(entries);
    }
    [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListJournalIds(
        std::string_view c) override {
        if (no_journal_ids) return absl::UnimplementedError("ListJournalIds (FaultyArtifactStore)");
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListJournalIds(c);
    }

    [[nodiscard]] absl::StatusOr<std::string> PutSystemDoc(const store::SystemDoc& doc,
                                                           std::string_view rev) override {
        ++system_doc_writes;
        if (auto st = Gate(); !st.ok()) return st;
        if (auto st = SystemDocWriteFault(); !st.ok()) return st;
        return inner_.PutSystemDoc(doc, rev);
    }
    [[nodiscard]] absl::StatusOr<store::SystemDoc> GetSystemDoc(std::string_view kind,
                                                                std::string_view id) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.GetSystemDoc(kind, id);
    }
    [[nodiscard]] absl::Status DeleteSystemDoc(std::string_view kind, std::string_view id,
                                               std::string_view rev) override {
        ++system_doc_writes;
        if (auto st = Gate(); !st.ok()) return st;
        if (auto st = SystemDocWriteFault(); !st.ok()) return st;
        return inner_.DeleteSystemDoc(kind, id, rev);
    }
    [[nodiscard]] absl::StatusOr<std::vector<store::SystemDoc>> ListSystemDocs(
        std::string_view kind, std::string_view id_prefix, std::string_view after_id,
        int64_t limit) override {
        if (auto st = Gate(); !st.ok()) return st;
        return inner_.ListSystemDocs(kind, id_prefix, after_id, limit);
    }

  private:
    [[nodiscard]] absl::Status SystemDocWriteFault() {
        if (fail_system_doc_writes) {
            return absl::UnavailableError(
                "the store refused the system document (FaultyArtifactStore)");
        }
        int left = fail_next_system_doc_writes.load();
        while (left > 0 && !fail_next_system_doc_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) {
            return absl::UnavailableError(
                "the store refused the system document (FaultyArtifactStore)");
        }
        return absl::OkStatus();
    }
    [[nodiscard]] static absl::Status Refused() {
        return absl::UnavailableError("the store refused the record (FaultyArtifactStore)");
    }

    store::ArtifactStore& inner_;
    std::mutex hang_mu_;
    std::condition_variable hang_cv_;
    bool hung_ = false;
};

}  // namespace wisp::testing
