#pragma once
// ActivationRetention: deletes activation records older than the retention period in the
// background (`--activation-retention`, default 7 days; 0 keeps everything).
//
// Every `interval` a pass deletes the records whose start is before now − retention through
// ArtifactStore::DeleteActivationsBefore, `batch` records per store transaction, pausing `pause`
// between batches so that invokes' record writes never wait behind more than one short
// transaction. A record goes with its result and logs (one document), so a list never shows part
// of one. Idempotent: in a deployment with several controllers each runs it; a pass with nothing
// to delete costs one indexed query. A store that cannot expire records (Unimplemented) is
// logged once and the sweeper stops. ParseRetention (controller.hpp) reads the flag. Thread-safe.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

struct ActivationRetentionConfig {
    /// Records older than this are deleted; 0 = keep everything (no thread).
    std::chrono::milliseconds retention{std::chrono::hours(24 * 7)};
    int64_t batch = 500;
    std::chrono::milliseconds pause{100};
    /// Between passes; 0 = no thread (tests call RunOnce()).
    std::chrono::milliseconds interval{std::chrono::minutes(10)};
    /// Before the first pass (a start is busy enough; tests' stores see no extra call).
    std::chrono::milliseconds first_delay{std::chrono::minutes(1)};
};

class ActivationRetention {
  public:
    ActivationRetention(store::ArtifactStore& store, common::Clock& clock,
                        ActivationRetentionConfig config);
    ~ActivationRetention();
    ActivationRetention(const ActivationRetention&) = delete;
    ActivationRetention& operator=(const ActivationRetention&) = delete;

    /// One pass: deletes every record older than the retention, batch by batch. Returns how
    /// many were deleted.
    [[nodiscard]] absl::StatusOr<int64_t> RunOnce();
    /// Records deleted since start.
    int64_t deleted() const;
    /// Stops the thread (a pass stops after its current batch). Idempotent.
    void Stop();

  private:
    void Loop();

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const ActivationRetentionConfig config_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    int64_t deleted_ = 0;
    std::thread thread_;
};

}  // namespace wisp::controller
