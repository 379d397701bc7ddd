// Replier on its own: how every handler answers a Call.
#include "replier.hpp"

#include <optional>

#include <catch2/catch.hpp>

#include <absl/status/status.h>

namespace wisp::controller {

namespace {

struct Answers {
    std::vector<HttpResponse> got;
};

CallPtr MakeCall(Answers& answers) {
    auto call = std::make_shared<Call>();
    call->tid = "tid-1";
    call->req.method = "GET";
    call->req.path = "/api/v1/namespaces/guest/actions";
    call->responder = [&answers](HttpResponse r) { answers.got.push_back(std::move(r)); };
    return call;
}

}  // namespace

TEST_CASE(
    "Replier: answers a call once, with X-Request-ID and the REST CORS headers, and counts "
    "it out of flight",
    "[replier]") {
    Metrics metrics;
    Replier replier(metrics);
    Answers answers;
    auto call = MakeCall(answers);
    replier.StartCall();
    CHECK(replier.in_flight() == 1);

    replier.ReplyJson(call, 200, "{\"ok\":true}");
    replier.ReplyError(call, 500, "second");  // dropped
    REQUIRE(answers.got.size() == 1);
    CHECK(answers.got[0].status == 200);
    CHECK(answers.got[0].body == "{\"ok\":true}");
    CHECK(answers.got[0].Header("X-Request-ID") == "tid-1");
    CHECK(answers.got[0].Header("Access-Control-Allow-Origin") == "*");
    CHECK(replier.in_flight() == 0);
    CHECK(metrics.Render(0).find("wisp_http_requests_total{code=\"200\"} 1") != std::string::npos);
}

TEST_CASE(
    "Replier: a server error's text stays in the log; the client gets OpenWhisk's text and "
    "the transaction id",
    "[replier]") {
    Metrics metrics;
    Replier replier(metrics);
    Answers answers;
    replier.StartCall();
    replier.ReplyStatus(MakeCall(answers), absl::InternalError("sqlite: disk I/O error at /x"));
    REQUIRE(answers.got.size() == 1);
    CHECK(answers.got[0].status == 500);
    CHECK(answers.got[0].body ==
          "{\"error\":\"There was an internal server error.\",\"code\":\"tid-1\"}");

    replier.StartCall();
    replier.ReplyStatus(MakeCall(answers), absl::NotFoundError("The requested resource does not "
                                                               "exist."));
    REQUIRE(answers.got.size() == 2);
    CHECK(answers.got[1].status == 404);
    CHECK(answers.got[1].body ==
          "{\"error\":\"The requested resource does not exist.\",\"code\":\"tid-1\"}");

    replier.StartCall();
    replier.ReplyError(MakeCall(answers), 401, "The supplied authentication is invalid");
    REQUIRE(answers.got.size() == 3);
    CHECK(answers.got[2].Header("WWW-Authenticate") == "Basic realm=\"OpenWhisk secure realm\"");
    CHECK(replier.in_flight() == 0);
}

TEST_CASE("Replier: rest_cors=false leaves the CORS headers to the caller", "[replier]") {
    Metrics metrics;
    Replier replier(metrics);
    Answers answers;
    replier.StartCall();
    replier.Reply(MakeCall(answers), HttpResponse::Text(200, "x"), /*rest_cors=*/false);
    REQUIRE(answers.got.size() == 1);
    CHECK(answers.got[0].Header("Access-Control-Allow-Origin").empty());
    CHECK(answers.got[0].Header("X-Request-ID") == "tid-1");
}

}  // namespace wisp::controller
