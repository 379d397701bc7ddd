#include <wisp/common/entity_path.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::common {

namespace {

// Java's \w without UNICODE_CHARACTER_CLASS: ASCII letters, digits and underscore.
bool IsWordChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsMiddleChar(char c) {
    return IsWordChar(c) || c == '@' || c == ' ' || c == '.' || c == '&' || c == '-';
}

bool IsLastChar(char c) { return IsMiddleChar(c) && c != ' '; }

}  // namespace

bool IsValidEntityName(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    if (!IsWordChar(name.front())) return false;
    if (name.size() == 1) return true;
    for (size_t i = 1; i + 1 < name.size(); ++i) {
        if (!IsMiddleChar(name[i])) return false;
    }
    return IsLastChar(name.back());
}

[[nodiscard]] absl::Status ValidateEntityName(std::string_view name) {
    if (name.size() > kMaxNameLength) {
        return absl::InvalidArgumentError(
            Cat("Name segement longer than allowed: ", name.size(), " > ", kMaxNameLength, "."));
    }
    if (!IsValidEntityName(name)) {
        return absl::InvalidArgumentError("The name of the entity contains illegal characters.");
    }
    return absl::OkStatus();
}

absl::StatusOr<EntityPath> EntityPath::Parse(std::string_view path) {
    std::vector<std::string> segments;
    for (auto piece : Split(path, '/')) segments.emplace_back(piece);
    if (segments.empty() || segments.size() > 2) {
        return absl::InvalidArgumentError(
            Cat("The namespace path '", path, "' must be 'namespace' or 'namespace/package'."));
    }
    for (size_t i = 0; i < segments.size(); ++i) {
        const std::string& s = segments[i];
        if (s.size() > kMaxNameLength) {
            return absl::InvalidArgumentError(Cat(i == 0 ? "Namespace" : "Name segement",
                                                  " longer than allowed: ", s.size(), " > ",
                                                  kMaxNameLength, "."));
        }
        if (!IsValidEntityName(s)) {
            return absl::InvalidArgumentError(i == 0 ? "The namespace contains illegal characters."
                                                     : "The name of the entity contains illegal "
                                                       "characters.");
        }
    }
    return EntityPath(std::move(segments));
}

EntityPath EntityPath::Parent() const {
    if (segments_.size() <= 1) return *this;
    return EntityPath(std::vector<std::string>(segments_.begin(), segments_.end() - 1));
}

EntityPath EntityPath::Add(std::string_view segment) const {
    auto s = segments_;
    s.emplace_back(segment);
    return EntityPath(std::move(s));
}

EntityPath EntityPath::Resolve(std::string_view ns) const {
    if (segments_.empty() || segments_.front() != kDefaultNamespace) return *this;
    auto s = segments_;
    s.front() = std::string(ns);
    return EntityPath(std::move(s));
}

std::string EntityPath::ToString() const {
    std::string out;
    for (size_t i = 0; i < segments_.size(); ++i) {
        if (i > 0) out.push_back('/');
        out.append(segments_[i]);
    }
    return out;
}

absl::StatusOr<FullyQualifiedName> FullyQualifiedName::Parse(std::string_view ref,
                                                             std::string_view default_namespace) {
    const bool absolute = !ref.empty() && ref.front() == '/';
    std::string_view rest = absolute ? ref.substr(1) : ref;
    std::vector<std::string> parts;
    for (auto piece : Split(rest, '/')) parts.emplace_back(piece);
    const size_t max_parts = absolute ? 3 : 2;
    const size_t min_parts = absolute ? 2 : 1;
    if (rest.empty() || parts.size() < min_parts || parts.size() > max_parts ||
        (!absolute && default_namespace.empty())) {
        return absl::InvalidArgumentError(
            "The fully qualified name of the entity must contain at least the namespace and the "
            "name of the entity.");
    }
    for (const auto& p : parts) {
        if (p.size() > kMaxNameLength) return ValidateEntityName(p);
        if (!IsValidEntityName(p)) {
            return absl::InvalidArgumentError(
                "The name of the entity contains illegal characters.");
        }
    }
    std::vector<std::string> path;
    if (!absolute) path.emplace_back(default_namespace);
    path.insert(path.end(), parts.begin(), parts.end() - 1);
    if (path.front() == kDefaultNamespace && !default_namespace.empty()) {
        path.front() = std::string(default_namespace);
    }
    return FullyQualifiedName{EntityPath(std::move(path)), parts.back()};
}

std::string FullyQualifiedName::ToString() const { return Cat("/", path.ToString(), "/", name); }

std::string FullyQualifiedName::DocId() const { return Cat(path.ToString(), "/", name); }

}  // namespace wisp::common
