#pragma once
// JSON to and from the exact REST shapes of wire §1.4-1.8 and §3.
//
// Two directions:
//  - Full documents (`XToJson` / `XFromJson`): what GET returns and what the stores keep.
//    Parsers ignore unknown members (`_id`, `_rev`, `entityType`) so a stored CouchDB document
//    parses directly.
//  - PUT bodies (`ParseXPut`): the partial, client-sent form, validated with OpenWhisk's 400/413
//    messages, then applied with `ApplyXPut` onto an existing entity or a fresh one.
// No parser throws or crashes on any input; every failure is an absl::Status (see status.hpp).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/limits.hpp>

namespace wisp::common {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- full documents --------------------------------------------------------------------------

struct ActionJsonOptions {
    bool include_code = true;  // false for ?code=false
};

void WriteParameters(JsonWriter& w, const Parameters& p);
void WriteExec(JsonWriter& w, const Exec& exec, bool include_code = true);
void WriteLimits(JsonWriter& w, const ActionLimits& l);

std::string ActionToJson(const Action& a, ActionJsonOptions opts = {});
std::string TriggerToJson(const Trigger& t);
/// The rule document; `status` is written only when given (GET adds it from the trigger link).
std::string RuleToJson(const Rule& r, std::optional<RuleStatus> status = std::nullopt);
std::string PackageToJson(const Package& p);
std::string EntityToJson(const WhiskEntity& e);

/// The list-view summary of an entity (wire §1.2): actions
/// {namespace,name,version,publish,annotations,limits,exec:{binary},updated}; triggers
/// {namespace,name,version,publish,annotations,updated}; packages the same plus
/// binding:false|{namespace,name}; rules the full document without status.
std::string EntitySummaryToJson(const WhiskEntity& e);

[[nodiscard]] absl::StatusOr<Action> ActionFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<Trigger> TriggerFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<Rule> RuleFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<Package> PackageFromJson(std::string_view json);
[[nodiscard]] absl::StatusOr<WhiskEntity> EntityFromJson(EntityType type, std::string_view json);

[[nodiscard]] absl::StatusOr<Parameters> ParametersFromJson(
    std::string_view json);  // [{key,value}]

enum class ActivationJsonForm {
    kApi,     // response {"result","size"?,"success","status"} (what the REST API returns)
    kStored,  // response {"statusCode":0..3,"result","size"?} (store and bus form)
};
std::string ActivationToJson(const ActivationRecord& r,
                             ActivationJsonForm form = ActivationJsonForm::kApi);
/// The `docs=false` list summary: {namespace,name,version,publish,annotations,activationId,
/// start,end?,duration?,cause?,statusCode?} (end, duration and statusCode only when ended).
std::string ActivationSummaryToJson(const ActivationRecord& r);
/// Accepts both forms.
[[nodiscard]] absl::StatusOr<ActivationRecord> ActivationFromJson(std::string_view json);
/// {"result","size"?,"success","status"} (GET .../activations/{id}/result).
std::string ActivationResultToJson(const ActivationResponse& r);

/// {"subject","namespaces":[{name,uuid,key}],"blocked"?}; `_id` is left to the store.
std::string SubjectToJson(const Subject& s);
[[nodiscard]] absl::StatusOr<Subject> SubjectFromJson(std::string_view json);
/// OpenWhisk's camelCase limits document members (invocationsPerMinute, ...), set fields only.
std::string NamespaceLimitsToJson(const NamespaceLimits& l);
[[nodiscard]] absl::StatusOr<NamespaceLimits> NamespaceLimitsFromJson(std::string_view json);

// ---- PUT bodies ------------------------------------------------------------------------------

struct ActionLimitsPut {
    std::optional<int64_t> timeout_ms, memory_mb, logs_mb, concurrency, instances;
};

struct ActionPut {
    std::optional<Exec> exec;
    std::optional<Parameters> parameters;
    std::optional<ActionLimitsPut> limits;
    std::optional<SemVer> version;
    std::optional<bool> publish;
    std::optional<Annotations> annotations;
    std::vector<std::string> del_annotations;
};

struct PutContext {
    std::string caller_namespace;  // resolves "_" in references
    const RuntimeManifest* manifest = &RuntimeManifest::BuiltIn();
    SystemLimits system_limits;
    ActionLimitBounds bounds = DefaultActionLimitBounds();
};

/// Validates an action PUT body: malformed JSON, wrong member types, unknown kinds, sequence
/// component names and count, limit ranges -> 400 with OpenWhisk's text; oversize exec,
/// parameters or annotations -> 413 (OutOfRange)
/// "<exec|parameters|annotations> larger than allowed: N > M bytes.".
[[nodiscard]] absl::StatusOr<ActionPut> ParseActionPut(std::string_view body,
                                                       const PutContext& ctx);
/// Builds the stored action from `put` over `existing` (overwrite: absent fields keep their
/// values, version patch bump) or over defaults (create: exec required -> 400 "exec undefined",
/// version 0.0.1). Adds the `exec` annotation, and `provide-api-key:false` on create unless set.
/// Validates the resulting limits.
[[nodiscard]] absl::StatusOr<Action> ApplyActionPut(const FullyQualifiedName& fqn,
                                                    const ActionPut& put, const Action* existing,
                                                    const PutContext& ctx);

struct TriggerPut {
    std::optional<Parameters> parameters;
    std::optional<SemVer> version;
    std::optional<bool> publish;
    std::optional<Annotations> annotations;
};
[[nodiscard]] absl::StatusOr<TriggerPut> ParseTriggerPut(std::string_view body,
                                                         const PutContext& ctx);
[[nodiscard]] absl::StatusOr<Trigger> ApplyTriggerPut(const FullyQualifiedName& fqn,
                                                      const TriggerPut& put,
                                                      const Trigger* existing,
                                                      const PutContext& ctx);

struct RulePut {
    std::optional<FullyQualifiedName> trigger;  // resolved against the caller's namespace
    std::optional<FullyQualifiedName> action;
    std::optional<SemVer> version;
    std::optional<bool> publish;
    std::optional<Annotations> annotations;
    std::optional<RuleStatus> status;
};
[[nodiscard]] absl::StatusOr<RulePut> ParseRulePut(std::string_view body, const PutContext& ctx);
/// Create needs both trigger and action: 400 "rule requires a valid trigger and a valid action".
[[nodiscard]] absl::StatusOr<Rule> ApplyRulePut(const FullyQualifiedName& fqn, const RulePut& put,
                                                const Rule* existing, const PutContext& ctx);

struct PackagePut {
    std::optional<std::optional<PackageBinding>> binding;  // {} = explicitly no binding
    std::optional<Parameters> parameters;
    std::optional<SemVer> version;
    std::optional<bool> publish;
    std::optional<Annotations> annotations;
};
[[nodiscard]] absl::StatusOr<PackagePut> ParsePackagePut(std::string_view body,
                                                         const PutContext& ctx);
/// Sets the `binding` annotation. Name "default" -> 400.
[[nodiscard]] absl::StatusOr<Package> ApplyPackagePut(const FullyQualifiedName& fqn,
                                                      const PackagePut& put,
                                                      const Package* existing,
                                                      const PutContext& ctx);

}  // namespace wisp::common
