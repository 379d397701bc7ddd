#pragma once
// DockerContainerFactory: action containers on a Docker Engine, driven through the Engine API
// over the daemon's unix socket (libcurl; no docker CLI). See invoker/containers/docker/README.md.
//
//   DockerContainerFactory factory({.user_memory_mb = 2048});
//   auto c = factory.Create({.image = "wisp/action-python:3.11", .name = "wsk0_1_guest_hello",
//                            .memory_mb = 256, .labels = {{"wisp.invoker", "0"}}});
//   (*c)->Init(init_body, 60s); (*c)->Run(run_body, 60s); (*c)->CollectLogs(2, 10 << 20, 2s);
//
// The invoker reaches a container only through a unix socket in a bind-mounted host folder
// (default) or a port docker publishes on 127.0.0.1 — never through the container's bridge
// address.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/invoker/container.hpp>
#include <wisp/invoker/proxy_client.hpp>

namespace wisp::invoker {

namespace docker {
class DockerEngine;
struct LogCursor;
}  // namespace docker

/// The network the factory creates (when missing) for action containers: a bridge without
/// inter-container traffic (com.docker.network.bridge.enable_icc=false), outbound traffic NATed
/// as on docker's default bridge.
inline constexpr std::string_view kDefaultActionNetwork = "wisp-actions";

/// The label carrying DockerFactoryOptions::owner on every container the factory creates.
inline constexpr std::string_view kOwnerLabel = "wisp.owner";
/// The label of a network sandbox (DockerFactoryOptions::network_sandboxes); its value is the
/// invoker id of the containers it is made for (their `wisp.invoker` label).
inline constexpr std::string_view kNetworkSandboxLabel = "wisp.network-sandbox";

struct DockerFactoryOptions {
    /// The daemon's API socket.
    std::string socket_path = "/var/run/docker.sock";
    /// Pinned Engine API version (Debian 12's docker.io 20.10 speaks up to v1.41).
    std::string api_version = "v1.41";

    /// How the invoker talks to the action proxy in each container.
    enum class Transport {
        kUnixSocket,     // a socket in a bind-mounted host folder (default: skips docker-proxy)
        kPublishedPort,  // the 8080/tcp port docker published on 127.0.0.1
    };
    Transport transport = Transport::kUnixSocket;
    /// Host folder holding one sub-folder per container for its proxy socket. Empty: /run/wisp/
    /// containers when writable, else $TMPDIR (or /tmp)/wisp-containers-<uid>.
    std::string socket_root;
    /// Also publish 8080/tcp on 127.0.0.1 for Wisp images reached through their unix socket
    /// (always done for images whose proxy cannot serve a socket, and for kPublishedPort).
    /// When false (the default) such a container's proxy listens on its socket only: nothing in
    /// the container listens on TCP.
    bool publish_port = false;

    /// The invoker's user memory (MB): cpu shares = max(1024 / (user_memory / memory), 2).
    int64_t user_memory_mb = 2048;
    /// The containers' network. kDefaultActionNetwork (or any name that is not "bridge", "host",
    /// "none" or "container:…") is created when missing with inter-container traffic disabled,
    /// and refused when it exists with it enabled. "none": no network at all.
    std::string network = std::string(kDefaultActionNetwork);
    /// Network sandboxes held ready (0, the default: none). Most of a container's `start` is
    /// making its network namespace (veth on the bridge, docker's embedded DNS on a
    /// user-defined network). With N > 0 the factory keeps up to N started holder containers
    /// on `network` (`sleep infinity` in the first Wisp image it created a container of, 16 MB,
    /// no capabilities, labelled kNetworkSandboxLabel) and a new container joins one
    /// (`NetworkMode container:<holder>`) instead of getting its own. A holder serves exactly
    /// one container and is removed with it: nothing is shared between containers. Holders are
    /// made in the background, after the first Create. Not used with a published port, nor
    /// when `network` is "host" or "container:…".
    int network_sandboxes = 0;
    /// A new network sandbox is started only while no Create is under way and this long after
    /// the last one was taken, so that making it (dockerd, runc: CPU) does not compete with the
    /// start and /init of the containers that need one now; 0: as soon as no Create runs.
    std::chrono::milliseconds network_sandbox_refill_delay{500};
    int64_t pids_limit = 1024;
    int64_t nofile = 1024;
    /// Wisp images: /run asks the proxy for the activation's log lines with its answer
    /// (X-Wisp-Logs: inline), so nothing is written to or read from docker's log. false: the
    /// proxy writes them to the container log with sentinels, read back as for other images.
    bool inline_logs = true;
    /// json-file rotation: at most log_max_files files of log_max_size_mb MB per container.
    int64_t log_max_size_mb = 10;
    int log_max_files = 2;
    /// /tmp is a tmpfs of this size (counted in the container's memory); 0: none.
    int64_t tmp_size_mb = 64;
    /// The writable layer's size limit (HostConfig.StorageOpt size), 0: none. Only some storage
    /// drivers support it (overlay2 on xfs with pquota, btrfs, zfs, devicemapper).
    int64_t storage_size_mb = 0;
    /// The OCI runtime docker runs action containers with (HostConfig.Runtime): "crun" once
    /// tools/start-dockerd.sh registered it; empty = the daemon's default (runc).
    std::string runtime;
    /// Who owns the containers (e.g. a hash of wisp-standalone's data dir): set as the
    /// kOwnerLabel label on every container, and RemoveOrphans also removes the containers
    /// carrying it, whatever their invoker id. Empty: no owner label.
    std::string owner;

    /// Create: from start until the proxy answers.
    std::chrono::milliseconds ready_timeout{30000};
    /// Any single Engine API call (create, start, pause, remove, ...).
    std::chrono::milliseconds api_timeout{60000};
    /// Pulling an image.
    std::chrono::milliseconds pull_timeout{600000};
    /// WasOomKilled: read the container's memory cgroup (oom_kill counter) when this host
    /// exposes it under /sys/fs/cgroup; otherwise (or when false) ask for docker's "oom" event.
    bool oom_from_cgroup = true;
    /// WasOomKilled: how long to wait for docker's "oom" event when the cgroup is not read.
    std::chrono::milliseconds oom_event_grace{200};
};

/// One container. Thread-safe as Container says; destroying the object destroys the container
/// (unless Destroy() already did).
class DockerContainer final : public Container {
  public:
    ~DockerContainer() override;

    const std::string& id() const override { return id_; }
    int64_t memory_mb() const override { return memory_mb_; }

    [[nodiscard]] absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                     std::chrono::milliseconds timeout) override;
    [[nodiscard]] absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                                    std::chrono::milliseconds timeout) override;
    [[nodiscard]] absl::Status Pause() override;
    [[nodiscard]] absl::Status Resume() override;
    [[nodiscard]] absl::Status Destroy() override;
    [[nodiscard]] absl::StatusOr<bool> WasOomKilled() override;
    /// `GET /containers/{id}/json` → `State.Running` (a paused container runs); 404 = false.
    [[nodiscard]] absl::StatusOr<bool> Running() override;
    [[nodiscard]] absl::StatusOr<Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                   std::chrono::milliseconds wait) override;
    [[nodiscard]] bool LogsAtHand() override;
    /// POST /wisp/reset (Wisp images); Unimplemented when the proxy has no such endpoint.
    [[nodiscard]] absl::Status Reset() override;

    /// The sanitised docker name.
    const std::string& name() const { return name_; }
    /// The port published on 127.0.0.1 for 8080/tcp (inspected on first use); NotFound when
    /// the port is not published.
    [[nodiscard]] absl::StatusOr<int> HostPort();
    /// The host path of the proxy's unix socket; empty when the container has none.
    const std::string& socket_path() const { return socket_path_; }
    /// Which transport Init/Run use.
    DockerFactoryOptions::Transport transport() const { return transport_; }
    /// The id of the network sandbox whose network namespace this container joined (removed
    /// with the container); empty when it has its own.
    const std::string& network_sandbox() const { return sandbox_id_; }
    /// The client Init/Run go through.
    ProxyClient& proxy() { return *proxy_; }

  private:
    friend class DockerContainerFactory;
    DockerContainer(std::shared_ptr<docker::DockerEngine> engine,
                    const DockerFactoryOptions& options, std::string id, std::string name,
                    int64_t memory_mb, std::string socket_dir, std::string socket_path,
                    int64_t created_unix_s);
    void Connect(DockerFactoryOptions::Transport transport, ProxyClient::Endpoint endpoint);
    /// Makes the socket folder read-only for the container (after the proxy created its socket).
    [[nodiscard]] absl::Status LockSocketFolder();
    [[nodiscard]] absl::StatusOr<bool> OomFromEvents();
    /// Opens the json-file log (inspect's LogPath) once; false when it cannot be read.
    bool OpenLogFile();
    [[nodiscard]] absl::StatusOr<Logs> ReadLogFile(int sentinels, int64_t limit_bytes,
                                                   std::chrono::milliseconds wait);
    [[nodiscard]] absl::StatusOr<Logs> ReadLogs(const docker::LogCursor& start, int sentinels,
                                                int64_t limit_bytes, std::chrono::milliseconds wait,
                                                int tail, bool* gap, docker::LogCursor* end);

    std::shared_ptr<docker::DockerEngine> engine_;
    const std::chrono::milliseconds api_timeout_;
    const bool oom_from_cgroup_;
    const std::chrono::milliseconds oom_event_grace_;
    const std::string id_;
    const std::string name_;
    const int64_t memory_mb_;
    const std::string socket_dir_;   // host folder (removed on Destroy); may be empty
    const std::string socket_path_;  // host path of the socket; may be empty
    const int64_t created_unix_s_;   // for docker's event filter
    std::string sandbox_id_;  // the network sandbox it joined (removed with it); may be empty
    DockerFactoryOptions::Transport transport_ = DockerFactoryOptions::Transport::kUnixSocket;
    std::unique_ptr<ProxyClient> proxy_;

    std::mutex mu_;  // guards what follows
    std::optional<int> host_port_;
    bool destroyed_ = false;
    std::optional<int64_t> log_last_nanos_;
    // Wisp images: /run asks for inline logs; the last answer's lines wait here for
    // CollectLogs (docker's log is then not read at all).
    bool inline_logs_ = false;
    std::optional<std::string> pending_logs_;
    bool pending_logs_truncated_ = false;
    int log_consumed_at_last_ = 0;
    std::mutex logs_mu_;  // one CollectLogs at a time; guards the log file state below
    // The container's json-file log, read directly (as OpenWhisk's invoker does) instead of
    // through the daemon: cheaper for dockerd and faster. Unset until first needed; when the
    // file cannot be read (another log driver, no permission) the Engine API is used.
    enum class LogFileState { kUnknown, kReadable, kUnavailable };
    LogFileState log_file_state_ = LogFileState::kUnknown;
    int log_fd_ = -1;
    int log_inotify_fd_ = -1;  // wakes the reader when docker appends to the file
    std::string log_path_;     // reopened when docker rotates the file
    int64_t log_offset_ = 0;   // bytes of the file consumed by earlier activations
};

class DockerContainerFactory final : public ContainerFactory {
  public:
    explicit DockerContainerFactory(DockerFactoryOptions options = {});
    ~DockerContainerFactory() override;

    /// create → start → (inspect) → wait until the proxy answers. Errors: Unavailable when the
    /// engine is down ("Docker at /var/run/docker.sock is not answering: ...; start it with
    /// tools/start-dockerd.sh"); NotFound when the image is missing and pulling is not allowed
    /// (the message names the image and tools/build-runtime-images.sh); FailedPrecondition
    /// "Failed to pull container image '<image>'." when a pull fails, or when the container
    /// exits before its proxy answers; DeadlineExceeded when it does not answer within
    /// ready_timeout. A container that failed to come up is removed.
    [[nodiscard]] absl::StatusOr<std::unique_ptr<Container>> Create(
        const ContainerSpec& spec) override;
    /// Create with the concrete type (tests, benchmarks).
    [[nodiscard]] absl::StatusOr<std::unique_ptr<DockerContainer>> CreateDocker(
        const ContainerSpec& spec);
    /// Also removes the socket folders under socket_root() that no container mounts any more
    /// (older than a minute), whoever left them.
    [[nodiscard]] absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) override;
    [[nodiscard]] absl::StatusOr<bool> ImageExists(std::string_view image) override;

    /// GET /_ping: OK, or Unavailable with the hint to start the daemon.
    [[nodiscard]] absl::Status Ping();
    const DockerFactoryOptions& options() const { return options_; }
    /// The folder holding the per-container socket folders.
    const std::string& socket_root() const { return socket_root_; }
    /// Blocks until `n` network sandboxes are ready or `timeout` passed; true when they are.
    /// Thread-safe (tests, benchmarks).
    bool WaitForNetworkSandboxes(int n, std::chrono::milliseconds timeout);

  private:
    struct ImageInfo {
        bool wisp_proxy = false;  // the image's proxy serves WISP_PROXY_SOCKET
    };
    [[nodiscard]] absl::StatusOr<ImageInfo> EnsureImage(const ContainerSpec& spec);
    [[nodiscard]] absl::Status Pull(std::string_view image);
    /// Creates options_.network when missing (once); checks inter-container traffic is off.
    [[nodiscard]] absl::Status EnsureNetwork();
    /// Removes one socket folder (never following a symlink).
    void RemoveSocketFolder(const std::string& path);
    [[nodiscard]] absl::Status WaitUntilReady(DockerContainer& container, std::string_view image);
    /// FailedPrecondition (with the exit code and the last log lines) when the container is no
    /// longer running; OK while it runs.
    [[nodiscard]] absl::Status ExitedBeforeReady(DockerContainer& container,
                                                 std::string_view image);
    /// Removes socket folders under socket_root that no container mounts (older than a minute).
    [[nodiscard]] absl::Status RemoveStaleSocketFolders();

    /// An unused ready network sandbox for this spec (removed from the ready ones), or empty;
    /// starts the background refill on first use.
    std::string TakeNetworkSandbox(const ContainerSpec& spec);
    void RefillNetworkSandboxes();
    [[nodiscard]] absl::StatusOr<std::string> StartNetworkSandbox(
        const std::string& image, const std::map<std::string, std::string>& labels);

    const DockerFactoryOptions options_;
    std::shared_ptr<docker::DockerEngine> engine_;
    std::string socket_root_;
    // Network sandboxes (options_.network_sandboxes > 0).
    std::mutex sandbox_mu_;
    std::condition_variable sandbox_cv_;
    std::deque<std::string> sandboxes_;  // started, unused
    std::string sandbox_image_;          // empty until the first Create of a Wisp image
    std::chrono::steady_clock::time_point sandbox_taken_;  // when one was last taken
    int creates_running_ = 0;                              // CreateDocker calls under way
    std::map<std::string, std::string> sandbox_labels_;
    bool sandbox_stopping_ = false;
    std::thread sandbox_thread_;
    std::mutex mu_;
    std::map<std::string, ImageInfo, std::less<>> images_;  // images known to exist
    std::mutex network_mu_;                                 // one EnsureNetwork at a time
    bool network_ready_ = false;
};

}  // namespace wisp::invoker
