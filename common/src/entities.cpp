#include <wisp/common/entities.hpp>

namespace wisp::common {

std::string_view EntityTypeName(EntityType t) {
    switch (t) {
        case EntityType::kAction:
            return "action";
        case EntityType::kTrigger:
            return "trigger";
        case EntityType::kRule:
            return "rule";
        case EntityType::kPackage:
            return "package";
    }
    return "action";
}

std::string_view EntityCollectionName(EntityType t) {
    switch (t) {
        case EntityType::kAction:
            return "actions";
        case EntityType::kTrigger:
            return "triggers";
        case EntityType::kRule:
            return "rules";
        case EntityType::kPackage:
            return "packages";
    }
    return "actions";
}

std::string_view RuleStatusName(RuleStatus s) {
    return s == RuleStatus::kActive ? "active" : "inactive";
}

FullyQualifiedName PackageBinding::Fqn() const {
    return {EntityPath(std::vector<std::string>{namespace_name}), name};
}

EntityType TypeOf(const WhiskEntity& e) {
    switch (e.index()) {
        case 0:
            return EntityType::kAction;
        case 1:
            return EntityType::kTrigger;
        case 2:
            return EntityType::kRule;
        default:
            return EntityType::kPackage;
    }
}

const EntityHeader& HeaderOf(const WhiskEntity& e) {
    return std::visit([](const auto& x) -> const EntityHeader& { return x; }, e);
}

EntityHeader& HeaderOf(WhiskEntity& e) {
    return std::visit([](auto& x) -> EntityHeader& { return x; }, e);
}

}  // namespace wisp::common
