// Kubernetes invokers in the distributed topology (label distributed): tools/local-cluster.sh up
// with 1 controller and 1 wisp-invoker --container-factory kubernetes, whose kubeconfig points at
// the fake API server of this test (<wisp/testing/fake_kube_api.hpp>; its pods run the real
// wisp-action-proxy on their own loopback address). No Docker. A blocking invoke runs in a pod
// (the result, and the logs in the stored record), the pod carries the contract's labels, and after
// a kill -9 and a start the invoker deletes the pods its first run left (orphan cleanup by label at
// start).
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <catch2/catch.hpp>

#include <wisp/common/exec.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/platform_arch.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/testing/fake_kube_api.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

constexpr const char* kNamespace = "wisp-e2e";

bool WaitForPods(const testing::FakeKubeApi& api, size_t want, std::chrono::seconds timeout) {
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    while (api.PodNames(kNamespace).size() != want) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

}  // namespace

TEST_CASE("kubernetes invokers: actions run as pods, orphans are deleted at start",
          "[distributed][kubernetes]") {
    testing::TempDir work("wisp-kube-cluster-pods-");
    auto started = testing::FakeKubeApi::Start({.work_dir = work.path().string()});
    INFO(started.status().ToString());
    REQUIRE(started.ok());
    auto& api = **started;
    const std::string kubeconfig = work.File("kubeconfig");
    REQUIRE(WriteFile(kubeconfig, common::Cat("apiVersion: v1\n"
                                              "kind: Config\n"
                                              "current-context: fake\n"
                                              "clusters:\n"
                                              "- name: fake\n"
                                              "  cluster:\n"
                                              "    server: ",
                                              api.url(),
                                              "\n"
                                              "contexts:\n"
                                              "- name: fake\n"
                                              "  context:\n"
                                              "    cluster: fake\n"
                                              "    user: invoker\n"
                                              "    namespace: ",
                                              kNamespace,
                                              "\n"
                                              "users:\n"
                                              "- name: invoker\n"
                                              "  user:\n"
                                              "    token: ",
                                              api.token(), "\n")));

    LocalCluster cluster(
        {.controllers = 1,
         .invokers = 1,
         .invoker_args =
             common::Cat("--no-stem-cells --container-factory kubernetes --kubeconfig ", kubeconfig,
                         " --kube-release e2e --kube-action-port ", api.action_port()),
         .dir_prefix = "wisp-kube-cluster-"});
    INFO(cluster.up_output);
    INFO(cluster.Logs("invoker0"));
    REQUIRE(AllSay(cluster, {0}, "/invokers", Invokers({"up"}), 120s));

    // `up` checked an invoke through nginx already: those pods are there too.
    const auto before = api.PodNames(kNamespace);
    const std::string action = "/api/v1/namespaces/_/actions/" + e2e::UniqueName("inpod");
    auto c = cluster.Controller(0);
    REQUIRE(
        c.Put(
             action,
             R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    print('hello from a pod')\n    return {'got': a.get('x')}\n"}})")
            .status == 200);
    auto r = c.Post(action + "?blocking=true", R"({"x":42})");
    INFO(r.status << " " << r.body);
    REQUIRE(r.status == 200);
    rapidjson::Document doc;
    REQUIRE(common::ParseJson(r.body, doc).ok());
    CHECK(GetInt(doc, "response.result.got") == 42);
    // The record, stored once the logs were read from the pod's log.
    const auto id = GetString(doc, "activationId");
    REQUIRE(id);
    auto record = WaitForRecord(c, *id, std::chrono::steady_clock::now() + 60s);
    INFO(record.status << " " << record.body);
    CHECK_THAT(record.body, Catch::Contains("hello from a pod"));

    // The pod: the contract's labels, and a second invoke reuses it (warm).
    const auto pods = api.PodNames(kNamespace);
    REQUIRE(pods.size() == before.size() + 1);
    rapidjson::Document pod;
    REQUIRE(common::ParseJson(api.LastCreateBody(), pod).ok());
    const auto& labels = pod["metadata"]["labels"];
    // invoker<id>, the id as the invoker's containers carry it (local-cluster's topic prefix
    // and the --id: "invoker<prefix>0").
    const std::string invoker_label = labels["wisp/invoker"].GetString();
    CHECK(invoker_label.starts_with("invoker"));
    CHECK(invoker_label.ends_with("0"));
    CHECK(std::string(labels["wisp/release"].GetString()) == "e2e");
    CHECK(std::string(labels["user-action-pod"].GetString()) == "true");
    // Placed on nodes of the invoker's architecture (its runtime images are of that one).
    INFO(api.LastCreateBody());
    const auto* expr =
        rapidjson::Pointer(
            "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
            "/nodeSelectorTerms/0/matchExpressions/0")
            .Get(pod);
    REQUIRE(expr != nullptr);
    CHECK(common::ToCompactJson(*expr) ==
          common::Cat(R"({"key":"kubernetes.io/arch","operator":"In","values":[")",
                      common::PlatformArch(common::HostMachine()), R"("]})"));
    REQUIRE(c.Post(action + "?blocking=true", R"({"x":43})").status == 200);
    CHECK(api.PodNames(kNamespace) == pods);

    // kill -9: the pod stays (an orphan); the next start of invoker0 deletes it.
    REQUIRE(cluster.Do("kill invoker0 --signal KILL").exit_code == 0);
    CHECK(api.PodNames(kNamespace) == pods);
    REQUIRE(cluster.Do("start invoker0").exit_code == 0);
    CHECK(WaitForPods(api, 0, 120s));
    REQUIRE(AllSay(cluster, {0}, "/invokers", Invokers({"up"}), 120s));
    r = c.Post(action + "?blocking=true", R"({"x":44})");
    REQUIRE(r.status == 200);
    CHECK(api.PodNames(kNamespace).size() == 1);  // a new pod for the action
}
