#pragma once
// Small string helpers on std::string_view (Debian's absl has its own absl::string_view, which
// std::string_view does not convert to, so absl's string utilities are avoided here).
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <absl/status/status.h>
#include <absl/strings/string_view.h>

namespace wisp::common {

inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
// Debian's absl has its own absl::string_view (not std::string_view), which absl::StrCat needs:
// these helpers take both, so the code base concatenates with Cat() instead of absl::StrCat.
template <class T, std::enable_if_t<std::is_same_v<T, absl::string_view> &&
                                        !std::is_same_v<absl::string_view, std::string_view>,
                                    int> = 0>
void AppendPiece(std::string& out, T s) {
    out.append(s.data(), s.size());
}
template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, char> &&
                                           !std::is_same_v<T, bool>,
                                       int> = 0>
void AppendPiece(std::string& out, T n) {
    out.append(std::to_string(n));
}

/// A double would convert to char silently: format it (fmt::format("{:.1f}", x)) instead.
template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
void AppendPiece(std::string& out, T x) = delete;

/// Concatenates strings, string_views, characters and integers.
template <typename... Args>
std::string Cat(const Args&... args) {
    std::string out;
    (AppendPiece(out, args), ...);
    return out;
}

/// Appends to `out`.
template <typename... Args>
void Append(std::string& out, const Args&... args) {
    (AppendPiece(out, args), ...);
}

/// Splits on `sep`; with `skip_empty`, empty pieces are dropped.
inline std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty = false) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t pos = s.find(sep, start);
        std::string_view piece =
            s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
        if (!skip_empty || !piece.empty()) out.push_back(piece);
        if (pos == std::string_view::npos) break;
        start = pos + 1;
    }
    return out;
}

inline bool IsAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Java's String.trim(): drops leading and trailing characters <= ' '.
inline std::string_view Trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
    while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
    return s.substr(b, e - b);
}

/// Drops leading and trailing ASCII whitespace (std::isspace in the C locale) only.
inline std::string_view TrimAsciiSpace(std::string_view s) {
    while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
    while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
    return s;
}

inline char AsciiLower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string AsciiLower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = AsciiLower(c);
    return out;
}

/// ASCII case-insensitive equality (HTTP header names, schemes, tokens).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
    }
    return true;
}

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool IsValidUtf8(std::string_view s);
/// `s` with each byte that does not start a well-formed UTF-8 sequence replaced by U+FFFD, as a
/// Java String built from the bytes would be.
std::string SanitizeUtf8(std::string_view s);

/// Parses a whole decimal integer (optional leading '+' or '-'); false on anything else.
template <typename T>
bool ParseInt(std::string_view s, T& out) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

/// Compares a secret with what a caller sent in time that depends only on `expected`'s length,
/// never on where the first difference is (keys, tokens, require-whisk-auth). Every secret
/// comparison in the project goes through this.
bool ConstantTimeEquals(std::string_view given, std::string_view expected);

/// A URI with the password of its user info masked, for logs and messages:
/// "couchdb:http://admin:secret@db:5984/x" -> "couchdb:http://admin:***@db:5984/x"; user info
/// without a password (a token) is masked whole ("http://***@host"). Anything else unchanged.
std::string RedactUri(std::string_view uri);

/// `uri` with user info `user[:password]` added, both %-encoded (RFC 3986 unreserved characters
/// kept), so a password with '@', ':', '/' or '%' survives: "http://db:5984" + ("a", "p@ss") ->
/// "http://a:p%40ss@db:5984". Unchanged when `user` is empty, when the URI already has user info
/// (the URI wins) or has no "://". Used for WISP_STORE_USER / WISP_STORE_PASSWORD.
std::string WithUserInfo(std::string_view uri, std::string_view user, std::string_view password);

/// `s` %-encoded for a URL path segment or query value: RFC 3986 unreserved characters
/// (A-Z a-z 0-9 - . _ ~) kept, every other byte as %XX (upper-case hex): "a/b c" -> "a%2Fb%20c".
std::string PercentEncode(std::string_view s);

/// The message of a status as a std::string.
inline std::string MessageOf(const absl::Status& s) { return std::string(s.message()); }

}  // namespace wisp::common
