#include "component.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/store/open_store.hpp>

namespace wisp::distributed {
namespace {

/// fetch.wait.max.ms of the consumers off the activation path (KafkaConfig::
/// latency_topic_prefixes), at least: a ping or an invalidation is late by at most this much
/// on the dev broker.
constexpr int64_t kBackgroundFetchWaitMs = 100;

}  // namespace

void AddComponentOptions(CLI::App& app, ComponentOptions& opt, bool allow_auto_id) {
    static constexpr int32_t kMaxId = 1 << 20;
    app.add_option_function<std::string>(
           "--id",
           [&opt](const std::string& value) {
               opt.auto_id = value == "auto";
               opt.id = opt.auto_id ? 0 : std::stoi(value);
           },
           allow_auto_id
               ? "This component's id N (invokerN): unique per kind; a second live process with "
                 "the same id refuses to start. auto: the lowest id no live invoker holds "
                 "(several may start at once, e.g. docker-compose --scale; a killed one's id is "
                 "taken over after --claim-lease-ms)"
               : "This component's id N (controllerN / invokerN): unique per kind; a second "
                 "live process with the same id refuses to start")
        ->check(CLI::Validator(
            [allow_auto_id](std::string& value) -> std::string {
                if (allow_auto_id && value == "auto") return {};
                const bool digits = !value.empty() && value.size() <= 7 &&
                                    std::all_of(value.begin(), value.end(),
                                                [](char c) { return c >= '0' && c <= '9'; });
                if (!digits || std::stoi(value) > kMaxId) {
                    return common::Cat("must be a number from 0 to ", kMaxId,
                                       allow_auto_id ? " or auto" : "");
                }
                return {};
            },
            allow_auto_id ? "N|auto" : "N"))
        ->envname("WISP_ID");
    app.add_option("--kafka", opt.kafka, "Kafka bootstrap servers, host:port[,host:port...]")
        ->envname("WISP_KAFKA");
    app.add_option("--kafka-fetch-wait-ms", opt.kafka_fetch_wait_ms,
                   "Kafka fetch.wait.max.ms (use a few ms against wisp-kafka-dev-broker, which "
                   "holds every empty fetch this long)")
        ->check(CLI::Range(int64_t{1}, int64_t{60000}))
        ->envname("WISP_KAFKA_FETCH_WAIT_MS");
    app.add_option("--topic-prefix", opt.topic_prefix,
                   "Prepended to every topic name (installations sharing one Kafka cluster)")
        ->envname("WISP_TOPIC_PREFIX");
    app.add_option("--store", opt.store_uri,
                   "The store: couchdb:http://[user:password@]host:5984 (credentials from the "
                   "URL or WISP_STORE_USER/WISP_STORE_PASSWORD; never logged), or "
                   "sqlite:PATH (every component on one host)")
        ->required()
        ->envname("WISP_STORE");
    app.add_option("--db-prefix", opt.db_prefix, "CouchDB database name prefix (e.g. whisk_)")
        ->envname("WISP_DB_PREFIX");
    app.add_option("--claim-lease-ms", opt.claim_lease_ms,
                   "How long a start watches for heartbeats of an earlier process with the same "
                   "id that did not stop cleanly (killed) before taking its id over")
        ->check(CLI::Range(int64_t{500}, int64_t{600000}))
        ->envname("WISP_CLAIM_LEASE_MS");
    app.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error")
        ->envname("WISP_LOG_LEVEL");
}

std::string StoreUri(const ComponentOptions& opt) {
    std::string uri = opt.store_uri;
    constexpr std::string_view kCouch = "couchdb:";
    if (uri.rfind(kCouch, 0) != 0) return uri;
    const char* user = std::getenv("WISP_STORE_USER");
    const char* password = std::getenv("WISP_STORE_PASSWORD");
    uri =
        common::WithUserInfo(uri, user != nullptr ? user : "", password != nullptr ? password : "");
    if (!opt.db_prefix.empty() && uri.find("prefix=") == std::string::npos) {
        uri +=
            common::Cat(uri.find('?') == std::string::npos ? "?" : "&", "prefix=", opt.db_prefix);
    }
    return uri;
}

void SetUpLogging(const std::string& name, const std::string& level) {
    auto logger = spdlog::stderr_color_mt(name);
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
}

absl::StatusOr<std::unique_ptr<store::ArtifactStore>> OpenStore(const ComponentOptions& opt) {
    const std::string uri = StoreUri(opt);
    auto store = store::OpenArtifactStore(uri);
    if (!store.ok()) {
        return absl::Status(store.status().code(),
                            common::Cat("cannot open the store ", common::RedactUri(uri), ": ",
                                        common::MessageOf(store.status())));
    }
    spdlog::info("store: {}", common::RedactUri(uri));
    return store;
}

absl::StatusOr<std::unique_ptr<messaging::KafkaMessagingProvider>> OpenBus(
    const ComponentOptions& opt, const std::string& client_id) {
    messaging::KafkaConfig cfg;
    cfg.bootstrap_servers = opt.kafka;
    cfg.topic_prefix = opt.topic_prefix;
    cfg.client_id = client_id;
    cfg.fetch_wait_max = std::chrono::milliseconds(opt.kafka_fetch_wait_ms);
    // Only the activation path (invoker<N>, completed<N>) fetches with the short wait; pings,
    // cache invalidations and id claims take up to 100 ms more on the dev broker and leave its
    // one thread to the activations (against Apache Kafka the wait costs nothing either way).
    cfg.latency_topic_prefixes = {"invoker", "completed"};
    cfg.background_fetch_wait_max =
        std::max(cfg.fetch_wait_max, std::chrono::milliseconds(kBackgroundFetchWaitMs));
    WISP_ASSIGN_OR_RETURN(auto bus, messaging::KafkaMessagingProvider::Create(std::move(cfg)));
    WISP_RETURN_IF_ERROR(bus->CheckConnection(std::chrono::seconds(30)));
    spdlog::info(
        "bus: Kafka at {}{}", opt.kafka,
        opt.topic_prefix.empty() ? "" : common::Cat(", topics prefixed ", opt.topic_prefix));
    return bus;
}

absl::StatusOr<std::unique_ptr<cluster::ComponentClaim>> ClaimId(messaging::MessagingProvider& bus,
                                                                 ComponentOptions& opt,
                                                                 const std::string& kind) {
    cluster::ComponentClaimConfig cfg;
    cfg.lease = std::chrono::milliseconds(opt.claim_lease_ms);
    if (!opt.auto_id) {
        cfg.component = common::Cat(kind, opt.id);
        return cluster::ComponentClaim::Acquire(bus, std::move(cfg));
    }
    WISP_ASSIGN_OR_RETURN(
        auto claim, cluster::ComponentClaim::AcquireLowestFree(bus, kind, std::move(cfg), 1 << 20));
    opt.id = claim->index();
    return claim;
}

int Fail(const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return 1;
}

}  // namespace wisp::distributed
