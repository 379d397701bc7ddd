#pragma once
// Base64 (RFC 4648) in one place: the encoder and the three decoding rules the platform uses.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wisp::common {

/// How strictly a base64 text is read. None of the modes skips whitespace: callers trim.
enum class Base64Mode {
    /// The standard alphabet; padding optional, but when present it must complete the last
    /// group; a lone trailing character fails (web action bodies, as java.util.Base64).
    kStrict,
    /// kStrict, and the text is non-empty and padded to a multiple of 4 characters
    /// (java.util.Base64.getDecoder(): action code that is a base64 archive).
    kPadded,
    /// The standard and the URL-safe alphabet; at most two '=' and nothing after them; padding
    /// and the bits of an incomplete group not checked (HTTP Basic credentials).
    kLenient,
};

/// Standard alphabet, padded with '='.
std::string Base64Encode(std::string_view bytes);

/// The decoded bytes, or nullopt when `text` is not base64 under `mode`.
std::optional<std::string> Base64Decode(std::string_view text,
                                        Base64Mode mode = Base64Mode::kStrict);

/// Validates all of `text` under `mode` but keeps only its first `max_bytes` decoded bytes
/// (sniffing the head of a large archive).
std::optional<std::string> Base64DecodePrefix(std::string_view text, size_t max_bytes,
                                              Base64Mode mode);

/// Whether `text` is base64 under `mode` (decodes nothing).
bool IsBase64(std::string_view text, Base64Mode mode);

}  // namespace wisp::common
