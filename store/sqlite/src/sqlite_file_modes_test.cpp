// The SQLite store's files are owner-only (0600) whatever the umask: the database holds every
// key. New files are created so; files left by earlier runs (or other tools) are fixed.
#include <stdlib.h>
#include <sys/stat.h>
#include "sqlite_scratch_dir_test.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include <wisp/common/identity.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>

namespace {

using wisp::store::testing::ScratchDir;

/// Restores the umask when the test ends.
class Umask {
  public:
    explicit Umask(mode_t mask) : old_(::umask(mask)) {}
    ~Umask() { ::umask(old_); }

  private:
    mode_t old_;
};

mode_t ModeOf(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

void WriteSomething(wisp::store::ArtifactStore& store) {
    wisp::common::Subject s;
    s.subject = "alice1";
    s.namespaces.push_back({"alice1", wisp::common::AuthKey::Generate()});
    REQUIRE(store.PutSubject(s, "").ok());
}

}  // namespace

TEST_CASE("sqlite store: database, -wal and -shm files are 0600 whatever the umask",
          "[sqlite][security]") {
    ScratchDir dir;
    const std::string db = dir.File("wisp.db");
    Umask permissive(0);  // would give 0644/0666 files
    auto store = wisp::store::SqliteArtifactStore::Open(db);
    REQUIRE(store.ok());
    WriteSomething(**store);
    CHECK(ModeOf(db) == 0600);
    CHECK(ModeOf(db + "-wal") == 0600);
    CHECK(ModeOf(db + "-shm") == 0600);
}

TEST_CASE("sqlite store: opening fixes the modes of existing files", "[sqlite][security]") {
    ScratchDir dir;
    const std::string db = dir.File("wisp.db");
    Umask permissive(0);
    {
        auto store = wisp::store::SqliteArtifactStore::Open(db);
        REQUIRE(store.ok());
        WriteSomething(**store);
        // An earlier version (or a copy) left them readable by everyone; the -wal and -shm
        // files exist while a connection is open.
        REQUIRE(::chmod(db.c_str(), 0644) == 0);
        REQUIRE(::chmod((db + "-wal").c_str(), 0644) == 0);
        REQUIRE(::chmod((db + "-shm").c_str(), 0666) == 0);
        auto second = wisp::store::SqliteArtifactStore::Open(db);
        REQUIRE(second.ok());
        CHECK(ModeOf(db) == 0600);
        CHECK(ModeOf(db + "-wal") == 0600);
        CHECK(ModeOf(db + "-shm") == 0600);
    }
    REQUIRE(::chmod(db.c_str(), 0664) == 0);
    auto reopened = wisp::store::SqliteArtifactStore::Open(db);
    REQUIRE(reopened.ok());
    CHECK(ModeOf(db) == 0600);
}
