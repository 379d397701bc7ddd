#include <wisp/common/crypto.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace wisp::common {

namespace {

std::string Hex(const unsigned char* bytes, unsigned int n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(kDigits[bytes[i] >> 4]);
        out.push_back(kDigits[bytes[i] & 0xf]);
    }
    return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed (libcrypto)");
    }
    return Hex(md, n);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed (libcrypto)");
    }
    return Hex(md, n);
}

}  // namespace wisp::common
