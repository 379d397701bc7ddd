#pragma once
// KeepWarm: the controller's half of the `keep-warm` action annotation (Wisp's own; the design is
// in invoker/README.md "Keep-warm").
//
//   PUT of an action:  the annotation must be an integer >= 0 and at most the namespace's
//                      `maxKeepWarm` (system default 2): else 400 (Validate). Once stored, an
//                      action with N > 0 is registered (SystemDoc kind "keep-warm", id = the
//                      action's doc id) and its order ("hold N initialised containers of this
//                      revision") is published at once to the action's home invoker; N = 0 (or
//                      no annotation) after N > 0 unregisters it and publishes count 0.
//   DELETE:            unregisters and publishes count 0.
//   every `refresh`:   every registered action's order is published again (the current revision
//                      and annotation read from the store, the first identity of the namespace,
//                      the count bounded by the namespace's limit now), valid for 3 x refresh:
//                      an invoker restarted (or newly home after its predecessor was lost)
//                      learns its duty within one period, and an invoker that is no longer home
//                      releases its containers when its orders expire.
//
// Every controller refreshes (no leader): an order published twice is taken twice, harmlessly.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/limits.hpp>
#include <wisp/store/artifact_store.hpp>

#include "activator.hpp"

namespace wisp::controller {

class KeepWarm {
  public:
    static constexpr std::string_view kAnnotation = "keep-warm";
    static constexpr std::string_view kDocKind = "keep-warm";

    /// The annotation's value: 0 when the action has none. InvalidArgument (the 400 text) when
    /// it is not an integer >= 0.
    [[nodiscard]] static absl::StatusOr<int64_t> CountOf(const common::Action& action);
    /// CountOf, and at most the namespace's `maxKeepWarm` (`ns`, else `system`): InvalidArgument
    /// naming the limit otherwise.
    [[nodiscard]] static absl::StatusOr<int64_t> Validate(const common::Action& action,
                                                          const common::NamespaceLimits& ns,
                                                          const common::SystemLimits& system);

    /// `store` is the raw store (the refresh runs off the request path). Keeps references.
    KeepWarm(store::ArtifactStore& store, Activator& activator, common::Clock& clock,
             const common::SystemLimits& system_limits, std::chrono::milliseconds refresh);
    /// Stop().
    ~KeepWarm();
    KeepWarm(const KeepWarm&) = delete;
    KeepWarm& operator=(const KeepWarm&) = delete;

    /// Starts the refresh thread (refresh > 0); its first pass runs at once. Idempotent.
    void Start();
    /// Stops it. Idempotent.
    void Stop();

    /// Before `action` (with a keep-warm count > 0) is stored: registers it for the refresh, so
    /// that a controller killed right after the action's write still has it refreshed (a
    /// registration whose write then fails is dropped by the refresh: no action, or count 0).
    /// A store failure is logged; the action's write goes on.
    void Register(const common::Action& action, int64_t count, std::string_view tid);
    /// After `action` was stored at `revision` by `who`; `previous` = the annotation's count of
    /// the version it replaced (0 when new). Publishes the order (count 0: unregisters first).
    /// Store or bus failures are logged (the refresh retries what it can).
    void ActionWritten(const common::Identity& who, const common::Action& action,
                       const std::string& revision, int64_t previous, std::string_view tid);
    /// After `action` was deleted.
    void ActionDeleted(const common::Identity& who, const common::Action& action,
                       std::string_view tid);

    /// One refresh pass (the thread's; tests call it). Returns the orders published.
    int Refresh();

    /// How long a published order holds at the invoker: 3 x refresh (at least 30 s).
    std::chrono::milliseconds OrderTtl() const;

  private:
    void Loop();

    store::ArtifactStore& store_;
    Activator& activator_;
    common::Clock& clock_;
    const common::SystemLimits& system_limits_;
    const std::chrono::milliseconds refresh_;

    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread thread_;
    bool warned_unsupported_ = false;  // the store keeps no system documents (logged once)
};

}  // namespace wisp::controller
