// The distributed topology on one machine, each component its own process: the dev Kafka broker,
// a SQLite store, 2 wisp-controller and 2 wisp-invoker (Docker with the runtime images:
// tools/start-dockerd.sh, tools/build-runtime-images.sh --build-dir build). One cluster serves
// every case of the binary (start-up is the slow part); the cases run in order, the restarts
// last. Checks blocking invokes through each controller, an update through controller 0 seen by
// controller 1, a key blocked with `wisp-admin --kafka` refused by both within 1 s, records,
// rules, sequences and web actions across processes, 200 concurrent mixed invokes with exactly
// one record each, a second controller0 refused, and restarts (SIGTERM and kill -9) under load.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/child_process.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/temp_dir.hpp>

#include "cluster_binaries.hpp"
#include "local_cluster.hpp"
#include "standalone_harness.hpp"

using namespace wisp;
using namespace std::chrono_literals;
using e2e::Act;
using e2e::CheckExactlyOneRecordEach;
using e2e::HttpClient;
using e2e::NameWithHome;
using e2e::WaitForRecord;
using testing::Binary;
using testing::FreePort;

namespace {

struct Cluster {
    testing::TempDir dir{"wisp-cluster-"};
    std::string prefix = e2e::UniqueName("wt") + "_";
    std::string store_uri;
    int broker_port = 0;
    std::unique_ptr<testing::ChildProcess> broker;
    std::vector<int> controller_ports;
    std::vector<std::unique_ptr<testing::ChildProcess>> controllers;
    std::vector<std::unique_ptr<testing::ChildProcess>> invokers;
    int restarts = 0;  // log file names of restarted components
    bool started = false;

    std::vector<std::string> Common(int id) const {
        return {"--id",
                std::to_string(id),
                "--kafka",
                common::Cat("127.0.0.1:", broker_port),
                "--kafka-fetch-wait-ms",
                "5",
                "--topic-prefix",
                prefix,
                "--store",
                store_uri,
                "--claim-lease-ms",
                "1000"};
    }

    std::unique_ptr<testing::ChildProcess> Spawn(std::vector<std::string> argv,
                                                 const std::string& log) {
        auto child =
            testing::ChildProcess::Spawn({.argv = std::move(argv), .log_path = dir.File(log)});
        REQUIRE(child.ok());
        return std::move(*child);
    }

    std::vector<std::string> ControllerArgs(int id, int port) const {
        std::vector<std::string> argv = {Binary("WISP_CONTROLLER", "wisp-controller")};
        for (auto& a : Common(id)) argv.push_back(a);
        for (auto a : {"--invocations-per-minute", "100000", "--concurrent-invocations", "1000"}) {
            argv.push_back(a);
        }
        argv.push_back("--port");
        argv.push_back(std::to_string(port));
        return argv;
    }

    std::vector<std::string> InvokerArgs(int id) const {
        std::vector<std::string> argv = {Binary("WISP_INVOKER", "wisp-invoker")};
        for (auto& a : Common(id)) argv.push_back(a);
        for (auto a : {"--user-memory", "1024", "--no-stem-cells", "--api-host"}) {
            argv.push_back(a);
        }
        argv.push_back(common::Cat("http://127.0.0.1:", controller_ports[0]));
        return argv;
    }

    std::string Bootstrap() const { return common::Cat("127.0.0.1:", broker_port); }

    void StartController(int id) {
        controllers[id] = Spawn(ControllerArgs(id, controller_ports[id]),
                                common::Cat("controller", id, "-", ++restarts, ".log"));
    }
    void StartInvoker(int id) {
        invokers[id] = Spawn(InvokerArgs(id), common::Cat("invoker", id, "-", ++restarts, ".log"));
    }

    // Polls another process's state until `body` of GET /invokers on every controller.
    void WaitForInvokers(const std::string& want, std::chrono::seconds timeout) {
        for (int port : controller_ports) {
            HttpClient http(common::Cat("http://127.0.0.1:", port), "");
            const auto until = std::chrono::steady_clock::now() + timeout;
            std::string body;
            while (std::chrono::steady_clock::now() < until) {
                body = http.Get("/invokers").body;
                if (body == want) break;
                for (auto& inv : invokers) {
                    INFO(inv->LogTail());
                    REQUIRE(inv->Running());
                }
                std::this_thread::sleep_for(200ms);  // polling another process's state
            }
            REQUIRE(body == want);
        }
    }

    void Start() {
        store_uri = "sqlite:" + dir.File("wisp.db");
        {
            auto store = store::OpenArtifactStore(store_uri);
            REQUIRE(store.ok());
            std::ostringstream out, err;
            admin::AdminCommands admin(**store, out, err);
            REQUIRE(admin.Init(admin::InitKeys::kRestoreWellKnown) == 0);
        }
        broker_port = FreePort();
        broker = Spawn({Binary("WISP_KAFKA_DEV_BROKER", "wisp-kafka-dev-broker"), "--port",
                        std::to_string(broker_port)},
                       "broker.log");
        REQUIRE(broker->WaitForPort(broker_port, 30s).ok());
        for (int id = 0; id < 2; ++id) {
            controller_ports.push_back(FreePort());
            controllers.push_back(Spawn(ControllerArgs(id, controller_ports.back()),
                                        common::Cat("controller", id, ".log")));
        }
        for (int id = 0; id < 2; ++id) {
            invokers.push_back(Spawn(InvokerArgs(id), common::Cat("invoker", id, ".log")));
        }
        for (size_t i = 0; i < controllers.size(); ++i) {
            auto st = controllers[i]->WaitForPort(controller_ports[i], 60s);
            INFO(controllers[i]->LogTail());
            REQUIRE(st.ok());
        }
        // Both invokers up on both controllers (their pings).
        WaitForInvokers(R"({"invoker0/0":"up","invoker1/1":"up"})", 120s);
        started = true;
    }

    HttpClient Client(int controller) const {
        return HttpClient(common::Cat("http://127.0.0.1:", controller_ports[controller]),
                          std::string(common::kGuestAuth));
    }

    std::string Logs() const {
        std::string all;
        for (size_t i = 0; i < controllers.size(); ++i) {
            all += common::Cat("--- controller", i, "\n", controllers[i]->LogTail(2048));
        }
        for (size_t i = 0; i < invokers.size(); ++i) {
            all += common::Cat("--- invoker", i, "\n", invokers[i]->LogTail(2048));
        }
        return all;
    }

    ~Cluster() {
        for (auto& c : controllers) {
            if (c) c->Stop(30s);
        }
        for (auto& i : invokers) {
            if (i) i->Stop(60s);  // removes its containers
        }
        if (broker) broker->Stop();
    }
};

std::string Action(const std::string& greeting) {
    return common::Cat(R"({"exec":{"kind":"python:3.11","code":)",
                       e2e::Quote(common::Cat("def main(a):\n    return {\"greeting\": \"",
                                              greeting, "\", \"n\": a.get(\"n\", 0)}\n")),
                       "}}");
}

// The one cluster of this binary, started by the first case that needs it.
Cluster& Shared() {
    static std::unique_ptr<Cluster> cluster;
    if (!cluster) {
        cluster = std::make_unique<Cluster>();
        cluster->Start();
    }
    if (!cluster->started) FAIL("the cluster did not start (see the first case)");
    return *cluster;
}

std::string PythonAction(const std::string& code, const std::string& extra = "") {
    return common::Cat(R"({"exec":{"kind":"python:3.11","code":)", e2e::Quote(code), "}", extra,
                       "}");
}

// The accepted activation ids (202, or 200 with an activationId) of invokes sent in the
// background, over both controllers, blocking and not, until Stop().
class Load {
  public:
    Load(const Cluster& cluster, std::string action, int threads) {
        for (int t = 0; t < threads; ++t) {
            workers_.emplace_back([this, &cluster, action, t] {
                for (int i = 0; !stop_.load(); ++i) {
                    const HttpClient c = cluster.Client((t + i) % 2);
                    const bool blocking = (i % 2) == 0;
                    auto r = c.Post(Act("actions/" + action) +
                                        (blocking ? "?blocking=true" : "?blocking=false"),
                                    common::Cat(R"({"n":)", i, "}"));
                    ++sent_;
                    if (r.status != 200 && r.status != 202) continue;  // not accepted
                    auto id = e2e::GetString(e2e::ParseJson(r.body), "activationId");
                    if (!id) continue;
                    std::lock_guard<std::mutex> lock(mu_);
                    ids_.push_back(*id);
                }
            });
        }
    }
    ~Load() { Stop(); }
    // Lets `n` more invokes be accepted (waits for them).
    void WaitForMore(size_t n) {
        const size_t want = Accepted() + n;
        const auto until = std::chrono::steady_clock::now() + 120s;
        while (Accepted() < want && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(50ms);  // the workers are other threads' HTTP calls
        }
    }
    size_t Accepted() {
        std::lock_guard<std::mutex> lock(mu_);
        return ids_.size();
    }
    std::vector<std::string> Stop() {
        stop_ = true;
        for (auto& w : workers_) {
            if (w.joinable()) w.join();
        }
        std::lock_guard<std::mutex> lock(mu_);
        return ids_;
    }
    int sent() const { return sent_.load(); }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<int> sent_{0};
    std::mutex mu_;
    std::vector<std::string> ids_;
    std::vector<std::thread> workers_;
};

}  // namespace

TEST_CASE("cluster: 2 controllers and 2 invokers over Kafka", "[distributed]") {
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    auto c0 = cluster.Client(0);
    auto c1 = cluster.Client(1);
    const std::string name = e2e::UniqueName("hello");
    const std::string action = "/api/v1/namespaces/_/actions/" + name;
    const std::string invoke = action + "?blocking=true&result=true";

    // Blocking invokes through either controller return the result from an invoker behind Kafka.
    REQUIRE(c0.Put(action, Action("v1")).status == 200);
    for (auto* c : {&c0, &c1, &c0, &c1}) {
        auto r = c->Post(invoke, R"({"n":1})");
        INFO(r.Describe());
        REQUIRE(r.status == 200);
        CHECK(r.body == R"({"greeting":"v1","n":1})");
    }

    // Updated through controller 0: controller 1 runs the new code (its cache was invalidated).
    REQUIRE(c0.Put(action + "?overwrite=true", Action("v2")).status == 200);
    const auto until = std::chrono::steady_clock::now() + 1s;
    std::string body;
    // The promise is 1 s; a first answer after that still counts if it is right, but we check
    // that the new code ran.
    do {
        auto r = c1.Post(invoke, R"({"n":2})");
        REQUIRE(r.status == 200);
        body = r.body;
    } while (body != R"({"greeting":"v2","n":2})" && std::chrono::steady_clock::now() < until);
    CHECK(body == R"({"greeting":"v2","n":2})");

    // 50 concurrent invokes through both controllers: every activation id has a record.
    std::vector<std::future<e2e::HttpResult>> calls;
    for (int i = 0; i < 50; ++i) {
        const HttpClient* c = i % 2 ? &c1 : &c0;
        calls.push_back(std::async(std::launch::async, [c, action, i] {
            return c->Post(action + "?blocking=true", common::Cat(R"({"n":)", i, "}"));
        }));
    }
    std::vector<std::string> ids;
    for (auto& f : calls) {
        auto r = f.get();
        INFO(r.Describe());
        REQUIRE((r.status == 200 || r.status == 202));
        auto doc = e2e::ParseJson(r.body);
        auto id = e2e::GetString(doc, "activationId");
        REQUIRE(id.has_value());
        ids.push_back(*id);
    }
    for (const auto& id : ids) {
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        int status = 0;
        while (std::chrono::steady_clock::now() < deadline) {
            status = c1.Get("/api/v1/namespaces/_/activations/" + id).status;
            if (status == 200) break;
            std::this_thread::sleep_for(100ms);  // the record is written by another process
        }
        INFO(id);
        CHECK(status == 200);
    }

    // A second controller0 while the first is alive refuses to start, saying what to do.
    auto dup = cluster.Spawn(cluster.ControllerArgs(0, FreePort()), "controller0-dup.log");
    const auto dup_until = std::chrono::steady_clock::now() + 60s;
    while (dup->Running() && std::chrono::steady_clock::now() < dup_until) {
        std::this_thread::sleep_for(100ms);  // waiting for another process to exit
    }
    REQUIRE_FALSE(dup->Running());
    CHECK(WIFEXITED(dup->exit_status()));
    CHECK(WEXITSTATUS(dup->exit_status()) == 1);
    CHECK_THAT(dup->LogTail(), Catch::Contains("another controller0 is running"));
}

TEST_CASE(
    "cluster: a key blocked with wisp-admin --kafka is refused by both controllers within 1 s",
    "[distributed][auth]") {
    Cluster& cluster = Shared();
    const std::string user = e2e::UniqueName("blk");
    auto created = e2e::RunAdmin(cluster.store_uri, {"user", "create", user});
    INFO(created.output);
    REQUIRE(created.exit_code == 0);
    const std::string key = created.output.substr(0, created.output.find('\n'));
    std::vector<HttpClient> clients;
    for (int port : cluster.controller_ports) {
        clients.emplace_back(common::Cat("http://127.0.0.1:", port), key);
    }
    for (auto& c : clients) REQUIRE(c.Get(Act("actions")).status == 200);  // now cached

    // Polls both controllers until each answers as `accepted` says; true within 1 s of the
    // admin's exit.
    auto seen_by_both = [&](bool accepted, std::chrono::steady_clock::time_point admin_exit) {
        std::vector<bool> done(clients.size(), false);
        while (true) {
            bool all = true;
            for (size_t i = 0; i < clients.size(); ++i) {
                if (done[i]) continue;
                const int status = clients[i].Get(Act("actions")).status;
                done[i] = accepted ? status == 200 : (status == 401 || status == 403);
                all = all && done[i];
            }
            if (all) return true;
            if (std::chrono::steady_clock::now() > admin_exit + 1s) return false;
        }
    };
    const std::vector<std::string> bus = {"--kafka", cluster.Bootstrap(), "--topic-prefix",
                                          cluster.prefix};
    std::vector<std::string> block = {"user", "block", user};
    block.insert(block.end(), bus.begin(), bus.end());
    auto r = e2e::RunAdmin(cluster.store_uri, block);
    auto exited = std::chrono::steady_clock::now();
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find("note:") == std::string::npos);  // announced: no TTL note
    CHECK(seen_by_both(false, exited));

    std::vector<std::string> unblock = {"user", "unblock", user};
    unblock.insert(unblock.end(), bus.begin(), bus.end());
    r = e2e::RunAdmin(cluster.store_uri, unblock);
    exited = std::chrono::steady_clock::now();
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(seen_by_both(true, exited));
}

TEST_CASE("cluster: each controller enforces its share of a namespace's throttles",
          "[distributed][throttle]") {
    // OpenWhisk's Entitlement: each controller counts what it admitted itself and enforces
    // limit / controllers x 1.2 (rounded up); the 429 names that share. Here 10 per minute over
    // 2 live controllers: 6 each.
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    const std::string user = e2e::UniqueName("thr");
    auto created = e2e::RunAdmin(cluster.store_uri, {"user", "create", user, "-ns", user});
    INFO(created.output);
    REQUIRE(created.exit_code == 0);
    const std::string key = created.output.substr(0, created.output.find('\n'));
    auto set = e2e::RunAdmin(cluster.store_uri, {"limits", "set", user, "--invocationsPerMinute",
                                                 "10", "--firesPerMinute", "4"});
    INFO(set.output);
    REQUIRE(set.exit_code == 0);
    std::vector<HttpClient> clients;
    for (int port : cluster.controller_ports) {
        clients.emplace_back(common::Cat("http://127.0.0.1:", port), key);
    }
    const std::string name = e2e::UniqueName("thra");
    REQUIRE(clients[0].Put(Act("actions/" + name), Action("hi")).status == 200);
    const std::string trigger = e2e::UniqueName("thrt");
    REQUIRE(clients[0].Put(Act("triggers/" + trigger), "{}").status == 200);

    // Per-minute counts: stay clear of a calendar minute's end.
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count() %
                   60;
    if (s > 40) std::this_thread::sleep_for(std::chrono::seconds(61 - s));
    for (int i = 0; i < 6; ++i) {
        auto r = clients[0].Post(Act("actions/" + name), "{}");
        INFO(r.Describe());
        REQUIRE(r.status == 202);
    }
    auto r = clients[0].Post(Act("actions/" + name), "{}");
    CHECK(r.status == 429);
    CHECK_THAT(r.body, Catch::Contains("Too many requests in the last minute (count: 7, allowed: "
                                       "6)."));
    // The other controller has its own share. (It counts controller0 although the second
    // controller0 refused by the first case said goodbye: only that incarnation left.)
    for (int i = 0; i < 6; ++i) CHECK(clients[1].Post(Act("actions/" + name), "{}").status == 202);
    r = clients[1].Post(Act("actions/" + name), "{}");
    CHECK(r.status == 429);
    CHECK_THAT(r.body, Catch::Contains("(count: 7, allowed: 6)."));

    // Fires: 4 per minute over 2 controllers -> ceil(2 x 1.2) = 3 each.
    for (int i = 0; i < 3; ++i)
        CHECK(clients[1].Post(Act("triggers/" + trigger), "{}").status == 204);
    r = clients[1].Post(Act("triggers/" + trigger), "{}");
    CHECK(r.status == 429);
    CHECK_THAT(r.body, Catch::Contains("Too many requests in the last minute (count: 4, allowed: "
                                       "3)."));
}

TEST_CASE("cluster: records, rules, sequences and web actions across processes", "[distributed]") {
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    auto c0 = cluster.Client(0);
    auto c1 = cluster.Client(1);
    const std::string base = e2e::UniqueName("x");
    const std::string echo =
        "def main(a):\n    a.pop('__ow_headers', None)\n    return {'got': a.get('n', 0)}\n";
    REQUIRE(c0.Put(Act("actions/" + base), PythonAction(echo)).status == 200);

    // A non-blocking invoke through controller 0: its record is found through controller 1.
    auto nb = c0.Post(Act("actions/" + base), R"({"n":3})");
    INFO(nb.Describe());
    REQUIRE(nb.status == 202);
    auto nb_id = e2e::GetString(e2e::ParseJson(nb.body), "activationId");
    REQUIRE(nb_id);
    auto rec = WaitForRecord(c1, *nb_id, std::chrono::steady_clock::now() + 60s);
    INFO(rec.Describe());
    REQUIRE(rec.status == 200);
    CHECK(e2e::GetInt(e2e::ParseJson(rec.body), "response.result.got") == 3);

    // A trigger and a rule created through controller 0, fired through controller 1.
    const std::string trigger = base + "-t";
    REQUIRE(c0.Put(Act("triggers/" + trigger), "{}").status == 200);
    auto rule =
        c0.Put(Act("rules/" + base + "-r"),
               common::Cat(R"({"trigger":"/_/)", trigger, R"(","action":"/_/)", base, R"("})"));
    INFO(rule.Describe());
    REQUIRE(rule.status == 200);
    auto fire = c1.Post(Act("triggers/" + trigger), R"({"n":7})");
    INFO(fire.Describe());
    REQUIRE(fire.status == 202);
    auto trigger_id = e2e::GetString(e2e::ParseJson(fire.body), "activationId");
    REQUIRE(trigger_id);
    auto trec = WaitForRecord(c0, *trigger_id, std::chrono::steady_clock::now() + 60s);
    INFO(trec.Describe());
    REQUIRE(trec.status == 200);
    auto tdoc = e2e::ParseJson(trec.body);
    const auto* logs = e2e::Find(tdoc, "logs");
    REQUIRE(logs);
    REQUIRE(logs->IsArray());
    REQUIRE(logs->Size() == 1);
    auto fired = e2e::GetString(e2e::ParseJson((*logs)[0].GetString()), "activationId");
    REQUIRE(fired);
    auto arec = WaitForRecord(c1, *fired, std::chrono::steady_clock::now() + 60s);
    INFO(arec.Describe());
    REQUIRE(arec.status == 200);
    CHECK(e2e::GetInt(e2e::ParseJson(arec.body), "response.result.got") == 7);

    // A sequence of two actions (created through controller 0, run through controller 1).
    REQUIRE(c0.Put(Act("actions/" + base + "-inc"),
                   PythonAction("def main(a):\n    return {'n': a.get('got', 0) + 1}\n"))
                .status == 200);
    REQUIRE(c0.Put(Act("actions/" + base + "-seq"),
                   common::Cat(R"({"exec":{"kind":"sequence","components":["/_/)", base,
                               R"(","/_/)", base, R"(-inc"]}})"))
                .status == 200);
    auto seq = c1.Post(Act("actions/" + base + "-seq?blocking=true&result=true"), R"({"n":41})");
    INFO(seq.Describe());
    REQUIRE(seq.status == 200);
    CHECK(seq.body == R"({"n":42})");

    // A web action through both controllers.
    REQUIRE(c0.Put(Act("actions/" + base + "-web"),
                   PythonAction("def main(a):\n    return {'web': a.get('__ow_method')}\n",
                                R"(,"annotations":[{"key":"web-export","value":true}])"))
                .status == 200);
    for (auto* c : {&c0, &c1}) {
        HttpClient anon(c->base_url(), "");
        auto web = anon.Get("/api/v1/web/guest/default/" + base + "-web.json");
        INFO(web.Describe());
        CHECK(web.status == 200);
        CHECK(web.body == R"({"web":"get"})");
    }
}

TEST_CASE("cluster: 200 concurrent mixed invokes over both controllers: one record each",
          "[distributed][load]") {
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    auto c0 = cluster.Client(0);
    auto c1 = cluster.Client(1);
    const std::string action = e2e::UniqueName("mix");
    REQUIRE(c0.Put(Act("actions/" + action),
                   PythonAction("def main(a):\n    return {'n': a.get('n', 0)}\n"))
                .status == 200);
    std::vector<std::future<e2e::HttpResult>> calls;
    for (int i = 0; i < 200; ++i) {
        const HttpClient* c = i % 2 ? &c1 : &c0;
        const bool blocking = (i / 2) % 2 == 0;
        calls.push_back(std::async(std::launch::async, [c, action, i, blocking] {
            return c->Post(Act("actions/" + action) + (blocking ? "?blocking=true" : ""),
                           common::Cat(R"({"n":)", i, "}"));
        }));
    }
    std::vector<std::string> ids;
    for (auto& f : calls) {
        auto r = f.get();
        INFO(r.Describe());
        REQUIRE((r.status == 200 || r.status == 202));
        auto id = e2e::GetString(e2e::ParseJson(r.body), "activationId");
        REQUIRE(id.has_value());
        ids.push_back(*id);
    }
    CheckExactlyOneRecordEach(c1, action, ids, 180s);
}

namespace {

// The "invoker" annotation of the newest record of `action` ("" when there is none).
// The "invoker" annotation of the action's newest record; "" while it has none. The invoker
// stores a record after it answered (result ack first), so poll: see InvokerOfNewestRecord.
std::string InvokerOfNewest(const HttpClient& c, const std::string& action) {
    auto r = c.Get(Act(common::Cat("activations?docs=true&limit=1&name=", action)));
    if (r.status != 200) return "";
    auto doc = e2e::ParseJson(r.body);
    if (!doc.IsArray() || doc.Empty()) return "";
    const auto& rec = doc[0];
    if (!rec.HasMember("annotations") || !rec["annotations"].IsArray()) return "";
    for (const auto& a : rec["annotations"].GetArray()) {
        if (a.HasMember("key") && a["key"] == "invoker" && a.HasMember("value") &&
            a["value"].IsString()) {
            return a["value"].GetString();
        }
    }
    return "";
}

// Polls InvokerOfNewest (the record is written by another process) until it names an invoker
// or 60 s pass.
std::string InvokerOfNewestRecord(const HttpClient& c, const std::string& action) {
    const auto until = std::chrono::steady_clock::now() + 60s;
    std::string invoker;
    while ((invoker = InvokerOfNewest(c, action)).empty() &&
           std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(100ms);  // the record is written by another process
    }
    return invoker;
}

// The containers of invoker `id` (labelled with its owner name, see distributed/invoker_main).
int ContainersOf(const Cluster& cluster, int id) {
    const std::string cmd = common::Cat("docker ps -q --filter label=wisp.owner=wisp-invoker-",
                                        cluster.prefix, id, " 2>/dev/null");
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return -1;
    int lines = 0;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) ++lines;
    ::pclose(p);
    return lines;
}

// Blocking invokes of `action` through `c` until one returns 200 (a restarted component is
// back), up to `timeout`.
bool InvokeWorksAgain(const HttpClient& c, const std::string& action,
                      std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (c.Post(Act("actions/" + action + "?blocking=true&result=true"), "{}").status == 200) {
            return true;
        }
        std::this_thread::sleep_for(200ms);  // waiting for another process to come back
    }
    return false;
}

}  // namespace

TEST_CASE("cluster: SIGTERM and start of a controller, then of an invoker, under load",
          "[distributed][restart]") {
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    auto c0 = cluster.Client(0);
    auto c1 = cluster.Client(1);
    const std::string action = e2e::UniqueName("rs");
    REQUIRE(c0.Put(Act("actions/" + action),
                   PythonAction("import time\ndef main(a):\n    time.sleep(0.2)\n"
                                "    return {'n': a.get('n', 0)}\n"))
                .status == 200);

    // Controller 1 stopped (SIGTERM) and started while invokes go through both controllers.
    std::vector<std::string> ids;
    {
        Load load(cluster, action, 6);
        load.WaitForMore(20);
        cluster.controllers[1]->Stop(60s);
        load.WaitForMore(10);  // through controller 0 meanwhile
        cluster.StartController(1);
        REQUIRE(cluster.controllers[1]->WaitForPort(cluster.controller_ports[1], 60s).ok());
        load.WaitForMore(20);
        ids = load.Stop();
    }
    {
        INFO(cluster.controllers[1]->LogTail());
        CHECK(InvokeWorksAgain(c1, action, 60s));  // rejoined without a manual step
    }
    CheckExactlyOneRecordEach(c0, action, ids, 180s);

    // Invoker 1 stopped (SIGTERM) and started while invokes are in flight.
    const std::string action2 = action + "-i";
    REQUIRE(c0.Put(Act("actions/" + action2),
                   PythonAction("import time\ndef main(a):\n    time.sleep(0.2)\n"
                                "    return {'n': a.get('n', 0)}\n"))
                .status == 200);
    {
        Load load(cluster, action2, 6);
        load.WaitForMore(20);
        cluster.invokers[1]->Stop(90s);  // drains, removes its containers
        CHECK(ContainersOf(cluster, 1) == 0);
        load.WaitForMore(10);
        cluster.StartInvoker(1);
        load.WaitForMore(20);
        ids = load.Stop();
    }
    cluster.WaitForInvokers(R"({"invoker0/0":"up","invoker1/1":"up"})", 120s);
    CheckExactlyOneRecordEach(c0, action2, ids, 180s);
    // The restarted invoker gets work again: an action whose home invoker (the sharding hash)
    // is invoker 1 runs there (its records say so).
    const std::string home1 = NameWithHome(action + "-h", 1, 2);
    REQUIRE(c0.Put(Act("actions/" + home1), PythonAction("def main(a):\n    return a\n")).status ==
            200);
    INFO(cluster.invokers[1]->LogTail());
    CHECK(InvokeWorksAgain(c1, home1, 60s));
    CHECK(InvokerOfNewestRecord(c0, home1) == "invoker1");
}

TEST_CASE(
    "cluster: an invoker killed with -9 and started with its id rejoins; every accepted "
    "activation ends with exactly one record",
    "[distributed][restart]") {
    Cluster& cluster = Shared();
    INFO(cluster.Logs());
    auto c0 = cluster.Client(0);
    const std::string action = e2e::UniqueName("k9");
    REQUIRE(c0.Put(Act("actions/" + action),
                   PythonAction("import time\ndef main(a):\n    time.sleep(0.2)\n"
                                "    return {'n': a.get('n', 0)}\n"))
                .status == 200);
    std::vector<std::string> ids;
    {
        Load load(cluster, action, 6);
        load.WaitForMore(20);
        ::kill(-cluster.invokers[0]->pid(), SIGKILL);  // its process group, as kill -9 would
        while (cluster.invokers[0]->Running()) {
            std::this_thread::sleep_for(10ms);  // reaping another process
        }
        load.WaitForMore(10);
        cluster.StartInvoker(0);  // takes the id over after the claim lease
        load.WaitForMore(20);
        ids = load.Stop();
    }
    cluster.WaitForInvokers(R"({"invoker0/0":"up","invoker1/1":"up"})", 120s);
    {
        INFO(cluster.invokers[0]->LogTail());
        CHECK(InvokeWorksAgain(c0, action, 60s));
    }
    // Nothing accepted is lost, nothing has two records: the invoker commits its topic only up
    // to the lowest activation whose record is stored, so what the killed process had taken and
    // not finished is delivered again to the new one (which runs only those without a record);
    // anything its invoker never completes gets the controller's forced completion record.
    CheckExactlyOneRecordEach(c0, action, ids, 240s);
}
