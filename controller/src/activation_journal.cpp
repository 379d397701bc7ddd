// ActivationJournal: accepted activations journaled in the store; the sweeper removes the
// recorded ones and recovers the ones an earlier process left (see the header for the rule).
#include "activation_journal.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <wisp/common/exec.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::controller {

using common::ActivationRecord;
using common::ActivationResponse;
using common::ActivationStatus;

struct ActivationJournal::Slot {
    bool done = false;
    absl::Status status;
};

namespace {

bool IsSequenceRecord(const ActivationRecord& r) {
    const common::JsonValue* kind = r.annotations.Get("kind");
    return kind != nullptr && kind->IsString() && kind->AsString() == common::kSequenceKind;
}

}  // namespace

ActivationJournal::ActivationJournal(store::ArtifactStore& store, common::Clock& clock,
                                     ActivationJournalConfig config)
    : store_(store), clock_(clock), config_(std::move(config)) {
    if (config_.sweep_interval.count() > 0) sweeper_ = std::thread([this] { SweeperLoop(); });
}

ActivationJournal::~ActivationJournal() { Stop(); }

void ActivationJournal::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (sweeper_.joinable() && sweeper_.get_id() != std::this_thread::get_id()) sweeper_.join();
}

size_t ActivationJournal::pending() const {
    std::lock_guard lock(mu_);
    return tracked_.size();
}

absl::Status ActivationJournal::Accept(ActivationRecord pending, int64_t recover_after_ms,
                                       bool sequence) {
    auto slot = std::make_shared<Slot>();
    const std::string id = sequence ? pending.activation_id.str() : std::string();
    std::unique_lock lock(mu_);
    {
        // The record is not copied: it moves into the entry, to the store and into tracked_.
        store::JournalEntry& entry = queued_.emplace_back(store::JournalEntry{}, slot).first;
        entry.controller = config_.controller_id;
        entry.record = std::move(pending);
        entry.recover_after_ms = recover_after_ms;
    }
    // Group commit: the first caller to find no write under way writes everything queued.
    while (!slot->done) {
        if (writing_) {
            cv_.wait(lock);
            continue;
        }
        writing_ = true;
        auto batch = std::move(queued_);
        queued_.clear();
        lock.unlock();
        std::vector<store::JournalEntry> entries;
        entries.reserve(batch.size());
        for (auto& b : batch) entries.push_back(std::move(b.first));
        absl::Status st = store_.PutJournalEntries(entries);
        if (!st.ok() && st.code() != absl::StatusCode::kInvalidArgument) {
            st = absl::UnavailableError(
                common::Cat("The activation could not be journaled: ", common::MessageOf(st)));
        }
        lock.lock();
        const int64_t now = clock_.NowMs();
        for (size_t i = 0; i < batch.size(); ++i) {
            batch[i].second->done = true;
            batch[i].second->status = st;
            if (st.ok()) {
                const bool seq = IsSequenceRecord(entries[i].record);
                std::string id = entries[i].record.activation_id.str();
                tracked_[std::move(id)] = Tracked{std::move(entries[i]), now, seq, false};
            }
        }
        writing_ = false;
        cv_.notify_all();
    }
    if (slot->status.ok() && sequence) tracked_[id].sequence = true;
    return slot->status;
}

void ActivationJournal::Update(const ActivationRecord& pending) {
    std::vector<store::JournalEntry> entries;
    {
        std::lock_guard lock(mu_);
        auto it = tracked_.find(pending.activation_id.str());
        if (it == tracked_.end()) return;
        it->second.entry.record = pending;
        entries.push_back(it->second.entry);
    }
    if (auto st = store_.PutJournalEntries(entries); !st.ok()) {
        spdlog::warn("journal: progress of {} not saved: {}", pending.activation_id.str(),
                     common::MessageOf(st));
        return;
    }
    std::lock_guard lock(mu_);
    auto it = tracked_.find(pending.activation_id.str());
    if (it != tracked_.end()) it->second.entry.rev = entries[0].rev;
}

void ActivationJournal::Done(const common::ActivationId& id) {
    std::unique_lock lock(mu_);
    auto it = tracked_.find(id.str());
    if (it == tracked_.end()) return;
    if (it->second.final_record) --records_to_store_;
    to_remove_.push_back(std::move(it->second.entry));
    tracked_.erase(it);
    // Group commit: the first caller to find no removal under way removes everything queued
    // meanwhile in one store call (a few rounds at most; the sweeper takes what is left). The
    // others return at once: a removal that comes late (or never, on a crash) is harmless —
    // the entry's record exists, so a later pass or start removes it.
    if (removing_) return;
    RemoveQueued(lock, kMaxRemoveRounds);
}

void ActivationJournal::RemoveQueued(std::unique_lock<std::mutex>& lock, int max_rounds) {
    removing_ = true;
    for (int round = 0; round < max_rounds && !to_remove_.empty(); ++round) {
        std::vector<store::JournalEntry> batch = std::move(to_remove_);
        to_remove_.clear();
        lock.unlock();
        if (auto st = store_.RemoveJournalEntries(batch); !st.ok()) {
            // Harmless: a later start finds the records and removes the entries then.
            spdlog::warn("journal: {} entr{} (first {}) not removed: {}", batch.size(),
                         batch.size() == 1 ? "y" : "ies", batch[0].record.activation_id.str(),
                         common::MessageOf(st));
        }
        lock.lock();
    }
    removing_ = false;
}

void ActivationJournal::StoreLater(const ActivationRecord& record) {
    std::vector<store::JournalEntry> entries;
    {
        std::lock_guard lock(mu_);
        if (records_to_store_ >= config_.max_records_to_store) {
            spdlog::error(
                "journal: {} records wait for the store already; activation {} is "
                "lost (is the store running?)",
                records_to_store_, record.activation_id.str());
            return;
        }
        Tracked& t = tracked_[record.activation_id.str()];
        if (!t.final_record) ++records_to_store_;
        t.entry.controller = config_.controller_id;
        t.entry.record = record;
        t.final_record = true;
        t.accepted_ms = 0;
        entries.push_back(t.entry);
    }
    // Best effort: with the final record journaled, a restart stores it too (the store is
    // likely down right now, and then this fails as well).
    (void)store_.PutJournalEntries(entries);
}

absl::Status ActivationJournal::WriteRecord(const Tracked& t, std::string_view message) {
    const ActivationRecord& pending = t.entry.record;
    auto existing = store_.HasActivation(pending.namespace_path.ToString(), pending.activation_id);
    if (!existing.ok()) return existing.status();
    if (*existing) return absl::OkStatus();
    if (t.final_record) {
        absl::Status st = store_.CreateActivation(pending);
        return st.code() == absl::StatusCode::kAlreadyExists ? absl::OkStatus() : st;
    }
    ActivationRecord rec = pending;
    rec.end_ms = std::max(clock_.NowMs(), rec.start_ms);
    if (t.sequence && !rec.logs.empty()) {
        rec.response = ActivationResponse::Error(
            ActivationStatus::kWhiskError,
            common::Cat(message, " The sequence stopped after ", rec.logs.size(),
                        rec.logs.size() == 1 ? " component" : " components",
                        " (their activation ids are in its logs)."));
    } else {
        rec.response =
            ActivationResponse::Error(ActivationStatus::kWhiskError, std::string(message));
    }
    // Create-only: a real record that lands meanwhile wins (AlreadyExists).
    absl::Status st = store_.CreateActivation(rec);
    if (st.code() == absl::StatusCode::kAlreadyExists) return absl::OkStatus();
    if (st.ok()) {
        spdlog::warn("journal: activation {} ({}) had no record: stored one ({})",
                     rec.activation_id.str(), rec.name, message);
    }
    return st;
}

absl::Status ActivationJournal::RecoverEarlierProcess() {
    auto entries = store_.ListJournalEntries(config_.controller_id, 0);
    if (!entries.ok()) return entries.status();
    std::lock_guard lock(mu_);
    for (auto& e : *entries) {
        const std::string id = e.record.activation_id.str();
        if (tracked_.count(id) > 0) continue;  // accepted by this process already
        Tracked t{e, 0, IsSequenceRecord(e.record), true};
        tracked_.emplace(id, std::move(t));
    }
    if (!entries->empty()) {
        spdlog::info(
            "journal: {} activation(s) accepted by an earlier process of controller {} to check",
            entries->size(), config_.controller_id);
    }
    recovered_ = true;
    return absl::OkStatus();
}

absl::Status ActivationJournal::Sweep() {
    std::lock_guard sweep_lock(sweep_mu_);
    bool first = false;
    {
        std::lock_guard lock(mu_);
        first = !recovered_;
    }
    if (first) WISP_RETURN_IF_ERROR(RecoverEarlierProcess());
    {
        std::unique_lock lock(mu_);  // removals Done() left behind
        if (!removing_ && !to_remove_.empty()) RemoveQueued(lock, 1);
    }

    const int64_t now = clock_.NowMs();
    std::vector<std::string> ids;  // what to look at: accepted before min_age, or to recover
    {
        std::lock_guard lock(mu_);
        for (const auto& [id, t] : tracked_) {
            if (!t.final_record && !t.earlier_process) {
                if (t.sequence) continue;  // this process stores it (Done or StoreLater)
                if (now - t.accepted_ms < config_.min_age.count()) continue;
            }
            ids.push_back(id);
        }
    }
    if (ids.empty()) return absl::OkStatus();
    // Where the record's write removes its entry (SQLite), an entry of this process gone from
    // the store is recorded: forget it without looking anything up. It was in the store when
    // it was tracked (Accept tracks after the commit) and only a record write or this
    // controller removes it. Entries still there take the lookups below.
    std::unordered_set<std::string> in_store;
    bool listed = false;
    if (list_ids_) {
        auto listed_ids = store_.ListJournalIds(config_.controller_id);
        if (listed_ids.ok()) {
            listed = true;
            in_store.reserve(listed_ids->size());
            for (std::string& id : *listed_ids) in_store.insert(std::move(id));
        } else if (listed_ids.status().code() == absl::StatusCode::kUnimplemented) {
            list_ids_ = false;  // records never remove entries in this store
        } else {
            return listed_ids.status();  // the store is down: try again next time
        }
    }
    std::vector<Tracked> candidates;
    {
        std::lock_guard lock(mu_);
        for (const std::string& id : ids) {
            auto it = tracked_.find(id);
            if (it == tracked_.end()) continue;  // Done() meanwhile
            const Tracked& t = it->second;
            if (listed && !t.final_record && !t.earlier_process && in_store.count(id) == 0) {
                tracked_.erase(it);
                continue;
            }
            candidates.push_back(t);
        }
    }
    std::vector<store::JournalEntry> finished;
    absl::Status result;
    for (const Tracked& t : candidates) {
        const ActivationRecord& r = t.entry.record;
        // Existence only: reading and parsing each record cost ~10 % of a warm invoke.
        auto existing = store_.HasActivation(r.namespace_path.ToString(), r.activation_id);
        if (!existing.ok()) {
            result = existing.status();
            break;  // the store is down: try again next time
        }
        if (*existing) {
            finished.push_back(t.entry);
            continue;
        }
        std::string_view message;
        if (t.final_record) {
            message = "stored late";
        } else if (t.earlier_process && (config_.recover_all_at_start || t.sequence)) {
            message = kMsgInterruptedByRestart;
        } else if (t.entry.recover_after_ms > 0 && now >= t.entry.recover_after_ms) {
            message = t.earlier_process ? kMsgInterruptedByRestart : kMsgNoRecordByDeadline;
        } else {
            continue;  // an invoker may still run it
        }
        if (auto st = WriteRecord(t, message); !st.ok()) {
            result = st;
            break;
        }
        finished.push_back(t.entry);
    }
    // In small batches: each removal is one write transaction, and the request path's Accept
    // waits for the write under way. A second's worth of entries in one (≈ 2,000 at one
    // client's rate) held the writer for milliseconds once a second.
    const size_t batch_size = std::max<size_t>(1, config_.sweep_remove_batch);
    for (size_t first = 0; first < finished.size(); first += batch_size) {
        const size_t last = std::min(finished.size(), first + batch_size);
        const std::vector<store::JournalEntry> batch(finished.begin() + first,
                                                     finished.begin() + last);
        if (auto st = store_.RemoveJournalEntries(batch); !st.ok()) return st;
        std::lock_guard lock(mu_);
        for (const auto& e : batch) {
            auto it = tracked_.find(e.record.activation_id.str());
            if (it == tracked_.end()) continue;
            if (it->second.final_record) --records_to_store_;
            tracked_.erase(it);
        }
    }
    return result;
}

void ActivationJournal::SweeperLoop() {
    bool logged = false;
    while (true) {
        absl::Status st = Sweep();
        if (!st.ok() && !logged) {
            spdlog::warn("journal: sweep failed (will retry every {} ms): {}",
                         config_.sweep_interval.count(), common::MessageOf(st));
            logged = true;
        } else if (st.ok() && logged) {
            spdlog::info("journal: sweep works again");
            logged = false;
        }
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, config_.sweep_interval, [&] { return stopping_; })) return;
    }
}

}  // namespace wisp::controller
