#pragma once
// The pure parts of the Kubernetes backend, apart from any I/O so that unit tests feed them
// synthetic input: pod and label names, the pod JSON, API errors (Status objects), pod states
// and watch events, RFC 3339 timestamps and the log cursor.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <wisp/invoker/container.hpp>
#include <wisp/invoker/kubernetes_container_factory.hpp>

namespace wisp::invoker::kube {

/// OpenWhisk's end-of-activation marker, written by the action proxy on stdout and stderr.
inline constexpr std::string_view kActivationSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";
/// The action container's name in every pod (OpenWhisk's).
inline constexpr std::string_view kContainerName = "user-action";
/// Labels on every action pod.
inline constexpr std::string_view kInvokerLabel = "wisp/invoker";
inline constexpr std::string_view kReleaseLabel = "wisp/release";
/// The ContainerSpec label carrying the invoker id (the pool sets it).
inline constexpr std::string_view kSpecInvokerLabel = "wisp.invoker";
/// Bounds on what the API may answer.
inline constexpr size_t kMaxObjectBytes = 4u << 20;  // one pod, status or event list
inline constexpr size_t kMaxListBytes = 64u << 20;   // a pod list

/// A DNS-1123 label (what a pod name must be): lowercase letters, digits and '-', starting and
/// ending with an alphanumeric, at most 63 characters. '_' becomes '-', other characters are
/// dropped. Never empty ("wsk" when nothing is left).
std::string PodName(std::string_view name);

/// A valid label value: at most 63 of [A-Za-z0-9._-], starting and ending with an alphanumeric.
std::string LabelValue(std::string_view value);

/// The value of the wisp/invoker label for an invoker id: "invoker<id>".
std::string InvokerLabelValue(std::string_view invoker_id);

/// The label selector ("k=v,k2=v2", percent-encoded for a query) of this invoker's pods.
std::string OrphanSelector(std::string_view invoker_id, std::string_view release);

/// The Pod JSON POSTed for `spec` (compact): labels (name, user-action-pod, wisp/invoker,
/// wisp/release, the spec's other labels made valid), restartPolicy Never, no service-account
/// token, no service links, the container user-action with image, env, port `action_port`
/// named action, requests == limits (memory <MB>Mi, optional cpu), securityContext (all
/// capabilities dropped, no privilege escalation, not privileged, RuntimeDefault seccomp,
/// runAsUser/runAsNonRoot when set), /tmp as a memory emptyDir, optional node affinity.
std::string BuildPodBody(const ContainerSpec& spec, const std::string& pod_name,
                         const KubernetesFactoryOptions& options);

/// A Status for a non-2xx answer of the API to `verb` on `resource` ("create", "pods"), the
/// body a Status object when the server sent one: 404 NotFound, 409 AlreadyExists (reason
/// AlreadyExists) or Aborted (Conflict), 422 InvalidArgument with the causes, 401
/// Unauthenticated, 403 PermissionDenied naming the RBAC rule to grant, 410 Aborted (Expired),
/// 429/5xx Unavailable, others Internal.
[[nodiscard]] absl::Status KubeError(std::string_view verb, std::string_view resource,
                                     std::string_view ns, long http_status, std::string_view body);

/// What the factory needs from a pod.
struct PodState {
    std::string name;
    std::string resource_version;
    std::string phase;  // Pending, Running, Succeeded, Failed, Unknown
    std::string pod_ip;
    bool ready = false;         // condition Ready == "True"
    std::string unschedulable;  // condition PodScheduled == "False": its message
    bool deleting = false;
    std::string waiting_reason;  // of the user-action container
    std::string waiting_message;
    std::string terminated_reason;  // state.terminated or lastState.terminated
    std::optional<int> exit_code;
    std::string image;
};
[[nodiscard]] absl::StatusOr<PodState> ParsePod(const rapidjson::Value& pod);
[[nodiscard]] absl::StatusOr<PodState> ParsePodJson(std::string_view body);

/// Where a starting pod stands.
enum class PodVerdict {
    kWaiting,    // not ready yet
    kReady,      // Ready with a podIP
    kImagePull,  // ErrImagePull / ImagePullBackOff / InvalidImageName / ErrImageNeverPull
    kNoCommand,  // the image's command does not exist
    kFailed,     // terminated, or phase Failed / Succeeded
};
PodVerdict Judge(const PodState& pod);

/// One watch event line: {"type":..., "object":{...}}.
struct WatchEvent {
    std::string type;     // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
    PodState pod;         // for ADDED/MODIFIED/DELETED/BOOKMARK
    long error_code = 0;  // for ERROR (a Status object): e.g. 410
    std::string error_message;
};
[[nodiscard]] absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

/// Where the previous CollectLogs stopped: the time of the last consumed line and how many
/// consumed lines carry exactly that time.
struct LogCursor {
    std::optional<int64_t> last_nanos;
    int consumed_at_last = 0;
};

/// Turns pods/log bodies ("<RFC 3339 time> <text>\n" lines) into the LogLines of one activation.
/// Each Feed() gets a whole body read from the cursor's second on (the API ignores sub-second
/// sinceTime and may repeat lines): lines not after the cursor are skipped, sentinel lines are
/// consumed (text before a sentinel on the same line is kept), lines past `limit_bytes` are
/// dropped (truncated), and nothing after the wanted sentinels is consumed.
class LogAccumulator {
  public:
    LogAccumulator(LogCursor start, int sentinels, int64_t limit_bytes);
    /// Returns whether anything new was consumed.
    bool Feed(std::string_view body);
    bool done() const { return done_; }
    const LogCursor& cursor() const { return cursor_; }
    Container::Logs Finish();

  private:
    LogCursor cursor_;
    int wanted_;
    int seen_ = 0;
    int64_t limit_;
    int64_t bytes_ = 0;
    bool done_ = false;
    Container::Logs logs_;
};

}  // namespace wisp::invoker::kube
