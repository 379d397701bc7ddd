#include "authenticator.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <cstring>

#include <array>
#include <cctype>
#include <optional>

#include <spdlog/spdlog.h>

#include <wisp/common/base64.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

namespace {
constexpr size_t kMaxCacheEntries = 10000;
}  // namespace

std::optional<common::AuthKey> ParseBasicAuthorization(std::string_view header) {
    constexpr std::string_view kBasic = "basic ";
    if (header.size() <= kBasic.size()) return std::nullopt;
    for (size_t i = 0; i < kBasic.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kBasic[i]) return std::nullopt;
    }
    std::string_view token = header.substr(kBasic.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    // Lenient: the URL-safe alphabet tolerated, padding not checked.
    auto decoded = common::Base64Decode(token, common::Base64Mode::kLenient);
    if (!decoded) return std::nullopt;
    auto key = common::AuthKey::Parse(*decoded);
    if (!key.ok()) return std::nullopt;
    return *std::move(key);
}

std::string FailureCountKey(std::string_view peer) {
    const std::string text(peer);
    in6_addr v6{};
    if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
        char v4[INET_ADDRSTRLEN];
        if (::inet_ntop(AF_INET, &v6.s6_addr[12], v4, sizeof v4) != nullptr) return v4;
        return text;
    }
    std::memset(&v6.s6_addr[8], 0, 8);
    char out[INET6_ADDRSTRLEN];
    if (::inet_ntop(AF_INET6, &v6, out, sizeof out) == nullptr) return text;
    return std::string(out) + "/64";
}

absl::StatusOr<common::Identity> Authenticator::Authenticate(std::string_view authorization,
                                                             std::string_view peer_view) {
    if (authorization.empty()) return absl::UnauthenticatedError(std::string(kMsgAuthRequired));
    const int64_t now = clock_.NowMs();
    const std::string peer = FailureCountKey(peer_view);
    if (IsBlocked(peer, now)) {
        return absl::ResourceExhaustedError(std::string(kMsgAuthFailuresExceeded));
    }
    auto key = ParseBasicAuthorization(authorization);
    if (!key) {
        CountFailure(peer, now);
        return absl::UnauthenticatedError(std::string(kMsgAuthInvalid));
    }
    {
        // Keyed by the uuid, so every encoding of one key shares an entry; the key itself is
        // compared in constant time. A different key for a cached uuid goes to the store.
        std::shared_lock lock(mu_);
        auto it = by_uuid_.find(key->uuid);
        if (it != by_uuid_.end() && it->second.expires_ms > now &&
            common::ConstantTimeEquals(key->key, it->second.identity.auth.key)) {
            return it->second.identity;
        }
    }
    auto identity = store_.GetIdentityByKey(*key);
    if (!identity.ok()) {
        if (identity.status().code() == absl::StatusCode::kNotFound) {
            CountFailure(peer, now);
            return absl::UnauthenticatedError(std::string(kMsgAuthInvalid));
        }
        return identity.status();
    }
    if (identity->auth.uuid != key->uuid ||
        !common::ConstantTimeEquals(key->key, identity->auth.key)) {
        // A store answers only for the exact key; never cache anything else under this uuid.
        CountFailure(peer, now);
        return absl::UnauthenticatedError(std::string(kMsgAuthInvalid));
    }
    std::unique_lock lock(mu_);
    if (by_uuid_.size() >= kMaxCacheEntries) by_uuid_.clear();
    by_uuid_[key->uuid] = Entry{*identity, now + ttl_ms_};
    return *std::move(identity);
}

bool Authenticator::IsBlocked(const std::string& peer, int64_t now) {
    if (failures_size_.load(std::memory_order_relaxed) == 0) return false;
    std::lock_guard lock(failures_mu_);
    auto it = failures_.find(peer);
    return it != failures_.end() && it->second.blocked_until_ms > now;
}

void Authenticator::CountFailure(const std::string& peer, int64_t now) {
    if (failure_limit_.max_failures <= 0) return;  // no limit
    std::lock_guard lock(failures_mu_);
    auto it = failures_.find(peer);
    if (it == failures_.end()) {
        if (failures_.size() >= kMaxCacheEntries) {
            // Forget what no longer matters, then addresses that are not blocked.
            std::erase_if(failures_, [&](const auto& kv) {
                return kv.second.blocked_until_ms <= now &&
                       now - kv.second.window_start_ms >= failure_limit_.window.count();
            });
            if (failures_.size() >= kMaxCacheEntries) {
                std::erase_if(failures_,
                              [&](const auto& kv) { return kv.second.blocked_until_ms <= now; });
            }
        }
        it = failures_.emplace(peer, Failures{now, 0, 0}).first;
    }
    Failures& f = it->second;
    if (now - f.window_start_ms >= failure_limit_.window.count()) f = Failures{now, 0, 0};
    if (++f.count >= failure_limit_.max_failures) {
        f.blocked_until_ms = now + failure_limit_.block.count();
        f.window_start_ms = f.blocked_until_ms;  // a fresh window once the block ends
        f.count = 0;
        spdlog::warn(
            "authentication: {} failures from client address '{}' within {} ms; "
            "refusing it for {} ms",
            failure_limit_.max_failures, peer, failure_limit_.window.count(),
            failure_limit_.block.count());
    }
    failures_size_.store(failures_.size(), std::memory_order_relaxed);
}

absl::StatusOr<common::Identity> Authenticator::IdentityOfNamespace(std::string_view ns) {
    const int64_t now = clock_.NowMs();
    const std::string cache_key(ns);
    {
        std::shared_lock lock(mu_);
        auto it = by_namespace_.find(cache_key);
        if (it != by_namespace_.end() && it->second.expires_ms > now) return it->second.identity;
    }
    auto identities = store_.ListIdentitiesInNamespace(ns);
    if (!identities.ok()) return identities.status();
    if (identities->empty())
        return absl::NotFoundError(std::string(common::kMsgResourceDoesNotExist));
    std::unique_lock lock(mu_);
    if (by_namespace_.size() >= kMaxCacheEntries) by_namespace_.clear();
    by_namespace_[cache_key] = Entry{identities->front(), now + ttl_ms_};
    return identities->front();
}

void Authenticator::Invalidate() {
    std::unique_lock lock(mu_);
    by_uuid_.clear();
    by_namespace_.clear();
}

}  // namespace wisp::controller
