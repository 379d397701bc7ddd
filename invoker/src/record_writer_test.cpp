// RecordWriter: a record the store refuses is retried with backoff until stored; the queue is
// bounded and what cannot be kept is counted and logged as lost, never dropped silently.
#include <wisp/invoker/record_writer.hpp>

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/store/open_store.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/temp_dir.hpp>

namespace wisp::invoker {
namespace {

common::ActivationRecord Record(std::string_view name) {
    common::ActivationRecord r;
    r.namespace_path = common::EntityPath({"guest"});
    r.name = std::string(name);
    r.subject = "guest";
    r.activation_id = common::ActivationId::Generate();
    r.start_ms = 1700000000000;
    r.end_ms = r.start_ms + 3;
    r.response.status = common::ActivationStatus::kSuccess;
    return r;
}

RecordWriterConfig Fast(size_t max_queued = 100) {
    return {.max_queued = max_queued,
            .backoff = {.initial = std::chrono::milliseconds(5),
                        .multiplier = 1.6,
                        .jitter = 0.2,
                        .max = std::chrono::milliseconds(50)}};
}

}  // namespace

TEST_CASE("record writer: failed writes are retried with backoff until stored", "[record_writer]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    RecordWriter writer(store, Fast());
    store.fail_next_activation_writes = 4;  // the first attempt and three retries fail
    const auto rec = Record("a");
    writer.Write(rec, "tid-1");
    CHECK(inner->GetActivation("guest", rec.activation_id).status().code() ==
          absl::StatusCode::kNotFound);
    CHECK(writer.Flush(std::chrono::seconds(30)) == 0);  // waits until the queue is empty
    CHECK(inner->GetActivation("guest", rec.activation_id).ok());
    CHECK(store.activation_writes.load() == 5);
    CHECK(writer.stored_late() == 1);
    CHECK(writer.lost() == 0);
}

TEST_CASE("record writer: a store outage queues records (bounded) and stores them after",
          "[record_writer]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    RecordWriter writer(store, Fast(3));
    store.down = true;
    std::vector<common::ActivationRecord> records;
    for (int i = 0; i < 4; ++i) {
        records.push_back(Record("r" + std::to_string(i)));
        writer.Write(records.back(), "tid");
    }
    CHECK(writer.queued() == 3);
    CHECK(writer.lost() == 1);  // the fourth found the queue full: logged with its id
    // A record stored meanwhile by someone else counts as stored (create-only).
    REQUIRE(inner->CreateActivation(records[1]).ok());
    store.down = false;
    CHECK(writer.Flush(std::chrono::seconds(30)) == 0);
    for (int i = 0; i < 3; ++i) CHECK(inner->GetActivation("guest", records[i].activation_id).ok());
    CHECK(inner->GetActivation("guest", records[3].activation_id).status().code() ==
          absl::StatusCode::kNotFound);
}

TEST_CASE("record writer: Flush's deadline counts what is still unstored", "[record_writer]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    RecordWriter writer(store, Fast());
    store.down = true;
    writer.Write(Record("a"), "tid");
    writer.Write(Record("b"), "tid");
    CHECK(writer.Flush(std::chrono::milliseconds(100)) == 2);
    CHECK(writer.lost() == 2);
    CHECK(writer.queued() == 0);
    writer.Write(Record("c"), "tid");  // after Flush: refused loudly, not queued
    CHECK(writer.lost() == 3);
}

TEST_CASE("record writer: concurrent writes share store transactions (group commit)",
          "[record_writer][group-commit]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store(*inner);
    // Every record acknowledged as stored is in the store at the moment of the acknowledgement.
    std::atomic<int> acknowledged{0};
    std::atomic<int> missing{0};
    RecordWriterConfig config = Fast(1000);
    config.on_stored = [&](const common::ActivationRecord& r) {
        if (!inner->GetActivation("guest", r.activation_id).ok()) ++missing;
        ++acknowledged;
    };
    RecordWriter writer(store, config);
    // Hold the store while writers queue up: the first caller's batch blocks in the store, the
    // others' records wait for the next batch: one transaction for all of them.
    store.Hang();
    constexpr int kThreads = 32;
    std::vector<common::ActivationRecord> records;
    for (int i = 0; i < kThreads; ++i) records.push_back(Record("g"));
    std::atomic<int> returned{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            writer.Write(records[t], "tid");
            ++returned;
        });
    }
    // Wait (on the writer's own count, no sleep) until every record is queued or in flight.
    while (writer.queued() < static_cast<size_t>(kThreads)) std::this_thread::yield();
    CHECK(returned.load() == 0);  // nobody returns before its record's attempt
    store.Release();
    for (auto& t : threads) t.join();
    CHECK(writer.stored() == kThreads);
    CHECK(acknowledged.load() == kThreads);
    CHECK(missing.load() == 0);
    for (const auto& r : records) CHECK(inner->GetActivation("guest", r.activation_id).ok());
    // Two store calls for 32 records: the first caller's, then one for the 31 queued behind it.
    CHECK(store.activation_batches.load() == 2);
    CHECK(writer.batches() == 2);
    CHECK(writer.Flush(std::chrono::seconds(30)) == 0);
}

TEST_CASE("record writer: an uncontended record is stored before Write returns",
          "[record_writer][group-commit]") {
    auto inner = store::OpenArtifactStore("sqlite::memory:").value();
    RecordWriter writer(*inner, Fast());
    const auto rec = Record("a");
    writer.Write(rec, "tid");
    // The same ordering as before group commit: the record follows the ack on the worker.
    CHECK(inner->GetActivation("guest", rec.activation_id).ok());
    CHECK(writer.stored() == 1);
    CHECK(writer.queued() == 0);
}

TEST_CASE("backoff: grows by the multiplier to the cap, with bounded jitter, and resets",
          "[backoff]") {
    common::Backoff b({.initial = std::chrono::milliseconds(1000),
                       .multiplier = 1.6,
                       .jitter = 0.2,
                       .max = std::chrono::milliseconds(5000)});
    auto first = b.Next().count();
    CHECK(first >= 800);
    CHECK(first <= 1200);
    auto second = b.Next().count();
    CHECK(second >= 1280);
    CHECK(second <= 1920);
    for (int i = 0; i < 20; ++i) CHECK(b.Next().count() <= 5000);
    CHECK(b.attempts() == 22);
    b.Reset();
    CHECK(b.Next().count() <= 1200);
}

}  // namespace wisp::invoker

namespace wisp::invoker {

// Not run by default (hidden tag): prints the process CPU time per record of 32 threads storing
// records on a SQLite file, one transaction each (CreateActivation, as before group commit) vs
// RecordWriter. `invoker_test "[.record-writer-bench]"`; figures in invoker/README.md.
TEST_CASE("record writer: CPU per record, per-record transactions vs group commit",
          "[.record-writer-bench]") {
    wisp::testing::TempDir dir("wisp-record-bench-");
    constexpr int kThreads = 32, kRecords = 8000;
    auto cpu_us = [] {
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec +
               ru.ru_stime.tv_usec;
    };
    for (bool grouped : {false, true, false, true}) {
        auto store =
            store::OpenArtifactStore("sqlite:" + dir.File(grouped ? "g.db" : "s.db")).value();
        RecordWriter writer(*store);
        const double c0 = cpu_us();
        const auto w0 = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int i = t; i < kRecords; i += kThreads) {
                    const auto rec = Record("bench");
                    if (grouped) {
                        writer.Write(rec, "tid");
                    } else if (!store->CreateActivation(rec).ok()) {
                        std::abort();
                    }
                }
            });
        }
        for (auto& th : threads) th.join();
        const double wall =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - w0)
                .count();
        std::printf("%-28s CPU %6.1f us/record, wall %6.1f us/record, %lld store calls\n",
                    grouped ? "RecordWriter (group commit)" : "CreateActivation each",
                    (cpu_us() - c0) / kRecords, wall / kRecords,
                    static_cast<long long>(grouped ? writer.batches() : kRecords));
    }
}

}  // namespace wisp::invoker
