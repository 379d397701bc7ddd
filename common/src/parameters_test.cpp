#include <wisp/common/parameters.hpp>

#include <catch2/catch.hpp>

#include <wisp/common/semver.hpp>

using namespace wisp::common;

namespace {
JsonValue J(const char* text) { return JsonValue::Parse(text).value(); }
}  // namespace

TEST_CASE("Parameters set, get, replace in place and remove", "[parameters]") {
    Parameters p;
    CHECK(p.empty());
    p.Set("a", J("1"));
    p.Set("b", J("\"x\""));
    p.Set("a", J("2"));
    REQUIRE(p.size() == 2);
    CHECK(p.items()[0].key == "a");
    CHECK(p.Get("a")->text() == "2");
    CHECK(p.Get("missing") == nullptr);
    CHECK(p.Find("b")->value.AsString() == "x");
    CHECK(p.Remove("a"));
    CHECK_FALSE(p.Remove("a"));
    CHECK(p.size() == 1);
}

TEST_CASE("Parameters constructor keeps keys unique, last value wins", "[parameters]") {
    Parameters p({{"k", J("1")}, {"j", J("2")}, {"k", J("3")}});
    REQUIRE(p.size() == 2);
    CHECK(p.items()[0].key == "k");
    CHECK(p.Get("k")->text() == "3");
}

TEST_CASE("Parameters merge: overrides win, base order first", "[parameters]") {
    Parameters package({{"a", J("1")}, {"b", J("1")}});
    Parameters action({{"b", J("2")}, {"c", J("2")}});
    Parameters merged = package.Merge(action);
    REQUIRE(merged.size() == 3);
    CHECK(merged.items()[0].key == "a");
    CHECK(merged.items()[1].key == "b");
    CHECK(merged.items()[2].key == "c");
    CHECK(merged.Get("b")->text() == "2");
    CHECK(package.Get("b")->text() == "1");
}

TEST_CASE("init parameters", "[parameters]") {
    Parameters p;
    p.Set("secret", J("\"s\""), true);
    p.Set("plain", J("1"));
    CHECK(p.InitKeys() == std::vector<std::string>{"secret"});
    CHECK(p.Find("secret")->init);
}

TEST_CASE("IsTruthy follows OpenWhisk's isTruthy", "[parameters]") {
    Parameters p({{"t", J("true")},
                  {"f", J("false")},
                  {"n", J("null")},
                  {"zero", J("0")},
                  {"zerof", J("0.0")},
                  {"one", J("1")},
                  {"neg", J("-0.5")},
                  {"empty", J("\"\"")},
                  {"str", J("\"no\"")},
                  {"obj", J("{}")},
                  {"arr", J("[]")}});
    CHECK(p.IsTruthy("t"));
    CHECK_FALSE(p.IsTruthy("f"));
    CHECK_FALSE(p.IsTruthy("n"));
    CHECK_FALSE(p.IsTruthy("zero"));
    CHECK_FALSE(p.IsTruthy("zerof"));
    CHECK(p.IsTruthy("one"));
    CHECK(p.IsTruthy("neg"));
    CHECK_FALSE(p.IsTruthy("empty"));
    CHECK(p.IsTruthy("str"));
    CHECK(p.IsTruthy("obj"));
    CHECK(p.IsTruthy("arr"));
    CHECK_FALSE(p.IsTruthy("missing"));
}

TEST_CASE("Parameters byte size and object form", "[parameters]") {
    Parameters p({{"ab", J("\"xyz\"")}, {"c", J("[1,2]")}});
    CHECK(p.ByteSize() == 2 + 5 + 1 + 5);
    CHECK(p.ToObjectJson() == R"({"ab":"xyz","c":[1,2]})");
    CHECK(Parameters().ToObjectJson() == "{}");
}

TEST_CASE("Parameters::FromObjectJson", "[parameters]") {
    auto p = Parameters::FromObjectJson(R"({"name":"John","n":{"x":1}})");
    REQUIRE(p.ok());
    CHECK(p->size() == 2);
    CHECK(p->Get("name")->AsString() == "John");
    CHECK(p->Get("n")->text() == R"({"x":1})");
    CHECK(Parameters::FromObjectJson("[1]").status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(Parameters::FromObjectJson("{").ok());
}

TEST_CASE("SemVer parse, print and bump", "[semver]") {
    auto v = SemVer::Parse("0.0.1");
    REQUIRE(v.ok());
    CHECK(*v == SemVer{});
    CHECK(v->UpPatch().ToString() == "0.0.2");
    CHECK(SemVer::Parse("1.2.3")->ToString() == "1.2.3");
    CHECK(SemVer::Parse("2")->ToString() == "2.0.0");
    CHECK(SemVer::Parse("2.1")->ToString() == "2.1.0");
    CHECK(SemVer::Parse("10.20.30").value() > SemVer::Parse("10.20.3").value());
    CHECK(SemVer{1, 9, 9} < SemVer{2, 0, 0});
    for (const char* bad : {"", "0.0.0", "a.b.c", "1.-1.0", "1..2", "1.2.x", ".", "99999999999"}) {
        INFO(bad);
        auto r = SemVer::Parse(bad);
        CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    }
    CHECK(SemVer::Parse("x").status().message() == "bad semantic version x");
}
