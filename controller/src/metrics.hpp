#pragma once
// The controller's Prometheus metrics (GET /metrics, text exposition format 0.0.4, written with
// common/prometheus.hpp). deploy/grafana/README.md lists every name with its OpenWhisk
// equivalent: that table is the list the tests check (grafana_dashboard_test,
// metrics_cluster_test).
//
//   wisp_activations_total{namespace,action,status}   counter  activations completed, by outcome
//                                                             (success, application_error,
//                                                             action_developer_error,
//                                                             whisk_internal_error), counted at
//                                                             the completion ack: blocking or not
//   wisp_invoke_latency_seconds{blocking}              histogram controller receipt -> answer
//   wisp_activations_in_flight                         gauge    published, not yet completed
//   wisp_throttled_requests_total{reason}              counter  429s (rate, concurrency, fires)
//   wisp_http_requests_total{code}                     counter  responses by status code
//   wisp_loadbalancer_invokers{state}                  gauge    invokers by health state
//   wisp_loadbalancer_invoker_state{invoker,state}     gauge    1 for each invoker's state
//   wisp_loadbalancer_capacity_bytes                   gauge    slot memory of usable invokers
//   wisp_loadbalancer_memory_in_flight_bytes           gauge    of it, taken by activations
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <wisp/common/activation.hpp>
#include <wisp/common/prometheus.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>

namespace wisp::controller {

class Metrics {
  public:
    void CountActivation(const std::string& ns, const std::string& action,
                         common::ActivationStatus status);
    void ObserveInvokeLatency(bool blocking, double seconds);
    void CountThrottled(const std::string& reason);
    void CountResponse(int http_status);
    /// The controller's families; `in_flight` is read when rendering.
    void Write(common::PrometheusWriter& w, int64_t in_flight) const;
    /// The load balancer's gauges (in flight, invokers by state, capacity).
    static void WriteBalancer(common::PrometheusWriter& w, const loadbalancer::LoadBalancer& lb);
    /// Write() as text.
    std::string Render(int64_t in_flight) const;

    static constexpr std::array<double, 14> kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};

  private:
    mutable std::mutex mu_;
    std::map<std::tuple<std::string, std::string, int>, uint64_t> activations_;
    std::map<std::string, uint64_t> throttled_;
    std::map<int, uint64_t> responses_;
    common::AtomicHistogram latency_[2] = {common::AtomicHistogram(kBuckets),
                                           common::AtomicHistogram(kBuckets)};  // non-blocking,
                                                                                // blocking
};

}  // namespace wisp::controller
