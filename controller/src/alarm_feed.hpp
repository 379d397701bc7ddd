#pragma once
// AlarmFeed: the built-in /whisk.system/alarms feeds (`alarm`, `once`, `interval`), run inside
// the controller — no container, no provider service, no database of its own.
//
// Every controller creates the shared package /whisk.system/alarms and its three feed actions at
// start when they are absent (InstallAlarmsPackage). The actions are ordinary nodejs actions
// annotated `feed: true` and `wisp-builtin: "alarms"` (their code only says the feed is built
// in); InvokeHandler hands an invoke whose resolved action is one of them to AlarmFeed::Run
// instead of the Activator, with the arguments a container would have received (package <
// binding < action < body). Run answers the feed protocol of OpenWhisk's alarms provider
// (../shared/reference/feeds.md §2, apache/openwhisk-package-alarms action/alarmWebAction.js):
// lifecycleEvent CREATE / READ / UPDATE / DELETE, plus PAUSE / UNPAUSE (Wisp's: the provider
// rejects them), the same parameters, check order and error texts. It writes the trigger's
// schedule (alarm_schedule.hpp: SystemDoc kind "alarm", id "<ns>/<trigger>") with
// compare-and-set writes, so a scheduler's concurrent update of `lastFire` is never lost; the
// scheduler fires it. The feed never stores the `authKey` it is given: it only proves that the
// key's namespace owns the trigger.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <absl/status/status.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/store/artifact_store.hpp>

#include "entity_resolver.hpp"

namespace wisp::controller {

/// Where the built-in feeds live: /whisk.system/alarms/{alarm,once,interval}.
inline constexpr std::string_view kAlarmsNamespace = "whisk.system";
inline constexpr std::string_view kAlarmsPackage = "alarms";
/// The annotation that marks a built-in feed action (value: "alarms").
inline constexpr std::string_view kBuiltinAnnotation = "wisp-builtin";

/// Creates /whisk.system/alarms (shared; parameters `apihost` = `api_host` and
/// `trigger_payload` = "") and its actions `alarm`, `once` (parameter fireOnce: true) and
/// `interval` (isInterval: true) when absent. Create-only: what exists is kept (another
/// controller's concurrent install, an operator's change). The actions' kind is the manifest's
/// default nodejs kind.
[[nodiscard]] absl::Status InstallAlarmsPackage(store::ArtifactStore& store,
                                                const common::RuntimeManifest& manifest,
                                                std::string_view api_host, int64_t now_ms);

/// Whether `action` is one of the built-in feeds: in package whisk.system/alarms and annotated
/// `wisp-builtin` (a user cannot write into whisk.system, so the annotation alone is not
/// trusted elsewhere).
bool IsBuiltinAlarmFeed(const common::Action& action);

/// Deletes the alarm schedule of `trigger` if it has one (the REST trigger DELETE calls it, so a
/// client that deletes a feed trigger without telling the feed stops its schedule too). OK when
/// there is none or the store keeps no system documents.
[[nodiscard]] absl::Status DeleteAlarmScheduleOf(store::ArtifactStore& store,
                                                 const common::FullyQualifiedName& trigger);

/// One invoke of a built-in feed action.
struct FeedInvoke {
    common::Identity who;     // the invoking identity (the record's namespace and subject)
    ResolvedAction resolved;  // the feed action (and the binding it was reached through)
    std::string args_json;    // the merged arguments (a JSON object; anything else: no params)
    int64_t received_ms = 0;  // when the request arrived (the record's waitTime)
    std::string tid;          // the request's transaction id (logs of store failures)
};

class AlarmFeed {
  public:
    /// Keeps references; both must outlive the feed. `on_written` (may be null) is told the
    /// SystemDoc id of each schedule the feed wrote or deleted (the scheduler re-reads it).
    AlarmFeed(store::ArtifactStore& store, common::Clock& clock,
              std::function<void(const std::string&)> on_written = nullptr)
        : store_(store), clock_(clock), on_written_(std::move(on_written)) {}

    /// Runs one lifecycle event and returns the feed action's activation record (not stored):
    /// success with `{"status":"success"}` (READ: the schedule, feeds.md §2.3), or an application
    /// error with `{"error":{"error":<text>[,"message":<detail>]}}` (`{"error":"unsupported
    /// lifecycleEvent"}` for an unknown event). Store failures become application errors with
    /// the provider's texts (the store's own message is logged with the tid, the client gets
    /// the generic 5xx text as "message"). Thread-safe.
    common::ActivationRecord Run(const FeedInvoke& invoke);

  private:
    store::ArtifactStore& store_;
    common::Clock& clock_;
    const std::function<void(const std::string&)> on_written_;
};

}  // namespace wisp::controller
