#pragma once
// Private to wisp::common: the JSON reading and writing helpers that the document codec
// (entity_json.cpp) and the REST PUT rules (entity_put.cpp) share. Defined in entity_json.cpp.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>

#include <wisp/common/entity_json.hpp>

namespace wisp::common::entity_json_internal {

// ---- writing --------------------------------------------------------------------------------

void Str(JsonWriter& w, std::string_view s);
void Key(JsonWriter& w, std::string_view k);
/// The text written into `buf`.
std::string Finish(rapidjson::StringBuffer& buf);

// ---- reading --------------------------------------------------------------------------------

/// A member, or nullptr when absent or null (spray reads null as an absent Option).
const rapidjson::Value* Member(const rapidjson::Value& obj, std::string_view key);
[[nodiscard]] absl::Status ReadString(const rapidjson::Value& obj, std::string_view key,
                                      std::optional<std::string>& out);
[[nodiscard]] absl::Status ReadBool(const rapidjson::Value& obj, std::string_view key,
                                    std::optional<bool>& out);
[[nodiscard]] absl::Status ReadSemVer(const rapidjson::Value& obj, std::optional<SemVer>& out);
[[nodiscard]] absl::Status ReadParameters(const rapidjson::Value& obj, std::string_view key,
                                          std::optional<Parameters>& out);
[[nodiscard]] absl::StatusOr<std::vector<std::string>> ReadStringArray(const rapidjson::Value& v);
/// A reference: "/ns[/pkg]/name" or {"path":"ns[/pkg]","name":"x"}.
[[nodiscard]] absl::StatusOr<FullyQualifiedName> ReadFqnValue(const rapidjson::Value& v,
                                                              std::string_view default_namespace);
/// The document's root object; Malformed naming `first_field` when it is not one.
[[nodiscard]] absl::StatusOr<const rapidjson::Value*> RequireObject(const rapidjson::Document& doc,
                                                                    std::string_view first_field);
/// {} -> no binding; {"namespace","name"} -> a binding ("_" resolved when `ns` is given).
[[nodiscard]] absl::StatusOr<std::optional<PackageBinding>> ReadBinding(const rapidjson::Value& v,
                                                                        std::string_view ns);

// ---- exec and limits ------------------------------------------------------------------------

/// The bytes of an exec counted against the code size limit.
size_t ExecSize(const Exec& exec);
/// Reads `exec`. With a manifest (PUT bodies) kinds are resolved and validated; without one
/// (stored documents) the kind is taken as written and `binary` as stored.
[[nodiscard]] absl::StatusOr<Exec> ReadExecValue(const rapidjson::Value& v,
                                                 const RuntimeManifest* manifest,
                                                 std::string_view default_namespace);
/// The limits object of a PUT body or a stored action, fields as given.
[[nodiscard]] absl::StatusOr<ActionLimitsPut> ReadLimitsPut(const rapidjson::Value& v);

}  // namespace wisp::common::entity_json_internal
