// The REST PUT rules: OpenWhisk's server-side checks and merges of a PUT body into a new or
// existing entity (ParseXPut / ApplyXPut). The document codec is entity_json.cpp.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <rapidjson/document.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

#include "entity_json_internal.hpp"
#include "json_util.hpp"

namespace wisp::common {

using namespace entity_json_internal;  // NOLINT(google-build-using-namespace): private helpers
using internal::Malformed;
using rapidjson::Value;

namespace {

// The body's root object (parsed into `doc`); Malformed naming `first_field` when it is not one.
[[nodiscard]] absl::StatusOr<const Value*> ParseBodyObject(std::string_view body,
                                                           rapidjson::Document& doc,
                                                           std::string_view first_field) {
    WISP_RETURN_IF_ERROR(internal::ParseDocument(body, doc));
    return RequireObject(doc, first_field);
}

// Range checks of the limits a PUT gives, in OpenWhisk's order (memory, timeout, logs,
// concurrency), with its texts.
[[nodiscard]] absl::Status ValidateLimitsPut(const ActionLimitsPut& l, const PutContext& ctx) {
    ActionLimits probe;
    const ActionLimitBounds& b = ctx.bounds;
    probe.timeout_ms = l.timeout_ms.value_or(b.default_timeout_ms);
    probe.memory_mb = l.memory_mb.value_or(b.default_memory_mb);
    probe.logs_mb = l.logs_mb.value_or(b.default_logs_mb);
    probe.concurrency = l.concurrency.value_or(b.default_concurrency);
    // Only the given fields are checked: unset ones take the (valid) defaults above, unless the
    // bounds themselves exclude the defaults, in which case check only what was given.
    ActionLimitBounds given = b;
    if (!l.timeout_ms) given.min_timeout_ms = INT64_MIN, given.max_timeout_ms = INT64_MAX;
    if (!l.memory_mb) given.min_memory_mb = INT64_MIN, given.max_memory_mb = INT64_MAX;
    if (!l.logs_mb) given.min_logs_mb = INT64_MIN, given.max_logs_mb = INT64_MAX;
    if (!l.concurrency) given.min_concurrency = INT64_MIN, given.max_concurrency = INT64_MAX;
    WISP_RETURN_IF_ERROR(probe.Validate(given));
    if (l.instances) {
        if (*l.instances < 1) {
            return absl::InvalidArgumentError(
                "Action container concurrency must be greater than or equal to 1.");
        }
        if (*l.instances > ctx.system_limits.concurrent_invocations) {
            return absl::InvalidArgumentError(Cat(
                "Max action instance concurrency must not exceed your namespace concurrency of ",
                ctx.system_limits.concurrent_invocations, "."));
        }
    }
    return absl::OkStatus();
}

[[nodiscard]] absl::Status SizeCheck(std::string_view field, size_t is, int64_t allowed) {
    if (static_cast<int64_t>(is) > allowed) {
        return absl::OutOfRangeError(
            Cat(field, " larger than allowed: ", is, " > ", allowed, " bytes."));
    }
    return absl::OkStatus();
}

// The 413 checks of a body's parameters and annotations (each within max_parameter_bytes).
[[nodiscard]] absl::Status CheckParameterSizes(const std::optional<Parameters>& parameters,
                                               const std::optional<Parameters>& annotations,
                                               const PutContext& ctx) {
    if (parameters) {
        WISP_RETURN_IF_ERROR(
            SizeCheck("parameters", parameters->ByteSize(), ctx.system_limits.max_parameter_bytes));
    }
    if (annotations) {
        WISP_RETURN_IF_ERROR(SizeCheck("annotations", annotations->ByteSize(),
                                       ctx.system_limits.max_parameter_bytes));
    }
    return absl::OkStatus();
}

}  // namespace

// ---- PUT bodies: actions -----------------------------------------------------------------------

[[nodiscard]] absl::StatusOr<ActionPut> ParseActionPut(std::string_view body,
                                                       const PutContext& ctx) {
    rapidjson::Document doc;
    WISP_ASSIGN_OR_RETURN(const Value* obj, ParseBodyObject(body, doc, "exec"));
    const RuntimeManifest* manifest = ctx.manifest ? ctx.manifest : &RuntimeManifest::BuiltIn();
    ActionPut put;
    if (const Value* exec = Member(*obj, "exec"); exec != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.exec, ReadExecValue(*exec, manifest, ctx.caller_namespace));
    }
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", put.parameters));
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "annotations", put.annotations));
    // 413 checks come first, as OpenWhisk's LimitedWhiskEntityPut pre-check.
    if (put.exec) {
        WISP_RETURN_IF_ERROR(
            SizeCheck("exec", ExecSize(*put.exec), ctx.system_limits.max_code_bytes));
    }
    WISP_RETURN_IF_ERROR(CheckParameterSizes(put.parameters, put.annotations, ctx));
    if (const Value* limits = Member(*obj, "limits"); limits != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.limits, ReadLimitsPut(*limits));
        WISP_RETURN_IF_ERROR(ValidateLimitsPut(*put.limits, ctx));
    }
    WISP_RETURN_IF_ERROR(ReadSemVer(*obj, put.version));
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "publish", put.publish));
    if (const Value* del = Member(*obj, "delAnnotations"); del != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.del_annotations, ReadStringArray(*del));
    }
    if (put.exec) {
        if (const auto* seq = std::get_if<SequenceExec>(&*put.exec)) {
            if (seq->components.empty()) {
                return absl::InvalidArgumentError("No component specified for the sequence.");
            }
            if (static_cast<int64_t>(seq->components.size()) >
                ctx.system_limits.sequence_max_length) {
                return absl::InvalidArgumentError("Too many actions in the sequence.");
            }
        }
    }
    return put;
}

namespace {

[[nodiscard]] absl::Status CheckNotDeprecated(const Exec& exec, const RuntimeManifest& manifest) {
    if (const auto* c = std::get_if<CodeExec>(&exec)) {
        const RuntimeManifest::Kind* k = manifest.Find(c->kind);
        if (k != nullptr && k->deprecated) {
            return absl::InvalidArgumentError(
                Cat("The '", c->kind,
                    "' runtime is no longer supported. You may read and delete but not "
                    "update or invoke this action."));
        }
    }
    return absl::OkStatus();
}

Parameters SequenceParameters(const SequenceExec& seq) {
    std::string arr = "[";
    for (size_t i = 0; i < seq.components.size(); ++i) {
        if (i > 0) arr += ",";
        arr += JsonValue::String(seq.components[i].ToString()).text();
    }
    arr += "]";
    Parameters p;
    p.Set("_actions", JsonValue::Parse(arr).value());
    return p;
}

}  // namespace

[[nodiscard]] absl::StatusOr<Action> ApplyActionPut(const FullyQualifiedName& fqn,
                                                    const ActionPut& put, const Action* existing,
                                                    const PutContext& ctx) {
    const RuntimeManifest& manifest = ctx.manifest ? *ctx.manifest : RuntimeManifest::BuiltIn();
    if (put.exec) {
        if (const auto* seq = std::get_if<SequenceExec>(&*put.exec)) {
            if (seq->components.empty()) {
                return absl::InvalidArgumentError("No component specified for the sequence.");
            }
            if (static_cast<int64_t>(seq->components.size()) >
                ctx.system_limits.sequence_max_length) {
                return absl::InvalidArgumentError("Too many actions in the sequence.");
            }
        }
        if (const auto* seq = std::get_if<SequenceExec>(&*put.exec)) {
            // The direct case of OpenWhisk's cycle check; deeper cycles need the store.
            for (const auto& c : seq->components) {
                if (c == fqn)
                    return absl::InvalidArgumentError("Sequence may not refer to itself.");
            }
        }
        WISP_RETURN_IF_ERROR(CheckNotDeprecated(*put.exec, manifest));
    } else if (existing == nullptr) {
        return absl::InvalidArgumentError("exec undefined");
    } else {
        WISP_RETURN_IF_ERROR(CheckNotDeprecated(existing->exec, manifest));
    }
    if (put.limits) WISP_RETURN_IF_ERROR(ValidateLimitsPut(*put.limits, ctx));

    Action a;
    if (existing == nullptr) {
        a.namespace_path = fqn.path;
        a.name = fqn.name;
        a.exec = *put.exec;
        a.limits.timeout_ms = ctx.bounds.default_timeout_ms;
        a.limits.memory_mb = ctx.bounds.default_memory_mb;
        a.limits.logs_mb = ctx.bounds.default_logs_mb;
        a.limits.concurrency = ctx.bounds.default_concurrency;
        if (put.limits) {
            const auto& l = *put.limits;
            a.limits.timeout_ms = l.timeout_ms.value_or(a.limits.timeout_ms);
            a.limits.memory_mb = l.memory_mb.value_or(a.limits.memory_mb);
            a.limits.logs_mb = l.logs_mb.value_or(a.limits.logs_mb);
            a.limits.concurrency = l.concurrency.value_or(a.limits.concurrency);
            a.limits.instances = l.instances;
        }
        if (const auto* seq = std::get_if<SequenceExec>(&a.exec)) {
            a.parameters = SequenceParameters(*seq);
        } else {
            a.parameters = put.parameters.value_or(Parameters{});
        }
        a.version = put.version.value_or(SemVer{});
        a.publish = put.publish.value_or(false);
        a.annotations = put.annotations.value_or(Parameters{});
        if (a.annotations.Find("provide-api-key") == nullptr) {
            a.annotations.Set("provide-api-key", JsonValue::Bool(false));
        }
    } else {
        a = *existing;
        a.namespace_path = existing->namespace_path;
        a.name = existing->name;
        if (put.limits) {
            const auto& l = *put.limits;
            a.limits.timeout_ms = l.timeout_ms.value_or(a.limits.timeout_ms);
            a.limits.memory_mb = l.memory_mb.value_or(a.limits.memory_mb);
            a.limits.logs_mb = l.logs_mb.value_or(a.limits.logs_mb);
            a.limits.concurrency = l.concurrency.value_or(a.limits.concurrency);
            if (l.instances) a.limits.instances = l.instances;
        }
        const bool was_sequence = std::holds_alternative<SequenceExec>(existing->exec);
        if (put.exec) {
            if (const auto* seq = std::get_if<SequenceExec>(&*put.exec)) {
                a.parameters = SequenceParameters(*seq);
            } else if (put.parameters) {
                a.parameters = *put.parameters;
            } else if (was_sequence) {
                a.parameters = Parameters{};
            }
            a.exec = *put.exec;
        } else if (!was_sequence && put.parameters) {
            a.parameters = *put.parameters;
        }
        a.version = put.version.value_or(existing->version.UpPatch());
        a.publish = put.publish.value_or(existing->publish);
        for (const auto& key : put.del_annotations) a.annotations.Remove(key);
        if (put.annotations) a.annotations = a.annotations.Merge(*put.annotations);
    }
    a.annotations.Set("exec", JsonValue::String(ExecKind(a.exec)));
    return a;
}

// ---- PUT bodies: triggers ----------------------------------------------------------------------

[[nodiscard]] absl::StatusOr<TriggerPut> ParseTriggerPut(std::string_view body,
                                                         const PutContext& ctx) {
    rapidjson::Document doc;
    WISP_ASSIGN_OR_RETURN(const Value* obj, ParseBodyObject(body, doc, "parameters"));
    TriggerPut put;
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", put.parameters));
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "annotations", put.annotations));
    WISP_RETURN_IF_ERROR(CheckParameterSizes(put.parameters, put.annotations, ctx));
    if (const Value* limits = Member(*obj, "limits"); limits != nullptr && !limits->IsObject()) {
        return Malformed("trigger limits malformed");
    }
    WISP_RETURN_IF_ERROR(ReadSemVer(*obj, put.version));
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "publish", put.publish));
    return put;
}

namespace {

// OpenWhisk's EntityPath.validate: non-empty segments (empty ones dropped), each a valid name.
bool IsValidFeedPath(std::string_view f) {
    std::vector<std::string_view> parts = Split(f, '/', true);
    if (parts.empty()) return false;
    for (auto p : parts) {
        if (!IsValidEntityName(p)) return false;
    }
    return true;
}

}  // namespace

[[nodiscard]] absl::StatusOr<Trigger> ApplyTriggerPut(const FullyQualifiedName& fqn,
                                                      const TriggerPut& put,
                                                      const Trigger* existing,
                                                      const PutContext& /*ctx*/) {
    Trigger t;
    if (existing == nullptr) {
        t.namespace_path = fqn.path;
        t.name = fqn.name;
        t.parameters = put.parameters.value_or(Parameters{});
        t.version = put.version.value_or(SemVer{});
        t.publish = put.publish.value_or(false);
        t.annotations = put.annotations.value_or(Parameters{});
        if (const JsonValue* feed = t.annotations.Get("feed"); feed != nullptr) {
            if (!feed->IsString() || !IsValidFeedPath(feed->AsString())) {
                return absl::InvalidArgumentError("Feed name is not valid");
            }
        }
    } else {
        t = *existing;
        if (put.parameters) t.parameters = *put.parameters;
        t.version = put.version.value_or(existing->version.UpPatch());
        t.publish = put.publish.value_or(existing->publish);
        if (put.annotations) t.annotations = *put.annotations;
    }
    return t;
}

// ---- PUT bodies: rules -------------------------------------------------------------------------

[[nodiscard]] absl::StatusOr<RulePut> ParseRulePut(std::string_view body, const PutContext& ctx) {
    rapidjson::Document doc;
    WISP_ASSIGN_OR_RETURN(const Value* obj, ParseBodyObject(body, doc, "trigger"));
    RulePut put;
    if (const Value* t = Member(*obj, "trigger"); t != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.trigger, ReadFqnValue(*t, ctx.caller_namespace));
    }
    if (const Value* a = Member(*obj, "action"); a != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.action, ReadFqnValue(*a, ctx.caller_namespace));
    }
    WISP_RETURN_IF_ERROR(ReadSemVer(*obj, put.version));
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "publish", put.publish));
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "annotations", put.annotations));
    if (put.annotations) {
        WISP_RETURN_IF_ERROR(SizeCheck("annotations", put.annotations->ByteSize(),
                                       ctx.system_limits.max_parameter_bytes));
    }
    std::optional<std::string> status;
    WISP_RETURN_IF_ERROR(ReadString(*obj, "status", status));
    if (status) {
        if (*status == "active") {
            put.status = RuleStatus::kActive;
        } else if (*status == "inactive") {
            put.status = RuleStatus::kInactive;
        } else if (!status->empty()) {
            return Malformed("status malformed");
        }
    }
    return put;
}

[[nodiscard]] absl::StatusOr<Rule> ApplyRulePut(const FullyQualifiedName& fqn, const RulePut& put,
                                                const Rule* existing, const PutContext& ctx) {
    Rule r;
    if (existing == nullptr) {
        if (!put.trigger || !put.action) {
            return absl::InvalidArgumentError("rule requires a valid trigger and a valid action");
        }
        r.namespace_path = fqn.path;
        r.name = fqn.name;
        r.trigger = *put.trigger;
        r.action = *put.action;
        r.version = put.version.value_or(SemVer{});
        r.publish = put.publish.value_or(false);
        r.annotations = put.annotations.value_or(Parameters{});
    } else {
        r = *existing;
        if (put.trigger) r.trigger = *put.trigger;
        if (put.action) r.action = *put.action;
        r.version = put.version.value_or(existing->version.UpPatch());
        r.publish = put.publish.value_or(existing->publish);
        if (put.annotations) r.annotations = *put.annotations;
    }
    if (!ctx.caller_namespace.empty()) {
        r.trigger = r.trigger.Resolve(ctx.caller_namespace);
        r.action = r.action.Resolve(ctx.caller_namespace);
    }
    return r;
}

// ---- PUT bodies: packages ----------------------------------------------------------------------

[[nodiscard]] absl::StatusOr<PackagePut> ParsePackagePut(std::string_view body,
                                                         const PutContext& ctx) {
    rapidjson::Document doc;
    WISP_ASSIGN_OR_RETURN(const Value* obj, ParseBodyObject(body, doc, "binding"));
    PackagePut put;
    if (const Value* b = Member(*obj, "binding"); b != nullptr) {
        WISP_ASSIGN_OR_RETURN(put.binding, ReadBinding(*b, ctx.caller_namespace));
    }
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", put.parameters));
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "annotations", put.annotations));
    WISP_RETURN_IF_ERROR(CheckParameterSizes(put.parameters, put.annotations, ctx));
    WISP_RETURN_IF_ERROR(ReadSemVer(*obj, put.version));
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "publish", put.publish));
    return put;
}

[[nodiscard]] absl::StatusOr<Package> ApplyPackagePut(const FullyQualifiedName& fqn,
                                                      const PackagePut& put,
                                                      const Package* existing,
                                                      const PutContext& ctx) {
    if (fqn.name == "default") {
        return absl::InvalidArgumentError("Package name 'default' is reserved.");
    }
    // {} (no binding) counts as absent, as in OpenWhisk.
    std::optional<PackageBinding> given;
    if (put.binding && *put.binding) given = **put.binding;
    if (given && !ctx.caller_namespace.empty() && given->namespace_name == kDefaultNamespace) {
        given->namespace_name = ctx.caller_namespace;
    }
    Package p;
    if (existing == nullptr) {
        p.namespace_path = fqn.path;
        p.name = fqn.name;
        p.binding = given;
        p.parameters = put.parameters.value_or(Parameters{});
        p.version = put.version.value_or(SemVer{});
        p.publish = put.publish.value_or(false);
        p.annotations = put.annotations.value_or(Parameters{});
    } else {
        if (given && !existing->binding) {
            return absl::FailedPreconditionError(
                "Resource is a package and cannot be converted into a binding.");
        }
        p = *existing;
        if (given) p.binding = given;
        if (put.parameters) p.parameters = *put.parameters;
        p.version = put.version.value_or(existing->version.UpPatch());
        p.publish = put.publish.value_or(existing->publish);
        if (put.annotations) p.annotations = *put.annotations;
    }
    p.annotations.Remove("binding");
    if (p.binding) {
        rapidjson::StringBuffer buf;
        JsonWriter w(buf);
        w.StartObject();
        Key(w, "namespace");
        Str(w, p.binding->namespace_name);
        Key(w, "name");
        Str(w, p.binding->name);
        w.EndObject();
        p.annotations.Set("binding", JsonValue::Parse(Finish(buf)).value());
    }
    return p;
}

}  // namespace wisp::common
