#include <wisp/common/identity.hpp>

#include <wisp/common/ids.hpp>

namespace wisp::common {

AuthKey AuthKey::Generate() { return AuthKey{RandomUuid(), RandomAlphanumeric(64)}; }

absl::StatusOr<AuthKey> AuthKey::Parse(std::string_view compact) {
    auto colon = compact.find(':');
    if (colon == std::string_view::npos || colon == 0) {
        return absl::InvalidArgumentError("The authorization key must have the form 'uuid:key'.");
    }
    std::string_view uuid = compact.substr(0, colon);
    std::string_view key = compact.substr(colon + 1);
    if (key.size() != 64) {
        return absl::InvalidArgumentError(
            "The authorization key must have the form 'uuid:key' with a 64-character key.");
    }
    return AuthKey{std::string(uuid), std::string(key)};
}

}  // namespace wisp::common
