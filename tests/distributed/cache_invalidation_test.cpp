// Two controllers (and a stand-in for wisp-admin) over one in-process bus and one store, wired
// like wisp-controller: each its own caches (a long TTL on a still clock, so nothing expires
// during the test), kept correct only by cluster::CacheInvalidation. An action updated through
// controller 0 runs its new version through controller 1; a key blocked in the store (wisp-admin
// block) and announced on the bus is refused by controller 1.
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/cluster/cache_invalidation.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using namespace std::chrono_literals;

namespace {

/// One controller process: its balancer, its controller and its invalidation feed.
struct ControllerNode {
    testing::FakeBalancer balancer;
    std::unique_ptr<cluster::CacheInvalidation> invalidation;
    std::unique_ptr<controller::Controller> controller;

    ControllerNode(store::ArtifactStore& store, messaging::MessagingProvider& bus,
                   common::Clock& clock, int id)
        : balancer(Options(store)) {
        controller::ControllerConfig cfg;
        cfg.controller_id = std::to_string(id);
        cfg.auth_cache_ttl = 3600s;
        cfg.entity_cache_ttl = 3600s;
        cfg.on_entity_written = [this](const std::string& docid) {
            if (invalidation) REQUIRE(invalidation->Notify(docid).ok());
        };
        controller = std::make_unique<controller::Controller>(
            store, balancer, common::RuntimeManifest::BuiltIn(), clock, cfg);
        auto started = cluster::CacheInvalidation::Start(
            bus, {.instance_id = common::Cat("controller", id), .long_poll = 100ms},
            [this](const std::string& key) {
                if (cluster::IsEntityKey(key)) {
                    controller->InvalidateEntity(key);
                } else {
                    controller->InvalidateAuthCache();
                }
            });
        REQUIRE(started.ok());
        invalidation = std::move(*started);
    }
    ~ControllerNode() {
        invalidation->Stop();
        controller->Shutdown();
        balancer.Shutdown();
    }

    static testing::FakeBalancer::Options Options(store::ArtifactStore& store) {
        testing::FakeBalancer::Options o;
        o.store = &store;
        o.respond = testing::FakeBalancer::ArgumentsPlusRan("\"fail\"");
        return o;
    }

    controller::HttpResponse Send(std::string method, std::string target, std::string body = "") {
        controller::HttpRequest req;
        req.method = std::move(method);
        req.target = target;
        REQUIRE(controller::ParseTarget(target, req.path, req.query));
        req.headers.emplace_back("authorization",
                                 "Basic " + common::Base64Encode(std::string(common::kGuestAuth)));
        if (!body.empty()) req.headers.emplace_back("content-type", "application/json");
        req.body = std::move(body);
        req.remote_address = "127.0.0.1";
        std::promise<controller::HttpResponse> p;
        auto f = p.get_future();
        controller->Handle(std::move(req),
                           [&p](controller::HttpResponse r) { p.set_value(std::move(r)); });
        REQUIRE(f.wait_for(10s) == std::future_status::ready);
        return f.get();
    }
};

/// Polls `pred` until it holds; false after 10 s (the promise is 1 s; the slack is for CI).
template <class Pred>
bool Eventually(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::yield();
    }
    return true;
}

std::string Action(int version) {
    return common::Cat(R"({"exec":{"kind":"python:3","code":"def main(a): return a"},)",
                       R"("parameters":[{"key":"version","value":)", version, "}]}");
}

constexpr const char* kAction = "/api/v1/namespaces/_/actions/hello";
constexpr const char* kInvoke = "/api/v1/namespaces/_/actions/hello?blocking=true&result=true";

}  // namespace

TEST_CASE("distributed caches: an action updated through one controller runs new on the other",
          "[distributed][invalidation]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    {
        std::ostringstream out, err;
        admin::AdminCommands admin(*store, out, err);
        REQUIRE(admin.Init(admin::InitKeys::kRestoreWellKnown) == 0);
    }
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    clock.Set(1795000000000);
    ControllerNode c0(*store, bus, clock, 0);
    ControllerNode c1(*store, bus, clock, 1);

    REQUIRE(c0.Send("PUT", kAction, Action(1)).status == 200);
    auto r = c1.Send("POST", kInvoke);  // controller 1 caches version 1
    REQUIRE(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains("\"version\":1"));

    REQUIRE(c0.Send("PUT", common::Cat(kAction, "?overwrite=true"), Action(2)).status == 200);
    CHECK(Eventually([&] { return c1.invalidation->received() >= 2; }));  // create + update
    r = c1.Send("POST", kInvoke);
    REQUIRE(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains("\"version\":2"));

    // Without the bus the cache would serve version 1 for the hour: controller 0 saw none of
    // its own messages, so a write on controller 1 reaches controller 0 the same way.
    CHECK(c0.invalidation->received() == 0);
    REQUIRE(c1.Send("PUT", common::Cat(kAction, "?overwrite=true"), Action(3)).status == 200);
    CHECK(Eventually([&] { return c0.invalidation->received() >= 1; }));
    CHECK_THAT(c0.Send("POST", kInvoke).body, Catch::Contains("\"version\":3"));
}

TEST_CASE("distributed caches: a key blocked in the store and announced is refused everywhere",
          "[distributed][invalidation]") {
    auto store = store::OpenArtifactStore("sqlite::memory:").value();
    std::ostringstream out, err;
    admin::AdminCommands admin(*store, out, err);
    REQUIRE(admin.Init(admin::InitKeys::kRestoreWellKnown) == 0);
    messaging::InProcessMessagingProvider bus;
    testing::ManualClock clock;
    clock.Set(1795000000000);
    ControllerNode c0(*store, bus, clock, 0);
    ControllerNode c1(*store, bus, clock, 1);
    auto admin_bus = cluster::CacheInvalidation::Start(bus, {.instance_id = "admin"}, nullptr);
    REQUIRE(admin_bus.ok());

    REQUIRE(c0.Send("GET", "/api/v1/namespaces/_/actions").status == 200);  // keys cached
    REQUIRE(c1.Send("GET", "/api/v1/namespaces/_/actions").status == 200);
    REQUIRE(admin.Block({"guest"}) == 0);
    // Still cached: the store alone is not enough with an hour's TTL.
    CHECK(c1.Send("GET", "/api/v1/namespaces/_/actions").status == 200);
    REQUIRE((*admin_bus)->Notify("guest").ok());  // the subject: its identities
    CHECK(Eventually(
        [&] { return c0.invalidation->received() >= 1 && c1.invalidation->received() >= 1; }));
    CHECK(c0.Send("GET", "/api/v1/namespaces/_/actions").status == 401);
    CHECK(c1.Send("GET", "/api/v1/namespaces/_/actions").status == 401);
    (*admin_bus)->Stop();
}
