// The `keep-warm` annotation in the controller (KeepWarm, keep_warm.hpp): validation on PUT
// against the namespace's maxKeepWarm, GET .../limits, and the keep-warm orders published to the
// balancer on write, update, delete and by the periodic refresh.
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>

#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "controller_test_support.hpp"
#include "keep_warm.hpp"

namespace wisp::controller {
namespace {

constexpr const char* kNs = "/api/v1/namespaces/_";

struct KeepWarmFixture : test_support::ControllerOverSqlite {
    explicit KeepWarmFixture(ControllerConfig config = {}) {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        clock.Set(1795000000000);
        config.auth_cache_ttl = std::chrono::milliseconds(0);  // limits changes apply at once
        Start(std::move(config), /*run_actions=*/false);
    }

    HttpResponse Send(std::string method, std::string target, std::string body = "") {
        return test_support::Answer(
            *controller, test_support::MakeRequest(std::move(method), target, std::move(body),
                                                   std::string(common::kGuestAuth)));
    }

    /// PUT ?overwrite=true of a python action with `annotations` (a JSON array).
    HttpResponse PutAction(const std::string& name, const std::string& annotations) {
        return Send("PUT", common::Cat(kNs, "/actions/", name, "?overwrite=true"),
                    common::Cat(R"({"exec":{"kind":"python:3","code":"def main(a): return a"},)",
                                R"("annotations":)", annotations, "}"));
    }
};

using test_support::Parse;

std::string ErrorOf(const HttpResponse& r) {
    auto d = Parse(r.body);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    return d["error"].GetString();
}

std::string Kw(const std::string& value) {
    return common::Cat(R"([{"key":"keep-warm","value":)", value, "}]");
}

/// Waits (real time, up to 10 s) until `pred` holds.
template <class Pred>
bool Eventually(Pred pred) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace

TEST_CASE("keep-warm: the annotation is an integer >= 0 within the namespace's maxKeepWarm",
          "[controller][keep-warm]") {
    ControllerConfig config;
    config.keep_warm_refresh = std::chrono::milliseconds(0);
    KeepWarmFixture f(config);

    for (const std::string bad : {R"("1")", "-1", "1.5", "true", "null", "[1]"}) {
        INFO(bad);
        auto r = f.PutAction("a", Kw(bad));
        CHECK(r.status == 400);
        CHECK(ErrorOf(r).find("The annotation 'keep-warm' must be an integer of 0 or more") == 0);
    }
    auto over = f.PutAction("a", Kw("3"));
    CHECK(over.status == 400);
    CHECK(ErrorOf(over) ==
          "The annotation 'keep-warm' asks for 3 containers, more than the namespace's limit "
          "maxKeepWarm of 2 (an operator raises it with `wisp-admin limits set <namespace> "
          "--maxKeepWarm N`).");
    CHECK(f.Send("GET", common::Cat(kNs, "/actions/a")).status == 404);  // nothing stored
    CHECK(f.PutAction("a", Kw("0")).status == 200);
    CHECK(f.PutAction("a", Kw("2")).status == 200);

    auto limits = Parse(f.Send("GET", common::Cat(kNs, "/limits")).body);
    CHECK(limits["maxKeepWarm"].GetInt() == 2);  // the system default

    common::NamespaceLimits own;
    own.max_keep_warm = 5;
    REQUIRE(f.store->PutLimits("guest", own).ok());
    CHECK(f.PutAction("a", Kw("5")).status == 200);
    CHECK(f.PutAction("b", Kw("6")).status == 400);
    limits = Parse(f.Send("GET", common::Cat(kNs, "/limits")).body);
    CHECK(limits["maxKeepWarm"].GetInt() == 5);
}

TEST_CASE("keep-warm: orders go to the balancer on write, on update to 0 and on delete",
          "[controller][keep-warm]") {
    ControllerConfig config;
    config.keep_warm_refresh = std::chrono::milliseconds(0);  // no refresh thread
    KeepWarmFixture f(config);

    CHECK(f.PutAction("plain", "[]").status == 200);
    CHECK(f.balancer->keep_warm_orders().empty());  // no annotation: nothing to keep

    auto put = f.PutAction("a", Kw("1"));
    REQUIRE(put.status == 200);
    auto orders = f.balancer->keep_warm_orders();
    REQUIRE(orders.size() == 1);
    const auto stored = f.store->Get<common::Action>(
        common::FullyQualifiedName{common::EntityPath({"guest"}), "a"});
    REQUIRE(stored.ok());
    CHECK(orders[0].keep_warm().count() == 1);
    CHECK(orders[0].keep_warm().ttl_ms() == 30000);
    CHECK(orders[0].revision() == stored->rev);  // the revision just written
    CHECK(orders[0].action().path() == "guest");
    CHECK(orders[0].action().name() == "a");
    CHECK(orders[0].user().namespace_name() == "guest");
    CHECK_FALSE(orders[0].activation_id().empty());
    auto doc = f.store->GetSystemDoc(KeepWarm::kDocKind, "guest/a");
    REQUIRE(doc.ok());  // registered for the refresh

    REQUIRE(f.PutAction("a", Kw("0")).status == 200);
    orders = f.balancer->keep_warm_orders();
    REQUIRE(orders.size() == 2);
    CHECK(orders[1].keep_warm().count() == 0);
    CHECK(absl::IsNotFound(f.store->GetSystemDoc(KeepWarm::kDocKind, "guest/a").status()));

    REQUIRE(f.PutAction("b", Kw("2")).status == 200);
    REQUIRE(f.Send("DELETE", common::Cat(kNs, "/actions/b")).status == 200);
    orders = f.balancer->keep_warm_orders();
    REQUIRE(orders.size() == 4);
    CHECK(orders[2].keep_warm().count() == 2);
    CHECK(orders[3].keep_warm().count() == 0);
    CHECK(absl::IsNotFound(f.store->GetSystemDoc(KeepWarm::kDocKind, "guest/b").status()));
    // Deleting an action without keep-warm publishes nothing.
    REQUIRE(f.Send("DELETE", common::Cat(kNs, "/actions/plain")).status == 200);
    CHECK(f.balancer->keep_warm_orders().size() == 4);
}

TEST_CASE("keep-warm: the refresh publishes every registered action's order again",
          "[controller][keep-warm]") {
    ControllerConfig config;
    config.keep_warm_refresh = std::chrono::milliseconds(50);
    KeepWarmFixture f(config);
    REQUIRE(f.PutAction("a", Kw("2")).status == 200);
    // Lowered limit: the refresh publishes at most the namespace's maxKeepWarm now.
    common::NamespaceLimits own;
    own.max_keep_warm = 1;
    REQUIRE(f.store->PutLimits("guest", own).ok());
    const size_t seen = f.balancer->keep_warm_orders().size();
    REQUIRE(Eventually([&] { return f.balancer->keep_warm_orders().size() >= seen + 2; }));
    const auto orders = f.balancer->keep_warm_orders();
    CHECK(orders.back().action().name() == "a");
    CHECK(orders.back().keep_warm().count() == 1);
    CHECK(orders.back().keep_warm().ttl_ms() == 30000);  // 3 x 50 ms, at least 30 s

    // An action deleted behind this controller's back (another controller, the store) is
    // unregistered by the refresh.
    REQUIRE(f.store
                ->DeleteEntity(common::EntityType::kAction,
                               common::FullyQualifiedName{common::EntityPath({"guest"}), "a"}, "")
                .ok());
    REQUIRE(Eventually([&] {
        return absl::IsNotFound(f.store->GetSystemDoc(KeepWarm::kDocKind, "guest/a").status());
    }));
}

}  // namespace wisp::controller
