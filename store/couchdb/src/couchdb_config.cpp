// CouchDbConfig::FromUri.
#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include <wisp/store/couchdb_artifact_store.hpp>

#include "couchdb_client.hpp"

namespace wisp::store {
namespace {

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoding of URI components; false on a broken escape.
bool Decode(std::string_view in, std::string& out) {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) return false;
        const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return true;
}

bool IsValidDbPrefix(std::string_view p) {
    if (p.empty()) return true;
    if (p[0] < 'a' || p[0] > 'z') return false;
    for (char c : p) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
                        c == '(' || c == ')' || c == '+' || c == '-' || c == '/';
        if (!ok) return false;
    }
    return true;
}

[[nodiscard]] absl::Status ParseInt(std::string_view name, std::string_view value, int min,
                                    int& out) {
    int v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || ptr != value.data() + value.size() || v < min) {
        return absl::InvalidArgumentError(couchdb::Cat("CouchDB URI parameter ", name, "=", value,
                                                       " is not an integer >= ", min));
    }
    out = v;
    return absl::OkStatus();
}

[[nodiscard]] absl::Status Invalid(std::string_view why) {
    return absl::InvalidArgumentError(
        couchdb::Cat("invalid CouchDB URI: ", why,
                     "; expected http://user:password@host:port[?prefix=name_] "
                     "(set WISP_COUCHDB_URL)"));
}

}  // namespace

absl::StatusOr<CouchDbConfig> CouchDbConfig::FromUri(std::string_view uri) {
    if (uri.starts_with("couchdb:")) uri.remove_prefix(8);
    CouchDbConfig config;

    std::string_view scheme;
    if (uri.starts_with("http://")) {
        scheme = "http://";
    } else if (uri.starts_with("https://")) {
        scheme = "https://";
    } else {
        return Invalid("the scheme must be http:// or https://");
    }
    uri.remove_prefix(scheme.size());

    std::string_view query;
    if (const size_t q = uri.find('?'); q != std::string_view::npos) {
        query = uri.substr(q + 1);
        uri = uri.substr(0, q);
    }
    std::string_view authority = uri, path;
    if (const size_t slash = uri.find('/'); slash != std::string_view::npos) {
        authority = uri.substr(0, slash);
        path = uri.substr(slash);
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    }
    bool has_credentials = false;
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const size_t colon = userinfo.find(':');
        if (!Decode(userinfo.substr(0, colon), config.username)) {
            return Invalid("the user name has a broken %-escape");
        }
        if (colon != std::string_view::npos &&
            !Decode(userinfo.substr(colon + 1), config.password)) {
            return Invalid("the password has a broken %-escape");
        }
        has_credentials = true;
    }
    if (authority.empty()) return Invalid("the host is missing");
    if (authority.find_first_of(" \t\r\n") != std::string_view::npos) {
        return Invalid("the host contains white space");
    }
    config.url = couchdb::Cat(scheme, authority, path);

    if (!query.empty()) {
        while (!query.empty()) {
            const size_t amp = query.find('&');
            const std::string_view pair = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
            if (pair.empty()) continue;
            const size_t eq = pair.find('=');
            const std::string_view key = pair.substr(0, eq);
            std::string value;
            if (!Decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                        value)) {
                return Invalid(couchdb::Cat("parameter ", key, " has a broken %-escape"));
            }
            if (key == "prefix") {
                config.db_prefix = value;
            } else if (key == "max_retries") {
                if (auto s = ParseInt(key, value, 0, config.max_retries); !s.ok()) return s;
            } else if (key == "connect_timeout_ms") {
                if (auto s = ParseInt(key, value, 1, config.connect_timeout_ms); !s.ok()) return s;
            } else if (key == "request_timeout_ms") {
                if (auto s = ParseInt(key, value, 1, config.request_timeout_ms); !s.ok()) return s;
            } else if (key == "initial_backoff_ms") {
                if (auto s = ParseInt(key, value, 0, config.initial_backoff_ms); !s.ok()) return s;
            } else {
                return Invalid(couchdb::Cat(
                    "unknown parameter '", key,
                    "' (known: prefix, max_retries, connect_timeout_ms, request_timeout_ms, "
                    "initial_backoff_ms)"));
            }
        }
    }
    if (!IsValidDbPrefix(config.db_prefix)) {
        return Invalid(couchdb::Cat("prefix '", config.db_prefix,
                                    "' is not a valid CouchDB database name start (a lowercase "
                                    "letter, then a-z 0-9 _ $ ( ) + - /)"));
    }

    if (!has_credentials) {
        if (const char* u = std::getenv("WISP_COUCHDB_USERNAME"); u != nullptr) {
            config.username = u;
        }
        if (const char* p = std::getenv("WISP_COUCHDB_PASSWORD"); p != nullptr) {
            config.password = p;
        }
    }
    return config;
}

}  // namespace wisp::store
