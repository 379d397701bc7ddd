#include "action_proxy.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <wisp/common/base64.hpp>

#include "archive.hpp"
#include "log_capture.hpp"

namespace wisp::proxy {
namespace {

namespace fs = std::filesystem;

std::string WriteFile(const std::string& path, std::string_view data, mode_t mode) {
    ::unlink(path.c_str());
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return "cannot create " + path + ": " + std::strerror(errno);
    bool ok = WriteAll(fd, data);
    ok = ::fchmod(fd, mode) == 0 && ok;
    ok = ::close(fd) == 0 && ok;
    if (!ok) return "cannot write " + path + ": " + std::strerror(errno);
    return {};
}

// A regular file we may execute; a non-executable one gets its x bits (zips made on Windows).
bool MakeExecutable(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (::access(path.c_str(), X_OK) == 0) return true;
    return ::chmod(path.c_str(), (st.st_mode & 07777) | 0755) == 0 &&
           ::access(path.c_str(), X_OK) == 0;
}

bool IsExecutableFile(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

void Log(const std::string& line) { (void)WriteAll(2, "wisp-action-proxy: " + line + "\n"); }

// The first bytes of a bad result, for the activation log.
std::string Abbreviate(std::string_view text) {
    constexpr size_t kMax = 200;
    if (text.size() <= kMax) return std::string(text);
    return std::string(text.substr(0, kMax)) + "... (" + std::to_string(text.size()) + " bytes)";
}

// Removes `path` and what it holds without following symlinks; a folder the action made
// read-only gets its write bit back first (the proxy has no CAP_DAC_OVERRIDE in a container).
std::string RemoveTree(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? std::string() : path;
    if (S_ISDIR(st.st_mode)) {
        (void)::chmod(path.c_str(), 0700);
        std::error_code ec;
        std::vector<std::string> entries;
        for (const auto& e : fs::directory_iterator(path, ec)) entries.push_back(e.path());
        for (const auto& e : entries) {
            if (std::string failed = RemoveTree(e); !failed.empty()) return failed;
        }
        if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return path;
        return {};
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return path;
    return {};
}

// Empties `dir` (keeps the folder itself: /tmp is a mount point); "" or the error text.
std::string EmptyDir(const std::string& dir) {
    if (dir.empty()) return {};
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return {};
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) (void)::chmod(dir.c_str(), (st.st_mode & 07777) | 0700);
    std::vector<std::string> entries;
    for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
    if (ec) return "cannot list " + dir + ": " + ec.message();
    for (const auto& e : entries) {
        if (std::string failed = RemoveTree(e); !failed.empty()) {
            return "cannot remove " + failed + ": " + std::strerror(errno);
        }
    }
    return {};
}

// How long the fork server may take to answer (it answers in about a millisecond; one that
// does not answer is killed and replaced).
constexpr std::chrono::milliseconds kForkServerLimit{10000};

// Sends SIGKILL to the processes other than the proxy and `keep`: as PID 1 every process of
// the container, else the proxy's children. True when there was any (a zombie counts: it is
// there until reaped).
bool SweepOthers(bool init, pid_t keep) {
    const pid_t self = ::getpid();
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return false;
    bool found = false;
    while (const dirent* entry = ::readdir(dir)) {
        std::string_view name(entry->d_name);
        if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) {
            continue;
        }
        const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
        if (pid == self || pid == keep || pid <= 0) continue;
        if (!init) {
            std::ifstream in("/proc/" + std::string(name) + "/stat");
            std::string stat((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
            const size_t close = stat.rfind(')');
            if (close == std::string::npos || close + 4 >= stat.size()) continue;
            // ") S PPID ...": the state, then the parent.
            if (std::atol(stat.c_str() + close + 4) != self) continue;
        }
        found = true;
        ::kill(pid, SIGKILL);
    }
    ::closedir(dir);
    return found;
}

}  // namespace

ActionProxy::ActionProxy(asio::io_context& io, ProxyOptions options)
    : io_(io),
      options_(std::move(options)),
      watcher_(io),
      native_(io, watcher_),
      run_mutex_(io.get_executor()),
      capture_(io) {
    // Concurrent runs cannot be told apart: their output goes to the container log directly.
    std::string error;
    capture_on_ = !options_.concurrent && capture_.Open(error);
    if (!capture_on_ && !options_.concurrent) Log("logs go to the container log only: " + error);
    const char* copy = std::getenv("WISP_PROXY_COPY_LOGS");
    copy_logs_ =
        copy != nullptr && (std::string_view(copy) == "1" || std::string_view(copy) == "true" ||
                            std::string_view(copy) == "on");
    if (options_.kind == Kind::kNative) {  // the image's stub, put back by Reset
        std::error_code ec;
        if (fs::is_regular_file(ExecPath(), ec) && fs::file_size(ExecPath(), ec) < (1u << 20)) {
            std::ifstream in(ExecPath(), std::ios::binary);
            std::string stub((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
            if (in || in.eof()) native_stub_ = std::move(stub);
        }
    }
}

void ActionProxy::RedirectOutput(SpawnSpec& spec) const {
    if (!capture_on_) return;
    spec.stdout_fd = capture_.stdout_fd();
    spec.stderr_fd = capture_.stderr_fd();
}

void ActionProxy::FinishLogs(Reply& reply, bool inline_logs) {
    if (capture_on_) {
        LogBatch batch = capture_.Take();
        if (inline_logs) {
            if (copy_logs_) LogCapture::WriteToContainer(batch);
            reply.logs = EncodeLogs(batch);
            reply.logs_truncated = batch.truncated;
            return;
        }
        LogCapture::WriteToContainer(batch);
    }
    WriteSentinels(1, 2);
}

void ActionProxy::FlushLogs() {
    Reply ignored;
    FinishLogs(ignored, false);
}

void ActionProxy::Shutdown() {
    if (launcher_) launcher_->Kill();
    if (zygote_) zygote_->Kill();
    if (server_) server_->Kill();
}

void ActionProxy::StartZygote() {
    if (zygote_) {
        zygote_->Kill();
        zygote_.reset();
    }
    if (options_.kind == Kind::kNative || !options_.zygote) return;
    SpawnSpec spec;
    spec.argv = {options_.interpreter};
    if (options_.kind == Kind::kPython) spec.argv.emplace_back("-u");
    spec.argv.push_back(options_.launcher);
    const bool fork_server =
        options_.kind == Kind::kPython && options_.fork_server && ForkServer::Supported();
    if (fork_server && server_ && server_->alive()) return;  // it outlives resets
    spec.argv.emplace_back(fork_server ? "--fork-server" : "--zygote");
    spec.env = InheritedEnvironment();
    std::error_code ec;
    fs::create_directories(options_.action_dir, ec);
    if (!ec) spec.cwd = options_.action_dir;  // where a launcher spawned at /init starts
    RedirectOutput(spec);
    if (fork_server) {
        server_.reset();
        auto server = std::make_shared<ForkServer>(io_, watcher_);
        std::string error;
        if (server->Start(std::move(spec), error)) server_ = std::move(server);
        return;
    }
    auto zygote = std::make_shared<Launcher>(io_, watcher_);
    std::string error;
    // Silently: a line would land in the first activation's logs, and /init can still spawn.
    if (zygote->Start(std::move(spec), options_.concurrent, error)) zygote_ = std::move(zygote);
}

std::string ActionProxy::ExecPath() const { return options_.action_dir + "/exec"; }

asio::awaitable<Reply> ActionProxy::Init(std::string body) {
    if (state_ != State::kUninitialized) co_return ErrorReply(403, kReinitText);
    std::string error;
    std::optional<InitRequest> request = ParseInitRequest(body, error);
    std::string().swap(body);  // the code may be megabytes; it now lives in `request`
    if (!request) co_return ErrorReply(400, error);
    if (options_.kind == Kind::kNative) co_return InitNative(*request);
    if (!request->code || request->code->empty()) co_return ErrorReply(403, kMissingCodeText);
    state_ = State::kInitializing;
    Reply reply = co_await InitLauncher(std::move(*request));
    state_ = reply.status == 200 ? State::kReady : State::kUninitialized;
    co_return reply;
}

std::string ActionProxy::WriteCode(const InitRequest& request, int& status) {
    status = 502;
    std::error_code ec;
    fs::create_directories(options_.action_dir, ec);
    if (ec)
        return "cannot create the action directory " + options_.action_dir + ": " + ec.message();
    const std::string& code = *request.code;
    if (!request.binary) {
        switch (options_.kind) {
            case Kind::kPython:
                return WriteFile(options_.action_dir + "/__main__.py", code, 0644);
            case Kind::kNodejs:
                return WriteFile(options_.action_dir + "/index.js", code, 0644);
            case Kind::kNative:
                return WriteFile(ExecPath(), code, 0755);
        }
    }
    std::optional<std::string> bytes =
        wisp::common::Base64Decode(code, wisp::common::Base64Mode::kLineWrapped);
    if (!bytes) {
        status = 400;
        return "cannot decode the request: illegal base64 data";
    }
    switch (DetectArchive(*bytes)) {
        case ArchiveType::kZip:
            return ExtractZip(*bytes, options_.action_dir);
        case ArchiveType::kTarGz:
            return ExtractTarGz(*bytes, options_.action_dir);
        case ArchiveType::kUnknown:
            break;
    }
    if (options_.kind == Kind::kNative) return WriteFile(ExecPath(), *bytes, 0755);  // a binary
    return "The action archive is neither a zip nor a tar.gz file.";
}

Reply ActionProxy::InitNative(const InitRequest& request) {
    auto fail = [this](const std::string& why) {
        Log(why);
        FlushLogs();
        return ErrorReply(502, kNativeInitFailedText);
    };
    if (request.code) {
        int status = 0;
        if (std::string err = WriteCode(request, status); !err.empty()) return fail(err);
        if (!MakeExecutable(ExecPath())) {
            return fail("the action has no executable " + ExecPath() +
                        "; a zip action needs an 'exec' file at its root");
        }
    }
    if (!IsExecutableFile(ExecPath())) {
        return fail(ExecPath() + " is missing or not executable");
    }
    env_ = InheritedEnvironment();
    for (const auto& [name, value] : request.env) SetEnv(env_, name, value);
    state_ = State::kReady;
    return OkReply();
}

asio::awaitable<Reply> ActionProxy::InitLauncher(InitRequest request) {
    int status = 502;
    if (std::string err = WriteCode(request, status); !err.empty()) {
        if (status == 502) FlushLogs();
        co_return ErrorReply(status, err);
    }
    std::string().swap(*request.code);
    env_ = InheritedEnvironment();
    for (const auto& [name, value] : request.env) SetEnv(env_, name, value);

    std::vector<std::string> args = {options_.action_dir, request.main,
                                     request.binary ? "archive" : "source"};
    if (options_.concurrent) args.emplace_back("--concurrent");

    std::shared_ptr<Launcher> launcher;
    std::optional<std::string> failure;
    bool spawn = true;
    if (server_ && server_->alive()) {
        // A launcher forked from the fork server; when it cannot be, one spawned.
        if (std::optional<std::string> line = ZygoteLoadLine(args, request.env)) {
            ForkOutcome forked = co_await ForkLauncher(std::move(*line));
            if (forked.launcher) {
                launcher = std::move(forked.launcher);
                failure = std::move(forked.failure);
                spawn = false;
            }
        }
    } else {
        // The zygote is used once at most: after a failed /init a retry spawns.
        launcher = std::move(zygote_);
        std::optional<std::string> load_line;
        if (launcher && launcher->alive()) load_line = ZygoteLoadLine(args, request.env);
        spawn = !load_line;
        if (load_line) {
            auto loaded = co_await launcher->Load(std::move(*load_line));
            // Not delivered: the zygote died before it got the code (its death may not have
            // been seen yet when alive() was asked); start afresh as if it were known dead.
            spawn = !loaded.delivered;
            failure = std::move(loaded.failure);
        }
    }
    if (spawn) {
        if (launcher) launcher->Kill();  // dead, or the /init env needs a fresh process
        SpawnSpec spec;
        spec.argv = {options_.interpreter};
        if (options_.kind == Kind::kPython) spec.argv.emplace_back("-u");
        spec.argv.push_back(options_.launcher);
        spec.argv.insert(spec.argv.end(), args.begin(), args.end());
        spec.env = env_;
        spec.cwd = options_.action_dir;
        RedirectOutput(spec);

        launcher = std::make_shared<Launcher>(io_, watcher_);
        std::string error;
        if (!launcher->Start(std::move(spec), options_.concurrent, error)) {
            co_return ErrorReply(502, "cannot start action: " + error);
        }
        failure = co_await launcher->WaitReady();
    }
    if (failure) {
        if (!launcher->alive()) co_await launcher->WaitExit(std::chrono::milliseconds(100));
        if (!launcher->exit_description().empty()) {
            Log(std::string("the ") + std::string(KindName(options_.kind)) + " launcher " +
                launcher->exit_description() + " during initialization");
        }
        launcher->Kill();
        FlushLogs();
        co_return ErrorReply(502, *failure);
    }
    launcher_ = std::move(launcher);
    co_return OkReply();
}

asio::awaitable<ActionProxy::ForkOutcome> ActionProxy::ForkLauncher(std::string line) {
    ForkOutcome outcome;
    auto launcher = std::make_shared<Launcher>(io_, watcher_);
    int child[2];
    std::string error;
    if (!launcher->OpenPipes(options_.concurrent, child, error)) co_return outcome;
    std::shared_ptr<ForkServer> server = server_;
    // The launcher becomes our child when the server's intermediate process ends, maybe
    // before its pid reaches us: an early end is kept for Watch().
    watcher_.HoldUnclaimed(true);
    const pid_t pid = co_await server->Fork(std::move(line), child[0], child[1], kForkServerLimit);
    if (pid > 0) launcher->AttachForked(pid);
    watcher_.HoldUnclaimed(false);
    if (pid <= 0) co_return outcome;
    Launcher::LoadOutcome loaded = co_await launcher->Loaded();
    if (!loaded.delivered) {  // it ended before it took the order: nothing of the action ran
        launcher->Kill();
        co_return outcome;
    }
    outcome.launcher = std::move(launcher);
    outcome.failure = std::move(loaded.failure);
    co_return outcome;
}

asio::awaitable<Reply> ActionProxy::Run(std::string body, bool inline_logs) {
    if (options_.kind == Kind::kNative) co_return co_await RunNative(std::move(body), inline_logs);
    co_return co_await RunLauncher(std::move(body), inline_logs);
}

asio::awaitable<Reply> ActionProxy::RunLauncher(std::string body, bool inline_logs) {
    if (state_ != State::kReady || !launcher_) co_return ErrorReply(500, kNotInitializedText);
    RunScan scan = ScanRunRequest(body);
    if (!scan.valid_json || !scan.is_object) co_return ErrorReply(400, scan.error);
    if (scan.value == RunScan::Value::kOther) co_return ErrorReply(400, kArgumentNotObjectText);
    MakeOneLine(body);

    const bool serial = !options_.concurrent;
    if (serial) co_await run_mutex_.Lock();
    std::shared_ptr<Launcher> launcher = launcher_;
    LauncherResult outcome;
    if (launcher->alive()) outcome = co_await launcher->Run(std::move(body));
    std::optional<std::string>& result = outcome.line;
    Reply reply;
    if (outcome.too_long) {
        Log("the action returned a result line longer than " + std::to_string(kMaxResultLineBytes) +
            " bytes; it was dropped");
        reply = ErrorReply(502, ResultTooLongText(kMaxResultLineBytes));
    } else if (!result) {
        co_await launcher->WaitExit(std::chrono::milliseconds(100));  // for its exit status
        const std::string& how = launcher->exit_description();
        Log(std::string("the ") + std::string(KindName(options_.kind)) + " launcher " +
            (how.empty() ? std::string("closed its result pipe") : how) +
            "; the container must be replaced");
        launcher->Kill();
        reply = ErrorReply(502, kAbnormalRunText);
    } else if (!IsJsonObjectOrArray(*result)) {
        Log("the action returned " + Abbreviate(*result));
        reply = ErrorReply(502, kNotDictionaryText);
    } else {
        reply.body = std::move(*result);
    }
    FinishLogs(reply, inline_logs && serial);
    if (serial) run_mutex_.Unlock();
    co_return reply;
}

asio::awaitable<Reply> ActionProxy::RunNative(std::string body, bool inline_logs) {
    std::string error;
    std::optional<RunRequest> request = ParseRunRequest(body, error);
    std::string().swap(body);
    if (!request) co_return ErrorReply(400, error);

    co_await run_mutex_.Lock();
    Reply reply;
    if (!IsExecutableFile(ExecPath())) {  // like the dockerskeleton, /run works without /init
        reply = ErrorReply(502, kNativeMissingBinaryText);
    } else {
        std::vector<std::string> env = state_ == State::kReady ? env_ : InheritedEnvironment();
        for (const auto& [name, value] : request->env) SetEnv(env, name, value);
        NativeOutcome outcome =
            co_await native_.Run(ExecPath(), options_.action_dir, std::move(env),
                                 std::move(request->value_json), capture_on_ ? &capture_ : nullptr);
        auto log_line = [&](const std::string& line) {
            if (capture_on_) {
                capture_.Feed(1, line + "\n");
            } else {
                (void)WriteAll(1, line + "\n");
            }
        };
        if (!outcome.started) {
            log_line(outcome.error);
            reply = ErrorReply(502, kNotDictionaryText);
        } else if (outcome.too_long) {
            Log("the action returned a result line longer than " +
                std::to_string(kMaxResultLineBytes) + " bytes; it was dropped");
            reply = ErrorReply(502, ResultTooLongText(kMaxResultLineBytes));
        } else if (!IsJsonObjectOrArray(outcome.result)) {
            log_line(outcome.result);  // the dockerskeleton logs the bad line
            reply = ErrorReply(502, kNotDictionaryText);
        } else {
            reply.body = std::move(outcome.result);
        }
    }
    FinishLogs(reply, inline_logs);
    run_mutex_.Unlock();
    co_return reply;
}

asio::awaitable<Reply> ActionProxy::Reset() {
    // As PID 1 (in a container) every other process is the action's: kill(-1) reaches them
    // all, whatever session or group they made, atomically with respect to fork. With a fork
    // server, which survives (invoker/README.md "Reuse after reset"), the server sends it
    // (reaching every process but itself and the proxy), then every other process left
    // (dying ones, zombies) is swept until none is. On a host (tests), the launcher's and a
    // native run's process groups, then (with a server) the proxy's other children.
    const bool init = ::getpid() == 1;
    pid_t keep = server_ && server_->alive() ? server_->pid() : -1;
    if (init && keep > 0) {
        const bool killed = co_await server_->KillOthers(kForkServerLimit);
        if (!killed) keep = -1;  // it is killed too: kill(-1) below, a fresh one after
    }
    auto kill_all = [&] {
        if (init) {
            if (keep < 0) ::kill(-1, SIGKILL);
            return;
        }
        if (launcher_) launcher_->Kill();
        if (zygote_) zygote_->Kill();
        native_.Kill();
    };
    auto remain = [&] {
        const bool children = watcher_.Reap();
        return keep < 0 ? children : SweepOthers(init, keep);
    };
    asio::steady_timer timer(io_);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (kill_all(); remain(); kill_all()) {  // until every other process is reaped
        if (std::chrono::steady_clock::now() >= give_up) {
            co_return ErrorReply(500,
                                 "the action's processes did not end within 10 s of "
                                 "SIGKILL; replace the container");
        }
        timer.expires_after(std::chrono::milliseconds(1));
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    launcher_.reset();
    state_ = State::kUninitialized;
    env_.clear();
    if (capture_on_) (void)capture_.Take();  // the old action's lines are nobody's

    const char* tmp_env = std::getenv("WISP_PROXY_TMP_DIR");
    const std::string tmp_dir = tmp_env != nullptr ? tmp_env : init ? "/tmp" : "";
    for (const std::string& dir : {options_.action_dir, tmp_dir}) {
        if (std::string error = EmptyDir(dir); !error.empty()) {
            Log("reset: " + error);
            co_return ErrorReply(500, "reset: " + error + "; replace the container");
        }
    }
    if (native_stub_) {
        if (std::string error = WriteFile(ExecPath(), *native_stub_, 0755); !error.empty()) {
            co_return ErrorReply(500, "reset: " + error + "; replace the container");
        }
    }
    StartZygote();
    co_return OkReply();
}

}  // namespace wisp::proxy
