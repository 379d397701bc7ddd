#include <wisp/loadbalancer/sharding_placement.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>

namespace wisp::loadbalancer {

namespace {

/// Decodes one UTF-8 sequence at s[i]; advances i. Invalid or truncated sequences yield
/// U+FFFD and consume one byte (Java's decoder does the same for a malformed byte).
uint32_t NextCodePoint(std::string_view s, size_t& i) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](size_t k) -> int {
        if (i + k >= s.size()) return -1;
        const auto b = static_cast<unsigned char>(s[i + k]);
        return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
    };
    if (b0 < 0x80) {
        i += 1;
        return b0;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        const int c1 = cont(1);
        if (c1 >= 0) {
            i += 2;
            return ((b0 & 0x1Fu) << 6) | static_cast<uint32_t>(c1);
        }
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        const int c1 = cont(1);
        const int c2 = cont(2);
        if (c1 >= 0 && c2 >= 0) {
            const uint32_t cp =
                ((b0 & 0x0Fu) << 12) | (static_cast<uint32_t>(c1) << 6) | static_cast<uint32_t>(c2);
            if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) {
                i += 3;
                return cp;
            }
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        const int c1 = cont(1);
        const int c2 = cont(2);
        const int c3 = cont(3);
        if (c1 >= 0 && c2 >= 0 && c3 >= 0) {
            const uint32_t cp = ((b0 & 0x07u) << 18) | (static_cast<uint32_t>(c1) << 12) |
                                (static_cast<uint32_t>(c2) << 6) | static_cast<uint32_t>(c3);
            if (cp >= 0x10000 && cp <= 0x10FFFF) {
                i += 4;
                return cp;
            }
        }
    }
    i += 1;
    return 0xFFFD;
}

}  // namespace

int32_t JavaStringHash(std::string_view s) {
    uint32_t h = 0;  // unsigned: the wrap-around of Java's int arithmetic, without UB
    size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            h = 31 * h + b;
            ++i;
            continue;
        }
        const uint32_t cp = NextCodePoint(s, i);
        if (cp <= 0xFFFF) {
            h = 31 * h + cp;
        } else {
            const uint32_t v = cp - 0x10000;
            h = 31 * h + (0xD800 + (v >> 10));
            h = 31 * h + (0xDC00 + (v & 0x3FF));
        }
    }
    return static_cast<int32_t>(h);
}

uint32_t ShardingHash(std::string_view namespace_name, std::string_view fqn) {
    const int32_t x = JavaStringHash(namespace_name) ^ JavaStringHash(fqn);
    const auto u = static_cast<uint32_t>(x);
    return x < 0 ? 0u - u : u;
}

std::vector<int32_t> PairwiseCoprimeNumbersUntil(int32_t n) {
    std::vector<int32_t> out;
    for (int32_t cur = 1; cur <= n; ++cur) {
        if (std::gcd(cur, n) != 1) continue;
        const bool coprime_with_all =
            std::all_of(out.begin(), out.end(), [&](int32_t p) { return std::gcd(p, cur) == 1; });
        if (coprime_with_all) out.push_back(cur);
    }
    return out;
}

ShardingPlacement::ShardingPlacement(std::vector<int64_t> slot_capacity_mb) {
    invokers_.reserve(slot_capacity_mb.size());
    for (int64_t mb : slot_capacity_mb) invokers_.push_back(Invoker{mb, 0, true, {}});
    UpdateSubsets();
}

void ShardingPlacement::AddInvoker(int64_t slot_capacity_mb, bool healthy) {
    invokers_.push_back(Invoker{slot_capacity_mb, 0, healthy, {}});
    UpdateSubsets();
}

void ShardingPlacement::UpdateSubsets() {
    const auto n = static_cast<double>(invokers_.size());
    if (invokers_.empty()) {
        managed_count_ = blackbox_count_ = 0;
        managed_steps_.clear();
        blackbox_steps_.clear();
        return;
    }
    // The same double arithmetic as OpenWhisk (blackboxFraction 0.1), so rounding matches.
    constexpr double kBlackboxFraction = 0.1;
    managed_count_ = std::max(1, static_cast<int32_t>(std::ceil(n * (1 - kBlackboxFraction))));
    blackbox_count_ = std::max(1, static_cast<int32_t>(std::floor(n * kBlackboxFraction)));
    managed_steps_ = PairwiseCoprimeNumbersUntil(managed_count_);
    blackbox_steps_ = PairwiseCoprimeNumbersUntil(blackbox_count_);
}

void ShardingPlacement::SetHealthy(int32_t invoker, bool healthy) {
    if (Valid(invoker)) invokers_[invoker].healthy = healthy;
}

bool ShardingPlacement::Healthy(int32_t invoker) const {
    return Valid(invoker) && invokers_[invoker].healthy;
}

void ShardingPlacement::SetCapacity(int32_t invoker, int64_t mb) {
    if (Valid(invoker)) invokers_[invoker].capacity_mb = mb;
}

std::vector<int32_t> ShardingPlacement::ProbeOrder(uint32_t hash, bool blackbox) const {
    const int32_t m = blackbox ? blackbox_count_ : managed_count_;
    if (m == 0) return {};
    const int32_t offset = blackbox ? size() - blackbox_count_ : 0;
    const auto& steps = blackbox ? blackbox_steps_ : managed_steps_;
    const auto step = static_cast<uint32_t>(steps[hash % steps.size()]);
    std::vector<int32_t> order;
    order.reserve(m);
    uint32_t index = hash % static_cast<uint32_t>(m);
    for (int32_t k = 0; k < m; ++k) {
        order.push_back(offset + static_cast<int32_t>(index));
        index = (index + step) % static_cast<uint32_t>(m);
    }
    return order;
}

bool ShardingPlacement::TryAcquire(Invoker& inv, std::string_view action, int32_t c,
                                   int64_t memory_mb, bool force) {
    if (c <= 1) {
        if (!force && inv.capacity_mb - inv.in_use_mb < memory_mb) return false;
        inv.in_use_mb += memory_mb;
        return true;
    }
    const auto key = std::make_tuple(action, c, memory_mb);
    auto it = inv.concurrent.find(key);
    if (it != inv.concurrent.end() && it->second.free_permits > 0) {
        --it->second.free_permits;  // a permit of a container already reserved: no memory
        ++it->second.in_flight;
        return true;
    }
    if (!force && inv.capacity_mb - inv.in_use_mb < memory_mb) return false;
    inv.in_use_mb += memory_mb;  // one more container: c permits, this activation uses one
    if (it == inv.concurrent.end()) {
        it = inv.concurrent.emplace(ConcurrentKey(std::string(action), c, memory_mb), Concurrent{})
                 .first;
    }
    it->second.free_permits += c - 1;
    ++it->second.in_flight;
    return true;
}

std::optional<ShardingPlacement::Choice> ShardingPlacement::Schedule(
    uint32_t hash, std::string_view action, int32_t max_concurrency, int64_t memory_mb,
    bool blackbox, std::mt19937_64& rng) {
    const int32_t m = blackbox ? blackbox_count_ : managed_count_;
    if (m == 0) return std::nullopt;
    const int32_t c = std::max<int32_t>(1, max_concurrency);
    const int32_t offset = blackbox ? size() - blackbox_count_ : 0;
    const auto& steps = blackbox ? blackbox_steps_ : managed_steps_;
    const auto step = static_cast<uint32_t>(steps[hash % steps.size()]);
    // The step is coprime with m: m probes visit every invoker of the subset once (OpenWhisk
    // probes n+1 times; the extra probes revisit invokers already refused).
    uint32_t index = hash % static_cast<uint32_t>(m);
    for (int32_t k = 0; k < m; ++k) {
        Invoker& inv = invokers_[offset + index];
        if (inv.healthy && TryAcquire(inv, action, c, memory_mb, /*force=*/false)) {
            return Choice{offset + static_cast<int32_t>(index), false};
        }
        index = (index + step) % static_cast<uint32_t>(m);
    }
    healthy_scratch_.clear();
    for (int32_t i = offset; i < offset + m; ++i) {
        if (invokers_[i].healthy) healthy_scratch_.push_back(i);
    }
    if (healthy_scratch_.empty()) return std::nullopt;
    std::uniform_int_distribution<size_t> pick(0, healthy_scratch_.size() - 1);
    const int32_t chosen = healthy_scratch_[pick(rng)];
    TryAcquire(invokers_[chosen], action, c, memory_mb, /*force=*/true);
    return Choice{chosen, true};
}

void ShardingPlacement::Release(int32_t invoker, std::string_view action, int32_t max_concurrency,
                                int64_t memory_mb) {
    if (!Valid(invoker)) return;
    Invoker& inv = invokers_[invoker];
    const int32_t c = std::max<int32_t>(1, max_concurrency);
    if (c > 1) {
        auto it = inv.concurrent.find(std::make_tuple(action, c, memory_mb));
        if (it == inv.concurrent.end() || it->second.in_flight <= 0) return;  // holds nothing
        Concurrent& slots = it->second;
        --slots.in_flight;
        // A container's c permits all free: its memory goes back (OpenWhisk's
        // ResizableSemaphore reduces by c whenever the free permits reach a multiple of c).
        const bool container_free = ++slots.free_permits % c == 0;
        if (container_free) slots.free_permits -= c;
        if (slots.in_flight == 0) inv.concurrent.erase(it);
        if (!container_free) return;
    }
    inv.in_use_mb = std::max<int64_t>(0, inv.in_use_mb - memory_mb);
}

int64_t ShardingPlacement::FreePermits(int32_t invoker, std::string_view action) const {
    if (!Valid(invoker)) return 0;
    int64_t n = 0;
    for (const auto& [key, slots] : invokers_[invoker].concurrent) {
        if (std::get<0>(key) == action) n += slots.free_permits;
    }
    return n;
}

int64_t ShardingPlacement::Containers(int32_t invoker, std::string_view action) const {
    if (!Valid(invoker)) return 0;
    int64_t n = 0;
    for (const auto& [key, slots] : invokers_[invoker].concurrent) {
        if (std::get<0>(key) != action) continue;
        n += (slots.in_flight + slots.free_permits) / std::get<1>(key);
    }
    return n;
}

int64_t ShardingPlacement::FreeMb(int32_t invoker) const {
    return Valid(invoker) ? invokers_[invoker].capacity_mb - invokers_[invoker].in_use_mb : 0;
}

int64_t ShardingPlacement::InUseMb(int32_t invoker) const {
    return Valid(invoker) ? invokers_[invoker].in_use_mb : 0;
}

}  // namespace wisp::loadbalancer
