// What only the in-process bus does: it drops what every subscribed group committed and bounds a
// topic by retention_bytes exactly (InProcessMessagingProvider's RetainedMessages/EndOffset).
// The bus semantics every backend keeps (order, groups, redelivery, sizes, wake-ups, many
// producers, MessageFeed) are the contract suite's; direct delivery (the handler on the sending
// thread) is this backend's only, so its thread and commit behaviour is tested here:
// tests/contract/messaging_contract.cpp, run as messaging_contract_inprocess and
// messaging_contract_kafka.
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

#include <any>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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

TEST_CASE("attachments: the object sent along reaches the consumer, queued or handed over",
          "[messaging][attachment]") {
    InProcessMessagingProvider bus;
    auto producer = bus.GetProducer();
    REQUIRE(producer->CarriesAttachments());
    auto object = std::make_shared<const std::string>("the record");
    using Attached = std::shared_ptr<const std::string>;

    // Queued: two groups read it through Peek(), both get the same object.
    auto a = bus.GetConsumer("t", "a", 10);
    auto b = bus.GetConsumer("t", "b", 10);
    REQUIRE(producer->SendWithAttachment("t", "payload", object).ok());
    REQUIRE(producer->Send("t", "plain").ok());
    for (auto* consumer : {a.get(), b.get()}) {
        auto batch = PeekOk(*consumer);
        REQUIRE(batch.size() == 2);
        CHECK(batch[0].payload == "payload");
        const auto* got = std::any_cast<Attached>(&batch[0].attachment);
        REQUIRE(got != nullptr);
        CHECK(*got == object);  // the same object, not a copy
        CHECK_FALSE(batch[1].attachment.has_value());
    }

    // Handed over on the sending thread (direct delivery).
    std::mutex mu;
    std::vector<Attached> delivered;
    MessageFeed feed(
        bus.GetConsumer("acks", "acks", 16),
        {.description = "acks", .long_poll = std::chrono::minutes(10), .direct_delivery = true},
        [&](Message m) {
            std::lock_guard<std::mutex> lock(mu);
            const auto* got = std::any_cast<Attached>(&m.attachment);
            delivered.push_back(got != nullptr ? *got : nullptr);
        });
    feed.Start();
    REQUIRE(producer->SendWithAttachment("acks", "payload", object).ok());
    {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(delivered.size() == 1);
        CHECK(delivered[0] == object);
    }
    feed.Stop();
}

TEST_CASE("direct delivery: a caught-up feed's handler runs inside Send() on the sending thread",
          "[messaging][direct]") {
    InProcessMessagingProvider bus;
    auto producer = bus.GetProducer();
    std::mutex mu;
    std::vector<std::thread::id> threads;
    std::vector<std::string> payloads;
    MessageFeed feed(
        bus.GetConsumer("completed0", "completed0", 16),
        {.description = "acks", .long_poll = std::chrono::minutes(10), .direct_delivery = true},
        [&](Message m) {
            std::lock_guard<std::mutex> lock(mu);
            threads.push_back(std::this_thread::get_id());
            payloads.push_back(std::move(m.payload));
        });
    feed.Start();
    for (int i = 0; i < 5; ++i) REQUIRE(producer->Send("completed0", std::to_string(i)).ok());
    {
        // Send() returned only after the handler ran: no waiting needed.
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(payloads == std::vector<std::string>{"0", "1", "2", "3", "4"});
        for (const auto& id : threads) CHECK(id == std::this_thread::get_id());
    }
    // Committed at hand-over and not retained: the only group has them all.
    CHECK(bus.RetainedMessages("completed0") == 0);
    CHECK(bus.EndOffset("completed0") == 5);
    feed.Stop();
    REQUIRE(producer->Send("completed0", "next").ok());
    auto next = bus.GetConsumer("completed0", "completed0", 16);
    auto batch = PeekOk(*next);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].payload == "next");
    CHECK(batch[0].offset == 5);
}

TEST_CASE("direct delivery: a full feed leaves the message to its thread; a backlog goes first",
          "[messaging][direct]") {
    InProcessMessagingProvider bus;
    auto producer = bus.GetProducer();
    // Sent before the feed starts: a backlog the feed thread must hand over first.
    REQUIRE(producer->Send("invoker0", "old").ok());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::string, bool>> got;  // payload, on the sending (test) thread
    const auto test_thread = std::this_thread::get_id();
    MessageFeed feed(bus.GetConsumer("invoker0", "invoker0", 16),
                     {.description = "activations",
                      .max_outstanding = 2,
                      .commit = MessageFeed::CommitPolicy::kUpToLowestUnfinished,
                      .direct_delivery = true},
                     [&](Message m) {
                         {
                             std::lock_guard<std::mutex> lock(mu);
                             got.emplace_back(m.payload, std::this_thread::get_id() == test_thread);
                         }
                         cv.notify_all();
                     });
    auto wait_for = [&](size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, kLong, [&] { return got.size() >= n; });
    };
    feed.Start();
    REQUIRE(wait_for(1));
    // Capacity 2, one outstanding: handed on this thread once the feed thread is back in its
    // Peek(), else by the feed thread — after "old" either way.
    REQUIRE(producer->Send("invoker0", "a").ok());
    REQUIRE(wait_for(2));
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(got[0] == std::make_pair(std::string("old"), false));
        CHECK(got[1].first == "a");
    }
    REQUIRE(producer->Send("invoker0", "b").ok());  // full: left to the feed thread
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(got.size() == 2);
    }
    feed.Processed(0);
    REQUIRE(wait_for(3));
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(got[2] == std::make_pair(std::string("b"), false));
    }
    feed.Processed(1);
    feed.Processed(2);
    feed.Drain();  // commits all three
    CHECK(bus.RetainedMessages("invoker0") == 0);
}

TEST_CASE("direct delivery: Close() waits for a delivery in progress", "[messaging][direct]") {
    InProcessMessagingProvider bus;
    auto producer = bus.GetProducer();
    std::promise<void> entered;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> handler_done{false};
    MessageFeed feed(bus.GetConsumer("completed0", "completed0", 16),
                     {.description = "acks", .direct_delivery = true}, [&](Message) {
                         entered.set_value();
                         released.wait();
                         handler_done = true;
                     });
    feed.Start();
    auto sender =
        std::async(std::launch::async, [&] { return producer->Send("completed0", "slow").ok(); });
    entered.get_future().wait();
    auto stopper = std::async(std::launch::async, [&] {
        feed.Stop();
        return handler_done.load();
    });
    // Stop() cannot return while the handler runs.
    CHECK(stopper.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
    release.set_value();
    CHECK(stopper.get());
    CHECK(sender.get());
}

TEST_CASE("feed: Released() frees capacity but holds the commit; max_unfinished bounds it",
          "[messaging]") {
    InProcessMessagingProvider bus;
    auto producer = bus.GetProducer();
    for (const char* payload : {"a", "b", "c"}) REQUIRE(producer->Send("invoker0", payload).ok());
    std::mutex mu;
    std::condition_variable cv;
    std::vector<int64_t> got;
    MessageFeed feed(bus.GetConsumer("invoker0", "invoker0", 16),
                     {.description = "activations",
                      .max_outstanding = 1,
                      .max_unfinished = 2,
                      .commit = MessageFeed::CommitPolicy::kUpToLowestUnfinished},
                     [&](Message m) {
                         {
                             std::lock_guard<std::mutex> lock(mu);
                             got.push_back(m.offset);
                         }
                         cv.notify_all();
                     });
    auto wait_for = [&](size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, kLong, [&] { return got.size() >= n; });
    };
    auto handed = [&] {
        std::lock_guard<std::mutex> lock(mu);
        return got.size();
    };
    feed.Start();
    REQUIRE(wait_for(1));
    CHECK(feed.outstanding() == 1);
    feed.Released(0);  // ran: the next one may go, the commit stays before it
    REQUIRE(wait_for(2));
    feed.Released(1);
    feed.Released(1);  // twice: no capacity freed twice
    CHECK(feed.outstanding() == 0);
    CHECK(handed() == 2);  // two unfinished: max_unfinished holds "c" back
    feed.Processed(0);     // "a" finished: room for "c", and the commit may pass "a" only
    REQUIRE(wait_for(3));
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(got == std::vector<int64_t>{0, 1, 2});
    }
    // The feed thread commits before its next peek: up to "b", which is released, not finished.
    const auto deadline = std::chrono::steady_clock::now() + kLong;
    while (bus.RetainedMessages("invoker0") > 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    CHECK(bus.RetainedMessages("invoker0") == 2);
    feed.Stop();  // as if killed: "b" and "c" go to the group's next consumer
    auto next = bus.GetConsumer("invoker0", "invoker0", 16);
    auto batch = PeekOk(*next);
    REQUIRE(batch.size() == 2);
    CHECK(batch[0].payload == "b");
    CHECK(batch[1].payload == "c");
}
