#pragma once
// Subjects, keys and identities (wire §2).
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include <wisp/common/limits.hpp>

namespace wisp::common {

/// "uuid:key" credentials; the key is exactly 64 characters.
struct AuthKey {
    std::string uuid;
    std::string key;

    /// A fresh random uuid and 64 alphanumeric key.
    static AuthKey Generate();
    /// InvalidArgument unless "uuid:key" with a non-empty uuid and a 64-character key.
    [[nodiscard]] static absl::StatusOr<AuthKey> Parse(std::string_view compact);
    std::string Compact() const { return uuid + ":" + key; }
    bool operator==(const AuthKey&) const = default;
};

/// One namespace of a subject, with its credentials.
struct NamespaceEntry {
    std::string name;
    AuthKey auth;
    bool operator==(const NamespaceEntry&) const = default;
};

/// The `subjects` document: {"_id":subject,"subject":..,"namespaces":[{name,uuid,key}],"blocked"?}.
struct Subject {
    std::string subject;  // at least 5 characters
    std::vector<NamespaceEntry> namespaces;
    bool blocked = false;
    bool operator==(const Subject&) const = default;
};

/// Minimum subject length (wskadmin).
inline constexpr size_t kMinSubjectLength = 5;

enum class Privilege { kRead, kPut, kDelete, kActivate, kReject };

/// Who is calling: the subject, the namespace their key belongs to, and its limits.
struct Identity {
    std::string subject;
    std::string namespace_name;
    AuthKey auth;
    std::set<Privilege> rights = {Privilege::kRead, Privilege::kPut, Privilege::kDelete,
                                  Privilege::kActivate};
    NamespaceLimits limits;
    bool operator==(const Identity&) const = default;
};

/// The well-known development credentials (wire §2).
inline constexpr std::string_view kGuestSubject = "guest";
inline constexpr std::string_view kGuestAuth =
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";
inline constexpr std::string_view kSystemSubject = "whisk.system";
inline constexpr std::string_view kSystemAuth =
    "789c46b1-71f6-4ed5-8c54-816aa4f8c502:"
    "abczO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

}  // namespace wisp::common
