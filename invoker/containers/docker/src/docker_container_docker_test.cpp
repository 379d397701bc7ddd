// DockerContainerFactory against a real Docker daemon (ctest label `docker`).
//
// Starts dockerd with tools/start-dockerd.sh when it is not running and builds the runtime images
// with tools/build-runtime-images.sh (idempotent; WISP_DOCKER_TEST_REUSE_IMAGES=1 skips the build
// when the images exist). Fails — never skips — when either is impossible: CI provides Docker.
// Every container carries a label unique to this test process and is removed at the end.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <catch2/catch.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/time.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/testing/proxy_bodies.hpp>
#include <wisp/testing/shell.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "docker_api.hpp"
#include "docker_engine.hpp"

using namespace wisp::invoker;
using namespace std::chrono_literals;
using wisp::invoker::docker::DockerEngine;
using wisp::testing::Shell;

namespace {

constexpr const char* kPython = "wisp/action-python:3.11";
constexpr const char* kNodejs = "wisp/action-nodejs:18";
constexpr const char* kNative = "wisp/action-native:latest";
// The pid of the test process that made a container (next to wisp.test=docker-container-test):
// cleanups leave alone the containers of another run of this suite that is still going.
constexpr const char* kTestPidLabel = "wisp.test-pid";

std::string Env(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

std::string SourceDir() { return Env("WISP_SOURCE_DIR", "."); }
std::string BuildDir() { return Env("WISP_BUILD_DIR", "build"); }

std::string InitBody(const std::string& code, bool binary = false,
                     const std::string& main = "main") {
    return wisp::testing::ProxyInitBody(code, binary, main);
}

std::string RunBody(const std::string& value_json) {
    return wisp::testing::ProxyRunBody(value_json);
}

rapidjson::Document ParseDoc(const std::string& text) {
    rapidjson::Document doc;
    INFO(text);
    REQUIRE(wisp::json::ParseBounded(text, doc).empty());
    return doc;
}

// Docker prepared once per test process: daemon up, images built.
struct Docker {
    std::string invoker_id = "dockertest-" + std::to_string(::getpid());
    std::unique_ptr<DockerEngine> engine;
    std::atomic<int> seq{0};

    Docker() {
        std::string out;
        const std::string start = SourceDir() + "/tools/start-dockerd.sh";
        const int rc = Shell(start, &out);
        INFO("tools/start-dockerd.sh said:\n" << out);
        REQUIRE(rc == 0);
        engine = std::make_unique<DockerEngine>("/var/run/docker.sock", "v1.41");
        const bool reuse = Env("WISP_DOCKER_TEST_REUSE_IMAGES", "") == "1";
        if (!(reuse && HasImage(kPython) && HasImage(kNodejs) && HasImage(kNative))) {
            const std::string build = SourceDir() + "/tools/build-runtime-images.sh --build-dir " +
                                      BuildDir() + " python nodejs native";
            const int brc = Shell(build, &out);
            INFO("tools/build-runtime-images.sh said:\n" << out);
            REQUIRE(brc == 0);
        }
        // Leftovers of an earlier run of this test that was killed.
        CleanupLeftovers();
    }
    ~Docker() { CleanupLeftovers(); }

    // Whether a container of this suite belongs to this process or to one that is gone (or to
    // a version of the suite that did not label its pid).
    static bool MineOrOrphaned(const rapidjson::Value& container) {
        const rapidjson::Value* labels = nullptr;
        if (container.HasMember("Labels") && container["Labels"].IsObject()) {
            labels = &container["Labels"];
        }
        if (labels == nullptr || !labels->HasMember(kTestPidLabel) ||
            !(*labels)[kTestPidLabel].IsString()) {
            return true;
        }
        const int pid = std::atoi((*labels)[kTestPidLabel].GetString());
        if (pid <= 0 || pid == ::getpid()) return true;
        return ::kill(pid, 0) != 0 && errno == ESRCH;
    }

    bool HasImage(const std::string& image) {
        auto r = engine->Call("GET", "/images/" + image + "/json", "", 10s);
        return r.ok() && r->status == 200;
    }

    // Removes the containers labelled wisp.test=docker-container-test (this suite's mark) that
    // are this process's or a gone process's, and their socket folders; another run of this
    // suite on the same daemon keeps its own.
    void CleanupLeftovers() {
        auto r = engine->Call(
            "GET",
            "/containers/json?all=1&filters=" +
                wisp::common::PercentEncode(R"({"label":["wisp.test=docker-container-test"]})"),
            "", 10s);
        if (!r.ok() || r->status != 200) return;
        rapidjson::Document doc;
        (void)wisp::json::ParseBounded(r->body, doc);
        if (!doc.IsArray()) return;
        for (const auto& c : doc.GetArray()) {
            if (!MineOrOrphaned(c)) continue;
            (void)engine->Call(
                "DELETE", std::string("/containers/") + c["Id"].GetString() + "?force=1", "", 30s);
            // The socket folder of a container whose test process was killed.
            if (!c.HasMember("Mounts") || !c["Mounts"].IsArray()) continue;
            for (const auto& m : c["Mounts"].GetArray()) {
                if (m.HasMember("Destination") && m["Destination"] == "/run/wisp" &&
                    m.HasMember("Source") && m["Source"].IsString()) {
                    std::error_code ec;
                    std::filesystem::remove_all(m["Source"].GetString(), ec);
                }
            }
        }
    }

    ContainerSpec Spec(const std::string& image, const std::string& what, int64_t memory_mb = 256) {
        ContainerSpec spec;
        spec.image = image;
        spec.name =
            "wsk" + std::to_string(::getpid()) + "_" + std::to_string(++seq) + "_guest_" + what;
        spec.memory_mb = memory_mb;
        spec.env = {{"__OW_API_HOST", "http://127.0.0.1:3233"}};
        spec.labels = {{"wisp.invoker", invoker_id},
                       {"wisp.test", "docker-container-test"},
                       {kTestPidLabel, std::to_string(::getpid())}};
        return spec;
    }

    rapidjson::Document Inspect(const std::string& id) {
        auto r = engine->Call("GET", "/containers/" + id + "/json", "", 10s);
        REQUIRE(r.ok());
        REQUIRE(r->status == 200);
        return ParseDoc(r->body);
    }

    long InspectStatus(const std::string& id) {
        auto r = engine->Call("GET", "/containers/" + id + "/json", "", 10s);
        REQUIRE(r.ok());
        return r->status;
    }

    // A container made directly through the Engine API (a "leftover" of another process).
    std::string RawCreate(std::map<std::string, std::string> labels, bool start) {
        if (labels.count("wisp.test") != 0) labels[kTestPidLabel] = std::to_string(::getpid());
        std::string body = R"({"Image":")" + std::string(kNative) + R"(","Labels":{)";
        bool first = true;
        for (const auto& [k, v] : labels) {
            body += (first ? "" : ",") + ("\"" + k + "\":\"" + v + "\"");
            first = false;
        }
        body += "}}";
        auto r = engine->Call("POST", "/containers/create", body, 30s);
        REQUIRE(r.ok());
        INFO(r->body);
        REQUIRE(r->status == 201);
        const std::string id = ParseDoc(r->body)["Id"].GetString();
        if (start) {
            auto s = engine->Call("POST", "/containers/" + id + "/start", "", 30s);
            REQUIRE(s.ok());
            REQUIRE(s->status == 204);
        }
        return id;
    }
};

Docker& D() {
    static Docker docker;
    return docker;
}

DockerFactoryOptions Options() {
    DockerFactoryOptions options;
    options.user_memory_mb = 2048;
    return options;
}

std::string Greeting(const std::string& body) {
    const auto doc = ParseDoc(body);
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("greeting"));
    return doc["greeting"].GetString();
}

// "<stream>: <text>" per line, sorted: stdout and stderr reach docker through separate pipes,
// so their relative order is not defined (the order within one stream is).
std::vector<std::string> Texts(const Container::Logs& logs) {
    std::vector<std::string> out;
    for (const auto& l : logs.lines) out.push_back(l.stream + ": " + l.text);
    std::sort(out.begin(), out.end());
    return out;
}

const char* kHelloPython = R"(import sys
count = 0
def main(args):
    global count
    count += 1
    print("hello stdout", count)
    print("hello stderr", count, file=sys.stderr)
    if args.get("long"):
        print("x" * args["long"])
    for i in range(args.get("lines", 0)):
        print("line", i)
    return {"greeting": "Hello " + args.get("name", "stranger"), "count": count}
)";

}  // namespace

TEST_CASE("python: create, /init, /run and logs cut at both sentinels", "[docker]") {
    DockerContainerFactory factory(Options());
    REQUIRE(factory.Ping().ok());
    auto created = factory.CreateDocker(D().Spec(kPython, "hello"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    CHECK(c.transport() == DockerFactoryOptions::Transport::kUnixSocket);
    CHECK(std::filesystem::exists(c.socket_path()));
    CHECK(c.memory_mb() == 256);

    auto init = c.Init(InitBody(kHelloPython), 10s);
    REQUIRE(init.ok());
    REQUIRE(init->failure == ProxyResponse::Failure::kNone);
    CHECK(init->status == 200);

    auto run = c.Run(RunBody(R"({"name":"Wisp"})"), 10s);
    REQUIRE(run.ok());
    REQUIRE(run->failure == ProxyResponse::Failure::kNone);
    CHECK(run->status == 200);
    CHECK(Greeting(run->body) == "Hello Wisp");

    auto logs = c.CollectLogs(2, 1 << 20, 2s);
    REQUIRE(logs.ok());
    CHECK(logs->complete);
    CHECK_FALSE(logs->truncated);
    CHECK(Texts(*logs) ==
          std::vector<std::string>{"stderr: hello stderr 1", "stdout: hello stdout 1"});
    for (const auto& l : logs->lines) CHECK(wisp::common::ParseRfc3339Nanos(l.time).ok());

    SECTION("each activation gets only its own lines") {
        for (int i = 2; i <= 4; ++i) {
            auto r = c.Run(RunBody("{}"), 10s);
            REQUIRE(r.ok());
            CHECK(r->status == 200);
            auto l = c.CollectLogs(2, 1 << 20, 2s);
            REQUIRE(l.ok());
            CHECK(l->complete);
            CHECK(Texts(*l) ==
                  std::vector<std::string>{"stderr: hello stderr " + std::to_string(i),
                                           "stdout: hello stdout " + std::to_string(i)});
        }
        // Nothing new: waits `wait` for sentinels that never come.
        const auto t0 = std::chrono::steady_clock::now();
        auto none = c.CollectLogs(2, 1 << 20, 300ms);
        const auto waited = std::chrono::steady_clock::now() - t0;
        REQUIRE(none.ok());
        CHECK_FALSE(none->complete);
        CHECK(none->lines.empty());
        CHECK(waited >= 250ms);
        CHECK(waited < 30s);  // a wait that ignored `wait` would last api_timeout (60 s)
    }
    SECTION("a 40 KB line comes back whole; a byte cap truncates") {
        auto r = c.Run(RunBody(R"({"long":40000})"), 10s);
        REQUIRE(r.ok());
        auto l = c.CollectLogs(2, 1 << 20, 2s);
        REQUIRE(l.ok());
        REQUIRE(l->lines.size() == 3);
        CHECK(std::count_if(l->lines.begin(), l->lines.end(), [](const LogLine& line) {
                  return line.stream == "stdout" && line.text == std::string(40000, 'x');
              }) == 1);

        r = c.Run(RunBody(R"({"long":40000})"), 10s);
        REQUIRE(r.ok());
        l = c.CollectLogs(2, 1000, 2s);
        REQUIRE(l.ok());
        CHECK(l->truncated);
        CHECK(l->complete);
        // Everything after the line that did not fit is dropped (the stderr line may come
        // before or after it).
        CHECK(!l->lines.empty());
        CHECK(l->lines.size() <= 2);
        for (const auto& line : l->lines) CHECK(line.text.size() < 100);
        // The next activation starts clean after the truncated one.
        r = c.Run(RunBody("{}"), 10s);
        REQUIRE(r.ok());
        l = c.CollectLogs(2, 1 << 20, 2s);
        REQUIRE(l.ok());
        CHECK(Texts(*l) ==
              std::vector<std::string>{"stderr: hello stderr 4", "stdout: hello stdout 4"});
    }
    SECTION("an activation logging more than the tail window gets all its lines") {
        const int n = docker::kLogTailWindow + 100;
        auto r = c.Run(RunBody(R"({"lines":)" + std::to_string(n) + "}"), 10s);
        REQUIRE(r.ok());
        auto l = c.CollectLogs(2, 1 << 20, 2s);
        REQUIRE(l.ok());
        CHECK(l->complete);
        REQUIRE(l->lines.size() == static_cast<size_t>(n) + 2);
        int numbered = 0;
        for (const auto& line : l->lines) {
            if (line.text == "line " + std::to_string(numbered)) ++numbered;
        }
        CHECK(numbered == n);  // all of them, in order
        r = c.Run(RunBody("{}"), 10s);
        REQUIRE(r.ok());
        l = c.CollectLogs(2, 1 << 20, 2s);
        REQUIRE(l.ok());
        CHECK(Texts(*l) ==
              std::vector<std::string>{"stderr: hello stderr 3", "stdout: hello stdout 3"});
    }
    SECTION("a second /init is refused; no OOM reported") {
        auto again = c.Init(InitBody(kHelloPython), 10s);
        REQUIRE(again.ok());
        CHECK(again->status == 403);
        auto oom = c.WasOomKilled();
        REQUIRE(oom.ok());
        CHECK_FALSE(*oom);
    }
    CHECK(c.Destroy().ok());
}

TEST_CASE("the container runs with the limits, unprivileged, published on 127.0.0.1 only",
          "[docker]") {
    DockerFactoryOptions options = Options();
    options.publish_port = true;  // also published (off by default: the socket is the way in)
    DockerContainerFactory factory(options);
    auto created = factory.CreateDocker(D().Spec(kPython, "limits", 128));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    const auto doc = D().Inspect(c.id());
    const auto& hc = doc["HostConfig"];
    CHECK(hc["Memory"].GetInt64() == 128LL << 20);
    CHECK(hc["MemorySwap"].GetInt64() == 128LL << 20);
    CHECK(hc["CpuShares"].GetInt64() == 64);
    CHECK(hc["PidsLimit"].GetInt64() == 1024);
    CHECK(std::string(hc["CapDrop"][0].GetString()) == "ALL");
    CHECK(std::string(hc["SecurityOpt"][0].GetString()) == "no-new-privileges");
    CHECK(std::string(hc["LogConfig"]["Type"].GetString()) == "json-file");
    CHECK(std::string(hc["NetworkMode"].GetString()) == kDefaultActionNetwork);
    CHECK(std::string(doc["Config"]["Labels"]["wisp.invoker"].GetString()) == D().invoker_id);
    CHECK(std::string(doc["Name"].GetString()) == "/" + c.name());

    const auto& ports = doc["NetworkSettings"]["Ports"]["8080/tcp"];
    REQUIRE(ports.IsArray());
    REQUIRE(ports.Size() >= 1);
    for (const auto& p : ports.GetArray())
        CHECK(std::string(p["HostIp"].GetString()) == "127.0.0.1");
    auto port = c.HostPort();
    REQUIRE(port.ok());
    CHECK(*port == std::atoi(ports[0]["HostPort"].GetString()));

    // What the action sees from the inside.
    const char* probe = R"(import resource
def main(args):
    status = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
    return {"capeff": status["CapEff"].strip(), "nonewprivs": status["NoNewPrivs"].strip(),
            "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "pids_max": open("/sys/fs/cgroup/pids/pids.max").read().strip()
                        if __import__("os").path.exists("/sys/fs/cgroup/pids/pids.max")
                        else open("/sys/fs/cgroup/pids.max").read().strip()}
)";
    REQUIRE(c.Init(InitBody(probe), 10s)->status == 200);
    auto run = c.Run(RunBody("{}"), 10s);
    REQUIRE(run.ok());
    INFO(run->body);
    REQUIRE(run->status == 200);
    const auto r = ParseDoc(run->body);
    CHECK(std::string(r["capeff"].GetString()) == "0000000000000000");
    CHECK(std::string(r["nonewprivs"].GetString()) == "1");
    CHECK(r["nofile"][0].GetInt() == 1024);
    CHECK(r["nofile"][1].GetInt() == 1024);
    CHECK(std::string(r["pids_max"].GetString()) == "1024");
}

TEST_CASE("isolation: no TCP listener, no inter-container traffic, a read-only socket folder",
          "[docker]") {
    DockerContainerFactory factory(Options());  // the defaults: socket only, wisp-actions
    auto created = factory.CreateDocker(D().Spec(kPython, "isolation", 128));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    REQUIRE(c.transport() == DockerFactoryOptions::Transport::kUnixSocket);

    // Inspection through the Engine API: the container is on the invoker's network, and that
    // network disables inter-container traffic but is not internal (outbound traffic works).
    const auto doc = D().Inspect(c.id());
    const auto& hc = doc["HostConfig"];
    CHECK(std::string(hc["NetworkMode"].GetString()) == kDefaultActionNetwork);
    CHECK(doc["NetworkSettings"]["Networks"].HasMember(std::string(kDefaultActionNetwork).c_str()));
    CHECK(doc["NetworkSettings"]["Networks"].MemberCount() == 1);
    const bool published = hc.HasMember("PortBindings") && hc["PortBindings"].IsObject() &&
                           hc["PortBindings"].MemberCount() > 0;
    CHECK_FALSE(published);
    auto net = D().engine->Call("GET", "/networks/" + std::string(kDefaultActionNetwork), "", 10s);
    REQUIRE(net.ok());
    REQUIRE(net->status == 200);
    const auto n = ParseDoc(net->body);
    CHECK(std::string(n["Driver"].GetString()) == "bridge");
    CHECK(std::string(n["Options"]["com.docker.network.bridge.enable_icc"].GetString()) == "false");
    CHECK_FALSE(n["Internal"].GetBool());
    // Log rotation and the /tmp bound.
    CHECK(std::string(hc["LogConfig"]["Config"]["max-size"].GetString()) == "10m");
    CHECK(std::string(hc["LogConfig"]["Config"]["max-file"].GetString()) == "2");
    CHECK(std::string(hc["Tmpfs"]["/tmp"].GetString()).find("size=64m") != std::string::npos);

    // The socket folder on the host: locked once the proxy answered.
    struct stat st {};
    const std::string folder = std::filesystem::path(c.socket_path()).parent_path().string();
    REQUIRE(::lstat(folder.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0555);
    CHECK(st.st_uid != 0);

    // From the inside: nothing listens on TCP; the socket folder cannot be written, the socket
    // neither removed nor replaced (the action runs as the proxy's user, root without caps).
    const char* probe = R"(import os
def listeners(path):
    rows = [l.split() for l in open(path).read().splitlines()[1:]]
    return [r[1] for r in rows if len(r) > 3 and r[3] == "0A"]
def attempt(f):
    try:
        f()
        return "done"
    except OSError as e:
        return e.strerror
def main(args):
    return {"tcp": listeners("/proc/net/tcp"), "tcp6": listeners("/proc/net/tcp6"),
            "create": attempt(lambda: open("/run/wisp/planted", "w")),
            "unlink": attempt(lambda: os.unlink("/run/wisp/proxy.sock")),
            "rename": attempt(lambda: os.rename("/run/wisp/proxy.sock", "/run/wisp/x")),
            "symlink": attempt(lambda: os.symlink("/etc/passwd", "/run/wisp/link")),
            "chmod": attempt(lambda: os.chmod("/run/wisp", 0o777)),
            "tmp": attempt(lambda: open("/tmp/ok", "w").write("tmp is writable"))}
)";
    REQUIRE(c.Init(InitBody(probe), 10s)->status == 200);
    auto run = c.Run(RunBody("{}"), 10s);
    REQUIRE(run.ok());
    INFO(run->body);
    REQUIRE(run->status == 200);
    const auto r = ParseDoc(run->body);
    // The only listener allowed is docker's embedded DNS resolver of a user-defined network
    // (127.0.0.11, in the container's own namespace): nothing on 0.0.0.0, nothing of the proxy.
    for (const auto& l : r["tcp"].GetArray()) {
        CHECK(std::string(l.GetString()).starts_with("0B00007F:"));
    }
    CHECK(r["tcp6"].Size() == 0);
    for (const char* op : {"create", "unlink", "rename", "symlink", "chmod"}) {
        INFO(op);
        CHECK(std::string(r[op].GetString()) != "done");
    }
    CHECK(std::string(r["tmp"].GetString()) == "done");
    CHECK(std::filesystem::is_socket(std::filesystem::symlink_status(c.socket_path())));
    // The invoker still talks to the proxy through the socket.
    auto again = c.Run(RunBody("{}"), 10s);
    REQUIRE(again.ok());
    CHECK(again->status == 200);
    // Destroy removes the locked folder.
    REQUIRE(c.Destroy().ok());
    CHECK_FALSE(std::filesystem::exists(folder));
}

TEST_CASE("network sandboxes: each container joins its own ready one, removed with it",
          "[docker][network-sandbox]") {
    DockerFactoryOptions options = Options();
    options.network_sandboxes = 1;
    options.network_sandbox_refill_delay = 0ms;
    const std::string invoker = D().invoker_id;
    std::string first_sandbox;
    {
        DockerContainerFactory factory(options);
        // The first container has its own namespace: sandboxes are made after the first Create.
        auto first = factory.CreateDocker(D().Spec(kPython, "netns_first", 128));
        REQUIRE(first.ok());
        CHECK((*first)->network_sandbox().empty());
        CHECK(std::string(D().Inspect((*first)->id())["HostConfig"]["NetworkMode"].GetString()) ==
              kDefaultActionNetwork);
        REQUIRE(factory.WaitForNetworkSandboxes(1, 120s));

        auto second = factory.CreateDocker(D().Spec(kPython, "netns_second", 128));
        REQUIRE(second.ok());
        const std::string sandbox = (*second)->network_sandbox();
        REQUIRE_FALSE(sandbox.empty());
        first_sandbox = sandbox;
        const auto doc = D().Inspect((*second)->id());
        CHECK(std::string(doc["HostConfig"]["NetworkMode"].GetString()) == "container:" + sandbox);
        // The sandbox: on the invoker's network (no inter-container traffic), unprivileged,
        // bounded, labelled for RemoveOrphans.
        const auto holder = D().Inspect(sandbox);
        CHECK(holder["State"]["Running"].GetBool());
        CHECK(holder["NetworkSettings"]["Networks"].HasMember(
            std::string(kDefaultActionNetwork).c_str()));
        CHECK(std::string(holder["Config"]["Labels"][std::string(kNetworkSandboxLabel).c_str()]
                              .GetString()) == invoker);
        CHECK(std::string(holder["HostConfig"]["CapDrop"][0].GetString()) == "ALL");
        CHECK(holder["HostConfig"]["Memory"].GetInt64() == 16 * 1024 * 1024);

        // From the inside: the network interface of the sandbox, docker's resolver, and still
        // no TCP listener but that resolver's.
        const char* probe = R"(def main(args):
    devs = [l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:]]
    rows = [l.split() for l in open("/proc/net/tcp").read().splitlines()[1:]]
    return {"devs": devs, "resolv": open("/etc/resolv.conf").read(),
            "tcp": [r[1] for r in rows if len(r) > 3 and r[3] == "0A"]}
)";
        REQUIRE((*second)->Init(InitBody(probe), 30s)->status == 200);
        auto run = (*second)->Run(RunBody("{}"), 30s);
        REQUIRE(run.ok());
        INFO(run->body);
        REQUIRE(run->status == 200);
        const auto r = ParseDoc(run->body);
        std::vector<std::string> devs;
        for (const auto& d : r["devs"].GetArray()) devs.emplace_back(d.GetString());
        CHECK(std::find(devs.begin(), devs.end(), "eth0") != devs.end());
        CHECK(std::string(r["resolv"].GetString()).find("127.0.0.11") != std::string::npos);
        for (const auto& l : r["tcp"].GetArray()) {
            CHECK(std::string(l.GetString()).starts_with("0B00007F:"));
        }

        // A sandbox is never shared: the next container gets another one.
        REQUIRE(factory.WaitForNetworkSandboxes(1, 120s));
        auto third = factory.CreateDocker(D().Spec(kNodejs, "netns_third", 128));
        REQUIRE(third.ok());
        REQUIRE_FALSE((*third)->network_sandbox().empty());
        CHECK((*third)->network_sandbox() != sandbox);

        // Removed with its container.
        REQUIRE((*second)->Destroy().ok());
        CHECK(D().InspectStatus((*second)->id()) == 404);
        CHECK(D().InspectStatus(sandbox) == 404);
        const std::string third_sandbox = (*third)->network_sandbox();
        third->reset();  // dropping the object removes both too
        CHECK(D().InspectStatus(third_sandbox) == 404);
        REQUIRE(factory.WaitForNetworkSandboxes(1, 120s));
    }
    // The factory removed the sandbox nobody took; RemoveOrphans removes leftovers.
    auto left = D().engine->Call(
        "GET",
        "/containers/json?all=1&filters=" +
            wisp::common::PercentEncode(R"({"label":["wisp.network-sandbox=)" + invoker + R"("]})"),
        "", 10s);
    REQUIRE(left.ok());
    CHECK(ParseDoc(left->body).Size() == 0);
    const std::string orphan = D().RawCreate(
        {{"wisp.test", "docker-container-test"}, {std::string(kNetworkSandboxLabel), invoker}},
        true);
    DockerContainerFactory cleaner(Options());
    auto removed = cleaner.RemoveOrphans(invoker);
    REQUIRE(removed.ok());
    CHECK(*removed >= 1);
    CHECK(D().InspectStatus(orphan) == 404);
}

TEST_CASE("a network that lets containers talk to each other is refused", "[docker]") {
    const std::string name = "wisp-test-icc-" + std::to_string(::getpid());
    auto made = D().engine->Call("POST", "/networks/create",
                                 R"({"Name":")" + name + R"(","Driver":"bridge"})", 30s);
    REQUIRE(made.ok());
    REQUIRE(made->status == 201);
    DockerFactoryOptions options = Options();
    options.network = name;
    DockerContainerFactory factory(options);
    auto created = factory.CreateDocker(D().Spec(kNative, "icc", 128));
    (void)D().engine->Call("DELETE", "/networks/" + name, "", 30s);
    REQUIRE_FALSE(created.ok());
    CHECK(created.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(std::string(created.status().message()).find("enable_icc") != std::string::npos);
}

TEST_CASE("the owner label ties containers to their owner, whatever the invoker id", "[docker]") {
    const std::string owner = "test-owner-" + std::to_string(::getpid());
    const std::map<std::string, std::string> mark = {{"wisp.test", "docker-container-test"}};
    DockerFactoryOptions first_options = Options();
    first_options.owner = owner;
    std::string crashed_id;
    {
        // A wisp-standalone on port 4000 that "crashed": its container stays.
        DockerContainerFactory first(first_options);
        auto spec = D().Spec(kNative, "owned", 128);
        spec.labels["wisp.invoker"] = "0-4000-" + std::to_string(::getpid());
        auto c = first.CreateDocker(spec);
        REQUIRE(c.ok());
        crashed_id = (*c)->id();
        CHECK(std::string(
                  D().Inspect(crashed_id)["Config"]["Labels"][std::string(kOwnerLabel).c_str()]
                      .GetString()) == owner);
        (*c).release();  // leaked, as a crash would leave it
    }
    auto l = mark;
    l[std::string(kOwnerLabel)] = owner;
    l["wisp.invoker"] = "something-else";
    const std::string same_owner = D().RawCreate(l, false);
    l[std::string(kOwnerLabel)] = owner + "-another";
    const std::string other_owner = D().RawCreate(l, false);

    // The next start, on another port (another invoker id), with the same owner.
    DockerFactoryOptions next_options = Options();
    next_options.owner = owner;
    DockerContainerFactory next(next_options);
    auto removed = next.RemoveOrphans("0-5000-" + std::to_string(::getpid()));
    REQUIRE(removed.ok());
    CHECK(*removed == 2);
    CHECK(D().InspectStatus(crashed_id) == 404);
    CHECK(D().InspectStatus(same_owner) == 404);
    CHECK(D().InspectStatus(other_owner) == 200);
    (void)D().engine->Call("DELETE", "/containers/" + other_owner + "?force=1", "", 30s);
}

TEST_CASE("an invalid image reference never reaches the Engine API", "[docker]") {
    DockerContainerFactory factory(Options());
    for (const char* image : {"../../containers/json", "a?b", "UPPER/case", "x y"}) {
        INFO(image);
        auto spec = D().Spec(image, "bad_image", 128);
        spec.pull_if_missing = true;
        auto c = factory.Create(spec);
        REQUIRE_FALSE(c.ok());
        CHECK(c.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(factory.ImageExists(image).status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("pause freezes the container, resume thaws it", "[docker]") {
    DockerContainerFactory factory(Options());
    auto created = factory.CreateDocker(D().Spec(kPython, "pause"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    REQUIRE(c.Init(InitBody(kHelloPython), 10s)->status == 200);
    REQUIRE(c.Run(RunBody("{}"), 10s)->status == 200);
    REQUIRE(c.CollectLogs(2, 1 << 20, 2s).ok());

    auto running = c.Running();
    REQUIRE(running.ok());
    CHECK(*running);
    REQUIRE(c.Pause().ok());
    auto doc = D().Inspect(c.id());
    CHECK(doc["State"]["Paused"].GetBool());
    running = c.Running();  // keep-warm's check: a paused container runs
    REQUIRE(running.ok());
    CHECK(*running);
    CHECK(std::string(doc["State"]["Status"].GetString()) == "paused");
    // A frozen proxy does not answer.
    auto frozen = c.Run(RunBody("{}"), 300ms);
    REQUIRE(frozen.ok());
    CHECK(frozen->failure == ProxyResponse::Failure::kTimeout);
    CHECK_FALSE(c.Pause().ok());  // already paused: docker refuses

    REQUIRE(c.Resume().ok());
    doc = D().Inspect(c.id());
    CHECK_FALSE(doc["State"]["Paused"].GetBool());
    CHECK(std::string(doc["State"]["Status"].GetString()) == "running");
    // The run that timed out while frozen completes after the thaw; the next one answers.
    auto run = c.Run(RunBody(R"({"name":"again"})"), 10s);
    REQUIRE(run.ok());
    REQUIRE(run->failure == ProxyResponse::Failure::kNone);
    CHECK(Greeting(run->body) == "Hello again");
}

TEST_CASE("an action allocating past its memory limit is OOM-killed and reported", "[docker]") {
    DockerFactoryOptions options = Options();
    SECTION("from the memory cgroup") { options.oom_from_cgroup = true; }
    SECTION("from docker's oom event") { options.oom_from_cgroup = false; }
    DockerContainerFactory factory(options);
    auto created = factory.CreateDocker(D().Spec(kPython, "oom", 128));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    const char* hog = R"(def main(args):
    blocks = []
    for i in range(64):
        b = bytearray(8 << 20)
        for j in range(0, len(b), 4096):
            b[j] = 1
        blocks.append(b)
    return {"allocated_mb": 8 * len(blocks)}
)";
    REQUIRE(c.Init(InitBody(hog), 10s)->status == 200);
    auto run = c.Run(RunBody("{}"), 30s);
    REQUIRE(run.ok());
    INFO("status " << run->status << " body " << run->body);
    // The kernel kills the interpreter (the biggest process): the proxy either loses it and
    // answers 502, or dies itself and the connection is lost.
    const bool lost = run->failure == ProxyResponse::Failure::kConnectionLost;
    const bool bad_gateway = run->failure == ProxyResponse::Failure::kNone && run->status == 502;
    CHECK((lost || bad_gateway));
    // The answer comes from the cgroup's counter or from docker's event list, neither of which
    // waits for anything: an events request that the daemon held open (no `until`, or one in
    // the future) would last until the call's api_timeout (60 s). Half of that separates the
    // two also on a loaded host, where the two Engine API calls alone can take over 500 ms.
    const auto t0 = std::chrono::steady_clock::now();
    auto oom = c.WasOomKilled();
    REQUIRE(oom.ok());
    CHECK(*oom);
    CHECK(std::chrono::steady_clock::now() - t0 < options.api_timeout / 2);
}

TEST_CASE("a run that exceeds its time limit times out; destroy removes the container",
          "[docker]") {
    DockerContainerFactory factory(Options());
    auto created = factory.CreateDocker(D().Spec(kPython, "sleepy"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    const std::string socket_dir = std::filesystem::path(c.socket_path()).parent_path();
    REQUIRE(
        c.Init(InitBody("import time\ndef main(args):\n    time.sleep(30)\n    return {}\n"), 10s)
            ->status == 200);
    auto run = c.Run(RunBody("{}"), 500ms);
    REQUIRE(run.ok());
    CHECK(run->failure == ProxyResponse::Failure::kTimeout);
    CHECK(run->ElapsedMs() >= 450);   // whole milliseconds, poll() rounding
    CHECK(run->ElapsedMs() < 15000);  // the run itself would take 30 s

    // The caller destroys a container that timed out.
    const auto t0 = std::chrono::steady_clock::now();
    REQUIRE(c.Destroy().ok());
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    CHECK(D().InspectStatus(c.id()) == 404);
    CHECK_FALSE(std::filesystem::exists(socket_dir));
    auto running = c.Running();  // removed: not running (keep-warm replaces such a container)
    REQUIRE(running.ok());
    CHECK_FALSE(*running);
    CHECK(c.Destroy().ok());  // idempotent
}

TEST_CASE("RemoveOrphans removes what this invoker left behind and nothing else", "[docker]") {
    const std::string mine = D().invoker_id + "-orphans";
    const std::string other = D().invoker_id + "-other";
    const std::map<std::string, std::string> mark = {{"wisp.test", "docker-container-test"}};
    auto with = [&](const std::string& inv) {
        auto l = mark;
        l["wisp.invoker"] = inv;
        return l;
    };
    const std::string a = D().RawCreate(with(mine), true);
    const std::string b = D().RawCreate(with(mine), false);  // created, never started
    const std::string x = D().RawCreate(with(other), true);
    const std::string y = D().RawCreate(mark, false);  // no wisp.invoker label at all

    DockerContainerFactory factory(Options());
    // A socket folder whose container is gone (an invoker killed mid-way), and a fresh one that
    // a concurrent Create may be about to mount.
    // (Named per process: another run of this suite on the same host uses the same root.)
    const std::string pid = std::to_string(::getpid());
    const auto stale = std::filesystem::path(factory.socket_root()) / ("stale-test-folder-" + pid);
    const auto fresh = std::filesystem::path(factory.socket_root()) / ("fresh-test-folder-" + pid);
    std::filesystem::create_directories(stale);
    std::filesystem::create_directories(fresh);
    std::filesystem::last_write_time(
        stale, std::filesystem::file_time_type::clock::now() - std::chrono::minutes(5));
    auto keeps = factory.CreateDocker(D().Spec(kNative, "keeps_its_folder", 128));
    REQUIRE(keeps.ok());
    const auto live = std::filesystem::path((*keeps)->socket_path()).parent_path();
    std::filesystem::last_write_time(
        live, std::filesystem::file_time_type::clock::now() - std::chrono::minutes(5));

    auto removed = factory.RemoveOrphans(mine);
    REQUIRE(removed.ok());
    CHECK(*removed == 2);
    CHECK(D().InspectStatus(a) == 404);
    CHECK(D().InspectStatus(b) == 404);
    CHECK(D().InspectStatus(x) == 200);
    CHECK(D().InspectStatus(y) == 200);
    CHECK_FALSE(std::filesystem::exists(stale));
    CHECK(std::filesystem::exists(fresh));
    CHECK(std::filesystem::exists(live));
    std::filesystem::remove_all(fresh);
    auto again = factory.RemoveOrphans(mine);
    REQUIRE(again.ok());
    CHECK(*again == 0);

    auto other_removed = factory.RemoveOrphans(other);
    REQUIRE(other_removed.ok());
    CHECK(*other_removed == 1);
    CHECK(D().InspectStatus(y) == 200);
    (void)D().engine->Call("DELETE", "/containers/" + y + "?force=1", "", 30s);
}

TEST_CASE("the published-port transport works too", "[docker]") {
    DockerFactoryOptions options = Options();
    options.transport = DockerFactoryOptions::Transport::kPublishedPort;
    DockerContainerFactory factory(options);
    auto created = factory.CreateDocker(D().Spec(kPython, "tcp"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    CHECK(c.transport() == DockerFactoryOptions::Transport::kPublishedPort);
    CHECK(c.proxy().endpoint().host == "127.0.0.1");
    CHECK(c.proxy().endpoint().port == *c.HostPort());
    REQUIRE(c.Init(InitBody(kHelloPython), 10s)->status == 200);
    auto run = c.Run(RunBody(R"({"name":"tcp"})"), 10s);
    REQUIRE(run.ok());
    CHECK(Greeting(run->body) == "Hello tcp");
    auto logs = c.CollectLogs(2, 1 << 20, 2s);
    REQUIRE(logs.ok());
    CHECK(logs->complete);
    CHECK(logs->lines.size() == 2);
}

TEST_CASE("a missing image: NotFound naming the build script, or a failed pull", "[docker]") {
    DockerContainerFactory factory(Options());
    ContainerSpec spec = D().Spec("wisp-test/no-such-image:1", "missing");
    auto image = factory.ImageExists(spec.image);
    REQUIRE(image.ok());
    CHECK_FALSE(*image);
    auto exists = factory.ImageExists(kPython);
    REQUIRE(exists.ok());
    CHECK(*exists);

    auto created = factory.Create(spec);
    REQUIRE(absl::IsNotFound(created.status()));
    CHECK_THAT(std::string(created.status().message()),
               Catch::Contains("'wisp-test/no-such-image:1'") &&
                   Catch::Contains("tools/build-runtime-images.sh"));

    spec.pull_if_missing = true;
    created = factory.Create(spec);
    REQUIRE(absl::IsFailedPrecondition(created.status()));
    CHECK_THAT(std::string(created.status().message()),
               Catch::StartsWith("Failed to pull container image 'wisp-test/no-such-image:1'."));
}

TEST_CASE("a container that exits before its proxy answers is a clear error", "[docker]") {
    // The Debian base image runs bash, which exits at once without a terminal. What is proven:
    // the factory notices the exit while it waits for the proxy, instead of waiting out its
    // ready_timeout. With a 300 s ready_timeout the two are far apart: the exit is seen within
    // a few seconds (15 s once at load 45 on 2 cores), a missed exit would end in a
    // DeadlineExceeded ("did not answer within 300000 ms") after 300 s.
    DockerFactoryOptions options = Options();
    options.ready_timeout = 300s;
    DockerContainerFactory factory(options);
    ContainerSpec spec = D().Spec("wisp/base-native:bookworm", "exits");
    if (!*factory.ImageExists(spec.image)) {
        WARN(
            "skipped: wisp/base-native:bookworm is missing (tools/build-runtime-images.sh "
            "builds it)");
        return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto created = factory.Create(spec);
    INFO(created.status().ToString());
    REQUIRE(absl::IsFailedPrecondition(created.status()));
    CHECK_THAT(std::string(created.status().message()),
               Catch::Contains("exited with code 0 before its action proxy answered"));
    CHECK(std::chrono::steady_clock::now() - t0 < options.ready_timeout / 2);
}

TEST_CASE("native: a C program compiled here runs as an action", "[docker]") {
    wisp::testing::TempDir dir("wisp-docker-native-");
    {
        std::ofstream src(dir.File("action.c"));
        src << R"(#include <stdio.h>
#include <string.h>
int main(int argc, char** argv) {
    const char* arg = argc > 1 ? argv[1] : "{}";
    printf("log line from C\n");
    fprintf(stderr, "stderr line from C\n");
    const char* p = strstr(arg, "\"name\":\"");
    char name[64] = "stranger";
    if (p) { p += 8; size_t n = strcspn(p, "\""); if (n > 63) n = 63; memcpy(name, p, n); name[n] = 0; }
    printf("{\"greeting\":\"Hello %s from C\"}\n", name);
    return 0;
}
)";
    }
    std::string out;
    const std::string exe = dir.File("exec");
    int rc = Shell("cc -O2 -static -o " + exe + " " + dir.File("action.c"), &out);
    if (rc != 0) rc = Shell("cc -O2 -o " + exe + " " + dir.File("action.c"), &out);
    INFO(out);
    REQUIRE(rc == 0);
    std::ifstream in(exe, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();

    DockerContainerFactory factory(Options());
    auto created = factory.CreateDocker(D().Spec(kNative, "native_c", 128));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    auto init = c.Init(InitBody(wisp::common::Base64Encode(bytes.str()), true), 10s);
    REQUIRE(init.ok());
    INFO(init->body);
    REQUIRE(init->status == 200);
    for (const char* name : {"Wisp", "again"}) {
        auto run = c.Run(RunBody(std::string(R"({"name":")") + name + "\"}"), 10s);
        REQUIRE(run.ok());
        INFO(run->body);
        REQUIRE(run->status == 200);
        CHECK(Greeting(run->body) == std::string("Hello ") + name + " from C");
        auto logs = c.CollectLogs(2, 1 << 20, 2s);
        REQUIRE(logs.ok());
        CHECK(logs->complete);
        CHECK(Texts(*logs) ==
              std::vector<std::string>{"stderr: stderr line from C", "stdout: log line from C"});
    }
}

TEST_CASE("nodejs runs, and containers are created concurrently", "[docker]") {
    DockerContainerFactory factory(Options());
    std::vector<std::future<absl::StatusOr<std::unique_ptr<DockerContainer>>>> futures;
    for (int i = 0; i < 3; ++i) {
        futures.push_back(std::async(std::launch::async, [&factory, i] {
            return factory.CreateDocker(D().Spec(kNodejs, "node" + std::to_string(i)));
        }));
    }
    std::vector<std::unique_ptr<DockerContainer>> containers;
    for (auto& f : futures) {
        auto c = f.get();
        REQUIRE(c.ok());
        containers.push_back(std::move(*c));
    }
    const char* code =
        "function main(args) { console.log('node says hi'); "
        "return {sum: args.a + args.b}; }";
    for (auto& c : containers) {
        auto init = c->Init(InitBody(code), 10s);
        REQUIRE(init.ok());
        REQUIRE(init->status == 200);
        auto run = c->Run(RunBody(R"({"a":40,"b":2})"), 10s);
        REQUIRE(run.ok());
        CHECK(ParseDoc(run->body)["sum"].GetInt() == 42);
        auto logs = c->CollectLogs(2, 1 << 20, 2s);
        REQUIRE(logs.ok());
        CHECK(Texts(*logs) == std::vector<std::string>{"stdout: node says hi"});
    }
    // Distinct names, distinct socket folders.
    CHECK(containers[0]->name() != containers[1]->name());
    CHECK(containers[0]->socket_path() != containers[1]->socket_path());
}

TEST_CASE("a name already taken gets a unique suffix", "[docker]") {
    DockerContainerFactory factory(Options());
    const ContainerSpec spec = D().Spec(kNative, "same_name", 128);
    auto first = factory.CreateDocker(spec);
    REQUIRE(first.ok());
    auto second = factory.CreateDocker(spec);
    REQUIRE(second.ok());
    CHECK((*first)->name() == docker::SanitizeContainerName(spec.name));
    CHECK_THAT((*second)->name(), Catch::StartsWith((*first)->name() + "_"));
    CHECK((*second)->name().size() == (*first)->name().size() + 7);
}

TEST_CASE("dropping a container object removes the container", "[docker]") {
    DockerContainerFactory factory(Options());
    std::string id;
    {
        auto created = factory.Create(D().Spec(kNative, "dropped", 128));
        REQUIRE(created.ok());
        id = (*created)->id();
    }
    CHECK(D().InspectStatus(id) == 404);
}

namespace {

// Action WHO: with {"leave":true} it leaves a file in /tmp and one in its work dir, a read-only
// folder in /tmp, a child in its own session and a double-forked daemon (re-parented to the
// proxy); always answers what it sees: /tmp, its work dir, and the processes carrying the
// marker on their command line.
const char* kTraces = R"(import os, subprocess, sys
WHO = "@WHO@"
SLEEPER = [sys.executable, "-c", "import time; time.sleep(3600)  # wisp-reset-" + "marker"]
def marked():
    n = 0
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if b"wisp-reset-marker" in f.read():
                    n += 1
        except (OSError, ValueError):
            pass
    return n
def main(args):
    if args.get("leave"):
        open("/tmp/left-by-a", "w").write("a")
        open(os.path.join(os.getcwd(), "left-by-a"), "w").write("a")
        os.makedirs("/tmp/dir-by-a/sub")
        open("/tmp/dir-by-a/sub/f", "w").write("a")
        os.chmod("/tmp/dir-by-a", 0o500)
        subprocess.Popen(SLEEPER, start_new_session=True)
        r, w = os.pipe()  # close-on-exec: EOF once the daemon has exec'd
        pid = os.fork()
        if pid == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, SLEEPER)
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        os.read(r, 1)
        os.close(r)
    print("run of", WHO)
    return {"who": WHO, "tmp": sorted(os.listdir("/tmp")), "cwd": sorted(os.listdir(os.getcwd())),
            "marked": marked()}
)";

std::string Traces(const std::string& who) {
    std::string code = kTraces;
    code.replace(code.find("@WHO@"), 5, who);
    return code;
}

std::vector<std::string> Strings(const rapidjson::Value& array) {
    std::vector<std::string> out;
    for (const auto& v : array.GetArray()) out.push_back(v.GetString());
    return out;
}

bool Has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

TEST_CASE("reset: action B initialised after a reset sees no file or process of action A",
          "[docker][reset]") {
    DockerContainerFactory factory(Options());
    auto created = factory.CreateDocker(D().Spec(kPython, "reset"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    REQUIRE(c.Init(InitBody(Traces("A")), 10s)->status == 200);

    auto left = c.Run(RunBody(R"({"leave":true})"), 30s);
    REQUIRE(left.ok());
    REQUIRE(left->status == 200);
    auto a = ParseDoc(left->body);
    INFO(left->body);
    CHECK(std::string(a["who"].GetString()) == "A");
    CHECK(Has(Strings(a["tmp"]), "left-by-a"));
    CHECK(Has(Strings(a["tmp"]), "dir-by-a"));
    CHECK(Has(Strings(a["cwd"]), "left-by-a"));
    CHECK(a["marked"].GetInt() == 2);  // the session child and the re-parented daemon
    auto logs_a = c.CollectLogs(2, 1 << 20, 2s);
    REQUIRE(logs_a.ok());
    CHECK(Texts(*logs_a) == std::vector<std::string>{"stdout: run of A"});

    // Not initialised any more: a second /init is accepted, /run before it is refused.
    REQUIRE(c.Reset().ok());
    auto early = c.Run(RunBody("{}"), 10s);
    REQUIRE(early.ok());
    CHECK(early->status != 200);
    auto init_b = c.Init(InitBody(Traces("B")), 10s);
    REQUIRE(init_b.ok());
    REQUIRE(init_b->status == 200);

    auto seen = c.Run(RunBody("{}"), 30s);
    REQUIRE(seen.ok());
    REQUIRE(seen->status == 200);
    auto b = ParseDoc(seen->body);
    INFO(seen->body);
    CHECK(std::string(b["who"].GetString()) == "B");
    CHECK_FALSE(Has(Strings(b["tmp"]), "left-by-a"));
    CHECK_FALSE(Has(Strings(b["tmp"]), "dir-by-a"));
    CHECK_FALSE(Has(Strings(b["cwd"]), "left-by-a"));
    CHECK(b["marked"].GetInt() == 0);
    auto logs_b = c.CollectLogs(2, 1 << 20, 2s);
    REQUIRE(logs_b.ok());
    CHECK(Texts(*logs_b) == std::vector<std::string>{"stdout: run of B"});
    CHECK(c.Destroy().ok());
}

TEST_CASE("reset: a container never initialised resets and then serves an action",
          "[docker][reset]") {
    DockerContainerFactory factory(Options());
    auto created = factory.CreateDocker(D().Spec(kPython, "reset_fresh"));
    REQUIRE(created.ok());
    DockerContainer& c = **created;
    REQUIRE(c.Reset().ok());
    REQUIRE(c.Init(InitBody(kHelloPython), 10s)->status == 200);
    auto run = c.Run(RunBody(R"({"name":"after reset"})"), 10s);
    REQUIRE(run.ok());
    CHECK(Greeting(run->body) == "Hello after reset");
    CHECK(c.Destroy().ok());
}
