#pragma once
// The entities users create: actions, triggers, rules, packages (wire §1.4-1.7).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

#include <wisp/common/entity_path.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/limits.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/common/semver.hpp>

namespace wisp::common {

enum class EntityType { kAction, kTrigger, kRule, kPackage };
/// "action", "trigger", "rule", "package" (the `entityType` of a stored document).
std::string_view EntityTypeName(EntityType t);
/// "actions", "triggers", "rules", "packages" (REST collection names).
std::string_view EntityCollectionName(EntityType t);

/// Fields every entity has.
struct EntityHeader {
    EntityPath namespace_path;  // "guest" or, for a packaged action, "guest/pkg"
    std::string name;
    SemVer version;
    bool publish = false;
    Annotations annotations;
    int64_t updated_ms = 0;  // epoch ms of the last write

    FullyQualifiedName Fqn() const { return {namespace_path, name}; }
    bool operator==(const EntityHeader&) const = default;
};

struct Action : EntityHeader {
    Exec exec;
    Parameters parameters;
    ActionLimits limits;
    bool operator==(const Action&) const = default;
};

enum class RuleStatus { kActive, kInactive };
std::string_view RuleStatusName(RuleStatus s);  // "active" | "inactive"

/// A rule's link stored inside its trigger: "ns/rule" -> {action, status}.
struct ReducedRule {
    FullyQualifiedName action;
    RuleStatus status = RuleStatus::kActive;
    bool operator==(const ReducedRule&) const = default;
};

struct Trigger : EntityHeader {
    Parameters parameters;
    std::map<std::string, ReducedRule> rules;  // key "ns/rule"
    bool operator==(const Trigger&) const = default;
};

struct Rule : EntityHeader {
    FullyQualifiedName trigger;
    FullyQualifiedName action;
    bool operator==(const Rule&) const = default;
};

struct PackageBinding {
    std::string namespace_name;  // the bound package's namespace
    std::string name;            // the bound package's name
    FullyQualifiedName Fqn() const;
    bool operator==(const PackageBinding&) const = default;
};

struct Package : EntityHeader {
    std::optional<PackageBinding> binding;
    Parameters parameters;
    bool operator==(const Package&) const = default;
};

using WhiskEntity = std::variant<Action, Trigger, Rule, Package>;

EntityType TypeOf(const WhiskEntity& e);
const EntityHeader& HeaderOf(const WhiskEntity& e);
EntityHeader& HeaderOf(WhiskEntity& e);

}  // namespace wisp::common
