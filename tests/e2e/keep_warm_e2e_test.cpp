// End-to-end: the `keep-warm` action annotation (invoker/README.md "Keep-warm") with a real
// wisp-standalone on Docker and the wsk CLI, the pool's timers shortened by hidden flags (pause
// after 0.5 s, idle removal after 3 s, keep-warm checks every 0.5 s). Needs Docker and the
// python runtime image. Waits on `docker ps` (the pool labels keep-warm containers
// wisp.keep-warm=<ns>/<action>), never on fixed sleeps.
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

using Run = WskRun;

/// A user's shell: a working folder with its own wskprops.
struct User : WskUser {
    explicit User(const Standalone& wisp) : WskUser("wisp-keep-warm-e2e-") {
        Run r = PropertySet(wisp);
        INFO(r);
        REQUIRE(r.code == 0);
    }
};

/// One line of `docker ps`: id and status ("Up 3 seconds (Paused)").
struct Ps {
    std::string id;
    std::string status;
};

/// The containers (running or paused) carrying every label in `labels` ("k=v").
std::vector<Ps> DockerPs(const std::vector<std::string>& labels, const std::string& name = "") {
    std::string cmd = "docker ps --no-trunc --format '{{.ID}} {{.Status}}'";
    for (const auto& l : labels) cmd += " --filter " + ShellQuote("label=" + l);
    if (!name.empty()) cmd += " --filter " + ShellQuote("name=" + name);
    auto r = RunShell(cmd);
    std::vector<Ps> out;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        const size_t space = line.find(' ');
        if (space == std::string::npos) continue;
        out.push_back({line.substr(0, space), line.substr(space + 1)});
    }
    return out;
}

/// Polls `pred` every 200 ms for up to `limit` (generous: CI runs on 2 loaded cores).
bool WaitFor(const std::function<bool()>& pred, std::chrono::seconds limit = 120s) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(200ms);
    }
    return true;
}

/// A blocking invoke; returns the activation record.
rapidjson::Document Invoke(const HttpClient& http, const std::string& action) {
    auto r = http.Post("/api/v1/namespaces/_/actions/" + action + "?blocking=true", "{}");
    INFO(r.Describe());
    REQUIRE(r.status == 200);
    auto d = ParseJson(r.body);
    REQUIRE(d.IsObject());
    return d;
}

bool HasAnnotation(const rapidjson::Value& record, std::string_view key) {
    return record.HasMember("annotations") && KeyValue(record["annotations"], key) != nullptr;
}

int64_t WaitTime(const rapidjson::Value& record) {
    const auto* v = KeyValue(record["annotations"], "waitTime");
    REQUIRE(v != nullptr);
    REQUIRE(v->IsInt64());
    return v->GetInt64();
}

}  // namespace

TEST_CASE("keep-warm: a kept container outlives the idle timeout and comes back after docker kill",
          "[e2e][keep-warm][standalone-only]") {
    if (ClusterMode()) return;  // hidden pool flags: wisp-standalone only
    const auto started = std::chrono::steady_clock::now();
    auto wisp = Standalone::Start(
        {.args = {"--no-stem-cells", "--pause-grace-ms", "500", "--idle-timeout-ms", "3000",
                  "--keep-warm-check-ms", "500", "--keep-warm-refresh-ms", "2000"}});
    INFO((wisp.ok() ? std::string() : std::string(wisp.status().message())));
    REQUIRE(wisp.ok());
    const User u(**wisp);
    HttpClient http((*wisp)->api_host(), (*wisp)->guest_auth());
    const std::string invoker_label = "wisp.invoker=0-" + std::to_string((*wisp)->port());
    const std::string warm = UniqueName("warm");
    const std::string plain = UniqueName("plain");
    const std::string kept_label = "wisp.keep-warm=guest/" + warm;
    { std::ofstream(u.File("hello.py")) << "def main(args):\n    return {'hello': 'world'}\n"; }
    for (const auto& name : {warm, plain}) {
        Run r = u.Wsk({"action", "create", name, "hello.py"});
        INFO(r);
        REQUIRE(r.code == 0);
    }

    // Over the namespace's limit (2 by default): refused, naming it.
    Run r = u.Wsk({"action", "update", warm, "-a", "keep-warm", "3"});
    INFO(r);
    CHECK(r.code != 0);
    CHECK(r.err.find("maxKeepWarm of 2") != std::string::npos);

    r = u.Wsk({"action", "update", warm, "-a", "keep-warm", "1"});
    INFO(r);
    REQUIRE(r.code == 0);

    // The container is created and initialised ahead of any invoke; idle, it is paused.
    std::string kept;
    REQUIRE(WaitFor([&] {
        auto ps = DockerPs({invoker_label, kept_label});
        if (ps.size() != 1 || ps[0].status.find("(Paused)") == std::string::npos) return false;
        kept = ps[0].id;
        return true;
    }));

    // An ordinary container next to it goes after the (3 s) idle timeout; the kept one stays.
    auto first_plain = Invoke(http, plain);
    CHECK(HasAnnotation(first_plain, "initTime"));  // cold
    REQUIRE(WaitFor([&] { return !DockerPs({invoker_label}, "_guest_" + plain).empty(); }, 10s));
    REQUIRE(WaitFor([&] { return DockerPs({invoker_label}, "_guest_" + plain).empty(); }));
    auto ps = DockerPs({invoker_label, kept_label});
    REQUIRE(ps.size() == 1);
    CHECK(ps[0].id == kept);

    // The next invoke is warm: no initTime, and a small waitTime (a resume, no docker run; the
    // bound is loose for loaded CI machines, a cold start is far above it on a quiet one).
    auto warm_record = Invoke(http, warm);
    CHECK(GetString(warm_record, "response.result.hello") == "world");
    CHECK_FALSE(HasAnnotation(warm_record, "initTime"));
    CHECK(WaitTime(warm_record) < 5000);

    // Killed from outside: the invoker notices, replaces and initialises it again.
    // (Older Docker refuses to kill a paused container: unpause it first then.)
    REQUIRE(RunShell("docker kill " + kept + " >/dev/null 2>&1 || { docker unpause " + kept +
                     " && docker kill " + kept + "; } >/dev/null 2>&1")
                .exit_code == 0);
    std::string replacement;
    REQUIRE(WaitFor([&] {
        auto now = DockerPs({invoker_label, kept_label});
        if (now.size() != 1 || now[0].id == kept ||
            now[0].status.find("(Paused)") == std::string::npos) {
            return false;
        }
        replacement = now[0].id;
        return true;
    }));
    auto after_kill = Invoke(http, warm);
    CHECK(GetString(after_kill, "response.result.hello") == "world");
    CHECK_FALSE(HasAnnotation(after_kill, "initTime"));

    // keep-warm 0 releases it: the idle timer removes it again.
    r = u.Wsk({"action", "update", warm, "-a", "keep-warm", "0"});
    INFO(r);
    REQUIRE(r.code == 0);
    REQUIRE(WaitFor([&] { return DockerPs({invoker_label, kept_label}).empty(); }));

    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - started);
    WARN("keep-warm e2e took " << seconds.count() << " s");
}
