#include "sqlite_connection.hpp"

#include <wisp/common/status.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::store::sqlite {

using common::Cat;

[[nodiscard]] absl::Status SqliteError(sqlite3* db, int rc, std::string_view what) {
    const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        return absl::UnavailableError(
            Cat("SQLite ", what, ": ", detail,
                "; another process holds the database lock for too long (is a second "
                "wisp server or wisp-admin writing to the same file?)"));
    }
    if (primary == SQLITE_CANTOPEN || primary == SQLITE_PERM || primary == SQLITE_READONLY) {
        return absl::UnavailableError(
            Cat("SQLite ", what, ": ", detail,
                "; check that the directory exists and is writable by this user"));
    }
    if (primary == SQLITE_FULL || primary == SQLITE_IOERR) {
        return absl::UnavailableError(
            Cat("SQLite ", what, ": ", detail, "; check free disk space"));
    }
    return absl::InternalError(Cat("SQLite ", what, ": ", detail));
}

Statement::~Statement() {
    if (stmt_ != nullptr) {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
}

void Statement::BindText(int index, std::string_view text) {
    // A default std::string_view has no data pointer, which SQLite would bind as NULL.
    sqlite3_bind_text64(stmt_, index, text.data() != nullptr ? text.data() : "", text.size(),
                        SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::BindInt64(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

absl::StatusOr<std::vector<std::string>> Statement::CollectText(int index) {
    std::vector<std::string> out;
    while (true) {
        WISP_ASSIGN_OR_RETURN(bool row, Step());
        if (!row) return out;
        out.emplace_back(ColumnText(index));
    }
}

absl::StatusOr<bool> Statement::Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqliteError(db_, rc, Cat("step of \"", sqlite3_sql(stmt_), "\""));
}

absl::Status Statement::Run() {
    auto row = Step();
    if (!row.ok()) return row.status();
    return absl::OkStatus();
}

std::string_view Statement::ColumnText(int index) const {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    if (text == nullptr) return {};
    return {text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index))};
}

int64_t Statement::ColumnInt64(int index) const { return sqlite3_column_int64(stmt_, index); }

bool Statement::ColumnIsNull(int index) const {
    return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                         int flags,
                                                                         int busy_timeout_ms) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        absl::Status st = SqliteError(db, rc, Cat("cannot open ", path));
        sqlite3_close_v2(db);
        return st;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

absl::StatusOr<Statement> SqliteConnection::Prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            return SqliteError(db_, rc, Cat("cannot prepare \"", sql, "\""));
        }
        it = cache_.emplace(sql, stmt).first;
    }
    return Statement(it->second, db_);
}

absl::Status SqliteConnection::Exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        sqlite3_free(err);
        return SqliteError(db_, rc, Cat("\"", sql, "\""));
    }
    return absl::OkStatus();
}

absl::Status SqliteConnection::ExecCached(const char* sql) {
    auto st = Prepare(sql);
    if (!st.ok()) return st.status();
    return st->Run();
}

absl::StatusOr<std::string> SqliteConnection::QueryText(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, Cat("cannot prepare \"", sql, "\""));
    std::string out;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
        if (text != nullptr) out = text;
    } else if (rc != SQLITE_DONE) {
        absl::Status st = SqliteError(db_, rc, Cat("\"", sql, "\""));
        sqlite3_finalize(stmt);
        return st;
    }
    sqlite3_finalize(stmt);
    return out;
}

}  // namespace wisp::store::sqlite
