#include <wisp/testing/process_container.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <wisp/common/status.hpp>
#include <wisp/common/time.hpp>
#include <wisp/testing/child_process.hpp>

namespace wisp::testing {
namespace {

namespace fs = std::filesystem;
using invoker::Container;
using invoker::ContainerSpec;
using invoker::LogLine;
using invoker::ProxyClient;
using invoker::ProxyResponse;

constexpr std::string_view kSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

std::string EnvOr(const std::string& value, const char* name) {
    if (!value.empty()) return value;
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

/// Now as RFC 3339 with nanoseconds, like docker's json-file ("2024-05-01T10:00:00.123456789Z").
std::string NowRfc3339Nanos() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return common::FormatRfc3339Nanos(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

std::string Slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

char ProcState(pid_t pid) {
    std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) return 0;
    return stat[close + 2];
}

/// `root` and every process below it (the proxy starts its launcher in a process group of its
/// own, so signalling the proxy's group alone would miss it).
std::vector<pid_t> ProcessTree(pid_t root) {
    std::vector<std::pair<pid_t, pid_t>> parent_of;  // (pid, ppid)
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = Slurp(entry.path() / "stat");
        size_t close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 2));
        char state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        parent_of.emplace_back(static_cast<pid_t>(std::atoi(name.c_str())), ppid);
    }
    std::vector<pid_t> tree{root};
    for (size_t i = 0; i < tree.size(); ++i) {
        for (const auto& [pid, ppid] : parent_of) {
            if (ppid == tree[i]) tree.push_back(pid);
        }
    }
    return tree;
}

/// Sends `sig` to the process group of `root` and to every process below it.
void SignalTree(pid_t root, int sig) {
    for (pid_t pid : ProcessTree(root)) {
        ::kill(pid, sig);
        if (pid != root) ::kill(-pid, sig);  // group leaders (the launcher) take their group
    }
    ::kill(-root, sig);
}

}  // namespace

bool ProcessIsStopped(pid_t pid) { return ProcState(pid) == 'T'; }

std::string ProxyKindForImage(std::string_view image) {
    if (image.find("action-python") != std::string_view::npos) return "python";
    if (image.find("action-nodejs") != std::string_view::npos) return "nodejs";
    if (image.find("action-native") != std::string_view::npos) return "native";
    return {};
}

void SignalProcessTree(pid_t root, int sig) { SignalTree(root, sig); }

bool ProcessIsAlive(pid_t pid) {
    char s = ProcState(pid);
    return s != 0 && s != 'Z' && s != 'X';
}

// One proxy process and what it wrote.
struct ProcessContainerFactory::Process {
    pid_t pid = -1;
    std::string id;
    fs::path dir;
    fs::path marker;  // orphan marker file
    std::thread reader;

    std::mutex mu;
    std::condition_variable cv;
    std::vector<LogLine> lines;
    size_t read_pos = 0;
    bool eof = false;
    bool killed = false;

    void Kill() {
        bool first;
        {
            std::lock_guard<std::mutex> lock(mu);
            first = !killed;
            killed = true;
        }
        if (first && pid > 0) {
            SignalTree(pid, SIGKILL);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            std::error_code ec;
            fs::remove(marker, ec);
        }
        if (reader.joinable() && reader.get_id() != std::this_thread::get_id()) reader.join();
    }

    // Reads stdout and stderr until both end; one time-stamped LogLine per line.
    static void Read(std::shared_ptr<Process> self, int out_fd, int err_fd) {
        std::ofstream file(self->dir / "log", std::ios::binary | std::ios::app);
        const char* names[2] = {"stdout", "stderr"};
        ReadPipedLines(out_fd, err_fd, [&](int stream, std::string text) {
            LogLine line{NowRfc3339Nanos(), names[stream], std::move(text)};
            file << line.time << ' ' << line.stream << ": " << line.text << '\n';
            std::lock_guard<std::mutex> lock(self->mu);
            self->lines.push_back(std::move(line));
            self->cv.notify_all();
        });
        file.flush();
        std::lock_guard<std::mutex> lock(self->mu);
        self->eof = true;
        self->cv.notify_all();
    }

    Container::Logs Collect(int sentinels, int64_t limit_bytes, std::chrono::milliseconds wait) {
        Container::Logs out;
        std::unique_lock<std::mutex> lock(mu);
        int seen = 0;
        int64_t bytes = 0;
        auto last_progress = std::chrono::steady_clock::now();
        while (true) {
            while (read_pos < lines.size()) {
                const LogLine& line = lines[read_pos++];
                last_progress = std::chrono::steady_clock::now();
                if (line.text == kSentinel) {
                    ++seen;
                    if (sentinels > 0 && seen >= sentinels) {
                        out.complete = true;
                        return out;
                    }
                    continue;
                }
                const auto size = static_cast<int64_t>(line.text.size());
                if (bytes + size > limit_bytes) {
                    out.truncated = true;  // dropped; keep reading up to the sentinels
                    continue;
                }
                bytes += size;
                out.lines.push_back(line);
            }
            if (sentinels <= 0 || eof) break;
            if (cv.wait_until(lock, last_progress + wait) == std::cv_status::timeout &&
                read_pos == lines.size()) {
                break;
            }
        }
        out.complete = sentinels <= 0 || seen >= sentinels;
        return out;
    }
};

class ProcessContainer final : public Container {
  public:
    ProcessContainer(std::shared_ptr<ProcessContainerFactory::Process> process,
                     ProxyClient::Endpoint endpoint, int64_t memory_mb)
        : process_(std::move(process)), client_(std::move(endpoint)), memory_mb_(memory_mb) {}

    const std::string& id() const override { return process_->id; }
    int64_t memory_mb() const override { return memory_mb_; }

    [[nodiscard]] absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                     std::chrono::milliseconds timeout) override {
        return client_.Post("/init", body, timeout, true);
    }
    absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                      std::chrono::milliseconds timeout) override {
        return client_.Post("/run", body, timeout, false);
    }
    [[nodiscard]] absl::Status Pause() override {
        if (!ProcessIsAlive(process_->pid)) return absl::NotFoundError("the process is gone");
        SignalTree(process_->pid, SIGSTOP);
        // Like `docker pause`, return only once the proxy is frozen (signals land asynchronously).
        return WaitForState(/*stopped=*/true);
    }
    [[nodiscard]] absl::Status Resume() override {
        if (!ProcessIsAlive(process_->pid)) return absl::NotFoundError("the process is gone");
        SignalTree(process_->pid, SIGCONT);
        return WaitForState(/*stopped=*/false);
    }
    [[nodiscard]] absl::Status WaitForState(bool stopped) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (ProcessIsStopped(process_->pid) != stopped) {
            if (!ProcessIsAlive(process_->pid)) return absl::NotFoundError("the process is gone");
            if (std::chrono::steady_clock::now() > deadline) {
                return absl::DeadlineExceededError(stopped ? "the process did not stop"
                                                           : "the process did not continue");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        return absl::OkStatus();
    }
    [[nodiscard]] absl::Status Destroy() override {
        client_.CloseIdle();
        process_->Kill();
        return absl::OkStatus();
    }
    [[nodiscard]] absl::StatusOr<bool> WasOomKilled() override {
        return false;
    }  // no cgroup limit here
    [[nodiscard]] absl::StatusOr<Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                   std::chrono::milliseconds wait) override {
        return process_->Collect(sentinels, limit_bytes, wait);
    }

  private:
    std::shared_ptr<ProcessContainerFactory::Process> process_;
    ProxyClient client_;
    int64_t memory_mb_;
};

ProcessContainerFactory::ProcessContainerFactory(ProcessContainerOptions options)
    : options_(std::move(options)) {
    options_.proxy_binary = EnvOr(options_.proxy_binary, "WISP_ACTION_PROXY");
    options_.runtimes_dir = EnvOr(options_.runtimes_dir, "WISP_RUNTIMES_DIR");
}

ProcessContainerFactory::~ProcessContainerFactory() {
    std::vector<std::shared_ptr<Process>> all;
    {
        std::lock_guard<std::mutex> lock(mu_);
        all.swap(processes_);
    }
    for (auto& p : all) {
        if (options_.kill_on_destruction) {
            p->Kill();
        } else if (p->reader.joinable()) {
            p->reader.detach();  // ends when the process is killed (it holds `p`)
        }
    }
}

pid_t ProcessContainerFactory::PidOf(const std::string& container_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : processes_) {
        if (p->id == container_id) return p->pid;
    }
    return 0;
}

std::vector<pid_t> ProcessContainerFactory::pids() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<pid_t> out;
    for (const auto& p : processes_) {
        std::lock_guard<std::mutex> plock(p->mu);
        if (!p->killed) out.push_back(p->pid);
    }
    return out;
}

absl::StatusOr<bool> ProcessContainerFactory::ImageExists(std::string_view image) {
    return !ProxyKindForImage(image).empty();
}

absl::StatusOr<std::unique_ptr<Container>> ProcessContainerFactory::Create(
    const ContainerSpec& spec) {
    const std::string kind = ProxyKindForImage(spec.image);
    if (kind.empty()) {
        return absl::NotFoundError("image " + spec.image +
                                   " cannot run as a host process (python, nodejs, native only)");
    }
    if (options_.proxy_binary.empty() || options_.runtimes_dir.empty()) {
        return absl::FailedPreconditionError(
            "set WISP_ACTION_PROXY (the wisp-action-proxy binary) and WISP_RUNTIMES_DIR "
            "(runtimes/); ctest does");
    }
    const int n = ++creates_;
    fs::path dir = fs::path(options_.work_dir) / (spec.name + "-" + std::to_string(n));
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir / "action", ec);
    if (ec) return absl::InternalError("cannot create " + dir.string() + ": " + ec.message());

    std::vector<std::string> argv = {options_.proxy_binary,
                                     "--kind",
                                     kind,
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--port-file",
                                     (dir / "port").string(),
                                     "--action-dir",
                                     (dir / "action").string()};
    if (kind == "python") {
        argv.insert(argv.end(), {"--launcher", options_.runtimes_dir + "/python/launcher.py"});
    } else if (kind == "nodejs") {
        argv.insert(argv.end(), {"--launcher", options_.runtimes_dir + "/nodejs/launcher.js"});
    }
    if (options_.use_unix_socket) {
        argv.insert(argv.end(), {"--socket", (dir / "proxy.sock").string()});
    }
    std::vector<std::string> env = InheritedEnvironment("WISP_PROXY_");
    for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
    WISP_ASSIGN_OR_RETURN(const PipedChild child, SpawnWithPipes(argv, env));
    const pid_t pid = child.pid;

    auto process = std::make_shared<Process>();
    process->pid = pid;
    process->id = "proc" + std::to_string(pid);
    process->dir = dir;
    process->reader = std::thread(&Process::Read, process, child.stdout_fd, child.stderr_fd);
    auto label = spec.labels.find("wisp.invoker");
    if (label != spec.labels.end()) {
        fs::path markers = fs::path(options_.work_dir) / "orphans" / label->second;
        fs::create_directories(markers, ec);
        process->marker = markers / std::to_string(pid);
        std::ofstream(process->marker) << spec.name << '\n';
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        processes_.push_back(process);
    }

    // Started = listening: the proxy writes its port file once it accepts connections.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!fs::exists(dir / "port")) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            {
                std::lock_guard<std::mutex> lock(process->mu);
                process->killed = true;
            }
            process->Kill();
            return absl::InternalError("the action proxy exited at start: " + Slurp(dir / "log"));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            process->Kill();
            return absl::DeadlineExceededError("the action proxy did not listen within 15 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const int port = std::atoi(Slurp(dir / "port").c_str());
    ProxyClient::Endpoint endpoint =
        options_.use_unix_socket ? ProxyClient::Endpoint::Unix((dir / "proxy.sock").string())
                                 : ProxyClient::Endpoint::Tcp("127.0.0.1", port);
    return std::unique_ptr<Container>(
        std::make_unique<ProcessContainer>(process, std::move(endpoint), spec.memory_mb));
}

absl::StatusOr<int> ProcessContainerFactory::RemoveOrphans(std::string_view invoker_id) {
    fs::path markers = fs::path(options_.work_dir) / "orphans" / std::string(invoker_id);
    std::error_code ec;
    if (!fs::exists(markers, ec)) return 0;
    int removed = 0;
    for (const auto& entry : fs::directory_iterator(markers, ec)) {
        const pid_t pgid = std::atoi(entry.path().filename().c_str());
        std::string cmdline = Slurp("/proc/" + std::to_string(pgid) + "/cmdline");
        if (pgid > 0 && cmdline.find("wisp-action-proxy") != std::string::npos &&
            ProcessIsAlive(pgid)) {
            SignalTree(pgid, SIGKILL);
            int status = 0;
            ::waitpid(pgid, &status, 0);  // reaps it when it is our child (ECHILD otherwise)
            ++removed;
        }
        fs::remove(entry.path(), ec);
    }
    return removed;
}

}  // namespace wisp::testing
