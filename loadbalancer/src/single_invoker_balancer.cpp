#include <wisp/loadbalancer/single_invoker_balancer.hpp>

#include <utility>

namespace wisp::loadbalancer {

absl::StatusOr<std::unique_ptr<SingleInvokerBalancer>> SingleInvokerBalancer::Create(
    messaging::MessagingProvider& bus, SingleInvokerBalancerConfig config) {
    auto impl = RoundRobinBalancer::Create(
        bus, RoundRobinBalancerConfig{.controller_id = std::move(config.controller_id),
                                      .topic_prefix = std::move(config.topic_prefix),
                                      .invoker_user_memory_mb = config.invoker_user_memory_mb,
                                      .invokers = {0},
                                      .expect_pings = config.expect_pings,
                                      .ping_timeout = config.ping_timeout,
                                      .completion_timeout = config.completion_timeout,
                                      .timeout_thread = config.timeout_thread,
                                      .clock = config.clock,
                                      .ack_max_peek = config.ack_max_peek,
                                      .ack_long_poll = config.ack_long_poll});
    if (!impl.ok()) return impl.status();
    return std::unique_ptr<SingleInvokerBalancer>(new SingleInvokerBalancer(std::move(*impl)));
}

SingleInvokerBalancer::~SingleInvokerBalancer() { impl_->Shutdown(); }

}  // namespace wisp::loadbalancer
