#pragma once
// ~/.wskprops (or $WSK_CONFIG_FILE): KEY=VALUE lines, '#' starts a comment. Configuration
// precedence, lowest first: defaults < properties file < WHISK_* environment < global flags.
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "wsk_error.hpp"

namespace wsk {

using Props = std::map<std::string, std::string>;

/// Parses the text of a properties file. Lines without exactly one '=' are skipped (as the Go
/// client does); keys keep their case.
Props ParseProps(const std::string& text);
/// The text written back: "KEY=VALUE\n" per entry, keys upper-cased, sorted.
std::string FormatProps(const Props& props);

/// Reads `path`; a missing file is an empty set of properties.
Props ReadPropsFile(const std::string& path);
[[nodiscard]] Status WritePropsFile(const std::string& path, const Props& props);

/// $WSK_CONFIG_FILE, else $HOME/.wskprops. `getenv` is injectable for tests.
std::string PropsFilePath(const std::function<const char*(const char*)>& getenv);

struct GlobalFlags {
    std::string apihost;
    std::string auth;
    std::string apiversion;
    std::string cert;
    std::string key;
    bool insecure = false;
    bool verbose = false;
    bool debug = false;
};

struct Config {
    std::string props_file;
    std::string apihost;  // as configured, e.g. "127.0.0.1:3233" or "http://host:port"
    std::string auth;     // "uuid:key"
    std::string apiversion = "v1";
    std::string cert;
    std::string key;
    std::string ns = "_";  // the CLI always sends "_" (the caller's namespace)
    bool insecure = false;
    bool verbose = false;
    bool debug = false;
};

Config ResolveConfig(const Props& props, const GlobalFlags& flags,
                     const std::function<const char*(const char*)>& getenv);

/// "<scheme>://host[:port]/api" for an API host: a host without scheme gets https://, a
/// trailing '/' is dropped. Error when the host is empty ("An API host must be provided.").
[[nodiscard]] Result<std::string> ApiBaseUrl(const std::string& apihost);

}  // namespace wsk
