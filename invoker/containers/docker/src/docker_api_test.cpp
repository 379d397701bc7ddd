// Unit tests of the Docker backend's pure parts (no daemon): names, the create request,
// timestamps, image references, the multiplexed log stream, sentinels and the log cursor; and
// the messages when the engine does not answer.
#include <rapidjson/document.h>
#include <catch2/catch.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/time.hpp>

#include <string>
#include <string_view>
#include <vector>

#include <wisp/invoker/docker_container_factory.hpp>

#include "docker_api.hpp"

using namespace wisp::invoker;
using namespace wisp::invoker::docker;

namespace {

// One frame of docker's multiplexed stream.
std::string Frame(int stream, std::string_view payload) {
    std::string out(8, '\0');
    out[0] = static_cast<char>(stream);
    const auto n = static_cast<uint32_t>(payload.size());
    out[4] = static_cast<char>((n >> 24) & 0xff);
    out[5] = static_cast<char>((n >> 16) & 0xff);
    out[6] = static_cast<char>((n >> 8) & 0xff);
    out[7] = static_cast<char>(n & 0xff);
    out.append(payload);
    return out;
}

std::string Entry(std::string_view time, std::string_view text) {
    return std::string(time) + " " + std::string(text);
}

const std::string kSentinelLine = std::string(kActivationSentinel) + "\n";

// Feeds `stream` through a demuxer in chunks of `chunk` bytes into an assembler.
Container::Logs Collect(const std::string& stream, LogAssembler& assembler, size_t chunk) {
    LogFrameDemuxer demux;
    auto on_frame = [&](int s, std::string_view p) { return !assembler.OnEntry(s, p); };
    for (size_t i = 0; i < stream.size(); i += chunk) {
        if (!demux.Feed(std::string_view(stream).substr(i, chunk), on_frame)) break;
    }
    return assembler.Finish();
}

rapidjson::Document Parse(const std::string& text) {
    rapidjson::Document doc;
    REQUIRE(wisp::json::ParseBounded(text, doc).empty());
    return doc;
}

}  // namespace

TEST_CASE("container names follow docker's rules") {
    CHECK(SanitizeContainerName("wsk0_12_guest_hello") == "wsk0_12_guest_hello");
    CHECK(SanitizeContainerName("wsk0_3_user@example.com_my action!") ==
          "wsk0_3_userexample.com_myaction");
    CHECK(SanitizeContainerName("wsk0_4_gäst_ünïcode") == "wsk0_4_gst_ncode");
    CHECK(SanitizeContainerName("_leading") == "wsk_leading");
    CHECK(SanitizeContainerName(".dot") == "wsk.dot");
    CHECK(SanitizeContainerName("") == "wsk");
    CHECK(SanitizeContainerName("@@@") == "wsk");
    const std::string long_name = SanitizeContainerName(std::string(300, 'a'));
    CHECK(long_name.size() == kMaxContainerNameLength);
    for (char c : SanitizeContainerName("wsk1_2_ns/pkg/act ion?x=1&y#z:tag")) {
        CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'));
    }
}

TEST_CASE("cpu shares are proportional to memory, as OpenWhisk computes them") {
    CHECK(CpuSharesFor(256, 2048) == 128);
    CHECK(CpuSharesFor(128, 2048) == 64);
    CHECK(CpuSharesFor(512, 1024) == 512);
    CHECK(CpuSharesFor(2048, 2048) == 1024);
    CHECK(CpuSharesFor(4096, 2048) == 1024);  // larger than the budget: no division by zero
    CHECK(CpuSharesFor(1, 2048) == 2);        // floor of 2
    CHECK(CpuSharesFor(300, 2048) == 170);    // integer arithmetic: 1024 / (2048 / 300 = 6)
}

TEST_CASE("the create request carries every limit and publishes on 127.0.0.1 only") {
    ContainerSpec spec;
    spec.image = "wisp/action-python:3.11";
    spec.name = "wsk0_1_guest_hello";
    spec.memory_mb = 256;
    spec.env = {{"__OW_API_HOST", "http://127.0.0.1:3233"}, {"A", "b=c"}};
    spec.labels = {{"wisp.invoker", "7"}, {"wisp.kind", "python:3.11"}};
    CreateSettings settings;
    settings.user_memory_mb = 2048;
    settings.socket_host_dir = "/run/wisp/containers/AbC123";
    const auto doc = Parse(BuildCreateBody(spec, settings));

    CHECK(std::string(doc["Image"].GetString()) == "wisp/action-python:3.11");
    CHECK_FALSE(doc["Tty"].GetBool());
    std::vector<std::string> env;
    for (const auto& e : doc["Env"].GetArray()) env.emplace_back(e.GetString());
    CHECK(env == std::vector<std::string>{"__OW_API_HOST=http://127.0.0.1:3233", "A=b=c",
                                          "WISP_PROXY_SOCKET=/run/wisp/proxy.sock"});
    CHECK(std::string(doc["Labels"]["wisp.invoker"].GetString()) == "7");
    CHECK(std::string(doc["Labels"]["wisp.kind"].GetString()) == "python:3.11");
    CHECK(doc["ExposedPorts"].HasMember("8080/tcp"));

    const auto& hc = doc["HostConfig"];
    CHECK(hc["Memory"].GetInt64() == 256LL * 1024 * 1024);
    CHECK(hc["MemorySwap"].GetInt64() == 256LL * 1024 * 1024);
    CHECK(hc["CpuShares"].GetInt64() == 128);
    CHECK(hc["PidsLimit"].GetInt64() == 1024);
    REQUIRE(hc["Ulimits"].Size() == 1);
    CHECK(std::string(hc["Ulimits"][0]["Name"].GetString()) == "nofile");
    CHECK(hc["Ulimits"][0]["Soft"].GetInt64() == 1024);
    CHECK(hc["Ulimits"][0]["Hard"].GetInt64() == 1024);
    REQUIRE(hc["CapDrop"].Size() == 1);
    CHECK(std::string(hc["CapDrop"][0].GetString()) == "ALL");
    CHECK_FALSE(hc.HasMember("CapAdd"));
    REQUIRE(hc["SecurityOpt"].Size() == 1);
    CHECK(std::string(hc["SecurityOpt"][0].GetString()) == "no-new-privileges");
    CHECK(std::string(hc["LogConfig"]["Type"].GetString()) == "json-file");
    CHECK(std::string(hc["NetworkMode"].GetString()) == "bridge");
    CHECK_FALSE(hc.HasMember("Privileged"));
    const auto& bindings = hc["PortBindings"]["8080/tcp"];
    REQUIRE(bindings.Size() == 1);
    CHECK(std::string(bindings[0]["HostIp"].GetString()) == "127.0.0.1");
    CHECK(std::string(bindings[0]["HostPort"].GetString()).empty());
    CHECK(hc["PortBindings"].MemberCount() == 1);
    REQUIRE(hc["Binds"].Size() == 1);
    CHECK(std::string(hc["Binds"][0].GetString()) == "/run/wisp/containers/AbC123:/run/wisp");

    SECTION("without socket folder or published port") {
        settings.socket_host_dir.clear();
        settings.publish_port = false;
        const auto d = Parse(BuildCreateBody(spec, settings));
        CHECK_FALSE(d["HostConfig"].HasMember("PortBindings"));
        CHECK_FALSE(d["HostConfig"].HasMember("Binds"));
        CHECK_FALSE(d.HasMember("ExposedPorts"));
        CHECK(d["Env"].Size() == 2);
    }
    SECTION("json-file rotation, a /tmp tmpfs, no storage size unless set") {
        CHECK(std::string(hc["LogConfig"]["Config"]["max-size"].GetString()) == "10m");
        CHECK(std::string(hc["LogConfig"]["Config"]["max-file"].GetString()) == "2");
        CHECK(std::string(hc["Tmpfs"]["/tmp"].GetString()) == "rw,nosuid,nodev,size=64m");
        CHECK_FALSE(hc.HasMember("StorageOpt"));
        CHECK_FALSE(hc.HasMember("Runtime"));  // the daemon's default runtime
        settings.log_max_size_mb = 3;
        settings.log_max_files = 4;
        settings.tmp_size_mb = 0;
        settings.storage_size_mb = 512;
        const auto d = Parse(BuildCreateBody(spec, settings));
        const auto& h = d["HostConfig"];
        CHECK(std::string(h["LogConfig"]["Config"]["max-size"].GetString()) == "3m");
        CHECK(std::string(h["LogConfig"]["Config"]["max-file"].GetString()) == "4");
        CHECK_FALSE(h.HasMember("Tmpfs"));
        CHECK(std::string(h["StorageOpt"]["size"].GetString()) == "512M");
    }
    SECTION("the OCI runtime (--docker-runtime)") {
        settings.runtime = "crun";
        const auto d = Parse(BuildCreateBody(spec, settings));
        CHECK(std::string(d["HostConfig"]["Runtime"].GetString()) == "crun");
    }
    SECTION("socket only: the proxy gets no TCP listener and no port is published") {
        settings.publish_port = false;
        settings.socket_only = true;
        const auto d = Parse(BuildCreateBody(spec, settings));
        std::vector<std::string> e;
        for (const auto& v : d["Env"].GetArray()) e.emplace_back(v.GetString());
        CHECK(e.back() == "WISP_PROXY_PORT=none");
        CHECK_FALSE(d.HasMember("ExposedPorts"));
        CHECK_FALSE(d["HostConfig"].HasMember("PortBindings"));
    }
    SECTION("names and values with quotes are escaped") {
        spec.env = {{"Q", "a\"b\\c\n"}};
        const auto d = Parse(BuildCreateBody(spec, settings));
        CHECK(std::string(d["Env"][0].GetString()) == "Q=a\"b\\c\n");
    }
}

TEST_CASE("a network sandbox: sleep on the network, bounded, unprivileged, labelled") {
    const auto d = Parse(BuildNetworkSandboxBody(
        "wisp/action-python:3.11", {{"wisp.network-sandbox", "0"}, {"wisp.owner", "o\"1"}},
        "wisp-actions", ""));
    CHECK(std::string(d["Image"].GetString()) == "wisp/action-python:3.11");
    REQUIRE(d["Entrypoint"].Size() == 1);
    CHECK(std::string(d["Entrypoint"][0].GetString()) == "sleep");
    REQUIRE(d["Cmd"].Size() == 1);
    CHECK(std::string(d["Cmd"][0].GetString()) == "infinity");
    CHECK(std::string(d["Labels"]["wisp.network-sandbox"].GetString()) == "0");
    CHECK(std::string(d["Labels"]["wisp.owner"].GetString()) == "o\"1");
    CHECK_FALSE(d.HasMember("ExposedPorts"));
    const auto& hc = d["HostConfig"];
    CHECK(std::string(hc["NetworkMode"].GetString()) == "wisp-actions");
    CHECK(hc["Memory"].GetInt64() == 16 * 1024 * 1024);
    CHECK(hc["MemorySwap"].GetInt64() == 16 * 1024 * 1024);
    CHECK(hc["PidsLimit"].GetInt64() == 8);
    CHECK(std::string(hc["CapDrop"][0].GetString()) == "ALL");
    CHECK(std::string(hc["SecurityOpt"][0].GetString()) == "no-new-privileges");
    CHECK(std::string(hc["LogConfig"]["Type"].GetString()) == "none");
    CHECK_FALSE(hc.HasMember("PortBindings"));
    CHECK_FALSE(hc.HasMember("Binds"));
    CHECK_FALSE(hc.HasMember("Runtime"));
    const auto c = Parse(BuildNetworkSandboxBody("img", {}, "none", "crun"));
    CHECK(std::string(c["HostConfig"]["Runtime"].GetString()) == "crun");
    CHECK(std::string(c["HostConfig"]["NetworkMode"].GetString()) == "none");
}

TEST_CASE("a container joining a network sandbox has no port and the sandbox's network") {
    ContainerSpec spec;
    spec.image = "wisp/action-python:3.11";
    spec.memory_mb = 256;
    CreateSettings settings;
    settings.network = "container:0123abcd";
    settings.publish_port = false;
    settings.socket_only = true;
    settings.socket_host_dir = "/run/wisp/containers/x";
    const auto d = Parse(BuildCreateBody(spec, settings));
    CHECK(std::string(d["HostConfig"]["NetworkMode"].GetString()) == "container:0123abcd");
    CHECK_FALSE(d.HasMember("ExposedPorts"));
    CHECK_FALSE(d["HostConfig"].HasMember("PortBindings"));
}

TEST_CASE("docker since parameter") {
    CHECK(FormatSinceParameter(1795437487LL * 1'000'000'000 + 423818976) == "1795437487.423818976");
    CHECK(FormatSinceParameter(5) == "0.000000005");
}

TEST_CASE("image references for a pull") {
    CHECK(ParseImageReference("openwhisk/action-python-v3.11:nightly").repository ==
          "openwhisk/action-python-v3.11");
    CHECK(ParseImageReference("openwhisk/action-python-v3.11:nightly").tag == "nightly");
    CHECK(ParseImageReference("busybox").tag == "latest");
    CHECK(ParseImageReference("localhost:5000/x").repository == "localhost:5000/x");
    CHECK(ParseImageReference("localhost:5000/x").tag == "latest");
    CHECK(ParseImageReference("localhost:5000/x:1").tag == "1");
    CHECK(ParseImageReference("x@sha256:abcd").repository == "x@sha256:abcd");
    CHECK(ParseImageReference("x@sha256:abcd").tag.empty());
}

TEST_CASE("docker error bodies and pull streams") {
    CHECK(EngineErrorMessage(R"({"message":"No such image: x:1"})") == "No such image: x:1");
    CHECK(EngineErrorMessage("  plain text\n") == "plain text");
    CHECK(PullStreamStatus("{\"status\":\"Pulling from library/x\"}\n"
                           "{\"status\":\"Digest: sha256:1\"}\n")
              .ok());
    const absl::Status denied = PullStreamStatus(
        "{\"status\":\"Pulling\"}\n{\"errorDetail\":{\"message\":\"denied\"},"
        "\"error\":\"pull access denied\"}\n");
    CHECK(absl::IsFailedPrecondition(denied));
    CHECK(denied.message() == "pull access denied");
}

TEST_CASE("the multiplexed log stream is split into frames across any chunking") {
    const std::string stream = Frame(1, "2026-11-23T12:00:00.000000001Z out\n") +
                               Frame(2, "2026-11-23T12:00:00.000000002Z err\n") +
                               Frame(1, std::string(70000, 'x')) + Frame(2, "");
    for (size_t chunk : {size_t{1}, size_t{3}, size_t{8}, size_t{100}, stream.size()}) {
        LogFrameDemuxer demux;
        std::vector<std::pair<int, size_t>> frames;
        for (size_t i = 0; i < stream.size(); i += chunk) {
            demux.Feed(std::string_view(stream).substr(i, chunk), [&](int s, std::string_view p) {
                frames.emplace_back(s, p.size());
                return true;
            });
        }
        REQUIRE(frames.size() == 4);
        CHECK(frames[0] == std::pair<int, size_t>(1, 35));
        CHECK(frames[1] == std::pair<int, size_t>(2, 35));
        CHECK(frames[2] == std::pair<int, size_t>(1, 70000));
        CHECK(frames[3] == std::pair<int, size_t>(2, 0));
        CHECK(demux.pending() == 0);
    }
    SECTION("an incomplete frame is held back") {
        LogFrameDemuxer demux;
        int n = 0;
        demux.Feed(stream.substr(0, 20), [&](int, std::string_view) { return ++n, true; });
        CHECK(n == 0);
        CHECK(demux.pending() == 20);
    }
}

TEST_CASE("logs are cut at the sentinels, one activation at a time") {
    const std::string t1 = "2026-11-23T12:00:00.000000001Z";
    const std::string t2 = "2026-11-23T12:00:00.000000002Z";
    const std::string t3 = "2026-11-23T12:00:00.000000003Z";
    const std::string t4 = "2026-11-23T12:00:00.000000004Z";
    const std::string t5 = "2026-11-23T12:00:01.000000000Z";
    const std::string t6 = "2026-11-23T12:00:01.500000000Z";
    const std::string stream =
        Frame(1, Entry(t1, "hello stdout\n")) + Frame(2, Entry(t2, "hello stderr\n")) +
        Frame(1, Entry(t3, kSentinelLine)) + Frame(2, Entry(t4, kSentinelLine)) +
        Frame(1, Entry(t5, "second\n")) + Frame(1, Entry(t6, kSentinelLine)) +
        Frame(2, Entry(t6, kSentinelLine));  // same nanosecond on both streams

    for (size_t chunk : {size_t{1}, size_t{7}, stream.size()}) {
        LogAssembler first(LogCursor{}, 2, 1 << 20);
        const auto logs = Collect(stream, first, chunk);
        CHECK(logs.complete);
        CHECK_FALSE(logs.truncated);
        REQUIRE(logs.lines.size() == 2);
        CHECK(logs.lines[0].time == t1);
        CHECK(logs.lines[0].stream == "stdout");
        CHECK(logs.lines[0].text == "hello stdout");
        CHECK(logs.lines[1].stream == "stderr");
        CHECK(logs.lines[1].text == "hello stderr");
        CHECK(first.cursor().last_nanos == *wisp::common::ParseRfc3339Nanos(t4));
        CHECK(first.cursor().consumed_at_last == 1);

        // The next call re-reads from the cursor (docker's `since` is inclusive): the entry at
        // t4 comes again and is skipped.
        LogAssembler second(first.cursor(), 2, 1 << 20);
        const std::string again = Frame(2, Entry(t4, kSentinelLine)) +
                                  stream.substr(stream.find(Frame(1, Entry(t5, "second\n"))));
        const auto logs2 = Collect(again, second, chunk);
        CHECK(logs2.complete);
        REQUIRE(logs2.lines.size() == 1);
        CHECK(logs2.lines[0].text == "second");
        CHECK(second.cursor().last_nanos == *wisp::common::ParseRfc3339Nanos(t6));
        CHECK(second.cursor().consumed_at_last == 2);

        // A third call sees both t6 sentinels again and nothing new: incomplete, empty.
        LogAssembler third(second.cursor(), 2, 1 << 20);
        const auto logs3 = Collect(
            Frame(1, Entry(t6, kSentinelLine)) + Frame(2, Entry(t6, kSentinelLine)), third, chunk);
        CHECK_FALSE(logs3.complete);
        CHECK(logs3.lines.empty());
    }
}

TEST_CASE("log collection stops after the wanted sentinels and leaves the rest") {
    const std::string stream = Frame(1, Entry("2026-11-23T12:00:00.1Z", "a\n")) +
                               Frame(1, Entry("2026-11-23T12:00:00.2Z", kSentinelLine)) +
                               Frame(2, Entry("2026-11-23T12:00:00.3Z", kSentinelLine)) +
                               Frame(1, Entry("2026-11-23T12:00:00.4Z", "next activation\n"));
    LogAssembler assembler(LogCursor{}, 2, 1 << 20);
    const auto logs = Collect(stream, assembler, 5);
    CHECK(logs.complete);
    REQUIRE(logs.lines.size() == 1);
    CHECK(*assembler.cursor().last_nanos ==
          *wisp::common::ParseRfc3339Nanos("2026-11-23T12:00:00.3Z"));

    SECTION("one sentinel wanted") {
        LogAssembler one(LogCursor{}, 1, 1 << 20);
        const auto l = Collect(stream, one, 5);
        CHECK(l.complete);
        CHECK(*one.cursor().last_nanos ==
              *wisp::common::ParseRfc3339Nanos("2026-11-23T12:00:00.2Z"));
    }
    SECTION("no sentinel wanted: everything, sentinel lines dropped") {
        LogAssembler none(LogCursor{}, 0, 1 << 20);
        const auto l = Collect(stream, none, 5);
        CHECK(l.complete);
        REQUIRE(l.lines.size() == 2);
        CHECK(l.lines[1].text == "next activation");
    }
}

TEST_CASE("text before a sentinel on the same line is kept") {
    const std::string stream =
        Frame(1, Entry("2026-11-23T12:00:00.1Z", "no newline" + kSentinelLine)) +
        Frame(2, Entry("2026-11-23T12:00:00.2Z", kSentinelLine));
    LogAssembler assembler(LogCursor{}, 2, 1 << 20);
    const auto logs = Collect(stream, assembler, 64);
    CHECK(logs.complete);
    REQUIRE(logs.lines.size() == 1);
    CHECK(logs.lines[0].text == "no newline");
}

TEST_CASE("docker's partial entries of a long line are joined") {
    const std::string part1(16384, 'a');
    const std::string part2(16384, 'b');
    const std::string stream = Frame(1, Entry("2026-11-23T12:00:00.1Z", part1)) +
                               Frame(2, Entry("2026-11-23T12:00:00.15Z", "interleaved\n")) +
                               Frame(1, Entry("2026-11-23T12:00:00.2Z", part2)) +
                               Frame(1, Entry("2026-11-23T12:00:00.3Z", "end\n")) +
                               Frame(1, Entry("2026-11-23T12:00:00.4Z", kSentinelLine)) +
                               Frame(2, Entry("2026-11-23T12:00:00.5Z", kSentinelLine));
    LogAssembler assembler(LogCursor{}, 2, 1 << 20);
    const auto logs = Collect(stream, assembler, 1000);
    REQUIRE(logs.lines.size() == 2);
    CHECK(logs.lines[0].text == "interleaved");
    CHECK(logs.lines[1].time == "2026-11-23T12:00:00.1Z");
    CHECK(logs.lines[1].text == part1 + part2 + "end");
}

TEST_CASE("an endless line is held up to the limit only, and its sentinel still counts") {
    // 64 partial entries of 16 KiB (1 MiB without a newline), then the sentinel ends the line.
    std::string stream;
    for (int i = 0; i < 64; ++i) {
        stream += Frame(1, Entry("2026-11-23T12:00:00." + std::to_string(100 + i) + "Z",
                                 std::string(16384, 'x')));
    }
    stream += Frame(1, Entry("2026-11-23T12:00:01Z", kSentinelLine)) +
              Frame(2, Entry("2026-11-23T12:00:02Z", kSentinelLine));
    LogAssembler assembler(LogCursor{}, 2, 1000);
    const auto logs = Collect(stream, assembler, 5000);
    CHECK(logs.truncated);
    CHECK(logs.complete);  // both sentinels seen, the one ending the long line included
    CHECK(logs.lines.empty());

    // Unfinished at the end: flushed, still capped.
    LogAssembler unfinished(LogCursor{}, 0, 1000);
    const auto cut = Collect(stream.substr(0, stream.size() / 2), unfinished, 5000);
    CHECK(cut.truncated);
    CHECK(cut.lines.empty());
}

TEST_CASE("image names are percent-encoded in Engine API paths") {
    CHECK(ImagePath("wisp/action-python:3.11", "json") ==
          "/images/wisp%2Faction-python%3A3.11/json");
    CHECK(ImagePath("../../containers/x", "json") ==
          "/images/..%2F..%2Fcontainers%2Fx/json");  // never a path of its own
    CHECK(ImagePath("a?b#c", "json") == "/images/a%3Fb%23c/json");
}

TEST_CASE("the byte cap truncates and says so, and still consumes to the sentinels") {
    std::string stream;
    for (int i = 0; i < 10; ++i) {
        stream += Frame(1, Entry("2026-11-23T12:00:00." + std::to_string(i + 1) + "Z",
                                 "line " + std::to_string(i) + "\n"));  // 6 bytes of text each
    }
    stream += Frame(1, Entry("2026-11-23T12:00:01Z", kSentinelLine)) +
              Frame(2, Entry("2026-11-23T12:00:02Z", kSentinelLine));
    LogAssembler assembler(LogCursor{}, 2, 20);
    const auto logs = Collect(stream, assembler, 13);
    CHECK(logs.truncated);
    CHECK(logs.complete);
    REQUIRE(logs.lines.size() == 3);  // 18 bytes; a 4th would exceed 20
    CHECK(logs.lines[2].text == "line 2");
    CHECK(*assembler.cursor().last_nanos ==
          *wisp::common::ParseRfc3339Nanos("2026-11-23T12:00:02Z"));

    LogAssembler zero(LogCursor{}, 2, 0);
    const auto none = Collect(stream, zero, 13);
    CHECK(none.lines.empty());
    CHECK(none.truncated);
}

TEST_CASE("a tail window reaches the cursor when it starts at the cursor's entry") {
    LogCursor cursor;
    CHECK(EntryReachesCursor("anything", cursor));  // no cursor yet: nothing to reach
    cursor.last_nanos = *wisp::common::ParseRfc3339Nanos("2026-11-23T12:00:00.5Z");
    CHECK(EntryReachesCursor("2026-11-23T12:00:00.5Z " + kSentinelLine, cursor));
    CHECK(EntryReachesCursor("2026-11-23T12:00:00.4Z x\n", cursor));
    CHECK_FALSE(EntryReachesCursor("2026-11-23T12:00:00.6Z x\n", cursor));
    CHECK_FALSE(EntryReachesCursor("garbage", cursor));
}

TEST_CASE("entries without a timestamp are kept as text") {
    LogAssembler assembler(LogCursor{}, 0, 1 << 20);
    assembler.OnEntry(1, "not-a-time text\n");
    const auto logs = assembler.Finish();
    REQUIRE(logs.lines.size() == 1);
    CHECK(logs.lines[0].text == "not-a-time text");
    CHECK(logs.lines[0].time.empty());
    CHECK(assembler.malformed() == 1);
}

TEST_CASE("an engine that does not answer gives Unavailable with the way to start it") {
    DockerFactoryOptions options;
    options.socket_path = "/nonexistent/wisp-test/docker.sock";
    options.socket_root = "/tmp";
    DockerContainerFactory factory(options);
    const auto ping = factory.Ping();
    REQUIRE(absl::IsUnavailable(ping));
    CHECK_THAT(
        std::string(ping.message()),
        Catch::StartsWith("Docker at /nonexistent/wisp-test/docker.sock is not answering: "));
    CHECK_THAT(std::string(ping.message()),
               Catch::EndsWith("start it with tools/start-dockerd.sh"));

    ContainerSpec spec;
    spec.image = "wisp/action-python:3.11";
    const auto created = factory.Create(spec);
    REQUIRE(absl::IsUnavailable(created.status()));
    CHECK_THAT(std::string(created.status().message()),
               Catch::Contains("start it with tools/start-dockerd.sh"));
    CHECK(absl::IsUnavailable(factory.RemoveOrphans("0").status()));
    CHECK(absl::IsUnavailable(factory.ImageExists("x").status()));
}
