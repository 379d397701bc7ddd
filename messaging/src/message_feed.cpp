#include <wisp/messaging/message_feed.hpp>

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace wisp::messaging {

MessageFeed::MessageFeed(std::unique_ptr<MessageConsumer> consumer, Options options,
                         Handler handler)
    : consumer_(std::move(consumer)), options_(std::move(options)), handler_(std::move(handler)) {}

MessageFeed::~MessageFeed() { Stop(); }

void MessageFeed::Start() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (started_ || stopping_) return;
        started_ = true;
    }
    // Not under mu_: a Send() calls Claim() (which takes mu_) while holding the topic's lock,
    // and enabling direct delivery takes the topic's lock.
    if (options_.direct_delivery) {
        const bool direct = consumer_->EnableDirectDelivery(messaging::DirectDelivery{
            .claim = [this](int64_t offset) { return Claim(offset); },
            .deliver = [this](Message message) { Deliver(std::move(message)); },
            .commit_on_claim = options_.commit == CommitPolicy::kAfterHandover});
        spdlog::debug("message feed '{}': direct delivery {}", options_.description,
                      direct ? "on" : "not supported by the bus");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;  // stopped meanwhile: no thread to start
    thread_ = std::thread([this] { Run(); });
}

bool MessageFeed::Claim(int64_t offset) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    if (options_.max_outstanding > 0) {
        if (outstanding_ >= options_.max_outstanding) return false;
    }
    if (!UnfinishedRoomLocked()) return false;
    if (options_.max_outstanding > 0) ++outstanding_;
    if (options_.commit == CommitPolicy::kUpToLowestUnfinished) {
        unfinished_.insert(offset);
        handed_end_ = std::max(handed_end_, offset + 1);
    }
    return true;
}

void MessageFeed::Deliver(Message message) {
    const int64_t offset = message.offset;
    const bool tracked = options_.commit == CommitPolicy::kUpToLowestUnfinished;
    try {
        handler_(std::move(message));
    } catch (const std::exception& e) {
        spdlog::error("message feed '{}': handler failed: {}", options_.description, e.what());
        if (options_.max_outstanding > 0 || tracked) Processed(offset);
    } catch (...) {
        spdlog::error("message feed '{}': handler failed", options_.description);
        if (options_.max_outstanding > 0 || tracked) Processed(offset);
    }
}

void MessageFeed::Processed() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (outstanding_ > 0) --outstanding_;
    }
    cv_.notify_all();
}

void MessageFeed::Processed(int64_t offset) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (options_.commit == CommitPolicy::kUpToLowestUnfinished) {
            if (unfinished_.erase(offset) == 0) return;  // not handed, or Processed() before
            // Released() freed its capacity already.
            if (released_.erase(offset) == 1) {
                cv_.notify_all();
                return;
            }
        }
        if (outstanding_ > 0) --outstanding_;
    }
    cv_.notify_all();
}

void MessageFeed::Released(int64_t offset) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (options_.commit != CommitPolicy::kUpToLowestUnfinished) return;
        if (unfinished_.count(offset) == 0) return;    // not handed, or Processed() before
        if (!released_.insert(offset).second) return;  // Released() before
        if (outstanding_ > 0) --outstanding_;
    }
    cv_.notify_all();
}

bool MessageFeed::UnfinishedRoomLocked() const {
    return options_.commit != CommitPolicy::kUpToLowestUnfinished || options_.max_unfinished <= 0 ||
           static_cast<int64_t>(unfinished_.size()) < options_.max_unfinished;
}

void MessageFeed::StopThread() {
    std::thread thread;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        thread = std::move(thread_);
    }
    cv_.notify_all();
    consumer_->Wakeup();
    if (thread.joinable()) thread.join();
}

void MessageFeed::Stop() {
    StopThread();
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        closed_ = true;
    }
    consumer_->Close();
}

void MessageFeed::Drain() {
    StopThread();
    {
        std::unique_lock<std::mutex> lock(mu_);
        if (closed_) return;
        cv_.wait(lock, [this] { return unfinished_.empty(); });
    }
    CommitFinished();  // the feed thread is gone: this thread is the consumer's one caller
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return;
        closed_ = true;
    }
    consumer_->Close();
}

void MessageFeed::CommitFinished() {
    if (options_.commit != CommitPolicy::kUpToLowestUnfinished) return;
    int64_t next = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (handed_end_ < 0) return;  // nothing handed yet
        next = unfinished_.empty() ? handed_end_ : *unfinished_.begin();
        if (next <= committed_) return;
    }
    absl::Status committed = consumer_->CommitUpTo(next);
    if (!committed.ok()) {
        spdlog::warn("message feed '{}': committing offset {} on topic {} failed: {}",
                     options_.description, next, consumer_->topic(), committed.ToString());
        return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    committed_ = next;
}

int MessageFeed::outstanding() const {
    std::lock_guard<std::mutex> lock(mu_);
    return outstanding_;
}

bool MessageFeed::WaitForCapacity() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] {
        return stopping_ ||
               ((options_.max_outstanding <= 0 || outstanding_ < options_.max_outstanding) &&
                UnfinishedRoomLocked());
    });
    return !stopping_;
}

void MessageFeed::Pause(std::chrono::milliseconds delay) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, delay, [this] { return stopping_; });
}

void MessageFeed::Run() {
    spdlog::debug("message feed '{}' started on topic {} (group {})", options_.description,
                  consumer_->topic(), consumer_->group_id());
    while (WaitForCapacity()) {
        CommitFinished();
        auto batch = consumer_->Peek(options_.long_poll);
        if (!batch.ok()) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (stopping_) break;
            }
            spdlog::warn("message feed '{}': reading topic {} failed: {}; retrying",
                         options_.description, consumer_->topic(), batch.status().ToString());
            Pause(options_.retry_delay);
            continue;
        }
        if (batch->empty()) continue;

        const bool tracked = options_.commit == CommitPolicy::kUpToLowestUnfinished;
        bool complete = true;
        for (Message& message : *batch) {
            if (!WaitForCapacity()) {
                complete = false;  // stopping: leave the rest of the batch to the group
                break;
            }
            const int64_t offset = message.offset;
            {
                std::lock_guard<std::mutex> lock(mu_);
                ++outstanding_;
                if (tracked) {
                    unfinished_.insert(offset);
                    handed_end_ = std::max(handed_end_, offset + 1);  // direct ones may be ahead
                }
            }
            try {
                handler_(std::move(message));
            } catch (const std::exception& e) {
                spdlog::error("message feed '{}': handler failed: {}", options_.description,
                              e.what());
                if (options_.max_outstanding > 0 || tracked) Processed(offset);
            } catch (...) {
                spdlog::error("message feed '{}': handler failed", options_.description);
                if (options_.max_outstanding > 0 || tracked) Processed(offset);
            }
            if (options_.max_outstanding <= 0) {
                std::lock_guard<std::mutex> lock(mu_);
                outstanding_ = 0;  // no limit: nothing to track
            }
        }
        if (!complete) break;
        if (tracked) {
            CommitFinished();
            continue;
        }
        absl::Status committed = consumer_->Commit();
        if (!committed.ok()) {
            spdlog::warn("message feed '{}': committing on topic {} failed: {}",
                         options_.description, consumer_->topic(), committed.ToString());
        }
    }
    spdlog::debug("message feed '{}' stopped", options_.description);
}

}  // namespace wisp::messaging
