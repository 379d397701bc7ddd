#include <wisp/controller/http.hpp>

#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {
namespace {

using common::EqualsIgnoreCase;

/// The Allow-Headers of the REST API, and of web actions when the request names none.
constexpr std::string_view kCorsAllowHeaders =
    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent";

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string_view FindHeader(const HeaderList& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (EqualsIgnoreCase(key, name)) return value;
    }
    return {};
}

bool HasHeader(const HeaderList& headers, std::string_view name) {
    for (const auto& header : headers) {
        if (EqualsIgnoreCase(header.first, name)) return true;
    }
    return false;
}

std::string_view HttpRequest::Header(std::string_view name) const {
    return FindHeader(headers, name);
}

bool HttpRequest::HasHeader(std::string_view name) const {
    return controller::HasHeader(headers, name);
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return value;
    }
    return std::nullopt;
}

bool HttpRequest::QueryIsTrue(std::string_view name) const {
    auto v = Query(name);
    return v && *v == "true";
}

std::string ErrorBody(std::string_view msg, std::string_view tid) {
    std::string out = "{\"error\":";
    out += common::JsonValue::String(msg).text();
    out += ",\"code\":";
    out += common::JsonValue::String(tid).text();
    out += '}';
    return out;
}

void AddRestCorsHeaders(HttpResponse& r) {
    r.SetHeader("Access-Control-Allow-Origin", "*");
    r.SetHeader("Access-Control-Allow-Methods", "GET, DELETE, POST, PUT, HEAD");
    r.SetHeader("Access-Control-Allow-Headers", kCorsAllowHeaders);
}

void AddWebCorsHeaders(HttpResponse& response, std::string_view requested_headers) {
    auto add = [&response](std::string_view name, std::string_view value) {
        if (!HasHeader(response.headers, name)) response.headers.emplace_back(name, value);
    };
    add("Access-Control-Allow-Origin", "*");
    add("Access-Control-Allow-Methods", "OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH");
    add("Access-Control-Allow-Headers",
        requested_headers.empty() ? kCorsAllowHeaders : requested_headers);
}

void HttpResponse::SetHeader(std::string_view name, std::string_view value) {
    for (auto& header : headers) {
        if (EqualsIgnoreCase(header.first, name)) {
            header.second.assign(value);
            return;
        }
    }
    headers.emplace_back(std::string(name), std::string(value));
}

std::string_view HttpResponse::Header(std::string_view name) const {
    return FindHeader(headers, name);
}

HttpResponse HttpResponse::Json(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.headers.emplace_back("Content-Type", "application/json");
    response.body = std::move(body);
    return response;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.headers.emplace_back("Content-Type", "text/plain; charset=UTF-8");
    response.body = std::move(body);
    return response;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
    if (s.find('%') == std::string_view::npos &&
        (!plus_is_space || s.find('+') == std::string_view::npos)) {
        return std::string(s);  // the common case: nothing to decode
    }
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int hi = HexValue(s[i + 1]);
            const int lo = HexValue(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool ParseTarget(std::string_view target, std::string& path,
                 std::vector<std::pair<std::string, std::string>>& query) {
    query.clear();
    // absolute-form (RFC 7230 §5.3.2), e.g. from a proxy: keep only the path and query.
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() > scheme.size() &&
            EqualsIgnoreCase(target.substr(0, scheme.size()), scheme)) {
            const size_t slash = target.find_first_of("/?", scheme.size());
            target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
            break;
        }
    }
    target = target.substr(0, target.find('#'));  // a fragment is never sent; ignore it
    const size_t question = target.find('?');
    auto decoded_path = PercentDecode(target.substr(0, question), /*plus_is_space=*/false);
    if (!decoded_path) return false;
    path = std::move(*decoded_path);
    if (path.empty()) path = "/";
    if (question == std::string_view::npos) return true;

    std::string_view rest = target.substr(question + 1);
    while (!rest.empty()) {
        const size_t amp = rest.find('&');
        std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const size_t eq = pair.find('=');
        auto key = PercentDecode(pair.substr(0, eq), /*plus_is_space=*/true);
        if (!key) return false;
        std::optional<std::string> value;
        if (eq == std::string_view::npos) {
            value.emplace();
        } else {
            value = PercentDecode(pair.substr(eq + 1), /*plus_is_space=*/true);
            if (!value) return false;
        }
        query.emplace_back(std::move(*key), std::move(*value));
    }
    return true;
}

std::string TransactionIdFor(const HttpRequest& request) {
    return common::MakeTransactionId(request.Header("x-request-id"));
}

}  // namespace wisp::controller
