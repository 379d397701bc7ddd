#pragma once
// FakeKubeApi: a Kubernetes API server for tests (plain HTTP on 127.0.0.1, Boost.Beast), serving
// the request/response shapes the KubernetesContainerFactory uses, as the real API does:
//
//   POST   /api/v1/namespaces/{ns}/pods                       201 Pod | 409 AlreadyExists | 422
//   Invalid GET    /api/v1/namespaces/{ns}/pods/{name}                200 Pod | 404 NotFound GET
//   /api/v1/namespaces/{ns}/pods?labelSelector=k=v,... 200 PodList GET
//   /api/v1/namespaces/{ns}/pods?watch=true&fieldSelector=metadata.name=X[&resourceVersion=N]
//          chunked JSON lines {"type":"ADDED|MODIFIED|DELETED|ERROR","object":...}
//   DELETE /api/v1/namespaces/{ns}/pods/{name}                200 Pod (deletionTimestamp) | 404
//   PATCH  /api/v1/namespaces/{ns}/pods/{name}                json-patch / merge-patch of labels
//   GET /api/v1/namespaces/{ns}/pods/{name}/log?container=user-action&timestamps=true&sinceTime=T
//          text/plain "<RFC3339Nano> <line>"; sinceTime is honoured to the second, as the real
//          API does (clients filter the rest)
//   GET    /api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name=X   200 EventList
//
// Every request needs "Authorization: Bearer <token>" (401 Status otherwise). Errors are Status
// objects. A pod goes Pending (no podIP) -> Running + Ready: each pod is a real local process
// running wisp-action-proxy (python / nodejs / native images, as ProcessContainerFactory) on its
// own loopback address 127.X.Y.Z (never 127.0.0.1, never a non-loopback address) and the
// configured action port; its stdout and stderr, time-stamped, are the pod log. An image the fake
// does not know goes to waiting ErrImagePull (then ImagePullBackOff) with a "Failed" event.
// Deleting a pod kills its process. Thread-safe.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

namespace wisp::testing {

struct FakeKubeApiOptions {
    /// The bearer token every request must carry.
    std::string token = "wisp-fake-kube-token";
    /// The port every pod's proxy listens on (at the pod's own address); 0: a free one.
    int action_port = 0;
    /// The wisp-action-proxy binary and runtimes/; empty = $WISP_ACTION_PROXY, $WISP_RUNTIMES_DIR.
    std::string proxy_binary;
    std::string runtimes_dir;
    /// Where pod folders go (must exist).
    std::string work_dir;
    /// The service account named in 403 messages.
    std::string user = "system:serviceaccount:wisp:wisp-invoker";
};

class FakeKubeApi {
  public:
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<FakeKubeApi>> Start(
        FakeKubeApiOptions options);
    /// Stops serving and kills every pod's process.
    ~FakeKubeApi();
    FakeKubeApi(const FakeKubeApi&) = delete;
    FakeKubeApi& operator=(const FakeKubeApi&) = delete;

    /// "http://127.0.0.1:<port>".
    std::string url() const;
    int action_port() const;
    const std::string& token() const;

    /// The next watch answers one ERROR event (Status 410 Expired) and ends. Until a later watch
    /// starts, no pod makes progress (so the client's re-list cannot find it ready already).
    void ExpireNextWatch();
    /// Pods created from now on stay Pending: unschedulable (condition PodScheduled False,
    /// reason Unschedulable), as on a cluster without room.
    void HoldPending();
    /// Watches answer 403 from now on (the client must fall back to GET polls).
    void ForbidWatch();
    /// `verb` ("create", "get", "list", "watch", "delete", "patch") on `resource` ("pods",
    /// "pods/log", "events") answers 403 Forbidden from now on.
    void Forbid(const std::string& verb, const std::string& resource);
    /// Adds a line to a pod's log at a given time (nanoseconds since the epoch).
    void AppendLog(const std::string& ns, const std::string& pod, int64_t unix_nanos,
                   const std::string& text);
    /// Creates a pod directly (as another client would), e.g. to provoke 409 or leave orphans.
    /// Its image need not run: it stays Pending.
    void AddPod(const std::string& ns, const std::string& name,
                const std::vector<std::pair<std::string, std::string>>& labels);

    /// Names of the pods that exist in `ns` (not deleted).
    std::vector<std::string> PodNames(const std::string& ns) const;
    /// The body of the last POST .../pods.
    std::string LastCreateBody() const;
    /// "METHOD path?query" of every request so far.
    std::vector<std::string> Requests() const;

  private:
    struct State;
    explicit FakeKubeApi(std::shared_ptr<State> state) : state_(std::move(state)) {}
    std::shared_ptr<State> state_;
};

}  // namespace wisp::testing
