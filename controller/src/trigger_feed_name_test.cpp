// The one server-side rule of the feed protocol (OpenWhisk Triggers.scala validateTriggerFeed):
// a trigger CREATE whose annotation `feed` is not a string that parses as an entity path is a
// 400 `Feed name is not valid`; an update is not checked, and the feed's existence never is.
#include <chrono>
#include <future>
#include <memory>

#include <catch2/catch.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "controller_test_support.hpp"

namespace wisp::controller {
namespace {

struct FeedFixture : test_support::ControllerOverSqlite {
    FeedFixture() {
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        clock.Set(1795000000000);
        Start(ControllerConfig{}, /*run_actions=*/false);
    }

    HttpResponse Put(const std::string& target, const std::string& body) {
        return test_support::Answer(
            *controller,
            test_support::MakeRequest("PUT", target, body, std::string(common::kGuestAuth)),
            std::chrono::seconds(30));
    }
};

std::string Feed(const std::string& value_json) {
    return R"({"annotations":[{"key":"feed","value":)" + value_json + "}]}";
}

std::string ErrorText(const HttpResponse& r) {
    rapidjson::Document d;
    REQUIRE(wisp::json::ParseBounded(r.body, d).empty());
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    return d["error"].GetString();
}

}  // namespace

TEST_CASE("controller: trigger create checks the feed annotation's name", "[controller][feed]") {
    FeedFixture f;
    const std::string base = "/api/v1/namespaces/_/triggers/";
    for (const char* bad : {R"("/bad$feed")", "true", "42", R"({"a":1})", R"("")", R"("/")"}) {
        INFO(bad);
        auto r = f.Put(base + "t", Feed(bad));
        CHECK(r.status == 400);
        CHECK(ErrorText(r) == "Feed name is not valid");
    }
    // Any entity path, existing or not, with or without a namespace; `_` as wsk writes it.
    int n = 0;
    for (const char* good : {R"("/whisk.system/alarms/alarm")", R"("/_/myFeed")", R"("pkg/feed")",
                             R"("/guest/nothere")"}) {
        INFO(good);
        auto r = f.Put(base + "ok" + std::to_string(++n), Feed(good));
        CHECK(r.status == 200);
    }
    // An update (the trigger exists) is not checked, as OpenWhisk.
    REQUIRE(f.Put(base + "upd", "{}").status == 200);
    CHECK(f.Put(base + "upd?overwrite=true", Feed("true")).status == 200);
    // overwrite=true on a trigger that does not exist is a create: checked.
    CHECK(f.Put(base + "fresh?overwrite=true", Feed("5")).status == 400);
}

}  // namespace wisp::controller
