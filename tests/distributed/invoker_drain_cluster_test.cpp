// Draining an invoker with `wisp-admin invoker` in the distributed topology (label distributed):
// tools/local-cluster.sh up --controllers 1 --invokers 2 (dev Kafka broker, SQLite store,
// nginx; every invoker serves InvokerControl on its own 127.0.0.1 port with DIR/control-token).
// `invoker list` finds both from their pings; an activation running on the invoker when it is
// drained completes (its record names that invoker), `drain --wait` ends with it drained, and
// no new activation lands on it (the records' "invoker" annotation); `enable` makes it used
// again.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
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

std::vector<std::string> Words(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < s.size()) {
        size_t sp = s.find(' ', at);
        if (sp == std::string::npos) sp = s.size();
        if (sp > at) out.push_back(s.substr(at, sp - at));
        at = sp + 1;
    }
    return out;
}

std::string Script() { return std::string(WISP_SOURCE_DIR) + "/tools/local-cluster.sh"; }
std::string Admin() { return std::string(WISP_BUILD_DIR) + "/bin/wisp-admin"; }

/// The cluster: `up` in the constructor, `down` in the destructor (also after a failure).
struct LocalCluster {
    testing::TempDir dir{"wisp-drain-cluster-"};
    std::string auth;
    int controller_port = 0;
    std::vector<std::string> control_endpoints;  // by invoker
    std::string up_output;

    LocalCluster() {
        Shell up = Run(common::Cat(Quote(Script()), " up --controllers 1 --invokers 2",
                                   " --store sqlite --dir ", Quote(dir.path().string()),
                                   " --build-dir ", Quote(std::string(WISP_BUILD_DIR)),
                                   " --invoker-args '--no-stem-cells'"));
        up_output = up.output;
        INFO(up.output);
        REQUIRE(up.exit_code == 0);
        auth = LineValue(up.output, "AUTH");
        REQUIRE(!auth.empty());
        const std::string state = ReadFile(dir.File("state"));
        controller_port = std::stoi(LineValue(state, "CONTROLLER_PORTS"));
        for (const std::string& port : Words(LineValue(state, "INVOKER_CONTROL_PORTS"))) {
            control_endpoints.push_back("127.0.0.1:" + port);
        }
        REQUIRE(control_endpoints.size() == 2);
    }
    ~LocalCluster() {
        Run(common::Cat(Quote(Script()), " down --dir ", Quote(dir.path().string())));
    }
    /// wisp-admin with the cluster's environment (local-cluster.sh env).
    Shell Admin(const std::string& args) const {
        return Run(common::Cat("eval \"$(", Quote(Script()), " env --dir ",
                               Quote(dir.path().string()), ")\" && ", Quote(::Admin()), " ", args));
    }
    HttpClient Controller() const {
        return HttpClient(common::Cat("http://127.0.0.1:", controller_port), auth);
    }
    std::string Logs(const std::string& component) const {
        const std::string log = ReadFile(dir.File("logs/" + component + ".log"));
        return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
    }
};

/// The "invoker" annotation of a record, or what came back instead.
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
    "invoker drain: wisp-admin drains an invoker (in-flight work completes, no new work "
    "reaches it, status drained) and enable makes it used again",
    "[distributed][drain]") {
    LocalCluster cluster;
    INFO(cluster.up_output);
    auto http = cluster.Controller();

    // Both invokers found from their pings, with their control endpoints.
    Shell list = cluster.Admin("invoker list");
    INFO(list.output);
    REQUIRE(list.exit_code == 0);
    CHECK_THAT(list.output, Catch::Contains("invoker0") && Catch::Contains("invoker1"));
    CHECK_THAT(list.output, Catch::Contains(cluster.control_endpoints[0]) &&
                                Catch::Contains(cluster.control_endpoints[1]));

    const std::string action = "/api/v1/namespaces/_/actions/" + e2e::UniqueName("drain");
    REQUIRE(http.Put(action, R"({"exec":{"kind":"python:3.11","code":"import time\n)"
                             R"(def main(a):\n    time.sleep(a.get('s', 0))\n    return a\n"}})")
                .status == 200);
    const std::string first = InvokerOf(http.Post(action + "?blocking=true", "{}"));
    REQUIRE((first == "invoker0" || first == "invoker1"));
    const int drained = first == "invoker0" ? 0 : 1;
    const std::string drained_name = first;
    const std::string endpoint = cluster.control_endpoints[drained];

    // A slow activation on it (the action's invoker while it is healthy), then the drain.
    auto slow = http.Post(action, R"({"s":4})");
    REQUIRE(slow.status == 202);
    const std::string slow_id = e2e::ParseJson(slow.body)["activationId"].GetString();
    Shell drain = cluster.Admin("invoker drain --invoker " + endpoint);
    INFO(drain.output);
    REQUIRE(drain.exit_code == 0);
    CHECK_THAT(drain.output, Catch::Contains(drained_name));
    Shell wait = cluster.Admin("invoker drain --wait --timeout 120 --invoker " + endpoint);
    INFO(wait.output);
    REQUIRE(wait.exit_code == 0);
    CHECK_THAT(wait.output, Catch::Contains(drained_name + " (" + endpoint + "): drained"));

    // The slow one completed where it ran.
    e2e::HttpResult record;
    const auto until = std::chrono::steady_clock::now() + 60s;
    while ((record = http.Get("/api/v1/namespaces/_/activations/" + slow_id)).status != 200 &&
           std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(200ms);  // polling another process's store writes
    }
    CHECK(InvokerOf(record) == drained_name);

    // The controller saw the disabled ping (GET /invokers: not up); no new work reaches it.
    const std::string key = common::Cat("\"invoker", drained, "/", drained, "\":");
    std::string invokers;
    const auto seen_until = std::chrono::steady_clock::now() + 30s;
    while ((invokers = http.Get("/invokers").body).find(key + "\"up\"") != std::string::npos &&
           std::chrono::steady_clock::now() < seen_until) {
        std::this_thread::sleep_for(200ms);  // polling another process's state
    }
    INFO(invokers);
    REQUIRE(invokers.find(key + "\"up\"") == std::string::npos);
    for (int i = 0; i < 6; ++i) {
        auto r = http.Post(action + "?blocking=true", common::Cat(R"({"i":)", i, "}"));
        const std::string where = InvokerOf(r);
        INFO(where);
        CHECK((where == "invoker0" || where == "invoker1"));
        CHECK(where != drained_name);
    }
    Shell status = cluster.Admin("invoker status --all --json");
    INFO(status.output);
    REQUIRE(status.exit_code == 0);
    auto doc = e2e::ParseJson(status.output);
    REQUIRE(doc.IsArray());
    REQUIRE(doc.Size() == 2);
    for (const auto& inv : doc.GetArray()) {
        const bool is_drained = inv["instance"].GetInt() == drained;
        CHECK(std::string(inv["state"].GetString()) == (is_drained ? "drained" : "enabled"));
    }

    // Enable: used again once the controller sees its next ping.
    Shell enable = cluster.Admin("invoker enable --invoker " + endpoint);
    INFO(enable.output);
    REQUIRE(enable.exit_code == 0);
    CHECK_THAT(enable.output, Catch::Contains("enabled"));
    bool used_again = false;
    const auto enable_until = std::chrono::steady_clock::now() + 60s;
    while (!used_again && std::chrono::steady_clock::now() < enable_until) {
        used_again = InvokerOf(http.Post(action + "?blocking=true", "{}")) == drained_name;
        if (!used_again) std::this_thread::sleep_for(200ms);  // the next ping of another process
    }
    INFO(cluster.Logs("controller0"));
    CHECK(used_again);
}
