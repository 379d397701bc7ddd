#include "media_types.hpp"

#include <catch2/catch.hpp>

using namespace wisp::controller;

TEST_CASE("media types and base64 helpers", "[web]") {
    auto mt = ParseMediaType("Text/HTML; charset=utf-8");
    REQUIRE(mt);
    CHECK(mt->Value() == "text/html");
    CHECK(mt->has_charset);
    CHECK_FALSE(ParseMediaType("text"));
    CHECK_FALSE(ParseMediaType("text/html; bad"));
    CHECK(KindOf(*ParseMediaType("application/json")) == MediaKind::kFixedCharset);
    CHECK(KindOf(*ParseMediaType("application/xml")) == MediaKind::kOpenCharset);
    CHECK(KindOf(*ParseMediaType("image/png")) == MediaKind::kBinary);
    CHECK(KindOf(*ParseMediaType("application/octet-stream")) == MediaKind::kBinary);
    CHECK(IsJsonFamily(*ParseMediaType("application/vnd.api+json")));
    CHECK_FALSE(IsJsonFamily(*ParseMediaType("text/plain")));

    CHECK(LooksLikeBase64("aGk="));
    CHECK(LooksLikeBase64(" aGk= "));
    CHECK_FALSE(LooksLikeBase64("aGk"));
    CHECK_FALSE(LooksLikeBase64("a=Gk"));
    CHECK_FALSE(LooksLikeBase64(""));
    CHECK(LooksLikeBase64("aGVsbG8h"));
    CHECK_FALSE(LooksLikeBase64("a-_b"));
}
