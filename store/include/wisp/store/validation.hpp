#pragma once
// What every ArtifactStore backend shares: the argument checks it applies before touching its
// database and the errors (OpenWhisk's messages) it answers with. One copy, so the backends
// cannot drift apart (the contract suite checks the codes; this keeps the texts equal too).
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <wisp/common/activation.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
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

// ---- system documents ------------------------------------------------------------------------

/// The limits of SystemDoc (artifact_store.hpp).
inline constexpr size_t kMaxSystemDocKindBytes = 64;
inline constexpr size_t kMaxSystemDocIdBytes = 1024;
inline constexpr size_t kMaxSystemDocBodyBytes = size_t{1} << 20;
inline constexpr int64_t kMaxSystemDocListLimit = 1000;

/// InvalidArgument unless `kind` is [a-z][a-z0-9-]* (at most 64 characters) and `id` is 1..1024
/// bytes of UTF-8 (CouchDB ids are JSON strings) without NUL.
[[nodiscard]] inline absl::Status ValidateSystemDocKey(std::string_view kind, std::string_view id) {
    bool kind_ok =
        !kind.empty() && kind.size() <= kMaxSystemDocKindBytes && kind[0] >= 'a' && kind[0] <= 'z';
    for (char c : kind) {
        kind_ok = kind_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    }
    if (!kind_ok) {
        return absl::InvalidArgumentError(common::Cat(
            "system document kind '", kind.substr(0, 80),
            "' is not valid: use a lowercase letter, then up to 63 of a-z, 0-9 and '-'"));
    }
    if (id.empty() || id.size() > kMaxSystemDocIdBytes || id.find('\0') != std::string_view::npos ||
        !common::IsValidUtf8(id)) {
        return absl::InvalidArgumentError(
            common::Cat("system document id of kind '", kind, "' is not valid (", id.size(),
                        " bytes): use 1 to 1024 bytes of UTF-8 without NUL"));
    }
    return absl::OkStatus();
}

/// ValidateSystemDocKey, and the body must be a JSON object of at most 1 MiB.
[[nodiscard]] inline absl::Status ValidateSystemDoc(const SystemDoc& doc) {
    if (absl::Status st = ValidateSystemDocKey(doc.kind, doc.id); !st.ok()) return st;
    if (doc.body.size() > kMaxSystemDocBodyBytes) {
        return absl::InvalidArgumentError(
            common::Cat("system document ", doc.kind, "/", doc.id, " is ", doc.body.size(),
                        " bytes; the limit is 1048576: store less in one document"));
    }
    rapidjson::Document parsed;
    absl::Status parse = common::ParseJson(doc.body, parsed);
    if (!parse.ok() || !parsed.IsObject()) {
        return absl::InvalidArgumentError(common::Cat("system document ", doc.kind, "/", doc.id,
                                                      " needs a JSON object as its body"));
    }
    return absl::OkStatus();
}

/// The number of documents a ListSystemDocs call returns at most: `limit` capped at 1000;
/// InvalidArgument for a bad kind or a limit below 1.
[[nodiscard]] inline absl::StatusOr<int64_t> ValidateSystemDocList(std::string_view kind,
                                                                   int64_t limit) {
    if (absl::Status st = ValidateSystemDocKey(kind, "-"); !st.ok()) return st;
    if (limit <= 0) {
        return absl::InvalidArgumentError(
            common::Cat("limit ", limit, " is not valid: list at least 1 system document"));
    }
    return std::min(limit, kMaxSystemDocListLimit);
}

}  // namespace wisp::store
