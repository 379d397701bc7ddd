#pragma once
// JSON as the Go wsk prints it: 4-space indent, no HTML escaping, a trailing newline. Plain maps
// (invoke results, activation results) print with sorted keys; typed entities print their fields
// in the client library's struct order, with its omitempty rules (Shape).
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>
#include <wisp/common/bounded_json.hpp>

namespace wsk {

/// Parses JSON from the user or a server with the platform's bounded parser (size and depth
/// capped, iterative). Ill-formed UTF-8 is kept, as the Go CLI keeps it. "" or the problem.
inline std::string ParseJsonText(std::string_view text, rapidjson::Document& doc) {
    wisp::json::JsonLimits limits;
    limits.validate_utf8 = false;
    return wisp::json::ParseBounded(text, doc, limits);
}

struct Shape;

enum class FieldType {
    kString,       // string; omitempty drops ""
    kInt,          // int64; omitempty drops 0
    kBool,         // bool
    kBoolPtr,      // *bool; omitempty drops only a missing value
    kAny,          // interface{}: printed with sorted keys; missing = null
    kMap,          // map[string]interface{}: sorted keys; omitempty drops empty
    kStringArray,  // []string; missing = null
    kKeyValues,    // [{key, value}]; missing = null
    kObject,       // *struct (shape); omitempty drops only a missing value
    kObjectArray,  // []struct (shape); missing = null
};

struct Field {
    const char* name;
    FieldType type;
    bool omitempty = true;
    const Shape* shape = nullptr;
};

struct Shape {
    std::vector<Field> fields;
};

/// The client library's structs.
const Shape& ActionShape();
const Shape& TriggerShape();
const Shape& RuleShape();
const Shape& PackageShape();
const Shape& ActivationShape();

/// `v` as Go prints an interface{} value (sorted keys), 4-space indented, with a final newline.
std::string PrettyJson(const rapidjson::Value& v);
/// `v` as Go prints the struct described by `shape`.
std::string PrettyJson(const rapidjson::Value& v, const Shape& shape);
/// One field of a typed entity as Go prints it (`wsk action get NAME exec`).
std::string PrettyJsonField(const rapidjson::Value& object, const Field& field);
/// The field of `shape` whose name matches `name` case-insensitively (Go's field filter).
const Field* FindField(const Shape& shape, std::string_view name);
/// Compact JSON text (request bodies).
std::string CompactJson(const rapidjson::Value& v);
/// A JSON string literal, escaped as Go does without HTML escaping.
std::string QuoteJson(std::string_view s);

}  // namespace wsk
