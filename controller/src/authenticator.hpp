#pragma once
// Authenticator: `Authorization: Basic base64(uuid:key)` checked against the store (wire §2),
// with a cache of recently seen keys.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <absl/status/statusor.h>

#include <wisp/common/clock.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

inline constexpr std::string_view kMsgAuthRequired =
    "The resource requires authentication, which was not supplied with the request";
inline constexpr std::string_view kMsgAuthInvalid = "The supplied authentication is invalid";

/// Decodes "Basic <base64(uuid:key)>" into the uuid:key pair; nullopt when malformed.
std::optional<common::AuthKey> ParseBasicAuthorization(std::string_view header);
/// Standard base64 (with padding) encoding/decoding.
std::string Base64Encode(std::string_view in);
std::optional<std::string> Base64Decode(std::string_view in);

class Authenticator {
  public:
    Authenticator(store::ArtifactStore& store, common::Clock& clock, std::chrono::milliseconds ttl)
        : store_(store), clock_(clock), ttl_ms_(ttl.count()) {}

    /// The identity for an Authorization header value. Unauthenticated with kMsgAuthRequired
    /// (empty header) or kMsgAuthInvalid (malformed, unknown, blocked); Unavailable when the
    /// store cannot be reached. Thread-safe.
    absl::StatusOr<common::Identity> Authenticate(std::string_view authorization);

    /// The identity owning namespace `ns` (web actions run as the owner); NotFound if none.
    absl::StatusOr<common::Identity> IdentityOfNamespace(std::string_view ns);

    void Invalidate();

  private:
    struct Entry {
        common::Identity identity;
        int64_t expires_ms;
    };
    store::ArtifactStore& store_;
    common::Clock& clock_;
    const int64_t ttl_ms_;
    std::shared_mutex mu_;
    std::unordered_map<std::string, Entry> by_header_;
    std::unordered_map<std::string, Entry> by_namespace_;
};

}  // namespace wisp::controller
