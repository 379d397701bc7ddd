// The SQLite store's WAL checkpoints run on a background thread (sqlite_artifact_store.hpp):
// they happen, they keep the WAL bounded while writes go on, and nothing written is lost
// across a close and a reopen.
#include <stdlib.h>
#include "sqlite_scratch_dir_test.hpp"

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/activation.hpp>
#include <wisp/store/sqlite_artifact_store.hpp>

namespace {

using wisp::store::SqliteArtifactStore;
using wisp::store::SqliteStoreOptions;

using wisp::store::testing::ScratchDir;

wisp::common::ActivationRecord Record(int i) {
    wisp::common::ActivationRecord r;
    r.namespace_path = wisp::common::EntityPath({"guest"});
    r.name = "noop";
    r.subject = "guest";
    r.activation_id = wisp::common::ActivationId::Generate();
    r.start_ms = 1'700'000'000'000 + i;
    r.end_ms = r.start_ms + 1;
    r.response.status = wisp::common::ActivationStatus::kSuccess;
    r.response.result =
        wisp::common::JsonValue::Parse(R"({"padding":")" + std::string(300, 'x') + R"("})").value();
    return r;
}

int64_t FileSize(const std::string& path) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<int64_t>(size);
}

constexpr int64_t kFrameBytes = 4096 + 24;  // a page and its WAL frame header

}  // namespace

TEST_CASE("sqlite: WAL checkpoints run in the background and keep the WAL bounded",
          "[sqlite][checkpoint]") {
    ScratchDir dir;
    const std::string db = dir.File("wisp.db");
    SqliteStoreOptions options;
    options.checkpoint_frames = 100;
    options.force_frames = 1000;
    auto store = SqliteArtifactStore::Open(db, options);
    REQUIRE(store.ok());
    // One transaction per record (≈ 5 frames each: the table and its four indexes): 15,000
    // frames, ≈ 60 MB of WAL if nothing checkpointed it (SQLite's automatic checkpoint is off).
    constexpr int kRecords = 3000;
    for (int i = 0; i < kRecords; ++i) {
        REQUIRE((*store)->CreateActivation(Record(i)).ok());
    }
    const auto stats = (*store)->checkpoint_stats();
    CHECK(stats.passes > 0);
    CHECK(stats.frames_copied > 0);
    // Bounded: rewound after complete passes, or at force_frames a commit waits for a pass
    // (one transaction's frames past it at most).
    constexpr int kTransactionFrames = 50;
    CHECK(stats.max_wal_frames <= options.force_frames + kTransactionFrames);
    CHECK(FileSize(db + "-wal") <= 32 + (options.force_frames + kTransactionFrames) * kFrameBytes);
    // Some pass copied the whole WAL: without one the WAL never rewinds, reaches force_frames,
    // and the pass a commit then waits for sees no new frame.
    CHECK(stats.complete > 0);
}

TEST_CASE("sqlite: records written while checkpoints run are all there after a reopen",
          "[sqlite][checkpoint]") {
    ScratchDir dir;
    const std::string db = dir.File("wisp.db");
    SqliteStoreOptions options;
    options.checkpoint_frames = 50;
    options.force_frames = 400;
    std::vector<wisp::common::ActivationRecord> written;
    {
        auto store = SqliteArtifactStore::Open(db, options);
        REQUIRE(store.ok());
        // Two writers (the invoker's records, the journal) and a reader, concurrently.
        constexpr int kPerWriter = 600;
        std::vector<wisp::common::ActivationRecord> a, b;
        for (int i = 0; i < kPerWriter; ++i) {
            a.push_back(Record(i));
            b.push_back(Record(kPerWriter + i));
        }
        std::atomic<int> failed{0};
        std::atomic<bool> writing{true};
        auto write = [&](const std::vector<wisp::common::ActivationRecord>& records) {
            for (const auto& r : records) {
                if (!(*store)->CreateActivation(r).ok()) ++failed;
            }
        };
        std::thread reader([&] {
            while (writing.load()) {
                if (!(*store)->HasActivation("guest", a[0].activation_id).ok()) ++failed;
            }
        });
        std::thread wa([&] { write(a); });
        std::thread wb([&] { write(b); });
        wa.join();
        wb.join();
        writing = false;
        reader.join();
        CHECK(failed.load() == 0);
        CHECK((*store)->checkpoint_stats().passes > 0);
        written = a;
        written.insert(written.end(), b.begin(), b.end());
    }
    // The last connection copied the rest and removed the WAL.
    CHECK_FALSE(std::filesystem::exists(db + "-wal"));
    auto reopened = SqliteArtifactStore::Open(db, options);
    REQUIRE(reopened.ok());
    int missing = 0;
    for (const auto& r : written) {
        auto has = (*reopened)->HasActivation("guest", r.activation_id);
        if (!has.ok() || !*has) ++missing;
    }
    CHECK(missing == 0);
}

TEST_CASE("sqlite: inline checkpoints (WISP_SQLITE_CHECKPOINTS=inline) start no checkpointer",
          "[sqlite][checkpoint]") {
    ScratchDir dir;
    SqliteStoreOptions options;
    options.checkpoint_frames = 50;
    options.inline_checkpoints = true;
    auto store = SqliteArtifactStore::Open(dir.File("wisp.db"), options);
    REQUIRE(store.ok());
    for (int i = 0; i < 300; ++i) REQUIRE((*store)->CreateActivation(Record(i)).ok());
    CHECK((*store)->checkpoint_stats().passes == 0);
    // SQLite's own checkpoint (every 1000 frames, in the commit) kept the WAL small.
    CHECK(FileSize(dir.File("wisp.db") + "-wal") <= 2000 * kFrameBytes);
}
