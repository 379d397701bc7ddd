#include <catch2/catch.hpp>

#include <wisp/common/crypto.hpp>

using namespace wisp::common;

TEST_CASE("Sha256Hex matches the FIPS 180-2 test vectors", "[crypto]") {
    CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("HmacSha256Hex matches RFC 4231 test case 2 and GitHub's documented example",
          "[crypto]") {
    CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    // docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody",
    // payload "Hello, World!".
    CHECK(HmacSha256Hex("It's a Secret to Everybody", "Hello, World!") ==
          "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}
