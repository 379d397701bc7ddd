// AlarmScheduler: loads the alarm schedules, keeps one timer per schedule in a priority queue,
// and fires each due slot once across controllers through a claim document.
#include "alarm_scheduler.hpp"

#include <algorithm>
#include <random>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/common/ids.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

namespace {

using common::MessageOf;

/// The provider's text for a firing answered with a disabling status (feeds.md §3.3).
std::string DisabledFiring(int status_code) {
    return fmt::format(
        "Trigger automatically disabled: Received a {} status code when firing the trigger",
        status_code);
}
constexpr std::string_view kDisabledThrottled =
    "Automatically disabled after continuously receiving a 429 status code when firing the "
    "trigger";
constexpr std::string_view kDisabledOnce = "Automatically disabled after firing once";
constexpr std::string_view kDisabledMaxTriggers =
    "Automatically disabled after reaching max triggers";
constexpr std::string_view kDisabledLastCron =
    "Automatically disabled after firing last scheduled cron trigger";
constexpr std::string_view kDisabledLastInterval =
    "Automatically disabled after firing last scheduled interval trigger";

/// The latest slot in (floor, now], else the first slot after max(floor, now); nullopt when the
/// schedule never fires again. Looks back in growing windows so a 1-second cron down for a day
/// costs a minute's worth of steps, not a day's.
[[nodiscard]] absl::StatusOr<std::optional<int64_t>> DesiredSlot(const AlarmSchedule& s,
                                                                 int64_t floor, int64_t now,
                                                                 std::chrono::milliseconds minute) {
    if (floor < now) {
        constexpr int64_t kWindows[] = {60000LL,         3600000LL,        86400000LL,
                                        32 * 86400000LL, 367 * 86400000LL, 6 * 367 * 86400000LL};
        for (int64_t w : kWindows) {
            const int64_t from = std::max(floor, now - w);
            auto n = NextFireAfter(s, from, minute);
            if (!n.ok()) return n.status();
            if (!n->has_value() || **n > now) {
                if (from == floor) break;
                continue;
            }
            int64_t latest = **n;
            for (int i = 0; i < 100000; ++i) {
                auto next = NextFireAfter(s, latest, minute);
                if (!next.ok()) return next.status();
                if (!next->has_value() || **next > now) break;
                latest = **next;
            }
            return std::optional<int64_t>(latest);
        }
    }
    return NextFireAfter(s, std::max(floor, now), minute);
}

struct Claim {
    std::string holder;
    int64_t claimed = 0;
    std::string state;
};

std::optional<Claim> ParseClaim(std::string_view body) {
    rapidjson::Document d;
    if (!common::ParseJson(body, d).ok() || !d.IsObject()) return std::nullopt;
    Claim c;
    if (auto it = d.FindMember("holder"); it != d.MemberEnd() && it->value.IsString()) {
        c.holder = it->value.GetString();
    }
    if (auto it = d.FindMember("claimed"); it != d.MemberEnd() && it->value.IsInt64()) {
        c.claimed = it->value.GetInt64();
    }
    if (auto it = d.FindMember("state"); it != d.MemberEnd() && it->value.IsString()) {
        c.state = it->value.GetString();
    }
    return c;
}

/// The scheduled time of a claim id ("<ns>/<trigger>/<generation>/<15 digits>"), or -1.
int64_t ClaimSlot(std::string_view id) {
    const size_t slash = id.rfind('/');
    if (slash == std::string_view::npos) return -1;
    int64_t ms = 0;
    std::string_view digits = id.substr(slash + 1);
    if (digits.empty() || digits.size() > 18) return -1;
    for (char c : digits) {
        if (c < '0' || c > '9') return -1;
        ms = ms * 10 + (c - '0');
    }
    return ms;
}

std::string RandomHex(size_t n) {
    std::random_device rd;
    std::string out;
    static constexpr char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; ++i) out.push_back(kHex[rd() % 16]);
    return out;
}

bool Retryable(int http_status) {
    return http_status == 408 || http_status == 409 || http_status == 429 || http_status >= 500;
}

}  // namespace

AlarmScheduler::AlarmScheduler(store::ArtifactStore& store, common::Clock& clock, FireFn fire,
                               RateFn rate, AlarmSchedulerConfig config)
    : store_(store),
      clock_(clock),
      fire_(std::move(fire)),
      rate_(std::move(rate)),
      config_(std::move(config)),
      holder_(config_.controller_id + "/" + RandomHex(12)) {
    if (config_.poll.count() > 0) {
        loader_ = std::thread([this] { LoaderLoop(); });
        firer_ = std::thread([this] { FiringLoop(); });
    }
}

AlarmScheduler::~AlarmScheduler() { Stop(); }

void AlarmScheduler::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    fire_cv_.notify_all();
    loader_cv_.notify_all();
    if (loader_.joinable()) loader_.join();
    if (firer_.joinable()) firer_.join();
}

size_t AlarmScheduler::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

std::optional<int64_t> AlarmScheduler::ArmedSlot(const std::string& doc_id) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(doc_id);
    if (it == entries_.end()) return std::nullopt;
    return it->second.slot;
}

std::optional<int64_t> AlarmScheduler::NextDue() const {
    std::lock_guard lock(mu_);
    if (queue_.empty()) return std::nullopt;
    return queue_.top().due;
}

int64_t AlarmScheduler::fired() const {
    std::lock_guard lock(mu_);
    return fired_;
}

int64_t AlarmScheduler::given_up() const {
    std::lock_guard lock(mu_);
    return given_up_;
}

// ---- loading ---------------------------------------------------------------------------------

void AlarmScheduler::Reload(const std::string& doc_id) {
    {
        std::lock_guard lock(mu_);
        reloads_.insert(doc_id);
    }
    loader_cv_.notify_all();
}

void AlarmScheduler::RemoveLocked(const std::string& id) {
    entries_.erase(id);  // its queued items find no entry (or another token) and are dropped
}

void AlarmScheduler::ArmLocked(const std::string& id, Entry& e, int64_t now) {
    auto slot = DesiredSlot(e.s, e.floor, now, config_.minute);
    if (!slot.ok()) {
        spdlog::warn("alarm schedule {}: cannot compute its next firing: {}", id,
                     MessageOf(slot.status()));
        e.slot.reset();
        ++e.token;
        return;
    }
    if (*slot == e.slot) return;  // armed already (or never fires again, as before)
    e.slot = *slot;
    e.token = next_token_++;
    if (!e.slot) return;
    queue_.push(Item{.due = *e.slot,
                     .id = id,
                     .generation = e.s.generation,
                     .slot = *e.slot,
                     .kind = ItemKind::kSlot,
                     .token = e.token,
                     .attempt = std::make_shared<Attempt>(config_.store_backoff)});
    fire_cv_.notify_all();
}

void AlarmScheduler::UpsertLocked(const std::string& id, const std::string& rev, AlarmSchedule s,
                                  int64_t now) {
    if (!s.active) return RemoveLocked(id);
    auto it = entries_.find(id);
    if (it != entries_.end() && it->second.rev == rev) return;  // unchanged
    int64_t floor = std::max({s.last_fire_ms, s.created_ms, s.date_changed_ms});
    if (floor <= 0) floor = now;  // no history at all: nothing counts as missed
    if (it != entries_.end() && it->second.s.generation == s.generation) {
        floor = std::max(floor, it->second.floor);
    } else if (it != entries_.end()) {
        entries_.erase(it);  // a new generation (deleted and created again): a fresh entry
        it = entries_.end();
    }
    if (it == entries_.end()) it = entries_.emplace(id, Entry{}).first;
    Entry& e = it->second;
    e.rev = rev;
    e.s = std::move(s);
    e.floor = floor;
    ArmLocked(id, e, now);
}

absl::StatusOr<std::vector<store::SystemDoc>> AlarmScheduler::ListPage(const std::string& after) {
    return store_.ListSystemDocs(kAlarmDocKind, "", after, config_.page);
}

absl::Status AlarmScheduler::ReloadOne(const std::string& id) {
    auto doc = store_.GetSystemDoc(kAlarmDocKind, id);
    if (absl::IsNotFound(doc.status())) {
        std::lock_guard lock(mu_);
        RemoveLocked(id);
        return absl::OkStatus();
    }
    if (!doc.ok()) return doc.status();
    auto s = AlarmScheduleFromJson(doc->body);
    std::lock_guard lock(mu_);
    if (!s.ok()) {
        spdlog::warn("alarm schedule {} is ignored: {}", id, MessageOf(s.status()));
        RemoveLocked(id);
        return absl::OkStatus();
    }
    UpsertLocked(id, doc->rev, *std::move(s), clock_.NowMs());
    return absl::OkStatus();
}

absl::Status AlarmScheduler::Poll() {
    std::set<std::string> seen;
    std::string after;
    while (true) {
        auto page = ListPage(after);
        if (!page.ok()) return page.status();
        // Parse outside the lock the documents whose revision changed.
        std::vector<std::pair<const store::SystemDoc*, absl::StatusOr<AlarmSchedule>>> changed;
        {
            std::lock_guard lock(mu_);
            for (const auto& d : *page) {
                seen.insert(d.id);
                auto it = entries_.find(d.id);
                if (it != entries_.end() && it->second.rev == d.rev) continue;
                changed.emplace_back(&d, absl::StatusOr<AlarmSchedule>(AlarmSchedule{}));
            }
        }
        for (auto& [d, s] : changed) s = AlarmScheduleFromJson(d->body);
        {
            std::lock_guard lock(mu_);
            const int64_t now = clock_.NowMs();
            for (auto& [d, s] : changed) {
                if (!s.ok()) {
                    RemoveLocked(d->id);
                    continue;
                }
                UpsertLocked(d->id, d->rev, *std::move(s), now);
            }
            if (stopping_) return absl::OkStatus();
        }
        if (static_cast<int64_t>(page->size()) < config_.page) break;
        after = page->back().id;
    }
    std::set<std::string> reloads;
    {
        std::lock_guard lock(mu_);
        for (auto it = entries_.begin(); it != entries_.end();) {
            it = seen.count(it->first) ? std::next(it) : entries_.erase(it);
        }
        reloads.swap(reloads_);
    }
    absl::Status first;
    for (const auto& id : reloads) {
        if (auto st = ReloadOne(id); !st.ok()) {
            std::lock_guard lock(mu_);
            reloads_.insert(id);
            if (first.ok()) first = st;
        }
    }
    return first;
}

void AlarmScheduler::LoaderLoop() {
    using Steady = std::chrono::steady_clock;
    auto next_poll = Steady::now();
    auto next_sweep = Steady::now() + config_.sweep_first_delay;
    bool failing = false;
    while (true) {
        std::set<std::string> reloads;
        {
            std::unique_lock lock(mu_);
            loader_cv_.wait_until(lock, std::min(next_poll, next_sweep),
                                  [&] { return stopping_ || !reloads_.empty(); });
            if (stopping_) return;
            if (Steady::now() < next_poll) reloads.swap(reloads_);
        }
        absl::Status st;
        if (Steady::now() >= next_poll) {
            st = Poll();  // re-reads the pending ids too
            next_poll = Steady::now() + config_.poll;
        } else {
            for (const auto& id : reloads) {
                if (auto r = ReloadOne(id); !r.ok()) {
                    std::lock_guard lock(mu_);
                    reloads_.insert(id);  // the next poll retries it
                    st = r;
                }
            }
            if (!st.ok()) {
                // Wait for the next poll rather than spin on a store that fails.
                std::unique_lock lock(mu_);
                if (loader_cv_.wait_until(lock, next_poll, [&] { return stopping_; })) return;
            }
        }
        if (st.code() == absl::StatusCode::kUnimplemented) {
            spdlog::warn("alarm schedules do not fire: {}", MessageOf(st));
            return;
        }
        if (!st.ok() && !failing) {
            spdlog::warn("alarm schedules: loading failed (retrying every {} ms): {}",
                         config_.poll.count(), MessageOf(st));
        }
        failing = !st.ok();
        if (Steady::now() >= next_sweep) {
            auto swept = SweepClaims();
            if (!swept.ok()) {
                spdlog::warn(
                    "alarm claims sweep failed (next in {} s): {}",
                    std::chrono::duration_cast<std::chrono::seconds>(config_.sweep_interval)
                        .count(),
                    MessageOf(swept.status()));
            } else if (*swept > 0) {
                spdlog::info("alarm claims sweep: deleted {} claim(s)", *swept);
            }
            next_sweep = Steady::now() + config_.sweep_interval;
        }
    }
}

// ---- firing ----------------------------------------------------------------------------------

void AlarmScheduler::FiringLoop() {
    while (true) {
        {
            std::unique_lock lock(mu_);
            while (!stopping_) {
                if (queue_.empty()) {
                    fire_cv_.wait(lock);
                    continue;
                }
                const int64_t wait = queue_.top().due - clock_.NowMs();
                if (wait <= 0) break;
                fire_cv_.wait_for(lock, std::chrono::milliseconds(wait));
            }
            if (stopping_) return;
        }
        RunDue(config_.max_fires_per_wake);
    }
}

int AlarmScheduler::RunDue(int max_items) {
    int done = 0;
    while (max_items < 0 || done < max_items) {
        Item item;
        AlarmSchedule s;
        {
            std::lock_guard lock(mu_);
            if (stopping_ && config_.poll.count() > 0) break;
            if (queue_.empty() || queue_.top().due > clock_.NowMs()) break;
            item = queue_.top();
            queue_.pop();
            auto it = entries_.find(item.id);
            if (it == entries_.end() || it->second.s.generation != item.generation ||
                (item.kind == ItemKind::kSlot && it->second.token != item.token)) {
                continue;  // deleted, recreated or re-armed since: stale
            }
            s = it->second.s;
        }
        ++done;
        const Outcome out = Process(s, item.slot, *item.attempt);
        std::lock_guard lock(mu_);
        const int64_t now = clock_.NowMs();
        auto it = entries_.find(item.id);
        const bool current = it != entries_.end() && it->second.s.generation == item.generation;
        switch (out.kind) {
            case Outcome::kRetry:
                if (current) {
                    item.due = out.at;
                    queue_.push(item);
                }
                break;
            case Outcome::kTakeoverAt:
                if (current) {
                    // Watch the other holder's claim; meanwhile the next slots go on.
                    Item watch = item;
                    watch.kind = ItemKind::kTakeover;
                    watch.due = out.at;
                    watch.attempt = std::make_shared<Attempt>(config_.store_backoff);
                    queue_.push(std::move(watch));
                }
                [[fallthrough]];
            case Outcome::kDone:
                if (current) {
                    Entry& e = it->second;
                    e.floor = std::max(e.floor, item.slot);
                    if (item.kind == ItemKind::kSlot && e.token == item.token) {
                        e.slot.reset();  // ArmLocked queues the next one
                        ArmLocked(item.id, e, now);
                    }
                }
                break;
            case Outcome::kRemoved:
                if (current) RemoveLocked(item.id);
                break;
        }
    }
    return done;
}

std::string AlarmScheduler::ClaimBody(int64_t claimed_ms, const char* state) const {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("controller");
    w.String(config_.controller_id.c_str());
    w.Key("holder");
    w.String(holder_.c_str());
    w.Key("claimed");
    w.Int64(claimed_ms);
    w.Key("state");
    w.String(state);
    w.EndObject();
    return sb.GetString();
}

AlarmScheduler::Outcome AlarmScheduler::StoreRetry(const AlarmSchedule& s, int64_t slot,
                                                   Attempt& attempt, const absl::Status& st,
                                                   const char* what) {
    attempt.only_throttled = false;
    if (++attempt.tries >= config_.store_attempts) {
        spdlog::error("alarm {} slot {}: {} failed {} times, this firing is given up: {}",
                      s.DocId(), slot, what, attempt.tries, MessageOf(st));
        std::lock_guard lock(mu_);
        ++given_up_;
        return {Outcome::kDone};
    }
    const auto delay = attempt.backoff.Next();
    spdlog::warn("alarm {} slot {}: {} failed, retrying in {} ms: {}", s.DocId(), slot, what,
                 delay.count(), MessageOf(st));
    return {Outcome::kRetry, clock_.NowMs() + delay.count()};
}

AlarmScheduler::Outcome AlarmScheduler::ThrottleRetry(const AlarmSchedule& s, int64_t slot,
                                                      Attempt& attempt, const std::string& tid) {
    ++attempt.throttled;
    if (++attempt.tries > config_.max_retries) {
        if (attempt.only_throttled) {
            Disable(s, 429, std::string(kDisabledThrottled), tid);
            return {Outcome::kRemoved};
        }
        common::TidLog(tid).error("alarm {} slot {}: throttled, this firing is given up", s.DocId(),
                                  slot);
        std::lock_guard lock(mu_);
        ++given_up_;
        return {Outcome::kDone};
    }
    const int64_t n = attempt.throttled;
    const int64_t delay = std::max<int64_t>(1, n * n) * config_.throttle_unit.count();
    common::TidLog(tid).warn(
        "alarm {} slot {}: the namespace's fire rate is exhausted, retrying "
        "in {} ms",
        s.DocId(), slot, delay);
    return {Outcome::kRetry, clock_.NowMs() + delay};
}

AlarmScheduler::Outcome AlarmScheduler::Process(const AlarmSchedule& s, int64_t slot,
                                                Attempt& attempt) {
    const std::string tid = common::MakeTransactionId();
    const std::string claim_id = AlarmFireClaimId(s, slot);
    const int64_t now = clock_.NowMs();

    // 1. The claim: created only if absent; the holder's own, or a stale one taken over.
    std::string claim_rev;
    {
        store::SystemDoc claim{.kind = std::string(kAlarmFireDocKind),
                               .id = claim_id,
                               .body = ClaimBody(now, "claimed"),
                               .updated_ms = now};
        auto created = store_.PutSystemDoc(claim, "");
        if (created.ok()) {
            claim_rev = *created;
        } else if (absl::IsAlreadyExists(created.status())) {
            auto existing = store_.GetSystemDoc(kAlarmFireDocKind, claim_id);
            if (!existing.ok()) return StoreRetry(s, slot, attempt, existing.status(), "the claim");
            const std::optional<Claim> c = ParseClaim(existing->body);
            if (!c || c->state != "claimed") return {Outcome::kDone};  // fired by someone
            if (c->holder != holder_ && now - c->claimed < config_.lease.count()) {
                return {Outcome::kTakeoverAt, c->claimed + config_.lease.count()};
            }
            // Ours (a retry: renew it), or its holder died mid-firing: take it over.
            auto taken = store_.PutSystemDoc(claim, existing->rev);
            if (absl::IsAborted(taken.status())) {
                return {Outcome::kTakeoverAt, now + config_.lease.count()};  // someone else did
            }
            if (!taken.ok()) return StoreRetry(s, slot, attempt, taken.status(), "the claim");
            if (c->holder != holder_) {
                common::TidLog(tid).warn(
                    "alarm {} slot {}: took over the claim of {} (claimed {} ms ago)", s.DocId(),
                    slot, c->holder, now - c->claimed);
            }
            claim_rev = *taken;
        } else {
            return StoreRetry(s, slot, attempt, created.status(), "claiming the firing");
        }
    }
    const auto mark_fired = [&] {
        store::SystemDoc claim{.kind = std::string(kAlarmFireDocKind),
                               .id = claim_id,
                               .body = ClaimBody(clock_.NowMs(), "fired"),
                               .updated_ms = clock_.NowMs()};
        if (auto st = store_.PutSystemDoc(claim, claim_rev); !st.ok()) {
            // The claim stays "claimed": a taker-over fires the same id again, which is a no-op.
            common::TidLog(tid).warn("alarm {} slot {}: marking the claim fired failed: {}",
                                     s.DocId(), slot, MessageOf(st.status()));
        }
    };

    // 2. Who fires: the first identity of the namespace.
    auto identities = store_.ListIdentitiesInNamespace(s.namespace_name);
    if (!identities.ok()) {
        return StoreRetry(s, slot, attempt, identities.status(), "reading the namespace's keys");
    }
    if (identities->empty()) {
        mark_fired();
        Disable(s, 403, DisabledFiring(403), tid);
        return {Outcome::kRemoved};
    }
    const common::Identity& who = identities->front();

    // 3. The namespace's fire rate.
    if (rate_) {
        if (auto st = rate_(who); !st.ok()) {
            if (st.code() == absl::StatusCode::kResourceExhausted) {
                const Outcome out = ThrottleRetry(s, slot, attempt, tid);
                if (out.kind == Outcome::kRemoved) mark_fired();  // disabled: nobody takes over
                return out;
            }
            return StoreRetry(s, slot, attempt, st, "the fire-rate check");
        }
    }

    // 4. Fire with the slot's id and the schedule annotation.
    FireRequest req;
    req.who = who;
    req.trigger = common::FullyQualifiedName{common::EntityPath({s.namespace_name}), s.trigger};
    req.args = s.payload;
    req.tid = tid;
    req.received_ms = clock_.NowMs();
    req.activation_id = AlarmFireActivationId(s, slot);
    req.annotations.Set(
        "schedule", common::JsonValue::Parse(fmt::format(R"({{"feed":"/whisk.system/alarms/{}",)"
                                                         R"("scheduledTime":{}}})",
                                                         AlarmFeedName(s.kind), slot))
                        .value());
    const FireOutcome fired = fire_(req);
    if (!fired.status.ok()) {
        const int code = common::HttpStatusFor(fired.status);
        if (code == 429) {
            const Outcome out = ThrottleRetry(s, slot, attempt, tid);
            if (out.kind == Outcome::kRemoved) mark_fired();
            return out;
        }
        if (Retryable(code)) return StoreRetry(s, slot, attempt, fired.status, "firing");
        common::TidLog(tid).warn("alarm {} slot {}: firing failed ({}): {}; disabled", s.DocId(),
                                 slot, code, MessageOf(fired.status));
        mark_fired();
        Disable(s, code, DisabledFiring(code), tid);
        return {Outcome::kRemoved};
    }
    if (!fired.already_fired) {
        common::TidLog(tid).debug("alarm {} fired for {} ({})", s.DocId(), slot,
                                  fired.fired ? fired.activation_id.str() : "no active rule");
    }
    {
        std::lock_guard lock(mu_);
        ++fired_;
    }

    // 5. The claim is done; the schedule records the firing.
    mark_fired();
    return AfterFire(s, slot, tid);
}

bool AlarmScheduler::Disable(const AlarmSchedule& s, int status_code, const std::string& message,
                             const std::string& tid) {
    for (int i = 0; i < 10; ++i) {
        auto doc = store_.GetSystemDoc(kAlarmDocKind, s.DocId());
        if (absl::IsNotFound(doc.status())) return true;  // deleted meanwhile
        if (!doc.ok()) {
            common::TidLog(tid).error("alarm {}: disabling it failed: {}", s.DocId(),
                                      MessageOf(doc.status()));
            return false;
        }
        auto cur = AlarmScheduleFromJson(doc->body);
        if (!cur.ok() || cur->generation != s.generation) return true;  // replaced meanwhile
        cur->active = false;
        cur->reason = AlarmStatusReason{
            .kind = "AUTO",
            .status_code = status_code > 0 ? std::optional<int>(status_code) : std::nullopt,
            .message = message};
        cur->date_changed_ms = clock_.NowMs();
        store::SystemDoc out{.kind = std::string(kAlarmDocKind),
                             .id = s.DocId(),
                             .body = AlarmScheduleToJson(*cur),
                             .updated_ms = clock_.NowMs()};
        auto put = store_.PutSystemDoc(out, doc->rev);
        if (put.ok()) {
            common::TidLog(tid).info("alarm {} disabled: {}", s.DocId(), message);
            return true;
        }
        if (!absl::IsAborted(put.status())) {
            common::TidLog(tid).error("alarm {}: disabling it failed: {}", s.DocId(),
                                      MessageOf(put.status()));
            return false;
        }
    }
    return false;
}

void AlarmScheduler::DeleteTriggerAndRules(const AlarmSchedule& s, bool rules,
                                           const std::string& tid) {
    const common::FullyQualifiedName fqn{common::EntityPath({s.namespace_name}), s.trigger};
    auto trigger = store_.Get<common::Trigger>(fqn);
    if (!trigger.ok()) {
        if (!absl::IsNotFound(trigger.status())) {
            common::TidLog(tid).error("alarm {}: deleting the trigger after firing once failed: {}",
                                      s.DocId(), MessageOf(trigger.status()));
        }
        return;
    }
    if (auto st = store_.DeleteEntity(common::EntityType::kTrigger, fqn, "");
        !st.ok() && !absl::IsNotFound(st)) {
        common::TidLog(tid).error("alarm {}: deleting the trigger after firing once failed: {}",
                                  s.DocId(), MessageOf(st));
        return;
    }
    if (!rules) return;
    for (const auto& [rule_id, link] : trigger->doc.rules) {
        auto rule = common::FullyQualifiedName::Parse("/" + rule_id, s.namespace_name);
        if (!rule.ok()) continue;
        if (auto st = store_.DeleteEntity(common::EntityType::kRule, *rule, "");
            !st.ok() && !absl::IsNotFound(st)) {
            common::TidLog(tid).error("alarm {}: deleting rule {} after firing once failed: {}",
                                      s.DocId(), rule_id, MessageOf(st));
        }
    }
}

AlarmScheduler::Outcome AlarmScheduler::AfterFire(const AlarmSchedule& s, int64_t slot,
                                                  const std::string& tid) {
    for (int i = 0; i < 10; ++i) {
        auto doc = store_.GetSystemDoc(kAlarmDocKind, s.DocId());
        if (absl::IsNotFound(doc.status())) return {Outcome::kRemoved};
        if (!doc.ok()) {
            // The claim says "fired": a reload that still sees the slot as missed finds it.
            common::TidLog(tid).warn("alarm {} slot {}: recording the firing failed: {}", s.DocId(),
                                     slot, MessageOf(doc.status()));
            return {Outcome::kDone};
        }
        auto cur = AlarmScheduleFromJson(doc->body);
        if (!cur.ok() || cur->generation != s.generation) return {Outcome::kRemoved};
        if (slot > cur->last_fire_ms) {
            cur->last_fire_ms = slot;
            ++cur->fires;
        }
        bool ended = false;
        if (cur->kind == AlarmKind::kOnce) {
            if (cur->delete_after_fire != DeleteAfterFire::kNo) {
                DeleteTriggerAndRules(
                    *cur, cur->delete_after_fire == DeleteAfterFire::kTriggerAndRules, tid);
                auto st = store_.DeleteSystemDoc(kAlarmDocKind, s.DocId(), doc->rev);
                if (absl::IsAborted(st)) continue;
                if (!st.ok() && !absl::IsNotFound(st)) {
                    common::TidLog(tid).error("alarm {}: deleting the schedule failed: {}",
                                              s.DocId(), MessageOf(st));
                }
                common::TidLog(tid).info(
                    "alarm {} fired once: trigger{} deleted", s.DocId(),
                    cur->delete_after_fire == DeleteAfterFire::kTrigger ? "" : " and its rules");
                return {Outcome::kRemoved};
            }
            cur->active = false;
            cur->reason = AlarmStatusReason{.kind = "AUTO", .message = std::string(kDisabledOnce)};
            ended = true;
        } else {
            auto next = NextFireAfter(*cur, slot, config_.minute);
            if (next.ok() && !next->has_value()) {
                cur->active = false;
                const bool max_reached = cur->max_triggers >= 0 && cur->fires >= cur->max_triggers;
                cur->reason =
                    AlarmStatusReason{.kind = "AUTO",
                                      .message = std::string(max_reached ? kDisabledMaxTriggers
                                                             : cur->kind == AlarmKind::kInterval
                                                                 ? kDisabledLastInterval
                                                                 : kDisabledLastCron)};
                ended = true;
            }
        }
        if (ended) cur->date_changed_ms = clock_.NowMs();
        store::SystemDoc out{.kind = std::string(kAlarmDocKind),
                             .id = s.DocId(),
                             .body = AlarmScheduleToJson(*cur),
                             .updated_ms = clock_.NowMs()};
        auto put = store_.PutSystemDoc(out, doc->rev);
        if (absl::IsAborted(put.status())) continue;  // another writer won: read again
        if (!put.ok()) {
            common::TidLog(tid).warn("alarm {} slot {}: recording the firing failed: {}", s.DocId(),
                                     slot, MessageOf(put.status()));
            return {Outcome::kDone};
        }
        if (ended) {
            common::TidLog(tid).info("alarm {} disabled: {}", s.DocId(), cur->reason->message);
            return {Outcome::kRemoved};
        }
        std::lock_guard lock(mu_);
        if (auto it = entries_.find(s.DocId());
            it != entries_.end() && it->second.s.generation == cur->generation) {
            it->second.rev = *put;  // our own write: no re-parse at the next poll
            it->second.s = *std::move(cur);
        }
        return {Outcome::kDone};
    }
    common::TidLog(tid).warn(
        "alarm {} slot {}: recording the firing lost 10 races; the next "
        "firing records it",
        s.DocId(), slot);
    return {Outcome::kDone};
}

// ---- claims sweep ----------------------------------------------------------------------------

absl::StatusOr<int64_t> AlarmScheduler::SweepClaims() {
    const int64_t cutoff = clock_.NowMs() - config_.claim_retention.count();
    int64_t deleted = 0;
    std::string after;
    while (true) {
        auto page = store_.ListSystemDocs(kAlarmFireDocKind, "", after, config_.sweep_batch);
        if (!page.ok()) return page.status();
        if (page->empty()) break;
        std::string next_after = page->back().id;
        for (const auto& d : *page) {
            int64_t slot = ClaimSlot(d.id);
            if (slot < 0) slot = d.updated_ms;
            if (slot >= cutoff) {
                // Claim ids sort by time within one schedule generation: skip the rest of it.
                const std::string group = d.id.substr(0, d.id.rfind('/'));
                next_after = group + "/~";
                break;
            }
            auto st = store_.DeleteSystemDoc(kAlarmFireDocKind, d.id, d.rev);
            if (st.ok()) {
                ++deleted;
            } else if (!absl::IsNotFound(st) && !absl::IsAborted(st)) {
                return st;
            }
        }
        {
            std::unique_lock lock(mu_);
            if (stopping_) break;
            if (config_.sweep_pause.count() > 0 && config_.poll.count() > 0 &&
                loader_cv_.wait_for(lock, config_.sweep_pause, [&] { return stopping_; })) {
                break;
            }
        }
        if (next_after <= after) break;  // no progress (cannot happen with sorted pages)
        after = std::move(next_after);
    }
    return deleted;
}

}  // namespace wisp::controller
