// The ContainerFactory contract suite on Docker (DockerContainerFactory over the daemon's unix
// socket, default options). Starts dockerd with tools/start-dockerd.sh when it is not running and
// builds the python runtime image with tools/build-runtime-images.sh when it is missing; fails,
// never skips, when either is impossible. The suite's containers carry invoker ids unique to this
// process (contract-docker-<pid>-<n>) and are removed by RemoveOrphans when the process exits.
// Run by ctest or by hand (the source and build folders default to this build's).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/testing/shell.hpp>

#include "container_backend.hpp"

namespace wisp::contract {

namespace {

constexpr const char* kPython = "wisp/action-python:3.11";

std::string Env(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

struct DockerBackend {
    std::unique_ptr<invoker::DockerContainerFactory> factory;
    std::mutex mu;
    std::vector<std::string> invoker_ids;  // handed out; cleaned up at exit

    DockerBackend() {
        const std::string source = Env("WISP_SOURCE_DIR", WISP_CONTRACT_SOURCE_DIR);
        std::string out;
        const int rc = testing::Shell(source + "/tools/start-dockerd.sh", &out);
        INFO("tools/start-dockerd.sh said:\n" << out);
        REQUIRE(rc == 0);
        factory = std::make_unique<invoker::DockerContainerFactory>();
        const absl::Status ping = factory->Ping();
        INFO(ping.ToString());
        REQUIRE(ping.ok());
        auto exists = factory->ImageExists(kPython);
        REQUIRE(exists.ok());
        if (!*exists) {
            const int brc =
                testing::Shell(source + "/tools/build-runtime-images.sh --build-dir " +
                                   Env("WISP_BUILD_DIR", WISP_CONTRACT_BUILD_DIR) + " python",
                               &out);
            INFO("tools/build-runtime-images.sh said:\n" << out);
            REQUIRE(brc == 0);
        }
    }
    ~DockerBackend() {
        for (const auto& id : invoker_ids) {
            auto removed = factory->RemoveOrphans(id);
            if (!removed.ok()) {
                std::fprintf(stderr, "cleanup of %s: %s\n", id.c_str(),
                             removed.status().ToString().c_str());
            }
        }
    }
};

DockerBackend& Backend() {
    static DockerBackend backend;
    return backend;
}

}  // namespace

invoker::ContainerFactory& Factory() { return *Backend().factory; }

BackendTraits Traits() { return {}; }

std::string BackendName() { return "docker"; }

std::string ActionImage() { return kPython; }

std::string MissingImage() {
    return "wisp-test/no-such-image:contract-" + std::to_string(::getpid());
}

std::string EchoActionInit() { return PythonEchoActionInit(); }

std::string FreshInvokerId() {
    DockerBackend& backend = Backend();
    std::lock_guard<std::mutex> lock(backend.mu);
    backend.invoker_ids.push_back("contract-docker-" + std::to_string(::getpid()) + "-" +
                                  std::to_string(backend.invoker_ids.size() + 1));
    return backend.invoker_ids.back();
}

}  // namespace wisp::contract
