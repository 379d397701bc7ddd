#include <wisp/sim/container_pool.hpp>

namespace wisp::sim {

SimContainerPool::SimContainerPool(int64_t capacity_mb, int64_t idle_timeout_us)
    : capacity_mb_(capacity_mb), idle_timeout_us_(idle_timeout_us) {}

void SimContainerPool::Submit(const Request& request, int64_t now_us,
                              std::vector<Started>& started) {
    ExpireIdle(now_us);
    if (!buffer_.empty() || !TryStart(request, now_us, started)) {
        buffer_.push_back(request);
        ++counters_.buffered;
    }
}

void SimContainerPool::Complete(int32_t container, int64_t now_us, std::vector<Started>& started) {
    ExpireIdle(now_us);
    Container& c = containers_[static_cast<size_t>(container)];
    if (!c.busy) return;
    c.busy = false;
    busy_mb_ -= c.memory_mb;
    MakeIdle(container, now_us);
    while (!buffer_.empty() && TryStart(buffer_.front(), now_us, started)) buffer_.pop_front();
}

void SimContainerPool::ExpireIdle(int64_t now_us) {
    while (lru_oldest_ != -1 &&
           containers_[static_cast<size_t>(lru_oldest_)].idle_since_us + idle_timeout_us_ <=
               now_us) {
        Destroy(lru_oldest_);
        ++counters_.expired_idle;
    }
}

bool SimContainerPool::TryStart(const Request& request, int64_t now_us,
                                std::vector<Started>& started) {
    if (auto it = idle_by_action_.find(request.action); it != idle_by_action_.end()) {
        const int32_t id = it->second;  // the most recently used: the others may expire
        Unidle(id);
        Container& c = containers_[static_cast<size_t>(id)];
        c.busy = true;
        busy_mb_ += c.memory_mb;
        ++counters_.warm;
        started.push_back({request, id, false, now_us});
        return true;
    }
    while (capacity_mb_ - busy_mb_ - idle_mb_ < request.memory_mb && lru_oldest_ != -1) {
        Destroy(lru_oldest_);
        ++counters_.evicted_for_room;
    }
    if (capacity_mb_ - busy_mb_ - idle_mb_ < request.memory_mb) return false;
    const int32_t id = NewContainer(request.action, request.memory_mb);
    busy_mb_ += request.memory_mb;
    ++counters_.cold;
    started.push_back({request, id, true, now_us});
    return true;
}

int32_t SimContainerPool::NewContainer(int32_t action, int32_t memory_mb) {
    int32_t id;
    if (!free_ids_.empty()) {
        id = free_ids_.back();
        free_ids_.pop_back();
    } else {
        id = static_cast<int32_t>(containers_.size());
        containers_.emplace_back();
    }
    Container& c = containers_[static_cast<size_t>(id)];
    c = Container{};
    c.action = action;
    c.memory_mb = memory_mb;
    c.busy = true;
    return id;
}

void SimContainerPool::MakeIdle(int32_t id, int64_t now_us) {
    Container& c = containers_[static_cast<size_t>(id)];
    c.idle_since_us = now_us;
    // Newest end of the LRU list.
    c.lru_prev = lru_newest_;
    c.lru_next = -1;
    if (lru_newest_ != -1) containers_[static_cast<size_t>(lru_newest_)].lru_next = id;
    lru_newest_ = id;
    if (lru_oldest_ == -1) lru_oldest_ = id;
    // Head of the action's list.
    auto [it, inserted] = idle_by_action_.try_emplace(c.action, id);
    c.act_prev = -1;
    c.act_next = inserted ? -1 : it->second;
    if (!inserted) {
        containers_[static_cast<size_t>(it->second)].act_prev = id;
        it->second = id;
    }
    idle_mb_ += c.memory_mb;
    ++idle_count_;
}

void SimContainerPool::Unidle(int32_t id) {
    Container& c = containers_[static_cast<size_t>(id)];
    if (c.lru_prev != -1) {
        containers_[static_cast<size_t>(c.lru_prev)].lru_next = c.lru_next;
    } else {
        lru_oldest_ = c.lru_next;
    }
    if (c.lru_next != -1) {
        containers_[static_cast<size_t>(c.lru_next)].lru_prev = c.lru_prev;
    } else {
        lru_newest_ = c.lru_prev;
    }
    if (c.act_next != -1) containers_[static_cast<size_t>(c.act_next)].act_prev = c.act_prev;
    if (c.act_prev != -1) {
        containers_[static_cast<size_t>(c.act_prev)].act_next = c.act_next;
    } else if (c.act_next != -1) {
        idle_by_action_[c.action] = c.act_next;
    } else {
        idle_by_action_.erase(c.action);
    }
    c.lru_prev = c.lru_next = c.act_prev = c.act_next = -1;
    idle_mb_ -= c.memory_mb;
    --idle_count_;
}

void SimContainerPool::Destroy(int32_t id) {
    Unidle(id);
    free_ids_.push_back(id);
}

}  // namespace wisp::sim
