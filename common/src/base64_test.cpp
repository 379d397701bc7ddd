#include <catch2/catch.hpp>

#include <wisp/common/base64.hpp>

namespace wisp::common {

using Opt = std::optional<std::string>;

TEST_CASE("Base64Encode: standard alphabet, padded", "[base64]") {
    CHECK(Base64Encode("") == "");
    CHECK(Base64Encode("h") == "aA==");
    CHECK(Base64Encode("hi") == "aGk=");
    CHECK(Base64Encode("hello") == "aGVsbG8=");
    CHECK(Base64Encode("guest:key") == "Z3Vlc3Q6a2V5");
    CHECK(Base64Encode(std::string("\xfb\xff\x00", 3)) == "+/8A");
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (auto mode : {Base64Mode::kStrict, Base64Mode::kPadded, Base64Mode::kLenient,
                      Base64Mode::kLineWrapped}) {
        CHECK(Base64Decode(Base64Encode(all), mode) == Opt(all));
    }
}

TEST_CASE("Base64Decode kStrict: padding optional but exact, standard alphabet", "[base64]") {
    CHECK(Base64Decode("aGk=") == Opt("hi"));
    CHECK(Base64Decode("aGk") == Opt("hi"));
    CHECK(Base64Decode("aA==") == Opt("h"));
    CHECK(Base64Decode("aA") == Opt("h"));
    CHECK(Base64Decode("") == Opt(""));
    CHECK_FALSE(Base64Decode("aGk=="));  // too much padding
    CHECK_FALSE(Base64Decode("aA="));    // too little
    CHECK_FALSE(Base64Decode("aGVsbG8h="));
    CHECK_FALSE(Base64Decode("a"));      // a lone character
    CHECK_FALSE(Base64Decode("a-_b"));   // URL-safe alphabet
    CHECK_FALSE(Base64Decode("aG=k"));   // data after padding
    CHECK_FALSE(Base64Decode(" aGk="));  // whitespace is the caller's
    CHECK_FALSE(Base64Decode("aG\nk="));
}

TEST_CASE("Base64Decode kPadded: non-empty, a multiple of 4", "[base64]") {
    constexpr auto kP = Base64Mode::kPadded;
    CHECK(Base64Decode("aGk=", kP) == Opt("hi"));
    CHECK(Base64Decode("aA==", kP) == Opt("h"));
    CHECK(Base64Decode("aGVsbG8h", kP) == Opt("hello!"));
    CHECK_FALSE(Base64Decode("aGk", kP));
    CHECK_FALSE(Base64Decode("", kP));
    CHECK_FALSE(Base64Decode("====", kP));
    CHECK_FALSE(Base64Decode("a===", kP));
    CHECK_FALSE(Base64Decode("aG=k", kP));
    CHECK_FALSE(Base64Decode("a-_b", kP));
    CHECK(IsBase64("aGk=", kP));
    CHECK_FALSE(IsBase64("aGk", kP));
    CHECK(IsBase64("aGk", Base64Mode::kStrict));
}

TEST_CASE("Base64Decode kLenient: both alphabets, padding not checked", "[base64]") {
    constexpr auto kL = Base64Mode::kLenient;
    CHECK(Base64Decode("Z3Vlc3Q6a2V5", kL) == Opt("guest:key"));
    CHECK(Base64Decode("-_8A", kL) == Opt(std::string("\xfb\xff\x00", 3)));
    CHECK(Base64Decode("+/8A", kL) == Opt(std::string("\xfb\xff\x00", 3)));
    CHECK(Base64Decode("aGk==", kL) == Opt("hi"));
    CHECK(Base64Decode("aGkx2", kL) == Opt("hi1"));  // an incomplete group's bits dropped
    CHECK_FALSE(Base64Decode("aGk===", kL));
    CHECK_FALSE(Base64Decode("aG=k", kL));
    CHECK_FALSE(Base64Decode("Z3V!", kL));
    CHECK_FALSE(Base64Decode("Z3V ", kL));
}

TEST_CASE("Base64Decode kLineWrapped: whitespace skipped, padding count not checked", "[base64]") {
    constexpr auto kW = Base64Mode::kLineWrapped;
    CHECK(Base64Decode("aGVsbG8=", kW) == Opt("hello"));
    CHECK(Base64Decode("aGVsbG8", kW) == Opt("hello"));
    CHECK(Base64Decode("aGVs\nbG8h", kW) == Opt("hello!"));
    CHECK(Base64Decode(" aGVs\r\n\tbG8h \n", kW) == Opt("hello!"));
    CHECK(Base64Decode("aGk=\n", kW) == Opt("hi"));  // whitespace after the padding
    CHECK(Base64Decode("aGk==", kW) == Opt("hi"));   // the padding need not fit the group
    CHECK(Base64Decode("", kW) == Opt(""));
    CHECK_FALSE(Base64Decode("aGVs*G8=", kW));
    CHECK_FALSE(Base64Decode("aGVsbG8=x", kW));  // data after padding
    CHECK_FALSE(Base64Decode("a", kW));          // a lone character
    CHECK_FALSE(Base64Decode("aGk===", kW));
    CHECK_FALSE(Base64Decode("a-_b", kW));  // URL-safe alphabet
}

TEST_CASE("Base64DecodePrefix: the whole text validated, the head kept", "[base64]") {
    CHECK(Base64DecodePrefix("aGVsbG8h", 4, Base64Mode::kPadded) == Opt("hell"));
    CHECK(Base64DecodePrefix("aGk=", 4, Base64Mode::kPadded) == Opt("hi"));
    CHECK_FALSE(Base64DecodePrefix("aGVsbG8h!!!!", 4, Base64Mode::kPadded));
}

}  // namespace wisp::common
