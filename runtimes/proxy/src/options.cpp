#include "options.hpp"

#include <charconv>
#include <string_view>

namespace wisp::proxy {

std::string_view KindName(Kind kind) {
    switch (kind) {
        case Kind::kPython:
            return "python";
        case Kind::kNodejs:
            return "nodejs";
        case Kind::kNative:
            return "native";
    }
    return "native";
}

std::optional<Kind> ParseKind(std::string_view text) {
    std::string_view family = text.substr(0, text.find(':'));
    if (family == "python") return Kind::kPython;
    if (family == "nodejs" || family == "node") return Kind::kNodejs;
    if (family == "native" || family == "blackbox" || family == "dockerskeleton") {
        return Kind::kNative;
    }
    return std::nullopt;
}

std::string UsageText() {
    return "usage: wisp-action-proxy [--kind python|nodejs|native] [--host H] [--port N]\n"
           "                         [--socket PATH] [--action-dir DIR] [--launcher FILE]\n"
           "                         [--interpreter PROG] [--port-file FILE] [--zygote "
           "on|off|once]\n"
           "Serves the OpenWhisk action protocol (POST /init, POST /run) on TCP and, with\n"
           "--socket, on a unix socket (--port none: on the socket only). Each flag has an "
           "environment twin: WISP_PROXY_KIND,\n"
           "WISP_PROXY_HOST, WISP_PROXY_PORT, WISP_PROXY_SOCKET, WISP_PROXY_ACTION_DIR,\n"
           "WISP_PROXY_LAUNCHER, WISP_PROXY_INTERPRETER, WISP_PROXY_ZYGOTE.\n";
}

std::optional<ProxyOptions> ParseOptions(int argc, const char* const* argv,
                                         const std::function<const char*(const char*)>& getenv,
                                         std::string& message, bool& help) {
    help = false;
    std::string kind = getenv("WISP_PROXY_KIND") ? getenv("WISP_PROXY_KIND") : "";
    auto env_or = [&](const char* name, std::string fallback) {
        const char* v = getenv(name);
        return v != nullptr && *v != '\0' ? std::string(v) : fallback;
    };
    ProxyOptions opts;
    opts.host = env_or("WISP_PROXY_HOST", opts.host);
    std::string port = env_or("WISP_PROXY_PORT", "8080");
    opts.socket_path = env_or("WISP_PROXY_SOCKET", "");
    opts.action_dir = env_or("WISP_PROXY_ACTION_DIR", opts.action_dir);
    opts.launcher = env_or("WISP_PROXY_LAUNCHER", "");
    opts.interpreter = env_or("WISP_PROXY_INTERPRETER", "");
    std::string zygote = env_or("WISP_PROXY_ZYGOTE", "on");

    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            help = true;
            message = UsageText();
            return std::nullopt;
        }
        std::string_view name = arg;
        std::string value;
        bool has_value = false;
        if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = std::string(arg.substr(eq + 1));
            has_value = true;
        }
        auto take = [&]() -> bool {
            if (has_value) return true;
            if (i + 1 >= argc) {
                message = std::string(name) + " needs a value\n" + UsageText();
                return false;
            }
            value = argv[++i];
            return true;
        };
        std::string* target = nullptr;
        if (name == "--kind") {
            target = &kind;
        } else if (name == "--host") {
            target = &opts.host;
        } else if (name == "--port") {
            target = &port;
        } else if (name == "--socket") {
            target = &opts.socket_path;
        } else if (name == "--action-dir") {
            target = &opts.action_dir;
        } else if (name == "--launcher") {
            target = &opts.launcher;
        } else if (name == "--interpreter") {
            target = &opts.interpreter;
        } else if (name == "--port-file") {
            target = &opts.port_file;
        } else if (name == "--zygote") {
            target = &zygote;
        } else {
            message = "unknown argument '" + std::string(arg) + "'\n" + UsageText();
            return std::nullopt;
        }
        if (!take()) return std::nullopt;
        *target = value;
    }

    auto parsed_kind = ParseKind(kind);
    if (!parsed_kind) {
        message = kind.empty() ? "the action kind is not set: pass --kind python|nodejs|native "
                                 "or set WISP_PROXY_KIND\n"
                               : "unknown kind '" + kind + "': use python, nodejs or native\n";
        return std::nullopt;
    }
    opts.kind = *parsed_kind;
    if (port == "none") {
        // Only the unix socket: nothing in the container listens on TCP (other containers, or
        // the action itself, cannot reach the proxy over the network).
        if (opts.socket_path.empty()) {
            message = "--port none needs a unix socket (--socket or WISP_PROXY_SOCKET)\n";
            return std::nullopt;
        }
        opts.tcp = false;
        opts.port = 0;
    } else {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
        if (ec != std::errc() || end != port.data() + port.size() || value > 65535) {
            message = "invalid port '" + port + "': use 0..65535 or none\n";
            return std::nullopt;
        }
        opts.port = static_cast<uint16_t>(value);
    }
    if (zygote == "on" || zygote == "1" || zygote == "true") {
        opts.zygote = true;
    } else if (zygote == "once") {
        opts.zygote = true;
        opts.fork_server = false;
    } else if (zygote == "off" || zygote == "0" || zygote == "false") {
        opts.zygote = false;
        opts.fork_server = false;
    } else {
        message = "invalid --zygote '" + zygote + "': use on, off or once\n";
        return std::nullopt;
    }
    if (opts.kind == Kind::kPython) {
        if (opts.launcher.empty()) opts.launcher = "/opt/wisp/launcher.py";
        if (opts.interpreter.empty()) opts.interpreter = "python3";
    } else if (opts.kind == Kind::kNodejs) {
        if (opts.launcher.empty()) opts.launcher = "/opt/wisp/launcher.js";
        if (opts.interpreter.empty()) opts.interpreter = "node";
        const char* concurrent = getenv("__OW_ALLOW_CONCURRENT");
        opts.concurrent = concurrent != nullptr && std::string_view(concurrent) == "true";
    }
    return opts;
}

}  // namespace wisp::proxy
