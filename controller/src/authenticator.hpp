#pragma once
// Authenticator: `Authorization: Basic base64(uuid:key)` checked against the store (wire §2),
// with a cache of recently seen identities keyed by uuid (the key is compared in constant time,
// however the header was encoded), and a limit on failed authentications per client address.
#include <atomic>
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
/// The 429 answered to an address after too many failed authentications (Wisp's own text).
inline constexpr std::string_view kMsgAuthFailuresExceeded =
    "Too many failed authentication attempts from this address; try again later.";

/// Failed authentications tolerated per client address: `max_failures` within `window` blocks
/// the address for `block` (every request needing credentials from it answers 429 meanwhile).
struct AuthFailureLimit {
    int max_failures = 20;
    std::chrono::milliseconds window{60000};
    std::chrono::milliseconds block{60000};
};

/// Decodes "Basic <base64(uuid:key)>" into the uuid:key pair; nullopt when malformed.
std::optional<common::AuthKey> ParseBasicAuthorization(std::string_view header);

/// The key failed authentications are counted under: an IPv4 address (also IPv4-mapped IPv6)
/// as is, an IPv6 address by its /64 (one host usually owns a whole /64, so rotating the low
/// bits must not reset the count), anything else verbatim.
std::string FailureCountKey(std::string_view peer);

class Authenticator {
  public:
    Authenticator(store::ArtifactStore& store, common::Clock& clock, std::chrono::milliseconds ttl,
                  AuthFailureLimit failure_limit = {})
        : store_(store), clock_(clock), ttl_ms_(ttl.count()), failure_limit_(failure_limit) {}

    /// The identity for an Authorization header value sent from client address `peer`.
    /// Unauthenticated with kMsgAuthRequired (empty header) or kMsgAuthInvalid (malformed,
    /// unknown, blocked; counts as a failure of `peer`); ResourceExhausted with
    /// kMsgAuthFailuresExceeded while `peer` is blocked after too many failures; Unavailable
    /// when the store cannot be reached. Thread-safe.
    [[nodiscard]] absl::StatusOr<common::Identity> Authenticate(std::string_view authorization,
                                                                std::string_view peer = {});

    /// The identity owning namespace `ns` (web actions run as the owner); NotFound if none.
    [[nodiscard]] absl::StatusOr<common::Identity> IdentityOfNamespace(std::string_view ns);

    void Invalidate();

  private:
    struct Entry {
        common::Identity identity;
        int64_t expires_ms;
    };
    struct Failures {
        int64_t window_start_ms = 0;
        int count = 0;
        int64_t blocked_until_ms = 0;
    };
    /// True while `peer` is blocked.
    bool IsBlocked(const std::string& peer, int64_t now);
    /// Counts a failed authentication of `peer`.
    void CountFailure(const std::string& peer, int64_t now);

    store::ArtifactStore& store_;
    common::Clock& clock_;
    const int64_t ttl_ms_;
    const AuthFailureLimit failure_limit_;
    std::shared_mutex mu_;
    std::unordered_map<std::string, Entry> by_uuid_;
    std::unordered_map<std::string, Entry> by_namespace_;
    std::mutex failures_mu_;
    std::unordered_map<std::string, Failures> failures_;  // by client address
    std::atomic<size_t> failures_size_{0};                // skips the lock when none
};

}  // namespace wisp::controller
