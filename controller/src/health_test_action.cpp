#include <wisp/controller/health_test_action.hpp>

#include <string>
#include <vector>

#include <wisp/common/entities.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/loadbalancer/sharding_balancer.hpp>

namespace wisp::controller {

absl::Status EnsureHealthTestAction(store::ArtifactStore& store,
                                    const common::RuntimeManifest& manifest,
                                    std::string_view controller_id, int64_t now_ms) {
    common::Action action;
    action.namespace_path = common::EntityPath(
        std::vector<std::string>{std::string(loadbalancer::kHealthActionNamespace)});
    action.name = loadbalancer::HealthTestActionName(controller_id);
    auto existing = store.GetEntity(common::EntityType::kAction, action.Fqn());
    if (existing.ok()) return absl::OkStatus();
    if (existing.status().code() != absl::StatusCode::kNotFound) {
        return absl::Status(
            existing.status().code(),
            common::Cat("reading the invoker health test action ", action.Fqn().DocId(),
                        " failed: ", existing.status().message()));
    }
    auto kind = manifest.ResolveKind("nodejs:default");
    if (!kind.ok()) {
        return absl::FailedPreconditionError(
            common::Cat("the invoker health test action needs a nodejs runtime in the manifest: ",
                        kind.status().message()));
    }
    action.exec = common::CodeExec{.kind = *kind, .code = "function main(p){return p}"};
    action.limits.memory_mb = 128;
    action.updated_ms = now_ms;
    auto put = store.PutEntity(action, "");
    if (put.ok() || put.status().code() == absl::StatusCode::kAlreadyExists) {
        return absl::OkStatus();
    }
    return absl::Status(put.status().code(),
                        common::Cat("creating the invoker health test action ",
                                    action.Fqn().DocId(), " failed: ", put.status().message()));
}

}  // namespace wisp::controller
