#pragma once
// Activation ids (32 lowercase hex, a UUID without dashes) and transaction ids.
#include <cstddef>
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
    [[nodiscard]] static absl::StatusOr<ActivationId> Parse(std::string_view s);
    const std::string& str() const { return id_; }
    bool empty() const { return id_.empty(); }
    bool operator==(const ActivationId&) const = default;
    auto operator<=>(const ActivationId&) const = default;

  private:
    explicit ActivationId(std::string id) : id_(std::move(id)) {}
    std::string id_;
};

/// The longest X-Request-ID taken over as a transaction id.
inline constexpr size_t kMaxRequestIdLength = 128;
/// Whether an incoming X-Request-ID is taken over as the transaction id: 1 to
/// kMaxRequestIdLength characters of [A-Za-z0-9] and "-_.:/+=@~", not starting with "sid_"
/// (reserved for system transactions). Anything else would be echoed into headers, logs and
/// error bodies.
bool IsUsableRequestId(std::string_view id);
/// Transaction id: the incoming X-Request-ID when IsUsableRequestId(), else 32 random
/// [A-Za-z0-9].
std::string MakeTransactionId(std::string_view incoming_request_id = {});

/// `n` random characters from [A-Za-z0-9] (cryptographically random; thread-safe).
std::string RandomAlphanumeric(size_t n);
/// A random UUID in canonical 8-4-4-4-12 lowercase form.
std::string RandomUuid();

}  // namespace wisp::common
