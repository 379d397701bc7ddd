// Draining an invoker with `wisp-admin invoker` in the distributed topology (label distributed):
// tools/local-cluster.sh up --controllers 1 --invokers 2 (dev Kafka broker, SQLite store,
// nginx; every invoker serves InvokerControl on its own 127.0.0.1 port with DIR/control-token).
// `invoker list` finds both from their pings; an activation running on the invoker when it is
// drained completes (its record names that invoker), `drain --wait` ends with it drained, and
// no new activation lands on it (the records' "invoker" annotation); `enable` makes it used
// again.
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;

TEST_CASE(
    "invoker drain: wisp-admin drains an invoker (in-flight work completes, no new work "
    "reaches it, status drained) and enable makes it used again",
    "[distributed][drain]") {
    LocalCluster cluster({.controllers = 1, .invokers = 2, .dir_prefix = "wisp-drain-cluster-"});
    INFO(cluster.up_output);
    auto http = cluster.Controller();

    // Both invokers found from their pings, with their control endpoints.
    CommandResult list = cluster.Admin("invoker list");
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
    CommandResult drain = cluster.Admin("invoker drain --invoker " + endpoint);
    INFO(drain.output);
    REQUIRE(drain.exit_code == 0);
    CHECK_THAT(drain.output, Catch::Contains(drained_name));
    CommandResult wait = cluster.Admin("invoker drain --wait --timeout 120 --invoker " + endpoint);
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
    CommandResult status = cluster.Admin("invoker status --all --json");
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
    CommandResult enable = cluster.Admin("invoker enable --invoker " + endpoint);
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
