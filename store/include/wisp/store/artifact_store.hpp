#pragma once
// ArtifactStore: where entities, subjects, namespace limits and activation records live.
//
// Backends: SqliteArtifactStore (embedded default), CouchDbArtifactStore (production). Every
// method is thread-safe and blocks the calling thread until the backend answers. Errors use the
// codes of <wisp/common/status.hpp>:
//   NotFound            the document does not exist ("The requested resource does not exist.")
//   AlreadyExists       create of an id that exists, same type ("resource already exists")
//   FailedPrecondition  the id exists as another entity type ("Resource by this name exists but
//                       is not in this collection.")
//   Aborted             update/delete with a stale revision (another writer won)
//   Unavailable         the backend cannot be reached (message says where and what to do)
//   Internal            anything else; never a silently dropped write.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/limits.hpp>

namespace wisp::store {

/// A document with its revision (opaque; CouchDB's `_rev` or an emulation of it).
template <class T>
struct Revisioned {
    T doc;
    std::string rev;
};

struct ListOptions {
    int64_t skip = 0;
    int64_t limit = 0;  // 0 = no limit
};

struct ActivationQuery {
    std::string namespace_name;  // required
    std::optional<std::string>
        name;  // "a" or "pkg/a", matched against ActivationRecord::FilterName
    std::optional<int64_t> since_ms;  // start >= since
    std::optional<int64_t> upto_ms;   // start <= upto
    int64_t skip = 0;
    int64_t limit = 0;  // 0 = no limit
};

/// One accepted activation in a controller's journal (see the journal methods below).
struct JournalEntry {
    /// The id of the controller that accepted it ("0" for wisp-standalone).
    std::string controller;
    /// The record to store if the activation never finishes: namespace, name, subject,
    /// activation id, start and annotations as accepted (a sequence: the components run so far
    /// in `logs`); the recovery sets the response and the end.
    common::ActivationRecord record;
    /// Epoch ms before which nobody but its invoker may write the record: the forced
    /// completion deadline (an invoker may still run it until then).
    int64_t recover_after_ms = 0;
    /// The store's revision (opaque), set by PutJournalEntries and ListJournalEntries.
    std::string rev;
};

/// A platform-owned document that is not an entity: an alarm schedule, a firing claim, an API
/// route... (`kind` names the collection). Users never address these by id; the controller
/// checks ownership before it reads or writes one.
struct SystemDoc {
    std::string kind;  // [a-z][a-z0-9-]* , at most 64 characters
    std::string id;    // 1..1024 bytes, any characters but NUL (e.g. "guest/every-minute")
    /// A JSON object (the caller's schema); at most 1 MiB.
    std::string body;
    int64_t updated_ms = 0;  // set by the caller
    std::string rev;         // the store's revision (opaque), set by Get/List
};

class ArtifactStore {
  public:
    virtual ~ArtifactStore() = default;

    // ---- entities (actions, triggers, rules, packages) --------------------------------------
    // The four types share one id space: "ns[/pkg]/name" (FullyQualifiedName::DocId).

    /// Creates (`expected_rev` empty) or updates (`expected_rev` = the revision read) an
    /// entity; the caller sets `updated_ms`. Returns the new revision.
    /// Create of an existing id -> AlreadyExists (same type) or FailedPrecondition (other type);
    /// update with a stale revision or of a missing document -> Aborted.
    [[nodiscard]] virtual absl::StatusOr<std::string> PutEntity(const common::WhiskEntity& entity,
                                                                std::string_view expected_rev) = 0;

    /// NotFound, or FailedPrecondition when the id holds another entity type.
    [[nodiscard]] virtual absl::StatusOr<Revisioned<common::WhiskEntity>> GetEntity(
        common::EntityType type, const common::FullyQualifiedName& fqn) = 0;

    /// Deletes; `expected_rev` empty = whatever revision is current. NotFound,
    /// FailedPrecondition (other type), Aborted (stale revision).
    [[nodiscard]] virtual absl::Status DeleteEntity(common::EntityType type,
                                                    const common::FullyQualifiedName& fqn,
                                                    std::string_view expected_rev) = 0;

    /// Entities of `type` under `path`, newest `updated_ms` first. A root path ("guest") lists
    /// everything in the namespace, packaged actions included; "guest/pkg" lists that package.
    [[nodiscard]] virtual absl::StatusOr<std::vector<common::WhiskEntity>> ListEntities(
        common::EntityType type, const common::EntityPath& path, const ListOptions& opts) = 0;
    [[nodiscard]] virtual absl::StatusOr<int64_t> CountEntities(common::EntityType type,
                                                                const common::EntityPath& path) = 0;

    // ---- subjects, identities, namespace limits ---------------------------------------------

    [[nodiscard]] virtual absl::StatusOr<Revisioned<common::Subject>> GetSubject(
        std::string_view subject) = 0;
    /// Create (`expected_rev` empty; AlreadyExists if present) or update. Returns the revision.
    [[nodiscard]] virtual absl::StatusOr<std::string> PutSubject(const common::Subject& subject,
                                                                 std::string_view expected_rev) = 0;
    [[nodiscard]] virtual absl::Status DeleteSubject(std::string_view subject,
                                                     std::string_view expected_rev) = 0;
    /// Every subject, sorted by subject name.
    [[nodiscard]] virtual absl::StatusOr<std::vector<common::Subject>> ListSubjects() = 0;

    /// The identity owning `key` with its namespace limits. NotFound when no unblocked subject
    /// has this uuid and key.
    [[nodiscard]] virtual absl::StatusOr<common::Identity> GetIdentityByKey(
        const common::AuthKey& key) = 0;
    /// Identities of every unblocked subject owning namespace `ns` (first = oldest).
    [[nodiscard]] virtual absl::StatusOr<std::vector<common::Identity>> ListIdentitiesInNamespace(
        std::string_view ns) = 0;

    /// The `<ns>/limits` document; NotFound when the namespace has none.
    [[nodiscard]] virtual absl::StatusOr<Revisioned<common::NamespaceLimits>> GetLimits(
        std::string_view ns) = 0;
    /// Replaces the namespace's limits (last writer wins).
    [[nodiscard]] virtual absl::Status PutLimits(std::string_view ns,
                                                 const common::NamespaceLimits& limits) = 0;
    [[nodiscard]] virtual absl::Status DeleteLimits(std::string_view ns) = 0;

    // ---- activations -------------------------------------------------------------------------

    /// Stores a record; storing the same activation id again replaces it (at-least-once
    /// delivery makes duplicates possible).
    [[nodiscard]] virtual absl::Status PutActivation(const common::ActivationRecord& record) = 0;
    /// Stores a record only if none exists for its id (atomically: of two writers exactly one
    /// succeeds). Errors: AlreadyExists when a record with that id is stored (the first writer
    /// wins: an invoker's late result and the controller's forced completion never both
    /// exist), InvalidArgument (no namespace or id), Unavailable.
    /// A backend may remove the journal entry of the record's activation in the same
    /// transaction (it is done: its record exists); SQLite does so for the controllers whose
    /// entries this store object wrote (PutJournalEntries), CouchDB does not. The journal's
    /// sweeper learns of it from ListJournalIds and has nothing to look up or remove then.
    [[nodiscard]] virtual absl::Status CreateActivation(const common::ActivationRecord& record) = 0;
    /// CreateActivation for many records at once (group commit): one transaction (SQLite) or
    /// one `_bulk_docs` request (CouchDB). On success returns one status per record, in order:
    /// OK (stored by this call), AlreadyExists (a record with that id was there: the first
    /// writer's stays) or InvalidArgument; every OK record is stored when this returns. An
    /// error for the whole call (Unavailable, Internal) means the caller must assume none was
    /// written (create-only makes writing them again safe). The default loops over
    /// CreateActivation (then an outage fails the call with the first record's error).
    [[nodiscard]] virtual absl::StatusOr<std::vector<absl::Status>> CreateActivations(
        std::span<const common::ActivationRecord> records);
    [[nodiscard]] virtual absl::StatusOr<common::ActivationRecord> GetActivation(
        std::string_view ns, const common::ActivationId& id) = 0;
    /// Whether the record of `id` exists in `ns`, without reading it (the journal's sweeper asks
    /// this of every accepted activation). Blocks; thread-safe. Errors: Unavailable/Internal
    /// (the store). The default reads the record with GetActivation.
    [[nodiscard]] virtual absl::StatusOr<bool> HasActivation(std::string_view ns,
                                                             const common::ActivationId& id);
    [[nodiscard]] virtual absl::Status DeleteActivation(std::string_view ns,
                                                        const common::ActivationId& id) = 0;
    /// Matching records, newest `start_ms` first.
    [[nodiscard]] virtual absl::StatusOr<std::vector<common::ActivationRecord>> ListActivations(
        const ActivationQuery& q) = 0;
    /// How many records match (skip/limit ignored).
    [[nodiscard]] virtual absl::StatusOr<int64_t> CountActivations(const ActivationQuery& q) = 0;
    /// Retention: deletes up to `limit` (> 0) records, of any namespace, whose `start_ms` is
    /// before `cutoff_ms`, oldest first, in one transaction (SQLite) or one request (CouchDB);
    /// a record goes with its result and logs (one document), so a list never shows half of
    /// one. Returns how many were deleted (fewer than `limit`: none older is left). Idempotent:
    /// concurrent callers may delete the same records (each counts what it removed).
    /// Unimplemented when the backend cannot expire records (the default).
    [[nodiscard]] virtual absl::StatusOr<int64_t> DeleteActivationsBefore(int64_t cutoff_ms,
                                                                          int64_t limit);

    // ---- the journal of accepted activations -------------------------------------------------
    // A controller journals every activation it accepts before it answers 200/202 and removes
    // the entry once the activation's record is stored; after a crash, every entry left without
    // a record gets one that says the activation was interrupted (controller/README.md, "No
    // accepted activation lost"). Entries are scoped by controller id: only that controller
    // writes, lists and removes them.

    /// Creates the entries or replaces them (same controller and activation id: last writer
    /// wins, the controller is the only writer), in one transaction (SQLite) or one bulk request
    /// (CouchDB: a replace costs a second round trip); sets each entry's `rev`. On an error the
    /// caller must assume none was written. InvalidArgument: empty controller or id.
    [[nodiscard]] virtual absl::Status PutJournalEntries(std::vector<JournalEntry>& entries) = 0;
    /// Up to `limit` (0 = all) entries of `controller`, in no particular order.
    [[nodiscard]] virtual absl::StatusOr<std::vector<JournalEntry>> ListJournalEntries(
        std::string_view controller, int64_t limit) = 0;
    /// Removes the entries (by controller and activation id; `rev`, when set, saves CouchDB a
    /// read). Entries already gone are not an error.
    [[nodiscard]] virtual absl::Status RemoveJournalEntries(
        const std::vector<JournalEntry>& entries) = 0;
    /// The activation ids of `controller`'s entries, in no particular order, without reading
    /// their records. Only for a backend whose record writes remove entries (CreateActivation):
    /// an entry gone from this list while its controller still tracks it was removed with its
    /// record. Blocks; thread-safe. Errors: Unavailable/Internal (the store); Unimplemented
    /// (the default: records never remove entries, the sweeper looks each record up).
    [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListJournalIds(
        std::string_view controller);

    // ---- system documents --------------------------------------------------------------------
    // Revisioned documents per (kind, id) with create-only and compare-and-set writes: the
    // building block for state several controllers share without a leader (a claim created only
    // if absent has exactly one winner). The defaults answer Unimplemented.

    /// Creates (`expected_rev` empty: AlreadyExists when the id is taken) or updates
    /// (`expected_rev` = the revision read: Aborted when stale or the document is gone) a
    /// document. InvalidArgument: bad kind or id, a body that is not a JSON object, too big.
    /// Returns the new revision.
    [[nodiscard]] virtual absl::StatusOr<std::string> PutSystemDoc(const SystemDoc& doc,
                                                                   std::string_view expected_rev);
    /// NotFound when absent.
    [[nodiscard]] virtual absl::StatusOr<SystemDoc> GetSystemDoc(std::string_view kind,
                                                                 std::string_view id);
    /// Deletes; `expected_rev` empty = whatever revision is current. NotFound, Aborted (stale).
    [[nodiscard]] virtual absl::Status DeleteSystemDoc(std::string_view kind, std::string_view id,
                                                       std::string_view expected_rev);
    /// Documents of `kind` whose id starts with `id_prefix` (empty: all), sorted by id (bytes),
    /// ids greater than `after_id` only (paging: pass the last id seen), at most `limit`
    /// documents (< 1: InvalidArgument; more than 1000 lists 1000: page on).
    [[nodiscard]] virtual absl::StatusOr<std::vector<SystemDoc>> ListSystemDocs(
        std::string_view kind, std::string_view id_prefix, std::string_view after_id,
        int64_t limit);

    // ---- typed conveniences ------------------------------------------------------------------
    template <class T>
    [[nodiscard]] absl::StatusOr<Revisioned<T>> Get(const common::FullyQualifiedName& fqn);
};

template <class T>
constexpr common::EntityType EntityTypeOf() {
    if constexpr (std::is_same_v<T, common::Action>)
        return common::EntityType::kAction;
    else if constexpr (std::is_same_v<T, common::Trigger>)
        return common::EntityType::kTrigger;
    else if constexpr (std::is_same_v<T, common::Rule>)
        return common::EntityType::kRule;
    else
        return common::EntityType::kPackage;
}

inline absl::StatusOr<std::vector<absl::Status>> ArtifactStore::CreateActivations(
    std::span<const common::ActivationRecord> records) {
    std::vector<absl::Status> out;
    out.reserve(records.size());
    for (const common::ActivationRecord& r : records) {
        absl::Status st = CreateActivation(r);
        if (!st.ok() && st.code() != absl::StatusCode::kAlreadyExists &&
            st.code() != absl::StatusCode::kInvalidArgument) {
            return st;  // an outage: the caller writes them all again
        }
        out.push_back(std::move(st));
    }
    return out;
}

inline absl::StatusOr<bool> ArtifactStore::HasActivation(std::string_view ns,
                                                         const common::ActivationId& id) {
    auto rec = GetActivation(ns, id);
    if (rec.ok()) return true;
    if (rec.status().code() == absl::StatusCode::kNotFound) return false;
    return rec.status();
}

inline absl::StatusOr<std::vector<std::string>> ArtifactStore::ListJournalIds(std::string_view) {
    return absl::UnimplementedError("this store's record writes do not remove journal entries");
}

inline absl::StatusOr<int64_t> ArtifactStore::DeleteActivationsBefore(int64_t, int64_t) {
    return absl::UnimplementedError(
        "this activation store cannot expire records; set --activation-retention 0");
}

inline absl::StatusOr<std::string> ArtifactStore::PutSystemDoc(const SystemDoc&, std::string_view) {
    return absl::UnimplementedError("this store keeps no system documents");
}
inline absl::StatusOr<SystemDoc> ArtifactStore::GetSystemDoc(std::string_view, std::string_view) {
    return absl::UnimplementedError("this store keeps no system documents");
}
inline absl::Status ArtifactStore::DeleteSystemDoc(std::string_view, std::string_view,
                                                   std::string_view) {
    return absl::UnimplementedError("this store keeps no system documents");
}
inline absl::StatusOr<std::vector<SystemDoc>> ArtifactStore::ListSystemDocs(std::string_view,
                                                                            std::string_view,
                                                                            std::string_view,
                                                                            int64_t) {
    return absl::UnimplementedError("this store keeps no system documents");
}

template <class T>
absl::StatusOr<Revisioned<T>> ArtifactStore::Get(const common::FullyQualifiedName& fqn) {
    auto r = GetEntity(EntityTypeOf<T>(), fqn);
    if (!r.ok()) return r.status();
    return Revisioned<T>{std::get<T>(std::move(r->doc)), std::move(r->rev)};
}

}  // namespace wisp::store
