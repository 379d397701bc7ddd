#pragma once
// Hashes and MACs (OpenSSL's libcrypto): stable ids derived from names, and webhook signatures.
#include <string>
#include <string_view>

namespace wisp::common {

/// SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);
/// HMAC-SHA256 of `data` under `key`, 64 lowercase hex digits.
std::string HmacSha256Hex(std::string_view key, std::string_view data);
// Comparing a secret with a guess: ConstantTimeEquals in <wisp/common/strings.hpp>.

}  // namespace wisp::common
