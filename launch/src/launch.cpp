#include <wisp/launch/launch.hpp>

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

// GnuTLS is in every Wisp process only because libcurl links librtmp, which links GnuTLS; Wisp
// never uses it (libcurl speaks TLS through OpenSSL, the rest is Beast/gRPC/librdkafka). Its
// library constructor initialises it anyway before main (crypto back-ends, the system priority
// file, p11-kit): libgnutls's resident pages were 1.1 MB, 0.36 MB without it. GnuTLS exports this
// weak hook so that an application can skip that implicit initialisation (libgnutls calls it
// through its PLT, so the executable's definition wins); whoever does use GnuTLS calls
// gnutls_global_init() first, as librtmp does, and gets a working library.
extern "C" __attribute__((visibility("default"), used)) int _gnutls_global_init_skip() { return 1; }

namespace wisp::launch {

void AddInvokerOptions(CLI::App& app, InvokerOptions& opt) {
    app.add_option("--user-memory", opt.user_memory_mb, "Container memory budget in MB")
        ->check(CLI::Range(int64_t{128}, int64_t{1} << 30))
        ->envname("WISP_USER_MEMORY");
    app.add_option("--pause-grace-ms", opt.pause_grace_ms,
                   "Idle time before a warm container is paused");
    app.add_flag("!--no-stem-cells", opt.stem_cells, "Do not start containers ahead of time");
    app.add_option("--docker-socket", opt.docker_socket, "The Docker Engine API socket")
        ->envname("WISP_DOCKER_SOCKET");
    app.add_option("--allowed-images", opt.allowed_images,
                   "Blackbox images that may run: registries or name prefixes (comma list, e.g. "
                   "'ghcr.io/acme,docker.io/openwhisk'; default: any image)")
        ->delimiter(',')
        ->envname("WISP_ALLOWED_IMAGES");
    app.add_option("--container-storage", opt.container_storage_mb,
                   "MB of writable layer per action container (Docker StorageOpt size; needs "
                   "overlay2 on xfs with pquota, btrfs or zfs; default 0: unbounded)")
        ->check(CLI::NonNegativeNumber)
        ->envname("WISP_CONTAINER_STORAGE");
    app.add_option("--docker-runtime", opt.docker_runtime,
                   "OCI runtime Docker runs action containers with: runc (default) or crun "
                   "(registered by tools/start-dockerd.sh when Debian's crun is installed)")
        ->envname("WISP_DOCKER_RUNTIME");
    app.add_option("--docker-network-sandboxes", opt.network_sandboxes,
                   "Network namespaces held ready for new action containers: each container "
                   "joins one instead of Docker making its own at the start (about 250 ms less per "
                   "cold start without a stem cell), and it is removed with it (default 0: none)")
        ->check(CLI::Range(0, 64))
        ->envname("WISP_DOCKER_NETWORK_SANDBOXES");
    // Hidden (measurements): Wisp images log through docker's json-file as other images do.
    app.add_flag("!--no-inline-logs", opt.inline_logs,
                 "Read the logs of Wisp images from docker's json-file too")
        ->group("");
    // Hidden (tests): the pool's idle timer and the keep-warm check (invoker/README.md).
    app.add_option("--idle-timeout-ms", opt.idle_timeout_ms,
                   "Idle time before a warm container is removed, in ms")
        ->check(CLI::Range(int64_t{100}, int64_t{86400000}))
        ->group("");
    app.add_option("--keep-warm-check-ms", opt.keep_warm_check_ms,
                   "How often keep-warm containers are checked and replaced, in ms")
        ->check(CLI::Range(int64_t{100}, int64_t{3600000}))
        ->group("");
}

invoker::InvokerConfig InvokerConfigFrom(const InvokerOptions& opt) {
    invoker::InvokerConfig cfg;
    cfg.user_memory_mb = opt.user_memory_mb;
    cfg.pause_grace = std::chrono::milliseconds(opt.pause_grace_ms);
    cfg.idle_timeout = std::chrono::milliseconds(opt.idle_timeout_ms);
    cfg.keep_warm_interval = std::chrono::milliseconds(opt.keep_warm_check_ms);
    cfg.stem_cells = opt.stem_cells;
    cfg.runner.allowed_images = opt.allowed_images;
    return cfg;
}

absl::Status CheckRuntimeImages(invoker::ContainerFactory& factory,
                                const common::RuntimeManifest& manifest) {
    std::vector<std::string> missing;
    for (const auto& k : manifest.kinds()) {
        WISP_ASSIGN_OR_RETURN(bool exists, factory.ImageExists(k.image));
        if (!exists) missing.push_back(k.image);
    }
    for (const auto& b : manifest.blackboxes()) {
        WISP_ASSIGN_OR_RETURN(bool exists, factory.ImageExists(b.local_image));
        if (!exists) missing.push_back(b.local_image);
    }
    if (missing.empty()) return absl::OkStatus();
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    return absl::FailedPreconditionError(
        common::Cat("runtime images missing: ", list,
                    "\n  build them with: tools/build-runtime-images.sh "
                    "(or run `make run`, which builds them)"));
}

namespace {

/// --metrics-token, --metrics-loopback: who may read GET /metrics (every component's rule).
void AddMetricsAccessOptions(CLI::App& app, std::string& token, bool& loopback) {
    app.add_option("--metrics-token", token,
                   "Bearer token that GET /metrics requires (default: none; then only loopback "
                   "clients may read it)")
        ->envname("WISP_METRICS_TOKEN");
    app.add_flag("--metrics-loopback", loopback,
                 "Loopback clients read /metrics without --metrics-token too")
        ->envname("WISP_METRICS_LOOPBACK");
}

}  // namespace

void AddInvokerMetricsOptions(CLI::App& app, InvokerMetricsOptions& opt) {
    app.add_option("--metrics-listen", opt.listen,
                   "HOST:PORT to serve GET /metrics (Prometheus text) and GET /ping on, e.g. "
                   "0.0.0.0:9095; port 0 picks a free one, which the log names (default: off)")
        ->envname("WISP_METRICS_LISTEN");
    AddMetricsAccessOptions(app, opt.token, opt.loopback);
}

absl::StatusOr<std::unique_ptr<controller::MetricsServer>> StartInvokerMetrics(
    const InvokerMetricsOptions& opt, std::function<std::string()> render) {
    if (opt.listen.empty()) return nullptr;
    auto server = controller::MetricsServer::Start({.listen = opt.listen,
                                                    .token = opt.token,
                                                    .loopback_with_token = opt.loopback,
                                                    .render = std::move(render)});
    if (!server.ok()) return server.status();
    const size_t colon = opt.listen.rfind(':');
    spdlog::info("metrics on {}:{} (GET /metrics{})", opt.listen.substr(0, colon),
                 (*server)->port(),
                 opt.token.empty() ? ", loopback clients only" : ", bearer token");
    return server;
}

void AddControllerOptions(CLI::App& app, ControllerOptions& opt) {
    app.add_option("--invocations-per-minute", opt.invocations_per_minute,
                   "System default throttle (namespaces may set their own with wisp-admin)");
    app.add_option("--concurrent-invocations", opt.concurrent_invocations,
                   "System default concurrent activations per namespace");
    app.add_option("--fires-per-minute", opt.fires_per_minute, "System default trigger fires");
    app.add_option("--shutdown-grace", opt.shutdown_grace_s,
                   "Seconds to let running activations finish on SIGINT/SIGTERM");
    AddMetricsAccessOptions(app, opt.metrics_token, opt.metrics_loopback);
    app.add_option("--max-connections", opt.max_connections,
                   "Open API connections at most; more get 503 (default: from the descriptor "
                   "limit)")
        ->envname("WISP_MAX_CONNECTIONS");
    app.add_option("--activation-retention", opt.activation_retention,
                   "Delete activation records older than this in the background: <n>d, <n>h, "
                   "<n>m or <n>s; 0 keeps every record (default 7d)")
        ->check([](const std::string& v) -> std::string {
            auto parsed = controller::ParseRetention(v);
            return parsed.ok() ? std::string() : std::string(parsed.status().message());
        })
        ->envname("WISP_ACTIVATION_RETENTION");
    app.add_option("--allowed-hosts", opt.allowed_hosts,
                   "Host header names the API answers to besides localhost and loopback "
                   "addresses (comma list; '.example.com' allows subdomains)")
        ->delimiter(',')
        ->envname("WISP_ALLOWED_HOSTS");
    // Hidden: how often every keep-warm action's order is published again (keep_warm.hpp).
    app.add_option("--keep-warm-refresh-ms", opt.keep_warm_refresh_ms,
                   "How often the keep-warm orders are published again, in ms")
        ->check(CLI::Range(int64_t{100}, int64_t{3600000}))
        ->group("");
    app.add_flag("!--no-alarms", opt.alarms,
                 "This controller does not fire alarm schedules (the /whisk.system/alarms feeds "
                 "still work; other controllers fire them)");
    // Hidden (tests): a shorter interval minute, poll and claim lease.
    app.add_option("--alarm-minute-ms", opt.alarm_minute_ms,
                   "The length of an interval alarm's minute in ms (tests)")
        ->check(CLI::Range(int64_t{100}, int64_t{3600000}))
        ->group("");
    app.add_option("--alarm-poll-ms", opt.alarm_poll_ms,
                   "How often alarm schedules are re-listed, in ms")
        ->check(CLI::Range(int64_t{10}, int64_t{3600000}))
        ->group("");
    app.add_option("--alarm-lease-ms", opt.alarm_lease_ms,
                   "After how long another controller finishes a claimed alarm firing, in ms")
        ->check(CLI::Range(int64_t{100}, int64_t{3600000}))
        ->group("");
}

controller::ControllerConfig ControllerConfigFrom(const ControllerOptions& opt) {
    controller::ControllerConfig cfg;
    cfg.system_limits.invocations_per_minute = opt.invocations_per_minute;
    cfg.system_limits.concurrent_invocations = opt.concurrent_invocations;
    cfg.system_limits.fires_per_minute = opt.fires_per_minute;
    cfg.metrics_token = opt.metrics_token;
    cfg.metrics_loopback = opt.metrics_loopback;
    // Checked by the option's validator; an unparsable value (set in code) keeps the default.
    if (auto retention = controller::ParseRetention(opt.activation_retention); retention.ok()) {
        cfg.activation_retention = *retention;
    }
    cfg.keep_warm_refresh = std::chrono::milliseconds(opt.keep_warm_refresh_ms);
    cfg.alarms = opt.alarms;
    cfg.alarm_minute = std::chrono::milliseconds(opt.alarm_minute_ms);
    cfg.alarm_poll = std::chrono::milliseconds(opt.alarm_poll_ms);
    cfg.alarm_lease = std::chrono::milliseconds(opt.alarm_lease_ms);
    return cfg;
}

controller::HttpServerConfig HttpServerConfigFrom(const ControllerOptions& opt, std::string address,
                                                  uint16_t port) {
    controller::HttpServerConfig cfg;
    cfg.address = std::move(address);
    cfg.port = port;
    cfg.max_connections = opt.max_connections;
    cfg.allowed_hosts = opt.allowed_hosts;
    return cfg;
}

void ConfigureMalloc() {
    const char* arena_max = std::getenv("MALLOC_ARENA_MAX");
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if ((arena_max != nullptr && *arena_max != '\0') ||
        (tunables != nullptr && std::strstr(tunables, "arena_max") != nullptr)) {
        return;  // the operator's choice
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    mallopt(M_ARENA_MAX, std::max(2, cores));
}

void ReleaseFreeMemory() { malloc_trim(0); }

sigset_t BlockShutdownSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return signals;
}

std::string WaitForShutdownSignal(const sigset_t& signals) {
    int sig = 0;
    sigwait(&signals, &sig);
    return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

void WaitForActivations(const loadbalancer::LoadBalancer& balancer, std::chrono::seconds grace) {
    const auto deadline = std::chrono::steady_clock::now() + grace;
    auto last_report = std::chrono::steady_clock::now();
    while (balancer.TotalActiveActivations() > 0 && std::chrono::steady_clock::now() < deadline) {
        if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(2)) {
            spdlog::info("waiting for {} activation(s) to finish (at most {} s in all)",
                         balancer.TotalActiveActivations(), grace.count());
            last_report = std::chrono::steady_clock::now();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (const int64_t left = balancer.TotalActiveActivations(); left > 0) {
        spdlog::warn(
            "{} activation(s) still in flight after the shutdown grace of {} s; their callers "
            "get an error (--shutdown-grace sets the wait)",
            left, grace.count());
    }
}

struct ShutdownSequence::State {
    std::string program;
    std::chrono::milliseconds bound;
    std::mutex mu;
    std::condition_variable cv;
    bool started = false;
    bool disarmed = false;
    std::chrono::steady_clock::time_point start;
    std::string step = "the start of the shutdown";
    std::chrono::steady_clock::time_point step_start;
};

namespace {

int64_t MsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

}  // namespace

ShutdownSequence::ShutdownSequence(std::string program, std::chrono::milliseconds bound)
    : state_(std::make_shared<State>()) {
    state_->program = std::move(program);
    state_->bound = bound;
}

ShutdownSequence::~ShutdownSequence() { Disarm(); }

void ShutdownSequence::Start() {
    {
        std::lock_guard lock(state_->mu);
        if (state_->started) return;
        state_->started = true;
        state_->start = state_->step_start = std::chrono::steady_clock::now();
    }
    // Detached: it holds the state, and must be able to end the process whatever the thread
    // that runs the shutdown is stuck in.
    std::thread([state = state_] {
        std::unique_lock lock(state->mu);
        if (state->cv.wait_until(lock, state->start + state->bound,
                                 [&] { return state->disarmed; })) {
            return;
        }
        spdlog::error(
            "{}: shutdown: still waiting for {} after {} ms (the whole shutdown is bounded by {} "
            "ms); exiting without finishing it",
            state->program, state->step, MsSince(state->step_start), state->bound.count());
        spdlog::default_logger()->flush();
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(1);
    }).detach();
}

void ShutdownSequence::Now(const std::string& what) {
    std::lock_guard lock(state_->mu);
    state_->step = what;
    state_->step_start = std::chrono::steady_clock::now();
}

void ShutdownSequence::Step(const std::string& what, const std::function<void()>& step) {
    Now(what);
    const auto started = std::chrono::steady_clock::now();
    step();
    const int64_t took = MsSince(started);
    if (took >= kShutdownStepReport.count()) {
        spdlog::info("shutdown: {} took {} ms", what, took);
    } else {
        spdlog::debug("shutdown: {} took {} ms", what, took);
    }
}

void ShutdownSequence::Disarm() {
    {
        std::lock_guard lock(state_->mu);
        state_->disarmed = true;
    }
    state_->cv.notify_all();
}

}  // namespace wisp::launch
