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
//   slots:   per invoker a capacity (MB) and the MB in use (OpenWhisk's NestedSemaphore).
//            An action with max concurrency c = 1 takes its memory per activation; with c > 1
//            the memory is taken per container: per invoker and action (key, c, memory) a
//            pool of free concurrency permits; an activation takes a free permit if there is
//            one (no memory), else the memory of one more container (c permits, one used). A
//            release returns its permit; when the free permits reach a multiple of c, one
//            container's c permits are all free and its memory is released. So an action with
//            k activations in flight on an invoker holds ceil(k / c) containers' memory. A
//            probe accepts an invoker with a free permit even when its memory is full; a forced
//            placement also uses a free permit first.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
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
    /// Chooses an invoker for an activation of `action` (the concurrency slots' key, e.g. the
    /// versioned fully qualified name) with sharding hash `hash`, `max_concurrency`
    /// activations per container (< 1 counts as 1) and `memory_mb` per container, and
    /// acquires its slot there (a free concurrency permit of the action, else the memory of a
    /// container; see "slots" above). `blackbox` selects the blackbox subset. `rng` draws the
    /// random invoker of a forced placement. nullopt (nothing acquired) when no invoker of the
    /// subset is Healthy.
    std::optional<Choice> Schedule(uint32_t hash, std::string_view action, int32_t max_concurrency,
                                   int64_t memory_mb, bool blackbox, std::mt19937_64& rng);
    /// Schedule with max concurrency 1 (the memory per activation; no action key needed).
    std::optional<Choice> Schedule(uint32_t hash, int64_t memory_mb, bool blackbox,
                                   std::mt19937_64& rng) {
        return Schedule(hash, {}, 1, memory_mb, blackbox, rng);
    }

    /// Gives back the slot an activation of `action` acquired on `invoker`: Schedule's
    /// `action`, `max_concurrency` and `memory_mb`. With max concurrency 1 frees `memory_mb`;
    /// else returns the permit and frees `memory_mb` when a container's permits are all free.
    /// In use never goes below 0; a release of a c > 1 action holding nothing is ignored.
    void Release(int32_t invoker, std::string_view action, int32_t max_concurrency,
                 int64_t memory_mb);
    /// Release with max concurrency 1.
    void Release(int32_t invoker, int64_t memory_mb) { Release(invoker, {}, 1, memory_mb); }

    /// Capacity minus in use (negative when overloaded); 0 for an unknown invoker.
    int64_t FreeMb(int32_t invoker) const;
    int64_t InUseMb(int32_t invoker) const;

    /// The free concurrency permits of `action` (c > 1, any c and memory) on `invoker`: those
    /// of its reserved containers not in use. 0 when it holds none.
    int64_t FreePermits(int32_t invoker, std::string_view action) const;
    /// The containers (memory reservations) `action` (c > 1) holds on `invoker`.
    int64_t Containers(int32_t invoker, std::string_view action) const;

    /// The subsets' sizes for the current size() (managed first, blackbox last).
    int32_t ManagedCount() const { return managed_count_; }
    int32_t BlackboxCount() const { return blackbox_count_; }

    /// The invokers Schedule would probe for `hash` in the subset, in probe order (size m).
    std::vector<int32_t> ProbeOrder(uint32_t hash, bool blackbox) const;

  private:
    /// The concurrency slots of one action (c > 1) on one invoker.
    struct Concurrent {
        int64_t free_permits = 0;  // of its reserved containers, not in use
        int64_t in_flight = 0;     // activations holding a permit
    };
    /// (action, max concurrency, memory): a changed limit never mixes with the old one's
    /// containers. Ordered with std::less<> so a string_view finds a std::string key.
    using ConcurrentKey = std::tuple<std::string, int32_t, int64_t>;
    struct KeyLess {
        using is_transparent = void;
        template <typename A, typename B>
        bool operator()(const A& a, const B& b) const {
            const std::string_view an = std::get<0>(a);
            const std::string_view bn = std::get<0>(b);
            if (an != bn) return an < bn;
            if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) < std::get<1>(b);
            return std::get<2>(a) < std::get<2>(b);
        }
    };
    struct Invoker {
        int64_t capacity_mb = 0;
        int64_t in_use_mb = 0;
        bool healthy = true;
        std::map<ConcurrentKey, Concurrent, KeyLess> concurrent;
    };
    /// Takes a free permit of `action` on `inv`, or (when `force` or the memory fits) a new
    /// container's memory; false when neither.
    static bool TryAcquire(Invoker& inv, std::string_view action, int32_t c, int64_t memory_mb,
                           bool force);
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
