#include "log_capture.hpp"

#include <catch2/catch.hpp>

using wisp::proxy::EncodeLogs;
using wisp::proxy::LineCollector;
using wisp::proxy::LogBatch;

TEST_CASE("LineCollector splits lines per stream, keeping the order they ended in", "[logs]") {
    LineCollector c(100);
    c.Feed(1, "a", 10);
    c.Feed(2, "x\n", 11);
    c.Feed(1, "b\nc\n", 12);
    c.Feed(2, "tail", 13);
    LogBatch b = c.Take();
    REQUIRE(b.lines.size() == 4);
    CHECK(b.lines[0].text == "x");
    CHECK(b.lines[0].stream == 2);
    CHECK(b.lines[1].text == "ab");
    CHECK(b.lines[1].unix_nanos == 10);  // when the line started
    CHECK(b.lines[2].text == "c");
    CHECK(b.lines[3].text == "tail");  // an unfinished line ends with the activation
    CHECK_FALSE(b.truncated);
    CHECK(c.Take().lines.empty());
    CHECK(EncodeLogs(b) == "11 stderr x\n10 stdout ab\n12 stdout c\n13 stderr tail\n");
}

TEST_CASE("LineCollector drops from the first line over the limit on, as the invoker does",
          "[logs]") {
    LineCollector c(10);
    c.Feed(1, "12345\n", 1);
    c.Feed(1, "123456\n", 2);  // 11 bytes in all: dropped, and so is what follows
    c.Feed(2, "1\n", 3);
    LogBatch b = c.Take();
    REQUIRE(b.lines.size() == 1);
    CHECK(b.lines[0].text == "12345");
    CHECK(b.truncated);
    // The next activation starts afresh.
    c.Feed(1, "1234567890\n", 4);
    LogBatch next = c.Take();
    CHECK(next.lines.size() == 1);
    CHECK_FALSE(next.truncated);
}

TEST_CASE("LineCollector keeps memory bounded for a line without end", "[logs]") {
    LineCollector c(10);
    for (int i = 0; i < 1000; ++i) c.Feed(1, std::string(1000, 'x'), i);
    LogBatch b = c.Take();
    CHECK(b.lines.empty());
    CHECK(b.truncated);
}
