#include <wisp/common/prometheus.hpp>

#include <cmath>

#include <fmt/format.h>

namespace wisp::common {

namespace {

void AppendDouble(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        fmt::format_to(std::back_inserter(out), "{}", v);
    }
}

void AppendEscaped(std::string& out, std::string_view v) {
    for (char c : v) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

}  // namespace

std::string EscapePrometheusLabel(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    AppendEscaped(out, value);
    return out;
}

AtomicHistogram::AtomicHistogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void AtomicHistogram::Observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    double sum = sum_.load(std::memory_order_relaxed);
    while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
    }
    count_.fetch_add(1, std::memory_order_relaxed);
}

HistogramSnapshot AtomicHistogram::Read() const {
    HistogramSnapshot h;
    h.bounds = bounds_;
    h.cumulative.resize(bounds_.size());
    uint64_t running = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        h.cumulative[i] = running;
    }
    running += buckets_[bounds_.size()].load(std::memory_order_relaxed);
    // +Inf must be >= every bucket: the count is the total of the buckets read.
    h.count = running;
    h.sum = sum_.load(std::memory_order_relaxed);
    return h;
}

void PrometheusWriter::Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
}

void PrometheusWriter::Labels(std::initializer_list<PrometheusLabel> labels,
                              std::string_view extra_name, std::string_view extra_value) {
    if (labels.size() == 0 && extra_name.empty()) return;
    out_ += '{';
    bool first = true;
    auto one = [&](std::string_view name, std::string_view value) {
        if (!first) out_ += ',';
        first = false;
        out_.append(name);
        out_ += "=\"";
        AppendEscaped(out_, value);
        out_ += '"';
    };
    for (const auto& [name, value] : labels) one(name, value);
    if (!extra_name.empty()) one(extra_name, extra_value);
    out_ += '}';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels,
                              double value) {
    out_.append(name);
    Labels(labels);
    out_ += ' ';
    AppendDouble(out_, value);
    out_ += '\n';
}

void PrometheusWriter::Sample(std::string_view name, std::initializer_list<PrometheusLabel> labels,
                              int64_t value) {
    out_.append(name);
    Labels(labels);
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
}

void PrometheusWriter::Histogram(std::string_view name,
                                 std::initializer_list<PrometheusLabel> labels,
                                 const HistogramSnapshot& h) {
    std::string le;
    for (size_t i = 0; i < h.bounds.size() && i < h.cumulative.size(); ++i) {
        le.clear();
        AppendDouble(le, h.bounds[i]);
        out_.append(name);
        out_ += "_bucket";
        Labels(labels, "le", le);
        fmt::format_to(std::back_inserter(out_), " {}\n", h.cumulative[i]);
    }
    out_.append(name);
    out_ += "_bucket";
    Labels(labels, "le", "+Inf");
    fmt::format_to(std::back_inserter(out_), " {}\n", h.count);
    out_.append(name);
    out_ += "_sum";
    Labels(labels);
    out_ += ' ';
    AppendDouble(out_, h.sum);
    out_ += '\n';
    out_.append(name);
    out_ += "_count";
    Labels(labels);
    fmt::format_to(std::back_inserter(out_), " {}\n", h.count);
}

}  // namespace wisp::common
