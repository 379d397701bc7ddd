#include "container_factory.hpp"

#include <spdlog/spdlog.h>

#include <wisp/common/exec.hpp>
#include <wisp/common/platform_arch.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/invoker/kubernetes_container_factory.hpp>

namespace wisp::distributed {

void AddContainerFactoryOptions(CLI::App& app, ContainerFactoryOptions& opt) {
    app.add_option("--container-factory", opt.factory,
                   "Where action containers run: docker (the Engine API socket) or kubernetes "
                   "(pods through the API server)")
        ->check(CLI::IsMember({"docker", "kubernetes"}))
        ->envname("WISP_CONTAINER_FACTORY")
        ->capture_default_str();
    app.add_option("--kube-namespace", opt.kube_namespace,
                   "Namespace of the action pods (default: the kubeconfig context's, or the "
                   "service account's namespace)")
        ->envname("WISP_KUBE_NAMESPACE");
    app.add_option("--kubeconfig", opt.kubeconfig,
                   "A kubeconfig file, its current context used (default: in-cluster service "
                   "account, then ~/.kube/config)")
        ->envname("KUBECONFIG");
    app.add_option("--kube-api", opt.kube_api,
                   "Kubernetes API server URL (default: https://$KUBERNETES_SERVICE_HOST:"
                   "$KUBERNETES_SERVICE_PORT in a pod, or the kubeconfig's server); plain http "
                   "only to loopback")
        ->envname("WISP_KUBE_API");
    app.add_option("--kube-release", opt.kube_release,
                   "The Helm release: the wisp/release label of the action pods (orphan cleanup "
                   "matches it)")
        ->envname("WISP_KUBE_RELEASE");
    app.add_option("--kube-action-port", opt.kube_action_port,
                   "The port the action proxy listens on in each pod (OpenWhisk's 8080; tests "
                   "change it)")
        ->check(CLI::Range(1, 65535))
        ->envname("WISP_KUBE_ACTION_PORT")
        ->capture_default_str();
    app.add_option("--kube-action-arch", opt.kube_action_arch,
                   "The kubernetes.io/arch of the nodes action pods may run on (default: this "
                   "invoker's own, amd64 or arm64: the runtime images it names are of its "
                   "architecture, so in a mixed cluster a pod elsewhere could not start); 'any': "
                   "wherever the scheduler puts them")
        ->envname("WISP_KUBE_ACTION_ARCH");
}

absl::StatusOr<std::unique_ptr<invoker::ContainerFactory>> MakeContainerFactory(
    const ContainerFactoryOptions& opt, const launch::InvokerOptions& invoker,
    const std::string& container_id) {
    if (opt.factory == "kubernetes") {
        // $KUBECONFIG may list several files: the first one is used.
        auto api = invoker::LoadKubeConfig(
            {.api_url = opt.kube_api,
             .kubeconfig = opt.kubeconfig.substr(0, opt.kubeconfig.find(':')),
             .ns = opt.kube_namespace});
        if (!api.ok()) return api.status();
        invoker::KubernetesFactoryOptions kube;
        kube.api = std::move(*api);
        kube.release = opt.kube_release;
        kube.user_memory_mb = invoker.user_memory_mb;
        kube.action_port = opt.kube_action_port;
        const std::string arch = opt.kube_action_arch.empty()
                                     ? common::PlatformArch(common::HostMachine())
                                     : opt.kube_action_arch;
        if (!arch.empty() && arch != "any") {
            kube.node_affinity_key = "kubernetes.io/arch";
            kube.node_affinity_value = arch;
        }
        auto factory = std::make_unique<invoker::KubernetesContainerFactory>(std::move(kube));
        if (auto st = factory->Ping(); !st.ok()) return st;
        spdlog::info(
            "action containers are pods in namespace {} ({}, {}) on {} nodes",
            factory->options().api.ns, factory->options().api.server, factory->options().api.source,
            arch.empty() || arch == "any" ? std::string("any") : "kubernetes.io/arch=" + arch);
        return std::unique_ptr<invoker::ContainerFactory>(std::move(factory));
    }
    invoker::DockerFactoryOptions docker;
    docker.user_memory_mb = invoker.user_memory_mb;
    docker.socket_path = invoker.docker_socket;
    docker.storage_size_mb = invoker.container_storage_mb;
    docker.runtime = invoker.docker_runtime == "runc" ? "" : invoker.docker_runtime;
    docker.inline_logs = invoker.inline_logs;
    docker.network_sandboxes = invoker.network_sandboxes;
    docker.owner = common::Cat("wisp-invoker-", container_id);
    auto factory = std::make_unique<invoker::DockerContainerFactory>(docker);
    if (auto st = factory->Ping(); !st.ok()) return st;
    return std::unique_ptr<invoker::ContainerFactory>(std::move(factory));
}

}  // namespace wisp::distributed
