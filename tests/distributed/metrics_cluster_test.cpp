// Metrics of the distributed topology (label distributed): tools/local-cluster.sh up with 1
// wisp-controller and 1 wisp-invoker (--metrics-listen 127.0.0.1:0, its port read from the log).
// Every metric named in deploy/grafana/README.md's table (the documented list) appears on the
// component endpoints; under load (blocking and non-blocking invokes, one action answering an
// application error) the controller's activation counters and latency histogram, the invoker's
// outcomes, cold and warm starts, init/wait/run histograms and pool gauges move as expected.
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

#include "local_cluster.hpp"

using namespace wisp;
using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

/// The metric names of the README table: rows "| `name` | type | ...".
std::set<std::string> DocumentedMetrics() {
    std::ifstream in(common::Cat(WISP_SOURCE_DIR, "/deploy/grafana/README.md"));
    REQUIRE(in.good());
    std::set<std::string> names;
    const std::regex row(
        R"(^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*(counter|gauge|histogram)\s*\|)");
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_search(line, m, row)) names.insert(m[1]);
    }
    return names;
}

/// The sum of the samples of `name` whose labels contain every `key="value"` of `labels`.
double Sum(const std::string& text, const std::string& name,
           const std::vector<std::string>& labels = {}) {
    double sum = 0;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) continue;
        const char next = line.size() > name.size() ? line[name.size()] : '\0';
        if (next != ' ' && next != '{') continue;
        const size_t space = line.rfind(' ');
        const std::string series = line.substr(0, space);
        bool match = true;
        for (const auto& l : labels) match = match && series.find(l) != std::string::npos;
        if (match) sum += std::stod(line.substr(space + 1));
    }
    return sum;
}

/// Whether `text` has the family `name` ("# TYPE name ...").
bool HasFamily(const std::string& text, const std::string& name) {
    return text.find(common::Cat("# TYPE ", name, " ")) != std::string::npos;
}

}  // namespace

TEST_CASE("metrics cluster: every documented metric is served and moves under load",
          "[distributed][metrics]") {
    LocalCluster cluster({.controllers = 1,
                          .invokers = 1,
                          .invoker_args = "--no-stem-cells --metrics-listen 127.0.0.1:0",
                          .dir_prefix = "wisp-metrics-cluster-"});
    INFO(cluster.up_output);
    REQUIRE(AllSay(cluster, {0}, "/invokers", Invokers({"up"}), 120s));

    // The invoker logs the port it bound ("metrics on 127.0.0.1:<port>") before "ready".
    const std::string log = cluster.Logs("invoker0", 200000);
    std::smatch m;
    REQUIRE(std::regex_search(log, m, std::regex(R"(metrics on 127\.0\.0\.1:(\d+))")));
    const HttpClient invoker("http://127.0.0.1:" + m[1].str(), "");
    const HttpClient controller = cluster.Controller(0);
    CHECK(invoker.Get("/ping").body == "pong");
    auto scrape = [](const HttpClient& c) {
        auto r = c.Get("/metrics");
        INFO(r.Describe());
        REQUIRE(r.status == 200);
        return r.body;
    };
    const std::string c0 = scrape(controller);
    const std::string i0 = scrape(invoker);

    // Load: 3 blocking and 3 non-blocking invokes of one action, 2 blocking of one that
    // answers an application error.
    const std::string ok = UniqueName("mok");
    const std::string bad = UniqueName("mbad");
    REQUIRE(controller
                .Put(Act("actions/" + ok),
                     R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})")
                .status == 200);
    REQUIRE(
        controller
            .Put(
                Act("actions/" + bad),
                R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return {'error': 'no'}\n"}})")
            .status == 200);
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        CHECK(controller.Post(Act("actions/" + ok + "?blocking=true"), "{}").status == 200);
        auto r = controller.Post(Act("actions/" + ok), "{}");
        REQUIRE(r.status == 202);
        auto id = GetString(ParseJson(r.body), "activationId");
        REQUIRE(id.has_value());
        ids.push_back(*id);
    }
    for (int i = 0; i < 2; ++i) {
        CHECK(controller.Post(Act("actions/" + bad + "?blocking=true"), "{}").status == 502);
    }
    for (const auto& id : ids) {
        CHECK(WaitForRecord(controller, id, std::chrono::steady_clock::now() + 60s).status == 200);
    }

    // The non-blocking completions reach the controller on the ack feed: wait for the count.
    const std::string ok_success = common::Cat("action=\"", ok, "\"");
    std::string c1;
    const auto until = std::chrono::steady_clock::now() + 60s;
    do {
        c1 = scrape(controller);
        if (Sum(c1, "wisp_activations_total", {ok_success, "status=\"success\""}) >= 6) break;
        std::this_thread::sleep_for(200ms);  // the ack feed is another process's
    } while (std::chrono::steady_clock::now() < until);
    const std::string i1 = scrape(invoker);
    INFO("controller:\n" << c1 << "\ninvoker:\n" << i1);

    // Every documented name is served (a histogram by its family).
    const auto documented = DocumentedMetrics();
    REQUIRE(documented.size() >= 20);
    for (const auto& name : documented) {
        INFO(name);
        CHECK((HasFamily(c1, name) || HasFamily(i1, name)));
    }

    // Controller: every activation by outcome, blocking or not; latency; the balancer.
    CHECK(Sum(c1, "wisp_activations_total", {ok_success, "status=\"success\""}) == 6);
    CHECK(Sum(c1, "wisp_activations_total",
              {common::Cat("action=\"", bad, "\""), "status=\"application_error\""}) == 2);
    CHECK(Sum(c1, "wisp_invoke_latency_seconds_count", {"blocking=\"true\""}) -
              Sum(c0, "wisp_invoke_latency_seconds_count", {"blocking=\"true\""}) >=
          5);
    CHECK(Sum(c1, "wisp_invoke_latency_seconds_count", {"blocking=\"false\""}) -
              Sum(c0, "wisp_invoke_latency_seconds_count", {"blocking=\"false\""}) >=
          3);
    CHECK(Sum(c1, "wisp_loadbalancer_invokers", {"state=\"up\""}) == 1);
    CHECK(Sum(c1, "wisp_loadbalancer_invoker_state", {"state=\"up\""}) == 1);
    CHECK(Sum(c1, "wisp_loadbalancer_capacity_bytes") > 0);
    CHECK(Sum(c1, "wisp_http_requests_total", {"code=\"202\""}) >= 3);

    // Invoker: outcomes (the health test action's runs count too), starts, histograms, pool.
    auto moved = [&](const std::string& name, const std::vector<std::string>& labels = {}) {
        return Sum(i1, name, labels) - Sum(i0, name, labels);
    };
    CHECK(moved("wisp_invoker_activations_total", {"status=\"success\""}) >= 6);
    CHECK(moved("wisp_invoker_activations_total", {"status=\"application_error\""}) == 2);
    CHECK(moved("wisp_invoker_container_starts_total",
                {"kind=\"python:3.11\"", "start=\"cold\""}) >= 2);
    CHECK(moved("wisp_invoker_container_starts_total",
                {"kind=\"python:3.11\"", "start=\"warm\""}) >= 1);
    CHECK(moved("wisp_invoker_init_seconds_count") >= 2);
    CHECK(moved("wisp_invoker_wait_seconds_count") >= 8);
    CHECK(moved("wisp_invoker_run_seconds_count") >= 8);
    CHECK(moved("wisp_invoker_run_seconds_sum") > 0);
    CHECK(Sum(i1, "wisp_invoker_containers") >= 2);
    CHECK(Sum(i1, "wisp_invoker_pool_memory_used_bytes") >= 2 * 256.0 * 1024 * 1024);
    CHECK(Sum(i1, "wisp_invoker_pool_memory_budget_bytes") > 0);
    CHECK(HasFamily(i1, "wisp_invoker_consumer_lag"));
}
