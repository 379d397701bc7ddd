#pragma once
// KubeClient: the few Kubernetes REST calls the factory makes, over libcurl (HTTPS with the
// cluster CA and a bearer token or client certificate; plain http only to loopback). Easy
// handles are pooled so that consecutive calls reuse the connection. Thread-safe.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <wisp/common/curl_handle_pool.hpp>

#include <wisp/invoker/kubernetes_container_factory.hpp>

namespace wisp::invoker::kube {

/// OK for https URLs and for http to a loopback address (127.0.0.0/8, ::1, localhost);
/// InvalidArgument otherwise.
[[nodiscard]] absl::Status ValidateServerUrl(std::string_view url);

class KubeClient {
  public:
    struct Response {
        long status = 0;
        std::string body;
    };

    explicit KubeClient(KubeApiConfig config);
    KubeClient(const KubeClient&) = delete;
    KubeClient& operator=(const KubeClient&) = delete;

    /// One request; `path` starts with "/api/..." and holds the query. `content_type` for a
    /// body (default JSON). Any HTTP status is returned; the error status is for transport
    /// failures only (Unavailable naming the server) and for an answer over `max_bytes`.
    [[nodiscard]] absl::StatusOr<Response> Call(std::string_view method, std::string_view path,
                                                std::string_view body,
                                                std::chrono::milliseconds timeout,
                                                size_t max_bytes = 64u << 20,
                                                std::string_view content_type = "application/json");

    /// A streamed GET (watch=true): `on_line` gets each complete line of a 200 answer and
    /// returns false to stop. Ends when the server ends the stream, on_line stops it, or at
    /// `deadline`. The status of a non-200 answer comes back with its body.
    [[nodiscard]] absl::StatusOr<Response> Stream(
        std::string_view path, const std::function<bool(std::string_view)>& on_line,
        std::chrono::steady_clock::time_point deadline);

    const KubeApiConfig& config() const { return config_; }

  private:
    std::string Token();
    std::string Unreachable(std::string_view detail) const;

    KubeApiConfig config_;
    const absl::Status url_status_;
    common::CurlHandlePool handles_{16};
    std::mutex token_mu_;
    std::string token_;
    std::chrono::steady_clock::time_point token_read_{};
};

}  // namespace wisp::invoker::kube
