// wisp-controller: the REST API of a distributed deployment (wire §6, §7). Any number run side
// by side (each with its own --id), behind nginx.
//
//   HTTP (--host:--port) -> Controller -> ShardingContainerPoolBalancer (or, with --balancer
//   round-robin, RoundRobinBalancer) -> Kafka "invoker<N>"
//   acks on "completed<id>"; invokers known from their pings on "health";
//   caches kept correct through "cacheInvalidation"; the id claimed on "componentHealth".
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <wisp/cluster/cache_invalidation.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/console/embedded_assets.hpp>
#include <wisp/controller/controller.hpp>
#include <wisp/controller/health_test_action.hpp>
#include <wisp/controller/http_server.hpp>
#include <wisp/launch/launch.hpp>
#include <wisp/loadbalancer/round_robin_balancer.hpp>
#include <wisp/loadbalancer/sharding_balancer.hpp>

#include "component.hpp"

using wisp::common::MessageOf;
using wisp::distributed::Fail;

namespace {

/// What the shutdown may take after the drain of the activations in flight (--shutdown-grace):
/// the HTTP server's open requests (5 s), the producers' closes (KafkaConfig::close_timeout,
/// 3 s), the goodbye (the claim's lease, 3 s, then a close). Past it the process logs what it
/// still waits for and exits 1.
constexpr std::chrono::seconds kShutdownAfterDrain{20};

}  // namespace

int main(int argc, char** argv) {
    wisp::launch::ConfigureMalloc();  // before any thread
    wisp::distributed::ComponentOptions component;
    wisp::launch::ControllerOptions controller_opt;  // OpenWhisk's production throttles
    std::string host = "127.0.0.1";
    uint16_t port = 3233;
    std::string api_host;
    std::vector<int32_t> invokers;
    int64_t invoker_memory_mb = 2048;
    int64_t ping_timeout_ms = 10000;
    std::string balancer_kind = "sharding";

    CLI::App app{
        "wisp-controller: the REST API of a distributed Wisp deployment. It authenticates "
        "against the store, publishes activations on Kafka to the invokers (by default "
        "OpenWhisk's sharding balancer over the healthy invokers that ping) and waits for their "
        "acks on completed<id>."};
    wisp::distributed::AddComponentOptions(app, component);
    app.add_option("--host", host, "Address the API listens on")->envname("WISP_HOST");
    app.add_option("--port", port, "API port (0: any free port, printed)")->envname("WISP_PORT");
    app.add_option("--api-host", api_host,
                   "The API's public URL (GET /, web action URLs; default http://HOST:PORT)")
        ->envname("WISP_API_HOST");
    app.add_option("--invokers", invokers,
                   "Invoker ids to use (comma list; default: every invoker that pings)")
        ->delimiter(',')
        ->envname("WISP_INVOKERS");
    app.add_option("--invoker-memory", invoker_memory_mb,
                   "User memory (MB) of the --invokers listed (pinging invokers announce theirs)")
        ->envname("WISP_INVOKER_MEMORY");
    app.add_option("--ping-timeout-ms", ping_timeout_ms,
                   "An invoker without a ping for this long gets no work")
        ->envname("WISP_PING_TIMEOUT_MS");
    app.add_option("--balancer", balancer_kind,
                   "sharding: OpenWhisk's ShardingContainerPoolBalancer (home invoker by hash, "
                   "invoker health by test action); round-robin: invokers in turn, health from "
                   "pings only")
        ->check(CLI::IsMember({"sharding", "round-robin"}))
        ->envname("WISP_BALANCER");
    wisp::launch::AddControllerOptions(app, controller_opt);
    CLI11_PARSE(app, argc, argv);

    const std::string name = wisp::common::Cat("controller", component.id);
    wisp::distributed::SetUpLogging(name, component.log_level);
    const sigset_t signals = wisp::launch::BlockShutdownSignals();
    // Destroyed last: it bounds the destructors of everything below too.
    wisp::launch::ShutdownSequence shutdown(
        name, std::chrono::seconds(controller_opt.shutdown_grace_s) + kShutdownAfterDrain);

    auto store = wisp::distributed::OpenStore(component);
    if (!store.ok()) return Fail(MessageOf(store.status()));
    auto bus = wisp::distributed::OpenBus(component, name);
    if (!bus.ok()) return Fail(MessageOf(bus.status()));
    auto claim = wisp::distributed::ClaimId(**bus, component, "controller");
    if (!claim.ok()) return Fail(MessageOf(claim.status()));

    // The live controllers share the invokers' slots and the throttles (OpenWhisk's cluster
    // size), counted from the componentHealth heartbeats.
    wisp::cluster::ComponentClaim* live = claim->get();
    std::unique_ptr<wisp::loadbalancer::LoadBalancer> balancer;
    if (balancer_kind == "sharding") {
        // The health test action the balancer sends to sick invokers must exist.
        wisp::common::SystemClock now;
        if (auto st = wisp::controller::EnsureHealthTestAction(
                **store, wisp::common::RuntimeManifest::BuiltIn(), std::to_string(component.id),
                now.NowMs());
            !st.ok()) {
            return Fail(MessageOf(st));
        }
        wisp::loadbalancer::ShardingBalancerConfig lb_cfg;
        lb_cfg.common.controller_id = std::to_string(component.id);
        lb_cfg.invokers = invokers;
        lb_cfg.default_user_memory_mb = invoker_memory_mb;
        lb_cfg.cluster_size = [live] { return live->LiveCount("controller"); };
        lb_cfg.health.ping_timeout = std::chrono::milliseconds(ping_timeout_ms);
        auto created = wisp::loadbalancer::ShardingContainerPoolBalancer::Create(**bus, lb_cfg);
        if (!created.ok()) return Fail(MessageOf(created.status()));
        balancer = std::move(*created);
    } else {
        wisp::loadbalancer::RoundRobinBalancerConfig lb_cfg;
        lb_cfg.controller_id = std::to_string(component.id);
        lb_cfg.invoker_user_memory_mb = invoker_memory_mb;
        lb_cfg.invokers = invokers;
        lb_cfg.expect_pings = true;
        lb_cfg.ping_timeout = std::chrono::milliseconds(ping_timeout_ms);
        auto created = wisp::loadbalancer::RoundRobinBalancer::Create(**bus, lb_cfg);
        if (!created.ok()) return Fail(MessageOf(created.status()));
        balancer = std::move(*created);
    }

    // Writes through this controller tell the others; theirs reach this one's caches.
    std::unique_ptr<wisp::cluster::CacheInvalidation> invalidation;
    wisp::controller::ControllerConfig ctl_cfg = wisp::launch::ControllerConfigFrom(controller_opt);
    ctl_cfg.controller_id = std::to_string(component.id);
    // Throttles are shared out among the live controllers (OpenWhisk's cluster size).
    ctl_cfg.cluster_size = [live] { return live->LiveCount("controller"); };
    // Atomic activations are journaled by Kafka (published before the 202, redelivered to a
    // restarted invoker, completed by force otherwise); the store journal keeps sequences.
    ctl_cfg.journal_atomic = false;
    ctl_cfg.console_assets = wisp::console::EmbeddedAssets();  // /console/ (empty: 404)
    ctl_cfg.on_entity_written = [&invalidation](const std::string& docid) {
        if (!invalidation) return;
        if (auto st = invalidation->Notify(docid); !st.ok()) {
            spdlog::warn("cache invalidation of {} not sent: {}", docid, st.ToString());
        }
    };
    wisp::common::SystemClock clock;
    wisp::controller::HttpServerConfig http_cfg =
        wisp::launch::HttpServerConfigFrom(controller_opt, host, port);
    ctl_cfg.api_host = api_host.empty() ? wisp::common::Cat("http://", host, ":", port) : api_host;
    wisp::controller::Controller controller(
        **store, *balancer, wisp::common::RuntimeManifest::BuiltIn(), clock, ctl_cfg);
    auto started = wisp::cluster::CacheInvalidation::Start(
        **bus, {.instance_id = name}, [&controller](const std::string& key) {
            if (wisp::cluster::IsEntityKey(key)) {
                controller.InvalidateEntity(key);
            } else {
                controller.InvalidateAuthCache();
            }
        });
    if (!started.ok()) return Fail(MessageOf(started.status()));
    invalidation = std::move(*started);

    http_cfg.head_check = controller.HeadCheck();
    wisp::controller::HttpServer server(http_cfg, controller.Handler());
    if (auto st = server.Start(); !st.ok()) return Fail(MessageOf(st));
    spdlog::info("{} is up on http://{}:{} (API host {})", name, host, server.port(),
                 ctl_cfg.api_host);
    std::printf("%s listening on %s:%u\n", name.c_str(), host.c_str(),
                static_cast<unsigned>(server.port()));
    std::fflush(stdout);
    wisp::launch::ReleaseFreeMemory();  // what the start allocated and dropped

    spdlog::info("{} received: shutting down (new requests are refused)",
                 wisp::launch::WaitForShutdownSignal(signals));
    shutdown.Start();
    std::thread http_stop([&server] { server.Stop(); });
    shutdown.Step("the activations in flight", [&] {
        wisp::launch::WaitForActivations(*balancer,
                                         std::chrono::seconds(controller_opt.shutdown_grace_s));
    });
    shutdown.Step("the controller's background work", [&] { controller.Shutdown(); });
    shutdown.Step("the HTTP server's open requests", [&] { http_stop.join(); });
    shutdown.Step("the load balancer's feeds and producer", [&] { balancer->Shutdown(); });
    shutdown.Step("the cache invalidation feed", [&] { invalidation->Stop(); });
    shutdown.Step("the goodbye on componentHealth", [&] { (*claim)->Release(); });
    spdlog::info("stopped");
    // The destructors close the Kafka clients (the shared producer's last flush) and the store.
    shutdown.Now("the Kafka clients and the store to close");
    return 0;
}
