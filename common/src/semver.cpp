#include <wisp/common/semver.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::common {

// As OpenWhisk's SemVer(str): up to three dot-separated integers, missing parts are 0 (so "1"
// is 1.0.0), parts beyond the third are ignored, negatives and 0.0.0 are rejected.
absl::StatusOr<SemVer> SemVer::Parse(std::string_view s) {
    auto bad = [&] { return absl::InvalidArgumentError(Cat("bad semantic version ", s)); };
    std::vector<std::string_view> parts = Split(s, '.');
    // Java's String.split drops trailing empty strings.
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    if (parts.empty()) return bad();
    int v[3] = {0, 0, 0};
    for (size_t i = 0; i < parts.size() && i < 3; ++i) {
        if (!ParseInt(parts[i], v[i])) return bad();
    }
    if (v[0] < 0 || v[1] < 0 || v[2] < 0 || (v[0] == 0 && v[1] == 0 && v[2] == 0)) return bad();
    return SemVer{v[0], v[1], v[2]};
}

std::string SemVer::ToString() const { return Cat(major, ".", minor, ".", patch); }

}  // namespace wisp::common
