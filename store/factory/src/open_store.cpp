// OpenArtifactStore(): the one place that maps a store URI to a backend.
#include <filesystem>
#include <string>
#include <system_error>

#include <wisp/common/status.hpp>
#include <wisp/store/couchdb_artifact_store.hpp>  // CouchDB branch
#include <wisp/store/open_store.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>

namespace wisp::store {

namespace {

constexpr std::string_view kSqliteScheme = "sqlite:";
constexpr std::string_view kCouchDbScheme = "couchdb:";
constexpr std::string_view kMemoryPath = ":memory:";

[[nodiscard]] absl::StatusOr<std::unique_ptr<ArtifactStore>> OpenSqlite(std::string_view path) {
    if (path.empty()) {
        return absl::InvalidArgumentError(
            "store URI \"sqlite:\" has no path; use sqlite:/var/lib/wisp/wisp.db or "
            "sqlite::memory:");
    }
    if (path != kMemoryPath) {
        const std::filesystem::path parent = std::filesystem::path(path).parent_path();
        if (!parent.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(parent, ec);
            if (ec) {
                return absl::UnavailableError(
                    "cannot create the directory " + parent.string() + " for the SQLite store: " +
                    ec.message() + "; choose a writable path in the store URI (sqlite:PATH)");
            }
        }
    }
    WISP_ASSIGN_OR_RETURN(auto store, SqliteArtifactStore::Open(std::string(path)));
    return std::unique_ptr<ArtifactStore>(std::move(store));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArtifactStore>> OpenArtifactStore(std::string_view uri) {
    if (uri.starts_with(kSqliteScheme)) {
        return OpenSqlite(uri.substr(kSqliteScheme.size()));
    }
    if (uri.starts_with(kCouchDbScheme)) {
        // ---- CouchDB backend (store/couchdb) --------------------------------------------------
        WISP_ASSIGN_OR_RETURN(CouchDbConfig config,
                              CouchDbConfig::FromUri(uri.substr(kCouchDbScheme.size())));
        WISP_ASSIGN_OR_RETURN(auto store, CouchDbArtifactStore::Open(config));
        return std::unique_ptr<ArtifactStore>(std::move(store));
        // ---- end of CouchDB branch --------------------------------------------------------
    }
    return absl::InvalidArgumentError("unknown store URI \"" + std::string(uri) +
                                      "\"; expected sqlite:PATH, sqlite::memory: or "
                                      "couchdb:http://user:password@host:5984[?prefix=name_]");
}

}  // namespace wisp::store
