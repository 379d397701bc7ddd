#include "launcher.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol.hpp"

namespace wisp::proxy {

namespace {
constexpr int kPipeSize = 1 << 20;  // fewer wake-ups for megabyte bodies and results
// A zygote's first line after it read the load order, before any of the action's code runs.
constexpr std::string_view kLoadingLine = R"({"loading":true})";

// Read by python, node or the C library when a process starts (or cached then): a zygote,
// started before /init, cannot honour them.
bool NeedsFreshProcess(std::string_view name) {
    if (name.empty() || name.find('=') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos) {
        return true;
    }
    static constexpr std::string_view kPrefixes[] = {
        "PYTHON", "NODE_", "UV_", "LD_", "LC_", "OPENSSL_", "SSL_", "MALLOC_", "GLIBC_", "V8_"};
    static constexpr std::string_view kNames[] = {"LANG", "LANGUAGE", "TZ", "HOME", "PATH"};
    for (std::string_view prefix : kPrefixes) {
        if (name.starts_with(prefix)) return true;
    }
    for (std::string_view exact : kNames) {
        if (name == exact) return true;
    }
    return false;
}

template <class Writer>
bool WriteString(Writer& writer, std::string_view text) {
    return writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}
}  // namespace

std::optional<std::string> ZygoteLoadLine(
    const std::vector<std::string>& argv_tail,
    const std::vector<std::pair<std::string, std::string>>& env) {
    rapidjson::StringBuffer buffer;
    // Validates the UTF-8: the launchers decode the line strictly.
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                      rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
        writer(buffer);
    bool ok = writer.StartObject() && writer.Key("argv") && writer.StartArray();
    for (const std::string& arg : argv_tail) ok = ok && WriteString(writer, arg);
    ok = ok && writer.EndArray() && writer.Key("env") && writer.StartArray();
    for (const auto& [name, value] : env) {
        if (NeedsFreshProcess(name)) return std::nullopt;
        std::string_view text(value);
        text = text.substr(0, text.find('\0'));  // what "NAME=value" as a C string holds
        ok = ok && writer.StartArray() && WriteString(writer, name) && WriteString(writer, text) &&
             writer.EndArray();
    }
    ok = ok && writer.EndArray() && writer.EndObject();
    if (!ok) return std::nullopt;
    std::string line(buffer.GetString(), buffer.GetSize());
    line.push_back('\n');
    return line;
}

Launcher::Launcher(asio::io_context& io, ChildWatcher& watcher, size_t max_line_bytes)
    : io_(io),
      watcher_(watcher),
      stdin_(io),
      results_(io),
      max_line_bytes_(max_line_bytes),
      ready_(io.get_executor()),
      load_ack_(io.get_executor()),
      write_mutex_(io.get_executor()) {}

Launcher::~Launcher() { Kill(); }

bool Launcher::OpenPipes(bool concurrent, int child_fds[2], std::string& error) {
    concurrent_ = concurrent;
    int in[2], out[2];
    if (!MakePipe(in, error)) return false;
    if (!MakePipe(out, error)) {
        ::close(in[0]);
        ::close(in[1]);
        return false;
    }
    (void)::fcntl(in[1], F_SETPIPE_SZ, kPipeSize);
    (void)::fcntl(out[0], F_SETPIPE_SZ, kPipeSize);
    stdin_.assign(in[1]);
    results_.assign(out[0]);
    child_fds[0] = in[0];
    child_fds[1] = out[1];
    return true;
}

bool Launcher::Start(SpawnSpec spec, bool concurrent, std::string& error) {
    int child[2];
    if (!OpenPipes(concurrent, child, error)) return false;
    spec.stdin_fd = child[0];
    spec.fd3 = child[1];
    const pid_t pid = Spawn(spec, error);
    ::close(child[0]);
    ::close(child[1]);
    if (pid < 0) {
        boost::system::error_code ignored;
        stdin_.close(ignored);
        results_.close(ignored);
        return false;
    }
    Attach(pid);
    return true;
}

void Launcher::AttachForked(pid_t pid) {
    loading_ = true;  // its first line is {"loading":true}
    Attach(pid);
}

void Launcher::Attach(pid_t pid) {
    pid_ = pid;
    std::weak_ptr<Launcher> weak = weak_from_this();
    watcher_.Watch(pid_, [weak](int status) {
        auto self = weak.lock();
        if (!self) return;
        self->exited_ = true;
        self->exit_description_ = DescribeWaitStatus(status);
        boost::system::error_code ignored;
        self->results_.cancel(ignored);  // ReadLoop drains what is left and closes
    });
    asio::co_spawn(
        io_, [self = shared_from_this()] { return self->ReadLoop(); }, asio::detached);
}

asio::awaitable<std::optional<std::string>> Launcher::WaitReady() {
    auto self = shared_from_this();
    co_await ready_.Wait();
    if (!acked_) co_return std::string(kExitedDuringInitText);
    if (ack_too_long_) {
        co_return "cannot start action: the launcher's ready line is longer than " +
            std::to_string(max_line_bytes_) + " bytes.";
    }
    co_return CheckAck(ack_line_);
}

asio::awaitable<Launcher::LoadOutcome> Launcher::Load(std::string line) {
    auto self = shared_from_this();
    loading_ = true;
    co_await write_mutex_.Lock();
    boost::system::error_code ec = asio::error::broken_pipe;
    if (stdin_.is_open() && !closed_) {
        ec = {};
        co_await asio::async_write(stdin_, asio::buffer(line),
                                   asio::redirect_error(asio::use_awaitable, ec));
    }
    write_mutex_.Unlock();
    // A failed write, or an end before the {"loading":true} line, means the zygote died before
    // it took the code (a write can still succeed into the pipe of a zygote being killed):
    // the caller starts a fresh process, since nothing of the action ran.
    if (ec) co_return LoadOutcome{};
    co_return co_await Loaded();
}

asio::awaitable<Launcher::LoadOutcome> Launcher::Loaded() {
    auto self = shared_from_this();
    co_await load_ack_.Wait();
    if (!load_acked_) co_return LoadOutcome{};
    // (co_await outside the braced initialiser: GCC miscompiles one inside it.)
    LoadOutcome outcome;
    outcome.failure = co_await WaitReady();
    outcome.delivered = true;
    co_return outcome;
}

asio::awaitable<LauncherResult> Launcher::Run(std::string line) {
    auto self = shared_from_this();
    if (closed_) co_return LauncherResult{};
    const uint64_t seq = next_seq_++;
    auto pending = std::make_shared<Pending>(io_.get_executor());
    pending_.emplace(seq, pending);
    std::string prefix = concurrent_ ? std::to_string(seq) + " " : std::string();
    std::array<asio::const_buffer, 2> buffers{asio::buffer(prefix), asio::buffer(line)};
    co_await write_mutex_.Lock();
    boost::system::error_code ec;
    if (stdin_.is_open()) {
        co_await asio::async_write(stdin_, buffers, asio::redirect_error(asio::use_awaitable, ec));
    }
    write_mutex_.Unlock();
    // A failed write means the launcher is gone; ReadLoop closes and wakes us.
    co_await pending->done.Wait();
    pending_.erase(seq);
    co_return std::move(pending->result);
}

asio::awaitable<void> Launcher::WaitExit(std::chrono::milliseconds limit) {
    auto self = shared_from_this();
    constexpr auto kStep = std::chrono::milliseconds(2);
    asio::steady_timer timer(io_);
    for (auto waited = std::chrono::milliseconds(0); !exited_ && waited < limit; waited += kStep) {
        timer.expires_after(kStep);
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void Launcher::Kill() {
    if (pid_ > 0 && !exited_) {
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
    }
}

asio::awaitable<void> Launcher::ReadLoop() {
    std::vector<char> chunk(256 * 1024);
    while (!exited_) {
        boost::system::error_code ec;
        size_t n = co_await results_.async_read_some(asio::buffer(chunk),
                                                     asio::redirect_error(asio::use_awaitable, ec));
        if (n > 0) {
            buffer_.append(chunk.data(), n);
            ExtractLines();
        }
        if (ec) break;  // EOF, or cancelled because the process ended
    }
    Drain();
    ExtractLines();
    Close();
}

void Launcher::Drain() {
    if (results_.is_open()) ReadAvailable(results_.native_handle(), buffer_);
}

void Launcher::ExtractLines() {
    for (;;) {
        size_t nl = buffer_.find('\n', scanned_);
        if (nl == std::string::npos) {
            if (buffer_.size() > max_line_bytes_) {
                // Answer now and drop the bytes: a line without end must not fill the memory.
                if (!skipping_) DispatchTooLong();
                skipping_ = true;
                buffer_.clear();
            }
            scanned_ = buffer_.size();
            return;
        }
        scanned_ = 0;
        if (skipping_ || nl > max_line_bytes_) {
            if (!skipping_) DispatchTooLong();
            skipping_ = false;
            buffer_.erase(0, nl + 1);
            continue;
        }
        std::string line;
        if (nl + 1 == buffer_.size()) {  // the common case: hand the buffer over, no copy
            line = std::move(buffer_);
            line.resize(nl);
            buffer_.clear();
        } else {
            line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
        }
        Dispatch(std::move(line));
    }
}

std::map<uint64_t, std::shared_ptr<Launcher::Pending>>::iterator Launcher::Addressee(
    std::string& line) {
    std::map<uint64_t, std::shared_ptr<Pending>>::iterator it = pending_.end();
    if (concurrent_) {
        uint64_t seq = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), seq);
        if (ec == std::errc() && end < line.data() + line.size() && *end == ' ') {
            it = pending_.find(seq);
            line.erase(0, static_cast<size_t>(end - line.data()) + 1);
        }
    } else {
        // Serial mode: the oldest request still waiting is the one being answered.
        for (it = pending_.begin(); it != pending_.end() && it->second->done.is_set(); ++it) {
        }
    }
    return it;
}

void Launcher::Dispatch(std::string line) {
    if (loading_ && !load_acked_) {
        load_acked_ = true;
        load_ack_.Set();
        if (line == kLoadingLine) return;
        // Any other first line is the ready line of a launcher that skipped the marker.
    }
    if (!acked_) {
        acked_ = true;
        ack_line_ = std::move(line);
        ready_.Set();
        return;
    }
    auto it = Addressee(line);
    if (it == pending_.end()) {
        (void)WriteAll(2, "wisp-action-proxy: ignoring a result line that answers no request\n");
        return;
    }
    it->second->result.line = std::move(line);
    it->second->done.Set();
}

void Launcher::DispatchTooLong() {
    if (loading_ && !load_acked_) {
        load_acked_ = true;
        load_ack_.Set();
    }
    if (!acked_) {
        acked_ = true;
        ack_too_long_ = true;
        ready_.Set();
        return;
    }
    std::string prefix = buffer_.substr(0, 24);  // "<seq> " in concurrent mode
    auto it = Addressee(prefix);
    if (it == pending_.end()) {
        (void)WriteAll(2,
                       "wisp-action-proxy: ignoring an over-long line that answers no request\n");
        return;
    }
    it->second->result.too_long = true;
    it->second->done.Set();
}

void Launcher::Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    stdin_.close(ignored);
    results_.close(ignored);
    for (auto& [seq, pending] : pending_) pending->done.Set();
    ready_.Set();
    load_ack_.Set();
}

}  // namespace wisp::proxy
