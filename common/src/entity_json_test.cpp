#include <wisp/common/entity_json.hpp>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/bounded_json.hpp>

using namespace wisp::common;

namespace {

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

FullyQualifiedName Fqn(const char* ref) { return FullyQualifiedName::Parse(ref, "guest").value(); }

PutContext Ctx() {
    PutContext ctx;
    ctx.caller_namespace = "guest";
    return ctx;
}

rapidjson::Document Doc(const std::string& json) {
    rapidjson::Document d;
    REQUIRE(wisp::json::ParseBounded(json, d).empty());
    return d;
}

[[nodiscard]] absl::StatusOr<Action> CreateAction(const std::string& body,
                                                  const char* name = "/guest/hello") {
    auto put = ParseActionPut(body, Ctx());
    if (!put.ok()) return put.status();
    return ApplyActionPut(Fqn(name), *put, nullptr, Ctx());
}

}  // namespace

// ---- actions
// -------------------------------------------------------------------------------------

TEST_CASE("action document round trip with the wire shape", "[entity_json]") {
    const std::string json =
        R"({"namespace":"guest/pkg","name":"hello","exec":{"kind":"nodejs:18","code":"function main(p){return p}","binary":false,"main":"main"},)"
        R"("parameters":[{"key":"name","value":"John"},{"key":"secret","value":{"a":[1,2]},"init":true}],)"
        R"("limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"version":"0.0.3","publish":true,)"
        R"("annotations":[{"key":"exec","value":"nodejs:18"}],"updated":1700000000000})";
    auto a = ActionFromJson(json);
    REQUIRE(a.ok());
    CHECK(a->namespace_path.ToString() == "guest/pkg");
    CHECK(a->name == "hello");
    CHECK(a->version == SemVer{0, 0, 3});
    CHECK(a->publish);
    CHECK(a->updated_ms == 1700000000000);
    auto& code = std::get<CodeExec>(a->exec);
    CHECK(code.kind == "nodejs:18");
    CHECK(code.main == "main");
    CHECK(a->parameters.Find("secret")->init);
    CHECK(ActionToJson(*a) == json);
    CHECK(ActionFromJson(ActionToJson(*a)).value() == *a);
}

TEST_CASE("stored documents with CouchDB members parse", "[entity_json]") {
    auto a = ActionFromJson(
        R"({"_id":"guest/hello","_rev":"1-abc","entityType":"action","namespace":"guest","name":"hello",)"
        R"("exec":{"kind":"python:3.11","code":"x","binary":false},"parameters":[],"limits":{},)"
        R"("version":"0.0.1","publish":false,"annotations":[],"updated":5})");
    REQUIRE(a.ok());
    CHECK(a->limits == ActionLimits{});
    CHECK(a->Fqn().DocId() == "guest/hello");
}

TEST_CASE("?code=false omits the code but keeps binary", "[entity_json]") {
    auto a = CreateAction(R"({"exec":{"kind":"python:3.11","code":"UEsDBBQAAAAIAA=="}})");
    REQUIRE(a.ok());
    auto d = Doc(ActionToJson(*a, {.include_code = false}));
    CHECK_FALSE(d["exec"].HasMember("code"));
    CHECK(d["exec"]["binary"].GetBool());
    CHECK(d["exec"]["kind"].GetString() == std::string("python:3.11"));
}

TEST_CASE("blackbox and sequence exec shapes", "[entity_json]") {
    auto bb = CreateAction(
        R"({"exec":{"kind":"blackbox","image":"openwhisk/dockerskeleton","code":"#!/bin/bash\necho hi"}})");
    REQUIRE(bb.ok());
    auto d = Doc(ActionToJson(*bb));
    CHECK(d["exec"]["kind"].GetString() == std::string("blackbox"));
    CHECK(d["exec"]["image"].GetString() == std::string("openwhisk/dockerskeleton"));
    CHECK(d["exec"]["binary"].IsFalse());
    CHECK(d["exec"]["code"].GetString() == std::string("#!/bin/bash\necho hi"));
    CHECK_FALSE(d["exec"].HasMember("main"));
    CHECK(ActionFromJson(ActionToJson(*bb)).value() == *bb);

    auto no_code = CreateAction(R"({"exec":{"kind":"blackbox","image":"u/img:tag","code":"  "}})");
    REQUIRE(no_code.ok());
    CHECK_FALSE(std::get<BlackboxExec>(no_code->exec).code.has_value());
    CHECK_FALSE(Doc(ActionToJson(*no_code))["exec"].HasMember("code"));

    auto seq = CreateAction(
        R"({"exec":{"kind":"sequence","components":["/_/a","/guest/pkg/b","/other/c"]},)"
        R"("parameters":[{"key":"ignored","value":1}]})",
        "/guest/seq");
    REQUIRE(seq.ok());
    auto s = Doc(ActionToJson(*seq));
    CHECK(ToCompactJson(s["exec"]) ==
          R"({"kind":"sequence","components":["/guest/a","/guest/pkg/b","/other/c"]})");
    CHECK(ToCompactJson(s["parameters"]) ==
          R"([{"key":"_actions","value":["/guest/a","/guest/pkg/b","/other/c"]}])");
    CHECK(seq->annotations.Get("exec")->AsString() == "sequence");
    CHECK(ActionFromJson(ActionToJson(*seq)).value() == *seq);
}

TEST_CASE("action create: defaults, kind aliases, binary, annotations", "[entity_json]") {
    auto a = CreateAction(
        R"({"exec":{"kind":"python:default","code":"def main(a):\n  return a"},"annotations":[{"key":"web-export","value":true}]})");
    REQUIRE(a.ok());
    const auto& code = std::get<CodeExec>(a->exec);
    CHECK(code.kind == "python:3.11");
    CHECK_FALSE(code.binary);
    CHECK(a->version == SemVer{0, 0, 1});
    CHECK_FALSE(a->publish);
    CHECK(a->limits == ActionLimits{});
    CHECK(a->annotations.Get("exec")->AsString() == "python:3.11");
    CHECK(a->annotations.Get("provide-api-key")->text() == "false");
    CHECK(a->annotations.Get("web-export")->text() == "true");
    CHECK(a->namespace_path.ToString() == "guest");

    auto keep = CreateAction(
        R"({"exec":{"kind":"nodejs:default","code":"UEsDBBQAAAAIAA=="},"annotations":[{"key":"provide-api-key","value":true}]})");
    REQUIRE(keep.ok());
    CHECK(std::get<CodeExec>(keep->exec).kind == "nodejs:18");
    CHECK(std::get<CodeExec>(keep->exec).binary);
    CHECK(keep->annotations.Get("provide-api-key")->text() == "true");

    auto upper = CreateAction(R"({"exec":{"kind":" Python:3.11 ","code":"x"}})");
    REQUIRE(upper.ok());
    CHECK(std::get<CodeExec>(upper->exec).kind == "python:3.11");
}

TEST_CASE("action create without exec: exec undefined", "[entity_json]") {
    auto a = CreateAction(R"({"parameters":[]})");
    CHECK(a.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Msg(a.status()) == "exec undefined");
}

TEST_CASE("action update keeps absent fields and bumps the patch", "[entity_json]") {
    auto original = CreateAction(
        R"({"exec":{"kind":"python:3.11","code":"v1"},"parameters":[{"key":"p","value":1}],)"
        R"("limits":{"memory":512},"annotations":[{"key":"a","value":1},{"key":"b","value":2}],"publish":true})");
    REQUIRE(original.ok());

    auto put = ParseActionPut(R"({"limits":{"timeout":1000},"annotations":[{"key":"c","value":3}],)"
                              R"("delAnnotations":["a","provide-api-key"]})",
                              Ctx());
    REQUIRE(put.ok());
    auto updated = ApplyActionPut(Fqn("/guest/hello"), *put, &*original, Ctx());
    REQUIRE(updated.ok());
    CHECK(updated->version == SemVer{0, 0, 2});
    CHECK(updated->publish);
    CHECK(updated->exec == original->exec);
    CHECK(updated->parameters == original->parameters);
    CHECK(updated->limits.memory_mb == 512);
    CHECK(updated->limits.timeout_ms == 1000);
    CHECK(updated->annotations.Get("a") == nullptr);
    CHECK(updated->annotations.Get("provide-api-key") == nullptr);
    CHECK(updated->annotations.Get("b")->text() == "2");
    CHECK(updated->annotations.Get("c")->text() == "3");
    CHECK(updated->annotations.Get("exec")->AsString() == "python:3.11");

    auto put2 =
        ParseActionPut(R"({"exec":{"kind":"nodejs:18","code":"v2"},"version":"1.0.0"})", Ctx());
    REQUIRE(put2.ok());
    auto updated2 = ApplyActionPut(Fqn("/guest/hello"), *put2, &*updated, Ctx());
    REQUIRE(updated2.ok());
    CHECK(updated2->version == SemVer{1, 0, 0});
    CHECK(updated2->annotations.Get("exec")->AsString() == "nodejs:18");
    CHECK(updated2->parameters == original->parameters);
    CHECK(updated2->annotations.Get("provide-api-key") == nullptr);  // only added on create
}

TEST_CASE("updating a sequence ignores given parameters; leaving one drops _actions",
          "[entity_json]") {
    auto seq =
        CreateAction(R"({"exec":{"kind":"sequence","components":["/guest/a"]}})", "/guest/s");
    REQUIRE(seq.ok());
    auto params_only = ParseActionPut(R"({"parameters":[{"key":"x","value":1}]})", Ctx()).value();
    auto same = ApplyActionPut(Fqn("/guest/s"), params_only, &*seq, Ctx()).value();
    CHECK(same.parameters == seq->parameters);

    auto to_code = ParseActionPut(R"({"exec":{"kind":"python:3.11","code":"x"}})", Ctx()).value();
    auto code = ApplyActionPut(Fqn("/guest/s"), to_code, &*seq, Ctx()).value();
    CHECK(code.parameters.empty());
}

TEST_CASE("sequence component rules", "[entity_json]") {
    auto empty = ParseActionPut(R"({"exec":{"kind":"sequence","components":[]}})", Ctx());
    CHECK(empty.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Msg(empty.status()) == "No component specified for the sequence.");

    std::string fifty = R"({"exec":{"kind":"sequence","components":[)";
    for (int i = 0; i < 50; ++i)
        fifty += (i ? ",\"/guest/a" : "\"/guest/a") + std::to_string(i) + "\"";
    CHECK(ParseActionPut(fifty + "]}}", Ctx()).ok());
    std::string fifty_one = fifty + ",\"/guest/last\"]}}";
    auto too_long = ParseActionPut(fifty_one, Ctx());
    CHECK(too_long.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Msg(too_long.status()) == "Too many actions in the sequence.");

    auto self = CreateAction(R"({"exec":{"kind":"sequence","components":["/_/a","/_/seq"]}})",
                             "/guest/seq");
    CHECK(Msg(self.status()) == "Sequence may not refer to itself.");

    auto bad_name =
        ParseActionPut(R"({"exec":{"kind":"sequence","components":["/guest/b$d"]}})", Ctx());
    CHECK(bad_name.status().code() == absl::StatusCode::kInvalidArgument);
    auto one_segment = ParseActionPut(R"({"exec":{"kind":"sequence","components":["a"]}})", Ctx());
    CHECK(Msg(one_segment.status()) ==
          "The request content was malformed:\nThe fully qualified name of the entity must "
          "contain at least the namespace and the name of the entity.");
    CHECK(Msg(ParseActionPut(R"({"exec":{"kind":"sequence"}})", Ctx()).status()) ==
          "The request content was malformed:\n'components' must be defined for sequence kind");
    CHECK(Msg(ParseActionPut(R"({"exec":{"kind":"sequence","components":"x"}})", Ctx()).status()) ==
          "The request content was malformed:\n'components' must be an array");
}

TEST_CASE("action PUT errors carry OpenWhisk's texts", "[entity_json]") {
    auto err = [](const std::string& body) { return Msg(ParseActionPut(body, Ctx()).status()); };
    const std::string m = "The request content was malformed:\n";
    CHECK(err("{").rfind(m, 0) == 0);
    CHECK(err("[]") == m + "Object expected in field 'exec'");
    CHECK(err(R"({"exec":5})") == m + "JSON object expected");
    CHECK(err(R"({"exec":{}})") == m + "'kind' must be a string defined in 'exec'");
    CHECK(err(R"({"exec":{"kind":"java:8","code":"x"}})") ==
          m + "The specified runtime 'java:8' is not supported by this platform. Valid values "
              "are: 'blackbox', 'nodejs:18', 'nodejs:default', 'python:3', 'python:3.11', "
              "'python:default', 'sequence'.");
    CHECK(err(R"({"exec":{"kind":"python:3.11"}})") ==
          m + "'code' must be a string defined in 'exec' for 'python:3.11' actions");
    CHECK(err(R"({"exec":{"kind":"python:3.11","code":"x","main":1}})") ==
          m + "if defined, 'main' be a string in 'exec' for 'python:3.11' actions");
    CHECK(err(R"({"exec":{"kind":"blackbox"}})") ==
          m + "'image' must be a string defined in 'exec' for 'blackbox' actions");
    CHECK(err(R"({"exec":{"kind":"blackbox","image":"x/../y?z#w"}})") ==
          m + "'x/../y?z#w' is not a valid container image reference: each path component must "
              "be lowercase letters and digits, separated by '.', '_', '__' or '-'");
    CHECK(err(R"({"exec":{"kind":"blackbox","image":"Me/Img"}})").rfind(m + "'Me/Img' is not", 0) ==
          0);
    CHECK(err(R"({"publish":"yes"})") == m + "Expected JsBoolean, but got \"yes\"");
    CHECK(err(R"({"version":"x.y"})") == m + "semantic version malformed");
    CHECK(err(R"({"parameters":{"a":1}})") == m + "parameters malformed!");
    CHECK(err(R"({"parameters":[{"key":"a"}]})") == m + "parameters malformed!");
    CHECK(err(R"({"annotations":[1]})") == m + "invalid parameter");
    CHECK(err(R"({"limits":{"memory":"big"}})") == m + "memory limit malformed");
    CHECK(err(R"({"limits":{"timeout":1.5}})") == m + "time limit must be whole number");
    CHECK(err(R"({"limits":{"logs":true}})") == m + "log limit malformed");
    CHECK(err(R"({"delAnnotations":"a"})") == m + "Expected Array as JsArray, but got \"a\"");
    CHECK(err(R"({"delAnnotations":[1]})") == m + "Expected String as JsString, but got 1");
    for (const char* body : {"{", "[]", R"({"exec":5})", R"({"publish":"yes"})"}) {
        CHECK(ParseActionPut(body, Ctx()).status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("action PUT limit ranges", "[entity_json]") {
    auto err = [](const std::string& limits) {
        return Msg(ParseActionPut(R"({"limits":)" + limits + "}", Ctx()).status());
    };
    CHECK(err(R"({"memory":1024})") == "memory size 1024 MB exceeds allowed threshold of 512 MB");
    CHECK(err(R"({"memory":127})") == "memory size 127 MB below allowed threshold of 128 MB");
    CHECK(err(R"({"timeout":50})") ==
          "duration 50 milliseconds below allowed threshold of 100 milliseconds");
    CHECK(err(R"({"timeout":300001})") ==
          "duration 300001 milliseconds exceeds allowed threshold of 300000 milliseconds");
    CHECK(err(R"({"logs":11})") == "log size 11 MB exceeds allowed threshold of 10 MB");
    CHECK(err(R"({"concurrency":2})") == "concurrency 2 exceeds allowed threshold of 1");
    CHECK(err(R"({"concurrency":0})") == "concurrency 0 below allowed threshold of 1");
    CHECK(
        ParseActionPut(R"({"limits":{"memory":128,"timeout":100,"logs":0,"concurrency":1}})", Ctx())
            .ok());
    CHECK(ParseActionPut(R"({"limits":{"memory":512,"timeout":300000,"logs":10}})", Ctx()).ok());
    CHECK(ParseActionPut(R"({"limits":{}})", Ctx()).ok());
    CHECK(ParseActionPut(R"({"limits":{"memory":1024}})", Ctx()).status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK(err(R"({"instances":31})") ==
          "Max action instance concurrency must not exceed your namespace concurrency of 30.");

    PutContext wide = Ctx();
    wide.bounds.max_memory_mb = 2048;
    CHECK(ParseActionPut(R"({"limits":{"memory":1024}})", wide).ok());
}

TEST_CASE("action PUT size limits answer 413", "[entity_json]") {
    PutContext ctx = Ctx();
    ctx.system_limits.max_code_bytes = 10;
    ctx.system_limits.max_parameter_bytes = 8;
    auto exec = ParseActionPut(R"({"exec":{"kind":"python:3.11","code":"0123456789A"}})", ctx);
    CHECK(exec.status().code() == absl::StatusCode::kOutOfRange);
    CHECK(Msg(exec.status()) == "exec larger than allowed: 11 > 10 bytes.");
    auto params = ParseActionPut(R"({"parameters":[{"key":"abcd","value":"12345"}]})", ctx);
    CHECK(params.status().code() == absl::StatusCode::kOutOfRange);
    CHECK(Msg(params.status()) == "parameters larger than allowed: 11 > 8 bytes.");
    auto ann = ParseActionPut(R"({"annotations":[{"key":"abcd","value":"12345"}]})", ctx);
    CHECK(Msg(ann.status()) == "annotations larger than allowed: 11 > 8 bytes.");
    CHECK(ParseActionPut(R"({"parameters":[{"key":"abc","value":"12"}]})", ctx).ok());

    std::string big(1048577, 'x');
    auto real =
        ParseActionPut(R"({"parameters":[{"key":"","value":")" + big.substr(2) + "\"}]}", Ctx());
    CHECK(Msg(real.status()) == "parameters larger than allowed: 1048577 > 1048576 bytes.");
}

TEST_CASE("deprecated kinds are refused", "[entity_json]") {
    auto manifest = RuntimeManifest::FromJson(
        R"({"runtimes":{"python":[{"kind":"python:2","deprecated":true,"image":"p2"}]}})");
    REQUIRE(manifest.ok());
    PutContext ctx = Ctx();
    ctx.manifest = &*manifest;
    auto put = ParseActionPut(R"({"exec":{"kind":"python:2","code":"x"}})", ctx);
    REQUIRE(put.ok());
    auto a = ApplyActionPut(Fqn("/guest/x"), *put, nullptr, ctx);
    CHECK(Msg(a.status()) ==
          "The 'python:2' runtime is no longer supported. You may read and delete but not update "
          "or invoke this action.");
}

TEST_CASE("java-like kinds require main", "[entity_json]") {
    auto manifest = RuntimeManifest::FromJson(
        R"({"runtimes":{"java":[{"kind":"java:8","default":true,"requireMain":true,"image":"j"}]}})");
    REQUIRE(manifest.ok());
    PutContext ctx = Ctx();
    ctx.manifest = &*manifest;
    CHECK(Msg(ParseActionPut(R"({"exec":{"kind":"java:default","code":"x"}})", ctx).status()) ==
          "The request content was malformed:\n'main' must be a string defined in 'exec' for "
          "'java:8' actions");
    CHECK(ParseActionPut(R"({"exec":{"kind":"java:8","code":"x","main":"Hello"}})", ctx).ok());
}

// ---- triggers
// ------------------------------------------------------------------------------------

TEST_CASE("trigger JSON: limits {} and rules only when linked", "[entity_json]") {
    auto put = ParseTriggerPut(R"({"parameters":[{"key":"k","value":"v"}],"publish":true})", Ctx());
    REQUIRE(put.ok());
    auto t = ApplyTriggerPut(Fqn("/guest/t"), *put, nullptr, Ctx());
    REQUIRE(t.ok());
    CHECK(TriggerToJson(*t) ==
          R"({"namespace":"guest","name":"t","parameters":[{"key":"k","value":"v"}],"limits":{},)"
          R"("version":"0.0.1","publish":true,"annotations":[],"updated":0})");
    t->rules["guest/r"] = ReducedRule{Fqn("/guest/pkg/a"), RuleStatus::kActive};
    t->rules["guest/r2"] = ReducedRule{Fqn("/guest/b"), RuleStatus::kInactive};
    auto d = Doc(TriggerToJson(*t));
    CHECK(ToCompactJson(d["rules"]) ==
          R"({"guest/r":{"action":{"path":"guest/pkg","name":"a"},"status":"active"},)"
          R"("guest/r2":{"action":{"path":"guest","name":"b"},"status":"inactive"}})");
    CHECK(TriggerFromJson(TriggerToJson(*t)).value() == *t);
}

TEST_CASE("trigger update and feed validation", "[entity_json]") {
    Trigger existing =
        ApplyTriggerPut(Fqn("/guest/t"),
                        ParseTriggerPut(R"({"parameters":[{"key":"a","value":1}]})", Ctx()).value(),
                        nullptr, Ctx())
            .value();
    existing.rules["guest/r"] = ReducedRule{Fqn("/guest/a"), RuleStatus::kActive};
    auto put = ParseTriggerPut(R"({"annotations":[{"key":"x","value":1}]})", Ctx()).value();
    auto t = ApplyTriggerPut(Fqn("/guest/t"), put, &existing, Ctx()).value();
    CHECK(t.version == SemVer{0, 0, 2});
    CHECK(t.parameters == existing.parameters);
    CHECK(t.rules == existing.rules);
    CHECK(t.annotations.Get("x")->text() == "1");

    auto feed_ok =
        ParseTriggerPut(R"({"annotations":[{"key":"feed","value":"/whisk.system/alarms/alarm"}]})",
                        Ctx())
            .value();
    CHECK(ApplyTriggerPut(Fqn("/guest/t2"), feed_ok, nullptr, Ctx()).ok());
    auto feed_bad =
        ParseTriggerPut(R"({"annotations":[{"key":"feed","value":"/bad$feed"}]})", Ctx()).value();
    CHECK(Msg(ApplyTriggerPut(Fqn("/guest/t2"), feed_bad, nullptr, Ctx()).status()) ==
          "Feed name is not valid");
    CHECK(ParseTriggerPut(R"({"parameters":5})", Ctx()).status().code() ==
          absl::StatusCode::kInvalidArgument);
}

// ---- rules
// ----------------------------------------------------------------------------------------

TEST_CASE("rule PUT resolves _ and renders path/name objects", "[entity_json]") {
    auto put = ParseRulePut(R"({"trigger":"/_/t","action":"/_/pkg/a","name":"ignored"})", Ctx());
    REQUIRE(put.ok());
    auto r = ApplyRulePut(Fqn("/guest/r"), *put, nullptr, Ctx());
    REQUIRE(r.ok());
    CHECK(r->trigger.ToString() == "/guest/t");
    CHECK(r->action.ToString() == "/guest/pkg/a");
    CHECK(
        RuleToJson(*r) ==
        R"({"namespace":"guest","name":"r","trigger":{"path":"guest","name":"t"},)"
        R"("action":{"path":"guest/pkg","name":"a"},"version":"0.0.1","publish":false,"annotations":[],"updated":0})");
    CHECK(Doc(RuleToJson(*r, RuleStatus::kActive))["status"].GetString() == std::string("active"));
    CHECK(RuleFromJson(RuleToJson(*r, RuleStatus::kInactive)).value() == *r);
}

TEST_CASE("rule create needs trigger and action", "[entity_json]") {
    for (const char* body : {R"({})", R"({"trigger":"/_/t"})", R"({"action":"/_/a"})"}) {
        auto put = ParseRulePut(body, Ctx());
        REQUIRE(put.ok());
        auto r = ApplyRulePut(Fqn("/guest/r"), *put, nullptr, Ctx());
        CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(Msg(r.status()) == "rule requires a valid trigger and a valid action");
    }
    auto existing =
        ApplyRulePut(Fqn("/guest/r"),
                     ParseRulePut(R"({"trigger":"/_/t","action":"/_/a"})", Ctx()).value(), nullptr,
                     Ctx())
            .value();
    auto upd = ApplyRulePut(Fqn("/guest/r"), ParseRulePut(R"({"action":"/_/b"})", Ctx()).value(),
                            &existing, Ctx())
                   .value();
    CHECK(upd.trigger == existing.trigger);
    CHECK(upd.action.ToString() == "/guest/b");
    CHECK(upd.version == SemVer{0, 0, 2});
    auto st = ParseRulePut(R"({"status":"inactive"})", Ctx()).value();
    CHECK(st.status == RuleStatus::kInactive);
    CHECK_FALSE(ParseRulePut(R"({"status":"sleeping"})", Ctx()).ok());
    CHECK_FALSE(ParseRulePut(R"({"trigger":5})", Ctx()).ok());
    CHECK_FALSE(ParseRulePut(R"({"trigger":"t"})", Ctx()).ok());
}

// ---- packages
// -------------------------------------------------------------------------------------

TEST_CASE("package JSON: binding {} or {namespace,name}", "[entity_json]") {
    auto plain = ApplyPackagePut(
        Fqn("/guest/utils"), ParsePackagePut(R"({"binding":{}})", Ctx()).value(), nullptr, Ctx());
    REQUIRE(plain.ok());
    CHECK(PackageToJson(*plain) ==
          R"({"namespace":"guest","name":"utils","binding":{},"parameters":[],"version":"0.0.1",)"
          R"("publish":false,"annotations":[],"updated":0})");
    CHECK(PackageFromJson(PackageToJson(*plain)).value() == *plain);

    auto bound = ApplyPackagePut(
        Fqn("/guest/mine"),
        ParsePackagePut(
            R"({"binding":{"namespace":"whisk.system","name":"utils"},"annotations":[{"key":"binding","value":"forged"}]})",
            Ctx())
            .value(),
        nullptr, Ctx());
    REQUIRE(bound.ok());
    REQUIRE(bound->binding.has_value());
    CHECK(bound->binding->Fqn().ToString() == "/whisk.system/utils");
    auto d = Doc(PackageToJson(*bound));
    CHECK(ToCompactJson(d["binding"]) == R"({"namespace":"whisk.system","name":"utils"})");
    CHECK(bound->annotations.Get("binding")->text() ==
          R"({"namespace":"whisk.system","name":"utils"})");
    CHECK(bound->annotations.size() == 1);
    CHECK(PackageFromJson(PackageToJson(*bound)).value() == *bound);

    auto own = ParsePackagePut(R"({"binding":{"namespace":"_","name":"p"}})", Ctx()).value();
    CHECK((*own.binding)->namespace_name == "guest");
}

TEST_CASE("package PUT rules", "[entity_json]") {
    auto put = ParsePackagePut("{}", Ctx()).value();
    CHECK(Msg(ApplyPackagePut(Fqn("/guest/default"), put, nullptr, Ctx()).status()) ==
          "Package name 'default' is reserved.");
    auto plain = ApplyPackagePut(Fqn("/guest/p"), put, nullptr, Ctx()).value();
    auto to_binding = ParsePackagePut(R"({"binding":{"namespace":"a","name":"b"}})", Ctx()).value();
    auto conflict = ApplyPackagePut(Fqn("/guest/p"), to_binding, &plain, Ctx());
    CHECK(conflict.status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(Msg(conflict.status()) ==
          "Resource is a package and cannot be converted into a binding.");

    auto binding = ApplyPackagePut(Fqn("/guest/b"), to_binding, nullptr, Ctx()).value();
    auto upd = ApplyPackagePut(Fqn("/guest/b"),
                               ParsePackagePut(R"({"publish":true,"binding":{}})", Ctx()).value(),
                               &binding, Ctx())
                   .value();
    CHECK(upd.binding == binding.binding);
    CHECK(upd.publish);
    CHECK(upd.version == SemVer{0, 0, 2});
    CHECK(upd.annotations.Get("binding") != nullptr);
    CHECK_FALSE(ParsePackagePut(R"({"binding":"x"})", Ctx()).ok());
    CHECK_FALSE(ParsePackagePut(R"({"binding":{"namespace":"a"}})", Ctx()).ok());
}

TEST_CASE("EntityToJson/EntityFromJson dispatch on the type", "[entity_json]") {
    auto a = CreateAction(R"({"exec":{"kind":"python:3.11","code":"x"}})").value();
    WhiskEntity e = a;
    auto back = EntityFromJson(EntityType::kAction, EntityToJson(e));
    REQUIRE(back.ok());
    CHECK(std::get<Action>(*back) == a);
    CHECK_FALSE(EntityFromJson(EntityType::kRule, EntityToJson(e)).ok());
    CHECK_FALSE(EntityFromJson(EntityType::kPackage, "{}").ok());
}

TEST_CASE("ParametersFromJson", "[entity_json]") {
    auto p = ParametersFromJson(
        R"([{"key":"a","value":1},{"key":"b","value":{"x":null},"init":true,"encryption":"aes"}])");
    REQUIRE(p.ok());
    CHECK(p->size() == 2);
    CHECK(p->Find("b")->init);
    CHECK(p->Find("b")->encryption->AsString() == "aes");
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    WriteParameters(w, *p);
    CHECK(
        std::string(buf.GetString()) ==
        R"([{"key":"a","value":1},{"key":"b","value":{"x":null},"init":true,"encryption":"aes"}])");
    CHECK_FALSE(ParametersFromJson("{}").ok());
    CHECK_FALSE(ParametersFromJson(R"([{"value":1}])").ok());
    CHECK_FALSE(ParametersFromJson(R"([{"key":1,"value":1}])").ok());
    CHECK_FALSE(ParametersFromJson(R"([{"key":"a","value":1,"init":"yes"}])").ok());
}

// ---- activations
// ----------------------------------------------------------------------------------

namespace {
const char* kWireActivation =
    R"({"namespace":"guest","name":"hello","subject":"guest","activationId":"c7bb1339cb4f40e3a6ccead6c99f804e",)"
    R"("start":1493327653767,"end":1493327653769,"duration":2,"cause":"0123456789abcdef0123456789abcdef",)"
    R"("response":{"result":{"payload":"Hello John"},"size":24,"success":true,"status":"success"},)"
    R"("logs":["2024-05-01T10:00:00.123456789Z stdout: hi"],"version":"0.0.1","publish":false,)"
    R"("annotations":[{"key":"limits","value":{"timeout":60000,"memory":256,"logs":10,"concurrency":1}},)"
    R"({"key":"path","value":"guest/hello"},{"key":"kind","value":"nodejs:20"},{"key":"timeout","value":false},)"
    R"({"key":"initTime","value":38},{"key":"waitTime","value":412}]})";
}  // namespace

TEST_CASE("activation record from the wire example round-trips", "[entity_json]") {
    auto r = ActivationFromJson(kWireActivation);
    REQUIRE(r.ok());
    CHECK(r->namespace_path.ToString() == "guest");
    CHECK(r->subject == "guest");
    CHECK(r->start_ms == 1493327653767);
    CHECK(r->duration() == 2);
    CHECK(r->cause->str() == "0123456789abcdef0123456789abcdef");
    CHECK(r->response.success());
    CHECK(r->response.size == 24);
    CHECK(r->response.result->text() == R"({"payload":"Hello John"})");
    CHECK(r->logs.size() == 1);
    CHECK(r->annotations.Get("waitTime")->text() == "412");
    CHECK(ActivationToJson(*r) == kWireActivation);

    std::string stored = ActivationToJson(*r, ActivationJsonForm::kStored);
    auto d = Doc(stored);
    CHECK(ToCompactJson(d["response"]) ==
          R"({"statusCode":0,"result":{"payload":"Hello John"},"size":24})");
    CHECK(ActivationFromJson(stored).value() == *r);
}

TEST_CASE("activation: end and duration omitted when not ended", "[entity_json]") {
    ActivationRecord r;
    r.namespace_path = EntityPath::Parse("guest").value();
    r.name = "t";
    r.subject = "guest";
    r.activation_id = ActivationId::Generate();
    r.start_ms = 10;
    r.response.result = JsonValue::EmptyObject();
    auto d = Doc(ActivationToJson(r));
    CHECK_FALSE(d.HasMember("end"));
    CHECK_FALSE(d.HasMember("duration"));
    CHECK_FALSE(d.HasMember("cause"));
    CHECK(ActivationFromJson(ActivationToJson(r)).value() == r);

    // A stored OpenWhisk trigger record carries "end":0.
    auto ow = ActivationFromJson(
        R"({"namespace":"guest","name":"t","subject":"guest","activationId":"c7bb1339cb4f40e3a6ccead6c99f804e",)"
        R"("start":10,"end":0,"response":{"statusCode":0,"result":{}},"logs":[],"version":"0.0.1","publish":false,"annotations":[]})");
    REQUIRE(ow.ok());
    CHECK(ow->end_ms == 0);
    CHECK_FALSE(ow->duration().has_value());
}

TEST_CASE("activation: statuses in both forms; sequence durations survive", "[entity_json]") {
    ActivationRecord r;
    r.namespace_path = EntityPath::Parse("guest").value();
    r.name = "seq";
    r.activation_id = ActivationId::Generate();
    r.start_ms = 1000;
    r.end_ms = 2000;
    r.duration_ms = 300;
    for (auto st : {ActivationStatus::kSuccess, ActivationStatus::kApplicationError,
                    ActivationStatus::kDeveloperError, ActivationStatus::kWhiskError}) {
        r.response = ActivationResponse::Error(st, "x");
        for (auto form : {ActivationJsonForm::kApi, ActivationJsonForm::kStored}) {
            auto back = ActivationFromJson(ActivationToJson(r, form));
            REQUIRE(back.ok());
            CHECK(back->response.status == st);
            CHECK(back->duration() == 300);
            CHECK(*back == r);
        }
    }
    CHECK(ActivationResultToJson(
              ActivationResponse::Error(ActivationStatus::kDeveloperError, "boom")) ==
          R"({"result":{"error":"boom"},"success":false,"status":"action developer error"})");
}

TEST_CASE("activation parse errors", "[entity_json]") {
    CHECK_FALSE(ActivationFromJson("[]").ok());
    CHECK_FALSE(
        ActivationFromJson(R"({"namespace":"guest","name":"x","activationId":"nothex"})").ok());
    CHECK_FALSE(
        ActivationFromJson(
            R"({"namespace":"guest","name":"x","activationId":"c7bb1339cb4f40e3a6ccead6c99f804e","response":{"statusCode":9}})")
            .ok());
    CHECK_FALSE(
        ActivationFromJson(
            R"({"namespace":"guest","name":"x","activationId":"c7bb1339cb4f40e3a6ccead6c99f804e","logs":[1]})")
            .ok());
    CHECK_FALSE(
        ActivationFromJson(
            R"({"namespace":"guest","name":"x","activationId":"c7bb1339cb4f40e3a6ccead6c99f804e","start":"now"})")
            .ok());
}

// ---- subjects and namespace limits
// ----------------------------------------------------------------

TEST_CASE("subject documents", "[entity_json]") {
    Subject s;
    s.subject = "guest";
    s.namespaces.push_back({"guest", AuthKey::Parse(kGuestAuth).value()});
    CHECK(
        SubjectToJson(s) ==
        R"({"subject":"guest","namespaces":[{"name":"guest","uuid":"23bc46b1-71f6-4ed5-8c54-816aa4f8c502",)"
        R"("key":"123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"}]})");
    CHECK(SubjectFromJson(SubjectToJson(s)).value() == s);
    s.blocked = true;
    CHECK(Doc(SubjectToJson(s))["blocked"].GetBool());
    CHECK(SubjectFromJson(SubjectToJson(s)).value() == s);
    auto couch = SubjectFromJson(
        R"({"_id":"guest","_rev":"1-x","subject":"guest","namespaces":[{"name":"guest","uuid":"u","key":"k"}]})");
    REQUIRE(couch.ok());
    CHECK(couch->namespaces[0].auth.uuid == "u");
    CHECK_FALSE(SubjectFromJson(R"({"namespaces":[]})").ok());
    CHECK_FALSE(SubjectFromJson(R"({"subject":"x","namespaces":[{"name":"a"}]})").ok());
}

TEST_CASE("namespace limits documents", "[entity_json]") {
    NamespaceLimits l;
    CHECK(NamespaceLimitsToJson(l) == "{}");
    l.invocations_per_minute = 120;
    l.concurrent_invocations = 50;
    l.max_action_memory = 1024;
    l.max_parameter_size = 1048576;
    l.allowed_kinds = std::vector<std::string>{"python:3.11", "blackbox"};
    l.store_activations = false;
    CHECK(
        NamespaceLimitsToJson(l) ==
        R"({"invocationsPerMinute":120,"concurrentInvocations":50,"maxActionMemory":1024,)"
        R"("maxParameterSize":"1048576 B","allowedKinds":["python:3.11","blackbox"],"storeActivations":false})");
    CHECK(NamespaceLimitsFromJson(NamespaceLimitsToJson(l)).value() == l);
    auto ow = NamespaceLimitsFromJson(
        R"({"_id":"guest/limits","firesPerMinute":0,"maxPayloadSize":"2 MB","truncationSize":4096})");
    REQUIRE(ow.ok());
    CHECK(ow->fires_per_minute == 0);
    CHECK(ow->max_payload_size == 2 * 1048576);
    CHECK(ow->truncation_size == 4096);
    CHECK_FALSE(NamespaceLimitsFromJson(R"({"maxParameterSize":"lots"})").ok());
    CHECK_FALSE(NamespaceLimitsFromJson(R"({"invocationsPerMinute":"x"})").ok());
}

// ---- list summaries
// ---------------------------------------------------------------------------------

TEST_CASE("list summaries", "[entity_json]") {
    auto a = CreateAction(R"({"exec":{"kind":"python:3.11","code":"UEsDBBQAAAAIAA=="}})").value();
    a.updated_ms = 9;
    CHECK(
        EntitySummaryToJson(a) ==
        R"({"namespace":"guest","name":"hello","version":"0.0.1","publish":false,)"
        R"("annotations":[{"key":"provide-api-key","value":false},{"key":"exec","value":"python:3.11"}],)"
        R"("limits":{"timeout":60000,"memory":256,"logs":10,"concurrency":1},"exec":{"binary":true},"updated":9})");
    Trigger t;
    t.namespace_path = EntityPath::Parse("guest").value();
    t.name = "t";
    CHECK(
        EntitySummaryToJson(t) ==
        R"({"namespace":"guest","name":"t","version":"0.0.1","publish":false,"annotations":[],"updated":0})");
    Package p;
    p.namespace_path = t.namespace_path;
    p.name = "p";
    CHECK(Doc(EntitySummaryToJson(p))["binding"].IsFalse());
    p.binding = PackageBinding{"whisk.system", "utils"};
    CHECK(ToCompactJson(Doc(EntitySummaryToJson(p))["binding"]) ==
          R"({"namespace":"whisk.system","name":"utils"})");
    Rule r;
    r.namespace_path = t.namespace_path;
    r.name = "r";
    r.trigger = Fqn("/guest/t");
    r.action = Fqn("/guest/a");
    CHECK(EntitySummaryToJson(r) == RuleToJson(r));

    auto rec = ActivationFromJson(kWireActivation).value();
    CHECK(
        ActivationSummaryToJson(rec) ==
        std::string(
            R"({"namespace":"guest","name":"hello","version":"0.0.1","publish":false,"annotations":)") +
            ToCompactJson(Doc(kWireActivation)["annotations"]) +
            R"(,"activationId":"c7bb1339cb4f40e3a6ccead6c99f804e","start":1493327653767,)"
            R"("cause":"0123456789abcdef0123456789abcdef","end":1493327653769,"duration":2,"statusCode":0})");
    rec.end_ms = 0;
    auto d = Doc(ActivationSummaryToJson(rec));
    CHECK_FALSE(d.HasMember("end"));
    CHECK_FALSE(d.HasMember("statusCode"));
}
