#pragma once
// What a bus backend provides to the messaging contract suite (messaging_contract.cpp). Each
// backend's test binary links the suite with one <backend>_bus_backend.cpp implementing these.
#include <memory>
#include <string>

#include <wisp/messaging/messaging_provider.hpp>

namespace wisp::contract {

/// A provider whose topics are independent of every provider returned before (a fresh
/// in-process bus, or a fresh topic prefix on the shared broker). Fails the running test
/// (Catch2) when the backend cannot provide one. Called from the test's main thread.
std::unique_ptr<messaging::MessagingProvider> MakeFreshBus();

/// "inprocess", "kafka", ... (shown in test output).
std::string BusName();

/// Round trips the hop-latency case makes (a Kafka hop costs milliseconds, not microseconds).
int LatencyRounds();

}  // namespace wisp::contract
