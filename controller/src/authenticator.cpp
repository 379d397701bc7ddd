#include "authenticator.hpp"

#include <array>
#include <cctype>
#include <optional>

#include <wisp/common/status.hpp>

namespace wisp::controller {

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kMaxCacheEntries = 10000;
}  // namespace

std::string Base64Encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += kB64[v & 63];
    }
    if (i + 1 == in.size()) {
        uint32_t v = uint8_t(in[i]) << 16;
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
        out += kB64[(v >> 18) & 63];
        out += kB64[(v >> 12) & 63];
        out += kB64[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
    static const std::array<int8_t, 256> table = [] {
        std::array<int8_t, 256> t{};
        t.fill(-1);
        for (int i = 0; i < 64; ++i) t[uint8_t(kB64[i])] = int8_t(i);
        t[uint8_t('-')] = 62;  // base64url, tolerated
        t[uint8_t('_')] = 63;
        return t;
    }();
    std::string out;
    out.reserve(in.size() / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;
    for (char c : in) {
        if (c == '=') {
            ++pad;
            continue;
        }
        if (pad > 0) return std::nullopt;  // data after padding
        const int8_t v = table[uint8_t(c)];
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xff);
        }
    }
    if (pad > 2) return std::nullopt;
    return out;
}

std::optional<common::AuthKey> ParseBasicAuthorization(std::string_view header) {
    constexpr std::string_view kBasic = "basic ";
    if (header.size() <= kBasic.size()) return std::nullopt;
    for (size_t i = 0; i < kBasic.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kBasic[i]) return std::nullopt;
    }
    std::string_view token = header.substr(kBasic.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    auto decoded = Base64Decode(token);
    if (!decoded) return std::nullopt;
    auto key = common::AuthKey::Parse(*decoded);
    if (!key.ok()) return std::nullopt;
    return *std::move(key);
}

absl::StatusOr<common::Identity> Authenticator::Authenticate(std::string_view authorization) {
    if (authorization.empty()) return absl::UnauthenticatedError(std::string(kMsgAuthRequired));
    const int64_t now = clock_.NowMs();
    const std::string cache_key(authorization);
    {
        std::shared_lock lock(mu_);
        auto it = by_header_.find(cache_key);
        if (it != by_header_.end() && it->second.expires_ms > now) return it->second.identity;
    }
    auto key = ParseBasicAuthorization(authorization);
    if (!key) return absl::UnauthenticatedError(std::string(kMsgAuthInvalid));
    auto identity = store_.GetIdentityByKey(*key);
    if (!identity.ok()) {
        if (identity.status().code() == absl::StatusCode::kNotFound) {
            return absl::UnauthenticatedError(std::string(kMsgAuthInvalid));
        }
        return identity.status();
    }
    std::unique_lock lock(mu_);
    if (by_header_.size() >= kMaxCacheEntries) by_header_.clear();
    by_header_[cache_key] = Entry{*identity, now + ttl_ms_};
    return *std::move(identity);
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
    by_header_.clear();
    by_namespace_.clear();
}

}  // namespace wisp::controller
