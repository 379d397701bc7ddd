#pragma once
// What a container backend provides to the ContainerFactory contract suite
// (container_contract.cpp). Each backend's test binary links the suite with one
// <backend>_container_backend.cpp implementing these (docker_container_backend.cpp,
// fake_container_backend.cpp, kubernetes_container_backend.cpp against a fake API server).
#include <string>

#include <wisp/invoker/container.hpp>
#include <wisp/testing/proxy_bodies.hpp>

namespace wisp::contract {

/// The factory under test, made (and its engine prepared) on first use; lives until the process
/// exits, when the backend removes whatever the suite left under the ids FreshInvokerId() handed
/// out. Fails the running test (Catch2) when the backend cannot provide one. Main thread only.
invoker::ContainerFactory& Factory();

/// What a backend can observe; the contract asks less of a backend that cannot.
struct BackendTraits {
    /// CollectLogs tells stdout from stderr (Kubernetes' pods/log merges the streams: every
    /// line comes back as "stdout").
    bool separate_log_streams = true;
    /// ImageExists can answer false (a Kubernetes cluster cannot tell what a registry holds:
    /// it answers true, and Create of a missing image fails fast instead).
    bool knows_images = true;
};
BackendTraits Traits();

/// "docker", "fake", ... (shown in test output).
std::string BackendName();

/// An image that exists on the backend and runs the contract action (EchoActionInit()).
std::string ActionImage();

/// An image that does not exist on the backend (and is never pulled: pull_if_missing=false).
std::string MissingImage();

/// The /init body of the contract action: /run answers 200 with its "value" object as a JSON
/// object holding the same members, and prints "out <value.name>" to stdout and
/// "err <value.name>" to stderr.
std::string EchoActionInit();

/// EchoActionInit() as a python action, for the backends whose containers run the real action
/// proxy with the python runtime (docker, kubernetes).
inline std::string PythonEchoActionInit() {
    const std::string code =
        "import sys\n"
        "def main(args):\n"
        "    name = args.get('name', '')\n"
        "    print('out ' + name)\n"
        "    print('err ' + name, file=sys.stderr)\n"
        "    return args\n";
    return testing::ProxyInitBody(code, false, "main", "echo");
}

/// An invoker id (the wisp.invoker label) unique to this process and this call, so that runs in
/// parallel never see each other's containers.
std::string FreshInvokerId();

}  // namespace wisp::contract
