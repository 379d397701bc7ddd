#include <wisp/invoker/invoker_service.hpp>

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::invoker {

using common::ActivationResponse;
using common::ActivationStatus;

ContainerPoolConfig InvokerConfig::PoolConfig() const {
    ContainerPoolConfig pool;
    pool.invoker_id = invoker_id;
    pool.user_memory_mb = user_memory_mb;
    pool.pause_grace = pause_grace;
    pool.idle_timeout = idle_timeout;
    pool.housekeeping_interval = housekeeping_interval;
    pool.stem_cells = stem_cells;
    pool.remove_orphans = remove_orphans;
    pool.container_env = container_env;
    return pool;
}

wisp::v1::AcknowledgementMessage ToAcknowledgementMessage(
    const AckInfo& ack, const wisp::v1::InvokerInstanceId& instance, size_t max_record_bytes) {
    wisp::v1::AcknowledgementMessage m;
    switch (ack.kind) {
        case AckInfo::Kind::kCombined:
            m.set_kind(wisp::v1::AcknowledgementMessage::COMBINED);
            break;
        case AckInfo::Kind::kResult:
            m.set_kind(wisp::v1::AcknowledgementMessage::RESULT);
            break;
        case AckInfo::Kind::kCompletion:
            m.set_kind(wisp::v1::AcknowledgementMessage::COMPLETION);
            break;
    }
    *m.mutable_transid() = ack.transid;
    m.set_activation_id(ack.activation_id);
    m.set_is_system_error(ack.is_system_error);
    m.set_response_status(static_cast<int32_t>(ack.record.response.status));
    *m.mutable_instance() = instance;
    if (ack.kind != AckInfo::Kind::kCompletion && max_record_bytes > 0) {
        std::string json =
            common::ActivationToJson(ack.record, common::ActivationJsonForm::kStored);
        if (json.size() <= max_record_bytes) m.set_activation_json(std::move(json));
    }
    return m;
}

InvokerService::InvokerService(store::ArtifactStore& store, ContainerFactory& factory,
                               common::RuntimeManifest manifest, common::Clock& clock,
                               InvokerConfig config)
    : store_(store),
      manifest_(std::move(manifest)),
      clock_(clock),
      config_(std::move(config)),
      metrics_(manifest_),
      pool_(factory, manifest_, clock_, config_.PoolConfig()),
      runner_(pool_, manifest_, clock_, config_.runner),
      records_(store_, config_.records),
      started_ms_(clock_.NowMs()) {}

bool InvokerService::MayHaveRecord(const wisp::v1::ActivationMessage& msg) const {
    const int64_t received = msg.transid().start_ms();
    if (received <= 0) return true;  // unknown age
    return received < started_ms_ + config_.recorded_check_skew.count() ||
           clock_.NowMs() - received > config_.recorded_check_age.count();
}

InvokerService::~InvokerService() { Shutdown(); }

absl::Status InvokerService::Start() {
    absl::Status status = pool_.Start();
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopping_) return status;
    started_ = true;
    core_workers_ = config_.worker_threads > 0 ? config_.worker_threads : DefaultWorkerThreads();
    max_workers_ = config_.max_worker_threads;
    if (max_workers_ <= 0) {
        max_workers_ = config_.worker_threads > 0
                           ? core_workers_
                           : static_cast<int>(std::max<int64_t>(core_workers_,
                                                                4 * config_.user_memory_mb / 128));
    }
    max_workers_ = std::max(max_workers_, core_workers_);
    // No thread before there is work: Submit() starts one whenever an activation finds every
    // thread busy; up to core_workers_ stay for good (an idle process keeps none it never used).
    const int start = std::min<int>(max_workers_, static_cast<int>(queue_.size()));
    for (int i = 0; i < start; ++i) SpawnWorkerLocked();
    if (config_.keep_warm_interval.count() > 0) {
        kw_thread_ = std::thread([this] { KeepWarmLoop(); });
    }
    return status;
}

int InvokerService::DefaultWorkerThreads() {
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    return std::max(8, 4 * std::max(1, cores));
}

void InvokerService::SpawnWorkerLocked() {
    ++live_workers_;
    workers_.emplace_back([this] { WorkerLoop(); });
}

void InvokerService::Submit(wisp::v1::ActivationMessage msg, AckCallback on_ack,
                            FinishedCallback on_finished) {
    if (msg.has_keep_warm()) {
        TakeKeepWarmOrder(msg);
        if (on_finished) on_finished();
        return;
    }
    {
        std::unique_lock<std::mutex> lock(mu_);
        if (!stopping_) {
            ++in_flight_;
            queue_.push_back({std::move(msg), std::move(on_ack), std::move(on_finished)});
            // Every thread busy (blocked on its activation): one more, up to the bound.
            std::list<std::thread> ended;
            if (started_ && static_cast<int>(queue_.size()) > idle_workers_ &&
                live_workers_.load() < max_workers_) {
                ended.swap(finished_);
                SpawnWorkerLocked();
            } else {
                cv_.notify_one();
            }
            lock.unlock();
            for (auto& t : ended) t.join();  // threads that already returned
            return;
        }
    }
    auto record = FallbackActivationRecord(
        msg,
        ActivationResponse::Error(ActivationStatus::kWhiskError, "The invoker is shutting down."),
        clock_.NowMs());
    metrics_.CountActivation(record.response.status);
    if (on_ack) {
        on_ack(MakeAck(msg.blocking() ? AckInfo::Kind::kCombined : AckInfo::Kind::kCompletion, msg,
                       record));
    }
    if (on_finished) on_finished();
}

void InvokerService::WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return in_flight_.load() == 0; });
}

void InvokerService::Shutdown() {
    {
        std::lock_guard<std::mutex> lock(kw_mu_);
        kw_stop_ = true;
        kw_cv_.notify_all();
    }
    if (kw_thread_.joinable()) kw_thread_.join();
    std::list<std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        cv_.notify_all();
        threads.swap(workers_);
        threads.splice(threads.end(), finished_);
    }
    for (auto& t : threads) {
        if (t.joinable()) t.join();
    }
    // Activations queued but never picked up (Start() was not called) are answered now.
    std::deque<Task> left;
    {
        std::lock_guard<std::mutex> lock(mu_);
        left.swap(queue_);
    }
    for (auto& task : left) {
        auto record =
            FallbackActivationRecord(task.msg,
                                     ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                               "The invoker is shutting down."),
                                     clock_.NowMs());
        metrics_.CountActivation(record.response.status);
        if (task.on_ack) {
            task.on_ack(
                MakeAck(task.msg.blocking() ? AckInfo::Kind::kCombined : AckInfo::Kind::kCompletion,
                        task.msg, record));
        }
        Store(task.msg, record);
        if (task.on_finished) task.on_finished();
        std::lock_guard<std::mutex> lock(mu_);
        if (--in_flight_ == 0) idle_cv_.notify_all();
    }
    if (const size_t lost = records_.Flush(config_.record_flush_timeout); lost > 0) {
        spdlog::error(
            "invoker shutdown: {} activation record(s) could not be stored (listed "
            "above by id); is the store running?",
            lost);
    }
    pool_.Shutdown();
}

void InvokerService::WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
        ++idle_workers_;
        const bool woken = cv_.wait_for(lock, config_.worker_idle_exit,
                                        [&] { return stopping_ || !queue_.empty(); });
        --idle_workers_;
        if (queue_.empty()) {
            if (stopping_) break;                                       // stopping and drained
            if (!woken && live_workers_.load() > core_workers_) break;  // an extra one, unused
            continue;
        }
        Task task = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        Process(task);
        if (task.on_finished) task.on_finished();
        lock.lock();
        if (--in_flight_ == 0) idle_cv_.notify_all();
    }
    --live_workers_;
    if (stopping_) return;  // Shutdown joins it
    // Ending on its own: hand its std::thread to finished_ (joined by the next spawn or
    // Shutdown).
    const auto self = std::this_thread::get_id();
    for (auto it = workers_.begin(); it != workers_.end(); ++it) {
        if (it->get_id() == self) {
            finished_.splice(finished_.end(), workers_, it);
            break;
        }
    }
}

AckInfo InvokerService::MakeAck(AckInfo::Kind kind, const wisp::v1::ActivationMessage& msg,
                                const common::ActivationRecord& record) {
    AckInfo ack;
    ack.kind = kind;
    ack.transid = msg.transid();
    ack.activation_id = record.activation_id.str();
    ack.blocking = msg.blocking();
    ack.is_system_error = record.response.status == ActivationStatus::kWhiskError;
    ack.record = record;
    return ack;
}

// ---- keep-warm ------------------------------------------------------------------------------

namespace {

std::string KeepWarmKey(const wisp::v1::ActivationMessage& msg) {
    const std::string& path = msg.action().path();
    return msg.user().namespace_name() + "\n" + (path.empty() ? "" : path + "/") +
           msg.action().name();
}

/// How long an order holds when the message names no ttl.
constexpr int64_t kDefaultKeepWarmTtlMs = 120000;
/// The longest wait before a failing order is retried.
constexpr int64_t kMaxKeepWarmBackoffMs = 300000;

}  // namespace

void InvokerService::TakeKeepWarmOrder(const wisp::v1::ActivationMessage& msg) {
    const int64_t ttl =
        msg.keep_warm().ttl_ms() > 0 ? msg.keep_warm().ttl_ms() : kDefaultKeepWarmTtlMs;
    std::lock_guard<std::mutex> lock(kw_mu_);
    KeepWarmOrder& order = keep_warm_[KeepWarmKey(msg)];
    const bool changed =
        order.count != msg.keep_warm().count() || order.msg.revision() != msg.revision();
    order.msg = msg;
    order.count = std::max(0, msg.keep_warm().count());
    order.expires_ms = clock_.NowMs() + ttl;
    if (changed) {
        // A new revision or count is worked on at once, whatever failed before.
        order.failures = 0;
        order.retry_after_ms = 0;
    }
    ++order.generation;
    if (changed) {
        kw_dirty_ = true;
        kw_cv_.notify_all();
    }
}

int InvokerService::keep_warm_orders() const {
    std::lock_guard<std::mutex> lock(kw_mu_);
    return static_cast<int>(keep_warm_.size());
}

void InvokerService::KeepWarmLoop() {
    std::unique_lock<std::mutex> lock(kw_mu_);
    while (!kw_stop_) {
        kw_cv_.wait_for(lock, config_.keep_warm_interval, [&] { return kw_stop_ || kw_dirty_; });
        if (kw_stop_) break;
        lock.unlock();
        ReconcileKeepWarm();
        lock.lock();
    }
}

int InvokerService::ReconcileKeepWarm() {
    std::lock_guard<std::mutex> serial(kw_reconcile_mu_);
    pool_.RemoveDeadKeepWarm();
    std::vector<std::pair<std::string, KeepWarmOrder>> orders;
    {
        std::lock_guard<std::mutex> lock(kw_mu_);
        kw_dirty_ = false;
        orders.assign(keep_warm_.begin(), keep_warm_.end());
    }
    auto forget = [&](const std::string& key, uint64_t generation) {
        std::lock_guard<std::mutex> lock(kw_mu_);
        auto it = keep_warm_.find(key);
        if (it != keep_warm_.end() && it->second.generation == generation) keep_warm_.erase(it);
    };
    auto back_off = [&](const std::string& key, uint64_t generation) {
        std::lock_guard<std::mutex> lock(kw_mu_);
        auto it = keep_warm_.find(key);
        if (it == keep_warm_.end() || it->second.generation != generation) return;
        KeepWarmOrder& o = it->second;
        ++o.failures;
        const int64_t base = std::max<int64_t>(1000, config_.keep_warm_interval.count());
        o.retry_after_ms =
            clock_.NowMs() + std::min(kMaxKeepWarmBackoffMs, base << std::min(o.failures, 8));
    };
    int created = 0;
    for (auto& [key, order] : orders) {
        {
            std::lock_guard<std::mutex> lock(kw_mu_);
            if (kw_stop_) break;
        }
        const int64_t now = clock_.NowMs();
        int want = now >= order.expires_ms ? 0 : order.count;
        const auto& msg = order.msg;
        auto fetched = FetchAction(msg);
        if (!fetched.ok() && !absl::IsNotFound(fetched.status())) {
            spdlog::warn("invoker{}: keep-warm of {}/{}: the action could not be read: {}",
                         config_.invoker_id, msg.action().path(), msg.action().name(),
                         fetched.status().ToString());
            continue;
        }
        std::optional<ContainerRequest> request;
        if (fetched.ok()) {
            auto r = runner_.KeepWarmRequest(msg, *fetched->action, fetched->revision);
            if (r.ok()) {
                request = std::move(*r);
            } else {
                spdlog::warn("invoker{}: keep-warm of {}/{}: {}", config_.invoker_id,
                             msg.action().path(), msg.action().name(), r.status().ToString());
                want = 0;
            }
        } else {
            want = 0;  // the action is gone
        }
        if (want == 0) {
            ContainerRequest any;  // every revision of the action: none is kept
            any.invocation_namespace = msg.user().namespace_name();
            any.action = key.substr(key.find('\n') + 1);
            pool_.PinKeepWarm(any, 0);
            forget(key, order.generation);
            continue;
        }
        int have = pool_.PinKeepWarm(*request, want);
        if (have >= want || now < order.retry_after_ms) continue;
        while (have < want) {
            auto st = runner_.InitKeepWarm(msg, *fetched->action, fetched->revision);
            if (!st.ok()) {
                spdlog::warn("invoker{}: keep-warm of {}: {} of {} container(s) ready: {}",
                             config_.invoker_id, request->action, have, want, st.ToString());
                back_off(key, order.generation);
                break;
            }
            ++have;
            ++created;
        }
    }
    return created;
}

void InvokerService::InvalidateAction(const std::string& docid) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.erase(docid) > 0) std::erase(cache_order_, docid);
}

absl::StatusOr<InvokerService::CachedAction> InvokerService::FetchAction(
    const wisp::v1::ActivationMessage& msg) {
    auto path = common::EntityPath::Parse(msg.action().path());
    if (!path.ok()) return absl::NotFoundError("bad action path");
    common::FullyQualifiedName fqn{*path, msg.action().name()};
    const std::string docid = fqn.DocId();
    if (!msg.revision().empty()) {
        std::lock_guard<std::mutex> lock(cache_mu_);
        auto it = cache_.find(docid);
        if (it != cache_.end() && it->second.revision == msg.revision()) return it->second;
    }
    // The store serves the latest revision: when it differs from the requested one, this is
    // OpenWhisk's "retry without the revision".
    auto fetched = store_.Get<common::Action>(fqn);
    if (!fetched.ok()) return fetched.status();
    if (!msg.revision().empty() && fetched->rev != msg.revision()) {
        common::TidLog(msg.transid().id())
            .debug("action {} is at revision {}, the message asked for {}; running the latest",
                   docid, fetched->rev, msg.revision());
    }
    CachedAction cached{std::make_shared<const common::Action>(std::move(fetched->doc)),
                        std::move(fetched->rev)};
    if (config_.action_cache_entries > 0) {
        std::lock_guard<std::mutex> lock(cache_mu_);
        auto [it, inserted] = cache_.insert_or_assign(docid, cached);
        (void)it;
        if (inserted) {
            cache_order_.push_back(docid);
            while (cache_.size() > config_.action_cache_entries && !cache_order_.empty()) {
                cache_.erase(cache_order_.front());
                cache_order_.pop_front();
            }
        }
    }
    return cached;
}

bool InvokerService::WantsRecord(const wisp::v1::ActivationMessage& msg) {
    const auto& limits = msg.user().limits();
    return !limits.has_store_activations() || limits.store_activations() ||
           msg.transid().extra_logging();
}

void InvokerService::Store(const wisp::v1::ActivationMessage& msg,
                           const common::ActivationRecord& record) {
    if (!WantsRecord(msg)) return;
    // Create-only (AlreadyExists: someone stored it first — the controller's forced completion,
    // or this activation redelivered and run elsewhere — theirs stays, exactly one record); a
    // refused write is retried with backoff, never dropped silently.
    records_.Write(record, msg.transid().id());
}

namespace {

/// The namespace the record of `msg` is stored under (ActivationRunner's BaseRecord).
std::string RecordNamespace(const wisp::v1::ActivationMessage& msg) {
    std::string ns = msg.user().namespace_name();
    if (ns.empty()) {
        const std::string& path = msg.action().path();
        ns = path.substr(0, path.find('/'));
    }
    return ns;
}

}  // namespace

void InvokerService::Process(Task& task) {
    const auto& msg = task.msg;
    auto ack = [&](AckInfo::Kind kind, const common::ActivationRecord& record) {
        if (task.on_ack) task.on_ack(MakeAck(kind, msg, record));
    };
    const AckInfo::Kind final_kind =
        msg.blocking() ? AckInfo::Kind::kCombined : AckInfo::Kind::kCompletion;

    // Already recorded (redelivered after a crash, or completed by the controller by force):
    // do not run it again, just complete it. A failed lookup runs it (the create-only write
    // keeps whichever record was first). Only messages that can have a record are looked up:
    // fresh work has no store round trip before it runs.
    if (WantsRecord(msg) && MayHaveRecord(msg)) {
        if (auto id = common::ActivationId::Parse(msg.activation_id()); id.ok()) {
            // Existence first: the usual answer is "none", and then no record is read.
            const std::string ns = RecordNamespace(msg);
            const absl::StatusOr<bool> has = store_.HasActivation(ns, *id);
            absl::StatusOr<common::ActivationRecord> existing = absl::NotFoundError("no record");
            if (!has.ok()) {
                existing = has.status();
            } else if (*has) {
                existing = store_.GetActivation(ns, *id);
            }
            if (existing.ok()) {
                common::TidLog(msg.transid().id())
                    .info(
                        "activation {} has a record already (redelivered or completed by the "
                        "controller): not running it again",
                        msg.activation_id());
                ack(final_kind, *existing);
                return;
            }
            if (existing.status().code() != absl::StatusCode::kNotFound) {
                common::TidLog(msg.transid().id())
                    .warn("looking up activation {} before running it failed: {}; running it",
                          msg.activation_id(), existing.status().ToString());
            }
        }
    }

    auto action = FetchAction(msg);
    if (!action.ok()) {
        ActivationResponse response =
            action.status().code() == absl::StatusCode::kNotFound
                ? ActivationResponse::Error(ActivationStatus::kApplicationError,
                                            messages::kActionRemovedWhileInvoking)
                : ActivationResponse::Error(ActivationStatus::kWhiskError,
                                            messages::kActionFetchErrorWhileInvoking);
        if (action.status().code() != absl::StatusCode::kNotFound) {
            common::TidLog(msg.transid().id())
                .error("fetching action {}/{} failed: {}", msg.action().path(), msg.action().name(),
                       action.status().ToString());
        }
        auto record = FallbackActivationRecord(msg, std::move(response), clock_.NowMs());
        if (!config_.runner.invoker_annotation.empty()) {
            record.annotations.Set("invoker",
                                   common::JsonValue::String(config_.runner.invoker_annotation));
        }
        metrics_.CountActivation(record.response.status);
        ack(final_kind, record);
        Store(msg, record);
        return;
    }

    bool result_sent = false;
    auto outcome = runner_.Run(msg, *action->action, action->revision,
                               [&](const common::ActivationRecord& record, bool logs_pending) {
                                   if (msg.blocking() && logs_pending) {
                                       ack(AckInfo::Kind::kResult, record);
                                       result_sent = true;
                                   }
                               });
    metrics_.CountActivation(outcome.record.response.status);
    if (!outcome.container_id.empty()) metrics_.ObserveRun(outcome);
    ack(result_sent ? AckInfo::Kind::kCompletion : final_kind, outcome.record);
    Store(msg, outcome.record);
}

void InvokerService::WriteMetrics(common::PrometheusWriter& w,
                                  std::optional<int64_t> consumer_lag) const {
    InvokerGauges g;
    g.pool = pool_.Stats();
    g.budget_mb = config_.user_memory_mb;
    g.in_flight = in_flight_.load();
    g.records_queued = static_cast<int64_t>(records_.queued());
    g.records_retried = records_.stored_late();
    g.records_lost = records_.lost();
    g.consumer_lag = consumer_lag;
    metrics_.Write(w, g);
}

}  // namespace wisp::invoker
