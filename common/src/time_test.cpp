#include <catch2/catch.hpp>

#include <wisp/common/time.hpp>

namespace wisp::common {

constexpr int64_t kSecond = 1'000'000'000;

TEST_CASE("ParseRfc3339Nanos: UTC with and without a fraction", "[time]") {
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:00Z") == 0);
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:01.5Z") == 1'500'000'000);
    CHECK(*ParseRfc3339Nanos("2026-11-23T12:38:07.423818976Z") ==
          1795437487LL * kSecond + 423818976);
    CHECK(*ParseRfc3339Nanos("2000-02-29T23:59:59Z") == 951868799LL * kSecond);
    CHECK(*ParseRfc3339Nanos("1969-12-31T23:59:59.5Z") == -500'000'000);
    // Lower-case separators and a space between date and time (RFC 3339 section 5.6 note).
    CHECK(*ParseRfc3339Nanos("2026-11-23t12:38:07z") == 1795437487LL * kSecond);
    CHECK(*ParseRfc3339Nanos("2026-11-23 12:38:07Z") == 1795437487LL * kSecond);
}

TEST_CASE("ParseRfc3339Nanos: fractions of any length", "[time]") {
    // docker's RFC3339Nano drops trailing zeros; a fixed format keeps them: same instant.
    CHECK(*ParseRfc3339Nanos("2026-11-23T12:38:07.4238Z") ==
          *ParseRfc3339Nanos("2026-11-23T12:38:07.423800000Z"));
    // Beyond nanoseconds the digits are dropped, not rounded.
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:00.1234567899999Z") == 123456789);
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:00.000000000001Z") == 0);
}

TEST_CASE("ParseRfc3339Nanos: offsets", "[time]") {
    CHECK(*ParseRfc3339Nanos("2026-11-23T13:38:07.1+01:00") ==
          *ParseRfc3339Nanos("2026-11-23T12:38:07.1Z"));
    CHECK(*ParseRfc3339Nanos("2026-11-23T07:08:07-05:30") ==
          *ParseRfc3339Nanos("2026-11-23T12:38:07Z"));
    CHECK(*ParseRfc3339Nanos("2018-02-06T01:00:18.5+01:00") ==
          *ParseRfc3339Nanos("2018-02-06T00:00:18.419889342Z") + 80110658);
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:00+00:00") == 0);
    CHECK(*ParseRfc3339Nanos("1970-01-01T00:00:00-00:00") == 0);
}

TEST_CASE("ParseRfc3339Nanos: malformed text is InvalidArgument", "[time]") {
    for (const char* bad : {
             "",
             "yesterday",
             "hello world",
             "2026-11-23",
             "2026-11-23T12:38:07",        // no zone
             "2026-11-23T12:38Z",          // no seconds
             "2026-11-23X12:38:07Z",       // bad separator
             "2026-13-23T12:38:07Z",       // month
             "2026-00-23T12:38:07Z",       // month
             "2026-11-32T12:38:07Z",       // day
             "2026-11-23T24:38:07Z",       // hour
             "2026-11-23T12:60:07Z",       // minute
             "2026-11-23T12:38:61Z",       // second
             "2026-11-23T12:38:07.Z",      // empty fraction
             "2026-11-23T12:38:07Zjunk",   // trailing text
             "2026-11-23T12:38:07+0100",   // offset without colon
             "2026-11-23T12:38:07+01",     // offset without minutes
             "2026-11-23T12:38:07+24:00",  // offset hour
             "2026-11-23T12:38:07+01:60",  // offset minute
             "26-11-23T12:38:07Z",         // two-digit year
             "2026-1-23T12:38:07Z",        // one-digit month
         }) {
        CAPTURE(bad);
        auto parsed = ParseRfc3339Nanos(bad);
        CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("FormatRfc3339Nanos: UTC with 9 fraction digits, round-trips", "[time]") {
    CHECK(FormatRfc3339Nanos(0) == "1970-01-01T00:00:00.000000000Z");
    CHECK(FormatRfc3339Nanos(1795437487LL * kSecond + 423818976) ==
          "2026-11-23T12:38:07.423818976Z");
    CHECK(FormatRfc3339Nanos(-500'000'000) == "1969-12-31T23:59:59.500000000Z");
    for (const char* text : {"2018-02-06T00:00:18.419889342Z", "2000-02-29T23:59:59.000000001Z"}) {
        CAPTURE(text);
        CHECK(FormatRfc3339Nanos(*ParseRfc3339Nanos(text)) == text);
    }
}

}  // namespace wisp::common
