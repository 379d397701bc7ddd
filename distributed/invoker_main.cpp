// wisp-invoker: runs the activations of a distributed deployment (wire §6, §8). Any number run
// side by side (each with its own --id).
//
//   Kafka "invoker<id>" -> InvokerReactive -> InvokerService (Docker) -> the record in the store
//     -> acks on "completed<root controller>"; pings on "health" every second;
//   cached actions dropped through "cacheInvalidation"; the id claimed on "componentHealth".
#include <cstdio>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <wisp/cluster/cache_invalidation.hpp>
#include <wisp/common/clock.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/invoker/invoker_control.hpp>
#include <wisp/invoker/invoker_reactive.hpp>
#include <wisp/invoker/invoker_service.hpp>
#include <wisp/launch/launch.hpp>

#include "component.hpp"
#include "container_factory.hpp"

using wisp::common::MessageOf;
using wisp::distributed::Fail;

namespace {

/// Container names and labels may hold [A-Za-z0-9_.-].
std::string ContainerSafe(const std::string& s) {
    std::string out;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        out += ok ? c : '-';
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    wisp::launch::ConfigureMalloc();  // before any thread
    wisp::distributed::ComponentOptions component;
    wisp::launch::InvokerOptions invoker_opt;
    std::string api_host = "http://127.0.0.1:3233";

    CLI::App app{
        "wisp-invoker: runs the actions of a distributed Wisp deployment in Docker containers or "
        "Kubernetes pods (--container-factory). It consumes invoker<id> on Kafka, stores each "
        "activation record and acknowledges it to the controller that published it; it pings "
        "health every second."};
    wisp::distributed::AddComponentOptions(app, component, /*allow_auto_id=*/true);
    app.add_option("--api-host", api_host,
                   "The API URL actions get as __OW_API_HOST (nginx, or a controller)")
        ->envname("WISP_API_HOST");
    wisp::launch::AddInvokerOptions(app, invoker_opt);
    wisp::launch::InvokerMetricsOptions metrics_opt;
    wisp::launch::AddInvokerMetricsOptions(app, metrics_opt);
    wisp::distributed::ContainerFactoryOptions factory_opt;
    wisp::distributed::AddContainerFactoryOptions(app, factory_opt);
    std::string control_listen = "127.0.0.1:0";
    std::string control_token;
    std::string control_token_file;
    CLI::Option* listen_opt =
        app.add_option("--control-listen", control_listen,
                       "HOST:PORT of the InvokerControl gRPC service (wisp-admin invoker "
                       "status|drain|enable); port 0 picks a free one, which the log and the "
                       "pings name. Served only with a control token")
            ->envname("WISP_CONTROL_LISTEN")
            ->capture_default_str();
    app.add_option("--control-token", control_token,
                   "the shared secret every control call must present (without a token, and "
                   "without --control-token-file, no control service runs)")
        ->envname("WISP_CONTROL_TOKEN");
    app.add_option("--control-token-file", control_token_file,
                   "a file whose first line is the control token")
        ->envname("WISP_CONTROL_TOKEN_FILE");
    CLI11_PARSE(app, argc, argv);

    // With --id auto the name is known once the id is claimed.
    std::string name =
        component.auto_id ? std::string("invoker") : wisp::common::Cat("invoker", component.id);
    wisp::distributed::SetUpLogging(name, component.log_level);
    const sigset_t signals = wisp::launch::BlockShutdownSignals();

    auto store = wisp::distributed::OpenStore(component);
    if (!store.ok()) return Fail(MessageOf(store.status()));

    auto bus = wisp::distributed::OpenBus(component, name);
    if (!bus.ok()) return Fail(MessageOf(bus.status()));
    // Claimed before anything is consumed or any container removed (the containers are named
    // and labelled with the id).
    auto claim = wisp::distributed::ClaimId(**bus, component, "invoker");
    if (!claim.ok()) return Fail(MessageOf(claim.status()));
    if (component.auto_id) {
        name = wisp::common::Cat("invoker", component.id);
        wisp::distributed::SetUpLogging(name, component.log_level);
        spdlog::info("--id auto: this invoker is {}", name);
    }

    // The runtime images of this host's architecture (x86_64: as named; aarch64: "<tag>-arm64").
    const wisp::common::RuntimeManifest manifest =
        wisp::common::RuntimeManifest::BuiltIn().ForMachine(wisp::common::HostMachine());
    // This invoker's containers: named and labelled with its id (and the topic prefix, so that
    // two installations on one Docker host leave each other's containers alone).
    const std::string container_id = ContainerSafe(
        component.topic_prefix.empty() ? std::to_string(component.id)
                                       : wisp::common::Cat(component.topic_prefix, component.id));
    auto made = wisp::distributed::MakeContainerFactory(factory_opt, invoker_opt, container_id);
    if (!made.ok()) return Fail(MessageOf(made.status()));
    wisp::invoker::ContainerFactory& factory = **made;
    if (auto st = wisp::launch::CheckRuntimeImages(factory, manifest); !st.ok()) {
        return Fail(MessageOf(st));
    }

    wisp::common::SystemClock clock;
    wisp::invoker::InvokerConfig invoker_cfg = wisp::launch::InvokerConfigFrom(invoker_opt);
    invoker_cfg.invoker_id = container_id;
    // Every record says which invoker ran it (Wisp's "invoker" annotation).
    invoker_cfg.runner.invoker_annotation = name;
    invoker_cfg.container_env = {{"__OW_API_HOST", api_host}};
    wisp::invoker::InvokerService service(**store, factory, manifest, clock, invoker_cfg);
    if (auto st = service.Start(); !st.ok()) {
        spdlog::warn("invoker start: {}", MessageOf(st));
    }

    auto invalidation = wisp::cluster::CacheInvalidation::Start(
        **bus, {.instance_id = name}, [&service](const std::string& key) {
            if (wisp::cluster::IsEntityKey(key)) service.InvalidateAction(key);
        });
    if (!invalidation.ok()) return Fail(MessageOf(invalidation.status()));

    wisp::invoker::InvokerReactiveConfig reactive_cfg;
    reactive_cfg.instance.set_instance(component.id);
    reactive_cfg.instance.set_user_memory_mb(invoker_opt.user_memory_mb);
    // OpenWhisk's deployments set uniqueName to the index: /invokers says "invoker0/0".
    reactive_cfg.instance.set_unique_name(std::to_string(component.id));
    reactive_cfg.send_pings = true;
    wisp::invoker::InvokerReactive reactive(**bus, service, reactive_cfg);

    // The control service: only with a token (an explicitly asked-for address without one is
    // an error); its endpoint travels in the pings, where wisp-admin finds it.
    auto token = wisp::invoker::ResolveControlToken(control_token, control_token_file);
    if (!token.ok()) return Fail(MessageOf(token.status()));
    wisp::invoker::ReactiveControlTarget control_target(reactive, service, reactive_cfg.instance);
    std::unique_ptr<wisp::invoker::InvokerControlServer> control;
    if (!token->empty()) {
        auto started = wisp::invoker::InvokerControlServer::Start(
            control_target, {.listen = control_listen, .token = *token});
        if (!started.ok()) return Fail(MessageOf(started.status()));
        control = std::move(*started);
        reactive.SetControlEndpoint(control->endpoint());
    } else if (listen_opt->count() > 0) {
        return Fail(
            "--control-listen needs a control token: set --control-token, WISP_CONTROL_TOKEN or "
            "--control-token-file (the control service never runs without one)");
    } else {
        spdlog::info(
            "no control token: the InvokerControl service is off (set "
            "--control-token or WISP_CONTROL_TOKEN to serve it)");
    }
    if (auto st = reactive.Start(); !st.ok()) return Fail(MessageOf(st));
    // GET /metrics: the pool, the activations and the consumer lag (deploy/grafana/README.md).
    auto metrics = wisp::launch::StartInvokerMetrics(metrics_opt, [&service, &reactive] {
        wisp::common::PrometheusWriter w;
        service.WriteMetrics(w, reactive.ConsumerLag());
        return w.Take();
    });
    if (!metrics.ok()) return Fail(MessageOf(metrics.status()));

    spdlog::info("{} is up ({} MB for containers, actions call {})", name,
                 invoker_opt.user_memory_mb, api_host);
    std::printf("%s ready\n", name.c_str());
    std::fflush(stdout);
    wisp::launch::ReleaseFreeMemory();  // what the start allocated and dropped

    spdlog::info("{} received: finishing the activations taken from the bus",
                 wisp::launch::WaitForShutdownSignal(signals));
    if (*metrics) (*metrics)->Stop();
    reactive.Stop();  // no more consuming; every taken activation acked
    if (control) control->Shutdown();
    service.Shutdown();  // stores the records, removes the containers
    (*invalidation)->Stop();
    (*claim)->Release();
    spdlog::info("stopped");
    return 0;
}
