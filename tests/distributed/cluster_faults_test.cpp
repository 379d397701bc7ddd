// Faults in the distributed topology (label distributed), with tools/local-cluster.sh (dev Kafka
// broker, SQLite store, nginx in front of the controllers):
// - kill -9 of one controller under a mix of blocking and non-blocking invokes sent straight to
//   each controller and through nginx: its clients see errors, nginx keeps serving through the
//   other one (proxy_next_upstream on connection errors), and every activation id any controller
//   answered 200/202 with ends with exactly one record.
// - an invoker whose containers all fail to start (its --docker-socket is a fake Docker Engine
//   API in this process's temp dir: /_ping, images and networks answer like Docker, every
//   container create answers 500) is marked unhealthy by the health test action and gets no
//   work: invokes of actions of either home all run on the other invoker.
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// 2 controllers with the throttles out of the way, `invokers` invokers without stem cells.
LocalClusterOptions FaultsCluster(int invokers) {
    return {.controllers = 2,
            .invokers = invokers,
            .controller_args = "--invocations-per-minute 100000 --concurrent-invocations 1000",
            .dir_prefix = "wisp-faults-cluster-"};
}

// The fake Docker Engine API: enough for wisp-invoker to start (ping, version, the runtime
// images, the action network, no leftover containers), and 500 with Docker's error shape to
// every container create. Each request is appended to the log file (argv[2]).
constexpr const char* kFakeDocker = R"PY(
import json, os, socketserver, sys
from http.server import BaseHTTPRequestHandler

sock, log = sys.argv[1], sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain" if isinstance(body, bytes)
                         else "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        path = self.path.split("?")[0]
        parts = path.split("/")
        if len(parts) > 1 and parts[1].startswith("v1."):
            path = "/" + "/".join(parts[2:])
        with open(log, "a") as f:
            f.write(method + " " + path + "\n")
        if path == "/_ping":
            return self.reply(200, b"OK")
        if path == "/version":
            return self.reply(200, {"ApiVersion": "1.41", "Version": "fake"})
        if method == "GET" and path.startswith("/images/"):
            return self.reply(200, {"Id": "sha256:fake",
                                    "Config": {"Env": ["WISP_PROXY_KIND=fake"]}})
        if method == "GET" and path == "/containers/json":
            return self.reply(200, [])
        if method == "GET" and path.startswith("/networks/"):
            return self.reply(200, {"Name": path[len("/networks/"):], "Options": {
                "com.docker.network.bridge.enable_icc": "false"}})
        if method == "POST" and path == "/networks/create":
            return self.reply(201, {"Id": "fake"})
        if method == "POST" and path == "/containers/create":
            return self.reply(500, {"message": "fake Docker Engine: no container can start"})
        return self.reply(404, {"message": "fake Docker Engine: no such object: " + path})

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def do_HEAD(self):
        self.route("HEAD")

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

if os.path.exists(sock):
    os.unlink(sock)
Server(sock, Handler).serve_forever()
)PY";

/// The fake Docker Engine as a python3 process of this test (stopped by its pid).
struct FakeDocker {
    std::string socket;
    std::string log;
    int pid = 0;

    explicit FakeDocker(const testing::TempDir& dir) {
        socket = dir.File("fake-docker.sock");
        log = dir.File("fake-docker.log");
        const std::string script = dir.File("fake_docker.py");
        REQUIRE(WriteFile(script, kFakeDocker));
        CommandResult s = RunShell(common::Cat(
            "python3 ", ShellQuote(script), " ", ShellQuote(socket), " ", ShellQuote(log),
            " </dev/null >", ShellQuote(dir.File("fake-docker.out")), " 2>&1 & echo $!"));
        REQUIRE(s.exit_code == 0);
        pid = std::stoi(s.output);
        const auto until = Clock::now() + 60s;
        while (RunShell(common::Cat("curl -fsS --unix-socket ", ShellQuote(socket),
                                    " http://localhost/v1.41/_ping"))
                   .output != "OK") {
            INFO(ReadFile(dir.File("fake-docker.out")));
            REQUIRE(Clock::now() < until);
            std::this_thread::sleep_for(100ms);  // another process starting
        }
    }
    ~FakeDocker() {
        if (pid > 0) RunShell(common::Cat("kill ", pid));
    }
    int Count(const std::string& request) const {
        const std::string text = ReadFile(log);
        int n = 0;
        for (size_t at = 0; (at = text.find(request + "\n", at)) != std::string::npos; ++at) ++n;
        return n;
    }
};

constexpr const char* kEcho =
    R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})";

}  // namespace

TEST_CASE(
    "cluster faults: kill -9 of a controller under load: its clients see errors, nginx keeps "
    "serving through the other one, every accepted id ends with one record",
    "[distributed][faults][controller-kill]") {
    LocalCluster cluster(FaultsCluster(2));
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up"}), 120s));

    const std::string name = e2e::UniqueName("ctrlkill");
    REQUIRE(cluster.Controller(0).Put(Act("actions/" + name), kEcho).status == 200);
    // Warm: a container on the action's invoker, and the action in both controllers' caches.
    for (int i = 0; i < 2; ++i) {
        auto r = cluster.Controller(i).Post(Act("actions/" + name) + "?blocking=true", "{}");
        INFO(r.Describe());
        REQUIRE(r.status == 200);
    }

    Load load(cluster, name);
    // Some accepted on every path before the kill (controller 0's non-blocking ones among them).
    REQUIRE(load.WaitFor(
        [](const std::vector<Sent>& sent) {
            std::map<int, int> ok;
            for (const auto& s : sent) ok[s.target] += Accepted(s) ? 1 : 0;
            return ok[0] >= 15 && ok[1] >= 15 && ok[kNginx] >= 15;
        },
        180s));

    CommandResult kill = cluster.Do("kill controller0 --signal KILL");
    INFO(kill.output);
    REQUIRE(kill.exit_code == 0);
    const auto killed = Clock::now();
    const auto settled = killed + 3s;

    // Controller 1 and nginx keep accepting: wait for 30 accepted through each, started more
    // than 3 s after the kill (about 6 s of load after it), and for a few of controller 0's
    // failures.
    const bool served = load.WaitFor(
        [&](const std::vector<Sent>& sent) {
            return CountAfter(sent, 1, settled).second >= 30 &&
                   CountAfter(sent, kNginx, settled).second >= 30 &&
                   CountAfter(sent, 0, killed).first >= 4;
        },
        240s);
    load.Stop();
    const auto sent = load.sent();
    const auto ids = load.ids();
    std::string failures;
    int failed = 0;
    for (const auto& s : sent) {
        if (!Accepted(s) && s.target != 0 && ++failed <= 20) {
            failures += common::Cat(
                s.target == kNginx ? "nginx" : "controller1",
                s.blocking ? " blocking" : " non-blocking", " at ",
                std::chrono::duration_cast<std::chrono::milliseconds>(s.started - killed).count(),
                " ms after the kill: ", s.describe, "\n");
        }
    }
    INFO(failed << " invokes through controller1 or nginx not accepted; the first ones:\n"
                << failures);
    INFO(cluster.Logs("controller1"));
    CHECK(served);

    // Controller 0's clients: nothing accepted after the kill.
    const auto [c0_after, c0_ok_after] = CountAfter(sent, 0, killed);
    CHECK(c0_after >= 1);
    CHECK(c0_ok_after == 0);
    // Controller 1 and nginx: everything started 3 s after the kill accepted.
    const auto [c1_after, c1_ok_after] = CountAfter(sent, 1, settled);
    const auto [nginx_after, nginx_ok_after] = CountAfter(sent, kNginx, settled);
    CHECK(c1_after >= 30);
    CHECK(c1_ok_after == c1_after);
    CHECK(nginx_after >= 30);
    CHECK(nginx_ok_after == nginx_after);
    WARN(sent.size() << " invokes, " << ids.size() << " accepted; after the kill controller0 "
                     << c0_after << " sent, controller1 " << c1_ok_after << "/" << c1_after
                     << " and nginx " << nginx_ok_after << "/" << nginx_after
                     << " accepted (from 3 s on)");

    // Every accepted id (controller 0's included) ends with exactly one record.
    CheckExactlyOneRecordEach(cluster.Controller(1), name, ids, 300s);
}

TEST_CASE(
    "cluster faults: an invoker whose containers all fail to start is unhealthy after the "
    "test action and gets no work",
    "[distributed][faults][unhealthy]") {
    LocalCluster cluster(FaultsCluster(2));
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up"}), 120s));

    // invoker1 stopped, seen down (no pings), then started on the fake Docker Engine.
    REQUIRE(cluster.Do("kill invoker1 --signal TERM").exit_code == 0);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "down"}), 120s));
    FakeDocker docker(cluster.dir);
    CommandResult start = cluster.Do(common::Cat("start invoker1 --extra-args ",
                                                 ShellQuote("--docker-socket " + docker.socket)));
    INFO(start.output);
    INFO(cluster.Logs("invoker1"));
    REQUIRE(start.exit_code == 0);

    // Its pings make it unhealthy; the controllers' test actions reach it and fail to create a
    // container: it stays unhealthy (never up).
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "unhealthy"}), 120s));
    const auto until = Clock::now() + 120s;
    while (docker.Count("POST /containers/create") < 1 && Clock::now() < until) {
        std::this_thread::sleep_for(200ms);  // the test action travels through the bus
    }
    INFO(ReadFile(docker.log));
    REQUIRE(docker.Count("POST /containers/create") >= 1);
    CHECK(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "unhealthy"}), 10s));
    CHECK(AllSay(cluster, {0, 1}, "/invokers/healthy/count", "1", 10s));

    // Actions of both homes: all run on invoker0 and succeed.
    std::vector<std::string> actions;
    for (int home : {0, 1, 1, 0, 1}) {
        actions.push_back(NameWithHome(e2e::UniqueName(common::Cat("home", home)), home, 2));
    }
    for (const auto& a : actions) {
        REQUIRE(cluster.Controller(0).Put(Act("actions/" + a), kEcho).status == 200);
    }
    const int creates_before = docker.Count("POST /containers/create");
    int n = 0;
    for (int round = 0; round < 2; ++round) {
        for (const auto& a : actions) {
            const HttpClient c = cluster.Controller(n++ % 2);
            auto r =
                c.Post(Act("actions/" + a) + "?blocking=true", common::Cat(R"({"n":)", n, "}"));
            INFO(a << ": " << r.Describe());
            CHECK(r.status == 200);
            CHECK(e2e::GetBool(e2e::ParseJson(r.body), "response.success") == true);
            CHECK(InvokerOf(r) == "invoker0");
        }
    }
    // Still unhealthy on both; its Docker saw no more than the test actions' creates (each
    // controller resends its test action at most once a minute).
    CHECK(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "unhealthy"}), 10s));
    CHECK(docker.Count("POST /containers/create") <= creates_before + 4);
}
