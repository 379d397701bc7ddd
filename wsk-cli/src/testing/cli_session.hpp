#pragma once
// Test support for the wsk unit tests: one wsk run against a fake controller on a loopback
// port (testing/fake_http_server.hpp), its stdout and stderr captured; and Json() for asserting
// on what the fake received or wsk printed.
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include <rapidjson/document.h>
#include <catch2/catch.hpp>

#include "commands.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "whisk_client.hpp"

namespace wsk::testing {

struct CliSession {
    std::ostringstream out, err;
    Session s;

    CliSession(int port, const std::string& auth) {
        SetColor(false);
        // Requests go to the loopback fake, never through a proxy from the environment.
        ::setenv("no_proxy", "127.0.0.1", 1);
        ::setenv("NO_PROXY", "127.0.0.1", 1);
        s.config.apihost = "http://127.0.0.1:" + std::to_string(port);
        s.config.auth = auth;
        s.out = &out;
        s.err = &err;
        s.client = std::make_unique<WhiskClient>(s.config);
    }
};

/// The parsed document; fails the test (showing the text) when it is not JSON.
inline rapidjson::Document Json(const std::string& text) {
    rapidjson::Document d;
    INFO(text);
    REQUIRE(ParseJsonText(text, d).empty());
    return d;
}

}  // namespace wsk::testing
