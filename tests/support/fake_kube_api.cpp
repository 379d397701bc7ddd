#include <wisp/testing/fake_kube_api.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <wisp/common/json.hpp>
#include <wisp/common/time.hpp>
#include <wisp/testing/child_process.hpp>
#include <wisp/testing/ports.hpp>
#include <wisp/testing/process_container.hpp>

namespace wisp::testing {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

int64_t NowNanos() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Kubernetes' metav1.Time: RFC 3339 in whole seconds ("2026-11-23T12:38:07Z").
std::string Rfc3339Seconds(int64_t nanos) {
    std::string s = common::FormatRfc3339Nanos(nanos);
    return s.erase(s.size() - 11, 10);  // ".nnnnnnnnn"
}

// RFC 3339 to seconds since the epoch (the fraction ignored, as the API server's sinceTime).
std::optional<int64_t> ParseSeconds(const std::string& s) {
    tm t{};
    const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &t);
    if (end == nullptr) return std::nullopt;
    return static_cast<int64_t>(timegm(&t));
}

std::string UrlDecode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else if (s[i] == '+') {
            out += ' ';
        } else {
            out += s[i];
        }
    }
    return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view q) {
    std::map<std::string, std::string> out;
    while (!q.empty()) {
        const size_t amp = q.find('&');
        std::string_view kv = q.substr(0, amp);
        const size_t eq = kv.find('=');
        out[UrlDecode(kv.substr(0, eq))] =
            eq == std::string_view::npos ? "" : UrlDecode(kv.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        q.remove_prefix(amp + 1);
    }
    return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t at = s.find(sep, start);
        out.emplace_back(s.substr(start, at == std::string_view::npos ? s.npos : at - start));
        if (at == std::string_view::npos) break;
        start = at + 1;
    }
    return out;
}

bool ValidDnsLabel(const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return s.front() != '-' && s.back() != '-';
}

bool ValidLabelValue(const std::string& s) {
    if (s.size() > 63) return false;
    for (char c : s) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return s.empty() || (std::isalnum(static_cast<unsigned char>(s.front())) &&
                         std::isalnum(static_cast<unsigned char>(s.back())));
}

struct Cause {
    std::string reason, message, field;
};

std::string StatusJson(int code, const std::string& reason, const std::string& message,
                       const std::string& name, const std::string& kind,
                       const std::vector<Cause>& causes = {}) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("kind");
    w.String("Status");
    w.Key("apiVersion");
    w.String("v1");
    w.Key("metadata");
    w.StartObject();
    w.EndObject();
    w.Key("status");
    w.String("Failure");
    w.Key("message");
    w.String(message.c_str());
    w.Key("reason");
    w.String(reason.c_str());
    if (!kind.empty()) {
        w.Key("details");
        w.StartObject();
        if (!name.empty()) {
            w.Key("name");
            w.String(name.c_str());
        }
        w.Key("kind");
        w.String(kind.c_str());
        if (!causes.empty()) {
            w.Key("causes");
            w.StartArray();
            for (const auto& c : causes) {
                w.StartObject();
                w.Key("reason");
                w.String(c.reason.c_str());
                w.Key("message");
                w.String(c.message.c_str());
                w.Key("field");
                w.String(c.field.c_str());
                w.EndObject();
            }
            w.EndArray();
        }
        w.EndObject();
    }
    w.Key("code");
    w.Int(code);
    w.EndObject();
    return sb.GetString();
}

struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
};

Reply Error(int code, const std::string& reason, const std::string& message,
            const std::string& name = "", const std::string& kind = "",
            const std::vector<Cause>& causes = {}) {
    return {code, "application/json", StatusJson(code, reason, message, name, kind, causes)};
}

}  // namespace

struct FakeKubeApi::State {
    FakeKubeApiOptions options;
    net::io_context io;
    tcp::acceptor acceptor{io};
    int port = 0;
    std::thread accept_thread;
    std::atomic<bool> stopping{false};

    struct LogEntry {
        int64_t nanos;
        std::string text;
    };
    struct Pod {
        std::string ns, name, uid, image;
        int64_t rv = 0;
        std::map<std::string, std::string> labels;
        std::string spec;  // compact JSON of the posted spec
        std::vector<std::pair<std::string, std::string>> env;
        std::string phase = "Pending";
        std::string pod_ip;
        bool ready = false;
        bool scheduled = false;
        bool unschedulable = false;
        bool started = false;
        std::string waiting_reason = "ContainerCreating";
        std::string waiting_message;
        std::string terminated_reason;
        int exit_code = 0;
        std::optional<int64_t> deleted_at;
        int64_t created = 0;
        int64_t started_at = 0;
        pid_t pid = -1;
        std::vector<LogEntry> log;
    };
    struct Event {
        int64_t rv;
        std::string type;
        std::string ns, name;
        std::string object;  // pod JSON at that time
    };
    struct KubeEvent {
        std::string ns, involved, reason, message;
        int64_t at;
    };

    mutable std::mutex mu;
    std::condition_variable cv;
    int64_t rv = 1000;
    int next_ip = 0;
    std::map<std::string, std::shared_ptr<Pod>> pods;  // "ns/name"
    std::vector<Event> history;
    std::vector<KubeEvent> kube_events;
    bool expire_next_watch = false;
    bool forbid_watch = false;
    bool hold_pending = false;
    // Set by ExpireNextWatch: kubelets wait until a watch after the expired one has started, so
    // the pod cannot become ready between the 410 and the client's re-list (a loaded machine).
    bool hold_until_rewatch = false;
    std::set<std::string> forbidden;  // "verb resource"
    std::string last_create_body;
    std::vector<std::string> requests;
    std::vector<std::thread> workers;  // kubelets and log readers
    std::vector<std::thread> connections;
    std::vector<std::shared_ptr<tcp::socket>> sockets;
    int ip_octet = 0;

    // --- pods -----------------------------------------------------------------------------

    std::string PodJson(const Pod& p) const {
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("apiVersion");
        w.String("v1");
        w.Key("kind");
        w.String("Pod");
        w.Key("metadata");
        w.StartObject();
        w.Key("name");
        w.String(p.name.c_str());
        w.Key("namespace");
        w.String(p.ns.c_str());
        w.Key("uid");
        w.String(p.uid.c_str());
        w.Key("resourceVersion");
        w.String(std::to_string(p.rv).c_str());
        w.Key("creationTimestamp");
        w.String(Rfc3339Seconds(p.created).c_str());
        if (p.deleted_at) {
            w.Key("deletionTimestamp");
            w.String(Rfc3339Seconds(*p.deleted_at).c_str());
        }
        w.Key("labels");
        w.StartObject();
        for (const auto& [k, v] : p.labels) {
            w.Key(k.c_str());
            w.String(v.c_str());
        }
        w.EndObject();
        w.EndObject();
        w.Key("spec");
        w.RawValue(p.spec.c_str(), p.spec.size(), rapidjson::kObjectType);
        w.Key("status");
        w.StartObject();
        w.Key("phase");
        w.String(p.phase.c_str());
        if (p.scheduled) {
            w.Key("hostIP");
            w.String("127.0.0.1");
        }
        if (!p.pod_ip.empty()) {
            w.Key("podIP");
            w.String(p.pod_ip.c_str());
        }
        w.Key("conditions");
        w.StartArray();
        for (const char* type : {"PodScheduled", "Ready", "ContainersReady"}) {
            const bool value = std::string_view(type) == "PodScheduled" ? p.scheduled : p.ready;
            w.StartObject();
            w.Key("type");
            w.String(type);
            w.Key("status");
            w.String(value ? "True" : "False");
            if (std::string_view(type) == "PodScheduled" && p.unschedulable) {
                w.Key("reason");
                w.String("Unschedulable");
                w.Key("message");
                w.String("0/1 nodes are available: 1 Insufficient memory.");
            }
            w.EndObject();
        }
        w.EndArray();
        if (p.scheduled) {
            w.Key("containerStatuses");
            w.StartArray();
            w.StartObject();
            w.Key("name");
            w.String("user-action");
            w.Key("image");
            w.String(p.image.c_str());
            w.Key("ready");
            w.Bool(p.ready);
            w.Key("restartCount");
            w.Int(0);
            if (p.started) {
                w.Key("containerID");
                w.String(("containerd://" + p.uid).c_str());
            }
            w.Key("state");
            w.StartObject();
            if (!p.terminated_reason.empty()) {
                w.Key("terminated");
                w.StartObject();
                w.Key("reason");
                w.String(p.terminated_reason.c_str());
                w.Key("exitCode");
                w.Int(p.exit_code);
                w.EndObject();
            } else if (p.started) {
                w.Key("running");
                w.StartObject();
                w.Key("startedAt");
                w.String(Rfc3339Seconds(p.started_at).c_str());
                w.EndObject();
            } else {
                w.Key("waiting");
                w.StartObject();
                w.Key("reason");
                w.String(p.waiting_reason.c_str());
                if (!p.waiting_message.empty()) {
                    w.Key("message");
                    w.String(p.waiting_message.c_str());
                }
                w.EndObject();
            }
            w.EndObject();
            w.EndObject();
            w.EndArray();
        }
        w.EndObject();
        w.EndObject();
        return sb.GetString();
    }

    // Records a change (mu held): new resourceVersion, a watch event.
    void Changed(Pod& p, const std::string& type) {
        p.rv = ++rv;
        history.push_back({p.rv, type, p.ns, p.name, PodJson(p)});
        cv.notify_all();
    }

    void Record(const Pod& p, const std::string& reason, const std::string& message) {
        kube_events.push_back({p.ns, p.name, reason, message, NowNanos()});
    }

    std::string NextIp() {
        const int n = next_ip++;
        return "127." + std::to_string(ip_octet) + "." + std::to_string(n / 250) + "." +
               std::to_string(2 + n % 250);
    }

    // The kubelet's part: schedule, pull, start the process, report Running + Ready.
    void RunPod(std::shared_ptr<Pod> pod) {
        std::string kind;
        std::vector<std::pair<std::string, std::string>> env;
        std::string ip;
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return !hold_until_rewatch || pod->deleted_at || stopping; });
            if (pod->deleted_at || stopping) return;
            if (hold_pending) {
                pod->unschedulable = true;
                Record(*pod, "FailedScheduling", "0/1 nodes are available: 1 Insufficient memory.");
                Changed(*pod, "MODIFIED");
                return;
            }
            pod->scheduled = true;
            Record(*pod, "Scheduled",
                   "Successfully assigned " + pod->ns + "/" + pod->name + " to fake-node");
            Changed(*pod, "MODIFIED");
            kind = ProxyKindForImage(pod->image);
            if (kind.empty()) {
                pod->waiting_reason = "ErrImagePull";
                pod->waiting_message =
                    "rpc error: code = NotFound desc = failed to pull and "
                    "unpack image \"" +
                    pod->image + "\": not found";
                Record(*pod, "Failed", "Failed to pull image \"" + pod->image + "\": not found");
                Changed(*pod, "MODIFIED");
                pod->waiting_reason = "ImagePullBackOff";
                pod->waiting_message = "Back-off pulling image \"" + pod->image + "\"";
                Changed(*pod, "MODIFIED");
                return;
            }
            env = pod->env;
            ip = NextIp();
        }
        const fs::path dir =
            fs::path(options.work_dir) / (pod->ns + "-" + pod->name + "-" + pod->uid);
        std::error_code ec;
        fs::create_directories(dir / "action", ec);
        std::vector<std::string> argv = {options.proxy_binary,
                                         "--kind",
                                         kind,
                                         "--host",
                                         ip,
                                         "--port",
                                         std::to_string(options.action_port),
                                         "--action-dir",
                                         (dir / "action").string()};
        if (kind == "python") {
            argv.insert(argv.end(), {"--launcher", options.runtimes_dir + "/python/launcher.py"});
        } else if (kind == "nodejs") {
            argv.insert(argv.end(), {"--launcher", options.runtimes_dir + "/nodejs/launcher.js"});
        }
        std::vector<std::string> envs = InheritedEnvironment("WISP_PROXY_");
        for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
        auto child = SpawnWithPipes(argv, envs);
        if (!child.ok()) {
            std::lock_guard lock(mu);
            pod->waiting_reason = "RunContainerError";
            pod->waiting_message = std::string(child.status().message());
            Changed(*pod, "MODIFIED");
            return;
        }
        const pid_t pid = child->pid;
        {
            std::lock_guard lock(mu);
            pod->pid = pid;
            pod->started = true;
            pod->started_at = NowNanos();
            pod->phase = "Running";
            pod->pod_ip = ip;
            pod->waiting_reason.clear();
            Record(*pod, "Started", "Started container user-action");
            if (pod->deleted_at || stopping) {
                SignalProcessTree(pid, SIGKILL);
            } else {
                Changed(*pod, "MODIFIED");  // Running, not ready yet
            }
        }
        std::thread reader([this, pod, pid, out = child->stdout_fd, err = child->stderr_fd] {
            ReadLogs(pod, pid, out, err);
        });
        {
            std::lock_guard lock(mu);
            workers.push_back(std::move(reader));
        }
        // Ready once the proxy listens (the kubelet's tcp readiness probe).
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        bool up = false;
        while (!up && std::chrono::steady_clock::now() < give_up) {
            {
                std::lock_guard lock(mu);
                if (stopping || pod->deleted_at || !pod->terminated_reason.empty()) return;
            }
            up = WaitForTcpPort(ip, options.action_port, std::chrono::milliseconds(200)).ok();
        }
        std::lock_guard lock(mu);
        if (up && !pod->deleted_at && pod->terminated_reason.empty()) {
            pod->ready = true;
            Changed(*pod, "MODIFIED");
        }
    }

    // stdout and stderr of a pod's process, time-stamped, into its log; the exit into its status.
    void ReadLogs(std::shared_ptr<Pod> pod, pid_t pid, int out_fd, int err_fd) {
        ReadPipedLines(out_fd, err_fd,
                       [&](int /*stream: merged, as in pods/log*/, std::string text) {
                           std::lock_guard lock(mu);
                           int64_t now = NowNanos();
                           if (!pod->log.empty() && now < pod->log.back().nanos)
                               now = pod->log.back().nanos;
                           pod->log.push_back({now, std::move(text)});
                       });
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        std::lock_guard lock(mu);
        pod->pid = -1;
        if (pod->deleted_at) return;
        pod->ready = false;
        pod->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pod->terminated_reason = pod->exit_code == 0 ? "Completed" : "Error";
        pod->phase = pod->exit_code == 0 ? "Succeeded" : "Failed";
        Changed(*pod, "MODIFIED");
    }

    void Kill(Pod& p) {
        if (p.pid > 0) SignalProcessTree(p.pid, SIGKILL);  // the reader reaps it
    }

    // --- HTTP ----------------------------------------------------------------------------

    bool Forbidden(const std::string& verb, const std::string& resource) const {
        return forbidden.count(verb + " " + resource) > 0 ||
               (verb == "watch" && resource == "pods" && forbid_watch);
    }

    Reply ForbiddenReply(const std::string& verb, const std::string& resource,
                         const std::string& ns, const std::string& name) const {
        const std::string base = resource.substr(0, resource.find('/'));
        return Error(403, "Forbidden",
                     (name.empty() ? base : base + " \"" + name + "\"") + " is forbidden: User \"" +
                         options.user + "\" cannot " + verb + " resource \"" + resource +
                         "\" in API group \"\" in the namespace \"" + ns + "\"",
                     name, base);
    }

    Reply NotFound(const std::string& name) const {
        return Error(404, "NotFound", "pods \"" + name + "\" not found", name, "pods");
    }

    Reply CreatePod(const std::string& ns, const std::string& body) {
        rapidjson::Document doc;
        if (!common::ParseJson(body, doc).ok() || !doc.IsObject()) {
            return Error(400, "BadRequest", "the body of the request was in an unknown format");
        }
        std::string name;
        std::vector<Cause> causes;
        std::map<std::string, std::string> labels;
        std::string image;
        std::vector<std::pair<std::string, std::string>> env;
        std::string spec = "{}";
        const auto& meta = doc.HasMember("metadata") ? doc["metadata"] : doc;
        if (meta.IsObject() && meta.HasMember("name") && meta["name"].IsString()) {
            name = meta["name"].GetString();
        }
        if (!ValidDnsLabel(name)) {
            causes.push_back({"FieldValueInvalid",
                              "Invalid value: \"" + name +
                                  "\": a lowercase RFC 1123 label must consist of lower case "
                                  "alphanumeric characters or '-', and must start and end with an "
                                  "alphanumeric character",
                              "metadata.name"});
        }
        if (meta.IsObject() && meta.HasMember("labels") && meta["labels"].IsObject()) {
            for (const auto& l : meta["labels"].GetObject()) {
                const std::string v = l.value.IsString() ? l.value.GetString() : "";
                if (!l.value.IsString() || !ValidLabelValue(v)) {
                    causes.push_back({"FieldValueInvalid", "Invalid value: \"" + v + "\"",
                                      std::string("metadata.labels: ") + l.name.GetString()});
                }
                labels[l.name.GetString()] = v;
            }
        }
        const rapidjson::Value* container = nullptr;
        if (doc.HasMember("spec") && doc["spec"].IsObject()) {
            rapidjson::StringBuffer sb;
            Writer w(sb);
            doc["spec"].Accept(w);
            spec = sb.GetString();
            const auto& s = doc["spec"];
            if (s.HasMember("containers") && s["containers"].IsArray() &&
                !s["containers"].Empty()) {
                container = &s["containers"][0];
            }
        }
        if (container == nullptr || !container->IsObject()) {
            causes.push_back({"FieldValueRequired", "Required value", "spec.containers"});
        } else {
            const auto& c = *container;
            if (c.HasMember("image") && c["image"].IsString()) image = c["image"].GetString();
            if (image.empty()) {
                causes.push_back(
                    {"FieldValueRequired", "Required value", "spec.containers[0].image"});
            }
            if (!c.HasMember("name") || !c["name"].IsString() ||
                !ValidDnsLabel(c["name"].GetString())) {
                causes.push_back({"FieldValueInvalid", "Invalid value", "spec.containers[0].name"});
            }
            if (c.HasMember("env") && c["env"].IsArray()) {
                for (const auto& e : c["env"].GetArray()) {
                    if (e.IsObject() && e.HasMember("name") && e["name"].IsString() &&
                        e.HasMember("value") && e["value"].IsString()) {
                        env.emplace_back(e["name"].GetString(), e["value"].GetString());
                    }
                }
            }
            for (const char* which : {"requests", "limits"}) {
                if (!c.HasMember("resources") || !c["resources"].IsObject()) break;
                const auto& r = c["resources"];
                if (!r.HasMember(which) || !r[which].IsObject() || !r[which].HasMember("memory") ||
                    !r[which]["memory"].IsString()) {
                    continue;
                }
                const std::string m = r[which]["memory"].GetString();
                if (std::atoll(m.c_str()) <= 0) {
                    causes.push_back(
                        {"FieldValueInvalid",
                         "Invalid value: \"" + m + "\": must be greater than 0",
                         std::string("spec.containers[0].resources.") + which + "[memory]"});
                }
            }
        }
        if (!causes.empty()) {
            std::string message = "Pod \"" + name + "\" is invalid: ";
            for (size_t i = 0; i < causes.size(); ++i) {
                message += (i ? ", " : "") + causes[i].field + ": " + causes[i].message;
            }
            return Error(422, "Invalid", message, name, "Pod", causes);
        }
        std::shared_ptr<Pod> pod;
        std::string json;
        {
            std::lock_guard lock(mu);
            last_create_body = body;
            const std::string key = ns + "/" + name;
            if (pods.count(key) > 0) {
                return Error(409, "AlreadyExists", "pods \"" + name + "\" already exists", name,
                             "pods");
            }
            pod = std::make_shared<Pod>();
            pod->ns = ns;
            pod->name = name;
            pod->uid = std::to_string(rv) + "-" + std::to_string(::getpid()) + "-fake";
            pod->image = image;
            pod->labels = labels;
            pod->spec = spec;
            pod->env = env;
            pod->created = NowNanos();
            pods[key] = pod;
            Changed(*pod, "ADDED");
            json = PodJson(*pod);
            workers.emplace_back([this, pod] { RunPod(pod); });
        }
        return {201, "application/json", json};
    }

    static bool Matches(const std::map<std::string, std::string>& labels,
                        const std::vector<std::pair<std::string, std::string>>& selector) {
        for (const auto& [k, v] : selector) {
            auto it = labels.find(k);
            if (it == labels.end() || it->second != v) return false;
        }
        return true;
    }

    std::optional<std::vector<std::pair<std::string, std::string>>> ParseSelector(
        const std::string& s) const {
        std::vector<std::pair<std::string, std::string>> out;
        if (s.empty()) return out;
        for (const std::string& term : Split(s, ',')) {
            if (term.find("!=") != std::string::npos) return std::nullopt;
            size_t eq = term.find("==");
            size_t skip = 2;
            if (eq == std::string::npos) {
                eq = term.find('=');
                skip = 1;
            }
            if (eq == std::string::npos) return std::nullopt;
            out.emplace_back(term.substr(0, eq), term.substr(eq + skip));
        }
        return out;
    }

    Reply ListPods(const std::string& ns, const std::map<std::string, std::string>& q) {
        auto selector = ParseSelector(q.count("labelSelector") ? q.at("labelSelector") : "");
        if (!selector) {
            return Error(400, "BadRequest", "unable to parse requirement: only k=v is served");
        }
        std::lock_guard lock(mu);
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("apiVersion");
        w.String("v1");
        w.Key("kind");
        w.String("PodList");
        w.Key("metadata");
        w.StartObject();
        w.Key("resourceVersion");
        w.String(std::to_string(rv).c_str());
        w.EndObject();
        w.Key("items");
        w.StartArray();
        for (const auto& [key, pod] : pods) {
            if (pod->ns != ns || !Matches(pod->labels, *selector)) continue;
            const std::string json = PodJson(*pod);
            w.RawValue(json.c_str(), json.size(), rapidjson::kObjectType);
        }
        w.EndArray();
        w.EndObject();
        return {200, "application/json", sb.GetString()};
    }

    Reply DeletePod(const std::string& ns, const std::string& name) {
        std::lock_guard lock(mu);
        auto it = pods.find(ns + "/" + name);
        if (it == pods.end()) return NotFound(name);
        std::shared_ptr<Pod> pod = it->second;
        pod->deleted_at = NowNanos();
        pod->ready = false;
        Changed(*pod, "MODIFIED");
        const std::string json = PodJson(*pod);
        Kill(*pod);
        pods.erase(it);
        Changed(*pod, "DELETED");
        return {200, "application/json", json};
    }

    Reply PatchPod(const std::string& ns, const std::string& name, const std::string& type,
                   const std::string& body) {
        rapidjson::Document doc;
        if (!common::ParseJson(body, doc).ok()) {
            return Error(400, "BadRequest", "the body of the request was in an unknown format");
        }
        std::lock_guard lock(mu);
        auto it = pods.find(ns + "/" + name);
        if (it == pods.end()) return NotFound(name);
        Pod& pod = *it->second;
        if (type.find("json-patch+json") != std::string::npos) {
            if (!doc.IsArray()) return Error(400, "BadRequest", "a JSON patch is an array");
            for (const auto& op : doc.GetArray()) {
                if (!op.IsObject() || !op.HasMember("op") || !op.HasMember("path")) continue;
                std::string path = op["path"].GetString();
                const std::string prefix = "/metadata/labels/";
                if (path.rfind(prefix, 0) != 0) {
                    return Error(422, "Invalid", "only label patches are served", name, "Pod");
                }
                std::string key = path.substr(prefix.size());
                for (size_t at; (at = key.find("~1")) != std::string::npos;)
                    key.replace(at, 2, "/");
                const std::string what = op["op"].GetString();
                if (what == "remove") {
                    pod.labels.erase(key);
                } else if (op.HasMember("value") && op["value"].IsString()) {
                    pod.labels[key] = op["value"].GetString();
                }
            }
        } else {
            if (doc.IsObject() && doc.HasMember("metadata") && doc["metadata"].IsObject() &&
                doc["metadata"].HasMember("labels") && doc["metadata"]["labels"].IsObject()) {
                for (const auto& l : doc["metadata"]["labels"].GetObject()) {
                    if (l.value.IsNull()) {
                        pod.labels.erase(l.name.GetString());
                    } else if (l.value.IsString()) {
                        pod.labels[l.name.GetString()] = l.value.GetString();
                    }
                }
            }
        }
        Changed(pod, "MODIFIED");
        return {200, "application/json", PodJson(pod)};
    }

    Reply PodLog(const std::string& ns, const std::string& name,
                 const std::map<std::string, std::string>& q) {
        std::lock_guard lock(mu);
        auto it = pods.find(ns + "/" + name);
        if (it == pods.end()) return NotFound(name);
        const Pod& pod = *it->second;
        const std::string container = q.count("container") ? q.at("container") : "user-action";
        if (container != "user-action") {
            return Error(400, "BadRequest",
                         "container " + container + " is not valid for pod " + name);
        }
        if (!pod.started) {
            return Error(400, "BadRequest",
                         "container \"user-action\" in pod \"" + name +
                             "\" is waiting to start: " + pod.waiting_reason);
        }
        std::optional<int64_t> since;
        if (q.count("sinceTime")) {
            since = ParseSeconds(q.at("sinceTime"));
            if (!since) return Error(400, "BadRequest", "sinceTime is not RFC 3339");
        }
        const bool timestamps = q.count("timestamps") && q.at("timestamps") == "true";
        int64_t limit = q.count("limitBytes") ? std::atoll(q.at("limitBytes").c_str()) : 0;
        std::string out;
        for (const auto& e : pod.log) {
            if (since && e.nanos / 1000000000 < *since) continue;  // the second only
            if (timestamps) out += common::FormatRfc3339Nanos(e.nanos) + " ";
            out += e.text + "\n";
            if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) {
                out.resize(static_cast<size_t>(limit));
                break;
            }
        }
        return {200, "text/plain", out};
    }

    Reply Events(const std::string& ns, const std::map<std::string, std::string>& q) {
        std::string involved;
        if (q.count("fieldSelector")) {
            const std::string f = q.at("fieldSelector");
            const std::string prefix = "involvedObject.name=";
            if (f.rfind(prefix, 0) != 0) {
                return Error(400, "BadRequest", "field label not supported: " + f);
            }
            involved = f.substr(prefix.size());
        }
        std::lock_guard lock(mu);
        rapidjson::StringBuffer sb;
        Writer w(sb);
        w.StartObject();
        w.Key("apiVersion");
        w.String("v1");
        w.Key("kind");
        w.String("EventList");
        w.Key("metadata");
        w.StartObject();
        w.Key("resourceVersion");
        w.String(std::to_string(rv).c_str());
        w.EndObject();
        w.Key("items");
        w.StartArray();
        for (const auto& e : kube_events) {
            if (e.ns != ns || (!involved.empty() && e.involved != involved)) continue;
            w.StartObject();
            w.Key("involvedObject");
            w.StartObject();
            w.Key("kind");
            w.String("Pod");
            w.Key("name");
            w.String(e.involved.c_str());
            w.Key("namespace");
            w.String(e.ns.c_str());
            w.EndObject();
            w.Key("reason");
            w.String(e.reason.c_str());
            w.Key("message");
            w.String(e.message.c_str());
            w.Key("type");
            w.String(e.reason == "Failed" ? "Warning" : "Normal");
            w.Key("lastTimestamp");
            w.String(Rfc3339Seconds(e.at).c_str());
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        return {200, "application/json", sb.GetString()};
    }

    // A watch: chunked JSON lines until the deadline, the client leaves, or the server stops.
    void Watch(tcp::socket& sock, unsigned version, const std::string& ns,
               const std::map<std::string, std::string>& q) {
        std::string name;
        if (q.count("fieldSelector")) {
            const std::string f = q.at("fieldSelector");
            const std::string prefix = "metadata.name=";
            if (f.rfind(prefix, 0) == 0) name = f.substr(prefix.size());
        }
        auto selector = ParseSelector(q.count("labelSelector") ? q.at("labelSelector") : "");
        const int64_t timeout_s = q.count("timeoutSeconds")
                                      ? std::max(1LL, std::atoll(q.at("timeoutSeconds").c_str()))
                                      : 1800;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
        http::response<http::empty_body> res{http::status::ok, version};
        res.set(http::field::content_type, "application/json");
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        boost::system::error_code ec;
        http::write_header(sock, sr, ec);
        if (ec) return;
        auto send = [&](const std::string& line) {
            const std::string data = line + "\n";
            net::write(sock, http::make_chunk(net::buffer(data)), ec);
            return !ec;
        };
        std::unique_lock lock(mu);
        if (expire_next_watch) {
            expire_next_watch = false;
            lock.unlock();
            send(R"({"type":"ERROR","object":)" +
                 StatusJson(410, "Expired", "too old resource version: 1 (2)", "", "") + "}");
            net::write(sock, http::make_chunk_last(), ec);
            return;
        }
        if (hold_until_rewatch) {
            hold_until_rewatch = false;  // this watch sees every change from here on
            cv.notify_all();
        }
        int64_t cursor = rv;
        std::vector<std::string> initial;
        if (q.count("resourceVersion") && !q.at("resourceVersion").empty() &&
            q.at("resourceVersion") != "0") {
            cursor = std::atoll(q.at("resourceVersion").c_str());
        } else {
            for (const auto& [key, pod] : pods) {
                if (pod->ns == ns && (name.empty() || pod->name == name) &&
                    (!selector || Matches(pod->labels, *selector))) {
                    initial.push_back(R"({"type":"ADDED","object":)" + PodJson(*pod) + "}");
                }
            }
        }
        lock.unlock();
        for (const auto& line : initial) {
            if (!send(line)) return;
        }
        lock.lock();
        while (!stopping) {
            std::vector<std::string> out;
            for (const auto& e : history) {
                if (e.rv <= cursor) continue;
                cursor = e.rv;
                if (e.ns == ns && (name.empty() || e.name == name)) {
                    out.push_back(R"({"type":")" + e.type + R"(","object":)" + e.object + "}");
                }
            }
            if (!out.empty()) {
                lock.unlock();
                for (const auto& line : out) {
                    if (!send(line)) return;
                }
                lock.lock();
                continue;
            }
            if (cv.wait_until(lock, deadline) == std::cv_status::timeout) break;
        }
        lock.unlock();
        net::write(sock, http::make_chunk_last(), ec);
    }

    // One connection: requests until the client closes (keep-alive).
    void Serve(std::shared_ptr<tcp::socket> sock) {
        boost::beast::flat_buffer buffer;
        while (!stopping) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16u << 20);
            boost::system::error_code ec;
            http::read(*sock, buffer, parser, ec);
            if (ec) return;
            http::request<http::string_body> req = parser.release();
            const std::string target(req.target());
            const size_t qmark = target.find('?');
            const std::string path = target.substr(0, qmark);
            const auto q = ParseQuery(qmark == std::string::npos ? "" : target.substr(qmark + 1));
            const std::string method(req.method_string());
            {
                std::lock_guard lock(mu);
                requests.push_back(method + " " + target);
            }
            Reply reply;
            const std::string auth(req[http::field::authorization]);
            const std::vector<std::string> parts = Split(path, '/');
            // "", "api", "v1", "namespaces", ns, kind[, name[, sub]]
            const bool api = parts.size() >= 6 && parts[1] == "api" && parts[2] == "v1" &&
                             parts[3] == "namespaces";
            const std::string ns = api ? parts[4] : "";
            const std::string kind = api ? parts[5] : "";
            const std::string name = api && parts.size() >= 7 ? parts[6] : "";
            const std::string sub = api && parts.size() >= 8 ? parts[7] : "";
            bool watched = false;
            if (auth != "Bearer " + options.token) {
                reply = Error(401, "Unauthorized", "Unauthorized");
            } else if (!api || parts.size() > 8) {
                reply = Error(404, "NotFound", "the server could not find the requested resource");
            } else if (kind == "pods" && name.empty() && method == "POST") {
                std::lock_guard lock(mu);
                if (Forbidden("create", "pods")) reply = ForbiddenReply("create", "pods", ns, "");
            } else if (kind == "pods" && name.empty() && method == "GET") {
                const bool watch =
                    q.count("watch") && (q.at("watch") == "true" || q.at("watch") == "1");
                std::lock_guard lock(mu);
                if (Forbidden(watch ? "watch" : "list", "pods")) {
                    reply = ForbiddenReply(watch ? "watch" : "list", "pods", ns, "");
                }
            } else if (kind == "pods" && !name.empty()) {
                const std::string verb = method == "GET"      ? "get"
                                         : method == "DELETE" ? "delete"
                                         : method == "PATCH"  ? "patch"
                                                              : method;
                const std::string resource = sub.empty() ? "pods" : "pods/" + sub;
                std::lock_guard lock(mu);
                if (Forbidden(verb, resource)) reply = ForbiddenReply(verb, resource, ns, name);
            } else if (kind == "events") {
                std::lock_guard lock(mu);
                if (Forbidden("list", "events")) reply = ForbiddenReply("list", "events", ns, "");
            }
            if (reply.body.empty()) {
                if (kind == "pods" && name.empty() && method == "POST") {
                    reply = CreatePod(ns, req.body());
                } else if (kind == "pods" && name.empty() && method == "GET") {
                    if (q.count("watch") && (q.at("watch") == "true" || q.at("watch") == "1")) {
                        Watch(*sock, req.version(), ns, q);
                        watched = true;
                    } else {
                        reply = ListPods(ns, q);
                    }
                } else if (kind == "pods" && !name.empty() && sub.empty() && method == "GET") {
                    std::lock_guard lock(mu);
                    auto it = pods.find(ns + "/" + name);
                    reply = it == pods.end() ? NotFound(name)
                                             : Reply{200, "application/json", PodJson(*it->second)};
                } else if (kind == "pods" && !name.empty() && sub.empty() && method == "DELETE") {
                    reply = DeletePod(ns, name);
                } else if (kind == "pods" && !name.empty() && sub.empty() && method == "PATCH") {
                    reply =
                        PatchPod(ns, name, std::string(req[http::field::content_type]), req.body());
                } else if (kind == "pods" && sub == "log" && method == "GET") {
                    reply = PodLog(ns, name, q);
                } else if (kind == "events" && name.empty() && method == "GET") {
                    reply = Events(ns, q);
                } else {
                    reply = Error(405, "MethodNotAllowed",
                                  "the server does not allow this method on the requested "
                                  "resource");
                }
            }
            if (watched) return;  // the stream ended the connection's use
            http::response<http::string_body> res{static_cast<http::status>(reply.status),
                                                  req.version()};
            res.set(http::field::content_type, reply.content_type);
            res.keep_alive(req.keep_alive());
            res.body() = std::move(reply.body);
            res.prepare_payload();
            http::write(*sock, res, ec);
            if (ec || !req.keep_alive()) return;
        }
    }

    void AcceptLoop() {
        while (!stopping) {
            auto sock = std::make_shared<tcp::socket>(io);
            boost::system::error_code ec;
            acceptor.accept(*sock, ec);
            if (ec || stopping) return;
            std::lock_guard lock(mu);
            sockets.push_back(sock);
            connections.emplace_back([this, sock] {
                Serve(sock);
                boost::system::error_code ignored;
                sock->shutdown(tcp::socket::shutdown_both, ignored);
            });
        }
    }
};

absl::StatusOr<std::unique_ptr<FakeKubeApi>> FakeKubeApi::Start(FakeKubeApiOptions options) {
    auto state = std::make_shared<State>();
    if (options.proxy_binary.empty() && std::getenv("WISP_ACTION_PROXY") != nullptr) {
        options.proxy_binary = std::getenv("WISP_ACTION_PROXY");
    }
    if (options.runtimes_dir.empty() && std::getenv("WISP_RUNTIMES_DIR") != nullptr) {
        options.runtimes_dir = std::getenv("WISP_RUNTIMES_DIR");
    }
    if (options.proxy_binary.empty() || options.runtimes_dir.empty()) {
        return absl::FailedPreconditionError(
            "set WISP_ACTION_PROXY (the wisp-action-proxy binary) and WISP_RUNTIMES_DIR "
            "(runtimes/); ctest does");
    }
    if (options.action_port == 0) {
        auto port = FindFreeLoopbackPort();
        if (!port.ok()) return port.status();
        options.action_port = *port;
    }
    state->options = std::move(options);
    // Pods of concurrent test processes get addresses in different 127.X/16 ranges.
    state->ip_octet = 1 + static_cast<int>(::getpid() % 250);
    boost::system::error_code ec;
    const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
    state->acceptor.open(endpoint.protocol(), ec);
    if (!ec) state->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) state->acceptor.bind(endpoint, ec);
    if (!ec) state->acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return absl::UnavailableError("fake Kubernetes API: cannot listen: " + ec.message());
    state->port = state->acceptor.local_endpoint().port();
    state->accept_thread = std::thread([s = state.get()] { s->AcceptLoop(); });
    return std::unique_ptr<FakeKubeApi>(new FakeKubeApi(state));
}

FakeKubeApi::~FakeKubeApi() {
    State& s = *state_;
    s.stopping = true;
    boost::system::error_code ec;
    // Wakes the accept loop with a connection of its own, then closes the acceptor.
    {
        tcp::socket poke(s.io);
        poke.connect(
            tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(s.port)),
            ec);
    }
    if (s.accept_thread.joinable()) s.accept_thread.join();
    s.acceptor.close(ec);
    std::vector<std::thread> connections;
    {
        std::lock_guard lock(s.mu);
        for (auto& sock : s.sockets) sock->shutdown(tcp::socket::shutdown_both, ec);
        for (auto& [key, pod] : s.pods) {
            pod->deleted_at = NowNanos();
            s.Kill(*pod);
        }
        s.cv.notify_all();
        connections.swap(s.connections);
    }
    for (auto& t : connections) t.join();
    // Kubelets may still start a process: they see `stopping` and kill it. Workers may add
    // readers while we join, so join until none is left.
    while (true) {
        std::vector<std::thread> workers;
        {
            std::lock_guard lock(s.mu);
            for (auto& [key, pod] : s.pods) s.Kill(*pod);
            workers.swap(s.workers);
        }
        if (workers.empty()) break;
        for (auto& t : workers) t.join();
    }
}

std::string FakeKubeApi::url() const { return "http://127.0.0.1:" + std::to_string(state_->port); }
int FakeKubeApi::action_port() const { return state_->options.action_port; }
const std::string& FakeKubeApi::token() const { return state_->options.token; }

void FakeKubeApi::ExpireNextWatch() {
    std::lock_guard lock(state_->mu);
    state_->expire_next_watch = true;
    state_->hold_until_rewatch = true;
}

void FakeKubeApi::HoldPending() {
    std::lock_guard lock(state_->mu);
    state_->hold_pending = true;
}

void FakeKubeApi::ForbidWatch() {
    std::lock_guard lock(state_->mu);
    state_->forbid_watch = true;
}

void FakeKubeApi::Forbid(const std::string& verb, const std::string& resource) {
    std::lock_guard lock(state_->mu);
    state_->forbidden.insert(verb + " " + resource);
}

void FakeKubeApi::AppendLog(const std::string& ns, const std::string& pod, int64_t unix_nanos,
                            const std::string& text) {
    std::lock_guard lock(state_->mu);
    auto it = state_->pods.find(ns + "/" + pod);
    if (it == state_->pods.end()) return;
    auto& log = it->second->log;
    log.push_back({unix_nanos, text});
    std::stable_sort(
        log.begin(), log.end(),
        [](const State::LogEntry& a, const State::LogEntry& b) { return a.nanos < b.nanos; });
}

void FakeKubeApi::AddPod(const std::string& ns, const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& labels) {
    std::lock_guard lock(state_->mu);
    auto pod = std::make_shared<State::Pod>();
    pod->ns = ns;
    pod->name = name;
    pod->uid = "added-" + name;
    pod->image = "example.com/not-run:1";
    pod->spec = R"({"containers":[{"name":"user-action","image":"example.com/not-run:1"}]})";
    for (const auto& [k, v] : labels) pod->labels[k] = v;
    pod->created = NowNanos();
    state_->pods[ns + "/" + name] = pod;
    state_->Changed(*pod, "ADDED");
}

std::vector<std::string> FakeKubeApi::PodNames(const std::string& ns) const {
    std::lock_guard lock(state_->mu);
    std::vector<std::string> out;
    for (const auto& [key, pod] : state_->pods) {
        if (pod->ns == ns) out.push_back(pod->name);
    }
    return out;
}

std::string FakeKubeApi::LastCreateBody() const {
    std::lock_guard lock(state_->mu);
    return state_->last_create_body;
}

std::vector<std::string> FakeKubeApi::Requests() const {
    std::lock_guard lock(state_->mu);
    return state_->requests;
}

}  // namespace wisp::testing
