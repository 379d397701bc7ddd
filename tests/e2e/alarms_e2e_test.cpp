// End-to-end: alarm feeds fire (issue 15). A wisp-standalone with a 1-second interval minute
// (--alarm-minute-ms 1000): `wsk trigger create --feed /whisk.system/alarms/interval` + a rule
// fire several times, each trigger record carries the `schedule` annotation and its rule's
// action record exists; `once` with deleteAfterFire fires once and its trigger is gone;
// `wsk trigger delete` stops the schedule; kill -9 and a restart on the same data folder keep
// a schedule firing, and no scheduled time is ever recorded twice.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kFlags = {"--alarm-minute-ms", "1000", "--alarm-poll-ms", "500"};

using Run = WskRun;

/// A user's shell with its own wskprops, pointed at one standalone.
struct User : WskUser {
    User() : WskUser("wisp-alarms-e2e-") {}
    void Configure(const Standalone& wisp) const {
        Run r = PropertySet(wisp);
        INFO(r);
        REQUIRE(r.code == 0);
    }
};

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// A trigger record of a scheduled firing.
struct Firing {
    std::string id;
    std::string feed;
    int64_t scheduled = 0;
    std::vector<std::string> rule_activations;  // from the record's log lines
};

/// The trigger records of `trigger` (newest first, up to 200) with their `schedule` annotation.
std::vector<Firing> Firings(const HttpClient& http, const std::string& trigger) {
    std::vector<Firing> out;
    auto r = http.Get("/api/v1/namespaces/_/activations?docs=true&limit=200&name=" + trigger);
    if (r.status != 200) return out;
    auto d = ParseJson(r.body);
    if (!d.IsArray()) return out;
    for (const auto& rec : d.GetArray()) {
        Firing f;
        f.id = GetString(rec, "activationId").value_or("");
        if (const auto* ann = Find(rec, "annotations"); ann && ann->IsArray()) {
            if (const auto* s = KeyValue(*ann, "schedule"); s && s->IsObject()) {
                f.feed = GetString(*s, "feed").value_or("");
                f.scheduled = GetInt(*s, "scheduledTime").value_or(0);
            }
        }
        if (const auto* logs = Find(rec, "logs"); logs && logs->IsArray()) {
            for (const auto& line : logs->GetArray()) {
                if (!line.IsString()) continue;
                auto l = ParseJson(line.GetString());
                if (auto id = GetString(l, "activationId")) f.rule_activations.push_back(*id);
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

/// Waits until `trigger` has at least `n` records (or the deadline); returns them.
std::vector<Firing> WaitForFirings(const HttpClient& http, const std::string& trigger, size_t n,
                                   std::chrono::seconds within) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (true) {
        auto f = Firings(http, trigger);
        if (f.size() >= n || std::chrono::steady_clock::now() > deadline) return f;
        std::this_thread::sleep_for(200ms);
    }
}

/// Every scheduled time at most once.
void CheckNoDuplicates(const std::vector<Firing>& firings) {
    std::map<int64_t, int> per_time;
    for (const auto& f : firings) ++per_time[f.scheduled];
    for (const auto& [t, n] : per_time) {
        INFO("scheduledTime " << t);
        CHECK(n == 1);
    }
}

const char* kAction = "def main(args):\n    return {'got': args.get('payload')}\n";

}  // namespace

TEST_CASE(
    "alarms: interval and once feeds fire through rules; delete stops; kill -9 and "
    "restart keep firing",
    "[e2e][standalone-only][alarms]") {
    wisp::testing::TempDir data("wisp-e2e-alarms-");
    auto first = Standalone::Start({.args = kFlags, .data_dir = data.path().string()});
    REQUIRE(first.ok());
    User u;
    u.Configure(**first);
    HttpClient http((*first)->api_host(), (*first)->guest_auth());
    u.Write("hello.py", kAction);
    const std::string action = UniqueName("alarm-act");
    REQUIRE(u.Wsk({"action", "create", action, "hello.py"}).code == 0);

    // ---- interval: several firings, each with the annotation and its rule's action record.
    const std::string every = UniqueName("every");
    {
        Run r = u.Wsk({"trigger", "create", every, "--feed", "/whisk.system/alarms/interval", "-p",
                       "minutes", "1", "-p", "startDate", std::to_string(NowMs() + 2000), "-p",
                       "trigger_payload", R"({"payload":"tick"})"});
        INFO(r);
        REQUIRE(r.code == 0);
    }
    REQUIRE(u.Wsk({"rule", "create", UniqueName("every-rule"), every, action}).code == 0);
    auto firings = WaitForFirings(http, every, 3, 60s);
    REQUIRE(firings.size() >= 3);
    CheckNoDuplicates(firings);
    for (const auto& f : firings) {
        INFO("record " << f.id);
        CHECK(f.feed == "/whisk.system/alarms/interval");
        CHECK(f.scheduled > 0);
        CHECK(f.scheduled % 1000 == (firings[0].scheduled % 1000));  // start + k x 1 s
        REQUIRE(f.rule_activations.size() == 1);
    }
    // The rule's action ran with the payload.
    {
        const std::string rid = firings.back().rule_activations[0];
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        HttpResult rec;
        while (std::chrono::steady_clock::now() < deadline) {
            rec = http.Get("/api/v1/namespaces/_/activations/" + rid);
            if (rec.status == 200) break;
            std::this_thread::sleep_for(200ms);
        }
        INFO(rec.Describe());
        REQUIRE(rec.status == 200);
        CHECK(GetString(ParseJson(rec.body), "response.result.got") == "tick");
    }

    // ---- delete stops the schedule.
    {
        Run r = u.Wsk({"trigger", "delete", every});
        INFO(r);
        REQUIRE(r.code == 0);
    }
    const int64_t deleted_at = NowMs();
    // Three periods later nothing scheduled after the delete was recorded.
    std::this_thread::sleep_for(3500ms);
    for (const auto& f : Firings(http, every)) CHECK(f.scheduled <= deleted_at + 1000);

    // ---- once with deleteAfterFire: fires once, the trigger is gone.
    const std::string once = UniqueName("once");
    {
        Run r = u.Wsk({"trigger", "create", once, "--feed", "/whisk.system/alarms/once", "-p",
                       "date", std::to_string(NowMs() + 3000), "-p", "deleteAfterFire", "true"});
        INFO(r);
        REQUIRE(r.code == 0);
    }
    REQUIRE(u.Wsk({"rule", "create", UniqueName("once-rule"), once, action}).code == 0);
    auto once_fired = WaitForFirings(http, once, 1, 60s);
    REQUIRE(once_fired.size() == 1);
    CHECK(once_fired[0].feed == "/whisk.system/alarms/once");
    {
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            status = http.Get("/api/v1/namespaces/_/triggers/" + once).status;
            if (status == 404) break;
            std::this_thread::sleep_for(200ms);
        }
        CHECK(status == 404);
    }

    // ---- kill -9, restart on the same data folder: the schedule keeps firing.
    const std::string survivor = UniqueName("survivor");
    {
        Run r = u.Wsk({"trigger", "create", survivor, "--feed", "/whisk.system/alarms/interval",
                       "-p", "minutes", "1", "-p", "startDate", std::to_string(NowMs() + 2000)});
        INFO(r);
        REQUIRE(r.code == 0);
    }
    REQUIRE(u.Wsk({"rule", "create", UniqueName("survivor-rule"), survivor, action}).code == 0);
    REQUIRE(WaitForFirings(http, survivor, 1, 60s).size() >= 1);
    (*first)->Kill();
    const int64_t killed_at = NowMs();
    first->reset();

    auto second = Standalone::Start({.args = kFlags, .data_dir = data.path().string()});
    REQUIRE(second.ok());
    const int64_t restarted_at = NowMs();
    HttpClient http2((*second)->api_host(), (*second)->guest_auth());
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::vector<Firing> after;
    while (std::chrono::steady_clock::now() < deadline) {
        after = Firings(http2, survivor);
        int later = 0;
        for (const auto& f : after) later += f.scheduled > restarted_at ? 1 : 0;
        if (later >= 2) break;
        std::this_thread::sleep_for(200ms);
    }
    CheckNoDuplicates(after);
    int missed = 0, later = 0;
    for (const auto& f : after) {
        if (f.scheduled > killed_at + 1000 && f.scheduled <= restarted_at) ++missed;
        if (f.scheduled > restarted_at) ++later;
    }
    CHECK(later >= 2);
    // While it was down, several slots passed: at most the latest of them fired (at restart).
    CHECK(missed <= 1);
}
