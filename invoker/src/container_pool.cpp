#include <wisp/invoker/container_pool.hpp>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/common/status.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::invoker {

// ---- pieces -----------------------------------------------------------------------------------

struct ContainerLease::Entry {
    enum class State { kStarting, kPrewarm, kWarm };
    enum class InitPhase { kNone, kRunning, kDone };

    uint64_t seq = 0;
    State state = State::kStarting;
    // What runs in it.
    std::string kind;
    std::string image;
    bool pull_if_missing = false;
    int64_t memory_mb = 0;
    int stem_target = -1;  // index into stem_cells_ while it is a starting/idle stem cell
    // Whose it is once warm (or starting cold).
    std::string invocation_namespace;
    std::string action;
    std::string revision;
    int concurrency = 1;
    std::string action_key;  // ContainerPool::ActionKey: the key of its measured run time
    // Guarded by ContainerPool::mu_.
    int active = 0;
    int64_t last_used_ms = 0;      // for idle times and run-time means
    uint64_t last_use_seq = 0;     // for LRU order: ContainerPool::use_seq_ at the last use
    bool doomed = false;           // destroy when the last run ends; no new runs
    bool removed = false;          // no longer in entries_
    bool paused = false;           // written with op_mu held too
    bool pausing = false;          // a pause task is queued or running
    int pause_failures = 0;        // failed pauses in a row
    bool resettable = true;        // false once Reset failed: never reused for another action
    bool keep_warm = false;        // pinned for its action's keep-warm (PinKeepWarm)
    bool keep_warm_label = false;  // created by AcquireKeepWarm: labelled wisp.keep-warm
    int64_t pause_retry_ms = 0;    // no pause before this (after a failed one)
    absl::Status start_error;
    // Set once under mu_ when started; alive as long as the entry.
    std::unique_ptr<Container> container;
    std::string container_id;
    // Serialises Pause / Resume / Destroy of the container.
    std::mutex op_mu;
    // /init once.
    std::mutex init_mu;
    std::condition_variable init_cv;
    InitPhase init_phase = InitPhase::kNone;
    InitOutcome init_outcome;

    bool SameAction(const ContainerRequest& r) const {
        return invocation_namespace == r.invocation_namespace && action == r.action &&
               revision == r.revision;
    }
    void TakeIdentity(const ContainerRequest& r) {
        invocation_namespace = r.invocation_namespace;
        action = r.action;
        revision = r.revision;
        concurrency = std::max(1, r.concurrency);
        action_key = ContainerPool::ActionKey(r);
    }
};

struct ContainerPool::Placement {
    EntryPtr entry;
    ContainerLease::Source source = ContainerLease::Source::kCold;
    bool create = false;  // the requester creates the container (cold start)
    bool reset = false;   // the requester resets the container for another action (4')
};

struct ContainerPool::Waiter {
    ContainerRequest request;
    bool done = false;
    Placement placement;
};

struct ContainerPool::StemCellTarget {
    std::string kind;
    std::string image;
    int64_t memory_mb = 0;
    int count = 0;
    int64_t retry_after_ms = 0;
};

class ContainerPool::TaskRunner {
  public:
    explicit TaskRunner(int threads) {
        for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Loop(); });
    }
    ~TaskRunner() { Stop(); }

    void Post(std::function<void()> task) {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(task));
        cv_.notify_one();
    }
    void WaitIdle() {
        std::unique_lock<std::mutex> lock(mu_);
        idle_cv_.wait(lock, [&] { return queue_.empty() && running_ == 0; });
    }
    /// Runs what is queued, then joins the threads. Idempotent.
    void Stop() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
            cv_.notify_all();
        }
        for (auto& t : threads_) {
            if (t.joinable()) t.join();
        }
    }

  private:
    void Loop() {
        std::unique_lock<std::mutex> lock(mu_);
        while (true) {
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            auto task = std::move(queue_.front());
            queue_.pop_front();
            ++running_;
            lock.unlock();
            task();
            lock.lock();
            --running_;
            if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable idle_cv_;
    std::deque<std::function<void()>> queue_;
    int running_ = 0;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

std::string SanitizeContainerNamePart(std::string_view text) {
    std::string out;
    out.reserve(std::min<size_t>(text.size(), 63));
    for (char c : text) {
        if (out.size() >= 63) break;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        out.push_back(ok ? c : '_');
    }
    return out;
}

// ---- ContainerLease ---------------------------------------------------------------------------

ContainerLease::ContainerLease(ContainerLease&& o) noexcept
    : pool_(std::exchange(o.pool_, nullptr)),
      entry_(std::move(o.entry_)),
      source_(o.source_),
      resumed_(o.resumed_),
      keep_warm_init_(o.keep_warm_init_),
      acquired_ms_(o.acquired_ms_) {}

ContainerLease& ContainerLease::operator=(ContainerLease&& o) noexcept {
    if (this != &o) {
        if (entry_ && pool_) pool_->Release(std::move(*this), ContainerPool::Outcome::kDestroy);
        pool_ = std::exchange(o.pool_, nullptr);
        entry_ = std::move(o.entry_);
        source_ = o.source_;
        resumed_ = o.resumed_;
        keep_warm_init_ = o.keep_warm_init_;
        acquired_ms_ = o.acquired_ms_;
    }
    return *this;
}

ContainerLease::~ContainerLease() {
    if (entry_ && pool_) pool_->Release(std::move(*this), ContainerPool::Outcome::kDestroy);
}

Container& ContainerLease::container() const {
    WISP_CHECK(entry_ && entry_->container);
    return *entry_->container;
}

const std::string& ContainerLease::container_id() const {
    WISP_CHECK(entry_);
    return entry_->container_id;
}

std::pair<bool, InitOutcome> ContainerLease::InitOnce(const std::function<InitOutcome()>& init) {
    WISP_CHECK(entry_);
    Entry& e = *entry_;
    std::unique_lock<std::mutex> lock(e.init_mu);
    if (e.init_phase == Entry::InitPhase::kRunning) {
        e.init_cv.wait(lock, [&] { return e.init_phase == Entry::InitPhase::kDone; });
    }
    if (e.init_phase == Entry::InitPhase::kDone) return {false, e.init_outcome};
    e.init_phase = Entry::InitPhase::kRunning;
    lock.unlock();
    InitOutcome outcome = init();
    lock.lock();
    e.init_outcome = outcome;
    e.init_phase = Entry::InitPhase::kDone;
    e.init_cv.notify_all();
    return {true, std::move(outcome)};
}

// ---- ContainerPool ----------------------------------------------------------------------------

ContainerPool::ContainerPool(ContainerFactory& factory, const common::RuntimeManifest& manifest,
                             common::Clock& clock, ContainerPoolConfig config)
    : factory_(factory),
      clock_(clock),
      config_(std::move(config)),
      background_(std::make_unique<TaskRunner>(config_.background_threads)) {
    if (config_.stem_cells) {
        for (const auto& kind : manifest.kinds()) {
            for (const auto& cell : kind.stem_cells) {
                if (cell.count <= 0) continue;
                stem_cells_.push_back({kind.kind, kind.image, cell.memory_mb, cell.count, 0});
            }
        }
    }
}

ContainerPool::~ContainerPool() { Shutdown(); }

absl::Status ContainerPool::Start() {
    absl::Status status;
    if (config_.remove_orphans) {
        auto removed = factory_.RemoveOrphans(config_.invoker_id);
        if (!removed.ok()) {
            status = removed.status();
            spdlog::warn("invoker{}: could not remove orphaned containers: {}", config_.invoker_id,
                         removed.status().ToString());
        } else if (*removed > 0) {
            spdlog::info("invoker{}: removed {} orphaned container(s)", config_.invoker_id,
                         *removed);
        }
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (started_ || shutdown_) return status;
        started_ = true;
        BackfillStemCellsLocked();
    }
    if (config_.housekeeping_interval.count() > 0) {
        housekeeping_ = std::thread([this] { Housekeeping(); });
    }
    return status;
}

void ContainerPool::Housekeeping() {
    std::unique_lock<std::mutex> lock(hk_mu_);
    while (!hk_stop_) {
        hk_cv_.wait_for(lock, config_.housekeeping_interval, [&] { return hk_stop_; });
        if (hk_stop_) break;
        lock.unlock();
        Tick();
        lock.lock();
    }
}

int64_t ContainerPool::UsedMbLocked() const {
    int64_t used = 0;
    for (const auto& e : entries_) used += e->memory_mb;
    return used;
}

ContainerSpec ContainerPool::SpecFor(const ContainerLease::Entry& entry, std::string_view hint) {
    ContainerSpec spec;
    spec.image = entry.image;
    spec.name = fmt::format("wsk{}_{}_{}", SanitizeContainerNamePart(config_.invoker_id), entry.seq,
                            SanitizeContainerNamePart(hint));
    spec.memory_mb = entry.memory_mb;
    spec.env = config_.container_env;
    spec.labels["wisp.invoker"] = config_.invoker_id;
    if (entry.keep_warm_label) spec.labels["wisp.keep-warm"] = entry.action;
    spec.pull_if_missing = entry.pull_if_missing;
    return spec;
}

ContainerPool::Place ContainerPool::TryPlaceLocked(const ContainerRequest& request,
                                                   Placement& placement) {
    using State = ContainerLease::Entry::State;
    const int64_t now = clock_.NowMs();

    // 1. A warm (or starting) container of this action with a free slot.
    EntryPtr best;
    auto rank = [](const ContainerLease::Entry& e) {
        if (e.state == State::kWarm) return e.paused || e.pausing ? 1 : 2;
        return 0;  // still starting: runs once it is up
    };
    for (const auto& e : entries_) {
        if (e->state == State::kPrewarm || e->doomed || !e->SameAction(request)) continue;
        if (e->active >= e->concurrency) continue;
        if (!best || rank(*e) > rank(*best) ||
            (rank(*e) == rank(*best) && e->last_use_seq > best->last_use_seq)) {
            best = e;
        }
    }
    if (best) {
        ++best->active;
        best->last_used_ms = now;
        best->last_use_seq = ++use_seq_;
        placement = {best, ContainerLease::Source::kWarm, false};
        ++counters_.warm_starts;
        return Place::kPlaced;
    }

    // 2'. A stem cell costs its /init and a `docker run` of its replacement: when one of the
    // action's warm containers is expected to free up sooner than a stem cell's first run
    // ends, wait for it.
    if (prewarm_ms_ >= 0 && WaitForSiblingLocked(request, now, prewarm_ms_, /*warm_only=*/true)) {
        for (const auto& e : entries_) {
            if (e->state == State::kPrewarm && e->kind == request.kind &&
                e->memory_mb == request.memory_mb && e->image == request.image) {
                return Place::kWaitStarting;
            }
        }
    }

    // 2. A stem cell of this kind and size.
    for (const auto& e : entries_) {
        if (e->state != State::kPrewarm || e->kind != request.kind ||
            e->memory_mb != request.memory_mb || e->image != request.image) {
            continue;
        }
        e->state = State::kWarm;
        e->stem_target = -1;
        e->TakeIdentity(request);
        e->active = 1;
        e->last_used_ms = now;
        e->last_use_seq = ++use_seq_;
        placement = {e, ContainerLease::Source::kPrewarm, false};
        ++counters_.prewarm_starts;
        BackfillStemCellsLocked();  // the replacement starts in the background
        return Place::kPlaced;
    }

    // 3'. Waiting for one of the action's own containers may be quicker than a cold start.
    if (WaitForSiblingLocked(request, now, cold_start_ms_ < 0 ? 500.0 : cold_start_ms_,
                             /*warm_only=*/false)) {
        return Place::kWaitStarting;
    }

    // 3./4. A new container, evicting idle ones when that makes room.
    const int64_t budget = config_.user_memory_mb;
    int64_t used = UsedMbLocked();
    if (used + request.memory_mb > budget) {
        // A container of this action on its way serves this request once its first run ends:
        // wait for it rather than destroy others' warm containers for another slow start.
        for (const auto& e : entries_) {
            if (e->state == State::kStarting && !e->doomed && e->SameAction(request)) {
                return Place::kWaitStarting;
            }
        }
        // 4'. An idle container of the same namespace and kind, reset for this action.
        if (config_.reuse_after_reset) {
            EntryPtr reuse;
            for (const auto& e : entries_) {
                if (e->state != State::kWarm || e->active > 0 || e->doomed || !e->resettable ||
                    e->keep_warm || !e->container ||
                    e->invocation_namespace != request.invocation_namespace ||
                    e->kind != request.kind || e->image != request.image ||
                    e->memory_mb != request.memory_mb) {
                    continue;
                }
                if (!reuse || e->last_use_seq < reuse->last_use_seq) reuse = e;
            }
            if (reuse) {
                reuse->TakeIdentity(request);
                reuse->active = 1;
                reuse->last_used_ms = now;
                reuse->last_use_seq = ++use_seq_;
                placement = {reuse, ContainerLease::Source::kPrewarm, false, true};
                ++counters_.reset_reuses;
                return Place::kPlaced;
            }
        }
        std::vector<EntryPtr> idle;
        std::vector<EntryPtr> prewarm;
        std::vector<EntryPtr> pinned;  // idle keep-warm containers: a last resort, as stem cells
        bool anything_running = false;
        for (const auto& e : entries_) {
            if (e->state == State::kWarm && e->active == 0 && !e->doomed) {
                (e->keep_warm ? pinned : idle).push_back(e);
            } else if (e->state == State::kPrewarm) {
                prewarm.push_back(e);
            } else {
                anything_running = true;  // busy or starting: memory comes back later
            }
        }
        std::stable_sort(idle.begin(), idle.end(), [](const EntryPtr& a, const EntryPtr& b) {
            return a->last_use_seq < b->last_use_seq;
        });
        // Stem cells are never evicted, except when nothing else could ever free memory (the
        // request would wait forever behind idle stem cells of other kinds).
        std::vector<EntryPtr> candidates = idle;
        if (!anything_running) {
            candidates.insert(candidates.end(), prewarm.begin(), prewarm.end());
            candidates.insert(candidates.end(), pinned.begin(), pinned.end());
        }
        int64_t freeable = 0;
        for (const auto& e : candidates) freeable += e->memory_mb;
        if (used - freeable + request.memory_mb > budget) return Place::kWaitMemory;
        for (const auto& e : candidates) {
            if (used + request.memory_mb <= budget) break;
            used -= e->memory_mb;
            RemoveEntryLocked(e);
            ScheduleDestroyLocked(e);
            ++counters_.evictions;
            common::TidLog(request.transaction_id)
                .debug("invoker{}: evicting container {} ({} MB) to make room", config_.invoker_id,
                       e->container_id, e->memory_mb);
        }
    }
    auto e = NewStartingEntryLocked(request, now);
    entries_.push_back(e);
    placement = {e, ContainerLease::Source::kCold, true};
    ++counters_.cold_starts;
    return Place::kPlaced;
}

namespace {

constexpr double kAverageWeight = 0.2;  // of the newest sample in the moving averages
// Above this utilisation of an action's containers (arrival rate × run time ÷ slots), a
// request never waits for a busy sibling: the queue would only grow.
constexpr double kMaxWaitUtilisation = 0.75;
constexpr const char* kResetFailed = "reset failed";

void Average(double& mean, double sample) {
    mean = mean < 0 ? sample : mean + kAverageWeight * (sample - mean);
}

}  // namespace

ContainerPool::EntryPtr ContainerPool::NewStartingEntryLocked(const ContainerRequest& request,
                                                              int64_t now) {
    auto e = std::make_shared<ContainerLease::Entry>();
    e->seq = next_seq_++;
    e->state = ContainerLease::Entry::State::kStarting;
    e->kind = request.kind;
    e->image = request.image;
    e->pull_if_missing = request.pull_if_missing;
    e->memory_mb = request.memory_mb;
    e->TakeIdentity(request);
    e->active = 1;
    e->last_used_ms = now;
    e->last_use_seq = ++use_seq_;
    return e;
}

std::string ContainerPool::ActionKey(const ContainerRequest& r) {
    return fmt::format("{}\n{}\n{}", r.invocation_namespace, r.action, r.revision);
}

void ContainerPool::NoteArrivalLocked(const ContainerRequest& request) {
    const int64_t now = clock_.NowMs();
    if (arrivals_.size() >= 10000) arrivals_.clear();  // bounded; re-learnt in a few requests
    Arrivals& a = arrivals_.try_emplace(ActionKey(request)).first->second;
    if (a.last_ms >= 0)
        Average(a.gap_mean, static_cast<double>(std::max<int64_t>(0, now - a.last_ms)));
    a.last_ms = now;
}

bool ContainerPool::WaitForSiblingLocked(const ContainerRequest& request, int64_t now,
                                         double alternative_ms, bool warm_only) const {
    using State = ContainerLease::Entry::State;
    double hold = hold_all_ms_;
    if (auto it = hold_ms_.find(ActionKey(request)); it != hold_ms_.end()) hold = it->second.mean;
    if (hold < 0) return false;  // no run measured yet: start one, as OpenWhisk does
    const double cold = cold_start_ms_ < 0 ? 500.0 : cold_start_ms_;
    int useful = 0;
    int slots = 0;
    bool all_starting = true;
    double least_left = cold;
    for (const auto& e : entries_) {
        if (e->state == State::kPrewarm || e->doomed || !e->SameAction(request)) continue;
        const double elapsed = static_cast<double>(now - e->last_used_ms);
        if (e->state == State::kStarting) {
            if (warm_only || elapsed > 3 * cold + 1000) continue;  // stuck: do not count on it
            least_left = std::min(least_left, std::max(0.0, cold - elapsed));
        } else {
            if (elapsed > 3 * hold + 1000) continue;  // a long run: do not count on it
            all_starting = false;
        }
        ++useful;
        slots += std::max(1, e->concurrency);
    }
    if (useful == 0) return false;
    // Waiting pays only while the containers keep up with the action's arrivals. The queue this
    // pool sees is bounded by what the invoker's feed hands over; the rest waits on the bus,
    // out of sight: at 1,342 no-op invokes/s one container (≈ 1,300 runs/s) stayed alone for a
    // 10-minute soak while p50 grew to 2 s.
    if (auto a = arrivals_.find(ActionKey(request));
        a != arrivals_.end() && a->second.gap_mean >= 0) {
        const double gap = std::max(a->second.gap_mean, 0.01);
        if (hold / (gap * static_cast<double>(slots)) > kMaxWaitUtilisation) return false;
    }
    int waiting = 0;
    for (const auto& w : buffer_) {
        if (w->request.invocation_namespace == request.invocation_namespace &&
            w->request.action == request.action && w->request.revision == request.revision) {
            ++waiting;
        }
    }
    const double expected =
        (all_starting ? least_left : 0.0) + (waiting + 1.0) / static_cast<double>(slots) * hold;
    return expected < alternative_ms;
}

void ContainerPool::DrainBufferLocked() {
    bool placed = false;
    for (auto it = buffer_.begin(); it != buffer_.end() && !shutdown_;) {
        const Place place = TryPlaceLocked((*it)->request, (*it)->placement);
        if (place == Place::kWaitMemory) break;  // first in line for memory: the rest wait
        if (place == Place::kWaitStarting) {
            ++it;  // waits for its action's starting container; others may go ahead
            continue;
        }
        (*it)->done = true;
        it = buffer_.erase(it);
        placed = true;
    }
    if (placed) cv_.notify_all();
}

void ContainerPool::RemoveEntryLocked(const EntryPtr& entry) {
    if (entry->removed) return;
    entry->removed = true;
    entries_.erase(std::remove(entries_.begin(), entries_.end(), entry), entries_.end());
    cv_.notify_all();
}

void ContainerPool::ScheduleDestroyLocked(const EntryPtr& entry) {
    background_->Post([entry, id = config_.invoker_id] {
        std::lock_guard<std::mutex> op(entry->op_mu);
        if (!entry->container) return;
        auto status = entry->container->Destroy();
        if (!status.ok()) {
            spdlog::warn("invoker{}: destroying container {} failed: {}", id, entry->container_id,
                         status.ToString());
        }
    });
}

void ContainerPool::BackfillStemCellsLocked() {
    if (!started_ || shutdown_ || !buffer_.empty()) return;
    using State = ContainerLease::Entry::State;
    const int64_t now = clock_.NowMs();
    for (size_t i = 0; i < stem_cells_.size(); ++i) {
        auto& target = stem_cells_[i];
        if (now < target.retry_after_ms) continue;
        int have = 0;
        for (const auto& e : entries_) {
            if (e->stem_target == static_cast<int>(i) &&
                (e->state == State::kPrewarm || e->state == State::kStarting)) {
                ++have;
            }
        }
        while (have < target.count && UsedMbLocked() + target.memory_mb <= config_.user_memory_mb) {
            auto e = std::make_shared<ContainerLease::Entry>();
            e->seq = next_seq_++;
            e->state = State::kStarting;
            e->kind = target.kind;
            e->image = target.image;
            e->memory_mb = target.memory_mb;
            e->stem_target = static_cast<int>(i);
            e->last_used_ms = now;
            e->last_use_seq = ++use_seq_;
            entries_.push_back(e);
            ++have;
            background_->Post([this, e] { CreateStemCell(e); });
        }
    }
}

void ContainerPool::CreateStemCell(const EntryPtr& entry) {
    auto spec = SpecFor(*entry, "prewarm_" + entry->kind);
    auto created = factory_.Create(spec);
    std::unique_ptr<Container> orphan;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!created.ok()) {
            spdlog::warn("invoker{}: stem cell {} ({} MB) could not start: {}; retrying later",
                         config_.invoker_id, entry->kind, entry->memory_mb,
                         created.status().ToString());
            if (entry->stem_target >= 0) {
                stem_cells_[static_cast<size_t>(entry->stem_target)].retry_after_ms =
                    clock_.NowMs() + config_.stem_cell_retry.count();
            }
            entry->start_error = created.status();
            RemoveEntryLocked(entry);
            DrainBufferLocked();
            return;
        }
        if (entry->removed || shutdown_) {
            orphan = std::move(*created);
        } else {
            entry->container_id = (*created)->id();
            entry->container = std::move(*created);
            entry->state = ContainerLease::Entry::State::kPrewarm;
            entry->last_used_ms = clock_.NowMs();
            entry->last_use_seq = ++use_seq_;
            cv_.notify_all();
            DrainBufferLocked();
        }
    }
    if (orphan) (void)orphan->Destroy();
}

absl::StatusOr<ContainerLease> ContainerPool::Acquire(const ContainerRequest& request) {
    if (request.memory_mb > config_.user_memory_mb) {
        return absl::ResourceExhaustedError(
            fmt::format("the action needs {} MB but the invoker's whole container memory is {} MB",
                        request.memory_mb, config_.user_memory_mb));
    }
    for (int attempt = 0;; ++attempt) {
        Placement placement;
        {
            std::unique_lock<std::mutex> lock(mu_);
            if (shutdown_) return absl::UnavailableError("the invoker is shutting down");
            if (attempt == 0) NoteArrivalLocked(request);
            if (!buffer_.empty() || TryPlaceLocked(request, placement) != Place::kPlaced) {
                auto waiter = std::make_shared<Waiter>();
                waiter->request = request;
                buffer_.push_back(waiter);
                // Behind the others: placed now if none of them waits for memory.
                if (buffer_.size() > 1) DrainBufferLocked();
                cv_.wait(lock, [&] { return waiter->done || shutdown_; });
                if (!waiter->done) {
                    buffer_.erase(std::remove(buffer_.begin(), buffer_.end(), waiter),
                                  buffer_.end());
                    return absl::UnavailableError("the invoker is shutting down");
                }
                placement = waiter->placement;
            }
        }
        EntryPtr entry = placement.entry;
        auto lease = Complete(std::move(placement), request);
        // A container that failed to resume is destroyed; the request is placed again. So is
        // one that could not be reset (each such container is tried once: no bound needed).
        if (!lease.ok() && lease.status().code() == absl::StatusCode::kAborted) {
            if (lease.status().message() == kResetFailed) {
                --attempt;
                continue;
            }
            if (attempt < 3) continue;
        }
        return lease;
    }
}

absl::StatusOr<ContainerLease> ContainerPool::Complete(Placement placement,
                                                       const ContainerRequest& request) {
    using State = ContainerLease::Entry::State;
    EntryPtr e = placement.entry;
    ContainerLease lease;
    lease.source_ = placement.source;

    if (placement.create) {
        const int64_t create_started = clock_.NowMs();
        auto created = factory_.Create(SpecFor(*e, request.name_hint));
        std::unique_ptr<Container> orphan;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (!created.ok()) {
                e->start_error = created.status();
                RemoveEntryLocked(e);
                DrainBufferLocked();
                return created.status();
            }
            Average(cold_start_ms_, static_cast<double>(clock_.NowMs() - create_started));
            if (e->removed) {
                orphan = std::move(*created);
            } else {
                e->container_id = (*created)->id();
                e->container = std::move(*created);
                e->state = State::kWarm;
                cv_.notify_all();
            }
        }
        if (orphan) {
            (void)orphan->Destroy();
            return absl::UnavailableError("the invoker is shutting down");
        }
    } else {
        // Joined a container that may still be starting (concurrency > 1): wait for it.
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return e->container != nullptr || e->removed; });
        if (!e->container) {
            --e->active;
            return e->start_error.ok() ? absl::UnavailableError("the container went away")
                                       : e->start_error;
        }
    }

    lease.pool_ = this;
    lease.entry_ = e;
    lease.acquired_ms_ = clock_.NowMs();

    if (placement.source == ContainerLease::Source::kWarm || placement.reset) {
        std::lock_guard<std::mutex> op(e->op_mu);
        bool paused;
        {
            std::lock_guard<std::mutex> lock(mu_);
            paused = e->paused;
        }
        if (paused) {
            auto status = e->container->Resume();
            if (!status.ok()) {
                common::TidLog(request.transaction_id)
                    .warn("invoker{}: resuming container {} failed: {}; using another",
                          config_.invoker_id, e->container_id, status.ToString());
                lease.pool_ = nullptr;
                lease.entry_.reset();
                std::lock_guard<std::mutex> lock(mu_);
                e->doomed = true;
                --e->active;
                if (e->active == 0 && !e->removed) {
                    RemoveEntryLocked(e);
                    ScheduleDestroyLocked(e);  // runs once op_mu is released
                }
                DrainBufferLocked();
                return absl::AbortedError("resume failed");
            }
            std::lock_guard<std::mutex> lock(mu_);
            e->paused = false;
            lease.resumed_ = true;
        }
        if (placement.reset) {
            // Nothing of the previous action survives: its processes, files and /tmp are gone
            // and the proxy is back to not initialised; this action's /init runs next.
            auto status = e->container->Reset();
            if (!status.ok()) {
                common::TidLog(request.transaction_id)
                    .debug(
                        "invoker{}: evicting container {} ({} MB) to make room: it could not be "
                        "reset for another action ({})",
                        config_.invoker_id, e->container_id, e->memory_mb, status.ToString());
                lease.pool_ = nullptr;
                lease.entry_.reset();
                std::lock_guard<std::mutex> lock(mu_);
                e->resettable = false;
                e->doomed = true;
                ++counters_.evictions;  // what would have happened to it otherwise
                --e->active;
                if (e->active == 0 && !e->removed) {
                    RemoveEntryLocked(e);
                    ScheduleDestroyLocked(e);  // runs once op_mu is released
                }
                DrainBufferLocked();
                return absl::AbortedError(kResetFailed);
            }
            std::lock_guard<std::mutex> init_lock(e->init_mu);
            e->init_phase = ContainerLease::Entry::InitPhase::kNone;
            e->init_outcome = InitOutcome{};
        }
    }
    return lease;
}

void ContainerPool::Release(ContainerLease lease, Outcome outcome) {
    EntryPtr e = std::move(lease.entry_);
    lease.pool_ = nullptr;
    if (!e) return;
    std::lock_guard<std::mutex> lock(mu_);
    --e->active;
    e->last_used_ms = clock_.NowMs();
    e->last_use_seq = ++use_seq_;
    if (lease.keep_warm_init_) {
        // Only /init ran (AcquireKeepWarm): nothing to learn about the action's runs.
    } else if (lease.source_ == ContainerLease::Source::kWarm && outcome == Outcome::kKeep) {
        // A warm run's hold of its container: what a request waiting for it expects to wait.
        const double held = static_cast<double>(e->last_used_ms - lease.acquired_ms_);
        Average(hold_all_ms_, held);
        if (hold_ms_.size() >= 10000) hold_ms_.clear();  // bounded; re-learnt in a few runs
        auto& hold = hold_ms_.try_emplace(e->action_key).first->second;
        if (hold.seeded) hold = HoldMean{};  // the first warm run replaces the seed
        Average(hold.mean, held);
    } else if (outcome == Outcome::kKeep) {
        const double held = static_cast<double>(e->last_used_ms - lease.acquired_ms_);
        // A stem cell's first run (its /init included): what taking a stem cell costs (2').
        if (lease.source_ == ContainerLease::Source::kPrewarm) Average(prewarm_ms_, held);
        // Until a warm run is measured, the first run (/init included: an over-estimate) stands
        // for the action's run time, so that the runs overlapping the first warm one wait for
        // it rather than each start a container (3').
        if (hold_ms_.size() >= 10000) hold_ms_.clear();
        hold_ms_.try_emplace(e->action_key, HoldMean{held, true});
    }
    if (outcome == Outcome::kDestroy && !e->doomed) {
        e->doomed = true;
        ++counters_.destroyed_after_error;
    }
    if (e->doomed && e->active <= 0 && !e->removed) {
        RemoveEntryLocked(e);
        ScheduleDestroyLocked(e);
    }
    DrainBufferLocked();
}

// ---- keep-warm --------------------------------------------------------------------------------

absl::StatusOr<ContainerLease> ContainerPool::AcquireKeepWarm(const ContainerRequest& request) {
    using State = ContainerLease::Entry::State;
    if (request.memory_mb > config_.user_memory_mb) {
        return absl::ResourceExhaustedError(
            fmt::format("the action needs {} MB but the invoker's whole container memory is {} MB",
                        request.memory_mb, config_.user_memory_mb));
    }
    Placement placement;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return absl::UnavailableError("the invoker is shutting down");
        if (!buffer_.empty()) {
            return absl::ResourceExhaustedError(fmt::format(
                "{} request(s) wait for container memory; the keep-warm container of {} waits "
                "for them",
                buffer_.size(), request.action));
        }
        int64_t used = UsedMbLocked();
        const int64_t budget = config_.user_memory_mb;
        if (used + request.memory_mb > budget) {
            // Room from idle containers that are not pinned, least recently used first; never
            // from stem cells or other keep-warm containers.
            std::vector<EntryPtr> idle;
            for (const auto& e : entries_) {
                if (e->state == State::kWarm && e->active == 0 && !e->doomed && !e->keep_warm) {
                    idle.push_back(e);
                }
            }
            std::stable_sort(idle.begin(), idle.end(), [](const EntryPtr& a, const EntryPtr& b) {
                return a->last_use_seq < b->last_use_seq;
            });
            int64_t freeable = 0;
            for (const auto& e : idle) freeable += e->memory_mb;
            if (used - freeable + request.memory_mb > budget) {
                return absl::ResourceExhaustedError(fmt::format(
                    "no room for a keep-warm container of {} ({} MB): {} of {} MB are held by "
                    "running, starting, stem cell or keep-warm containers",
                    request.action, request.memory_mb, used - freeable, budget));
            }
            for (const auto& e : idle) {
                if (used + request.memory_mb <= budget) break;
                used -= e->memory_mb;
                RemoveEntryLocked(e);
                ScheduleDestroyLocked(e);
                ++counters_.evictions;
            }
        }
        auto e = NewStartingEntryLocked(request, clock_.NowMs());
        e->keep_warm = true;
        e->keep_warm_label = true;
        entries_.push_back(e);
        ++counters_.keep_warm_starts;
        placement = {e, ContainerLease::Source::kCold, true};
    }
    auto lease = Complete(std::move(placement), request);
    if (lease.ok()) lease->keep_warm_init_ = true;
    return lease;
}

int ContainerPool::PinKeepWarm(const ContainerRequest& request, int count) {
    using State = ContainerLease::Entry::State;
    std::lock_guard<std::mutex> lock(mu_);
    int pinned = 0;
    // Already pinned ones of this revision first (in creation order), then the action's other
    // warm or starting ones; everything else of the action is unpinned.
    std::vector<EntryPtr> mine;
    for (const auto& e : entries_) {
        if (e->doomed || e->state == State::kPrewarm) continue;
        if (e->invocation_namespace != request.invocation_namespace ||
            e->action != request.action) {
            continue;
        }
        if (e->revision != request.revision) {
            e->keep_warm = false;
            continue;
        }
        mine.push_back(e);
    }
    std::stable_sort(mine.begin(), mine.end(), [](const EntryPtr& a, const EntryPtr& b) {
        return a->keep_warm && !b->keep_warm;
    });
    for (const auto& e : mine) {
        e->keep_warm = pinned < count;
        if (e->keep_warm) ++pinned;
    }
    if (count == 0) DrainBufferLocked();  // unpinned ones may be evicted for waiting requests
    return pinned;
}

int ContainerPool::RemoveDeadKeepWarm() {
    using State = ContainerLease::Entry::State;
    std::vector<EntryPtr> pinned;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return 0;
        for (const auto& e : entries_) {
            if (e->keep_warm && e->state == State::kWarm && e->active == 0 && !e->doomed &&
                e->container) {
                pinned.push_back(e);
            }
        }
    }
    int removed = 0;
    for (const auto& e : pinned) {
        absl::StatusOr<bool> running = true;
        {
            std::lock_guard<std::mutex> op(e->op_mu);  // not while it is paused or resumed
            running = e->container->Running();
        }
        if (!running.ok()) {
            spdlog::warn("invoker{}: cannot tell whether keep-warm container {} runs: {}",
                         config_.invoker_id, e->container_id, running.status().ToString());
            continue;
        }
        if (*running) continue;
        std::lock_guard<std::mutex> lock(mu_);
        if (e->removed || e->active > 0) continue;  // taken meanwhile: its run finds out
        spdlog::warn("invoker{}: keep-warm container {} of {} no longer runs; replacing it",
                     config_.invoker_id, e->container_id, e->action);
        e->doomed = true;
        RemoveEntryLocked(e);
        ScheduleDestroyLocked(e);
        ++counters_.destroyed_after_error;
        ++removed;
        DrainBufferLocked();
    }
    return removed;
}

void ContainerPool::PauseIfStillIdle(const EntryPtr& e) {
    std::lock_guard<std::mutex> op(e->op_mu);
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (e->removed || e->active > 0 || e->doomed || e->paused || !e->container) {
            e->pausing = false;
            return;
        }
    }
    auto status = e->container->Pause();
    std::lock_guard<std::mutex> lock(mu_);
    e->pausing = false;
    if (status.ok()) {
        e->paused = true;
        e->pause_failures = 0;
        return;
    }
    ++counters_.pause_failures;
    ++e->pause_failures;
    if (e->pause_failures < config_.max_pause_failures) {
        // The container still runs and is intact (runc thaws it when the freeze gives up): keep
        // it idle and unpaused, inside the budget, and try again later.
        const int64_t backoff = config_.pause_retry.count() << std::min(e->pause_failures - 1, 5);
        e->pause_retry_ms = clock_.NowMs() + backoff;
        spdlog::warn(
            "invoker{}: pausing container {} failed ({} in a row): {}; it stays running, "
            "pause retried in {} ms",
            config_.invoker_id, e->container_id, e->pause_failures, status.ToString(), backoff);
        return;
    }
    spdlog::warn("invoker{}: pausing container {} failed {} times in a row: {}; removing it",
                 config_.invoker_id, e->container_id, e->pause_failures, status.ToString());
    e->doomed = true;
    if (e->active == 0 && !e->removed) {
        RemoveEntryLocked(e);
        ScheduleDestroyLocked(e);
    }
    DrainBufferLocked();
}

void ContainerPool::Tick() {
    using State = ContainerLease::Entry::State;
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return;
    const int64_t now = clock_.NowMs();
    std::vector<EntryPtr> snapshot = entries_;
    for (const auto& e : snapshot) {
        if (e->state != State::kWarm || e->active > 0 || e->doomed) continue;
        const int64_t idle = now - e->last_used_ms;
        if (idle >= config_.idle_timeout.count() && !e->keep_warm) {
            RemoveEntryLocked(e);
            ScheduleDestroyLocked(e);
            ++counters_.removed_idle;
        } else if (!e->paused && !e->pausing && idle >= config_.pause_grace.count() &&
                   now >= e->pause_retry_ms) {
            e->pausing = true;
            background_->Post([this, e] { PauseIfStillIdle(e); });
        }
    }
    DrainBufferLocked();
    BackfillStemCellsLocked();
}

void ContainerPool::Quiesce() { background_->WaitIdle(); }

void ContainerPool::Shutdown() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return;
        shutdown_ = true;
        cv_.notify_all();
    }
    {
        std::lock_guard<std::mutex> lock(hk_mu_);
        hk_stop_ = true;
        hk_cv_.notify_all();
    }
    if (housekeeping_.joinable()) housekeeping_.join();
    background_->WaitIdle();
    {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<EntryPtr> all = entries_;
        for (const auto& e : all) {
            RemoveEntryLocked(e);
            ScheduleDestroyLocked(e);
        }
    }
    background_->Stop();
}

ContainerPoolStats ContainerPool::Stats() const {
    using State = ContainerLease::Entry::State;
    std::lock_guard<std::mutex> lock(mu_);
    ContainerPoolStats s = counters_;
    for (const auto& e : entries_) {
        s.used_mb += e->memory_mb;
        if (e->keep_warm && !e->doomed) ++s.keep_warm;
        switch (e->state) {
            case State::kStarting:
                ++s.starting;
                break;
            case State::kPrewarm:
                ++s.prewarm;
                break;
            case State::kWarm:
                if (e->active > 0) {
                    ++s.busy;
                } else {
                    ++s.idle;
                    if (e->paused) ++s.paused;
                }
                break;
        }
    }
    s.buffered = static_cast<int>(buffer_.size());
    return s;
}

}  // namespace wisp::invoker
