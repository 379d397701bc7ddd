#pragma once
// PlacementPolicy: how the simulated controller picks an invoker for an activation. Every policy
// keeps per-invoker memory slots (capacity = user-memory with one controller) acquired by Place
// and freed by Release, like OpenWhisk's balancer; a policy may overload an invoker ("forced")
// when none has room. "hash-sharding" is the real wisp::loadbalancer::ShardingPlacement
// (sharding_policy.cpp), the others are written here as baselines.
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

namespace wisp::sim {

struct ActivationRef {
    std::string_view ns;   // "ns17"
    std::string_view fqn;  // "ns17/action123"
    int32_t memory_mb = 0;
};

class PlacementPolicy {
  public:
    virtual ~PlacementPolicy() = default;
    virtual std::string_view Name() const = 0;
    struct Placement {
        int32_t invoker = 0;
        bool forced = false;
    };
    /// Picks an invoker and acquires memory_mb there; nullopt when it cannot place (no invoker).
    virtual std::optional<Placement> Place(const ActivationRef& activation,
                                           std::mt19937_64& rng) = 0;
    /// Frees what Place acquired on `invoker` (the activation completed).
    virtual void Release(int32_t invoker, int64_t memory_mb) = 0;
};

/// The policies by name; PolicyNames() lists them, the first is the default.
const std::vector<std::string>& PolicyNames();
[[nodiscard]] absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakePolicy(std::string_view name,
                                                                          int32_t invokers,
                                                                          int64_t capacity_mb);

/// The hash-sharding adapter over the real balancer core (sharding_policy.cpp).
std::unique_ptr<PlacementPolicy> MakeShardingPolicy(int32_t invokers, int64_t capacity_mb);

}  // namespace wisp::sim
