#include "wskprops.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

namespace wsk {
namespace {

std::string Trim(const std::string& s) {
    size_t b = 0;
    size_t e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

}  // namespace

Props ParseProps(const std::string& text) {
    Props props;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto hash = line.find('#');
        if (hash != std::string::npos) line.erase(hash);
        line = Trim(line);
        const auto eq = line.find('=');
        if (eq == std::string::npos || line.find('=', eq + 1) != std::string::npos) continue;
        props[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return props;
}

std::string FormatProps(const Props& props) {
    std::map<std::string, std::string> upper;
    for (const auto& [k, v] : props) {
        std::string key = k;
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        upper[key] = v;
    }
    std::string out;
    for (const auto& [k, v] : upper) out += k + "=" + v + "\n";
    return out;
}

Props ReadPropsFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) return {};
    std::stringstream ss;
    ss << in.rdbuf();
    return ParseProps(ss.str());
}

Status WritePropsFile(const std::string& path, const Props& props) {
    std::ofstream out(path, std::ios::trunc);
    if (out) out << FormatProps(props);
    if (!out) {
        return WskError::General("Whisk properties file write failure: open " + path +
                                 ": cannot write the file");
    }
    return std::nullopt;
}

std::string PropsFilePath(const std::function<const char*(const char*)>& getenv) {
    const char* custom = getenv("WSK_CONFIG_FILE");
    if (custom != nullptr && *custom != '\0') return custom;
    const char* home = getenv("HOME");
    return std::string(home != nullptr ? home : ".") + "/.wskprops";
}

Config ResolveConfig(const Props& props, const GlobalFlags& flags,
                     const std::function<const char*(const char*)>& getenv) {
    Config c;
    auto prop = [&](const char* key, std::string& into) {
        auto it = props.find(key);
        if (it != props.end()) into = it->second;
    };
    auto env = [&](const char* name, std::string& into) {
        const char* v = getenv(name);
        if (v != nullptr && *v != '\0') into = v;
    };
    auto flag = [](const std::string& v, std::string& into) {
        if (!v.empty()) into = v;
    };
    prop("CERT", c.cert);
    prop("KEY", c.key);
    prop("AUTH", c.auth);
    env("WHISK_AUTH", c.auth);
    prop("APIVERSION", c.apiversion);
    env("WHISK_APIVERSION", c.apiversion);
    prop("APIHOST", c.apihost);
    while (!c.apihost.empty() && c.apihost.back() == '/') c.apihost.pop_back();
    env("WHISK_APIHOST", c.apihost);
    flag(flags.cert, c.cert);
    flag(flags.key, c.key);
    flag(flags.auth, c.auth);
    flag(flags.apiversion, c.apiversion);
    flag(flags.apihost, c.apihost);
    c.insecure = flags.insecure;
    c.verbose = flags.verbose;
    const char* dbg = getenv("WSK_CLI_DEBUG");
    c.debug = flags.debug || (dbg != nullptr && *dbg != '\0');
    return c;
}

Result<std::string> ApiBaseUrl(const std::string& apihost) {
    if (apihost.empty()) return WskError::General("An API host must be provided.", true);
    std::string host = apihost;
    while (!host.empty() && host.back() == '/') host.pop_back();
    if (host.rfind("http", 0) != 0) host = "https://" + host;
    // "http:..." without "://" is a host name that happens to start with "http".
    if (host.find("://") == std::string::npos) host = "https://" + host;
    return host + "/api";
}

}  // namespace wsk
