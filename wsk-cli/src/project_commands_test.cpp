// `wsk project deploy|undeploy` against an in-memory fake controller on a loopback port: the
// request order, the bodies (managed annotation, web annotations, limits, sequence components,
// feed lifecycle, rule activation, the createApi apidoc), the managed refresh, undeploy by
// manifest and by project name, and the messages.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "commands.hpp"
#include "entity_args.hpp"
#include "json_out.hpp"
#include "manifest.hpp"
#include "output.hpp"
#include "testing/cli_session.hpp"
#include "testing/fake_http_server.hpp"

using namespace wsk;
using testing::Request;

namespace {

constexpr const char* kAuth = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:secret";
const std::string kNotFound = R"({"error":"The requested resource does not exist.","code":"c404"})";

/// Entities by "<collection>/<name>" ("actions/club/a"), PUT/GET/DELETE and lists; rule state
/// POSTs; any action POST is a successful feed invoke echoing its parameters; createApi answers
/// 404 (no route management) unless `routes` is set.
class FakeStore {
  public:
    FakeStore() : server_([this](const Request& r) { return Respond(r); }) {}

    int port() const { return server_.port(); }
    std::vector<Request> requests() { return server_.requests(); }
    std::vector<std::string> calls() { return server_.calls(); }
    void clear() { server_.clear(); }
    void put(const std::string& key, const std::string& json) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        entities_[key] = json;
    }
    bool has(const std::string& key) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        return entities_.count(key) > 0;
    }
    std::string get(const std::string& key) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        return entities_.count(key) ? entities_[key] : "";
    }
    std::set<std::string> keys() {
        std::lock_guard<std::mutex> lock(server_.mutex());
        std::set<std::string> out;
        for (const auto& [k, v] : entities_) out.insert(k);
        return out;
    }
    void set_routes(bool on) {
        std::lock_guard<std::mutex> lock(server_.mutex());
        routes_ = on;
    }
    void fail_feed_create() {
        std::lock_guard<std::mutex> lock(server_.mutex());
        fail_create_ = true;
    }

  private:
    /// The list view of an entity: its document with "namespace" set as the server does.
    static std::string ListView(const std::string& collection, const std::string& name,
                                const std::string& json) {
        rapidjson::Document d;
        if (!ParseJsonText(json, d).empty() || !d.IsObject()) return json;
        const auto slash = name.find('/');
        const std::string ns = collection == "actions" && slash != std::string::npos
                                   ? "guest/" + name.substr(0, slash)
                                   : "guest";
        d.RemoveMember("namespace");
        d.AddMember("namespace", rapidjson::Value(ns.c_str(), d.GetAllocator()), d.GetAllocator());
        d.RemoveMember("name");
        const std::string entity = slash == std::string::npos ? name : name.substr(slash + 1);
        d.AddMember("name", rapidjson::Value(entity.c_str(), d.GetAllocator()), d.GetAllocator());
        return CompactJson(d);
    }

    std::pair<int, std::string> Respond(const Request& req) {
        const std::string path = req.path();
        const std::string ns = "/api/v1/namespaces/_/";
        if (path == "/api/v1/web/whisk.system/apimgmt/createApi.http") {
            if (!routes_) return {404, kNotFound};
            return {200, R"({"namespace":"Not Used","gwApiActivated":true})"};
        }
        if (path.rfind("/api/v1/web/whisk.system/apimgmt/", 0) == 0) return {404, kNotFound};
        if (path == "/") {
            return {200, R"({"runtimes":{"python":[{"kind":"python:3.11","deprecated":false},)"
                         R"({"kind":"python:3.7","deprecated":true}]}})"};
        }
        if (req.method == "POST" && path.find("/actions/") != std::string::npos) {
            rapidjson::Document params;
            (void)ParseJsonText(req.body, params);
            const bool create = params.IsObject() && params.HasMember("lifecycleEvent") &&
                                std::string(params["lifecycleEvent"].GetString()) == "CREATE";
            if (create && fail_create_) {
                return {502, R"({"activationId":"a1","response":{"result":{"error":"no cron"},)"
                             R"("status":"application error","success":false}})"};
            }
            return {200, R"({"activationId":"a2","response":{"result":)" + req.body +
                             R"(,"status":"success","success":true}})"};
        }
        if (path.rfind(ns, 0) != 0) return {404, kNotFound};
        const std::string rest = path.substr(ns.size());
        const auto slash = rest.find('/');
        const std::string collection = rest.substr(0, slash);
        if (slash == std::string::npos) {  // a list
            std::string out = "[";
            for (const auto& [k, v] : entities_) {
                if (k.rfind(collection + "/", 0) != 0) continue;
                if (out.size() > 1) out += ",";
                out += ListView(collection, k.substr(collection.size() + 1), v);
            }
            return {200, out + "]"};
        }
        const std::string key = rest;
        auto it = entities_.find(key);
        if (req.method == "PUT") {
            if (it != entities_.end() && req.query().find("overwrite=true") == std::string::npos) {
                return {409, R"({"error":"resource already exists","code":"c409"})"};
            }
            entities_[key] = req.body;
            return {200, req.body};
        }
        if (it == entities_.end()) return {404, kNotFound};
        if (req.method == "POST") return {200, "{}"};  // rule state
        std::string doc = it->second;
        if (req.method == "DELETE") {
            entities_.erase(it);
        } else if (collection == "packages") {
            // GET package: its actions with their annotations.
            rapidjson::Document d;
            (void)ParseJsonText(doc, d);
            rapidjson::Value actions(rapidjson::kArrayType);
            const std::string prefix = "actions/" + key.substr(slash + 1) + "/";
            for (const auto& [k, v] : entities_) {
                if (k.rfind(prefix, 0) != 0) continue;
                rapidjson::Document a;
                (void)ParseJsonText(ListView("actions", k.substr(8), v), a);
                actions.PushBack(rapidjson::Value(a, d.GetAllocator()), d.GetAllocator());
            }
            d.AddMember("actions", actions, d.GetAllocator());
            doc = CompactJson(d);
        }
        return {200, doc};
    }

    std::map<std::string, std::string> entities_;
    bool routes_ = false;
    bool fail_create_ = false;
    testing::FakeHttpServer server_;  // last: its thread stops before the state goes
};

struct Project {
    std::filesystem::path dir;
    Project() {
        static int n = 0;
        dir = std::filesystem::temp_directory_path() /
              ("wsk-project-test-" + std::to_string(getpid()) + "-" + std::to_string(++n));
        std::filesystem::create_directories(dir / "src");
        std::ofstream(dir / "src" / "a.py") << "def main(args):\n    return args\n";
    }
    ~Project() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string Write(const std::string& name, const std::string& text) const {
        std::ofstream(dir / name) << text;
        return (dir / name).string();
    }
};

struct Cli : testing::CliSession {
    explicit Cli(const FakeStore& w) : CliSession(w.port(), kAuth) {}
};

using testing::Json;

std::string AnnotationJson(const rapidjson::Value& entity, const std::string& key) {
    if (!entity.IsObject() || !entity.HasMember("annotations")) return "<none>";
    const rapidjson::Value* v = FindKeyValue(entity["annotations"], key);
    return v == nullptr ? "<none>" : CompactJson(*v);
}

std::string ParamJson(const rapidjson::Value& entity, const std::string& key) {
    if (!entity.IsObject() || !entity.HasMember("parameters")) return "<none>";
    const rapidjson::Value* v = FindKeyValue(entity["parameters"], key);
    return v == nullptr ? "<none>" : CompactJson(*v);
}

constexpr const char* kManifest = R"(project:
  name: club
  packages:
    club:
      public: true
      inputs: {colour: blue}
      actions:
        a:
          function: src/a.py
          web: true
          limits: {timeout: 5000, memorySize: 256, logSize: 2}
          annotations: {require-whisk-auth: s3cret}
          inputs: {n: 1}
        b:
          code: "def main(a): return a"
          runtime: python:3.11
          main: main
      sequences:
        ab: {actions: "a, b"}
      triggers:
        tick:
          feed: /whisk.system/alarms/alarm
          inputs: {cron: "* * * * *"}
        plain: {inputs: {x: 1}}
      rules:
        r: {trigger: tick, action: ab}
      apis:
        clubApi:
          club:
            "books/{isbn}": {a: {method: GET}}
)";

}  // namespace

TEST_CASE("project deploy: order, bodies, the apis without route management", "[project]") {
    FakeStore w;
    Project p;
    const std::string manifest = p.Write("manifest.yaml", kManifest);
    Cli c(w);
    ProjectFlags f;
    f.manifest = manifest;
    auto st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->exit_code == 1);
    CHECK(st->message == "apis: API routes are not available on this platform yet");
    CHECK(c.err.str() ==
          "Error: Deployment did not complete successfully. Run `wskdeploy undeploy` to remove "
          "partially deployed assets.\n");
    CHECK(c.out.str().empty());
    const std::vector<std::string> expected = {
        "PUT /api/v1/namespaces/_/packages/club",
        "PUT /api/v1/namespaces/_/actions/club/a",
        "GET /",  // the runtimes, once
        "PUT /api/v1/namespaces/_/actions/club/b",
        "PUT /api/v1/namespaces/_/actions/club/ab",
        "GET /api/v1/namespaces/_/triggers/tick",
        "PUT /api/v1/namespaces/_/triggers/tick",
        "POST /api/v1/namespaces/whisk.system/actions/alarms/alarm",
        "PUT /api/v1/namespaces/_/triggers/plain",
        "PUT /api/v1/namespaces/_/rules/r",
        "POST /api/v1/namespaces/_/rules/r",
        "POST /api/v1/web/whisk.system/apimgmt/createApi.http",
        // the managed refresh
        "GET /api/v1/namespaces/_/rules",
        "GET /api/v1/namespaces/_/triggers",
        "GET /api/v1/namespaces/_/actions",
        "GET /api/v1/namespaces/_/packages",
        "GET /api/v1/namespaces/_/packages/club",
    };
    CHECK(w.calls() == expected);
    const auto reqs = w.requests();
    for (const auto& r : reqs) {
        if (r.method == "PUT") CHECK(r.query() == "?overwrite=true");
    }

    const std::string hash = project::ProjectHash(kManifest);
    const std::string managed = R"({"projectName":"club","projectHash":")" + hash +
                                R"(","file":")" + manifest + R"(","projectDeps":[]})";
    auto pkg = Json(w.get("packages/club"));
    CHECK(pkg["publish"].GetBool());
    CHECK(ParamJson(pkg, "colour") == "\"blue\"");
    CHECK(AnnotationJson(pkg, "whisk-managed") == managed);

    auto a = Json(w.get("actions/club/a"));
    CHECK(CompactJson(a["exec"]) ==
          R"({"kind":"python:default","code":"def main(args):\n    return args\n"})");
    CHECK(AnnotationJson(a, "web-export") == "true");
    CHECK(AnnotationJson(a, "raw-http") == "false");
    CHECK(AnnotationJson(a, "final") == "true");
    CHECK(AnnotationJson(a, "require-whisk-auth") == "\"s3cret\"");
    CHECK(AnnotationJson(a, "whisk-managed") == managed);
    CHECK(CompactJson(a["limits"]) == R"({"timeout":5000,"memory":256,"logs":2})");
    CHECK(ParamJson(a, "n") == "1");
    auto b = Json(w.get("actions/club/b"));
    CHECK(CompactJson(b["exec"]) ==
          R"({"kind":"python:3.11","code":"def main(a): return a","main":"main"})");
    auto ab = Json(w.get("actions/club/ab"));
    CHECK(CompactJson(ab["exec"]) ==
          R"({"kind":"sequence","components":["/_/club/a","/_/club/b"]})");
    CHECK(AnnotationJson(ab, "whisk-managed") == managed);

    auto tick = Json(w.get("triggers/tick"));
    CHECK(AnnotationJson(tick, "feed") == "\"/whisk.system/alarms/alarm\"");
    CHECK(AnnotationJson(tick, "whisk-managed") == managed);
    CHECK_FALSE(tick.HasMember("parameters"));  // the inputs go to the feed
    auto feed = Json(reqs[7].body);
    CHECK(CompactJson(feed) == R"({"cron":"* * * * *","lifecycleEvent":"CREATE",)"
                               R"("triggerName":"/_/tick","authKey":")" +
                                   std::string(kAuth) + "\"}");
    CHECK(reqs[7].query() == "?blocking=true&result=false");
    auto plain = Json(w.get("triggers/plain"));
    CHECK(ParamJson(plain, "x") == "1");

    auto rule = Json(w.get("rules/r"));
    CHECK(Json(w.get("rules/r"))["trigger"] == "/_/tick");
    CHECK(rule["action"] == "/_/club/ab");
    CHECK(AnnotationJson(rule, "whisk-managed") == managed);
    CHECK(reqs[10].body == R"({"status":"active","trigger":null,"action":null})");

    // createApi: OpenWhisk's apidoc, V2 query.
    const Request& api = reqs[11];
    CHECK(api.query() ==
          "?responsetype=http&spaceguid=23bc46b1-71f6-4ed5-8c54-816aa4f8c502&accesstoken="
          "DUMMY%20TOKEN");
    CHECK(api.body ==
          R"({"apidoc":{"namespace":"_","gatewayBasePath":"/club","gatewayPath":"/books/{isbn}",)"
          R"("gatewayMethod":"GET","id":"API:_:/books/{isbn}","apiName":"clubApi",)"
          R"("pathParameters":[{"name":"isbn","in":"path","description":"Default description )"
          R"(for 'isbn'","required":true,"type":"string"}],"action":{"name":"club/a",)"
          R"("namespace":"_","backendMethod":"GET","backendUrl":"http://127.0.0.1:)" +
              std::to_string(w.port()) + R"(/api/v1/web/_/club/a.http","authkey":")" +
              std::string(kAuth) + R"(","secureKey":"s3cret"}}})");
}

TEST_CASE("project deploy: success, twice, -v lines, and the managed refresh", "[project]") {
    FakeStore w;
    w.set_routes(true);
    Project p;
    const std::string manifest = p.Write("manifest.yaml", kManifest);
    // Left from an older version of the project, and another project's action.
    w.put("actions/club/old",
          R"({"name":"old","annotations":[{"key":"whisk-managed","value":{"projectName":"club",)"
          R"("projectHash":"0000","file":"m","projectDeps":[]}}]})");
    w.put("triggers/gone",
          R"({"name":"gone","annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"},)"
          R"({"key":"whisk-managed","value":{"projectName":"club","projectHash":"0000"}}]})");
    w.put("actions/mine",
          R"({"name":"mine","annotations":[{"key":"whisk-managed","value":{"projectName":)"
          R"("other","projectHash":"0000"}}]})");
    {
        Cli c(w);
        ProjectFlags f;
        f.manifest = manifest;
        auto st = ProjectDeploy(c.s, f);
        INFO((st ? st->message : std::string()));
        REQUIRE_FALSE(st);
        CHECK(c.out.str() ==
              "Deleting trigger [gone] which was removed from the current managed project [club] "
              "as part of undeployment.\n"
              "Deleting action [club/old] which was removed from the current managed project "
              "[club] as part of undeployment.\n"
              "Success: Deployment completed successfully.\n");
        CHECK(c.err.str().empty());
    }
    CHECK_FALSE(w.has("actions/club/old"));
    CHECK_FALSE(w.has("triggers/gone"));
    CHECK(w.has("actions/mine"));
    const auto after_first = w.keys();

    w.clear();
    {
        Cli c(w);
        ProjectFlags f;
        f.manifest = manifest;
        f.verbose = true;
        REQUIRE_FALSE(ProjectDeploy(c.s, f));
        const std::string out = c.out.str();
        CHECK(out.find("Warning: Package [club]: version not specified, using 0.0.1.\n") == 0);
        CHECK(out.find("Info: Deploying action [club/a] ...\nInfo: action [club/a] has been "
                       "successfully deployed.\n") != std::string::npos);
        CHECK(out.find("Info: Deploying api [/club/books/{isbn} GET] ...\n") != std::string::npos);
        CHECK(out.find("Deleting") == std::string::npos);
    }
    CHECK(w.keys() == after_first);
    // The feed trigger was there: its feed got DELETE before the new CREATE.
    const auto reqs = w.requests();
    std::vector<std::string> events;
    for (const auto& r : reqs) {
        if (r.method == "POST" && r.path().find("/alarms/alarm") != std::string::npos) {
            events.push_back(Json(r.body)["lifecycleEvent"].GetString());
        }
    }
    CHECK(events == std::vector<std::string>{"DELETE", "CREATE"});
}

TEST_CASE("project deploy: a failing feed CREATE removes the trigger", "[project]") {
    FakeStore w;
    w.fail_feed_create();
    Project p;
    Cli c(w);
    ProjectFlags f;
    f.manifest = p.Write("manifest.yaml", kManifest);
    auto st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->exit_code == 1);
    CHECK(st->message ==
          "Unable to deploy trigger [tick]: Unable to configure feed "
          "'/whisk.system/alarms/alarm': The following application error was received: no cron");
    CHECK_FALSE(w.has("triggers/tick"));
    CHECK(w.calls().back() == "DELETE /api/v1/namespaces/_/triggers/tick");
}

TEST_CASE("project undeploy: by manifest (only what the project owns) and by name", "[project]") {
    FakeStore w;
    w.set_routes(true);
    Project p;
    const std::string manifest = p.Write("manifest.yaml", kManifest);
    {
        Cli c(w);
        ProjectFlags f;
        f.manifest = manifest;
        REQUIRE_FALSE(ProjectDeploy(c.s, f));
    }
    // A trigger of the same name made by hand is not the project's.
    w.put("triggers/plain", R"({"name":"plain"})");
    w.put("actions/mine", R"({"name":"mine"})");
    w.clear();
    {
        Cli c(w);
        ProjectFlags f;
        f.manifest = manifest;
        auto st = ProjectUndeploy(c.s, f);
        INFO((st ? st->message : std::string()));
        REQUIRE_FALSE(st);
        CHECK(c.out.str() ==
              "Warning: trigger [plain] is not managed by project [club]; it is left alone.\n"
              "Success: Undeployment completed successfully.\n");
    }
    CHECK(w.keys() == std::set<std::string>{"actions/mine", "triggers/plain"});
    std::vector<std::string> deletes;
    for (const auto& call : w.calls()) {
        if (call.rfind("DELETE", 0) == 0 || call.rfind("POST", 0) == 0) deletes.push_back(call);
    }
    CHECK(deletes == std::vector<std::string>{
                         "DELETE /api/v1/web/whisk.system/apimgmt/deleteApi.http",
                         "DELETE /api/v1/namespaces/_/rules/r",
                         "POST /api/v1/namespaces/whisk.system/actions/alarms/alarm",
                         "DELETE /api/v1/namespaces/_/triggers/tick",
                         "DELETE /api/v1/namespaces/_/actions/club/ab",
                         "DELETE /api/v1/namespaces/_/actions/club/a",
                         "DELETE /api/v1/namespaces/_/actions/club/b",
                         "DELETE /api/v1/namespaces/_/packages/club",
                     });

    // By name: collected through the managed annotation, no manifest needed.
    {
        Cli c(w);
        ProjectFlags f;
        f.manifest = manifest;
        REQUIRE_FALSE(ProjectDeploy(c.s, f));
    }
    w.put("triggers/plain", R"({"name":"plain"})");
    {
        Cli c(w);
        ProjectFlags f;
        f.project_name = "club";
        f.project_dir = "/nonexistent";
        auto st = ProjectUndeploy(c.s, f);
        INFO((st ? st->message : std::string()));
        REQUIRE_FALSE(st);
        CHECK(c.out.str() == "Success: Undeployment completed successfully.\n");
    }
    CHECK(w.keys() == std::set<std::string>{"actions/mine", "triggers/plain"});
}

TEST_CASE("project deploy: file errors", "[project]") {
    FakeStore w;
    Project p;
    Cli c(w);
    ProjectFlags f;
    f.project_dir = p.dir.string();
    auto st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->message ==
          "Manifest file not found at path [" + (p.dir / "manifest.yaml").string() + "].");
    p.Write("manifest.yaml", "packages:\n  p:\n    actions:\n      a: {function: src/a.py}\n");
    p.Write("deployment.yaml", "project: {name: x}\npackages: {p: {inputs: {k: [1}}}\n");
    st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->message.rfind((p.dir / "deployment.yaml").string() + ":2: not valid YAML", 0) == 0);
    CHECK(w.requests().empty());
    CHECK(c.err.str().empty());  // nothing was deployed: no "did not complete" line
    f.project_name = "y";
    p.Write("deployment.yaml", "project: {name: x}\n");
    st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->message == "The project name [y] differs from the manifest's [x].");
}

TEST_CASE("project deploy: runtimes from GET / (a deprecated or unknown kind)", "[project]") {
    FakeStore w;
    Project p;
    Cli c(w);
    ProjectFlags f;
    f.verbose = true;
    f.manifest = p.Write("manifest.yaml",
                         "packages:\n  default:\n    actions:\n"
                         "      old: {function: src/a.py, runtime: python:3.7}\n"
                         "      fam: {code: x, runtime: python}\n");
    REQUIRE_FALSE(ProjectDeploy(c.s, f));
    CHECK(c.out.str().find("Warning: Invalid or missing runtime [python:3.7] specified in "
                           "manifest for the action [old]; the kind comes from the file's "
                           "extension.\n") != std::string::npos);
    CHECK(Json(w.get("actions/old"))["exec"]["kind"] == "python:default");
    CHECK(Json(w.get("actions/fam"))["exec"]["kind"] == "python:default");

    f.manifest = p.Write("manifest.yaml",
                         "packages:\n  default:\n    actions:\n"
                         "      new: {code: x, runtime: nodejs:99}\n");
    auto st = ProjectDeploy(c.s, f);
    REQUIRE(st);
    CHECK(st->message ==
          "Invalid or missing runtime [nodejs:99] specified in manifest for the action [new].");
    CHECK_FALSE(w.has("actions/new"));
}
