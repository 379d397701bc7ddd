#pragma once
// KubernetesContainerFactory: action containers as pods, driven through the Kubernetes REST API
// (libcurl over HTTPS; no kubectl, no client library). See invoker/containers/kubernetes/README.md.
//
//   auto config = LoadKubeConfig({.kubeconfig = ""});  // in-cluster, or $KUBECONFIG
//   KubernetesContainerFactory factory({.api = *config, .release = "wisp"});
//   auto c = factory.Create({.image = "wisp/action-python:3.11", .name = "wsk0_1_guest_hello",
//                            .memory_mb = 256, .labels = {{"wisp.invoker", "0"}}});
//   (*c)->Init(init_body, 60s); (*c)->Run(run_body, 60s); (*c)->CollectLogs(2, 10 << 20, 2s);
//
// Create POSTs a pod, watches it until Ready (falling back to GET polls), then waits for the
// action proxy at status.podIP:action_port to answer. Pause/Resume make no API call (the pod
// keeps running; the pool does not route to it). Logs come from the pods/log subresource.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/invoker/container.hpp>
#include <wisp/invoker/proxy_client.hpp>

namespace wisp::invoker {

namespace kube {
class KubeClient;
}  // namespace kube

/// Where the API server is and how to authenticate to it.
struct KubeApiConfig {
    /// "https://10.96.0.1:443"; plain http only to a loopback address (tests).
    std::string server;
    /// The namespace action pods go into.
    std::string ns = "default";
    /// Bearer token (in-cluster: the service account's). Empty: none.
    std::string token;
    /// A file holding the bearer token, re-read every minute (projected service-account tokens
    /// rotate). Takes precedence over `token` when set.
    std::string token_file;
    /// PEM CA bundle for the server certificate (data, or a file). Both empty: the system CAs.
    std::string ca_pem;
    std::string ca_file;
    /// Client certificate and key (PEM data or files), for kubeconfig users that have them.
    std::string client_cert_pem;
    std::string client_cert_file;
    std::string client_key_pem;
    std::string client_key_file;
    /// kubeconfig's insecure-skip-tls-verify.
    bool insecure_skip_tls_verify = false;
    /// Where this config came from (for messages): "in-cluster", "kubeconfig /x (context y)".
    std::string source;
};

/// The in-cluster service-account folder.
inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to find the API server.
struct KubeConfigSources {
    /// An explicit server URL (--kube-api); used with the token/CA of whatever else is found
    /// (kubeconfig or service account), or none.
    std::string api_url;
    /// A kubeconfig file (--kubeconfig, $KUBECONFIG's first entry). Empty: in-cluster when
    /// $KUBERNETES_SERVICE_HOST is set, else ~/.kube/config when it exists.
    std::string kubeconfig;
    /// --kube-namespace; empty: the kubeconfig context's namespace, the service account's
    /// namespace file, or "default".
    std::string ns;
    /// The service-account folder (tests point it at a temp dir).
    std::string service_account_dir = std::string(kServiceAccountDir);
};

/// Resolves the API config from `sources` and the environment. InvalidArgument / NotFound /
/// FailedPrecondition with what is missing and which flag to set.
[[nodiscard]] absl::StatusOr<KubeApiConfig> LoadKubeConfig(const KubeConfigSources& sources);

/// Parses a kubeconfig (YAML or JSON text) and takes its current context: server, namespace,
/// CA, token or client certificate. `base_dir` resolves relative file paths.
[[nodiscard]] absl::StatusOr<KubeApiConfig> ParseKubeConfig(std::string_view text,
                                                            const std::string& base_dir);

/// The in-cluster config from `dir` (token, ca.crt, namespace) and $KUBERNETES_SERVICE_HOST /
/// $KUBERNETES_SERVICE_PORT.
[[nodiscard]] absl::StatusOr<KubeApiConfig> InClusterConfig(const std::string& dir);

struct KubernetesFactoryOptions {
    KubeApiConfig api;
    /// The helm release (the wisp/release label on every pod; RemoveOrphans matches it too).
    std::string release;
    /// The port the action proxy listens on in the pod (OpenWhisk: 8080). Tests change it.
    int action_port = 8080;
    /// Required node affinity on action pods (key In [value]); empty key: none.
    std::string node_affinity_key;
    std::string node_affinity_value;
    /// runAsUser for the action container; 0: the image's user (Wisp's runtime images run
    /// their proxy as root inside the container, like on Docker). >0 also sets runAsNonRoot.
    int64_t run_as_user = 0;
    /// /tmp is an emptyDir of this size in memory (counted in the pod's memory); 0: none.
    int64_t tmp_size_mb = 64;
    /// Pod grace period on delete (seconds).
    int64_t delete_grace_seconds = 1;
    /// The invoker's user memory (MB), for cpu requests: none when cpu_millis_per_invoker is 0.
    int64_t user_memory_mb = 2048;
    /// Millicores the invoker's whole user memory stands for (cpu = this × memory / user
    /// memory, at least 10m); 0: no cpu request or limit.
    int64_t cpu_millis_per_invoker = 0;
    /// Create: from the POST until the action proxy answers.
    std::chrono::milliseconds ready_timeout{60000};
    /// Any single API call.
    std::chrono::milliseconds api_timeout{30000};
    /// Poll interval when watching is not possible.
    std::chrono::milliseconds poll_interval{250};
};

/// One pod. Thread-safe as Container says; destroying the object deletes the pod (unless
/// Destroy() already did).
class KubernetesContainer final : public Container {
  public:
    ~KubernetesContainer() override;

    /// The pod name.
    const std::string& id() const override { return name_; }
    int64_t memory_mb() const override { return memory_mb_; }

    [[nodiscard]] absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                     std::chrono::milliseconds timeout) override;
    [[nodiscard]] absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                                    std::chrono::milliseconds timeout) override;
    /// No API call: Kubernetes cannot freeze a pod. The proxy connections are closed and the
    /// container is marked paused; the pod keeps running (and its cpu/memory stay reserved).
    [[nodiscard]] absl::Status Pause() override;
    [[nodiscard]] absl::Status Resume() override;
    /// DELETE the pod (404: already gone). Idempotent.
    [[nodiscard]] absl::Status Destroy() override;
    /// The container's state.terminated (or lastState.terminated) reason is OOMKilled.
    [[nodiscard]] absl::StatusOr<bool> WasOomKilled() override;
    /// GET pods/log?timestamps=true&sinceTime=<last seen>, polled until the sentinels arrive.
    /// Every line is reported as stdout: the API merges the container's streams.
    [[nodiscard]] absl::StatusOr<Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                   std::chrono::milliseconds wait) override;

    const std::string& pod_ip() const { return pod_ip_; }
    bool paused() const;

  private:
    friend class KubernetesContainerFactory;
    KubernetesContainer(std::shared_ptr<kube::KubeClient> client,
                        const KubernetesFactoryOptions& options, std::string name,
                        int64_t memory_mb, std::string pod_ip);

    std::shared_ptr<kube::KubeClient> client_;
    const std::string ns_;
    const std::string name_;
    const int64_t memory_mb_;
    const std::string pod_ip_;
    const std::chrono::milliseconds api_timeout_;
    const int64_t delete_grace_seconds_;
    ProxyClient proxy_;

    mutable std::mutex mu_;
    bool destroyed_ = false;
    bool paused_ = false;
    std::mutex logs_mu_;  // one CollectLogs at a time; guards the cursor
    std::optional<int64_t> log_last_nanos_;
    int log_consumed_at_last_ = 0;
};

class KubernetesContainerFactory final : public ContainerFactory {
  public:
    explicit KubernetesContainerFactory(KubernetesFactoryOptions options);
    ~KubernetesContainerFactory() override;

    /// POST the pod, watch it until Ready, wait for the proxy. Errors: FailedPrecondition
    /// "Failed to pull container image '<image>'." (ErrImagePull / ImagePullBackOff /
    /// InvalidImageName), or when the container terminates first; DeadlineExceeded after
    /// ready_timeout; the API's errors mapped by KubeError (PermissionDenied names the missing
    /// RBAC rule). A pod that failed to come up is deleted (its events are logged first).
    [[nodiscard]] absl::StatusOr<std::unique_ptr<Container>> Create(
        const ContainerSpec& spec) override;
    [[nodiscard]] absl::StatusOr<std::unique_ptr<KubernetesContainer>> CreatePod(
        const ContainerSpec& spec);
    /// Lists the pods labelled wisp/invoker=invoker<id> (and wisp/release=<release>) and deletes
    /// each one.
    [[nodiscard]] absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) override;
    /// Always true: the cluster cannot tell whether a registry has an image (nodes pull on
    /// demand); a missing image fails Create fast instead.
    [[nodiscard]] absl::StatusOr<bool> ImageExists(std::string_view image) override;

    /// GET the namespace's pod list (limit=1): OK when the API answers and the RBAC allows it.
    [[nodiscard]] absl::Status Ping();
    const KubernetesFactoryOptions& options() const { return options_; }

  private:
    struct PodReady {
        std::string ip;
    };
    [[nodiscard]] absl::StatusOr<PodReady> WaitForPod(
        const std::string& name, const std::string& image, std::string resource_version,
        std::chrono::steady_clock::time_point deadline);
    [[nodiscard]] absl::Status WaitForProxy(KubernetesContainer& c, const std::string& image,
                                            std::chrono::steady_clock::time_point deadline);
    /// Logs the pod's events, then deletes it.
    void FailedPod(const std::string& name);

    const KubernetesFactoryOptions options_;
    std::shared_ptr<kube::KubeClient> client_;
};

}  // namespace wisp::invoker
