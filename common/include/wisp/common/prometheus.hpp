#pragma once
// Prometheus text exposition format 0.0.4, shared by every component's GET /metrics (the
// controller, wisp-invoker's --metrics-listen, wisp-standalone): one writer for the text and
// one lock-free histogram, so the format is written in exactly one place.
//
//   PrometheusWriter w;
//   w.Family("wisp_x_total", "counter", "What it counts.");
//   w.Sample("wisp_x_total", {{"status", "success"}}, 3);
//   w.Histogram("wisp_y_seconds", {}, histogram.Read());
//   std::string body = w.Take();  // Content-Type: text/plain; version=0.0.4
//
// Label values are escaped (backslash, double quote, newline); names are the caller's
// constants and are not checked.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wisp::common {

/// The Content-Type of the text format.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4";

/// `value` escaped for a label value between double quotes.
std::string EscapePrometheusLabel(std::string_view value);

/// One label: name (a constant) and value (escaped when written).
using PrometheusLabel = std::pair<std::string_view, std::string_view>;

/// A histogram's state: cumulative counts per upper bound (the "+Inf" bucket is `count`).
struct HistogramSnapshot {
    std::span<const double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound
    double sum = 0;
    uint64_t count = 0;
};

/// A histogram with fixed bucket bounds. Observe() is lock-free (a few relaxed atomic adds) and
/// may be called from any thread; Read() is consistent enough for scraping (each field is read
/// atomically, not all together).
class AtomicHistogram {
  public:
    /// `bounds`: increasing upper bounds, without +Inf; must outlive the histogram (a constant).
    explicit AtomicHistogram(std::span<const double> bounds);
    AtomicHistogram(const AtomicHistogram&) = delete;
    AtomicHistogram& operator=(const AtomicHistogram&) = delete;

    void Observe(double value);
    HistogramSnapshot Read() const;

  private:
    std::span<const double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bound, non-cumulative; + overflow
    std::atomic<uint64_t> count_{0};
    std::atomic<double> sum_{0};
};

/// OpenWhisk's (the Prometheus Java client's) default buckets, in seconds: 5 ms .. 10 s.
inline constexpr double kDefaultSecondsBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                    0.5,   1,    2.5,   5,    10};

class PrometheusWriter {
  public:
    /// "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram).
    void Family(std::string_view name, std::string_view type, std::string_view help);
    /// One sample line.
    void Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels, double value);
    void Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels,
                int64_t value);
    void Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels,
                uint64_t value) {
        Sample(name, labels, static_cast<int64_t>(value));
    }
    void Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels, int value) {
        Sample(name, labels, static_cast<int64_t>(value));
    }
    /// The _bucket (with le, +Inf last), _sum and _count lines of one histogram series.
    void Histogram(std::string_view name, std::initializer_list<PrometheusLabel> labels,
                   const HistogramSnapshot& h);
    /// Appends text already in the format (another component's exposition).
    void Append(std::string_view text) { out_.append(text); }

    const std::string& text() const { return out_; }
    std::string Take() { return std::move(out_); }

  private:
    void Labels(std::initializer_list<PrometheusLabel> labels, std::string_view extra_name = {},
                std::string_view extra_value = {});
    std::string out_;
};

}  // namespace wisp::common
