// InvokerService when the store refuses activation records: the record is retried with backoff
// (RecordWriter) until the store takes it, Shutdown() waits for it, and activations still queued
// at shutdown get their "shutting down" record stored too — none dropped silently.
#include <wisp/invoker/invoker_service.hpp>

#include <catch2/catch.hpp>
#include <future>
#include <memory>

#include <wisp/store/open_store.hpp>
#include <wisp/testing/fake_container.hpp>
#include <wisp/testing/faulty_artifact_store.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;

namespace {

common::RuntimeManifest PythonManifest() {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = "wisp/action-python:3.11";
    python.is_default = true;
    return common::RuntimeManifest({python}, {"python:3"}, {"python:3.11"}, {});
}

struct Setup {
    testing::ManualClock clock;
    invoker::testing::FakeContainerFactory factory;
    std::unique_ptr<store::ArtifactStore> inner =
        store::OpenArtifactStore("sqlite::memory:").value();
    testing::FaultyArtifactStore store{*inner};
    std::string rev;

    Setup() {
        common::Action a;
        a.namespace_path = common::EntityPath({"guest"});
        a.name = "hello";
        a.exec = common::CodeExec{"python:3.11", "def main(args):\n    return args\n", false,
                                  std::nullopt};
        a.updated_ms = 1;
        rev = inner->PutEntity(a, "").value();
    }

    std::unique_ptr<invoker::InvokerService> Service() {
        invoker::InvokerConfig config;
        config.housekeeping_interval = std::chrono::milliseconds(0);
        config.worker_threads = 2;
        config.records.backoff = {.initial = std::chrono::milliseconds(5),
                                  .multiplier = 1.6,
                                  .jitter = 0.2,
                                  .max = std::chrono::milliseconds(50)};
        return std::make_unique<invoker::InvokerService>(store, factory, PythonManifest(), clock,
                                                         std::move(config));
    }

    wisp::v1::ActivationMessage Message() {
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-store");
        m.mutable_action()->set_path("guest");
        m.mutable_action()->set_name("hello");
        m.set_revision(rev);
        m.mutable_user()->set_subject("guest");
        m.mutable_user()->set_namespace_name("guest");
        m.set_activation_id(common::ActivationId::Generate().str());
        m.set_blocking(false);
        m.set_content_json("{}");
        return m;
    }

    common::ActivationId Id(const wisp::v1::ActivationMessage& m) {
        return common::ActivationId::Parse(m.activation_id()).value();
    }
};

}  // namespace

TEST_CASE("invoker: a record the store refuses is retried until stored, shutdown waits for it",
          "[service][store-failure]") {
    Setup s;
    auto service = s.Service();
    REQUIRE(service->Start().ok());
    s.store.fail_activation_writes = true;
    auto msg = s.Message();
    std::promise<void> acked;
    service->Submit(msg, [&](invoker::AckInfo ack) {
        if (ack.kind != invoker::AckInfo::Kind::kResult) acked.set_value();
    });
    REQUIRE(acked.get_future().wait_for(std::chrono::seconds(30)) == std::future_status::ready);
    service->WaitIdle();
    CHECK(s.inner->GetActivation("guest", s.Id(msg)).status().code() ==
          absl::StatusCode::kNotFound);
    const int attempts_while_down = s.store.activation_writes.load();
    CHECK(attempts_while_down >= 1);
    s.store.fail_activation_writes = false;  // the store is back
    service->Shutdown();                     // waits for the queued record
    auto rec = s.inner->GetActivation("guest", s.Id(msg));
    REQUIRE(rec.ok());
    CHECK(rec->response.status == common::ActivationStatus::kSuccess);
}

TEST_CASE("invoker: activations still queued at shutdown get a stored record",
          "[service][store-failure]") {
    Setup s;
    auto service = s.Service();  // never started: everything stays queued
    s.store.fail_next_activation_writes = 2;
    std::vector<wisp::v1::ActivationMessage> msgs{s.Message(), s.Message()};
    int acks = 0;
    for (const auto& m : msgs) service->Submit(m, [&](invoker::AckInfo) { ++acks; });
    service->Shutdown();
    CHECK(acks == 2);
    for (const auto& m : msgs) {
        auto rec = s.inner->GetActivation("guest", s.Id(m));
        REQUIRE(rec.ok());
        CHECK(rec->response.status == common::ActivationStatus::kWhiskError);
        CHECK(rec->response.result->text().find("The invoker is shutting down.") !=
              std::string::npos);
    }
}
