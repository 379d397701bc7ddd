#include <wisp/store/sqlite_artifact_store.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/common/status.hpp>
#include <wisp/store/validation.hpp>

#include <wisp/common/strings.hpp>
#include "sqlite_connection.hpp"

namespace wisp::store {

namespace {

using common::Cat;
using common::EntityType;
using sqlite::SqliteConnection;
using sqlite::Statement;

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 10000;
constexpr int kMaxReaders = 8;

// Every derived column is a projection of `doc`, which is the only source of truth.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS entities (
    id        TEXT PRIMARY KEY,   -- "ns[/pkg]/name", shared by the four entity types
    type      TEXT NOT NULL,      -- "action" | "trigger" | "rule" | "package"
    namespace TEXT NOT NULL,      -- "ns" or "ns/pkg"
    root_ns   TEXT NOT NULL,      -- "ns"
    name      TEXT NOT NULL,
    updated   INTEGER NOT NULL,   -- epoch ms
    rev       TEXT NOT NULL,      -- "N-<32 hex>"
    doc       TEXT NOT NULL       -- EntityToJson
);
CREATE INDEX IF NOT EXISTS entities_by_root ON entities (type, root_ns, updated DESC, id);
CREATE INDEX IF NOT EXISTS entities_by_path ON entities (type, namespace, updated DESC, id);

CREATE TABLE IF NOT EXISTS subjects (
    subject TEXT PRIMARY KEY,     -- rowid order = creation order ("oldest first")
    rev     TEXT NOT NULL,
    blocked INTEGER NOT NULL,
    doc     TEXT NOT NULL         -- SubjectToJson
);
CREATE TABLE IF NOT EXISTS subject_keys (
    subject   TEXT NOT NULL,
    position  INTEGER NOT NULL,   -- index in the subject's `namespaces`
    namespace TEXT NOT NULL,
    uuid      TEXT NOT NULL,
    key       TEXT NOT NULL,
    PRIMARY KEY (subject, position)
);
CREATE INDEX IF NOT EXISTS subject_keys_by_key ON subject_keys (uuid, key);
CREATE INDEX IF NOT EXISTS subject_keys_by_namespace ON subject_keys (namespace);

CREATE TABLE IF NOT EXISTS limits (
    ns  TEXT PRIMARY KEY,
    rev TEXT NOT NULL,
    doc TEXT NOT NULL             -- NamespaceLimitsToJson
);

CREATE TABLE IF NOT EXISTS activations (
    namespace     TEXT NOT NULL,
    activation_id TEXT NOT NULL,
    filter_name   TEXT NOT NULL,  -- ActivationRecord::FilterName(): "a" or "pkg/a"
    start         INTEGER NOT NULL,
    doc           TEXT NOT NULL,  -- ActivationToJson(kStored)
    PRIMARY KEY (namespace, activation_id)
);
CREATE INDEX IF NOT EXISTS activations_by_start
    ON activations (namespace, start DESC, activation_id DESC);
CREATE INDEX IF NOT EXISTS activations_by_name
    ON activations (namespace, filter_name, start DESC, activation_id DESC);
-- retention (DeleteActivationsBefore): the oldest records of every namespace
CREATE INDEX IF NOT EXISTS activations_by_age ON activations (start);

CREATE TABLE IF NOT EXISTS activation_journal (
    controller    TEXT NOT NULL,
    activation_id TEXT NOT NULL,
    recover_after INTEGER NOT NULL,  -- epoch ms
    doc           TEXT NOT NULL,     -- ActivationToJson(kStored) of JournalEntry::record
    PRIMARY KEY (controller, activation_id)
);

-- SystemDoc: platform documents (alarm schedules, firing claims, ...) per (kind, id); ids
-- compare as bytes (BINARY collation), which is the listing order.
CREATE TABLE IF NOT EXISTS system_docs (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    updated INTEGER NOT NULL,     -- epoch ms (SystemDoc::updated_ms)
    rev     TEXT NOT NULL,        -- "N-<32 hex>"
    body    TEXT NOT NULL,        -- the caller's JSON object, as given
    PRIMARY KEY (kind, id)
);
)sql";

// ---- statements (static strings: the per-connection cache is keyed by address) --------------

constexpr const char* kSelectEntity = "SELECT type, rev, doc FROM entities WHERE id = ?1";
constexpr const char* kSelectEntityRev = "SELECT type, rev FROM entities WHERE id = ?1";
constexpr const char* kInsertEntity =
    "INSERT INTO entities (id, type, namespace, root_ns, name, updated, rev, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kUpdateEntity =
    "UPDATE entities SET updated = ?2, rev = ?3, doc = ?4 WHERE id = ?1";
constexpr const char* kDeleteEntity = "DELETE FROM entities WHERE id = ?1";
constexpr const char* kListEntitiesRoot =
    "SELECT doc FROM entities WHERE type = ?1 AND root_ns = ?2 "
    "ORDER BY updated DESC, id LIMIT ?3 OFFSET ?4";
constexpr const char* kListEntitiesPath =
    "SELECT doc FROM entities WHERE type = ?1 AND namespace = ?2 "
    "ORDER BY updated DESC, id LIMIT ?3 OFFSET ?4";
constexpr const char* kCountEntitiesRoot =
    "SELECT COUNT(*) FROM entities WHERE type = ?1 AND root_ns = ?2";
constexpr const char* kCountEntitiesPath =
    "SELECT COUNT(*) FROM entities WHERE type = ?1 AND namespace = ?2";

constexpr const char* kSelectSubject = "SELECT rev, doc FROM subjects WHERE subject = ?1";
constexpr const char* kSelectSubjectRev = "SELECT rev FROM subjects WHERE subject = ?1";
constexpr const char* kInsertSubject =
    "INSERT INTO subjects (subject, rev, blocked, doc) VALUES (?1, ?2, ?3, ?4)";
constexpr const char* kUpdateSubject =
    "UPDATE subjects SET rev = ?2, blocked = ?3, doc = ?4 WHERE subject = ?1";
constexpr const char* kDeleteSubject = "DELETE FROM subjects WHERE subject = ?1";
constexpr const char* kDeleteSubjectKeys = "DELETE FROM subject_keys WHERE subject = ?1";
constexpr const char* kInsertSubjectKey =
    "INSERT INTO subject_keys (subject, position, namespace, uuid, key) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kListSubjects = "SELECT doc FROM subjects ORDER BY subject";
constexpr const char* kIdentityByKey =
    "SELECT k.subject, k.namespace, l.doc FROM subject_keys k "
    "JOIN subjects s ON s.subject = k.subject LEFT JOIN limits l ON l.ns = k.namespace "
    "WHERE k.uuid = ?1 AND k.key = ?2 AND s.blocked = 0 "
    "ORDER BY s.rowid, k.position LIMIT 1";
constexpr const char* kIdentitiesInNamespace =
    "SELECT k.subject, k.uuid, k.key, l.doc FROM subject_keys k "
    "JOIN subjects s ON s.subject = k.subject LEFT JOIN limits l ON l.ns = k.namespace "
    "WHERE k.namespace = ?1 AND s.blocked = 0 ORDER BY s.rowid, k.position";

constexpr const char* kSelectLimits = "SELECT rev, doc FROM limits WHERE ns = ?1";
constexpr const char* kSelectLimitsRev = "SELECT rev FROM limits WHERE ns = ?1";
constexpr const char* kUpsertLimits =
    "INSERT INTO limits (ns, rev, doc) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (ns) DO UPDATE SET rev = excluded.rev, doc = excluded.doc";
constexpr const char* kDeleteLimits = "DELETE FROM limits WHERE ns = ?1";

constexpr const char* kUpsertActivation =
    "INSERT INTO activations (namespace, activation_id, filter_name, start, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (namespace, activation_id) DO UPDATE SET "
    "filter_name = excluded.filter_name, start = excluded.start, doc = excluded.doc";
constexpr const char* kInsertActivation =
    "INSERT INTO activations (namespace, activation_id, filter_name, start, doc) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (namespace, activation_id) DO NOTHING";
constexpr const char* kSelectActivation =
    "SELECT doc FROM activations WHERE namespace = ?1 AND activation_id = ?2";
constexpr const char* kHasActivation =
    "SELECT 1 FROM activations WHERE namespace = ?1 AND activation_id = ?2";
constexpr const char* kDeleteActivation =
    "DELETE FROM activations WHERE namespace = ?1 AND activation_id = ?2";
constexpr const char* kDeleteActivationsBefore =
    "DELETE FROM activations WHERE rowid IN (SELECT rowid FROM activations WHERE start < ?1 "
    "ORDER BY start LIMIT ?2)";
constexpr const char* kUpsertJournal =
    "INSERT INTO activation_journal (controller, activation_id, recover_after, doc) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (controller, activation_id) DO UPDATE SET "
    "recover_after = excluded.recover_after, doc = excluded.doc";
constexpr const char* kListJournal =
    "SELECT recover_after, doc FROM activation_journal WHERE controller = ?1 "
    "ORDER BY rowid LIMIT ?2";
constexpr const char* kDeleteJournal =
    "DELETE FROM activation_journal WHERE controller = ?1 AND activation_id = ?2";
constexpr const char* kListJournalIds =
    "SELECT activation_id FROM activation_journal WHERE controller = ?1";
constexpr const char* kListActivations =
    "SELECT doc FROM activations WHERE namespace = ?1 AND start >= ?2 AND start <= ?3 "
    "ORDER BY start DESC, activation_id DESC LIMIT ?4 OFFSET ?5";
constexpr const char* kListActivationsByName =
    "SELECT doc FROM activations WHERE namespace = ?1 AND filter_name = ?6 "
    "AND start >= ?2 AND start <= ?3 ORDER BY start DESC, activation_id DESC LIMIT ?4 OFFSET ?5";
constexpr const char* kCountActivations =
    "SELECT COUNT(*) FROM activations WHERE namespace = ?1 AND start >= ?2 AND start <= ?3";
constexpr const char* kCountActivationsByName =
    "SELECT COUNT(*) FROM activations WHERE namespace = ?1 AND filter_name = ?4 "
    "AND start >= ?2 AND start <= ?3";

constexpr const char* kSelectSystemDoc =
    "SELECT updated, rev, body FROM system_docs WHERE kind = ?1 AND id = ?2";
constexpr const char* kSelectSystemDocRev =
    "SELECT rev FROM system_docs WHERE kind = ?1 AND id = ?2";
constexpr const char* kInsertSystemDoc =
    "INSERT INTO system_docs (kind, id, updated, rev, body) VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kUpdateSystemDoc =
    "UPDATE system_docs SET updated = ?3, rev = ?4, body = ?5 WHERE kind = ?1 AND id = ?2";
constexpr const char* kDeleteSystemDoc = "DELETE FROM system_docs WHERE kind = ?1 AND id = ?2";
// ?2 the prefix (lower bound), ?3 after_id (exclusive), ?4 the first id past the prefix.
constexpr const char* kListSystemDocs =
    "SELECT id, updated, rev, body FROM system_docs WHERE kind = ?1 AND id >= ?2 AND id > ?3 "
    "ORDER BY id LIMIT ?5";
constexpr const char* kListSystemDocsBounded =
    "SELECT id, updated, rev, body FROM system_docs WHERE kind = ?1 AND id >= ?2 AND id > ?3 "
    "AND id < ?4 ORDER BY id LIMIT ?5";

// ---- helpers ---------------------------------------------------------------------------------

/// "N-<32 hex>" following `previous` (empty for a new document).
std::string NextRevision(std::string_view previous) {
    int64_t generation = 0;
    const auto dash = previous.find('-');
    if (dash != std::string_view::npos) {
        std::from_chars(previous.data(), previous.data() + dash, generation);
    }
    return Cat(generation + 1, "-", common::ActivationId::Generate().str());
}

[[nodiscard]] absl::Status CorruptDocument(std::string_view table, std::string_view key,
                                           const absl::Status& parse) {
    return absl::InternalError(Cat("SQLite: stored ", table, " document '", key,
                                   "' cannot be read (", parse.message(),
                                   "); the database file is damaged or was written by "
                                   "an incompatible version"));
}

}  // namespace

// ---- Impl: connections and transactions ------------------------------------------------------

class SqliteArtifactStore::Impl {
  public:
    static absl::StatusOr<std::unique_ptr<Impl>> Open(const std::string& path,
                                                      const SqliteStoreOptions& options);
    ~Impl();
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    /// Runs `f(conn)` on a connection that may read (a pooled reader, or the only connection of
    /// an in-memory store). `f` returns a Status or StatusOr.
    template <class F>
    auto Read(F&& f) -> std::invoke_result_t<F, SqliteConnection&>;

    /// Runs `f(conn)` in a `BEGIN IMMEDIATE` transaction on the writer; commits when `f`
    /// returns ok, rolls back otherwise.
    template <class F>
    auto Write(F&& f) -> std::invoke_result_t<F, SqliteConnection&>;

    const std::string& path() const { return path_; }
    SqliteCheckpointStats checkpoint_stats() const;

    /// The controllers whose journal entries this object wrote; a record write removes its
    /// activation's entry of each (few: one per controller process). Only inside Write().
    std::vector<std::string>& journal_controllers() { return journal_controllers_; }

  private:
    Impl(std::string path, bool single_connection, std::unique_ptr<SqliteConnection> writer,
         const SqliteStoreOptions& options)
        : path_(std::move(path)),
          single_connection_(single_connection),
          options_(options),
          writer_(std::move(writer)) {}

    [[nodiscard]] absl::StatusOr<std::unique_ptr<SqliteConnection>> AcquireReader();
    void ReleaseReader(std::unique_ptr<SqliteConnection> conn);

    /// Hands the WAL's checkpoints to a thread of their own (see the header): opens its
    /// connection and installs the writer's WAL hook.
    [[nodiscard]] absl::Status StartCheckpointer();
    /// sqlite3_wal_hook: called on the writer's thread after every commit, with the frames now
    /// in the WAL. Wakes the checkpointer; never does I/O.
    static int OnWalCommit(void* self, sqlite3* db, const char* name, int frames);
    void CheckpointLoop();

    const std::string path_;
    const bool single_connection_;  // :memory: or no WAL: everything on the writer
    const SqliteStoreOptions options_;

    std::mutex write_mu_;
    std::unique_ptr<SqliteConnection> writer_;
    std::vector<std::string> journal_controllers_;  // under write_mu_

    std::mutex pool_mu_;
    std::condition_variable pool_cv_;
    std::vector<std::unique_ptr<SqliteConnection>> idle_readers_;
    int open_readers_ = 0;

    // The checkpointer (file databases unless inline_checkpoints).
    std::unique_ptr<SqliteConnection> checkpointer_conn_;
    // WAL frames at which a commit wakes the checkpointer: checkpoint_frames, or after a pass
    // that could not copy everything (commits came meanwhile) a few frames past what it saw,
    // so the passes follow the commits without one pass per commit. Written by the
    // checkpointer, read by the hook.
    std::atomic<int> wake_at_frames_{0};
    mutable std::mutex ckpt_mu_;
    std::condition_variable ckpt_cv_;
    bool ckpt_wanted_ = false;
    bool ckpt_stop_ = false;
    int64_t ckpt_started_ = 0;   // passes begun
    int64_t ckpt_finished_ = 0;  // the last pass ended
    SqliteCheckpointStats ckpt_stats_;
    std::thread checkpointer_;
};

namespace {

/// The database holds every key and secret parameter: owner-only (0600), whatever the umask.
/// A new file is created 0600 before SQLite opens it (SQLite gives the -wal, -shm and
/// -journal files it creates the database file's mode); an existing one is fixed. Best effort:
/// a path that cannot be opened is left to SQLite to report.
void MakeOwnerOnly(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0 && st.st_uid == ::geteuid()) {
        (void)::fchmod(fd, 0600);
    }
    ::close(fd);
}

/// -wal, -shm and -journal files left by an earlier run keep their old modes: fix them.
void MakeSidecarsOwnerOnly(const std::string& path) {
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        const std::string file = path + suffix;
        struct stat st {};
        if (::lstat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0 &&
            st.st_uid == ::geteuid()) {
            (void)::chmod(file.c_str(), 0600);
        }
    }
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteArtifactStore::Impl>> SqliteArtifactStore::Impl::Open(
    const std::string& path, const SqliteStoreOptions& options) {
    const bool memory = path == ":memory:";
    if (!memory) MakeOwnerOnly(path);
    WISP_ASSIGN_OR_RETURN(
        auto writer,
        SqliteConnection::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, kBusyTimeoutMs));
    bool wal = false;
    if (!memory) {
        WISP_ASSIGN_OR_RETURN(std::string mode, writer->QueryText("PRAGMA journal_mode = WAL"));
        wal = mode == "wal";
        // In WAL mode NORMAL is durable against application crashes and never corrupts.
        WISP_RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous = NORMAL"));
        MakeSidecarsOwnerOnly(path);
    }
    WISP_ASSIGN_OR_RETURN(std::string version, writer->QueryText("PRAGMA user_version"));
    if (std::atoi(version.c_str()) > kSchemaVersion) {
        return absl::FailedPreconditionError(Cat("SQLite database ", path, " has schema version ",
                                                 version, ", newer than this wisp understands (",
                                                 kSchemaVersion,
                                                 "); upgrade wisp or point it at another file"));
    }
    WISP_RETURN_IF_ERROR(writer->Exec("BEGIN IMMEDIATE"));
    absl::Status schema = writer->Exec(kSchema);
    if (schema.ok()) {
        schema = writer->Exec(Cat("PRAGMA user_version = ", kSchemaVersion).c_str());
    }
    if (!schema.ok()) {
        (void)writer->Exec("ROLLBACK");
        return schema;
    }
    WISP_RETURN_IF_ERROR(writer->Exec("COMMIT"));
    std::unique_ptr<Impl> impl(new Impl(path, memory || !wal, std::move(writer), options));
    if (!impl->single_connection_ && !options.inline_checkpoints) {
        WISP_RETURN_IF_ERROR(impl->StartCheckpointer());
    }
    return impl;
}

SqliteArtifactStore::Impl::~Impl() {
    {
        std::lock_guard lock(ckpt_mu_);
        ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    // The writer closes last (members in reverse order): as the last connection it copies
    // what is left in the WAL into the database file and removes the WAL.
    checkpointer_conn_.reset();
}

absl::Status SqliteArtifactStore::Impl::StartCheckpointer() {
    WISP_ASSIGN_OR_RETURN(checkpointer_conn_,
                          SqliteConnection::Open(path_, SQLITE_OPEN_READWRITE, kBusyTimeoutMs));
    // A connection learns that the file is in WAL mode when it first reads it; until then a
    // checkpoint on it does nothing (and reports -1 frames).
    WISP_ASSIGN_OR_RETURN(std::string schema_objects,
                          checkpointer_conn_->QueryText("SELECT count(*) FROM sqlite_master"));
    (void)schema_objects;
    wake_at_frames_.store(std::max(1, options_.checkpoint_frames), std::memory_order_relaxed);
    // Replaces SQLite's automatic checkpoint, which is itself a WAL hook (sqlite3_wal_hook and
    // wal_autocheckpoint set the same callback).
    sqlite3_wal_hook(writer_->raw(), &Impl::OnWalCommit, this);
    checkpointer_ = std::thread([this] { CheckpointLoop(); });
    return absl::OkStatus();
}

int SqliteArtifactStore::Impl::OnWalCommit(void* self, sqlite3* /*db*/, const char* /*name*/,
                                           int frames) {
    auto* impl = static_cast<Impl*>(self);
    const bool full = frames >= impl->options_.force_frames;
    if (!full && frames < impl->wake_at_frames_.load(std::memory_order_relaxed)) {
        return SQLITE_OK;
    }
    std::unique_lock lock(impl->ckpt_mu_);
    impl->ckpt_stats_.max_wal_frames = std::max<int64_t>(impl->ckpt_stats_.max_wal_frames, frames);
    if (!full) {
        if (impl->ckpt_wanted_) return SQLITE_OK;
        impl->ckpt_wanted_ = true;
        lock.unlock();
        impl->ckpt_cv_.notify_all();
        return SQLITE_OK;
    }
    // Commits outran the passes: this writer (holding write_mu_, so no other commit comes)
    // waits for a pass that starts now. It sees no new frame, copies the whole WAL, and the
    // next write rewinds it — what every automatic checkpoint did, now only past force_frames.
    const int64_t pass = impl->ckpt_started_ + 1;
    impl->ckpt_wanted_ = true;
    ++impl->ckpt_stats_.forced_passes;
    impl->ckpt_cv_.notify_all();
    impl->ckpt_cv_.wait(lock, [&] { return impl->ckpt_stop_ || impl->ckpt_finished_ >= pass; });
    return SQLITE_OK;
}

void SqliteArtifactStore::Impl::CheckpointLoop() {
    // Frames past an incomplete pass before the next one: each pass costs two fdatasyncs
    // whatever it copies (64 made ≈ 26 passes a second at 400 invokes/s).
    constexpr int kFollowFrames = 256;
    std::unique_lock lock(ckpt_mu_);
    while (true) {
        ckpt_cv_.wait(lock, [&] { return ckpt_stop_ || ckpt_wanted_; });
        if (ckpt_stop_) return;
        ckpt_wanted_ = false;
        const int64_t pass = ++ckpt_started_;
        lock.unlock();
        // PASSIVE: copies what no reader still needs, takes no lock a writer waits for and
        // never calls the busy handler. The fsyncs (WAL before, database file after) are here.
        const auto start = std::chrono::steady_clock::now();
        int wal_frames = 0;
        int copied = 0;
        const int rc = sqlite3_wal_checkpoint_v2(checkpointer_conn_->raw(), "main",
                                                 SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
        const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count();
        const bool complete = rc == SQLITE_OK && copied >= wal_frames;
        wake_at_frames_.store(
            complete ? std::max(1, options_.checkpoint_frames)
                     : std::max(wal_frames + kFollowFrames, options_.checkpoint_frames),
            std::memory_order_relaxed);
        if (rc == SQLITE_BUSY) {
            // Another connection (another process on the file) checkpoints right now.
            spdlog::debug("SQLite {}: checkpoint skipped: another one is under way", path_);
        } else if (rc != SQLITE_OK) {
            // Not fatal: the WAL keeps the commits; the next commit past the mark retries.
            spdlog::warn("SQLite {}: checkpoint failed: {}", path_,
                         sqlite3_errmsg(checkpointer_conn_->raw()));
        } else {
            spdlog::debug("SQLite checkpoint: {} of {} WAL frames copied in {} us", copied,
                          wal_frames, us);
        }
        lock.lock();
        ckpt_finished_ = pass;
        ++ckpt_stats_.passes;
        if (complete) ++ckpt_stats_.complete;
        if (rc == SQLITE_OK) ckpt_stats_.frames_copied += copied;
        ckpt_stats_.max_pass_us = std::max(ckpt_stats_.max_pass_us, us);
        ckpt_cv_.notify_all();  // a writer waiting for this pass (force_frames)
    }
}

SqliteCheckpointStats SqliteArtifactStore::Impl::checkpoint_stats() const {
    std::lock_guard lock(ckpt_mu_);
    return ckpt_stats_;
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteArtifactStore::Impl::AcquireReader() {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [&] { return !idle_readers_.empty() || open_readers_ < kMaxReaders; });
    if (!idle_readers_.empty()) {
        auto conn = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return conn;
    }
    ++open_readers_;
    lock.unlock();
    auto conn = SqliteConnection::Open(path_, SQLITE_OPEN_READWRITE, kBusyTimeoutMs);
    absl::Status st = conn.ok() ? (*conn)->Exec("PRAGMA query_only = 1") : conn.status();
    if (!st.ok()) {
        lock.lock();
        --open_readers_;
        pool_cv_.notify_one();
        return st;
    }
    return conn;
}

void SqliteArtifactStore::Impl::ReleaseReader(std::unique_ptr<SqliteConnection> conn) {
    {
        std::lock_guard lock(pool_mu_);
        idle_readers_.push_back(std::move(conn));
    }
    pool_cv_.notify_one();
}

template <class F>
auto SqliteArtifactStore::Impl::Read(F&& f) -> std::invoke_result_t<F, SqliteConnection&> {
    if (single_connection_) {
        std::lock_guard lock(write_mu_);
        return f(*writer_);
    }
    auto conn = AcquireReader();
    if (!conn.ok()) return conn.status();
    auto result = f(**conn);
    ReleaseReader(std::move(*conn));
    return result;
}

// BEGIN and COMMIT of every write as cached prepared statements: sqlite3_exec parsed and
// prepared both each time (~7 % of a warm invoke's instructions, two writes per invoke).
constexpr const char* kBeginImmediate = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";

template <class F>
auto SqliteArtifactStore::Impl::Write(F&& f) -> std::invoke_result_t<F, SqliteConnection&> {
    std::lock_guard lock(write_mu_);
    if (absl::Status st = writer_->ExecCached(kBeginImmediate); !st.ok()) return st;
    auto result = f(*writer_);
    if (result.ok()) {
        if (absl::Status st = writer_->ExecCached(kCommit); !st.ok()) {
            (void)writer_->Exec("ROLLBACK");
            return st;
        }
    } else {
        (void)writer_->Exec("ROLLBACK");
    }
    return result;
}

// ---- SqliteArtifactStore ---------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SqliteArtifactStore>> SqliteArtifactStore::Open(
    const std::string& path) {
    return Open(path, SqliteStoreOptions{});
}

absl::StatusOr<std::unique_ptr<SqliteArtifactStore>> SqliteArtifactStore::Open(
    const std::string& path, SqliteStoreOptions options) {
    if (const char* mode = std::getenv("WISP_SQLITE_CHECKPOINTS");
        mode != nullptr && std::string_view(mode) == "inline") {
        options.inline_checkpoints = true;
    }
    if (path.empty()) {
        return absl::InvalidArgumentError(
            "SQLite store needs a file path (or \":memory:\"), e.g. sqlite:/var/lib/wisp/wisp.db");
    }
    auto impl = Impl::Open(path, options);
    if (!impl.ok()) {
        const absl::Status& st = impl.status();
        if (absl::string_view(st.message()).find(path) != absl::string_view::npos) return st;
        return absl::Status(st.code(),
                            Cat("cannot open the SQLite store ", path, ": ", st.message()));
    }
    return std::unique_ptr<SqliteArtifactStore>(new SqliteArtifactStore(std::move(*impl)));
}

SqliteArtifactStore::SqliteArtifactStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteArtifactStore::~SqliteArtifactStore() = default;

const std::string& SqliteArtifactStore::path() const { return impl_->path(); }

SqliteCheckpointStats SqliteArtifactStore::checkpoint_stats() const {
    return impl_->checkpoint_stats();
}

// ---- entities --------------------------------------------------------------------------------

absl::StatusOr<std::string> SqliteArtifactStore::PutEntity(const common::WhiskEntity& entity,
                                                           std::string_view expected_rev) {
    const common::EntityHeader& header = common::HeaderOf(entity);
    const common::FullyQualifiedName fqn = header.Fqn();
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    const std::string id = fqn.DocId();
    const std::string_view type = common::EntityTypeName(common::TypeOf(entity));
    const std::string ns = header.namespace_path.ToString();
    const std::string doc = common::EntityToJson(entity);  // serialised outside the write lock

    return impl_->Write([&](SqliteConnection& db) -> absl::StatusOr<std::string> {
        std::optional<std::string> current_rev;
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectEntityRev));
            select.BindText(1, id);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (found) {
                if (select.ColumnText(0) != type) {
                    return TypeMismatch();
                }
                current_rev = std::string(select.ColumnText(1));
            }
        }
        if (current_rev.has_value()) {
            if (expected_rev.empty()) {
                return Exists();
            }
            if (*current_rev != expected_rev) return Conflict();
            std::string rev = NextRevision(*current_rev);
            WISP_ASSIGN_OR_RETURN(Statement update, db.Prepare(kUpdateEntity));
            update.BindText(1, id);
            update.BindInt64(2, header.updated_ms);
            update.BindText(3, rev);
            update.BindText(4, doc);
            WISP_RETURN_IF_ERROR(update.Run());
            return rev;
        }
        if (!expected_rev.empty()) return Conflict();  // updating a document deleted meanwhile
        std::string rev = NextRevision({});
        WISP_ASSIGN_OR_RETURN(Statement insert, db.Prepare(kInsertEntity));
        insert.BindText(1, id);
        insert.BindText(2, type);
        insert.BindText(3, ns);
        insert.BindText(4, header.namespace_path.root());
        insert.BindText(5, header.name);
        insert.BindInt64(6, header.updated_ms);
        insert.BindText(7, rev);
        insert.BindText(8, doc);
        WISP_RETURN_IF_ERROR(insert.Run());
        return rev;
    });
}

absl::StatusOr<Revisioned<common::WhiskEntity>> SqliteArtifactStore::GetEntity(
    EntityType type, const common::FullyQualifiedName& fqn) {
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    const std::string id = fqn.DocId();
    struct Row {
        std::string rev, doc;
    };
    auto row = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<Row> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectEntity));
        select.BindText(1, id);
        WISP_ASSIGN_OR_RETURN(bool found, select.Step());
        if (!found) return NotFound();
        if (select.ColumnText(0) != common::EntityTypeName(type)) {
            return TypeMismatch();
        }
        return Row{std::string(select.ColumnText(1)), std::string(select.ColumnText(2))};
    });
    if (!row.ok()) return row.status();
    auto entity = common::EntityFromJson(type, row->doc);
    if (!entity.ok()) return CorruptDocument("entity", id, entity.status());
    return Revisioned<common::WhiskEntity>{std::move(*entity), std::move(row->rev)};
}

absl::Status SqliteArtifactStore::DeleteEntity(EntityType type,
                                               const common::FullyQualifiedName& fqn,
                                               std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateFqn(fqn));
    const std::string id = fqn.DocId();
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectEntityRev));
            select.BindText(1, id);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (!found) return NotFound();
            if (select.ColumnText(0) != common::EntityTypeName(type)) {
                return TypeMismatch();
            }
            if (!expected_rev.empty() && select.ColumnText(1) != expected_rev) return Conflict();
        }
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteEntity));
        del.BindText(1, id);
        return del.Run();
    });
}

absl::StatusOr<std::vector<common::WhiskEntity>> SqliteArtifactStore::ListEntities(
    EntityType type, const common::EntityPath& path, const ListOptions& opts) {
    if (path.empty()) return absl::InvalidArgumentError("listing entities needs a namespace");
    WISP_RETURN_IF_ERROR(ValidatePage(opts.skip, opts.limit));
    const std::string key = path.ToString();
    auto docs = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<std::string>> {
        WISP_ASSIGN_OR_RETURN(Statement list,
                              db.Prepare(path.IsRoot() ? kListEntitiesRoot : kListEntitiesPath));
        list.BindText(1, common::EntityTypeName(type));
        list.BindText(2, key);
        list.BindInt64(3, opts.limit == 0 ? -1 : opts.limit);
        list.BindInt64(4, opts.skip);
        return list.CollectText(0);
    });
    if (!docs.ok()) return docs.status();
    std::vector<common::WhiskEntity> entities;
    entities.reserve(docs->size());
    for (const std::string& doc : *docs) {
        auto entity = common::EntityFromJson(type, doc);
        if (!entity.ok()) return CorruptDocument("entity", key, entity.status());
        entities.push_back(std::move(*entity));
    }
    return entities;
}

absl::StatusOr<int64_t> SqliteArtifactStore::CountEntities(EntityType type,
                                                           const common::EntityPath& path) {
    if (path.empty()) return absl::InvalidArgumentError("counting entities needs a namespace");
    const std::string key = path.ToString();
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<int64_t> {
        WISP_ASSIGN_OR_RETURN(Statement count,
                              db.Prepare(path.IsRoot() ? kCountEntitiesRoot : kCountEntitiesPath));
        count.BindText(1, common::EntityTypeName(type));
        count.BindText(2, key);
        WISP_ASSIGN_OR_RETURN(bool row, count.Step());
        return row ? count.ColumnInt64(0) : 0;
    });
}

// ---- subjects and identities -----------------------------------------------------------------

absl::StatusOr<Revisioned<common::Subject>> SqliteArtifactStore::GetSubject(
    std::string_view subject) {
    struct Row {
        std::string rev, doc;
    };
    auto row = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<Row> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSubject));
        select.BindText(1, subject);
        WISP_ASSIGN_OR_RETURN(bool found, select.Step());
        if (!found) return NotFound();
        return Row{std::string(select.ColumnText(0)), std::string(select.ColumnText(1))};
    });
    if (!row.ok()) return row.status();
    auto doc = common::SubjectFromJson(row->doc);
    if (!doc.ok()) return CorruptDocument("subject", subject, doc.status());
    return Revisioned<common::Subject>{std::move(*doc), std::move(row->rev)};
}

absl::StatusOr<std::string> SqliteArtifactStore::PutSubject(const common::Subject& subject,
                                                            std::string_view expected_rev) {
    if (subject.subject.empty()) return absl::InvalidArgumentError("a subject needs a name");
    const std::string doc = common::SubjectToJson(subject);
    return impl_->Write([&](SqliteConnection& db) -> absl::StatusOr<std::string> {
        std::optional<std::string> current_rev;
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSubjectRev));
            select.BindText(1, subject.subject);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (found) current_rev = std::string(select.ColumnText(0));
        }
        std::string rev;
        if (current_rev.has_value()) {
            if (expected_rev.empty()) {
                return Exists();
            }
            if (*current_rev != expected_rev) return Conflict();
            rev = NextRevision(*current_rev);
            WISP_ASSIGN_OR_RETURN(Statement update, db.Prepare(kUpdateSubject));
            update.BindText(1, subject.subject);
            update.BindText(2, rev);
            update.BindInt64(3, subject.blocked ? 1 : 0);
            update.BindText(4, doc);
            WISP_RETURN_IF_ERROR(update.Run());
        } else {
            if (!expected_rev.empty()) return Conflict();
            rev = NextRevision({});
            WISP_ASSIGN_OR_RETURN(Statement insert, db.Prepare(kInsertSubject));
            insert.BindText(1, subject.subject);
            insert.BindText(2, rev);
            insert.BindInt64(3, subject.blocked ? 1 : 0);
            insert.BindText(4, doc);
            WISP_RETURN_IF_ERROR(insert.Run());
        }
        {
            WISP_ASSIGN_OR_RETURN(Statement clear, db.Prepare(kDeleteSubjectKeys));
            clear.BindText(1, subject.subject);
            WISP_RETURN_IF_ERROR(clear.Run());
        }
        for (size_t i = 0; i < subject.namespaces.size(); ++i) {
            const common::NamespaceEntry& entry = subject.namespaces[i];
            WISP_ASSIGN_OR_RETURN(Statement key, db.Prepare(kInsertSubjectKey));
            key.BindText(1, subject.subject);
            key.BindInt64(2, static_cast<int64_t>(i));
            key.BindText(3, entry.name);
            key.BindText(4, entry.auth.uuid);
            key.BindText(5, entry.auth.key);
            WISP_RETURN_IF_ERROR(key.Run());
        }
        return rev;
    });
}

absl::Status SqliteArtifactStore::DeleteSubject(std::string_view subject,
                                                std::string_view expected_rev) {
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSubjectRev));
            select.BindText(1, subject);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (!found) return NotFound();
            if (!expected_rev.empty() && select.ColumnText(0) != expected_rev) return Conflict();
        }
        {
            WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteSubject));
            del.BindText(1, subject);
            WISP_RETURN_IF_ERROR(del.Run());
        }
        WISP_ASSIGN_OR_RETURN(Statement keys, db.Prepare(kDeleteSubjectKeys));
        keys.BindText(1, subject);
        return keys.Run();
    });
}

absl::StatusOr<std::vector<common::Subject>> SqliteArtifactStore::ListSubjects() {
    auto docs = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<std::string>> {
        WISP_ASSIGN_OR_RETURN(Statement list, db.Prepare(kListSubjects));
        return list.CollectText(0);
    });
    if (!docs.ok()) return docs.status();
    std::vector<common::Subject> subjects;
    subjects.reserve(docs->size());
    for (const std::string& doc : *docs) {
        auto subject = common::SubjectFromJson(doc);
        if (!subject.ok()) return CorruptDocument("subject", "", subject.status());
        subjects.push_back(std::move(*subject));
    }
    return subjects;
}

namespace {

[[nodiscard]] absl::StatusOr<common::NamespaceLimits> LimitsColumn(const Statement& row, int column,
                                                                   std::string_view ns) {
    if (row.ColumnIsNull(column)) return common::NamespaceLimits{};
    auto limits = common::NamespaceLimitsFromJson(row.ColumnText(column));
    if (!limits.ok()) return CorruptDocument("limits", ns, limits.status());
    return limits;
}

}  // namespace

absl::StatusOr<common::Identity> SqliteArtifactStore::GetIdentityByKey(const common::AuthKey& key) {
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<common::Identity> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kIdentityByKey));
        select.BindText(1, key.uuid);
        select.BindText(2, key.key);
        WISP_ASSIGN_OR_RETURN(bool found, select.Step());
        if (!found) return NotFound();
        common::Identity identity;
        identity.subject = std::string(select.ColumnText(0));
        identity.namespace_name = std::string(select.ColumnText(1));
        identity.auth = key;
        WISP_ASSIGN_OR_RETURN(identity.limits, LimitsColumn(select, 2, identity.namespace_name));
        return identity;
    });
}

absl::StatusOr<std::vector<common::Identity>> SqliteArtifactStore::ListIdentitiesInNamespace(
    std::string_view ns) {
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<common::Identity>> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kIdentitiesInNamespace));
        select.BindText(1, ns);
        std::vector<common::Identity> out;
        while (true) {
            WISP_ASSIGN_OR_RETURN(bool row, select.Step());
            if (!row) break;
            common::Identity identity;
            identity.subject = std::string(select.ColumnText(0));
            identity.namespace_name = std::string(ns);
            identity.auth = {std::string(select.ColumnText(1)), std::string(select.ColumnText(2))};
            WISP_ASSIGN_OR_RETURN(identity.limits, LimitsColumn(select, 3, ns));
            out.push_back(std::move(identity));
        }
        return out;
    });
}

// ---- namespace limits ------------------------------------------------------------------------

absl::StatusOr<Revisioned<common::NamespaceLimits>> SqliteArtifactStore::GetLimits(
    std::string_view ns) {
    return impl_->Read(
        [&](SqliteConnection& db) -> absl::StatusOr<Revisioned<common::NamespaceLimits>> {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectLimits));
            select.BindText(1, ns);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (!found) return NotFound();
            WISP_ASSIGN_OR_RETURN(auto limits, LimitsColumn(select, 1, ns));
            return Revisioned<common::NamespaceLimits>{std::move(limits),
                                                       std::string(select.ColumnText(0))};
        });
}

absl::Status SqliteArtifactStore::PutLimits(std::string_view ns,
                                            const common::NamespaceLimits& limits) {
    if (ns.empty()) return absl::InvalidArgumentError("limits need a namespace");
    const std::string doc = common::NamespaceLimitsToJson(limits);
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        std::string previous;
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectLimitsRev));
            select.BindText(1, ns);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (found) previous = std::string(select.ColumnText(0));
        }
        WISP_ASSIGN_OR_RETURN(Statement upsert, db.Prepare(kUpsertLimits));
        upsert.BindText(1, ns);
        upsert.BindText(2, NextRevision(previous));
        upsert.BindText(3, doc);
        return upsert.Run();
    });
}

absl::Status SqliteArtifactStore::DeleteLimits(std::string_view ns) {
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteLimits));
        del.BindText(1, ns);
        WISP_RETURN_IF_ERROR(del.Run());
        return sqlite3_changes(db.raw()) == 0 ? NotFound() : absl::OkStatus();
    });
}

// ---- activations -----------------------------------------------------------------------------

absl::Status SqliteArtifactStore::PutActivation(const common::ActivationRecord& record) {
    WISP_RETURN_IF_ERROR(ValidateActivationRecord(record));
    const std::string ns = record.namespace_path.ToString();
    const std::string filter_name = record.FilterName();
    const std::string doc = common::ActivationToJson(record, common::ActivationJsonForm::kStored);
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        WISP_ASSIGN_OR_RETURN(Statement upsert, db.Prepare(kUpsertActivation));
        upsert.BindText(1, ns);
        upsert.BindText(2, record.activation_id.str());
        upsert.BindText(3, filter_name);
        upsert.BindInt64(4, record.start_ms);
        upsert.BindText(5, doc);
        return upsert.Run();
    });
}

namespace {

/// In a record's write transaction: its activation's journal entries are done (the record
/// exists), so they go in the same commit and the journal's sweeper finds nothing to do.
[[nodiscard]] absl::Status RemoveJournalEntriesOf(SqliteConnection& db,
                                                  const std::vector<std::string>& controllers,
                                                  const std::string& activation_id) {
    for (const std::string& controller : controllers) {
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteJournal));
        del.BindText(1, controller);
        del.BindText(2, activation_id);
        WISP_RETURN_IF_ERROR(del.Run());
    }
    return absl::OkStatus();
}

}  // namespace

absl::Status SqliteArtifactStore::CreateActivation(const common::ActivationRecord& record) {
    WISP_RETURN_IF_ERROR(ValidateActivationRecord(record));
    const std::string ns = record.namespace_path.ToString();
    const std::string filter_name = record.FilterName();
    const std::string doc = common::ActivationToJson(record, common::ActivationJsonForm::kStored);
    // AlreadyExists commits too (not a rollback): the entry of a record that exists goes.
    bool exists = false;
    WISP_RETURN_IF_ERROR(impl_->Write([&](SqliteConnection& db) -> absl::Status {
        WISP_ASSIGN_OR_RETURN(Statement insert, db.Prepare(kInsertActivation));
        insert.BindText(1, ns);
        insert.BindText(2, record.activation_id.str());
        insert.BindText(3, filter_name);
        insert.BindInt64(4, record.start_ms);
        insert.BindText(5, doc);
        WISP_RETURN_IF_ERROR(insert.Run());
        exists = sqlite3_changes(db.raw()) == 0;
        return RemoveJournalEntriesOf(db, impl_->journal_controllers(), record.activation_id.str());
    }));
    return exists ? Exists() : absl::OkStatus();
}

absl::StatusOr<std::vector<absl::Status>> SqliteArtifactStore::CreateActivations(
    std::span<const common::ActivationRecord> records) {
    struct Row {
        std::string ns, filter_name, doc;
    };
    std::vector<absl::Status> out(records.size());
    std::vector<Row> rows(records.size());
    bool any = false;
    for (size_t i = 0; i < records.size(); ++i) {
        out[i] = ValidateActivationRecord(records[i]);
        if (!out[i].ok()) continue;
        any = true;
        rows[i] = {records[i].namespace_path.ToString(), records[i].FilterName(),
                   common::ActivationToJson(records[i], common::ActivationJsonForm::kStored)};
    }
    if (!any) return out;
    WISP_RETURN_IF_ERROR(impl_->Write([&](SqliteConnection& db) -> absl::Status {
        for (size_t i = 0; i < records.size(); ++i) {
            if (!out[i].ok()) continue;
            WISP_ASSIGN_OR_RETURN(Statement insert, db.Prepare(kInsertActivation));
            insert.BindText(1, rows[i].ns);
            insert.BindText(2, records[i].activation_id.str());
            insert.BindText(3, rows[i].filter_name);
            insert.BindInt64(4, records[i].start_ms);
            insert.BindText(5, rows[i].doc);
            WISP_RETURN_IF_ERROR(insert.Run());
            if (sqlite3_changes(db.raw()) == 0) out[i] = Exists();
            WISP_RETURN_IF_ERROR(RemoveJournalEntriesOf(db, impl_->journal_controllers(),
                                                        records[i].activation_id.str()));
        }
        return absl::OkStatus();
    }));
    return out;
}

absl::StatusOr<int64_t> SqliteArtifactStore::DeleteActivationsBefore(int64_t cutoff_ms,
                                                                     int64_t limit) {
    if (limit <= 0) return absl::InvalidArgumentError("limit must be positive");
    // Deleted rows' pages go to SQLite's freelist and are reused by later inserts: with
    // retention the file stops growing at about the size of the records kept.
    return impl_->Write([&](SqliteConnection& db) -> absl::StatusOr<int64_t> {
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteActivationsBefore));
        del.BindInt64(1, cutoff_ms);
        del.BindInt64(2, limit);
        WISP_RETURN_IF_ERROR(del.Run());
        return static_cast<int64_t>(sqlite3_changes(db.raw()));
    });
}

absl::StatusOr<common::ActivationRecord> SqliteArtifactStore::GetActivation(
    std::string_view ns, const common::ActivationId& id) {
    auto doc = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::string> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectActivation));
        select.BindText(1, ns);
        select.BindText(2, id.str());
        WISP_ASSIGN_OR_RETURN(bool found, select.Step());
        if (!found) return NotFound();
        return std::string(select.ColumnText(0));
    });
    if (!doc.ok()) return doc.status();
    auto record = common::ActivationFromJson(*doc);
    if (!record.ok()) return CorruptDocument("activation", id.str(), record.status());
    return record;
}

absl::StatusOr<bool> SqliteArtifactStore::HasActivation(std::string_view ns,
                                                        const common::ActivationId& id) {
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<bool> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kHasActivation));
        select.BindText(1, ns);
        select.BindText(2, id.str());
        return select.Step();
    });
}

absl::Status SqliteArtifactStore::DeleteActivation(std::string_view ns,
                                                   const common::ActivationId& id) {
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteActivation));
        del.BindText(1, ns);
        del.BindText(2, id.str());
        WISP_RETURN_IF_ERROR(del.Run());
        return sqlite3_changes(db.raw()) == 0 ? NotFound() : absl::OkStatus();
    });
}

namespace {

void BindActivationRange(Statement& st, const ActivationQuery& q) {
    st.BindText(1, q.namespace_name);
    st.BindInt64(2, q.since_ms.value_or(std::numeric_limits<int64_t>::min()));
    st.BindInt64(3, q.upto_ms.value_or(std::numeric_limits<int64_t>::max()));
}

}  // namespace

absl::StatusOr<std::vector<common::ActivationRecord>> SqliteArtifactStore::ListActivations(
    const ActivationQuery& q) {
    WISP_RETURN_IF_ERROR(ValidateActivationQuery(q));
    auto docs = impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<std::string>> {
        WISP_ASSIGN_OR_RETURN(Statement list,
                              db.Prepare(q.name ? kListActivationsByName : kListActivations));
        BindActivationRange(list, q);
        list.BindInt64(4, q.limit == 0 ? -1 : q.limit);
        list.BindInt64(5, q.skip);
        if (q.name) list.BindText(6, *q.name);
        return list.CollectText(0);
    });
    if (!docs.ok()) return docs.status();
    std::vector<common::ActivationRecord> records;
    records.reserve(docs->size());
    for (const std::string& doc : *docs) {
        auto record = common::ActivationFromJson(doc);
        if (!record.ok()) return CorruptDocument("activation", q.namespace_name, record.status());
        records.push_back(std::move(*record));
    }
    return records;
}

absl::StatusOr<int64_t> SqliteArtifactStore::CountActivations(const ActivationQuery& q) {
    WISP_RETURN_IF_ERROR(ValidateActivationQuery(q));
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<int64_t> {
        WISP_ASSIGN_OR_RETURN(Statement count,
                              db.Prepare(q.name ? kCountActivationsByName : kCountActivations));
        BindActivationRange(count, q);
        if (q.name) count.BindText(4, *q.name);
        WISP_ASSIGN_OR_RETURN(bool row, count.Step());
        return row ? count.ColumnInt64(0) : 0;
    });
}

// ---- the journal of accepted activations -----------------------------------------------------

absl::Status SqliteArtifactStore::PutJournalEntries(std::vector<JournalEntry>& entries) {
    std::vector<std::string> docs;
    docs.reserve(entries.size());
    for (const JournalEntry& e : entries) {
        WISP_RETURN_IF_ERROR(ValidateJournalEntry(e));
        docs.push_back(common::ActivationToJson(e.record, common::ActivationJsonForm::kStored));
    }
    if (entries.empty()) return absl::OkStatus();
    WISP_RETURN_IF_ERROR(impl_->Write([&](SqliteConnection& db) -> absl::Status {
        std::vector<std::string>& controllers = impl_->journal_controllers();
        for (size_t i = 0; i < entries.size(); ++i) {
            if (std::find(controllers.begin(), controllers.end(), entries[i].controller) ==
                controllers.end()) {
                controllers.push_back(entries[i].controller);
            }
            WISP_ASSIGN_OR_RETURN(Statement upsert, db.Prepare(kUpsertJournal));
            upsert.BindText(1, entries[i].controller);
            upsert.BindText(2, entries[i].record.activation_id.str());
            upsert.BindInt64(3, entries[i].recover_after_ms);
            upsert.BindText(4, docs[i]);
            WISP_RETURN_IF_ERROR(upsert.Run());
        }
        return absl::OkStatus();
    }));
    for (JournalEntry& e : entries) e.rev.assign(1, '1');  // no revisions: last writer wins
    return absl::OkStatus();
}

absl::StatusOr<std::vector<JournalEntry>> SqliteArtifactStore::ListJournalEntries(
    std::string_view controller, int64_t limit) {
    if (limit < 0) return absl::InvalidArgumentError("limit must not be negative");
    using Row = std::pair<int64_t, std::string>;
    WISP_ASSIGN_OR_RETURN(
        std::vector<Row> rows,
        impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<Row>> {
            WISP_ASSIGN_OR_RETURN(Statement list, db.Prepare(kListJournal));
            list.BindText(1, controller);
            list.BindInt64(2, limit == 0 ? -1 : limit);
            std::vector<Row> out;
            while (true) {
                WISP_ASSIGN_OR_RETURN(bool row, list.Step());
                if (!row) break;
                out.emplace_back(list.ColumnInt64(0), std::string(list.ColumnText(1)));
            }
            return out;
        }));
    std::vector<JournalEntry> entries;
    entries.reserve(rows.size());
    for (auto& [recover_after, doc] : rows) {
        auto record = common::ActivationFromJson(doc);
        if (!record.ok()) return CorruptDocument("activation_journal", controller, record.status());
        entries.push_back(
            JournalEntry{std::string(controller), *std::move(record), recover_after, "1"});
    }
    return entries;
}

absl::StatusOr<std::vector<std::string>> SqliteArtifactStore::ListJournalIds(
    std::string_view controller) {
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<std::string>> {
        WISP_ASSIGN_OR_RETURN(Statement list, db.Prepare(kListJournalIds));
        list.BindText(1, controller);
        std::vector<std::string> ids;
        while (true) {
            WISP_ASSIGN_OR_RETURN(bool row, list.Step());
            if (!row) break;
            ids.emplace_back(list.ColumnText(0));
        }
        return ids;
    });
}

absl::Status SqliteArtifactStore::RemoveJournalEntries(const std::vector<JournalEntry>& entries) {
    if (entries.empty()) return absl::OkStatus();
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        for (const JournalEntry& e : entries) {
            WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteJournal));
            del.BindText(1, e.controller);
            del.BindText(2, e.record.activation_id.str());
            WISP_RETURN_IF_ERROR(del.Run());
        }
        return absl::OkStatus();
    });
}

// ---- system documents ------------------------------------------------------------------------

namespace {

/// The smallest string greater than every string starting with `prefix` (byte order), or
/// nullopt when there is none (empty, or only 0xFF bytes).
std::optional<std::string> PrefixUpperBound(std::string_view prefix) {
    std::string upper(prefix);
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xFF) upper.pop_back();
    if (upper.empty()) return std::nullopt;
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    return upper;
}

}  // namespace

absl::StatusOr<std::string> SqliteArtifactStore::PutSystemDoc(const SystemDoc& doc,
                                                              std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateSystemDoc(doc));
    return impl_->Write([&](SqliteConnection& db) -> absl::StatusOr<std::string> {
        std::optional<std::string> current_rev;
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSystemDocRev));
            select.BindText(1, doc.kind);
            select.BindText(2, doc.id);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (found) current_rev = std::string(select.ColumnText(0));
        }
        std::string rev;
        if (current_rev.has_value()) {
            if (expected_rev.empty()) return Exists();
            if (*current_rev != expected_rev) return Conflict();
            rev = NextRevision(*current_rev);
        } else {
            if (!expected_rev.empty()) return Conflict();  // deleted meanwhile
            rev = NextRevision({});
        }
        WISP_ASSIGN_OR_RETURN(Statement write,
                              db.Prepare(current_rev ? kUpdateSystemDoc : kInsertSystemDoc));
        write.BindText(1, doc.kind);
        write.BindText(2, doc.id);
        write.BindInt64(3, doc.updated_ms);
        write.BindText(4, rev);
        write.BindText(5, doc.body);
        WISP_RETURN_IF_ERROR(write.Run());
        return rev;
    });
}

absl::StatusOr<SystemDoc> SqliteArtifactStore::GetSystemDoc(std::string_view kind,
                                                            std::string_view id) {
    WISP_RETURN_IF_ERROR(ValidateSystemDocKey(kind, id));
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<SystemDoc> {
        WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSystemDoc));
        select.BindText(1, kind);
        select.BindText(2, id);
        WISP_ASSIGN_OR_RETURN(bool found, select.Step());
        if (!found) return NotFound();
        return SystemDoc{std::string(kind), std::string(id), std::string(select.ColumnText(2)),
                         select.ColumnInt64(0), std::string(select.ColumnText(1))};
    });
}

absl::Status SqliteArtifactStore::DeleteSystemDoc(std::string_view kind, std::string_view id,
                                                  std::string_view expected_rev) {
    WISP_RETURN_IF_ERROR(ValidateSystemDocKey(kind, id));
    return impl_->Write([&](SqliteConnection& db) -> absl::Status {
        {
            WISP_ASSIGN_OR_RETURN(Statement select, db.Prepare(kSelectSystemDocRev));
            select.BindText(1, kind);
            select.BindText(2, id);
            WISP_ASSIGN_OR_RETURN(bool found, select.Step());
            if (!found) return NotFound();
            if (!expected_rev.empty() && select.ColumnText(0) != expected_rev) return Conflict();
        }
        WISP_ASSIGN_OR_RETURN(Statement del, db.Prepare(kDeleteSystemDoc));
        del.BindText(1, kind);
        del.BindText(2, id);
        return del.Run();
    });
}

absl::StatusOr<std::vector<SystemDoc>> SqliteArtifactStore::ListSystemDocs(
    std::string_view kind, std::string_view id_prefix, std::string_view after_id, int64_t limit) {
    WISP_ASSIGN_OR_RETURN(const int64_t max, ValidateSystemDocList(kind, limit));
    const std::optional<std::string> upper = PrefixUpperBound(id_prefix);
    return impl_->Read([&](SqliteConnection& db) -> absl::StatusOr<std::vector<SystemDoc>> {
        WISP_ASSIGN_OR_RETURN(Statement list,
                              db.Prepare(upper ? kListSystemDocsBounded : kListSystemDocs));
        list.BindText(1, kind);
        list.BindText(2, id_prefix);
        list.BindText(3, after_id);
        if (upper) list.BindText(4, *upper);
        list.BindInt64(5, max);
        std::vector<SystemDoc> out;
        while (true) {
            WISP_ASSIGN_OR_RETURN(bool row, list.Step());
            if (!row) break;
            out.push_back(SystemDoc{std::string(kind), std::string(list.ColumnText(0)),
                                    std::string(list.ColumnText(3)), list.ColumnInt64(1),
                                    std::string(list.ColumnText(2))});
        }
        return out;
    });
}

}  // namespace wisp::store
