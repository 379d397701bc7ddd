// Runs the real wisp-action-proxy binary on the host, on a loopback port and on a unix socket,
// with the python and node launchers of runtimes/ and native actions, and checks what an invoker
// sees over HTTP and in the container log (the proxy's stdout/stderr, captured in files).
// Needs python3, node and cc on PATH; a missing one skips its part with a warning.
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <wisp/common/base64.hpp>
#include <wisp/common/bounded_json.hpp>

#include "process.hpp"
#include "protocol.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using wisp::proxy::kSentinel;

std::string Env(const char* name) {
    const char* v = std::getenv(name);
    return v != nullptr ? v : "";
}

bool OnPath(const std::string& program) {
    return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

std::string Slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void WriteText(const fs::path& path, const std::string& text, fs::perms perms = fs::perms(0644)) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, perms);
}

size_t Count(const std::string& haystack, std::string_view needle) {
    size_t n = 0;
    for (size_t pos = haystack.find(needle); pos != std::string::npos;
         pos = haystack.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

// A JSON string literal.
std::string Quote(const std::string& text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return {buffer.GetString(), buffer.GetSize()};
}

std::string InitBody(const std::string& code, const std::string& main = "main", bool binary = false,
                     const std::string& env = "{}") {
    return R"({"value":{"name":"test","main":)" + Quote(main) + R"(,"binary":)" +
           (binary ? "true" : "false") + R"(,"code":)" + Quote(code) + R"(,"env":)" + env + "}}";
}

std::string RunBody(const std::string& value, const std::string& activation_id = "a1") {
    return R"({"value":)" + value +
           R"(,"namespace":"guest","action_name":"/guest/test","action_version":"0.0.1",)"
           R"("activation_id":")" +
           activation_id + R"(","transaction_id":"tid","deadline":"1700000000000"})";
}

struct Response {
    int status = 0;
    std::string body;
    rapidjson::Document Json() const {
        rapidjson::Document doc;
        (void)wisp::json::ParseBounded(body, doc);
        return doc;
    }
};

std::string Str(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd()) return "<missing>";
    if (it->value.IsNull()) return "<null>";
    if (!it->value.IsString()) return "<not a string>";
    return it->value.GetString();
}

// One keep-alive HTTP/1.1 connection to the proxy, over TCP or a unix socket.
template <class Socket>
class Client {
  public:
    explicit Client(typename Socket::endpoint_type endpoint) : socket_(io_) {
        socket_.connect(endpoint);
        timeval tv{30, 0};  // never hang the test run
        ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    void Send(const std::string& target, const std::string& body) {
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, "localhost");
        req.set(http::field::content_type, "application/json");
        req.keep_alive(true);
        req.body() = body;
        req.prepare_payload();
        http::write(socket_, req);
    }
    Response Receive() {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 << 20);
        http::read(socket_, buffer_, parser);
        auto res = parser.release();
        CHECK(res.keep_alive());
        return {static_cast<int>(res.result_int()), std::move(res.body())};
    }
    Response Post(const std::string& target, const std::string& body) {
        Send(target, body);
        return Receive();
    }

  private:
    asio::io_context io_;
    Socket socket_;
    boost::beast::flat_buffer buffer_;
};
using TcpClient = Client<asio::ip::tcp::socket>;
using UnixClient = Client<asio::local::stream_protocol::socket>;

// The proxy binary running in a temporary directory; its stdout/stderr are files.
class Proxy {
  public:
    /// `wrapper`: a command line the proxy runs under (it execs the proxy: the same pid).
    Proxy(const std::string& kind, std::vector<std::pair<std::string, std::string>> env = {},
          const std::vector<std::string>& wrapper = {}) {
        std::string tmpl = (fs::temp_directory_path() / "wisp-proxy-test-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        dir_ = tmpl;
        const std::string runtimes = Env("WISP_RUNTIMES_DIR");
        wisp::proxy::SpawnSpec spec;
        spec.argv = {Env("WISP_ACTION_PROXY"),
                     "--kind",
                     kind,
                     "--host",
                     "127.0.0.1",
                     "--port",
                     "0",
                     "--port-file",
                     (dir_ / "port").string(),
                     "--action-dir",
                     (dir_ / "action").string()};
        if (kind == "python") {
            spec.argv.push_back("--launcher");
            spec.argv.push_back(runtimes + "/python/launcher.py");
        } else if (kind == "nodejs") {
            spec.argv.push_back("--launcher");
            spec.argv.push_back(runtimes + "/nodejs/launcher.js");
        }
        spec.argv.insert(spec.argv.begin(), wrapper.begin(), wrapper.end());
        spec.env = wisp::proxy::InheritedEnvironment();
        for (const auto& [k, v] : env)
            wisp::proxy::SetEnv(spec.env, k, v == "@dir" ? (dir_ / "proxy.sock").string() : v);
        out_fd_ = ::open((dir_ / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        err_fd_ = ::open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        spec.stdout_fd = out_fd_;
        spec.stderr_fd = err_fd_;
        if (Env("WISP_ACTION_PROXY").empty() || runtimes.empty()) {
            FAIL(
                "set WISP_ACTION_PROXY (the binary) and WISP_RUNTIMES_DIR (runtimes/); "
                "ctest does");
        }
        std::string error;
        pid_ = wisp::proxy::Spawn(spec, error);
        INFO(error);
        REQUIRE(pid_ > 0);
        // Wait for the port file (the proxy writes it once it listens).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!fs::exists(dir_ / "port")) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                FAIL("the proxy exited at start: " << Slurp(dir_ / "stderr"));
            }
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        port_ = static_cast<uint16_t>(std::stoi(Slurp(dir_ / "port")));
    }
    ~Proxy() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        ::close(out_fd_);
        ::close(err_fd_);
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    TcpClient Connect() const { return TcpClient({asio::ip::make_address("127.0.0.1"), port_}); }
    UnixClient ConnectUnix() const {
        return UnixClient(asio::local::stream_protocol::endpoint((dir_ / "proxy.sock").string()));
    }
    std::string Stdout() const { return Slurp(dir_ / "stdout"); }
    std::string Stderr() const { return Slurp(dir_ / "stderr"); }
    const fs::path& dir() const { return dir_; }
    uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }

  private:
    fs::path dir_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    int out_fd_ = -1;
    int err_fd_ = -1;
};

// Builds a zip of `files` (path -> content; a trailing '*' in the path marks it executable)
// with Python's zipfile CLI, which keeps Unix modes.
std::string MakeZip(const fs::path& work,
                    const std::vector<std::pair<std::string, std::string>>& files) {
    fs::path src = work / "zipsrc";
    fs::remove_all(src);
    std::vector<std::string> top;
    for (auto [path, content] : files) {
        bool exec = path.back() == '*';
        if (exec) path.pop_back();
        WriteText(src / path, content, exec ? fs::perms(0755) : fs::perms(0644));
        std::string first = path.substr(0, path.find('/'));
        if (std::find(top.begin(), top.end(), first) == top.end()) top.push_back(first);
    }
    std::string cmd = "cd '" + src.string() + "' && python3 -m zipfile -c '" +
                      (work / "action.zip").string() + "'";
    for (const auto& t : top) cmd += " '" + t + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::string zip = Slurp(work / "action.zip");
    fs::remove(work / "action.zip");
    return zip;
}

constexpr const char* kPythonAction = R"(import os, sys
def handler(args):
    op = args.get("op") if isinstance(args, dict) else "echo"
    if op == "env":
        return {k: os.environ.get(k) for k in ["__OW_ACTIVATION_ID", "__OW_NAMESPACE",
                "__OW_ACTION_NAME", "__OW_ACTION_VERSION", "__OW_TRANSACTION_ID",
                "__OW_DEADLINE", "__OW_API_KEY", "GREETING"]}
    if op == "pid":
        return {"pid": os.getpid()}
    if op == "raise":
        raise ValueError("boom")
    if op == "string":
        return "not a dictionary"
    if op == "big":
        return {"data": "x" * 1100000}
    if op == "print":
        print("hello stdout")
        print("hello stderr", file=sys.stderr)
        return {"printed": True}
    if op == "exit":
        os._exit(3)
    return args
)";

}  // namespace

TEST_CASE("python: init, run, env, errors, sentinels, big results, warm launcher", "[host]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: python part skipped");
        return;
    }
    Proxy proxy("python");
    auto client = proxy.Connect();

    auto r = client.Post("/run", RunBody("{}"));
    CHECK(r.status == 500);
    CHECK(r.body == R"({"error":"no action defined yet"})");

    r = client.Post("/init", InitBody(kPythonAction, "handler", false, R"({"GREETING":"hi"})"));
    REQUIRE(r.status == 200);
    CHECK(r.body == R"({"ok":true})");

    r = client.Post("/init", InitBody(kPythonAction, "handler"));
    CHECK(r.status == 403);
    CHECK(r.body == R"({"error":"Cannot initialize the action more than once."})");

    size_t runs = 0;
    SECTION("the activation's keys are __OW_ variables; init env is exported") {
        r = client.Post("/run", RunBody(R"({"op":"env"})", "activation-1"));
        ++runs;
        REQUIRE(r.status == 200);
        auto doc = r.Json();
        CHECK(Str(doc, "__OW_ACTIVATION_ID") == "activation-1");
        CHECK(Str(doc, "__OW_NAMESPACE") == "guest");
        CHECK(Str(doc, "__OW_ACTION_NAME") == "/guest/test");
        CHECK(Str(doc, "__OW_ACTION_VERSION") == "0.0.1");
        CHECK(Str(doc, "__OW_TRANSACTION_ID") == "tid");
        CHECK(Str(doc, "__OW_DEADLINE") == "1700000000000");
        CHECK(Str(doc, "__OW_API_KEY") == "<null>");
        CHECK(Str(doc, "GREETING") == "hi");

        r = client.Post("/run",
                        R"({"value":{"op":"env"},"activation_id":"activation-2","api_key":"k:s"})");
        ++runs;
        doc = r.Json();
        CHECK(Str(doc, "__OW_ACTIVATION_ID") == "activation-2");
        CHECK(Str(doc, "__OW_API_KEY") == "k:s");
        CHECK(Str(doc, "__OW_NAMESPACE") == "<null>");  // not sent this time: removed
    }
    SECTION("the launcher stays the same process across warm runs") {
        auto first = client.Post("/run", RunBody(R"({"op":"pid"})"));
        auto second = client.Post("/run", RunBody(R"({"op":"pid"})"));
        runs += 2;
        REQUIRE(first.status == 200);
        CHECK(first.body == second.body);
    }
    SECTION("arrays in, arrays out") {
        r = client.Post("/run", RunBody(R"([1,"two",{"three":3}])"));
        ++runs;
        CHECK(r.status == 200);
        CHECK(r.body == R"([1, "two", {"three": 3}])");
    }
    SECTION("an exception is an application error") {
        r = client.Post("/run", RunBody(R"({"op":"raise"})"));
        ++runs;
        CHECK(r.status == 200);
        CHECK(r.body == R"({"error": "boom"})");
        CHECK(proxy.Stderr().find("ValueError: boom") != std::string::npos);
    }
    SECTION("a result that is not an object or array is a developer error") {
        r = client.Post("/run", RunBody(R"({"op":"string"})"));
        ++runs;
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"The action did not return a dictionary or array."})");
        // The launcher is still fine.
        r = client.Post("/run", RunBody(R"({"op":"echo"})"));
        ++runs;
        CHECK(r.status == 200);
    }
    SECTION("a 1.1 MB result passes through") {
        r = client.Post("/run", RunBody(R"({"op":"big"})"));
        ++runs;
        REQUIRE(r.status == 200);
        CHECK(r.body.size() == 1100000 + std::string(R"({"data": ""})").size());
        // and a 1.1 MB argument too
        std::string big = R"({"blob":")" + std::string(1100000, 'y') + R"("})";
        r = client.Post("/run", RunBody(big));
        ++runs;
        REQUIRE(r.status == 200);
        CHECK(r.body.size() == big.size() + 1);  // json.dumps adds a space after ':'
    }
    SECTION("prints reach the container log before the sentinels") {
        r = client.Post("/run", RunBody(R"({"op":"print"})"));
        ++runs;
        CHECK(r.status == 200);
        CHECK(proxy.Stdout() == "hello stdout\n" + std::string(kSentinel));
        CHECK(proxy.Stderr() == "hello stderr\n" + std::string(kSentinel));
    }
    SECTION("a launcher that dies is a developer error, and stays dead") {
        r = client.Post("/run", RunBody(R"({"op":"exit"})"));
        ++runs;
        CHECK(r.status == 502);
        CHECK(
            r.body ==
            R"({"error":"The action did not produce a valid response and exited unexpectedly."})");
        CHECK(proxy.Stderr().find("python launcher exited with status 3") != std::string::npos);
        r = client.Post("/run", RunBody("{}"));
        ++runs;
        CHECK(r.status == 502);
    }
    // One sentinel on each stream per activation.
    CHECK(Count(proxy.Stdout(), kSentinel) == runs);
    CHECK(Count(proxy.Stderr(), kSentinel) == runs);
}

TEST_CASE("HTTP: Expect 100-continue, 404, 405", "[host]") {
    Proxy proxy("native");
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), proxy.port()});
    timeval tv{30, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const std::string body = R"({"value":{}})";
    asio::write(socket, asio::buffer("POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                     "application/json\r\nExpect: 100-continue\r\n"
                                     "Content-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n"));
    boost::beast::flat_buffer buffer;
    http::response<http::empty_body> go_on;
    http::read(socket, buffer, go_on);  // before the body was sent
    CHECK(go_on.result() == http::status::continue_);
    asio::write(socket, asio::buffer(body));
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    CHECK(res.result_int() == 502);  // no /action/exec yet

    auto client = proxy.Connect();
    CHECK(client.Post("/other", "{}").status == 404);
    http::request<http::empty_body> get{http::verb::get, "/init", 11};
    get.set(http::field::host, "x");
    http::write(socket, get);
    http::read(socket, buffer, res);
    CHECK(res.result_int() == 405);
}

TEST_CASE("python: init errors are 502 with a reason", "[host]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    SECTION("syntax error") {
        Proxy proxy("python");
        auto r = proxy.Connect().Post("/init", InitBody("def main(:\n  pass\n"));
        CHECK(r.status == 502);
        CHECK(r.Json()["error"].GetString() ==
              std::string("SyntaxError: invalid syntax (__main__.py, line 1)"));
    }
    SECTION("missing main") {
        Proxy proxy("python");
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody("def main(a):\n  return a\n", "nope"));
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"Action entrypoint 'nope' is not a function."})");
        // A failed init may be retried (as OpenWhisk's Go proxy allows).
        r = client.Post("/init", InitBody("def main(a):\n  return a\n"));
        CHECK(r.status == 200);
    }
    SECTION("no code") {
        Proxy proxy("python");
        auto r = proxy.Connect().Post("/init", R"({"value":{"main":"main"}})");
        CHECK(r.status == 403);
        CHECK(r.body == R"({"error":"Missing main/no code to execute."})");
    }
}

TEST_CASE("python: zip action with __main__.py, a module and a virtualenv", "[host]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    Proxy proxy("python");
    std::string zip = MakeZip(
        proxy.dir(),
        {{"__main__.py",
          "import helper, fancylib\ndef main(a):\n"
          "    return {'helper': helper.VALUE, 'lib': fancylib.NAME}\n"},
         {"helper.py", "VALUE = 'from helper'\n"},
         {"virtualenv/lib/python3.11/site-packages/fancylib/__init__.py", "NAME = 'fancy'\n"}});
    auto client = proxy.Connect();
    auto r = client.Post("/init", InitBody(wisp::common::Base64Encode(zip), "main", true));
    REQUIRE(r.status == 200);
    r = client.Post("/run", RunBody("{}"));
    CHECK(r.status == 200);
    CHECK(r.body == R"({"helper": "from helper", "lib": "fancy"})");
}

TEST_CASE("python: the unix socket serves the same protocol", "[host]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    Proxy proxy("python", {{"WISP_PROXY_SOCKET", "@dir"}});
    auto client = proxy.ConnectUnix();
    auto r = client.Post("/init", InitBody("def main(a):\n  return {'via': 'unix', **a}\n"));
    REQUIRE(r.status == 200);
    r = client.Post("/run", RunBody(R"({"n":1})"));
    CHECK(r.status == 200);
    CHECK(r.body == R"({"via": "unix", "n": 1})");
    // TCP works at the same time.
    r = proxy.Connect().Post("/run", RunBody(R"({"n":2})"));
    CHECK(r.body == R"({"via": "unix", "n": 2})");
    struct stat st {};
    REQUIRE(::stat((proxy.dir() / "proxy.sock").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0666);
}

TEST_CASE("nodejs: main, exports, promises, errors, warm process", "[host]") {
    if (!OnPath("node")) {
        WARN("node is not on PATH: nodejs part skipped");
        return;
    }
    SECTION("a top-level function, async results, thrown errors") {
        Proxy proxy("nodejs");
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody(R"(
function handler(params) {
  if (params.op === 'throw') throw new Error('kaput');
  if (params.op === 'reject') return Promise.reject(new Error('rejected'));
  if (params.op === 'number') return 42;
  if (params.op === 'big') return { data: 'x'.repeat(1100000) };
  console.log('log line');
  return new Promise((resolve) => setTimeout(() => resolve({
    pid: process.pid, id: process.env.__OW_ACTIVATION_ID, name: process.env.__OW_ACTION_NAME,
    greeting: process.env.GREETING, params }), 1));
})",
                                               "handler", false, R"({"GREETING":"hello"})"));
        REQUIRE(r.status == 200);
        auto a = client.Post("/run", RunBody(R"({"x":1})", "id-1")).Json();
        auto b = client.Post("/run", RunBody(R"({"x":2})", "id-2")).Json();
        REQUIRE(a.IsObject());
        CHECK(Str(a, "id") == "id-1");
        CHECK(Str(b, "id") == "id-2");
        CHECK(Str(a, "name") == "/guest/test");
        CHECK(Str(a, "greeting") == "hello");
        CHECK(a["pid"].GetInt() == b["pid"].GetInt());
        CHECK(b["params"]["x"].GetInt() == 2);

        r = client.Post("/run", RunBody(R"({"op":"throw"})"));
        CHECK(r.status == 200);
        CHECK(r.body == R"({"error":"kaput"})");
        r = client.Post("/run", RunBody(R"({"op":"reject"})"));
        CHECK(r.body == R"({"error":"rejected"})");
        r = client.Post("/run", RunBody(R"({"op":"number"})"));
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"The action did not return a dictionary or array."})");
        r = client.Post("/run", RunBody(R"({"op":"big"})"));
        CHECK(r.status == 200);
        CHECK(r.body.size() == 1100000 + std::string(R"({"data":""})").size());
        CHECK(Count(proxy.Stdout(), kSentinel) == 6);
        CHECK(Count(proxy.Stderr(), kSentinel) == 6);
        CHECK(proxy.Stdout().starts_with("log line\n" + std::string(kSentinel)));
        CHECK(proxy.Stderr().find("Error: kaput") != std::string::npos);
    }
    SECTION("module.exports.main") {
        Proxy proxy("nodejs");
        auto client = proxy.Connect();
        REQUIRE(client.Post("/init", InitBody("module.exports.main = (p) => ({ hi: p.name });"))
                    .status == 200);
        CHECK(client.Post("/run", RunBody(R"({"name":"Ann"})")).body == R"({"hi":"Ann"})");
    }
    SECTION("a zip with package.json requires the directory") {
        Proxy proxy("nodejs");
        std::string zip =
            MakeZip(proxy.dir(), {{"package.json", R"({"name":"a","main":"lib/entry.js"})"},
                                  {"lib/entry.js",
                                   "const h = require('./helper');\n"
                                   "exports.main = async (p) => ({ answer: h.answer() });\n"},
                                  {"lib/helper.js", "exports.answer = () => 42;\n"}});
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody(wisp::common::Base64Encode(zip), "main", true));
        REQUIRE(r.status == 200);
        CHECK(client.Post("/run", RunBody("{}")).body == R"({"answer":42})");
    }
    SECTION("init errors") {
        Proxy proxy("nodejs");
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody("function main() { return {}; }", "nope"));
        CHECK(r.status == 502);
        CHECK(
            r.body ==
            R"({"error":"Initialization has failed due to: Action entrypoint 'nope' is not a function."})");
    }
}

TEST_CASE("nodejs: __OW_ALLOW_CONCURRENT lets activations overlap", "[host]") {
    if (!OnPath("node")) {
        WARN("node is not on PATH: skipped");
        return;
    }
    Proxy proxy("nodejs", {{"__OW_ALLOW_CONCURRENT", "true"}});
    auto a = proxy.Connect();
    auto b = proxy.Connect();
    REQUIRE(a.Post("/init", InitBody(R"(
let release;
const gate = new Promise((r) => { release = r; });
async function main(p) {
  if (p.wait) { console.log('waiting'); await gate; return { waited: true }; }
  release();
  return { released: true };
})"))
                .status == 200);
    // The first activation waits for the second: with serialised runs this would hang.
    a.Send("/run", RunBody(R"({"wait":true})", "first"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (proxy.Stdout().find("waiting") == std::string::npos) {  // the first one is in main
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto second = b.Post("/run", RunBody("{}", "second"));
    auto first = a.Receive();
    CHECK(second.body == R"({"released":true})");
    CHECK(first.body == R"({"waited":true})");
}

TEST_CASE("native: a compiled C program, a script and a zip", "[host]") {
    if (!OnPath("cc") || !OnPath("python3")) {
        WARN("cc or python3 is not on PATH: native part skipped");
        return;
    }
    const char* kProgram = R"(#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, stdin);
    buf[n] = 0;
    printf("log from C\n");
    fprintf(stderr, "stderr from C\n");
    const char* id = getenv("__OW_ACTIVATION_ID");
    printf("{\"argc\": %d, \"argv1\": %s, \"stdin\": %s, \"id\": \"%s\"}\n", argc,
           argc > 1 ? argv[1] : "null", n ? buf : "null", id ? id : "");
    return 0;
}
)";
    SECTION("a binary sent as base64") {
        Proxy proxy("native");
        WriteText(proxy.dir() / "prog.c", kProgram);
        std::string cmd = "cc -O2 -o '" + (proxy.dir() / "prog").string() + "' '" +
                          (proxy.dir() / "prog.c").string() + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        std::string binary = Slurp(proxy.dir() / "prog");
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody(wisp::common::Base64Encode(binary), "main", true));
        REQUIRE(r.status == 200);
        r = client.Post("/run", RunBody(R"({"name":"C"})", "c-1"));
        CHECK(r.status == 200);
        CHECK(r.body ==
              R"({"argc": 2, "argv1": {"name":"C"}, "stdin": {"name":"C"}, "id": "c-1"})");
        CHECK(proxy.Stdout() == "log from C\n" + std::string(kSentinel));
        CHECK(proxy.Stderr() == "stderr from C\n" + std::string(kSentinel));

        r = client.Post("/init", InitBody("#!/bin/sh\necho {}\n"));
        CHECK(r.status == 403);
    }
    SECTION("a zip holding exec, and a bad last line") {
        Proxy proxy("native");
        std::string zip =
            MakeZip(proxy.dir(), {{"exec*",
                                   "#!/bin/sh\n. ./lib.sh\necho \"$1\" | grep -q bad && "
                                   "{ echo not json; exit 0; }\nhello\n"},
                                  {"lib.sh", "hello() { echo '{\"from\": \"zip\"}'; }\n"}});
        auto client = proxy.Connect();
        REQUIRE(
            client.Post("/init", InitBody(wisp::common::Base64Encode(zip), "main", true)).status ==
            200);
        auto r = client.Post("/run", RunBody("{}"));
        CHECK(r.status == 200);
        CHECK(r.body == R"({"from": "zip"})");
        r = client.Post("/run", RunBody(R"({"bad":1})"));
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"The action did not return a dictionary or array."})");
        CHECK(proxy.Stdout() == std::string(kSentinel) + "not json\n" + std::string(kSentinel));
    }
    SECTION("a script without #! and a large argument on stdin only") {
        // Decided from the file's first bytes, not from the spawn's ENOEXEC: also under qemu-user.
        Proxy proxy("native");
        auto client = proxy.Connect();
        REQUIRE(
            client.Post("/init", InitBody("echo \"{\\\"args\\\": $#, \\\"bytes\\\": $(wc -c)}\"\n"))
                .status == 200);
        std::string big = R"({"blob":")" + std::string(200000, 'z') + R"("})";
        auto r = client.Post("/run", RunBody(big));
        CHECK(r.status == 200);
        CHECK(r.body == "{\"args\": 0, \"bytes\": " + std::to_string(big.size()) + "}");
    }
    SECTION("an empty exec runs as an empty shell script: no result, the usual error") {
        Proxy proxy("native");
        auto client = proxy.Connect();
        REQUIRE(client.Post("/init", InitBody("\n")).status == 200);
        auto r = client.Post("/run", RunBody("{}"));
        CHECK(r.status == 502);
        CHECK(r.body == R"({"error":"The action did not return a dictionary or array."})");
    }
    SECTION("a missing executable") {
        Proxy proxy("native");
        auto client = proxy.Connect();
        auto r = client.Post("/run", RunBody("{}"));
        CHECK(r.status == 502);
        CHECK(r.body ==
              R"({"error":"The action failed to locate a binary. See logs for details."})");
        r = client.Post("/init", R"({"value":{"main":"main"}})");
        CHECK(r.status == 502);
        CHECK(
            r.body ==
            R"({"error":"The action failed to generate or locate a binary. See logs for details."})");
    }
}

namespace {

// One request with headers; the answer with its headers (X-Wisp-*).
struct FullResponse {
    int status = 0;
    std::string body;
    std::string result_length;  // X-Wisp-Result-Length
    std::string truncated;      // X-Wisp-Logs-Truncated
};

FullResponse PostWithHeaders(uint16_t port, const std::string& target, const std::string& body,
                             bool inline_logs) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval tv{30, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "localhost");
    if (inline_logs) req.set("X-Wisp-Logs", "inline");
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(socket, buffer, parser);
    auto res = parser.release();
    return {static_cast<int>(res.result_int()), std::move(res.body()),
            std::string(res["X-Wisp-Result-Length"]), std::string(res["X-Wisp-Logs-Truncated"])};
}

struct InlineLine {
    long long nanos = 0;
    std::string stream;
    std::string text;
};

// Splits an inline answer: the result, then "<nanos> <stream> <text>\n" lines.
std::pair<std::string, std::vector<InlineLine>> SplitInline(const FullResponse& r) {
    const size_t n = std::stoul(r.result_length);
    REQUIRE(n <= r.body.size());
    std::vector<InlineLine> lines;
    std::string_view rest = std::string_view(r.body).substr(n);
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        REQUIRE(nl != std::string_view::npos);
        std::string_view line = rest.substr(0, nl);
        rest.remove_prefix(nl + 1);
        const size_t a = line.find(' ');
        const size_t b = line.find(' ', a + 1);
        REQUIRE(b != std::string_view::npos);
        lines.push_back({std::stoll(std::string(line.substr(0, a))),
                         std::string(line.substr(a + 1, b - a - 1)),
                         std::string(line.substr(b + 1))});
    }
    return {r.body.substr(0, n), lines};
}

// Writes to stdout and stderr in turn; after each write it waits (FIONREAD on its own pipe)
// until the proxy has read it, so the order across the two streams is defined.
constexpr const char* kInterleavedAction = R"(import array, fcntl, os, sys, termios
def drained(fd):
    while True:
        b = array.array('i', [0])
        fcntl.ioctl(fd, termios.FIONREAD, b, True)
        if b[0] == 0:
            return
        os.sched_yield()
def main(args):
    for i in range(3):
        os.write(1, b"out %d\n" % i)
        drained(1)
        os.write(2, b"err %d\n" % i)
        drained(2)
    os.write(2, b"no newline")
    return {"done": True}
)";

bool ProcessGone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace

TEST_CASE("inline logs: lines come with the /run answer, in order, and the result is unchanged",
          "[host][inline]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    Proxy proxy("python");
    auto init = PostWithHeaders(proxy.port(), "/init", InitBody(kInterleavedAction), false);
    REQUIRE(init.status == 200);

    auto r = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), true);
    REQUIRE(r.status == 200);
    REQUIRE_FALSE(r.result_length.empty());
    CHECK(r.truncated.empty());
    auto [result, lines] = SplitInline(r);
    CHECK(result == R"({"done": true})");
    REQUIRE(lines.size() == 7);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"stdout", "out 0"}, {"stderr", "err 0"}, {"stdout", "out 1"},     {"stderr", "err 1"},
        {"stdout", "out 2"}, {"stderr", "err 2"}, {"stderr", "no newline"}};
    for (size_t i = 0; i < want.size(); ++i) {
        CHECK(lines[i].stream == want[i].first);
        CHECK(lines[i].text == want[i].second);
        if (i > 0) CHECK(lines[i].nanos >= lines[i - 1].nanos);
    }
    CHECK(lines[0].nanos > 1'600'000'000'000'000'000LL);  // Unix nanoseconds
    // Nothing reached the container log, not even the sentinels.
    CHECK(proxy.Stdout().empty());
    CHECK(proxy.Stderr().empty());

    // Without the header: as before, the lines then the sentinels in the container log.
    auto plain = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), false);
    CHECK(plain.status == 200);
    CHECK(plain.result_length.empty());
    CHECK(plain.body == R"({"done": true})");
    CHECK(proxy.Stdout() == "out 0\nout 1\nout 2\n" + std::string(kSentinel));
    CHECK(proxy.Stderr() == "err 0\nerr 1\nerr 2\nno newline\n" + std::string(kSentinel));
}

TEST_CASE("inline logs: native stdout lines but the last, and stderr", "[host][inline]") {
    Proxy proxy("native");
    const std::string script =
        "#!/bin/sh\necho first\necho oops >&2\necho second\necho '{\"ok\":1}'\n";
    REQUIRE(PostWithHeaders(proxy.port(), "/init", InitBody(script), false).status == 200);
    auto r = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), true);
    REQUIRE(r.status == 200);
    auto [result, lines] = SplitInline(r);
    CHECK(result == R"({"ok":1})");
    std::vector<std::string> out, err;
    for (const auto& l : lines) (l.stream == "stdout" ? out : err).push_back(l.text);
    CHECK(out == std::vector<std::string>{"first", "second"});
    CHECK(err == std::vector<std::string>{"oops"});
    CHECK(proxy.Stdout().empty());
}

TEST_CASE("reset: processes, files and the action are gone; a new /init works", "[host][reset]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    std::string tmpl = (fs::temp_directory_path() / "wisp-proxy-tmp-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    const fs::path tmp = tmpl;
    Proxy proxy("python", {{"WISP_PROXY_TMP_DIR", tmp.string()}});
    const std::string action_a = R"(import os, subprocess
def main(args):
    open("left-in-action-dir", "w").write("secret")
    open(")" + (tmp / "left-in-tmp").string() +
                                 R"(", "w").write("secret")
    os.makedirs(")" + (tmp / "ro/sub").string() +
                                 R"(", exist_ok=True)
    os.chmod(")" + (tmp / "ro").string() +
                                 R"(", 0o500)
    p = subprocess.Popen(["sleep", "1000"])
    return {"pid": p.pid}
)";
    REQUIRE(PostWithHeaders(proxy.port(), "/init", InitBody(action_a), false).status == 200);
    auto r = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), true);
    REQUIRE(r.status == 200);
    auto [result, lines] = SplitInline(r);
    rapidjson::Document doc;
    REQUIRE(wisp::json::ParseBounded(result, doc).empty());
    const pid_t background = doc["pid"].GetInt();
    CHECK_FALSE(ProcessGone(background));
    CHECK(fs::exists(proxy.dir() / "action" / "left-in-action-dir"));
    CHECK(fs::exists(tmp / "left-in-tmp"));

    auto reset = PostWithHeaders(proxy.port(), "/wisp/reset", "", false);
    CHECK(reset.status == 200);
    CHECK(reset.body == R"({"ok":true})");
    // Answered only once done: nothing is left.
    CHECK(ProcessGone(background));
    CHECK(fs::is_empty(proxy.dir() / "action"));
    CHECK(fs::exists(tmp));
    CHECK(fs::is_empty(tmp));
    // Not initialised any more.
    auto run = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), true);
    CHECK(run.status == 500);
    CHECK(run.body == R"({"error":"no action defined yet"})");

    const std::string action_b = R"(import os
def main(args):
    return {"seen": sorted(os.listdir("."))}
)";
    REQUIRE(PostWithHeaders(proxy.port(), "/init", InitBody(action_b), false).status == 200);
    auto b = PostWithHeaders(proxy.port(), "/run", RunBody("{}"), false);
    CHECK(b.status == 200);
    CHECK(b.body == R"({"seen": ["__main__.py"]})");
    CHECK(PostWithHeaders(proxy.port(), "/wisp/reset", "", false).status == 200);
    std::error_code ec;
    fs::remove_all(tmp, ec);
}

// ---- zygote: the launcher started before /init (ZYGOTE) ----
namespace {

// The pids whose parent is `parent` (from /proc/<pid>/stat).
std::vector<pid_t> ChildrenOf(pid_t parent) {
    std::vector<pid_t> children;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::string stat = Slurp(entry.path() / "stat");
        size_t close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream fields(stat.substr(close + 1));
        std::string state;
        long ppid = 0;
        fields >> state >> ppid;
        if (ppid == parent && state != "Z") children.push_back(std::stoi(name));
    }
    return children;
}

// What an action can see of its process, with the proxy's temp dir replaced by "@DIR".
constexpr const char* kPythonProbe = R"(import os, sys
def main(args):
    if args.get("op") == "pid":
        return {"pid": os.getpid()}
    # sorted: on a host, python3 may be a shell shim (pyenv) that reorders the environment
    return {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(sorted(os.environ.items())),
            "modules": sorted(sys.modules), "path": sys.path}
)";

constexpr const char* kNodeProbe = R"(
function main(args) {
  if (args.op === 'pid') return { pid: process.pid };
  return { argv: process.argv, cwd: process.cwd(), env: process.env,
           cache: Object.keys(require.cache), paths: module.paths, mainPaths: require.main.paths,
           execArgv: process.execArgv };
})";

std::string Normalised(std::string text, const fs::path& dir) {
    const std::string needle = dir.string();
    for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos)) {
        text.replace(pos, needle.size(), "@DIR");
    }
    return text;
}

// Where an action ran: in a launcher spawned at /init, in the zygote started before /init,
// or in a launcher forked from the fork server at /init.
enum class Origin { kSpawned, kZygote, kForked };

// Whether the proxy (not PID 1 here) can be a child subreaper, which python's fork server
// needs: qemu-user refuses the prctl (EINVAL), and the proxy keeps the single-use zygote then.
bool ForkServerSupported() {
    int on = 0;
    return ::prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) == 0;
}

std::string Cmdline(pid_t pid) {
    std::string text = Slurp("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(text.begin(), text.end(), '\0', ' ');
    return text;
}

// /init with `code` and {"GREETING":"hi","__OW_API_HOST":"h"}, then one probe /run, with
// WISP_PROXY_ZYGOTE=`zygote`; the normalised answer and where the action ran.
std::pair<std::string, Origin> Probe(const std::string& kind, const std::string& code,
                                     const std::string& zygote) {
    Proxy proxy(kind, {{"WISP_PROXY_ZYGOTE", zygote}});
    std::vector<pid_t> before = ChildrenOf(proxy.pid());
    auto client = proxy.Connect();
    auto r = client.Post("/init",
                         InitBody(code, "main", false, R"({"GREETING":"hi","__OW_API_HOST":"h"})"));
    REQUIRE(r.status == 200);
    r = client.Post("/run", RunBody(R"({"op":"pid"})"));
    REQUIRE(r.status == 200);
    const int pid = r.Json()["pid"].GetInt();
    Origin origin = Origin::kSpawned;
    if (std::find(before.begin(), before.end(), pid) != before.end()) {
        origin = Origin::kZygote;
    } else if (Cmdline(pid).find("--fork-server") != std::string::npos) {
        origin = Origin::kForked;
    }
    r = client.Post("/run", RunBody("{}"));
    REQUIRE(r.status == 200);
    return {Normalised(r.body, proxy.dir()), origin};
}

}  // namespace

TEST_CASE(
    "python zygote: the action runs in a launcher forked from the fork server started before "
    "/init (or, with --zygote once, in the zygote itself), and sees the same argv, cwd, "
    "environment, modules and sys.path as in a launcher spawned at /init",
    "[host][zygote]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    auto [spawned, spawned_origin] = Probe("python", kPythonProbe, "off");
    auto [once, once_origin] = Probe("python", kPythonProbe, "once");
    auto [forked, forked_origin] = Probe("python", kPythonProbe, "on");
    CHECK(spawned_origin == Origin::kSpawned);
    CHECK(once_origin == Origin::kZygote);
    if (ForkServerSupported()) {
        CHECK(forked_origin == Origin::kForked);
    } else {
        WARN("no child subreaper here (qemu-user): the proxy keeps the single-use zygote");
        CHECK(forked_origin == Origin::kZygote);
    }
    CHECK(once == spawned);
    CHECK(forked == spawned);
    for (const std::string& zygote : {once, forked}) {
        CHECK(zygote.find(R"("GREETING": "hi")") != std::string::npos);
        CHECK(zygote.find(R"("__OW_API_HOST": "h")") != std::string::npos);
        CHECK(zygote.find(R"("argv": ["/)") != std::string::npos);  // the launcher's path first
        CHECK(zygote.find(R"(, "@DIR/action", "main", "source"])") != std::string::npos);
    }
}

TEST_CASE(
    "nodejs zygote: the action runs in the launcher started before /init, and sees the "
    "same argv, cwd, environment, modules and module paths as in one spawned at /init",
    "[host][zygote]") {
    if (!OnPath("node")) {
        WARN("node is not on PATH: skipped");
        return;
    }
    auto [spawned, spawned_origin] = Probe("nodejs", kNodeProbe, "off");
    auto [zygote, zygote_origin] = Probe("nodejs", kNodeProbe, "on");
    CHECK(spawned_origin == Origin::kSpawned);
    CHECK(zygote_origin == Origin::kZygote);
    CHECK(zygote == spawned);
    CHECK(zygote.find(R"("GREETING":"hi")") != std::string::npos);
    CHECK(zygote.find(R"("@DIR/action","main","source"])") != std::string::npos);
}

TEST_CASE(
    "zygote: a dead zygote, or an /init env the interpreter reads at start, spawns as "
    "before",
    "[host][zygote]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    SECTION("the zygote died before /init") {
        Proxy proxy("python");
        std::vector<pid_t> zygotes = ChildrenOf(proxy.pid());
        REQUIRE(zygotes.size() == 1);
        ::kill(zygotes[0], SIGKILL);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!ChildrenOf(proxy.pid()).empty()) {  // reaped by the proxy
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        auto client = proxy.Connect();
        auto r = client.Post("/init", InitBody(kPythonProbe));
        REQUIRE(r.status == 200);
        r = client.Post("/run", RunBody(R"({"op":"pid"})"));
        CHECK(r.status == 200);
        CHECK(r.Json()["pid"].GetInt() != zygotes[0]);
        CHECK(proxy.Stderr().find("wisp-action-proxy") == std::string::npos);  // silently
    }
    SECTION("the zygote died just before /init, not yet noticed by the proxy") {
        Proxy proxy("python");
        std::vector<pid_t> zygotes = ChildrenOf(proxy.pid());
        REQUIRE(zygotes.size() == 1);
        auto client = proxy.Connect();
        ::kill(zygotes[0], SIGKILL);  // no wait: the load order may meet a closing pipe
        auto r = client.Post("/init", InitBody(kPythonProbe));
        REQUIRE(r.status == 200);
        r = client.Post("/run", RunBody(R"({"op":"pid"})"));
        CHECK(r.status == 200);
        CHECK(r.Json()["pid"].GetInt() != zygotes[0]);
    }
    SECTION("PYTHONPATH in the /init env reaches a fresh interpreter") {
        Proxy proxy("python");
        std::vector<pid_t> zygotes = ChildrenOf(proxy.pid());
        REQUIRE(zygotes.size() == 1);
        WriteText(proxy.dir() / "extra" / "extramod.py", "WHERE = 'extra'\n");
        auto client = proxy.Connect();
        auto r = client.Post(
            "/init", InitBody("import extramod, os\ndef main(a):\n"
                              "    return {'where': extramod.WHERE, 'pid': os.getpid()}\n",
                              "main", false,
                              R"({"PYTHONPATH":)" + Quote((proxy.dir() / "extra").string()) + "}"));
        REQUIRE(r.status == 200);
        r = client.Post("/run", RunBody("{}"));
        CHECK(Str(r.Json(), "where") == "extra");
        CHECK(r.Json()["pid"].GetInt() != zygotes[0]);
        // The spawned launcher and the fork server, kept for the /init after a reset (without
        // a fork server, the single-use zygote is gone: only the launcher).
        CHECK(ChildrenOf(proxy.pid()).size() == (ForkServerSupported() ? 2u : 1u));
    }
}

TEST_CASE("zygote: init errors are the texts of a spawned launcher", "[host][zygote]") {
    struct Case {
        const char* kind;
        const char* tool;
        std::string body;
    };
    const std::vector<Case> cases = {
        {"python", "python3", InitBody("def main(:\n  pass\n")},
        {"python", "python3", InitBody("def main(a):\n  return a\n", "nope")},
        {"python", "python3", InitBody("raise KeyError('k')\ndef main(a):\n  return a\n")},
        {"nodejs", "node", InitBody("function main() { return {}; }", "nope")},
        {"nodejs", "node", InitBody("function main( { return {}; }")},
    };
    for (const Case& c : cases) {
        if (!OnPath(c.tool)) continue;
        std::vector<std::string> answers;
        for (const char* zygote : {"off", "on"}) {
            Proxy proxy(c.kind, {{"WISP_PROXY_ZYGOTE", zygote}});
            auto client = proxy.Connect();
            auto r = client.Post("/init", c.body);
            CHECK(r.status == 502);
            answers.push_back(Normalised(r.body, proxy.dir()));
        }
        INFO(c.body);
        CHECK(answers[0] == answers[1]);
    }
}

// ---- the fork server across a reset (FORK SERVER) ----
namespace {

// Whether a process of the test's uid without CAP_SYS_PTRACE in its effective set (as an
// action: the container's root with every capability dropped) can open /proc/<pid>/mem for
// writing. The target must lack CAP_SYS_PTRACE too (else the capability rules deny it anyway):
// as root, the proxy runs under `setpriv --bounding-set=-sys_ptrace`.
bool MemWritableWithoutPtrace(pid_t pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/mem";
    const pid_t child = ::fork();
    if (child == 0) {  // only async-signal-safe calls from here
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2] = {};
        if (::syscall(SYS_capget, &header, data) != 0) ::_exit(2);
        data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective &= ~CAP_TO_MASK(CAP_SYS_PTRACE);
        if (::syscall(SYS_capset, &header, data) != 0) ::_exit(2);
        ::_exit(::open(path.c_str(), O_RDWR | O_CLOEXEC) >= 0 ? 0 : 1);
    }
    REQUIRE(child > 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 0;
}

// Whether `pid` runs the fork server; a process just spawned may still be on its way to
// python3 through a shim's execs (pyenv), so its command line is awaited.
bool IsForkServer(pid_t pid) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Cmdline(pid).find("--fork-server") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return Cmdline(pid).find("--fork-server") != std::string::npos;
}

}  // namespace

TEST_CASE(
    "reset: the python fork server survives it untouched, and nothing the action started "
    "(a daemon in its own session included) does",
    "[host][reset][zygote]") {
    if (!OnPath("python3")) {
        WARN("python3 is not on PATH: skipped");
        return;
    }
    if (!ForkServerSupported()) {
        WARN(
            "no child subreaper here (qemu-user), so no fork server: skipped (the reset of a "
            "single-use zygote is tested above)");
        return;
    }
    std::vector<std::string> wrapper;
    if (::geteuid() == 0 && OnPath("setpriv")) {
        wrapper = {"setpriv", "--bounding-set=-sys_ptrace", "--"};
    }
    Proxy proxy("python", {}, wrapper);
    const std::vector<pid_t> at_start = ChildrenOf(proxy.pid());
    REQUIRE(at_start.size() == 1);
    const pid_t server = at_start[0];
    CHECK(IsForkServer(server));

    // Action A leaves a daemon (own session, its parent gone) and stops the server (an action
    // may signal it); SIGTERM is blocked by the server.
    const std::string action_a = R"(import os, signal, time
def main(args):
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            time.sleep(1000)
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(w)
    daemon = int(os.read(r, 32))
    os.kill(args["server"], signal.SIGSTOP)
    os.kill(args["server"], signal.SIGTERM)
    return {"daemon": daemon, "pid": os.getpid()}
)";
    auto client = proxy.Connect();
    REQUIRE(client.Post("/init", InitBody(action_a)).status == 200);
    auto r = client.Post("/run", RunBody(R"({"server":)" + std::to_string(server) + "}"));
    REQUIRE(r.status == 200);
    const pid_t daemon = r.Json()["daemon"].GetInt();
    const pid_t launcher_a = r.Json()["pid"].GetInt();
    CHECK(launcher_a != server);
    CHECK(Cmdline(launcher_a).find("--fork-server") != std::string::npos);  // forked from it
    CHECK_FALSE(ProcessGone(daemon));
    // The server is not dumpable: without CAP_SYS_PTRACE, the same uid cannot write its
    // memory (nor ptrace it); the launcher forked from it is dumpable again, as if spawned.
    if (MemWritableWithoutPtrace(launcher_a)) {
        CHECK_FALSE(MemWritableWithoutPtrace(server));
    } else {
        WARN(
            "a dumpable process of the same uid is not writable here (an LSM, or root "
            "without setpriv?): skipped");
    }

    r = client.Post("/wisp/reset", "");
    CHECK(r.status == 200);
    CHECK(ProcessGone(daemon));
    CHECK(ProcessGone(launcher_a));
    CHECK(ChildrenOf(proxy.pid()) == std::vector<pid_t>{server});  // the server, nothing else

    // B: forked from the same server (stopped by A: the proxy continues it).
    REQUIRE(client.Post("/init", InitBody(kPythonProbe)).status == 200);
    r = client.Post("/run", RunBody(R"({"op":"pid"})"));
    REQUIRE(r.status == 200);
    const pid_t launcher_b = r.Json()["pid"].GetInt();
    CHECK(launcher_b != server);
    CHECK(launcher_b != launcher_a);
    CHECK(Cmdline(launcher_b).find("--fork-server") != std::string::npos);
    CHECK(ChildrenOf(proxy.pid()).size() == 2);

    // A server that was killed is replaced at the next reset; /init meanwhile spawns.
    ::kill(server, SIGKILL);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {  // until the proxy has reaped it
        const std::vector<pid_t> now = ChildrenOf(proxy.pid());
        if (std::find(now.begin(), now.end(), server) == now.end()) break;
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    CHECK(client.Post("/wisp/reset", "").status == 200);
    const std::vector<pid_t> after = ChildrenOf(proxy.pid());
    REQUIRE(after.size() == 1);
    CHECK(after[0] != server);
    CHECK(IsForkServer(after[0]));
    REQUIRE(client.Post("/init", InitBody(kPythonProbe)).status == 200);
    r = client.Post("/run", RunBody(R"({"op":"pid"})"));
    REQUIRE(r.status == 200);
    CHECK(Cmdline(r.Json()["pid"].GetInt()).find("--fork-server") != std::string::npos);
}
