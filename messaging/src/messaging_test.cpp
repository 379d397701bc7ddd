// What only the in-process bus does: it drops what every subscribed group committed and bounds a
// topic by retention_bytes exactly (InProcessMessagingProvider's RetainedMessages/EndOffset).
// The bus semantics every backend keeps (order, groups, redelivery, sizes, wake-ups, many
// producers, MessageFeed) are the contract suite's: tests/contract/messaging_contract.cpp, run
// as messaging_contract_inprocess and messaging_contract_kafka.
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/messaging/messaging_provider.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace wisp::messaging;
using namespace std::chrono_literals;

namespace {

constexpr auto kLong = 10s;  // only reached when something is broken

std::vector<Message> PeekOk(MessageConsumer& consumer, std::chrono::milliseconds timeout = kLong) {
    auto batch = consumer.Peek(timeout);
    REQUIRE(batch.ok());
    return std::move(*batch);
}

}  // namespace

TEST_CASE("bus: messages every group committed are dropped; a lagging group keeps them",
          "[messaging]") {
    InProcessMessagingProvider bus;
    auto fast = bus.GetConsumer("t", "fast", 100);
    auto slow = bus.GetConsumer("t", "slow", 100);
    auto producer = bus.GetProducer();
    for (int i = 0; i < 10; ++i) REQUIRE(producer->Send("t", "p").ok());
    CHECK(bus.RetainedMessages("t") == 10);

    REQUIRE(PeekOk(*fast).size() == 10);
    REQUIRE(fast->Commit().ok());
    CHECK(bus.RetainedMessages("t") == 10);  // "slow" has not committed

    REQUIRE(slow->Peek(kLong).ok());
    REQUIRE(slow->Commit().ok());
    CHECK(bus.RetainedMessages("t") == 0);
    CHECK(bus.EndOffset("t") == 10);

    REQUIRE(producer->Send("t", "next").ok());
    auto batch = PeekOk(*fast);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].offset == 10);
}

TEST_CASE("bus: messages wait for the first group; retention_bytes bounds a topic", "[messaging]") {
    InProcessMessagingProvider bus;
    TopicConfig config;
    config.retention_bytes = 30;
    REQUIRE(bus.EnsureTopic("events", config).ok());
    auto producer = bus.GetProducer();
    for (int i = 0; i < 10; ++i) {
        REQUIRE(producer->Send("events", "0123456789").ok());  // 10 bytes each
    }
    CHECK(bus.RetainedMessages("events") == 3);

    // A group arriving late starts at the earliest retained message.
    auto consumer = bus.GetConsumer("events", "late", 100);
    auto batch = PeekOk(*consumer);
    REQUIRE(batch.size() == 3);
    CHECK(batch[0].offset == 7);
}
