#include "local_cluster.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
#include <wisp/loadbalancer/sharding_placement.hpp>

namespace wisp::e2e {
namespace {

using Clock = std::chrono::steady_clock;

std::string Script() { return std::string(WISP_SOURCE_DIR) + "/tools/local-cluster.sh"; }
std::string BuildDir() { return WISP_BUILD_DIR; }

}  // namespace

std::vector<std::string> Words(const std::string& s) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < s.size()) {
        size_t sp = s.find(' ', at);
        if (sp == std::string::npos) sp = s.size();
        if (sp > at) out.push_back(s.substr(at, sp - at));
        at = sp + 1;
    }
    return out;
}

bool WriteFile(const std::string& path, const std::string& text) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
}

std::string Act(const std::string& path) { return "/api/v1/namespaces/_/" + path; }

// ---- the cluster ------------------------------------------------------------------------------

LocalCluster::LocalCluster(LocalClusterOptions options) : dir(options.dir_prefix) {
    std::string command =
        common::Cat(ShellQuote(Script()), " up --controllers ", options.controllers, " --invokers ",
                    options.invokers, " --store ", options.store, " --dir ",
                    ShellQuote(dir.path().string()), " --build-dir ", ShellQuote(BuildDir()));
    if (!options.invoker_args.empty()) {
        command += " --invoker-args " + ShellQuote(options.invoker_args);
    }
    if (!options.controller_args.empty()) {
        command += " --controller-args " + ShellQuote(options.controller_args);
    }
    CommandResult up = RunShell(command);
    up_output = up.output;
    INFO(up.output);
    REQUIRE(up.exit_code == 0);
    auth = LineValue(up.output, "AUTH");
    apihost = LineValue(up.output, "APIHOST");
    REQUIRE(!auth.empty());
    REQUIRE(apihost.rfind("https://127.0.0.1:", 0) == 0);
    const std::string state = ReadFile(dir.File("state"));
    INFO(state);
    for (const std::string& port : Words(LineValue(state, "CONTROLLER_PORTS"))) {
        controller_ports.push_back(std::stoi(port));
    }
    for (const std::string& port : Words(LineValue(state, "INVOKER_CONTROL_PORTS"))) {
        control_endpoints.push_back("127.0.0.1:" + port);
    }
    REQUIRE(controller_ports.size() == static_cast<size_t>(options.controllers));
    REQUIRE(control_endpoints.size() == static_cast<size_t>(options.invokers));
}

LocalCluster::Down::~Down() {
    RunShell(common::Cat(ShellQuote(Script()), " down --dir ", ShellQuote(dir.path().string())));
}

CommandResult LocalCluster::Do(const std::string& args) const {
    return RunShell(
        common::Cat(ShellQuote(Script()), " ", args, " --dir ", ShellQuote(dir.path().string())));
}

CommandResult LocalCluster::Admin(const std::string& args) const {
    return RunShell(common::Cat("eval \"$(", ShellQuote(Script()), " env --dir ",
                                ShellQuote(dir.path().string()), ")\" && ",
                                ShellQuote(BuildDir() + "/bin/wisp-admin"), " ", args));
}

HttpClient LocalCluster::Controller(int i) const {
    return HttpClient(common::Cat("http://127.0.0.1:", controller_ports.at(i)), auth);
}

HttpClient LocalCluster::Nginx() const { return HttpClient(apihost, auth); }

std::string LocalCluster::Logs(const std::string& component, size_t max_bytes) const {
    const std::string log = ReadFile(dir.File("logs/" + component + ".log"));
    return log.size() > max_bytes ? log.substr(log.size() - max_bytes) : log;
}

bool AllSay(const LocalCluster& c, const std::vector<int>& which, const std::string& path,
            const std::string& want, std::chrono::seconds timeout) {
    const auto until = Clock::now() + timeout;
    for (int i : which) {
        auto http = c.Controller(i);
        std::string body;
        while ((body = http.Get(path).body) != want) {
            if (Clock::now() > until) {
                UNSCOPED_INFO("controller" << i << " " << path << ": " << body);
                return false;
            }
            // Polling other processes' state.
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    return true;
}

std::string Invokers(const std::vector<std::string>& states) {
    std::string out = "{";
    for (size_t i = 0; i < states.size(); ++i) {
        out += common::Cat(i ? "," : "", "\"invoker", i, "/", i, "\":\"", states[i], "\"");
    }
    return out + "}";
}

std::string InvokerOf(const HttpResult& r) {
    if (r.status != 200) return r.Describe();
    auto doc = ParseJson(r.body);
    if (!doc.IsObject() || !doc.HasMember("annotations") || !doc["annotations"].IsArray()) {
        return r.Describe();
    }
    for (const auto& a : doc["annotations"].GetArray()) {
        if (a.HasMember("key") && a["key"] == "invoker" && a["value"].IsString()) {
            return a["value"].GetString();
        }
    }
    return r.Describe();
}

// ---- sharding ---------------------------------------------------------------------------------

std::vector<int> ShardingOrder(const std::string& name, int n) {
    loadbalancer::ShardingPlacement placement(std::vector<int64_t>(n, 1));
    const auto order = placement.ProbeOrder(loadbalancer::ShardingHash("guest", "guest/" + name),
                                            /*blackbox=*/false);
    return std::vector<int>(order.begin(), order.end());
}

std::string NameWithHome(const std::string& prefix, int invoker, int n) {
    for (int k = 0;; ++k) {
        std::string name = common::Cat(prefix, "-", k);
        if (ShardingOrder(name, n)[0] == invoker) return name;
    }
}

// ---- records ----------------------------------------------------------------------------------

HttpResult WaitForRecord(const HttpClient& http, const std::string& id,
                         Clock::time_point deadline) {
    HttpResult r;
    for (;;) {
        r = http.Get(Act("activations/" + id));
        if (r.status == 200 || Clock::now() > deadline) return r;
        // Polling other processes' store writes.
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

void CheckExactlyOneRecordEach(const HttpClient& http, const std::string& action,
                               const std::vector<std::string>& ids, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    int missing = 0;
    std::string problems;
    for (const auto& id : ids) {
        auto r = WaitForRecord(http, id, deadline);
        if (r.status != 200) {
            ++missing;
            problems += common::Cat("no record for ", id, ": ", r.Describe(), "\n");
        }
    }
    std::map<std::string, int> listed;
    for (int skip = 0;; skip += 200) {
        auto r = http.Get(Act(common::Cat("activations?name=", action, "&limit=200&skip=", skip)));
        REQUIRE(r.status == 200);
        auto doc = ParseJson(r.body);
        REQUIRE(doc.IsArray());
        for (const auto& a : doc.GetArray()) {
            auto id = GetString(a, "activationId");
            if (id) ++listed[*id];
        }
        if (doc.Size() < 200) break;
    }
    int duplicated = 0;
    int unlisted = 0;
    for (const auto& id : ids) {
        if (listed[id] > 1) {
            ++duplicated;
            problems += common::Cat(id, " has ", listed[id], " records\n");
        } else if (listed[id] == 0) {
            ++unlisted;
            problems += common::Cat(id, " is not listed\n");
        }
    }
    WARN(ids.size() << " accepted activations of " << action << ": " << missing
                    << " without a record, " << duplicated << " with more than one");
    INFO(problems);
    CHECK(missing == 0);
    CHECK(unlisted == 0);
    CHECK(duplicated == 0);
}

// ---- load -------------------------------------------------------------------------------------

bool Accepted(const Sent& s) { return s.status == 200 || s.status == 202; }

std::pair<int, int> CountAfter(const std::vector<Sent>& sent, int target, Clock::time_point from) {
    int all = 0;
    int ok = 0;
    for (const auto& s : sent) {
        if (s.target != target || s.started < from) continue;
        ++all;
        if (Accepted(s)) ++ok;
    }
    return {all, ok};
}

Load::Load(const LocalCluster& cluster, const std::string& action, LoadOptions options) {
    for (const int target : options.targets) {
        if (options.blocking) {
            workers_.emplace_back(&Load::Worker, this, std::cref(cluster), action, target, true,
                                  options.period);
        }
        if (options.non_blocking) {
            workers_.emplace_back(&Load::Worker, this, std::cref(cluster), action, target, false,
                                  options.period);
        }
    }
}

void Load::Worker(const LocalCluster& cluster, std::string action, int target, bool blocking,
                  std::chrono::milliseconds period) {
    const HttpClient c = target == kNginx ? cluster.Nginx() : cluster.Controller(target);
    for (int i = 0; !stop_.load(); ++i) {
        Sent s{target, blocking, Clock::now(), 0, ""};
        const auto s_started = s.started;
        HttpRequestSpec spec;
        spec.method = "POST";
        spec.path = Act("actions/" + action) + (blocking ? "?blocking=true" : "?blocking=false");
        spec.body = common::Cat(R"({"t":)", target, R"(,"n":)", i, "}");
        spec.auth = c.auth();
        auto r = c.Send(spec);
        s.status = r.status;
        if (!Accepted(s)) s.describe = r.Describe();
        std::optional<std::string> id;
        if (Accepted(s)) id = GetString(ParseJson(r.body), "activationId");
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (id) ids_.push_back(*id);
            sent_.push_back(std::move(s));
        }
        std::this_thread::sleep_until(s_started + period);
    }
}

void Load::Stop() {
    stop_ = true;
    for (auto& w : workers_) {
        if (w.joinable()) w.join();
    }
}

std::vector<std::string> Load::ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
}

std::vector<Sent> Load::sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
}

}  // namespace wisp::e2e
