#pragma once
// Who may read a /metrics endpoint, and a small server for processes without an API port
// (wisp-invoker --metrics-listen). One rule for every component:
//   - a token set: `Authorization: Bearer <token>` (constant-time compare); loopback peers
//     without it only when `loopback_with_token`;
//   - no token: loopback peers only (127.0.0.0/8, ::1).
// Refusals carry OpenWhisk's error body: 401 (token set; with WWW-Authenticate) or 403.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

#include <wisp/controller/http.hpp>

namespace wisp::controller {

/// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. False for anything unparsable or empty.
bool IsLoopbackAddress(std::string_view address);
/// The token of "Bearer <token>" (scheme case-insensitive), or nullopt.
std::optional<std::string_view> BearerToken(std::string_view authorization);

/// nullopt when `req` may read the metrics, else the refusal to send.
std::optional<HttpResponse> CheckMetricsAccess(const HttpRequest& req, std::string_view token,
                                               bool loopback_with_token, std::string_view tid);

/// The 200 answer with the exposition text (Content-Type text/plain; version=0.0.4).
HttpResponse MetricsResponse(std::string text);

struct MetricsServerConfig {
    /// HOST:PORT; port 0 picks a free one (see MetricsServer::port()).
    std::string listen = "127.0.0.1:0";
    std::string token;
    bool loopback_with_token = false;
    /// The exposition text, rendered per scrape; called on a server thread, thread-safe.
    std::function<std::string()> render;
};

/// GET /metrics and GET /ping (pong) on their own port, for wisp-invoker. Anything else: 404.
class MetricsServer {
  public:
    /// Binds and serves. InvalidArgument for a bad HOST:PORT, Unavailable when the port is
    /// taken.
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
        MetricsServerConfig config);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    uint16_t port() const;
    /// Stops serving; idempotent.
    void Stop();

  private:
    struct Impl;
    explicit MetricsServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace wisp::controller
