// wisp-bench: the load generator of `make bench` (bench/run.sh drives it; see bench/README.md).
// A client of the REST API and of an action proxy's /run, like any user's: it links nothing of
// the platform. Plain blocking sockets, one keep-alive connection per client thread, requests
// serialised once and replayed. Every subcommand prints one JSON object on stdout (figures in
// milliseconds) and its progress on stderr; figures are printed, never asserted.
//
//   latency     one client, blocking requests one after the other; several --url groups are
//               interleaved in blocks so that they share the machine's noise (REST vs floor)
//   closed      N clients in a closed loop for a duration: throughput, latency, errors
//   open        fixed-rate (open loop) arrivals; latency from each request's scheduled time
//   cold        first invoke of a new action per sample (optionally waiting for a stem cell)
//   paused      invoke of an action whose container docker has paused (resume cost)
//   churn       round-robin over many actions; container creates counted with docker events
//   docker-run  baseline: `docker run` + proxy up + /init + /run of an image, no Wisp
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <rapidjson/document.h>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>

namespace {

using Steady = std::chrono::steady_clock;

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

[[noreturn]] void Die(const std::string& message) {
    std::fprintf(stderr, "wisp-bench: %s\n", message.c_str());
    std::exit(2);
}

// ---------------------------------------------------------------------------------------------
// Samples and their summary

class Samples {
  public:
    void Add(double ms) { v_.push_back(ms); }
    void Append(const Samples& o) { v_.insert(v_.end(), o.v_.begin(), o.v_.end()); }
    size_t n() const { return v_.size(); }
    // Nearest rank: with fewer than 100 samples the p99 is the largest one.
    double Pct(double p) const {
        if (v_.empty()) return 0;
        Sort();
        const auto rank = static_cast<size_t>(p * static_cast<double>(v_.size()) + 0.999999);
        return v_[std::clamp<size_t>(rank, 1, v_.size()) - 1];
    }
    double Mean() const {
        double s = 0;
        for (double x : v_) s += x;
        return v_.empty() ? 0 : s / static_cast<double>(v_.size());
    }
    // {"n":..,"mean":..,"p50":..,...} in ms.
    std::string Json() const {
        char buf[512];
        std::snprintf(buf, sizeof buf,
                      R"({"n":%zu,"mean":%.4f,"min":%.4f,"p50":%.4f,"p80":%.4f,"p90":%.4f,)"
                      R"("p99":%.4f,"p999":%.4f,"max":%.4f})",
                      n(), Mean(), Pct(0), Pct(0.5), Pct(0.8), Pct(0.9), Pct(0.99), Pct(0.999),
                      Pct(1.0));
        return buf;
    }

  private:
    void Sort() const {
        if (!sorted_) std::sort(v_.begin(), v_.end());
        sorted_ = true;
    }
    mutable std::vector<double> v_;
    mutable bool sorted_ = false;
};

std::string JsonString(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client: one keep-alive connection over TCP (plain or TLS) or a unix socket

// http://HOST:PORT/PATH, https://HOST:PORT/PATH or unix:/SOCKET/PATH:/REQUEST-PATH
struct Url {
    std::string host;  // numeric IPv4 (TCP)
    int port = 0;
    bool tls = false;
    std::string socket;  // unix socket path, when set
    std::string path = "/";
};

// One client TLS context for every connection. The benchmark talks to a front door on loopback
// with the self-signed certificate tools/local-cluster.sh made (like `wsk -i`), so the peer is
// not verified; session tickets make a reconnect cheap.
SSL_CTX* TlsContext() {
    static SSL_CTX* ctx = [] {
        SSL_CTX* c = SSL_CTX_new(TLS_client_method());
        if (c == nullptr) Die("cannot create a TLS context (OpenSSL)");
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
        return c;
    }();
    return ctx;
}

Url ParseUrl(const std::string& s) {
    Url u;
    if (s.rfind("unix:", 0) == 0) {
        const auto colon = s.find(':', 5);
        if (colon == std::string::npos) Die("unix URL needs :/path after the socket: " + s);
        u.socket = s.substr(5, colon - 5);
        u.path = s.substr(colon + 1);
        return u;
    }
    if (s.rfind("https://", 0) == 0) {
        u.tls = true;
    } else if (s.rfind("http://", 0) != 0) {
        Die("URL must start with http://, https:// or unix: " + s);
    }
    const auto rest = s.substr(u.tls ? 8 : 7);
    const auto slash = rest.find('/');
    const auto hostport = rest.substr(0, slash);
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (u.host == "localhost") u.host = "127.0.0.1";
    u.port =
        colon == std::string::npos ? (u.tls ? 443 : 80) : std::atoi(hostport.c_str() + colon + 1);
    return u;
}

// The bytes of one request, serialised once.
std::string BuildRequest(const std::string& method, const Url& url, const std::string& auth,
                         const std::string& body) {
    std::string r = method + " " + url.path + " HTTP/1.1\r\nHost: " +
                    (url.socket.empty() ? url.host + ":" + std::to_string(url.port)
                                        : std::string("localhost")) +
                    "\r\n";
    if (!auth.empty()) r += "Authorization: Basic " + wisp::common::Base64Encode(auth) + "\r\n";
    r += "Content-Type: application/json\r\nAccept: application/json\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return r;
}

struct Response {
    int status = 0;  // 0: transport failure (connect, reset, timeout, unparsable)
    std::string body;
};

class Connection {
  public:
    explicit Connection(Url url, int timeout_s = 120)
        : url_(std::move(url)), timeout_s_(timeout_s) {}
    ~Connection() { Close(); }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Sends `request` (from BuildRequest) and reads the whole response. Reconnects once when a
    // kept-alive connection turns out closed before anything was answered.
    Response Send(const std::string& request) {
        for (int attempt = 0; attempt < 2; ++attempt) {
            const bool fresh = fd_ < 0;
            if (fresh && !Connect()) return {};
            if (!WriteAll(request)) {
                Close();
                if (fresh) return {};
                continue;
            }
            Response r;
            bool got_any = false;
            if (ReadResponse(r, got_any)) return r;
            Close();
            if (fresh || got_any) return {};
        }
        return {};
    }

    void Close() {
        if (ssl_ != nullptr) {
            SSL_free(ssl_);  // no close_notify: the peer sees the TCP close
            ssl_ = nullptr;
        }
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        buf_.clear();
    }

  private:
    bool Connect() {
        if (!url_.socket.empty()) {
            fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            if (url_.socket.size() >= sizeof a.sun_path) Die("socket path too long");
            std::memcpy(a.sun_path, url_.socket.c_str(), url_.socket.size() + 1);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                Close();
                return false;
            }
        } else {
            fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(static_cast<uint16_t>(url_.port));
            ::inet_pton(AF_INET, url_.host.c_str(), &a.sin_addr);
            if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
                Close();
                return false;
            }
            int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        timeval tv{timeout_s_, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (url_.tls) {
            ssl_ = SSL_new(TlsContext());
            if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) {
                Close();
                return false;
            }
            SSL_set_tlsext_host_name(ssl_, url_.host.c_str());
            if (session_ != nullptr) SSL_set_session(ssl_, session_.get());
            if (SSL_connect(ssl_) != 1) {
                ERR_clear_error();
                Close();
                return false;
            }
            if (SSL_SESSION* got = SSL_get1_session(ssl_)) session_.reset(got);
        }
        return true;
    }

    bool WriteAll(const std::string& data) {
        size_t off = 0;
        while (off < data.size()) {
            if (ssl_ != nullptr) {
                const int n =
                    SSL_write(ssl_, data.data() + off,
                              static_cast<int>(std::min<size_t>(data.size() - off, 1 << 30)));
                if (n <= 0) return false;
                off += static_cast<size_t>(n);
                continue;
            }
            const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<size_t>(n);
        }
        return true;
    }

    // Appends to buf_; false on EOF, error or timeout.
    bool Fill() {
        char tmp[16384];
        const ssize_t n =
            ssl_ != nullptr ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
    }

    static std::string Lower(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }

    bool ReadResponse(Response& r, bool& got_any) {
        size_t head_end;
        while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
            if (!Fill()) return false;
            got_any = true;
        }
        got_any = true;
        const std::string head = Lower(buf_.substr(0, head_end));
        if (head.size() < 12 || head.rfind("http/1.", 0) != 0) return false;
        r.status = std::atoi(head.c_str() + 9);
        bool close = head.rfind("http/1.0", 0) == 0;
        std::optional<size_t> length;
        bool chunked = false;
        size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos < head.size()) {
            const size_t next = head.find("\r\n", pos + 2);
            const std::string line = head.substr(
                pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
            if (line.rfind("content-length:", 0) == 0) {
                length = std::strtoull(line.c_str() + 15, nullptr, 10);
            } else if (line.rfind("transfer-encoding:", 0) == 0 &&
                       line.find("chunked") != std::string::npos) {
                chunked = true;
            } else if (line.rfind("connection:", 0) == 0) {
                if (line.find("close") != std::string::npos) close = true;
                if (line.find("keep-alive") != std::string::npos) close = false;
            }
            pos = next;
        }
        buf_.erase(0, head_end + 4);
        if (chunked) {
            r.body.clear();
            for (;;) {
                size_t eol;
                while ((eol = buf_.find("\r\n")) == std::string::npos) {
                    if (!Fill()) return false;
                }
                const size_t size = std::strtoull(buf_.c_str(), nullptr, 16);
                while (buf_.size() < eol + 2 + size + 2) {
                    if (!Fill()) return false;
                }
                r.body.append(buf_, eol + 2, size);
                buf_.erase(0, eol + 2 + size + 2);
                if (size == 0) break;
            }
        } else if (length) {
            while (buf_.size() < *length) {
                if (!Fill()) return false;
            }
            r.body = buf_.substr(0, *length);
            buf_.erase(0, *length);
        } else {
            while (Fill()) {
            }
            r.body = std::move(buf_);
            close = true;
        }
        if (close) Close();
        return true;
    }

    struct SessionFree {
        void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
    };

    Url url_;
    int timeout_s_;
    int fd_ = -1;
    SSL* ssl_ = nullptr;
    std::unique_ptr<SSL_SESSION, SessionFree> session_;  // resumed on a reconnect
    std::string buf_;
};

// ---------------------------------------------------------------------------------------------
// Command line

class Args {
  public:
    Args(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) list_.emplace_back(argv[i]);
    }
    // Every (flag, value) pair in order; `--flag` without a value gets "1".
    std::vector<std::pair<std::string, std::string>> Pairs() const {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t i = 0; i < list_.size(); ++i) {
            if (list_[i].rfind("-", 0) != 0) Die("unexpected argument " + list_[i]);
            if (i + 1 < list_.size() && list_[i + 1].rfind("-", 0) != 0) {
                out.emplace_back(list_[i], list_[i + 1]);
                ++i;
            } else {
                out.emplace_back(list_[i], "1");
            }
        }
        return out;
    }
    std::string Get(const std::string& flag, const std::string& fallback = "") const {
        std::string v = fallback;
        for (const auto& [k, val] : Pairs()) {
            if (k == flag) v = val;
        }
        return v;
    }
    double Num(const std::string& flag, double fallback) const {
        const auto v = Get(flag);
        return v.empty() ? fallback : std::atof(v.c_str());
    }
    std::string Need(const std::string& flag) const {
        auto v = Get(flag);
        if (v.empty()) Die(flag + " is required");
        return v;
    }

  private:
    std::vector<std::string> list_;
};

// ---------------------------------------------------------------------------------------------
// Helpers: shell, resident memory, REST calls

// Runs a shell command; its stdout without the trailing newline, or nothing when it failed.
std::optional<std::string> Shell(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return std::nullopt;
    std::string out;
    char buf[4096];
    size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
    if (::pclose(p) != 0) return std::nullopt;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::vector<std::string> Lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) out.push_back(line);
    }
    return out;
}

// VmRSS of a process in MB, or -1.
double RssMb(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
    }
    return -1;
}

// CPU time (user + system, /proc/PID/stat fields 14 and 15) of a process in ms, or -1.
double CpuMs(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto paren = stat.rfind(')');  // the command name may hold spaces and parentheses
    if (paren == std::string::npos) return -1;
    std::istringstream in(stat.substr(paren + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {  // field 3 is the state
        if (i == 14) utime = std::atof(field.c_str());
        if (i == 15) stime = std::atof(field.c_str());
    }
    return (utime + stime) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Open file descriptors of a process (entries of /proc/PID/fd), or -1.
int OpenFds(int pid) {
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return -1;
    int n = 0;
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    return n;
}

std::string ProcName(int pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(f, name);
    return name;
}

// Start, end, max (and median) of a sampled figure over the measured window.
struct Track {
    std::vector<std::pair<double, double>> points;  // (seconds into the window, value)
    void Add(double t, double v) {
        if (v >= 0) points.emplace_back(t, v);
    }
    // The value at `t` seconds into the window (the first sample at or after it), or the last.
    double At(double t) const {
        for (const auto& [pt, v] : points) {
            if (pt >= t) return v;
        }
        return points.empty() ? -1 : points.back().second;
    }
    std::string Json(const char* fmt_value) const {
        if (points.empty()) return "null";
        Samples s;
        for (const auto& p : points) s.Add(p.second);
        const double span = points.back().first;
        char buf[320];
        std::string f = std::string(R"({"start":)") + fmt_value + R"(,"after_10pct":)" + fmt_value +
                        R"(,"end":)" + fmt_value + R"(,"max":)" + fmt_value + R"(,"median":)" +
                        fmt_value + R"(,"n":%zu})";
        std::snprintf(buf, sizeof buf, f.c_str(), points.front().second, At(span * 0.1),
                      points.back().second, s.Pct(1.0), s.Pct(0.5), s.n());
        return buf;
    }
    // [[t, v], ...] thinned to about `max_points` points (for the chart).
    std::string Series(size_t max_points) const {
        std::string out = "[";
        const size_t step = std::max<size_t>(1, points.size() / std::max<size_t>(1, max_points));
        for (size_t i = 0; i < points.size(); i += step) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%s[%.1f,%.2f]", out.size() > 1 ? "," : "",
                          points[i].first, points[i].second);
            out += buf;
        }
        return out + "]";
    }
};

// Watches platform processes over the measured window [from, to] (--watch-pid, repeatable):
// CPU time at both ends (read at those instants), VmRSS every 100 ms, open fds and (with
// --watch-invoker ID) the invoker's containers every `slow_every` seconds.
class Watcher {
  public:
    Watcher(const Args& a, Steady::time_point from, Steady::time_point to,
            double slow_every_s = 1.0)
        : from_(from), to_(to), slow_every_s_(slow_every_s) {
        for (const auto& [k, v] : a.Pairs()) {
            if (k == "--watch-pid" && std::atoi(v.c_str()) > 0) {
                procs_.push_back(Proc{std::atoi(v.c_str()), ProcName(std::atoi(v.c_str()))});
            }
        }
        invoker_ = a.Get("--watch-invoker");
        if (procs_.empty() && invoker_.empty()) return;
        thread_ = std::thread([this] { Run(); });
    }
    ~Watcher() { Stop(); }
    void Stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    // ,"rss_mb":{...of the first pid...},"watch":[...],"containers":{...}; "" when not
    // watching. `invokes` are the requests completed in the window (CPU per invoke).
    std::string JsonFields(size_t invokes, bool series) {
        // The end readings are taken at the end of the window: an open loop's last answer may
        // come just before it.
        if (thread_.joinable()) std::this_thread::sleep_until(to_);
        Stop();
        std::string out;
        if (!procs_.empty() && !procs_[0].rss.points.empty()) {
            const auto& r = procs_[0].rss;
            Samples s;
            for (const auto& p : r.points) s.Add(p.second);
            char buf[160];
            std::snprintf(buf, sizeof buf,
                          R"(,"rss_mb":{"pid":%d,"median":%.1f,"max":%.1f,"n":%zu})", procs_[0].pid,
                          s.Pct(0.5), s.Pct(1.0), s.n());
            out += buf;
        }
        if (!procs_.empty()) {
            out += R"(,"watch":[)";
            for (size_t i = 0; i < procs_.size(); ++i) {
                const auto& p = procs_[i];
                const double cpu =
                    p.cpu_end >= 0 && p.cpu_start >= 0 ? p.cpu_end - p.cpu_start : -1;
                char buf[256];
                std::snprintf(buf, sizeof buf,
                              R"(%s{"pid":%d,"name":%s,"cpu_ms":%.1f,"cpu_per_invoke_ms":%.4f,)",
                              i ? "," : "", p.pid, JsonString(p.name).c_str(), cpu,
                              invokes && cpu >= 0 ? cpu / static_cast<double>(invokes) : -1.0);
                out += buf;
                out += R"("rss_mb":)" + p.rss.Json("%.1f") + R"(,"fds":)" + p.fds.Json("%.0f");
                if (series) out += R"(,"rss_series":)" + p.rss.Series(120);
                out += "}";
            }
            out += "]";
        }
        if (!invoker_.empty()) out += R"(,"containers":)" + containers_.Json("%.0f");
        return out;
    }
    // One line for the summary on stderr.
    std::string Summary(size_t invokes) const {
        std::string out;
        for (const auto& p : procs_) {
            char buf[200];
            const double cpu = p.cpu_end - p.cpu_start;
            std::snprintf(buf, sizeof buf,
                          " | %s: CPU %.3f ms/invoke, RSS %.1f -> %.1f MB, fds %.0f -> %.0f",
                          p.name.c_str(), invokes ? cpu / static_cast<double>(invokes) : 0.0,
                          p.rss.At(0), p.rss.At(1e18), p.fds.At(0), p.fds.At(1e18));
            out += buf;
        }
        if (!containers_.points.empty()) {
            out += " | containers " + std::to_string(static_cast<int>(containers_.At(0))) + " -> " +
                   std::to_string(static_cast<int>(containers_.At(1e18)));
        }
        return out;
    }

  private:
    struct Proc {
        int pid;
        std::string name;
        double cpu_start = -1, cpu_end = -1;
        Track rss, fds;
    };

    void Run() {
        std::this_thread::sleep_until(from_);
        for (auto& p : procs_) p.cpu_start = CpuMs(p.pid);
        double next_slow = 0;
        for (auto now = Steady::now(); !stop_.load() && now < to_; now = Steady::now()) {
            const double t = std::chrono::duration<double>(now - from_).count();
            const bool slow = t >= next_slow;
            if (slow) next_slow += slow_every_s_;
            for (auto& p : procs_) {
                p.rss.Add(t, RssMb(p.pid));
                if (slow) p.fds.Add(t, OpenFds(p.pid));
            }
            if (slow && !invoker_.empty()) {
                const auto ids =
                    Shell("docker ps -q --filter label=wisp.invoker=" + invoker_ + " 2>/dev/null");
                if (ids) containers_.Add(t, static_cast<double>(Lines(*ids).size()));
            }
            std::this_thread::sleep_until(std::min(now + std::chrono::milliseconds(100), to_));
        }
        if (stop_.load() && Steady::now() < to_) return;  // stopped early: no end reading
        for (auto& p : procs_) {
            p.cpu_end = CpuMs(p.pid);
            p.rss.Add(std::chrono::duration<double>(to_ - from_).count(), RssMb(p.pid));
            p.fds.Add(std::chrono::duration<double>(to_ - from_).count(), OpenFds(p.pid));
        }
        if (!invoker_.empty()) {
            const auto ids =
                Shell("docker ps -q --filter label=wisp.invoker=" + invoker_ + " 2>/dev/null");
            if (ids) {
                containers_.Add(std::chrono::duration<double>(to_ - from_).count(),
                                static_cast<double>(Lines(*ids).size()));
            }
        }
    }

    Steady::time_point from_, to_;
    double slow_every_s_;
    std::vector<Proc> procs_;
    std::string invoker_;
    Track containers_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// The REST API of one platform: base URL (http://127.0.0.1:PORT) and guest credentials.
struct Api {
    std::string base;
    std::string auth;

    std::string ActionUrl(const std::string& name, const std::string& query = "") const {
        return base + "/api/v1/namespaces/_/actions/" + name + query;
    }

    // PUT the no-op python action `name` (overwrite); false on any answer but 200.
    bool PutNoop(Connection& c, const std::string& name, const std::string& kind,
                 int memory_mb) const {
        std::string body =
            R"({"exec":{"kind":")" + kind + R"(","code":"def main(args):\n    return {}\n"})";
        if (memory_mb > 0) body += R"(,"limits":{"memory":)" + std::to_string(memory_mb) + "}";
        body += "}";
        const auto r =
            c.Send(BuildRequest("PUT", ParseUrl(ActionUrl(name, "?overwrite=true")), auth, body));
        if (r.status != 200) {
            std::fprintf(stderr, "PUT action %s: HTTP %d %s\n", name.c_str(), r.status,
                         r.body.c_str());
            return false;
        }
        return true;
    }
};

Api ApiFrom(const Args& a) { return Api{a.Need("--api"), a.Get("--auth")}; }

// The record's annotations of interest (waitTime, initTime), in ms.
struct RecordSplit {
    std::optional<double> wait_ms, init_ms;
};

RecordSplit ParseRecord(const std::string& body) {
    RecordSplit s;
    rapidjson::Document d;
    if (!wisp::json::ParseBounded(body, d).empty() || !d.IsObject()) return s;
    auto it = d.FindMember("annotations");
    if (it == d.MemberEnd() || !it->value.IsArray()) return s;
    for (const auto& a : it->value.GetArray()) {
        if (!a.IsObject() || !a.HasMember("key") || !a.HasMember("value")) continue;
        if (!a["key"].IsString() || !a["value"].IsNumber()) continue;
        const std::string key = a["key"].GetString();
        if (key == "waitTime") s.wait_ms = a["value"].GetDouble();
        if (key == "initTime") s.init_ms = a["value"].GetDouble();
    }
    return s;
}

std::string Stamp() {
    char buf[32];
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(now).count());
    return buf;
}

// ---------------------------------------------------------------------------------------------
// latency: one client; --url groups interleaved in blocks

struct Target {
    std::string name;
    Url url;
    std::string method = "POST";
    std::string auth;
    std::string body = "{}";
    std::string request;
};

int CmdLatency(const Args& a) {
    std::vector<Target> targets;
    int n = 1000, warmup = 200, block = 100;
    for (const auto& [k, v] : a.Pairs()) {
        if (k == "--url") {
            targets.emplace_back();
            targets.back().url = ParseUrl(v);
            targets.back().name = "t" + std::to_string(targets.size());
        } else if (k == "-n" || k == "--samples") {
            n = std::atoi(v.c_str());
        } else if (k == "--warmup") {
            warmup = std::atoi(v.c_str());
        } else if (k == "--block") {
            block = std::max(1, std::atoi(v.c_str()));
        } else if (targets.empty()) {
            Die(k + " must follow a --url");
        } else if (k == "--name") {
            targets.back().name = v;
        } else if (k == "--auth") {
            targets.back().auth = v;
        } else if (k == "--body") {
            targets.back().body = v;
        } else if (k == "--method") {
            targets.back().method = v;
        } else {
            Die("latency: unknown flag " + k);
        }
    }
    if (targets.empty()) Die("latency: give at least one --url");
    std::vector<std::unique_ptr<Connection>> conns;
    for (auto& t : targets) {
        t.request = BuildRequest(t.method, t.url, t.auth, t.body);
        conns.push_back(std::make_unique<Connection>(t.url));
    }
    std::vector<Samples> samples(targets.size());
    std::vector<int> errors(targets.size(), 0);
    std::vector<std::string> last_error(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) {
        for (int w = 0; w < warmup; ++w) (void)conns[i]->Send(targets[i].request);
    }
    for (int done = 0; done < n;) {
        const int todo = std::min(block, n - done);
        for (size_t i = 0; i < targets.size(); ++i) {
            for (int k = 0; k < todo; ++k) {
                const auto t0 = Steady::now();
                const auto r = conns[i]->Send(targets[i].request);
                const double ms = Ms(Steady::now() - t0);
                if (r.status == 200) {
                    samples[i].Add(ms);
                } else {
                    ++errors[i];
                    last_error[i] = std::to_string(r.status) + " " + r.body.substr(0, 200);
                }
            }
        }
        done += todo;
    }
    std::string out = R"({"rows":[)";
    for (size_t i = 0; i < targets.size(); ++i) {
        if (i) out += ",";
        out += R"({"name":)" + JsonString(targets[i].name) + R"(,"errors":)" +
               std::to_string(errors[i]) + R"(,"latency_ms":)" + samples[i].Json() + "}";
        std::fprintf(stderr, "latency %-12s n=%zu p50=%.3f ms p99=%.3f ms errors=%d %s\n",
                     targets[i].name.c_str(), samples[i].n(), samples[i].Pct(0.5),
                     samples[i].Pct(0.99), errors[i], last_error[i].c_str());
    }
    std::printf("%s]}\n", out.c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// closed: N clients, each one request at a time, for a duration

int CmdClosed(const Args& a) {
    const Url url = ParseUrl(a.Need("--url"));
    const std::string request =
        BuildRequest(a.Get("--method", "POST"), url, a.Get("--auth"), a.Get("--body", "{}"));
    const int clients = static_cast<int>(a.Num("--clients", 1));
    const double warmup_s = a.Num("--warmup", 2), duration_s = a.Num("--duration", 5);

    std::vector<Samples> per(static_cast<size_t>(clients));
    std::vector<int> errors(static_cast<size_t>(clients), 0);
    std::vector<size_t> finished(static_cast<size_t>(clients), 0);  // 200s ending in the window
    std::vector<std::string> last_error(static_cast<size_t>(clients));
    const auto start = Steady::now() + std::chrono::milliseconds(50);
    const auto measure_from = start + std::chrono::duration_cast<Steady::duration>(
                                          std::chrono::duration<double>(warmup_s));
    const auto end = measure_from + std::chrono::duration_cast<Steady::duration>(
                                        std::chrono::duration<double>(duration_s));
    Watcher watch(a, measure_from, end);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            Connection conn(url);
            std::this_thread::sleep_until(start);
            for (;;) {
                const auto t0 = Steady::now();
                if (t0 >= end) break;
                const auto r = conn.Send(request);
                const auto t1 = Steady::now();
                // The platform's CPU time over the window is divided by the invokes that
                // finished in it.
                if (r.status == 200 && t1 >= measure_from && t1 <= end) {
                    ++finished[static_cast<size_t>(c)];
                }
                // Counted when it started in the window and finished by its end.
                if (t0 < measure_from || t1 > end) continue;
                if (r.status == 200) {
                    per[static_cast<size_t>(c)].Add(Ms(t1 - t0));
                } else {
                    ++errors[static_cast<size_t>(c)];
                    last_error[static_cast<size_t>(c)] =
                        std::to_string(r.status) + " " + r.body.substr(0, 200);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    Samples all;
    int errs = 0;
    size_t done = 0;
    std::string last;
    for (size_t c = 0; c < per.size(); ++c) {
        all.Append(per[c]);
        errs += errors[c];
        done += finished[c];
        if (!last_error[c].empty()) last = last_error[c];
    }
    const std::string watched = watch.JsonFields(done, false);
    const double rps = static_cast<double>(all.n()) / duration_s;
    std::fprintf(stderr, "closed %3d clients: %.0f/s p50=%.3f ms p99=%.3f ms errors=%d%s %s\n",
                 clients, rps, all.Pct(0.5), all.Pct(0.99), errs, watch.Summary(done).c_str(),
                 last.c_str());
    std::printf(R"({"clients":%d,"duration_s":%.1f,"ok":%zu,"errors":%d,"rps":%.1f,)"
                R"("finished_in_window":%zu,"latency_ms":%s%s})"
                "\n",
                clients, duration_s, all.n(), errs, rps, done, all.Json().c_str(), watched.c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// open: arrivals at a fixed rate, whatever the answers do; latency counted from the time a
// request was due (no coordinated omission: a request waiting for a free connection waits on
// the clock).

int CmdOpen(const Args& a) {
    const Url url = ParseUrl(a.Need("--url"));
    const std::string request =
        BuildRequest(a.Get("--method", "POST"), url, a.Get("--auth"), a.Get("--body", "{}"));
    const double rate = a.Num("--rate", 100);
    const int conns = static_cast<int>(a.Num("--connections", 64));
    const double warmup_s = a.Num("--warmup", 1), duration_s = a.Num("--duration", 5);
    // --series-s S: latency per window of S seconds of due times (a soak's stalls over time).
    const double series_s = a.Num("--series-s", 0);
    const auto total = static_cast<int64_t>(rate * (warmup_s + duration_s));
    const auto warm = static_cast<int64_t>(rate * warmup_s);
    const auto start = Steady::now() + std::chrono::milliseconds(50);
    const auto measure_from = start + std::chrono::duration_cast<Steady::duration>(
                                          std::chrono::duration<double>(warmup_s));
    Watcher watch(a, measure_from,
                  measure_from + std::chrono::duration_cast<Steady::duration>(
                                     std::chrono::duration<double>(duration_s)),
                  duration_s >= 60 ? 5.0 : 1.0);
    std::atomic<int64_t> next{0};
    std::vector<Samples> per(static_cast<size_t>(conns));
    std::vector<int> errors(static_cast<size_t>(conns), 0);
    std::vector<std::string> last_error(static_cast<size_t>(conns));
    std::vector<std::vector<std::pair<int, float>>> windows(static_cast<size_t>(conns));
    std::atomic<int64_t> late{0};  // sent more than 1 ms after they were due
    // Owned here, not by the threads: a thread ends once no request is left for it, and its
    // connection must not close before the end readings (the watched process's open fds).
    std::vector<std::unique_ptr<Connection>> connections;
    for (int c = 0; c < conns; ++c) connections.push_back(std::make_unique<Connection>(url));
    std::vector<std::thread> threads;
    for (int c = 0; c < conns; ++c) {
        threads.emplace_back([&, c] {
            Connection& conn = *connections[static_cast<size_t>(c)];
            for (;;) {
                const int64_t i = next.fetch_add(1);
                if (i >= total) break;
                const double due_s = static_cast<double>(i) / rate;
                const auto due = start + std::chrono::duration_cast<Steady::duration>(
                                             std::chrono::duration<double>(due_s));
                std::this_thread::sleep_until(due);
                const auto sent = Steady::now();
                const auto r = conn.Send(request);
                if (i < warm) continue;
                if (sent - due > std::chrono::milliseconds(1)) late.fetch_add(1);
                const double ms = Ms(Steady::now() - due);
                const auto slot = static_cast<size_t>(c);
                if (series_s > 0) {
                    // An error is kept as a negative latency in its window.
                    windows[slot].emplace_back(static_cast<int>((due_s - warmup_s) / series_s),
                                               static_cast<float>(r.status == 200 ? ms : -1.0));
                }
                if (r.status == 200) {
                    per[slot].Add(ms);
                } else {
                    ++errors[slot];
                    last_error[slot] = std::to_string(r.status) + " " + r.body.substr(0, 200);
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const double took = std::chrono::duration<double>(Steady::now() - start).count() - warmup_s;
    Samples all;
    int errs = 0;
    std::string last;
    for (size_t c = 0; c < per.size(); ++c) {
        all.Append(per[c]);
        errs += errors[c];
        if (!last_error[c].empty()) last = last_error[c];
    }
    std::string series;
    if (series_s > 0) {
        std::map<int, std::pair<Samples, int>> by_window;  // window -> (latencies, errors)
        for (const auto& w : windows) {
            for (const auto& [k, ms] : w) {
                if (ms < 0) {
                    ++by_window[k].second;
                } else {
                    by_window[k].first.Add(ms);
                }
            }
        }
        series = R"(,"series_s":)" + std::to_string(series_s) + R"(,"series":[)";
        for (const auto& [k, v] : by_window) {
            char buf[200];
            std::snprintf(buf, sizeof buf,
                          R"(%s{"t":%.1f,"n":%zu,"errors":%d,"p50":%.3f,"p99":%.3f,"max":%.3f})",
                          series.back() == '[' ? "" : ",", k * series_s, v.first.n(), v.second,
                          v.first.Pct(0.5), v.first.Pct(0.99), v.first.Pct(1.0));
            series += buf;
        }
        series += "]";
    }
    const std::string watched = watch.JsonFields(all.n(), series_s > 0);
    const double achieved = static_cast<double>(all.n()) / std::max(took, 1e-3);
    std::fprintf(stderr,
                 "open %.0f/s offered: %.0f/s done, p50=%.3f ms p99=%.3f ms p99.9=%.3f ms "
                 "max=%.3f ms errors=%d late=%ld%s %s\n",
                 rate, achieved, all.Pct(0.5), all.Pct(0.99), all.Pct(0.999), all.Pct(1.0), errs,
                 static_cast<long>(late.load()), watch.Summary(all.n()).c_str(), last.c_str());
    std::printf(R"({"rate":%.1f,"connections":%d,"duration_s":%.1f,"achieved_rps":%.1f,)"
                R"("errors":%d,"late":%ld,"latency_ms":%s%s%s})"
                "\n",
                rate, conns, duration_s, achieved, errs, static_cast<long>(late.load()),
                all.Json().c_str(), watched.c_str(), series.c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Containers of one invoker (label wisp.invoker=<id>), through the docker CLI (not timed)

std::vector<std::string> RunningContainers(const std::string& invoker, const std::string& name,
                                           const std::string& status = "running") {
    const auto out =
        Shell("docker ps -q --no-trunc --filter label=wisp.invoker=" + invoker +
              " --filter name=" + name + " --filter status=" + status + " 2>/dev/null");
    return out ? Lines(*out) : std::vector<std::string>{};
}

// Waits until the proxy of container `id` answers on its unix socket (as the pool does).
bool ProxyAnswers(const std::string& id, std::chrono::seconds limit) {
    const auto src = Shell(
        "docker inspect -f '{{range .Mounts}}{{if eq .Destination \"/run/wisp\"}}{{.Source}}"
        "{{end}}{{end}}' " +
        id + " 2>/dev/null");
    if (!src || src->empty()) return false;
    const Url url = ParseUrl("unix:" + *src + "/proxy.sock:/");
    const std::string probe = BuildRequest("POST", url, "", "{}");
    const auto until = Steady::now() + limit;
    while (Steady::now() < until) {
        Connection c(url, 5);
        if (c.Send(probe).status != 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// cold: a new action per sample, first invoke timed (blocking, the record comes back)

int CmdCold(const Args& a) {
    const Api api = ApiFrom(a);
    const int n = static_cast<int>(a.Num("-n", 20));
    const std::string kind = a.Get("--kind", "python:3");
    const int memory = static_cast<int>(a.Num("--memory", 0));
    const std::string prefix = a.Get("--prefix", "cold");
    // With --stem-cell NAME (e.g. prewarm_python) and --invoker ID: before each sample, wait
    // until a fresh stem cell of that name runs and its proxy answers, then --settle-ms more.
    const std::string stem = a.Get("--stem-cell");
    const std::string invoker = a.Get("--invoker");
    const int settle_ms = static_cast<int>(a.Num("--settle-ms", 300));
    if (!stem.empty() && invoker.empty()) Die("cold --stem-cell needs --invoker");

    Connection rest(ParseUrl(api.base));
    Samples lat, wait, init, no_wait_lat;
    int errors = 0, from_stem = 0;
    std::set<std::string> used;
    for (int i = 0; i < n; ++i) {
        const std::string name =
            prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(i);
        if (!api.PutNoop(rest, name, kind, memory)) return 1;
        if (!stem.empty()) {
            const auto until = Steady::now() + std::chrono::seconds(60);
            std::string fresh;
            while (fresh.empty() && Steady::now() < until) {
                for (const auto& id : RunningContainers(invoker, stem)) {
                    if (!used.count(id)) fresh = id;
                }
                if (fresh.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
            if (fresh.empty() || !ProxyAnswers(fresh, std::chrono::seconds(30))) {
                std::fprintf(stderr, "cold: no fresh stem cell %s within 60 s\n", stem.c_str());
                return 1;
            }
            used.insert(fresh);
            std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
        }
        const auto req =
            BuildRequest("POST", ParseUrl(api.ActionUrl(name, "?blocking=true")), api.auth, "{}");
        const auto t0 = Steady::now();
        const auto r = rest.Send(req);
        const double ms = Ms(Steady::now() - t0);
        if (r.status != 200) {
            ++errors;
            std::fprintf(stderr, "cold %s: HTTP %d %s\n", name.c_str(), r.status,
                         r.body.substr(0, 300).c_str());
            continue;
        }
        lat.Add(ms);
        const auto split = ParseRecord(r.body);
        if (split.wait_ms) {
            wait.Add(*split.wait_ms);
            if (*split.wait_ms < 5) {
                ++from_stem;
                no_wait_lat.Add(ms);
            }
        }
        if (split.init_ms) init.Add(*split.init_ms);
    }
    std::fprintf(stderr,
                 "cold %s: n=%zu p50=%.1f ms p99=%.1f ms (waitTime p50 %.1f, initTime p50 %.1f, %d "
                 "with waitTime < 5 ms)\n",
                 prefix.c_str(), lat.n(), lat.Pct(0.5), lat.Pct(0.99), wait.Pct(0.5), init.Pct(0.5),
                 from_stem);
    // no_wait_latency_ms: the samples whose record says no container was created (waitTime <
    // 5 ms), i.e. those that really took a stem cell.
    std::printf(R"({"errors":%d,"latency_ms":%s,"wait_ms":%s,"init_ms":%s,"no_wait":%d,)"
                R"("no_wait_latency_ms":%s})"
                "\n",
                errors, lat.Json().c_str(), wait.Json().c_str(), init.Json().c_str(), from_stem,
                no_wait_lat.Json().c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// paused: invoke once, then per sample wait until docker reports the container paused, invoke

int CmdPaused(const Args& a) {
    const Api api = ApiFrom(a);
    const int n = static_cast<int>(a.Num("-n", 100));
    const std::string invoker = a.Need("--invoker");
    const std::string name = a.Get("--action", "pausebench");
    Connection rest(ParseUrl(api.base));
    if (!api.PutNoop(rest, name, "python:3", 0)) return 1;
    const auto req =
        BuildRequest("POST", ParseUrl(api.ActionUrl(name, "?blocking=true")), api.auth, "{}");
    if (rest.Send(req).status != 200) Die("paused: the first invoke failed");
    Samples lat, wait;
    int errors = 0;
    for (int i = 0; i < n; ++i) {
        const auto until = Steady::now() + std::chrono::seconds(30);
        bool paused = false;
        while (!paused && Steady::now() < until) {
            paused = !RunningContainers(invoker, "_guest_" + name, "paused").empty();
            if (!paused) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!paused) Die("paused: the container was not paused within 30 s");
        const auto t0 = Steady::now();
        const auto r = rest.Send(req);
        const double ms = Ms(Steady::now() - t0);
        if (r.status != 200) {
            ++errors;
            continue;
        }
        lat.Add(ms);
        if (const auto split = ParseRecord(r.body); split.wait_ms) wait.Add(*split.wait_ms);
    }
    std::fprintf(stderr, "paused: n=%zu p50=%.1f ms p99=%.1f ms (waitTime p50 %.1f)\n", lat.n(),
                 lat.Pct(0.5), lat.Pct(0.99), wait.Pct(0.5));
    std::printf(R"({"errors":%d,"latency_ms":%s,"wait_ms":%s})"
                "\n",
                errors, lat.Json().c_str(), wait.Json().c_str());
    return 0;
}

// ---------------------------------------------------------------------------------------------
// churn: --actions distinct actions, --clients clients each cycling through its own slice

int CountEvents(const std::string& invoker, const std::string& since, const std::string& until,
                const std::string& event) {
    const auto out =
        Shell("docker events --since " + since + " --until " + until +
              " --filter type=container --filter event=" + event +
              " --filter label=wisp.invoker=" + invoker + " --format '{{.ID}}' 2>/dev/null");
    return out ? static_cast<int>(Lines(*out).size()) : -1;
}

int CmdChurn(const Args& a) {
    const Api api = ApiFrom(a);
    const int actions = static_cast<int>(a.Num("--actions", 100));
    const int memory = static_cast<int>(a.Num("--memory", 128));
    const int clients = static_cast<int>(a.Num("--clients", 8));
    const double duration_s = a.Num("--duration", 10);
    const std::string invoker = a.Need("--invoker");
    const int budget_mb = static_cast<int>(a.Num("--budget-mb", 0));  // reported only
    std::vector<std::string> requests;
    {
        Connection rest(ParseUrl(api.base));
        for (int i = 0; i < actions; ++i) {
            const std::string name = "churn-" + std::to_string(i);
            if (!api.PutNoop(rest, name, "python:3", memory)) return 1;
            requests.push_back(
                BuildRequest("POST", ParseUrl(api.ActionUrl(name, "?blocking=true&result=true")),
                             api.auth, "{}"));
        }
    }
    // Client c cycles round-robin through its own slice of the actions (c, c + clients, ...):
    // no action is ever asked for twice at once, so a budget that holds every action's
    // container never needs a second one (with a shared counter, clients that lap a slow
    // request start duplicates, and a budget with no slack then evicts in a cascade).
    // limit > 0: each client does one round of its slice (the warm-up: the cold starts).
    auto run = [&](int64_t limit, double seconds, Samples* lat, int* errors) {
        std::vector<Samples> per(static_cast<size_t>(clients));
        std::vector<int> errs(static_cast<size_t>(clients), 0);
        const auto end = Steady::now() + std::chrono::duration_cast<Steady::duration>(
                                             std::chrono::duration<double>(seconds));
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                Connection conn(ParseUrl(api.base));
                std::vector<size_t> slice;
                for (int a = c; a < actions; a += clients) slice.push_back(static_cast<size_t>(a));
                for (size_t k = 0; !slice.empty(); ++k) {
                    if ((limit > 0 && k >= slice.size()) || Steady::now() >= end) break;
                    const auto t0 = Steady::now();
                    const auto r = conn.Send(requests[slice[k % slice.size()]]);
                    if (r.status == 200) {
                        per[static_cast<size_t>(c)].Add(Ms(Steady::now() - t0));
                    } else {
                        ++errs[static_cast<size_t>(c)];
                        std::fprintf(stderr, "churn: HTTP %d %s\n", r.status,
                                     r.body.substr(0, 200).c_str());
                    }
                }
            });
        }
        for (auto& t : threads) t.join();
        for (size_t c = 0; c < per.size(); ++c) {
            lat->Append(per[c]);
            *errors += errs[c];
        }
    };
    Samples warm_lat;
    int warm_errors = 0;
    const auto w0 = Steady::now();
    run(actions, 600, &warm_lat, &warm_errors);
    const double warm_s = std::chrono::duration<double>(Steady::now() - w0).count();
    std::fprintf(stderr, "churn warm-up: %d first invokes in %.1f s (errors %d)\n", actions, warm_s,
                 warm_errors);

    Samples lat;
    int errors = 0;
    const std::string since = Stamp();
    const auto t0 = Steady::now();
    run(0, duration_s, &lat, &errors);
    const double took = std::chrono::duration<double>(Steady::now() - t0).count();
    const std::string until = Stamp();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int creates = CountEvents(invoker, since, until, "create");
    const int destroys = CountEvents(invoker, since, until, "destroy");
    const auto all = Shell("docker ps -aq --filter label=wisp.invoker=" + invoker + " 2>/dev/null");
    const int containers_after = all ? static_cast<int>(Lines(*all).size()) : -1;
    const double rps = static_cast<double>(lat.n()) / took;
    std::fprintf(stderr,
                 "churn %d actions × %d MB, %d clients: %.1f invokes/s, p50=%.1f ms p99=%.1f ms, "
                 "errors=%d, containers created %d (%.1f/s), removed %d\n",
                 actions, memory, clients, rps, lat.Pct(0.5), lat.Pct(0.99), errors, creates,
                 creates / took, destroys);
    std::printf(
        R"({"actions":%d,"memory_mb":%d,"budget_mb":%d,"clients":%d,"duration_s":%.1f,)"
        R"("ok":%zu,"errors":%d,)"
        R"("rps":%.2f,"latency_ms":%s,"containers_created":%d,"create_rate":%.2f,)"
        R"("containers_removed":%d,"containers_after":%d,"warmup_s":%.1f,"warmup_errors":%d})"
        "\n",
        actions, memory, budget_mb, clients, took, lat.n(), errors, rps, lat.Json().c_str(),
        creates, creates / took, destroys, containers_after, warm_s, warm_errors);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// docker-run: the baseline without Wisp

constexpr const char* kInitBody =
    R"({"value":{"name":"noop","main":"main","binary":false,"code":"def main(args):\n    return {}\n"}})";

std::string RunBody() {
    return R"({"value":{},"namespace":"guest","action_name":"/guest/noop","action_version":"0.0.1",)"
           R"("activation_id":"0123456789abcdef0123456789abcdef","transaction_id":"bench",)"
           R"("deadline":"99999999999999"})";
}

int CmdDockerRun(const Args& a) {
    const std::string image = a.Get("--image", "wisp/action-python:3.11");
    const std::string label = a.Get("--label", "bench-" + std::to_string(::getpid()));
    const int n = static_cast<int>(a.Num("-n", 10));
    Samples lat;
    int errors = 0;
    for (int i = -1; i < n; ++i) {  // one unrecorded run first (page cache)
        const auto t0 = Steady::now();
        const auto id = Shell("docker run -d -p 127.0.0.1::8080 --label wisp.invoker=" + label +
                              " " + image + " 2>/dev/null");
        if (!id) Die("docker run " + image + " failed");
        bool ok = false;
        const auto port = Shell("docker port " + *id + " 8080/tcp 2>/dev/null");
        const auto sep = port ? port->find(':') : std::string::npos;
        if (sep != std::string::npos) {
            const Url base =
                ParseUrl("http://127.0.0.1:" + std::to_string(std::atoi(port->c_str() + sep + 1)));
            Url root = base, init = base, run = base;
            init.path = "/init";
            run.path = "/run";
            // docker-proxy accepts before the action proxy listens: retry until it answers.
            const auto until = Steady::now() + std::chrono::seconds(30);
            bool up = false;
            while (!up && Steady::now() < until) {
                Connection probe(root, 5);
                up = probe.Send(BuildRequest("POST", root, "", "{}")).status != 0;
                if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
            Connection c(base, 30);
            ok = up && c.Send(BuildRequest("POST", init, "", kInitBody)).status == 200 &&
                 c.Send(BuildRequest("POST", run, "", RunBody())).status == 200;
        }
        const double ms = Ms(Steady::now() - t0);
        (void)Shell("docker rm -f " + *id + " >/dev/null 2>&1");
        if (i < 0) continue;
        if (ok) {
            lat.Add(ms);
        } else {
            ++errors;
        }
    }
    std::fprintf(stderr, "docker run + /init + /run: n=%zu p50=%.1f ms p99=%.1f ms\n", lat.n(),
                 lat.Pct(0.5), lat.Pct(0.99));
    std::printf(R"({"image":%s,"errors":%d,"latency_ms":%s})"
                "\n",
                JsonString(image).c_str(), errors, lat.Json().c_str());
    return 0;
}

int CmdRunBody() {
    std::printf("%s\n", RunBody().c_str());
    return 0;
}

int Usage() {
    std::fprintf(stderr,
                 "usage: wisp-bench COMMAND [flags]   (bench/README.md; bench/run.sh drives it)\n"
                 "  latency --url U [--name N --auth U:P --body B --method M] [--url ...]\n"
                 "          [-n 1000] [--warmup 200] [--block 100]\n"
                 "  closed  --url U [--auth --body] --clients N [--warmup 2] [--duration 5]\n"
                 "          [--watch-pid PID]...   (CPU per invoke, RSS, fds of each PID)\n"
                 "  open    --url U [--auth --body] --rate R [--connections 64] [--warmup 1]\n"
                 "          [--duration 5] [--watch-pid PID]... [--watch-invoker ID]\n"
                 "          [--series-s 10]   (latency per 10 s window)\n"
                 "  cold    --api http://H:P --auth U:P [-n 20] [--kind python:3] [--memory MB]\n"
                 "          [--prefix P] [--stem-cell prewarm_python --invoker ID] [--settle-ms]\n"
                 "  paused  --api --auth --invoker ID [-n 100] [--action NAME]\n"
                 "  churn   --api --auth --invoker ID [--actions 100] [--memory 128]\n"
                 "          [--clients 8] [--duration 10]\n"
                 "  docker-run [--image wisp/action-python:3.11] [-n 10]\n"
                 "  run-body   prints the /run body used for the floor\n"
                 "URLs: http://127.0.0.1:PORT/PATH, https://127.0.0.1:PORT/PATH (certificate not\n"
                 "verified: a loopback front door) or unix:/SOCKET:/PATH\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return Usage();
    const std::string cmd = argv[1];
    const Args args(argc, argv, 2);
    if (cmd == "latency") return CmdLatency(args);
    if (cmd == "closed") return CmdClosed(args);
    if (cmd == "open") return CmdOpen(args);
    if (cmd == "cold") return CmdCold(args);
    if (cmd == "paused") return CmdPaused(args);
    if (cmd == "churn") return CmdChurn(args);
    if (cmd == "docker-run") return CmdDockerRun(args);
    if (cmd == "run-body") return CmdRunBody();
    return Usage();
}
