#pragma once
// Containers as the invoker sees them: something that answers the action protocol (/init, /run;
// wire §5), can be paused, resumed and destroyed, and whose stdout/stderr can be read.
//
// Backends: DockerContainerFactory (Docker Engine API over /var/run/docker.sock) and, in tests,
// a fake. The pool (ContainerPool) only talks to these interfaces.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

namespace wisp::invoker {

/// What to start.
struct ContainerSpec {
    std::string image;  // "wisp/action-python:3.11"
    std::string name;   // docker name, e.g. "wsk0_12_guest_hello" (sanitised by the factory)
    int64_t memory_mb = 256;
    std::vector<std::pair<std::string, std::string>> env;  // e.g. __OW_API_HOST
    std::map<std::string, std::string> labels;             // "wisp.invoker" -> "<id>"
    /// Pull the image when it is not present locally (blackbox images outside the manifest).
    bool pull_if_missing = false;
};

/// The answer of the action proxy to one /init or /run.
struct ProxyResponse {
    enum class Failure {
        kNone,            // got an HTTP answer (status + body)
        kTimeout,         // no answer within the time limit
        kConnectionLost,  // the connection broke (crash, OOM kill)
    };
    Failure failure = Failure::kNone;
    int status = 0;  // HTTP status when failure == kNone
    std::string body;
    /// A Wisp proxy asked with `X-Wisp-Logs: inline` (runtimes/README.md): the activation's
    /// log lines that came after the result ("<unix nanos> <stdout|stderr> <text>\n" each), and
    /// whether the proxy dropped lines past its own bound. `body` is then the result alone.
    std::optional<std::string> inline_logs;
    bool inline_logs_truncated = false;
    std::chrono::steady_clock::time_point started;  // when the request was sent
    std::chrono::steady_clock::time_point finished;
    int64_t ElapsedMs() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count();
    }
};

/// One line of container output.
struct LogLine {
    std::string time;    // RFC 3339 with nanoseconds, as docker reports it
    std::string stream;  // "stdout" | "stderr"
    std::string text;    // without the trailing newline
};

class Container {
  public:
    virtual ~Container() = default;

    /// Backend id (docker container id).
    virtual const std::string& id() const = 0;
    /// Memory reserved for this container (MB).
    virtual int64_t memory_mb() const = 0;

    /// POST /init with `body`; connection-refused is retried every 50 ms until `timeout`.
    /// Blocks; one call at a time per container. Error status only for local failures.
    [[nodiscard]] virtual absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                             std::chrono::milliseconds timeout) = 0;
    /// POST /run with `body`. Blocks; thread-safe up to the action's concurrency.
    [[nodiscard]] virtual absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                                            std::chrono::milliseconds timeout) = 0;

    /// Freezes / thaws the container (docker pause / unpause). Blocks.
    [[nodiscard]] virtual absl::Status Pause() = 0;
    [[nodiscard]] virtual absl::Status Resume() = 0;
    /// Kills and removes the container. Blocks; idempotent.
    [[nodiscard]] virtual absl::Status Destroy() = 0;

    /// True when the kernel OOM-killed the container (docker inspect State.OOMKilled).
    [[nodiscard]] virtual absl::StatusOr<bool> WasOomKilled() = 0;

    /// False when the container no longer runs (killed or removed from outside; docker inspect
    /// State.Running, a paused container runs). The pool asks it of idle keep-warm containers.
    /// Backends that cannot tell answer true.
    [[nodiscard]] virtual absl::StatusOr<bool> Running() { return true; }

    /// Output written since the previous call, read until `sentinels` end-of-activation markers
    /// (XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX, one per stream) were seen or `wait` elapsed
    /// without new output. Sentinel lines are consumed, not returned. `limit_bytes` caps what is
    /// returned; `truncated` tells when output was dropped.
    struct Logs {
        std::vector<LogLine> lines;
        bool truncated = false;
        bool complete = true;  // false when the sentinels never arrived
    };
    [[nodiscard]] virtual absl::StatusOr<Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                           std::chrono::milliseconds wait) = 0;
    /// True when the output of the last Run() came with its answer (a Wisp proxy's inline
    /// logs): the next CollectLogs returns it at once, without waiting. Then the runner sends
    /// one COMBINED ack instead of RESULT first and COMPLETION after the logs. False by default.
    [[nodiscard]] virtual bool LogsAtHand() { return false; }

    /// POST /wisp/reset to a Wisp proxy: every process of the action killed, its work dir and
    /// /tmp emptied, back to "not initialised" (a new /init may follow, for another action of
    /// the same namespace and kind). Blocks. Unimplemented for backends and images without it
    /// (OpenWhisk's runtimes): such a container is never reused for another action.
    [[nodiscard]] virtual absl::Status Reset() {
        return absl::UnimplementedError("this container cannot be reset; create a new one");
    }
};

class ContainerFactory {
  public:
    virtual ~ContainerFactory() = default;
    /// Creates and starts a container (not initialised). Blocks until the action proxy
    /// accepts connections or fails. Thread-safe. Unavailable when the engine is down;
    /// NotFound / FailedPrecondition when the image is missing and cannot be pulled.
    [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<Container>> Create(
        const ContainerSpec& spec) = 0;
    /// Removes every container labelled `wisp.invoker=<invoker_id>` (left by an earlier run).
    /// Returns how many were removed.
    [[nodiscard]] virtual absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) = 0;
    /// True when `image` exists locally.
    [[nodiscard]] virtual absl::StatusOr<bool> ImageExists(std::string_view image) = 0;
};

}  // namespace wisp::invoker
