#pragma once
// DockerEngine: a small Docker Engine API client over the daemon's unix socket (libcurl with
// CURLOPT_UNIX_SOCKET_PATH), the API version pinned in every path. Easy handles are pooled, so
// consecutive calls reuse the keep-alive connection to the daemon. Thread-safe.
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <wisp/common/curl_handle_pool.hpp>

namespace wisp::invoker::docker {

class DockerEngine {
  public:
    struct Response {
        long status = 0;
        std::string body;
    };

    /// `api_version` like "v1.41"; every path is sent as "/<api_version><path>".
    DockerEngine(std::string socket_path, std::string api_version);
    ~DockerEngine();
    DockerEngine(const DockerEngine&) = delete;
    DockerEngine& operator=(const DockerEngine&) = delete;

    /// One request; `path` includes the query ("/containers/json?all=1"). A JSON `body` is sent
    /// with Content-Type application/json (none for an empty body). Any HTTP status is returned;
    /// the error status is only for transport failures: Unavailable, with the message saying that
    /// the daemon is not answering and how to start it. Blocks at most `timeout`.
    [[nodiscard]] absl::StatusOr<Response> Call(std::string_view method, std::string_view path,
                                                std::string_view body,
                                                std::chrono::milliseconds timeout);

    /// A GET whose answer is read as it arrives (logs with follow=1). `on_data` gets each chunk of
    /// a 200 answer and returns false to stop reading. Reading also stops when no byte arrived for
    /// `idle` or at `deadline`; `*timed_out` tells which (false when on_data stopped or the
    /// answer ended). The status of a non-200 answer is returned with its body; a 200 has an
    /// empty body here.
    [[nodiscard]] absl::StatusOr<Response> Stream(
        std::string_view path, const std::function<bool(std::string_view)>& on_data,
        std::chrono::milliseconds idle, std::chrono::steady_clock::time_point deadline,
        bool* timed_out);

    /// The message for a daemon that does not answer.
    std::string NotAnswering(std::string_view detail) const;
    const std::string& socket_path() const { return socket_path_; }

  private:
    const std::string socket_path_;
    const std::string api_version_;
    common::CurlHandlePool handles_{32};
};

/// A Status for a non-2xx answer of the Engine API to `what` ("create container x"):
/// 404 NotFound, 409 AlreadyExists (name taken) / FailedPrecondition, 400 InvalidArgument,
/// others Internal; the message carries docker's own `message`.
[[nodiscard]] absl::Status EngineError(std::string_view what,
                                       const DockerEngine::Response& response);

}  // namespace wisp::invoker::docker
