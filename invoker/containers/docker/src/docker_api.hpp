#pragma once
// The pure parts of the Docker backend, kept apart from any I/O so that unit tests can feed them
// synthetic input: container names, the create-request JSON, docker timestamps, image
// references, the multiplexed log stream and the per-container log cursor.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/invoker/container.hpp>

namespace wisp::invoker::docker {

/// OpenWhisk's end-of-activation marker, written by the action proxy on stdout and stderr.
inline constexpr std::string_view kActivationSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// The port every action proxy listens on inside its container (OpenWhisk's protocol).
inline constexpr int kProxyPort = 8080;

/// The longest container name we produce (docker accepts more; long names only hurt `docker ps`).
inline constexpr size_t kMaxContainerNameLength = 128;

/// A name docker accepts (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`) made from `name`: characters outside
/// that set are dropped, a name not starting with a letter or digit gets the prefix "wsk",
/// and the result is cut at kMaxContainerNameLength. Never empty.
std::string SanitizeContainerName(std::string_view name);

/// OpenWhisk's cpu shares: max(1024 / (user_memory / memory), 2), integer arithmetic; a memory
/// at least as large as the user memory gets the full 1024.
int64_t CpuSharesFor(int64_t memory_mb, int64_t user_memory_mb);

/// Everything the create request needs besides the ContainerSpec.
struct CreateSettings {
    int64_t user_memory_mb = 2048;  // the invoker's memory budget (for cpu shares)
    std::string network = "bridge";
    int64_t pids_limit = 1024;
    int64_t nofile = 1024;     // soft = hard
    bool publish_port = true;  // 8080/tcp published on 127.0.0.1, a port docker picks
    /// Host folder bind-mounted at `socket_container_dir` (empty: no mount, no socket).
    std::string socket_host_dir;
    std::string socket_container_dir = "/run/wisp";
    std::string socket_name = "proxy.sock";
    /// The proxy serves the socket only (WISP_PROXY_PORT=none): nothing listens on TCP in the
    /// container. Only with a socket folder and without a published port.
    bool socket_only = false;
    /// json-file rotation: docker keeps at most log_max_files files of log_max_size_mb MB.
    int64_t log_max_size_mb = 10;
    int log_max_files = 2;
    /// /tmp is a tmpfs of this size (its pages count against the container's memory); 0: none.
    int64_t tmp_size_mb = 64;
    /// The writable layer's size (HostConfig.StorageOpt size; only overlay2 on xfs with pquota,
    /// devicemapper, btrfs, zfs support it); 0: not set.
    int64_t storage_size_mb = 0;
    /// The OCI runtime (HostConfig.Runtime, e.g. "crun" as registered with the daemon); empty:
    /// the daemon's default (runc).
    std::string runtime;
};

/// The body of POST /containers/create for `spec` (compact JSON): image, env (plus
/// WISP_PROXY_SOCKET when a socket folder is mounted, and WISP_PROXY_PORT=none when
/// socket_only), labels, Memory = MemorySwap = memory_mb MiB, CpuShares, PidsLimit, nofile
/// ulimit, CapDrop ALL, no-new-privileges, json-file logs with max-size / max-file, the /tmp
/// tmpfs, the storage size, the network, the 127.0.0.1 port binding and the socket bind mount.
std::string BuildCreateBody(const ContainerSpec& spec, const CreateSettings& settings);

/// The create body of a network sandbox (DockerFactoryOptions::network_sandboxes): `sleep
/// infinity` in `image` on `network` with `labels`, 16 MiB without swap, cpu shares 2, 8 pids,
/// CapDrop ALL, no-new-privileges, no log, no restart; `runtime` when not empty.
std::string BuildNetworkSandboxBody(const std::string& image,
                                    const std::map<std::string, std::string>& labels,
                                    const std::string& network, const std::string& runtime);

/// Nanoseconds since the epoch as docker's `since`/`until` query value: "<seconds>.<9 digits>".
std::string FormatSinceParameter(int64_t unix_nanos);

/// "repo[:tag]" split for POST /images/create (fromImage, tag). A digest reference
/// ("repo@sha256:…") keeps the digest in `repository` and an empty tag; no tag means "latest".
struct ImageReference {
    std::string repository;
    std::string tag;
};
ImageReference ParseImageReference(std::string_view image);

/// The Engine API path of an image (`/images/<name>/<what>`), the name percent-encoded (a '/'
/// becomes %2F: nothing in a name can act as a path segment or a query).
std::string ImagePath(std::string_view image, std::string_view what);

/// The `message` field of a docker error body, or the body itself (trimmed) when it has none.
std::string EngineErrorMessage(std::string_view body);

/// A pull progress stream (one JSON object per line): OK, or FailedPrecondition with the text of
/// the first error it reports.
[[nodiscard]] absl::Status PullStreamStatus(std::string_view stream);

/// Splits docker's multiplexed stream (GET /containers/{id}/logs without a TTY) into frames:
/// an 8-byte header [stream, 0, 0, 0, size (4 bytes, big endian)] then `size` bytes of payload.
/// Stream 1 is stdout, 2 stderr (0, stdin, is reported as stdout). Feed() accepts arbitrary
/// chunks; incomplete frames are kept until the rest arrives.
class LogFrameDemuxer {
  public:
    using FrameHandler = std::function<bool(int stream, std::string_view payload)>;
    /// Calls `on_frame` for every complete frame; stops early (returns false) when it does.
    bool Feed(std::string_view chunk, const FrameHandler& on_frame);
    /// Bytes of an incomplete frame held back.
    size_t pending() const { return buffer_.size() - offset_; }

  private:
    std::string buffer_;
    size_t offset_ = 0;
};

/// Where the previous CollectLogs stopped: the time of the last consumed entry and how many
/// consumed entries carry exactly that time (docker's `since` is inclusive, so a re-read returns
/// them again and they are skipped).
struct LogCursor {
    std::optional<int64_t> last_nanos;
    int consumed_at_last = 0;
};

/// Entries asked for with `tail=` before falling back to a read of the whole log from the cursor.
inline constexpr int kLogTailWindow = 512;

/// True when the log entry `payload` ("<time> <text>") is at or before the cursor's time (or the
/// cursor is unset): a tail window whose first entry passes this reached back to the cursor, so
/// nothing after the cursor was cut off.
bool EntryReachesCursor(std::string_view payload, const LogCursor& cursor);

/// Turns log entries ("<RFC 3339 time> <text>[\n]" payloads, in file order) into LogLines for one
/// activation: skips what the cursor says was consumed, joins docker's partial entries (a long
/// line is split into 16 KiB entries; only the last ends with '\n'), consumes sentinel lines
/// (text before a sentinel on the same line is kept), caps the returned bytes (line texts) at
/// `limit_bytes`, and reports completion once `sentinels` sentinel lines were seen.
class LogAssembler {
  public:
    LogAssembler(LogCursor start, int sentinels, int64_t limit_bytes);

    /// One entry from stream "stdout"/"stderr". Returns true once the wanted sentinels were
    /// seen (later entries are then ignored and not consumed).
    bool OnEntry(int stream, std::string_view payload);
    bool done() const { return done_; }
    /// The cursor after the last consumed entry.
    const LogCursor& cursor() const { return cursor_; }
    /// The lines so far; partial lines still pending are flushed first. `complete` is whether the
    /// sentinels were all seen.
    Container::Logs Finish();
    /// Entries that were not understood (no timestamp); they are returned as text anyway.
    int malformed() const { return malformed_; }

  private:
    void Emit(int stream, std::string time, std::string text);
    void Consume(int64_t nanos);

    LogCursor start_;
    LogCursor cursor_;
    int skip_at_start_;
    int wanted_sentinels_;
    int seen_sentinels_ = 0;
    int64_t limit_bytes_;
    int64_t bytes_ = 0;
    bool done_ = false;
    int malformed_ = 0;
    Container::Logs logs_;
    struct Partial {
        std::string time;
        std::string text;  // at most limit_bytes_ + 1 bytes, then `tail`
        std::string tail;  // the last bytes of an overlong line (for the sentinel)
        bool overflow = false;
        bool active = false;
    };
    void Append(Partial& partial, std::string_view text);
    Partial partial_[3];
};

}  // namespace wisp::invoker::docker
