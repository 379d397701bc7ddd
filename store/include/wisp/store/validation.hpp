#pragma once
// What every ArtifactStore backend shares: the argument checks it applies before touching its
// database and the errors (OpenWhisk's messages) it answers with. One copy, so the backends
// cannot drift apart (the contract suite checks the codes; this keeps the texts equal too).
#include <cstdint>
#include <string>

#include <absl/status/status.h>
#include <wisp/common/activation.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/status.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::store {

// ---- errors ----------------------------------------------------------------------------------

/// NotFound "The requested resource does not exist."
[[nodiscard]] inline absl::Status NotFound() {
    return absl::NotFoundError(std::string(common::kMsgResourceDoesNotExist));
}
/// Aborted: the expected revision is not the current one (or the document went away).
[[nodiscard]] inline absl::Status Conflict() {
    return absl::AbortedError(std::string(common::kMsgConflict));
}
/// AlreadyExists "resource already exists".
[[nodiscard]] inline absl::Status Exists() {
    return absl::AlreadyExistsError(std::string(common::kMsgResourceExists));
}
/// FailedPrecondition: the name is taken by an entity of another type.
[[nodiscard]] inline absl::Status TypeMismatch() {
    return absl::FailedPreconditionError(std::string(common::kMsgTypeMismatch));
}

// ---- argument checks -------------------------------------------------------------------------

/// InvalidArgument for a negative skip or limit.
[[nodiscard]] inline absl::Status ValidatePage(int64_t skip, int64_t limit) {
    if (skip < 0) return absl::InvalidArgumentError("skip must be a non-negative integer");
    if (limit < 0) return absl::InvalidArgumentError("limit must be a non-negative integer");
    return absl::OkStatus();
}

/// InvalidArgument unless the name has a namespace and a name.
[[nodiscard]] inline absl::Status ValidateFqn(const common::FullyQualifiedName& fqn) {
    if (fqn.path.empty() || fqn.name.empty()) {
        return absl::InvalidArgumentError("an entity needs a namespace and a name");
    }
    return absl::OkStatus();
}

/// InvalidArgument unless the record has a namespace and an activation id.
[[nodiscard]] inline absl::Status ValidateActivationRecord(const common::ActivationRecord& record) {
    if (record.namespace_path.empty() || record.activation_id.empty()) {
        return absl::InvalidArgumentError("an activation record needs a namespace and an id");
    }
    return absl::OkStatus();
}

/// InvalidArgument without a controller id or a valid record.
[[nodiscard]] inline absl::Status ValidateJournalEntry(const JournalEntry& entry) {
    if (entry.controller.empty()) {
        return absl::InvalidArgumentError("a journal entry needs the controller's id");
    }
    return ValidateActivationRecord(entry.record);
}

/// InvalidArgument without a namespace or with a negative skip or limit.
[[nodiscard]] inline absl::Status ValidateActivationQuery(const ActivationQuery& q) {
    if (q.namespace_name.empty()) {
        return absl::InvalidArgumentError("listing activations needs a namespace");
    }
    return ValidatePage(q.skip, q.limit);
}

}  // namespace wisp::store
