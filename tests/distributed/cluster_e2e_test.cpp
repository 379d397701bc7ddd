// The distributed topology on one machine, each component its own process: the dev Kafka broker,
// a SQLite store, 2 wisp-controller and 2 wisp-invoker (Docker with the runtime images:
// tools/start-dockerd.sh, tools/build-runtime-images.sh --build-dir build). Checks blocking
// invokes through each controller, an update through controller 0 seen by controller 1, 50
// concurrent invokes each with a record, and a second controller0 refused.
#include <chrono>
#include <future>
#include <memory>
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

#include "standalone_harness.hpp"

using namespace wisp;
using namespace std::chrono_literals;
using e2e::HttpClient;

namespace {

std::string Binary(const char* env, const char* name) {
    const char* v = std::getenv(env);
    return v && *v ? v : common::Cat(WISP_BUILD_DIR, "/bin/", name);
}

int FreePort() {
    auto port = testing::FindFreeLoopbackPort();
    REQUIRE(port.ok());
    return *port;
}

struct Cluster {
    testing::TempDir dir{"wisp-cluster-"};
    std::string prefix = e2e::UniqueName("wt") + "_";
    std::string store_uri;
    int broker_port = 0;
    std::unique_ptr<testing::ChildProcess> broker;
    std::vector<int> controller_ports;
    std::vector<std::unique_ptr<testing::ChildProcess>> controllers;
    std::vector<std::unique_ptr<testing::ChildProcess>> invokers;

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
            std::vector<std::string> argv = {Binary("WISP_INVOKER", "wisp-invoker")};
            for (auto& a : Common(id)) argv.push_back(a);
            for (auto a : {"--user-memory", "1024", "--no-stem-cells", "--api-host"}) {
                argv.push_back(a);
            }
            argv.push_back(common::Cat("http://127.0.0.1:", controller_ports[0]));
            invokers.push_back(Spawn(argv, common::Cat("invoker", id, ".log")));
        }
        for (size_t i = 0; i < controllers.size(); ++i) {
            auto st = controllers[i]->WaitForPort(controller_ports[i], 60s);
            INFO(controllers[i]->LogTail());
            REQUIRE(st.ok());
        }
        // Both invokers up on both controllers (their pings).
        for (int port : controller_ports) {
            HttpClient http(common::Cat("http://127.0.0.1:", port), "");
            const auto until = std::chrono::steady_clock::now() + 120s;
            std::string body;
            while (std::chrono::steady_clock::now() < until) {
                body = http.Get("/invokers").body;
                if (body == R"({"invoker0":"up","invoker1":"up"})") break;
                for (auto& inv : invokers) {
                    INFO(inv->LogTail());
                    REQUIRE(inv->Running());
                }
                std::this_thread::sleep_for(200ms);  // polling another process's state
            }
            REQUIRE(body == R"({"invoker0":"up","invoker1":"up"})");
        }
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
        for (auto& c : controllers) c->Stop(30s);
        for (auto& i : invokers) i->Stop(60s);  // removes its containers
        if (broker) broker->Stop();
    }
};

std::string Action(const std::string& greeting) {
    return common::Cat(R"({"exec":{"kind":"python:3.11","code":)",
                       e2e::Quote(common::Cat("def main(a):\n    return {\"greeting\": \"",
                                              greeting, "\", \"n\": a.get(\"n\", 0)}\n")),
                       "}}");
}

}  // namespace

TEST_CASE("cluster: 2 controllers and 2 invokers over Kafka", "[distributed]") {
    Cluster cluster;
    cluster.Start();
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
