// Keep-warm in the distributed topology (label distributed): tools/local-cluster.sh up
// --controllers 2 --invokers 2 with the pool's timers and the keep-warm refresh shortened by
// hidden flags. The action's home invoker holds its kept container (the next invoke runs there,
// warm); with the home invoker killed (-9) the duty moves to the step invoker, which creates and
// initialises one (the next invoke runs there, warm); started again, the home invoker holds it
// again. Waits on `docker ps` by the pool's wisp.keep-warm label, never on fixed sleeps.
#include <algorithm>
#include <chrono>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

struct Kept {
    std::string id;
    std::string invoker;  // the container's wisp.invoker label
    bool paused = false;
};

/// The running (or paused) containers labelled wisp.keep-warm=<label>.
std::vector<Kept> KeptContainers(const std::string& label) {
    auto r =
        RunShell("docker ps --no-trunc --filter " + ShellQuote("label=wisp.keep-warm=" + label) +
                 " --format '{{.ID}} {{.Label \"wisp.invoker\"}} {{.Status}}'");
    std::vector<Kept> out;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        auto words = Words(line);
        if (words.size() < 2) continue;
        out.push_back({words[0], words[1], line.find("(Paused)") != std::string::npos});
    }
    return out;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(250ms);  // polling docker ps
    }
    return true;
}

/// A kept container, idle (paused), not in `seen` and on an invoker other than `not_on` (a
/// wisp.invoker label; "" = any); it is added to `seen`.
Kept WaitForKept(const std::string& label, const std::string& not_on,
                 std::vector<std::string>& seen) {
    Kept found;
    const bool ok = WaitFor(
        [&] {
            for (const auto& k : KeptContainers(label)) {
                if (!k.paused || k.invoker == not_on) continue;
                if (std::find(seen.begin(), seen.end(), k.id) != seen.end()) continue;
                found = k;
                return true;
            }
            return false;
        },
        180s);
    REQUIRE(ok);
    seen.push_back(found.id);
    return found;
}

bool HasInitTime(const HttpResult& r) {
    auto d = ParseJson(r.body);
    return d.IsObject() && d.HasMember("annotations") &&
           KeyValue(d["annotations"], "initTime") != nullptr;
}

}  // namespace

TEST_CASE(
    "keep-warm cluster: the home invoker holds the kept container; after its kill -9 the step "
    "invoker does, and the home invoker again once it is back",
    "[distributed][keep-warm]") {
    const auto started = std::chrono::steady_clock::now();
    LocalCluster cluster({.controllers = 2,
                          .invokers = 2,
                          .controller_args = "--keep-warm-refresh-ms 1000",
                          .invoker_args = "--no-stem-cells --pause-grace-ms 500 "
                                          "--idle-timeout-ms 3000 --keep-warm-check-ms 500",
                          .dir_prefix = "wisp-keep-warm-cluster-"});
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up"}), 120s));

    const std::string name = NameWithHome(e2e::UniqueName("kw"), 0, 2);
    const auto order = ShardingOrder(name, 2);
    const int home = order[0];
    const int step = order[1];
    const std::string label = "guest/" + name;
    const std::string action = Act("actions/" + name);
    auto c0 = cluster.Controller(0);
    auto c1 = cluster.Controller(1);
    REQUIRE(c0.Put(action,
                   R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"},)"
                   R"("annotations":[{"key":"keep-warm","value":1}]})")
                .status == 200);

    // Created and initialised on the home invoker before any invoke; the invoke runs there, warm.
    std::vector<std::string> seen;
    const std::string home_label = WaitForKept(label, "", seen).invoker;
    auto r = c1.Post(action + "?blocking=true", "{}");
    CHECK(InvokerOf(r) == common::Cat("invoker", home));
    CHECK_FALSE(HasInitTime(r));

    // kill -9 of the home invoker: once the controllers see it down, the refresh sends the
    // order to the step invoker, which makes its own kept container.
    REQUIRE(cluster.Do(common::Cat("kill invoker", home, " --signal KILL")).exit_code == 0);
    std::vector<std::string> states = {"up", "up"};
    states[home] = "down";
    REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers(states), 60s));
    const std::string step_label = WaitForKept(label, home_label, seen).invoker;
    r = c0.Post(action + "?blocking=true", "{}");
    CHECK(InvokerOf(r) == common::Cat("invoker", step));
    CHECK_FALSE(HasInitTime(r));

    // Back: its orphans removed at start, the home invoker gets the orders (and the container)
    // again.
    REQUIRE(cluster.Do(common::Cat("start invoker", home)).exit_code == 0);
    {
        INFO(cluster.Logs(common::Cat("invoker", home)));
        REQUIRE(AllSay(cluster, {0, 1}, "/invokers", Invokers({"up", "up"}), 120s));
    }
    CHECK(WaitForKept(label, step_label, seen).invoker == home_label);
    r = c1.Post(action + "?blocking=true", "{}");
    CHECK(InvokerOf(r) == common::Cat("invoker", home));
    CHECK_FALSE(HasInitTime(r));

    WARN("keep-warm cluster test took " << std::chrono::duration_cast<std::chrono::seconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count()
                                        << " s");
}
