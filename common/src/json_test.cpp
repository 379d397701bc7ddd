#include <wisp/common/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

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
    // Far below the smallest double (this crashed rapidjson 1.1.0's full-precision strtod).
    const std::string tiny = "[0." + std::string(400, '0') + "1e-250]";
    auto v = JsonValue::Parse(tiny);
    REQUIRE(v.ok());
    CHECK(v->text() == tiny);
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

// ---- the one bounded parser -------------------------------------------------------------------

TEST_CASE("ParseJson refuses a million open brackets without recursing", "[json][bounded]") {
    // Crashed wisp-standalone (stack overflow) when a route parsed with rapidjson's recursive
    // parser. The bounded parser stops at the depth limit.
    for (char open : {'[', '{'}) {
        std::string deep(1'000'000, open);
        if (open == '{') {
            deep.clear();
            for (int i = 0; i < 200'000; ++i) deep += "{\"a\":";
        }
        rapidjson::Document doc;
        auto st = wisp::common::ParseJson(deep, doc);
        REQUIRE_FALSE(st.ok());
        CHECK(st.code() == absl::StatusCode::kInvalidArgument);
        CHECK(std::string(st.message()) == "JSON nesting is deeper than 512 levels");
        CHECK(doc.IsNull());
    }
}

TEST_CASE("ParseJson accepts exactly the depth limit and no more", "[json][bounded]") {
    wisp::common::JsonLimits limits;
    limits.max_depth = 8;
    auto nested = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
    rapidjson::Document doc;
    CHECK(wisp::common::ParseJson(nested(8), doc, limits).ok());
    CHECK(doc.IsArray());
    CHECK_FALSE(wisp::common::ParseJson(nested(9), doc, limits).ok());
    // Depth is nesting, not count: many siblings are fine.
    std::string wide = "[";
    for (int i = 0; i < 1000; ++i) wide += std::string(i ? "," : "") + "[[]]";
    wide += "]";
    CHECK(wisp::common::ParseJson(wide, doc, limits).ok());
    CHECK(doc.Size() == 1000);
}

TEST_CASE("ParseJson caps the size before parsing", "[json][bounded]") {
    wisp::common::JsonLimits limits;
    limits.max_bytes = 16;
    rapidjson::Document doc;
    CHECK(wisp::common::ParseJson(R"({"a":"0123456"})", doc, limits).ok());  // 15 bytes
    auto st = wisp::common::ParseJson(R"({"a":"01234567"})", doc, limits);   // 16 bytes
    CHECK(st.ok());
    st = wisp::common::ParseJson(R"({"a":"012345678"})", doc, limits);  // 17 bytes
    REQUIRE_FALSE(st.ok());
    CHECK(std::string(st.message()) ==
          "the JSON text is 17 bytes, more than the limit of 16 bytes");
}

TEST_CASE("ParseJson refuses NUL bytes, trailing data, empty text", "[json][bounded]") {
    rapidjson::Document doc;
    // rapidjson alone stops at a NUL and ignores what follows; the bounded parser refuses it.
    const std::string with_nul("{}\0{\"admin\":true}", 17);
    auto st = wisp::common::ParseJson(with_nul, doc);
    REQUIRE_FALSE(st.ok());
    CHECK(std::string(st.message()) == "the JSON text contains a NUL byte (at offset 2)");
    CHECK_FALSE(wisp::common::ParseJson("{} {}", doc).ok());
    CHECK_FALSE(wisp::common::ParseJson("[1] x", doc).ok());
    st = wisp::common::ParseJson("  \n", doc);
    REQUIRE_FALSE(st.ok());
    CHECK(std::string(st.message()) == "The document is empty.");
    // An escaped NUL inside a string is JSON and stays allowed.
    REQUIRE(wisp::common::ParseJson(R"(["a\u0000b"])", doc).ok());
    CHECK(doc[0].GetStringLength() == 3);
}

TEST_CASE("ParseJson validates UTF-8 unless told not to", "[json][bounded]") {
    rapidjson::Document doc;
    const std::string bad = "{\"a\":\"\xff\xfe\"}";
    CHECK_FALSE(wisp::common::ParseJson(bad, doc).ok());
    wisp::common::JsonLimits lenient;
    lenient.validate_utf8 = false;
    REQUIRE(wisp::common::ParseJson(bad, doc, lenient).ok());
    // Written back out, the bytes are replaced, so the output parses strictly.
    const std::string out = wisp::common::ToCompactJson(doc);
    CHECK(out == "{\"a\":\"\xEF\xBF\xBD\xEF\xBF\xBD\"}");
    CHECK(wisp::common::ParseJson(out, doc).ok());
}

TEST_CASE("ParseJson: huge numbers and long strings", "[json][bounded]") {
    rapidjson::Document doc;
    CHECK_FALSE(wisp::common::ParseJson("1e400", doc).ok());
    CHECK_FALSE(wisp::common::ParseJson(std::string(5000, '9'), doc).ok());
    REQUIRE(wisp::common::ParseJson("[" + std::string(300, '1') + ".5]", doc).ok());
    CHECK(doc[0].IsDouble());
    std::string big = "\"" + std::string(1 << 20, 'x') + "\"";
    REQUIRE(wisp::common::ParseJson(big, doc).ok());
    CHECK(doc.GetStringLength() == 1u << 20);
}

TEST_CASE("ParseJson: numbers convert as rapidjson's full precision did, without its crash",
          "[json][bounded][numbers]") {
    rapidjson::Document doc;
    auto parse = [&](const std::string& text) {
        INFO(text.substr(0, 80));
        REQUIRE(wisp::common::ParseJson(text, doc).ok());
    };
    // Rapidjson 1.1.0's StrtodDiyFp read out of bounds on these (a remote crash: any JSON body).
    for (const std::string& tiny :
         {"0." + std::string(360, '0'), "0." + std::string(4000, '0'),
          "0." + std::string(100, '0') + "1e-250", "0." + std::string(200, '0') + "1e-200",
          "-0." + std::string(400, '0') + "7", "[0." + std::string(400, '0') + "]",
          std::string("0.00000000000000000418855419456709909432e-317")}) {
        parse(tiny);
        const rapidjson::Value& v = doc.IsArray() ? doc[0] : doc;
        REQUIRE(v.IsDouble());
        CHECK(v.GetDouble() == 0.0);
        CHECK(std::signbit(v.GetDouble()) == (tiny[0] == '-'));
    }
    // ... and what is just representable still is.
    parse("0." + std::string(300, '0') + "1e-20");  // 1e-321, a subnormal
    CHECK(doc.GetDouble() == 1e-321);
    parse("4.9e-324");
    CHECK(doc.GetDouble() == std::numeric_limits<double>::denorm_min());
    parse("2.2250738585072014e-308");
    CHECK(doc.GetDouble() == std::numeric_limits<double>::min());
    parse("1.7976931348623157e308");
    CHECK(doc.GetDouble() == std::numeric_limits<double>::max());
    parse("0.1");
    CHECK(doc.GetDouble() == 0.1);
    parse("-1.5E+3");
    CHECK(doc.GetDouble() == -1500.0);
    parse("9007199254740993.0");  // 2^53 + 1: rounds to even
    CHECK(doc.GetDouble() == 9007199254740992.0);
    parse("0e300");  // rapidjson 1.1.0 made a non-zero double of zero mantissas with exponents
    CHECK(doc.GetDouble() == 0.0);
    parse("-0e-63");
    CHECK(doc.GetDouble() == 0.0);
    CHECK(std::signbit(doc.GetDouble()));
    // Past the largest double: refused with rapidjson's message, never inf or a wrong value.
    for (const char* big : {"1.8e308", "[523419E304]", "-10e308", "0.1e310"}) {
        INFO(big);
        const absl::Status st = wisp::common::ParseJson(big, doc);
        REQUIRE_FALSE(st.ok());
        CHECK(std::string(st.message()).rfind("Number too big to be stored in double.", 0) == 0);
        CHECK(doc.IsNull());
    }
    // Integers keep rapidjson's types: Uint to 2^32-1, Int down to -2^31, then 64 bits, then
    // a double.
    parse(
        "[0,-0,4294967295,4294967296,-2147483648,-2147483649,18446744073709551615,"
        "-9223372036854775808,18446744073709551616,-9223372036854775809]");
    CHECK((doc[0].IsUint() && doc[0].GetUint() == 0));
    CHECK((doc[1].IsInt() && doc[1].GetInt() == 0 && !doc[1].IsDouble()));
    CHECK((doc[2].IsUint() && doc[2].GetUint() == 4294967295u));
    CHECK((doc[3].IsUint64() && !doc[3].IsUint() && doc[3].GetUint64() == 4294967296u));
    CHECK((doc[4].IsInt() && doc[4].GetInt() == std::numeric_limits<int32_t>::min()));
    CHECK((doc[5].IsInt64() && !doc[5].IsInt() && doc[5].GetInt64() == -2147483649LL));
    CHECK((doc[6].IsUint64() && doc[6].GetUint64() == std::numeric_limits<uint64_t>::max()));
    CHECK((doc[7].IsInt64() && doc[7].GetInt64() == std::numeric_limits<int64_t>::min()));
    CHECK((doc[8].IsDouble() && doc[8].GetDouble() == 18446744073709551616.0));
    CHECK((doc[9].IsDouble() && doc[9].GetDouble() == -9223372036854775809.0));
    // The grammar is still rapidjson's.
    for (const char* bad : {"01", "1.", ".5", "1e", "+1", "-", "1e+", "0x10", "--1"}) {
        INFO(bad);
        CHECK_FALSE(wisp::common::ParseJson(bad, doc).ok());
    }
    // A handler that asked for raw numbers still gets the text.
    struct Raw : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Raw> {
        std::string seen;
        bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
            seen.assign(s, n);
            return true;
        }
    } raw;
    const std::string long_tiny = "0." + std::string(400, '0') + "1";
    CHECK(
        wisp::json::ParseBoundedSax<rapidjson::kParseNumbersAsStringsFlag>(long_tiny, raw).empty());
    CHECK(raw.seen == long_tiny);
}

TEST_CASE("ParseBoundedSax limits depth for any handler", "[json][bounded]") {
    struct Counter : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Counter> {
        int values = 0;
        bool Default() {
            ++values;
            return true;
        }
    } counter;
    wisp::json::JsonLimits limits;
    limits.max_depth = 3;
    CHECK(wisp::json::ParseBoundedSax("[[[1,2]]]", counter, limits).empty());
    CHECK(counter.values == 8);  // 3 starts, 2 numbers, 3 ends
    CHECK(wisp::json::ParseBoundedSax("[[[[1]]]]", counter, limits) ==
          "JSON nesting is deeper than 3 levels");
}
