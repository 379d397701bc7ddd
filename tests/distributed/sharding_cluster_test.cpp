// The sharding balancer in the distributed topology (label distributed): tools/local-cluster.sh
// up --controllers 2 --invokers 3 (dev Kafka broker, SQLite store, nginx). Both controllers see
// the 3 invokers "up" (GET /invokers, /invokers/healthy/count); blocking invokes of one action
// through both controllers all run on its home invoker (the records' "invoker" annotation);
// with the home invoker killed (-9) it is "down" on both controllers and the work goes to the
// step invoker; started again, it is up and used again.
#include <cstdio>
#include <filesystem>
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

std::string BuildDir() { return WISP_BUILD_DIR; }
std::string Script() { return std::string(WISP_SOURCE_DIR) + "/tools/local-cluster.sh"; }

/// The cluster: `up` in the constructor, `down` in the destructor (also after a failure).
struct LocalCluster {
    testing::TempDir dir{"wisp-sharding-cluster-"};
    std::string auth;
    std::vector<int> controller_ports;
    std::string up_output;

    LocalCluster() {
        Shell up =
            Run(common::Cat(Quote(Script()), " up --controllers 2 --invokers 3 --store sqlite",
                            " --dir ", Quote(dir.path().string()), " --build-dir ",
                            Quote(BuildDir()), " --invoker-args '--no-stem-cells'"));
        up_output = up.output;
        INFO(up.output);
        REQUIRE(up.exit_code == 0);
        auth = LineValue(up.output, "AUTH");
        REQUIRE(!auth.empty());
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
    std::string Logs(const std::string& component) const {
        const std::string log = ReadFile(dir.File("logs/" + component + ".log"));
        return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
    }
};

/// Polls GET `path` on both controllers until each answers `want`; true within `timeout`.
bool BothSay(const LocalCluster& c, const std::string& path, const std::string& want,
             std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (int i = 0; i < 2; ++i) {
        auto http = c.Controller(i);
        std::string body;
        while ((body = http.Get(path).body) != want) {
            if (std::chrono::steady_clock::now() > until) {
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

/// The "invoker" annotation of a blocking invoke's answer (the whole record), or the answer.
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

}  // namespace

TEST_CASE(
    "sharding cluster: an action runs on its home invoker, on the step invoker while the "
    "home one is down, and home again once it is back",
    "[distributed][sharding]") {
    LocalCluster cluster;
    INFO(cluster.up_output);
    REQUIRE(BothSay(cluster, "/invokers", Invokers({"up", "up", "up"}), 120s));
    REQUIRE(BothSay(cluster, "/invokers/healthy/count", "3", 10s));

    const std::string name = e2e::UniqueName("home");
    const std::string action = "/api/v1/namespaces/_/actions/" + name;
    auto c0 = cluster.Controller(0);
    auto c1 = cluster.Controller(1);
    REQUIRE(
        c0.Put(action, R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})")
            .status == 200);
    // 3 invokers: all managed; home and step as ShardingPlacement computes them.
    loadbalancer::ShardingPlacement placement(std::vector<int64_t>(3, 1));
    const auto order = placement.ProbeOrder(loadbalancer::ShardingHash("guest", "guest/" + name),
                                            /*blackbox=*/false);
    const int home = order[0];
    const int step = order[1];
    const std::string home_name = common::Cat("invoker", home);
    INFO("home " << home << ", step " << step);

    for (int i = 0; i < 8; ++i) {
        const HttpClient& c = i % 2 ? c1 : c0;
        auto r = c.Post(action + "?blocking=true", common::Cat(R"({"i":)", i, "}"));
        CHECK(InvokerOf(r) == home_name);
    }

    // kill -9 the home invoker: down on both controllers within the ping timeout (10 s) plus
    // the bus; its work goes to the step invoker.
    REQUIRE(cluster.Do(common::Cat("kill invoker", home, " --signal KILL")).exit_code == 0);
    const auto killed = std::chrono::steady_clock::now();
    std::vector<std::string> states = {"up", "up", "up"};
    states[home] = "down";
    REQUIRE(BothSay(cluster, "/invokers", Invokers(states), 60s));
    const auto down_after = std::chrono::steady_clock::now() - killed;
    CHECK(down_after < 15s);
    CHECK(BothSay(cluster, "/invokers/healthy/count", "2", 10s));
    for (int i = 0; i < 4; ++i) {
        const HttpClient& c = i % 2 ? c1 : c0;
        auto r = c.Post(action + "?blocking=true", common::Cat(R"({"j":)", i, "}"));
        CHECK(InvokerOf(r) == common::Cat("invoker", step));
    }

    // Started again (it takes its id over after the claim lease): up, and home again.
    REQUIRE(cluster.Do(common::Cat("start invoker", home)).exit_code == 0);
    {
        INFO(cluster.Logs(home_name));
        REQUIRE(BothSay(cluster, "/invokers", Invokers({"up", "up", "up"}), 120s));
    }
    for (int i = 0; i < 4; ++i) {
        const HttpClient& c = i % 2 ? c1 : c0;
        auto r = c.Post(action + "?blocking=true", common::Cat(R"({"k":)", i, "}"));
        CHECK(InvokerOf(r) == home_name);
    }
}
