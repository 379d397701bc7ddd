#pragma once
// EntityCache: recently read actions and packages, so a warm invoke reads neither the store nor
// parses the document (OpenWhisk's controller caches entities the same way).
//
// Writes through this controller invalidate the entry at once. Entries expire after `ttl`, which
// bounds how long a write made elsewhere (another controller) can go unseen. A reader fills the
// cache only if no invalidation happened since it started its store read (a global generation),
// so a read racing a write never caches the old document.
#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

class EntityCache {
  public:
    EntityCache(common::Clock& clock, int64_t ttl_ms) : clock_(clock), ttl_ms_(ttl_ms) {}

    /// Take before the store read; pass to Put().
    uint64_t Generation() const { return generation_.load(std::memory_order_acquire); }
    std::optional<store::Revisioned<common::WhiskEntity>> Find(const std::string& docid);
    void Put(const std::string& docid, const store::Revisioned<common::WhiskEntity>& entity,
             uint64_t generation);
    void Invalidate(const std::string& docid);

  private:
    struct Entry {
        store::Revisioned<common::WhiskEntity> entity;
        int64_t expires_ms;
    };
    common::Clock& clock_;
    const int64_t ttl_ms_;
    std::atomic<uint64_t> generation_{0};
    std::shared_mutex mu_;
    std::unordered_map<std::string, Entry> entries_;
};

}  // namespace wisp::controller
