#include <wisp/controller/metrics_endpoint.hpp>

#include <charconv>

#include <boost/asio/ip/address.hpp>

#include <wisp/common/prometheus.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/controller/http_server.hpp>

#include "authenticator.hpp"
#include "replier.hpp"

namespace wisp::controller {

bool IsLoopbackAddress(std::string_view address) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(std::string(address), ec);
    if (ec) return false;
    if (a.is_loopback()) return true;
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6())
            .is_loopback();
    }
    return false;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
    constexpr std::string_view kBearer = "bearer ";
    if (authorization.size() <= kBearer.size() ||
        common::AsciiLower(authorization.substr(0, kBearer.size())) != kBearer) {
        return std::nullopt;
    }
    return common::Trim(authorization.substr(kBearer.size()));
}

std::optional<HttpResponse> CheckMetricsAccess(const HttpRequest& req, std::string_view token,
                                               bool loopback_with_token, std::string_view tid) {
    const bool loopback = IsLoopbackAddress(req.remote_address);
    if (token.empty()) {
        if (loopback) return std::nullopt;
        return HttpResponse::Json(403, ErrorBody(kMsgNotAuthorizedForResource, tid));
    }
    if (loopback && loopback_with_token) return std::nullopt;
    const std::string_view authorization = req.Header("authorization");
    if (auto given = BearerToken(authorization)) {
        if (common::ConstantTimeEquals(*given, token)) return std::nullopt;
    }
    HttpResponse r = HttpResponse::Json(
        401, ErrorBody(authorization.empty() ? kMsgAuthRequired : kMsgAuthInvalid, tid));
    r.SetHeader("WWW-Authenticate", "Bearer realm=\"wisp metrics\"");
    return r;
}

HttpResponse MetricsResponse(std::string text) {
    HttpResponse r = HttpResponse::Text(200, std::move(text));
    r.SetHeader("Content-Type", common::Cat(common::kPrometheusContentType, "; charset=utf-8"));
    return r;
}

struct MetricsServer::Impl {
    MetricsServerConfig config;
    std::unique_ptr<HttpServer> server;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() { Stop(); }

uint16_t MetricsServer::port() const { return impl_->server->port(); }

void MetricsServer::Stop() {
    if (impl_ && impl_->server) impl_->server->Stop();
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(MetricsServerConfig config) {
    const size_t colon = config.listen.rfind(':');
    uint16_t port = 0;
    std::string host;
    bool ok = colon != std::string::npos && colon > 0;
    if (ok) {
        host = config.listen.substr(0, colon);
        if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
        }
        const std::string_view p = std::string_view(config.listen).substr(colon + 1);
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        ok = !p.empty() && ec == std::errc() && end == p.data() + p.size();
    }
    if (!ok) {
        return absl::InvalidArgumentError(common::Cat(
            "--metrics-listen \"", config.listen,
            "\" is not HOST:PORT; use e.g. 0.0.0.0:9095 (all interfaces) or 127.0.0.1:0"));
    }
    auto impl = std::make_unique<Impl>();
    impl->config = std::move(config);
    HttpServerConfig http;
    http.address = host;
    http.port = port;
    http.threads = 1;
    http.max_body_bytes = 1024;
    http.max_connections = 64;
    // Prometheus scrapes by service or pod name: any Host is fine on a non-loopback address.
    Impl* self = impl.get();
    impl->server = std::make_unique<HttpServer>(http, [self](HttpRequest&& req, Responder respond) {
        if (req.method != "GET" && req.method != "HEAD") {
            return respond(HttpResponse::Json(
                405, ErrorBody("HTTP method not allowed, supported methods: GET", "")));
        }
        if (req.path == "/ping") return respond(HttpResponse::Text(200, "pong"));
        if (req.path != "/metrics") {
            return respond(HttpResponse::Json(404, ErrorBody(kMsgResourceNotFound, "")));
        }
        if (auto refused =
                CheckMetricsAccess(req, self->config.token, self->config.loopback_with_token, "")) {
            return respond(*std::move(refused));
        }
        respond(MetricsResponse(self->config.render ? self->config.render() : std::string()));
    });
    if (auto st = impl->server->Start(); !st.ok()) {
        return absl::Status(
            st.code(), common::Cat("the metrics endpoint cannot listen on ", impl->config.listen,
                                   ": ", st.message(), "; pick another --metrics-listen"));
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

}  // namespace wisp::controller
