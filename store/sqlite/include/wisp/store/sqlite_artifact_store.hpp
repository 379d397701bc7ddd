#pragma once
// SqliteArtifactStore: the embedded ArtifactStore, one SQLite file (or an in-memory database).
//
// Concurrency: every method is thread-safe. A file database runs in WAL mode with one writer
// connection (writes are serialised by a mutex and run in `BEGIN IMMEDIATE` transactions, so a
// read-modify-write with a revision check is atomic, also against other processes on the same
// file thanks to busy_timeout) and a small pool of reader connections that read concurrently
// with the writer. ":memory:" uses a single mutex-guarded connection.
//
// Documents are stored as the JSON of <wisp/common/entity_json.hpp> (EntityToJson,
// ActivationToJson(kStored), SubjectToJson, NamespaceLimitsToJson); the other columns are
// derived from the document and exist only to index it. See store/README.md for the schema.
#include <memory>
#include <string>

#include <absl/status/statusor.h>

#include <wisp/store/artifact_store.hpp>

namespace wisp::store {

class SqliteArtifactStore final : public ArtifactStore {
  public:
    /// Opens (creating if missing) the database at `path`, or a private in-memory database for
    /// ":memory:". The parent directory must exist. Unavailable when the file cannot be opened
    /// or is locked; Internal when the schema cannot be created.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteArtifactStore>> Open(
        const std::string& path);

    ~SqliteArtifactStore() override;
    SqliteArtifactStore(const SqliteArtifactStore&) = delete;
    SqliteArtifactStore& operator=(const SqliteArtifactStore&) = delete;

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
    [[nodiscard]] absl::StatusOr<int64_t> DeleteActivationsBefore(int64_t cutoff_ms,
                                                                  int64_t limit) override;
    [[nodiscard]] absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) override;
    [[nodiscard]] absl::StatusOr<bool> HasActivation(std::string_view ns,
                                                     const common::ActivationId& id) override;
    [[nodiscard]] absl::Status DeleteActivation(std::string_view ns,
                                                const common::ActivationId& id) override;
    [[nodiscard]] absl::Status PutJournalEntries(std::vector<JournalEntry>& entries) override;
    [[nodiscard]] absl::StatusOr<std::vector<JournalEntry>> ListJournalEntries(
        std::string_view controller, int64_t limit) override;
    [[nodiscard]] absl::Status RemoveJournalEntries(
        const std::vector<JournalEntry>& entries) override;
    /// Record writes (CreateActivation/s) remove the entries of their activation ids of every
    /// controller this object wrote entries for, in the record's transaction.
    [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListJournalIds(
        std::string_view controller) override;
    [[nodiscard]] absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const ActivationQuery& q) override;
    [[nodiscard]] absl::StatusOr<int64_t> CountActivations(const ActivationQuery& q) override;

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

    /// The file this store was opened on (":memory:" for an in-memory store).
    const std::string& path() const;

  private:
    class Impl;  // sqlite3 stays out of this header
    explicit SqliteArtifactStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace wisp::store
