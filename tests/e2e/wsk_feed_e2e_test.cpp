// End-to-end: `wsk trigger create|get|update|delete` driving a user-written feed action (the
// feed protocol of OpenWhisk's Go CLI) against a real wisp-standalone. The feed returns the
// parameters it was given, so each printed activation record shows which lifecycle event, trigger
// name and key it received. Needs Docker and the runtime images (python).
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <regex>
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

using Run = WskRun;

/// A user's shell: a working folder with its own wskprops, set up with `wsk property set`.
struct User : WskUser {
    explicit User(const Standalone& wisp) : WskUser("wisp-wsk-feed-e2e-") {
        Run r = PropertySet(wisp);
        INFO(r);
        REQUIRE(r.code == 0);
    }
};

/// The activation record printed before `trailer` ("ok: created trigger T\n"), after an optional
/// "ok: invoked ..." line.
rapidjson::Document RecordIn(const std::string& out, const std::string& trailer) {
    size_t begin = out.rfind("ok: invoked ", 0) == 0 ? out.find('\n') + 1 : 0;
    size_t end = trailer.empty() ? out.size() : out.rfind(trailer);
    REQUIRE(end != std::string::npos);
    REQUIRE(begin <= end);
    auto d = ParseJson(out.substr(begin, end - begin));
    INFO(out);
    REQUIRE(d.IsObject());
    return d;
}

constexpr const char* kFeedCode =
    "def main(args):\n"
    "    if args.get('lifecycleEvent') == 'CREATE' and args.get('fail'):\n"
    "        return {'error': {'error': 'cannot watch ' + str(args.get('fail'))}}\n"
    "    return args\n";

}  // namespace

TEST_CASE("wsk drives a user-written feed: CREATE, READ, UPDATE, DELETE", "[e2e][wsk][feed]") {
    auto wisp = Standalone::Start({});
    INFO((wisp.ok() ? std::string() : std::string(wisp.status().message())));
    REQUIRE(wisp.ok());
    const User u(**wisp);
    HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
    const std::string auth = (*wisp)->guest_auth();
    const std::string feed = UniqueName("watcher");
    const std::string trigger = UniqueName("changes");
    { std::ofstream(u.File("feed.py")) << kFeedCode; }
    Run r = u.Wsk({"action", "create", feed, "feed.py", "-a", "feed", "true"});
    INFO(r);
    REQUIRE(r.code == 0);

    // create: the trigger without parameters, then the feed's CREATE with -p + lifecycle keys.
    r = u.Wsk({"trigger", "create", trigger, "--feed", feed, "-p", "colour", "red"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(std::regex_search(
        r.out, std::regex("^ok: invoked /_/" + feed + " with id [0-9a-f]{32}\n\\{\n")));
    const std::string created = "ok: created trigger " + trigger + "\n";
    CHECK(r.out.size() > created.size());
    CHECK(r.out.find(created) == r.out.size() - created.size());
    auto rec = RecordIn(r.out, created);
    CHECK(GetString(rec, "response.result.lifecycleEvent") == "CREATE");
    CHECK(GetString(rec, "response.result.triggerName") == "/_/" + trigger);
    CHECK(GetString(rec, "response.result.authKey") == auth);
    CHECK(GetString(rec, "response.result.colour") == "red");

    auto t = http.Get("/api/v1/namespaces/_/triggers/" + trigger);
    REQUIRE(t.status == 200);
    auto entity = ParseJson(t.body);
    REQUIRE(entity.IsObject());
    const auto* feed_annotation = KeyValue(entity["annotations"], "feed");
    REQUIRE(feed_annotation != nullptr);
    CHECK(ToJson(*feed_annotation) == Quote("/_/" + feed));
    REQUIRE(entity.HasMember("parameters"));
    CHECK(entity["parameters"].Size() == 0);  // with --feed, -p goes to the feed only

    // get: the feed's READ record only.
    r = u.Wsk({"trigger", "get", trigger});
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out.rfind("{\n", 0) == 0);
    rec = RecordIn(r.out, "");
    CHECK(GetString(rec, "response.result.lifecycleEvent") == "READ");
    CHECK(GetString(rec, "response.result.triggerName") == "/_/" + trigger);
    CHECK(GetString(rec, "response.result.authKey") == auth);

    // update -p: the feed's UPDATE only, the trigger entity untouched.
    r = u.Wsk({"trigger", "update", trigger, "-p", "colour", "blue"});
    INFO(r);
    CHECK(r.code == 0);
    rec = RecordIn(r.out, "ok: updated trigger " + trigger + "\n");
    CHECK(GetString(rec, "response.result.lifecycleEvent") == "UPDATE");
    CHECK(GetString(rec, "response.result.colour") == "blue");
    t = http.Get("/api/v1/namespaces/_/triggers/" + trigger);
    CHECK(GetString(ParseJson(t.body), "version") == "0.0.1");

    // delete: the feed's DELETE, then the trigger.
    r = u.Wsk({"trigger", "delete", trigger});
    INFO(r);
    CHECK(r.code == 0);
    rec = RecordIn(r.out, "ok: deleted trigger " + trigger + "\n");
    CHECK(GetString(rec, "response.result.lifecycleEvent") == "DELETE");
    CHECK(GetString(rec, "response.result.triggerName") == "/_/" + trigger);
    CHECK(http.Get("/api/v1/namespaces/_/triggers/" + trigger).status == 404);

    // The feed's own activation records show the four events.
    std::multiset<std::string> events;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
        auto list = http.Get("/api/v1/namespaces/_/activations?docs=true&limit=50&name=" + feed);
        events.clear();
        auto d = ParseJson(list.body);
        if (d.IsArray()) {
            for (const auto& a : d.GetArray()) {
                if (auto e = GetString(a, "response.result.lifecycleEvent")) events.insert(*e);
            }
        }
        if (events.size() >= 4) break;
        std::this_thread::sleep_for(250ms);
    }
    CHECK(events == std::multiset<std::string>{"CREATE", "DELETE", "READ", "UPDATE"});

    // A feed that fails on CREATE leaves no trigger; exit 246 with its error.
    {
        const std::string bad = UniqueName("refused");
        r = u.Wsk({"trigger", "create", bad, "--feed", feed, "-p", "fail", "bucket-x"});
        INFO(r);
        CHECK(r.code == 246);
        CHECK(r.err.rfind("{\n", 0) == 0);  // the failed activation record, no "error:" line
        CHECK(r.err.find("error: Unable") == std::string::npos);
        auto failed = ParseJson(r.err);
        REQUIRE(failed.IsObject());
        CHECK(GetString(failed, "response.status") == "application error");
        CHECK(GetString(failed, "response.result.error.error") == "cannot watch bucket-x");
        // The delete path ran: the feed's DELETE (with the user's -p) and the trigger's.
        rec = RecordIn(r.out, "ok: deleted trigger " + bad + "\n");
        CHECK(GetString(rec, "response.result.lifecycleEvent") == "DELETE");
        CHECK(GetString(rec, "response.result.fail") == "bucket-x");
        CHECK(http.Get("/api/v1/namespaces/_/triggers/" + bad).status == 404);
    }
}
