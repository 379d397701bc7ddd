// Inline logs (a Wisp proxy's /run answer) must give the records the json-file path gives.
#include "inline_logs.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "docker_api.hpp"

using namespace wisp::invoker;
using namespace wisp::invoker::docker;

namespace {

// The same lines through the json-file path: entries "<time> <text>\n", then the sentinels.
Container::Logs ThroughAssembler(const std::vector<std::pair<int, std::string>>& lines,
                                 int64_t limit) {
    LogAssembler assembler(LogCursor{}, 2, limit);
    int64_t t = 1700000000000000000;
    for (const auto& [stream, text] : lines) {
        (void)assembler.OnEntry(
            stream, "2023-11-14T22:13:20." + std::to_string(++t % 1000000000) + "Z " + text + "\n");
    }
    (void)assembler.OnEntry(1, "2023-11-14T22:13:21Z " + std::string(kActivationSentinel) + "\n");
    (void)assembler.OnEntry(2, "2023-11-14T22:13:21Z " + std::string(kActivationSentinel) + "\n");
    return assembler.Finish();
}

std::string Encode(const std::vector<std::pair<int, std::string>>& lines) {
    std::string out;
    int64_t t = 1700000000000000000;
    for (const auto& [stream, text] : lines) {
        out += std::to_string(++t) + (stream == 2 ? " stderr " : " stdout ") + text + "\n";
    }
    return out;
}

}  // namespace

TEST_CASE("docker's time format: trailing zeros of the fraction dropped", "[inline_logs]") {
    CHECK(FormatDockerTime(1700000000123456789) == "2023-11-14T22:13:20.123456789Z");
    CHECK(FormatDockerTime(1700000000120000000) == "2023-11-14T22:13:20.12Z");
    CHECK(FormatDockerTime(1700000000000000000) == "2023-11-14T22:13:20Z");
}

TEST_CASE("inline logs: order, streams, limit and truncation as the json-file path",
          "[inline_logs]") {
    const std::vector<std::pair<int, std::string>> lines = {
        {1, "out 0"}, {2, "err 0"}, {1, ""}, {2, "ünïcode \t tab"}, {1, "out 1 longer line"}};
    for (int64_t limit :
         {int64_t{0}, int64_t{5}, int64_t{10}, int64_t{23}, int64_t{24}, int64_t{1 << 20}}) {
        INFO("limit " << limit);
        Container::Logs via_file = ThroughAssembler(lines, limit);
        Container::Logs via_proxy = ParseInlineLogs(Encode(lines), false, limit);
        CHECK(via_proxy.truncated == via_file.truncated);
        CHECK(via_proxy.complete);
        REQUIRE(via_proxy.lines.size() == via_file.lines.size());
        for (size_t i = 0; i < via_file.lines.size(); ++i) {
            CHECK(via_proxy.lines[i].stream == via_file.lines[i].stream);
            CHECK(via_proxy.lines[i].text == via_file.lines[i].text);
        }
    }
    Container::Logs all = ParseInlineLogs(Encode(lines), false, 1 << 20);
    REQUIRE(all.lines.size() == 5);
    CHECK(all.lines[0].time == "2023-11-14T22:13:20.000000001Z");
    CHECK(all.lines[1].stream == "stderr");
    // The proxy's own bound was hit: truncated even under the action's limit.
    CHECK(ParseInlineLogs(Encode(lines), true, 1 << 20).truncated);
    // Lines of another form are skipped.
    CHECK(ParseInlineLogs("garbage\n12 stdin x\n5 stdout ok\n", false, 100).lines.size() == 1);
}
