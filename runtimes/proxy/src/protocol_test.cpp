#include "protocol.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

using namespace wisp::proxy;

TEST_CASE("ParseInitRequest reads OpenWhisk's /init body", "[protocol]") {
    std::string error;
    auto req = ParseInitRequest(
        R"({"value":{"name":"hello","main":"handler","binary":false,"code":"def handler(a): pass",
            "env":{"__OW_NAMESPACE":"guest","N":3,"O":{"a":[1,true]},"Z":null}}})",
        error);
    REQUIRE(req);
    CHECK(req->name == "hello");
    CHECK(req->main == "handler");
    CHECK_FALSE(req->binary);
    REQUIRE(req->code);
    CHECK(*req->code == "def handler(a): pass");
    using Env = std::vector<std::pair<std::string, std::string>>;
    CHECK(req->env ==
          Env{{"__OW_NAMESPACE", "guest"}, {"N", "3"}, {"O", R"({"a":[1,true]})"}, {"Z", ""}});
}

TEST_CASE("ParseInitRequest defaults and errors", "[protocol]") {
    std::string error;
    auto req = ParseInitRequest(R"({"value":{"main":"","binary":true,"code":null}})", error);
    REQUIRE(req);
    CHECK(req->main == "main");
    CHECK(req->binary);
    CHECK_FALSE(req->code);

    req = ParseInitRequest("{}", error);
    REQUIRE(req);
    CHECK_FALSE(req->code);

    CHECK_FALSE(ParseInitRequest("{\"value\":", error));
    CHECK(error.starts_with("Error unmarshaling request: "));
    CHECK_FALSE(ParseInitRequest(R"({"value":[1]})", error));
    CHECK_FALSE(ParseInitRequest(R"({"value":{"code":5}})", error));
    CHECK_FALSE(ParseInitRequest(std::string("{\"value\":{}}\0", 13), error));
}

TEST_CASE("ScanRunRequest validates and finds the type of value", "[protocol]") {
    auto scan = ScanRunRequest(R"({"value":{"value":5},"activation_id":"a"})");
    CHECK(scan.valid_json);
    CHECK(scan.is_object);
    CHECK(scan.value == RunScan::Value::kObject);

    CHECK(ScanRunRequest(R"({"namespace":"x","value":[1,{"value":2}]})").value ==
          RunScan::Value::kArray);
    CHECK(ScanRunRequest(R"({"namespace":"x"})").value == RunScan::Value::kMissing);
    CHECK(ScanRunRequest(R"({"value":"text"})").value == RunScan::Value::kOther);
    CHECK(ScanRunRequest(R"({"other":{"value":1}})").value == RunScan::Value::kMissing);

    scan = ScanRunRequest(R"([{"value":{}}])");
    CHECK(scan.valid_json);
    CHECK_FALSE(scan.is_object);
    scan = ScanRunRequest(R"({"value":{})");
    CHECK_FALSE(scan.valid_json);
    CHECK(scan.error.starts_with("Error unmarshaling request: "));
    CHECK_FALSE(ScanRunRequest(R"({"value":{}} trailing)").valid_json);
}

TEST_CASE("ParseRunRequest turns keys into __OW_ variables", "[protocol]") {
    std::string error;
    auto req = ParseRunRequest(
        R"({"value":{"name":"Ann"},"namespace":"guest","action_name":"/guest/hello",
            "activation_id":"abc","deadline":"1700000000000","api_key":null,"n":5})",
        error);
    REQUIRE(req);
    CHECK(req->value_json == R"({"name":"Ann"})");
    using Env = std::vector<std::pair<std::string, std::string>>;
    CHECK(req->env == Env{{"__OW_NAMESPACE", "guest"},
                          {"__OW_ACTION_NAME", "/guest/hello"},
                          {"__OW_ACTIVATION_ID", "abc"},
                          {"__OW_DEADLINE", "1700000000000"},
                          {"__OW_API_KEY", ""},
                          {"__OW_N", "5"}});

    req = ParseRunRequest(R"({"value":null})", error);
    REQUIRE(req);
    CHECK(req->value_json == "{}");
    CHECK_FALSE(ParseRunRequest(R"({"value":1})", error));
    CHECK(error == kArgumentNotObjectText);
}

TEST_CASE("ActivationEnvName upper-cases after __OW_", "[protocol]") {
    CHECK(ActivationEnvName("activation_id") == "__OW_ACTIVATION_ID");
    CHECK(ActivationEnvName("apiKey2") == "__OW_APIKEY2");
}

TEST_CASE("MakeOneLine strips line breaks and ends the line", "[protocol]") {
    std::string body = "{\r\n  \"value\": {\n \"a\": \"x\\ny\"}\n}";
    MakeOneLine(body);
    CHECK(body == "{  \"value\": { \"a\": \"x\\ny\"}}\n");
}

TEST_CASE("IsJsonObjectOrArray accepts only one object or array", "[protocol]") {
    CHECK(IsJsonObjectOrArray("{}"));
    CHECK(IsJsonObjectOrArray(" [1,2,{\"a\":null}]\n"));
    CHECK(IsJsonObjectOrArray(R"({"error":"boom"})"));
    CHECK_FALSE(IsJsonObjectOrArray(""));
    CHECK_FALSE(IsJsonObjectOrArray("\"text\""));
    CHECK_FALSE(IsJsonObjectOrArray("42"));
    CHECK_FALSE(IsJsonObjectOrArray("null"));
    CHECK_FALSE(IsJsonObjectOrArray("{"));
    CHECK_FALSE(IsJsonObjectOrArray("{} {}"));
    CHECK_FALSE(IsJsonObjectOrArray(R"({"x": NaN})"));
    CHECK_FALSE(IsJsonObjectOrArray(std::string("{}\0", 3)));
}

TEST_CASE("CheckAck reads the launcher's ready line", "[protocol]") {
    CHECK_FALSE(CheckAck(R"({"ok":true})"));
    CHECK(CheckAck(R"({"ok":false,"error":"SyntaxError: bad"})") == "SyntaxError: bad");
    CHECK(CheckAck(R"({"ok":false})") == "The action did not initialize properly.");
    CHECK(CheckAck("garbage") == "The action did not initialize properly.");
}

TEST_CASE("SplitNativeOutput: the last stdout line is the result", "[protocol]") {
    auto split = SplitNativeOutput("log 1\nlog 2\n{\"a\":1}\n");
    CHECK(split.logs == "log 1\nlog 2\n");
    CHECK(split.result == "{\"a\":1}");

    split = SplitNativeOutput("  {\"a\":1}  ");
    CHECK(split.logs.empty());
    CHECK(split.result == "{\"a\":1}");

    split = SplitNativeOutput("log\n{\"a\":1}");
    CHECK(split.logs == "log\n");
    CHECK(split.result == "{\"a\":1}");

    split = SplitNativeOutput("log\n\n");  // an empty last line: no result
    CHECK(split.logs == "log\n");
    CHECK(split.result.empty());

    CHECK(SplitNativeOutput("").result.empty());
    CHECK(SplitNativeOutput("\n").result.empty());
}

TEST_CASE("LastLineSplitter forwards logs early and agrees with SplitNativeOutput", "[protocol]") {
    const std::string out = "first\nsecond line\n\nthird\n{\"result\":true}\n";
    for (size_t chunk = 1; chunk <= out.size(); ++chunk) {
        LastLineSplitter splitter;
        std::string logs;
        for (size_t i = 0; i < out.size(); i += chunk) logs += splitter.Feed(out.substr(i, chunk));
        NativeOutput rest = splitter.Finish();
        logs += rest.logs;
        CAPTURE(chunk);
        CHECK(logs == "first\nsecond line\n\nthird\n");
        CHECK(rest.result == "{\"result\":true}");
    }
    LastLineSplitter splitter;
    CHECK(splitter.Feed("a\nb") == "a\n");
    CHECK(splitter.Feed("\n") == "");
    CHECK(splitter.Feed("c") == "b\n");
    CHECK(splitter.Finish().result == "c");
}

TEST_CASE("LastLineSplitter keeps memory bounded: over-long lines go to the logs", "[protocol]") {
    const std::string big(100, 'x');
    for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}}) {
        CAPTURE(chunk);
        auto run = [&](const std::string& out) {
            LastLineSplitter splitter(16);
            std::string logs;
            for (size_t i = 0; i < out.size(); i += chunk) {
                logs += splitter.Feed(out.substr(i, chunk));
            }
            NativeOutput rest = splitter.Finish();
            logs += rest.logs;
            return std::make_tuple(logs, std::string(rest.result), rest.too_long);
        };
        // An over-long log line stays a log line; the result still comes through.
        auto [logs, result, too_long] = run("a\n" + big + "\nb\n{\"ok\":1}\n");
        CHECK(logs == "a\n" + big + "\nb\n");
        CHECK(result == "{\"ok\":1}");
        CHECK_FALSE(too_long);
        // An over-long last line is a result too long, with or without its newline.
        for (const std::string& tail : {std::string(""), std::string("\n")}) {
            const std::string line = "{\"x\":\"" + big + "\"}";
            auto [logs2, result2, too_long2] = run("a\n" + line + tail);
            CHECK(logs2 == "a\n" + line + "\n");
            CHECK(result2.empty());
            CHECK(too_long2);
        }
        // Exactly at the limit is fine.
        auto [logs3, result3, too_long3] = run("l\n" + std::string(16, 'y') + "\n");
        CHECK(result3 == std::string(16, 'y'));
        CHECK_FALSE(too_long3);
    }
}

TEST_CASE("ErrorBody escapes the text", "[protocol]") {
    CHECK(ErrorBody("say \"hi\"\n") == R"({"error":"say \"hi\"\n"})");
    CHECK(ErrorReply(403, kReinitText).body ==
          R"({"error":"Cannot initialize the action more than once."})");
}

TEST_CASE("WriteSentinels writes the marker to both streams", "[protocol]") {
    int out[2], err[2];
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(err) == 0);
    WriteSentinels(out[1], err[1]);
    char buf[128];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n");
    n = ::read(err[0], buf, sizeof buf);
    CHECK(std::string(buf, static_cast<size_t>(n)) == "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n");
    for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
}
