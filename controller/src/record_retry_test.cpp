// Records the controller writes itself (a trigger's, a sequence's) when the store refuses them:
// the journal keeps them and stores them once the store takes writes again (issue 12, "Store
// outage": nothing accepted is dropped).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_balancer.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

#include "controller_test_support.hpp"

namespace wisp::controller {
namespace {

constexpr const char* kNs = "/api/v1/namespaces/_";
constexpr const char* kAction = R"({"exec":{"kind":"python:3","code":"def main(a): return a"}})";

struct Setup {
    std::unique_ptr<store::ArtifactStore> inner =
        store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore faulty{*inner};
    std::unique_ptr<testing::FakeBalancer> balancer;
    testing::ManualClock clock;
    std::unique_ptr<Controller> controller;

    Setup() {
        test_support::PutSubject(*inner, "guest", common::kGuestAuth);
        balancer = test_support::MakeFakeBalancer(*inner);  // the invoker's records: not refused
        ControllerConfig config;
        config.journal_sweep_interval = std::chrono::milliseconds(20);
        controller = std::make_unique<Controller>(
            faulty, *balancer, common::RuntimeManifest::BuiltIn(), clock, config);
    }
    ~Setup() {
        controller->Shutdown();
        balancer->Shutdown();
    }

    HttpResponse Send(std::string method, std::string target, std::string body = "") {
        return test_support::Answer(
            *controller, test_support::MakeRequest(std::move(method), target, std::move(body),
                                                   std::string(common::kGuestAuth)));
    }

    std::string IdOf(const HttpResponse& r) {
        rapidjson::Document d;
        REQUIRE(wisp::json::ParseBounded(r.body, d).empty());
        return d["activationId"].GetString();
    }

    /// Waits (up to 30 s) for the record of `id` in the real store.
    bool Stored(const std::string& id) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        const auto aid = common::ActivationId::Parse(id).value();
        while (std::chrono::steady_clock::now() < deadline) {
            if (inner->GetActivation("guest", aid).ok()) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
};

}  // namespace

TEST_CASE("controller: a trigger or sequence record the store refused is stored later",
          "[controller][journal][store-outage]") {
    Setup s;
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/actions/a"), kAction).status == 200);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/triggers/t"), "{}").status == 200);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/rules/r"), R"({"trigger":"/_/t","action":"/_/a"})")
                .status == 200);
    REQUIRE(s.Send("PUT", common::Cat(kNs, "/actions/seq"),
                   R"({"exec":{"kind":"sequence","components":["/_/a","/_/a"]}})")
                .status == 200);

    s.faulty.fail_activation_writes = true;  // the controller's own record writes fail
    auto fired = s.Send("POST", common::Cat(kNs, "/triggers/t"), R"({"x":1})");
    REQUIRE(fired.status == 202);
    const std::string trigger_id = s.IdOf(fired);
    auto seq = s.Send("POST", common::Cat(kNs, "/actions/seq?blocking=true"), R"({"y":2})");
    REQUIRE(seq.status == 200);
    const std::string seq_id = s.IdOf(seq);
    s.balancer->Drain();
    CHECK_FALSE(
        s.inner->GetActivation("guest", common::ActivationId::Parse(trigger_id).value()).ok());
    CHECK_FALSE(s.inner->GetActivation("guest", common::ActivationId::Parse(seq_id).value()).ok());

    s.faulty.fail_activation_writes = false;  // the store takes writes again
    CHECK(s.Stored(trigger_id));
    CHECK(s.Stored(seq_id));
    auto rec = s.inner->GetActivation("guest", common::ActivationId::Parse(seq_id).value());
    REQUIRE(rec.ok());
    CHECK(rec->response.success());
    CHECK(rec->logs.size() == 2);
}

}  // namespace wisp::controller
