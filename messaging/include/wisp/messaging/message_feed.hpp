#pragma once
// MessageFeed: OpenWhisk's MessageFeed — a thread that peeks batches from a consumer, hands each
// message to a handler and commits after each batch, with backpressure.
//
// Capacity: with max_outstanding = N > 0 the handler is called only while fewer than N handed
// messages are outstanding; each handled message counts as outstanding until Processed() (or,
// with kUpToLowestUnfinished, Released()) is called for it (from any thread). The feed stops
// peeking while it is at capacity, so a slow consumer leaves the messages on the bus (an invoker
// stops pulling from Kafka). With max_outstanding = 0 there is no limit and Processed() need not be
// called.
//
// Delivery is at least once. With CommitPolicy::kAfterHandover (OpenWhisk's) a batch is
// committed after every message in it was handed to the handler: a process killed with messages
// handed but not finished loses them. With CommitPolicy::kUpToLowestUnfinished the feed commits
// only up to the lowest offset not yet Processed(offset): everything handed and unfinished when
// the process dies is delivered again to the group's next consumer (the invoker's choice: no
// accepted activation is lost). A feed stopped in the middle of a batch leaves the rest of the
// batch uncommitted; the group's next consumer gets it again (handlers must tolerate
// duplicates).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::messaging {

class MessageFeed {
  public:
    /// Called on the feed's thread, one message at a time, in topic order — and, with
    /// Options::direct_delivery on a bus that supports it, also on the threads that Send() to
    /// the topic (then concurrently; one sending thread's messages still arrive in its order).
    using Handler = std::function<void(Message)>;

    enum class CommitPolicy {
        /// Commit each batch once every message in it was handed to the handler.
        kAfterHandover,
        /// Commit only up to the lowest handed offset not yet Processed(offset) (every message
        /// before it is finished). The handler's owner must call Processed(offset).
        kUpToLowestUnfinished,
    };

    struct Options {
        /// For logs, e.g. "activation" or "completed0".
        std::string description = "feed";
        /// Messages handed to the handler and neither Released() nor Processed(); 0 = no limit.
        int max_outstanding = 0;
        /// kUpToLowestUnfinished: messages handed and not yet Processed() (Released() ones
        /// included); 0 = no limit beyond max_outstanding. Bounds the work that no longer
        /// needs capacity but still holds the commit back (an invoker's records being stored).
        int max_unfinished = 0;
        /// How long one Peek() waits (the feed wakes at once on new messages and on Stop()).
        std::chrono::milliseconds long_poll{1000};
        /// Pause after a failed Peek() or Commit() before trying again.
        std::chrono::milliseconds retry_delay{100};
        CommitPolicy commit = CommitPolicy::kAfterHandover;
        /// Let the bus hand a message to the handler on the sending thread while the feed is
        /// caught up and has capacity (MessageConsumer::EnableDirectDelivery; the in-process
        /// bus does, Kafka does not): no wake-up of the feed thread per message. The handler
        /// must then be thread-safe and never block for long (it runs inside Send()).
        bool direct_delivery = false;
    };

    /// Does not start the thread; call Start().
    MessageFeed(std::unique_ptr<MessageConsumer> consumer, Options options, Handler handler);
    /// Stop().
    ~MessageFeed();
    MessageFeed(const MessageFeed&) = delete;
    MessageFeed& operator=(const MessageFeed&) = delete;

    /// Starts the feed thread. Call once.
    void Start();

    /// Frees the capacity one handled message held. Thread-safe; never blocks for long.
    /// With kUpToLowestUnfinished call Processed(offset) instead.
    void Processed();
    /// The message at `offset` is finished: frees its capacity and, with kUpToLowestUnfinished,
    /// lets the committed offset move past it (the feed thread commits before its next peek).
    /// Thread-safe; never blocks for long.
    void Processed(int64_t offset);
    /// kUpToLowestUnfinished: the message at `offset` no longer needs its capacity (an invoker's
    /// action ran and was acknowledged; only its record is being stored): the next message may
    /// be handed, but the committed offset stays before it until Processed(offset).
    /// Thread-safe; never blocks for long; a no-op for offsets not handed, released or
    /// processed before.
    void Released(int64_t offset);

    /// Stops peeking, wakes the feed thread, joins it and closes the consumer. Does not wait
    /// for outstanding messages. Idempotent; thread-safe; never call it from the handler.
    void Stop();

    /// Stops peeking like Stop(), then blocks until every handed message is Processed(), commits
    /// up to the last handed one (kUpToLowestUnfinished; kAfterHandover committed already) and
    /// closes the consumer: a clean shutdown leaves nothing finished to be delivered again.
    /// Never call it from the handler; a message never Processed() blocks it forever.
    void Drain();

    /// Messages handed to the handler and not yet Processed().
    int outstanding() const;
    /// The consumer's Lag(): messages on the topic not yet peeked; -1 when unknown.
    int64_t Lag() { return consumer_->Lag(); }

  private:
    void Run();
    /// Direct delivery: takes capacity for the message at `offset` unless stopping or full.
    /// Called under the bus's topic lock.
    bool Claim(int64_t offset);
    /// Direct delivery: runs the handler on the sending thread.
    void Deliver(Message message);
    /// Waits until there is capacity for one more message; false when stopping.
    bool WaitForCapacity();
    /// Whether max_unfinished allows one more handed message; mu_ held.
    bool UnfinishedRoomLocked() const;
    /// Waits `delay` or until stopped.
    void Pause(std::chrono::milliseconds delay);
    /// Joins the feed thread (stopping it); the consumer stays open.
    void StopThread();
    /// kUpToLowestUnfinished: commits up to the lowest unfinished offset when that moved. Called
    /// by the one thread that peeks.
    void CommitFinished();

    std::unique_ptr<MessageConsumer> consumer_;
    const Options options_;
    Handler handler_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    int outstanding_ = 0;
    bool stopping_ = false;
    bool started_ = false;
    std::thread thread_;
    // kUpToLowestUnfinished: offsets handed and not Processed(), and one past the last handed.
    std::set<int64_t> unfinished_;
    std::set<int64_t> released_;  // in unfinished_, capacity freed by Released()
    int64_t handed_end_ = -1;
    int64_t committed_ = -1;  // the feed thread's (then Drain()'s) last commit
    bool closed_ = false;
};

}  // namespace wisp::messaging
