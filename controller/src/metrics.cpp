#include "metrics.hpp"

#include <fmt/format.h>

#include <wisp/common/activation.hpp>

namespace wisp::controller {

namespace {
std::string LabelValue(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}
}  // namespace

void Metrics::CountActivation(const std::string& ns, const std::string& action, int status_code) {
    std::lock_guard lock(mu_);
    ++activations_[{ns, action, status_code}];
}

void Metrics::ObserveInvokeLatency(bool blocking, double seconds) {
    std::lock_guard lock(mu_);
    auto& h = latency_[blocking ? 1 : 0];
    for (size_t i = 0; i < kBuckets.size(); ++i) {
        if (seconds <= kBuckets[i]) ++h.buckets[i];
    }
    ++h.count;
    h.sum += seconds;
}

void Metrics::CountThrottled(const std::string& reason) {
    std::lock_guard lock(mu_);
    ++throttled_[reason];
}

void Metrics::CountResponse(int http_status) {
    std::lock_guard lock(mu_);
    ++responses_[http_status];
}

std::string Metrics::Render(int64_t in_flight) const {
    std::string out;
    std::lock_guard lock(mu_);
    out += "# HELP wisp_activations_total Activations answered, by action and outcome.\n";
    out += "# TYPE wisp_activations_total counter\n";
    for (const auto& [key, n] : activations_) {
        const auto& [ns, action, status] = key;
        out += fmt::format(
            "wisp_activations_total{{namespace=\"{}\",action=\"{}\",status=\"{}\"}} {}\n",
            LabelValue(ns), LabelValue(action),
            common::ActivationStatusName(static_cast<common::ActivationStatus>(status)), n);
    }
    out += "# HELP wisp_invoke_latency_seconds Controller receipt of an invoke to its answer.\n";
    out += "# TYPE wisp_invoke_latency_seconds histogram\n";
    for (int b = 0; b < 2; ++b) {
        const auto& h = latency_[b];
        const char* blocking = b ? "true" : "false";
        for (size_t i = 0; i < kBuckets.size(); ++i) {
            out +=
                fmt::format("wisp_invoke_latency_seconds_bucket{{blocking=\"{}\",le=\"{}\"}} {}\n",
                            blocking, kBuckets[i], h.buckets[i]);
        }
        out += fmt::format("wisp_invoke_latency_seconds_bucket{{blocking=\"{}\",le=\"+Inf\"}} {}\n",
                           blocking, h.count);
        out +=
            fmt::format("wisp_invoke_latency_seconds_sum{{blocking=\"{}\"}} {}\n", blocking, h.sum);
        out += fmt::format("wisp_invoke_latency_seconds_count{{blocking=\"{}\"}} {}\n", blocking,
                           h.count);
    }
    out += "# HELP wisp_activations_in_flight Activations published and not yet completed.\n";
    out += "# TYPE wisp_activations_in_flight gauge\n";
    out += fmt::format("wisp_activations_in_flight {}\n", in_flight);
    out += "# HELP wisp_throttled_requests_total Requests refused with 429, by throttle.\n";
    out += "# TYPE wisp_throttled_requests_total counter\n";
    for (const char* reason : {"rate", "concurrency", "fires"}) {
        auto it = throttled_.find(reason);
        out += fmt::format("wisp_throttled_requests_total{{reason=\"{}\"}} {}\n", reason,
                           it == throttled_.end() ? 0 : it->second);
    }
    out += "# HELP wisp_http_requests_total HTTP responses, by status code.\n";
    out += "# TYPE wisp_http_requests_total counter\n";
    for (const auto& [code, n] : responses_) {
        out += fmt::format("wisp_http_requests_total{{code=\"{}\"}} {}\n", code, n);
    }
    return out;
}

}  // namespace wisp::controller
