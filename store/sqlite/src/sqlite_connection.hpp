#pragma once
// Thin RAII layer over the SQLite C API: a connection with a prepared-statement cache and a
// borrowed statement that resets itself. Private to wisp::store_sqlite.
//
// Not thread-safe: a SqliteConnection is used by one thread at a time (the store hands them
// out under a mutex or from a pool).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <sqlite3.h>

namespace wisp::store::sqlite {

/// Maps an SQLite result code to a Status: BUSY/LOCKED -> Unavailable (with a hint), other
/// failures -> Internal. `what` says what was being done.
[[nodiscard]] absl::Status SqliteError(sqlite3* db, int rc, std::string_view what);

/// A prepared statement borrowed from a connection's cache. Resets and clears its bindings when
/// it goes out of scope, so the cached statement is ready for the next user.
class Statement {
  public:
    Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
    ~Statement();
    Statement(Statement&& o) noexcept : stmt_(o.stmt_), db_(o.db_) { o.stmt_ = nullptr; }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;

    // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT).
    void BindText(int index, std::string_view text);
    void BindInt64(int index, int64_t value);
    void BindNull(int index);

    /// Advances: true when a row is available, false when done; an error otherwise.
    [[nodiscard]] absl::StatusOr<bool> Step();
    /// Runs a statement that returns no rows.
    [[nodiscard]] absl::Status Run();
    /// Steps through every row, collecting column `index` as text.
    [[nodiscard]] absl::StatusOr<std::vector<std::string>> CollectText(int index = 0);

    std::string_view ColumnText(int index) const;
    int64_t ColumnInt64(int index) const;
    bool ColumnIsNull(int index) const;

  private:
    sqlite3_stmt* stmt_;
    sqlite3* db_;
};

class SqliteConnection {
  public:
    /// Opens `path` with `flags` (SQLITE_OPEN_*; SQLITE_OPEN_NOMUTEX is always added) and sets
    /// busy_timeout.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
        const std::string& path, int flags, int busy_timeout_ms);
    ~SqliteConnection();
    SqliteConnection(const SqliteConnection&) = delete;
    SqliteConnection& operator=(const SqliteConnection&) = delete;

    /// A cached prepared statement for `sql`, which must be a string with static storage
    /// duration (the cache is keyed by its address).
    [[nodiscard]] absl::StatusOr<Statement> Prepare(const char* sql);
    /// Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
    [[nodiscard]] absl::Status Exec(const char* sql);
    /// Exec of one statement through Prepare's cache (same rule for `sql`): for statements run
    /// on every write, such as BEGIN and COMMIT.
    [[nodiscard]] absl::Status ExecCached(const char* sql);
    /// Runs a pragma and returns its first result column as text (e.g. journal_mode).
    [[nodiscard]] absl::StatusOr<std::string> QueryText(const char* sql);

    sqlite3* raw() const { return db_; }

  private:
    explicit SqliteConnection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

}  // namespace wisp::store::sqlite
