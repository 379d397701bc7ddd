#pragma once
// Argument checks every ArtifactStore backend applies before touching its database.
#include <cstdint>

#include <absl/status/status.h>
#include <wisp/common/entity_path.hpp>

namespace wisp::store {

/// InvalidArgument for a negative skip or limit.
inline absl::Status ValidatePage(int64_t skip, int64_t limit) {
    if (skip < 0) return absl::InvalidArgumentError("skip must be a non-negative integer");
    if (limit < 0) return absl::InvalidArgumentError("limit must be a non-negative integer");
    return absl::OkStatus();
}

/// InvalidArgument unless the name has a namespace and a name.
inline absl::Status ValidateFqn(const common::FullyQualifiedName& fqn) {
    if (fqn.path.empty() || fqn.name.empty()) {
        return absl::InvalidArgumentError("an entity needs a namespace and a name");
    }
    return absl::OkStatus();
}

}  // namespace wisp::store
