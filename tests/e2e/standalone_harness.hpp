#pragma once
// End-to-end harness: a real wisp-standalone on a free loopback port with its own data folder,
// a small libcurl HTTP client, and RapidJSON helpers for the assertions.
//
//   auto wisp = Standalone::Start({});            // waits for the `wsk property set` line
//   HttpClient http(wisp->api_host(), wisp->guest_auth());
//   auto r = http.Put("/api/v1/namespaces/_/actions/hello", R"({"exec":{...}})");
//   CHECK(r.status == 200);
//
// The standalone runs in its own process group (tests/support ChildProcess): the destructor
// sends SIGTERM and waits, so the platform removes its action containers also when a test
// fails; anything it leaves behind (it was SIGKILLed) is removed by label afterwards.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <wisp/testing/child_process.hpp>
#include <wisp/testing/temp_dir.hpp>

namespace wisp::e2e {

/// True when WISP_E2E_TOPOLOGY=cluster: Standalone::Start then starts the distributed topology
/// with tools/local-cluster.sh (2 controllers, 2 invokers, CouchDB API store, nginx with TLS)
/// instead of wisp-standalone, and api_host() is nginx's https URL. Tests that need a
/// wisp-standalone process (restarts on one data folder, raw sockets to its port, flags without a
/// cluster equivalent) carry the tag [standalone-only]; the cluster ctest runs skip them.
bool ClusterMode();

/// Where the binaries are: $WISP_STANDALONE / $WISP_ADMIN (set by CMake), else <build>/bin
/// next to the <build>/tests folder of the running test binary.
std::string StandaloneBinary();
std::string AdminBinary();

struct StandaloneOptions {
    /// Extra flags, e.g. {"--invocations-per-minute", "3", "--no-stem-cells"}.
    std::vector<std::string> args;
    /// Reuse a data folder (restart tests); empty = a fresh TempDir owned by the Standalone.
    std::string data_dir;
    /// How long to wait for the `wsk property set` line.
    std::chrono::milliseconds ready_timeout{60000};
};

class Standalone {
  public:
    /// Starts build/bin/wisp-standalone --port <free> --data-dir <dir> <args> and waits for the
    /// `wsk property set --apihost ... --auth ...` line on stdout. The error carries the log.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<Standalone>> Start(
        StandaloneOptions options);
    /// Stop(), then removes containers it may have left behind.
    ~Standalone();
    Standalone(const Standalone&) = delete;
    Standalone& operator=(const Standalone&) = delete;

    int port() const { return port_; }
    /// "http://127.0.0.1:<port>"
    const std::string& api_host() const { return api_host_; }
    /// "uuid:key" printed by the standalone (the guest key).
    const std::string& guest_auth() const { return guest_auth_; }
    const std::string& data_dir() const { return data_dir_; }
    /// The store, for wisp-admin --store (the SQLite file; the cluster's store in cluster mode).
    std::string store_uri() const {
        return cluster_store_uri_.empty() ? "sqlite:" + data_dir_ + "/wisp.db" : cluster_store_uri_;
    }
    /// SIGTERM, wait up to `grace` (then SIGKILL). Idempotent.
    void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(30000));
    /// SIGKILL to its process group, as a crash: its containers stay behind (no clean-up).
    void Kill();
    bool Running() { return cluster_up_ || (process_ && process_->Running()); }
    std::string LogTail(size_t max_bytes = 8192) const;

  private:
    Standalone() = default;
    std::unique_ptr<testing::TempDir> owned_dir_;
    std::unique_ptr<testing::TempDir> log_dir_;
    std::unique_ptr<testing::ChildProcess> process_;
    std::string data_dir_;
    std::string api_host_;
    std::string guest_auth_;
    std::string cluster_store_uri_;  // cluster mode: from DIR/state
    std::string cluster_log_;        // cluster mode: the output of `local-cluster.sh up`
    bool cluster_up_ = false;
    int port_ = 0;
};

/// Runs wisp-admin with `args` (+ --store); returns its exit code and output.
struct CommandResult {
    int exit_code = -1;
    std::string output;
};
CommandResult RunAdmin(const std::string& store_uri, const std::vector<std::string>& args);

/// Runs `command` with /bin/sh (popen), stderr folded into the output; exit_code is -1 when it
/// could not start or did not exit normally.
CommandResult RunShell(const std::string& command);
/// `s` as one single-quoted shell word.
std::string ShellQuote(std::string_view s);
/// The value of the last `NAME=value` line of `text` ("" if none), %q escapes removed.
std::string LineValue(const std::string& text, const std::string& name);
/// The whole file ("" when it cannot be read).
std::string ReadFile(const std::string& path);

// ---- wsk CLI ---------------------------------------------------------------------------------

/// The wsk binary: $WISP_WSK (set by CMake), else "wsk" from PATH.
std::string WskBinary();

/// One run of wsk (or of a shell script): exit code (-1 when it did not exit normally), stdout
/// and stderr.
struct WskRun {
    int code = -1;
    std::string out;
    std::string err;
};
/// "exit N", then stdout and stderr: for INFO in assertions.
std::ostream& operator<<(std::ostream& os, const WskRun& r);

/// A user's shell: a working folder (a fresh TempDir) with its own wskprops (WSK_CONFIG_FILE),
/// where wsk runs the way a user runs it.
class WskUser {
  public:
    /// `dir_prefix` names the temp folder, e.g. "wisp-wsk-e2e-".
    explicit WskUser(const std::string& dir_prefix);

    const std::string& dir() const { return dir_str_; }
    std::string File(const std::string& name) const { return dir_.File(name); }
    /// Writes `text` to File(name).
    void Write(const std::string& name, const std::string& text) const;

    /// Runs `wsk <args>` in the folder without WHISK_AUTH/WHISK_APIHOST, `env` ("NAME=value"
    /// words) added to its environment; in cluster mode with -i (nginx's self-signed certificate).
    WskRun Wsk(const std::vector<std::string>& args, const std::string& env = "") const;
    /// Runs `script` with /bin/sh in the folder; stdout and stderr both in `out`.
    WskRun Sh(const std::string& script) const;
    /// `wsk property set --apihost ... --auth ...` for `wisp` (its guest key).
    WskRun PropertySet(const Standalone& wisp) const;

  private:
    testing::TempDir dir_;
    std::string dir_str_ = dir_.path().string();
};

// ---- HTTP ------------------------------------------------------------------------------------

struct HttpResult {
    int status = 0;  // 0 when the request failed on the network (see `error`)
    std::string error;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;

    /// The first value of a header (name case-insensitive), or nullopt.
    std::optional<std::string> Header(std::string_view name) const;
    /// A short "STATUS body" for assertion messages.
    std::string Describe() const;
};

struct HttpRequestSpec {
    std::string method = "GET";
    std::string path;  // "/api/v1/..." (may include a query)
    std::optional<std::string> body;
    /// Extra headers as "Name: value"; "Name:" removes a curl default.
    std::vector<std::string> headers;
    /// "uuid:key" for Basic auth; empty = no Authorization header.
    std::string auth;
    /// Set Content-Type: application/json when a body is given (default).
    bool json_content_type = true;
    std::chrono::milliseconds timeout{90000};
};

/// One libcurl easy handle per call: safe to use from many threads at once.
class HttpClient {
  public:
    HttpClient(std::string base_url, std::string auth)
        : base_url_(std::move(base_url)), auth_(std::move(auth)) {}

    HttpResult Send(HttpRequestSpec spec) const;
    HttpResult Get(const std::string& path) const;
    HttpResult Delete(const std::string& path) const;
    HttpResult Put(const std::string& path, const std::string& body) const;
    HttpResult Post(const std::string& path, const std::optional<std::string>& body) const;

    const std::string& auth() const { return auth_; }
    const std::string& base_url() const { return base_url_; }

  private:
    std::string base_url_;
    std::string auth_;
};

// ---- JSON ------------------------------------------------------------------------------------

/// Parses `text`; a parse error leaves a Null document (IsNull()) and is reported by FAIL
/// in the caller via ParseOk.
rapidjson::Document ParseJson(const std::string& text);
bool IsJson(const std::string& text);
/// The member at a dotted path ("response.result.greeting"), or nullptr.
const rapidjson::Value* Find(const rapidjson::Value& v, std::string_view dotted_path);
/// String / int / bool at a dotted path; nullopt if absent or of another type.
std::optional<std::string> GetString(const rapidjson::Value& v, std::string_view dotted_path);
std::optional<int64_t> GetInt(const rapidjson::Value& v, std::string_view dotted_path);
std::optional<bool> GetBool(const rapidjson::Value& v, std::string_view dotted_path);
/// The value of an OpenWhisk annotations/parameters array entry with `key`, or nullptr.
const rapidjson::Value* KeyValue(const rapidjson::Value& array, std::string_view key);
/// Compact JSON text of a value.
std::string ToJson(const rapidjson::Value& v);
/// A JSON string literal for `s` (quotes and escapes).
std::string Quote(std::string_view s);

/// A name unique within this test process: "<prefix>-<n>-<pid>".
std::string UniqueName(std::string_view prefix);

}  // namespace wisp::e2e
