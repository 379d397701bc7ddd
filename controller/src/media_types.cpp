#include "media_types.hpp"

#include <functional>
#include <set>

#include <wisp/common/base64.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

namespace {

bool IsTokenChar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!IsTokenChar(c)) return false;
    }
    return true;
}

}  // namespace

std::optional<MediaType> ParseMediaType(std::string_view content_type) {
    auto parts = common::Split(content_type, ';');
    std::string_view main = common::Trim(parts[0]);
    const size_t slash = main.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    MediaType mt;
    const std::string_view type = main.substr(0, slash);
    const std::string_view subtype = main.substr(slash + 1);
    if (!IsToken(type) || !IsToken(subtype)) return std::nullopt;
    mt.type = common::AsciiLower(type);
    mt.subtype = common::AsciiLower(subtype);
    for (size_t i = 1; i < parts.size(); ++i) {
        std::string_view p = common::Trim(parts[i]);
        if (p.empty()) continue;
        const size_t eq = p.find('=');
        if (eq == std::string_view::npos || !IsToken(common::Trim(p.substr(0, eq)))) {
            return std::nullopt;
        }
        if (common::AsciiLower(common::Trim(p.substr(0, eq))) == "charset") mt.has_charset = true;
    }
    return mt;
}

MediaKind KindOf(const MediaType& mt) {
    static const std::set<std::string, std::less<>> kFixed = {
        "application/json", "application/json-patch+json", "application/merge-patch+json",
        "application/problem+json", "application/vnd.api+json"};
    static const std::set<std::string, std::less<>> kOpen = {
        "application/atom+xml",   "application/base64",
        "application/javascript", "application/rss+xml",
        "application/soap+xml",   "application/vnd.google-earth.kml+xml",
        "application/x-vrml",     "application/x-www-form-urlencoded",
        "application/xhtml+xml",  "application/xml-dtd",
        "application/xml",        "image/svg+xml"};
    const std::string v = mt.Value();
    if (kFixed.count(v) != 0) return MediaKind::kFixedCharset;
    if (mt.type == "text" || kOpen.count(v) != 0) return MediaKind::kOpenCharset;
    // Unregistered types are text only when they name a charset.
    return mt.has_charset ? MediaKind::kOpenCharset : MediaKind::kBinary;
}

bool IsJsonFamily(const MediaType& mt) {
    const std::string v = mt.Value();
    return v == "application/json" || (v.size() >= 5 && v.compare(v.size() - 5, 5, "+json") == 0);
}

bool LooksLikeBase64(std::string_view s) {
    return common::IsBase64(common::Trim(s), common::Base64Mode::kPadded);
}

}  // namespace wisp::controller
