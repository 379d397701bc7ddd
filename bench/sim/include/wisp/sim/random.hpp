#pragma once
// Deterministic draws for the simulator: the same seed gives the same run on every platform
// (the standard distributions are implementation-defined; these are written out).
#include <cmath>
#include <cstdint>
#include <random>

namespace wisp::sim {

/// Uniform in [0, 1) with 53 random bits.
inline double Uniform01(std::mt19937_64& rng) {
    return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Uniform integer in [0, n) (n > 0), without modulo bias worth mentioning for n << 2^64.
inline uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}

/// Standard normal (Box-Muller, one of the pair).
inline double StandardNormal(std::mt19937_64& rng) {
    const double u1 = 1.0 - Uniform01(rng);  // (0, 1]
    const double u2 = Uniform01(rng);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

/// Exponential with the given mean.
inline double Exponential(std::mt19937_64& rng, double mean) {
    return -std::log(1.0 - Uniform01(rng)) * mean;
}

}  // namespace wisp::sim
