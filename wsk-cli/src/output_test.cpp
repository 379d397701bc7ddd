#include "output.hpp"

#include <cstdlib>

#include <catch2/catch.hpp>

#include "json_out.hpp"
#include "whisk_client.hpp"

using namespace wsk;

namespace {

rapidjson::Document Json(const char* text) {
    rapidjson::Document d;
    REQUIRE(wisp::json::ParseBounded(text, d).empty());
    return d;
}

}  // namespace

TEST_CASE("entity list tables", "[output]") {
    SetColor(false);
    auto actions = Json(
        R"([{"namespace":"guest","name":"hello","annotations":[{"key":"exec","value":"python:3"}]},
                            {"namespace":"guest/pkg","name":"a","annotations":[]}])");
    CHECK(FormatEntityList(EntityKind::kAction, actions, false) ==
          "actions\n"
          "/guest/hello                                                           private "
          "python:3\n"
          "/guest/pkg/a                                                           private \n");
    auto rules = Json(R"([{"namespace":"guest","name":"r","status":"active"}])");
    CHECK(FormatEntityList(EntityKind::kRule, rules, false) ==
          "rules\n/guest/r" + std::string(62, ' ') + " private" + std::string(13, ' ') +
              " active\n");
    auto packages = Json(R"([{"namespace":"guest","name":"p","publish":true}])");
    CHECK(FormatEntityList(EntityKind::kPackage, packages, false) ==
          "packages\n/guest/p" + std::string(62, ' ') + " shared\n");
    auto empty = Json("[]");
    CHECK(FormatEntityList(EntityKind::kTrigger, empty, false) == "triggers\n");
    auto unsorted = Json(R"([{"namespace":"g","name":"b"},{"namespace":"g","name":"a"}])");
    const std::string sorted = FormatEntityList(EntityKind::kTrigger, unsorted, true);
    CHECK(sorted.find("/g/a") < sorted.find("/g/b"));
    CHECK(FormatNamespaceList(Json(R"(["guest"])")) == "namespaces\nguest\n");
}

TEST_CASE("Go durations", "[output]") {
    CHECK(FormatDurationMs(0) == "0s");
    CHECK(FormatDurationMs(35) == "35ms");
    CHECK(FormatDurationMs(1000) == "1s");
    CHECK(FormatDurationMs(1500) == "1.5s");
    CHECK(FormatDurationMs(1234) == "1.234s");
    CHECK(FormatDurationMs(62004) == "1m2.004s");
    CHECK(FormatDurationMs(3600000) == "1h0m0s");
}

TEST_CASE("the activation table", "[output]") {
    SetColor(false);
    setenv("TZ", "UTC", 1);
    tzset();
    auto list = Json(R"([
      {"namespace":"guest","name":"hello","version":"0.0.1","activationId":"0123456789abcdef0123456789abcdef",
       "start":1714557600000,"end":1714557600035,"duration":35,"statusCode":0,
       "annotations":[{"key":"kind","value":"python:3"},{"key":"initTime","value":20}]},
      {"namespace":"guest","name":"t","version":"0.0.1","activationId":"fedcba9876543210fedcba9876543210",
       "start":1714557601000,"statusCode":1}])");
    const std::string table = FormatActivationTable(list);
    CHECK(table ==
          "Datetime            Activation ID                    Kind     Start Duration   Status  "
          "          Entity\n"
          "2024-05-01 10:00:00 0123456789abcdef0123456789abcdef python:3 cold  35ms       "
          "success           guest/hello:0.0.1\n"
          "2024-05-01 10:00:01 fedcba9876543210fedcba9876543210 unknown  warm  0s         "
          "application error guest/t:0.0.1\n");
    CHECK(FormatActivationTable(Json("[]")) == "\n");
    CHECK(TruncateMiddle("abcdefghijklmnopqrstuvwxy", 20) == "abcdefghij...stuvwxy");
    CHECK(TruncateMiddle("abc", 5) == "abc");
}

TEST_CASE("log lines lose their timestamp and stream with --strip", "[output]") {
    CHECK(StripLogTimestamp("2024-05-01T10:00:00.123456789Z stdout: hi there") == "hi there");
    CHECK(StripLogTimestamp("2024-05-01T10:00:00.1Z  stderr: oops") == "oops");
    CHECK(StripLogTimestamp("no timestamp") == "no timestamp");
}

TEST_CASE("summaries", "[output]") {
    SetColor(false);
    auto action =
        Json(R"({"namespace":"guest","name":"hello","parameters":[{"key":"name","value":"x"}],
                          "annotations":[{"key":"parameters","value":[{"name":"place"}]}]})");
    CHECK(FormatSummary(EntityKind::kAction, action) ==
          "action /guest/hello: Returns a result based on parameters name and place\n"
          "   (parameters: *name, place)\n");
    auto bare = Json(R"({"namespace":"guest","name":"t"})");
    CHECK(FormatSummary(EntityKind::kTrigger, bare) ==
          "trigger /guest/t\n   (parameters: none defined)\n");
}

TEST_CASE("error lines and colour", "[output]") {
    SetColor(false);
    WskError e{"Unable to get action 'x': The requested resource does not exist. (code abc)", 148,
               true};
    CHECK(FormatError(e) ==
          "error: Unable to get action 'x': The requested resource does not exist. (code abc)\n"
          "Run 'wsk --help' for usage.\n");
    WskError silent = e;
    silent.display_msg = false;
    silent.display_usage = false;
    CHECK(FormatError(silent).empty());
    SetColor(true);
    CHECK(Ok() == "\033[32mok:\033[0m ");
    SetColor(false);
    CHECK(Ok() == "ok: ");
}

TEST_CASE("Go JSON printing: 4-space indent, sorted maps, struct order", "[output]") {
    auto v = Json(R"({"b":1,"a":{"y":[],"x":{}},"c":[1,"s<>&"],"d":1.5})");
    CHECK(PrettyJson(v) ==
          "{\n    \"a\": {\n        \"x\": {},\n        \"y\": []\n    },\n    \"b\": 1,\n"
          "    \"c\": [\n        1,\n        \"s<>&\"\n    ],\n    \"d\": 1.5\n}\n");
    auto act = Json(R"({"response":{"result":{"b":2,"a":1},"success":true,"status":"success"},
        "activationId":"id","name":"hello","namespace":"guest","extra":1,"start":5,
        "annotations":[{"value":"python:3","key":"kind"}],"logs":[]})");
    CHECK(PrettyJson(act, ActivationShape()) ==
          "{\n"
          "    \"namespace\": \"guest\",\n"
          "    \"name\": \"hello\",\n"
          "    \"version\": \"\",\n"
          "    \"subject\": \"\",\n"
          "    \"activationId\": \"id\",\n"
          "    \"start\": 5,\n"
          "    \"end\": 0,\n"
          "    \"duration\": 0,\n"
          "    \"statusCode\": 0,\n"
          "    \"response\": {\n"
          "        \"status\": \"success\",\n"
          "        \"statusCode\": 0,\n"
          "        \"success\": true,\n"
          "        \"result\": {\n"
          "            \"a\": 1,\n"
          "            \"b\": 2\n"
          "        }\n"
          "    },\n"
          "    \"logs\": [],\n"
          "    \"annotations\": [\n"
          "        {\n"
          "            \"key\": \"kind\",\n"
          "            \"value\": \"python:3\"\n"
          "        }\n"
          "    ]\n"
          "}\n");
    auto action = Json(R"({"name":"a","namespace":"guest","version":"0.0.1","publish":false,
        "exec":{"binary":false,"kind":"python:3"},"limits":{"memory":256,"timeout":60000},
        "parameters":[],"updated":0})");
    CHECK(PrettyJson(action, ActionShape()) ==
          "{\n    \"namespace\": \"guest\",\n    \"name\": \"a\",\n    \"version\": \"0.0.1\",\n"
          "    \"exec\": {\n        \"kind\": \"python:3\",\n        \"binary\": false\n    },\n"
          "    \"limits\": {\n        \"timeout\": 60000,\n        \"memory\": 256\n    },\n"
          "    \"publish\": false\n}\n");
    const Field* exec = FindField(ActionShape(), "Exec");
    REQUIRE(exec != nullptr);
    CHECK(PrettyJsonField(action, *exec) ==
          "{\n    \"kind\": \"python:3\",\n    \"binary\": false\n}\n");
    CHECK(QuoteJson("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST_CASE("responses map to errors and exit codes as in the Go client", "[client]") {
    RequestOptions plain;
    CHECK(!ClassifyResponse(200, R"({"name":"x"})", plain));
    auto missing = ClassifyResponse(
        404, R"({"error":"The requested resource does not exist.","code":"tid1"})", plain);
    REQUIRE(missing);
    CHECK(missing->message == "The requested resource does not exist. (code tid1)");
    CHECK(missing->exit_code == 148);
    CHECK(ClassifyResponse(409, R"({"error":"resource already exists","code":"t"})", plain)
              ->exit_code == 153);
    CHECK(ClassifyResponse(401, R"({"error":"x","code":"t"})", plain)->exit_code == 145);
    CHECK(ClassifyResponse(503, R"({"error":"x","code":"t"})", plain)->exit_code == 247);
    auto garbage = ClassifyResponse(500, "<html>", plain);
    CHECK(garbage->message == "The connection failed, or timed out. (HTTP status code 500)");
    CHECK(garbage->exit_code == 244);
    CHECK(ClassifyResponse(404, "", plain)->message == "Command failed due to an HTTP failure");

    auto app = ClassifyResponse(
        502,
        R"({"activationId":"a","response":{"status":"application error","success":false,"result":{"error":"boom"}}})",
        plain);
    REQUIRE(app);
    CHECK(app->application_error);
    CHECK(!app->display_msg);
    CHECK(app->exit_code == 246);
    auto app_result = ClassifyResponse(502, R"({"error":"boom"})", plain);
    CHECK(app_result->application_error);
    CHECK(app_result->message == "boom");

    RequestOptions blocking;
    blocking.exit_on_timeout = true;
    auto timeout = ClassifyResponse(202, R"({"activationId":"a"})", blocking);
    REQUIRE(timeout);
    CHECK(timeout->timed_out);
    CHECK(timeout->exit_code == 202);
    CHECK(!ClassifyResponse(202, R"({"activationId":"a"})", plain));

    // A 200 carrying a failed activation is an error, except for `activation get` and -r.
    const char* failed = R"({"response":{"status":"application error","success":false}})";
    CHECK(ClassifyResponse(200, failed, plain).has_value());
    RequestOptions record;
    record.activation_record = true;
    CHECK(!ClassifyResponse(200, failed, record));
}

TEST_CASE("application error messages", "[client]") {
    CHECK(ApplicationErrorMessage(Json(R"({"error":"boom"})")) == "boom");
    CHECK(ApplicationErrorMessage(Json(R"({"error":{"error":"a","message":"b"}})")) == "a; b");
    CHECK(ApplicationErrorMessage(Json(R"({"error":{"n":1}})")) == R"({"n":1})");
}
