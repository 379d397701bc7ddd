#pragma once
// EntitiesHandler: the entity routes under /api/v1/namespaces (wire §1.2-1.7) — GET /namespaces,
// GET .../limits, and list/GET/PUT/DELETE of actions, triggers, rules and packages, plus a rule's
// status (POST .../rules/{name}). Api::RouteCollection parses the path and picks the method; an
// action's invoke and a trigger's fire are InvokeHandler's. Writes go to the store; actions and
// packages written or deleted here are dropped from the resolver's entity cache. No state of
// its own beyond the references it is given.
#include <functional>
#include <string>

#include <wisp/common/clock.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/entity_json.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/store/artifact_store.hpp>

#include "call.hpp"
#include "entity_resolver.hpp"
#include "keep_warm.hpp"
#include "replier.hpp"

namespace wisp::controller {

class EntitiesHandler {
  public:
    /// Keeps references; all must outlive the handler.
    EntitiesHandler(store::ArtifactStore& store, const common::RuntimeManifest& manifest,
                    common::Clock& clock, const ControllerConfig& config, Replier& replier,
                    EntityResolver& resolver)
        : store_(store),
          manifest_(manifest),
          clock_(clock),
          config_(config),
          replier_(replier),
          resolver_(resolver) {}

    /// GET /namespaces: the caller's namespace (405 to other methods).
    void ListNamespaces(const CallPtr& call);
    /// GET /namespaces/{ns}/limits: the caller's effective limits (403 for another namespace).
    void GetLimits(const CallPtr& call, const std::string& ns);
    /// GET /{collection} (a namespace's entities; the published packages of another namespace)
    /// and GET /actions/{pkg}/ (a package's actions, also through a binding); ?limit, ?skip,
    /// ?count.
    void ListEntities(const CallPtr& call, common::EntityType type, const common::EntityPath& path);
    void GetEntity(const CallPtr& call, common::EntityType type,
                   const common::FullyQualifiedName& fqn);
    /// PUT (?overwrite=true to update): OpenWhisk's create/update rules (common/entity_put).
    void PutEntity(const CallPtr& call, common::EntityType type,
                   const common::FullyQualifiedName& fqn);
    /// DELETE (?force=true empties a package first).
    void DeleteEntity(const CallPtr& call, common::EntityType type,
                      const common::FullyQualifiedName& fqn);
    /// POST /rules/{name} {"status":"active"|"inactive"}.
    void SetRuleStatus(const CallPtr& call, const common::FullyQualifiedName& fqn);
    /// Action writes and deletes tell `keep_warm` (may be null: the annotation is still
    /// validated, nothing is kept warm).
    void SetKeepWarm(KeepWarm* keep_warm) { keep_warm_ = keep_warm; }
    /// Told each trigger deleted here, after the delete (the Api deletes its alarm schedule).
    void OnTriggerDeleted(std::function<void(const common::FullyQualifiedName&)> f) {
        on_trigger_deleted_ = std::move(f);
    }

  private:
    common::PutContext PutContextFor(const common::Identity& who) const;

    store::ArtifactStore& store_;
    const common::RuntimeManifest& manifest_;
    common::Clock& clock_;
    const ControllerConfig& config_;
    Replier& replier_;
    EntityResolver& resolver_;
    std::function<void(const common::FullyQualifiedName&)> on_trigger_deleted_;
    KeepWarm* keep_warm_ = nullptr;
};

}  // namespace wisp::controller
