#include "standalone_harness.hpp"

#include <wisp/common/bounded_json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <absl/strings/str_cat.h>
#include <curl/curl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/testing/ports.hpp>

namespace wisp::e2e {

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

void GlobalCurlInit() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
    static_cast<std::string*>(user)->append(data, size * n);
    return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* user) {
    auto* headers = static_cast<std::multimap<std::string, std::string>*>(user);
    std::string line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
            value.erase(0, 1);
        }
        while (!value.empty() &&
               (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
            value.pop_back();
        }
        headers->emplace(std::move(name), std::move(value));
    } else if (line.rfind("HTTP/", 0) == 0) {
        headers->clear();  // a new response (after 100 Continue)
    }
    return size * n;
}

/// <build>/bin/<name>: test binaries live in <build>/tests (wisp_add_test).
std::string BesideTests(const std::string& name) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "build/bin/" + name;
    return (self.parent_path().parent_path() / "bin" / name).string();
}

}  // namespace

std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

CommandResult RunShell(const std::string& command) {
    CommandResult r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

std::string ShellQuote(std::string_view s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string LineValue(const std::string& text, const std::string& name) {
    std::string value;
    size_t at = 0;
    while (at < text.size()) {
        size_t eol = text.find('\n', at);
        if (eol == std::string::npos) eol = text.size();
        const std::string line = text.substr(at, eol - at);
        if (line.rfind(name + "=", 0) == 0) value = line.substr(name.size() + 1);
        at = eol + 1;
    }
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        unescaped += value[i];
    }
    return unescaped;
}

std::string StandaloneBinary() { return EnvOr("WISP_STANDALONE", BesideTests("wisp-standalone")); }
std::string AdminBinary() { return EnvOr("WISP_ADMIN", BesideTests("wisp-admin")); }

bool ClusterMode() { return EnvOr("WISP_E2E_TOPOLOGY", "") == "cluster"; }

namespace {

std::string SourceDir() {
#ifdef WISP_SOURCE_DIR
    return WISP_SOURCE_DIR;
#else
    return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().string();
#endif
}

std::string ClusterScript() { return SourceDir() + "/tools/local-cluster.sh"; }

/// The standalone flags a test passes, as local-cluster.sh's --controller-args / --invoker-args;
/// an error names a flag with no cluster equivalent (tag that test [standalone-only]).
[[nodiscard]] absl::Status MapClusterFlags(const std::vector<std::string>& args,
                                           std::string& controller, std::string& invoker) {
    static const std::vector<std::string> kController = {
        "--invocations-per-minute", "--concurrent-invocations", "--fires-per-minute",
        "--max-connections",        "--allowed-hosts",          "--metrics-token"};
    static const std::vector<std::string> kInvoker = {"--user-memory", "--pause-grace-ms",
                                                      "--container-storage", "--allowed-images"};
    // wisp-standalone's system limits (standalone/main.cpp), not the controller's OpenWhisk
    // defaults (60/min, 30 concurrent), unless the test sets its own.
    for (const auto& [flag, value] :
         std::vector<std::pair<std::string, std::string>>{{"--invocations-per-minute", "60000"},
                                                          {"--concurrent-invocations", "1000"},
                                                          {"--fires-per-minute", "60000"}}) {
        if (std::find(args.begin(), args.end(), flag) == args.end()) {
            controller += " " + flag + " " + value;
        }
    }
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const auto in = [&a](const std::vector<std::string>& v) {
            return std::find(v.begin(), v.end(), a) != v.end();
        };
        if (a == "--no-stem-cells") {
            invoker += " --no-stem-cells";
        } else if (a == "--shutdown-grace" && i + 1 < args.size()) {
            ++i;  // both components have their own; the defaults suit the tests
        } else if ((in(kController) || in(kInvoker)) && i + 1 < args.size()) {
            (in(kController) ? controller : invoker) += " " + a + " " + ShellQuote(args[i + 1]);
            ++i;
        } else {
            return absl::InvalidArgumentError(
                absl::StrCat("standalone flag ", a,
                             " has no cluster equivalent: tag the test [standalone-only]"));
        }
    }
    return absl::OkStatus();
}

}  // namespace

// ---- Standalone ------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Standalone>> Standalone::Start(StandaloneOptions options) {
    std::unique_ptr<Standalone> s(new Standalone());
    if (ClusterMode()) {
        if (!options.data_dir.empty()) {
            return absl::InvalidArgumentError(
                "a data folder (restart) has no cluster equivalent: tag the test "
                "[standalone-only]");
        }
        std::string controller_args, invoker_args;
        if (auto st = MapClusterFlags(options.args, controller_args, invoker_args); !st.ok()) {
            return st;
        }
        s->owned_dir_ = std::make_unique<testing::TempDir>("wisp-e2e-cluster-");
        s->data_dir_ = s->owned_dir_->path().string();
        const std::string build =
            std::filesystem::path(StandaloneBinary()).parent_path().parent_path().string();
        CommandResult up = RunShell(absl::StrCat(
            ShellQuote(ClusterScript()), " up --controllers 2 --invokers 2 --dir ",
            ShellQuote(s->data_dir_), " --build-dir ", ShellQuote(build), " --controller-args ",
            ShellQuote(controller_args), " --invoker-args ", ShellQuote(invoker_args)));
        s->cluster_up_ = true;  // `down` also after a failed `up` (it stops what is left)
        s->cluster_log_ = up.output;
        s->api_host_ = LineValue(up.output, "APIHOST");
        s->guest_auth_ = LineValue(up.output, "AUTH");
        std::string store = LineValue(ReadFile(s->data_dir_ + "/state"), "STORE_URI");
        store.erase(std::remove(store.begin(), store.end(), '\\'), store.end());  // %q of '?'
        s->cluster_store_uri_ = store;
        if (up.exit_code != 0 || s->api_host_.empty() || s->guest_auth_.empty()) {
            return absl::UnavailableError(
                absl::StrCat("local-cluster.sh up failed (exit ", up.exit_code, "):\n", up.output));
        }
        const auto colon = s->api_host_.rfind(':');
        s->port_ = std::atoi(s->api_host_.c_str() + colon + 1);
        return s;
    }
    if (options.data_dir.empty()) {
        s->owned_dir_ = std::make_unique<testing::TempDir>("wisp-e2e-data-");
        s->data_dir_ = s->owned_dir_->path().string();
    } else {
        s->data_dir_ = options.data_dir;
    }
    s->log_dir_ = std::make_unique<testing::TempDir>("wisp-e2e-log-");
    const std::string log_path = s->log_dir_->File("standalone.log");

    // A free port may be taken between probing and binding: retry a few times.
    absl::Status last = absl::UnknownError("not started");
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto port = testing::FindFreeLoopbackPort();
        if (!port.ok()) return port.status();
        s->port_ = *port;
        testing::SpawnOptions spawn;
        spawn.argv = {
            StandaloneBinary(), "--port", std::to_string(s->port_), "--data-dir", s->data_dir_,
            "--shutdown-grace", "20"};
        spawn.argv.insert(spawn.argv.end(), options.args.begin(), options.args.end());
        spawn.log_path = log_path;
        auto child = testing::ChildProcess::Spawn(spawn);
        if (!child.ok()) return child.status();
        s->process_ = *std::move(child);

        const std::string marker = "wsk property set --apihost ";
        const auto deadline = std::chrono::steady_clock::now() + options.ready_timeout;
        bool ready = false;
        while (std::chrono::steady_clock::now() < deadline) {
            const std::string log = ReadFile(log_path);
            const auto at = log.find(marker);
            if (at != std::string::npos) {
                const auto eol = log.find('\n', at);
                if (eol != std::string::npos) {
                    std::istringstream line(log.substr(at, eol - at));
                    std::string word, apihost, auth;
                    while (line >> word) {
                        if (word == "--apihost") line >> apihost;
                        if (word == "--auth") line >> auth;
                    }
                    s->api_host_ = apihost;
                    s->guest_auth_ = auth;
                    ready = !apihost.empty() && !auth.empty();
                    break;
                }
            }
            if (!s->process_->Running()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (ready) return s;
        const bool exited = !s->process_->Running();
        const std::string tail = s->process_->LogTail(8192);
        s->process_->Stop(std::chrono::milliseconds(5000));
        last = absl::DeadlineExceededError(
            absl::StrCat("wisp-standalone on port ", s->port_,
                         exited ? " exited before printing" : " did not print",
                         " the `wsk property set` line within ", options.ready_timeout.count(),
                         " ms; its log:\n", tail));
        std::fprintf(stderr, "%s\n", std::string(last.message()).c_str());
        // Only a lost port race is worth another try.
        if (tail.find("ddress already in use") == std::string::npos) break;
    }
    return last;
}

Standalone::~Standalone() { Stop(); }

void Standalone::Stop(std::chrono::milliseconds grace) {
    if (cluster_up_) {
        cluster_up_ = false;
        RunShell(absl::StrCat(ShellQuote(ClusterScript()), " down --dir ", ShellQuote(data_dir_)));
        return;
    }
    if (!process_) return;
    process_->Stop(grace);
    process_.reset();
    // A standalone killed before its shutdown leaves containers labelled with its invoker
    // id ("0-<port>", see standalone/main.cpp). Remove them (quietly; docker may be absent).
    const std::string label = absl::StrCat("wisp.invoker=0-", port_);
    RunShell(absl::StrCat("ids=$(docker ps -aq --filter label=", label,
                          " 2>/dev/null); [ -z \"$ids\" ] || docker rm -f $ids >/dev/null"));
}

void Standalone::Kill() {
    if (!process_) return;
    ::kill(-process_->pid(), SIGKILL);
    process_->Stop();  // reaps it (the group is already gone)
    process_.reset();
}

std::string Standalone::LogTail(size_t max_bytes) const {
    if (!cluster_log_.empty()) {
        std::string all = cluster_log_;
        for (const char* name : {"controller0", "controller1", "invoker0", "invoker1"}) {
            all += absl::StrCat("--- ", name, "\n", ReadFile(data_dir_ + "/logs/" + name + ".log"));
        }
        if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
        return all;
    }
    if (!log_dir_) return {};
    std::string all = ReadFile(log_dir_->File("standalone.log"));
    if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
    return all;
}

CommandResult RunAdmin(const std::string& store_uri, const std::vector<std::string>& args) {
    std::string cmd = ShellQuote(AdminBinary());
    for (const auto& a : args) cmd += " " + ShellQuote(a);
    cmd += " --store " + ShellQuote(store_uri);
    return RunShell(cmd);
}

// ---- HTTP ------------------------------------------------------------------------------------

std::optional<std::string> HttpResult::Header(std::string_view name) const {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto it = headers.find(lower);
    if (it == headers.end()) return std::nullopt;
    return it->second;
}

std::string HttpResult::Describe() const {
    if (status == 0) return "network error: " + error;
    std::string b = body.size() > 2000 ? body.substr(0, 2000) + "..." : body;
    return absl::StrCat(status, " ", b);
}

HttpResult HttpClient::Send(HttpRequestSpec spec) const {
    GlobalCurlInit();
    HttpResult out;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        out.error = "curl_easy_init failed";
        return out;
    }
    const std::string url = base_url_ + spec.path;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(spec.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
    if (base_url_.rfind("https://", 0) == 0) {
        // Cluster mode: nginx's self-signed certificate (deploy/nginx/make-cert.sh).
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (spec.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (spec.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, spec.method.c_str());
    }
    struct curl_slist* headers = nullptr;
    if (spec.body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, spec.body->data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(spec.body->size()));
        headers = curl_slist_append(
            headers, spec.json_content_type ? "Content-Type: application/json" : "Content-Type:");
    }
    headers = curl_slist_append(headers, "Expect:");
    for (const auto& h : spec.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (!spec.auth.empty()) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERPWD, spec.auth.c_str());
    }
    const CURLcode rc = curl_easy_perform(curl);
    if (rc != CURLE_OK) {
        out.error = curl_easy_strerror(rc);
    } else {
        long code = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        out.status = static_cast<int>(code);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return out;
}

HttpResult HttpClient::Get(const std::string& path) const {
    HttpRequestSpec s;
    s.path = path;
    s.auth = auth_;
    return Send(std::move(s));
}

HttpResult HttpClient::Delete(const std::string& path) const {
    HttpRequestSpec s;
    s.method = "DELETE";
    s.path = path;
    s.auth = auth_;
    return Send(std::move(s));
}

HttpResult HttpClient::Put(const std::string& path, const std::string& body) const {
    HttpRequestSpec s;
    s.method = "PUT";
    s.path = path;
    s.body = body;
    s.auth = auth_;
    return Send(std::move(s));
}

HttpResult HttpClient::Post(const std::string& path, const std::optional<std::string>& body) const {
    HttpRequestSpec s;
    s.method = "POST";
    s.path = path;
    s.body = body;
    s.auth = auth_;
    return Send(std::move(s));
}

// ---- JSON ------------------------------------------------------------------------------------

rapidjson::Document ParseJson(const std::string& text) {
    rapidjson::Document d;
    (void)wisp::json::ParseBounded(text, d);  // null when it is not JSON
    return d;
}

bool IsJson(const std::string& text) {
    rapidjson::Document d;
    return wisp::json::ParseBounded(text, d).empty();
}

const rapidjson::Value* Find(const rapidjson::Value& v, std::string_view dotted_path) {
    const rapidjson::Value* cur = &v;
    size_t start = 0;
    while (start <= dotted_path.size()) {
        size_t dot = dotted_path.find('.', start);
        if (dot == std::string_view::npos) dot = dotted_path.size();
        const std::string key(dotted_path.substr(start, dot - start));
        if (!cur->IsObject()) return nullptr;
        auto it = cur->FindMember(key.c_str());
        if (it == cur->MemberEnd()) return nullptr;
        cur = &it->value;
        start = dot + 1;
    }
    return cur;
}

std::optional<std::string> GetString(const rapidjson::Value& v, std::string_view dotted_path) {
    const auto* m = Find(v, dotted_path);
    if (m == nullptr || !m->IsString()) return std::nullopt;
    return std::string(m->GetString(), m->GetStringLength());
}

std::optional<int64_t> GetInt(const rapidjson::Value& v, std::string_view dotted_path) {
    const auto* m = Find(v, dotted_path);
    if (m == nullptr || !m->IsInt64()) return std::nullopt;
    return m->GetInt64();
}

std::optional<bool> GetBool(const rapidjson::Value& v, std::string_view dotted_path) {
    const auto* m = Find(v, dotted_path);
    if (m == nullptr || !m->IsBool()) return std::nullopt;
    return m->GetBool();
}

const rapidjson::Value* KeyValue(const rapidjson::Value& array, std::string_view key) {
    if (!array.IsArray()) return nullptr;
    for (const auto& e : array.GetArray()) {
        if (!e.IsObject()) continue;
        auto k = e.FindMember("key");
        if (k == e.MemberEnd() || !k->value.IsString()) continue;
        if (std::string_view(k->value.GetString(), k->value.GetStringLength()) != key) continue;
        auto val = e.FindMember("value");
        return val == e.MemberEnd() ? nullptr : &val->value;
    }
    return nullptr;
}

std::string ToJson(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return sb.GetString();
}

std::string Quote(std::string_view s) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return sb.GetString();
}

std::string UniqueName(std::string_view prefix) {
    static std::atomic<int> counter{0};
    return absl::StrCat(std::string(prefix), "-", ++counter, "-", ::getpid());
}

// ---- wsk CLI ---------------------------------------------------------------------------------

std::string WskBinary() {
    const char* v = std::getenv("WISP_WSK");
    return v != nullptr ? v : "wsk";
}

std::ostream& operator<<(std::ostream& os, const WskRun& r) {
    return os << "exit " << r.code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

WskUser::WskUser(const std::string& dir_prefix) : dir_(dir_prefix) {}

void WskUser::Write(const std::string& name, const std::string& text) const {
    std::ofstream out(File(name), std::ios::binary);
    out << text;
}

WskRun WskUser::Wsk(const std::vector<std::string>& args, const std::string& env) const {
    std::string cmd = "cd " + ShellQuote(dir_str_) + " && env -u WHISK_AUTH -u WHISK_APIHOST " +
                      "WSK_CONFIG_FILE=" + ShellQuote(File("wskprops")) + " " + env + " " +
                      ShellQuote(WskBinary());
    // Cluster mode: nginx's self-signed certificate, as a user runs `wsk -i`.
    if (ClusterMode()) cmd += " -i";
    for (const auto& a : args) cmd += " " + ShellQuote(a);
    cmd += " >" + ShellQuote(File("out.txt")) + " 2>" + ShellQuote(File("err.txt")) + " </dev/null";
    const int status = std::system(cmd.c_str());
    WskRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(File("out.txt"));
    r.err = ReadFile(File("err.txt"));
    return r;
}

WskRun WskUser::Sh(const std::string& script) const {
    const std::string cmd = "cd " + ShellQuote(dir_str_) + " && (" + script + ") >" +
                            ShellQuote(File("sh.txt")) + " 2>&1";
    const int status = std::system(cmd.c_str());
    WskRun r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(File("sh.txt"));
    return r;
}

WskRun WskUser::PropertySet(const Standalone& wisp) const {
    return Wsk({"property", "set", "--apihost", wisp.api_host(), "--auth", wisp.guest_auth()});
}

}  // namespace wisp::e2e
