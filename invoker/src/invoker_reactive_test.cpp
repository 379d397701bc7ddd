// InvokerReactive over the in-process bus, in front of an InvokerService with fake containers
// and the SQLite store in memory: an ActivationMessage published on invoker0 comes back as acks
// on completed<root controller>, as a controller sees them.
#include <wisp/invoker/invoker_reactive.hpp>

#include <any>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/common/entity_json.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>

#include <wisp/testing/fake_container.hpp>
#include <wisp/testing/manual_clock.hpp>

using namespace wisp;
using namespace std::chrono_literals;
using invoker::InvokerConfig;
using invoker::InvokerReactive;
using invoker::InvokerReactiveConfig;
using invoker::InvokerService;
using invoker::testing::FakeContainerFactory;
using wisp::v1::AcknowledgementMessage;

namespace {

constexpr auto kLong = 10s;  // only reached when something is broken

common::RuntimeManifest Manifest() {
    common::RuntimeManifest::Kind python;
    python.kind = "python:3.11";
    python.image = "wisp/action-python:3.11";
    python.is_default = true;
    return common::RuntimeManifest({python}, {"python:3"}, {"python:3.11"}, {});
}

struct Harness {
    testing::ManualClock clock;
    FakeContainerFactory factory;
    std::unique_ptr<store::ArtifactStore> store;
    std::unique_ptr<InvokerService> service;
    messaging::InProcessMessagingProvider bus;
    std::unique_ptr<messaging::MessageProducer> controller = bus.GetProducer();
    std::unique_ptr<InvokerReactive> reactive;
    std::string revision;

    explicit Harness(InvokerReactiveConfig config = DefaultConfig()) {
        auto opened = store::OpenArtifactStore("sqlite::memory:");
        REQUIRE(opened.ok());
        store = std::move(*opened);
        InvokerConfig service_config;
        service_config.housekeeping_interval = 0ms;
        service_config.worker_threads = 4;
        service_config.stem_cells = false;
        service = std::make_unique<InvokerService>(*store, factory, Manifest(), clock,
                                                   std::move(service_config));
        REQUIRE(service->Start().ok());
        auto put = store->PutEntity(Action(), "");
        REQUIRE(put.ok());
        revision = *put;
        reactive = std::make_unique<InvokerReactive>(bus, *service, std::move(config));
        REQUIRE(reactive->Start().ok());
    }
    ~Harness() {
        reactive->Stop();
        service->Shutdown();
    }

    static InvokerReactiveConfig DefaultConfig() {
        InvokerReactiveConfig config;
        config.instance.set_instance(0);
        config.instance.set_user_memory_mb(2048);
        return config;
    }

    static common::Action Action() {
        common::Action a;
        a.namespace_path = common::EntityPath({"guest"});
        a.name = "hello";
        a.exec = common::CodeExec{"python:3.11", "def main(args):\n    return args\n", false,
                                  std::nullopt};
        a.updated_ms = 1;
        return a;
    }

    wisp::v1::ActivationMessage Message(bool blocking = true, std::string controller = "0") {
        wisp::v1::ActivationMessage m;
        m.mutable_transid()->set_id("tid-1");
        m.mutable_transid()->set_start_ms(clock.NowMs());
        m.mutable_action()->set_path("guest");
        m.mutable_action()->set_name("hello");
        m.mutable_action()->set_version("0.0.1");
        m.set_revision(revision);
        auto* u = m.mutable_user();
        u->set_subject("guest-subject");
        u->set_namespace_name("guest");
        u->set_namespace_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
        u->mutable_auth()->set_uuid("23bc46b1-71f6-4ed5-8c54-816aa4f8c502");
        u->mutable_auth()->set_key(std::string(64, 'k'));
        m.set_activation_id(common::ActivationId::Generate().str());
        if (!controller.empty()) m.mutable_root_controller_index()->set_as_string(controller);
        m.set_blocking(blocking);
        m.set_content_json(R"({"name":"Ada"})");
        m.set_wait_start_ms(clock.NowMs());
        return m;
    }

    void Publish(const wisp::v1::ActivationMessage& m) {
        REQUIRE(controller->Send("invoker0", m.SerializeAsString()).ok());
    }
};

/// Reads acks from `consumer` until `id` got its last one (COMPLETION or COMBINED); returns
/// the acks of `id` in order. On the in-process bus a RESULT or COMBINED ack carries its record
/// attached to the message, not as JSON in it: checked here, and put into `activation_json`
/// (stored form) so the tests read it either way.
std::vector<AcknowledgementMessage> AcksOf(messaging::MessageConsumer& consumer,
                                           const std::string& id) {
    std::vector<AcknowledgementMessage> acks;
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (std::chrono::steady_clock::now() < until) {
        auto batch = consumer.Peek(kLong);
        REQUIRE(batch.ok());
        REQUIRE(consumer.Commit().ok());
        for (const auto& m : *batch) {
            AcknowledgementMessage ack;
            REQUIRE(ack.ParseFromString(m.payload));
            if (ack.activation_id() != id) continue;
            using AttachedRecord = std::shared_ptr<const common::ActivationRecord>;
            const auto* attached = std::any_cast<AttachedRecord>(&m.attachment);
            if (ack.kind() == AcknowledgementMessage::COMPLETION) {
                CHECK(attached == nullptr);
            } else {
                CHECK(ack.activation_json().empty());
                REQUIRE(attached != nullptr);
                REQUIRE(*attached != nullptr);
                ack.set_activation_json(
                    common::ActivationToJson(**attached, common::ActivationJsonForm::kStored));
            }
            acks.push_back(ack);
            if (ack.kind() != AcknowledgementMessage::RESULT) return acks;
        }
    }
    FAIL("no completion for activation " << id);
    return acks;
}

}  // namespace

TEST_CASE(
    "reactive: a blocking activation from invoker0 is answered with RESULT then "
    "COMPLETION on completed0",
    "[reactive]") {
    Harness h;
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto msg = h.Message();
    h.Publish(msg);

    auto acks = AcksOf(*acks_topic, msg.activation_id());
    REQUIRE(acks.size() == 2);
    const auto& result = acks[0];
    CHECK(result.kind() == AcknowledgementMessage::RESULT);
    CHECK(result.transid().id() == "tid-1");
    CHECK(result.instance().instance() == 0);
    CHECK_FALSE(result.is_system_error());
    auto record = common::ActivationFromJson(result.activation_json());
    REQUIRE(record.ok());
    CHECK(record->activation_id.str() == msg.activation_id());
    CHECK(record->response.status == common::ActivationStatus::kSuccess);
    CHECK(record->response.result->text() == R"({"name":"Ada"})");

    const auto& completion = acks[1];
    CHECK(completion.kind() == AcknowledgementMessage::COMPLETION);
    CHECK(completion.activation_id() == msg.activation_id());
    CHECK(completion.activation_json().empty());  // the bus form of a completion: the id only
    CHECK(completion.instance().user_memory_mb() == 2048);
}

TEST_CASE(
    "reactive: with the logs in the /run answer a blocking activation gets one COMBINED ack "
    "carrying result and logs",
    "[reactive]") {
    Harness h;
    h.factory.set_logs_at_hand(true);
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto msg = h.Message();
    h.Publish(msg);

    auto acks = AcksOf(*acks_topic, msg.activation_id());
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].kind() == AcknowledgementMessage::COMBINED);
    auto record = common::ActivationFromJson(acks[0].activation_json());
    REQUIRE(record.ok());
    CHECK(record->response.status == common::ActivationStatus::kSuccess);
    CHECK(record->response.result->text() == R"({"name":"Ada"})");
}

TEST_CASE(
    "reactive: a non-blocking activation gets only a COMPLETION; acks go to the "
    "message's root controller",
    "[reactive]") {
    Harness h;
    auto completed3 = h.bus.GetConsumer("completed3", "completed3", 128);
    auto msg = h.Message(/*blocking=*/false, "3");
    h.Publish(msg);
    auto acks = AcksOf(*completed3, msg.activation_id());
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].kind() == AcknowledgementMessage::COMPLETION);
    CHECK(h.bus.EndOffset("completed0") == 0);

    // No root controller: the configured default ("0").
    auto completed0 = h.bus.GetConsumer("completed0", "completed0", 128);
    auto unnamed = h.Message(/*blocking=*/false, "");
    h.Publish(unnamed);
    CHECK(AcksOf(*completed0, unnamed.activation_id()).size() == 1);
}

TEST_CASE("reactive: a malformed message is skipped and committed; the next one runs",
          "[reactive]") {
    Harness h;
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    REQUIRE(h.controller->Send("invoker0", "\xff\xff\xff garbage").ok());
    wisp::v1::ActivationMessage no_id = h.Message();
    no_id.clear_activation_id();
    h.Publish(no_id);
    auto msg = h.Message();
    h.Publish(msg);
    CHECK(AcksOf(*acks_topic, msg.activation_id()).size() == 2);

    h.reactive->Stop();
    CHECK(h.reactive->outstanding() == 0);
    // Everything was committed: the group's next consumer finds nothing left.
    auto next = h.bus.GetConsumer("invoker0", "invoker0", 16);
    auto rest = next->Peek(0ms);
    REQUIRE(rest.ok());
    CHECK(rest->empty());
}

TEST_CASE(
    "reactive: at most max_peek activations are pulled; Stop() lets the running one "
    "finish and leaves the rest on the bus",
    "[reactive]") {
    auto config = Harness::DefaultConfig();
    config.max_peek = 1;
    Harness h(config);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    h.factory.set_handler([released](invoker::testing::FakeContainer&, std::string_view path,
                                     const std::string& body) {
        if (path == "/run") released.wait();
        return FakeContainerFactory::DefaultReply(path, body);
    });
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto running = h.Message();
    h.Publish(running);
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (h.reactive->outstanding() == 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
    }
    REQUIRE(h.reactive->outstanding() == 1);

    // The pipeline is full: this one stays on the bus.
    auto waiting = h.Message();
    h.Publish(waiting);
    auto stopped = std::async(std::launch::async, [&] { h.reactive->Stop(); });
    // Stop() waits for the running activation.
    CHECK(stopped.wait_for(20ms) == std::future_status::timeout);
    release.set_value();
    REQUIRE(stopped.wait_for(kLong) == std::future_status::ready);
    CHECK(h.reactive->outstanding() == 0);
    CHECK(AcksOf(*acks_topic, running.activation_id()).size() == 2);

    auto next = h.bus.GetConsumer("invoker0", "invoker0", 16);
    auto rest = next->Peek(kLong);
    REQUIRE(rest.ok());
    REQUIRE(rest->size() == 1);
    wisp::v1::ActivationMessage left;
    REQUIRE(left.ParseFromString((*rest)[0].payload));
    CHECK(left.activation_id() == waiting.activation_id());
}

TEST_CASE("reactive: pings on health identify the invoker", "[reactive]") {
    auto config = Harness::DefaultConfig();
    config.send_pings = true;
    config.ping_interval = std::chrono::hours(1);  // the first ping goes out at Start()
    Harness h(config);
    auto health = h.bus.GetConsumer("health", "health0", 16);
    auto batch = health->Peek(kLong);
    REQUIRE(batch.ok());
    REQUIRE(!batch->empty());
    wisp::v1::PingMessage ping;
    REQUIRE(ping.ParseFromString((*batch)[0].payload));
    CHECK(ping.name().instance() == 0);
    CHECK(ping.name().user_memory_mb() == 2048);
    CHECK(ping.is_enabled());
}

TEST_CASE(
    "reactive: the bus is committed only up to the lowest activation whose record is not "
    "stored: a successor gets every unfinished one again (a kill -9 loses none)",
    "[reactive][redelivery]") {
    auto config = Harness::DefaultConfig();
    config.long_poll = 10ms;  // the feed commits before each peek
    Harness h(config);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> runs{0};
    h.factory.set_handler([&runs, released](invoker::testing::FakeContainer&, std::string_view path,
                                            const std::string& body) {
        if (path == "/run") {
            ++runs;
            released.wait();
        }
        return FakeContainerFactory::DefaultReply(path, body);
    });
    auto first = h.Message(/*blocking=*/false);
    auto second = h.Message(/*blocking=*/false);
    h.Publish(first);
    h.Publish(second);
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (runs.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    REQUIRE(runs.load() == 2);  // both taken from the bus and running

    // What a successor of this invoker (after a kill -9 now) would read: both again. (The
    // in-process bus lets a second consumer of the group read the committed offset.)
    auto successor = h.bus.GetConsumer("invoker0", "invoker0", 16);
    auto again = successor->Peek(kLong);
    REQUIRE(again.ok());
    REQUIRE(again->size() == 2);
    successor->Close();

    release.set_value();
    h.reactive->Stop();  // both finish and are stored: everything is committed
    for (const auto& m : {first, second}) {
        auto id = common::ActivationId::Parse(m.activation_id());
        REQUIRE(id.ok());
        CHECK(h.store->GetActivation("guest", *id).ok());
    }
    auto after = h.bus.GetConsumer("invoker0", "invoker0", 16);
    auto rest = after->Peek(0ms);
    REQUIRE(rest.ok());
    CHECK(rest->empty());
}

TEST_CASE(
    "reactive: a message whose activation has a record already is not run again; its final "
    "ack carries the stored record",
    "[reactive][redelivery]") {
    Harness h;
    std::atomic<int> runs{0};
    h.factory.set_handler(
        [&runs](invoker::testing::FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/run") ++runs;
            return FakeContainerFactory::DefaultReply(path, body);
        });
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto msg = h.Message(/*blocking=*/true);
    auto id = common::ActivationId::Parse(msg.activation_id());
    REQUIRE(id.ok());
    common::ActivationRecord stored;
    stored.namespace_path = common::EntityPath({"guest"});
    stored.name = "hello";
    stored.subject = "guest-subject";
    stored.activation_id = *id;
    stored.start_ms = 1000;
    stored.end_ms = 1001;
    stored.response = common::ActivationResponse::Error(common::ActivationStatus::kWhiskError,
                                                        "completed by force");
    REQUIRE(h.store->CreateActivation(stored).ok());

    h.Publish(msg);  // a redelivery
    auto acks = AcksOf(*acks_topic, msg.activation_id());
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].kind() == AcknowledgementMessage::COMBINED);
    auto acked = common::ActivationFromJson(acks[0].activation_json());
    REQUIRE(acked.ok());
    CHECK(acked->response.status == common::ActivationStatus::kWhiskError);
    CHECK(runs.load() == 0);
    CHECK(*h.store->GetActivation("guest", *id) == stored);

    // The next message (no record) runs as usual.
    auto fresh = h.Message(/*blocking=*/true);
    h.Publish(fresh);
    CHECK(AcksOf(*acks_topic, fresh.activation_id()).size() == 2);
    CHECK(runs.load() == 1);
}

TEST_CASE(
    "reactive: a record stored while the activation runs (the controller's forced completion) "
    "stays; the invoker's late result is not written over it",
    "[reactive][redelivery]") {
    Harness h;
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> runs{0};
    h.factory.set_handler([&runs, released](invoker::testing::FakeContainer&, std::string_view path,
                                            const std::string& body) {
        if (path == "/run") {
            ++runs;
            released.wait();
        }
        return FakeContainerFactory::DefaultReply(path, body);
    });
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto msg = h.Message(/*blocking=*/false);
    h.Publish(msg);
    const auto until = std::chrono::steady_clock::now() + kLong;
    while (runs.load() < 1 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    REQUIRE(runs.load() == 1);

    auto id = common::ActivationId::Parse(msg.activation_id());
    REQUIRE(id.ok());
    common::ActivationRecord forced;
    forced.namespace_path = common::EntityPath({"guest"});
    forced.name = "hello";
    forced.subject = "guest-subject";
    forced.activation_id = *id;
    forced.start_ms = 1000;
    forced.end_ms = 1001;
    forced.response = common::ActivationResponse::Error(common::ActivationStatus::kWhiskError,
                                                        "completed by force");
    REQUIRE(h.store->CreateActivation(forced).ok());
    release.set_value();
    REQUIRE(AcksOf(*acks_topic, msg.activation_id()).size() == 1);
    h.reactive->Stop();  // the record write is done
    CHECK(*h.store->GetActivation("guest", *id) == forced);
}

TEST_CASE(
    "reactive: only messages that can have a record are looked up before they run: received "
    "before the invoker started (+ skew margin) or older than the forced-completion age",
    "[reactive][redelivery]") {
    Harness h;
    std::atomic<int> runs{0};
    h.factory.set_handler(
        [&runs](invoker::testing::FakeContainer&, std::string_view path, const std::string& body) {
            if (path == "/run") ++runs;
            return FakeContainerFactory::DefaultReply(path, body);
        });
    auto acks_topic = h.bus.GetConsumer("completed0", "completed0", 128);
    auto store_record_of = [&](const wisp::v1::ActivationMessage& m) {
        auto id = common::ActivationId::Parse(m.activation_id());
        REQUIRE(id.ok());
        common::ActivationRecord r;
        r.namespace_path = common::EntityPath({"guest"});
        r.name = "hello";
        r.subject = "guest-subject";
        r.activation_id = *id;
        r.start_ms = 1000;
        r.end_ms = 1001;
        r.response = common::ActivationResponse::Error(common::ActivationStatus::kWhiskError,
                                                       "completed by force");
        REQUIRE(h.store->CreateActivation(r).ok());
    };

    // 31 s after the start: a message received now is new work, never seen by anyone — no
    // store round trip before it runs (a record planted for it proves no lookup happened).
    h.clock.Advance(31000);
    auto fresh = h.Message(/*blocking=*/true);
    store_record_of(fresh);
    h.Publish(fresh);
    REQUIRE(AcksOf(*acks_topic, fresh.activation_id()).size() == 2);  // it ran: result + done
    CHECK(runs.load() == 1);

    // One received more than 60 s ago may have been completed by force: looked up, not run.
    auto old = h.Message(/*blocking=*/true);
    old.mutable_transid()->set_start_ms(h.clock.NowMs() - 61000);
    store_record_of(old);
    h.Publish(old);
    REQUIRE(AcksOf(*acks_topic, old.activation_id()).size() == 1);  // the stored record
    CHECK(runs.load() == 1);

    // One received before this invoker started: a redelivery, looked up, not run.
    auto before = h.Message(/*blocking=*/true);
    before.mutable_transid()->set_start_ms(h.clock.NowMs() - 31000);
    store_record_of(before);
    h.Publish(before);
    REQUIRE(AcksOf(*acks_topic, before.activation_id()).size() == 1);
    CHECK(runs.load() == 1);
}
