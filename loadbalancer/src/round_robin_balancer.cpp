#include <wisp/loadbalancer/round_robin_balancer.hpp>
#include <wisp/loadbalancer/sharding_placement.hpp>

#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>

namespace wisp::loadbalancer {

namespace {
CommonBalancerConfig CommonConfigOf(const RoundRobinBalancerConfig& c) {
    return CommonBalancerConfig{.controller_id = c.controller_id,
                                .topic_prefix = c.topic_prefix,
                                .completion_timeout = c.completion_timeout,
                                .timeout_thread = c.timeout_thread,
                                .clock = c.clock,
                                .ack_max_peek = c.ack_max_peek,
                                .ack_long_poll = c.ack_long_poll};
}
}  // namespace

absl::StatusOr<std::unique_ptr<RoundRobinBalancer>> RoundRobinBalancer::Create(
    messaging::MessagingProvider& bus, RoundRobinBalancerConfig config) {
    if (config.invokers.empty() && !config.expect_pings) {
        return absl::InvalidArgumentError(
            "the balancer knows no invoker: configure invoker instances or expect their pings");
    }
    std::unique_ptr<RoundRobinBalancer> balancer(new RoundRobinBalancer(bus, std::move(config)));
    const RoundRobinBalancerConfig& cfg = balancer->config_;
    WISP_RETURN_IF_ERROR(balancer->StartFeeds(cfg.invokers, cfg.expect_pings));
    std::string which;
    for (int32_t instance : cfg.invokers) {
        which += fmt::format("{}invoker{}", which.empty() ? "" : ", ", instance);
    }
    spdlog::info("load balancer (round robin): {}; acks on {}{}",
                 which.empty() ? std::string("the invokers that ping") : which,
                 balancer->ack_topic(), cfg.expect_pings ? ", health from pings" : "");
    return balancer;
}

RoundRobinBalancer::RoundRobinBalancer(messaging::MessagingProvider& bus,
                                       RoundRobinBalancerConfig config)
    : CommonBalancer(bus, CommonConfigOf(config)), config_(std::move(config)) {
    for (int32_t instance : config_.invokers) {
        invokers_[instance] = Invoker{.user_memory_mb = config_.invoker_user_memory_mb,
                                      .free_memory_mb = config_.invoker_user_memory_mb};
    }
}

RoundRobinBalancer::~RoundRobinBalancer() { Shutdown(); }

bool RoundRobinBalancer::AliveLocked(const Invoker& invoker) const {
    if (!config_.expect_pings) return true;
    if (!invoker.last_ping_ns || !invoker.enabled) return false;
    const int64_t age_ns = clock_.MonotonicNs() - *invoker.last_ping_ns;
    return age_ns <= std::chrono::nanoseconds(config_.ping_timeout).count();
}

std::optional<int32_t> RoundRobinBalancer::HomeInvokerLocked(
    const ActionPlacement& action, const wisp::v1::ActivationMessage& msg) {
    std::vector<int32_t> alive;
    for (const auto& [instance, invoker] : invokers_) {
        if (AliveLocked(invoker)) alive.push_back(instance);
    }
    if (alive.empty()) return std::nullopt;
    return alive[ShardingHash(msg.user().namespace_name(), action.fqn) % alive.size()];
}

std::optional<int32_t> RoundRobinBalancer::PlaceLocked(const ActionPlacement& action,
                                                       const SlotRequest&,
                                                       const wisp::v1::ActivationMessage&,
                                                       bool& forced) {
    // The alive invokers in instance order, starting after the last one used.
    std::vector<int32_t> order;
    auto start = last_used_ ? invokers_.upper_bound(*last_used_) : invokers_.begin();
    for (auto it = start; it != invokers_.end(); ++it) {
        if (AliveLocked(it->second)) order.push_back(it->first);
    }
    for (auto it = invokers_.begin(); it != start; ++it) {
        if (AliveLocked(it->second)) order.push_back(it->first);
    }
    if (order.empty()) return std::nullopt;
    forced = true;
    int32_t chosen = order.front();
    for (int32_t instance : order) {
        if (invokers_[instance].free_memory_mb >= action.memory_mb) {
            forced = false;
            chosen = instance;
            break;
        }
    }
    last_used_ = chosen;
    invokers_[chosen].free_memory_mb -= action.memory_mb;
    return chosen;
}

void RoundRobinBalancer::ReleaseLocked(int32_t instance, const SlotRequest& slot) {
    auto it = invokers_.find(instance);
    if (it != invokers_.end()) it->second.free_memory_mb += slot.memory_mb;
}

void RoundRobinBalancer::OnPingLocked(const wisp::v1::PingMessage& ping) {
    const int32_t instance = ping.name().instance();
    auto it = invokers_.find(instance);
    if (it == invokers_.end()) {
        if (!config_.invokers.empty() || instance < 0) return;  // not one we use
        const int64_t memory = ping.name().user_memory_mb() > 0 ? ping.name().user_memory_mb()
                                                                : config_.invoker_user_memory_mb;
        it =
            invokers_.emplace(instance, Invoker{.user_memory_mb = memory, .free_memory_mb = memory})
                .first;
    } else if (config_.invokers.empty() && ping.name().user_memory_mb() > 0 &&
               ping.name().user_memory_mb() != it->second.user_memory_mb) {
        // Restarted with another --user-memory: the slots follow.
        it->second.free_memory_mb += ping.name().user_memory_mb() - it->second.user_memory_mb;
        it->second.user_memory_mb = ping.name().user_memory_mb();
    }
    const bool was_alive = AliveLocked(it->second);
    it->second.last_ping_ns = clock_.MonotonicNs();
    it->second.enabled = ping.is_enabled();
    if (!was_alive && AliveLocked(it->second)) {
        spdlog::info("load balancer: invoker{} is up ({} MB)", instance, it->second.user_memory_mb);
    } else if (was_alive && !it->second.enabled) {
        spdlog::info("load balancer: invoker{} is disabled (drained): no new work", instance);
    }
}

std::vector<InvokerHealthInfo> RoundRobinBalancer::InvokerHealthLocked() const {
    std::vector<InvokerHealthInfo> out;
    for (const auto& [instance, invoker] : invokers_) {
        out.push_back({fmt::format("invoker{}", instance), AliveLocked(invoker) ? "up" : "down"});
    }
    return out;
}

int64_t RoundRobinBalancer::FreeMemoryMb(int32_t instance) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = invokers_.find(instance);
    return it == invokers_.end() ? 0 : it->second.free_memory_mb;
}

}  // namespace wisp::loadbalancer
