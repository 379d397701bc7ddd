#include <wisp/common/json.hpp>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/common/status.hpp>

using wisp::common::JsonValue;

TEST_CASE("JsonValue::Parse returns the compact text", "[json]") {
    auto v = JsonValue::Parse(" { \"a\" : [ 1 , true , null , \"x\" ] } ");
    REQUIRE(v.ok());
    CHECK(v->text() == R"({"a":[1,true,null,"x"]})");
    CHECK(v->IsObject());
    CHECK_FALSE(v->IsArray());
}

TEST_CASE("JsonValue::Parse keeps numbers verbatim", "[json]") {
    CHECK(JsonValue::Parse("1.0")->text() == "1.0");
    CHECK(JsonValue::Parse("[12345678901234567890123]")->text() == "[12345678901234567890123]");
    CHECK(JsonValue::Parse("-2.5e3")->text() == "-2.5e3");
}

TEST_CASE("JsonValue::Parse rejects bad JSON with OpenWhisk's malformed text", "[json]") {
    for (const char* bad : {"", "{", "[1,]", "{\"a\":1} x", "nul", "'a'", "{a:1}", "NaN"}) {
        auto v = JsonValue::Parse(bad);
        INFO(bad);
        REQUIRE_FALSE(v.ok());
        CHECK(v.status().code() == absl::StatusCode::kInvalidArgument);
        CHECK(std::string(v.status().message()).rfind("The request content was malformed:\n", 0) ==
              0);
        CHECK(wisp::common::HttpStatusFor(v.status()) == 400);
    }
}

TEST_CASE("JsonValue::Parse rejects invalid UTF-8 and extreme nesting", "[json]") {
    CHECK_FALSE(JsonValue::Parse("\"\xff\"").ok());
    CHECK_FALSE(JsonValue::Parse(std::string(100000, '[')).ok());
    std::string deep = std::string(300, '[') + std::string(300, ']');
    CHECK(JsonValue::Parse(deep).ok());
}

TEST_CASE("JsonValue scalars, strings and env rendering", "[json]") {
    auto s = JsonValue::String("he said \"hi\"\n");
    CHECK(s.text() == R"("he said \"hi\"\n")");
    CHECK(s.IsString());
    CHECK(s.AsString() == "he said \"hi\"\n");
    CHECK(s.ToEnvString() == "he said \"hi\"\n");
    CHECK(JsonValue().IsNull());
    CHECK(JsonValue().ToEnvString().empty());
    CHECK(JsonValue::Number(-42).text() == "-42");
    CHECK(JsonValue::Bool(false).text() == "false");
    CHECK(JsonValue::EmptyObject().ToEnvString() == "{}");
    CHECK(JsonValue::Parse("[1,2]")->ToEnvString() == "[1,2]");
    CHECK(JsonValue::Number(3).AsString().empty());
}

TEST_CASE("JsonValue::String replaces ill-formed UTF-8", "[json]") {
    auto s = JsonValue::String(
        "a\xff"
        "b");
    CHECK(s.AsString() ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(JsonValue::Parse(s.text()).ok());
}

TEST_CASE("JsonValue to and from rapidjson", "[json]") {
    auto v = JsonValue::Parse(R"({"k":{"n":[1,2,{"x":"y"}]}})").value();
    rapidjson::Document doc;
    v.ToRapid(doc);
    REQUIRE(doc.IsObject());
    CHECK(doc["k"]["n"][2]["x"].GetString() == std::string("y"));
    CHECK(JsonValue::FromRapid(doc) == v);
    CHECK(wisp::common::ToPrettyJson(doc) ==
          "{\n    \"k\": {\n        \"n\": [\n            1,\n            2,\n            {\n"
          "                \"x\": \"y\"\n            }\n        ]\n    }\n}");
}

TEST_CASE("HttpStatusFor maps status codes to HTTP", "[status]") {
    using wisp::common::HttpStatusFor;
    CHECK(HttpStatusFor(absl::OkStatus()) == 200);
    CHECK(HttpStatusFor(absl::InvalidArgumentError("x")) == 400);
    CHECK(HttpStatusFor(absl::UnauthenticatedError("x")) == 401);
    CHECK(HttpStatusFor(absl::PermissionDeniedError("x")) == 403);
    CHECK(HttpStatusFor(absl::NotFoundError("x")) == 404);
    CHECK(HttpStatusFor(absl::AlreadyExistsError("x")) == 409);
    CHECK(HttpStatusFor(absl::FailedPreconditionError("x")) == 409);
    CHECK(HttpStatusFor(absl::AbortedError("x")) == 409);
    CHECK(HttpStatusFor(absl::OutOfRangeError("x")) == 413);
    CHECK(HttpStatusFor(absl::ResourceExhaustedError("x")) == 429);
    CHECK(HttpStatusFor(absl::UnavailableError("x")) == 503);
    CHECK(HttpStatusFor(absl::DeadlineExceededError("x")) == 504);
    CHECK(HttpStatusFor(absl::InternalError("x")) == 500);
    CHECK(HttpStatusFor(absl::UnknownError("x")) == 500);
}
