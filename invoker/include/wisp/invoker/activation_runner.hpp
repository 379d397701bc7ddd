#pragma once
// ActivationRunner: one activation from container placement to the finished record.
//
//   lease = pool.Acquire(...)          (warm / stem cell / cold; may wait in the FIFO buffer)
//   /init once per container           (`init` parameters and the __OW_* env of wire §5)
//   /run                               (time limit = limits.timeout)
//   on_result(record, logs_pending)    (the result is known: a blocking caller can be answered)
//   logs                               (up to the sentinels, cut at limits.logs MB)
//   pool.Release(keep | destroy)       (a developer error destroys the container)
//
// Records follow OpenWhisk's ContainerProxy: start = init start on a cold start (duration then
// includes init), annotations limits, path, kind, timeout, [causedBy], [initTime], waitTime,
// [binding]. Texts are OpenWhisk's (Messages.scala, ActivationResponse.scala).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <wisp/v1/activation.pb.h>
#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/invoker/container.hpp>
#include <wisp/invoker/container_pool.hpp>

namespace wisp::invoker {

/// OpenWhisk's activation texts.
namespace messages {
inline constexpr std::string_view kAbnormalInitialization =
    "The action did not initialize and exited unexpectedly.";
inline constexpr std::string_view kAbnormalRun =
    "The action did not produce a valid response and exited unexpectedly.";
inline constexpr std::string_view kMemoryExhausted =
    "The action exhausted its memory and was aborted.";
inline constexpr std::string_view kActionRemovedWhileInvoking =
    "Action could not be found or may have been deleted.";
inline constexpr std::string_view kActionFetchErrorWhileInvoking = "Action could not be fetched.";
inline constexpr std::string_view kResourceProvisionError =
    "Failed to provision resources to run the action.";
inline constexpr std::string_view kLogFailure =
    "There was an issue while collecting your logs. Data might be missing.";
/// "The action exceeded its time limits of N milliseconds." / "... during initialization."
std::string TimedOutActivation(int64_t timeout_ms, bool init);
/// "The action failed during initialization: <body>" (or "." when empty).
std::string InvalidInitResponse(std::string_view body);
/// "The action did not produce a valid JSON or JSON Array response: <body>" (or ".").
std::string InvalidRunResponse(std::string_view body);
/// "The action produced a response that exceeded the allowed length: N > M bytes. The
/// truncated response was: <trunk>"
std::string TruncatedResponse(std::string_view trunk, int64_t length, int64_t max_length);
/// "Logs were truncated because the total bytes size exceeds the limit of N bytes."
std::string TruncateLogs(int64_t limit_bytes);
/// "Failed to pull container image '<image>'."
std::string ImagePullError(std::string_view image);
/// "The container image '<image>' is not allowed on this platform."
std::string ImageNotAllowed(std::string_view image);
}  // namespace messages

struct ActivationRunnerConfig {
    /// Results larger than this are an application error (wire §9: 1 MB).
    int64_t max_result_bytes = 1048576;
    /// How much of an oversized result the error message quotes.
    int64_t result_truncation_bytes = 1048576;
    /// Log collection ends when no new output arrives for this long (OpenWhisk: 2 s).
    std::chrono::milliseconds log_idle_wait{2000};
    /// Blackbox images (outside the runtime manifest) that may run: registries or name prefixes
    /// as common::ImageAllowed reads them ("ghcr.io/acme", "docker.io/openwhisk"). Empty: any
    /// image, as OpenWhisk. Other images, and invalid references, are a developer error.
    std::vector<std::string> allowed_images;
    /// Wisp's own annotation "invoker" on every record this invoker writes, naming it (e.g.
    /// "invoker0"): which invoker ran an activation, for placement checks. Empty: none.
    std::string invoker_annotation;
};

/// What happened, beyond the record.
struct ActivationOutcome {
    common::ActivationRecord record;
    bool developer_error = false;  // the container was destroyed
    bool cold_start = false;       // this activation ran /init
    bool logs_collected = false;
    ContainerLease::Source source = ContainerLease::Source::kCold;
    std::string container_id;  // empty when no container was placed
};

class ActivationRunner {
  public:
    /// Called once the result is known and before logs are collected; `logs_pending` says
    /// whether log collection follows (it does not after a developer error, with a log limit of
    /// 0 or with limits.concurrency > 1). The record has no logs yet.
    using ResultCallback =
        std::function<void(const common::ActivationRecord& record, bool logs_pending)>;

    ActivationRunner(ContainerPool& pool, const common::RuntimeManifest& manifest,
                     common::Clock& clock, ActivationRunnerConfig config = {});

    /// Runs `msg` with `action`, fetched at `revision`. Blocks until the record is complete
    /// (logs included) and the container is back in the pool. Thread-safe. Never fails: every
    /// failure becomes the record's response.
    ActivationOutcome Run(const wisp::v1::ActivationMessage& msg, const common::Action& action,
                          const std::string& revision, const ResultCallback& on_result);

    const ActivationRunnerConfig& config() const { return config_; }

    /// Keep-warm (invoker/README.md "Keep-warm"): creates one new container for `action` at
    /// `revision` for `msg`'s namespace (ContainerPool::AcquireKeepWarm, pinned) and runs its
    /// /init with `msg`'s identity (as the first activation of a cold start would); no /run,
    /// no record. A failed /init destroys the container. Errors: the pool's, or
    /// FailedPrecondition (the action cannot run here, its /init failed).
    [[nodiscard]] absl::Status InitKeepWarm(const wisp::v1::ActivationMessage& msg,
                                            const common::Action& action,
                                            const std::string& revision);
    /// The ContainerRequest an activation of `action` from `msg` makes (what
    /// ContainerPool::PinKeepWarm takes). FailedPrecondition when the action cannot run here.
    [[nodiscard]] absl::StatusOr<ContainerRequest> KeepWarmRequest(
        const wisp::v1::ActivationMessage& msg, const common::Action& action,
        const std::string& revision) const;

  private:
    ContainerPool& pool_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ActivationRunnerConfig config_;
};

/// The invoker's record when the action never ran (OpenWhisk's generateFallbackActivation):
/// kind "unknown", start = end = `now_ms`, duration 0, annotations path (+ causedBy).
common::ActivationRecord FallbackActivationRecord(const wisp::v1::ActivationMessage& msg,
                                                  common::ActivationResponse response,
                                                  int64_t now_ms);

/// One stored log line, OpenWhisk's "%-30s %s: %s" (time, stream, text).
std::string FormatLogLine(const LogLine& line);

/// RFC 3339 UTC time with milliseconds ("2024-05-01T10:00:00.123Z").
std::string FormatIsoTime(int64_t epoch_ms);

}  // namespace wisp::invoker
