#include <wisp/common/base64.hpp>

#include <cstdint>

namespace wisp::common {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Digit(char c, bool url_safe_too) {
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
bool Decode(std::string_view in, Base64Mode mode, size_t max_out, std::string* out) {
    if (mode == Base64Mode::kPadded && (in.empty() || in.size() % 4 != 0)) return false;
    const bool lenient = mode == Base64Mode::kLenient;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;  // alphabet characters seen
    size_t pad = 0;
    for (char c : in) {
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
    if (pad > 0 && !((rem == 2 && pad == 2) || (rem == 3 && pad == 1))) return false;
    return true;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) |
                           (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    if (i + 1 == in.size()) {
        const uint32_t v = static_cast<uint8_t>(in[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const uint32_t v =
            (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<std::string> Base64Decode(std::string_view text, Base64Mode mode) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 2);
    if (!Decode(text, mode, text.size(), &out)) return std::nullopt;
    return out;
}

std::optional<std::string> Base64DecodePrefix(std::string_view text, size_t max_bytes,
                                              Base64Mode mode) {
    std::string out;
    if (!Decode(text, mode, max_bytes, &out)) return std::nullopt;
    return out;
}

bool IsBase64(std::string_view text, Base64Mode mode) { return Decode(text, mode, 0, nullptr); }

}  // namespace wisp::common
