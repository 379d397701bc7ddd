#include <wisp/common/activation.hpp>

#include <wisp/common/strings.hpp>

namespace wisp::common {

std::string_view ActivationStatusName(ActivationStatus s) {
    switch (s) {
        case ActivationStatus::kSuccess:
            return "success";
        case ActivationStatus::kApplicationError:
            return "application error";
        case ActivationStatus::kDeveloperError:
            return "action developer error";
        case ActivationStatus::kWhiskError:
            return "whisk internal error";
    }
    return "whisk internal error";
}

std::string_view ActivationStatusLabel(ActivationStatus s) {
    switch (s) {
        case ActivationStatus::kSuccess:
            return "success";
        case ActivationStatus::kApplicationError:
            return "application_error";
        case ActivationStatus::kDeveloperError:
            return "action_developer_error";
        case ActivationStatus::kWhiskError:
            return "whisk_internal_error";
    }
    return "whisk_internal_error";
}

ActivationResponse ActivationResponse::Error(ActivationStatus status, std::string_view message) {
    ActivationResponse r;
    r.status = status;
    r.result = JsonValue::Parse(Cat("{\"error\":", JsonValue::String(message).text(), "}")).value();
    return r;
}

std::optional<int64_t> ActivationRecord::duration() const {
    if (end_ms == 0) return std::nullopt;
    if (duration_ms) return duration_ms;
    return end_ms - start_ms;
}

std::string ActivationRecord::DocId() const {
    return Cat(namespace_path.ToString(), "/", activation_id.str());
}

std::string ActivationRecord::FilterName() const {
    if (const JsonValue* b = annotations.Get("binding"); b != nullptr && b->IsString()) {
        // "ns/binding" -> "binding/name"
        std::string binding = b->AsString();
        auto slash = binding.find('/');
        std::string pkg = slash == std::string::npos ? binding : binding.substr(slash + 1);
        return Cat(pkg, "/", name);
    }
    if (const JsonValue* p = annotations.Get("path"); p != nullptr && p->IsString()) {
        std::string path = p->AsString();
        auto slash = path.find('/');
        if (slash != std::string::npos) return path.substr(slash + 1);
        return path;
    }
    return name;
}

}  // namespace wisp::common
