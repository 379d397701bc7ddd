#pragma once
// Base64 (RFC 4648) in one place: the encoder and the decoding rules the platform, the action
// proxy and wsk use. Header-only (target wisp::bounded_json) so that the proxy and the CLI, which
// link nothing of the platform, share this one copy.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wisp::common {

/// How strictly a base64 text is read.
enum class Base64Mode {
    /// The standard alphabet; padding optional, but when present it must complete the last
    /// group; a lone trailing character fails (web action bodies, as java.util.Base64).
    /// No whitespace: callers trim.
    kStrict,
    /// kStrict, and the text is non-empty and padded to a multiple of 4 characters
    /// (java.util.Base64.getDecoder(): action code that is a base64 archive).
    kPadded,
    /// The standard and the URL-safe alphabet; at most two '=' and nothing after them; padding
    /// and the bits of an incomplete group not checked (HTTP Basic credentials).
    kLenient,
    /// The standard alphabet; ASCII whitespace (space, tab, CR, LF) anywhere is skipped
    /// (line-wrapped text); at most two '=' and only whitespace after them; the padding need not
    /// complete the last group, but a lone trailing character fails (the action proxy reading
    /// the code of a binary action).
    kLineWrapped,
};

namespace base64_detail {

inline constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline int Digit(char c, bool url_safe_too) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    if (url_safe_too && c == '-') return 62;
    if (url_safe_too && c == '_') return 63;
    return -1;
}

// Validates `in` under `mode`; when `out` is given, appends up to `max_out` decoded bytes.
inline bool Decode(std::string_view in, Base64Mode mode, size_t max_out, std::string* out) {
    if (mode == Base64Mode::kPadded && (in.empty() || in.size() % 4 != 0)) return false;
    const bool lenient = mode == Base64Mode::kLenient;
    const bool line_wrapped = mode == Base64Mode::kLineWrapped;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;  // alphabet characters seen
    size_t pad = 0;
    for (char c : in) {
        if (line_wrapped && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) continue;
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad > 0) return false;  // data after padding
        const int v = Digit(c, lenient);
        if (v < 0) return false;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        ++n;
        if (bits >= 8) {
            bits -= 8;
            if (out != nullptr && out->size() < max_out) {
                out->push_back(static_cast<char>((acc >> bits) & 0xff));
            }
        }
    }
    if (lenient) return pad <= 2;
    const size_t rem = n % 4;
    if (rem == 1) return false;
    if (line_wrapped) return pad <= 2;
    if (pad > 0 && !((rem == 2 && pad == 2) || (rem == 3 && pad == 1))) return false;
    return true;
}

}  // namespace base64_detail

/// Standard alphabet, padded with '='.
inline std::string Base64Encode(std::string_view in) {
    using base64_detail::kAlphabet;
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16) |
                           (static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8) |
                           static_cast<uint8_t>(in[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i + 1 == in.size()) {
        const uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const uint32_t v = (static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16) |
                           (static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

/// The decoded bytes, or nullopt when `text` is not base64 under `mode`.
inline std::optional<std::string> Base64Decode(std::string_view text,
                                               Base64Mode mode = Base64Mode::kStrict) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    if (!base64_detail::Decode(text, mode, text.size(), &out)) return std::nullopt;
    return out;
}

/// Validates all of `text` under `mode` but keeps only its first `max_bytes` decoded bytes
/// (sniffing the head of a large archive).
inline std::optional<std::string> Base64DecodePrefix(std::string_view text, size_t max_bytes,
                                                     Base64Mode mode) {
    std::string out;
    if (!base64_detail::Decode(text, mode, max_bytes, &out)) return std::nullopt;
    return out;
}

/// Whether `text` is base64 under `mode` (decodes nothing).
inline bool IsBase64(std::string_view text, Base64Mode mode) {
    return base64_detail::Decode(text, mode, 0, nullptr);
}

}  // namespace wisp::common
