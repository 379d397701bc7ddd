#include <wisp/invoker/docker_container_factory.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <wisp/common/backoff.hpp>
#include <wisp/common/json.hpp>

#include <wisp/common/image_reference.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

#include <wisp/invoker/proxy_client.hpp>

#include "docker_api.hpp"
#include "docker_engine.hpp"
#include "inline_logs.hpp"

namespace wisp::invoker {
namespace {

using docker::DockerEngine;
using docker::EngineError;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Folder for the per-container socket folders when none is configured.
std::string DefaultSocketRoot() {
    std::error_code ec;
    const std::filesystem::path run = "/run/wisp/containers";
    std::filesystem::create_directories(run, ec);
    if (!ec && ::access(run.c_str(), W_OK | X_OK) == 0) return run.string();
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    return base + "/wisp-containers-" + std::to_string(::getuid());
}

[[nodiscard]] absl::StatusOr<rapidjson::Document> ParseJson(const std::string& body,
                                                            std::string_view what) {
    rapidjson::Document doc;
    if (!common::ParseJson(body, doc).ok()) {
        return absl::InternalError("Docker answered " + std::string(what) +
                                   " with something that is not JSON: " + body.substr(0, 200));
    }
    return doc;
}

const rapidjson::Value* Member(const rapidjson::Value& v, const char* name) {
    if (!v.IsObject()) return nullptr;
    auto it = v.FindMember(name);
    return it == v.MemberEnd() ? nullptr : &it->value;
}

// Networks docker provides (or that name another container's): used as they are.
bool BuiltinNetwork(std::string_view n) {
    return n == "bridge" || n == "host" || n == "none" || n == "default" ||
           n.starts_with("container:");
}

// Removes a socket folder without following a symlink: a real directory gets its mode back
// first (a locked folder is 0555), a symlink is removed itself, never its target.
void RemoveSocketDir(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            (void)::fchmod(fd, 0700);
            ::close(fd);
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);  // removes symlinks, never follows them
    if (ec) spdlog::warn("docker: could not remove socket folder {}: {}", path, ec.message());
}

std::string RandomSuffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s(6, '0');
    for (char& c : s) c = kHex[rng() % 16];
    return s;
}

// The oom_kill counter of the container's memory cgroup, when this host exposes it (cgroup v1
// with the cgroupfs or systemd driver, or cgroup v2). nullopt when no candidate file exists.
std::optional<int64_t> CgroupOomKills(const std::string& id) {
    const std::string candidates[] = {
        "/sys/fs/cgroup/memory/docker/" + id + "/memory.oom_control",
        "/sys/fs/cgroup/memory/system.slice/docker-" + id + ".scope/memory.oom_control",
        "/sys/fs/cgroup/docker/" + id + "/memory.events",
        "/sys/fs/cgroup/system.slice/docker-" + id + ".scope/memory.events",
    };
    for (const std::string& path : candidates) {
        std::ifstream in(path);
        if (!in) continue;
        std::string key;
        int64_t value = 0;
        while (in >> key >> value) {
            if (key == "oom_kill") return value;
        }
        return 0;  // an older kernel without the counter: no evidence
    }
    return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// DockerContainer

DockerContainer::DockerContainer(std::shared_ptr<docker::DockerEngine> engine,
                                 const DockerFactoryOptions& options, std::string id,
                                 std::string name, int64_t memory_mb, std::string socket_dir,
                                 std::string socket_path, int64_t created_unix_s)
    : engine_(std::move(engine)),
      api_timeout_(options.api_timeout),
      oom_from_cgroup_(options.oom_from_cgroup),
      oom_event_grace_(options.oom_event_grace),
      id_(std::move(id)),
      name_(std::move(name)),
      memory_mb_(memory_mb),
      socket_dir_(std::move(socket_dir)),
      socket_path_(std::move(socket_path)),
      created_unix_s_(created_unix_s) {}

DockerContainer::~DockerContainer() {
    absl::Status st = Destroy();
    if (!st.ok()) {
        spdlog::warn("docker: could not remove container {} ({}): {}", name_, id_,
                     std::string(st.message()));
    }
    if (log_fd_ >= 0) ::close(log_fd_);
    if (log_inotify_fd_ >= 0) ::close(log_inotify_fd_);
}

void DockerContainer::Connect(DockerFactoryOptions::Transport transport,
                              ProxyClient::Endpoint endpoint) {
    transport_ = transport;
    proxy_ = std::make_unique<ProxyClient>(std::move(endpoint));
}

absl::StatusOr<ProxyResponse> DockerContainer::Init(const std::string& body,
                                                    std::chrono::milliseconds timeout) {
    return proxy_->Post("/init", body, timeout, /*retry_refused=*/true);
}

absl::StatusOr<ProxyResponse> DockerContainer::Run(const std::string& body,
                                                   std::chrono::milliseconds timeout) {
    if (!inline_logs_) return proxy_->Post("/run", body, timeout, /*retry_refused=*/false);
    auto r =
        proxy_->Post("/run", body, timeout, /*retry_refused=*/false, docker::kInlineLogsHeader);
    std::lock_guard lock(mu_);
    pending_logs_.reset();
    if (r.ok() && r->inline_logs) {
        pending_logs_ = std::move(r->inline_logs);
        pending_logs_truncated_ = r->inline_logs_truncated;
        r->inline_logs.reset();
    }
    return r;
}

absl::Status DockerContainer::Reset() {
    auto r = proxy_->Post("/wisp/reset", "", api_timeout_, /*retry_refused=*/false);
    if (!r.ok()) return r.status();
    if (r->failure != ProxyResponse::Failure::kNone) {
        return absl::UnavailableError("the action proxy of container " + name_ +
                                      " did not answer /wisp/reset; replace the container");
    }
    if (r->status == 404) {
        return absl::UnimplementedError("the action proxy of container " + name_ +
                                        " has no /wisp/reset (not a Wisp image); replace the "
                                        "container instead");
    }
    if (r->status != 200) {
        return absl::InternalError("the action proxy of container " + name_ +
                                   " could not reset (HTTP " + std::to_string(r->status) +
                                   "): " + r->body.substr(0, 200) + "; replace the container");
    }
    std::lock_guard lock(mu_);
    pending_logs_.reset();
    return absl::OkStatus();
}

absl::Status DockerContainer::Pause() {
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("POST", "/containers/" + id_ + "/pause", "", api_timeout_));
    if (r.status == 204) return absl::OkStatus();
    return EngineError("pause container " + name_, r);
}

absl::Status DockerContainer::Resume() {
    WISP_ASSIGN_OR_RETURN(
        auto r, engine_->Call("POST", "/containers/" + id_ + "/unpause", "", api_timeout_));
    if (r.status == 204) return absl::OkStatus();
    return EngineError("resume container " + name_, r);
}

absl::Status DockerContainer::Destroy() {
    std::lock_guard lock(mu_);
    if (destroyed_) return absl::OkStatus();
    if (proxy_) proxy_->CloseIdle();
    WISP_ASSIGN_OR_RETURN(
        auto r, engine_->Call("DELETE", "/containers/" + id_ + "?force=1&v=1", "", api_timeout_));
    // 404: already gone; 409: a removal is already in progress (docker finishes it).
    if (r.status != 204 && r.status != 404 && r.status != 409) {
        return EngineError("remove container " + name_, r);
    }
    destroyed_ = true;
    if (!socket_dir_.empty()) RemoveSocketDir(socket_dir_);
    if (!sandbox_id_.empty()) {
        // Its network sandbox served this container only (RemoveOrphans finds it otherwise).
        auto s = engine_->Call("DELETE", "/containers/" + sandbox_id_ + "?force=1&v=1", "",
                               api_timeout_);
        if (!s.ok() || (s->status != 204 && s->status != 404 && s->status != 409)) {
            spdlog::warn("docker: could not remove the network sandbox {} of {}: {}", sandbox_id_,
                         name_, s.ok() ? s->body : std::string(s.status().message()));
        }
    }
    return absl::OkStatus();
}

absl::Status DockerContainer::LockSocketFolder() {
    if (socket_dir_.empty()) return absl::OkStatus();
    // The proxy (root in the container, without CAP_DAC_OVERRIDE and CAP_FOWNER) created its
    // socket; from now on nothing in the container may add, replace or remove an entry: the
    // folder becomes r-x and is owned by someone the container's root is not (the invoker's
    // user, or nobody when the invoker is root), so it cannot chmod it back either.
    const int fd = ::open(socket_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return absl::InternalError("cannot open the socket folder " + socket_dir_ + ": " +
                                   std::strerror(errno));
    }
    constexpr uid_t kNobody = 65534;
    int rc = ::geteuid() == 0 ? ::fchown(fd, kNobody, kNobody) : 0;
    if (rc == 0) rc = ::fchmod(fd, 0555);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
        return absl::InternalError("cannot make the socket folder " + socket_dir_ +
                                   " read-only: " + std::strerror(err));
    }
    return absl::OkStatus();
}

absl::StatusOr<int> DockerContainer::HostPort() {
    std::lock_guard lock(mu_);
    if (host_port_) return *host_port_;
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("GET", "/containers/" + id_ + "/json", "", api_timeout_));
    if (r.status != 200) return EngineError("inspect container " + name_, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "inspect"));
    const rapidjson::Value* ports = Member(doc, "NetworkSettings");
    ports = ports != nullptr ? Member(*ports, "Ports") : nullptr;
    const std::string key = std::to_string(docker::kProxyPort) + "/tcp";
    const rapidjson::Value* bindings = ports != nullptr ? Member(*ports, key.c_str()) : nullptr;
    if (bindings != nullptr && bindings->IsArray()) {
        for (const auto& b : bindings->GetArray()) {
            const rapidjson::Value* ip = Member(b, "HostIp");
            const rapidjson::Value* port = Member(b, "HostPort");
            // Only a loopback binding is ever used (never a bridge or public address).
            if (ip == nullptr || !ip->IsString() ||
                std::string_view(ip->GetString()) != "127.0.0.1") {
                continue;
            }
            if (port == nullptr || !port->IsString()) continue;
            const int p = std::atoi(port->GetString());
            if (p > 0 && p < 65536) {
                host_port_ = p;
                return p;
            }
        }
    }
    return absl::NotFoundError("container " + name_ + " has no port " + key +
                               " published on 127.0.0.1");
}

absl::StatusOr<bool> DockerContainer::OomFromEvents() {
    // `until` must not be in the future: the daemon would hold the answer open until then.
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    const std::string filters = "{\"container\":[\"" + id_ + "\"],\"event\":[\"oom\"]}";
    const std::string path = "/events?since=" + std::to_string(created_unix_s_ - 1) +
                             "&until=" + docker::FormatSinceParameter(now_ns) +
                             "&filters=" + common::PercentEncode(filters);
    WISP_ASSIGN_OR_RETURN(auto r, engine_->Call("GET", path, "", api_timeout_));
    if (r.status != 200) return EngineError("list events of container " + name_, r);
    return r.body.find("\"oom\"") != std::string::npos;
}

absl::StatusOr<bool> DockerContainer::Running() {
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("GET", "/containers/" + id_ + "/json", "", api_timeout_));
    if (r.status == 404) return false;  // removed from outside
    if (r.status != 200) return EngineError("inspect container " + name_, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "inspect"));
    const rapidjson::Value* state = Member(doc, "State");
    const rapidjson::Value* running = state != nullptr ? Member(*state, "Running") : nullptr;
    return running != nullptr && running->IsBool() && running->GetBool();
}

absl::StatusOr<bool> DockerContainer::WasOomKilled() {
    // 1. docker's own flag: set when the container's main process died of an OOM kill.
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("GET", "/containers/" + id_ + "/json", "", api_timeout_));
    if (r.status == 404) return absl::NotFoundError("container " + name_ + " does not exist");
    if (r.status != 200) return EngineError("inspect container " + name_, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "inspect"));
    const rapidjson::Value* state = Member(doc, "State");
    const rapidjson::Value* oom = state != nullptr ? Member(*state, "OOMKilled") : nullptr;
    if (oom != nullptr && oom->IsBool() && oom->GetBool()) return true;
    // 2. The kernel killed another process in the container (the action's interpreter, while
    //    the proxy, PID 1, lives on): docker only sets OOMKilled when PID 1 exits, but the
    //    memory cgroup counts every kill, synchronously with the kill.
    if (oom_from_cgroup_) {
        if (std::optional<int64_t> kills = CgroupOomKills(id_)) return *kills > 0;
    }
    // 3. No cgroup to read (a remote daemon, or the container is gone): docker's "oom" event,
    //    which may trail the failed request by a few milliseconds.
    const auto give_up = SteadyClock::now() + oom_event_grace_;
    while (true) {
        WISP_ASSIGN_OR_RETURN(bool seen, OomFromEvents());
        if (seen) return true;
        if (SteadyClock::now() >= give_up) return false;
        std::this_thread::sleep_for(milliseconds(50));
    }
}

absl::StatusOr<Container::Logs> DockerContainer::ReadLogs(const docker::LogCursor& start,
                                                          int sentinels, int64_t limit_bytes,
                                                          std::chrono::milliseconds wait, int tail,
                                                          bool* gap, docker::LogCursor* end) {
    *gap = false;
    docker::LogAssembler assembler(start, sentinels, limit_bytes);
    docker::LogFrameDemuxer demux;
    std::string path = "/containers/" + id_ + "/logs?stdout=1&stderr=1&timestamps=1";
    if (start.last_nanos) path += "&since=" + docker::FormatSinceParameter(*start.last_nanos);
    if (tail > 0) path += "&tail=" + std::to_string(tail);
    bool first = true;
    auto on_frame = [&](int stream, std::string_view payload) {
        if (first && tail > 0) {
            first = false;
            if (!docker::EntryReachesCursor(payload, start)) {
                *gap = true;  // more new entries than the window holds: read them all
                return false;
            }
        }
        return !assembler.OnEntry(stream, payload);
    };
    if (sentinels > 0) {
        path += "&follow=1";
        // OpenWhisk's overall bound: max(log limit in MB, 5) x 2 s.
        const int64_t mb = std::max<int64_t>(limit_bytes >> 20, 5);
        const auto deadline =
            SteadyClock::now() + std::max<milliseconds>(wait, milliseconds(mb * 2000));
        bool timed_out = false;
        WISP_ASSIGN_OR_RETURN(
            auto r, engine_->Stream(
                        path, [&](std::string_view chunk) { return demux.Feed(chunk, on_frame); },
                        wait, deadline, &timed_out));
        if (r.status != 200 && !(timed_out && r.status == 0)) {
            return EngineError("read the logs of container " + name_, r);
        }
    } else {
        WISP_ASSIGN_OR_RETURN(auto r, engine_->Call("GET", path, "", api_timeout_));
        if (r.status != 200) return EngineError("read the logs of container " + name_, r);
        demux.Feed(r.body, on_frame);
    }
    // The cursor's own entry is always in the file, and `since` is inclusive: a window that
    // holds it delivers it first. A window delivering a later entry first has cut entries off.
    *end = assembler.cursor();
    return assembler.Finish();
}

bool DockerContainer::OpenLogFile() {
    if (log_file_state_ != LogFileState::kUnknown) {
        return log_file_state_ == LogFileState::kReadable;
    }
    log_file_state_ = LogFileState::kUnavailable;
    auto r = engine_->Call("GET", "/containers/" + id_ + "/json", "", api_timeout_);
    if (!r.ok() || r->status != 200) return false;
    rapidjson::Document doc;
    if (!common::ParseJson(r->body, doc).ok() || !doc.IsObject()) return false;
    auto it = doc.FindMember("LogPath");
    if (it == doc.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0) {
        return false;
    }
    const std::string path(it->value.GetString(), it->value.GetStringLength());
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        spdlog::debug("docker: cannot read {} ({}); logs come through the Engine API", path,
                      std::strerror(errno));
        return false;
    }
    log_fd_ = fd;
    log_offset_ = 0;
    log_path_ = path;
    // Optional: without inotify the reader polls the file.
    log_inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (log_inotify_fd_ >= 0 && ::inotify_add_watch(log_inotify_fd_, path.c_str(), IN_MODIFY) < 0) {
        ::close(log_inotify_fd_);
        log_inotify_fd_ = -1;
    }
    log_file_state_ = LogFileState::kReadable;
    return true;
}

// One json-file line: {"log":"text\n","stream":"stdout","time":"2026-...Z"}. The assembler takes
// the Engine API's form: stream 1/2 and "<time> <text>".
absl::StatusOr<Container::Logs> DockerContainer::ReadLogFile(int sentinels, int64_t limit_bytes,
                                                             std::chrono::milliseconds wait) {
    docker::LogAssembler assembler(docker::LogCursor{}, sentinels, limit_bytes);
    const int64_t mb = std::max<int64_t>(limit_bytes >> 20, 5);
    const auto start = SteadyClock::now();
    const auto overall = start + std::max<milliseconds>(wait, milliseconds(mb * 2000));
    auto idle_deadline = start + wait;
    std::string buf;  // bytes read past log_offset_, not yet consumed
    int64_t read_pos = log_offset_;
    auto pause = std::chrono::microseconds(50);
    char chunk[65536];
    rapidjson::Document doc;
    std::string payload;
    bool rotation_seen = false;
    for (;;) {
        bool got = false;
        for (;;) {
            const ssize_t n = ::pread(log_fd_, chunk, sizeof chunk, read_pos);
            if (n < 0) {
                if (errno == EINTR) continue;
                return absl::InternalError("read the log file of container " + name_ + ": " +
                                           std::strerror(errno));
            }
            if (n == 0) break;
            buf.append(chunk, static_cast<size_t>(n));
            read_pos += n;
            got = true;
            if (static_cast<size_t>(n) < sizeof chunk) break;
        }
        // Feed whole lines; stop right after the one completing the sentinels.
        size_t line_start = 0;
        bool done = false;
        while (!done) {
            const size_t nl = buf.find('\n', line_start);
            if (nl == std::string::npos) break;
            if (common::ParseJson(std::string_view(buf).substr(line_start, nl - line_start), doc)
                    .ok() &&
                doc.IsObject()) {
                auto log = doc.FindMember("log");
                auto stream = doc.FindMember("stream");
                auto time = doc.FindMember("time");
                if (log != doc.MemberEnd() && log->value.IsString() && time != doc.MemberEnd() &&
                    time->value.IsString()) {
                    const bool err = stream != doc.MemberEnd() && stream->value.IsString() &&
                                     std::string_view(stream->value.GetString()) == "stderr";
                    payload.assign(time->value.GetString(), time->value.GetStringLength());
                    payload += ' ';
                    payload.append(log->value.GetString(), log->value.GetStringLength());
                    done = assembler.OnEntry(err ? 2 : 1, payload);
                }
            }
            line_start = nl + 1;
        }
        log_offset_ += static_cast<int64_t>(line_start);
        buf.erase(0, line_start);
        read_pos = log_offset_ + static_cast<int64_t>(buf.size());
        if (!got && !done) {
            // Nothing new: docker may have rotated the file (max-size). Once the path names a
            // new file the old one is complete; it is read to its end once more (a write may
            // have landed between our last read and the rename), then the new one from 0.
            struct stat at_path {
            }, open_file{};
            const bool path_ok = ::stat(log_path_.c_str(), &at_path) == 0;
            if (path_ok && ::fstat(log_fd_, &open_file) == 0) {
                if (at_path.st_ino != open_file.st_ino || at_path.st_dev != open_file.st_dev) {
                    if (!rotation_seen) {
                        rotation_seen = true;
                        continue;
                    }
                    const int fd = ::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
                    if (fd >= 0) {
                        ::close(log_fd_);
                        log_fd_ = fd;
                        log_offset_ = 0;
                        read_pos = 0;
                        buf.clear();
                        rotation_seen = false;
                        if (log_inotify_fd_ >= 0) {
                            (void)::inotify_add_watch(log_inotify_fd_, log_path_.c_str(),
                                                      IN_MODIFY);
                        }
                        continue;
                    }
                } else if (open_file.st_size < read_pos) {
                    // Truncated in place (max-file 1): start again from its beginning.
                    log_offset_ = 0;
                    read_pos = 0;
                    buf.clear();
                    continue;
                }
            }
        }
        if (done || sentinels == 0) break;
        const auto now = SteadyClock::now();
        if (got) idle_deadline = now + wait;
        if (now >= idle_deadline || now >= overall) break;
        if (log_inotify_fd_ >= 0) {
            // Sleep until docker appends (bounded: a missed event costs at most 5 ms).
            pollfd pfd{log_inotify_fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 5) > 0) {
                char events[4096];
                while (::read(log_inotify_fd_, events, sizeof events) > 0) {
                }
            }
        } else {
            std::this_thread::sleep_for(pause);
            pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(5));
        }
    }
    return assembler.Finish();
}

bool DockerContainer::LogsAtHand() {
    std::lock_guard lock(mu_);
    return pending_logs_.has_value();
}

absl::StatusOr<Container::Logs> DockerContainer::CollectLogs(int sentinels, int64_t limit_bytes,
                                                             std::chrono::milliseconds wait) {
    std::lock_guard logs_lock(logs_mu_);
    {
        std::lock_guard lock(mu_);
        if (pending_logs_) {  // the proxy sent them with the /run answer
            std::string logs = std::move(*pending_logs_);
            pending_logs_.reset();
            return docker::ParseInlineLogs(logs, pending_logs_truncated_, limit_bytes);
        }
    }
    if (OpenLogFile()) return ReadLogFile(sentinels, limit_bytes, wait);
    docker::LogCursor start;
    {
        std::lock_guard lock(mu_);
        start.last_nanos = log_last_nanos_;
        start.consumed_at_last = log_consumed_at_last_;
    }
    // docker's `since` makes the daemon decode the container's whole log file from its start:
    // the cost grows with every activation a warm container served (measured: 8 ms after 3000
    // lines, 31 ms after 18000). `tail=N` reads only the end of the file, so a window of the
    // last kLogTailWindow entries is tried first; when it does not reach back to the cursor (an
    // activation logged more), the logs are read again from the cursor without the window.
    bool gap = false;
    docker::LogCursor end;
    absl::StatusOr<Logs> logs;
    if (start.last_nanos) {
        logs = ReadLogs(start, sentinels, limit_bytes, wait, docker::kLogTailWindow, &gap, &end);
        if (!logs.ok()) return logs.status();
    }
    if (!start.last_nanos || gap) {
        logs = ReadLogs(start, sentinels, limit_bytes, wait, 0, &gap, &end);
        if (!logs.ok()) return logs.status();
    }
    std::lock_guard lock(mu_);
    log_last_nanos_ = end.last_nanos;
    log_consumed_at_last_ = end.consumed_at_last;
    return logs;
}

// ---------------------------------------------------------------------------------------------
// DockerContainerFactory

DockerContainerFactory::DockerContainerFactory(DockerFactoryOptions options)
    : options_(std::move(options)),
      engine_(std::make_shared<DockerEngine>(options_.socket_path, options_.api_version)),
      socket_root_(options_.socket_root.empty() ? DefaultSocketRoot() : options_.socket_root) {}

DockerContainerFactory::~DockerContainerFactory() {
    std::deque<std::string> unused;
    {
        std::lock_guard lock(sandbox_mu_);
        sandbox_stopping_ = true;
        sandbox_cv_.notify_all();
    }
    if (sandbox_thread_.joinable()) sandbox_thread_.join();
    {
        std::lock_guard lock(sandbox_mu_);
        unused.swap(sandboxes_);
    }
    for (const auto& id : unused) {
        (void)engine_->Call("DELETE", "/containers/" + id + "?force=1&v=1", "",
                            options_.api_timeout);
    }
}

std::string DockerContainerFactory::TakeNetworkSandbox(const ContainerSpec& spec) {
    std::lock_guard lock(sandbox_mu_);
    if (sandbox_image_.empty()) {
        // The first Wisp image seen makes the holders (it has `sleep`); their labels tie them
        // to this invoker (RemoveOrphans) and, in tests, to the suite that made them.
        sandbox_image_ = spec.image;
        const auto invoker = spec.labels.find("wisp.invoker");
        sandbox_labels_[std::string(kNetworkSandboxLabel)] =
            invoker != spec.labels.end() ? invoker->second : "";
        if (const auto test = spec.labels.find("wisp.test"); test != spec.labels.end()) {
            sandbox_labels_[test->first] = test->second;
        }
        if (!options_.owner.empty()) sandbox_labels_[std::string(kOwnerLabel)] = options_.owner;
        sandbox_thread_ = std::thread([this] { RefillNetworkSandboxes(); });
    }
    std::string id;
    if (!sandboxes_.empty()) {
        id = std::move(sandboxes_.front());
        sandboxes_.pop_front();
        sandbox_taken_ = SteadyClock::now();
    }
    sandbox_cv_.notify_all();
    return id;
}

void DockerContainerFactory::RefillNetworkSandboxes() {
    common::Backoff backoff(common::BackoffPolicy{.max = milliseconds(30000)});
    bool failing = false;
    std::unique_lock lock(sandbox_mu_);
    while (true) {
        sandbox_cv_.wait(lock, [&] {
            return sandbox_stopping_ ||
                   (static_cast<int>(sandboxes_.size()) < options_.network_sandboxes &&
                    creates_running_ == 0);
        });
        if (sandbox_stopping_) return;
        // Not while the container that took the last one starts its action.
        const auto not_before = sandbox_taken_ + options_.network_sandbox_refill_delay;
        if (SteadyClock::now() < not_before) {
            sandbox_cv_.wait_until(lock, not_before, [&] { return sandbox_stopping_; });
            continue;
        }
        const std::string image = sandbox_image_;
        const auto labels = sandbox_labels_;
        lock.unlock();
        auto id = StartNetworkSandbox(image, labels);
        lock.lock();
        if (id.ok()) {
            if (failing) spdlog::info("docker: network sandboxes are made again");
            failing = false;
            backoff.Reset();
            if (sandbox_stopping_) {
                lock.unlock();
                (void)engine_->Call("DELETE", "/containers/" + *id + "?force=1&v=1", "",
                                    options_.api_timeout);
                return;
            }
            sandboxes_.push_back(std::move(*id));
            sandbox_cv_.notify_all();
            continue;
        }
        if (!failing) {
            spdlog::warn(
                "docker: cannot make a network sandbox from {}: {} (containers get "
                "their own network namespace meanwhile; retrying)",
                image, id.status().ToString());
        }
        failing = true;
        sandbox_cv_.wait_for(lock, backoff.Next(), [&] { return sandbox_stopping_; });
    }
}

absl::StatusOr<std::string> DockerContainerFactory::StartNetworkSandbox(
    const std::string& image, const std::map<std::string, std::string>& labels) {
    WISP_RETURN_IF_ERROR(EnsureNetwork());
    const std::string body =
        docker::BuildNetworkSandboxBody(image, labels, options_.network, options_.runtime);
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("POST", "/containers/create", body, options_.api_timeout));
    if (r.status != 201) return EngineError("create a network sandbox from " + image, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "create"));
    const rapidjson::Value* v = Member(doc, "Id");
    if (v == nullptr || !v->IsString()) {
        return absl::InternalError("Docker answered create without an Id: " + r.body);
    }
    const std::string id = v->GetString();
    auto started = engine_->Call("POST", "/containers/" + id + "/start", "", options_.api_timeout);
    if (!started.ok() || (started->status != 204 && started->status != 304)) {
        (void)engine_->Call("DELETE", "/containers/" + id + "?force=1&v=1", "",
                            options_.api_timeout);
        if (!started.ok()) return started.status();
        return EngineError("start a network sandbox", *started);
    }
    return id;
}

bool DockerContainerFactory::WaitForNetworkSandboxes(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(sandbox_mu_);
    return sandbox_cv_.wait_for(lock, timeout,
                                [&] { return static_cast<int>(sandboxes_.size()) >= n; });
}

absl::Status DockerContainerFactory::Ping() {
    WISP_ASSIGN_OR_RETURN(auto r, engine_->Call("GET", "/_ping", "", milliseconds(5000)));
    if (r.status == 200) return absl::OkStatus();
    return absl::UnavailableError(
        engine_->NotAnswering("GET /_ping answered HTTP " + std::to_string(r.status)));
}

absl::StatusOr<bool> DockerContainerFactory::ImageExists(std::string_view image) {
    if (auto ref = common::ParseImageRef(image); !ref.ok()) return ref.status();
    WISP_ASSIGN_OR_RETURN(
        auto r, engine_->Call("GET", docker::ImagePath(image, "json"), "", options_.api_timeout));
    if (r.status == 200) return true;
    if (r.status == 404) return false;
    return EngineError("inspect image " + std::string(image), r);
}

absl::Status DockerContainerFactory::Pull(std::string_view image) {
    const docker::ImageReference ref = docker::ParseImageReference(image);
    std::string path = "/images/create?fromImage=" + common::PercentEncode(ref.repository);
    if (!ref.tag.empty()) path += "&tag=" + common::PercentEncode(ref.tag);
    spdlog::info("docker: pulling image {}", image);
    const std::string failed = "Failed to pull container image '" + std::string(image) + "'.";
    auto r = engine_->Call("POST", path, "", options_.pull_timeout);
    if (!r.ok()) {
        if (absl::IsUnavailable(r.status())) return r.status();
        return absl::FailedPreconditionError(failed + " " + std::string(r.status().message()));
    }
    if (r->status != 200) {
        return absl::FailedPreconditionError(failed + " " + docker::EngineErrorMessage(r->body));
    }
    if (auto pulled = docker::PullStreamStatus(r->body); !pulled.ok()) {
        return absl::FailedPreconditionError(failed + " " + std::string(pulled.message()));
    }
    return absl::OkStatus();
}

absl::StatusOr<DockerContainerFactory::ImageInfo> DockerContainerFactory::EnsureImage(
    const ContainerSpec& spec) {
    {
        std::lock_guard lock(mu_);
        auto it = images_.find(spec.image);
        if (it != images_.end()) return it->second;
    }
    // The reference is checked again here (the controller did at action PUT): it goes into
    // Engine API URLs, percent-encoded.
    if (auto ref = common::ParseImageRef(spec.image); !ref.ok()) return ref.status();
    const std::string inspect_path = docker::ImagePath(spec.image, "json");
    WISP_ASSIGN_OR_RETURN(auto r, engine_->Call("GET", inspect_path, "", options_.api_timeout));
    if (r.status == 404) {
        if (!spec.pull_if_missing) {
            return absl::NotFoundError("The container image '" + spec.image +
                                       "' is not present locally; build the runtime images with "
                                       "tools/build-runtime-images.sh");
        }
        WISP_RETURN_IF_ERROR(Pull(spec.image));
        WISP_ASSIGN_OR_RETURN(r, engine_->Call("GET", inspect_path, "", options_.api_timeout));
    }
    if (r.status != 200) return EngineError("inspect image " + spec.image, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "image inspect"));
    ImageInfo info;
    // Wisp's runtime images carry WISP_PROXY_KIND: their proxy also serves WISP_PROXY_SOCKET.
    const rapidjson::Value* config = Member(doc, "Config");
    const rapidjson::Value* env = config != nullptr ? Member(*config, "Env") : nullptr;
    if (env != nullptr && env->IsArray()) {
        for (const auto& e : env->GetArray()) {
            if (e.IsString() && std::string_view(e.GetString()).starts_with("WISP_PROXY_KIND=")) {
                info.wisp_proxy = true;
            }
        }
    }
    std::lock_guard lock(mu_);
    images_[spec.image] = info;
    return info;
}

absl::StatusOr<std::unique_ptr<Container>> DockerContainerFactory::Create(
    const ContainerSpec& spec) {
    WISP_ASSIGN_OR_RETURN(auto c, CreateDocker(spec));
    return std::unique_ptr<Container>(std::move(c));
}

absl::StatusOr<std::unique_ptr<DockerContainer>> DockerContainerFactory::CreateDocker(
    const ContainerSpec& spec) {
    const auto t_begin = SteadyClock::now();
    // Network sandboxes are made only while no Create runs (RefillNetworkSandboxes).
    struct Running {
        DockerContainerFactory* f;
        explicit Running(DockerContainerFactory* factory) : f(factory) {
            if (f == nullptr) return;
            std::lock_guard lock(f->sandbox_mu_);
            ++f->creates_running_;
        }
        ~Running() {
            if (f == nullptr) return;
            std::lock_guard lock(f->sandbox_mu_);
            --f->creates_running_;
            f->sandbox_cv_.notify_all();
        }
        Running(const Running&) = delete;
        Running& operator=(const Running&) = delete;
    } running(options_.network_sandboxes > 0 ? this : nullptr);
    WISP_ASSIGN_OR_RETURN(ImageInfo image, EnsureImage(spec));
    const bool use_socket =
        image.wisp_proxy && options_.transport == DockerFactoryOptions::Transport::kUnixSocket;

    docker::CreateSettings settings;
    settings.user_memory_mb = options_.user_memory_mb;
    settings.network = options_.network;
    settings.pids_limit = options_.pids_limit;
    settings.nofile = options_.nofile;
    settings.publish_port = options_.publish_port || !use_socket;
    settings.log_max_size_mb = options_.log_max_size_mb;
    settings.log_max_files = options_.log_max_files;
    settings.tmp_size_mb = options_.tmp_size_mb;
    settings.storage_size_mb = options_.storage_size_mb;
    settings.runtime = options_.runtime;
    WISP_RETURN_IF_ERROR(EnsureNetwork());
    // A ready network namespace to join instead of docker making one during the start.
    std::string sandbox;
    if (options_.network_sandboxes > 0 && image.wisp_proxy && !settings.publish_port &&
        options_.network != "host" && !options_.network.starts_with("container:")) {
        sandbox = TakeNetworkSandbox(spec);
        if (!sandbox.empty()) settings.network = "container:" + sandbox;
    }

    // A private folder per container for the proxy's socket (short path: sun_path is 108 bytes).
    std::string socket_dir;
    std::string socket_path;
    if (image.wisp_proxy) {
        std::error_code ec;
        std::filesystem::create_directories(socket_root_, ec);
        std::string templ = socket_root_ + "/XXXXXX";
        if (ec || ::mkdtemp(templ.data()) == nullptr) {
            return absl::InternalError("cannot create a socket folder under " + socket_root_ +
                                       ": " + (ec ? ec.message() : std::strerror(errno)) +
                                       " (set the invoker's docker socket root)");
        }
        socket_dir = templ;
        // The proxy runs as root in the container without CAP_DAC_OVERRIDE: it can create its
        // socket only in a folder it owns or that is open to all (when the invoker is not root).
        ::chmod(socket_dir.c_str(), ::geteuid() == 0 ? 0700 : 0777);
        settings.socket_host_dir = socket_dir;
        settings.socket_only = use_socket && !settings.publish_port;
        socket_path = socket_dir + "/" + settings.socket_name;
    }
    auto cleanup_dir = [&] {
        if (!socket_dir.empty()) RemoveSocketDir(socket_dir);
        if (!sandbox.empty()) {
            (void)engine_->Call("DELETE", "/containers/" + sandbox + "?force=1&v=1", "",
                                options_.api_timeout);
        }
    };

    std::string name = docker::SanitizeContainerName(spec.name.empty() ? "wsk" : spec.name);
    std::string body;
    if (options_.owner.empty()) {
        body = docker::BuildCreateBody(spec, settings);
    } else {
        ContainerSpec owned = spec;
        owned.labels[std::string(kOwnerLabel)] = options_.owner;
        body = docker::BuildCreateBody(owned, settings);
    }
    const int64_t created_unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count();
    std::string id;
    for (int attempt = 0;; ++attempt) {
        auto r = engine_->Call("POST", "/containers/create?name=" + common::PercentEncode(name),
                               body, options_.api_timeout);
        if (!r.ok()) {
            cleanup_dir();
            return r.status();
        }
        if (r->status == 201) {
            WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r->body, "create"));
            const rapidjson::Value* v = Member(doc, "Id");
            if (v == nullptr || !v->IsString()) {
                cleanup_dir();
                return absl::InternalError("Docker answered create without an Id: " + r->body);
            }
            id = v->GetString();
            break;
        }
        if (r->status == 409 && attempt == 0) {
            // The name is taken (a leftover, or a name the pool reused): make it unique.
            name = name.substr(0, docker::kMaxContainerNameLength - 7) + "_" + RandomSuffix();
            continue;
        }
        cleanup_dir();
        if (r->status == 404) {
            std::lock_guard lock(mu_);
            images_.erase(spec.image);
            return absl::NotFoundError("The container image '" + spec.image +
                                       "' is not present locally; build the runtime images "
                                       "with tools/build-runtime-images.sh");
        }
        return EngineError("create container " + name + " from " + spec.image, *r);
    }

    std::unique_ptr<DockerContainer> container(new DockerContainer(
        engine_, options_, id, name, spec.memory_mb, socket_dir, socket_path, created_unix_s));
    container->inline_logs_ = image.wisp_proxy && options_.inline_logs;
    container->sandbox_id_ = sandbox;  // removed with the container from now on

    const auto t_created = SteadyClock::now();
    auto started = engine_->Call("POST", "/containers/" + id + "/start", "", options_.api_timeout);
    if (!started.ok()) return started.status();  // ~DockerContainer removes it
    if (started->status != 204 && started->status != 304) {
        return EngineError("start container " + name + " from " + spec.image, *started);
    }

    if (use_socket) {
        container->Connect(DockerFactoryOptions::Transport::kUnixSocket,
                           ProxyClient::Endpoint::Unix(socket_path));
    } else {
        auto port = container->HostPort();
        if (!port.ok()) {
            // A container that already exited has no port bindings any more.
            WISP_RETURN_IF_ERROR(ExitedBeforeReady(*container, spec.image));
            return port.status();
        }
        container->Connect(DockerFactoryOptions::Transport::kPublishedPort,
                           ProxyClient::Endpoint::Tcp("127.0.0.1", *port));
    }
    const auto t_started = SteadyClock::now();
    WISP_RETURN_IF_ERROR(WaitUntilReady(*container, spec.image));
    // The socket exists (the proxy answered): lock the folder before any action code runs.
    WISP_RETURN_IF_ERROR(container->LockSocketFolder());
    const auto t_ready = SteadyClock::now();
    auto ms = [](SteadyClock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count();
    };
    spdlog::debug(
        "docker: {} up in {:.1f} ms: create {:.1f} ms, start {:.1f} ms, proxy answering {:.1f} "
        "ms after the start",
        name, ms(t_ready - t_begin), ms(t_created - t_begin), ms(t_started - t_created),
        ms(t_ready - t_started));
    return container;
}

absl::Status DockerContainerFactory::EnsureNetwork() {
    const std::string& name = options_.network;
    if (name.empty() || BuiltinNetwork(name)) return absl::OkStatus();
    std::lock_guard lock(network_mu_);
    if (network_ready_) return absl::OkStatus();
    const std::string path = "/networks/" + common::PercentEncode(name);
    WISP_ASSIGN_OR_RETURN(auto r, engine_->Call("GET", path, "", options_.api_timeout));
    if (r.status == 404) {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("Name");
        w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
        w.Key("Driver");
        w.String("bridge");
        w.Key("CheckDuplicate");
        w.Bool(true);
        w.Key("Internal");
        w.Bool(false);  // outbound traffic is NATed as on docker's default bridge
        w.Key("Options");
        w.StartObject();
        w.Key("com.docker.network.bridge.enable_icc");
        w.String("false");
        w.EndObject();
        w.Key("Labels");
        w.StartObject();
        w.Key("wisp.network");
        w.String("actions");
        w.EndObject();
        w.EndObject();
        WISP_ASSIGN_OR_RETURN(auto c, engine_->Call("POST", "/networks/create", sb.GetString(),
                                                    options_.api_timeout));
        // 409: another invoker created it meanwhile.
        if (c.status != 201 && c.status != 409) {
            return EngineError("create network " + name, c);
        }
        spdlog::info("docker: created network {} (inter-container traffic disabled)", name);
        WISP_ASSIGN_OR_RETURN(r, engine_->Call("GET", path, "", options_.api_timeout));
    }
    if (r.status != 200) return EngineError("inspect network " + name, r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "network inspect"));
    const rapidjson::Value* opts = Member(doc, "Options");
    const rapidjson::Value* icc =
        opts != nullptr ? Member(*opts, "com.docker.network.bridge.enable_icc") : nullptr;
    if (icc == nullptr || !icc->IsString() || std::string_view(icc->GetString()) != "false") {
        return absl::FailedPreconditionError(
            "The Docker network '" + name +
            "' lets containers reach each other (com.docker.network.bridge.enable_icc is not "
            "false): remove it (docker network rm " +
            name + ") so that the invoker creates it, or configure another network");
    }
    network_ready_ = true;
    return absl::OkStatus();
}

absl::Status DockerContainerFactory::ExitedBeforeReady(DockerContainer& container,
                                                       std::string_view image) {
    WISP_ASSIGN_OR_RETURN(auto s, engine_->Call("GET", "/containers/" + container.id() + "/json",
                                                "", options_.api_timeout));
    if (s.status != 200) return EngineError("inspect container " + container.name(), s);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(s.body, "inspect"));
    const rapidjson::Value* state = Member(doc, "State");
    const rapidjson::Value* running = state ? Member(*state, "Running") : nullptr;
    if (running == nullptr || !running->IsBool() || running->GetBool()) return absl::OkStatus();
    const rapidjson::Value* code = state ? Member(*state, "ExitCode") : nullptr;
    std::string tail;
    auto logs =
        engine_->Call("GET", "/containers/" + container.id() + "/logs?stdout=1&stderr=1&tail=10",
                      "", options_.api_timeout);
    if (logs.ok() && logs->status == 200) {
        docker::LogFrameDemuxer demux;
        demux.Feed(logs->body, [&](int, std::string_view payload) {
            tail.append(payload);
            return true;
        });
    }
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    return absl::FailedPreconditionError(
        "The container " + container.name() + " of image '" + std::string(image) +
        "' exited with code " +
        std::to_string(code != nullptr && code->IsInt() ? code->GetInt() : -1) +
        " before its action proxy answered" + (tail.empty() ? std::string(".") : ": " + tail));
}

absl::Status DockerContainerFactory::WaitUntilReady(DockerContainer& container,
                                                    std::string_view image) {
    const auto begin = SteadyClock::now();
    const auto deadline = begin + options_.ready_timeout;
    auto next_state_check = begin + milliseconds(200);
    while (true) {
        // Any HTTP answer means the proxy is serving (a POST / gets a 404). Through a published
        // port docker-proxy accepts at once and then drops the connection while nothing listens
        // in the container, so "connected" is not enough.
        const auto now = SteadyClock::now();
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
        auto r = container.proxy().Post("/", "", std::min(left, milliseconds(1000)),
                                        /*retry_refused=*/false);
        if (!r.ok()) return r.status();
        if (r->failure == ProxyResponse::Failure::kNone) return absl::OkStatus();
        if (SteadyClock::now() >= deadline) {
            return absl::DeadlineExceededError(
                "The action proxy in container " + container.name() + " (" + std::string(image) +
                ") did not answer within " + std::to_string(options_.ready_timeout.count()) +
                " ms");
        }
        if (SteadyClock::now() >= next_state_check) {
            next_state_check = SteadyClock::now() + milliseconds(200);
            WISP_RETURN_IF_ERROR(ExitedBeforeReady(container, image));
        }
        std::this_thread::sleep_for(milliseconds(2));
    }
}

absl::StatusOr<int> DockerContainerFactory::RemoveOrphans(std::string_view invoker_id) {
    // This invoker's containers, and (with an owner) every container of the same owner: a
    // wisp-standalone restarted on another port still owns what its crashed run left.
    std::vector<std::pair<std::string, std::string>> wanted = {
        {"wisp.invoker", std::string(invoker_id)}};
    if (!options_.owner.empty()) wanted.emplace_back(std::string(kOwnerLabel), options_.owner);
    wanted.emplace_back(std::string(kNetworkSandboxLabel), std::string(invoker_id));
    int removed = 0;
    absl::Status first_error;
    std::set<std::string> seen;
    struct Orphan {
        std::string id;
        std::vector<std::string> socket_dirs;
    };
    std::vector<Orphan> orphans;
    for (const auto& [label, value] : wanted) {
        const std::string filters = "{\"label\":[\"" + label + "=" + value + "\"]}";
        WISP_ASSIGN_OR_RETURN(
            auto r,
            engine_->Call("GET", "/containers/json?all=1&filters=" + common::PercentEncode(filters),
                          "", options_.api_timeout));
        if (r.status != 200) return EngineError("list containers", r);
        WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "list containers"));
        if (!doc.IsArray()) return absl::InternalError("Docker listed containers as a non-array");
        for (const auto& c : doc.GetArray()) {
            const rapidjson::Value* id = Member(c, "Id");
            if (id == nullptr || !id->IsString()) continue;
            // The daemon filtered already; check the label again so that nothing else is removed
            // even if a filter were ignored.
            const rapidjson::Value* labels = Member(c, "Labels");
            const rapidjson::Value* mine = labels ? Member(*labels, label.c_str()) : nullptr;
            if (mine == nullptr || !mine->IsString() ||
                std::string_view(mine->GetString()) != value) {
                continue;
            }
            if (!seen.insert(id->GetString()).second) continue;
            Orphan o;
            o.id = id->GetString();
            // Its socket folder, if it had one, is recognised by the bind mount.
            const rapidjson::Value* mounts = Member(c, "Mounts");
            if (mounts != nullptr && mounts->IsArray()) {
                for (const auto& m : mounts->GetArray()) {
                    const rapidjson::Value* src = Member(m, "Source");
                    if (src == nullptr || !src->IsString()) continue;
                    const std::filesystem::path p = src->GetString();
                    if (p.parent_path() == std::filesystem::path(socket_root_)) {
                        o.socket_dirs.push_back(p.string());
                    }
                }
            }
            orphans.push_back(std::move(o));
        }
    }
    // Removed a few at a time: a restarted invoker is not ready before its orphans are gone,
    // and one by one that takes seconds on a loaded host.
    constexpr size_t kParallel = 4;
    for (size_t at = 0; at < orphans.size(); at += kParallel) {
        std::vector<std::future<absl::StatusOr<DockerEngine::Response>>> deletes;
        for (size_t i = at; i < std::min(orphans.size(), at + kParallel); ++i) {
            deletes.push_back(std::async(std::launch::async, [this, &o = orphans[i]] {
                return engine_->Call("DELETE", "/containers/" + o.id + "?force=1&v=1", "",
                                     options_.api_timeout);
            }));
        }
        absl::Status call_error;
        for (size_t i = at; i < at + deletes.size(); ++i) {
            auto d = deletes[i - at].get();
            if (!d.ok()) {
                if (call_error.ok()) call_error = d.status();
                continue;
            }
            if (d->status == 204 || d->status == 404) {
                ++removed;
            } else if (first_error.ok()) {
                first_error = EngineError("remove container " + orphans[i].id, *d);
            }
            for (const auto& dir : orphans[i].socket_dirs) RemoveSocketDir(dir);
        }
        if (!call_error.ok()) return call_error;
    }
    if (!first_error.ok()) return first_error;
    WISP_RETURN_IF_ERROR(RemoveStaleSocketFolders());
    return removed;
}

absl::Status DockerContainerFactory::RemoveStaleSocketFolders() {
    // Folders of containers that no longer exist (an invoker killed between removing a container
    // and its folder, or between creating a folder and the container). Several invokers may
    // share the root: a folder any container still mounts is kept, and young folders are kept
    // since a Create may be between mkdtemp and POST /containers/create.
    WISP_ASSIGN_OR_RETURN(auto r,
                          engine_->Call("GET", "/containers/json?all=1", "", options_.api_timeout));
    if (r.status != 200) return EngineError("list containers", r);
    WISP_ASSIGN_OR_RETURN(auto doc, ParseJson(r.body, "list containers"));
    if (!doc.IsArray()) return absl::InternalError("Docker listed containers as a non-array");
    std::set<std::filesystem::path> mounted;
    for (const auto& c : doc.GetArray()) {
        const rapidjson::Value* mounts = Member(c, "Mounts");
        if (mounts == nullptr || !mounts->IsArray()) continue;
        for (const auto& m : mounts->GetArray()) {
            const rapidjson::Value* src = Member(m, "Source");
            if (src != nullptr && src->IsString()) mounted.insert(src->GetString());
        }
    }
    std::error_code ec;
    const auto now = std::filesystem::file_time_type::clock::now();
    for (const auto& entry : std::filesystem::directory_iterator(socket_root_, ec)) {
        // Real folders only (symlink_status: a link is never followed).
        if (!std::filesystem::is_directory(entry.symlink_status(ec)) ||
            mounted.count(entry.path()) > 0) {
            continue;
        }
        const auto mtime = entry.last_write_time(ec);
        if (ec || now - mtime < std::chrono::minutes(1)) continue;
        RemoveSocketDir(entry.path().string());
    }
    return absl::OkStatus();
}

}  // namespace wisp::invoker
