#include <wisp/common/strings.hpp>

namespace wisp::common {

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

}  // namespace wisp::common
