#pragma once
// What wisp-controller and wisp-invoker share (compiled into both programs, which choose the
// backends: Kafka for the bus, the store factory for the store): the bus, store and id flags,
// opening them, and the component id claim.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <absl/status/statusor.h>
#include <CLI/CLI.hpp>

#include <wisp/cluster/component_claim.hpp>
#include <wisp/messaging/kafka_messaging_provider.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::distributed {

struct ComponentOptions {
    int32_t id = 0;
    /// --id auto: the lowest id no live process of the kind holds, set by ClaimId.
    bool auto_id = false;
    std::string kafka = "127.0.0.1:9092";
    int64_t kafka_fetch_wait_ms = 500;
    std::string topic_prefix;
    std::string store_uri;
    std::string db_prefix;
    std::string log_level = "info";
    int64_t claim_lease_ms = 3000;
};

/// --id, --kafka, --kafka-fetch-wait-ms, --topic-prefix, --store, --db-prefix, --claim-lease-ms,
/// --log-level, each with its WISP_* environment fallback. `allow_auto_id`: --id also takes
/// "auto".
void AddComponentOptions(CLI::App& app, ComponentOptions& options, bool allow_auto_id = false);

/// The store URI with the db prefix and the credentials of WISP_STORE_USER/WISP_STORE_PASSWORD
/// (when the URI has none) added. Never log it: log common::RedactUri of it.
std::string StoreUri(const ComponentOptions& options);

/// Sets up spdlog (stderr, the level) for component `name`.
void SetUpLogging(const std::string& name, const std::string& level);

/// Opens the store (logs its redacted URI).
[[nodiscard]] absl::StatusOr<std::unique_ptr<store::ArtifactStore>> OpenStore(
    const ComponentOptions& options);

/// Creates the Kafka provider and checks that the broker answers.
[[nodiscard]] absl::StatusOr<std::unique_ptr<messaging::KafkaMessagingProvider>> OpenBus(
    const ComponentOptions& options, const std::string& client_id);

/// Claims `kind` + options.id ("controller0") on the bus; AlreadyExists when another process
/// holds it. With options.auto_id, claims the lowest id of `kind` no live process holds and
/// sets options.id to it.
[[nodiscard]] absl::StatusOr<std::unique_ptr<cluster::ComponentClaim>> ClaimId(
    messaging::MessagingProvider& bus, ComponentOptions& options, const std::string& kind);

/// "error: <message>" on stderr; returns 1 (the exit code).
int Fail(const std::string& message);

}  // namespace wisp::distributed
