#include <wisp/common/json.hpp>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/status.hpp>

#include "json_util.hpp"

namespace wisp::common {

[[nodiscard]] absl::Status ParseJson(std::string_view text, rapidjson::Document& doc,
                                     const JsonLimits& limits) {
    std::string error = json::ParseBounded(text, doc, limits);
    if (!error.empty()) return absl::InvalidArgumentError(error);
    return absl::OkStatus();
}

namespace internal {

[[nodiscard]] absl::Status Malformed(std::string_view detail) {
    return absl::InvalidArgumentError(
        std::string("The request content was malformed:\n").append(detail));
}

[[nodiscard]] absl::Status ParseDocument(std::string_view text, rapidjson::Document& doc) {
    JsonLimits limits;
    limits.max_depth = kMaxJsonDepth;
    std::string error = json::ParseBounded(text, doc, limits);
    if (!error.empty()) return Malformed(error);
    return absl::OkStatus();
}

std::string_view TypeName(const rapidjson::Value& v) {
    switch (v.GetType()) {
        case rapidjson::kNullType:
            return "null";
        case rapidjson::kFalseType:
        case rapidjson::kTrueType:
            return "a boolean";
        case rapidjson::kObjectType:
            return "an object";
        case rapidjson::kArrayType:
            return "an array";
        case rapidjson::kStringType:
            return "a string";
        case rapidjson::kNumberType:
            return "a number";
    }
    return "unknown";
}

}  // namespace internal

absl::StatusOr<JsonValue> JsonValue::Parse(std::string_view text) {
    // Validate first (a number too large for a double is refused, as everywhere else), then
    // re-read as SAX with numbers kept verbatim so that e.g. 1.0 or 12345678901234567890 keep
    // their exact text; strings are re-escaped canonically.
    {
        rapidjson::Document doc;
        WISP_RETURN_IF_ERROR(internal::ParseDocument(text, doc));
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    internal::SanitizingHandler<rapidjson::Writer<rapidjson::StringBuffer>> h{w};
    JsonLimits limits;
    limits.max_depth = internal::kMaxJsonDepth;
    std::string error =
        json::ParseBoundedSax<rapidjson::kParseNumbersAsStringsFlag>(text, h, limits);
    if (!error.empty()) return internal::Malformed(error);
    return JsonValue(std::string(buf.GetString(), buf.GetSize()), Trusted{});
}

JsonValue JsonValue::String(std::string_view s) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    internal::SanitizingHandler<rapidjson::Writer<rapidjson::StringBuffer>> h{w};
    h.String(s.data(), static_cast<rapidjson::SizeType>(s.size()), true);
    return JsonValue(std::string(buf.GetString(), buf.GetSize()), Trusted{});
}

JsonValue JsonValue::Number(long long n) { return JsonValue(std::to_string(n), Trusted{}); }

JsonValue JsonValue::Bool(bool b) { return JsonValue(b ? "true" : "false", Trusted{}); }

JsonValue JsonValue::FromRapid(const rapidjson::Value& v) {
    return JsonValue(ToCompactJson(v), Trusted{});
}

std::string JsonValue::AsString() const {
    if (!IsString()) return {};
    rapidjson::Document doc;
    if (!json::ParseBounded(text_, doc).empty() || !doc.IsString()) return {};
    return std::string(doc.GetString(), doc.GetStringLength());
}

void JsonValue::ToRapid(rapidjson::Document& doc) const {
    // The text was validated on the way in; a failure here leaves `doc` null.
    (void)json::ParseBounded(text_, doc);
}

std::string JsonValue::ToEnvString() const {
    if (IsNull()) return {};
    if (IsString()) return AsString();
    return text_;
}

std::string ToCompactJson(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    internal::SanitizingHandler<rapidjson::Writer<rapidjson::StringBuffer>> h{w};
    v.Accept(h);
    return std::string(buf.GetString(), buf.GetSize());
}

std::string ToPrettyJson(const rapidjson::Value& v) {
    rapidjson::StringBuffer buf;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 4);
    internal::SanitizingHandler<rapidjson::PrettyWriter<rapidjson::StringBuffer>> h{w};
    v.Accept(h);
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace wisp::common
