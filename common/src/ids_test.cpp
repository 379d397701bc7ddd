#include <wisp/common/ids.hpp>

#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/clock.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp::common;

namespace {
bool IsLowerHex(const std::string& s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}
}  // namespace

TEST_CASE("ActivationId::Generate makes 32 lowercase hex characters", "[ids]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto id = ActivationId::Generate();
        REQUIRE(id.str().size() == 32);
        REQUIRE(IsLowerHex(id.str()));
        REQUIRE(ActivationId::Parse(id.str()).ok());
        seen.insert(id.str());
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("ActivationId::Generate is thread-safe", "[ids]") {
    std::vector<std::thread> threads;
    std::vector<std::vector<std::string>> out(4);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&out, t] {
            for (int i = 0; i < 500; ++i) out[t].push_back(ActivationId::Generate().str());
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> all;
    for (auto& v : out) all.insert(v.begin(), v.end());
    CHECK(all.size() == 2000);
}

TEST_CASE("ActivationId::Parse accepts only 32 lowercase hex", "[ids]") {
    CHECK(ActivationId::Parse("c7bb1339cb4f40e3a6ccead6c99f804e").ok());
    CHECK(ActivationId::Parse("C7BB1339CB4F40E3A6CCEAD6C99F804E").status().message() ==
          "The activation id is not valid.");
    CHECK(ActivationId::Parse("c7bb1339cb4f40e3a6ccead6c99f804").status().message() ==
          "Activation id length is 31 but must be 32.");
    CHECK(ActivationId::Parse("c7bb1339-cb4f-40e3-a6cc-ead6c99f804e").status().code() ==
          absl::StatusCode::kInvalidArgument);
    CHECK_FALSE(ActivationId::Parse("").ok());
    CHECK_FALSE(ActivationId::Parse("g7bb1339cb4f40e3a6ccead6c99f804e").ok());
    CHECK(ActivationId().empty());
}

TEST_CASE("transaction ids", "[ids]") {
    CHECK(MakeTransactionId("abc-123") == "abc-123");
    auto generated = MakeTransactionId();
    CHECK(generated.size() == 32);
    auto sid = MakeTransactionId("sid_invokerHealth");
    CHECK(sid.size() == 32);
    CHECK(sid != "sid_invokerHealth");
    for (char c : RandomAlphanumeric(500)) {
        REQUIRE(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')));
    }
    CHECK(RandomAlphanumeric(0).empty());
    CHECK(RandomAlphanumeric(7).size() == 7);
}

TEST_CASE("transaction ids: an over-long or unsafe X-Request-ID is replaced", "[ids]") {
    const std::string longest(kMaxRequestIdLength, 'a');
    CHECK(MakeTransactionId(longest) == longest);
    CHECK(MakeTransactionId("c7bb1339-cb4f-40e3_a6cc.ead6:c99f/804e+=@~") ==
          "c7bb1339-cb4f-40e3_a6cc.ead6:c99f/804e+=@~");
    for (const std::string& bad :
         {longest + "a", std::string(100000, 'x'), std::string("a b"), std::string("a\"x"),
          std::string("a\r\nSet-Cookie: x"), std::string("a\0b", 3), std::string("caf\xc3\xa9"),
          std::string("{\"a\":1}")}) {
        const std::string tid = MakeTransactionId(bad);
        CHECK(tid.size() == 32);
        CHECK(tid != bad);
        CHECK(IsUsableRequestId(tid));
    }
}

TEST_CASE("RandomUuid is a v4 UUID", "[ids]") {
    auto u = RandomUuid();
    REQUIRE(u.size() == 36);
    CHECK(u[8] == '-');
    CHECK(u[13] == '-');
    CHECK(u[14] == '4');
    CHECK(u[18] == '-');
    CHECK(u[23] == '-');
    CHECK(std::string("89ab").find(u[19]) != std::string::npos);
}

TEST_CASE("AuthKey parse and generate", "[ids]") {
    auto guest = AuthKey::Parse(kGuestAuth);
    REQUIRE(guest.ok());
    CHECK(guest->uuid == "23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
    CHECK(guest->key.size() == 64);
    CHECK(guest->Compact() == kGuestAuth);
    CHECK_FALSE(AuthKey::Parse("nocolon").ok());
    CHECK_FALSE(AuthKey::Parse(":" + std::string(64, 'a')).ok());
    CHECK_FALSE(AuthKey::Parse("u:" + std::string(63, 'a')).ok());
    CHECK_FALSE(AuthKey::Parse("u:" + std::string(65, 'a')).ok());
    auto gen = AuthKey::Generate();
    CHECK(AuthKey::Parse(gen.Compact()).ok());
    CHECK(gen.uuid.size() == 36);
}

TEST_CASE("clocks", "[clock]") {
    wisp::testing::ManualClock clock(1000);
    CHECK(clock.NowMs() == 1000);
    clock.Advance(500);
    CHECK(clock.NowMs() == 1500);
    CHECK(clock.MonotonicNs() == 1500 * 1000000LL);
    clock.Set(7);
    CHECK(clock.NowMs() == 7);
    auto& sys = SystemClock::Instance();
    CHECK(sys.NowMs() > 1600000000000LL);
    auto a = sys.MonotonicNs();
    CHECK(sys.MonotonicNs() >= a);
}
