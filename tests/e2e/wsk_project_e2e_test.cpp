// End-to-end: `wsk project deploy|undeploy` of a wskdeploy manifest (a package, two python
// actions — one from a file in the project folder, one inline —, a sequence, a trigger, a rule
// and an API) against a real wisp-standalone: the rule runs the sequence when the trigger fires,
// the API's route answers over HTTP, a second deploy changes nothing, undeploy (by manifest and
// by --projectname) leaves nothing behind (the route answers 404), and a manifest with an error
// names the file, the line and the field. Needs Docker and the python runtime image.
#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

struct User : WskUser {
    explicit User(const Standalone& wisp) : WskUser("wisp-wsk-project-e2e-") {
        WskRun r = PropertySet(wisp);
        INFO(r);
        REQUIRE(r.code == 0);
    }
};

constexpr const char* kHello =
    "def main(args):\n"
    "    return {'greeting': 'hello ' + args.get('name', 'world'), 'colour': args.get('colour')}\n";

constexpr const char* kManifest = R"(# the club project
project:
  name: clubproject
  packages:
    club:
      version: 1.0.0
      license: Apache-2.0
      inputs:
        colour: $CLUB_COLOUR
      actions:
        hello:
          function: src/hello.py
          limits: {timeout: 20000, memorySize: 256}
          annotations: {owner: club}
          web: true
        shout:
          code: |
            def main(args):
                return {'loud': str(args.get('greeting', '')).upper(), 'colour': args.get('colour')}
          runtime: python
          inputs:
            level: {type: integer, value: 11, description: how loud}
      sequences:
        helloLoud: {actions: "hello, shout"}
      triggers:
        ping:
          inputs: {name: trigger}
        hourly:
          feed: /whisk.system/alarms/interval
          inputs: {minutes: 60}
      rules:
        pingHello: {trigger: ping, action: helloLoud}
      apis:
        club-api:
          clubapi:
            greet: {hello: {method: GET, response: json}}
)";

/// A collection with version and updated removed from every entity, sorted by name: what must
/// not change between two deploys of the same manifest.
std::string Listing(const HttpClient& http, const std::string& path) {
    auto r = http.Get("/api/v1/namespaces/_/" + path);
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    REQUIRE((d.IsArray() || d.IsObject()));
    // A package's actions come in no fixed order: they are listed sorted, after the package.
    auto strip = [](rapidjson::Value& e) {
        std::string actions;
        if (!e.IsObject()) return actions;
        e.RemoveMember("version");
        e.RemoveMember("updated");
        if (e.HasMember("actions") && e["actions"].IsArray()) {
            std::vector<std::string> names;
            for (auto& a : e["actions"].GetArray()) {
                if (a.IsObject()) a.RemoveMember("version");
                names.push_back(ToJson(a));
            }
            std::sort(names.begin(), names.end());
            for (const auto& n : names) actions += "  " + n + "\n";
            e.RemoveMember("actions");
        }
        return actions;
    };
    if (d.IsObject()) {
        const std::string actions = strip(d);
        return ToJson(d) + "\n" + actions;
    }
    std::vector<std::string> items;
    for (auto& e : d.GetArray()) {
        const std::string actions = strip(e);
        items.push_back(ToJson(e) + actions);
    }
    std::sort(items.begin(), items.end());
    std::string out;
    for (const auto& i : items) out += i + "\n";
    return out;
}

std::string Snapshot(const HttpClient& http) {
    std::string out;
    for (const char* c :
         {"packages?limit=200", "actions?limit=200", "triggers?limit=200", "rules?limit=200",
          "packages/club", "actions/club/hello", "actions/club/shout", "actions/club/helloLoud",
          "triggers/ping", "triggers/hourly", "rules/pingHello"}) {
        out += std::string("== ") + c + "\n" + Listing(http, c);
    }
    return out;
}

/// getApi's answer for basePath /clubapi (the caller's APIs).
rapidjson::Document ClubApi(const HttpClient& http) {
    auto r = http.Get("/api/v1/web/whisk.system/apimgmt/getApi.http?basepath=/clubapi");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    return ParseJson(r.body);
}

bool NothingLeft(const HttpClient& http) {
    for (const char* c : {"packages", "actions", "triggers", "rules"}) {
        auto r = http.Get(std::string("/api/v1/namespaces/_/") + c + "?limit=200");
        if (r.status != 200 || r.body != "[]") {
            UNSCOPED_INFO(c << ": " << r.Describe());
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("wsk project deploy, fire through the rule, deploy again, undeploy",
          "[e2e][wsk][project]") {
    auto wisp = Standalone::Start({});
    INFO((wisp.ok() ? std::string() : std::string(wisp.status().message())));
    REQUIRE(wisp.ok());
    const User u(**wisp);
    HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
    u.Sh("mkdir -p src");
    u.Write("src/hello.py", kHello);
    u.Write("manifest.yaml", kManifest);
    const std::string env = "CLUB_COLOUR=green";

    // deploy (-v: the Info: lines)
    WskRun r = u.Wsk({"project", "deploy", "-v"}, env);
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Info: Deploying action [club/hello] ...\n") != std::string::npos);
    CHECK(r.out.find("Info: rule [pingHello] has been successfully deployed.\n") !=
          std::string::npos);
    const std::string success = "Success: Deployment completed successfully.\n";
    CHECK(r.out.size() >= success.size());
    CHECK(r.out.rfind(success) == r.out.size() - success.size());

    // What the server holds: the managed annotation on every entity, the inputs, the limits.
    for (const char* path :
         {"packages/club", "actions/club/hello", "actions/club/shout", "actions/club/helloLoud",
          "triggers/ping", "triggers/hourly", "rules/pingHello"}) {
        auto g = http.Get(std::string("/api/v1/namespaces/_/") + path);
        INFO(path << ": " << g.Describe());
        REQUIRE(g.status == 200);
        auto e = ParseJson(g.body);
        const auto* managed = KeyValue(e["annotations"], "whisk-managed");
        REQUIRE(managed != nullptr);
        CHECK(GetString(*managed, "projectName") == "clubproject");
        CHECK(GetString(*managed, "projectHash")->size() == 40);
        CHECK(GetString(*managed, "file") == "manifest.yaml");
    }
    {
        auto pkg = ParseJson(http.Get("/api/v1/namespaces/_/packages/club").body);
        const auto* colour = KeyValue(pkg["parameters"], "colour");
        REQUIRE(colour != nullptr);
        CHECK(ToJson(*colour) == "\"green\"");  // $CLUB_COLOUR
        auto hello = ParseJson(http.Get("/api/v1/namespaces/_/actions/club/hello").body);
        CHECK(GetInt(hello, "limits.timeout") == 20000);
        CHECK(GetString(hello, "exec.kind")->rfind("python", 0) == 0);
        CHECK(GetString(hello, "exec.code") == std::string(kHello));
        auto seq = ParseJson(http.Get("/api/v1/namespaces/_/actions/club/helloLoud").body);
        CHECK(GetString(seq, "exec.kind") == "sequence");
        auto rule = ParseJson(http.Get("/api/v1/namespaces/_/rules/pingHello").body);
        CHECK(GetString(rule, "status") == "active");
        // The feed trigger: the feed annotation on the trigger, the inputs went to the feed.
        auto hourly = ParseJson(http.Get("/api/v1/namespaces/_/triggers/hourly").body);
        const auto* feed = KeyValue(hourly["annotations"], "feed");
        REQUIRE(feed != nullptr);
        CHECK(ToJson(*feed) == "\"/whisk.system/alarms/interval\"");
        CHECK(KeyValue(hourly["parameters"], "minutes") == nullptr);
    }

    // The manifest's API answers over HTTP (no key) with the route's json response type.
    std::string greet_path;
    {
        auto api = ClubApi(http);
        REQUIRE(api["apis"].Size() == 1);
        const std::string url = *GetString(api["apis"][0], "value.gwApiUrl");
        REQUIRE(url.rfind((*wisp)->api_host(), 0) == 0);
        greet_path = url.substr((*wisp)->api_host().size()) + "/greet";
        auto g = HttpClient((*wisp)->api_host(), "").Get(greet_path + "?name=route");
        INFO(g.Describe());
        CHECK(g.status == 200);
        auto d = ParseJson(g.body);
        CHECK(GetString(d, "greeting") == "hello route");
        CHECK(GetString(d, "colour") == "green");
    }

    // Fire the trigger: the rule runs the sequence; shout's activation (name filter
    // "club/shout") shows hello's output.
    r = u.Wsk({"trigger", "fire", "ping"});
    INFO(r);
    REQUIRE(r.code == 0);
    std::optional<std::string> loud;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (!loud && std::chrono::steady_clock::now() < deadline) {
        auto list = ParseJson(
            http.Get("/api/v1/namespaces/_/activations?docs=true&limit=20&name=club/shout").body);
        if (list.IsArray()) {
            for (const auto& a : list.GetArray()) {
                if (auto v = GetString(a, "response.result.loud")) {
                    loud = v;
                    CHECK(GetString(a, "response.result.colour") == "green");  // package input
                }
            }
        }
        if (!loud) std::this_thread::sleep_for(250ms);
    }
    CHECK(loud == "HELLO TRIGGER");

    // A second deploy changes nothing (versions and update times apart), removes nothing.
    const std::string before = Snapshot(http);
    r = u.Wsk({"project", "deploy"}, env);
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out == success);  // no "Deleting ..." line
    CHECK(Snapshot(http) == before);
    {
        auto api = ClubApi(http);
        REQUIRE(api["apis"].Size() == 1);
        CHECK(api["apis"][0]["value"]["apidoc"]["paths"].MemberCount() == 1);
        CHECK(api["apis"][0]["value"]["apidoc"]["paths"]["/greet"].MemberCount() == 1);
    }

    // An action removed from the manifest is deleted by the managed refresh.
    {
        std::string smaller = kManifest;
        smaller.replace(smaller.find("annotations: {owner: club}"), 26, "annotations: {owner: x}");
        u.Write("manifest.yaml", smaller +
                                     "    extra:\n      actions:\n        solo:\n"
                                     "          function: src/hello.py\n");
        r = u.Wsk({"project", "deploy"}, env);
        INFO(r);
        REQUIRE(r.code == 0);
        CHECK(http.Get("/api/v1/namespaces/_/actions/extra/solo").status == 200);
        u.Write("manifest.yaml", smaller);
        r = u.Wsk({"project", "deploy"}, env);
        INFO(r);
        REQUIRE(r.code == 0);
        CHECK(r.out.find("Deleting action [extra/solo] which was removed from the current "
                         "managed project [clubproject] as part of undeployment.\n") !=
              std::string::npos);
        CHECK(r.out.find("Deleting package [extra]") != std::string::npos);
        CHECK(http.Get("/api/v1/namespaces/_/actions/extra/solo").status == 404);
        CHECK(http.Get("/api/v1/namespaces/_/packages/extra").status == 404);
        CHECK(http.Get("/api/v1/namespaces/_/actions/club/hello").status == 200);
    }

    // undeploy from the manifest: nothing left.
    r = u.Wsk({"project", "undeploy"}, env);
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out == "Success: Undeployment completed successfully.\n");
    CHECK(NothingLeft(http));
    CHECK(ClubApi(http)["apis"].Size() == 0);
    CHECK(HttpClient((*wisp)->api_host(), "").Get(greet_path).status == 404);
    // Again: nothing to do, still a success.
    r = u.Wsk({"project", "undeploy"}, env);
    INFO(r);
    CHECK(r.code == 0);

    // Deploy, then undeploy by project name (collected by the managed annotation); an entity
    // of the same name made by hand is not the project's and survives an undeploy by manifest.
    r = u.Wsk({"project", "deploy"}, env);
    REQUIRE(r.code == 0);
    r = u.Wsk({"project", "undeploy", "--projectname", "clubproject", "-v"});
    INFO(r);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("Info: Undeploying package [club] ...") != std::string::npos);
    CHECK(NothingLeft(http));
    r = u.Wsk({"trigger", "create", "ping"});
    REQUIRE(r.code == 0);
    r = u.Wsk({"project", "undeploy"}, env);
    INFO(r);
    CHECK(r.code == 0);
    CHECK(r.out.find("Warning: trigger [ping] is not managed by project [clubproject]; it is "
                     "left alone.\n") != std::string::npos);
    CHECK(http.Get("/api/v1/namespaces/_/triggers/ping").status == 200);
}

TEST_CASE("wsk project deploy: a manifest with an error names the file, the line and the field",
          "[e2e][wsk][project]") {
    auto wisp = Standalone::Start({});
    INFO((wisp.ok() ? std::string() : std::string(wisp.status().message())));
    REQUIRE(wisp.ok());
    const User u(**wisp);
    HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
    u.Sh("mkdir -p src");
    u.Write("src/hello.py", kHello);
    std::string bad = kManifest;
    bad.replace(bad.find("timeout: 20000"), 14, "timeout: soon");
    u.Write("broken.yaml", bad);
    WskRun r = u.Wsk({"project", "deploy", "-m", "broken.yaml"});
    INFO(r);
    CHECK(r.code == 1);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "error: broken.yaml:13: project.packages.club.actions.hello.limits.timeout: must be an "
          "integer\n");
    CHECK(NothingLeft(http));

    u.Write("manifest.yaml", "packages:\n  club:\n    actions:\n      a:\n        funtion: x.py\n");
    r = u.Wsk({"project", "deploy"});
    INFO(r);
    CHECK(r.code == 1);
    CHECK(r.err.rfind("error: manifest.yaml:5: packages.club.actions.a.funtion: unknown field",
                      0) == 0);

    r = u.Wsk({"project", "deploy", "--project", "nowhere"});
    INFO(r);
    CHECK(r.code == 1);
    CHECK(r.err == "error: Manifest file not found at path [nowhere/manifest.yaml].\n");
    CHECK(NothingLeft(http));
}
