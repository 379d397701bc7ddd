#pragma once
// wisp-invoker's container backend, chosen with one flag: Docker (the Engine API socket, the
// default) or Kubernetes (action pods through the API server; invoker/containers/kubernetes).
#include <memory>
#include <string>

#include <absl/status/statusor.h>
#include <CLI/CLI.hpp>

#include <wisp/invoker/container.hpp>
#include <wisp/launch/launch.hpp>

namespace wisp::distributed {

struct ContainerFactoryOptions {
    std::string factory = "docker";  // docker | kubernetes
    std::string kube_namespace;      // default: the context's / service account's namespace
    std::string kubeconfig;          // default: $KUBECONFIG, in-cluster, ~/.kube/config
    std::string kube_api;            // API server URL override
    std::string kube_release;        // the wisp/release label on the pods
    int kube_action_port = 8080;     // the action proxy's port in each pod (tests change it)
    std::string kube_action_arch;    // kubernetes.io/arch of the pods' nodes; "": this host's
};

/// --container-factory, --kube-namespace, --kubeconfig, --kube-api, --kube-release,
/// --kube-action-port, --kube-action-arch (WISP_CONTAINER_FACTORY, WISP_KUBE_NAMESPACE,
/// KUBECONFIG, WISP_KUBE_API, WISP_KUBE_RELEASE, WISP_KUBE_ACTION_PORT, WISP_KUBE_ACTION_ARCH).
void AddContainerFactoryOptions(CLI::App& app, ContainerFactoryOptions& options);

/// The factory the flags ask for, checked: Docker answers /_ping, or the Kubernetes API lists
/// pods in the namespace. `container_id` is the invoker's id as its containers carry it.
[[nodiscard]] absl::StatusOr<std::unique_ptr<invoker::ContainerFactory>> MakeContainerFactory(
    const ContainerFactoryOptions& options, const launch::InvokerOptions& invoker,
    const std::string& container_id);

}  // namespace wisp::distributed
