#pragma once
// InvokerMetrics: the invoker's Prometheus metrics (wisp-invoker --metrics-listen, and the
// standalone's /metrics). deploy/grafana/README.md lists every name with its OpenWhisk
// equivalent: that table is the list the tests check (grafana_dashboard_test,
// metrics_cluster_test).
//
//   wisp_invoker_activations_total{status}            counter   activations processed
//   wisp_invoker_container_starts_total{kind,start}   counter   container per run: cold, prewarm,
//                                                               warm
//   wisp_invoker_init_seconds / _wait_seconds / _run_seconds   histograms (initTime, waitTime,
//                                                               duration of the run)
//   wisp_invoker_containers{state}                    gauge     starting, prewarm, idle, paused,
//                                                               busy
//   wisp_invoker_pool_memory_{used,budget}_bytes      gauge
//   wisp_invoker_container_removals_total{reason}     counter   evicted, idle, error
//   wisp_invoker_activations_in_flight                gauge     queued or running
//   wisp_invoker_record_writes_{retried,lost}_total    counter   records stored late / lost
//   wisp_invoker_record_writes_queued                 gauge     records waiting for the store
//   wisp_invoker_consumer_lag                         gauge     records on the invoker topic not
//                                                               yet taken (bus backends that know)
//
// The activation path only touches atomics (no lock, no formatting): the kind label is an index
// into the manifest's kinds, fixed at construction.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <wisp/common/activation.hpp>
#include <wisp/common/exec.hpp>
#include <wisp/common/prometheus.hpp>
#include <wisp/invoker/container_pool.hpp>

namespace wisp::invoker {

struct ActivationOutcome;

/// What the gauges read at scrape time (the caller fills it from the pool, the record writer and
/// the bus).
struct InvokerGauges {
    ContainerPoolStats pool;
    int64_t budget_mb = 0;
    int64_t in_flight = 0;
    int64_t records_queued = 0;
    int64_t records_retried = 0;  // stored after at least one failed attempt
    int64_t records_lost = 0;
    std::optional<int64_t> consumer_lag;  // unknown: the series is left out
};

class InvokerMetrics {
  public:
    /// Histogram bounds in seconds (OpenWhisk's default buckets plus 30 s and 60 s for slow
    /// cold starts and long runs).
    static constexpr double kSecondsBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                 1,     2.5,  5,     10,   30,  60};

    explicit InvokerMetrics(const common::RuntimeManifest& manifest);
    InvokerMetrics(const InvokerMetrics&) = delete;
    InvokerMetrics& operator=(const InvokerMetrics&) = delete;

    /// One activation finished (every path: run, not found, already recorded). Lock-free.
    void CountActivation(common::ActivationStatus status);
    /// One run that was placed in a container: the start by kind and source, and the record's
    /// initTime, waitTime and duration. Lock-free, no allocation.
    void ObserveRun(const ActivationOutcome& outcome);

    /// Every invoker family into `w`.
    void Write(common::PrometheusWriter& w, const InvokerGauges& gauges) const;

    static constexpr size_t kSources = 3;  // cold, prewarm, warm

  private:
    size_t KindIndex(std::string_view quoted_kind) const;

    // kinds_[i] is the label; quoted_[i] its JSON string form (as in the record's annotation).
    // The last entry is "other" (a kind the manifest does not name, e.g. after an update).
    std::vector<std::string> kinds_;
    std::vector<std::string> quoted_;
    std::unique_ptr<std::atomic<uint64_t>[]> starts_;  // kinds_.size() x kSources
    std::array<std::atomic<uint64_t>, 4> activations_{};
    common::AtomicHistogram init_{kSecondsBuckets};
    common::AtomicHistogram wait_{kSecondsBuckets};
    common::AtomicHistogram run_{kSecondsBuckets};
};

}  // namespace wisp::invoker
