// The ContainerFactory contract: one suite, run against every container backend (Docker, the
// test fake, Kubernetes against a fake API server). It uses only the
// public interface (invoker/include/wisp/invoker/container.hpp); each backend's binary supplies
// Factory(), the images and the contract action (container_backend.hpp).
//
// The contract, as every backend honours it:
// - Create starts a container whose /init then /run answer through the action protocol; id()
//   is non-empty and unique among live containers; memory_mb() is the spec's.
// - Pause then Resume leaves a container that still answers /run.
// - Destroy is idempotent (the second call is OK); afterwards Run does not answer: it returns
//   an error status or a ProxyResponse with failure kConnectionLost (never an HTTP status).
// - RemoveOrphans(id) removes exactly the live containers labelled wisp.invoker=<id> (they stop
//   answering as destroyed ones do), returns their count, and leaves every other container.
// - ImageExists is true for a present image, false for an absent one (a backend that cannot know,
//   Traits().knows_images == false, answers true for both); Create of an absent image
//   with pull_if_missing=false fails with NotFound or FailedPrecondition and leaves nothing.
// - CollectLogs(2, ...) after a /run returns exactly the lines that activation printed (both
//   streams, sentinels consumed), complete and untruncated; a backend whose logs merge the
//   streams (Traits().separate_log_streams == false) reports every line as stdout.
// Not in the contract (the fake cannot honestly model it): OOM kills, run timeouts, pulls.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include <wisp/testing/catch_status.hpp>
#include <wisp/testing/proxy_bodies.hpp>

#include <wisp/common/json.hpp>
#include <wisp/invoker/container.hpp>

#include "container_backend.hpp"

using namespace wisp::invoker;
using namespace std::chrono_literals;
using wisp::contract::ActionImage;
using wisp::contract::BackendName;
using wisp::contract::EchoActionInit;
using wisp::contract::Factory;
using wisp::contract::FreshInvokerId;
using wisp::contract::MissingImage;

namespace {

constexpr auto kLong = 60s;  // only reached when something is broken

ContainerSpec Spec(const std::string& what, const std::string& invoker_id,
                   int64_t memory_mb = 128) {
    static std::atomic<int> seq{0};
    ContainerSpec spec;
    spec.image = ActionImage();
    spec.name =
        "wskcontract" + std::to_string(::getpid()) + "_" + std::to_string(++seq) + "_guest_" + what;
    spec.memory_mb = memory_mb;
    spec.env = {{"__OW_API_HOST", "http://127.0.0.1:3233"}};
    spec.labels = {{"wisp.invoker", invoker_id}};
    return spec;
}

std::unique_ptr<Container> MustCreate(const ContainerSpec& spec) {
    auto created = Factory().Create(spec);
    INFO(BackendName() << ": Create " << spec.name << ": " << created.status().ToString());
    REQUIRE(created.ok());
    REQUIRE(*created != nullptr);
    return std::move(*created);
}

void MustInit(Container& c) {
    auto init = c.Init(EchoActionInit(), kLong);
    REQUIRE(init.ok());
    INFO(BackendName() << ": /init answered " << init->status << " " << init->body);
    REQUIRE(init->failure == ProxyResponse::Failure::kNone);
    REQUIRE(init->status == 200);
}

std::string RunBody(const std::string& name) {
    return wisp::testing::ProxyRunBody(R"({"name":")" + name + R"(","n":7})", "echo");
}

/// /run with `name`; requires the echo: 200 and {"name":<name>,"n":7}.
void MustEcho(Container& c, const std::string& name) {
    auto run = c.Run(RunBody(name), kLong);
    REQUIRE(run.ok());
    INFO(BackendName() << ": /run answered " << run->status << " " << run->body);
    REQUIRE(run->failure == ProxyResponse::Failure::kNone);
    CHECK(run->status == 200);
    rapidjson::Document doc;
    REQUIRE(wisp::common::ParseJson(run->body, doc).ok());
    REQUIRE(doc.IsObject());
    REQUIRE(doc.HasMember("name"));
    REQUIRE(doc["name"].IsString());
    CHECK(std::string(doc["name"].GetString()) == name);
    REQUIRE(doc.HasMember("n"));
    REQUIRE(doc["n"].IsInt());
    CHECK(doc["n"].GetInt() == 7);
}

/// A destroyed (or removed) container does not answer /run.
void CheckDoesNotAnswer(Container& c) {
    auto run = c.Run(RunBody("gone"), 10s);
    if (!run.ok()) return;  // an error status is within the contract
    INFO(BackendName() << ": /run on a removed container answered " << run->status << " "
                       << run->body);
    CHECK(run->failure == ProxyResponse::Failure::kConnectionLost);
}

/// "<stream>: <text>" per line, sorted: stdout and stderr are separate pipes, so their relative
/// order is not defined.
std::vector<std::string> Texts(const Container::Logs& logs) {
    std::vector<std::string> out;
    for (const auto& l : logs.lines) out.push_back(l.stream + ": " + l.text);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("Create starts a container that answers /init then /run", "[container]") {
    const std::string invoker = FreshInvokerId();
    auto c = MustCreate(Spec("create", invoker, 192));
    CHECK_FALSE(c->id().empty());
    CHECK(c->memory_mb() == 192);
    MustInit(*c);
    MustEcho(*c, "first");
    MustEcho(*c, "second");  // warm: the same container answers again
    REQUIRE(c->Destroy().ok());
}

TEST_CASE("ids are non-empty and unique; containers answer independently", "[container]") {
    const std::string invoker = FreshInvokerId();
    auto a = MustCreate(Spec("ida", invoker));
    auto b = MustCreate(Spec("idb", invoker, 256));
    CHECK_FALSE(a->id().empty());
    CHECK_FALSE(b->id().empty());
    CHECK(a->id() != b->id());
    CHECK(a->memory_mb() == 128);
    CHECK(b->memory_mb() == 256);
    MustInit(*a);
    MustInit(*b);
    MustEcho(*a, "to-a");
    MustEcho(*b, "to-b");
    REQUIRE(a->Destroy().ok());
    MustEcho(*b, "b-outlives-a");
    REQUIRE(b->Destroy().ok());
}

TEST_CASE("Pause then Resume: the container still answers", "[container]") {
    const std::string invoker = FreshInvokerId();
    auto c = MustCreate(Spec("pause", invoker));
    MustInit(*c);
    MustEcho(*c, "before");
    const absl::Status paused = c->Pause();
    INFO(paused.ToString());
    REQUIRE(paused.ok());
    const absl::Status resumed = c->Resume();
    INFO(resumed.ToString());
    REQUIRE(resumed.ok());
    MustEcho(*c, "after");
    SECTION("and again") {
        REQUIRE(c->Pause().ok());
        REQUIRE(c->Resume().ok());
        MustEcho(*c, "again");
    }
    REQUIRE(c->Destroy().ok());
}

TEST_CASE("Destroy is idempotent; a destroyed container does not answer", "[container]") {
    const std::string invoker = FreshInvokerId();
    auto c = MustCreate(Spec("destroy", invoker));
    MustInit(*c);
    MustEcho(*c, "alive");
    REQUIRE(c->Destroy().ok());
    CheckDoesNotAnswer(*c);
    const absl::Status again = c->Destroy();
    INFO(again.ToString());
    CHECK(again.ok());
    // Destroyed containers are not orphans.
    auto removed = Factory().RemoveOrphans(invoker);
    REQUIRE(removed.ok());
    CHECK(*removed == 0);
}

TEST_CASE("RemoveOrphans removes exactly the containers labelled with the invoker id",
          "[container]") {
    const std::string mine = FreshInvokerId();
    const std::string other = FreshInvokerId();
    auto a = MustCreate(Spec("orphana", mine));
    auto b = MustCreate(Spec("orphanb", mine));
    auto x = MustCreate(Spec("otherx", other));
    MustInit(*a);
    MustEcho(*a, "a");
    MustInit(*x);
    MustEcho(*x, "x");

    auto none = Factory().RemoveOrphans(FreshInvokerId());  // an id nobody used
    REQUIRE(none.ok());
    CHECK(*none == 0);

    auto removed = Factory().RemoveOrphans(mine);
    INFO(removed.status().ToString());
    REQUIRE(removed.ok());
    CHECK(*removed == 2);
    CheckDoesNotAnswer(*a);
    CheckDoesNotAnswer(*b);
    MustEcho(*x, "x-survives");

    auto again = Factory().RemoveOrphans(mine);
    REQUIRE(again.ok());
    CHECK(*again == 0);
    // Destroying what RemoveOrphans already removed is fine.
    CHECK(a->Destroy().ok());
    CHECK(b->Destroy().ok());

    auto others = Factory().RemoveOrphans(other);
    REQUIRE(others.ok());
    CHECK(*others == 1);
    CheckDoesNotAnswer(*x);
    CHECK(x->Destroy().ok());
}

TEST_CASE("ImageExists: true for a present image, false for an absent one", "[container]") {
    auto present = Factory().ImageExists(ActionImage());
    INFO(present.status().ToString());
    REQUIRE(present.ok());
    CHECK(*present);
    auto absent = Factory().ImageExists(MissingImage());
    INFO(absent.status().ToString());
    REQUIRE(absent.ok());
    if (wisp::contract::Traits().knows_images) {
        CHECK_FALSE(*absent);
    } else {
        CHECK(*absent);  // cannot know: Create fails fast instead (the next case)
    }
}

TEST_CASE("Create of an absent image fails with NotFound or FailedPrecondition", "[container]") {
    const std::string invoker = FreshInvokerId();
    ContainerSpec spec = Spec("missing", invoker);
    spec.image = MissingImage();
    spec.pull_if_missing = false;
    auto created = Factory().Create(spec);
    INFO(BackendName() << ": " << created.status().ToString());
    REQUIRE_FALSE(created.ok());
    const absl::StatusCode code = created.status().code();
    CHECK((code == absl::StatusCode::kNotFound || code == absl::StatusCode::kFailedPrecondition));
    CHECK_THAT(std::string(created.status().message()), Catch::Contains(MissingImage()));
    // Nothing was left behind.
    auto removed = Factory().RemoveOrphans(invoker);
    REQUIRE(removed.ok());
    CHECK(*removed == 0);
}

TEST_CASE("CollectLogs returns the lines each activation printed", "[container]") {
    const std::string invoker = FreshInvokerId();
    auto c = MustCreate(Spec("logs", invoker));
    MustInit(*c);
    for (const std::string name : {"one", "two"}) {
        MustEcho(*c, name);
        auto logs = c->CollectLogs(2, 1 << 20, kLong);
        INFO(logs.status().ToString());
        REQUIRE(logs.ok());
        CHECK(logs->complete);
        CHECK_FALSE(logs->truncated);
        const std::string err_stream =
            wisp::contract::Traits().separate_log_streams ? "stderr" : "stdout";
        std::vector<std::string> expected{err_stream + ": err " + name, "stdout: out " + name};
        std::sort(expected.begin(), expected.end());
        CHECK(Texts(*logs) == expected);
    }
    REQUIRE(c->Destroy().ok());
}
