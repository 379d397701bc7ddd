#pragma once
// ShardingPlacement: the pure placement core of OpenWhisk's ShardingContainerPoolBalancer
// (wire §7), without bus, clock or threads, so the balancer and the simulator (bench/sim/) run
// the same code. Not thread-safe: the owner serializes calls.
//
//   hash:    ShardingHash(ns, fqn) = |JavaStringHash(ns) XOR JavaStringHash(fqn)|;
//   subsets: managed = the first max(1, ceil(0.9 n)) invokers, blackbox = the last
//            max(1, floor(0.1 n)) (they may overlap; n = 1 -> both are invoker 0);
//   probe:   within the subset (size m): home = hash % m, step = steps[hash % |steps|] with
//            steps = PairwiseCoprimeNumbersUntil(m); take the first invoker of home, home+step,
//            ... that is Healthy and whose free memory fits; after a full round, force the
//            memory onto a uniformly random Healthy invoker of the subset (its free memory goes
//            negative: overload); no Healthy invoker in the subset -> nullopt.
//   slots:   per invoker a capacity (MB) and the MB in use; Schedule acquires, Release frees.
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

namespace wisp::loadbalancer {

/// Java's String.hashCode() of `s` read as UTF-8 (s[0]*31^(k-1) + ... over its UTF-16 code
/// units, with int32 wrap-around). Code points above U+FFFF count as their surrogate pair; an
/// invalid UTF-8 byte counts as U+FFFD, as Java's decoder replaces it.
int32_t JavaStringHash(std::string_view s);

/// OpenWhisk's generateHash: |JavaStringHash(namespace_name) XOR JavaStringHash(fqn)|, fqn being
/// "ns/pkg/action" or "ns/action". The one XOR equal to INT32_MIN (where Java's abs stays
/// negative) gives 2^31.
uint32_t ShardingHash(std::string_view namespace_name, std::string_view fqn);

/// The integers 1..n coprime with n and pairwise coprime with each other, ascending (OpenWhisk's
/// pairwiseCoprimeNumbersUntil): 10 -> [1, 3, 7]. Empty for n < 1.
std::vector<int32_t> PairwiseCoprimeNumbersUntil(int32_t n);

class ShardingPlacement {
  public:
    /// One invoker per entry (index = invoker instance), each with its slot capacity in MB;
    /// every invoker starts Healthy with nothing in use.
    explicit ShardingPlacement(std::vector<int64_t> slot_capacity_mb);

    /// Number of invokers.
    int32_t size() const { return static_cast<int32_t>(invokers_.size()); }

    /// Appends invoker size() (a newly discovered instance) with `slot_capacity_mb`; the
    /// managed/blackbox split is recomputed.
    void AddInvoker(int64_t slot_capacity_mb, bool healthy);

    /// Only Healthy invokers are chosen. Out-of-range indices are ignored / read false.
    void SetHealthy(int32_t invoker, bool healthy);
    bool Healthy(int32_t invoker) const;

    /// Changes the capacity; the MB in use stay in use (free = capacity - in use).
    void SetCapacity(int32_t invoker, int64_t mb);

    struct Choice {
        int32_t invoker;
        /// No Healthy invoker had room: placed on a random Healthy one by force.
        bool forced;
    };
    /// Chooses an invoker for an action with sharding hash `hash` needing `memory_mb` and
    /// acquires the memory there. `blackbox` selects the blackbox subset. `rng` draws the
    /// random invoker of a forced placement. nullopt (nothing acquired) when no invoker of the
    /// subset is Healthy.
    std::optional<Choice> Schedule(uint32_t hash, int64_t memory_mb, bool blackbox,
                                   std::mt19937_64& rng);

    /// Frees `memory_mb` acquired on `invoker` (in use never goes below 0).
    void Release(int32_t invoker, int64_t memory_mb);

    /// Capacity minus in use (negative when overloaded); 0 for an unknown invoker.
    int64_t FreeMb(int32_t invoker) const;
    int64_t InUseMb(int32_t invoker) const;

    /// The subsets' sizes for the current size() (managed first, blackbox last).
    int32_t ManagedCount() const { return managed_count_; }
    int32_t BlackboxCount() const { return blackbox_count_; }

    /// The invokers Schedule would probe for `hash` in the subset, in probe order (size m).
    std::vector<int32_t> ProbeOrder(uint32_t hash, bool blackbox) const;

  private:
    struct Invoker {
        int64_t capacity_mb = 0;
        int64_t in_use_mb = 0;
        bool healthy = true;
    };
    void UpdateSubsets();
    bool Valid(int32_t invoker) const { return invoker >= 0 && invoker < size(); }

    std::vector<Invoker> invokers_;
    int32_t managed_count_ = 0;
    int32_t blackbox_count_ = 0;
    std::vector<int32_t> managed_steps_;
    std::vector<int32_t> blackbox_steps_;
    std::vector<int32_t> healthy_scratch_;  // reused by the forced path
};

}  // namespace wisp::loadbalancer
