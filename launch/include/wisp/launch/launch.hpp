#pragma once
// What every Wisp program does to start its components, shared by wisp-standalone,
// wisp-controller and wisp-invoker: the invoker's and the controller's flags (with their
// environment fallbacks) and the configs made from them, the runtime image check, the shutdown
// signals, and the drain of activations in flight at shutdown.
//
// Backends stay the programs' choice: nothing here names Docker, SQLite, CouchDB or a bus
// backend (the programs make the DockerContainerFactory, open the store and the bus).
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <CLI/CLI.hpp>

#include <wisp/common/exec.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http_server.hpp>
#include <wisp/controller/metrics_endpoint.hpp>
#include <wisp/invoker/container.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>

namespace wisp::launch {

/// The flags of a process that runs actions (wisp-standalone, wisp-invoker).
struct InvokerOptions {
    int64_t user_memory_mb = 2048;
    int64_t pause_grace_ms = 10000;
    bool stem_cells = true;
    std::string docker_socket = "/var/run/docker.sock";
    std::vector<std::string> allowed_images;  // blackbox images; empty = any
    int64_t container_storage_mb = 0;         // writable layer bound; 0 = none
    std::string docker_runtime;               // OCI runtime of action containers; "" = runc
    int network_sandboxes = 0;                // network namespaces held ready; 0 = none
    bool inline_logs = true;  // hidden --no-inline-logs: json-file logs for Wisp images too
    int64_t idle_timeout_ms = 600000;   // hidden --idle-timeout-ms (tests)
    int64_t keep_warm_check_ms = 5000;  // hidden --keep-warm-check-ms (tests)
};
/// --user-memory, --pause-grace-ms, --no-stem-cells, --docker-socket, --allowed-images,
/// --container-storage, --docker-runtime, --docker-network-sandboxes (WISP_USER_MEMORY,
/// WISP_DOCKER_SOCKET, WISP_ALLOWED_IMAGES, WISP_CONTAINER_STORAGE, WISP_DOCKER_RUNTIME,
/// WISP_DOCKER_NETWORK_SANDBOXES).
void AddInvokerOptions(CLI::App& app, InvokerOptions& options);
/// The InvokerService config from the flags (invoker_id and container_env are the caller's).
invoker::InvokerConfig InvokerConfigFrom(const InvokerOptions& options);
/// OK when the factory has every image of the manifest; else the missing ones and how to
/// build them (FailedPrecondition), or the engine's error.
[[nodiscard]] absl::Status CheckRuntimeImages(invoker::ContainerFactory& factory,
                                              const common::RuntimeManifest& manifest);

/// wisp-invoker's metrics endpoint (GET /metrics, GET /ping on its own port).
struct InvokerMetricsOptions {
    std::string listen;  // HOST:PORT; empty = off
    std::string token;
    bool loopback = false;
};
/// --metrics-listen, --metrics-token, --metrics-loopback (WISP_METRICS_LISTEN,
/// WISP_METRICS_TOKEN, WISP_METRICS_LOOPBACK): the controller's rule for who may read them.
void AddInvokerMetricsOptions(CLI::App& app, InvokerMetricsOptions& options);
/// Serves `render` when --metrics-listen is set (else null), logging the address it bound
/// ("metrics on HOST:PORT", the port resolved when 0 was asked). Errors: those of
/// MetricsServer::Start.
[[nodiscard]] absl::StatusOr<std::unique_ptr<controller::MetricsServer>> StartInvokerMetrics(
    const InvokerMetricsOptions& options, std::function<std::string()> render);

/// The flags of a process that serves the API (wisp-standalone, wisp-controller). The
/// throttle defaults are the caller's (standalone raises them).
struct ControllerOptions {
    int64_t invocations_per_minute = 60;
    int64_t concurrent_invocations = 30;
    int64_t fires_per_minute = 60;
    int64_t shutdown_grace_s = 60;
    std::string metrics_token;
    bool metrics_loopback = false;
    size_t max_connections = 0;  // 0 = derived from the descriptor limit
    std::vector<std::string> allowed_hosts;
    std::string activation_retention = "7d";  // <n>d|h|m|s or 0 (keep everything)
    int64_t keep_warm_refresh_ms = 30000;     // hidden --keep-warm-refresh-ms
    bool alarms = true;                       // --no-alarms
    int64_t alarm_minute_ms = 60000;          // hidden, tests
    int64_t alarm_poll_ms = 5000;             // hidden
    int64_t alarm_lease_ms = 60000;           // hidden, tests
};
/// --invocations-per-minute, --concurrent-invocations, --fires-per-minute, --shutdown-grace,
/// --metrics-token, --metrics-loopback, --max-connections, --allowed-hosts, --no-alarms (hidden:
/// --alarm-minute-ms, --alarm-poll-ms, --alarm-lease-ms) (WISP_METRICS_TOKEN,
/// WISP_METRICS_LOOPBACK, WISP_MAX_CONNECTIONS, WISP_ALLOWED_HOSTS).
void AddControllerOptions(CLI::App& app, ControllerOptions& options);
/// The Controller config from the flags (controller_id, api_host and hooks are the caller's).
controller::ControllerConfig ControllerConfigFrom(const ControllerOptions& options);
/// The HTTP server config from the flags, listening on address:port.
controller::HttpServerConfig HttpServerConfigFrom(const ControllerOptions& options,
                                                  std::string address, uint16_t port);

/// Process-wide allocator settings; call first in main, before any thread starts. glibc gives
/// each thread that allocates an arena of its own, up to 8 per core, and every arena keeps
/// its own free memory: a process of 40–70 mostly idle threads (the bus, pools, timers) held
/// 15 arenas, 0.2–0.8 MB idle and 1.5 MB after load. This limits them to max(2, cores), one
/// per thread that can run at a time. MALLOC_ARENA_MAX or GLIBC_TUNABLES in the environment
/// win (nothing is set then).
void ConfigureMalloc();
/// Returns the allocator's free memory to the kernel (malloc_trim: the top of every arena and
/// the free pages inside them). Call once the process is up: what the start allocated and
/// dropped (flag parsing, the store's schema, the runtime manifest, the image check) is not
/// kept resident for the process's life. Takes a few ms; not for the request path.
void ReleaseFreeMemory();

/// Blocks SIGINT and SIGTERM in every thread (call before starting any) and ignores SIGPIPE.
sigset_t BlockShutdownSignals();
/// Waits for one of `signals`; returns its name ("SIGINT", "SIGTERM").
std::string WaitForShutdownSignal(const sigset_t& signals);
/// Waits until `balancer` has no activation in flight or `grace` passed, logging progress and,
/// when it gives up, how many were still in flight.
void WaitForActivations(const loadbalancer::LoadBalancer& balancer, std::chrono::seconds grace);

/// The steps of a program's shutdown after its signal, each named by what it waits for. Every
/// step that takes longer than kShutdownStepReport is logged with its name and duration. A
/// watchdog thread bounds the whole: when `bound` passes before the object is destroyed (or
/// Disarm()ed), it logs the step still running ("shutdown: still waiting for the Kafka
/// producer's flush after 20 s") and ends the process with _exit(1): a wait on the network (a
/// broker gone, a lost ack) must not leave a process that its supervisor has to SIGKILL
/// without a word. Declare it before the objects whose destructors it should cover (it is
/// destroyed after them). Thread-safe.
class ShutdownSequence {
  public:
    static constexpr std::chrono::milliseconds kShutdownStepReport{500};

    ShutdownSequence(std::string program, std::chrono::milliseconds bound);
    ~ShutdownSequence();
    ShutdownSequence(const ShutdownSequence&) = delete;
    ShutdownSequence& operator=(const ShutdownSequence&) = delete;

    /// Starts the watchdog's clock (at the signal). Before Start() nothing is bounded.
    void Start();
    /// Runs `step`, named `what` ("the activations in flight"), and logs it if it was slow.
    void Step(const std::string& what, const std::function<void()>& step);
    /// Names what the program waits for from now on without a Step() around it (the
    /// destructors at the end of main).
    void Now(const std::string& what);
    /// Stops the watchdog (the shutdown finished).
    void Disarm();

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace wisp::launch
