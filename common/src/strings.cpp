#include <wisp/common/strings.hpp>

#include <cctype>

namespace wisp::common {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is ill-formed.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    const size_t left = s.size() - i;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        return left >= 2 && (b(i + 1) & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3) return 0;
        const unsigned char c1 = b(i + 1);
        if ((c1 & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && c1 < 0xA0) return 0;   // overlong
        if (c == 0xED && c1 >= 0xA0) return 0;  // surrogate
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4) return 0;
        const unsigned char c1 = b(i + 1);
        if ((c1 & 0xC0) != 0x80 || (b(i + 2) & 0xC0) != 0x80 || (b(i + 3) & 0xC0) != 0x80) {
            return 0;
        }
        if (c == 0xF0 && c1 < 0x90) return 0;   // overlong
        if (c == 0xF4 && c1 >= 0x90) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t n = Utf8SequenceLength(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string SanitizeUtf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        size_t n = Utf8SequenceLength(s, i);
        if (n == 0) {
            out.append("\xEF\xBF\xBD");
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

bool ConstantTimeEquals(std::string_view given, std::string_view expected) {
    // One pass over `expected` whatever `given` holds: no early exit, no data-dependent branch
    // on the secret. The length check only tells what the length of `given` already tells.
    unsigned diff = given.size() == expected.size() ? 0u : 1u;
    for (size_t i = 0; i < expected.size(); ++i) {
        const unsigned char g =
            i < given.size() ? static_cast<unsigned char>(given[i]) : static_cast<unsigned char>(0);
        diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(expected[i]));
    }
    // The volatile read keeps the compiler from turning the loop into an early-exit compare.
    volatile unsigned result = diff;
    return result == 0;
}

std::string RedactUri(std::string_view uri) {
    const size_t scheme_end = uri.find("://");
    if (scheme_end == std::string_view::npos) return std::string(uri);
    const size_t authority = scheme_end + 3;
    const size_t authority_end = uri.find_first_of("/?#", authority);
    const std::string_view host_part =
        uri.substr(authority, authority_end == std::string_view::npos ? std::string_view::npos
                                                                      : authority_end - authority);
    const size_t at = host_part.rfind('@');
    if (at == std::string_view::npos) return std::string(uri);
    const std::string_view user_info = host_part.substr(0, at);
    const size_t colon = user_info.find(':');
    std::string out(uri.substr(0, authority));
    if (colon == std::string_view::npos) {
        out += "***";
    } else {
        out += user_info.substr(0, colon);
        out += ":***";
    }
    out += uri.substr(authority + at);
    return out;
}

namespace {

void AppendPercentEncoded(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[u >> 4];
            out += kHex[u & 0xF];
        }
    }
}

}  // namespace

std::string PercentEncode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    AppendPercentEncoded(out, s);
    return out;
}

std::string WithUserInfo(std::string_view uri, std::string_view user, std::string_view password) {
    const size_t scheme_end = uri.find("://");
    if (user.empty() || scheme_end == std::string_view::npos) return std::string(uri);
    const size_t authority = scheme_end + 3;
    const size_t authority_end = uri.find_first_of("/?#", authority);
    const std::string_view host_part =
        uri.substr(authority, authority_end == std::string_view::npos ? std::string_view::npos
                                                                      : authority_end - authority);
    if (host_part.find('@') != std::string_view::npos) return std::string(uri);
    std::string out(uri.substr(0, authority));
    AppendPercentEncoded(out, user);
    if (!password.empty()) {
        out += ':';
        AppendPercentEncoded(out, password);
    }
    out += '@';
    out += uri.substr(authority);
    return out;
}

}  // namespace wisp::common
