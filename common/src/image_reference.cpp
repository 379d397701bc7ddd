#include <wisp/common/image_reference.hpp>

#include <string>

#include <absl/status/status.h>

namespace wisp::common {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool ValidPathComponent(std::string_view s) {
    size_t i = 0;
    auto run = [&] {
        const size_t start = i;
        while (i < s.size() && IsLowerAlnum(s[i])) ++i;
        return i > start;
    };
    if (!run()) return false;
    while (i < s.size()) {
        if (s[i] == '.') {
            ++i;
        } else if (s[i] == '_') {
            ++i;
            if (i < s.size() && s[i] == '_') ++i;
        } else if (s[i] == '-') {
            while (i < s.size() && s[i] == '-') ++i;
        } else {
            return false;
        }
        if (!run()) return false;
    }
    return true;
}

// domain-component ("." domain-component)* [":" port]
bool ValidDomain(std::string_view s) {
    std::string_view host = s;
    if (size_t colon = s.find(':'); colon != std::string_view::npos) {
        host = s.substr(0, colon);
        std::string_view port = s.substr(colon + 1);
        if (port.empty() || port.size() > 5) return false;
        for (char c : port) {
            if (!IsDigit(c)) return false;
        }
    }
    if (host.empty()) return false;
    size_t start = 0;
    while (true) {
        size_t dot = host.find('.', start);
        std::string_view part = host.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (part.empty() || part.size() > 63 || !IsAlnum(part.front()) || !IsAlnum(part.back())) {
            return false;
        }
        for (char c : part) {
            if (!IsAlnum(c) && c != '-') return false;
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool ValidTag(std::string_view s) {
    if (s.empty() || s.size() > kMaxTagLength) return false;
    if (!IsAlnum(s[0]) && s[0] != '_') return false;
    for (char c : s) {
        if (!IsAlnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

// algorithm ":" hex{32,}; algorithm := [A-Za-z][A-Za-z0-9]* ([+._-][A-Za-z][A-Za-z0-9]*)*
bool ValidDigest(std::string_view s) {
    const size_t colon = s.find(':');
    if (colon == std::string_view::npos) return false;
    std::string_view algo = s.substr(0, colon);
    std::string_view hex = s.substr(colon + 1);
    if (hex.size() < 32) return false;
    for (char c : hex) {
        if (!IsHex(c)) return false;
    }
    bool component_start = true;
    for (char c : algo) {
        if (component_start) {
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
            component_start = false;
        } else if (c == '+' || c == '.' || c == '_' || c == '-') {
            component_start = true;
        } else if (!IsAlnum(c)) {
            return false;
        }
    }
    return !algo.empty() && !component_start;
}

bool LooksLikeDomain(std::string_view first) {
    return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
           first == "localhost";
}

[[nodiscard]] absl::Status Invalid(std::string_view text, std::string_view why) {
    std::string shown(text.substr(0, 100));
    if (text.size() > 100) shown += "...";
    return absl::InvalidArgumentError(
        "'" + shown + "' is not a valid container image reference: " + std::string(why));
}

}  // namespace

std::string ImageRef::CanonicalName() const {
    if (!domain.empty()) return domain + "/" + path;
    if (path.find('/') == std::string::npos) return "docker.io/library/" + path;
    return "docker.io/" + path;
}

[[nodiscard]] absl::StatusOr<ImageRef> ParseImageRef(std::string_view text) {
    if (text.empty()) return Invalid(text, "it is empty");
    if (text.size() > kMaxImageReferenceLength) {
        return Invalid(
            text, "it is longer than " + std::to_string(kMaxImageReferenceLength) + " characters");
    }
    ImageRef ref;
    std::string_view rest = text;
    if (size_t at = rest.find('@'); at != std::string_view::npos) {
        ref.digest = std::string(rest.substr(at + 1));
        rest = rest.substr(0, at);
        if (!ValidDigest(ref.digest)) {
            return Invalid(text, "the digest must be <algorithm>:<at least 32 hex digits>");
        }
    }
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    const size_t slash = rest.rfind('/');
    const size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
        ref.tag = std::string(rest.substr(colon + 1));
        rest = rest.substr(0, colon);
        if (!ValidTag(ref.tag)) {
            return Invalid(text,
                           "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with '.' "
                           "or '-'");
        }
    }
    if (rest.empty()) return Invalid(text, "the name is empty");
    if (rest.size() > kMaxNameLength) {
        return Invalid(text,
                       "the name is longer than " + std::to_string(kMaxNameLength) + " characters");
    }
    if (size_t first_slash = rest.find('/');
        first_slash != std::string_view::npos && LooksLikeDomain(rest.substr(0, first_slash))) {
        ref.domain = std::string(rest.substr(0, first_slash));
        rest = rest.substr(first_slash + 1);
        if (!ValidDomain(ref.domain))
            return Invalid(text, "the registry is not a valid host[:port]");
    }
    size_t start = 0;
    while (true) {
        size_t next = rest.find('/', start);
        std::string_view part = rest.substr(
            start, next == std::string_view::npos ? std::string_view::npos : next - start);
        if (!ValidPathComponent(part)) {
            return Invalid(text,
                           "each path component must be lowercase letters and digits, "
                           "separated by '.', '_', '__' or '-'");
        }
        if (next == std::string_view::npos) break;
        start = next + 1;
    }
    ref.path = std::string(rest);
    return ref;
}

bool ImageAllowed(std::string_view image, const std::vector<std::string>& allowed) {
    auto ref = ParseImageRef(image);
    if (!ref.ok()) return false;
    if (allowed.empty()) return true;
    const std::string name = ref->CanonicalName();
    for (std::string_view entry : allowed) {
        while (!entry.empty() && entry.back() == '/') entry.remove_suffix(1);
        if (entry.empty()) continue;
        std::string prefix;
        if (entry.find('/') == std::string_view::npos && LooksLikeDomain(entry)) {
            prefix = std::string(entry);  // a registry
        } else {
            auto e = ParseImageRef(entry);
            if (!e.ok() || !e->tag.empty() || !e->digest.empty()) continue;
            prefix = e->CanonicalName();
        }
        if (name == prefix ||
            (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
             name[prefix.size()] == '/')) {
            return true;
        }
    }
    return false;
}

std::vector<std::string> SplitImageAllowList(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ',' || text[i] == ' ' || text[i] == '\t')) ++i;
        size_t start = i;
        while (i < text.size() && text[i] != ',' && text[i] != ' ' && text[i] != '\t') ++i;
        if (i > start) out.emplace_back(text.substr(start, i - start));
    }
    return out;
}

}  // namespace wisp::common
