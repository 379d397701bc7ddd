#pragma once
// Test support for the controller's unit tests (controller_test, webhook_handler_test,
// alarm_controller_test, alarm_feed_test, keep_warm_test, record_retry_test,
// trigger_feed_name_test): a Controller driven directly (no sockets) over an in-memory SQLite
// store and a FakeBalancer. Header-only; includes Catch2 (use it only in *_test.cpp).
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/document.h>

#include <catch2/catch.hpp>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/manual_clock.hpp>

namespace wisp::controller::test_support {

/// Stores the subject `name` with its one namespace `name` and the key `auth` ("uuid:key").
inline void PutSubject(store::ArtifactStore& store, const std::string& name,
                       std::string_view auth) {
    common::Subject subject;
    subject.subject = name;
    subject.namespaces.push_back({name, common::AuthKey::Parse(auth).value()});
    REQUIRE(store.PutSubject(subject, "").ok());
}

/// The balancer of the controller tests: it stores the records in `store`; with `run_actions`
/// it "runs" every action itself (the arguments plus {"ran":"<action>"}, an application error
/// when the arguments hold "fail"), else it answers nothing.
inline std::unique_ptr<testing::FakeBalancer> MakeFakeBalancer(store::ArtifactStore& store,
                                                               bool run_actions = true) {
    testing::FakeBalancer::Options options;
    options.store = &store;
    if (run_actions) options.respond = testing::FakeBalancer::ArgumentsPlusRan("\"fail\"");
    return std::make_unique<testing::FakeBalancer>(std::move(options));
}

/// A Controller over an in-memory SQLite store and a FakeBalancer, on a ManualClock. The derived
/// fixture's constructor stores its subjects, sets the clock and calls Start; the destructor shuts
/// the controller and the balancer down. Whatever the controller uses lives here (a member of the
/// derived fixture would be gone before that shutdown).
struct ControllerOverSqlite {
    std::unique_ptr<store::ArtifactStore> store =
        store::OpenArtifactStore("sqlite::memory:").value();
    std::unique_ptr<testing::FakeBalancer> balancer;
    testing::ManualClock clock;
    std::unique_ptr<Controller> controller;

    ControllerOverSqlite() = default;
    ControllerOverSqlite(const ControllerOverSqlite&) = delete;
    ControllerOverSqlite& operator=(const ControllerOverSqlite&) = delete;
    ~ControllerOverSqlite() {
        if (controller) controller->Shutdown();
        if (balancer) balancer->Shutdown();
    }

    /// The balancer (MakeFakeBalancer with `run_actions`), then the controller with `config`.
    void Start(ControllerConfig config, bool run_actions = true) {
        balancer = MakeFakeBalancer(*store, run_actions);
        controller = std::make_unique<Controller>(
            *store, *balancer, common::RuntimeManifest::BuiltIn(), clock, std::move(config));
    }
};

/// A request as the HTTP server hands it over, from 127.0.0.1 (a local client): `target` parsed,
/// Basic auth with `auth` unless it is empty, content-type application/json when `json` and the
/// body is not empty.
inline HttpRequest MakeRequest(std::string method, const std::string& target, std::string body,
                               const std::string& auth, bool json = true) {
    HttpRequest req;
    req.method = std::move(method);
    req.target = target;
    REQUIRE(ParseTarget(target, req.path, req.query));
    if (!auth.empty()) {
        req.headers.emplace_back("authorization", "Basic " + common::Base64Encode(auth));
    }
    if (json && !body.empty()) req.headers.emplace_back("content-type", "application/json");
    req.body = std::move(body);
    req.remote_address = "127.0.0.1";
    return req;
}

/// Hands `req` to the controller and waits up to `within` for the answer: status 0 (body "no
/// answer within N s") when none came. No Catch2 assertions: callable from other threads.
inline HttpResponse Call(Controller& controller, HttpRequest req,
                         std::chrono::seconds within = std::chrono::seconds(10)) {
    auto p = std::make_shared<std::promise<HttpResponse>>();
    auto f = p->get_future();
    controller.Handle(std::move(req), [p](HttpResponse r) { p->set_value(std::move(r)); });
    if (f.wait_for(within) != std::future_status::ready) {
        HttpResponse none;
        none.status = 0;
        none.body = "no answer within " + std::to_string(within.count()) + " s";
        return none;
    }
    return f.get();
}

/// Call() that REQUIREs an answer.
inline HttpResponse Answer(Controller& controller, HttpRequest req,
                           std::chrono::seconds within = std::chrono::seconds(10)) {
    HttpResponse r = Call(controller, std::move(req), within);
    REQUIRE(r.status != 0);
    return r;
}

/// `s` parsed as JSON (REQUIREs that it parses).
inline rapidjson::Document Parse(const std::string& s) {
    rapidjson::Document d;
    REQUIRE(wisp::json::ParseBounded(s, d).empty());
    return d;
}

/// The `error` text of an OpenWhisk error answer (REQUIREs {"error", "code"}).
inline std::string ErrorOf(const HttpResponse& r) {
    auto d = Parse(r.body);
    REQUIRE(d.IsObject());
    REQUIRE(d.HasMember("error"));
    REQUIRE(d.HasMember("code"));
    return d["error"].GetString();
}

}  // namespace wisp::controller::test_support
