#include "put_body.hpp"

#include <catch2/catch.hpp>

using wsk::PutBody;
using wsk::QualifiedName;

namespace {

QualifiedName Q(const std::string& ns, const std::string& name) {
    QualifiedName q;
    q.ns = ns;
    q.entity_name = name;
    return q;
}

}  // namespace

TEST_CASE("PutBody writes the members in the reference CLI's order", "[put_body]") {
    PutBody body;
    body.SetName(Q("guest", "hello"));
    body.Add("exec", rapidjson::Value(true));
    REQUIRE_FALSE(body.AddParameters({R"({"name":"world"})"}));
    REQUIRE_FALSE(body.AddAnnotations({R"({"web-export":true})"}));
    body.SetDelAnnotations({"old"});
    body.SetLimits({1000, 256, std::nullopt, std::nullopt});
    body.AddLast("binding", rapidjson::Value("b"));
    CHECK(body.Finish() ==
          R"({"namespace":"guest","name":"hello","exec":true,)"
          R"("annotations":[{"key":"web-export","value":true}],"delAnnotations":["old"],)"
          R"("parameters":[{"key":"name","value":"world"}],"limits":{"timeout":1000,"memory":256},)"
          R"("binding":"b"})");
}

TEST_CASE("PutBody leaves out what no flag gave", "[put_body]") {
    PutBody body;
    body.SetName(Q("guest", "t"), false);
    REQUIRE_FALSE(body.AddParameters({}));
    REQUIRE_FALSE(body.AddAnnotations({}));
    body.SetDelAnnotations({});
    body.SetLimits({});
    CHECK(body.Finish() == R"({"name":"t"})");
}

TEST_CASE("PutBody reports bad -p and -a values as the reference CLI does", "[put_body]") {
    PutBody body;
    auto p = body.AddParameters({"{bad"});
    REQUIRE(p);
    CHECK(p->message.find("Invalid parameter argument '[]string{\"{bad\"}'") != std::string::npos);
    auto a = body.AddAnnotations({"{bad"});
    REQUIRE(a);
    CHECK(a->message.find("Invalid annotation argument '[]string{\"{bad\"}'") != std::string::npos);
}
