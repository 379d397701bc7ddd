#pragma once
// `wisp-admin invoker list|status|drain|enable`: the invokers' InvokerControl gRPC service
// (proto/wisp/v1/invoker.proto), one by --invoker HOST:PORT or all of them (--all), found
// from their pings on the deployment's `health` topic (which carry each control endpoint).
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::admin {

enum class InvokerAction { kList, kStatus, kDrain, kEnable };

struct InvokerAdminOptions {
    InvokerAction action = InvokerAction::kStatus;
    std::vector<std::string> endpoints;  // --invoker HOST:PORT (repeatable)
    bool all = false;                    // every invoker pinging on health
    bool json = false;
    bool wait = false;         // drain: until every target is DRAINED
    std::string token;         // the control token (resolved by the caller)
    std::string topic_prefix;  // for messages only: the bus prefixes its topics itself
    /// How long `list`/`--all` listen to the health topic (invokers ping every second).
    std::chrono::milliseconds listen{2500};
    /// drain --wait: give up after this long; poll this often.
    std::chrono::milliseconds wait_timeout{std::chrono::minutes(10)};
    std::chrono::milliseconds poll_interval{500};
    /// Each gRPC call's deadline.
    std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};
};

/// A live invoker, from its latest ping.
struct KnownInvoker {
    int32_t instance = 0;
    std::string endpoint;  // empty: it serves no control service
    bool enabled = true;
    int64_t user_memory_mb = 0;
    int64_t sent_at_ms = 0;
};

/// The invokers whose pings on the bus's "health" topic (the bus adds the deployment's topic
/// prefix) were sent within the last few seconds, by instance. Reads the topic from its start (a
/// fresh consumer group, never committed) until it has caught up and `listen` has passed. Errors:
/// the bus's (Unavailable).
[[nodiscard]] absl::StatusOr<std::vector<KnownInvoker>> DiscoverInvokers(
    messaging::MessagingProvider& bus, std::chrono::milliseconds listen);

/// Runs the command; `bus` may be null unless the command is `list` or has `all`. Returns the
/// exit code (0 ok, 1 an invoker failed or did not answer, 2 usage).
int RunInvokerCommand(const InvokerAdminOptions& options, messaging::MessagingProvider* bus,
                      std::ostream& out, std::ostream& err);

}  // namespace wisp::admin
