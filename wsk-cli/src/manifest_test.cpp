// The wskdeploy manifest and deployment parsers: every field, strictness, errors with
// file:line: path, $ENV interpolation, deployment overrides and the project hash.
#include "manifest.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <catch2/catch.hpp>

using namespace wsk::project;

namespace {

/// A project folder with files, removed at the end.
struct ProjectDir {
    std::filesystem::path path;
    ProjectDir() {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("wsk-manifest-test-" + std::to_string(getpid()) + "-" + std::to_string(++n));
        std::filesystem::create_directories(path / "src");
        std::ofstream(path / "src" / "hello.py") << "def main(args):\n    return args\n";
        std::ofstream(path / "src" / "books.js") << "function main() { return {}; }\n";
    }
    ~ProjectDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string dir() const { return path.string(); }
};

struct Env {
    std::map<std::string, std::string> vars;
    Getenv fn() const {
        return [this](const char* name) -> const char* {
            auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

Manifest Parse(const std::string& text, const ProjectDir& dir, const Env& env = {}) {
    auto m = ParseManifest(text, "manifest.yaml", dir.dir(), env.fn());
    INFO((m.ok() ? std::string() : m.error().message));
    REQUIRE(m.ok());
    return *m;
}

std::string ParseError(const std::string& text, const ProjectDir& dir, const Env& env = {}) {
    auto m = ParseManifest(text, "manifest.yaml", dir.dir(), env.fn());
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().exit_code == 1);
    return m.error().message;
}

std::map<std::string, std::string> AsMap(const KeyValues& kvs) {
    std::map<std::string, std::string> out;
    for (const auto& kv : kvs) out[kv.key] = kv.json;
    return out;
}

constexpr const char* kFull = R"(project:
  name: bookclub
  packages:
    club:
      version: 1.0
      license: Apache-2.0
      public: true
      inputs:
        dbUrl: $DB_URL
        retries: 3
      annotations: {owner: team-a}
      actions:
        getBooks:
          function: src/books.js
          runtime: nodejs:20
          main: handler
          web: true
          limits: {timeout: 5000, memorySize: 256, logSize: 5}
          annotations: {require-whisk-auth: my-secret}
          inputs: {limit: 10}
        hello:
          function: src/hello.py
          web-export: raw
        inline:
          code: "def main(a): return a"
          runtime: python
        boxed:
          docker: openwhisk/example
        skeleton:
          native: true
          conductor: true
          web: no
      sequences:
        listAll: {actions: "getBooks, hello , other/x", web: true}
      triggers:
        nightly:
          feed: /whisk.system/alarms/alarm
          inputs: {cron: "0 2 * * *"}
          annotations: {purpose: refresh}
        plain: {}
      rules:
        nightlyRefresh: {trigger: nightly, action: getBooks}
      apis:
        book-club:
          club:
            "books/{isbn}": {getBooks: {method: get, response: json}}
            /books: {listAll: {method: POST}}
    default:
      actions:
        top: {function: src/hello.py}
)";

}  // namespace

TEST_CASE("manifest: every field of a package, action, sequence, trigger, rule and api",
          "[manifest]") {
    ProjectDir dir;
    Env env;
    env.vars["DB_URL"] = "https://db.example";
    const Manifest m = Parse(kFull, dir, env);
    CHECK(m.project_name == "bookclub");
    CHECK(m.file == "manifest.yaml");
    CHECK(m.hash == ProjectHash(kFull));
    REQUIRE(m.packages.size() == 2);
    const Package& p = m.packages[0];
    CHECK(p.name == "club");
    CHECK(p.where.line == 4);
    CHECK(p.where.path == "project.packages.club");
    CHECK(p.version == "1.0");
    CHECK(p.license == "Apache-2.0");
    CHECK(p.is_public);
    CHECK(AsMap(p.inputs) == std::map<std::string, std::string>{{"dbUrl", "\"https://db.example\""},
                                                                {"retries", "3"}});
    CHECK(AsMap(p.annotations) == std::map<std::string, std::string>{{"owner", "\"team-a\""}});

    REQUIRE(p.actions.size() == 5);
    const Action& get = p.actions[0];
    CHECK(get.name == "getBooks");
    CHECK(get.function == (dir.path / "src" / "books.js").string());
    CHECK(get.runtime == "nodejs:20");
    CHECK(get.main == "handler");
    CHECK(get.web == "true");
    CHECK(get.timeout == 5000);
    CHECK(get.memory == 256);
    CHECK(get.logsize == 5);
    CHECK(AsMap(get.annotations) ==
          std::map<std::string, std::string>{{"require-whisk-auth", "\"my-secret\""}});
    CHECK(AsMap(get.inputs) == std::map<std::string, std::string>{{"limit", "10"}});
    const Action& hello = p.actions[1];
    CHECK(hello.runtime.empty());  // from the extension at deploy time
    CHECK(hello.web == "raw");
    const Action& inline_action = p.actions[2];
    REQUIRE(inline_action.code);
    CHECK(*inline_action.code == "def main(a): return a");
    CHECK(inline_action.runtime == "python:default");
    CHECK(p.actions[3].docker == "openwhisk/example");
    CHECK(p.actions[4].native);
    CHECK(p.actions[4].conductor);
    CHECK(p.actions[4].web == "false");

    REQUIRE(p.sequences.size() == 1);
    CHECK(p.sequences[0].actions == std::vector<std::string>{"getBooks", "hello", "other/x"});
    CHECK(p.sequences[0].web == "true");
    REQUIRE(p.triggers.size() == 2);
    CHECK(p.triggers[0].feed == "/whisk.system/alarms/alarm");
    CHECK(AsMap(p.triggers[0].inputs) ==
          std::map<std::string, std::string>{{"cron", "\"0 2 * * *\""}});
    CHECK(AsMap(p.triggers[0].annotations) ==
          std::map<std::string, std::string>{{"purpose", "\"refresh\""}});
    CHECK(p.triggers[1].feed.empty());
    REQUIRE(p.rules.size() == 1);
    CHECK(p.rules[0].trigger == "nightly");
    CHECK(p.rules[0].action == "getBooks");

    REQUIRE(p.apis.size() == 2);
    CHECK(p.apis[0].api_name == "book-club");
    CHECK(p.apis[0].base_path == "/club");
    CHECK(p.apis[0].rel_path == "/books/{isbn}");
    CHECK(p.apis[0].method == "GET");
    CHECK(p.apis[0].response == "http");  // path parameters need http
    CHECK(p.apis[1].rel_path == "/books");
    CHECK(p.apis[1].action == "listAll");
    CHECK(p.apis[1].response.empty());

    CHECK(m.packages[1].IsDefault());
    CHECK(m.packages[1].actions[0].name == "top");
}

TEST_CASE("manifest: root packages, defaults, warnings, api targets made web", "[manifest]") {
    ProjectDir dir;
    const Manifest m = Parse(R"(packages:
  p:
    actions:
      a: {function: src/hello.py}
    apis:
      api: {base: {/x: {a: {method: GET}}}}
)",
                             dir);
    CHECK(m.project_name.empty());
    REQUIRE(m.packages.size() == 1);
    CHECK(m.packages[0].version == "0.0.1");
    CHECK(m.packages[0].license == "unlicensed");
    CHECK_FALSE(m.packages[0].is_public);
    CHECK(m.packages[0].actions[0].web == "true");
    CHECK(m.warnings.size() == 3);
}

TEST_CASE("manifest: parameters, single-line and multi-line", "[manifest]") {
    ProjectDir dir;
    Env env;
    env.vars["PORT"] = "8080";
    env.vars["NAME"] = "wisp";
    const Manifest m = Parse(R"(packages:
  p:
    inputs:
      s: hello
      quoted: "42"
      i: 42
      f: 1.5
      b: yes
      n: ~
      list: [1, two]
      map: {k: v, nested: {x: "${NAME}"}}
      zs: string
      zi: integer
      zf: float
      zb: boolean
      zj: json
      m1: {type: integer, value: $PORT}
      m2: {type: string, default: fallback, description: used when value is empty}
      m3: {type: json, value: '{"a": [1]}'}
      m4: {type: boolean, value: false, required: true}
      m5: {value: plain}
      m6: {type: float, value: 2}
    actions:
      a: {function: src/hello.py}
)",
                             dir, env);
    const auto in = AsMap(m.packages[0].inputs);
    CHECK(in.at("s") == "\"hello\"");
    CHECK(in.at("quoted") == "\"42\"");
    CHECK(in.at("i") == "42");
    CHECK(in.at("f") == "1.5");
    CHECK(in.at("b") == "true");
    CHECK(in.at("n") == "null");
    CHECK(in.at("list") == "[1,\"two\"]");
    CHECK(in.at("map") == "{\"k\":\"v\",\"nested\":{\"x\":\"wisp\"}}");
    CHECK(in.at("zs") == "\"\"");
    CHECK(in.at("zi") == "0");
    CHECK(in.at("zf") == "0.0");
    CHECK(in.at("zb") == "false");
    CHECK(in.at("zj") == "{}");
    CHECK(in.at("m1") == "8080");
    CHECK(in.at("m2") == "\"fallback\"");
    CHECK(in.at("m3") == "{\"a\":[1]}");
    CHECK(in.at("m4") == "false");
    CHECK(in.at("m5") == "\"plain\"");
    CHECK(in.at("m6") == "2.0");
    // Lines and paths are kept for each parameter.
    CHECK(m.packages[0].inputs[0].where.line == 4);
    CHECK(m.packages[0].inputs[0].where.path == "packages.p.inputs.s");
}

TEST_CASE("manifest: errors name the file, the line and the field", "[manifest]") {
    ProjectDir dir;
    const std::string head = "packages:\n  club:\n    actions:\n      getBooks:\n";
    CHECK(ParseError(head + "        function: src/hello.py\n        limits:\n"
                            "          timeout: soon\n",
                     dir) ==
          "manifest.yaml:7: packages.club.actions.getBooks.limits.timeout: must be an integer");
    CHECK(ParseError(head + "        function: src/hello.py\n        colour: red\n", dir) ==
          "manifest.yaml:6: packages.club.actions.getBooks.colour: unknown field (expected one "
          "of: function, location, code, runtime, main, docker, native, web, web-export, "
          "annotations, limits, inputs, outputs, conductor, version, namespace, credential, "
          "include, exclude, description)");
    CHECK(ParseError(head + "        function: src/missing.py\n", dir) ==
          "manifest.yaml:5: packages.club.actions.getBooks.function: file '" +
              (dir.path / "src" / "missing.py").string() + "' does not exist");
    CHECK(ParseError(head + "        function: src\n", dir) ==
          "manifest.yaml:5: packages.club.actions.getBooks.function: directories are not "
          "supported yet (give one file)");
    CHECK(ParseError(head + "        code: x\n", dir) ==
          "manifest.yaml:5: packages.club.actions.getBooks.runtime: code needs a runtime");
    CHECK(ParseError(head + "        function: src/hello.py\n        web: maybe\n", dir) ==
          "manifest.yaml:6: packages.club.actions.getBooks.web: must be true, yes, raw, false "
          "or no");
    CHECK(ParseError(head + "        function: src/hello.py\n        function: src/books.js\n",
                     dir) ==
          "manifest.yaml:6: packages.club.actions.getBooks.function: "
          "duplicate key");
    CHECK(ParseError(head + "        function: src/hello.py\n"
                            "        annotations: {require-whisk-auth: \"\"}\n",
                     dir) ==
          "manifest.yaml:6: packages.club.actions.getBooks.annotations.require-whisk-auth: must "
          "be a non-empty string, an integer between 1 and 2^53-1 or a boolean");
    CHECK(ParseError("packages:\n  p:\n    public: maybe\n", dir) ==
          "manifest.yaml:3: packages.p.public: must be true or false");
    CHECK(ParseError("packages:\n  p:\n    actions: [a, b]\n", dir) ==
          "manifest.yaml:3: packages.p.actions: must be a mapping");
    CHECK(ParseError("package:\n  p: {}\n", dir) ==
          "manifest.yaml:1: package: unknown field (expected one of: project, packages)");
    CHECK(ParseError("packages:\n  p:\n    inputs:\n      n: {type: integer, value: many}\n",
                     dir) == "manifest.yaml:4: packages.p.inputs.n.value: must be an integer");
    CHECK(ParseError("packages:\n  p:\n    inputs:\n      n: {type: number}\n", dir) ==
          "manifest.yaml:4: packages.p.inputs.n.type: must be one of string, integer, float, "
          "boolean, json");
    CHECK(ParseError("packages:\n  p:\n    inputs:\n      n: {type: string, required: true}\n",
                     dir) ==
          "manifest.yaml:4: packages.p.inputs.n: a required input has no value, even after "
          "applying interpolation using env. variables");
    CHECK(ParseError("packages:\n  p:\n    triggers:\n      t: {feed: a, colour: red}\n", dir) ==
          "manifest.yaml:4: packages.p.triggers.t.colour: unknown field (expected one of: feed, "
          "source, inputs, annotations, namespace, credential)");
    CHECK(ParseError("packages:\n  p:\n    rules:\n      r: {trigger: t}\n", dir) ==
          "manifest.yaml:4: packages.p.rules.r.action: a rule needs an action");
    CHECK(ParseError("packages:\n  p:\n    sequences:\n      s: {actions: \"a,,b\"}\n", dir) ==
          "manifest.yaml:4: packages.p.sequences.s.actions: an empty action name in the list");
    CHECK(ParseError("packages:\n  p:\n    actions:\n      a: {function: src/hello.py}\n"
                     "    apis:\n      x: {b: {/r: {a: {method: FETCH}}}}\n",
                     dir) ==
          "manifest.yaml:6: packages.p.apis.x.b./r.a.method: must be one of GET, PUT, POST, "
          "DELETE, PATCH, HEAD, OPTIONS");
    CHECK(ParseError("packages:\n  p:\n    actions:\n      a: {function: src/hello.py}\n"
                     "    apis:\n      x: {\"b/c\": {/r: {a: {method: GET}}}}\n",
                     dir)
              .find("manifest.yaml:6: packages.p.apis.x.b/c: API Gateway base path [b/c] is "
                    "invalid") == 0);
    CHECK(ParseError("packages:\n  p:\n    apis:\n      x: {b: {/r: {gone: {method: GET}}}}\n",
                     dir) ==
          "manifest.yaml:4: packages.p.apis.x.b./r.gone: Action/Sequence [gone] is missing from "
          "manifest file, API [x] can only be created based on the action/sequence from "
          "manifest file.");
    CHECK(ParseError("packages:\n  p:\n    actions:\n      a: {function: src/x.unknown}\n", dir)
              .find("does not exist") != std::string::npos);
    CHECK(ParseError("packages:\n  p: {actions: {a: {function: src/hello.py}}\n", dir)
              .rfind("manifest.yaml:3: not valid YAML: ", 0) == 0);
    CHECK(ParseError("", dir) == "manifest.yaml:1: the manifest is empty");
    CHECK(ParseError("project:\n  name: x\n  config: swagger.json\n", dir) ==
          "manifest.yaml:3: project.config: swagger files are not supported yet; use "
          "packages.<p>.apis");
    CHECK(ParseError("packages:\n  p:\n    dependencies:\n      d: {location: /whisk.system/x}\n",
                     dir) ==
          "manifest.yaml:3: packages.p.dependencies: dependencies are not "
          "supported yet");
}

TEST_CASE("manifest: $ENV interpolation", "[manifest]") {
    Env env;
    env.vars["A"] = "alpha";
    env.vars["B_2"] = "beta";
    const Getenv g = env.fn();
    CHECK(InterpolateEnv("$A", g) == "alpha");
    CHECK(InterpolateEnv("$UNSET", g) == "");
    CHECK(InterpolateEnv("x-${A}-${B_2}", g) == "x-alpha-beta");
    CHECK(InterpolateEnv("${UNSET}z", g) == "z");
    CHECK(InterpolateEnv("$${A}", g) == "${A}");
    CHECK(InterpolateEnv("cost $5", g) == "cost $5");
    CHECK(InterpolateEnv("plain", g) == "plain");

    ProjectDir dir;
    env.vars["PKG"] = "shop";
    env.vars["FEED"] = "/whisk.system/alarms/alarm";
    env.vars["FILE"] = "hello.py";
    env.vars["TRIG"] = "tick";
    const Manifest m = Parse(R"(project:
  name: ${PKG}-project
  packages:
    $PKG:
      version: ${B_2}
      actions:
        $A:
          function: src/${FILE}
          annotations: {who: $A, literal: "$${A}"}
      sequences:
        seq-$A: {actions: "$A"}
      triggers:
        $TRIG: {feed: $FEED, inputs: {when: "at ${A}"}}
      rules:
        r-${A}: {trigger: $TRIG, action: $A}
)",
                             dir, env);
    CHECK(m.project_name == "shop-project");
    const Package& p = m.packages[0];
    CHECK(p.name == "shop");
    CHECK(p.version == "beta");
    CHECK(p.actions[0].name == "$A");  // action names are not interpolated
    CHECK(p.actions[0].function == (dir.path / "src" / "hello.py").string());
    CHECK(AsMap(p.actions[0].annotations) ==
          std::map<std::string, std::string>{{"who", "\"alpha\""}, {"literal", "\"${A}\""}});
    CHECK(p.sequences[0].name == "seq-$A");  // only "$NAME" as the whole value
    CHECK(p.sequences[0].actions == std::vector<std::string>{"alpha"});
    CHECK(p.triggers[0].name == "tick");
    CHECK(p.triggers[0].feed == "/whisk.system/alarms/alarm");
    CHECK(AsMap(p.triggers[0].inputs) ==
          std::map<std::string, std::string>{{"when", "\"at alpha\""}});
    CHECK(p.rules[0].name == "r-alpha");
    CHECK(p.rules[0].trigger == "tick");
    CHECK(p.rules[0].action == "alpha");

    // "$NAME" names and references take a package input of that name first; an empty input
    // takes the environment variable of its name.
    env.vars["SINK"] = "from-env";
    const Manifest byInput = Parse(R"(packages:
  p:
    inputs: {TRIG: nightly, SINK: "", A: from-input}
    actions:
      alpha: {function: src/hello.py}
    triggers:
      $TRIG: {}
    rules:
      $A: {trigger: $TRIG, action: alpha}
)",
                                   dir, env);
    const Package& q = byInput.packages[0];
    CHECK(AsMap(q.inputs).at("SINK") == "\"from-env\"");
    CHECK(q.triggers[0].name == "nightly");
    CHECK(q.rules[0].name == "from-input");
    CHECK(q.rules[0].trigger == "nightly");
}

TEST_CASE("deployment.yaml overrides inputs and annotations", "[manifest]") {
    ProjectDir dir;
    Env env;
    env.vars["TOKEN"] = "t0k";
    Manifest m = Parse(R"(project:
  name: bookclub
  packages:
    club:
      inputs: {dbUrl: "http://old", keep: 1}
      actions:
        a: {function: src/hello.py, inputs: {x: 1}}
      triggers:
        t: {inputs: {cron: "* * * * *"}}
)",
                       dir, env);
    auto st = ApplyDeployment(m, R"(project:
  name: bookclub
  packages:
    club:
      inputs: {dbUrl: "https://db.x", token: $TOKEN}
      actions:
        a: {inputs: {x: 2}, annotations: {note: deployed}}
        ghost: {inputs: {y: 1}}
      triggers:
        t: {inputs: {cron: "0 * * * *"}}
)",
                              "deployment.yaml", env.fn());
    INFO((st ? st->message : std::string()));
    REQUIRE_FALSE(st);
    const Package& p = m.packages[0];
    CHECK(AsMap(p.inputs) == std::map<std::string, std::string>{{"dbUrl", "\"https://db.x\""},
                                                                {"keep", "1"},
                                                                {"token", "\"t0k\""}});
    CHECK(p.inputs[0].key == "dbUrl");  // the manifest's order is kept
    CHECK(AsMap(p.actions[0].inputs) == std::map<std::string, std::string>{{"x", "2"}});
    CHECK(AsMap(p.actions[0].annotations) ==
          std::map<std::string, std::string>{{"note", "\"deployed\""}});
    CHECK(AsMap(p.triggers[0].inputs) ==
          std::map<std::string, std::string>{{"cron", "\"0 * * * *\""}});
    CHECK(m.warnings.size() == 3);  // version, license, the ghost action

    auto bad = ApplyDeployment(m, "project:\n  name: other\n", "deployment.yaml", env.fn());
    REQUIRE(bad);
    CHECK(bad->message ==
          "deployment.yaml:2: project.name: the project name [other] differs "
          "from the manifest's [bookclub]");
    bad = ApplyDeployment(m, "packages:\n  club:\n    actions:\n      a: {limits: {}}\n",
                          "deployment.yaml", env.fn());
    REQUIRE(bad);
    CHECK(bad->message.rfind("deployment.yaml:4: packages.club.actions.a.limits: unknown field",
                             0) == 0);
    // A deployment can name the project of a manifest without one.
    Manifest unnamed =
        Parse("packages:\n  p:\n    actions:\n      a: {function: src/hello.py}\n", dir);
    REQUIRE_FALSE(ApplyDeployment(unnamed, "project: {name: given}\n", "deployment.yaml", {}));
    CHECK(unnamed.project_name == "given");
}

TEST_CASE("the project hash is wskdeploy's SHA-1 of the manifest", "[manifest]") {
    // python3: sha1(b"OpenWhisk" + chr(len(c)).encode() + b"golang\0" + c)
    CHECK(ProjectHash("packages:\n  p:\n    actions: {}\n") ==
          "d7984f4c498a8e05d8b1d3bf0fcecd4fc2c20bbe");
    CHECK(ProjectHash(std::string(200, 'x')) == "f8f0b19c8b2d0e560d12e21e2bba2f48a76384a1");
    CHECK(ProjectHash("a") != ProjectHash("b"));
    CHECK(ProjectHash("a").size() == 40);
}
