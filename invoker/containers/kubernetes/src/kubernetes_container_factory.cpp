#include <wisp/invoker/kubernetes_container_factory.hpp>

#include <algorithm>
#include <random>
#include <thread>

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/time.hpp>

#include "kube_api.hpp"
#include "kube_client.hpp"

namespace wisp::invoker {
namespace {

using kube::KubeClient;
using kube::KubeError;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string PodsPath(const std::string& ns) {
    return "/api/v1/namespaces/" + common::PercentEncode(ns) + "/pods";
}

std::string PodPath(const std::string& ns, const std::string& name) {
    return PodsPath(ns) + "/" + common::PercentEncode(name);
}

std::string RandomSuffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kChars[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(5, '0');
    for (char& c : s) c = kChars[rng() % 36];
    return s;
}

std::string DeleteBody(int64_t grace_seconds) {
    return R"({"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Background",)"
           R"("gracePeriodSeconds":)" +
           std::to_string(grace_seconds) + "}";
}

// What a starting pod's state means for Create: OK while it may still come up.
[[nodiscard]] absl::Status VerdictStatus(const kube::PodState& pod, const std::string& image) {
    switch (kube::Judge(pod)) {
        case kube::PodVerdict::kImagePull:
            return absl::FailedPreconditionError("Failed to pull container image '" + image + "'.");
        case kube::PodVerdict::kNoCommand:
            return absl::FailedPreconditionError("executable file not found in image " + image);
        case kube::PodVerdict::kFailed:
            return absl::FailedPreconditionError(
                "Failed to run container with image '" + image + "'. (pod " + pod.name + ": " +
                (pod.phase.empty() ? "no phase" : pod.phase) +
                (pod.terminated_reason.empty() ? "" : ", " + pod.terminated_reason) +
                (pod.waiting_reason.empty() ? "" : ", " + pod.waiting_reason) +
                (pod.exit_code ? ", exit code " + std::to_string(*pod.exit_code) : "") + ")");
        default:
            return absl::OkStatus();
    }
}

std::string Describe(const kube::PodState& pod) {
    std::string out = pod.phase.empty() ? "not seen" : pod.phase;
    if (!pod.waiting_reason.empty()) out += ", waiting: " + pod.waiting_reason;
    if (!pod.waiting_message.empty()) out += " (" + pod.waiting_message + ")";
    if (pod.phase == "Running" && !pod.ready) out += ", not ready";
    if (!pod.unschedulable.empty()) out += ", not scheduled: " + pod.unschedulable;
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KubernetesContainer

KubernetesContainer::KubernetesContainer(std::shared_ptr<kube::KubeClient> client,
                                         const KubernetesFactoryOptions& options, std::string name,
                                         int64_t memory_mb, std::string pod_ip)
    : client_(std::move(client)),
      ns_(options.api.ns),
      name_(std::move(name)),
      memory_mb_(memory_mb),
      pod_ip_(std::move(pod_ip)),
      api_timeout_(options.api_timeout),
      delete_grace_seconds_(options.delete_grace_seconds),
      proxy_(ProxyClient::Endpoint::Tcp(pod_ip_, options.action_port)) {}

KubernetesContainer::~KubernetesContainer() {
    absl::Status st = Destroy();
    if (!st.ok()) {
        spdlog::warn("kubernetes: could not delete pod {}: {}", name_, std::string(st.message()));
    }
}

absl::StatusOr<ProxyResponse> KubernetesContainer::Init(const std::string& body,
                                                        std::chrono::milliseconds timeout) {
    return proxy_.Post("/init", body, timeout, /*retry_refused=*/true);
}

absl::StatusOr<ProxyResponse> KubernetesContainer::Run(const std::string& body,
                                                       std::chrono::milliseconds timeout) {
    return proxy_.Post("/run", body, timeout, /*retry_refused=*/false);
}

absl::Status KubernetesContainer::Pause() {
    // Kubernetes has no pause: the pod keeps running. Only the idle connections go (as
    // OpenWhisk's KubernetesContainer.suspend does); the pool routes nothing to a paused one.
    proxy_.CloseIdle();
    std::lock_guard lock(mu_);
    if (destroyed_) return absl::NotFoundError("pod " + name_ + " was deleted");
    paused_ = true;
    return absl::OkStatus();
}

absl::Status KubernetesContainer::Resume() {
    std::lock_guard lock(mu_);
    if (destroyed_) return absl::NotFoundError("pod " + name_ + " was deleted");
    paused_ = false;
    return absl::OkStatus();
}

bool KubernetesContainer::paused() const {
    std::lock_guard lock(mu_);
    return paused_;
}

absl::Status KubernetesContainer::Destroy() {
    std::lock_guard lock(mu_);
    if (destroyed_) return absl::OkStatus();
    proxy_.CloseIdle();
    WISP_ASSIGN_OR_RETURN(
        auto r, client_->Call("DELETE", PodPath(ns_, name_), DeleteBody(delete_grace_seconds_),
                              api_timeout_, kube::kMaxObjectBytes));
    // 404: already gone (RemoveOrphans, or someone else deleted it).
    if (r.status != 200 && r.status != 202 && r.status != 404) {
        return KubeError("delete", "pods", ns_, r.status, r.body);
    }
    destroyed_ = true;
    return absl::OkStatus();
}

absl::StatusOr<bool> KubernetesContainer::WasOomKilled() {
    WISP_ASSIGN_OR_RETURN(
        auto r, client_->Call("GET", PodPath(ns_, name_), "", api_timeout_, kube::kMaxObjectBytes));
    if (r.status != 200) return KubeError("get", "pods", ns_, r.status, r.body);
    WISP_ASSIGN_OR_RETURN(auto pod, kube::ParsePodJson(r.body));
    return pod.terminated_reason == "OOMKilled";
}

absl::StatusOr<Container::Logs> KubernetesContainer::CollectLogs(int sentinels, int64_t limit_bytes,
                                                                 std::chrono::milliseconds wait) {
    std::lock_guard logs_lock(logs_mu_);
    kube::LogAccumulator acc(kube::LogCursor{log_last_nanos_, log_consumed_at_last_}, sentinels,
                             limit_bytes);
    const auto start = SteadyClock::now();
    // OpenWhisk's overall bound: max(log limit in MB, 5) x 2 s (or the wait, when longer).
    const int64_t mb = std::max<int64_t>(limit_bytes >> 20, 5);
    const auto overall = start + std::max<milliseconds>(wait, milliseconds(mb * 2000));
    auto idle_deadline = start + wait;
    // Each read is capped: a later read continues from the cursor.
    const int64_t read_cap = std::max<int64_t>(limit_bytes, 1 << 20) + (64 << 10);
    auto pause = milliseconds(5);
    while (true) {
        std::string path = PodPath(ns_, name_) +
                           "/log?container=" + std::string(kube::kContainerName) +
                           "&timestamps=true&limitBytes=" + std::to_string(read_cap);
        if (acc.cursor().last_nanos) {
            path += "&sinceTime=" +
                    common::PercentEncode(common::FormatRfc3339Nanos(*acc.cursor().last_nanos));
        }
        WISP_ASSIGN_OR_RETURN(auto r, client_->Call("GET", path, "", api_timeout_,
                                                    static_cast<size_t>(read_cap) * 2));
        if (r.status == 404) break;  // the pod is gone: what was read is all there is
        if (r.status != 200) return KubeError("get", "pods/log", ns_, r.status, r.body);
        const bool consumed = acc.Feed(r.body);
        if (acc.done() || sentinels <= 0) break;
        const auto now = SteadyClock::now();
        if (consumed) {
            idle_deadline = now + wait;
            pause = milliseconds(5);
        }
        if (now >= idle_deadline || now >= overall) break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, milliseconds(100));
    }
    log_last_nanos_ = acc.cursor().last_nanos;
    log_consumed_at_last_ = acc.cursor().consumed_at_last;
    return acc.Finish();
}

// ---------------------------------------------------------------------------------------------
// KubernetesContainerFactory

KubernetesContainerFactory::KubernetesContainerFactory(KubernetesFactoryOptions options)
    : options_(std::move(options)), client_(std::make_shared<KubeClient>(options_.api)) {}

KubernetesContainerFactory::~KubernetesContainerFactory() = default;

absl::Status KubernetesContainerFactory::Ping() {
    WISP_ASSIGN_OR_RETURN(auto r, client_->Call("GET", PodsPath(options_.api.ns) + "?limit=1", "",
                                                options_.api_timeout, kube::kMaxListBytes));
    if (r.status == 200) return absl::OkStatus();
    return KubeError("list", "pods", options_.api.ns, r.status, r.body);
}

absl::StatusOr<bool> KubernetesContainerFactory::ImageExists(std::string_view) { return true; }

absl::StatusOr<std::unique_ptr<Container>> KubernetesContainerFactory::Create(
    const ContainerSpec& spec) {
    WISP_ASSIGN_OR_RETURN(auto c, CreatePod(spec));
    return std::unique_ptr<Container>(std::move(c));
}

void KubernetesContainerFactory::FailedPod(const std::string& name) {
    const std::string& ns = options_.api.ns;
    auto events = client_->Call(
        "GET",
        "/api/v1/namespaces/" + common::PercentEncode(ns) +
            "/events?fieldSelector=" + common::PercentEncode("involvedObject.name=" + name),
        "", options_.api_timeout, kube::kMaxObjectBytes);
    if (events.ok() && events->status == 200) {
        rapidjson::Document doc;
        if (common::ParseJson(events->body, doc, {.max_bytes = kube::kMaxObjectBytes}).ok() &&
            doc.IsObject() && doc.HasMember("items") && doc["items"].IsArray()) {
            for (const auto& e : doc["items"].GetArray()) {
                auto str = [&](const char* k) {
                    return e.IsObject() && e.HasMember(k) && e[k].IsString()
                               ? std::string(e[k].GetString())
                               : std::string();
                };
                spdlog::warn("kubernetes: pod {} event {} {}: {}", name, str("lastTimestamp"),
                             str("reason"), str("message"));
            }
        }
    } else if (events.ok()) {
        spdlog::warn("kubernetes: cannot read the events of pod {}: {}", name,
                     KubeError("list", "events", ns, events->status, events->body).ToString());
    }
    auto deleted = client_->Call("DELETE", PodPath(ns, name), DeleteBody(0), options_.api_timeout,
                                 kube::kMaxObjectBytes);
    if (!deleted.ok()) {
        spdlog::warn("kubernetes: could not delete pod {}: {}", name,
                     std::string(deleted.status().message()));
    } else if (deleted->status != 200 && deleted->status != 202 && deleted->status != 404) {
        spdlog::warn("kubernetes: could not delete pod {}: {}", name,
                     KubeError("delete", "pods", ns, deleted->status, deleted->body).ToString());
    }
}

absl::StatusOr<std::unique_ptr<KubernetesContainer>> KubernetesContainerFactory::CreatePod(
    const ContainerSpec& spec) {
    const std::string& ns = options_.api.ns;
    const auto deadline = SteadyClock::now() + options_.ready_timeout;
    std::string name = kube::PodName(spec.name.empty() ? "wsk" : spec.name);
    std::string resource_version;
    for (int attempt = 0;; ++attempt) {
        const std::string body = kube::BuildPodBody(spec, name, options_);
        WISP_ASSIGN_OR_RETURN(auto r, client_->Call("POST", PodsPath(ns), body,
                                                    options_.api_timeout, kube::kMaxObjectBytes));
        if (r.status == 201 || r.status == 200) {
            auto pod = kube::ParsePodJson(r.body);
            if (pod.ok()) resource_version = pod->resource_version;
            break;
        }
        absl::Status error = KubeError("create", "pods", ns, r.status, r.body);
        if (absl::IsAlreadyExists(error) && attempt == 0) {
            // The name is taken (a leftover, or a name reused): make it unique.
            name = kube::PodName(name.substr(0, 56) + "-" + RandomSuffix());
            continue;
        }
        return error;
    }

    auto ready = WaitForPod(name, spec.image, resource_version, deadline);
    if (!ready.ok()) {
        FailedPod(name);
        return ready.status();
    }
    std::unique_ptr<KubernetesContainer> container(
        new KubernetesContainer(client_, options_, name, spec.memory_mb, ready->ip));
    if (absl::Status st = WaitForProxy(*container, spec.image, deadline); !st.ok()) {
        FailedPod(name);
        container->destroyed_ = true;  // FailedPod deleted it
        return st;
    }
    return container;
}

absl::StatusOr<KubernetesContainerFactory::PodReady> KubernetesContainerFactory::WaitForPod(
    const std::string& name, const std::string& image, std::string resource_version,
    std::chrono::steady_clock::time_point deadline) {
    const std::string& ns = options_.api.ns;
    kube::PodState last;
    last.name = name;
    bool watching = true;
    auto timed_out = [&] {
        return absl::DeadlineExceededError("Pod readiness timed out after " +
                                           std::to_string(options_.ready_timeout.count() / 1000) +
                                           "s: pod " + name + " (" + image + ") is " +
                                           Describe(last));
    };
    // GET the pod: a verdict (ready / failed) or nothing yet. 404: not visible yet.
    auto poll = [&]() -> absl::StatusOr<std::optional<PodReady>> {
        WISP_ASSIGN_OR_RETURN(auto r, client_->Call("GET", PodPath(ns, name), "",
                                                    options_.api_timeout, kube::kMaxObjectBytes));
        if (r.status == 404) return std::optional<PodReady>();
        if (r.status != 200) return KubeError("get", "pods", ns, r.status, r.body);
        WISP_ASSIGN_OR_RETURN(last, kube::ParsePodJson(r.body));
        resource_version = last.resource_version;
        WISP_RETURN_IF_ERROR(VerdictStatus(last, image));
        if (kube::Judge(last) == kube::PodVerdict::kReady) return PodReady{last.pod_ip};
        return std::optional<PodReady>();
    };
    while (true) {
        const auto now = SteadyClock::now();
        if (now >= deadline) return timed_out();
        if (watching) {
            const auto left_s =
                std::chrono::duration_cast<std::chrono::seconds>(deadline - now).count() + 1;
            std::string path = PodsPath(ns) + "?watch=true&fieldSelector=" +
                               common::PercentEncode("metadata.name=" + name) +
                               "&timeoutSeconds=" + std::to_string(left_s);
            if (!resource_version.empty()) {
                path += "&resourceVersion=" + common::PercentEncode(resource_version);
            }
            absl::Status decided;
            std::optional<PodReady> ready;
            bool expired = false;
            auto streamed = client_->Stream(
                path,
                [&](std::string_view line) {
                    auto event = kube::ParseWatchEvent(line);
                    if (!event.ok()) {
                        decided = event.status();
                        return false;
                    }
                    if (event->type == "ERROR") {
                        if (event->error_code == 410) {
                            expired = true;  // resourceVersion too old: re-list
                        } else {
                            decided = absl::InternalError("watching pod " + name +
                                                          " failed: " + event->error_message);
                        }
                        return false;
                    }
                    if (!event->pod.resource_version.empty()) {
                        resource_version = event->pod.resource_version;
                    }
                    if (event->type == "BOOKMARK") return true;
                    last = event->pod;
                    if (event->type == "DELETED") {
                        decided = absl::AbortedError("pod " + name + " (" + image +
                                                     ") was deleted while it was starting");
                        return false;
                    }
                    decided = VerdictStatus(last, image);
                    if (!decided.ok()) return false;
                    if (kube::Judge(last) == kube::PodVerdict::kReady) {
                        ready = PodReady{last.pod_ip};
                        return false;
                    }
                    return true;
                },
                deadline);
            if (ready) return *ready;
            if (!decided.ok()) return decided;
            if (!streamed.ok() || streamed->status != 200) {
                spdlog::warn("kubernetes: cannot watch pod {} ({}); polling it instead", name,
                             streamed.ok()
                                 ? KubeError("watch", "pods", ns, streamed->status, streamed->body)
                                       .ToString()
                                 : streamed.status().ToString());
                watching = false;
                continue;
            }
            if (expired) resource_version.clear();
            // The stream ended (expired, or the server's timeout): re-list, then watch again.
            WISP_ASSIGN_OR_RETURN(auto polled, poll());
            if (polled) return *polled;
            continue;
        }
        WISP_ASSIGN_OR_RETURN(auto polled, poll());
        if (polled) return *polled;
        std::this_thread::sleep_for(
            std::min(options_.poll_interval,
                     std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()) +
                         milliseconds(1)));
    }
}

absl::Status KubernetesContainerFactory::WaitForProxy(
    KubernetesContainer& c, const std::string& image,
    std::chrono::steady_clock::time_point deadline) {
    // Ready only means the container runs (no readiness probe): wait until the proxy answers
    // anything (a POST / gets a 404), checking now and then that the pod did not fail.
    auto next_check = SteadyClock::now() + milliseconds(1000);
    auto pause = milliseconds(2);
    while (true) {
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now());
        auto r = c.proxy_.Post("/", "", std::clamp(left, milliseconds(1), milliseconds(1000)),
                               /*retry_refused=*/false);
        if (!r.ok()) return r.status();
        if (r->failure == ProxyResponse::Failure::kNone) return absl::OkStatus();
        if (SteadyClock::now() >= deadline) {
            return absl::DeadlineExceededError(
                "The action proxy of pod " + c.name_ + " (" + image + ") at " + c.pod_ip_ + ":" +
                std::to_string(options_.action_port) + " did not answer within " +
                std::to_string(options_.ready_timeout.count()) + " ms");
        }
        if (SteadyClock::now() >= next_check) {
            next_check = SteadyClock::now() + milliseconds(1000);
            auto g = client_->Call("GET", PodPath(options_.api.ns, c.name_), "",
                                   options_.api_timeout, kube::kMaxObjectBytes);
            if (g.ok() && g->status == 200) {
                auto pod = kube::ParsePodJson(g->body);
                if (pod.ok()) WISP_RETURN_IF_ERROR(VerdictStatus(*pod, image));
            }
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, milliseconds(50));
    }
}

absl::StatusOr<int> KubernetesContainerFactory::RemoveOrphans(std::string_view invoker_id) {
    const std::string& ns = options_.api.ns;
    WISP_ASSIGN_OR_RETURN(auto r,
                          client_->Call("GET",
                                        PodsPath(ns) + "?labelSelector=" +
                                            kube::OrphanSelector(invoker_id, options_.release),
                                        "", options_.api_timeout, kube::kMaxListBytes));
    if (r.status != 200) return KubeError("list", "pods", ns, r.status, r.body);
    rapidjson::Document doc;
    if (!common::ParseJson(r.body, doc, {.max_bytes = kube::kMaxListBytes}).ok() ||
        !doc.IsObject() || !doc.HasMember("items") || !doc["items"].IsArray()) {
        return absl::InternalError("the Kubernetes API listed pods in a form not understood: " +
                                   r.body.substr(0, 200));
    }
    const std::string want_invoker = kube::InvokerLabelValue(invoker_id);
    const std::string want_release = kube::LabelValue(options_.release);
    std::vector<std::string> names;
    for (const auto& item : doc["items"].GetArray()) {
        // The server filtered already; the labels are checked again so that nothing else is
        // deleted even if a selector were ignored. Pods already terminating are not counted.
        if (!item.IsObject() || !item.HasMember("metadata")) continue;
        const rapidjson::Value& meta = item["metadata"];
        if (!meta.IsObject() || !meta.HasMember("name") || !meta["name"].IsString()) continue;
        if (meta.HasMember("deletionTimestamp") && !meta["deletionTimestamp"].IsNull()) continue;
        auto label = [&](std::string_view key) -> std::string {
            if (!meta.HasMember("labels") || !meta["labels"].IsObject()) return {};
            auto it = meta["labels"].FindMember(
                rapidjson::Value(key.data(), static_cast<rapidjson::SizeType>(key.size())));
            return it != meta["labels"].MemberEnd() && it->value.IsString()
                       ? std::string(it->value.GetString())
                       : std::string();
        };
        if (label(kube::kInvokerLabel) != want_invoker) continue;
        if (!options_.release.empty() && label(kube::kReleaseLabel) != want_release) continue;
        names.emplace_back(meta["name"].GetString());
    }
    int removed = 0;
    absl::Status first_error;
    for (const auto& name : names) {
        WISP_ASSIGN_OR_RETURN(auto d, client_->Call("DELETE", PodPath(ns, name), DeleteBody(0),
                                                    options_.api_timeout, kube::kMaxObjectBytes));
        if (d.status == 200 || d.status == 202) {
            ++removed;
        } else if (d.status != 404 && first_error.ok()) {
            first_error = KubeError("delete", "pods", ns, d.status, d.body);
        }
    }
    if (!first_error.ok()) return first_error;
    if (removed > 0)
        spdlog::info("kubernetes: deleted {} orphaned pod(s) of invoker {}", removed, invoker_id);
    return removed;
}

}  // namespace wisp::invoker
