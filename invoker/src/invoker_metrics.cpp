#include <wisp/invoker/invoker_metrics.hpp>

#include <charconv>

#include <wisp/common/json.hpp>
#include <wisp/invoker/activation_runner.hpp>

namespace wisp::invoker {

namespace {

constexpr std::string_view kSourceNames[InvokerMetrics::kSources] = {"cold", "prewarm", "warm"};

size_t SourceIndex(ContainerLease::Source s) {
    switch (s) {
        case ContainerLease::Source::kCold:
            return 0;
        case ContainerLease::Source::kPrewarm:
            return 1;
        case ContainerLease::Source::kWarm:
            return 2;
    }
    return 0;
}

/// A numeric annotation in milliseconds, if present.
std::optional<int64_t> AnnotationMs(const common::ActivationRecord& rec, std::string_view key) {
    const common::JsonValue* v = rec.annotations.Get(key);
    if (v == nullptr) return std::nullopt;
    const std::string& t = v->text();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
    return n;
}

}  // namespace

InvokerMetrics::InvokerMetrics(const common::RuntimeManifest& manifest) {
    for (const auto& k : manifest.kinds()) kinds_.push_back(k.kind);
    kinds_.emplace_back(common::kBlackboxKind);
    kinds_.emplace_back("other");
    for (const auto& k : kinds_) quoted_.push_back(common::JsonValue::String(k).text());
    const size_t n = kinds_.size() * kSources;
    starts_.reset(new std::atomic<uint64_t>[n]);
    for (size_t i = 0; i < n; ++i) starts_[i].store(0, std::memory_order_relaxed);
}

size_t InvokerMetrics::KindIndex(std::string_view quoted_kind) const {
    for (size_t i = 0; i + 1 < quoted_.size(); ++i) {
        if (quoted_[i] == quoted_kind) return i;
    }
    return quoted_.size() - 1;
}

void InvokerMetrics::CountActivation(common::ActivationStatus status) {
    const auto i = static_cast<size_t>(status);
    if (i < activations_.size()) activations_[i].fetch_add(1, std::memory_order_relaxed);
}

void InvokerMetrics::ObserveRun(const ActivationOutcome& outcome) {
    const auto& rec = outcome.record;
    const common::JsonValue* kind = rec.annotations.Get("kind");
    const size_t k = KindIndex(kind == nullptr ? std::string_view() : kind->text());
    starts_[k * kSources + SourceIndex(outcome.source)].fetch_add(1, std::memory_order_relaxed);
    if (auto init = AnnotationMs(rec, "initTime")) init_.Observe(*init / 1000.0);
    if (auto wait = AnnotationMs(rec, "waitTime")) wait_.Observe(*wait / 1000.0);
    if (auto duration = rec.duration()) run_.Observe(static_cast<double>(*duration) / 1000.0);
}

void InvokerMetrics::Write(common::PrometheusWriter& w, const InvokerGauges& g) const {
    using common::ActivationStatus;
    w.Family("wisp_invoker_activations_total", "counter",
             "Activations this invoker processed, by outcome.");
    for (auto s : {ActivationStatus::kSuccess, ActivationStatus::kApplicationError,
                   ActivationStatus::kDeveloperError, ActivationStatus::kWhiskError}) {
        w.Sample("wisp_invoker_activations_total", {{"status", common::ActivationStatusLabel(s)}},
                 activations_[static_cast<size_t>(s)].load(std::memory_order_relaxed));
    }

    w.Family("wisp_invoker_container_starts_total", "counter",
             "Containers taken for a run, by kind and start: cold (created for it), prewarm (a "
             "stem cell) or warm (reused).");
    for (size_t k = 0; k < kinds_.size(); ++k) {
        for (size_t s = 0; s < kSources; ++s) {
            const uint64_t n = starts_[k * kSources + s].load(std::memory_order_relaxed);
            // Every manifest kind is listed (zeros included) so that the series exist from the
            // start; "other" only once it happened.
            if (n == 0 && k + 1 == kinds_.size()) continue;
            w.Sample("wisp_invoker_container_starts_total",
                     {{"kind", kinds_[k]}, {"start", kSourceNames[s]}}, n);
        }
    }

    w.Family("wisp_invoker_init_seconds", "histogram",
             "Time of /init in a new container (initTime), cold and prewarm starts only.");
    w.Histogram("wisp_invoker_init_seconds", {}, init_.Read());
    w.Family("wisp_invoker_wait_seconds", "histogram",
             "Time from the controller's receipt to the start of the run (waitTime).");
    w.Histogram("wisp_invoker_wait_seconds", {}, wait_.Read());
    w.Family("wisp_invoker_run_seconds", "histogram",
             "Duration of the activation (the record's duration: /run, plus /init when cold).");
    w.Histogram("wisp_invoker_run_seconds", {}, run_.Read());

    const auto& p = g.pool;
    w.Family("wisp_invoker_containers", "gauge", "Containers in the pool, by state.");
    w.Sample("wisp_invoker_containers", {{"state", "starting"}}, p.starting);
    w.Sample("wisp_invoker_containers", {{"state", "prewarm"}}, p.prewarm);
    w.Sample("wisp_invoker_containers", {{"state", "idle"}}, p.idle - p.paused);
    w.Sample("wisp_invoker_containers", {{"state", "paused"}}, p.paused);
    w.Sample("wisp_invoker_containers", {{"state", "busy"}}, p.busy);

    w.Family("wisp_invoker_pool_memory_used_bytes", "gauge",
             "Memory the pool's containers take (their limits).");
    w.Sample("wisp_invoker_pool_memory_used_bytes", {}, p.used_mb * 1024 * 1024);
    w.Family("wisp_invoker_pool_memory_budget_bytes", "gauge",
             "Memory the pool may give its containers (--user-memory).");
    w.Sample("wisp_invoker_pool_memory_budget_bytes", {}, g.budget_mb * 1024 * 1024);

    w.Family("wisp_invoker_container_removals_total", "counter",
             "Containers removed: evicted for memory, idle too long, or after an error.");
    w.Sample("wisp_invoker_container_removals_total", {{"reason", "evicted"}}, p.evictions);
    w.Sample("wisp_invoker_container_removals_total", {{"reason", "idle"}}, p.removed_idle);
    w.Sample("wisp_invoker_container_removals_total", {{"reason", "error"}},
             p.destroyed_after_error);

    w.Family("wisp_invoker_activations_in_flight", "gauge",
             "Activations taken by this invoker, queued or running.");
    w.Sample("wisp_invoker_activations_in_flight", {}, g.in_flight);

    w.Family("wisp_invoker_record_writes_retried_total", "counter",
             "Activation records stored only after the store refused them at least once.");
    w.Sample("wisp_invoker_record_writes_retried_total", {}, g.records_retried);
    w.Family("wisp_invoker_record_writes_lost_total", "counter",
             "Activation records never stored (retry queue full, or still queued at shutdown).");
    w.Sample("wisp_invoker_record_writes_lost_total", {}, g.records_lost);
    w.Family("wisp_invoker_record_writes_queued", "gauge",
             "Activation records waiting to be retried.");
    w.Sample("wisp_invoker_record_writes_queued", {}, g.records_queued);

    if (g.consumer_lag) {
        w.Family("wisp_invoker_consumer_lag", "gauge",
                 "Messages on this invoker's topic not yet taken (high watermark minus "
                 "position).");
        w.Sample("wisp_invoker_consumer_lag", {}, *g.consumer_lag);
    }
}

}  // namespace wisp::invoker
