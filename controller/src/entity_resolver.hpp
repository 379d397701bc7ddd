#pragma once
// EntityResolver: who may read which action or package, and the action an invoke runs.
// OpenWhisk's entitlement for reads and activations (your own namespace; published packages and
// their actions, also through your bindings), package bindings followed, parameters merged
// (package < binding < action). Actions and packages are read through the entity cache it owns
// (writes through this controller call Invalidate()). Shared by the entities, invoke and web
// handlers and the Activator (sequence components). Thread-safe.
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/store/artifact_store.hpp>

#include "entity_cache.hpp"

namespace wisp::controller {

/// An action ready to run: parameters merged (package < binding < action).
struct ResolvedAction {
    common::Action action;
    std::string revision;  // the action document's revision (the invoker's cache key)
    std::string binding;   // "ns/binding" when reached through a package binding
};

/// 403 "The supplied authentication is not authorized to access '<resource>'."
[[nodiscard]] absl::Status NotAuthorized(std::string_view resource);
/// 403 naming `resource` unless `who` may write to `ns` (its own namespace).
[[nodiscard]] absl::Status CheckOwnNamespace(const common::Identity& who, const std::string& ns,
                                             std::string_view resource);

class EntityResolver {
  public:
    /// `cache_ttl` 0: no cache. `on_invalidate` (may be null) is told each docid Invalidate()
    /// drops (the distributed controller tells the other components).
    EntityResolver(store::ArtifactStore& store, common::Clock& clock,
                   std::chrono::milliseconds cache_ttl,
                   std::function<void(const std::string&)> on_invalidate = nullptr)
        : store_(store),
          cache_(clock, cache_ttl.count()),
          on_invalidate_(std::move(on_invalidate)) {}

    /// Resolves an action reference for reading or activating as `who`: entitlement (own
    /// namespace, or a published package), package bindings, parameter merge. `cached`: through
    /// the entity cache (activations: another controller's write reaches it within the
    /// cacheInvalidation delay) or from the store (REST reads: a GET after a write or delete
    /// through any controller sees it).
    [[nodiscard]] absl::StatusOr<ResolvedAction> ResolveAction(
        const common::Identity& who, const common::FullyQualifiedName& fqn, bool cached = true);
    /// OpenWhisk's READ entitlement on a package or binding (also for reading, listing and
    /// activating its actions): the chain from `fqn` to the package holding the actions, or
    /// 403 naming `resource` (404 when the caller's own package is missing). `cached`: read
    /// through the entity cache (activations) or the store (REST reads).
    [[nodiscard]] absl::StatusOr<std::vector<common::Package>> ReadablePackageChain(
        const common::Identity& who, const common::FullyQualifiedName& fqn,
        std::string_view resource, bool cached);
    /// Drops a cached action or package (after writing or deleting it through this controller)
    /// and tells `on_invalidate`.
    void Invalidate(const std::string& docid) {
        cache_.Invalidate(docid);
        if (on_invalidate_) on_invalidate_(docid);
    }
    /// Drops a cached action or package written elsewhere (another controller).
    void DropCached(const std::string& docid) { cache_.Invalidate(docid); }

  private:
    /// An action or package through the entity cache.
    template <class T>
    [[nodiscard]] absl::StatusOr<store::Revisioned<T>> GetCached(
        const common::FullyQualifiedName& fqn);
    /// GetCached, or straight from the store when `cached` is false.
    template <class T>
    [[nodiscard]] absl::StatusOr<store::Revisioned<T>> Get(const common::FullyQualifiedName& fqn,
                                                           bool cached) {
        return cached ? GetCached<T>(fqn) : store_.Get<T>(fqn);
    }

    store::ArtifactStore& store_;
    EntityCache cache_;
    const std::function<void(const std::string&)> on_invalidate_;
};

}  // namespace wisp::controller
