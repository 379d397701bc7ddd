// The MessagingProvider contract: one suite, run against every bus backend (RocksDB
// env_basic_test style): order per topic, consumer groups, committed offsets surviving a
// consumer restart, redelivery of what was not committed, the size limit, many producers from
// many threads, wake-ups, and MessageFeed on top. It uses only the public interface; each
// backend's binary supplies MakeFreshBus() (messaging_backend.hpp). What passes in process must
// pass on Kafka.
//
// A backend with a network may hand out a topic's messages in smaller batches than were sent,
// so the cases collect until they have what they wait for (Take) instead of expecting one
// batch; "nothing more" is checked by sending a marker and seeing it come next.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/testing/catch_status.hpp>

#include <wisp/messaging/message_feed.hpp>
#include <wisp/messaging/messaging_provider.hpp>

#include "messaging_backend.hpp"

using namespace wisp::messaging;
using namespace std::chrono_literals;
using wisp::contract::BusName;
using wisp::contract::LatencyRounds;
using wisp::contract::MakeFreshBus;

namespace {

constexpr auto kLong = 30s;  // only reached when something is broken

std::vector<Message> PeekOk(MessageConsumer& consumer, std::chrono::milliseconds timeout = kLong) {
    auto batch = consumer.Peek(timeout);
    REQUIRE(batch.ok());
    return std::move(*batch);
}

/// Peeks until `n` messages arrived (each batch at most max_peek); fails the test after kLong
/// or when more than `n` arrived (callers make sure only `n` are there, or use max_peek 1).
std::vector<Message> Take(MessageConsumer& consumer, size_t n) {
    std::vector<Message> got;
    const auto deadline = std::chrono::steady_clock::now() + kLong;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
        auto batch = PeekOk(consumer, 1s);
        CHECK(static_cast<int>(batch.size()) <= consumer.max_peek());
        for (auto& m : batch) got.push_back(std::move(m));
    }
    INFO(BusName() << ": waited for " << n << " messages");
    REQUIRE(got.size() == n);
    return got;
}

std::vector<std::string> Payloads(const std::vector<Message>& messages) {
    std::vector<std::string> payloads;
    for (const auto& m : messages) payloads.push_back(m.payload);
    return payloads;
}

/// Collects what a feed handler receives; waits for a count without sleeping.
struct Collector {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Message> messages;

    void Add(Message m) {
        {
            std::lock_guard<std::mutex> lock(mu);
            messages.push_back(std::move(m));
        }
        cv.notify_all();
    }
    bool WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, kLong, [&] { return messages.size() >= n; });
    }
    size_t size() {
        std::lock_guard<std::mutex> lock(mu);
        return messages.size();
    }
};

}  // namespace

TEST_CASE("bus: a consumer sees its topic's messages in order, in batches of max_peek",
          "[messaging]") {
    auto bus = MakeFreshBus();
    REQUIRE(bus->EnsureTopic("invoker0").ok());
    auto producer = bus->GetProducer();
    auto consumer = bus->GetConsumer("invoker0", "invoker0", 7);
    for (int i = 0; i < 50; ++i) REQUIRE(producer->Send("invoker0", "m" + std::to_string(i)).ok());

    std::vector<Message> all;
    while (all.size() < 50) {
        auto batch = PeekOk(*consumer);
        REQUIRE(!batch.empty());
        CHECK(batch.size() <= 7);
        for (auto& m : batch) all.push_back(std::move(m));
        REQUIRE(consumer->Commit().ok());
    }
    REQUIRE(all.size() == 50);
    for (int i = 0; i < 50; ++i) {
        CHECK(all[i].topic == "invoker0");
        CHECK(all[i].offset == i);
        CHECK(all[i].payload == "m" + std::to_string(i));
    }
    CHECK(PeekOk(*consumer, 0ms).empty());
}

TEST_CASE("bus: Lag() counts the messages after the consumer's position", "[messaging]") {
    auto bus = MakeFreshBus();
    REQUIRE(bus->EnsureTopic("invoker0").ok());
    auto producer = bus->GetProducer();
    auto consumer = bus->GetConsumer("invoker0", "invoker0", 1);
    for (int i = 0; i < 5; ++i) REQUIRE(producer->Send("invoker0", "m" + std::to_string(i)).ok());
    Take(*consumer, 2);
    // A network backend learns the topic's end from its fetches: wait until it has.
    auto lag_becomes = [&consumer](int64_t want) {
        const auto deadline = std::chrono::steady_clock::now() + kLong;
        while (consumer->Lag() != want && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        return consumer->Lag();
    };
    CHECK(lag_becomes(3) == 3);
    Take(*consumer, 3);
    CHECK(lag_becomes(0) == 0);
}

TEST_CASE("bus: peeked but uncommitted messages go to the group's next consumer", "[messaging]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    for (const char* p : {"a", "b", "c"}) REQUIRE(producer->Send("completed0", p).ok());

    auto first = bus->GetConsumer("completed0", "completed0", 1);
    auto batch = Take(*first, 2);
    CHECK(Payloads(batch) == std::vector<std::string>{"a", "b"});
    REQUIRE(first->Commit().ok());  // a, b committed
    batch = Take(*first, 1);
    CHECK(batch[0].payload == "c");
    first->Close();  // crashed before committing c

    auto second = bus->GetConsumer("completed0", "completed0", 10);
    batch = Take(*second, 1);
    CHECK(batch[0].payload == "c");
    CHECK(batch[0].offset == 2);
    REQUIRE(second->Commit().ok());
    second.reset();

    // c was committed: the group's next consumer starts after it.
    REQUIRE(producer->Send("completed0", "d").ok());
    auto third = bus->GetConsumer("completed0", "completed0", 10);
    batch = Take(*third, 1);
    CHECK(batch[0].payload == "d");
    CHECK(batch[0].offset == 3);
}

TEST_CASE("bus: committed offsets survive a consumer restart; other groups keep their own",
          "[messaging]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    // Subscribed before anything is committed: a backend may drop what every group committed.
    auto other = bus->GetConsumer("invoker1", "monitor", 100);
    for (int i = 0; i < 10; ++i) REQUIRE(producer->Send("invoker1", std::to_string(i)).ok());

    {
        auto consumer = bus->GetConsumer("invoker1", "invoker1", 1);
        auto batch = Take(*consumer, 5);
        CHECK(batch.back().offset == 4);
        REQUIRE(consumer->Commit().ok());
        // Peeked without a commit: does not count.
        CHECK_FALSE(PeekOk(*consumer).empty());
    }  // destroyed without committing the last two
    for (int restart = 0; restart < 2; ++restart) {
        auto consumer = bus->GetConsumer("invoker1", "invoker1", 100);
        auto batch = Take(*consumer, 5);
        CHECK(batch.front().offset == 5);
        CHECK(batch.front().payload == "5");
        CHECK(batch.back().payload == "9");
        // The first restart commits nothing, so the second starts at 5 again.
    }
    auto batch = Take(*other, 10);
    CHECK(batch.front().offset == 0);
}

TEST_CASE(
    "bus: CommitUpTo commits a prefix of what was peeked; everything from that offset goes to "
    "the group's next consumer",
    "[messaging][commit-up-to]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    for (int i = 0; i < 6; ++i) REQUIRE(producer->Send("invoker2", "m" + std::to_string(i)).ok());

    auto first = bus->GetConsumer("invoker2", "invoker2", 100);
    auto batch = Take(*first, 6);
    const int64_t third = batch[2].offset;
    const int64_t end = batch.back().offset + 1;
    CHECK(first->CommitUpTo(end + 1).code() == absl::StatusCode::kInvalidArgument);  // unpeeked
    REQUIRE(first->CommitUpTo(batch[1].offset).ok());
    REQUIRE(first->CommitUpTo(third).ok());  // m0, m1 are finished; m2 is not
    CHECK(first->CommitUpTo(batch[1].offset).code() == absl::StatusCode::kInvalidArgument);
    first->Close();  // killed: m2..m5 were handed but never finished

    for (int restart = 0; restart < 2; ++restart) {
        auto next = bus->GetConsumer("invoker2", "invoker2", 100);
        auto again = Take(*next, 4);
        CHECK(again.front().offset == third);
        CHECK(Payloads(again) == std::vector<std::string>{"m2", "m3", "m4", "m5"});
        if (restart == 1) {
            REQUIRE(next->CommitUpTo(again.back().offset + 1).ok());  // all of it: same as Commit
        }
    }
    REQUIRE(producer->Send("invoker2", "after").ok());
    auto last = bus->GetConsumer("invoker2", "invoker2", 100);
    CHECK(Take(*last, 1)[0].payload == "after");
}

TEST_CASE("bus: two groups each see every message", "[messaging]") {
    auto bus = MakeFreshBus();
    auto health_a = bus->GetConsumer("health", "health0", 100);
    auto producer = bus->GetProducer();
    for (const char* p : {"x", "y"}) REQUIRE(producer->Send("health", p).ok());
    // A group that subscribes after the messages were sent (before any group committed them)
    // starts at the earliest message.
    auto health_b = bus->GetConsumer("health", "health1", 100);

    for (auto* consumer : {health_a.get(), health_b.get()}) {
        auto batch = Take(*consumer, 2);
        CHECK(Payloads(batch) == std::vector<std::string>{"x", "y"});
        REQUIRE(consumer->Commit().ok());
    }
}

TEST_CASE("bus: a payload larger than the topic's max_message_bytes is refused", "[messaging]") {
    auto bus = MakeFreshBus();
    TopicConfig small;
    small.max_message_bytes = 10;
    REQUIRE(bus->EnsureTopic("small", small).ok());
    auto producer = bus->GetProducer();
    CHECK(producer->Send("small", std::string(10, 'x')).ok());
    auto refused = producer->Send("small", std::string(11, 'x'));
    CHECK(refused.code() == absl::StatusCode::kOutOfRange);
    CHECK(refused.message().find("11 > 10 bytes") != std::string::npos);

    // Default: OpenWhisk's 1 MB + 6068 B; a message at the limit arrives intact.
    std::string largest(kDefaultMaxMessageBytes, 'x');
    largest.front() = '<';
    largest.back() = '>';
    CHECK(producer->Send("invoker0", largest).ok());
    CHECK(producer->Send("invoker0", std::string(kDefaultMaxMessageBytes + 1, 'x')).code() ==
          absl::StatusCode::kOutOfRange);
    auto consumer = bus->GetConsumer("invoker0", "invoker0", 4);
    auto batch = Take(*consumer, 1);
    CHECK(batch[0].payload.size() == largest.size());
    CHECK(batch[0].payload == largest);

    // An existing topic keeps its config.
    REQUIRE(bus->EnsureTopic("small", TopicConfig{}).ok());
    CHECK(producer->Send("small", std::string(11, 'x')).code() == absl::StatusCode::kOutOfRange);
}

TEST_CASE("bus: bad topic names, bad consumers and closed producers fail with a status",
          "[messaging]") {
    auto bus = MakeFreshBus();
    CHECK(bus->EnsureTopic("").code() == absl::StatusCode::kInvalidArgument);
    CHECK(bus->EnsureTopic("has space").code() == absl::StatusCode::kInvalidArgument);
    CHECK(bus->EnsureTopic(std::string(250, 'a')).code() == absl::StatusCode::kInvalidArgument);
    CHECK(bus->EnsureTopic("completed-0.x_y").ok());

    auto producer = bus->GetProducer();
    CHECK(producer->Send("a/b", "x").code() == absl::StatusCode::kInvalidArgument);

    auto bad = bus->GetConsumer("t", "g", 0);
    CHECK(bad->Peek(0ms).status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(bad->Commit().code() == absl::StatusCode::kInvalidArgument);
    auto no_group = bus->GetConsumer("t", "", 1);
    CHECK(no_group->Peek(0ms).status().code() == absl::StatusCode::kInvalidArgument);

    producer->Close();
    producer->Close();  // idempotent
    CHECK(producer->Send("t", "x").code() == absl::StatusCode::kFailedPrecondition);

    auto consumer = bus->GetConsumer("t", "g", 1);
    consumer->Close();
    consumer->Close();  // idempotent
    CHECK(consumer->Peek(0ms).status().code() == absl::StatusCode::kFailedPrecondition);
    CHECK(consumer->Commit().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("bus: a blocked Peek wakes on a send from another thread, on Wakeup and on Close",
          "[messaging]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();

    SECTION("send") {
        auto consumer = bus->GetConsumer("invoker0", "invoker0", 16);
        auto peeked = std::async(std::launch::async, [&] { return consumer->Peek(kLong); });
        REQUIRE(producer->Send("invoker0", "run").ok());
        REQUIRE(peeked.wait_for(kLong) == std::future_status::ready);
        auto batch = peeked.get();
        REQUIRE(batch.ok());
        REQUIRE(batch->size() == 1);
        CHECK((*batch)[0].payload == "run");
    }
    SECTION("wakeup") {
        auto consumer = bus->GetConsumer("invoker0", "invoker0", 16);
        auto peeked = std::async(std::launch::async, [&] { return consumer->Peek(kLong); });
        consumer->Wakeup();
        REQUIRE(peeked.wait_for(kLong) == std::future_status::ready);
        auto batch = peeked.get();
        REQUIRE(batch.ok());
        CHECK(batch->empty());
        // The consumer still works afterwards.
        REQUIRE(producer->Send("invoker0", "next").ok());
        CHECK(Take(*consumer, 1)[0].payload == "next");
    }
    SECTION("wakeup before the peek") {
        auto consumer = bus->GetConsumer("invoker0", "invoker0", 16);
        consumer->Wakeup();
        const auto start = std::chrono::steady_clock::now();
        auto batch = PeekOk(*consumer, kLong);
        CHECK(batch.empty());
        CHECK(std::chrono::steady_clock::now() - start < kLong);
    }
    SECTION("close") {
        auto consumer = bus->GetConsumer("invoker0", "invoker0", 16);
        auto peeked = std::async(std::launch::async, [&] { return consumer->Peek(kLong); });
        consumer->Close();
        REQUIRE(peeked.wait_for(kLong) == std::future_status::ready);
        CHECK(peeked.get().status().code() == absl::StatusCode::kFailedPrecondition);
    }
}

TEST_CASE("bus: many producers on many threads: every message once, each sender's in order",
          "[messaging]") {
    auto bus = MakeFreshBus();
    constexpr int kThreads = 8;
    constexpr int kPerThread = 50;
    auto shared = bus->GetProducer();  // threads 0-3 share one producer, 4-7 have their own
    auto consumer = bus->GetConsumer("invoker0", "invoker0", 64);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::unique_ptr<MessageProducer> own = t >= 4 ? bus->GetProducer() : nullptr;
            MessageProducer& producer = own ? *own : *shared;
            for (int i = 0; i < kPerThread; ++i) {
                const std::string payload = std::to_string(t) + ":" + std::to_string(i);
                if (!producer.Send("invoker0", payload).ok()) ++failures;
            }
        });
    }
    auto got = Take(*consumer, kThreads * kPerThread);
    for (auto& thread : threads) thread.join();
    CHECK(failures.load() == 0);

    std::map<int, std::vector<int>> per_sender;
    for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].offset == static_cast<int64_t>(i));
        const auto colon = got[i].payload.find(':');
        per_sender[std::stoi(got[i].payload.substr(0, colon))].push_back(
            std::stoi(got[i].payload.substr(colon + 1)));
    }
    REQUIRE(per_sender.size() == kThreads);
    for (const auto& [sender, sequence] : per_sender) {
        INFO("sender " << sender);
        REQUIRE(sequence.size() == kPerThread);
        for (int i = 0; i < kPerThread; ++i) CHECK(sequence[i] == i);
    }
}

TEST_CASE("bus: ping-pong between two threads (hop latency figure)", "[messaging]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    auto pings = bus->GetConsumer("ping", "ponger", 1);
    auto pongs = bus->GetConsumer("pong", "pinger", 1);
    const int rounds = LatencyRounds();

    std::thread ponger([&] {
        for (int i = 0; i < rounds; ++i) {
            auto batch = pings->Peek(kLong);
            if (!batch.ok() || batch->empty()) return;
            (void)pings->Commit();
            (void)producer->Send("pong", std::move((*batch)[0].payload));
        }
    });
    const auto start = std::chrono::steady_clock::now();
    int answered = 0;
    for (int i = 0; i < rounds; ++i) {
        REQUIRE(producer->Send("ping", std::to_string(i)).ok());
        auto batch = PeekOk(*pongs);
        REQUIRE(batch.size() == 1);
        CHECK(batch[0].payload == std::to_string(i));
        REQUIRE(pongs->Commit().ok());
        ++answered;
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ponger.join();
    CHECK(answered == rounds);
    const double hop_us =
        std::chrono::duration<double, std::micro>(elapsed).count() / (2.0 * rounds);
    std::printf("%s bus: %.1f us per hop (mean of %d round trips)\n", BusName().c_str(), hop_us,
                rounds);
}

TEST_CASE("feed: hands every message to the handler in order and commits the batches",
          "[messaging][feed]") {
    const bool direct = GENERATE(false, true);  // where the bus supports direct delivery
    CAPTURE(direct);
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    Collector got;
    MessageFeed feed(bus->GetConsumer("completed0", "completed0", 4),
                     {.description = "acks", .long_poll = 1s, .direct_delivery = direct},
                     [&](Message m) { got.Add(std::move(m)); });
    feed.Start();
    for (int i = 0; i < 20; ++i) REQUIRE(producer->Send("completed0", std::to_string(i)).ok());
    REQUIRE(got.WaitFor(20));
    feed.Stop();
    for (int i = 0; i < 20; ++i) CHECK(got.messages[i].payload == std::to_string(i));

    // Everything handled was committed: the group's next consumer starts after it.
    REQUIRE(producer->Send("completed0", "next").ok());
    auto next = bus->GetConsumer("completed0", "completed0", 100);
    CHECK(Take(*next, 1)[0].payload == "next");
}

TEST_CASE(
    "feed with direct delivery: many senders on many threads: every message once, each sender's "
    "in order, all committed",
    "[messaging][feed][direct]") {
    auto bus = MakeFreshBus();
    constexpr int kThreads = 6;
    constexpr int kPerThread = 50;
    Collector got;
    MessageFeed feed(bus->GetConsumer("completed0", "completed0", 16),
                     {.description = "acks", .long_poll = 1s, .direct_delivery = true},
                     [&](Message m) { got.Add(std::move(m)); });
    feed.Start();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto producer = bus->GetProducer();
            for (int i = 0; i < kPerThread; ++i) {
                if (!producer->Send("completed0", std::to_string(t) + ":" + std::to_string(i))
                         .ok()) {
                    ++failures;
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    REQUIRE(got.WaitFor(kThreads * kPerThread));
    feed.Stop();
    CHECK(failures.load() == 0);
    std::map<int, std::vector<int>> per_sender;
    std::set<int64_t> offsets;
    for (const auto& m : got.messages) {
        offsets.insert(m.offset);
        const auto colon = m.payload.find(':');
        per_sender[std::stoi(m.payload.substr(0, colon))].push_back(
            std::stoi(m.payload.substr(colon + 1)));
    }
    CHECK(offsets.size() == got.messages.size());  // every message once
    REQUIRE(per_sender.size() == kThreads);
    for (const auto& [sender, sequence] : per_sender) {
        INFO("sender " << sender);
        REQUIRE(sequence.size() == kPerThread);
        for (int i = 0; i < kPerThread; ++i) CHECK(sequence[i] == i);
    }
    // Everything handled was committed: the group's next consumer starts after it.
    auto producer = bus->GetProducer();
    REQUIRE(producer->Send("completed0", "next").ok());
    auto next = bus->GetConsumer("completed0", "completed0", 100);
    CHECK(Take(*next, 1)[0].payload == "next");
}

TEST_CASE("feed: the handler runs only while fewer than max_outstanding are outstanding",
          "[messaging][feed]") {
    const bool direct = GENERATE(false, true);
    CAPTURE(direct);
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    std::atomic<int> processed{0};
    std::atomic<int> handled{0};
    std::atomic<int> violations{0};
    Collector got;
    MessageFeed feed(
        bus->GetConsumer("invoker0", "invoker0", 16),
        {.description = "activations", .max_outstanding = 2, .direct_delivery = direct},
        [&](Message m) {
            if (handled.load() - processed.load() >= 2) ++violations;
            ++handled;
            got.Add(std::move(m));
        });
    feed.Start();
    for (int i = 0; i < 10; ++i) REQUIRE(producer->Send("invoker0", std::to_string(i)).ok());

    for (size_t n = 2; n <= 10; ++n) {
        REQUIRE(got.WaitFor(n));
        CHECK(feed.outstanding() <= 2);
        ++processed;  // before Processed(): the handler's check never over-counts
        feed.Processed();
    }
    REQUIRE(got.WaitFor(10));
    feed.Stop();
    CHECK(violations.load() == 0);
    CHECK(got.size() == 10);
}

TEST_CASE(
    "feed (kUpToLowestUnfinished): after a stop without drain (a kill) every message from the "
    "lowest unfinished one on is delivered again; none before it",
    "[messaging][feed][commit-up-to]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    for (int i = 0; i < 6; ++i) REQUIRE(producer->Send("invoker0", std::to_string(i)).ok());
    Collector got;
    {
        MessageFeed feed(bus->GetConsumer("invoker0", "invoker0", 16),
                         {.description = "activations",
                          .max_outstanding = 16,
                          .commit = MessageFeed::CommitPolicy::kUpToLowestUnfinished},
                         [&](Message m) { got.Add(std::move(m)); });
        feed.Start();
        REQUIRE(got.WaitFor(6));
        // 0, 1, 3 and 5 finish; 2 and 4 are still running when the process dies.
        for (int i : {0, 1, 3, 5}) feed.Processed(got.messages[i].offset);
        CHECK(feed.outstanding() == 2);
        // One more message: the feed commits after handing it, before it peeks again.
        REQUIRE(producer->Send("invoker0", "x").ok());
        REQUIRE(got.WaitFor(7));
        feed.Stop();  // joins the feed thread, which committed after the batch of "x"
    }
    // Committed up to "2", the lowest unfinished: 0 and 1 are never delivered again; 2 and 4
    // (unfinished) are, and so are 3, 5 and x after them (the handler's duplicates).
    auto next = bus->GetConsumer("invoker0", "invoker0", 100);
    auto again = Take(*next, 5);
    CHECK(Payloads(again) == std::vector<std::string>{"2", "3", "4", "5", "x"});
    CHECK(again.front().offset == got.messages[2].offset);
}

TEST_CASE(
    "feed (kUpToLowestUnfinished): Drain() waits for every handed message to finish and commits "
    "them all; with kAfterHandover a kill loses the handed, unfinished ones",
    "[messaging][feed][commit-up-to]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();
    for (int i = 0; i < 4; ++i) REQUIRE(producer->Send("invoker0", std::to_string(i)).ok());

    SECTION("drain") {
        const bool direct = GENERATE(false, true);
        CAPTURE(direct);
        Collector got;
        MessageFeed feed(bus->GetConsumer("invoker0", "invoker0", 16),
                         {.description = "activations",
                          .max_outstanding = 16,
                          .commit = MessageFeed::CommitPolicy::kUpToLowestUnfinished,
                          .direct_delivery = direct},
                         [&](Message m) { got.Add(std::move(m)); });
        feed.Start();
        REQUIRE(got.WaitFor(4));
        // Sent while the feed runs: handed on this thread where the bus delivers directly.
        REQUIRE(producer->Send("invoker0", "4").ok());
        REQUIRE(got.WaitFor(5));
        std::thread finisher([&] {
            // Finishes while Drain() waits (Drain blocks until all four are Processed).
            for (int i = 4; i >= 0; --i) feed.Processed(got.messages[i].offset);
        });
        feed.Drain();
        finisher.join();
        CHECK(feed.outstanding() == 0);
        REQUIRE(producer->Send("invoker0", "next").ok());
        auto next = bus->GetConsumer("invoker0", "invoker0", 100);
        CHECK(Take(*next, 1)[0].payload == "next");
    }
    SECTION("after hand-over (the old policy), for contrast") {
        Collector got;
        {
            MessageFeed feed(bus->GetConsumer("invoker0", "invoker0", 16),
                             {.description = "activations", .max_outstanding = 16},
                             [&](Message m) { got.Add(std::move(m)); });
            feed.Start();
            REQUIRE(got.WaitFor(4));
            feed.Stop();  // none Processed: all four were committed at hand-over anyway
        }
        REQUIRE(producer->Send("invoker0", "next").ok());
        auto next = bus->GetConsumer("invoker0", "invoker0", 100);
        CHECK(Take(*next, 1)[0].payload == "next");
    }
}

TEST_CASE(
    "feed: Stop() returns at once from a long poll and from a full pipeline; the "
    "unfinished batch goes to the next consumer",
    "[messaging][feed]") {
    auto bus = MakeFreshBus();
    auto producer = bus->GetProducer();

    SECTION("long poll") {
        MessageFeed feed(bus->GetConsumer("idle", "idle", 8),
                         {.description = "idle", .long_poll = std::chrono::minutes(10)},
                         [](Message) {});
        feed.Start();
        const auto start = std::chrono::steady_clock::now();
        feed.Stop();
        CHECK(std::chrono::steady_clock::now() - start < kLong);
        feed.Stop();  // idempotent
    }
    SECTION("full pipeline") {
        for (const char* p : {"a", "b", "c"}) REQUIRE(producer->Send("invoker0", p).ok());
        Collector got;
        {
            MessageFeed feed(bus->GetConsumer("invoker0", "invoker0", 16),
                             {.description = "activations", .max_outstanding = 1},
                             [&](Message m) { got.Add(std::move(m)); });
            feed.Start();
            REQUIRE(got.WaitFor(1));
            feed.Stop();  // blocked waiting for capacity; the rest never handed over
        }
        CHECK(got.size() == 1);
        // The unfinished batch was not committed: what the handler did not get goes to the
        // group's next consumer (at least once). Which batch that was depends on how the
        // backend split the topic into batches (in process: one batch, so "a" again).
        auto next = bus->GetConsumer("invoker0", "invoker0", 16);
        std::vector<std::string> redelivered;
        const auto deadline = std::chrono::steady_clock::now() + kLong;
        while ((redelivered.empty() || redelivered.back() != "c") &&
               std::chrono::steady_clock::now() < deadline) {
            for (auto& m : PeekOk(*next, 1s)) redelivered.push_back(std::move(m.payload));
        }
        REQUIRE_FALSE(redelivered.empty());
        CHECK(redelivered.back() == "c");
        CHECK((redelivered.front() == "a" || redelivered.front() == "b"));
    }
    SECTION("never started") {
        MessageFeed feed(bus->GetConsumer("idle", "idle", 8), {}, [](Message) {});
        feed.Stop();
    }
}
