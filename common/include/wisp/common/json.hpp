#pragma once
// JsonValue: an arbitrary JSON value held in compact text form.
//
// Parameters, annotations, results and invoke bodies carry any JSON value. Keeping them as
// validated compact text makes entities cheap to copy and lets writers splice them verbatim
// (rapidjson Writer::RawValue) without a parse/print round trip on the hot path.
#include <string>
#include <string_view>

#include <absl/status/statusor.h>
#include <rapidjson/document.h>
#include <wisp/common/bounded_json.hpp>

namespace wisp::common {

using json::JsonLimits;

/// Parses untrusted JSON text into `doc` with the one bounded parser (bounded_json.hpp: size and
/// depth capped, iterative, valid UTF-8, no NUL bytes, the whole input one value). This is how
/// platform code parses JSON; calling rapidjson's Parse directly is rejected by the lint.
/// InvalidArgument with the problem in English on failure (`doc` is then null).
[[nodiscard]] absl::Status ParseJson(std::string_view text, rapidjson::Document& doc,
                                     const JsonLimits& limits = {});

class JsonValue {
  public:
    /// `null`.
    JsonValue() : text_("null") {}

    /// Parses and validates `text`, returning its compact form (numbers keep their exact text).
    /// InvalidArgument on bad JSON ("The request content was malformed:\n<detail>").
    [[nodiscard]] static absl::StatusOr<JsonValue> Parse(std::string_view text);
    /// A JSON string holding `s` (escaped).
    static JsonValue String(std::string_view s);
    static JsonValue Number(long long n);
    static JsonValue Bool(bool b);
    static JsonValue EmptyObject() { return JsonValue(std::string("{}"), Trusted{}); }
    /// Compact text of a rapidjson value.
    static JsonValue FromRapid(const rapidjson::Value& v);

    const std::string& text() const { return text_; }
    bool IsNull() const { return text_ == "null"; }
    bool IsObject() const { return !text_.empty() && text_[0] == '{'; }
    bool IsArray() const { return !text_.empty() && text_[0] == '['; }
    bool IsString() const { return !text_.empty() && text_[0] == '"'; }
    /// The string's content when IsString(), else empty.
    std::string AsString() const;
    /// Parses into `doc` (always succeeds: the text is valid).
    void ToRapid(rapidjson::Document& doc) const;
    /// OpenWhisk's rendering of a parameter in an environment variable: a JSON string raw,
    /// null as "", anything else as compact JSON.
    std::string ToEnvString() const;

    bool operator==(const JsonValue& o) const { return text_ == o.text_; }

  private:
    struct Trusted {};
    JsonValue(std::string text, Trusted) : text_(std::move(text)) {}
    std::string text_;
};

/// Compact serialisation of a rapidjson value.
std::string ToCompactJson(const rapidjson::Value& v);
/// 4-space pretty serialisation (what `wsk` prints).
std::string ToPrettyJson(const rapidjson::Value& v);

}  // namespace wisp::common
