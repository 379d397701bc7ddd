#pragma once
// Names, namespaces and fully qualified names (wire §1.1).
//
//   name     \A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z   (at most 256 characters)
//   path     "ns" or "ns/pkg"  (EntityPath)
//   FQN      "/ns/name", "/ns/pkg/name"  (FullyQualifiedName)
//   "_" as the namespace = the caller's own namespace, resolved server-side.
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

namespace wisp::common {

inline constexpr std::string_view kDefaultNamespace = "_";
inline constexpr size_t kMaxNameLength = 256;

/// True when `name` matches OpenWhisk's entity name rule.
bool IsValidEntityName(std::string_view name);
/// InvalidArgument with OpenWhisk's message when `name` is not a valid entity name.
[[nodiscard]] absl::Status ValidateEntityName(std::string_view name);

/// A namespace path: one segment ("guest") or two ("guest/pkg").
class EntityPath {
  public:
    EntityPath() = default;
    /// From "ns" or "ns/pkg" (no leading slash). Validates every segment.
    [[nodiscard]] static absl::StatusOr<EntityPath> Parse(std::string_view path);
    /// Trusted constructor (segments already validated).
    explicit EntityPath(std::vector<std::string> segments) : segments_(std::move(segments)) {}

    const std::vector<std::string>& segments() const { return segments_; }
    bool empty() const { return segments_.empty(); }
    /// The first segment: the namespace itself.
    const std::string& root() const { return segments_.front(); }
    /// True for a bare namespace ("guest"), false for "guest/pkg".
    bool IsRoot() const { return segments_.size() == 1; }
    /// "guest/pkg" -> "pkg"; empty for a root path.
    std::string PackageName() const { return IsRoot() ? std::string() : segments_.back(); }
    /// "guest/pkg" -> "guest".
    EntityPath Parent() const;
    /// Appends one segment: "guest" + "pkg" -> "guest/pkg".
    EntityPath Add(std::string_view segment) const;
    /// Replaces a leading "_" with `ns`.
    EntityPath Resolve(std::string_view ns) const;
    /// "guest/pkg".
    std::string ToString() const;

    bool operator==(const EntityPath&) const = default;
    auto operator<=>(const EntityPath&) const = default;

  private:
    std::vector<std::string> segments_;
};

/// `path` + `name`, e.g. {guest/pkg, hello}.
struct FullyQualifiedName {
    EntityPath path;
    std::string name;

    /// Parses a reference as clients send it: "name", "pkg/name", "/ns/name", "/ns/pkg/name".
    /// A relative reference ("name", "pkg/name") is placed in `default_namespace`; a leading
    /// "_" segment is replaced by `default_namespace` too. InvalidArgument on bad names or
    /// too many segments.
    [[nodiscard]] static absl::StatusOr<FullyQualifiedName> Parse(
        std::string_view ref, std::string_view default_namespace);

    /// "/guest/pkg/hello".
    std::string ToString() const;
    /// Storage id shared by every entity type: "guest/pkg/hello".
    std::string DocId() const;
    /// The namespace itself ("guest").
    const std::string& Namespace() const { return path.root(); }
    /// Replaces a leading "_" in the path with `ns`.
    FullyQualifiedName Resolve(std::string_view ns) const { return {path.Resolve(ns), name}; }

    bool operator==(const FullyQualifiedName&) const = default;
};

}  // namespace wisp::common
