// A hung or stopped CouchDB (pouchdb-server, SIGSTOP'd or gone) under the controller on a real
// HttpServer: /ping keeps answering, reads and invokes answer 503 with OpenWhisk's "currently
// unavailable" text within the bounded store timeout, and everything works again once the store
// answers (issue 12, "Store outage"). Label integration: starts pouchdb-server.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http_server.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/pouchdb_server.hpp>

#include "standalone_harness.hpp"

using namespace wisp;
using namespace std::chrono_literals;

namespace {

constexpr const char* kActions = "/api/v1/namespaces/_/actions";
constexpr const char* kUnavailable =
    "The server is currently unavailable (because it is overloaded or down for maintenance).";

}  // namespace

TEST_CASE("store outage: /ping answers, requests get 503 fast, all recovers",
          "[integration][store-outage]") {
    auto pouch = testing::PouchDbServer::Start();
    REQUIRE(pouch.ok());
    // CouchDB's default 60 s per request: only StoreGuard bounds what a request waits.
    auto store = store::OpenArtifactStore(
        "couchdb:" + (*pouch)->StoreUri(testing::PouchDbServer::UniquePrefix()) +
        "&max_retries=1&connect_timeout_ms=1000&initial_backoff_ms=50");
    REQUIRE(store.ok());
    common::Subject s;
    s.subject = "guest";
    s.namespaces.push_back({"guest", common::AuthKey::Parse(common::kGuestAuth).value()});
    REQUIRE((*store)->PutSubject(s, "").ok());

    testing::FakeBalancer balancer;
    controller::ControllerConfig config;
    config.store_call_timeout = 1000ms;
    config.auth_cache_ttl = 0ms;  // every request reads the store
    config.entity_cache_ttl = 0ms;
    controller::Controller ctl(**store, balancer, common::RuntimeManifest::BuiltIn(),
                               common::SystemClock::Instance(), config);
    controller::HttpServer server({.address = "127.0.0.1", .port = 0, .threads = 2}, ctl.Handler());
    REQUIRE(server.Start().ok());
    const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
    e2e::HttpClient http(base, std::string(common::kGuestAuth));
    REQUIRE(http.Get(kActions).status == 200);
    REQUIRE(http.Put(std::string(kActions) + "/hello",
                     R"({"exec":{"kind":"python:3","code":"def main(a): return {}"}})")
                .status == 200);

    auto outage = [&](const char* what) {
        INFO(what);  // the same checks fit a stopped server (refused), which fails faster
        // Load on both HTTP threads while /ping is asked again and again.
        std::atomic<bool> stop{false};
        std::atomic<int> answered_503{0}, other{0};
        std::vector<std::thread> clients;
        for (int c = 0; c < 4; ++c) {
            clients.emplace_back([&, c] {
                while (!stop) {
                    auto r = c % 2 == 0 ? http.Get(kActions)
                                        : http.Post(std::string(kActions) + "/hello", "{}");
                    if (r.status == 503 && r.body.find(kUnavailable) != std::string::npos) {
                        ++answered_503;
                    } else {
                        ++other;
                    }
                }
            });
        }
        int pings = 0;
        std::chrono::steady_clock::duration max_ping{};
        while (answered_503.load() < 20) {
            const auto t0 = std::chrono::steady_clock::now();
            auto ping = http.Get("/ping");
            const auto took = std::chrono::steady_clock::now() - t0;
            CHECK(ping.status == 200);
            CHECK(took < 10s);  // bounded by the store timeouts, not by the outage
            ++pings;
            if (took > max_ping) max_ping = took;
            if (pings > 2000) break;
        }
        stop = true;
        for (auto& t : clients) t.join();
        CHECK(answered_503.load() >= 20);
        CHECK(pings > 0);
        WARN("pings during the outage: "
             << pings << ", slowest "
             << std::chrono::duration_cast<std::chrono::milliseconds>(max_ping).count() << " ms");
    };

    (*pouch)->Pause();  // hung: the kernel accepts connections, nothing answers
    outage("hung");
    (*pouch)->Resume();
    // Back: the breaker's probe finds it answering again.
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        status = http.Get(kActions).status;
        if (status == 200) break;
        std::this_thread::sleep_for(100ms);
    }
    CHECK(status == 200);
    CHECK(http.Post(std::string(kActions) + "/hello", "{}").status == 202);
    server.Stop();
    ctl.Shutdown();
    balancer.Shutdown();
}
