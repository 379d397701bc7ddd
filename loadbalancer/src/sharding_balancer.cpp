#include <wisp/loadbalancer/sharding_balancer.hpp>

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/common/ids.hpp>
#include <wisp/common/status.hpp>

namespace wisp::loadbalancer {

namespace {
constexpr int64_t kMinSlotMb = 128;  // OpenWhisk's MemoryLimit.MIN_MEMORY

/// OpenWhisk's InvokerInstanceId.toString: "invoker<N>" [+ "/" uniqueName] [+ "/" displayedName].
std::string InvokerName(const wisp::v1::InvokerInstanceId& id) {
    std::string name = fmt::format("invoker{}", id.instance());
    if (!id.unique_name().empty()) name += "/" + id.unique_name();
    if (!id.displayed_name().empty()) name += "/" + id.displayed_name();
    return name;
}
}  // namespace

std::string HealthTestActionName(std::string_view controller_id) {
    return fmt::format("{}{}", kHealthActionPrefix, controller_id);
}

absl::StatusOr<std::unique_ptr<ShardingContainerPoolBalancer>>
ShardingContainerPoolBalancer::Create(messaging::MessagingProvider& bus,
                                      ShardingBalancerConfig config) {
    std::unique_ptr<ShardingContainerPoolBalancer> balancer(
        new ShardingContainerPoolBalancer(bus, std::move(config)));
    WISP_RETURN_IF_ERROR(balancer->StartFeeds(balancer->config_.invokers, /*pings=*/true));
    spdlog::info(
        "load balancer (sharding): the invokers that ping on {}; acks on {}; health test action "
        "{}/{}",
        balancer->health_topic(), balancer->ack_topic(), kHealthActionNamespace,
        HealthTestActionName(balancer->config_.common.controller_id));
    return balancer;
}

ShardingContainerPoolBalancer::ShardingContainerPoolBalancer(messaging::MessagingProvider& bus,
                                                             ShardingBalancerConfig config)
    : CommonBalancer(bus, config.common),
      config_(std::move(config)),
      rng_(config_.seed ? *config_.seed : std::random_device{}()),
      health_uuid_(common::RandomUuid()) {}

ShardingContainerPoolBalancer::~ShardingContainerPoolBalancer() { Shutdown(); }

int64_t ShardingContainerPoolBalancer::SlotFor(int64_t user_memory_mb) const {
    return std::max<int64_t>(kMinSlotMb, user_memory_mb / std::max(1, cluster_size_));
}

void ShardingContainerPoolBalancer::RefreshCapacityLocked() {
    const int size = config_.cluster_size ? std::max(1, config_.cluster_size()) : 1;
    if (size == cluster_size_) return;
    spdlog::info("load balancer: {} live controller(s) share the invokers' memory (was {})", size,
                 cluster_size_);
    cluster_size_ = size;
    for (size_t i = 0; i < invokers_.size(); ++i) {
        placement_.SetCapacity(static_cast<int32_t>(i), SlotFor(invokers_[i].user_memory_mb));
    }
}

void ShardingContainerPoolBalancer::GrowLocked(int32_t instance) {
    while (static_cast<int32_t>(invokers_.size()) <= instance) {
        const int32_t i = static_cast<int32_t>(invokers_.size());
        Invoker inv{.known = false,
                    .name = fmt::format("invoker{}", i),
                    .user_memory_mb = config_.default_user_memory_mb,
                    .health = InvokerHealthTracker(config_.health)};
        invokers_.push_back(std::move(inv));
        placement_.AddInvoker(SlotFor(config_.default_user_memory_mb), /*healthy=*/false);
    }
}

void ShardingContainerPoolBalancer::RefreshHealthLocked(int64_t now_ns) {
    for (size_t i = 0; i < invokers_.size(); ++i) {
        placement_.SetHealthy(static_cast<int32_t>(i), invokers_[i].health.Usable(now_ns));
    }
}

std::optional<int32_t> ShardingContainerPoolBalancer::HomeInvokerLocked(
    const ActionPlacement& action, const wisp::v1::ActivationMessage& msg) {
    RefreshCapacityLocked();
    RefreshHealthLocked(clock_.MonotonicNs());
    const uint32_t hash = ShardingHash(msg.user().namespace_name(), action.fqn);
    for (int32_t instance : placement_.ProbeOrder(hash, action.blackbox)) {
        if (placement_.Healthy(instance)) return instance;
    }
    return std::nullopt;
}

std::optional<int32_t> ShardingContainerPoolBalancer::PlaceLocked(
    const ActionPlacement& action, const SlotRequest& slot, const wisp::v1::ActivationMessage& msg,
    bool& forced) {
    RefreshCapacityLocked();
    RefreshHealthLocked(clock_.MonotonicNs());
    const uint32_t hash = ShardingHash(msg.user().namespace_name(), action.fqn);
    auto choice = placement_.Schedule(hash, slot.action, slot.max_concurrency, slot.memory_mb,
                                      action.blackbox, rng_);
    if (!choice) return std::nullopt;
    forced = choice->forced;
    return choice->invoker;
}

void ShardingContainerPoolBalancer::ReleaseLocked(int32_t invoker, const SlotRequest& slot) {
    placement_.Release(invoker, slot.action, slot.max_concurrency, slot.memory_mb);
}

void ShardingContainerPoolBalancer::LogTransitionLocked(int32_t instance, InvokerState before,
                                                        int64_t now_ns) const {
    const InvokerState after = invokers_[instance].health.state(now_ns);
    if (after == before) return;
    spdlog::info("load balancer: {} is {} (was {})", invokers_[instance].name,
                 InvokerStateName(after), InvokerStateName(before));
}

void ShardingContainerPoolBalancer::OnPingLocked(const wisp::v1::PingMessage& ping) {
    const int32_t instance = ping.name().instance();
    if (instance < 0) return;
    if (!config_.invokers.empty() && std::find(config_.invokers.begin(), config_.invokers.end(),
                                               instance) == config_.invokers.end()) {
        return;  // not one we use
    }
    // History: a controller's first read of the topic starts at its beginning; a ping sent
    // (by the invoker's wall clock) more than 3 ping timeouts ago is not a live invoker. The
    // slack tolerates clock differences between hosts.
    const int64_t stale_ms =
        3 *
        std::chrono::duration_cast<std::chrono::milliseconds>(config_.health.ping_timeout).count();
    if (ping.sent_at_ms() > 0 && clock_.NowMs() - ping.sent_at_ms() > stale_ms) return;
    RefreshCapacityLocked();
    GrowLocked(instance);
    Invoker& inv = invokers_[instance];
    inv.known = true;
    inv.name = InvokerName(ping.name());
    const int64_t memory = ping.name().user_memory_mb() > 0 ? ping.name().user_memory_mb()
                                                            : config_.default_user_memory_mb;
    if (memory != inv.user_memory_mb) {
        inv.user_memory_mb = memory;
        placement_.SetCapacity(instance, SlotFor(memory));
    }
    const int64_t now_ns = clock_.MonotonicNs();
    const InvokerState before = inv.health.state(now_ns);
    const bool test = inv.health.OnPing(now_ns, ping.is_enabled());
    LogTransitionLocked(instance, before, now_ns);
    if (test) SendTestActionLocked(instance);
}

void ShardingContainerPoolBalancer::OnOutcomeLocked(int32_t invoker, InvocationOutcome outcome) {
    if (invoker < 0 || invoker >= static_cast<int32_t>(invokers_.size())) return;
    const int64_t now_ns = clock_.MonotonicNs();
    const InvokerState before = invokers_[invoker].health.state(now_ns);
    const bool test = invokers_[invoker].health.OnOutcome(now_ns, outcome);
    LogTransitionLocked(invoker, before, now_ns);
    if (test) SendTestActionLocked(invoker);
}

void ShardingContainerPoolBalancer::OnUntrackedAckLocked(
    const wisp::v1::AcknowledgementMessage& ack) {
    // Health test actions are not in flight: their completion is known by the tid (OpenWhisk
    // does the same).
    if (ack.transid().id() != kHealthTransactionId) return;
    if (ack.kind() != wisp::v1::AcknowledgementMessage::COMPLETION &&
        ack.kind() != wisp::v1::AcknowledgementMessage::COMBINED) {
        return;
    }
    spdlog::debug("load balancer: health test action {} on invoker{} completed ({})",
                  ack.activation_id(), ack.instance().instance(),
                  ack.is_system_error() ? "system error" : "success");
    OnOutcomeLocked(ack.instance().instance(), ack.is_system_error()
                                                   ? InvocationOutcome::kSystemError
                                                   : InvocationOutcome::kSuccess);
}

void ShardingContainerPoolBalancer::SendTestActionLocked(int32_t instance) {
    if (!config_.send_test_actions) return;
    const std::string& ctrl = config_.common.controller_id;
    wisp::v1::ActivationMessage msg;
    msg.mutable_transid()->set_id(std::string(kHealthTransactionId));
    msg.mutable_transid()->set_start_ms(clock_.NowMs());
    msg.mutable_action()->set_path(std::string(kHealthActionNamespace));
    msg.mutable_action()->set_name(HealthTestActionName(ctrl));
    msg.mutable_action()->set_version("0.0.1");
    auto* user = msg.mutable_user();
    user->set_subject(std::string(kHealthActionNamespace));
    user->set_namespace_name(std::string(kHealthActionNamespace));
    user->set_namespace_uuid(health_uuid_);
    user->mutable_auth()->set_uuid(health_uuid_);
    msg.set_activation_id(common::ActivationId::Generate().str());
    msg.mutable_root_controller_index()->set_as_string(ctrl);
    msg.set_blocking(false);
    msg.set_content_json("{}");
    msg.set_wait_start_ms(clock_.NowMs());
    ++tests_sent_;
    spdlog::info("load balancer: sending the health test action to {} ({})",
                 invokers_[instance].name, msg.activation_id());
    SendLaterLocked(invoker_topic(instance), msg.SerializeAsString());
}

std::vector<InvokerHealthInfo> ShardingContainerPoolBalancer::InvokerHealthLocked() const {
    const int64_t now_ns = clock_.MonotonicNs();
    std::vector<InvokerHealthInfo> out;
    out.reserve(invokers_.size());
    for (const Invoker& inv : invokers_) {
        out.push_back({inv.name, std::string(InvokerStateName(inv.health.state(now_ns)))});
    }
    return out;
}

int64_t ShardingContainerPoolBalancer::FreeMemoryMb(int32_t instance) const {
    std::lock_guard<std::mutex> lock(mu_);
    return placement_.FreeMb(instance);
}

int64_t ShardingContainerPoolBalancer::SlotCapacityMb(int32_t instance) const {
    std::lock_guard<std::mutex> lock(mu_);
    return placement_.FreeMb(instance) + placement_.InUseMb(instance);
}

int64_t ShardingContainerPoolBalancer::ConcurrentContainers(int32_t instance,
                                                            std::string_view action) const {
    std::lock_guard<std::mutex> lock(mu_);
    return placement_.Containers(instance, action);
}

int64_t ShardingContainerPoolBalancer::FreeConcurrencyPermits(int32_t instance,
                                                              std::string_view action) const {
    std::lock_guard<std::mutex> lock(mu_);
    return placement_.FreePermits(instance, action);
}

InvokerState ShardingContainerPoolBalancer::StateOf(int32_t instance) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (instance < 0 || instance >= static_cast<int32_t>(invokers_.size())) {
        return InvokerState::kOffline;
    }
    return invokers_[instance].health.state(clock_.MonotonicNs());
}

int64_t ShardingContainerPoolBalancer::HealthTestsSent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tests_sent_;
}

int32_t ShardingContainerPoolBalancer::HealthyCount() const {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now_ns = clock_.MonotonicNs();
    return static_cast<int32_t>(
        std::count_if(invokers_.begin(), invokers_.end(),
                      [&](const Invoker& i) { return i.health.Usable(now_ns); }));
}

std::optional<BalancerCapacity> ShardingContainerPoolBalancer::Capacity() const {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now_ns = clock_.MonotonicNs();
    BalancerCapacity c;
    for (size_t i = 0; i < invokers_.size(); ++i) {
        if (!invokers_[i].health.Usable(now_ns)) continue;
        const auto instance = static_cast<int32_t>(i);
        const int64_t in_use = placement_.InUseMb(instance);
        c.total_mb += placement_.FreeMb(instance) + in_use;
        c.in_use_mb += in_use;
    }
    return c;
}

}  // namespace wisp::loadbalancer
