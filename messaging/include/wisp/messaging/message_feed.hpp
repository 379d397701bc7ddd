#pragma once
// MessageFeed: OpenWhisk's MessageFeed — a thread that peeks batches from a consumer, hands each
// message to a handler and commits after each batch, with backpressure.
//
// Capacity: with max_outstanding = N > 0 the handler is called only while fewer than N handed
// messages are outstanding; each handled message counts as outstanding until Processed() is
// called for it (from any thread). The feed stops peeking while it is at capacity, so a slow
// consumer leaves the messages on the bus (an invoker stops pulling from Kafka). With
// max_outstanding = 0 there is no limit and Processed() need not be called.
//
// Delivery is at least once: a batch is committed after every message in it was handed to the
// handler. A feed stopped in the middle of a batch leaves the batch uncommitted; the group's
// next consumer gets it again (handlers must tolerate duplicates).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::messaging {

class MessageFeed {
  public:
    /// Called on the feed's thread, one message at a time, in topic order.
    using Handler = std::function<void(Message)>;

    struct Options {
        /// For logs, e.g. "activation" or "completed0".
        std::string description = "feed";
        /// Messages handed to the handler and not yet Processed(); 0 = no limit.
        int max_outstanding = 0;
        /// How long one Peek() waits (the feed wakes at once on new messages and on Stop()).
        std::chrono::milliseconds long_poll{1000};
        /// Pause after a failed Peek() or Commit() before trying again.
        std::chrono::milliseconds retry_delay{100};
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
    void Processed();

    /// Stops peeking, wakes the feed thread, joins it and closes the consumer. Does not wait
    /// for outstanding messages. Idempotent; thread-safe; never call it from the handler.
    void Stop();

    /// Messages handed to the handler and not yet Processed().
    int outstanding() const;

  private:
    void Run();
    /// Waits until there is capacity for one more message; false when stopping.
    bool WaitForCapacity();
    /// Waits `delay` or until stopped.
    void Pause(std::chrono::milliseconds delay);

    std::unique_ptr<MessageConsumer> consumer_;
    const Options options_;
    Handler handler_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    int outstanding_ = 0;
    bool stopping_ = false;
    bool started_ = false;
    std::thread thread_;
};

}  // namespace wisp::messaging
