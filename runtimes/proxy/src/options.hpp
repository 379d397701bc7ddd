#pragma once
// Command line and environment of wisp-action-proxy.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace wisp::proxy {

enum class Kind { kPython, kNodejs, kNative };

struct ProxyOptions {
    Kind kind = Kind::kNative;
    std::string host = "0.0.0.0";
    uint16_t port = 8080;
    bool tcp = true;          // false ("--port none"): the unix socket only, no TCP listener
    std::string socket_path;  // also listen on this unix socket when set
    std::string action_dir = "/action";
    std::string launcher;     // python/nodejs: the launcher script
    std::string interpreter;  // python/nodejs: "python3" / "node" (PATH lookup)
    std::string port_file;    // write the bound TCP port here once listening (tests)
    bool concurrent = false;  // nodejs with __OW_ALLOW_CONCURRENT=true: runs overlap
    bool zygote = true;  // python/nodejs: start the launcher at proxy start (WISP_PROXY_ZYGOTE)
    // python: the zygote is a fork server that survives /wisp/reset ("on"); "once": a zygote
    // that becomes the launcher at /init, used once.
    bool fork_server = true;
};

std::string_view KindName(Kind kind);
std::optional<Kind> ParseKind(std::string_view text);

/// Flags override the environment:
///   --kind K          WISP_PROXY_KIND          python | nodejs | native (also python:3.11, ...)
///   --host H          WISP_PROXY_HOST          0.0.0.0
///   --port N          WISP_PROXY_PORT          8080 (0 = any free port; "none" = no TCP
///                                              listener at all, needs --socket)
///   --socket P        WISP_PROXY_SOCKET        unix socket path, in addition to TCP
///   --action-dir D    WISP_PROXY_ACTION_DIR    /action
///   --launcher P      WISP_PROXY_LAUNCHER      /opt/wisp/launcher.py | /opt/wisp/launcher.js
///   --interpreter P   WISP_PROXY_INTERPRETER   python3 | node
///   --port-file F     (none)                   write the bound port to F
///   --zygote on|off|once  WISP_PROXY_ZYGOTE    on: python/nodejs launcher started before /init
///                                              (python: a fork server); once: python's zygote
///                                              is the launcher itself, used once
/// and __OW_ALLOW_CONCURRENT=true (nodejs only) lets /run calls overlap.
/// Returns nullopt with `message` set on bad input or --help (`help` true then).
std::optional<ProxyOptions> ParseOptions(int argc, const char* const* argv,
                                         const std::function<const char*(const char*)>& getenv,
                                         std::string& message, bool& help);

std::string UsageText();

}  // namespace wisp::proxy
