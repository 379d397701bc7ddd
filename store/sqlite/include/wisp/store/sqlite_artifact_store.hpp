#pragma once
// SqliteArtifactStore: the embedded ArtifactStore, one SQLite file (or an in-memory database).
//
// Concurrency: every method is thread-safe. A file database runs in WAL mode with one writer
// connection (writes are serialised by a mutex and run in `BEGIN IMMEDIATE` transactions, so a
// read-modify-write with a revision check is atomic, also against other processes on the same
// file thanks to busy_timeout) and a small pool of reader connections that read concurrently
// with the writer. ":memory:" uses a single mutex-guarded connection.
//
// WAL checkpoints run on a background thread, off the write path (store/README.md, "WAL
// checkpoints"): SQLite's automatic checkpoint ran inside the COMMIT that pushed the WAL past
// 1000 pages, on the committing thread and under the writer's mutex — it copies the pages into
// the database file and fsyncs both files (with synchronous=NORMAL the only fsyncs there are),
// so one write in a hundred, and every writer queued behind it, waited for the disk. Now the
// writer's WAL hook only wakes the checkpointer, which runs PASSIVE checkpoints on its own
// connection while commits go on; the first write after a complete checkpoint rewinds the WAL.
// Should commits outrun it (the WAL reaching `force_frames`), the commit that finds it so waits
// for one pass (no other commit can come meanwhile), so the WAL stays bounded at about
// `force_frames`.
//
// Documents are stored as the JSON of <wisp/common/entity_json.hpp> (EntityToJson,
// ActivationToJson(kStored), SubjectToJson, NamespaceLimitsToJson); the other columns are
// derived from the document and exist only to index it. See store/README.md for the schema.
#include <cstdint>
#include <memory>
#include <string>

#include <absl/status/statusor.h>

#include <wisp/store/artifact_store.hpp>

namespace wisp::store {

struct SqliteStoreOptions {
    /// WAL frames (pages) after which the background checkpointer copies them into the
    /// database file. A larger WAL means fewer rewinds (the first commit after a rewind fsyncs
    /// the new WAL header, on the write path): 4000 frames ≈ 16 MB of WAL.
    int checkpoint_frames = 4000;
    /// WAL frames at which a commit waits for a checkpoint pass (commits outran the passes);
    /// bounds the WAL at this size plus one transaction.
    int force_frames = 16000;
    /// SQLite's own automatic checkpoint in the committing thread (every 1000 pages), as before
    /// the checkpointer: for comparisons (environment WISP_SQLITE_CHECKPOINTS=inline).
    bool inline_checkpoints = false;
};

/// What the background checkpointer did (tests, debugging).
struct SqliteCheckpointStats {
    int64_t passes = 0;          // checkpoint passes run
    int64_t forced_passes = 0;   // commits that waited for a pass (the WAL at force_frames)
    int64_t complete = 0;        // passes that copied the whole WAL (the next write rewinds it)
    int64_t frames_copied = 0;   // WAL frames copied into the database file, summed over passes
    int64_t max_wal_frames = 0;  // the largest WAL a commit reported (from checkpoint_frames)
    int64_t max_pass_us = 0;     // the longest pass
};

class SqliteArtifactStore final : public ArtifactStore {
  public:
    /// Opens (creating if missing) the database at `path`, or a private in-memory database for
    /// ":memory:". The parent directory must exist. Unavailable when the file cannot be opened
    /// or is locked; Internal when the schema cannot be created.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteArtifactStore>> Open(
        const std::string& path);
    /// The same with options; the environment's WISP_SQLITE_CHECKPOINTS=inline sets
    /// `inline_checkpoints` for both.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteArtifactStore>> Open(
        const std::string& path, SqliteStoreOptions options);

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
    /// The background checkpointer's counters (all zero for ":memory:" or inline checkpoints).
    SqliteCheckpointStats checkpoint_stats() const;

  private:
    class Impl;  // sqlite3 stays out of this header
    explicit SqliteArtifactStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace wisp::store
