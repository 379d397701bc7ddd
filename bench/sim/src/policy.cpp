// The baseline placement policies (the hash-sharding one is the real balancer core, in
// sharding_policy.cpp). All keep the same slot accounting: capacity per invoker, acquired by
// Place, freed by Release; overload = acquire beyond capacity.
#include <wisp/sim/policy.hpp>

#include <algorithm>

#include <absl/status/status.h>
#include <fmt/format.h>

#include <wisp/sim/random.hpp>

namespace wisp::sim {
namespace {

class Slots {
  public:
    Slots(int32_t n, int64_t capacity_mb)
        : capacity_mb_(capacity_mb), in_use_(static_cast<size_t>(n), 0) {}
    int32_t size() const { return static_cast<int32_t>(in_use_.size()); }
    int64_t Capacity() const { return capacity_mb_; }
    int64_t Free(int32_t i) const { return capacity_mb_ - in_use_[static_cast<size_t>(i)]; }
    void Acquire(int32_t i, int64_t mb) { in_use_[static_cast<size_t>(i)] += mb; }
    void Release(int32_t i, int64_t mb) {
        auto& u = in_use_[static_cast<size_t>(i)];
        u = std::max<int64_t>(0, u - mb);
    }

  private:
    int64_t capacity_mb_;
    std::vector<int64_t> in_use_;
};

// Uniformly random invoker; if it has no room, the next one (cyclically) that has; none has ->
// forced onto the random one.
class RandomPolicy final : public PlacementPolicy {
  public:
    RandomPolicy(int32_t n, int64_t capacity_mb) : slots_(n, capacity_mb) {}
    std::string_view Name() const override { return "random"; }
    std::optional<Placement> Place(const ActivationRef& a, std::mt19937_64& rng) override {
        const int32_t n = slots_.size();
        if (n == 0) return std::nullopt;
        const auto first = static_cast<int32_t>(UniformBelow(rng, static_cast<uint64_t>(n)));
        for (int32_t k = 0; k < n; ++k) {
            const int32_t i = (first + k) % n;
            if (slots_.Free(i) >= a.memory_mb) {
                slots_.Acquire(i, a.memory_mb);
                return Placement{i, false};
            }
        }
        slots_.Acquire(first, a.memory_mb);
        return Placement{first, true};
    }
    void Release(int32_t invoker, int64_t mb) override { slots_.Release(invoker, mb); }

  private:
    Slots slots_;
};

// The invoker with the most free memory (lowest index on ties), kept in a max segment tree:
// O(log n) per placement and release. Forced when even that one has no room.
class LeastLoadedPolicy final : public PlacementPolicy {
  public:
    LeastLoadedPolicy(int32_t n, int64_t capacity_mb) : n_(n) {
        size_ = 1;
        while (size_ < std::max(1, n)) size_ *= 2;
        tree_.assign(static_cast<size_t>(2 * size_), {INT64_MIN, -1});
        for (int32_t i = 0; i < n; ++i) tree_[static_cast<size_t>(size_ + i)] = {capacity_mb, i};
        for (int32_t i = size_ - 1; i >= 1; --i) Pull(i);
    }
    std::string_view Name() const override { return "least-loaded"; }
    std::optional<Placement> Place(const ActivationRef& a, std::mt19937_64&) override {
        if (n_ == 0) return std::nullopt;
        const auto [free, i] = tree_[1];
        Add(i, -a.memory_mb);
        return Placement{i, free < a.memory_mb};
    }
    void Release(int32_t invoker, int64_t mb) override { Add(invoker, mb); }

  private:
    struct Node {
        int64_t free;
        int32_t index;
    };
    void Pull(int32_t i) {
        const Node& l = tree_[static_cast<size_t>(2 * i)];
        const Node& r = tree_[static_cast<size_t>(2 * i + 1)];
        tree_[static_cast<size_t>(i)] = r.free > l.free ? r : l;
    }
    void Add(int32_t invoker, int64_t delta) {
        int32_t i = size_ + invoker;
        tree_[static_cast<size_t>(i)].free += delta;
        for (i /= 2; i >= 1; i /= 2) Pull(i);
    }
    int32_t n_;
    int32_t size_;
    std::vector<Node> tree_;
};

// Power of two choices: two uniformly random invokers, the one with more free memory; forced
// onto it when it has no room.
class PowerOfTwoPolicy final : public PlacementPolicy {
  public:
    PowerOfTwoPolicy(int32_t n, int64_t capacity_mb) : slots_(n, capacity_mb) {}
    std::string_view Name() const override { return "power-of-two"; }
    std::optional<Placement> Place(const ActivationRef& a, std::mt19937_64& rng) override {
        const auto n = static_cast<uint64_t>(slots_.size());
        if (n == 0) return std::nullopt;
        const auto i = static_cast<int32_t>(UniformBelow(rng, n));
        const auto j = static_cast<int32_t>(UniformBelow(rng, n));
        const int32_t best = slots_.Free(j) > slots_.Free(i) ? j : i;
        const bool forced = slots_.Free(best) < a.memory_mb;
        slots_.Acquire(best, a.memory_mb);
        return Placement{best, forced};
    }
    void Release(int32_t invoker, int64_t mb) override { slots_.Release(invoker, mb); }

  private:
    Slots slots_;
};

// Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, SODA 2018; the scheme
// behind HAProxy's and Vimeo's "hash-balance-factor"): each invoker owns kVirtualNodes points
// on a 64-bit ring; an action goes to the first invoker clockwise from the hash of its name
// whose memory in use after placing stays within c x the mean (c = kBalance) and within its
// capacity; a full turn without one -> forced onto a random invoker.
class BoundedHashPolicy final : public PlacementPolicy {
  public:
    static constexpr int kVirtualNodes = 64;
    static constexpr double kBalance = 1.25;

    BoundedHashPolicy(int32_t n, int64_t capacity_mb)
        : slots_(n, capacity_mb), visited_(static_cast<size_t>(n), 0) {
        ring_.reserve(static_cast<size_t>(n) * kVirtualNodes);
        for (int32_t i = 0; i < n; ++i) {
            for (int v = 0; v < kVirtualNodes; ++v) {
                ring_.push_back(
                    {Mix((static_cast<uint64_t>(i) << 20) | static_cast<uint64_t>(v)), i});
            }
        }
        std::sort(ring_.begin(), ring_.end(),
                  [](const Point& a, const Point& b) { return a.hash < b.hash; });
    }
    std::string_view Name() const override { return "bounded-hash"; }
    std::optional<Placement> Place(const ActivationRef& a, std::mt19937_64& rng) override {
        const int32_t n = slots_.size();
        if (n == 0) return std::nullopt;
        const uint64_t h = Fnv1a(a.fqn);
        auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                                   [](const Point& p, uint64_t x) { return p.hash < x; });
        // At least one activation's worth, as the paper's ceil(c x (m + 1) / n) is one ball.
        const double bound = std::max(kBalance * static_cast<double>(total_ + a.memory_mb) / n,
                                      static_cast<double>(a.memory_mb));
        ++epoch_;
        int32_t seen = 0;
        for (size_t k = 0; k < ring_.size() && seen < n; ++k, ++it) {
            if (it == ring_.end()) it = ring_.begin();
            const int32_t i = it->invoker;
            if (visited_[static_cast<size_t>(i)] == epoch_) continue;
            visited_[static_cast<size_t>(i)] = epoch_;
            ++seen;
            const int64_t in_use = slots_.Capacity() - slots_.Free(i);
            if (slots_.Free(i) >= a.memory_mb &&
                static_cast<double>(in_use + a.memory_mb) <= bound) {
                slots_.Acquire(i, a.memory_mb);
                total_ += a.memory_mb;
                return Placement{i, false};
            }
        }
        const auto i = static_cast<int32_t>(UniformBelow(rng, static_cast<uint64_t>(n)));
        const bool forced = slots_.Free(i) < a.memory_mb;
        slots_.Acquire(i, a.memory_mb);
        total_ += a.memory_mb;
        return Placement{i, forced};
    }
    void Release(int32_t invoker, int64_t mb) override {
        slots_.Release(invoker, mb);
        total_ = std::max<int64_t>(0, total_ - mb);
    }

  private:
    struct Point {
        uint64_t hash;
        int32_t invoker;
    };
    static uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }
    static uint64_t Fnv1a(std::string_view s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (const char c : s) {
            h ^= static_cast<unsigned char>(c);
            h *= 0x100000001b3ULL;
        }
        return Mix(h);
    }
    Slots slots_;
    std::vector<Point> ring_;
    std::vector<uint64_t> visited_;
    uint64_t epoch_ = 0;
    int64_t total_ = 0;
};

}  // namespace

const std::vector<std::string>& PolicyNames() {
    static const std::vector<std::string> names = {"hash-sharding", "random", "least-loaded",
                                                   "power-of-two", "bounded-hash"};
    return names;
}

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakePolicy(std::string_view name, int32_t invokers,
                                                            int64_t capacity_mb) {
    if (invokers < 1) return absl::InvalidArgumentError("--invokers must be at least 1");
    if (name == "hash-sharding") return MakeShardingPolicy(invokers, capacity_mb);
    if (name == "random") return std::make_unique<RandomPolicy>(invokers, capacity_mb);
    if (name == "least-loaded") return std::make_unique<LeastLoadedPolicy>(invokers, capacity_mb);
    if (name == "power-of-two") return std::make_unique<PowerOfTwoPolicy>(invokers, capacity_mb);
    if (name == "bounded-hash") return std::make_unique<BoundedHashPolicy>(invokers, capacity_mb);
    return absl::InvalidArgumentError(
        fmt::format("unknown policy '{}'; use one of: hash-sharding, random, least-loaded, "
                    "power-of-two, bounded-hash (or all)",
                    name));
}

}  // namespace wisp::sim
