#pragma once
// ZipfSampler: ranks 0..n-1 with P(rank k) proportional to 1 / (k+1)^s, drawn by inverse CDF
// (a precomputed table of n doubles and a binary search: 8 MB and ~20 steps for n = 1M).
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace wisp::sim {

class ZipfSampler {
  public:
    /// n >= 1 ranks, exponent s >= 0 (s = 0 is uniform).
    ZipfSampler(int64_t n, double s);

    int64_t size() const { return static_cast<int64_t>(cdf_.size()); }
    double exponent() const { return s_; }

    /// A rank in [0, n): rank 0 is the most frequent.
    int64_t Sample(std::mt19937_64& rng) const;

    /// P(rank).
    double Probability(int64_t rank) const;

    /// Share of all draws taken by the ranks below `count` (the most popular `count`).
    double TopShare(int64_t count) const;

  private:
    double s_;
    std::vector<double> cdf_;  // cdf_[k] = P(rank <= k); cdf_.back() == 1
};

}  // namespace wisp::sim
