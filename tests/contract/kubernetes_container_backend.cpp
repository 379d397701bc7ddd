// The ContainerFactory contract suite on Kubernetes: KubernetesContainerFactory against the fake
// API server (<wisp/testing/fake_kube_api.hpp>), whose pods run the real wisp-action-proxy as
// local processes, each on its own loopback address (status.podIP) and the action port the
// factory is told. The python runtime image maps to the python launcher (host python3); any
// other image name fails to pull. Pods carry invoker ids unique to this process.
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include <wisp/invoker/kubernetes_container_factory.hpp>
#include <wisp/testing/fake_kube_api.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "container_backend.hpp"

namespace wisp::contract {

namespace {

constexpr const char* kPython = "wisp/action-python:3.11";

struct KubernetesBackend {
    wisp::testing::TempDir dir{"wisp-kube-contract-"};
    std::unique_ptr<wisp::testing::FakeKubeApi> api;
    std::unique_ptr<invoker::KubernetesContainerFactory> factory;

    KubernetesBackend() {
        auto started = wisp::testing::FakeKubeApi::Start({.work_dir = dir.path().string()});
        INFO(started.status().ToString());
        REQUIRE(started.ok());
        api = std::move(*started);
        invoker::KubernetesFactoryOptions options;
        options.api.server = api->url();
        options.api.ns = "wisp-contract";
        options.api.token = api->token();
        options.api.source = "fake API server";
        options.release = "contract";
        options.action_port = api->action_port();
        factory = std::make_unique<invoker::KubernetesContainerFactory>(options);
        const absl::Status ping = factory->Ping();
        INFO(ping.ToString());
        REQUIRE(ping.ok());
    }
};

KubernetesBackend& Backend() {
    static KubernetesBackend backend;
    return backend;
}

}  // namespace

invoker::ContainerFactory& Factory() { return *Backend().factory; }

BackendTraits Traits() { return {.separate_log_streams = false, .knows_images = false}; }

std::string BackendName() { return "kubernetes"; }

std::string ActionImage() { return kPython; }

std::string MissingImage() { return "wisp-test/no-such-image:contract"; }

std::string EchoActionInit() { return PythonEchoActionInit(); }

std::string FreshInvokerId() {
    static std::atomic<int> seq{0};
    return "contract-k8s-" + std::to_string(::getpid()) + "-" + std::to_string(++seq);
}

}  // namespace wisp::contract
