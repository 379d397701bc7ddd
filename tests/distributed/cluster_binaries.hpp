#pragma once
// What the distributed tests that start processes themselves share: where a binary is (the
// environment variable wins, else the build tree's bin/) and a free loopback port.
// The including target defines WISP_BUILD_DIR.
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include <wisp/common/strings.hpp>
#include <wisp/testing/ports.hpp>

namespace wisp::testing {

/// `$env` when set and not empty, else WISP_BUILD_DIR/bin/`name`.
inline std::string Binary(const char* env, const char* name) {
    const char* v = std::getenv(env);
    return v && *v ? v : common::Cat(WISP_BUILD_DIR, "/bin/", name);
}

/// A loopback port free a moment ago (REQUIREs that one was found).
inline int FreePort() {
    auto port = FindFreeLoopbackPort();
    REQUIRE(port.ok());
    return *port;
}

}  // namespace wisp::testing
