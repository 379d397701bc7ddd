#include "action_proxy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <wisp/common/base64.hpp>

#include "archive.hpp"

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

}  // namespace

ActionProxy::ActionProxy(asio::io_context& io, ProxyOptions options)
    : io_(io),
      options_(std::move(options)),
      watcher_(io),
      native_(io, watcher_),
      run_mutex_(io.get_executor()) {}

void ActionProxy::Shutdown() {
    if (launcher_) launcher_->Kill();
    if (zygote_) zygote_->Kill();
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
    spec.argv.emplace_back("--zygote");
    spec.env = InheritedEnvironment();
    std::error_code ec;
    fs::create_directories(options_.action_dir, ec);
    if (!ec) spec.cwd = options_.action_dir;  // where a launcher spawned at /init starts
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
    auto fail = [](const std::string& why) {
        Log(why);
        WriteSentinels(1, 2);
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
        if (status == 502) WriteSentinels(1, 2);
        co_return ErrorReply(status, err);
    }
    std::string().swap(*request.code);
    env_ = InheritedEnvironment();
    for (const auto& [name, value] : request.env) SetEnv(env_, name, value);

    std::vector<std::string> args = {options_.action_dir, request.main,
                                     request.binary ? "archive" : "source"};
    if (options_.concurrent) args.emplace_back("--concurrent");

    // The zygote is used once at most: after a failed /init a retry spawns.
    std::shared_ptr<Launcher> launcher = std::move(zygote_);
    std::optional<std::string> load_line;
    if (launcher && launcher->alive()) load_line = ZygoteLoadLine(args, request.env);
    std::optional<std::string> failure;
    if (load_line) {
        failure = co_await launcher->Load(std::move(*load_line));
    } else {
        if (launcher) launcher->Kill();  // dead, or the /init env needs a fresh process
        SpawnSpec spec;
        spec.argv = {options_.interpreter};
        if (options_.kind == Kind::kPython) spec.argv.emplace_back("-u");
        spec.argv.push_back(options_.launcher);
        spec.argv.insert(spec.argv.end(), args.begin(), args.end());
        spec.env = env_;
        spec.cwd = options_.action_dir;

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
        WriteSentinels(1, 2);
        co_return ErrorReply(502, *failure);
    }
    launcher_ = std::move(launcher);
    co_return OkReply();
}

asio::awaitable<Reply> ActionProxy::Run(std::string body) {
    if (options_.kind == Kind::kNative) co_return co_await RunNative(std::move(body));
    co_return co_await RunLauncher(std::move(body));
}

asio::awaitable<Reply> ActionProxy::RunLauncher(std::string body) {
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
    WriteSentinels(1, 2);
    if (serial) run_mutex_.Unlock();
    co_return reply;
}

asio::awaitable<Reply> ActionProxy::RunNative(std::string body) {
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
        NativeOutcome outcome = co_await native_.Run(
            ExecPath(), options_.action_dir, std::move(env), std::move(request->value_json));
        if (!outcome.started) {
            (void)WriteAll(1, outcome.error + "\n");
            reply = ErrorReply(502, kNotDictionaryText);
        } else if (outcome.too_long) {
            Log("the action returned a result line longer than " +
                std::to_string(kMaxResultLineBytes) + " bytes; it was dropped");
            reply = ErrorReply(502, ResultTooLongText(kMaxResultLineBytes));
        } else if (!IsJsonObjectOrArray(outcome.result)) {
            (void)WriteAll(1, outcome.result + "\n");  // the dockerskeleton logs the bad line
            reply = ErrorReply(502, kNotDictionaryText);
        } else {
            reply.body = std::move(outcome.result);
        }
    }
    WriteSentinels(1, 2);
    run_mutex_.Unlock();
    co_return reply;
}

}  // namespace wisp::proxy
