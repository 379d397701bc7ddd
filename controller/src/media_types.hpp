#pragma once
// Media types as OpenWhisk's HTTP library (Akka) classifies them: which content types are text
// (and whether their charset is fixed or given by a parameter) and which are bytes. Web actions
// use it to decide whether a body travels base64-encoded (`__ow_body`, a `.http` result's
// `body`) or as text.
#include <optional>
#include <string>
#include <string_view>

namespace wisp::controller {

/// How a media type's text is treated: bytes (base64 in JSON), text with a charset fixed by its
/// definition (JSON), or text with a charset parameter (defaults to UTF-8).
enum class MediaKind { kBinary, kFixedCharset, kOpenCharset };

struct MediaType {
    std::string type;     // lower case
    std::string subtype;  // lower case
    bool has_charset = false;
    std::string Value() const { return type + "/" + subtype; }
};

/// "type/subtype; p=v..." → MediaType; nullopt when malformed.
std::optional<MediaType> ParseMediaType(std::string_view content_type);
MediaKind KindOf(const MediaType& mt);
/// application/json or any "+json" subtype.
bool IsJsonFamily(const MediaType& mt);
/// OpenWhisk's "looks like base64" test on a string body (trimmed, padded base64): a JSON-family
/// body that passes it is decoded like a binary one.
bool LooksLikeBase64(std::string_view s);

}  // namespace wisp::controller
