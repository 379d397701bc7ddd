#pragma once
// ComponentClaim: one live process per component id ("controller0", "invoker3") in a
// distributed deployment, checked on the bus every component already shares.
//
// Why the bus: both kinds of component have it (not all have a store they may write), it is
// one ordered log per topic, and the heartbeats it carries cost nothing to keep. Why not a
// lease with a wall-clock expiry: hosts' clocks differ; here every duration is measured on the
// claimant's own clock.
//
// Protocol (topic "<prefix>componentHealth", ComponentHeartbeat messages, one fresh consumer
// group per incarnation, never committed):
//   1. the claimant sends a STARTING heartbeat (its probe) and reads the topic from the start
//      until its probe comes back: everything before it is history;
//   2. no heartbeat of this id in the history, or its last one from each other incarnation was
//      LEAVING: the id is free, claimed at once;
//   3. else (an earlier holder was killed, or is alive) it watches for `lease` after its probe,
//      with a progress line: a RUNNING heartbeat of another incarnation -> AlreadyExists (a
//      live holder); a STARTING one of a smaller incarnation -> AlreadyExists (two started at
//      once: the smaller wins). Nothing -> the holder is gone (killed): claimed;
//   4. the holder sends RUNNING every heartbeat_interval, keeps reading and reports (logs, once
//      per incarnation) a RUNNING heartbeat of another incarnation; Release() sends LEAVING.
// A killed holder is replaced after `lease` (3 s); one stopped cleanly, at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::cluster {

struct ComponentClaimConfig {
    /// The id claimed, e.g. "controller0" or "invoker3".
    std::string component;
    /// The heartbeat topic (with the deployment's topic prefix, if the bus does not add it).
    std::string topic = "componentHealth";
    /// How often the holder says it is alive.
    std::chrono::milliseconds heartbeat_interval{1000};
    /// How long a claimant watches for a holder seen in the history before taking the id.
    std::chrono::milliseconds lease{3000};
    /// The longest the claimant waits for its own probe to come back from the bus.
    std::chrono::milliseconds bus_timeout{30000};
    /// Progress lines while claiming (default: spdlog info).
    std::function<void(const std::string&)> progress;
};

class ComponentClaim {
  public:
    /// Claims `config.component`; returns once the id is this process's (heartbeats run until
    /// Release()). Errors: AlreadyExists (another live process holds the id; the message says
    /// what to do), Unavailable / DeadlineExceeded (the bus did not answer), those of
    /// EnsureTopic. `bus` must outlive the claim.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<ComponentClaim>> Acquire(
        messaging::MessagingProvider& bus, ComponentClaimConfig config);

    /// Claims the lowest id of `kind` ("invoker": invoker0, invoker1, ...) that no live process
    /// holds (`--id auto`): reads the heartbeats on the bus and watches up to `config.lease`
    /// for the holders seen there, then claims the lowest id not seen live with Acquire() (a
    /// killed holder's id is taken over after the lease: its unfinished work is picked up);
    /// when that finds the id taken (several started at once), it tries the next one.
    /// `config.component` is ignored. Errors: those of Acquire() other than AlreadyExists;
    /// ResourceExhausted when every id up to `max_index` is taken.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<ComponentClaim>> AcquireLowestFree(
        messaging::MessagingProvider& bus, std::string_view kind, ComponentClaimConfig config,
        int max_index = 1 << 20);

    /// Release().
    ~ComponentClaim();
    ComponentClaim(const ComponentClaim&) = delete;
    ComponentClaim& operator=(const ComponentClaim&) = delete;

    /// Stops the heartbeats and says LEAVING: the id is free at once. Bounded: the producer's
    /// Close() gives up a heartbeat the bus does not take, the goodbye waits at most the lease
    /// (then its producer's Close()), and none is sent when the last heartbeat failed (the
    /// others see the id free after the lease). Idempotent.
    void Release();

    /// Other incarnations seen RUNNING with this id after the claim (a split brain).
    int64_t conflicts() const { return conflicts_.load(); }

    /// The live components of one kind: ids that are `kind` followed by digits ("controller"
    /// counts controller0, controller1, ...), this one included. Another component is live
    /// while its RUNNING or STARTING heartbeats arrive within `lease` (at least ten heartbeat
    /// intervals; measured on this process's clock); its LEAVING heartbeat removes it at once
    /// (that incarnation's: the goodbye of a refused duplicate of a live id removes nothing).
    /// This is the deployment's cluster size OpenWhisk shares the throttles and invoker slots
    /// out by. Thread-safe.
    int LiveCount(std::string_view kind) const;
    const std::string& incarnation() const { return incarnation_; }
    const std::string& component() const { return config_.component; }
    /// The number the id ends with ("invoker3": 3); -1 when it does not end with digits.
    int index() const;

  private:
    ComponentClaim(messaging::MessagingProvider& bus, ComponentClaimConfig config);
    [[nodiscard]] absl::Status Claim();
    [[nodiscard]] absl::Status Send(int state);
    [[nodiscard]] absl::Status SendOn(messaging::MessageProducer& producer, int state);
    void Run();
    void NoteOther(const std::string& id, const std::string& incarnation, bool leaving);

    messaging::MessagingProvider& bus_;
    const ComponentClaimConfig config_;
    const std::string incarnation_;
    std::unique_ptr<messaging::MessageProducer> producer_;
    std::unique_ptr<messaging::MessageConsumer> consumer_;
    std::atomic<bool> stopping_{false};
    // The last heartbeat was not taken by the bus: Release() sends no goodbye (it would wait
    // for the bus's whole send timeout).
    std::atomic<bool> failing_{false};
    std::atomic<int64_t> conflicts_{0};
    std::set<std::string> reported_;  // the thread's own
    mutable std::mutex live_mu_;
    // Other ids -> their incarnations -> when last heard from. A LEAVING heartbeat removes only
    // its own incarnation: a refused duplicate's goodbye does not remove the live holder.
    std::map<std::string, std::map<std::string, std::chrono::steady_clock::time_point>> last_seen_;
    size_t incarnations_seen_ = 0;
    std::mutex release_mu_;
    bool released_ = false;
    std::thread thread_;
};

}  // namespace wisp::cluster
