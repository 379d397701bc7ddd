// KubernetesContainerFactory: the pure parts (pod JSON, names, Status errors, timestamps, the
// log cursor, kubeconfig and in-cluster config) and the factory against the fake API server
// (tests/support/fake_kube_api.cpp): error mapping, image-pull fail fast, watch 410 and watch
// refused, orphan cleanup by label, logs, pause without API calls; and https against
// `openssl s_server` with a self-signed certificate (CA as a file, as data, and refused without).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/common/json.hpp>
#include <wisp/common/time.hpp>
#include <wisp/invoker/kubernetes_container_factory.hpp>
#include <wisp/testing/catch_status.hpp>
#include <wisp/testing/child_process.hpp>
#include <wisp/testing/fake_kube_api.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/proxy_bodies.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "kube_api.hpp"
#include "kube_client.hpp"

using namespace wisp::invoker;
using namespace std::chrono_literals;
using Catch::Contains;

namespace {

rapidjson::Document Parse(const std::string& text) {
    rapidjson::Document doc;
    REQUIRE(wisp::common::ParseJson(text, doc).ok());
    return doc;
}

size_t Count(const std::vector<std::string>& requests, const std::string& needle) {
    return static_cast<size_t>(std::count_if(requests.begin(), requests.end(), [&](const auto& r) {
        return r.find(needle) != std::string::npos;
    }));
}

// A fake API server and a factory talking to it.
struct Cluster {
    wisp::testing::TempDir dir{"wisp-kube-test-"};
    std::unique_ptr<wisp::testing::FakeKubeApi> api;
    KubernetesFactoryOptions options;
    std::unique_ptr<KubernetesContainerFactory> factory;

    explicit Cluster(std::string release = "rel") {
        auto started = wisp::testing::FakeKubeApi::Start({.work_dir = dir.path().string()});
        INFO(started.status().ToString());
        REQUIRE(started.ok());
        api = std::move(*started);
        options.api.server = api->url();
        options.api.ns = "wisp";
        options.api.token = api->token();
        options.api.source = "test";
        options.release = std::move(release);
        options.action_port = api->action_port();
        factory = std::make_unique<KubernetesContainerFactory>(options);
    }
};

ContainerSpec PythonSpec(const std::string& name, const std::string& invoker = "7") {
    ContainerSpec spec;
    spec.image = "wisp/action-python:3.11";
    spec.name = name;
    spec.memory_mb = 128;
    spec.env = {{"__OW_API_HOST", "http://127.0.0.1:3233"}};
    spec.labels = {{"wisp.invoker", invoker}};
    return spec;
}

std::string PrintingInit() {
    const std::string code =
        "import sys\n"
        "def main(args):\n"
        "    for i in range(args.get('lines', 1)):\n"
        "        print('line %d of %s' % (i, args.get('name', '')))\n"
        "    return args\n";
    return wisp::testing::ProxyInitBody(code, false, "main", "printer");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Pure parts

TEST_CASE("pod names are DNS-1123 labels; label values are valid", "[kube][unit]") {
    CHECK(kube::PodName("wsk0_12_guest_Hello") == "wsk0-12-guest-hello");
    CHECK(kube::PodName("__x__") == "x");
    CHECK(kube::PodName("!!!") == "wsk");
    CHECK(kube::PodName(std::string(100, 'a')).size() == 63);
    CHECK(kube::LabelValue("-a/b_c.") == "ab_c");
    CHECK(kube::InvokerLabelValue("3") == "invoker3");
    CHECK(kube::OrphanSelector("3", "wisp") == "wisp%2Finvoker%3Dinvoker3%2Cwisp%2Frelease%3Dwisp");
}

TEST_CASE("the pod JSON carries the labels, limits and security settings", "[kube][unit]") {
    KubernetesFactoryOptions options;
    options.release = "wisp";
    options.node_affinity_key = "openwhisk-role";
    options.node_affinity_value = "invoker";
    ContainerSpec spec = PythonSpec("wsk0_1_guest_hello", "0");
    spec.memory_mb = 256;
    auto doc = Parse(kube::BuildPodBody(spec, "wsk0-1-guest-hello", options));
    const auto& labels = doc["metadata"]["labels"];
    CHECK(std::string(labels["name"].GetString()) == "wsk0-1-guest-hello");
    CHECK(std::string(labels["user-action-pod"].GetString()) == "true");
    CHECK(std::string(labels["wisp/invoker"].GetString()) == "invoker0");
    CHECK(std::string(labels["wisp/release"].GetString()) == "wisp");
    CHECK_FALSE(labels.HasMember("wisp.invoker"));
    const auto& pod = doc["spec"];
    CHECK(std::string(pod["restartPolicy"].GetString()) == "Never");
    CHECK_FALSE(pod["automountServiceAccountToken"].GetBool());
    CHECK_FALSE(pod["enableServiceLinks"].GetBool());
    CHECK(std::string(
              pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                 ["nodeSelectorTerms"][0]["matchExpressions"][0]["key"]
                     .GetString()) == "openwhisk-role");
    const auto& c = pod["containers"][0];
    CHECK(std::string(c["name"].GetString()) == "user-action");
    CHECK(std::string(c["image"].GetString()) == "wisp/action-python:3.11");
    CHECK(std::string(c["ports"][0]["name"].GetString()) == "action");
    CHECK(c["ports"][0]["containerPort"].GetInt() == 8080);
    CHECK(std::string(c["env"][0]["name"].GetString()) == "__OW_API_HOST");
    CHECK(std::string(c["resources"]["requests"]["memory"].GetString()) == "256Mi");
    CHECK(std::string(c["resources"]["limits"]["memory"].GetString()) == "256Mi");
    CHECK_FALSE(c["resources"]["limits"].HasMember("cpu"));
    const auto& sc = c["securityContext"];
    CHECK_FALSE(sc["allowPrivilegeEscalation"].GetBool());
    CHECK_FALSE(sc["privileged"].GetBool());
    CHECK(std::string(sc["capabilities"]["drop"][0].GetString()) == "ALL");
    CHECK(std::string(sc["seccompProfile"]["type"].GetString()) == "RuntimeDefault");
    CHECK_FALSE(sc.HasMember("runAsNonRoot"));
    CHECK(std::string(c["volumeMounts"][0]["mountPath"].GetString()) == "/tmp");

    options.run_as_user = 1000;
    options.cpu_millis_per_invoker = 2000;
    options.user_memory_mb = 1024;
    auto again = Parse(kube::BuildPodBody(spec, "p", options));
    const auto& c2 = again["spec"]["containers"][0];
    CHECK(std::string(c2["resources"]["limits"]["cpu"].GetString()) == "500m");
    CHECK(std::string(c2["resources"]["requests"]["cpu"].GetString()) == "500m");
    CHECK(c2["securityContext"]["runAsNonRoot"].GetBool());
    CHECK(c2["securityContext"]["runAsUser"].GetInt() == 1000);
}

TEST_CASE("Status errors map to absl codes with what to do", "[kube][unit]") {
    const std::string invalid =
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Pod \"x\" is invalid","reason":"Invalid","details":{"name":"x","kind":"Pod","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"0Mi\": must be greater than 0","field":"spec.containers[0].resources.limits[memory]"}]},"code":422})";
    absl::Status s = kube::KubeError("create", "pods", "wisp", 422, invalid);
    CHECK(s.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(s.message()),
               Contains("spec.containers[0].resources.limits[memory]: Invalid value"));

    const std::string exists =
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" already exists","reason":"AlreadyExists","details":{"name":"x","kind":"pods"},"code":409})";
    CHECK(kube::KubeError("create", "pods", "wisp", 409, exists).code() ==
          absl::StatusCode::kAlreadyExists);
    const std::string conflict =
        R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the object has been modified","reason":"Conflict","code":409})";
    CHECK(kube::KubeError("patch", "pods", "wisp", 409, conflict).code() ==
          absl::StatusCode::kAborted);

    s = kube::KubeError("get", "pods/log", "wisp", 403,
                        "{\"kind\":\"Status\",\"message\":\"nope\"}");
    CHECK(s.code() == absl::StatusCode::kPermissionDenied);
    CHECK_THAT(std::string(s.message()), Contains(R"(resources: ["pods/log"], verbs: ["get"])"));
    CHECK(kube::KubeError("get", "pods", "wisp", 404, "").code() == absl::StatusCode::kNotFound);
    CHECK(kube::KubeError("get", "pods", "wisp", 401, "").code() ==
          absl::StatusCode::kUnauthenticated);
    CHECK(kube::KubeError("get", "pods", "wisp", 503, "").code() == absl::StatusCode::kUnavailable);
}

TEST_CASE("pod states: ready, image pull, failed", "[kube][unit]") {
    auto pod = kube::ParsePodJson(
        R"({"metadata":{"name":"p","resourceVersion":"7"},"status":{"phase":"Pending","containerStatuses":[{"name":"user-action","state":{"waiting":{"reason":"ErrImagePull","message":"not found"}}}]}})");
    REQUIRE(pod.ok());
    CHECK(pod->resource_version == "7");
    CHECK(kube::Judge(*pod) == kube::PodVerdict::kImagePull);
    pod = kube::ParsePodJson(
        R"({"metadata":{"name":"p"},"status":{"phase":"Running","podIP":"10.1.2.3","conditions":[{"type":"Ready","status":"True"}]}})");
    REQUIRE(pod.ok());
    CHECK(kube::Judge(*pod) == kube::PodVerdict::kReady);
    CHECK(pod->pod_ip == "10.1.2.3");
    pod = kube::ParsePodJson(
        R"({"metadata":{"name":"p"},"status":{"phase":"Failed","containerStatuses":[{"name":"user-action","state":{"terminated":{"reason":"OOMKilled","exitCode":137}}}]}})");
    REQUIRE(pod.ok());
    CHECK(kube::Judge(*pod) == kube::PodVerdict::kFailed);
    CHECK(pod->terminated_reason == "OOMKilled");
    auto event = kube::ParseWatchEvent(
        R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})");
    REQUIRE(event.ok());
    CHECK(event->error_code == 410);
}

TEST_CASE("the log cursor: lines not after it are dropped, sentinels end an activation",
          "[kube][unit]") {
    const std::string s = std::string(kube::kActivationSentinel);
    const std::string body =
        "2024-01-01T00:00:01.000000001Z one\n"
        "2024-01-01T00:00:01.000000002Z two\n"
        "2024-01-01T00:00:01.000000002Z two again\n"
        "2024-01-01T00:00:01.000000003Z " +
        s +
        "\n"
        "2024-01-01T00:00:01.000000003Z tail" +
        s +
        "\n"
        "2024-01-01T00:00:01.000000004Z next activation\n";
    kube::LogAccumulator first({}, 2, 1 << 20);
    CHECK(first.Feed(body));
    CHECK(first.done());
    CHECK_FALSE(first.Feed(body));  // the API repeats the second: nothing new
    const kube::LogCursor cursor = first.cursor();
    auto logs = first.Finish();
    CHECK(logs.complete);
    CHECK_FALSE(logs.truncated);
    REQUIRE(logs.lines.size() == 4);
    CHECK(logs.lines[0].text == "one");
    CHECK(logs.lines[2].text == "two again");
    CHECK(logs.lines[3].text == "tail");
    CHECK(logs.lines[3].stream == "stdout");
    CHECK(cursor.consumed_at_last == 2);

    // The next activation starts after the cursor, even with the body read again from the second.
    kube::LogAccumulator second(cursor, 2, 1 << 20);
    second.Feed(body);
    auto next = second.Finish();
    CHECK_FALSE(next.complete);
    REQUIRE(next.lines.size() == 1);
    CHECK(next.lines[0].text == "next activation");

    // Past the byte limit lines are dropped (truncated), the sentinels still end it.
    kube::LogAccumulator small({}, 2, 5);
    small.Feed(body);
    auto cut = small.Finish();
    CHECK(cut.truncated);
    CHECK(cut.complete);
    REQUIRE(cut.lines.size() == 1);  // "one" (3); "two" (3 more) is past 5, and so is the rest
    CHECK(cut.lines[0].text == "one");
}

TEST_CASE("kubeconfig: current context, CA data, token, client certificates", "[kube][unit]") {
    const std::string yaml = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: other
  cluster:
    server: https://other:6443
- name: kind
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: Q0EgUEVN
contexts:
- name: dev
  context:
    cluster: kind
    user: admin
    namespace: wisp
users:
- name: admin
  user:
    token: abc.def
    client-certificate-data: Q0VSVA==
    client-key: keys/admin.key
)";
    auto c = ParseKubeConfig(yaml, "/home/u/.kube");
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK(c->server == "https://127.0.0.1:6443");
    CHECK(c->ns == "wisp");
    CHECK(c->ca_pem == "CA PEM");
    CHECK(c->token == "abc.def");
    CHECK(c->client_cert_pem == "CERT");
    CHECK(c->client_key_file == "/home/u/.kube/keys/admin.key");

    auto json = ParseKubeConfig(
        R"({"current-context":"c","contexts":[{"name":"c","context":{"cluster":"k"}}],"clusters":[{"name":"k","cluster":{"server":"https://k:443","insecure-skip-tls-verify":true}}]})",
        "");
    REQUIRE(json.ok());
    CHECK(json->insecure_skip_tls_verify);
    CHECK(json->ns == "default");

    auto exec = ParseKubeConfig(R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://k"}}]
users: [{name: u, user: {exec: {command: aws}}}]
)",
                                "");
    CHECK(exec.status().code() == absl::StatusCode::kUnimplemented);
    CHECK(ParseKubeConfig("current-context: nope\n", "").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(ParseKubeConfig("[unclosed", "").status().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("in-cluster config from the service-account folder", "[kube][unit]") {
    wisp::testing::TempDir sa("wisp-sa-");
    std::ofstream(sa.File("token")) << "sa-token\n";
    std::ofstream(sa.File("ca.crt")) << "-----BEGIN CERTIFICATE-----\n";
    std::ofstream(sa.File("namespace")) << "wisp-ns";
    ::setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    ::unsetenv("KUBECONFIG");
    auto c = LoadKubeConfig({.service_account_dir = sa.path().string()});
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK(c->server == "https://10.96.0.1:443");
    CHECK(c->ns == "wisp-ns");
    CHECK(c->token_file == sa.File("token"));
    CHECK(c->ca_file == sa.File("ca.crt"));
    // Flags win over the folder.
    auto flagged = LoadKubeConfig({.api_url = "https://api.example:6443",
                                   .ns = "other",
                                   .service_account_dir = sa.path().string()});
    REQUIRE(flagged.ok());
    CHECK(flagged->server == "https://api.example:6443");
    CHECK(flagged->ns == "other");
    // No token: a message that says what is missing.
    wisp::testing::TempDir empty("wisp-sa-");
    auto none = LoadKubeConfig({.service_account_dir = empty.path().string()});
    CHECK(none.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK_THAT(std::string(none.status().message()), Contains("token"));
    ::unsetenv("KUBERNETES_SERVICE_HOST");
    ::unsetenv("KUBERNETES_SERVICE_PORT");
}

TEST_CASE("plain http only to loopback", "[kube][unit]") {
    CHECK(kube::ValidateServerUrl("https://10.0.0.1:6443").ok());
    CHECK(kube::ValidateServerUrl("http://127.0.0.1:8001").ok());
    CHECK(kube::ValidateServerUrl("http://[::1]:8001").ok());
    CHECK(kube::ValidateServerUrl("http://10.0.0.1:8080").code() ==
          absl::StatusCode::kInvalidArgument);
    KubernetesContainerFactory factory({.api = {.server = "http://192.0.2.1:8080"}});
    CHECK(factory.Ping().code() == absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Against the fake API server

TEST_CASE("a pod: created, watched until ready, answers /init and /run at its pod IP",
          "[kube][fake]") {
    Cluster k;
    auto c = k.factory->CreatePod(PythonSpec("wsk7_1_guest_hello"));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    CHECK((*c)->id() == "wsk7-1-guest-hello");
    CHECK((*c)->pod_ip().starts_with("127."));
    CHECK((*c)->pod_ip() != "127.0.0.1");
    const auto requests = k.api->Requests();
    CHECK(Count(requests, "POST /api/v1/namespaces/wisp/pods") == 1);
    CHECK(Count(requests, "watch=true&fieldSelector=metadata.name%3Dwsk7-1-guest-hello") >= 1);
    // The posted pod: labels per contract.
    auto body = Parse(k.api->LastCreateBody());
    CHECK(std::string(body["metadata"]["labels"]["wisp/invoker"].GetString()) == "invoker7");
    CHECK(std::string(body["metadata"]["labels"]["wisp/release"].GetString()) == "rel");

    auto init = (*c)->Init(PrintingInit(), 60s);
    REQUIRE(init.ok());
    CHECK(init->status == 200);
    auto run = (*c)->Run(wisp::testing::ProxyRunBody(R"({"name":"a","lines":3})", "printer"), 60s);
    REQUIRE(run.ok());
    CHECK(run->status == 200);
    auto oom = (*c)->WasOomKilled();
    REQUIRE(oom.ok());
    CHECK_FALSE(*oom);

    // Pause/Resume: no API call.
    const size_t before = k.api->Requests().size();
    REQUIRE((*c)->Pause().ok());
    CHECK((*c)->paused());
    REQUIRE((*c)->Resume().ok());
    CHECK(k.api->Requests().size() == before);

    REQUIRE((*c)->Destroy().ok());
    REQUIRE((*c)->Destroy().ok());  // idempotent
    CHECK(k.api->PodNames("wisp").empty());
}

TEST_CASE("an unknown image fails fast with OpenWhisk's message; the pod is deleted",
          "[kube][fake]") {
    Cluster k;
    ContainerSpec spec = PythonSpec("wsk7_2_guest_missing");
    spec.image = "example.com/nobody/nothing:1";
    const auto start = std::chrono::steady_clock::now();
    auto c = k.factory->Create(spec);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(c.status().message()) ==
          "Failed to pull container image 'example.com/nobody/nothing:1'.");
    CHECK(std::chrono::steady_clock::now() - start < k.options.ready_timeout / 2);
    CHECK(k.api->PodNames("wisp").empty());
    const auto requests = k.api->Requests();
    CHECK(Count(requests, "/events?fieldSelector=involvedObject.name%3Dwsk7-2-guest-missing") == 1);
    CHECK(Count(requests, "DELETE /api/v1/namespaces/wisp/pods/wsk7-2-guest-missing") == 1);
}

TEST_CASE("a pod that never becomes ready: DeadlineExceeded naming why; the pod is deleted",
          "[kube][fake]") {
    Cluster k;
    k.api->HoldPending();
    KubernetesFactoryOptions options = k.options;
    options.ready_timeout = 2s;  // the deadline is what is tested; nothing else waits on it
    KubernetesContainerFactory factory(options);
    auto c = factory.Create(PythonSpec("wsk7_9_guest_pending"));
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == absl::StatusCode::kDeadlineExceeded);
    CHECK_THAT(std::string(c.status().message()),
               Contains("Pod readiness timed out after 2s: pod wsk7-9-guest-pending"));
    CHECK_THAT(std::string(c.status().message()),
               Contains("not scheduled: 0/1 nodes are available: 1 Insufficient memory."));
    CHECK(k.api->PodNames("wisp").empty());
}

TEST_CASE("API errors: 422 Invalid with causes, 409 renames, 403 names the RBAC rule, 401",
          "[kube][fake]") {
    Cluster k;
    SECTION("422") {
        ContainerSpec spec = PythonSpec("wsk7_3_guest_zero");
        spec.memory_mb = 0;
        auto c = k.factory->Create(spec);
        CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK_THAT(std::string(c.status().message()),
                   Contains("spec.containers[0].resources.requests[memory]: Invalid value: "
                            "\"0Mi\": must be greater than 0"));
    }
    SECTION("409: a taken name gets a suffix") {
        k.api->AddPod("wisp", "wsk7-4-guest-dup", {});
        auto c = k.factory->Create(PythonSpec("wsk7_4_guest_dup"));
        INFO(c.status().ToString());
        REQUIRE(c.ok());
        CHECK((*c)->id() != "wsk7-4-guest-dup");
        CHECK((*c)->id().starts_with("wsk7-4-guest-dup-"));
    }
    SECTION("403") {
        k.api->Forbid("create", "pods");
        auto c = k.factory->Create(PythonSpec("wsk7_5_guest_forbidden"));
        CHECK(c.status().code() == absl::StatusCode::kPermissionDenied);
        CHECK_THAT(std::string(c.status().message()), Contains(R"(cannot create resource "pods")"));
        CHECK_THAT(std::string(c.status().message()), Contains(R"(verbs: ["create"])"));
    }
    SECTION("401") {
        KubernetesFactoryOptions bad = k.options;
        bad.api.token = "wrong";
        KubernetesContainerFactory factory(bad);
        CHECK(factory.Ping().code() == absl::StatusCode::kUnauthenticated);
    }
}

TEST_CASE("watch 410 Gone: the factory re-lists and watches again", "[kube][fake]") {
    Cluster k;
    k.api->ExpireNextWatch();
    auto c = k.factory->Create(PythonSpec("wsk7_6_guest_expired"));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    const auto requests = k.api->Requests();
    CHECK(Count(requests, "watch=true") >= 2);
    CHECK(Count(requests, "GET /api/v1/namespaces/wisp/pods/wsk7-6-guest-expired") >= 1);
}

TEST_CASE("watch refused: the factory polls the pod", "[kube][fake]") {
    Cluster k;
    k.api->ForbidWatch();
    auto c = k.factory->Create(PythonSpec("wsk7_7_guest_polled"));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    const auto requests = k.api->Requests();
    CHECK(Count(requests, "watch=true") == 1);
    CHECK(Count(requests, "GET /api/v1/namespaces/wisp/pods/wsk7-7-guest-polled") >= 1);
}

TEST_CASE("RemoveOrphans deletes the pods of this invoker and release only", "[kube][fake]") {
    Cluster k("rel");
    k.api->AddPod("wisp", "mine-a", {{"wisp/invoker", "invoker7"}, {"wisp/release", "rel"}});
    k.api->AddPod("wisp", "mine-b", {{"wisp/invoker", "invoker7"}, {"wisp/release", "rel"}});
    k.api->AddPod("wisp", "other-invoker", {{"wisp/invoker", "invoker8"}, {"wisp/release", "rel"}});
    k.api->AddPod("wisp", "other-release", {{"wisp/invoker", "invoker7"}, {"wisp/release", "x"}});
    k.api->AddPod("elsewhere", "other-ns", {{"wisp/invoker", "invoker7"}, {"wisp/release", "rel"}});
    auto removed = k.factory->RemoveOrphans("7");
    INFO(removed.status().ToString());
    REQUIRE(removed.ok());
    CHECK(*removed == 2);
    auto left = k.api->PodNames("wisp");
    std::sort(left.begin(), left.end());
    CHECK(left == std::vector<std::string>{"other-invoker", "other-release"});
    CHECK(k.api->PodNames("elsewhere").size() == 1);
    CHECK(Count(k.api->Requests(),
                "labelSelector=wisp%2Finvoker%3Dinvoker7%2Cwisp%2Frelease%3Drel") == 1);
    auto again = k.factory->RemoveOrphans("7");
    REQUIRE(again.ok());
    CHECK(*again == 0);
}

TEST_CASE("CollectLogs: per activation, filtered by time on the client, truncated at the limit",
          "[kube][fake]") {
    Cluster k;
    auto c = k.factory->CreatePod(PythonSpec("wsk7_8_guest_logs"));
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    REQUIRE((*c)->Init(PrintingInit(), 60s).ok());

    auto run = (*c)->Run(wisp::testing::ProxyRunBody(R"({"name":"a","lines":2})", "printer"), 60s);
    REQUIRE(run.ok());
    auto logs = (*c)->CollectLogs(2, 1 << 20, 60s);
    INFO(logs.status().ToString());
    REQUIRE(logs.ok());
    CHECK(logs->complete);
    REQUIRE(logs->lines.size() == 2);
    CHECK(logs->lines[0].text == "line 0 of a");
    CHECK(logs->lines[1].text == "line 1 of a");
    // Every later read asks from the last line's time on (the fake, as the API, only honours the
    // second): a line stamped before it, appended now, is never returned.
    k.api->AppendLog("wisp", (*c)->id(), *wisp::common::ParseRfc3339Nanos(logs->lines[0].time),
                     "late");

    run = (*c)->Run(wisp::testing::ProxyRunBody(R"({"name":"b","lines":50})", "printer"), 60s);
    REQUIRE(run.ok());
    logs = (*c)->CollectLogs(2, 100, 60s);
    REQUIRE(logs.ok());
    CHECK(logs->complete);
    CHECK(logs->truncated);
    REQUIRE_FALSE(logs->lines.empty());
    CHECK(logs->lines[0].text == "line 0 of b");
    int64_t bytes = 0;
    for (const auto& l : logs->lines) bytes += static_cast<int64_t>(l.text.size());
    CHECK(bytes <= 100);
    CHECK(Count(k.api->Requests(), "sinceTime=") >= 1);

    run = (*c)->Run(wisp::testing::ProxyRunBody(R"({"name":"c","lines":1})", "printer"), 60s);
    REQUIRE(run.ok());
    logs = (*c)->CollectLogs(2, 1 << 20, 60s);
    REQUIRE(logs.ok());
    REQUIRE(logs->lines.size() == 1);
    CHECK(logs->lines[0].text == "line 0 of c");
    REQUIRE((*c)->Destroy().ok());
}

TEST_CASE("https: the server certificate is checked against the configured CA", "[kube][tls]") {
    // openssl s_server -www answers any GET with 200: enough to see the TLS set-up work.
    wisp::testing::TempDir dir("wisp-kube-tls-");
    const std::string cert = dir.File("server.crt");
    const std::string key = dir.File("server.key");
    const std::string make_cert =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
        "subjectAltName=IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    REQUIRE(std::system(make_cert.c_str()) == 0);
    auto port = wisp::testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    auto server = wisp::testing::ChildProcess::Spawn(
        {.argv = {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(*port), "-cert",
                  cert, "-key", key, "-www", "-quiet"},
         .log_path = dir.File("s_server.log")});
    INFO(server.status().ToString());
    REQUIRE(server.ok());
    REQUIRE((*server)->WaitForPort(*port, 30s).ok());
    const std::string url = "https://127.0.0.1:" + std::to_string(*port);

    KubernetesContainerFactory with_file({.api = {.server = url, .ca_file = cert}});
    const absl::Status file_ok = with_file.Ping();
    INFO(file_ok.ToString());
    CHECK(file_ok.ok());

    std::ifstream in(cert);
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    KubernetesContainerFactory with_data({.api = {.server = url, .ca_pem = pem}});
    CHECK(with_data.Ping().ok());

    // Without the CA (the system CAs only) the certificate is refused.
    KubernetesContainerFactory without(
        {.api = {.server = url, .ca_file = "/etc/ssl/certs/ca-certificates.crt"}});
    const absl::Status refused = without.Ping();
    CHECK(refused.code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(std::string(refused.message()), Contains("is not answering"));
}
