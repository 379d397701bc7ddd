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
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
#include <wisp/loadbalancer/sharding_placement.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "standalone_harness.hpp"

using namespace wisp;
using namespace std::chrono_literals;
using e2e::HttpClient;
using Clock = std::chrono::steady_clock;

namespace {

struct Shell {
    int exit_code = -1;
    std::string output;
};

Shell Run(const std::string& command) {
    Shell r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string Quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// The value of the last `NAME=value` line of `text` ("" if none), %q escapes removed.
std::string LineValue(const std::string& text, const std::string& name) {
    std::string value;
    size_t at = 0;
    while (at < text.size()) {
        size_t eol = text.find('\n', at);
        if (eol == std::string::npos) eol = text.size();
        const std::string line = text.substr(at, eol - at);
        if (line.rfind(name + "=", 0) == 0) value = line.substr(name.size() + 1);
        at = eol + 1;
    }
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        unescaped += value[i];
    }
    return unescaped;
}

std::string ReadFile(const std::string& path) {
    std::string out;
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) return out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
    return out;
}

bool WriteFile(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
}

std::string Script() { return std::string(WISP_SOURCE_DIR) + "/tools/local-cluster.sh"; }
std::string Act(const std::string& path) { return "/api/v1/namespaces/_/" + path; }

/// The cluster: `up` in the constructor, `down` in the destructor (also after a failure).
/// 2 controllers with the throttles out of the way, `invokers` invokers without stem cells.
struct LocalCluster {
    testing::TempDir dir{"wisp-faults-cluster-"};
    std::string auth;
    std::string apihost;
    std::vector<int> controller_ports;
    std::string up_output;

    explicit LocalCluster(int invokers) {
        Shell up = Run(common::Cat(
            Quote(Script()), " up --controllers 2 --invokers ", invokers, " --store sqlite",
            " --dir ", Quote(dir.path().string()), " --build-dir ",
            Quote(std::string(WISP_BUILD_DIR)), " --invoker-args '--no-stem-cells'",
            " --controller-args '--invocations-per-minute 100000 --concurrent-invocations 1000'"));
        up_output = up.output;
        INFO(up.output);
        REQUIRE(up.exit_code == 0);
        auth = LineValue(up.output, "AUTH");
        apihost = LineValue(up.output, "APIHOST");
        REQUIRE(!auth.empty());
        REQUIRE(apihost.rfind("https://127.0.0.1:", 0) == 0);
        const std::string ports = LineValue(ReadFile(dir.File("state")), "CONTROLLER_PORTS");
        size_t at = 0;
        while (at < ports.size()) {
            size_t sp = ports.find(' ', at);
            if (sp == std::string::npos) sp = ports.size();
            if (sp > at) controller_ports.push_back(std::stoi(ports.substr(at, sp - at)));
            at = sp + 1;
        }
        REQUIRE(controller_ports.size() == 2);
    }
    ~LocalCluster() {
        Run(common::Cat(Quote(Script()), " down --dir ", Quote(dir.path().string())));
    }
    Shell Do(const std::string& args) const {
        return Run(common::Cat(Quote(Script()), " ", args, " --dir ", Quote(dir.path().string())));
    }
    HttpClient Controller(int i) const {
        return HttpClient(common::Cat("http://127.0.0.1:", controller_ports[i]), auth);
    }
    HttpClient Nginx() const { return HttpClient(apihost, auth); }
    std::string Logs(const std::string& component) const {
        const std::string log = ReadFile(dir.File("logs/" + component + ".log"));
        return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
    }
};

/// Polls GET `path` on the controllers in `which` until each answers `want`; true within
/// `timeout`.
bool AllSay(const LocalCluster& c, const std::vector<int>& which, const std::string& path,
            const std::string& want, std::chrono::seconds timeout) {
    const auto until = Clock::now() + timeout;
    for (int i : which) {
        auto http = c.Controller(i);
        std::string body;
        while ((body = http.Get(path).body) != want) {
            if (Clock::now() > until) {
                UNSCOPED_INFO("controller" << i << " " << path << ": " << body);
                return false;
            }
            std::this_thread::sleep_for(200ms);  // polling other processes' state
        }
    }
    return true;
}

std::string Invokers(const std::vector<std::string>& states) {
    std::string out = "{";
    for (size_t i = 0; i < states.size(); ++i) {
        out += common::Cat(i ? "," : "", "\"invoker", i, "/", i, "\":\"", states[i], "\"");
    }
    return out + "}";
}

/// The "invoker" annotation of a record (a blocking invoke's answer), or what came back.
std::string InvokerOf(const e2e::HttpResult& r) {
    if (r.status != 200) return r.Describe();
    auto doc = e2e::ParseJson(r.body);
    if (!doc.IsObject() || !doc.HasMember("annotations") || !doc["annotations"].IsArray()) {
        return r.Describe();
    }
    for (const auto& a : doc["annotations"].GetArray()) {
        if (a.HasMember("key") && a["key"] == "invoker" && a["value"].IsString()) {
            return a["value"].GetString();
        }
    }
    return r.Describe();
}

/// GET activations/<id> until it answers 200 or `deadline` passes.
e2e::HttpResult WaitForRecord(const HttpClient& http, const std::string& id,
                              Clock::time_point deadline) {
    e2e::HttpResult r;
    for (;;) {
        r = http.Get(Act("activations/" + id));
        if (r.status == 200 || Clock::now() > deadline) return r;
        std::this_thread::sleep_for(250ms);  // polling other processes' store writes
    }
}

/// Every id in `ids` has exactly one record among the activations of `action` (as
/// cluster_e2e_test counts them: a second record of one id would be listed twice).
void CheckExactlyOneRecordEach(const HttpClient& http, const std::string& action,
                               const std::vector<std::string>& ids, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    int missing = 0;
    std::string problems;
    for (const auto& id : ids) {
        auto r = WaitForRecord(http, id, deadline);
        if (r.status != 200) {
            ++missing;
            problems += common::Cat("no record for ", id, ": ", r.Describe(), "\n");
        }
    }
    std::map<std::string, int> listed;
    for (int skip = 0;; skip += 200) {
        auto r = http.Get(Act(common::Cat("activations?name=", action, "&limit=200&skip=", skip)));
        REQUIRE(r.status == 200);
        auto doc = e2e::ParseJson(r.body);
        REQUIRE(doc.IsArray());
        for (const auto& a : doc.GetArray()) {
            auto id = e2e::GetString(a, "activationId");
            if (id) ++listed[*id];
        }
        if (doc.Size() < 200) break;
    }
    int duplicated = 0;
    int unlisted = 0;
    for (const auto& id : ids) {
        if (listed[id] > 1) {
            ++duplicated;
            problems += common::Cat(id, " has ", listed[id], " records\n");
        } else if (listed[id] == 0) {
            ++unlisted;
            problems += common::Cat(id, " is not listed\n");
        }
    }
    WARN(ids.size() << " accepted activations of " << action << ": " << missing
                    << " without a record, " << duplicated << " with more than one");
    INFO(problems);
    CHECK(missing == 0);
    CHECK(unlisted == 0);
    CHECK(duplicated == 0);
}

/// One invoke sent by the load: where to, when it started, what came back.
struct Sent {
    int target = 0;  // 0, 1: controller i directly; 2: nginx
    bool blocking = false;
    Clock::time_point started;
    int status = 0;
    std::string describe;
};

constexpr int kNginx = 2;

/// Client threads invoking `action` at both controllers and through nginx: per target one
/// blocking and one non-blocking thread. Every id answered with 200/202 is kept.
class Load {
  public:
    Load(const LocalCluster& cluster, const std::string& action) {
        for (int target = 0; target < 3; ++target) {
            for (const bool blocking : {true, false}) {
                workers_.emplace_back([this, &cluster, action, target, blocking] {
                    const HttpClient c =
                        target == kNginx ? cluster.Nginx() : cluster.Controller(target);
                    for (int i = 0; !stop_.load(); ++i) {
                        Sent s{target, blocking, Clock::now(), 0, ""};
                        const auto s_started = s.started;
                        e2e::HttpRequestSpec spec;
                        spec.method = "POST";
                        spec.path = Act("actions/" + action) +
                                    (blocking ? "?blocking=true" : "?blocking=false");
                        spec.body = common::Cat(R"({"t":)", target, R"(,"n":)", i, "}");
                        spec.auth = c.auth();
                        auto r = c.Send(spec);
                        s.status = r.status;
                        if (r.status != 200 && r.status != 202) s.describe = r.Describe();
                        std::optional<std::string> id;
                        if (r.status == 200 || r.status == 202) {
                            id = e2e::GetString(e2e::ParseJson(r.body), "activationId");
                        }
                        {
                            std::lock_guard<std::mutex> lock(mu_);
                            if (id) ids_.push_back(*id);
                            sent_.push_back(std::move(s));
                        }
                        // A steady rate (at most 5/s per thread, 30/s in all): a non-blocking
                        // client would otherwise outrun the invokers, and a refused connection
                        // (the killed controller) answers at once.
                        std::this_thread::sleep_until(s_started + 200ms);
                    }
                });
            }
        }
    }
    ~Load() { Stop(); }
    void Stop() {
        stop_ = true;
        for (auto& w : workers_) {
            if (w.joinable()) w.join();
        }
    }
    /// Waits (up to `timeout`) until `pred(sent)` holds for the invokes sent so far.
    template <class Pred>
    bool WaitFor(Pred pred, std::chrono::seconds timeout) {
        const auto until = Clock::now() + timeout;
        for (;;) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (pred(sent_)) return true;
            }
            if (Clock::now() > until) return false;
            std::this_thread::sleep_for(50ms);  // the workers are other threads' HTTP calls
        }
    }
    std::vector<std::string> ids() {
        std::lock_guard<std::mutex> lock(mu_);
        return ids_;
    }
    std::vector<Sent> sent() {
        std::lock_guard<std::mutex> lock(mu_);
        return sent_;
    }

  private:
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::vector<std::string> ids_;
    std::vector<Sent> sent_;
    std::vector<std::thread> workers_;
};

bool Accepted(const Sent& s) { return s.status == 200 || s.status == 202; }

/// Counts the invokes of `target` started after `from` (and how many of them were accepted).
std::pair<int, int> CountAfter(const std::vector<Sent>& sent, int target, Clock::time_point from) {
    int all = 0;
    int ok = 0;
    for (const auto& s : sent) {
        if (s.target != target || s.started < from) continue;
        ++all;
        if (Accepted(s)) ++ok;
    }
    return {all, ok};
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
        Shell s = Run(common::Cat("python3 ", Quote(script), " ", Quote(socket), " ", Quote(log),
                                  " </dev/null >", Quote(dir.File("fake-docker.out")),
                                  " 2>&1 & echo $!"));
        REQUIRE(s.exit_code == 0);
        pid = std::stoi(s.output);
        const auto until = Clock::now() + 60s;
        while (Run(common::Cat("curl -fsS --unix-socket ", Quote(socket),
                               " http://localhost/v1.41/_ping"))
                   .output != "OK") {
            INFO(ReadFile(dir.File("fake-docker.out")));
            REQUIRE(Clock::now() < until);
            std::this_thread::sleep_for(100ms);  // another process starting
        }
    }
    ~FakeDocker() {
        if (pid > 0) Run(common::Cat("kill ", pid));
    }
    int Count(const std::string& request) const {
        const std::string text = ReadFile(log);
        int n = 0;
        for (size_t at = 0; (at = text.find(request + "\n", at)) != std::string::npos; ++at) ++n;
        return n;
    }
};

/// A name "<prefix>-<k>" whose sharding home among `n` invokers is `invoker` (guest namespace).
std::string NameWithHome(const std::string& prefix, int invoker, int n) {
    loadbalancer::ShardingPlacement placement(std::vector<int64_t>(n, 1));
    for (int k = 0;; ++k) {
        std::string name = common::Cat(prefix, "-", k);
        const uint32_t hash = loadbalancer::ShardingHash("guest", "guest/" + name);
        if (placement.ProbeOrder(hash, false)[0] == invoker) return name;
    }
}

constexpr const char* kEcho =
    R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})";

}  // namespace

TEST_CASE(
    "cluster faults: kill -9 of a controller under load: its clients see errors, nginx keeps "
    "serving through the other one, every accepted id ends with one record",
    "[distributed][faults][controller-kill]") {
    LocalCluster cluster(2);
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
            int ok[3] = {0, 0, 0};
            for (const auto& s : sent) ok[s.target] += Accepted(s) ? 1 : 0;
            return ok[0] >= 15 && ok[1] >= 15 && ok[kNginx] >= 15;
        },
        180s));

    Shell kill = cluster.Do("kill controller0 --signal KILL");
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
    LocalCluster cluster(2);
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up"}), 120s));

    // invoker1 stopped, seen down (no pings), then started on the fake Docker Engine.
    REQUIRE(cluster.Do("kill invoker1 --signal TERM").exit_code == 0);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "down"}), 120s));
    FakeDocker docker(cluster.dir);
    Shell start = cluster.Do(
        common::Cat("start invoker1 --extra-args ", Quote("--docker-socket " + docker.socket)));
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
