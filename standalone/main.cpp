// wisp-standalone: the whole platform in one process (wire §10).
//
//   controller (REST API on 127.0.0.1:3233) -> RoundRobinBalancer (invoker 0) -> in-process bus
//     -> InvokerReactive -> InvokerService (Docker containers) -> acks -> controller
//   store: SQLite at <data-dir>/wisp.db (entities, subjects, activations survive restarts)
//
// Backends are chosen here and nowhere else.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/console/embedded_assets.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/http_server.hpp>
#include <wisp/invoker/docker_container_factory.hpp>
#include <wisp/invoker/invoker_reactive.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/launch/launch.hpp>
#include <wisp/loadbalancer/round_robin_balancer.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>

namespace {

struct Options {
    uint16_t port = 3233;
    std::string host = "127.0.0.1";
    std::string data_dir;
    std::string store_uri;
    std::string log_level = "info";
    bool well_known_guest_key = false;
    wisp::launch::InvokerOptions invoker;
    // Standalone raises the throttles (one user's machine).
    wisp::launch::ControllerOptions controller{
        .invocations_per_minute = 60000, .concurrent_invocations = 1000, .fires_per_minute = 60000};
};

// The owner label of this data dir's containers: FNV-1a 64 of its canonical path (or of the
// store URI without a data dir), so that the next start removes what a crashed run left
// whatever its port, and never another data dir's containers.
std::string ContainerOwner(const std::string& data_dir, const std::string& store_uri) {
    std::string source = store_uri;
    if (!data_dir.empty()) {
        std::error_code ec;
        const auto canonical = std::filesystem::weakly_canonical(data_dir, ec);
        source = ec ? data_dir : canonical.string();
    }
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : source) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return std::string("standalone-") + hex;
}

std::string DefaultDataDir() {
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : ".") + "/.wisp";
}

int Fail(const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    wisp::launch::ConfigureMalloc();  // before any thread
    Options opt;
    CLI::App app{"wisp-standalone: the Wisp serverless platform in one process"};
    app.add_option("-p,--port", opt.port, "API port (default 3233)")
        ->envname("WISP_STANDALONE_PORT");
    app.add_option("--host", opt.host,
                   "Address the API listens on (default 127.0.0.1; the wisp/standalone image "
                   "sets 0.0.0.0 so a published port reaches it)")
        ->envname("WISP_STANDALONE_HOST");
    app.add_option("--data-dir", opt.data_dir, "Where the SQLite store lives (default ~/.wisp)");
    app.add_option("--store", opt.store_uri,
                   "Store URI instead of <data-dir>/wisp.db (sqlite:PATH, couchdb:http://...)");
    wisp::launch::AddInvokerOptions(app, opt.invoker);
    wisp::launch::AddControllerOptions(app, opt.controller);
    app.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error");
    app.add_flag("--well-known-guest-key", opt.well_known_guest_key,
                 "Give guest and whisk.system OpenWhisk's well-known keys (for tools that "
                 "assume them) instead of the random keys of this data dir")
        ->envname("WISP_WELL_KNOWN_GUEST_KEY");
    CLI11_PARSE(app, argc, argv);

    auto logger = spdlog::stderr_color_mt("wisp");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(opt.log_level));

    // Block the shutdown signals in every thread; the main thread waits for them below.
    const sigset_t signals = wisp::launch::BlockShutdownSignals();

    // ---- store ----
    if (opt.store_uri.empty()) {
        if (opt.data_dir.empty()) opt.data_dir = DefaultDataDir();
        std::error_code ec;
        std::filesystem::create_directories(opt.data_dir, ec);
        if (ec) {
            return Fail(wisp::common::Cat("cannot create the data folder ", opt.data_dir, ": ",
                                          ec.message(), "; pass --data-dir"));
        }
        // Owner-only (0700), also a folder made by an earlier version: the store holds the keys.
        struct stat dir_stat {};
        if (::stat(opt.data_dir.c_str(), &dir_stat) == 0 && (dir_stat.st_mode & 077) != 0) {
            if (dir_stat.st_uid != ::geteuid() || ::chmod(opt.data_dir.c_str(), 0700) != 0) {
                spdlog::warn("the data folder {} is open to other users and not yours to restrict",
                             opt.data_dir);
            }
        }
        opt.store_uri = "sqlite:" + opt.data_dir + "/wisp.db";
    }
    auto store = wisp::store::OpenArtifactStore(opt.store_uri);
    if (!store.ok()) return Fail(wisp::common::MessageOf(store.status()));
    {
        std::ostringstream out, err;
        wisp::admin::AdminCommands admin(**store, out, err);
        // A random guest key per data dir unless asked for OpenWhisk's: any web page could
        // drive a platform that takes the well-known key (CORS).
        if (admin.Init(opt.well_known_guest_key ? wisp::admin::InitKeys::kRestoreWellKnown
                                                : wisp::admin::InitKeys::kRandom) != 0) {
            return Fail("cannot create the guest and whisk.system subjects: " + err.str());
        }
        std::istringstream lines(out.str());
        for (std::string line; std::getline(lines, line);) spdlog::info("{}", line);
    }
    auto guest_key = wisp::admin::OwnNamespaceKey(**store, wisp::common::kGuestSubject);
    if (!guest_key.ok()) return Fail(wisp::common::MessageOf(guest_key.status()));

    // ---- Docker and the runtime images ----
    // The runtime images of this host's architecture (x86_64: as named; aarch64: "<tag>-arm64").
    const wisp::common::RuntimeManifest manifest =
        wisp::common::RuntimeManifest::BuiltIn().ForMachine(wisp::common::HostMachine());
    wisp::invoker::DockerFactoryOptions docker_opts;
    docker_opts.user_memory_mb = opt.invoker.user_memory_mb;
    docker_opts.socket_path = opt.invoker.docker_socket;
    docker_opts.storage_size_mb = opt.invoker.container_storage_mb;
    docker_opts.runtime = opt.invoker.docker_runtime == "runc" ? "" : opt.invoker.docker_runtime;
    docker_opts.inline_logs = opt.invoker.inline_logs;
    docker_opts.network_sandboxes = opt.invoker.network_sandboxes;
    docker_opts.owner = ContainerOwner(opt.data_dir, opt.store_uri);
    wisp::invoker::DockerContainerFactory factory(docker_opts);
    if (auto st = factory.Ping(); !st.ok()) {
        return Fail(wisp::common::Cat(wisp::common::MessageOf(st),
                                      "\n  (`make run` starts Docker and builds the images)"));
    }
    if (auto st = wisp::launch::CheckRuntimeImages(factory, manifest); !st.ok()) {
        return Fail(wisp::common::MessageOf(st));
    }

    // ---- bus, invoker, balancer, controller ----
    wisp::common::SystemClock clock;
    wisp::messaging::InProcessMessagingProvider bus;

    wisp::invoker::InvokerConfig invoker_cfg = wisp::launch::InvokerConfigFrom(opt.invoker);
    // Containers are named and labelled with the invoker id, and orphans with the same label
    // are removed at start: standalones on other ports (tests) must not share it. They also
    // carry the data dir's owner label (docker_opts.owner): a start on another port removes
    // what a crashed run on this data dir left.
    if (opt.port != 3233) invoker_cfg.invoker_id = wisp::common::Cat("0-", opt.port);
    const std::string api_host = wisp::common::Cat("http://127.0.0.1:", opt.port);
    invoker_cfg.container_env = {{"__OW_API_HOST", api_host}};
    wisp::invoker::InvokerService invoker(**store, factory, manifest, clock, invoker_cfg);
    if (auto st = invoker.Start(); !st.ok()) {
        spdlog::warn("invoker start: {}", wisp::common::MessageOf(st));
    }
    wisp::invoker::InvokerReactiveConfig reactive_cfg;
    reactive_cfg.instance.set_instance(0);
    reactive_cfg.instance.set_user_memory_mb(opt.invoker.user_memory_mb);
    reactive_cfg.instance.set_unique_name("invoker0");
    wisp::invoker::InvokerReactive reactive(bus, invoker, reactive_cfg);
    if (auto st = reactive.Start(); !st.ok()) return Fail(wisp::common::MessageOf(st));

    auto balancer = wisp::loadbalancer::RoundRobinBalancer::Create(
        bus, {.invoker_user_memory_mb = opt.invoker.user_memory_mb, .invokers = {0}});
    if (!balancer.ok()) return Fail(wisp::common::MessageOf(balancer.status()));

    wisp::controller::ControllerConfig ctl_cfg = wisp::launch::ControllerConfigFrom(opt.controller);
    // One scrape: /metrics carries the invoker's metrics too (deploy/grafana/README.md).
    ctl_cfg.extra_metrics = [&invoker, &reactive](wisp::common::PrometheusWriter& w) {
        invoker.WriteMetrics(w, reactive.ConsumerLag());
    };
    ctl_cfg.api_host = api_host;
    // The bus and the invoker live in this process: nothing can still run what an earlier
    // process accepted, so its journal entries without a record are recovered at once.
    ctl_cfg.journal_recover_all_at_start = true;
    ctl_cfg.console_assets = wisp::console::EmbeddedAssets();  // /console/ (empty: 404)
    wisp::controller::Controller controller(**store, **balancer, manifest, clock, ctl_cfg);

    wisp::controller::HttpServerConfig http_cfg =
        wisp::launch::HttpServerConfigFrom(opt.controller, opt.host, opt.port);
    http_cfg.head_check = controller.HeadCheck();
    wisp::controller::HttpServer server(http_cfg, controller.Handler());
    if (auto st = server.Start(); !st.ok()) return Fail(wisp::common::MessageOf(st));

    spdlog::info("wisp-standalone is up on {} (store {}, {} MB for containers)", api_host,
                 wisp::common::RedactUri(opt.store_uri), opt.invoker.user_memory_mb);
    std::printf("wsk property set --apihost http://127.0.0.1:%u --auth %s\n",
                static_cast<unsigned>(server.port()), guest_key->Compact().c_str());
    // The web console's one-click sign-in: the key in the fragment (never sent to a server;
    // the page reads it and removes it from the address bar).
    if (!ctl_cfg.console_assets.empty()) {
        std::printf("console: http://127.0.0.1:%u/console/#key=%s\n",
                    static_cast<unsigned>(server.port()), guest_key->Compact().c_str());
    }
    std::fflush(stdout);
    wisp::launch::ReleaseFreeMemory();  // what the start allocated and dropped

    spdlog::info("{} received: shutting down (new requests are refused)",
                 wisp::launch::WaitForShutdownSignal(signals));

    // Stop taking requests; let running activations finish and answer their callers.
    std::thread http_stop([&server] { server.Stop(); });
    wisp::launch::WaitForActivations(**balancer,
                                     std::chrono::seconds(opt.controller.shutdown_grace_s));
    controller.Shutdown();
    http_stop.join();
    reactive.Stop();
    invoker.Shutdown();  // finishes what it runs, stores the records, removes the containers
    (*balancer)->Shutdown();
    spdlog::info("stopped");
    return 0;
}
