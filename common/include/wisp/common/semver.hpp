#pragma once
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace wisp::common {

/// "major.minor.patch"; new entities are 0.0.1 and every overwrite bumps the patch.
struct SemVer {
    int major = 0;
    int minor = 0;
    int patch = 1;

    [[nodiscard]] static absl::StatusOr<SemVer> Parse(std::string_view s);
    SemVer UpPatch() const { return {major, minor, patch + 1}; }
    std::string ToString() const;
    bool operator==(const SemVer&) const = default;
    auto operator<=>(const SemVer&) const = default;
};

}  // namespace wisp::common
