#pragma once
// Parameters and annotations: `[{"key":k,"value":<any JSON>, "init"?:true, "encryption"?:...}]`.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <wisp/common/json.hpp>

namespace wisp::common {

struct Parameter {
    std::string key;
    JsonValue value;
    bool init = false;                    // passed to /init as env, not to /run
    std::optional<JsonValue> encryption;  // kept as given
    bool operator==(const Parameter&) const = default;
};

/// An ordered key/value list; keys are unique (a later Set replaces in place).
class Parameters {
  public:
    Parameters() = default;
    explicit Parameters(std::vector<Parameter> items);

    const std::vector<Parameter>& items() const { return items_; }
    bool empty() const { return items_.empty(); }
    size_t size() const { return items_.size(); }

    const Parameter* Find(std::string_view key) const;
    const JsonValue* Get(std::string_view key) const;
    /// Truthy: present and not false/null/0/"" (OpenWhisk's annotation checks).
    bool IsTruthy(std::string_view key) const;
    void Set(std::string_view key, JsonValue value, bool init = false);
    bool Remove(std::string_view key);
    /// `this` overlaid by `overrides` (overrides win, order: this's keys first).
    Parameters Merge(const Parameters& overrides) const;
    /// Keys whose parameters are marked init.
    std::vector<std::string> InitKeys() const;

    /// Size in bytes as OpenWhisk counts it for the 1 MB limit (sum of key + value text).
    size_t ByteSize() const;

    /// The parameters as one JSON object {"k":v,...}.
    std::string ToObjectJson() const;
    /// From a JSON object's members (invoke bodies, -P files). InvalidArgument unless object.
    [[nodiscard]] static absl::StatusOr<Parameters> FromObjectJson(std::string_view json);

    bool operator==(const Parameters&) const = default;

  private:
    std::vector<Parameter> items_;
};

using Annotations = Parameters;

}  // namespace wisp::common
