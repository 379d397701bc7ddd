// The document codec: entities, activations, subjects and namespace limits to and from their
// stored and GET JSON. The REST PUT rules are entity_put.cpp.
#include <wisp/common/entity_json.hpp>

#include <cmath>
#include <limits>

#include <rapidjson/document.h>

#include <wisp/common/image_reference.hpp>
#include <wisp/common/limits.hpp>
#include <wisp/common/status.hpp>

#include "entity_json_internal.hpp"
#include "json_util.hpp"

#include <wisp/common/strings.hpp>

namespace wisp::common {

namespace entity_json_internal {

using internal::Malformed;
using internal::Text;
using internal::View;
using rapidjson::Value;

// ---- writing helpers ---------------------------------------------------------------------------

void Str(JsonWriter& w, std::string_view s) {
    internal::SanitizingHandler<JsonWriter>{w}.String(
        s.data(), static_cast<rapidjson::SizeType>(s.size()), true);
}

void Key(JsonWriter& w, std::string_view k) {
    internal::SanitizingHandler<JsonWriter>{w}.Key(
        k.data(), static_cast<rapidjson::SizeType>(k.size()), true);
}

rapidjson::Type RawType(const std::string& text) {
    switch (text.empty() ? 'n' : text[0]) {
        case '{':
            return rapidjson::kObjectType;
        case '[':
            return rapidjson::kArrayType;
        case '"':
            return rapidjson::kStringType;
        case 't':
            return rapidjson::kTrueType;
        case 'f':
            return rapidjson::kFalseType;
        case 'n':
            return rapidjson::kNullType;
        default:
            return rapidjson::kNumberType;
    }
}

void Raw(JsonWriter& w, const JsonValue& v) {
    w.RawValue(v.text().data(), v.text().size(), RawType(v.text()));
}

void WriteFqnObject(JsonWriter& w, const FullyQualifiedName& fqn) {
    w.StartObject();
    Key(w, "path");
    Str(w, fqn.path.ToString());
    Key(w, "name");
    Str(w, fqn.name);
    w.EndObject();
}

std::string Finish(rapidjson::StringBuffer& buf) {
    return std::string(buf.GetString(), buf.GetSize());
}

// ---- reading helpers -------------------------------------------------------------------------

// Compact JSON of `v`, shortened for error messages.
std::string Shown(const Value& v) {
    std::string s = ToCompactJson(v);
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    return s;
}

// A member, or nullptr when absent or null (spray reads null as an absent Option).
const Value* Member(const Value& obj, std::string_view key) {
    auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

[[nodiscard]] absl::Status ReadString(const Value& obj, std::string_view key,
                                      std::optional<std::string>& out) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsString()) return Malformed("Expected String as JsString, but got " + Shown(*v));
    out = Text(*v);
    return absl::OkStatus();
}

[[nodiscard]] absl::Status ReadBool(const Value& obj, std::string_view key,
                                    std::optional<bool>& out) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsBool()) return Malformed("Expected JsBoolean, but got " + Shown(*v));
    out = v->GetBool();
    return absl::OkStatus();
}

// A whole number in int64 range.
bool WholeNumber(const Value& v, int64_t& out) {
    if (v.IsInt64()) {
        out = v.GetInt64();
        return true;
    }
    if (v.IsUint64()) return false;  // above int64
    if (v.IsDouble()) {
        double d = v.GetDouble();
        if (!std::isfinite(d) || d != std::floor(d) || d < -9.2e18 || d > 9.2e18) return false;
        out = static_cast<int64_t>(d);
        return true;
    }
    return false;
}

[[nodiscard]] absl::Status ReadInt64(const Value& obj, std::string_view key,
                                     std::optional<int64_t>& out) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return absl::OkStatus();
    int64_t n = 0;
    if (!v->IsNumber() || !WholeNumber(*v, n)) {
        return Malformed("Expected Long as JsNumber, but got " + Shown(*v));
    }
    out = n;
    return absl::OkStatus();
}

[[nodiscard]] absl::StatusOr<SemVer> ReadSemVerValue(const Value& v) {
    if (!v.IsString()) return Malformed("semantic version malformed");
    auto s = SemVer::Parse(View(v));
    if (!s.ok()) return Malformed("semantic version malformed");
    return *s;
}

[[nodiscard]] absl::Status ReadSemVer(const Value& obj, std::optional<SemVer>& out) {
    const Value* v = Member(obj, "version");
    if (v == nullptr) return absl::OkStatus();
    WISP_ASSIGN_OR_RETURN(out, ReadSemVerValue(*v));
    return absl::OkStatus();
}

[[nodiscard]] absl::StatusOr<Parameters> ReadParametersValue(const Value& v) {
    if (!v.IsArray()) return Malformed("parameters malformed!");
    std::vector<Parameter> items;
    items.reserve(v.Size());
    for (const auto& p : v.GetArray()) {
        if (!p.IsObject()) return Malformed("invalid parameter");
        auto key = p.FindMember("key");
        auto value = p.FindMember("value");
        if (key == p.MemberEnd() || !key->value.IsString() || value == p.MemberEnd()) {
            return Malformed("parameters malformed!");
        }
        Parameter param;
        param.key = Text(key->value);
        param.value = JsonValue::FromRapid(value->value);
        if (auto init = p.FindMember("init"); init != p.MemberEnd()) {
            if (!init->value.IsBool()) return Malformed("parameters malformed!");
            param.init = init->value.GetBool();
        }
        if (auto enc = p.FindMember("encryption"); enc != p.MemberEnd() && !enc->value.IsNull()) {
            if (!enc->value.IsString()) return Malformed("parameters malformed!");
            param.encryption = JsonValue::FromRapid(enc->value);
        }
        items.push_back(std::move(param));
    }
    return Parameters(std::move(items));
}

[[nodiscard]] absl::Status ReadParameters(const Value& obj, std::string_view key,
                                          std::optional<Parameters>& out) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return absl::OkStatus();
    WISP_ASSIGN_OR_RETURN(out, ReadParametersValue(*v));
    return absl::OkStatus();
}

// OpenWhisk's EntityPath(string).toFullyQualifiedEntityName: "/ns/pkg/a" or "ns/a" (a leading
// slash is optional; empty segments are dropped); "_" resolves to `default_namespace` when set.
[[nodiscard]] absl::StatusOr<FullyQualifiedName> ParseAbsoluteRef(
    std::string_view ref, std::string_view default_namespace) {
    std::vector<std::string_view> parts = Split(ref, '/', true);
    if (parts.size() < 2 || parts.size() > 3) {
        return Malformed(
            "The fully qualified name of the entity must contain at least the namespace and the "
            "name of the entity.");
    }
    std::string joined = "/";
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) joined += "/";
        joined.append(parts[i]);
    }
    auto fqn = FullyQualifiedName::Parse(joined, default_namespace);
    if (!fqn.ok()) return Malformed(MessageOf(fqn.status()));
    return *fqn;
}

// A reference: "/ns[/pkg]/name" or {"path":"ns[/pkg]","name":"x"}.
[[nodiscard]] absl::StatusOr<FullyQualifiedName> ReadFqnValue(const Value& v,
                                                              std::string_view default_namespace) {
    if (v.IsString()) return ParseAbsoluteRef(View(v), default_namespace);
    if (v.IsObject()) {
        const Value* path = Member(v, "path");
        const Value* name = Member(v, "name");
        if (path == nullptr || name == nullptr || !path->IsString() || !name->IsString()) {
            return Malformed("fully qualified name malformed");
        }
        auto p = EntityPath::Parse(View(*path));
        if (!p.ok()) return Malformed(MessageOf(p.status()));
        if (!IsValidEntityName(View(*name))) {
            return Malformed(MessageOf(ValidateEntityName(View(*name))));
        }
        FullyQualifiedName fqn{*p, Text(*name)};
        if (!default_namespace.empty()) fqn = fqn.Resolve(default_namespace);
        return fqn;
    }
    return Malformed("fully qualified name malformed");
}

[[nodiscard]] absl::StatusOr<const Value*> RequireObject(const rapidjson::Document& doc,
                                                         std::string_view first_field) {
    if (!doc.IsObject()) {
        return Malformed(Cat("Object expected in field '", first_field, "'"));
    }
    return static_cast<const Value*>(&doc);
}

// The header fields of a full document: namespace and name are required.
[[nodiscard]] absl::Status ReadHeader(const Value& obj, EntityHeader& h) {
    const Value* ns = Member(obj, "namespace");
    if (ns == nullptr) return Malformed("Object is missing required member 'namespace'");
    if (!ns->IsString()) return Malformed("namespace malformed");
    auto path = EntityPath::Parse(View(*ns));
    if (!path.ok()) return Malformed("namespace malformed");
    h.namespace_path = *path;

    const Value* name = Member(obj, "name");
    if (name == nullptr) return Malformed("Object is missing required member 'name'");
    if (!name->IsString() || !IsValidEntityName(View(*name))) {
        return Malformed("entity name malformed");
    }
    h.name = Text(*name);

    std::optional<SemVer> version;
    WISP_RETURN_IF_ERROR(ReadSemVer(obj, version));
    h.version = version.value_or(SemVer{});
    std::optional<bool> publish;
    WISP_RETURN_IF_ERROR(ReadBool(obj, "publish", publish));
    h.publish = publish.value_or(false);
    std::optional<Parameters> annotations;
    WISP_RETURN_IF_ERROR(ReadParameters(obj, "annotations", annotations));
    h.annotations = std::move(annotations).value_or(Parameters{});
    std::optional<int64_t> updated;
    WISP_RETURN_IF_ERROR(ReadInt64(obj, "updated", updated));
    h.updated_ms = updated.value_or(0);
    return absl::OkStatus();
}

void WriteHeaderTail(JsonWriter& w, const EntityHeader& h) {
    Key(w, "version");
    Str(w, h.version.ToString());
    Key(w, "publish");
    w.Bool(h.publish);
    Key(w, "annotations");
    WriteParameters(w, h.annotations);
    Key(w, "updated");
    w.Int64(h.updated_ms);
}

void WriteNamespaceAndName(JsonWriter& w, const EntityHeader& h) {
    Key(w, "namespace");
    Str(w, h.namespace_path.ToString());
    Key(w, "name");
    Str(w, h.name);
}

// ---- exec --------------------------------------------------------------------------------------

size_t ExecSize(const Exec& exec) {
    struct Visitor {
        size_t operator()(const CodeExec& c) const {
            return c.code.size() + (c.main ? c.main->size() : 0);
        }
        size_t operator()(const BlackboxExec& b) const {
            return (b.code ? b.code->size() : 0) + (b.main ? b.main->size() : 0) + b.image.size();
        }
        size_t operator()(const SequenceExec& s) const {
            size_t n = 0;
            for (const auto& c : s.components) n += c.DocId().size();
            return n;
        }
    };
    return std::visit(Visitor{}, exec);
}

std::string LowerTrim(std::string_view s) { return AsciiLower(Trim(s)); }

// Reads `exec`. With a manifest (PUT bodies) kinds are resolved and validated; without one
// (stored documents) the kind is taken as written and `binary` as stored.
[[nodiscard]] absl::StatusOr<Exec> ReadExecValue(const Value& v, const RuntimeManifest* manifest,
                                                 std::string_view default_namespace) {
    if (!v.IsObject()) return Malformed("JSON object expected");
    const Value* kind_v = Member(v, "kind");
    if (kind_v == nullptr || !kind_v->IsString()) {
        return Malformed("'kind' must be a string defined in 'exec'");
    }
    const std::string kind = internal::Sanitized(LowerTrim(View(*kind_v)));

    std::optional<std::string> main;
    if (const Value* m = Member(v, "main"); m != nullptr) {
        if (!m->IsString()) {
            return Malformed(
                Cat("if defined, 'main' be a string in 'exec' for '", kind, "' actions"));
        }
        main = Text(*m);
    }
    std::optional<bool> stored_binary;
    if (manifest == nullptr) WISP_RETURN_IF_ERROR(ReadBool(v, "binary", stored_binary));

    if (kind == kSequenceKind) {
        const Value* comps = Member(v, "components");
        if (comps == nullptr) return Malformed("'components' must be defined for sequence kind");
        if (!comps->IsArray()) return Malformed("'components' must be an array");
        SequenceExec seq;
        seq.components.reserve(comps->Size());
        for (const auto& c : comps->GetArray()) {
            WISP_ASSIGN_OR_RETURN(auto fqn, ReadFqnValue(c, default_namespace));
            seq.components.push_back(std::move(fqn));
        }
        return Exec(std::move(seq));
    }

    if (kind == kBlackboxKind) {
        const Value* image = Member(v, "image");
        if (image == nullptr || !image->IsString() || Trim(View(*image)).empty()) {
            return Malformed("'image' must be a string defined in 'exec' for 'blackbox' actions");
        }
        BlackboxExec bb;
        bb.image = internal::Sanitized(Trim(View(*image)));
        if (manifest != nullptr) {  // user input (stored documents are read as they are)
            if (auto ref = ParseImageRef(bb.image); !ref.ok()) {
                return Malformed(std::string(ref.status().message()));
            }
        }
        if (const Value* code = Member(v, "code"); code != nullptr) {
            if (!code->IsString()) {
                return Malformed(
                    "if defined, 'code' must a string defined in 'exec' for 'blackbox' actions");
            }
            if (!Trim(View(*code)).empty()) {
                bb.code = Text(*code);
            }
        }
        bb.binary = bb.code ? (manifest ? LooksLikeBinaryArchive(*bb.code)
                                        : stored_binary.value_or(LooksLikeBinaryArchive(*bb.code)))
                            : false;
        bb.main = std::move(main);
        return Exec(std::move(bb));
    }

    CodeExec ce;
    if (manifest != nullptr) {
        auto resolved = manifest->ResolveKind(kind);
        if (!resolved.ok()) return Malformed(MessageOf(resolved.status()));
        ce.kind = *resolved;
    } else {
        if (kind.empty()) return Malformed("'kind' must be a string defined in 'exec'");
        ce.kind = kind;
    }
    const Value* code = Member(v, "code");
    if (code == nullptr || !code->IsString()) {
        return Malformed(
            Cat("'code' must be a string defined in 'exec' for '", ce.kind, "' actions"));
    }
    ce.code = Text(*code);
    if (manifest != nullptr) {
        const RuntimeManifest::Kind* k = manifest->Find(ce.kind);
        if (k != nullptr && k->requires_main && !main) {
            return Malformed(
                Cat("'main' must be a string defined in 'exec' for '", ce.kind, "' actions"));
        }
        ce.binary = LooksLikeBinaryArchive(ce.code);
    } else {
        ce.binary = stored_binary.value_or(LooksLikeBinaryArchive(ce.code));
    }
    ce.main = std::move(main);
    return Exec(std::move(ce));
}

// ---- limits ------------------------------------------------------------------------------------

[[nodiscard]] absl::Status ReadLimitField(const Value& obj, std::string_view key,
                                          std::string_view what, std::optional<int64_t>& out) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return absl::OkStatus();
    if (!v->IsNumber()) return Malformed(Cat(what, " limit malformed"));
    int64_t n = 0;
    if (!WholeNumber(*v, n) || n < std::numeric_limits<int32_t>::min() ||
        n > std::numeric_limits<int32_t>::max()) {
        return Malformed(Cat(what, " limit must be whole number"));
    }
    out = n;
    return absl::OkStatus();
}

[[nodiscard]] absl::StatusOr<ActionLimitsPut> ReadLimitsPut(const Value& v) {
    if (!v.IsObject()) return Malformed("Object expected in field 'timeout'");
    ActionLimitsPut l;
    WISP_RETURN_IF_ERROR(ReadLimitField(v, "timeout", "time", l.timeout_ms));
    WISP_RETURN_IF_ERROR(ReadLimitField(v, "memory", "memory", l.memory_mb));
    WISP_RETURN_IF_ERROR(ReadLimitField(v, "logs", "log", l.logs_mb));
    WISP_RETURN_IF_ERROR(ReadLimitField(v, "concurrency", "intra concurrency", l.concurrency));
    WISP_RETURN_IF_ERROR(ReadLimitField(v, "instances", "instances", l.instances));
    return l;
}

[[nodiscard]] absl::StatusOr<ActionLimits> ReadLimitsDoc(const Value& v) {
    if (!v.IsObject()) return Malformed("limits malformed");
    WISP_ASSIGN_OR_RETURN(ActionLimitsPut p, ReadLimitsPut(v));
    ActionLimits l;
    l.timeout_ms = p.timeout_ms.value_or(l.timeout_ms);
    l.memory_mb = p.memory_mb.value_or(l.memory_mb);
    l.logs_mb = p.logs_mb.value_or(l.logs_mb);
    l.concurrency = p.concurrency.value_or(l.concurrency);
    l.instances = p.instances;
    return l;
}

// ---- activation response -----------------------------------------------------------------------

std::optional<ActivationStatus> StatusFromName(std::string_view s) {
    for (int i = 0; i <= 3; ++i) {
        auto st = static_cast<ActivationStatus>(i);
        if (ActivationStatusName(st) == s) return st;
    }
    return std::nullopt;
}

void WriteResponse(JsonWriter& w, const ActivationResponse& r, ActivationJsonForm form) {
    w.StartObject();
    if (form == ActivationJsonForm::kStored) {
        Key(w, "statusCode");
        w.Int(static_cast<int>(r.status));
    }
    if (r.result) {
        Key(w, "result");
        Raw(w, *r.result);
    }
    if (r.size) {
        Key(w, "size");
        w.Int64(*r.size);
    }
    if (form == ActivationJsonForm::kApi) {
        Key(w, "success");
        w.Bool(r.success());
        Key(w, "status");
        Str(w, ActivationStatusName(r.status));
    }
    w.EndObject();
}

[[nodiscard]] absl::StatusOr<ActivationResponse> ReadResponse(const Value& v) {
    if (!v.IsObject()) return Malformed("activation response malformed");
    ActivationResponse r;
    if (const Value* code = Member(v, "statusCode"); code != nullptr) {
        int64_t n = -1;
        if (!code->IsNumber() || !WholeNumber(*code, n) || n < 0 || n > 3) {
            return Malformed("activation response malformed");
        }
        r.status = static_cast<ActivationStatus>(n);
    } else if (const Value* status = Member(v, "status"); status != nullptr) {
        if (!status->IsString()) return Malformed("activation response malformed");
        auto st = StatusFromName(View(*status));
        if (!st) return Malformed("activation response malformed");
        r.status = *st;
    } else if (const Value* success = Member(v, "success"); success != nullptr) {
        if (!success->IsBool()) return Malformed("activation response malformed");
        r.status =
            success->GetBool() ? ActivationStatus::kSuccess : ActivationStatus::kApplicationError;
    }
    if (auto it = v.FindMember("result"); it != v.MemberEnd()) {
        r.result = JsonValue::FromRapid(it->value);
    }
    std::optional<int64_t> size;
    WISP_RETURN_IF_ERROR(ReadInt64(v, "size", size));
    r.size = size;
    return r;
}

[[nodiscard]] absl::StatusOr<std::vector<std::string>> ReadStringArray(const Value& v) {
    if (!v.IsArray()) return Malformed("Expected Array as JsArray, but got " + Shown(v));
    std::vector<std::string> out;
    out.reserve(v.Size());
    for (const auto& s : v.GetArray()) {
        if (!s.IsString()) return Malformed("Expected String as JsString, but got " + Shown(s));
        out.push_back(Text(s));
    }
    return out;
}

// A size: a whole number of bytes or a string in OpenWhisk's ByteSize syntax ("1 MB").
std::optional<int64_t> ReadByteSize(const Value& v) {
    int64_t n = 0;
    if (v.IsNumber()) {
        if (!WholeNumber(v, n) || n < 0) return std::nullopt;
        return n;
    }
    if (!v.IsString()) return std::nullopt;
    absl::StatusOr<int64_t> size = ParseByteSize(View(v));
    if (!size.ok()) return std::nullopt;
    return *size;
}

}  // namespace entity_json_internal

using namespace entity_json_internal;  // NOLINT(google-build-using-namespace): private helpers

// ---- full documents: writers -------------------------------------------------------------------

void WriteParameters(JsonWriter& w, const Parameters& p) {
    w.StartArray();
    for (const auto& item : p.items()) {
        w.StartObject();
        Key(w, "key");
        Str(w, item.key);
        Key(w, "value");
        Raw(w, item.value);
        if (item.init) {
            Key(w, "init");
            w.Bool(true);
        }
        if (item.encryption) {
            Key(w, "encryption");
            Raw(w, *item.encryption);
        }
        w.EndObject();
    }
    w.EndArray();
}

void WriteExec(JsonWriter& w, const Exec& exec, bool include_code) {
    w.StartObject();
    Key(w, "kind");
    Str(w, ExecKind(exec));
    if (const auto* c = std::get_if<CodeExec>(&exec)) {
        if (include_code) {
            Key(w, "code");
            Str(w, c->code);
        }
        Key(w, "binary");
        w.Bool(c->binary);
        if (c->main) {
            Key(w, "main");
            Str(w, *c->main);
        }
    } else if (const auto* b = std::get_if<BlackboxExec>(&exec)) {
        Key(w, "image");
        Str(w, b->image);
        if (include_code && b->code) {
            Key(w, "code");
            Str(w, *b->code);
        }
        Key(w, "binary");
        w.Bool(b->binary);
        if (b->main) {
            Key(w, "main");
            Str(w, *b->main);
        }
    } else if (const auto* s = std::get_if<SequenceExec>(&exec)) {
        Key(w, "components");
        w.StartArray();
        for (const auto& c : s->components) Str(w, c.ToString());
        w.EndArray();
    }
    w.EndObject();
}

void WriteLimits(JsonWriter& w, const ActionLimits& l) {
    w.StartObject();
    Key(w, "timeout");
    w.Int64(l.timeout_ms);
    Key(w, "memory");
    w.Int64(l.memory_mb);
    Key(w, "logs");
    w.Int64(l.logs_mb);
    Key(w, "concurrency");
    w.Int64(l.concurrency);
    if (l.instances) {
        Key(w, "instances");
        w.Int64(*l.instances);
    }
    w.EndObject();
}

std::string ActionToJson(const Action& a, ActionJsonOptions opts) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    WriteNamespaceAndName(w, a);
    Key(w, "exec");
    WriteExec(w, a.exec, opts.include_code);
    Key(w, "parameters");
    WriteParameters(w, a.parameters);
    Key(w, "limits");
    WriteLimits(w, a.limits);
    WriteHeaderTail(w, a);
    w.EndObject();
    return Finish(buf);
}

std::string TriggerToJson(const Trigger& t) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    WriteNamespaceAndName(w, t);
    Key(w, "parameters");
    WriteParameters(w, t.parameters);
    Key(w, "limits");
    w.StartObject();
    w.EndObject();
    Key(w, "version");
    Str(w, t.version.ToString());
    Key(w, "publish");
    w.Bool(t.publish);
    Key(w, "annotations");
    WriteParameters(w, t.annotations);
    if (!t.rules.empty()) {
        Key(w, "rules");
        w.StartObject();
        for (const auto& [name, rule] : t.rules) {
            Key(w, name);
            w.StartObject();
            Key(w, "action");
            WriteFqnObject(w, rule.action);
            Key(w, "status");
            Str(w, RuleStatusName(rule.status));
            w.EndObject();
        }
        w.EndObject();
    }
    Key(w, "updated");
    w.Int64(t.updated_ms);
    w.EndObject();
    return Finish(buf);
}

std::string RuleToJson(const Rule& r, std::optional<RuleStatus> status) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    WriteNamespaceAndName(w, r);
    if (status) {
        Key(w, "status");
        Str(w, RuleStatusName(*status));
    }
    Key(w, "trigger");
    WriteFqnObject(w, r.trigger);
    Key(w, "action");
    WriteFqnObject(w, r.action);
    WriteHeaderTail(w, r);
    w.EndObject();
    return Finish(buf);
}

std::string PackageToJson(const Package& p) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    WriteNamespaceAndName(w, p);
    Key(w, "binding");
    w.StartObject();
    if (p.binding) {
        Key(w, "namespace");
        Str(w, p.binding->namespace_name);
        Key(w, "name");
        Str(w, p.binding->name);
    }
    w.EndObject();
    Key(w, "parameters");
    WriteParameters(w, p.parameters);
    WriteHeaderTail(w, p);
    w.EndObject();
    return Finish(buf);
}

std::string EntityToJson(const WhiskEntity& e) {
    struct Visitor {
        std::string operator()(const Action& a) const { return ActionToJson(a); }
        std::string operator()(const Trigger& t) const { return TriggerToJson(t); }
        std::string operator()(const Rule& r) const { return RuleToJson(r); }
        std::string operator()(const Package& p) const { return PackageToJson(p); }
    };
    return std::visit(Visitor{}, e);
}

namespace {

void WriteSummaryHead(JsonWriter& w, const EntityHeader& h) {
    WriteNamespaceAndName(w, h);
    Key(w, "version");
    Str(w, h.version.ToString());
    Key(w, "publish");
    w.Bool(h.publish);
    Key(w, "annotations");
    WriteParameters(w, h.annotations);
}

}  // namespace

std::string EntitySummaryToJson(const WhiskEntity& e) {
    if (const auto* r = std::get_if<Rule>(&e)) return RuleToJson(*r);
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    const EntityHeader& h = HeaderOf(e);
    WriteSummaryHead(w, h);
    if (const auto* a = std::get_if<Action>(&e)) {
        Key(w, "limits");
        WriteLimits(w, a->limits);
        Key(w, "exec");
        w.StartObject();
        Key(w, "binary");
        bool binary = false;
        if (const auto* c = std::get_if<CodeExec>(&a->exec)) binary = c->binary;
        if (const auto* b = std::get_if<BlackboxExec>(&a->exec)) binary = b->binary;
        w.Bool(binary);
        w.EndObject();
    } else if (const auto* p = std::get_if<Package>(&e)) {
        Key(w, "binding");
        if (p->binding) {
            w.StartObject();
            Key(w, "namespace");
            Str(w, p->binding->namespace_name);
            Key(w, "name");
            Str(w, p->binding->name);
            w.EndObject();
        } else {
            w.Bool(false);
        }
    }
    Key(w, "updated");
    w.Int64(h.updated_ms);
    w.EndObject();
    return Finish(buf);
}

// ---- full documents: readers -------------------------------------------------------------------

[[nodiscard]] absl::StatusOr<Action> ActionFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "namespace"));
    Action a;
    WISP_RETURN_IF_ERROR(ReadHeader(*obj, a));
    const Value* exec = Member(*obj, "exec");
    if (exec == nullptr) return Malformed("Object is missing required member 'exec'");
    WISP_ASSIGN_OR_RETURN(a.exec, ReadExecValue(*exec, nullptr, ""));
    std::optional<Parameters> params;
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", params));
    a.parameters = std::move(params).value_or(Parameters{});
    if (const Value* limits = Member(*obj, "limits"); limits != nullptr) {
        WISP_ASSIGN_OR_RETURN(a.limits, ReadLimitsDoc(*limits));
    }
    return a;
}

[[nodiscard]] absl::StatusOr<Trigger> TriggerFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "namespace"));
    Trigger t;
    WISP_RETURN_IF_ERROR(ReadHeader(*obj, t));
    std::optional<Parameters> params;
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", params));
    t.parameters = std::move(params).value_or(Parameters{});
    if (const Value* rules = Member(*obj, "rules"); rules != nullptr) {
        if (!rules->IsObject()) return Malformed("rules malformed");
        for (auto it = rules->MemberBegin(); it != rules->MemberEnd(); ++it) {
            const Value& rr = it->value;
            if (!rr.IsObject()) return Malformed("rules malformed");
            const Value* action = Member(rr, "action");
            if (action == nullptr) return Malformed("rules malformed");
            ReducedRule reduced;
            WISP_ASSIGN_OR_RETURN(reduced.action, ReadFqnValue(*action, ""));
            std::optional<std::string> status;
            WISP_RETURN_IF_ERROR(ReadString(rr, "status", status));
            if (status && *status == "inactive") {
                reduced.status = RuleStatus::kInactive;
            } else if (status && *status != "active") {
                return Malformed("rule status malformed");
            }
            t.rules[Text(it->name)] = std::move(reduced);
        }
    }
    return t;
}

[[nodiscard]] absl::StatusOr<Rule> RuleFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "namespace"));
    Rule r;
    WISP_RETURN_IF_ERROR(ReadHeader(*obj, r));
    const Value* trigger = Member(*obj, "trigger");
    if (trigger == nullptr) return Malformed("Object is missing required member 'trigger'");
    WISP_ASSIGN_OR_RETURN(r.trigger, ReadFqnValue(*trigger, ""));
    const Value* action = Member(*obj, "action");
    if (action == nullptr) return Malformed("Object is missing required member 'action'");
    WISP_ASSIGN_OR_RETURN(r.action, ReadFqnValue(*action, ""));
    return r;
}

namespace entity_json_internal {

// {} -> no binding; {"namespace","name"} -> a binding ("_" resolved when `ns` is given).
[[nodiscard]] absl::StatusOr<std::optional<PackageBinding>> ReadBinding(const Value& v,
                                                                        std::string_view ns) {
    if (v.IsBool() && !v.GetBool()) return std::optional<PackageBinding>();  // list view form
    if (!v.IsObject()) return Malformed("binding malformed");
    if (v.MemberCount() == 0) return std::optional<PackageBinding>();
    const Value* bns = Member(v, "namespace");
    const Value* bname = Member(v, "name");
    if (bns == nullptr) return Malformed("Object is missing required member 'namespace'");
    if (bname == nullptr) return Malformed("Object is missing required member 'name'");
    if (!bns->IsString() || !IsValidEntityName(View(*bns)))
        return Malformed("entity name malformed");
    if (!bname->IsString() || !IsValidEntityName(View(*bname))) {
        return Malformed("entity name malformed");
    }
    PackageBinding b{Text(*bns), Text(*bname)};
    if (!ns.empty() && b.namespace_name == kDefaultNamespace) b.namespace_name = std::string(ns);
    return std::optional<PackageBinding>(std::move(b));
}

}  // namespace entity_json_internal

[[nodiscard]] absl::StatusOr<Package> PackageFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "namespace"));
    Package p;
    WISP_RETURN_IF_ERROR(ReadHeader(*obj, p));
    if (const Value* b = Member(*obj, "binding"); b != nullptr) {
        WISP_ASSIGN_OR_RETURN(p.binding, ReadBinding(*b, ""));
    }
    std::optional<Parameters> params;
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "parameters", params));
    p.parameters = std::move(params).value_or(Parameters{});
    return p;
}

[[nodiscard]] absl::StatusOr<WhiskEntity> EntityFromJson(EntityType type, std::string_view json) {
    switch (type) {
        case EntityType::kAction: {
            WISP_ASSIGN_OR_RETURN(auto a, ActionFromJson(json));
            return WhiskEntity(std::move(a));
        }
        case EntityType::kTrigger: {
            WISP_ASSIGN_OR_RETURN(auto t, TriggerFromJson(json));
            return WhiskEntity(std::move(t));
        }
        case EntityType::kRule: {
            WISP_ASSIGN_OR_RETURN(auto r, RuleFromJson(json));
            return WhiskEntity(std::move(r));
        }
        case EntityType::kPackage: {
            WISP_ASSIGN_OR_RETURN(auto p, PackageFromJson(json));
            return WhiskEntity(std::move(p));
        }
    }
    return absl::InvalidArgumentError("unknown entity type");
}

[[nodiscard]] absl::StatusOr<Parameters> ParametersFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    return ReadParametersValue(doc);
}

// ---- activations -------------------------------------------------------------------------------

std::string ActivationToJson(const ActivationRecord& r, ActivationJsonForm form) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "namespace");
    Str(w, r.namespace_path.ToString());
    Key(w, "name");
    Str(w, r.name);
    Key(w, "subject");
    Str(w, r.subject);
    Key(w, "activationId");
    Str(w, r.activation_id.str());
    Key(w, "start");
    w.Int64(r.start_ms);
    if (r.end_ms != 0) {
        Key(w, "end");
        w.Int64(r.end_ms);
    }
    if (auto d = r.duration()) {
        Key(w, "duration");
        w.Int64(*d);
    }
    if (r.cause) {
        Key(w, "cause");
        Str(w, r.cause->str());
    }
    Key(w, "response");
    WriteResponse(w, r.response, form);
    Key(w, "logs");
    w.StartArray();
    for (const auto& l : r.logs) Str(w, l);
    w.EndArray();
    Key(w, "version");
    Str(w, r.version.ToString());
    Key(w, "publish");
    w.Bool(r.publish);
    Key(w, "annotations");
    WriteParameters(w, r.annotations);
    w.EndObject();
    return Finish(buf);
}

std::string ActivationSummaryToJson(const ActivationRecord& r) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "namespace");
    Str(w, r.namespace_path.ToString());
    Key(w, "name");
    Str(w, r.name);
    Key(w, "version");
    Str(w, r.version.ToString());
    Key(w, "publish");
    w.Bool(r.publish);
    Key(w, "annotations");
    WriteParameters(w, r.annotations);
    Key(w, "activationId");
    Str(w, r.activation_id.str());
    Key(w, "start");
    w.Int64(r.start_ms);
    if (r.cause) {
        Key(w, "cause");
        Str(w, r.cause->str());
    }
    if (r.end_ms != 0) {
        Key(w, "end");
        w.Int64(r.end_ms);
        Key(w, "duration");
        w.Int64(r.duration().value_or(0));
        Key(w, "statusCode");
        w.Int(static_cast<int>(r.response.status));
    }
    w.EndObject();
    return Finish(buf);
}

[[nodiscard]] absl::StatusOr<ActivationRecord> ActivationFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "namespace"));
    ActivationRecord r;
    const Value* ns = Member(*obj, "namespace");
    if (ns == nullptr) return Malformed("Object is missing required member 'namespace'");
    if (!ns->IsString()) return Malformed("namespace malformed");
    auto path = EntityPath::Parse(View(*ns));
    if (!path.ok()) return Malformed("namespace malformed");
    r.namespace_path = *path;
    std::optional<std::string> name, subject, id, cause;
    WISP_RETURN_IF_ERROR(ReadString(*obj, "name", name));
    if (!name) return Malformed("Object is missing required member 'name'");
    r.name = *name;
    WISP_RETURN_IF_ERROR(ReadString(*obj, "subject", subject));
    r.subject = subject.value_or("");
    WISP_RETURN_IF_ERROR(ReadString(*obj, "activationId", id));
    if (!id) return Malformed("Object is missing required member 'activationId'");
    auto aid = ActivationId::Parse(*id);
    if (!aid.ok()) return Malformed(MessageOf(aid.status()));
    r.activation_id = *aid;
    std::optional<int64_t> start, end, duration;
    WISP_RETURN_IF_ERROR(ReadInt64(*obj, "start", start));
    WISP_RETURN_IF_ERROR(ReadInt64(*obj, "end", end));
    WISP_RETURN_IF_ERROR(ReadInt64(*obj, "duration", duration));
    r.start_ms = start.value_or(0);
    r.end_ms = end.value_or(0);
    if (duration && r.end_ms != 0 && *duration != r.end_ms - r.start_ms) {
        r.duration_ms = duration;
    }
    WISP_RETURN_IF_ERROR(ReadString(*obj, "cause", cause));
    if (cause) {
        auto c = ActivationId::Parse(*cause);
        if (!c.ok()) return Malformed(MessageOf(c.status()));
        r.cause = *c;
    }
    if (const Value* resp = Member(*obj, "response"); resp != nullptr) {
        WISP_ASSIGN_OR_RETURN(r.response, ReadResponse(*resp));
    }
    if (const Value* logs = Member(*obj, "logs"); logs != nullptr) {
        WISP_ASSIGN_OR_RETURN(r.logs, ReadStringArray(*logs));
    }
    std::optional<SemVer> version;
    WISP_RETURN_IF_ERROR(ReadSemVer(*obj, version));
    r.version = version.value_or(SemVer{});
    std::optional<bool> publish;
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "publish", publish));
    r.publish = publish.value_or(false);
    std::optional<Parameters> annotations;
    WISP_RETURN_IF_ERROR(ReadParameters(*obj, "annotations", annotations));
    r.annotations = std::move(annotations).value_or(Parameters{});
    return r;
}

std::string ActivationResultToJson(const ActivationResponse& r) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    WriteResponse(w, r, ActivationJsonForm::kApi);
    return Finish(buf);
}

// ---- subjects and limits
// -------------------------------------------------------------------------

std::string SubjectToJson(const Subject& s) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    Key(w, "subject");
    Str(w, s.subject);
    Key(w, "namespaces");
    w.StartArray();
    for (const auto& ns : s.namespaces) {
        w.StartObject();
        Key(w, "name");
        Str(w, ns.name);
        Key(w, "uuid");
        Str(w, ns.auth.uuid);
        Key(w, "key");
        Str(w, ns.auth.key);
        w.EndObject();
    }
    w.EndArray();
    if (s.blocked) {
        Key(w, "blocked");
        w.Bool(true);
    }
    w.EndObject();
    return Finish(buf);
}

[[nodiscard]] absl::StatusOr<Subject> SubjectFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "subject"));
    Subject s;
    std::optional<std::string> subject;
    WISP_RETURN_IF_ERROR(ReadString(*obj, "subject", subject));
    if (!subject) return Malformed("Object is missing required member 'subject'");
    s.subject = *subject;
    if (const Value* nss = Member(*obj, "namespaces"); nss != nullptr) {
        if (!nss->IsArray()) return Malformed("Expected Array as JsArray, but got " + Shown(*nss));
        for (const auto& n : nss->GetArray()) {
            if (!n.IsObject()) return Malformed("namespaces malformed");
            std::optional<std::string> name, uuid, key;
            WISP_RETURN_IF_ERROR(ReadString(n, "name", name));
            WISP_RETURN_IF_ERROR(ReadString(n, "uuid", uuid));
            WISP_RETURN_IF_ERROR(ReadString(n, "key", key));
            if (!name || !uuid || !key) return Malformed("namespaces malformed");
            s.namespaces.push_back(NamespaceEntry{*name, AuthKey{*uuid, *key}});
        }
    }
    std::optional<bool> blocked;
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "blocked", blocked));
    s.blocked = blocked.value_or(false);
    return s;
}

namespace {

struct IntLimitField {
    const char* json;
    std::optional<int64_t> NamespaceLimits::*member;
    bool byte_size;  // written as "N B"
};

constexpr IntLimitField kIntLimitFields[] = {
    {"invocationsPerMinute", &NamespaceLimits::invocations_per_minute, false},
    {"concurrentInvocations", &NamespaceLimits::concurrent_invocations, false},
    {"firesPerMinute", &NamespaceLimits::fires_per_minute, false},
    {"minActionMemory", &NamespaceLimits::min_action_memory, false},
    {"maxActionMemory", &NamespaceLimits::max_action_memory, false},
    {"minActionLogs", &NamespaceLimits::min_action_logs, false},
    {"maxActionLogs", &NamespaceLimits::max_action_logs, false},
    {"minActionTimeout", &NamespaceLimits::min_action_timeout, false},
    {"maxActionTimeout", &NamespaceLimits::max_action_timeout, false},
    {"minActionConcurrency", &NamespaceLimits::min_action_concurrency, false},
    {"maxActionConcurrency", &NamespaceLimits::max_action_concurrency, false},
    {"maxParameterSize", &NamespaceLimits::max_parameter_size, true},
    {"maxPayloadSize", &NamespaceLimits::max_payload_size, true},
    {"truncationSize", &NamespaceLimits::truncation_size, true},
    {"maxKeepWarm", &NamespaceLimits::max_keep_warm, false},
};

}  // namespace

std::string NamespaceLimitsToJson(const NamespaceLimits& l) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    for (const auto& f : kIntLimitFields) {
        const auto& v = l.*(f.member);
        if (!v) continue;
        Key(w, f.json);
        if (f.byte_size) {
            Str(w, Cat(*v, " B"));
        } else {
            w.Int64(*v);
        }
    }
    if (l.allowed_kinds) {
        Key(w, "allowedKinds");
        w.StartArray();
        for (const auto& k : *l.allowed_kinds) Str(w, k);
        w.EndArray();
    }
    if (l.store_activations) {
        Key(w, "storeActivations");
        w.Bool(*l.store_activations);
    }
    w.EndObject();
    return Finish(buf);
}

[[nodiscard]] absl::StatusOr<NamespaceLimits> NamespaceLimitsFromJson(std::string_view json) {
    rapidjson::Document doc;
    WISP_RETURN_IF_ERROR(internal::ParseDocument(json, doc));
    WISP_ASSIGN_OR_RETURN(const Value* obj, RequireObject(doc, "invocationsPerMinute"));
    NamespaceLimits l;
    for (const auto& f : kIntLimitFields) {
        const Value* v = Member(*obj, f.json);
        if (v == nullptr) continue;
        if (f.byte_size) {
            auto n = ReadByteSize(*v);
            if (!n) return Malformed(Cat("'", f.json, "' is not a valid size"));
            l.*(f.member) = *n;
        } else {
            WISP_RETURN_IF_ERROR(ReadInt64(*obj, f.json, l.*(f.member)));
        }
    }
    if (const Value* kinds = Member(*obj, "allowedKinds"); kinds != nullptr) {
        WISP_ASSIGN_OR_RETURN(l.allowed_kinds, ReadStringArray(*kinds));
    }
    WISP_RETURN_IF_ERROR(ReadBool(*obj, "storeActivations", l.store_activations));
    return l;
}

}  // namespace wisp::common
