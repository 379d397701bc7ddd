#pragma once
// FaultyArtifactStore: wraps any ArtifactStore and fails chosen calls (CONVENTIONS.md, fault
// injection per seam): `down` fails every call with Unavailable, as a stopped CouchDB does;
// `fail_activation_writes` fails only Put/CreateActivation; `fail_next_activation_writes`
// fails that many of those calls and then lets them through. Counts the calls that reached it.
// Thread-safe; header-only (link wisp::store and whatever backend the inner store is).
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <wisp/store/artifact_store.hpp>

namespace wisp::testing {

class FaultyArtifactStore final : public store::ArtifactStore {
  public:
    explicit FaultyArtifactStore(store::ArtifactStore& inner) : inner_(inner) {}

    std::atomic<bool> down{false};
    std::atomic<bool> fail_activation_writes{false};
    std::atomic<int> fail_next_activation_writes{0};
    std::atomic<int> activation_writes{0};  // Put/CreateActivation calls, failed ones included
    std::atomic<int> journal_writes{0};     // PutJournalEntries calls

    static absl::Status Down() {
        return absl::UnavailableError("the store is down (FaultyArtifactStore)");
    }

    absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& e,
                                          std::string_view rev) override {
        if (down) return Down();
        return inner_.PutEntity(e, rev);
    }
    absl::StatusOr<store::Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) override {
        if (down) return Down();
        return inner_.GetEntity(type, fqn);
    }
    absl::Status DeleteEntity(common::EntityType type, const common::FullyQualifiedName& fqn,
                              std::string_view rev) override {
        if (down) return Down();
        return inner_.DeleteEntity(type, fqn, rev);
    }
    absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path,
        const store::ListOptions& opts) override {
        if (down) return Down();
        return inner_.ListEntities(type, path, opts);
    }
    absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                          const common::EntityPath& path) override {
        if (down) return Down();
        return inner_.CountEntities(type, path);
    }
    absl::StatusOr<store::Revisioned<common::Subject>> GetSubject(std::string_view s) override {
        if (down) return Down();
        return inner_.GetSubject(s);
    }
    absl::StatusOr<std::string> PutSubject(const common::Subject& s,
                                           std::string_view rev) override {
        if (down) return Down();
        return inner_.PutSubject(s, rev);
    }
    absl::Status DeleteSubject(std::string_view s, std::string_view rev) override {
        if (down) return Down();
        return inner_.DeleteSubject(s, rev);
    }
    absl::StatusOr<std::vector<common::Subject>> ListSubjects() override {
        if (down) return Down();
        return inner_.ListSubjects();
    }
    absl::StatusOr<common::Identity> GetIdentityByKey(const common::AuthKey& key) override {
        if (down) return Down();
        return inner_.GetIdentityByKey(key);
    }
    absl::StatusOr<std::vector<common::Identity>> ListIdentitiesInNamespace(
        std::string_view ns) override {
        if (down) return Down();
        return inner_.ListIdentitiesInNamespace(ns);
    }
    absl::StatusOr<store::Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) override {
        if (down) return Down();
        return inner_.GetLimits(ns);
    }
    absl::Status PutLimits(std::string_view ns, const common::NamespaceLimits& l) override {
        if (down) return Down();
        return inner_.PutLimits(ns, l);
    }
    absl::Status DeleteLimits(std::string_view ns) override {
        if (down) return Down();
        return inner_.DeleteLimits(ns);
    }
    absl::Status PutActivation(const common::ActivationRecord& r) override {
        ++activation_writes;
        if (down || fail_activation_writes) return Down();
        int left = fail_next_activation_writes.load();
        while (left > 0 && !fail_next_activation_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) return Down();
        return inner_.PutActivation(r);
    }
    absl::Status CreateActivation(const common::ActivationRecord& r) override {
        ++activation_writes;
        if (down || fail_activation_writes) return Down();
        int left = fail_next_activation_writes.load();
        while (left > 0 && !fail_next_activation_writes.compare_exchange_weak(left, left - 1)) {
        }
        if (left > 0) return Down();
        return inner_.CreateActivation(r);
    }
    absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override {
        if (down) return Down();
        return inner_.GetActivation(ns, id);
    }
    absl::Status DeleteActivation(std::string_view ns, const common::ActivationId& id) override {
        if (down) return Down();
        return inner_.DeleteActivation(ns, id);
    }
    absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const store::ActivationQuery& q) override {
        if (down) return Down();
        return inner_.ListActivations(q);
    }
    absl::StatusOr<int64_t> CountActivations(const store::ActivationQuery& q) override {
        if (down) return Down();
        return inner_.CountActivations(q);
    }
    absl::Status PutJournalEntries(std::vector<store::JournalEntry>& entries) override {
        ++journal_writes;
        if (down) return Down();
        return inner_.PutJournalEntries(entries);
    }
    absl::StatusOr<std::vector<store::JournalEntry>> ListJournalEntries(std::string_view c,
                                                                        int64_t limit) override {
        if (down) return Down();
        return inner_.ListJournalEntries(c, limit);
    }
    absl::Status RemoveJournalEntries(const std::vector<store::JournalEntry>& entries) override {
        if (down) return Down();
        return inner_.RemoveJournalEntries(entries);
    }

  private:
    store::ArtifactStore& inner_;
};

}  // namespace wisp::testing
