#include "entity_resolver.hpp"

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

using common::Action;
using common::FullyQualifiedName;
using common::Package;

absl::Status NotAuthorized(std::string_view resource) {
    return absl::PermissionDeniedError(
        common::Cat("The supplied authentication is not authorized to access '", resource, "'."));
}

absl::Status CheckOwnNamespace(const common::Identity& who, const std::string& ns,
                               std::string_view resource) {
    if (ns == who.namespace_name) return absl::OkStatus();
    return NotAuthorized(resource);
}

template <class T>
absl::StatusOr<store::Revisioned<T>> EntityResolver::GetCached(const FullyQualifiedName& fqn) {
    const std::string docid = fqn.DocId();
    if (auto hit = cache_.Find(docid)) {
        if (auto* doc = std::get_if<T>(&hit->doc)) return store::Revisioned<T>{*doc, hit->rev};
    }
    const uint64_t generation = cache_.Generation();
    auto r = store_.GetEntity(store::EntityTypeOf<T>(), fqn);
    if (!r.ok()) return r.status();
    cache_.Put(docid, *r, generation);
    return store::Revisioned<T>{std::get<T>(std::move(r->doc)), std::move(r->rev)};
}

/// OpenWhisk's READ (and ACTIVATE) entitlement on a package (PackageCollection.scala): a package
/// is readable by its owner or when published; a binding only by its owner, and only while the
/// caller may read the package it binds (published or the caller's own). A missing package is
/// 404 to its owner and 403 to anyone else (no leak of names). `resource` is named in the 403.
/// Returns the chain from `fqn` to the package that holds the actions (one element unless
/// `fqn` is a binding).
absl::StatusOr<std::vector<Package>> EntityResolver::ReadablePackageChain(
    const common::Identity& who, const FullyQualifiedName& fqn, std::string_view resource,
    bool cached) {
    constexpr int kMaxBindingChain = 4;  // PUT refuses binding -> binding; the store may not
    std::vector<Package> chain;
    FullyQualifiedName at = fqn;
    for (;;) {
        const bool owner = at.Namespace() == who.namespace_name;
        auto p = cached ? GetCached<Package>(at) : store_.Get<Package>(at);
        if (!p.ok()) {
            if (!owner) return NotAuthorized(resource);
            if (p.status().code() == absl::StatusCode::kNotFound) {
                return absl::NotFoundError(std::string(common::kMsgResourceDoesNotExist));
            }
            return p.status();
        }
        if (!p->doc.binding) {
            if (!owner && !p->doc.publish) return NotAuthorized(resource);
            chain.push_back(std::move(p->doc));
            return chain;
        }
        if (!owner || chain.size() + 1 >= kMaxBindingChain) return NotAuthorized(resource);
        at = p->doc.binding->Fqn();
        chain.push_back(std::move(p->doc));
    }
}

absl::StatusOr<ResolvedAction> EntityResolver::ResolveAction(const common::Identity& who,
                                                             const FullyQualifiedName& fqn,
                                                             bool cached) {
    const std::string& ns = fqn.Namespace();
    const bool own = ns == who.namespace_name;
    if (fqn.path.IsRoot()) {
        if (!own) return NotAuthorized(fqn.DocId());
        auto a = Get<Action>(fqn, cached);
        if (!a.ok()) return a.status();
        return ResolvedAction{std::move(a->doc), std::move(a->rev), ""};
    }
    const FullyQualifiedName pkg_fqn{fqn.path.Parent(), fqn.path.PackageName()};
    auto chain = ReadablePackageChain(who, pkg_fqn, fqn.DocId(), cached);
    if (!chain.ok()) return chain.status();
    const Package& holder = chain->back();
    auto a =
        Get<Action>(FullyQualifiedName{holder.namespace_path.Add(holder.name), fqn.name}, cached);
    if (!a.ok()) return a.status();
    // Parameters: package < binding < action.
    common::Parameters params;
    for (auto it = chain->rbegin(); it != chain->rend(); ++it)
        params = params.Merge(it->parameters);
    params = params.Merge(a->doc.parameters);
    ResolvedAction out;
    out.action = std::move(a->doc);
    out.revision = std::move(a->rev);
    if (chain->size() > 1) out.binding = pkg_fqn.DocId();
    out.action.parameters = std::move(params);
    return out;
}

}  // namespace wisp::controller
