// The messaging contract suite on the in-process bus: a new InProcessMessagingProvider per case.
#include <wisp/messaging/inprocess_messaging_provider.hpp>

#include "messaging_backend.hpp"

namespace wisp::contract {

std::unique_ptr<messaging::MessagingProvider> MakeFreshBus() {
    return std::make_unique<messaging::InProcessMessagingProvider>();
}

std::string BusName() { return "inprocess"; }

int LatencyRounds() { return 2000; }

}  // namespace wisp::contract
