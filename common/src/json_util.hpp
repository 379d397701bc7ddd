#pragma once
// Private helpers shared by the JSON-reading sources of wisp::common.
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <rapidjson/document.h>

#include <wisp/common/strings.hpp>

namespace wisp::common::internal {

/// Deepest array/object nesting accepted from untrusted input (keeps every later recursive
/// walk of the document, e.g. Writer::Accept, well inside the stack).
inline constexpr int kMaxJsonDepth = 512;

/// 400 "The request content was malformed:\n<detail>".
[[nodiscard]] absl::Status Malformed(std::string_view detail);

/// Parses untrusted text into `doc`: strict JSON, valid UTF-8, bounded nesting, the whole input.
/// InvalidArgument (Malformed) on any failure.
[[nodiscard]] absl::Status ParseDocument(std::string_view text, rapidjson::Document& doc);

/// The JSON type name as OpenWhisk's messages spell it ("a string", "an object", ...).
std::string_view TypeName(const rapidjson::Value& v);

/// A rapidjson handler that forwards to a Writer, replacing ill-formed UTF-8 in strings and keys
/// so that everything written parses back under kParseValidateEncodingFlag.
template <typename W>
struct SanitizingHandler {
    W& w;
    bool Null() { return w.Null(); }
    bool Bool(bool b) { return w.Bool(b); }
    bool Int(int i) { return w.Int(i); }
    bool Uint(unsigned u) { return w.Uint(u); }
    bool Int64(int64_t i) { return w.Int64(i); }
    bool Uint64(uint64_t u) { return w.Uint64(u); }
    bool Double(double d) { return w.Double(d); }
    // RapidJSON 1.1's Writer::RawNumber quotes the number; write it verbatim instead.
    bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
        return w.RawValue(s, n, rapidjson::kNumberType);
    }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        if (IsValidUtf8(std::string_view(s, n))) return w.String(s, n, copy);
        std::string t = SanitizeUtf8(std::string_view(s, n));
        return w.String(t.data(), static_cast<rapidjson::SizeType>(t.size()), true);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        if (IsValidUtf8(std::string_view(s, n))) return w.Key(s, n, copy);
        std::string t = SanitizeUtf8(std::string_view(s, n));
        return w.Key(t.data(), static_cast<rapidjson::SizeType>(t.size()), true);
    }
    bool StartObject() { return w.StartObject(); }
    bool EndObject(rapidjson::SizeType n) { return w.EndObject(n); }
    bool StartArray() { return w.StartArray(); }
    bool EndArray(rapidjson::SizeType n) { return w.EndArray(n); }
};

inline std::string_view View(const rapidjson::Value& v) {
    return std::string_view(v.GetString(), v.GetStringLength());
}

/// A string value's content, with ill-formed UTF-8 (an escaped lone surrogate) replaced, so
/// that what is read equals what will be written.
inline std::string Sanitized(std::string_view s) {
    return IsValidUtf8(s) ? std::string(s) : SanitizeUtf8(s);
}
inline std::string Text(const rapidjson::Value& v) { return Sanitized(View(v)); }

}  // namespace wisp::common::internal
