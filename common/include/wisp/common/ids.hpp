#pragma once
// Activation ids (32 lowercase hex, a UUID without dashes) and transaction ids.
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace wisp::common {

class ActivationId {
  public:
    ActivationId() = default;
    /// A fresh random id (thread-safe).
    static ActivationId Generate();
    /// InvalidArgument unless `s` is exactly 32 lowercase hex characters.
    static absl::StatusOr<ActivationId> Parse(std::string_view s);
    const std::string& str() const { return id_; }
    bool empty() const { return id_.empty(); }
    bool operator==(const ActivationId&) const = default;
    auto operator<=>(const ActivationId&) const = default;

  private:
    explicit ActivationId(std::string id) : id_(std::move(id)) {}
    std::string id_;
};

/// Transaction id: the incoming X-Request-ID unless it is empty or starts with "sid_" (reserved
/// for system transactions), else 32 random [A-Za-z0-9].
std::string MakeTransactionId(std::string_view incoming_request_id = {});

/// `n` random characters from [A-Za-z0-9] (cryptographically random; thread-safe).
std::string RandomAlphanumeric(size_t n);
/// A random UUID in canonical 8-4-4-4-12 lowercase form.
std::string RandomUuid();

}  // namespace wisp::common
