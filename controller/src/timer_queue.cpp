#include "timer_queue.hpp"

#include <utility>
#include <vector>

namespace wisp::controller {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() { Stop(); }

TimerQueue::TimerId TimerQueue::Schedule(std::chrono::milliseconds delay,
                                         std::function<void()> fn) {
    const auto deadline = Clock::now() + delay;
    std::lock_guard lock(mu_);
    const TimerId id = next_id_++;
    if (stopping_) {
        // After Stop(): run nothing later; the caller's callback fires never. Callers check
        // shutdown themselves before scheduling.
        return id;
    }
    const bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
    by_deadline_.emplace(deadline, id);
    timers_.emplace(id, std::make_pair(deadline, std::move(fn)));
    if (earliest) cv_.notify_one();
    return id;
}

bool TimerQueue::Cancel(TimerId id) {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return false;
    auto range = by_deadline_.equal_range(it->second.first);
    for (auto d = range.first; d != range.second; ++d) {
        if (d->second == id) {
            by_deadline_.erase(d);
            break;
        }
    }
    timers_.erase(it);
    return true;
}

void TimerQueue::Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        if (stopping_) return;
        if (by_deadline_.empty()) {
            cv_.wait(lock);
            continue;
        }
        auto first = by_deadline_.begin();
        if (first->first > Clock::now()) {
            // A copy: Cancel() may erase the node while the lock is released.
            const Clock::time_point deadline = first->first;
            cv_.wait_until(lock, deadline);
            continue;
        }
        const TimerId id = first->second;
        by_deadline_.erase(first);
        auto node = timers_.extract(id);
        if (node.empty()) continue;
        auto fn = std::move(node.mapped().second);
        lock.unlock();
        fn();
        lock.lock();
    }
}

void TimerQueue::Stop() {
    std::vector<std::function<void()>> pending;
    {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        stopping_ = true;
        for (auto& [deadline, id] : by_deadline_) {
            auto it = timers_.find(id);
            if (it != timers_.end()) pending.push_back(std::move(it->second.second));
        }
        by_deadline_.clear();
        timers_.clear();
        cv_.notify_all();
    }
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    for (auto& fn : pending) fn();
}

}  // namespace wisp::controller
