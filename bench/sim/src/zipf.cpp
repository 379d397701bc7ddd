#include <wisp/sim/zipf.hpp>

#include <algorithm>
#include <cmath>

#include <wisp/sim/random.hpp>

namespace wisp::sim {

ZipfSampler::ZipfSampler(int64_t n, double s) : s_(s) {
    n = std::max<int64_t>(1, n);
    cdf_.resize(static_cast<size_t>(n));
    double total = 0;
    for (int64_t k = 0; k < n; ++k) {
        total += std::pow(static_cast<double>(k + 1), -s);
        cdf_[static_cast<size_t>(k)] = total;
    }
    for (double& c : cdf_) c /= total;
    cdf_.back() = 1.0;
}

int64_t ZipfSampler::Sample(std::mt19937_64& rng) const {
    const double u = Uniform01(rng);
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min<int64_t>(it - cdf_.begin(), size() - 1);
}

double ZipfSampler::Probability(int64_t rank) const {
    if (rank < 0 || rank >= size()) return 0;
    const auto k = static_cast<size_t>(rank);
    return k == 0 ? cdf_[0] : cdf_[k] - cdf_[k - 1];
}

double ZipfSampler::TopShare(int64_t count) const {
    if (count <= 0) return 0;
    if (count >= size()) return 1;
    return cdf_[static_cast<size_t>(count - 1)];
}

}  // namespace wisp::sim
