#include "entity_args.hpp"

#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>

#include "json_out.hpp"

using namespace wsk;

namespace {

Result<std::string> NoFiles(const std::string& path) {
    if (path == "params.json") return std::string(R"({"a": 1, "b": "x"})");
    return WskError::Usage("File '" + path + "' is not a valid file or it does not exist");
}

}  // namespace

TEST_CASE("-p K V is taken before flag parsing, so -1 is a value", "[args]") {
    std::vector<std::string> argv{"wsk",          "trigger",     "create", "t", "--param",
                                  "stock_change", "-1",          "-a",     "k", "v",
                                  "-P",           "params.json", "-i"};
    auto kv = ExtractKeyValueArgs(argv, NoFiles);
    REQUIRE(kv.ok());
    CHECK(argv == std::vector<std::string>{"wsk", "trigger", "create", "t", "-i"});
    CHECK(kv->params ==
          std::vector<std::string>{R"({"stock_change": -1})", R"({"a": 1, "b": "x"})"});
    CHECK(kv->annotations == std::vector<std::string>{R"({"k": "v"})"});
}

TEST_CASE("a -p without its value is an error", "[args]") {
    std::vector<std::string> argv{"wsk", "action", "invoke", "x", "-p", "name"};
    auto kv = ExtractKeyValueArgs(argv, NoFiles);
    REQUIRE(!kv.ok());
    CHECK(kv.error().message ==
          "Failed to parse arguments: The parameter arguments are invalid: Arguments for '-p' "
          "must be a key/value pair");
    CHECK(kv.error().exit_code == 1);
    CHECK(kv.error().display_usage);

    std::vector<std::string> missing{"wsk", "action", "invoke", "x", "-P", "nope.json"};
    auto e = ExtractKeyValueArgs(missing, NoFiles);
    REQUIRE(!e.ok());
    CHECK(e.error().exit_code == 2);
}

TEST_CASE("values are JSON when they parse, else strings", "[args]") {
    CHECK(KeyValueJson("n", "5") == R"({"n": 5})");
    CHECK(KeyValueJson("name", "World") == R"({"name": "World"})");
    CHECK(KeyValueJson("o", R"({"x":true})") == R"({"o": {"x":true}})");
    CHECK(KeyValueJson("s", R"(say "hi")") == R"({"s": "say \"hi\""})");
    CHECK(KeyValueJson("e", "") == R"({"e": ""})");
}

TEST_CASE("params become a merged object or a key/value array", "[args]") {
    rapidjson::Document d;
    rapidjson::Value obj(rapidjson::kObjectType);
    REQUIRE(!MergeJsonObjects({R"({"a": 1})", R"({"b": 2, "a": 3})"}, obj, d.GetAllocator()));
    CHECK(CompactJson(obj) == R"({"a":3,"b":2})");

    rapidjson::Value arr;
    REQUIRE(!KeyValueArray({R"({"name": "World"})", R"({"n": 5})"}, arr, d.GetAllocator()));
    CHECK(CompactJson(arr) == R"([{"key":"name","value":"World"},{"key":"n","value":5}])");

    rapidjson::Value bad;
    CHECK(KeyValueArray({"[1]"}, bad, d.GetAllocator()).has_value());
}

TEST_CASE("qualified names", "[args]") {
    auto a = ParseQualifiedName("hello");
    REQUIRE(a.ok());
    CHECK(a->ns == "_");
    CHECK(a->entity_name == "hello");
    auto b = ParseQualifiedName("pkg/hello");
    REQUIRE(b.ok());
    CHECK(b->package == "pkg");
    CHECK(b->entity_name == "pkg/hello");
    CHECK(b->entity == "hello");
    auto c = ParseQualifiedName("/guest/pkg/hello");
    REQUIRE(c.ok());
    CHECK(c->ns == "guest");
    CHECK(c->entity_name == "pkg/hello");
    auto d = ParseQualifiedName("guest/pkg/hello");
    REQUIRE(d.ok());
    CHECK(d->ns == "guest");
    auto e = ParseQualifiedName("/guest");
    REQUIRE(!e.ok());
    CHECK(e.error().exit_code == 149);
    CHECK(!ParseQualifiedName("").ok());
    CHECK(!ParseQualifiedName("/a//b").ok());
    CHECK(FullyQualified("t") == "/_/t");
    CHECK(FullyQualified("/whisk.system/utils/echo") == "/whisk.system/utils/echo");
    CHECK(FullyQualified("ns/pkg/a") == "/ns/pkg/a");
}

TEST_CASE("the kind comes from the file extension", "[args]") {
    CHECK(*KindFromExtension(".py") == "python:default");
    CHECK(*KindFromExtension(".js") == "nodejs:default");
    CHECK(*KindFromExtension(".jar") == "java:default");
    CHECK(*KindFromExtension(".go") == "go:default");
    auto zip = KindFromExtension(".zip");
    REQUIRE(!zip.ok());
    CHECK(zip.error().message ==
          "creating an action from a .zip artifact requires specifying the action kind "
          "explicitly");
    CHECK(zip.error().exit_code == 2);
    auto other = KindFromExtension(".txt");
    REQUIRE(!other.ok());
    CHECK(other.error().message == "'.txt' is not a supported action runtime");
    CHECK(FileExtension("dir.x/hello.py") == ".py");
    CHECK(FileExtension("dir.x/hello") == "");
}

TEST_CASE("exec for code, zip, native, docker and sequence actions", "[args]") {
    rapidjson::Document d;
    auto& alloc = d.GetAllocator();
    rapidjson::Value exec;
    ExecFlags f;
    REQUIRE(
        !BuildExec(std::string("hello.py"), std::string("def main(a): return a"), f, exec, alloc));
    CHECK(CompactJson(exec) == R"({"kind":"python:default","code":"def main(a): return a"})");

    f.kind = "python:3";
    REQUIRE(!BuildExec(std::string("a.zip"), std::string("PK\x03\x04"), f, exec, alloc));
    CHECK(CompactJson(exec) == R"({"kind":"python:3","code":"UEsDBA=="})");

    ExecFlags native;
    native.native = true;
    REQUIRE(!BuildExec(std::string("exec.zip"), std::string("ab"), native, exec, alloc));
    CHECK(CompactJson(exec) ==
          R"({"kind":"blackbox","code":"YWI=","image":"openwhisk/dockerskeleton"})");

    ExecFlags docker;
    docker.docker = "me/img:1";
    REQUIRE(!BuildExec(std::nullopt, std::nullopt, docker, exec, alloc));
    CHECK(CompactJson(exec) == R"({"kind":"blackbox","image":"me/img:1"})");

    ExecFlags seq;
    seq.sequence = true;
    REQUIRE(!BuildExec(std::string("a,pkg/b,/ns/c"), std::nullopt, seq, exec, alloc));
    CHECK(CompactJson(exec) == R"({"kind":"sequence","components":["/_/a","/_/pkg/b","/ns/c"]})");

    ExecFlags java;
    java.kind = "java";
    CHECK(BuildExec(std::string("a.jar"), std::string("x"), java, exec, alloc).has_value());
    CHECK(BuildExec(std::nullopt, std::nullopt, ExecFlags{}, exec, alloc).has_value());
}

TEST_CASE("base64 round trip", "[args]") {
    for (const std::string& s :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
        CHECK(wisp::common::Base64Decode(wisp::common::Base64Encode(s)) == s);
    }
    CHECK(wisp::common::Base64Encode("hello") == "aGVsbG8=");
}

TEST_CASE("--web and --web-secure annotations", "[args]") {
    rapidjson::Document d;
    auto& alloc = d.GetAllocator();
    rapidjson::Value annots(rapidjson::kArrayType);
    REQUIRE(!ApplyWebFlag("true", annots, alloc));
    CHECK(
        CompactJson(annots) ==
        R"([{"key":"web-export","value":true},{"key":"raw-http","value":false},{"key":"final","value":true}])");
    REQUIRE(!ApplyWebFlag("raw", annots, alloc));
    CHECK(FindKeyValue(annots, "raw-http")->GetBool());
    REQUIRE(!ApplyWebFlag("no", annots, alloc));
    CHECK(!FindKeyValue(annots, "web-export")->GetBool());
    CHECK(ApplyWebFlag("maybe", annots, alloc).has_value());

    std::vector<std::string> del;
    ApplyWebSecureFlag("s3cret", annots, del, alloc);
    CHECK(std::string(FindKeyValue(annots, "require-whisk-auth")->GetString()) == "s3cret");
    ApplyWebSecureFlag("true", annots, del, alloc);
    CHECK(FindKeyValue(annots, "require-whisk-auth")->IsInt64());
    ApplyWebSecureFlag("false", annots, del, alloc);
    CHECK(FindKeyValue(annots, "require-whisk-auth") == nullptr);
    CHECK(del == std::vector<std::string>{"require-whisk-auth"});
}
