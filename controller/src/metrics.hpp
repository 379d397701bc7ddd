#pragma once
// The controller's Prometheus metrics (GET /metrics, text exposition format 0.0.4).
//
//   wisp_activations_total{namespace,action,status}   counter  activations answered, by
//                                                             outcome (success, application
//                                                             error, developer error, whisk error)
//   wisp_invoke_latency_seconds{blocking}              histogram controller receipt -> answer
//   wisp_activations_in_flight                         gauge    published, not yet completed
//   wisp_throttled_requests_total{reason}              counter  429s (rate, concurrency, fires)
//   wisp_http_requests_total{code}                     counter  responses by status code
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace wisp::controller {

class Metrics {
  public:
    void CountActivation(const std::string& ns, const std::string& action, int status_code);
    void ObserveInvokeLatency(bool blocking, double seconds);
    void CountThrottled(const std::string& reason);
    void CountResponse(int http_status);
    /// The exposition text; `in_flight` is read when rendering.
    std::string Render(int64_t in_flight) const;

    static constexpr std::array<double, 14> kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};

  private:
    struct Histogram {
        std::array<uint64_t, kBuckets.size()> buckets{};
        uint64_t count = 0;
        double sum = 0;
    };
    mutable std::mutex mu_;
    std::map<std::tuple<std::string, std::string, int>, uint64_t> activations_;
    std::map<std::string, uint64_t> throttled_;
    std::map<int, uint64_t> responses_;
    Histogram latency_[2];  // non-blocking, blocking
};

}  // namespace wisp::controller
