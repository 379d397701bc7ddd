#include <wisp/common/ids.hpp>

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include <wisp/common/status.hpp>

namespace wisp::common {

namespace {

// Fills `buf` from the kernel CSPRNG (getrandom(2), falling back to /dev/urandom).
void FillRandom(uint8_t* buf, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t got = getrandom(buf + done, n - done, 0);
        if (got > 0) {
            done += static_cast<size_t>(got);
            continue;
        }
        if (got < 0 && errno == EINTR) continue;
        break;
    }
    if (done == n) return;
    FILE* f = std::fopen("/dev/urandom", "rb");
    WISP_CHECK(f != nullptr);
    while (done < n) {
        size_t got = std::fread(buf + done, 1, n - done, f);
        WISP_CHECK(got > 0);
        done += got;
    }
    std::fclose(f);
}

constexpr char kHex[] = "0123456789abcdef";
constexpr char kAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::string RandomHexUuidBytes(bool dashes) {
    uint8_t b[16];
    FillRandom(b, sizeof b);
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (dashes && (i == 4 || i == 6 || i == 8 || i == 10)) out.push_back('-');
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0x0f]);
    }
    return out;
}

}  // namespace

ActivationId ActivationId::Generate() { return ActivationId(RandomHexUuidBytes(false)); }

absl::StatusOr<ActivationId> ActivationId::Parse(std::string_view s) {
    if (s.size() != 32) {
        return absl::InvalidArgumentError("Activation id length is " + std::to_string(s.size()) +
                                          " but must be 32.");
    }
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return absl::InvalidArgumentError("The activation id is not valid.");
        }
    }
    return ActivationId(std::string(s));
}

std::string RandomAlphanumeric(size_t n) {
    std::string out;
    out.reserve(n);
    uint8_t buf[64];
    while (out.size() < n) {
        FillRandom(buf, sizeof buf);
        for (uint8_t b : buf) {
            if (b >= 248) continue;  // 248 = 4 * 62: reject to keep the draw uniform
            out.push_back(kAlnum[b % 62]);
            if (out.size() == n) break;
        }
    }
    return out;
}

std::string RandomUuid() { return RandomHexUuidBytes(true); }

bool IsUsableRequestId(std::string_view id) {
    if (id.empty() || id.size() > kMaxRequestIdLength || id.substr(0, 4) == "sid_") return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("-_.:/+=@~").find(c) != std::string_view::npos;
    });
}

std::string MakeTransactionId(std::string_view incoming_request_id) {
    if (IsUsableRequestId(incoming_request_id)) return std::string(incoming_request_id);
    return RandomAlphanumeric(32);
}

}  // namespace wisp::common
