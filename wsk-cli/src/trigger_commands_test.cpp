// `wsk trigger` feed orchestration against a fake OpenWhisk API on a loopback port: the exact
// request sequence, bodies, output and exit codes of the Go CLI (openwhisk-cli
// commands/trigger.go).
#include <cctype>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "commands.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "testing/cli_session.hpp"
#include "testing/fake_http_server.hpp"

using namespace wsk;

namespace {

constexpr const char* kAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret";

using testing::Request;

/// The controller for triggers and one feed action `feed` (on a FakeHttpServer): the feed's
/// result is its parameters, or an application error for the lifecycle events in `fail_events`.
class FakeWhisk {
  public:
    FakeWhisk() : server_([this](const Request& r) { return Respond(r); }) {}

    int port() const { return server_.port(); }
    std::vector<Request> requests() { return server_.requests(); }
    /// "METHOD /path" of each request, without the query (for sequence checks).
    std::vector<std::string> calls() { return server_.calls(); }
    void clear() { server_.clear(); }
    void set_trigger(const std::string& name, const std::string& json) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        triggers_[name] = json;
    }
    bool has_trigger(const std::string& name) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        return triggers_.count(name) > 0;
    }
    void fail_on(const std::string& event) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        fail_events_.insert(event);
    }

  private:
    std::pair<int, std::string> Respond(const Request& req) {
        const std::string path = req.target.substr(0, req.target.find('?'));
        const std::string query = req.target.find('?') == std::string::npos
                                      ? ""
                                      : req.target.substr(req.target.find('?'));
        const std::string not_found =
            R"({"error":"The requested resource does not exist.","code":"c404"})";
        const std::string triggers = "/api/v1/namespaces/_/triggers/";
        const std::string actions = "/api/v1/namespaces/_/actions/";
        if (path.rfind(triggers, 0) == 0) {
            const std::string name = path.substr(triggers.size());
            auto it = triggers_.find(name);
            if (req.method == "PUT") {
                if (it != triggers_.end() && query.find("overwrite=true") == std::string::npos) {
                    return {409, R"({"error":"resource already exists","code":"c409"})"};
                }
                triggers_[name] = req.body;
                return {200, req.body};
            }
            if (it == triggers_.end()) return {404, not_found};
            const std::string doc = it->second;
            if (req.method == "DELETE") triggers_.erase(it);
            return {200, doc};
        }
        if (req.method == "POST" && path == actions + "feed") {
            rapidjson::Document params;
            std::string event;
            if (ParseJsonText(req.body, params).empty() && params.IsObject() &&
                params.HasMember("lifecycleEvent") && params["lifecycleEvent"].IsString()) {
                event = params["lifecycleEvent"].GetString();
            }
            const std::string id = "feedactivation" + std::to_string(server_.count_locked());
            if (fail_events_.count(event) > 0) {
                return {502, R"({"activationId":")" + id +
                                 R"(","name":"feed","namespace":"guest","response":{"result":)"
                                 R"({"error":{"error":"feed says no to )" +
                                 event + R"("}},"status":"application error","success":false}})"};
            }
            return {200, R"({"activationId":")" + id +
                             R"(","name":"feed","namespace":"guest","response":{"result":)" +
                             req.body + R"(,"status":"success","success":true}})"};
        }
        return {404, not_found};
    }

    std::map<std::string, std::string> triggers_;
    std::set<std::string> fail_events_;
    testing::FakeHttpServer server_;  // last: its thread stops before the state goes
};

/// One wsk run: the -p/-F/-T/-a words as typed (the pre-pass), output captured.
struct Cli : testing::CliSession {
    Cli(const FakeWhisk& w, std::vector<std::string> words) : CliSession(w.port(), kAuth) {
        words.insert(words.begin(), "wsk");
        auto kv = ExtractKeyValueArgs(words, [](const std::string&) -> Result<std::string> {
            return WskError::General("no files in this test");
        });
        REQUIRE(kv.ok());
        s.kv = *kv;
    }
};

using testing::Json;

std::string Str(const rapidjson::Value& v, const char* key) {
    return v.IsObject() && v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "<none>";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The feed body of the i-th request.
rapidjson::Document BodyOf(FakeWhisk& w, size_t i) {
    auto reqs = w.requests();
    REQUIRE(i < reqs.size());
    return Json(reqs[i].body);
}

const std::string kFeedTrigger = R"({"name":"t","annotations":[{"key":"feed","value":"/_/feed"}]})";

}  // namespace

TEST_CASE("trigger create --feed: PUT without parameters, then the feed's CREATE", "[wsk][feed]") {
    FakeWhisk w;
    Cli cli(w, {"-p", "cron", "* * * * *", "-p", "lifecycleEvent", "MINE", "-a", "x", "1"});
    auto st = TriggerCreate(cli.s, {"t"}, "feed", false);
    INFO(cli.err.str());
    REQUIRE(!st);
    CHECK(w.calls() == std::vector<std::string>{"PUT /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed"});
    auto reqs = w.requests();
    CHECK(reqs[0].target == "/api/v1/namespaces/_/triggers/t?overwrite=false");
    CHECK(reqs[0].body ==
          R"({"name":"t","annotations":[{"key":"x","value":1},{"key":"feed","value":"/_/feed"}]})");
    CHECK(reqs[1].target == "/api/v1/namespaces/_/actions/feed?blocking=true&result=false");
    auto body = BodyOf(w, 1);
    CHECK(Str(body, "cron") == "* * * * *");
    CHECK(Str(body, "lifecycleEvent") == "CREATE");  // the lifecycle keys override user keys
    CHECK(Str(body, "triggerName") == "/_/t");
    CHECK(Str(body, "authKey") == kAuth);
    CHECK(body.MemberCount() == 4);
    const std::string out = cli.out.str();
    CHECK(out.rfind("ok: invoked /_/feed with id feedactivation2\n{\n", 0) == 0);
    CHECK(out.find("\"lifecycleEvent\": \"CREATE\"") != std::string::npos);
    CHECK(EndsWith(out, "}\nok: created trigger t\n"));
    CHECK(cli.err.str().empty());
}

TEST_CASE("trigger create --feed: an application error deletes the trigger, exit 246",
          "[wsk][feed]") {
    FakeWhisk w;
    w.fail_on("CREATE");
    Cli cli(w, {"-p", "cron", "bad"});
    auto st = TriggerCreate(cli.s, {"t"}, "/_/feed", false);
    REQUIRE(st);
    CHECK(st->exit_code == 246);
    CHECK(!st->display_msg);  // only the failed activation is shown
    CHECK(FormatError(*st).empty());
    CHECK(st->message.rfind("Unable to create trigger 't': Unable to configure feed '/_/feed': ",
                            0) == 0);
    // The full delete path: GET, the feed's DELETE with the user's -p values, DELETE.
    CHECK(w.calls() == std::vector<std::string>{"PUT /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed",
                                                "GET /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed",
                                                "DELETE /api/v1/namespaces/_/triggers/t"});
    auto del = BodyOf(w, 3);
    CHECK(Str(del, "lifecycleEvent") == "DELETE");
    CHECK(Str(del, "cron") == "bad");
    CHECK(Str(del, "triggerName") == "/_/t");
    CHECK(!w.has_trigger("t"));
    const std::string err = cli.err.str();
    CHECK(err.rfind("{\n", 0) == 0);  // the record, without an "ok: invoked" line
    CHECK(err.find("\"error\": \"feed says no to CREATE\"") != std::string::npos);
    CHECK(cli.out.str().find("ok: created trigger") == std::string::npos);
    CHECK(cli.out.str().find("ok: deleted trigger t\n") != std::string::npos);
}

TEST_CASE("trigger create --feed: a missing feed action is a displayed error, exit 148",
          "[wsk][feed]") {
    FakeWhisk w;
    Cli cli(w, {});
    auto st = TriggerCreate(cli.s, {"t"}, "nofeed", false);
    REQUIRE(st);
    CHECK(st->exit_code == 148);
    CHECK(FormatError(*st) ==
          "error: Unable to create trigger 't': Unable to configure feed '/_/nofeed': The "
          "requested resource does not exist. (code c404)\n");
    CHECK(w.calls().size() == 5);  // PUT, CREATE, GET, DELETE (feed, fails), DELETE
    CHECK(w.calls().back() == "DELETE /api/v1/namespaces/_/triggers/t");
    CHECK(!w.has_trigger("t"));
}

TEST_CASE("trigger create -F/-T: feed and trigger parameters apart; usage errors", "[wsk][feed]") {
    {
        FakeWhisk w;
        Cli cli(w, {"-F", "minutes", "5", "-T", "colour", "red"});
        REQUIRE(!TriggerCreate(cli.s, {"t"}, "feed", false));
        auto reqs = w.requests();
        REQUIRE(reqs.size() == 2);
        CHECK(reqs[0].body == R"({"name":"t","annotations":[{"key":"feed","value":"/_/feed"}],)"
                              R"("parameters":[{"key":"colour","value":"red"}]})");
        auto body = BodyOf(w, 1);
        CHECK(body["minutes"].GetInt() == 5);
        CHECK(!body.HasMember("colour"));
        CHECK(Str(body, "lifecycleEvent") == "CREATE");
    }
    {
        FakeWhisk w;
        Cli cli(w, {"-p", "a", "A", "-F", "feedParam", "v"});
        auto st = TriggerCreate(cli.s, {"t"}, "feed", false);
        REQUIRE(st);
        CHECK(st->exit_code == 149);
        CHECK(FormatError(*st) ==
              "error: Incorrect usage. Cannot combine --feed-param or --trigger-param flag with "
              "neither --param nor --param-file flag\n");
        CHECK(w.requests().empty());
    }
    {
        FakeWhisk w;
        Cli cli(w, {"-F", "feedParam", "v"});
        auto st = TriggerCreate(cli.s, {"t"}, "", false);
        REQUIRE(st);
        CHECK(st->exit_code == 149);
        CHECK(st->message == "Incorrect usage. Trigger without a feed cannot have feed parameters");
        CHECK(w.requests().empty());
    }
}

TEST_CASE("trigger update of a feed trigger: -p goes to the feed's UPDATE only", "[wsk][feed]") {
    FakeWhisk w;
    w.set_trigger("t", kFeedTrigger);
    Cli cli(w, {"-p", "cron", "*/5 * * * *"});
    REQUIRE(!TriggerCreate(cli.s, {"t"}, "", true));
    CHECK(w.calls() == std::vector<std::string>{"GET /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed"});
    auto body = BodyOf(w, 1);
    CHECK(Str(body, "lifecycleEvent") == "UPDATE");
    CHECK(Str(body, "cron") == "*/5 * * * *");
    CHECK(Str(body, "triggerName") == "/_/t");
    CHECK(Str(body, "authKey") == kAuth);
    const std::string out = cli.out.str();
    CHECK(out.rfind("{\n", 0) == 0);  // the record without "ok: invoked"
    CHECK(EndsWith(out, "}\nok: updated trigger t\n"));

    SECTION("a failed UPDATE: the record on stderr, exit 246") {
        w.fail_on("UPDATE");
        Cli again(w, {"-p", "cron", "nope"});
        auto st = TriggerCreate(again.s, {"t"}, "", true);
        REQUIRE(st);
        CHECK(st->exit_code == 246);
        CHECK(FormatError(*st).empty());
        CHECK(again.err.str().find("feed says no to UPDATE") != std::string::npos);
        CHECK(again.out.str().empty());
    }
}

TEST_CASE("trigger update -T/-F: PUT with -T, then the feed's UPDATE with -F", "[wsk][feed]") {
    FakeWhisk w;
    w.set_trigger("t", kFeedTrigger);
    Cli cli(w, {"-T", "colour", "blue", "-F", "minutes", "7"});
    REQUIRE(!TriggerCreate(cli.s, {"t"}, "", true));
    CHECK(w.calls() == std::vector<std::string>{"GET /api/v1/namespaces/_/triggers/t",
                                                "PUT /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed"});
    auto reqs = w.requests();
    CHECK(reqs[1].target == "/api/v1/namespaces/_/triggers/t?overwrite=true");
    CHECK(reqs[1].body == R"({"name":"t","parameters":[{"key":"colour","value":"blue"}]})");
    auto body = BodyOf(w, 2);
    CHECK(body["minutes"].GetInt() == 7);
    CHECK(!body.HasMember("colour"));
    CHECK(Str(body, "lifecycleEvent") == "UPDATE");
    CHECK(EndsWith(cli.out.str(), "}\nok: updated trigger t\n"));

    SECTION("-F on a trigger without a feed") {
        w.set_trigger("plain", R"({"name":"plain"})");
        Cli plain(w, {"-F", "minutes", "7"});
        auto st = TriggerCreate(plain.s, {"plain"}, "", true);
        REQUIRE(st);
        CHECK(st->exit_code == 1);
        CHECK(FormatError(*st) ==
              "error: Unable to configure feed 'plain': this trigger does not contain a feed\n");
    }
    SECTION("-p with -T") {
        Cli mixed(w, {"-p", "a", "1", "-T", "b", "2"});
        auto st = TriggerCreate(mixed.s, {"t"}, "", true);
        REQUIRE(st);
        CHECK(st->exit_code == 149);
        CHECK(st->message.rfind("Incorrect usage. Cannot combine --feed-param", 0) == 0);
    }
}

TEST_CASE("trigger update of a missing trigger creates it; without a feed it is a PUT",
          "[wsk][feed]") {
    FakeWhisk w;
    Cli cli(w, {"-p", "k", "v"});
    REQUIRE(!TriggerCreate(cli.s, {"t"}, "", true));
    CHECK(w.calls() == std::vector<std::string>{"GET /api/v1/namespaces/_/triggers/t",
                                                "PUT /api/v1/namespaces/_/triggers/t"});
    CHECK(w.requests()[1].target == "/api/v1/namespaces/_/triggers/t?overwrite=false");
    CHECK(cli.out.str() == "ok: created trigger t\n");
    Cli upd(w, {"-p", "k", "w"});
    REQUIRE(!TriggerCreate(upd.s, {"t"}, "", true));
    CHECK(w.requests().back().target == "/api/v1/namespaces/_/triggers/t?overwrite=true");
    CHECK(w.requests().back().body == R"({"name":"t","parameters":[{"key":"k","value":"w"}]})");
    CHECK(upd.out.str() == "ok: updated trigger t\n");
}

TEST_CASE("trigger get of a feed trigger prints the feed's READ record only", "[wsk][feed]") {
    FakeWhisk w;
    w.set_trigger("t", kFeedTrigger);
    Cli cli(w, {});
    REQUIRE(!TriggerGet(cli.s, {"t"}, true));  // --summary is ignored
    CHECK(w.calls() == std::vector<std::string>{"GET /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed"});
    auto body = BodyOf(w, 1);
    CHECK(Str(body, "lifecycleEvent") == "READ");
    CHECK(Str(body, "triggerName") == "/_/t");
    auto record = Json(cli.out.str());
    CHECK(Str(record, "activationId") == "feedactivation2");

    SECTION("a failed READ still exits 0, its record on stderr") {
        w.fail_on("READ");
        Cli again(w, {});
        CHECK(!TriggerGet(again.s, {"t"}, false));
        CHECK(again.out.str().empty());
        CHECK(again.err.str().find("feed says no to READ") != std::string::npos);
    }
    SECTION("a trigger without a feed prints the entity") {
        w.set_trigger("plain", R"({"name":"plain","namespace":"guest"})");
        Cli plain(w, {});
        REQUIRE(!TriggerGet(plain.s, {"plain"}, false));
        CHECK(plain.out.str().rfind("ok: got trigger plain\n", 0) == 0);
        CHECK(w.calls().back() == "GET /api/v1/namespaces/_/triggers/plain");
    }
}

TEST_CASE("trigger delete: a failed feed DELETE does not stop the trigger delete", "[wsk][feed]") {
    FakeWhisk w;
    w.set_trigger("t", kFeedTrigger);
    w.fail_on("DELETE");
    Cli cli(w, {});
    REQUIRE(!TriggerDelete(cli.s, {"t"}));
    CHECK(w.calls() == std::vector<std::string>{"GET /api/v1/namespaces/_/triggers/t",
                                                "POST /api/v1/namespaces/_/actions/feed",
                                                "DELETE /api/v1/namespaces/_/triggers/t"});
    CHECK(Str(BodyOf(w, 1), "lifecycleEvent") == "DELETE");
    CHECK(!w.has_trigger("t"));
    CHECK(cli.err.str().find("feed says no to DELETE") != std::string::npos);
    CHECK(cli.out.str() == "ok: deleted trigger t\n");

    Cli gone(w, {});
    auto st = TriggerDelete(gone.s, {"t"});
    REQUIRE(st);
    CHECK(st->exit_code == 148);
    CHECK(st->message ==
          "Unable to get trigger 't': The requested resource does not exist. (code c404)");
}
