#include "json_out.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace wsk {
namespace {

// Go's json.Indent output: "{}" and "[]" stay compact, everything else one element per line.
class Printer {
  public:
    std::string out;

    void Any(const rapidjson::Value& v, int depth) {
        if (v.IsObject()) {
            std::vector<const rapidjson::Value::Member*> members;
            for (auto& m : v.GetObject()) members.push_back(&m);
            std::stable_sort(members.begin(), members.end(), [](auto* a, auto* b) {
                return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
                       std::string_view(b->name.GetString(), b->name.GetStringLength());
            });
            if (members.empty()) {
                out += "{}";
                return;
            }
            out += "{";
            bool first = true;
            for (auto* m : members) {
                Key(std::string_view(m->name.GetString(), m->name.GetStringLength()), depth, first);
                Any(m->value, depth + 1);
            }
            Close('}', depth);
        } else if (v.IsArray()) {
            if (v.Empty()) {
                out += "[]";
                return;
            }
            out += "[";
            bool first = true;
            for (auto& e : v.GetArray()) {
                Elem(depth, first);
                Any(e, depth + 1);
            }
            Close(']', depth);
        } else {
            Scalar(v);
        }
    }

    void Shaped(const rapidjson::Value& v, const Shape& shape, int depth) {
        if (!v.IsObject()) {
            Any(v, depth);
            return;
        }
        bool first = true;
        bool any = false;
        out += "{";
        for (const Field& f : shape.fields) {
            auto it = v.FindMember(f.name);
            const rapidjson::Value* fv = it == v.MemberEnd() ? nullptr : &it->value;
            if (fv != nullptr && fv->IsNull()) fv = nullptr;
            if (f.omitempty && IsEmpty(f, fv)) continue;
            any = true;
            Key(f.name, depth, first);
            EmitImpl(f, fv, depth + 1);
        }
        if (!any) {
            out += "}";
            return;
        }
        Close('}', depth);
    }

    void Emit(const Field& f, const rapidjson::Value* v, int depth) { EmitImpl(f, v, depth); }

  private:
    static bool IsEmpty(const Field& f, const rapidjson::Value* v) {
        if (v == nullptr) return true;
        switch (f.type) {
            case FieldType::kString:
                return v->IsString() && v->GetStringLength() == 0;
            case FieldType::kInt:
                return v->IsNumber() && v->GetDouble() == 0;
            case FieldType::kBool:
                return v->IsBool() && !v->GetBool();
            case FieldType::kMap:
                return v->IsObject() && v->MemberCount() == 0;
            case FieldType::kStringArray:
            case FieldType::kKeyValues:
            case FieldType::kObjectArray:
                return v->IsArray() && v->Empty();
            default:
                return false;
        }
    }

    void EmitImpl(const Field& f, const rapidjson::Value* v, int depth) {
        if (v == nullptr) {
            switch (f.type) {
                case FieldType::kString:
                    out += "\"\"";
                    return;
                case FieldType::kInt:
                    out += "0";
                    return;
                case FieldType::kBool:
                    out += "false";
                    return;
                default:
                    out += "null";
                    return;
            }
        }
        switch (f.type) {
            case FieldType::kKeyValues:
                if (v->IsArray() && !v->Empty()) {
                    static const Shape kKeyValue{
                        {{"key", FieldType::kString, false}, {"value", FieldType::kAny, false}}};
                    out += "[";
                    bool first = true;
                    for (auto& e : v->GetArray()) {
                        Elem(depth, first);
                        Shaped(e, kKeyValue, depth + 1);
                    }
                    Close(']', depth);
                    return;
                }
                break;
            case FieldType::kObject:
                if (f.shape != nullptr && v->IsObject()) {
                    Shaped(*v, *f.shape, depth);
                    return;
                }
                break;
            case FieldType::kObjectArray:
                if (f.shape != nullptr && v->IsArray() && !v->Empty()) {
                    out += "[";
                    bool first = true;
                    for (auto& e : v->GetArray()) {
                        Elem(depth, first);
                        Shaped(e, *f.shape, depth + 1);
                    }
                    Close(']', depth);
                    return;
                }
                break;
            default:
                break;
        }
        Any(*v, depth);
    }

    void Indent(int depth) {
        out += '\n';
        out.append(static_cast<size_t>(depth) * 4, ' ');
    }
    void Key(std::string_view key, int depth, bool& first) {
        if (!first) out += ',';
        first = false;
        Indent(depth + 1);
        out += QuoteJson(key);
        out += ": ";
    }
    void Elem(int depth, bool& first) {
        if (!first) out += ',';
        first = false;
        Indent(depth + 1);
    }
    void Close(char c, int depth) {
        Indent(depth);
        out += c;
    }
    void Scalar(const rapidjson::Value& v) {
        if (v.IsNull()) {
            out += "null";
        } else if (v.IsBool()) {
            out += v.GetBool() ? "true" : "false";
        } else if (v.IsString()) {
            out += QuoteJson(std::string_view(v.GetString(), v.GetStringLength()));
        } else if (v.IsInt64()) {
            out += std::to_string(v.GetInt64());
        } else if (v.IsUint64()) {
            out += std::to_string(v.GetUint64());
        } else {
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            v.Accept(w);
            out += sb.GetString();
        }
    }
};

const Shape& LimitsShape() {
    static const Shape s{{{"timeout", FieldType::kInt},
                          {"memory", FieldType::kInt},
                          {"logs", FieldType::kInt},
                          {"concurrency", FieldType::kInt}}};
    return s;
}

const Shape& ExecShape() {
    static const Shape s{{{"kind", FieldType::kString},
                          {"code", FieldType::kAny},
                          {"image", FieldType::kString},
                          {"init", FieldType::kString},
                          {"main", FieldType::kString},
                          {"components", FieldType::kStringArray},
                          {"binary", FieldType::kBoolPtr}}};
    return s;
}

const Shape& BindingShape() {
    static const Shape s{{{"namespace", FieldType::kString}, {"name", FieldType::kString}}};
    return s;
}

const Shape& ResponseShape() {
    static const Shape s{{{"status", FieldType::kString, false},
                          {"statusCode", FieldType::kInt, false},
                          {"success", FieldType::kBool, false},
                          {"result", FieldType::kAny}}};
    return s;
}

}  // namespace

const Shape& ActionShape() {
    static const Shape s{{{"namespace", FieldType::kString},
                          {"name", FieldType::kString},
                          {"version", FieldType::kString},
                          {"exec", FieldType::kObject, true, &ExecShape()},
                          {"annotations", FieldType::kKeyValues},
                          {"delAnnotations", FieldType::kStringArray},
                          {"parameters", FieldType::kKeyValues},
                          {"limits", FieldType::kObject, true, &LimitsShape()},
                          {"error", FieldType::kString},
                          {"code", FieldType::kInt},
                          {"publish", FieldType::kBoolPtr},
                          {"updated", FieldType::kInt},
                          {"env", FieldType::kKeyValues}}};
    return s;
}

const Shape& TriggerShape() {
    // The client library's tag for name is misspelt ("omityempty"): name is always printed.
    static const Shape s{{{"namespace", FieldType::kString},
                          {"name", FieldType::kString, false},
                          {"version", FieldType::kString},
                          {"activationId", FieldType::kString},
                          {"annotations", FieldType::kKeyValues},
                          {"parameters", FieldType::kKeyValues},
                          {"limits", FieldType::kObject, true, &LimitsShape()},
                          {"publish", FieldType::kBoolPtr},
                          {"rules", FieldType::kMap},
                          {"updated", FieldType::kInt}}};
    return s;
}

const Shape& RuleShape() {
    static const Shape s{{{"namespace", FieldType::kString},
                          {"name", FieldType::kString},
                          {"version", FieldType::kString},
                          {"annotations", FieldType::kKeyValues},
                          {"status", FieldType::kString, false},
                          {"trigger", FieldType::kAny, false},
                          {"action", FieldType::kAny, false},
                          {"publish", FieldType::kBoolPtr},
                          {"updated", FieldType::kInt}}};
    return s;
}

const Shape& PackageShape() {
    static const Shape s{{{"namespace", FieldType::kString},
                          {"name", FieldType::kString},
                          {"version", FieldType::kString},
                          {"publish", FieldType::kBoolPtr},
                          {"annotations", FieldType::kKeyValues},
                          {"parameters", FieldType::kKeyValues},
                          {"binding", FieldType::kObject, true, &BindingShape()},
                          {"actions", FieldType::kObjectArray, true, &ActionShape()},
                          {"feeds", FieldType::kObjectArray, true, &ActionShape()},
                          {"updated", FieldType::kInt}}};
    return s;
}

const Shape& ActivationShape() {
    static const Shape s{{{"namespace", FieldType::kString, false},
                          {"name", FieldType::kString, false},
                          {"version", FieldType::kString, false},
                          {"subject", FieldType::kString, false},
                          {"activationId", FieldType::kString, false},
                          {"cause", FieldType::kString},
                          {"start", FieldType::kInt, false},
                          {"end", FieldType::kInt, false},
                          {"duration", FieldType::kInt, false},
                          {"statusCode", FieldType::kInt, false},
                          {"response", FieldType::kObject, false, &ResponseShape()},
                          {"logs", FieldType::kStringArray, false},
                          {"annotations", FieldType::kKeyValues, false},
                          {"publish", FieldType::kBoolPtr}}};
    return s;
}

std::string PrettyJson(const rapidjson::Value& v) {
    Printer p;
    p.Any(v, 0);
    p.out += '\n';
    return p.out;
}

std::string PrettyJson(const rapidjson::Value& v, const Shape& shape) {
    Printer p;
    p.Shaped(v, shape, 0);
    p.out += '\n';
    return p.out;
}

std::string PrettyJsonField(const rapidjson::Value& object, const Field& field) {
    const rapidjson::Value* v = nullptr;
    if (object.IsObject()) {
        auto it = object.FindMember(field.name);
        if (it != object.MemberEnd() && !it->value.IsNull()) v = &it->value;
    }
    Printer p;
    p.Emit(field, v, 0);
    p.out += '\n';
    return p.out;
}

const Field* FindField(const Shape& shape, std::string_view name) {
    auto lower = [](std::string_view s) {
        std::string out(s);
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    for (const Field& f : shape.fields) {
        if (lower(f.name) == lower(name)) return &f;
    }
    return nullptr;
}

std::string CompactJson(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::string QuoteJson(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else if (c == 0xE2 && i + 2 < s.size() &&
                           static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                           (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                            static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
                    out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
                    i += 2;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
    return out;
}

}  // namespace wsk
