#pragma once
// CouchDbArtifactStore: the ArtifactStore on Apache CouchDB (or pouchdb-server), over libcurl.
//
// Documents have OpenWhisk's shapes, in OpenWhisk's three databases (see store/couchdb/README.md):
//   <prefix>whisks       actions, triggers, rules, packages: the entity JSON + `_id`
//   "ns[/pkg]/name",
//                        `_rev`, `entityType`; design document `whisks.v2.1.0`
//   <prefix>subjects     subjects `{_id: subject, subject, namespaces:[{name,uuid,key}], blocked?}`
//                        and `<ns>/limits` documents; design document `subjects.v2.0.0`
//   <prefix>activations  stored activation records, `_id` "ns/<activationId>"; design documents
//                        `whisks.v2.1.0`, `whisks-filters.v2.1.1`, `activations`
//   <prefix>activation_journal  the controllers' journal of accepted activations, `_id`
//                        "<controller>/<activationId>", `{controller, recoverAfter, record}`
//   <prefix>system_docs  SystemDocs, `_id` "<kind>/<id>", `{kind, id, updated, body}`
// Concurrency control is CouchDB's `_rev`. Transient failures (connection refused/reset, timeouts,
// HTTP 500/502/503/504) are retried with exponential backoff; a request that still fails returns
// Unavailable "CouchDB at <url> is unreachable: ...". Every method is thread-safe and blocking.
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/store/artifact_store.hpp>

namespace wisp::store {

namespace couchdb {
class CouchDbClient;
}

struct CouchDbConfig {
    std::string url = "http://127.0.0.1:5984";  // scheme://host:port[/path], never credentials
    std::string username, password;             // HTTP basic auth; empty = none
    std::string db_prefix;                      // e.g. "test_" -> databases test_whisks, ...
    int max_retries = 5;                        // retries after the first attempt
    int connect_timeout_ms = 5000;
    int request_timeout_ms = 60000;
    int initial_backoff_ms = 100;  // first retry delay; doubles per retry (capped at 5 s)

    /// Parses "http://user:pw@host:port[/path][?prefix=test_&max_retries=N&connect_timeout_ms=N&
    /// request_timeout_ms=N]"; a leading "couchdb:" is accepted. Credentials absent from the URI
    /// come from env WISP_COUCHDB_USERNAME / WISP_COUCHDB_PASSWORD. InvalidArgument (the message
    /// never contains the password) on a malformed URI, unknown parameter or invalid prefix
    /// (CouchDB database names: lowercase letter first, then [a-z0-9_$()+/-]).
    [[nodiscard]] static absl::StatusOr<CouchDbConfig> FromUri(std::string_view uri);
};

class CouchDbArtifactStore final : public ArtifactStore {
  public:
    /// Connects, creates the databases and the design documents when missing (and
    /// replaces design documents whose views differ). Unavailable when CouchDB cannot be reached.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<CouchDbArtifactStore>> Open(
        const CouchDbConfig& config);
    ~CouchDbArtifactStore() override;

    CouchDbArtifactStore(const CouchDbArtifactStore&) = delete;
    CouchDbArtifactStore& operator=(const CouchDbArtifactStore&) = delete;

    /// Database names (prefix included).
    const std::string& whisks_db() const { return whisks_db_; }
    const std::string& subjects_db() const { return subjects_db_; }
    const std::string& activations_db() const { return activations_db_; }
    const std::string& journal_db() const { return journal_db_; }
    const std::string& system_db() const { return system_db_; }
    const CouchDbConfig& config() const { return config_; }

    [[nodiscard]] absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& entity,
                                                        std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) override;
    [[nodiscard]] absl::Status DeleteEntity(common::EntityType type,
                                            const common::FullyQualifiedName& fqn,
                                            std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path, const ListOptions& opts) override;
    [[nodiscard]] absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                                        const common::EntityPath& path) override;

    [[nodiscard]] absl::StatusOr<Revisioned<common::Subject>> GetSubject(
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
    [[nodiscard]] absl::StatusOr<Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) override;
    [[nodiscard]] absl::Status PutLimits(std::string_view ns,
                                         const common::NamespaceLimits& limits) override;
    [[nodiscard]] absl::Status DeleteLimits(std::string_view ns) override;

    [[nodiscard]] absl::Status PutActivation(const common::ActivationRecord& record) override;
    [[nodiscard]] absl::Status CreateActivation(const common::ActivationRecord& record) override;
    [[nodiscard]] absl::StatusOr<std::vector<absl::Status>> CreateActivations(
        std::span<const common::ActivationRecord> records) override;
    /// The oldest records by the `byDate` view, then `_purge` (no tombstone left; the space
    /// comes back at the next compaction); where `_purge` is refused (pouchdb-server, or a user
    /// without admin rights on the database), `_bulk_docs` deletes (tombstones stay).
    [[nodiscard]] absl::StatusOr<int64_t> DeleteActivationsBefore(int64_t cutoff_ms,
                                                                  int64_t limit) override;
    [[nodiscard]] absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override;
    [[nodiscard]] absl::Status DeleteActivation(std::string_view ns,
                                                const common::ActivationId& id) override;
    [[nodiscard]] absl::Status PutJournalEntries(std::vector<JournalEntry>& entries) override;
    [[nodiscard]] absl::StatusOr<std::vector<JournalEntry>> ListJournalEntries(
        std::string_view controller, int64_t limit) override;
    [[nodiscard]] absl::Status RemoveJournalEntries(
        const std::vector<JournalEntry>& entries) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const ActivationQuery& q) override;
    [[nodiscard]] absl::StatusOr<int64_t> CountActivations(const ActivationQuery& q) override;

    /// In <prefix>system_docs: create = PUT without `_rev` (409 -> AlreadyExists), update = PUT
    /// with `_rev` (409 -> Aborted); lists read `_all_docs` over the id range of the prefix.
    [[nodiscard]] absl::StatusOr<std::string> PutSystemDoc(const SystemDoc& doc,
                                                           std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<SystemDoc> GetSystemDoc(std::string_view kind,
                                                         std::string_view id) override;
    [[nodiscard]] absl::Status DeleteSystemDoc(std::string_view kind, std::string_view id,
                                               std::string_view expected_rev) override;
    [[nodiscard]] absl::StatusOr<std::vector<SystemDoc>> ListSystemDocs(std::string_view kind,
                                                                        std::string_view id_prefix,
                                                                        std::string_view after_id,
                                                                        int64_t limit) override;

  private:
    CouchDbArtifactStore(CouchDbConfig config, std::unique_ptr<couchdb::CouchDbClient> client);

    [[nodiscard]] absl::Status EnsureDatabasesAndViews();

    CouchDbConfig config_;
    std::unique_ptr<couchdb::CouchDbClient> client_;
    std::string whisks_db_, subjects_db_, activations_db_, journal_db_, system_db_;
    std::atomic<bool> purge_refused_{false};  // the server refused _purge once: delete instead

    /// The current revisions of `ids` in the journal database (empty: missing or deleted).
    [[nodiscard]] absl::StatusOr<std::vector<std::string>> JournalRevisions(
        const std::vector<std::string>& ids);
};

}  // namespace wisp::store
