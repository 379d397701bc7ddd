// End-to-end: nothing accepted is dropped across a crash of wisp-standalone (issue 12). 60
// non-blocking invokes accepted, a sequence half-way, kill -9, restart on the same data folder:
// every accepted id has exactly one record — its result, or whisk internal error "interrupted by
// a restart" — and the sequence's record says where it stopped.
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "standalone_harness.hpp"

using namespace wisp::e2e;
using namespace std::chrono_literals;

namespace {

std::string Ns(const std::string& rest) { return "/api/v1/namespaces/_" + rest; }

std::string PythonAction(const std::string& code) {
    return R"({"exec":{"kind":"python:3.11","code":)" + Quote(code) + "}}";
}

/// GET the record of `id`, retrying until it exists or `deadline` passes.
HttpResult WaitForRecord(const HttpClient& http, const std::string& id,
                         std::chrono::steady_clock::time_point deadline) {
    while (true) {
        auto r = http.Get(Ns("/activations/" + id));
        if (r.status == 200 || std::chrono::steady_clock::now() > deadline) return r;
        std::this_thread::sleep_for(100ms);
    }
}

}  // namespace

TEST_CASE("kill -9 of wisp-standalone: every accepted activation ends with exactly one record",
          "[e2e][standalone-only][journal]") {
    wisp::testing::TempDir data("wisp-e2e-journal-");
    const std::string sleeper = UniqueName("sleeper");
    const std::string slow = UniqueName("slow");
    const std::string quick = UniqueName("quick");
    const std::string seq = UniqueName("seq");
    std::vector<std::string> accepted;
    std::string seq_id, quick_id;
    {
        auto first =
            Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
        REQUIRE(first.ok());
        HttpClient http((*first)->api_host(), (*first)->guest_auth());
        REQUIRE(http.Put(Ns("/actions/" + sleeper),
                         PythonAction("import time\ndef main(args):\n    time.sleep(4)\n"
                                      "    return {'slept': True}\n"))
                    .status == 200);
        REQUIRE(http.Put(Ns("/actions/" + slow),
                         PythonAction("import time\ndef main(args):\n    time.sleep(60)\n"
                                      "    return {'slept': True}\n"))
                    .status == 200);
        REQUIRE(http.Put(Ns("/actions/" + quick),
                         PythonAction("def main(args):\n    return {'quick': True}\n"))
                    .status == 200);
        const std::string components = "[\"/_/" + quick + "\",\"/_/" + slow + "\"]";
        REQUIRE(http.Put(Ns("/actions/" + seq),
                         R"({"exec":{"kind":"sequence","components":)" + components + "}}")
                    .status == 200);

        // The sequence runs its first component, then waits on the slow one.
        auto s = http.Post(Ns("/actions/" + seq), std::string("{}"));
        REQUIRE(s.status == 202);
        seq_id = *GetString(ParseJson(s.body), "activationId");
        const auto deadline = std::chrono::steady_clock::now() + 120s;
        while (quick_id.empty() && std::chrono::steady_clock::now() < deadline) {
            auto list = http.Get(Ns("/activations?name=" + quick + "&limit=5"));
            auto d = ParseJson(list.body);
            if (list.status == 200 && d.IsArray() && d.Size() > 0) {
                quick_id = *GetString(d[0], "activationId");
            } else {
                std::this_thread::sleep_for(100ms);
            }
        }
        REQUIRE_FALSE(quick_id.empty());

        for (int i = 0; i < 60; ++i) {
            auto r = http.Post(Ns("/actions/" + sleeper), "{\"i\":" + std::to_string(i) + "}");
            REQUIRE(r.status == 202);
            accepted.push_back(*GetString(ParseJson(r.body), "activationId"));
        }
        (*first)->Kill();  // kill -9: no drain, no record written on the way out
    }

    auto second =
        Standalone::Start({.args = {"--no-stem-cells"}, .data_dir = data.path().string()});
    REQUIRE(second.ok());
    HttpClient http((*second)->api_host(), (*second)->guest_auth());
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    int interrupted = 0;
    for (const auto& id : accepted) {
        auto r = WaitForRecord(http, id, deadline);
        REQUIRE(r.status == 200);
        auto d = ParseJson(r.body);
        CHECK(GetString(d, "name") == sleeper);
        const auto status = GetString(d, "response.status");
        CHECK((status == "success" || status == "whisk internal error"));
        if (status == "whisk internal error") {
            ++interrupted;
            CHECK(GetString(d, "response.result.error")
                      .value_or("")
                      .find("interrupted by a restart") != std::string::npos);
        }
    }
    CHECK(interrupted > 0);
    // Exactly one record per id.
    auto list = http.Get(Ns("/activations?name=" + sleeper + "&limit=200"));
    REQUIRE(list.status == 200);
    auto records = ParseJson(list.body);
    REQUIRE(records.IsArray());
    std::multiset<std::string> listed;
    for (const auto& rec : records.GetArray()) listed.insert(*GetString(rec, "activationId"));
    CHECK(listed == std::multiset<std::string>(accepted.begin(), accepted.end()));

    // The sequence's own record: stopped after its first component, which stays stored.
    auto sr = WaitForRecord(http, seq_id, deadline);
    REQUIRE(sr.status == 200);
    auto sd = ParseJson(sr.body);
    CHECK(GetString(sd, "response.status") == "whisk internal error");
    const std::string error = GetString(sd, "response.result.error").value_or("");
    CHECK(error.find("interrupted by a restart") != std::string::npos);
    CHECK(error.find("stopped after 1 component") != std::string::npos);
    const auto* logs = Find(sd, "logs");
    REQUIRE(logs);
    REQUIRE(logs->IsArray());
    REQUIRE(logs->Size() == 1);
    CHECK(std::string((*logs)[0].GetString()) == quick_id);
    CHECK(http.Get(Ns("/activations/" + quick_id)).status == 200);
    // The slow component it was waiting on has its record too.
    auto slow_list = http.Get(Ns("/activations?name=" + slow + "&limit=5"));
    auto sl = ParseJson(slow_list.body);
    REQUIRE(sl.IsArray());
    CHECK(sl.Size() == 1);
}
