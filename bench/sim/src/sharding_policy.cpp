// The adapter from the simulator's PlacementPolicy to the real balancer core: every placement
// runs wisp::loadbalancer::ShardingHash and ShardingPlacement::Schedule, the code the
// distributed controller's ShardingContainerPoolBalancer runs (wire §7). Nothing of the
// sharding logic is copied here.
#include <wisp/loadbalancer/sharding_placement.hpp>
#include <wisp/sim/policy.hpp>

namespace wisp::sim {
namespace {

class ShardingPlacementPolicy final : public PlacementPolicy {
  public:
    ShardingPlacementPolicy(int32_t invokers, int64_t capacity_mb)
        : placement_(std::vector<int64_t>(static_cast<size_t>(invokers), capacity_mb)) {}

    std::string_view Name() const override { return "hash-sharding"; }

    std::optional<Placement> Place(const ActivationRef& a, std::mt19937_64& rng) override {
        const uint32_t hash = loadbalancer::ShardingHash(a.ns, a.fqn);
        const auto choice = placement_.Schedule(hash, a.memory_mb, /*blackbox=*/false, rng);
        if (!choice) return std::nullopt;
        return Placement{choice->invoker, choice->forced};
    }

    void Release(int32_t invoker, int64_t memory_mb) override {
        placement_.Release(invoker, memory_mb);
    }

  private:
    loadbalancer::ShardingPlacement placement_;
};

}  // namespace

std::unique_ptr<PlacementPolicy> MakeShardingPolicy(int32_t invokers, int64_t capacity_mb) {
    return std::make_unique<ShardingPlacementPolicy>(invokers, capacity_mb);
}

}  // namespace wisp::sim
