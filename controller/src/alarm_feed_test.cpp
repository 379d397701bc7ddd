// The built-in /whisk.system/alarms feeds through the controller's REST API (as wsk and the npm
// client drive them), over an in-memory SQLite store: the package install, every lifecycle
// event, the provider's error texts, the authKey check, and the schedule documents written.
#include <future>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "alarm_feed.hpp"
#include "alarm_schedule.hpp"
#include "controller_test_support.hpp"
#include "replier.hpp"

namespace wisp::controller {
namespace {

// 2026-11-18T11:06:40Z
constexpr int64_t kNow = 1795000000000;

struct Fixture {
    std::unique_ptr<store::ArtifactStore> store;
    // The store the controller uses, with faults on demand (`with_faults`), else null.
    std::unique_ptr<testing::FaultyArtifactStore> faulty;
    std::unique_ptr<testing::FakeBalancer> balancer;
    testing::ManualClock clock;
    std::unique_ptr<Controller> controller;
    const std::string guest = std::string(common::kGuestAuth);
    // The key of namespace "other".
    const std::string other = std::string(common::kSystemAuth);

    explicit Fixture(bool with_faults = false) {
        store = store::OpenArtifactStore("sqlite::memory:").value();
        if (with_faults) faulty = std::make_unique<testing::FaultyArtifactStore>(*store);
        test_support::PutSubject(*store, "guest", common::kGuestAuth);
        test_support::PutSubject(*store, "other", common::kSystemAuth);
        balancer = test_support::MakeFakeBalancer(*store);
        clock.Set(kNow);
        store::ArtifactStore& used = faulty ? *faulty : *store;
        controller = std::make_unique<Controller>(
            used, *balancer, common::RuntimeManifest::BuiltIn(), clock, ControllerConfig{});
    }
    ~Fixture() {
        controller->Shutdown();
        balancer->Shutdown();
    }

    HttpResponse Send(std::string method, std::string target, std::string body = "",
                      std::string auth = "default") {
        if (auth == "default") auth = guest;
        return test_support::Answer(
            *controller,
            test_support::MakeRequest(std::move(method), target, std::move(body), auth));
    }

    /// A blocking invoke of /whisk.system/alarms/<feed> with `event` and guest's trigger
    /// "/_/<trigger>" and key, plus `members` (JSON object members, "" for none), as wsk sends
    /// it. `result`: ?result=true (the answer is the result only).
    HttpResponse Feed(const std::string& feed, const std::string& event,
                      const std::string& members = "", const std::string& trigger = "t",
                      bool result = true) {
        std::string body = common::Cat(R"({"lifecycleEvent":")", event, R"(","triggerName":"/_/)",
                                       trigger, R"(","authKey":")", guest, '"');
        if (!members.empty()) body += "," + members;
        body += "}";
        return Send("POST",
                    common::Cat("/api/v1/namespaces/whisk.system/actions/alarms/", feed,
                                "?blocking=true", result ? "&result=true" : ""),
                    body);
    }

    void CreateTrigger(const std::string& name = "t") {
        auto r = Send("PUT", "/api/v1/namespaces/_/triggers/" + name,
                      R"({"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]})");
        REQUIRE(r.status == 200);
    }

    /// The stored schedule of guest's trigger `name`, or its status.
    [[nodiscard]] absl::StatusOr<store::SystemDoc> Doc(const std::string& name = "t") {
        return store->GetSystemDoc(kAlarmDocKind, "guest/" + name);
    }
    AlarmSchedule Schedule(const std::string& name = "t") {
        auto doc = Doc(name);
        REQUIRE(doc.ok());
        auto s = AlarmScheduleFromJson(doc->body);
        REQUIRE(s.ok());
        return *s;
    }
    /// Rewrites the stored schedule (what the scheduler or an admin would do).
    void Rewrite(const AlarmSchedule& s) {
        auto doc = Doc(s.trigger);
        REQUIRE(doc.ok());
        store::SystemDoc next = *doc;
        next.body = AlarmScheduleToJson(s);
        REQUIRE(store->PutSystemDoc(next, doc->rev).ok());
    }
};

bool Has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

using test_support::Parse;

/// The feed's error result: {"error":{"error":text}}.
std::string FeedError(const std::string& text) {
    return common::Cat(R"({"error":{"error":")", text, R"("}})");
}

constexpr const char* kSuccess = R"({"status":"success"})";

}  // namespace

TEST_CASE("alarms: every controller installs the shared package with its three feeds",
          "[alarms][feed]") {
    Fixture f;
    auto r = f.Send("GET", "/api/v1/namespaces/whisk.system/packages/alarms");
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto d = Parse(r.body);
    CHECK(d["publish"].GetBool());
    CHECK(d["actions"].Size() == 0);
    std::set<std::string> feeds;
    for (const auto& a : d["feeds"].GetArray()) feeds.insert(a["name"].GetString());
    CHECK(feeds == std::set<std::string>{"alarm", "interval", "once"});
    CHECK(common::ToCompactJson(d["parameters"]) ==
          R"([{"key":"apihost","value":"http://127.0.0.1:3233"},)"
          R"({"key":"trigger_payload","value":""}])");

    r = f.Send("GET", "/api/v1/namespaces/whisk.system/actions/alarms/once");
    REQUIRE(r.status == 200);
    d = Parse(r.body);
    // GET shows the package's parameters merged in, as OpenWhisk does.
    CHECK(Has(common::ToCompactJson(d["parameters"]), R"({"key":"fireOnce","value":true})"));
    CHECK(Has(common::ToCompactJson(d["annotations"]), R"({"key":"feed","value":true})"));
    CHECK(
        Has(common::ToCompactJson(d["annotations"]), R"({"key":"wisp-builtin","value":"alarms"})"));

    // A second controller on the same store keeps what exists (create-only).
    auto a = f.store->Get<common::Action>(
        common::FullyQualifiedName::Parse("/whisk.system/alarms/alarm", "_").value());
    REQUIRE(a.ok());
    Controller second(*f.store, *f.balancer, common::RuntimeManifest::BuiltIn(), f.clock, {});
    auto again = f.store->Get<common::Action>(
        common::FullyQualifiedName::Parse("/whisk.system/alarms/alarm", "_").value());
    REQUIRE(again.ok());
    CHECK(again->rev == a->rev);
    second.Shutdown();
}

TEST_CASE("alarms: CREATE stores the schedule without the key; READ shows it", "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    auto r = f.Feed("alarm", "CREATE",
                    R"("cron":"*/10 * * * * *","timezone":"Europe/Berlin",)"
                    R"("startDate":"2027-01-01T00:00:00.000Z")",
                    "t", /*result=*/false);
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto rec = Parse(r.body);
    CHECK(std::string(rec["name"].GetString()) == "alarm");
    CHECK(std::string(rec["namespace"].GetString()) == "guest");
    CHECK(common::ToCompactJson(rec["response"]["result"]) == kSuccess);
    CHECK(Has(common::ToCompactJson(rec["annotations"]),
              R"({"key":"path","value":"whisk.system/alarms/alarm"})"));
    // The record is stored like any activation's.
    auto stored = f.Send(
        "GET", common::Cat("/api/v1/namespaces/_/activations/", rec["activationId"].GetString()));
    CHECK(stored.status == 200);

    auto doc = f.Doc();
    REQUIRE(doc.ok());
    CHECK(!Has(doc->body, common::AuthKey::Parse(f.guest).value().key));
    AlarmSchedule s = f.Schedule();
    CHECK(s.kind == AlarmKind::kCron);
    CHECK(s.namespace_name == "guest");
    CHECK(s.trigger == "t");
    CHECK(s.cron == "*/10 * * * * *");
    CHECK(s.timezone == "Europe/Berlin");
    CHECK(s.start_ms == int64_t{1798761600000});
    CHECK(s.payload.text() == R"({"payload":""})");  // the package's trigger_payload ""
    CHECK(s.active);
    CHECK(!s.generation.empty());

    r = f.Feed("alarm", "READ");
    CHECK(r.status == 200);
    CHECK(r.body ==
          R"({"config":{"name":"t","namespace":"guest","payload":{"payload":""},"strict":false,)"
          R"("startDate":"2027-01-01T00:00:00.000Z","cron":"*/10 * * * * *",)"
          R"("timezone":"Europe/Berlin"},"status":{"active":true,"dateChanged":1795000000000,)"
          R"("dateChangedISO":"2026-11-18T11:06:40Z"}})");

    // CREATE over an existing schedule replaces it with a fresh generation.
    r = f.Feed("alarm", "CREATE", R"("cron":"0 * * * *","trigger_payload":{"a":1})");
    CHECK(r.body == kSuccess);
    AlarmSchedule replaced = f.Schedule();
    CHECK(replaced.generation != s.generation);
    CHECK(replaced.cron == "0 * * * *");
    CHECK(!replaced.start_ms);
    CHECK(replaced.payload.text() == R"({"a":1})");
}

TEST_CASE("alarms: once and interval schedules, READ as the provider shapes it", "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger("o");
    f.CreateTrigger("i");
    auto r = f.Feed("once", "CREATE",
                    R"("date":"2027-01-01T10:00:00+02:00","deleteAfterFire":" Rules ",)"
                    R"("trigger_payload":"hello")",
                    "o");
    CHECK(r.body == kSuccess);
    AlarmSchedule once = f.Schedule("o");
    CHECK(once.kind == AlarmKind::kOnce);
    CHECK(once.date_ms == int64_t{1798790400000});
    CHECK(once.delete_after_fire == DeleteAfterFire::kTriggerAndRules);
    CHECK(once.payload.text() == R"({"payload":"hello"})");
    r = f.Feed("once", "READ", "", "o");
    CHECK(r.body ==
          R"({"config":{"name":"o","namespace":"guest","payload":{"payload":"hello"},)"
          R"("strict":false,"date":"2027-01-01T10:00:00+02:00","deleteAfterFire":"rules"},)"
          R"("status":{"active":true,"dateChanged":1795000000000,)"
          R"("dateChangedISO":"2026-11-18T11:06:40Z"}})");

    // interval: the default start is 30 s after CREATE; minutes may be a numeric string.
    r = f.Feed("interval", "CREATE", R"("minutes":"5","stopDate":1798761600000)", "i");
    CHECK(r.body == kSuccess);
    AlarmSchedule interval = f.Schedule("i");
    CHECK(interval.kind == AlarmKind::kInterval);
    CHECK(interval.minutes == 5);
    CHECK(interval.start_ms == kNow + 30000);
    CHECK(interval.stop_ms == int64_t{1798761600000});
    r = f.Feed("interval", "READ", "", "i");
    CHECK(r.body ==
          R"({"config":{"name":"i","namespace":"guest","payload":{"payload":""},"strict":false,)"
          R"("startDate":1795000030000,"stopDate":1798761600000,"minutes":5},)"
          R"("status":{"active":true,"dateChanged":1795000000000,)"
          R"("dateChangedISO":"2026-11-18T11:06:40Z"}})");
}

TEST_CASE("alarms: CREATE refuses bad parameters with the provider's texts, storing nothing",
          "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    struct Case {
        const char* feed;
        const char* members;
        std::string error;
    };
    const std::vector<Case> cases = {
        {"alarm", "", "alarms trigger feed is missing the cron parameter"},
        {"alarm", R"("cron":"")", "alarms trigger feed is missing the cron parameter"},
        {"alarm", R"("cron":"* * *")", "cron pattern '* * *' is not valid"},
        {"alarm", R"("cron":"61 * * * *")", "cron pattern '61 * * * *' is not valid"},
        {"alarm", R"("cron":"0 0 30 2 *")", "cron pattern '0 0 30 2 *' is not valid"},
        {"alarm", R"("cron":"* * * * *","timezone":"Mars/Olympus")", "Invalid timezone."},
        // The zone is checked before the pattern (the cron library's order).
        {"alarm", R"("cron":"bad","timezone":"Mars/Olympus")", "Invalid timezone."},
        {"alarm", R"("cron":"*/10 * * * * *","limitCronFields":true)",
         "cron pattern is limited to 5 fields with 1 minute as the finest granularity"},
        {"alarm", R"("cron":"* * * * *","startDate":"soon")",
         "startDate parameter 'soon' is not a valid Date"},
        {"alarm", R"("cron":"* * * * *","startDate":"2027-02-30")",
         "startDate parameter '2027-02-30' is not a valid Date"},
        {"alarm", R"("cron":"* * * * *","startDate":"2020-01-01T00:00:00Z")",
         "startDate parameter '2020-01-01T00:00:00Z' must be in the future"},
        {"alarm", R"("cron":"* * * * *","startDate":1000)",
         "startDate parameter '1000' must be in the future"},
        {"alarm", R"("cron":"* * * * *","maxTriggers":3,"stopDate":"2027-01-01T00:00:00Z")",
         "maxTriggers is not allowed when the stopDate parameter is specified"},
        {"alarm", R"("cron":"* * * * *","stopDate":"2020-01-01")",
         "stopDate parameter '2020-01-01' must be in the future"},
        {"alarm",
         R"("cron":"* * * * *","startDate":"2027-06-01T00:00:00Z","stopDate":"2027-01-01T00:00:00Z")",
         "stopDate parameter '2027-01-01T00:00:00Z' must be greater than the startDate "
         "parameter '2027-06-01T00:00:00Z'"},
        // Yearly on 1 January: the next tick (2027-01-01) is after the stop date.
        {"alarm", R"("cron":"0 0 1 1 *","stopDate":"2026-12-01T00:00:00Z")",
         "the first scheduled trigger fire is not until after the stop date"},
        {"alarm", R"("cron":"* * * * *","trigger_payload":5)",
         "trigger_payload must be a JSON object or a string (Wisp fires the trigger with it as "
         "the body)"},
        {"once", "", "alarms once trigger feed is missing the date parameter"},
        {"once", R"("date":"not a date")", "date parameter 'not a date' is not a valid Date"},
        {"once", R"("date":"2020-01-01")", "date parameter '2020-01-01' must be in the future"},
        {"once", R"("date":1795000000000)",
         "date parameter '1795000000000' must be in the future"},  // now is not the future
        {"once", R"("date":"2027-01-01","deleteAfterFire":"maybe")",
         "deleteAfterFire parameter must be one of [false, true, rules]."},
        {"interval", "", "interval trigger feed is missing the minutes parameter"},
        {"interval", R"("minutes":0)", "interval trigger feed is missing the minutes parameter"},
        {"interval", R"("minutes":"0")",
         "the minutes parameter must be an integer greater than zero"},
        {"interval", R"("minutes":-2)",
         "the minutes parameter must be an integer greater than zero"},
        {"interval", R"("minutes":1.5)", "the minutes parameter must be an integer"},
        {"interval", R"("minutes":"five")", "the minutes parameter must be an integer"},
        {"interval", R"("minutes":true)", "the minutes parameter must be an integer"},
        {"interval", R"("minutes":5,"maxTriggers":2,"stopDate":"2027-01-01")",
         "maxTriggers is not supported for the interval trigger feed"},
        // The default start (now + 30 s) is after this stop date.
        {"interval", R"("minutes":5,"stopDate":1795000010000)",
         "stopDate parameter '1795000010000' must be greater than the startDate parameter "
         "'1795000030000'"},
    };
    for (const auto& c : cases) {
        INFO(c.feed << " " << c.members);
        auto r = f.Feed(c.feed, "CREATE", c.members);
        CHECK(r.status == 502);
        CHECK(r.body == FeedError(c.error));
        CHECK(absl::IsNotFound(f.Doc().status()));
    }

    // The lifecycle keys themselves.
    auto r = f.Send("POST", "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true",
                    R"({"lifecycleEvent":"CREATE","cron":"* * * * *"})");
    CHECK(r.status == 502);
    CHECK(common::ToCompactJson(Parse(r.body)["response"]["result"]) ==
          FeedError("no trigger name parameter was provided"));
    for (const char* event : {"FOO", "create"}) {
        r = f.Feed("alarm", event, R"("cron":"* * * * *")", "t", true);
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"unsupported lifecycleEvent"})");
    }
    r = f.Send("POST",
               "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
               R"({"triggerName":"/_/t"})");
    CHECK(r.body == R"({"error":"unsupported lifecycleEvent"})");
    CHECK(absl::IsNotFound(f.Doc().status()));
}

TEST_CASE("alarms: the authKey must be a valid key of the namespace that owns the trigger",
          "[alarms][feed]") {
    Fixture f;
    const std::string failed = FeedError("Trigger authentication request failed.");
    // No such trigger.
    auto r = f.Feed("alarm", "CREATE", R"("cron":"* * * * *")");
    CHECK(r.status == 502);
    CHECK(r.body == failed);
    f.CreateTrigger();
    // Another namespace's key, an unknown key, a malformed key, no key.
    const std::string unknown =
        "11111111-71f6-4ed5-8c54-816aa4f8c502:"
        "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
    for (const std::string& key : {f.other, unknown, std::string("nonsense")}) {
        INFO(key);
        r = f.Send("POST",
                   "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
                   common::Cat(R"({"lifecycleEvent":"CREATE","triggerName":"/_/t","authKey":")",
                               key, R"(","cron":"* * * * *"})"));
        CHECK(r.status == 502);
        CHECK(r.body == failed);
    }
    r = f.Send("POST",
               "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
               R"({"lifecycleEvent":"CREATE","triggerName":"/_/t","cron":"* * * * *"})");
    CHECK(r.status == 502);
    CHECK(Has(r.body, "Trigger authentication request failed."));
    CHECK(absl::IsNotFound(f.Doc().status()));

    // As the provider's feed action: the trigger is always the invoking namespace's.
    r = f.Feed("alarm", "CREATE", R"("cron":"* * * * *")", "t");
    CHECK(r.body == kSuccess);
    auto named = f.Send(
        "POST", "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
        common::Cat(R"({"lifecycleEvent":"READ","triggerName":"/guest/t","authKey":")", f.guest,
                    R"("})"));
    CHECK(named.status == 200);
    // "other" cannot read guest's schedule with its own key: its namespace has no trigger t.
    named = f.Send("POST",
                   "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=true",
                   common::Cat(R"({"lifecycleEvent":"READ","triggerName":"/guest/t","authKey":")",
                               f.other, R"("})"),
                   f.other);
    CHECK(named.status == 502);
    CHECK(named.body == failed);
}

TEST_CASE("alarms: UPDATE changes applicable keys, revalidates, and re-enables", "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    auto r = f.Feed("alarm", "UPDATE", R"("cron":"0 * * * *")");
    CHECK(r.body == FeedError("could not find trigger /guest/t in the database"));
    REQUIRE(
        f.Feed("alarm", "CREATE", R"("cron":"* * * * *","stopDate":"2027-01-01T00:00:00Z")").body ==
        kSuccess);
    const AlarmSchedule created = f.Schedule();

    // The package's trigger_payload "" and keys of other feeds do not count.
    r = f.Feed("alarm", "UPDATE", R"("minutes":5,"date":"2027-01-01")");
    CHECK(r.body == FeedError("no updatable parameters were specified"));
    r = f.Feed("alarm", "UPDATE", R"("cron":"bad")");
    CHECK(r.body == FeedError("cron pattern 'bad' is not valid"));
    r = f.Feed("alarm", "UPDATE", R"("timezone":"Nowhere/Land")");
    CHECK(r.body == FeedError("Invalid timezone."));
    r = f.Feed("alarm", "UPDATE", R"("startDate":"2027-06-01T00:00:00Z")");
    CHECK(r.body == FeedError("startDate parameter '2027-06-01T00:00:00Z' must be less than the "
                              "stopDate parameter '2027-01-01T00:00:00Z'"));
    r = f.Feed("alarm", "UPDATE", R"("stopDate":"2020-01-01")");
    CHECK(r.body == FeedError("stopDate parameter '2020-01-01' must be in the future"));
    CHECK(f.Schedule().cron == "* * * * *");

    // The scheduler auto-disabled it and recorded a firing meanwhile: UPDATE keeps the firing
    // (it rewrites what it read) and re-enables the schedule.
    AlarmSchedule disabled = f.Schedule();
    disabled.active = false;
    disabled.reason = AlarmStatusReason{.kind = "AUTO", .status_code = 403, .message = "x"};
    disabled.last_fire_ms = kNow - 60000;
    disabled.fires = 7;
    f.Rewrite(disabled);
    f.clock.Advance(1000);
    r = f.Feed("alarm", "UPDATE",
               R"("cron":"0 * * * *","timezone":"Asia/Tokyo","trigger_payload":{"x":1})");
    CHECK(r.body == kSuccess);
    AlarmSchedule updated = f.Schedule();
    CHECK(updated.cron == "0 * * * *");
    CHECK(updated.timezone == "Asia/Tokyo");
    CHECK(updated.payload.text() == R"({"x":1})");
    CHECK(updated.generation == created.generation);
    CHECK(updated.active);
    CHECK(!updated.reason);
    CHECK(updated.fires == 7);
    CHECK(updated.last_fire_ms == kNow - 60000);
    CHECK(updated.date_changed_ms == kNow + 1000);  // the scheduler fires nothing before it

    // An admin's disable is final.
    AlarmSchedule admin = f.Schedule();
    admin.active = false;
    admin.reason = AlarmStatusReason{.kind = "ADMIN", .status_code = {}, .message = "abuse"};
    f.Rewrite(admin);
    r = f.Feed("alarm", "UPDATE", R"("cron":"5 * * * *")");
    CHECK(r.body == FeedError("/guest/t cannot be updated because it was disabled by an admin.  "
                              "Please contact support for further assistance"));

    // once: date and deleteAfterFire only.
    f.CreateTrigger("o");
    REQUIRE(f.Feed("once", "CREATE", R"("date":"2027-01-01")", "o").body == kSuccess);
    r = f.Feed("once", "UPDATE", R"("cron":"* * * * *","minutes":3)", "o");
    CHECK(r.body == FeedError("no updatable parameters were specified"));
    r = f.Feed("once", "UPDATE", R"("deleteAfterFire":true,"date":1798761600000)", "o");
    CHECK(r.body == kSuccess);
    CHECK(f.Schedule("o").delete_after_fire == DeleteAfterFire::kTrigger);
    CHECK(f.Feed("once", "READ", "", "o").body ==
          R"({"config":{"name":"o","namespace":"guest","payload":{"payload":""},"strict":false,)"
          R"("date":1798761600000,"deleteAfterFire":"true"},"status":{"active":true,)"
          R"("dateChanged":1795000001000,"dateChangedISO":"2026-11-18T11:06:41Z"}})");
}

TEST_CASE("alarms: PAUSE, UNPAUSE and DELETE", "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    REQUIRE(f.Feed("interval", "CREATE", R"("minutes":2)").body == kSuccess);

    f.clock.Advance(5000);
    CHECK(f.Feed("interval", "PAUSE").body == kSuccess);
    auto r = f.Feed("interval", "READ");
    CHECK(Has(r.body, R"("status":{"active":false,"dateChanged":1795000005000,)"
                      R"("dateChangedISO":"2026-11-18T11:06:45Z","reason":{"kind":"AUTO",)"
                      R"("message":"Paused by the user"}})"));
    CHECK(!f.Schedule().active);

    f.clock.Advance(5000);
    CHECK(f.Feed("interval", "UNPAUSE").body == kSuccess);
    r = f.Feed("interval", "READ");
    CHECK(Has(r.body, R"("status":{"active":true,"dateChanged":1795000010000,)"
                      R"("dateChangedISO":"2026-11-18T11:06:50Z"}})"));
    CHECK(f.Schedule().active);
    CHECK(f.Schedule().date_changed_ms == kNow + 10000);

    CHECK(f.Feed("interval", "DELETE").body == kSuccess);
    CHECK(absl::IsNotFound(f.Doc().status()));
    CHECK(f.Feed("interval", "DELETE").body ==
          FeedError("could not find trigger /guest/t in the database"));
    CHECK(f.Feed("interval", "PAUSE").body ==
          FeedError("could not find trigger /guest/t in the database"));
    CHECK(f.Feed("interval", "READ").body ==
          FeedError("could not find trigger /guest/t in the database"));

    // DELETE tolerates a trigger that is already gone (wsk deletes the trigger after the feed,
    // but a client may have removed it first).
    REQUIRE(f.Feed("interval", "CREATE", R"("minutes":2)").body == kSuccess);
    REQUIRE(f.store
                ->DeleteEntity(common::EntityType::kTrigger,
                               common::FullyQualifiedName::Parse("/guest/t", "_").value(), "")
                .ok());
    CHECK(f.Feed("interval", "READ").body == FeedError("Trigger authentication request failed."));
    CHECK(f.Feed("interval", "DELETE").body == kSuccess);
    CHECK(absl::IsNotFound(f.Doc().status()));
}

TEST_CASE("alarms: deleting the trigger over the REST API deletes its schedule", "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    f.CreateTrigger("keep");
    REQUIRE(f.Feed("alarm", "CREATE", R"("cron":"* * * * *")").body == kSuccess);
    REQUIRE(f.Feed("alarm", "CREATE", R"("cron":"* * * * *")", "keep").body == kSuccess);
    auto r = f.Send("DELETE", "/api/v1/namespaces/_/triggers/t");
    CHECK(r.status == 200);
    CHECK(absl::IsNotFound(f.Doc().status()));
    CHECK(f.Doc("keep").ok());
}

TEST_CASE("alarms: a non-blocking invoke answers 202; a binding's parameters reach the feed",
          "[alarms][feed]") {
    Fixture f;
    f.CreateTrigger();
    auto r = f.Send("POST", "/api/v1/namespaces/whisk.system/actions/alarms/alarm",
                    common::Cat(R"({"lifecycleEvent":"CREATE","triggerName":"/_/t","authKey":")",
                                f.guest, R"(","cron":"* * * * *"})"));
    REQUIRE(r.status == 202);
    const std::string id = Parse(r.body)["activationId"].GetString();
    auto rec = f.Send("GET", "/api/v1/namespaces/_/activations/" + id);
    REQUIRE(rec.status == 200);
    CHECK(common::ToCompactJson(Parse(rec.body)["response"]["result"]) == kSuccess);
    CHECK(f.Doc().ok());

    // A binding of the shared package, with its own trigger_payload.
    r = f.Send("PUT", "/api/v1/namespaces/_/packages/myalarms",
               R"({"binding":{"namespace":"whisk.system","name":"alarms"},)"
               R"("parameters":[{"key":"trigger_payload","value":{"from":"binding"}}]})");
    REQUIRE(r.status == 200);
    r = f.Send("POST", "/api/v1/namespaces/_/actions/myalarms/once?blocking=true",
               common::Cat(R"({"lifecycleEvent":"CREATE","triggerName":"t","authKey":")", f.guest,
                           R"(","date":"2027-03-01"})"));
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(Has(r.body, R"({"key":"binding","value":"guest/myalarms"})"));
    AlarmSchedule s = f.Schedule();
    CHECK(s.kind == AlarmKind::kOnce);
    CHECK(s.payload.text() == R"({"from":"binding"})");
}

TEST_CASE("alarms: a store that refuses a write gives the provider's texts, not the store's",
          "[alarms][feed]") {
    Fixture f(/*with_faults=*/true);
    f.CreateTrigger();
    const std::string generic = ClientMessageFor(absl::UnavailableError("x"));
    const auto failed = [&](const std::string& text) {
        return common::Cat(R"({"error":{"error":")", text, R"(","message":")", generic, R"("}})");
    };
    f.faulty->fail_next_system_doc_writes = 1;
    auto r = f.Feed("alarm", "CREATE", R"("cron":"* * * * *")");
    CHECK(r.status == 502);
    CHECK(r.body == failed("error creating alarm trigger."));
    CHECK(!Has(r.body, "FaultyArtifactStore"));
    REQUIRE(f.Feed("alarm", "CREATE", R"("cron":"* * * * *")").body == kSuccess);

    f.faulty->fail_next_system_doc_writes = 1;
    r = f.Feed("alarm", "UPDATE", R"("cron":"0 * * * *")");
    CHECK(r.body == failed("there was an error while updating the trigger in the database."));
    CHECK(f.Schedule().cron == "* * * * *");
    f.faulty->fail_next_system_doc_writes = 1;
    r = f.Feed("alarm", "DELETE");
    CHECK(r.body == failed("there was an error while deleting the trigger from the database."));
    CHECK(f.Doc().ok());
    CHECK(f.Feed("alarm", "DELETE").body == kSuccess);
    CHECK(absl::IsNotFound(f.Doc().status()));
}

}  // namespace wisp::controller
