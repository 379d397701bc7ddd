// Alarm schedules with two controllers (label distributed; tools/local-cluster.sh, SQLite
// store): a 1-second cron (6 fields) runs ~10 s while both controllers race for every slot and
// controller1 is killed -9 half-way; each scheduled time has exactly one trigger record — none
// twice, none missing between the first and the last second — and each record's rule ran.
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

namespace {

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// The scheduledTime of every trigger record of `trigger` (one entry per record).
std::vector<int64_t> ScheduledTimes(const HttpClient& http, const std::string& trigger) {
    std::vector<int64_t> out;
    auto r = http.Get(Act("activations?docs=true&limit=200&name=" + trigger));
    auto d = ParseJson(r.body);
    if (r.status != 200 || !d.IsArray()) return out;
    for (const auto& rec : d.GetArray()) {
        const auto* ann = Find(rec, "annotations");
        if (!ann || !ann->IsArray()) continue;
        const auto* s = KeyValue(*ann, "schedule");
        if (s && s->IsObject()) out.push_back(GetInt(*s, "scheduledTime").value_or(0));
    }
    return out;
}

}  // namespace

TEST_CASE(
    "alarms cluster: a 1-second cron fires each second exactly once across two "
    "controllers, also while one is killed",
    "[distributed][alarms]") {
    LocalCluster cluster({.controllers = 2,
                          .invokers = 1,
                          .controller_args = "--alarm-poll-ms 300 --alarm-lease-ms 3000 "
                                             "--fires-per-minute 100000 "
                                             "--invocations-per-minute 100000",
                          .dir_prefix = "wisp-alarms-cluster-"});
    const HttpClient c0 = cluster.Controller(0);
    const std::string action = UniqueName("tick");
    const std::string trigger = UniqueName("every-second");
    REQUIRE(c0.Put(Act("actions/" + action),
                   R"({"exec":{"kind":"python:3.11","code":"def main(a):\n    return a\n"}})")
                .status == 200);
    REQUIRE(c0.Put(Act("triggers/" + trigger),
                   R"({"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]})")
                .status == 200);
    REQUIRE(
        c0.Put(Act("rules/" + UniqueName("tick-rule")),
               common::Cat(R"({"trigger":"/_/)", trigger, R"(","action":"/_/)", action, R"("})"))
            .status == 200);
    // The feed, as `wsk trigger create --feed` calls it.
    const auto feed = [&](const std::string& event, const std::string& extra) {
        return c0.Post("/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true",
                       common::Cat(R"({"lifecycleEvent":")", event, R"(","triggerName":"/_/)",
                                   trigger, R"(","authKey":")", cluster.auth, R"(")", extra, "}"));
    };
    auto created = feed("CREATE", R"(,"cron":"* * * * * *")");
    INFO(created.Describe());
    REQUIRE(created.status == 200);
    const int64_t started = NowMs();

    // Both controllers fire for ~5 s, then controller1 dies, then controller0 alone for ~5 s.
    std::this_thread::sleep_for(5s);
    REQUIRE(cluster.Do("kill controller1 --signal KILL").exit_code == 0);
    std::this_thread::sleep_for(5s);
    auto deleted = feed("DELETE", "");
    INFO(deleted.Describe());
    REQUIRE(deleted.status == 200);
    const int64_t stopped = NowMs();

    // A slot controller1 claimed and did not fire is fired by controller0 after the lease (3 s).
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::map<int64_t, int> per_second;
    const int64_t first = (started / 1000 + 2) * 1000;  // whole seconds well inside the run
    const int64_t last = (stopped / 1000 - 1) * 1000;
    REQUIRE(last - first >= 6000);
    while (true) {
        per_second.clear();
        for (int64_t t : ScheduledTimes(c0, trigger)) ++per_second[t];
        bool complete = true;
        for (int64_t t = first; t <= last; t += 1000) complete = complete && per_second.count(t);
        if (complete || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(500ms);
    }
    for (const auto& [t, n] : per_second) {
        INFO("scheduledTime " << t);
        CHECK(t % 1000 == 0);
        CHECK(n == 1);  // never twice
    }
    for (int64_t t = first; t <= last; t += 1000) {
        INFO("scheduledTime " << t << " (run " << started << " .. " << stopped << ")");
        CHECK(per_second.count(t) == 1);  // none missing
    }
    // Nothing after the delete (allow the slot that was being fired then).
    for (const auto& [t, n] : per_second) CHECK(t <= stopped + 1000);
    UNSCOPED_INFO(cluster.Logs("controller0"));
}
