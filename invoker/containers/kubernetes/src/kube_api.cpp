#include "kube_api.hpp"

#include <algorithm>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/time.hpp>

namespace wisp::invoker::kube {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

void Str(Writer& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}
void Key(Writer& w, std::string_view s) {
    w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
    if (!v.IsObject()) return nullptr;
    auto it = v.FindMember(name);
    return it == v.MemberEnd() ? nullptr : &it->value;
}

std::string StringAt(const rapidjson::Value* v, const char* name) {
    const rapidjson::Value* m = v != nullptr ? Member(*v, name) : nullptr;
    return m != nullptr && m->IsString() ? std::string(m->GetString(), m->GetStringLength())
                                         : std::string();
}

// The rule an RBAC Role must hold for `verb` on `resource` ("pods/log" splits into the
// subresource form RBAC uses).
std::string RbacRule(std::string_view verb, std::string_view resource) {
    return "{apiGroups: [\"\"], resources: [\"" + std::string(resource) + "\"], verbs: [\"" +
           std::string(verb) + "\"]}";
}

}  // namespace

std::string PodName(std::string_view name) {
    std::string out;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == '_' || c == '.') c = '-';
        if (IsLowerAlnum(c) || c == '-') out += c;
        if (out.size() >= 63) break;
    }
    while (!out.empty() && !IsLowerAlnum(out.front())) out.erase(out.begin());
    while (!out.empty() && !IsLowerAlnum(out.back())) out.pop_back();
    if (out.empty()) out = "wsk";
    return out;
}

std::string LabelValue(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (IsAlnum(c) || c == '-' || c == '_' || c == '.') out += c;
        if (out.size() >= 63) break;
    }
    while (!out.empty() && !IsAlnum(out.front())) out.erase(out.begin());
    while (!out.empty() && !IsAlnum(out.back())) out.pop_back();
    return out;
}

std::string InvokerLabelValue(std::string_view invoker_id) {
    return LabelValue("invoker" + std::string(invoker_id));
}

std::string OrphanSelector(std::string_view invoker_id, std::string_view release) {
    std::string selector = std::string(kInvokerLabel) + "=" + InvokerLabelValue(invoker_id);
    if (!release.empty()) {
        selector += "," + std::string(kReleaseLabel) + "=" + LabelValue(release);
    }
    return common::PercentEncode(selector);
}

std::string BuildPodBody(const ContainerSpec& spec, const std::string& pod_name,
                         const KubernetesFactoryOptions& options) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    Key(w, "apiVersion");
    Str(w, "v1");
    Key(w, "kind");
    Str(w, "Pod");

    Key(w, "metadata");
    w.StartObject();
    Key(w, "name");
    Str(w, pod_name);
    Key(w, "labels");
    w.StartObject();
    Key(w, "name");
    Str(w, pod_name);
    Key(w, "user-action-pod");
    Str(w, "true");
    for (const auto& [key, value] : spec.labels) {
        if (key == kSpecInvokerLabel) {
            Key(w, kInvokerLabel);
            Str(w, InvokerLabelValue(value));
            continue;
        }
        // Other labels travel when they are valid label keys (name part only); "a.b" keys stay.
        if (key == "name" || key == "user-action-pod" || key == kInvokerLabel ||
            key == kReleaseLabel || LabelValue(key) != key || key.size() > 63) {
            continue;
        }
        Key(w, key);
        Str(w, LabelValue(value));
    }
    if (!options.release.empty()) {
        Key(w, kReleaseLabel);
        Str(w, LabelValue(options.release));
    }
    w.EndObject();
    w.EndObject();  // metadata

    Key(w, "spec");
    w.StartObject();
    // Never: a proxy that died lost its /init; restarted behind the pool's back it would answer
    // /run "not initialised". The pod goes Failed and the pool replaces it.
    Key(w, "restartPolicy");
    Str(w, "Never");
    Key(w, "automountServiceAccountToken");
    w.Bool(false);
    Key(w, "enableServiceLinks");
    w.Bool(false);
    Key(w, "terminationGracePeriodSeconds");
    w.Int64(options.delete_grace_seconds);
    if (!options.node_affinity_key.empty()) {
        Key(w, "affinity");
        w.StartObject();
        Key(w, "nodeAffinity");
        w.StartObject();
        Key(w, "requiredDuringSchedulingIgnoredDuringExecution");
        w.StartObject();
        Key(w, "nodeSelectorTerms");
        w.StartArray();
        w.StartObject();
        Key(w, "matchExpressions");
        w.StartArray();
        w.StartObject();
        Key(w, "key");
        Str(w, options.node_affinity_key);
        Key(w, "operator");
        Str(w, "In");
        Key(w, "values");
        w.StartArray();
        Str(w, options.node_affinity_value);
        w.EndArray();
        w.EndObject();
        w.EndArray();
        w.EndObject();
        w.EndArray();
        w.EndObject();
        w.EndObject();
        w.EndObject();
    }
    if (options.tmp_size_mb > 0) {
        Key(w, "volumes");
        w.StartArray();
        w.StartObject();
        Key(w, "name");
        Str(w, "tmp");
        Key(w, "emptyDir");
        w.StartObject();
        Key(w, "medium");
        Str(w, "Memory");
        Key(w, "sizeLimit");
        Str(w, std::to_string(options.tmp_size_mb) + "Mi");
        w.EndObject();
        w.EndObject();
        w.EndArray();
    }

    Key(w, "containers");
    w.StartArray();
    w.StartObject();
    Key(w, "name");
    Str(w, kContainerName);
    Key(w, "image");
    Str(w, spec.image);
    Key(w, "imagePullPolicy");
    Str(w, "IfNotPresent");
    Key(w, "env");
    w.StartArray();
    for (const auto& [key, value] : spec.env) {
        w.StartObject();
        Key(w, "name");
        Str(w, key);
        Key(w, "value");
        Str(w, value);
        w.EndObject();
    }
    w.EndArray();
    Key(w, "ports");
    w.StartArray();
    w.StartObject();
    Key(w, "name");
    Str(w, "action");
    Key(w, "containerPort");
    w.Int(options.action_port);
    Key(w, "protocol");
    Str(w, "TCP");
    w.EndObject();
    w.EndArray();

    Key(w, "resources");
    const std::string memory = std::to_string(spec.memory_mb) + "Mi";
    std::string cpu;
    if (options.cpu_millis_per_invoker > 0 && options.user_memory_mb > 0) {
        cpu = std::to_string(std::max<int64_t>(
                  10, options.cpu_millis_per_invoker * spec.memory_mb / options.user_memory_mb)) +
              "m";
    }
    w.StartObject();
    for (const char* which : {"requests", "limits"}) {
        Key(w, which);
        w.StartObject();
        Key(w, "memory");
        Str(w, memory);
        if (!cpu.empty()) {
            Key(w, "cpu");
            Str(w, cpu);
        }
        w.EndObject();
    }
    w.EndObject();

    // The Docker backend's settings: CapDrop ALL, no-new-privileges, docker's default seccomp.
    Key(w, "securityContext");
    w.StartObject();
    Key(w, "allowPrivilegeEscalation");
    w.Bool(false);
    Key(w, "privileged");
    w.Bool(false);
    Key(w, "capabilities");
    w.StartObject();
    Key(w, "drop");
    w.StartArray();
    Str(w, "ALL");
    w.EndArray();
    w.EndObject();
    Key(w, "seccompProfile");
    w.StartObject();
    Key(w, "type");
    Str(w, "RuntimeDefault");
    w.EndObject();
    if (options.run_as_user > 0) {
        Key(w, "runAsUser");
        w.Int64(options.run_as_user);
        Key(w, "runAsNonRoot");
        w.Bool(true);
    }
    w.EndObject();

    if (options.tmp_size_mb > 0) {
        Key(w, "volumeMounts");
        w.StartArray();
        w.StartObject();
        Key(w, "name");
        Str(w, "tmp");
        Key(w, "mountPath");
        Str(w, "/tmp");
        w.EndObject();
        w.EndArray();
    }
    w.EndObject();  // container
    w.EndArray();
    w.EndObject();  // spec
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

absl::Status KubeError(std::string_view verb, std::string_view resource, std::string_view ns,
                       long http_status, std::string_view body) {
    std::string message;
    std::string reason;
    std::string causes;
    rapidjson::Document doc;
    if (common::ParseJson(body, doc, {.max_bytes = kMaxObjectBytes}).ok() && doc.IsObject() &&
        StringAt(&doc, "kind") == "Status") {
        message = StringAt(&doc, "message");
        reason = StringAt(&doc, "reason");
        const rapidjson::Value* details = Member(doc, "details");
        const rapidjson::Value* list = details != nullptr ? Member(*details, "causes") : nullptr;
        if (list != nullptr && list->IsArray()) {
            for (const auto& c : list->GetArray()) {
                const std::string field = StringAt(&c, "field");
                const std::string text = StringAt(&c, "message");
                causes += "\n  " + (field.empty() ? std::string() : field + ": ") + text;
            }
        }
    } else {
        message = std::string(body.substr(0, 300));
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
            message.pop_back();
        }
    }
    const std::string what = "Kubernetes refused to " + std::string(verb) + " " +
                             std::string(resource) + " in namespace " + std::string(ns) +
                             " (HTTP " + std::to_string(http_status) +
                             (reason.empty() ? "" : " " + reason) + "): " + message;
    switch (http_status) {
        case 401:
            return absl::UnauthenticatedError(
                what +
                "; the token is missing, expired or not accepted: check --kubeconfig or "
                "the service account token");
        case 403:
            return absl::PermissionDeniedError(
                what + "; the invoker's service account needs the RBAC permission to " +
                std::string(verb) + " " + std::string(resource) + " in namespace " +
                std::string(ns) + ": add the rule " + RbacRule(verb, resource) +
                " to its Role (the Helm chart's invoker Role has it)");
        case 404:
            return absl::NotFoundError(what);
        case 409:
            if (reason == "Conflict") return absl::AbortedError(what);
            return absl::AlreadyExistsError(what);
        case 410:
            return absl::AbortedError(what);
        case 422:
        case 400:
            return absl::InvalidArgumentError(what + causes);
        case 429:
        case 500:
        case 502:
        case 503:
        case 504:
            return absl::UnavailableError(what);
        default:
            return absl::InternalError(what);
    }
}

absl::StatusOr<PodState> ParsePod(const rapidjson::Value& pod) {
    if (!pod.IsObject()) return absl::InternalError("the API answered a pod that is not an object");
    PodState s;
    const rapidjson::Value* meta = Member(pod, "metadata");
    s.name = StringAt(meta, "name");
    s.resource_version = StringAt(meta, "resourceVersion");
    s.deleting = meta != nullptr && Member(*meta, "deletionTimestamp") != nullptr &&
                 !Member(*meta, "deletionTimestamp")->IsNull();
    const rapidjson::Value* status = Member(pod, "status");
    s.phase = StringAt(status, "phase");
    s.pod_ip = StringAt(status, "podIP");
    const rapidjson::Value* conditions =
        status != nullptr ? Member(*status, "conditions") : nullptr;
    if (conditions != nullptr && conditions->IsArray()) {
        for (const auto& c : conditions->GetArray()) {
            if (StringAt(&c, "type") == "Ready") s.ready = StringAt(&c, "status") == "True";
            if (StringAt(&c, "type") == "PodScheduled" && StringAt(&c, "status") == "False") {
                s.unschedulable = StringAt(&c, "message");
                if (s.unschedulable.empty()) s.unschedulable = StringAt(&c, "reason");
            }
        }
    }
    const rapidjson::Value* statuses =
        status != nullptr ? Member(*status, "containerStatuses") : nullptr;
    if (statuses != nullptr && statuses->IsArray()) {
        for (const auto& cs : statuses->GetArray()) {
            if (StringAt(&cs, "name") != kContainerName) continue;
            s.image = StringAt(&cs, "image");
            for (const char* which : {"lastState", "state"}) {
                const rapidjson::Value* state = Member(cs, which);
                if (state == nullptr) continue;
                if (const rapidjson::Value* waiting = Member(*state, "waiting")) {
                    s.waiting_reason = StringAt(waiting, "reason");
                    s.waiting_message = StringAt(waiting, "message");
                }
                if (const rapidjson::Value* term = Member(*state, "terminated")) {
                    s.terminated_reason = StringAt(term, "reason");
                    const rapidjson::Value* code = Member(*term, "exitCode");
                    if (code != nullptr && code->IsInt()) s.exit_code = code->GetInt();
                }
            }
        }
    }
    return s;
}

absl::StatusOr<PodState> ParsePodJson(std::string_view body) {
    rapidjson::Document doc;
    if (!common::ParseJson(body, doc, {.max_bytes = kMaxObjectBytes}).ok()) {
        return absl::InternalError("the Kubernetes API answered a pod that is not JSON: " +
                                   std::string(body.substr(0, 200)));
    }
    return ParsePod(doc);
}

PodVerdict Judge(const PodState& pod) {
    const std::string& r = pod.waiting_reason;
    if (r == "ErrImagePull" || r == "ImagePullBackOff" || r == "InvalidImageName" ||
        r == "ErrImageNeverPull") {
        return PodVerdict::kImagePull;
    }
    if (pod.waiting_message.find("executable file not found") != std::string::npos) {
        return PodVerdict::kNoCommand;
    }
    if (pod.phase == "Failed" || pod.phase == "Succeeded" || !pod.terminated_reason.empty() ||
        r == "CreateContainerConfigError" || r == "CreateContainerError" ||
        r == "RunContainerError" || r == "CrashLoopBackOff") {
        return PodVerdict::kFailed;
    }
    if (pod.ready && !pod.pod_ip.empty() && !pod.deleting) return PodVerdict::kReady;
    return PodVerdict::kWaiting;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
    rapidjson::Document doc;
    if (!common::ParseJson(line, doc, {.max_bytes = kMaxObjectBytes}).ok() || !doc.IsObject()) {
        return absl::InternalError("the Kubernetes API sent a watch event that is not JSON: " +
                                   std::string(line.substr(0, 200)));
    }
    WatchEvent e;
    e.type = StringAt(&doc, "type");
    const rapidjson::Value* object = Member(doc, "object");
    if (e.type.empty() || object == nullptr) {
        return absl::InternalError("the Kubernetes API sent a watch event without type/object");
    }
    if (e.type == "ERROR") {
        const rapidjson::Value* code = Member(*object, "code");
        e.error_code = code != nullptr && code->IsInt() ? code->GetInt() : 0;
        e.error_message = StringAt(object, "message");
        return e;
    }
    auto pod = ParsePod(*object);
    if (!pod.ok()) return pod.status();
    e.pod = std::move(*pod);
    return e;
}

LogAccumulator::LogAccumulator(LogCursor start, int sentinels, int64_t limit_bytes)
    : cursor_(start), wanted_(sentinels), limit_(limit_bytes) {}

bool LogAccumulator::Feed(std::string_view body) {
    bool consumed = false;
    int equal_seen = 0;
    size_t at = 0;
    while (!done_ && at < body.size()) {
        size_t nl = body.find('\n', at);
        if (nl == std::string_view::npos) nl = body.size();
        std::string_view line = body.substr(at, nl - at);
        at = nl + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const size_t space = line.find(' ');
        if (space == std::string_view::npos) continue;  // not "<time> <text>" (e.g. a Status)
        auto nanos = common::ParseRfc3339Nanos(line.substr(0, space));
        if (!nanos.ok()) continue;
        if (cursor_.last_nanos) {
            if (*nanos < *cursor_.last_nanos) continue;
            if (*nanos == *cursor_.last_nanos && equal_seen++ < cursor_.consumed_at_last) {
                continue;
            }
        }
        // Consumed from here on.
        consumed = true;
        if (cursor_.last_nanos && *nanos == *cursor_.last_nanos) {
            ++cursor_.consumed_at_last;
        } else {
            cursor_.last_nanos = *nanos;
            cursor_.consumed_at_last = 1;
            equal_seen = 1;
        }
        std::string_view text = line.substr(space + 1);
        const size_t sentinel = text.find(kActivationSentinel);
        if (sentinel != std::string_view::npos) {
            text = text.substr(0, sentinel);
            ++seen_;
        }
        if (sentinel == std::string_view::npos || !text.empty()) {
            const auto size = static_cast<int64_t>(text.size());
            if (bytes_ + size > limit_) {
                logs_.truncated = true;
            } else {
                bytes_ += size;
                logs_.lines.push_back(
                    {std::string(line.substr(0, space)), "stdout", std::string(text)});
            }
        }
        if (wanted_ > 0 && seen_ >= wanted_) done_ = true;
    }
    return consumed;
}

Container::Logs LogAccumulator::Finish() {
    logs_.complete = wanted_ <= 0 || seen_ >= wanted_;
    return std::move(logs_);
}

}  // namespace wisp::invoker::kube
