#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::common {

TEST_CASE("ConstantTimeEquals: equal, unequal of the same length, different lengths",
          "[strings][secrets]") {
    CHECK(ConstantTimeEquals("", ""));
    CHECK(ConstantTimeEquals("s3cret-key", "s3cret-key"));
    CHECK_FALSE(ConstantTimeEquals("s3cret-kez", "s3cret-key"));  // last byte differs
    CHECK_FALSE(ConstantTimeEquals("t3cret-key", "s3cret-key"));  // first byte differs
    CHECK_FALSE(ConstantTimeEquals("s3cret", "s3cret-key"));      // a prefix
    CHECK_FALSE(ConstantTimeEquals("s3cret-key-and-more", "s3cret-key"));
    CHECK_FALSE(ConstantTimeEquals("", "s3cret-key"));
    CHECK_FALSE(ConstantTimeEquals("x", ""));
    // Bytes equal up to the shorter length, zeros after: still different.
    CHECK_FALSE(ConstantTimeEquals(std::string_view("ab\0", 3), "ab"));
    CHECK_FALSE(ConstantTimeEquals("ab", std::string_view("ab\0", 3)));
}

TEST_CASE("PercentEncode keeps RFC 3986 unreserved characters, encodes every other byte",
          "[strings]") {
    CHECK(PercentEncode("") == "");
    CHECK(PercentEncode("AZaz09-._~") == "AZaz09-._~");
    CHECK(PercentEncode("a/b:c d{\"}") == "a%2Fb%3Ac%20d%7B%22%7D");
    CHECK(PercentEncode("metadata.name=x&y") == "metadata.name%3Dx%26y");
    CHECK(PercentEncode("2026-11-23T12:38:07.1+01:00") == "2026-11-23T12%3A38%3A07.1%2B01%3A00");
    CHECK(PercentEncode("%") == "%25");
    CHECK(PercentEncode(std::string_view("\0\x7f\xc3\xa9", 4)) == "%00%7F%C3%A9");
}

TEST_CASE("WithUserInfo adds %-encoded credentials unless the URI has some", "[strings][secrets]") {
    CHECK(WithUserInfo("couchdb:http://db:5984", "admin", "p@ss:w/rd%") ==
          "couchdb:http://admin:p%40ss%3Aw%2Frd%25@db:5984");
    CHECK(WithUserInfo("http://db:5984/x?prefix=a@b", "u", "") == "http://u@db:5984/x?prefix=a@b");
    CHECK(WithUserInfo("http://old:pw@db:5984", "u", "p") == "http://old:pw@db:5984");
    CHECK(WithUserInfo("http://db:5984", "", "p") == "http://db:5984");
    CHECK(WithUserInfo("sqlite:/tmp/x.db", "u", "p") == "sqlite:/tmp/x.db");
    CHECK(WithUserInfo("http://db", "us er", "Zz0-._~") == "http://us%20er:Zz0-._~@db");
}

TEST_CASE("RedactUri masks the password of a URI's user info", "[strings][secrets]") {
    CHECK(RedactUri("http://admin:s3cret@127.0.0.1:5984") == "http://admin:***@127.0.0.1:5984");
    CHECK(RedactUri("couchdb:http://admin:s3cret@db:5984/wisp_?x=1") ==
          "couchdb:http://admin:***@db:5984/wisp_?x=1");
    CHECK(RedactUri("https://tok3n@host/path") == "https://***@host/path");
    CHECK(RedactUri("http://a:p@ss@host/") == "http://a:***@host/");  // '@' in the password
    CHECK(RedactUri("http://host:5984/db?user=a@b") == "http://host:5984/db?user=a@b");
    CHECK(RedactUri("http://127.0.0.1:5984") == "http://127.0.0.1:5984");
    CHECK(RedactUri("sqlite:/home/u/.wisp/wisp.db") == "sqlite:/home/u/.wisp/wisp.db");
    CHECK(RedactUri("") == "");
    CHECK(RedactUri("http://user:pw@") == "http://user:***@");
}

}  // namespace wisp::common

namespace wisp::common {

TEST_CASE("EqualsIgnoreCase, AsciiLower and TrimAsciiSpace", "[strings]") {
    CHECK(EqualsIgnoreCase("Content-Length", "content-length"));
    CHECK(EqualsIgnoreCase("", ""));
    CHECK_FALSE(EqualsIgnoreCase("content-length", "content-lengt"));
    CHECK_FALSE(EqualsIgnoreCase("a", "b"));
    CHECK_FALSE(EqualsIgnoreCase("\xc3\x89", "\xc3\xa9"));  // ASCII only: É is not é
    CHECK(AsciiLower('Q') == 'q');
    CHECK(AsciiLower('1') == '1');
    CHECK(AsciiLower("MiXeD-42") == "mixed-42");
    CHECK(TrimAsciiSpace(" \t\n guest \r\v\f") == "guest");
    CHECK(TrimAsciiSpace("\x01guest\x01") == "\x01guest\x01");  // unlike Trim
    CHECK(Trim("\x01guest\x01") == "guest");
}

}  // namespace wisp::common

TEST_CASE("IsValidUtf8 and SanitizeUtf8: each byte of an ill-formed sequence becomes U+FFFD",
          "[strings]") {
    using wisp::common::IsValidUtf8;
    using wisp::common::SanitizeUtf8;
    const std::string fffd = "\xEF\xBF\xBD";
    for (const std::string& ok : {std::string(""), std::string("plain"), std::string("K\xC3\xB6ln"),
                                  std::string("\xE0\xA0\x80"), std::string("\xF0\x90\x80\x80"),
                                  std::string("\xF4\x8F\xBF\xBF")}) {
        CHECK(IsValidUtf8(ok));
        CHECK(SanitizeUtf8(ok) == ok);
    }
    CHECK_FALSE(IsValidUtf8("\xC0\x80"));  // overlong
    CHECK(SanitizeUtf8("a\xC0\x80"
                       "b") == "a" + fffd + fffd + "b");
    CHECK(SanitizeUtf8("\xE0\x80\x80") == fffd + fffd + fffd);             // overlong
    CHECK(SanitizeUtf8("\xED\xA0\x80") == fffd + fffd + fffd);             // a surrogate
    CHECK(SanitizeUtf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // > U+10FFFF
    CHECK(SanitizeUtf8("\xF8x") == fffd + "x");
    CHECK(SanitizeUtf8("\xE2\x82") == fffd + fffd);            // cut short
    CHECK(SanitizeUtf8("\x80\xC3\xB6") == fffd + "\xC3\xB6");  // a lone continuation byte
}
