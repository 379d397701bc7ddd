#include <wisp/common/limits.hpp>

#include <catch2/catch.hpp>

using namespace wisp::common;

namespace {
std::string Check(ActionLimits l) {
    auto st = l.Validate();
    return st.ok() ? "ok" : std::string(st.message());
}
ActionLimits Timeout(int64_t ms) {
    ActionLimits l;
    l.timeout_ms = ms;
    return l;
}
ActionLimits Memory(int64_t mb) {
    ActionLimits l;
    l.memory_mb = mb;
    return l;
}
ActionLimits Logs(int64_t mb) {
    ActionLimits l;
    l.logs_mb = mb;
    return l;
}
ActionLimits Concurrency(int64_t c) {
    ActionLimits l;
    l.concurrency = c;
    return l;
}
}  // namespace

TEST_CASE("default limits are valid", "[limits]") {
    ActionLimits l;
    CHECK(l.timeout_ms == 60000);
    CHECK(l.memory_mb == 256);
    CHECK(l.logs_mb == 10);
    CHECK(l.concurrency == 1);
    CHECK(Check(l) == "ok");
}

TEST_CASE("timeout bounds 100..300000 ms", "[limits]") {
    CHECK(Check(Timeout(99)) ==
          "duration 99 milliseconds below allowed threshold of 100 milliseconds");
    CHECK(Check(Timeout(50)) ==
          "duration 50 milliseconds below allowed threshold of 100 milliseconds");
    CHECK(Check(Timeout(100)) == "ok");
    CHECK(Check(Timeout(300000)) == "ok");
    CHECK(Check(Timeout(300001)) ==
          "duration 300001 milliseconds exceeds allowed threshold of 300000 milliseconds");
}

TEST_CASE("memory bounds 128..512 MB", "[limits]") {
    CHECK(Check(Memory(127)) == "memory size 127 MB below allowed threshold of 128 MB");
    CHECK(Check(Memory(128)) == "ok");
    CHECK(Check(Memory(512)) == "ok");
    CHECK(Check(Memory(513)) == "memory size 513 MB exceeds allowed threshold of 512 MB");
    CHECK(Check(Memory(1024)) == "memory size 1024 MB exceeds allowed threshold of 512 MB");
}

TEST_CASE("log bounds 0..10 MB", "[limits]") {
    CHECK(Check(Logs(0)) == "ok");
    CHECK(Check(Logs(10)) == "ok");
    CHECK(Check(Logs(11)) == "log size 11 MB exceeds allowed threshold of 10 MB");
    CHECK(Check(Logs(-1)) == "log size -1 MB below allowed threshold of 0 MB");
}

TEST_CASE("concurrency bounds 1..1", "[limits]") {
    CHECK(Check(Concurrency(0)) == "concurrency 0 below allowed threshold of 1");
    CHECK(Check(Concurrency(1)) == "ok");
    CHECK(Check(Concurrency(2)) == "concurrency 2 exceeds allowed threshold of 1");
    ActionLimitBounds wide;
    wide.max_concurrency = 500;
    ActionLimits l = Concurrency(500);
    CHECK(l.Validate(wide).ok());
    l.concurrency = 501;
    CHECK(l.Validate(wide).message() == "concurrency 501 exceeds allowed threshold of 500");
}

TEST_CASE("the first failing limit is reported in OpenWhisk's order", "[limits]") {
    ActionLimits l;
    l.timeout_ms = 1;
    l.memory_mb = 1;
    CHECK(Check(l) == "memory size 1 MB below allowed threshold of 128 MB");
    CHECK(l.Validate().code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("namespace and system limit defaults", "[limits]") {
    NamespaceLimits ns;
    CHECK(ns.empty());
    ns.invocations_per_minute = 10;
    CHECK_FALSE(ns.empty());
    SystemLimits sys;
    CHECK(sys.invocations_per_minute == 60);
    CHECK(sys.concurrent_invocations == 30);
    CHECK(sys.fires_per_minute == 60);
    CHECK(sys.sequence_max_length == 50);
    CHECK(sys.max_code_bytes == 48 * 1024 * 1024);
    CHECK(DefaultActionLimitBounds().max_memory_mb == 512);
}

TEST_CASE("namespace limits narrow the bounds", "[limits]") {
    NamespaceLimits ns;
    ns.max_action_memory = 256;
    ns.min_action_timeout = 1000;
    auto b = BoundsFor(ns);
    CHECK(b.max_memory_mb == 256);
    CHECK(b.min_memory_mb == 128);
    CHECK(b.min_timeout_ms == 1000);
    CHECK(b.max_timeout_ms == 300000);
    ActionLimits l;
    l.memory_mb = 512;
    CHECK(l.Validate(b).message() == "memory size 512 MB exceeds allowed threshold of 256 MB");
    l.memory_mb = 256;
    l.timeout_ms = 999;
    CHECK(l.Validate(b).message() ==
          "duration 999 milliseconds below allowed threshold of 1000 milliseconds");
    CHECK(BoundsFor(NamespaceLimits{}).max_memory_mb == 512);
}

TEST_CASE("byte sizes parse and format in OpenWhisk's ByteSize syntax", "[limits][bytesize]") {
    CHECK(*ParseByteSize("1 MB") == 1048576);
    CHECK(*ParseByteSize("1mb") == 1048576);
    CHECK(*ParseByteSize(" 512 K ") == 512 * 1024);
    CHECK(*ParseByteSize("2G") == 2LL * 1024 * 1024 * 1024);
    CHECK(*ParseByteSize("64 kb") == 64 * 1024);
    CHECK(*ParseByteSize("1048576 B") == 1048576);
    CHECK(*ParseByteSize("100") == 100);
    CHECK(ParseByteSize("1 TB").status().message() ==
          "Size Unit not supported. Only \"B\", \"K[B]\", \"M[B]\" and \"G[B]\" are supported.");
    CHECK(!ParseByteSize("MB").ok());
    CHECK(!ParseByteSize("").ok());
    CHECK(!ParseByteSize("-1 MB").ok());
    CHECK(!ParseByteSize("+1 MB").ok());
    CHECK(ParseByteSize("99999999999999999999").status().message() ==
          "size 99999999999999999999 is too large");
    CHECK(!ParseByteSize("9999999999999 GB").ok());
    CHECK(FormatByteSize(0) == "0 B");
    CHECK(FormatByteSize(1000) == "1000 B");
    CHECK(FormatByteSize(2048) == "2 KB");
    CHECK(FormatByteSize(1048576) == "1 MB");
    CHECK(FormatByteSize(3LL * 1024 * 1024 * 1024) == "3 GB");
    // A formatted size parses back to itself.
    for (int64_t n : {int64_t{0}, int64_t{7}, int64_t{4096}, int64_t{5} << 30}) {
        CHECK(*ParseByteSize(FormatByteSize(n)) == n);
    }
}
