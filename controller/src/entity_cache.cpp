#include "entity_cache.hpp"

#include <mutex>

namespace wisp::controller {

namespace {
constexpr size_t kMaxEntries = 10000;
}

std::optional<store::Revisioned<common::WhiskEntity>> EntityCache::Find(const std::string& docid) {
    if (ttl_ms_ <= 0) return std::nullopt;
    std::shared_lock lock(mu_);
    auto it = entries_.find(docid);
    if (it == entries_.end() || it->second.expires_ms <= clock_.NowMs()) return std::nullopt;
    return it->second.entity;
}

void EntityCache::Put(const std::string& docid,
                      const store::Revisioned<common::WhiskEntity>& entity, uint64_t generation) {
    if (ttl_ms_ <= 0) return;
    std::unique_lock lock(mu_);
    if (generation_.load(std::memory_order_acquire) != generation) return;  // a write raced us
    if (entries_.size() >= kMaxEntries) entries_.clear();
    entries_[docid] = Entry{entity, clock_.NowMs() + ttl_ms_};
}

void EntityCache::Invalidate(const std::string& docid) {
    std::unique_lock lock(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    entries_.erase(docid);
}

}  // namespace wisp::controller
