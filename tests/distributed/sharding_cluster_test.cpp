// The sharding balancer in the distributed topology (label distributed): tools/local-cluster.sh
// up --controllers 2 --invokers 3 (dev Kafka broker, SQLite store, nginx). Both controllers see
// the 3 invokers "up" (GET /invokers, /invokers/healthy/count); blocking invokes of one action
// through both controllers all run on its home invoker (the records' "invoker" annotation);
// with the home invoker killed (-9) it is "down" on both controllers and the work goes to the
// step invoker; started again, it is up and used again.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;

TEST_CASE(
    "sharding cluster: an action runs on its home invoker, on the step invoker while the "
    "home one is down, and home again once it is back",
    "[distributed][sharding]") {
    LocalCluster cluster({.controllers = 2, .invokers = 3, .dir_prefix = "wisp-sharding-cluster-"});
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up", "up"}), 120s));
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers/healthy/count", "3", 10s));

    const std::string name = e2e::UniqueName("home");
    const std::string action = "/api/v1/namespaces/_/actions/" + name;
    auto c0 = cluster.Controller(0);
    auto c1 = cluster.Controller(1);
    REQUIRE(
        c0.Put(action, R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})")
            .status == 200);
    // 3 invokers: all managed; home and step as ShardingPlacement computes them.
    const auto order = ShardingOrder(name, 3);
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
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers(states), 60s));
    const auto down_after = std::chrono::steady_clock::now() - killed;
    CHECK(down_after < 15s);
    CHECK(AllSay(cluster, {0, 1}, "/invokers/healthy/count", "2", 10s));
    for (int i = 0; i < 4; ++i) {
        const HttpClient& c = i % 2 ? c1 : c0;
        auto r = c.Post(action + "?blocking=true", common::Cat(R"({"j":)", i, "}"));
        CHECK(InvokerOf(r) == common::Cat("invoker", step));
    }

    // Started again (it takes its id over after the claim lease): up, and home again.
    REQUIRE(cluster.Do(common::Cat("start invoker", home)).exit_code == 0);
    {
        INFO(cluster.Logs(home_name));
        REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up", "up"}), 120s));
    }
    for (int i = 0; i < 4; ++i) {
        const HttpClient& c = i % 2 ? c1 : c0;
        auto r = c.Post(action + "?blocking=true", common::Cat(R"({"k":)", i, "}"));
        CHECK(InvokerOf(r) == home_name);
    }
}
