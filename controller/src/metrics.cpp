#include "metrics.hpp"

#include <wisp/common/strings.hpp>

namespace wisp::controller {

void Metrics::CountActivation(const std::string& ns, const std::string& action,
                              common::ActivationStatus status) {
    std::lock_guard lock(mu_);
    ++activations_[{ns, action, static_cast<int>(status)}];
}

void Metrics::ObserveInvokeLatency(bool blocking, double seconds) {
    latency_[blocking ? 1 : 0].Observe(seconds);
}

void Metrics::CountThrottled(const std::string& reason) {
    std::lock_guard lock(mu_);
    ++throttled_[reason];
}

void Metrics::CountResponse(int http_status) {
    std::lock_guard lock(mu_);
    ++responses_[http_status];
}

void Metrics::Write(common::PrometheusWriter& w, int64_t in_flight) const {
    std::lock_guard lock(mu_);
    w.Family("wisp_activations_total", "counter",
             "Activations completed (blocking or not), by action and outcome.");
    for (const auto& [key, n] : activations_) {
        const auto& [ns, action, status] = key;
        w.Sample("wisp_activations_total",
                 {{"namespace", ns},
                  {"action", action},
                  {"status",
                   common::ActivationStatusLabel(static_cast<common::ActivationStatus>(status))}},
                 n);
    }
    w.Family("wisp_invoke_latency_seconds", "histogram",
             "Controller receipt of an invoke to its answer.");
    w.Histogram("wisp_invoke_latency_seconds", {{"blocking", "false"}}, latency_[0].Read());
    w.Histogram("wisp_invoke_latency_seconds", {{"blocking", "true"}}, latency_[1].Read());
    w.Family("wisp_activations_in_flight", "gauge", "Activations published and not yet completed.");
    w.Sample("wisp_activations_in_flight", {}, in_flight);
    w.Family("wisp_throttled_requests_total", "counter", "Requests refused with 429, by throttle.");
    for (const char* reason : {"rate", "concurrency", "fires"}) {
        auto it = throttled_.find(reason);
        w.Sample("wisp_throttled_requests_total", {{"reason", reason}},
                 it == throttled_.end() ? uint64_t{0} : it->second);
    }
    w.Family("wisp_http_requests_total", "counter", "HTTP responses, by status code.");
    for (const auto& [code, n] : responses_) {
        w.Sample("wisp_http_requests_total", {{"code", std::to_string(code)}}, n);
    }
}

void Metrics::WriteBalancer(common::PrometheusWriter& w, const loadbalancer::LoadBalancer& lb) {
    static constexpr std::string_view kStates[] = {"up", "unhealthy", "unresponsive", "down"};
    const auto invokers = lb.InvokerHealth();
    w.Family("wisp_loadbalancer_invokers", "gauge",
             "Invokers known to this controller, by health state (up, unhealthy, unresponsive, "
             "down).");
    for (auto state : kStates) {
        int64_t n = 0;
        for (const auto& i : invokers) n += i.status == state ? 1 : 0;
        w.Sample("wisp_loadbalancer_invokers", {{"state", state}}, n);
    }
    w.Family("wisp_loadbalancer_invoker_state", "gauge",
             "1 for the health state each invoker is in, 0 for the others.");
    for (const auto& i : invokers) {
        for (auto state : kStates) {
            w.Sample("wisp_loadbalancer_invoker_state", {{"invoker", i.name}, {"state", state}},
                     int64_t{i.status == state ? 1 : 0});
        }
    }
    if (auto capacity = lb.Capacity()) {
        w.Family("wisp_loadbalancer_capacity_bytes", "gauge",
                 "Memory of the usable invokers' slots this controller places activations in.");
        w.Sample("wisp_loadbalancer_capacity_bytes", {}, capacity->total_mb * 1024 * 1024);
        w.Family("wisp_loadbalancer_memory_in_flight_bytes", "gauge",
                 "Of that memory, what activations in flight take.");
        w.Sample("wisp_loadbalancer_memory_in_flight_bytes", {}, capacity->in_use_mb * 1024 * 1024);
    }
}

std::string Metrics::Render(int64_t in_flight) const {
    common::PrometheusWriter w;
    Write(w, in_flight);
    return w.Take();
}

}  // namespace wisp::controller
