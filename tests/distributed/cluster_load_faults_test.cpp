// Faults under a steady load in the distributed topology (label distributed):
// tools/local-cluster.sh up --controllers 2 --invokers 3 --store couchdb (pouchdb-server, in
// memory), one cluster for both cases. A paced load generator issues a mix of blocking and
// non-blocking invokes of 3 actions (one homed on each invoker) at a fixed rate through both
// controllers. The cases run in this order (the kill leaves a backlog behind):
//   - pouchdb-server stopped (SIGSTOP of its process group; a restart would lose its in-memory
//     data) for 30 s under load: no component dies, every non-2xx answer is a 503 with
//     OpenWhisk's error JSON, GET /ping answers 200 on both controllers throughout (every ping
//     sent in the outage's first 15 s is answered before SIGCONT: it may wait behind requests
//     holding the HTTP threads for one store call timeout, 5 s, never for the store), invokes
//     succeed again after SIGCONT, every accepted id has exactly one record;
//   - kill -9 of one invoker under >= 20 invokes/s for >= 30 s: "down" on both controllers'
//     GET /invokers within 15 s, the work of its action goes to the others (by the records),
//     started again it is "up" and its action placed on it again (target 15 s each, printed;
//     60 s asserted: cold starts on a loaded 2-core CI host); every accepted id has exactly one
//     record.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
#include "local_cluster.hpp"

using namespace wisp;
using namespace std::chrono_literals;
using e2e::Act;
using e2e::AllSay;
using e2e::HttpClient;
using e2e::Invokers;
using e2e::LocalCluster;
using e2e::LocalClusterOptions;
using e2e::NameWithHome;
using e2e::ReadFile;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kInvokers = 3;

/// The one cluster of this binary (2 controllers, 3 invokers, pouchdb-server), started by the
/// first case; throttles far above the load.
LocalCluster& Shared() {
    static std::unique_ptr<LocalCluster> cluster;
    static bool tried = false;
    if (!cluster) {
        if (tried) FAIL("the cluster did not start (see the first case)");
        tried = true;
        LocalClusterOptions options;
        options.controllers = 2;
        options.invokers = kInvokers;
        options.store = "couchdb";
        options.controller_args = "--invocations-per-minute 100000 --concurrent-invocations 1000";
        options.dir_prefix = "wisp-load-faults-";
        cluster = std::make_unique<LocalCluster>(options);
    }
    return *cluster;
}

/// The pid of a component from DIR/pids (0 when there is none).
int Pid(const LocalCluster& cluster, const std::string& component) {
    const std::string text = ReadFile(cluster.dir.File("pids/" + component + ".pid"));
    try {
        return text.empty() ? 0 : std::stoi(text);
    } catch (...) {
        return 0;
    }
}

/// The components whose process is not running (by their pid files).
std::vector<std::string> Dead(const LocalCluster& cluster) {
    std::vector<std::string> names = {"broker", "store", "controller0", "controller1"};
    for (int i = 0; i < kInvokers; ++i) names.push_back(common::Cat("invoker", i));
    std::vector<std::string> dead;
    for (const auto& n : names) {
        const int pid = Pid(cluster, n);
        if (pid <= 0 || ::kill(pid, 0) != 0) dead.push_back(n);
    }
    return dead;
}

bool BothSay(const LocalCluster& c, const std::string& path, const std::string& want,
             std::chrono::seconds timeout) {
    return AllSay(c, {0, 1}, path, want, timeout);
}

/// The "invoker" annotation of a record (JSON), or "".
std::string InvokerAnnotation(const rapidjson::Value& rec) {
    if (!rec.IsObject() || !rec.HasMember("annotations") || !rec["annotations"].IsArray()) {
        return "";
    }
    for (const auto& a : rec["annotations"].GetArray()) {
        if (a.IsObject() && a.HasMember("key") && a["key"] == "invoker" && a.HasMember("value") &&
            a["value"].IsString()) {
            return a["value"].GetString();
        }
    }
    return "";
}

struct Action {
    std::string name;
    int home = 0;
};

/// One action homed on each invoker, each warmed up by a blocking invoke. (The default timeout
/// limit: with a short one, cold starts on a loaded host exceed it during initialization and the
/// pool churns containers. The forced completion timeout is 3 min for any limit up to 60 s.)
std::vector<Action> MakeActions(const LocalCluster& cluster, const std::string& prefix) {
    std::vector<Action> actions;
    const std::string base = e2e::UniqueName(prefix);
    auto c0 = cluster.Controller(0);
    for (int inv = 0; inv < kInvokers; ++inv) {
        for (int k = 0; k < 1; ++k) {
            Action a{NameWithHome(common::Cat(base, "-", k), inv, kInvokers), inv};
            const std::string body =
                common::Cat(R"({"exec":{"kind":"python:3.11","code":)",
                            e2e::Quote("def main(a):\n    return {'n': a.get('n', 0)}\n"), "}}");
            auto r = c0.Put(Act("actions/" + a.name), body);
            INFO(r.Describe());
            REQUIRE(r.status == 200);
            actions.push_back(a);
        }
    }
    for (const auto& a : actions) {
        const auto until = Clock::now() + 180s;
        e2e::HttpResult r;
        while (
            (r = c0.Post(Act("actions/" + a.name + "?blocking=true&timeout=30000"), "{}")).status !=
                200 &&
            Clock::now() < until) {
            std::this_thread::sleep_for(200ms);  // the pool starting a container elsewhere
        }
        INFO("warm-up of " << a.name << ": " << r.Describe());
        CHECK(r.status == 200);
    }
    return actions;
}

struct Outcome {
    size_t action = 0;
    bool blocking = false;
    int controller = 0;
    Clock::time_point sent;
    Clock::time_point answered;
    int status = 0;
    std::string body;
    std::string id;       // accepted: 200/202 with an activationId
    std::string invoker;  // a blocking 200's record's "invoker" annotation
};

/// Invokes issued at a fixed rate (a ticker hands them to a pool of workers, so a slow answer
/// does not slow the rate down): action `seq % n`, blocking and non-blocking alternating per
/// action, both controllers alternating.
class PacedLoad {
  public:
    PacedLoad(const LocalCluster& cluster, const std::vector<Action>& actions, int per_second,
              int workers)
        : actions_(actions), clients_{cluster.Controller(0), cluster.Controller(1)} {
        started_ = Clock::now();
        for (int w = 0; w < workers; ++w) workers_.emplace_back([this] { Work(); });
        ticker_ = std::thread([this, per_second] {
            const auto period = std::chrono::microseconds(1000000 / per_second);
            auto next = Clock::now();
            for (size_t seq = 0; !stop_.load(); ++seq) {
                {
                    std::lock_guard<std::mutex> lock(mu_);
                    queue_.push_back(seq);
                }
                cv_.notify_one();
                next += period;
                std::this_thread::sleep_until(next);  // the load's pace, not a wait for state
            }
        });
    }
    ~PacedLoad() { Stop(); }

    /// Stops issuing, waits for the answers of what was sent; queued but unsent invokes are
    /// dropped (never sent, so never accepted).
    std::vector<Outcome> Stop() {
        if (!stop_.exchange(true)) {
            ended_ = Clock::now();
            if (ticker_.joinable()) ticker_.join();
            cv_.notify_all();
            for (auto& w : workers_) {
                if (w.joinable()) w.join();
            }
        }
        std::lock_guard<std::mutex> lock(mu_);
        return outcomes_;
    }
    std::vector<Outcome> Snapshot() {
        std::lock_guard<std::mutex> lock(mu_);
        return outcomes_;
    }
    /// Waits (up to `timeout`) for an answered outcome matching `pred`; returns it.
    template <class Pred>
    std::optional<Outcome> WaitFor(Pred pred, std::chrono::seconds timeout) {
        const auto until = Clock::now() + timeout;
        std::unique_lock<std::mutex> lock(mu_);
        size_t seen = 0;
        while (true) {
            for (; seen < outcomes_.size(); ++seen) {
                if (pred(outcomes_[seen])) return outcomes_[seen];
            }
            if (done_cv_.wait_until(lock, until) == std::cv_status::timeout) {
                for (; seen < outcomes_.size(); ++seen) {
                    if (pred(outcomes_[seen])) return outcomes_[seen];
                }
                return std::nullopt;
            }
        }
    }
    Clock::time_point started() const { return started_; }
    Clock::time_point ended() const { return ended_; }
    size_t Sent() const { return sent_.load(); }

  private:
    void Work() {
        while (true) {
            size_t seq;
            {
                std::unique_lock<std::mutex> lock(mu_);
                cv_.wait(lock, [this] { return stop_.load() || !queue_.empty(); });
                if (stop_.load()) return;
                seq = queue_.front();
                queue_.pop_front();
            }
            Outcome o;
            const size_t n = actions_.size();
            o.action = seq % n;
            o.blocking = (seq / n) % 2 == 0;
            o.controller = static_cast<int>((seq / (2 * n)) % 2);
            o.sent = Clock::now();
            ++sent_;
            e2e::HttpRequestSpec spec;
            spec.method = "POST";
            spec.path = Act("actions/" + actions_[o.action].name) +
                        (o.blocking ? "?blocking=true&timeout=20000" : "?blocking=false");
            spec.body = common::Cat(R"({"n":)", seq, "}");
            spec.auth = clients_[o.controller].auth();
            spec.timeout = 120s;
            auto r = clients_[o.controller].Send(spec);
            o.answered = Clock::now();
            o.status = r.status;
            if (r.status == 200 || r.status == 202) {
                auto doc = e2e::ParseJson(r.body);
                if (auto id = e2e::GetString(doc, "activationId")) o.id = *id;
                if (o.blocking && r.status == 200) o.invoker = InvokerAnnotation(doc);
            } else {
                o.body = r.status == 0 ? r.error : r.body;
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                outcomes_.push_back(std::move(o));
            }
            done_cv_.notify_all();
        }
    }

    const std::vector<Action> actions_;
    const HttpClient clients_[2];
    std::atomic<bool> stop_{false};
    std::atomic<size_t> sent_{0};
    Clock::time_point started_;
    Clock::time_point ended_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable done_cv_;
    std::deque<size_t> queue_;
    std::vector<Outcome> outcomes_;
    std::vector<std::thread> workers_;
    std::thread ticker_;
};

/// GET `path` until it answers something other than 503 or `deadline` passes. A listing is a
/// view query: after thousands of new records pouchdb-server's first one (it indexes them all)
/// can outlast the controller's 5 s store call timeout, which answers 503, as it should; the
/// index is incremental, so a later call answers.
e2e::HttpResult GetThrough503(const HttpClient& http, const std::string& path,
                              Clock::time_point deadline) {
    while (true) {
        auto r = http.Get(path);
        if (r.status != 503 || Clock::now() >= deadline) return r;
        std::this_thread::sleep_for(500ms);  // the store indexing (another process)
    }
}

/// Every accepted id has exactly one record: GET activations/{id} answers 200 (waiting up to
/// `timeout` for the last ones), and the listing of each action's activations (all pages) holds
/// it exactly once.
void CheckOneRecordPerAcceptedId(const HttpClient& http, const std::vector<Action>& actions,
                                 const std::vector<Outcome>& outcomes,
                                 std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<const Outcome*> accepted;
    for (const auto& o : outcomes) {
        if (!o.id.empty()) accepted.push_back(&o);
    }
    int missing = 0;
    std::string problems;
    for (const Outcome* o : accepted) {
        e2e::HttpResult r;
        while (true) {
            r = http.Get(Act("activations/" + o->id));
            if (r.status == 200 || Clock::now() >= deadline) break;
            std::this_thread::sleep_for(200ms);  // the record is written by another process
        }
        if (r.status != 200) {
            ++missing;
            problems += common::Cat("no record for ", o->id, ": ", r.Describe(), "\n");
        }
    }
    std::map<std::string, int> listed;
    for (const auto& a : actions) {
        for (int skip = 0;; skip += 200) {
            auto r = GetThrough503(
                http, Act(common::Cat("activations?name=", a.name, "&limit=200&skip=", skip)),
                deadline);
            INFO(r.Describe());
            REQUIRE(r.status == 200);
            auto doc = e2e::ParseJson(r.body);
            REQUIRE(doc.IsArray());
            for (const auto& rec : doc.GetArray()) {
                if (auto id = e2e::GetString(rec, "activationId")) ++listed[*id];
            }
            if (doc.Size() < 200) break;
        }
    }
    int duplicated = 0;
    int unlisted = 0;
    for (const Outcome* o : accepted) {
        const int n = listed[o->id];
        if (n > 1) {
            ++duplicated;
            problems += common::Cat(o->id, " has ", n, " records\n");
        } else if (n == 0) {
            ++unlisted;
            problems += common::Cat(o->id, " is not listed\n");
        }
    }
    WARN(accepted.size() << " accepted activations: " << missing << " without a record, "
                         << unlisted << " not listed, " << duplicated << " with more than one");
    INFO(problems);
    CHECK(!accepted.empty());
    CHECK(missing == 0);
    CHECK(unlisted == 0);
    CHECK(duplicated == 0);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

/// Counts of the answers per second of load (from `t0`), home invoker of the action, blocking,
/// status and running invoker, for failure messages.
std::string Summary(const std::vector<Outcome>& outcomes, const std::vector<Action>& actions,
                    Clock::time_point t0) {
    std::map<std::string, int> counts;
    for (const auto& o : outcomes) {
        const int bucket = static_cast<int>(Seconds(o.sent - t0) / 5) * 5;
        ++counts[common::Cat(bucket < 0 ? "" : " ", bucket, "s home", actions[o.action].home,
                             o.blocking ? " blocking " : " async ", o.status, " ", o.invoker,
                             o.status != 200 && o.status != 202 ? o.body.substr(0, 80) : "")];
    }
    std::string out;
    for (const auto& [k, n] : counts) out += common::Cat(k, " x", n, "\n");
    return out;
}

}  // namespace

TEST_CASE(
    "cluster under load: pouchdb-server stopped for 30 s — no crash, 503s with OpenWhisk's "
    "error JSON, /ping answers throughout, recovery, exactly one record per accepted id",
    "[distributed][faults][store-outage]") {
    LocalCluster& cluster = Shared();
    INFO(cluster.up_output);
    REQUIRE(BothSay(cluster, "/invokers", Invokers({"up", "up", "up"}), 120s));
    const std::vector<Action> actions = MakeActions(cluster, "pause");
    const int store = Pid(cluster, "store");
    REQUIRE(store > 0);

    // /ping on both controllers every 250 ms throughout.
    struct Ping {
        int controller;
        int status;
        double seconds;
        Clock::time_point at;        // sent
        Clock::time_point answered;  // or failed
        std::string error;
    };
    std::atomic<bool> pinging{true};
    std::mutex ping_mu;
    std::vector<Ping> pings;
    std::thread pinger([&] {
        const HttpClient c[2] = {cluster.Controller(0), cluster.Controller(1)};
        while (pinging.load()) {
            for (int i = 0; i < 2; ++i) {
                e2e::HttpRequestSpec spec;
                spec.path = "/ping";
                spec.timeout = 30s;
                const auto t0 = Clock::now();
                auto r = c[i].Send(spec);
                const auto t1 = Clock::now();
                std::lock_guard<std::mutex> lock(ping_mu);
                pings.push_back({i, r.status, Seconds(t1 - t0), t0, t1, r.error});
            }
            std::this_thread::sleep_for(250ms);  // the probe's pace
        }
    });

    PacedLoad load(cluster, actions, /*per_second=*/20, /*workers=*/400);
    load.WaitFor([&](const Outcome& o) { return o.sent - load.started() >= 5s; }, 120s);
    // The store's process group (pouchdb-server runs in its own session) stopped for kOutage.
    // A /ping may wait behind requests that hold both HTTP threads in a store call, but only
    // for the StoreGuard's call timeout (5 s; then its breaker answers them at once): pings
    // sent in the outage's first kOutage - kPingWindow must be answered before SIGCONT. A /ping
    // that waited for the store would be answered only after SIGCONT, however fast the host;
    // one that waits a call timeout has 3 times that to spare, however slow. (With the 5 s
    // outage this case had before, "slowest < 5 s" could not tell the two apart: a ping sent
    // 0.8 s after SIGSTOP took 4.3-4.5 s, held until SIGCONT or by a call timeout alike.)
    constexpr auto kOutage = 30s;
    constexpr auto kPingWindow = 15s;
    REQUIRE(::kill(-store, SIGSTOP) == 0);
    const auto stopped = Clock::now();
    std::this_thread::sleep_for(kOutage);  // the outage's length (the fault being injected)
    const auto resumed = Clock::now();     // every ping answered by now was answered during it
    REQUIRE(::kill(-store, SIGCONT) == 0);
    // Recovery: a blocking invoke sent after SIGCONT answers 200 with its result.
    auto ok = load.WaitFor(
        [&](const Outcome& o) { return o.sent > resumed && o.blocking && o.status == 200; }, 120s);
    CHECK(ok.has_value());
    load.WaitFor([&](const Outcome& o) { return o.sent - resumed >= 8s; }, 120s);
    const std::vector<Outcome> outcomes = load.Stop();
    pinging = false;
    pinger.join();

    std::map<int, int> by_status;
    int during = 0;
    for (const auto& o : outcomes) {
        ++by_status[o.status];
        if (o.sent >= stopped && o.sent < resumed) ++during;
    }
    std::string statuses;
    for (const auto& [s, n] : by_status) statuses += common::Cat(" ", s, ":", n);
    WARN(outcomes.size() << " invokes (" << during << " sent during the outage); answers"
                         << statuses << "; recovered "
                         << (ok ? Seconds(ok->answered - resumed) : -1.0) << " s after SIGCONT");
    CHECK(during >= 50);

    // Every answer that is not 2xx is a 503 with OpenWhisk's error JSON ({"error":..,"code":..}).
    int bad = 0;
    std::string bad_answers;
    for (const auto& o : outcomes) {
        if (o.status == 200 || o.status == 202) continue;
        auto doc = e2e::ParseJson(o.body);
        if (o.status == 503 && e2e::GetString(doc, "error").has_value() && doc.HasMember("code")) {
            continue;
        }
        if (++bad <= 5) {
            bad_answers +=
                common::Cat("answer ", o.status, " ", o.body, " sent ",
                            std::to_string(Seconds(o.sent - stopped)), " s after SIGSTOP\n");
        }
    }
    INFO(bad_answers);
    CHECK(bad == 0);

    // /ping answered 200 throughout, and during the outage: every ping sent in its first
    // kOutage - kPingWindow was answered before SIGCONT (and there were several per controller).
    {
        std::lock_guard<std::mutex> lock(ping_mu);  // the pinger has stopped
        int early[2] = {0, 0};
        double slowest_early = 0;
        std::string late;
        for (const auto& p : pings) {
            if (p.at < stopped || p.at >= resumed - kPingWindow) continue;
            ++early[p.controller];
            slowest_early = std::max(slowest_early, p.seconds);
            if (p.status != 200 || p.answered >= resumed) {
                late += common::Cat("controller", p.controller, " /ping sent ",
                                    std::to_string(Seconds(p.at - stopped)),
                                    " s after SIGSTOP: ", p.status, " ", p.error, " after ",
                                    std::to_string(p.seconds), " s (SIGCONT at ",
                                    std::to_string(Seconds(resumed - stopped)), " s)\n");
            }
        }
        WARN("pings sent in the outage's first "
             << Seconds(kOutage - kPingWindow) << " s: controller0 " << early[0] << ", controller1 "
             << early[1] << ", slowest " << slowest_early << " s");
        INFO(late);
        CHECK(late.empty());
        CHECK(early[0] >= 5);
        CHECK(early[1] >= 5);
    }
    double slowest = 0;
    double slowest_at = 0;
    for (const auto& p : pings) {
        INFO("controller" << p.controller << " /ping " << p.status << " " << p.error);
        CHECK(p.status == 200);
        if (p.seconds > slowest) {
            slowest = p.seconds;
            slowest_at = Seconds(p.at - stopped);
        }
    }
    WARN(pings.size() << " pings, slowest " << slowest << " s (sent " << slowest_at
                      << " s after SIGSTOP)");
    CHECK(pings.size() >= 20);

    // No component died; reads work again.
    {
        const auto dead = Dead(cluster);
        std::string names;
        for (const auto& d : dead) names += d + " ";
        INFO("dead: " << names);
        CHECK(dead.empty());
    }
    for (int i = 0; i < 2; ++i) {
        auto r =
            GetThrough503(cluster.Controller(i), Act("activations?limit=1"), Clock::now() + 120s);
        INFO(r.Describe());
        CHECK(r.status == 200);
    }
    CheckOneRecordPerAcceptedId(cluster.Controller(1), actions, outcomes, 240s);
}

TEST_CASE(
    "cluster under load: kill -9 of an invoker — down within 15 s, its work on the others, "
    "up and used again within 15 s of its start, exactly one record per accepted id",
    "[distributed][faults][invoker-kill]") {
    LocalCluster& cluster = Shared();
    INFO(cluster.up_output);
    REQUIRE(BothSay(cluster, "/invokers", Invokers({"up", "up", "up"}), 120s));
    const std::vector<Action> actions = MakeActions(cluster, "k9load");
    const int victim = 1;
    const std::string victim_name = common::Cat("invoker", victim);
    std::vector<std::string> states(kInvokers, "up");
    states[victim] = "down";

    PacedLoad load(cluster, actions, /*per_second=*/25, /*workers=*/400);
    // ~10 s of load before the kill (waiting on the load's own answers).
    load.WaitFor([&](const Outcome& o) { return o.sent - load.started() >= 10s; }, 120s);
    REQUIRE(cluster.Do("kill " + victim_name + " --signal KILL").exit_code == 0);
    const auto killed = Clock::now();
    {
        INFO(cluster.Logs("controller0"));
        REQUIRE(BothSay(cluster, "/invokers", Invokers(states), 60s));
    }
    const auto down = Clock::now();
    const double down_after = Seconds(down - killed);
    WARN("down on both controllers " << down_after << " s after the kill -9");
    CHECK(down_after <= 15.0);

    // 5 s of load after "down" before the start (where it ran: from the records below).
    auto victim_action = [&](const Outcome& o) { return actions[o.action].home == victim; };
    INFO("kill at " << Seconds(killed - load.started()) << " s, down at "
                    << Seconds(down - load.started()) << " s");
    load.WaitFor([&](const Outcome& o) { return o.sent - down >= 5s; }, 120s);
    const auto starting = Clock::now();
    {
        auto started = cluster.Do("start " + victim_name);
        WARN("`start` took " << Seconds(Clock::now() - starting) << " s");
        INFO(started.output << cluster.Logs(victim_name));
        REQUIRE(started.exit_code == 0);
    }
    {
        INFO(cluster.Logs(victim_name));
        REQUIRE(BothSay(cluster, "/invokers", Invokers({"up", "up", "up"}), 120s));
    }
    const auto up = Clock::now();
    const double up_after = Seconds(up - starting);
    // The target is 15 s; on a loaded 2-core CI machine `start` alone (the id claim waits out
    // the killed holder's lease, the orphans are removed) and the health test action's cold
    // start take longer, so the bound asserted is looser and the figure is printed.
    WARN("up on both controllers " << up_after << " s after `start` (target 15 s)");
    CHECK(up_after <= 60.0);
    // A steady load of at least 30 s in all, and 20 s after "up".
    load.WaitFor(
        [&](const Outcome& o) { return o.sent - load.started() >= 32s && o.sent - up >= 20s; },
        120s);
    const std::vector<Outcome> outcomes = load.Stop();

    const double duration = Seconds(load.ended() - load.started());
    const double rate = load.Sent() / duration;
    std::map<int, int> by_status;
    for (const auto& o : outcomes) ++by_status[o.status];
    std::string statuses;
    for (const auto& [s, n] : by_status) statuses += common::Cat(" ", s, ":", n);
    WARN(load.Sent() << " invokes in " << duration << " s (" << rate << "/s); answers" << statuses);
    INFO(Summary(outcomes, actions, load.started()));
    CHECK(duration >= 30.0);
    CHECK(rate >= 20.0);

    // Where the victim's action ran, from the records (blocking or not): between "down" and the
    // start never on the victim; after "up" on the victim again (its home), first placed there
    // `used_after` s after "up".
    std::vector<const Outcome*> victims;
    for (const auto& o : outcomes) {
        if (!o.id.empty() && victim_action(o)) victims.push_back(&o);
    }
    std::sort(victims.begin(), victims.end(),
              [](const Outcome* a, const Outcome* b) { return a->sent < b->sent; });
    auto c0 = cluster.Controller(0);
    const auto records_by = Clock::now() + 240s;
    int moved = 0;
    std::string on_victim;
    std::optional<double> used_after;
    for (const Outcome* o : victims) {
        if (o->sent > down && o->sent < starting) {
            const std::string ran = e2e::InvokerOf(e2e::WaitForRecord(c0, o->id, records_by));
            if (ran == victim_name) {
                on_victim += common::Cat(o->id, " sent ", std::to_string(Seconds(o->sent - down)),
                                         " s after down\n");
            } else {
                ++moved;
            }
        } else if (o->sent > up && !used_after) {
            if (e2e::InvokerOf(e2e::WaitForRecord(c0, o->id, records_by)) == victim_name) {
                used_after = Seconds(o->sent - up);
            }
        }
    }
    INFO(on_victim);
    CHECK(on_victim.empty());
    CHECK(moved >= 4);
    REQUIRE(used_after.has_value());
    WARN(victim_name << " used again for an invoke sent " << *used_after
                     << " s after it was up (target 15 s)");
    CHECK(*used_after <= 60.0);

    // Every accepted id: exactly one record. What was placed on the victim before it was
    // noticed is redelivered to it after its start (uncommitted offsets), or completed by force.
    CheckOneRecordPerAcceptedId(cluster.Controller(0), actions, outcomes, 240s);
    CHECK(Dead(cluster).empty());
}
