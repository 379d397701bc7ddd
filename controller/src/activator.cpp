// Activator: publishes activations through the LoadBalancer and waits for their results;
// runs sequences (OpenWhisk's SequenceActions); the invocation throttles.
#include "activator.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

#include "replier.hpp"

namespace wisp::controller {

using common::ActivationRecord;
using common::ActivationStatus;
using common::FullyQualifiedName;
using common::JsonValue;
using common::Parameters;

namespace {

constexpr int kMaxSequenceDepth = 50;
/// Nested sequence activations per topmost sequence. Atomic actions are bounded by
/// SystemLimits::sequence_max_length; this bounds sequences that nest sequences without atomic
/// actions (only a document written to the store directly can be one), which would otherwise
/// multiply at every level.
constexpr int64_t kMaxNestedSequences = 50 * kMaxSequenceDepth;
constexpr std::string_view kMsgSequenceTooLong = "Too many actions in the sequence.";

bool IsBlackboxToPull(const common::Action& a, const common::RuntimeManifest& m) {
    const auto* bb = std::get_if<common::BlackboxExec>(&a.exec);
    return bb != nullptr && m.FindBlackbox(bb->image) == nullptr;
}

void FillIdentity(const common::Identity& who, wisp::v1::Identity& out) {
    out.set_subject(who.subject);
    out.set_namespace_name(who.namespace_name);
    out.set_namespace_uuid(who.auth.uuid);
    out.mutable_auth()->set_uuid(who.auth.uuid);
    out.mutable_auth()->set_key(who.auth.key);
    for (auto r : who.rights) {
        switch (r) {
            case common::Privilege::kRead:
                out.add_rights("READ");
                break;
            case common::Privilege::kPut:
                out.add_rights("PUT");
                break;
            case common::Privilege::kDelete:
                out.add_rights("DELETE");
                break;
            case common::Privilege::kActivate:
                out.add_rights("ACTIVATE");
                break;
            case common::Privilege::kReject:
                out.add_rights("REJECT");
                break;
        }
    }
    auto* l = out.mutable_limits();
    if (who.limits.invocations_per_minute) {
        l->set_invocations_per_minute(*who.limits.invocations_per_minute);
    }
    if (who.limits.concurrent_invocations) {
        l->set_concurrent_invocations(*who.limits.concurrent_invocations);
    }
    if (who.limits.fires_per_minute) l->set_fires_per_minute(*who.limits.fires_per_minute);
    if (who.limits.store_activations) l->set_store_activations(*who.limits.store_activations);
    if (who.limits.allowed_kinds) {
        for (const auto& k : *who.limits.allowed_kinds) l->add_allowed_kinds(k);
    }
}

}  // namespace

/// `params` overlaid by the members of `args` (an object); an array passes through as is.
std::string MergeArguments(const Parameters& params, const std::optional<JsonValue>& args) {
    if (!args) return params.ToObjectJson();
    if (!args->IsObject()) return args->text();
    auto overrides = Parameters::FromObjectJson(args->text());
    if (!overrides.ok()) return args->text();
    return params.Merge(*overrides).ToObjectJson();
}

/// The parameters an action's arguments start from (a sequence's `_actions` stays out).
Parameters ArgumentParams(const common::Action& a) {
    if (!std::holds_alternative<common::SequenceExec>(a.exec)) return a.parameters;
    Parameters p = a.parameters;
    p.Remove("_actions");
    return p;
}

absl::StatusOr<int32_t> Activator::PublishKeepWarm(const common::Identity& who,
                                                   const common::Action& action,
                                                   const std::string& revision, int count,
                                                   std::chrono::milliseconds ttl) {
    wisp::v1::ActivationMessage msg;
    const std::string id = common::ActivationId::Generate().str();
    msg.mutable_transid()->set_id("sid_keepWarm");
    msg.mutable_transid()->set_start_ms(clock_.NowMs());
    auto* ref = msg.mutable_action();
    ref->set_path(action.namespace_path.ToString());
    ref->set_name(action.name);
    ref->set_version(action.version.ToString());
    msg.set_revision(revision);
    FillIdentity(who, *msg.mutable_user());
    msg.set_activation_id(id);
    msg.mutable_root_controller_index()->set_as_string(config_.controller_id);
    msg.mutable_keep_warm()->set_count(count);
    msg.mutable_keep_warm()->set_ttl_ms(ttl.count());
    loadbalancer::ActionPlacement placement;
    placement.memory_mb = action.limits.memory_mb;
    placement.max_concurrency = static_cast<int32_t>(action.limits.concurrency);
    placement.fqn = action.Fqn().DocId();
    placement.blackbox = IsBlackboxToPull(action, manifest_);
    placement.timeout = std::chrono::milliseconds(action.limits.timeout_ms);
    return balancer_.PublishKeepWarm(placement, std::move(msg));
}

void Activator::Shutdown() {
    if (shutting_down_.exchange(true)) return;
    timers_.Stop();  // waiting blocking invokes answer 202 now
}

// ---- throttles -------------------------------------------------------------------------------

absl::Status Activator::CheckInvokeThrottles(const common::Identity& who) {
    const auto& sys = config_.system_limits;
    const int controllers = config_.cluster_size ? config_.cluster_size() : 1;
    const int64_t per_minute = ClusterShare(
        who.limits.invocations_per_minute.value_or(sys.invocations_per_minute), controllers);
    if (auto st = invoke_rate_.Check(who.namespace_name, per_minute, clock_.NowMs()); !st.ok()) {
        metrics_.CountThrottled("rate");
        return st;
    }
    const int64_t concurrent = ClusterShare(
        who.limits.concurrent_invocations.value_or(sys.concurrent_invocations), controllers);
    if (auto st = CheckConcurrency(balancer_.ActiveActivationsFor(who.auth.uuid), concurrent);
        !st.ok()) {
        metrics_.CountThrottled("concurrency");
        return st;
    }
    return absl::OkStatus();
}

// ---- Activate --------------------------------------------------------------------------------

void Activator::Activate(ActivateRequest req, ActivateDone done) {
    const common::Action& action = req.resolved.action;
    const common::ActivationId id =
        req.activation_id ? *req.activation_id : common::ActivationId::Generate();

    wisp::v1::ActivationMessage msg;
    msg.mutable_transid()->set_id(req.tid);
    msg.mutable_transid()->set_start_ms(req.received_ms);
    auto* ref = msg.mutable_action();
    ref->set_path(action.namespace_path.ToString());
    ref->set_name(action.name);
    ref->set_version(action.version.ToString());
    ref->set_binding(req.resolved.binding);
    msg.set_revision(req.resolved.revision);
    FillIdentity(req.user, *msg.mutable_user());
    msg.set_activation_id(id.str());
    msg.mutable_root_controller_index()->set_as_string(config_.controller_id);
    msg.set_blocking(req.blocking);
    msg.set_content_json(req.content_json);
    for (auto& k : action.parameters.InitKeys()) msg.add_init_args(k);
    if (req.cause) msg.set_cause(req.cause->str());
    msg.set_wait_start_ms(req.received_ms);

    loadbalancer::ActionPlacement placement;
    placement.memory_mb = action.limits.memory_mb;
    placement.max_concurrency = static_cast<int32_t>(action.limits.concurrency);
    placement.fqn = action.Fqn().DocId();
    placement.blackbox = IsBlackboxToPull(action, manifest_);
    placement.timeout = std::chrono::milliseconds(action.limits.timeout_ms);

    // The journal: written before the caller can learn the id, removed once the record exists.
    bool journaled = false;
    if (journal_ != nullptr && config_.journal_atomic &&
        req.user.limits.store_activations.value_or(true)) {
        ActivationRecord pending;
        pending.namespace_path = common::EntityPath({req.user.namespace_name});
        pending.name = action.name;
        pending.subject = req.user.subject;
        pending.activation_id = id;
        pending.cause = req.cause;
        pending.start_ms = req.received_ms > 0 ? req.received_ms : clock_.NowMs();
        pending.version = action.version;
        pending.publish = false;
        pending.annotations.Set("path", JsonValue::String(action.Fqn().DocId()));
        if (req.cause) pending.annotations.Set("causedBy", JsonValue::String("sequence"));
        const int64_t deadline =
            clock_.NowMs() + loadbalancer::CompletionTimeout(placement.timeout).count();
        if (auto st = journal_->Accept(std::move(pending), deadline, false); !st.ok()) {
            common::TidLog(req.tid).warn("activation {} refused: {}", id.str(),
                                         common::MessageOf(st));
            ActivateOutcome out;
            out.status = st;
            out.activation_id = id;
            done(std::move(out));
            return;
        }
        journaled = true;
    }

    // Every activation is counted when its outcome arrives (blocking or not, a sequence's
    // component, a rule's), not when a caller is answered.
    auto count = [this, ns = req.user.namespace_name,
                  name = action.name](const loadbalancer::ActivationResult& result) {
        CountOutcome(ns, name, result);
    };
    if (!req.blocking) {
        auto st =
            balancer_.Publish(placement, std::move(msg),
                              [count](loadbalancer::ActivationResult result) { count(result); });
        if (!st.ok() && journaled) journal_->Done(id);
        ActivateOutcome out;
        out.status = st;
        out.activation_id = id;
        done(std::move(out));
        return;
    }

    struct Wait {
        std::atomic<bool> finished{false};
        TimerQueue::TimerId timer = 0;
        ActivateDone done;
        common::ActivationId id;
        std::string ns;
        std::string tid;
    };
    auto wait = std::make_shared<Wait>();
    wait->done = std::move(done);
    wait->id = id;
    wait->ns = req.user.namespace_name;
    wait->tid = req.tid;

    auto finish = [wait](std::optional<ActivationRecord> record, absl::Status st) {
        if (wait->finished.exchange(true)) return;
        ActivateOutcome out;
        out.status = std::move(st);
        out.activation_id = wait->id;
        out.record = std::move(record);
        auto done = std::move(wait->done);
        done(std::move(out));
    };

    wait->timer = timers_.Schedule(req.wait, [finish] { finish(std::nullopt, absl::OkStatus()); });

    auto on_result = [this, wait, finish, count](loadbalancer::ActivationResult result) {
        count(result);
        timers_.Cancel(wait->timer);
        if (!result.status.ok()) {
            // Forced completion or shutdown: the caller gets the id (202) and may poll.
            common::TidLog(wait->tid).warn("activation {} has no result: {}", wait->id.str(),
                                           common::MessageOf(result.status));
            return finish(std::nullopt, absl::OkStatus());
        }
        if (!result.record_in_store) return finish(std::move(result.record), absl::OkStatus());
        // The ack was too large for the bus: the invoker stores the record after completion.
        std::shared_ptr<std::function<void(int)>> poll =
            std::make_shared<std::function<void(int)>>();
        // The closure holds itself weakly (a strong self-reference would leak); the pending
        // timer holds it strongly.
        *poll = [this, wait, finish, weak_poll = std::weak_ptr(poll)](int attempt) {
            auto poll = weak_poll.lock();
            if (!poll || wait->finished.load()) return;
            auto rec = store_.GetActivation(wait->ns, wait->id);
            if (rec.ok()) return finish(*std::move(rec), absl::OkStatus());
            if (attempt >= 40) return finish(std::nullopt, absl::OkStatus());
            timers_.Schedule(std::chrono::milliseconds(50 * (attempt + 1)),
                             [poll, attempt] { (*poll)(attempt + 1); });
        };
        (*poll)(0);
    };

    auto st = balancer_.Publish(placement, std::move(msg), std::move(on_result));
    if (!st.ok()) {
        if (journaled) journal_->Done(id);
        timers_.Cancel(wait->timer);
        finish(std::nullopt, st);
    }
}

void Activator::CountOutcome(const std::string& ns, const std::string& action,
                             const loadbalancer::ActivationResult& result) {
    ActivationStatus status = ActivationStatus::kSuccess;
    if (!result.status.ok()) {
        // Completed by force (its record: a whisk internal error); at shutdown the outcome is
        // unknown (the invoker may still finish it): not counted.
        if (result.status.code() != absl::StatusCode::kDeadlineExceeded) return;
        status = ActivationStatus::kWhiskError;
    } else if (result.record) {
        status = result.record->response.status;
    } else if (result.response_status) {
        status = *result.response_status;
    } else if (result.is_system_error) {
        status = ActivationStatus::kWhiskError;
    }
    metrics_.CountActivation(ns, action, status);
}

// ---- forced completion -----------------------------------------------------------------------

namespace {

std::string ForcedCompletionMessage(const loadbalancer::ForcedCompletion& forced) {
    return common::Cat("The activation was not completed by invoker", forced.invoker, " within ",
                       forced.timeout.count(), " ms (the invoker died or timed out).");
}

}  // namespace

void Activator::OnForcedCompletion(const loadbalancer::ForcedCompletion& forced) {
    if (!forced.store_record) return;
    auto id = common::ActivationId::Parse(forced.activation_id);
    if (!id.ok()) return;
    const int64_t now = clock_.NowMs();
    ActivationRecord rec;
    std::string ns = forced.namespace_name;
    if (ns.empty()) ns = forced.action_path.substr(0, forced.action_path.find('/'));
    rec.namespace_path = common::EntityPath({ns});
    rec.name = forced.action_name;
    rec.subject = forced.subject;
    rec.activation_id = *id;
    if (!forced.cause.empty()) {
        if (auto cause = common::ActivationId::Parse(forced.cause); cause.ok()) rec.cause = *cause;
    }
    if (auto version = common::SemVer::Parse(forced.action_version); version.ok()) {
        rec.version = *version;
    }
    // As the invoker's fallback record (the action's run is unknown): start = end = now.
    rec.start_ms = now;
    rec.end_ms = now;
    rec.duration_ms = 0;
    rec.publish = false;
    rec.annotations.Set("path",
                        JsonValue::String(forced.action_path.empty()
                                              ? forced.action_name
                                              : forced.action_path + "/" + forced.action_name));
    rec.annotations.Set("kind", JsonValue::String("unknown"));
    if (rec.cause) rec.annotations.Set("causedBy", JsonValue::String("sequence"));
    rec.response = common::ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                     ForcedCompletionMessage(forced));
    absl::Status st = store_.CreateActivation(rec);
    if (st.ok()) {
        common::TidLog(forced.tid)
            .warn(
                "activation {} completed by force: stored a whisk internal error record (no "
                "completion from invoker{} within {} ms)",
                forced.activation_id, forced.invoker, forced.timeout.count());
    } else if (st.code() == absl::StatusCode::kAlreadyExists) {
        common::TidLog(forced.tid)
            .debug("activation {} completed by force has its record already; keeping it",
                   forced.activation_id);
    } else {
        common::TidLog(forced.tid)
            .error("storing the forced completion record of activation {} failed: {}{}",
                   forced.activation_id, common::MessageOf(st),
                   journal_ ? "; retrying until the store takes it" : "");
        if (journal_) journal_->StoreLater(rec);
        return;
    }
    if (journal_) journal_->Done(rec);
}

// ---- sequences -------------------------------------------------------------------------------

/// OpenWhisk's SequenceAccounting.atomicActionCnt: the atomic actions a topmost sequence has
/// run, nested sequences included. Components run one after another.
struct SequenceBudget {
    std::atomic<int64_t> atomic_actions{0};
    std::atomic<int64_t> nested_sequences{0};
};

void Activator::RunSequence(ActivateRequest req, ActivateDone done) {
    RunSequence(std::move(req), 0, std::move(done), nullptr);
}

void Activator::RunSequence(ActivateRequest req, int depth, ActivateDone done,
                            std::shared_ptr<SequenceBudget> budget) {
    const common::Action& seq_action = req.resolved.action;
    const auto& seq = std::get<common::SequenceExec>(seq_action.exec);
    struct State {
        ActivationRecord rec;
        std::vector<FullyQualifiedName> components;
        common::Identity user;
        std::string tid;
        int64_t received_ms = 0;
        int depth = 0;
        std::string payload;
        int64_t total_duration = 0;
        std::atomic<bool> answered{false};
        TimerQueue::TimerId timer = 0;
        ActivateDone done;
        bool store = true;
        std::shared_ptr<SequenceBudget> budget;
    };
    auto s = std::make_shared<State>();
    s->budget = budget ? std::move(budget) : std::make_shared<SequenceBudget>();
    s->components = seq.components;
    s->user = req.user;
    s->tid = req.tid;
    s->received_ms = req.received_ms;
    s->depth = depth;
    s->payload = req.content_json;
    s->done = std::move(done);
    s->store = req.user.limits.store_activations.value_or(true);
    auto& rec = s->rec;
    rec.namespace_path = common::EntityPath({req.user.namespace_name});
    rec.name = seq_action.name;
    rec.subject = req.user.subject;
    rec.activation_id = req.activation_id ? *req.activation_id : common::ActivationId::Generate();
    rec.start_ms = clock_.NowMs();
    rec.cause = req.cause;
    rec.version = seq_action.version;
    rec.publish = false;
    if (depth == 0) rec.annotations.Set("topmost", JsonValue::Bool(true));
    rec.annotations.Set("path", JsonValue::String(seq_action.Fqn().DocId()));
    rec.annotations.Set("kind", JsonValue::String(common::kSequenceKind));
    {
        rapidjson::StringBuffer sb;
        common::JsonWriter w(sb);
        common::WriteLimits(w, seq_action.limits);
        rec.annotations.Set("limits", JsonValue::Parse(sb.GetString()).value());
    }
    rec.annotations.Set("waitTime",
                        JsonValue::Number(std::max<int64_t>(0, rec.start_ms - req.received_ms)));
    if (!req.resolved.binding.empty()) {
        rec.annotations.Set("binding", JsonValue::String(req.resolved.binding));
    }

    if (journal_ != nullptr && s->store) {
        const int64_t deadline =
            clock_.NowMs() +
            loadbalancer::CompletionTimeout(std::chrono::milliseconds(seq_action.limits.timeout_ms))
                .count();
        if (auto st = journal_->Accept(rec, deadline, true); !st.ok()) {
            common::TidLog(req.tid).warn("sequence activation {} refused: {}",
                                         rec.activation_id.str(), common::MessageOf(st));
            ActivateOutcome out;
            out.status = st;
            out.activation_id = rec.activation_id;
            auto done_now = std::move(s->done);
            done_now(std::move(out));
            return;
        }
    }

    auto answer = [s](bool with_record) {
        if (s->answered.exchange(true)) return;
        ActivateOutcome out;
        out.activation_id = s->rec.activation_id;
        if (with_record) out.record = s->rec;
        auto done = std::move(s->done);
        done(std::move(out));
    };
    if (req.blocking) {
        s->timer = timers_.Schedule(req.wait, [answer] { answer(false); });
    } else {
        answer(false);
    }

    auto finish = [this, s, answer](std::optional<common::ActivationResponse> failure) {
        if (failure) s->rec.response = std::move(*failure);
        s->rec.end_ms = clock_.NowMs();
        s->rec.duration_ms = s->total_duration;
        if (s->store) {
            if (auto st = store_.PutActivation(s->rec); !st.ok()) {
                common::TidLog(s->tid).error("storing sequence activation {} failed: {}{}",
                                             s->rec.activation_id.str(), common::MessageOf(st),
                                             journal_ ? "; retrying until the store takes it" : "");
                if (journal_) journal_->StoreLater(s->rec);
            } else if (journal_) {
                journal_->Done(s->rec);
            }
        }
        metrics_.CountActivation(s->rec.namespace_path.ToString(), s->rec.name,
                                 s->rec.response.status);
        timers_.Cancel(s->timer);
        answer(true);
    };

    auto step = std::make_shared<std::function<void(size_t)>>();
    // Held weakly by itself (a strong self-reference would leak the whole sequence state);
    // the pending component callback holds it strongly.
    *step = [this, s, finish, weak_step = std::weak_ptr(step)](size_t i) {
        auto step = weak_step.lock();
        if (!step) return;
        if (i == s->components.size()) return finish(std::nullopt);
        if (shutting_down_.load()) {
            return finish(common::ActivationResponse::Error(ActivationStatus::kWhiskError,
                                                            "Sequence failed."));
        }
        // Checked at run time before every component, as OpenWhisk does: PUT's check does not
        // hold for documents changed since (a nested sequence updated, a store written
        // directly).
        if (s->budget->atomic_actions.load() >= config_.system_limits.sequence_max_length) {
            return finish(common::ActivationResponse::Error(ActivationStatus::kApplicationError,
                                                            std::string(kMsgSequenceTooLong)));
        }
        auto component = resolver_.ResolveAction(s->user, s->components[i]);
        if (!component.ok()) {
            return finish(common::ActivationResponse::Error(
                ActivationStatus::kApplicationError,
                component.status().code() == absl::StatusCode::kNotFound
                    ? std::string("Sequence component does not exist.")
                    : ClientMessageFor(component.status(), s->tid, "sequence component")));
        }
        std::optional<JsonValue> input;
        if (auto v = JsonValue::Parse(s->payload); v.ok()) input = *std::move(v);
        ActivateRequest sub;
        sub.user = s->user;
        sub.content_json = MergeArguments(ArgumentParams(component->action), input);
        sub.blocking = true;
        sub.cause = s->rec.activation_id;
        sub.tid = s->tid;
        sub.received_ms = clock_.NowMs();
        const bool nested = std::holds_alternative<common::SequenceExec>(component->action.exec);
        sub.wait = std::chrono::milliseconds(component->action.limits.timeout_ms) +
                   config_.sequence_component_slack;
        sub.resolved = *std::move(component);
        auto on_done = [this, s, finish, step, i](ActivateOutcome out) {
            if (!out.status.ok() || !out.record) {
                return finish(common::ActivationResponse::Error(
                    ActivationStatus::kWhiskError,
                    out.status.ok()
                        ? common::Cat("Timeout reached when retrieving activation ",
                                      out.activation_id.str(), " for sequence component.")
                        : ClientMessageFor(out.status, s->tid, "sequence component")));
            }
            s->rec.logs.push_back(out.activation_id.str());
            s->total_duration += out.record->duration().value_or(0);
            s->rec.response = out.record->response;
            if (!out.record->response.success()) return finish(std::nullopt);
            // Where it stands, should this controller stop before the sequence ends.
            if (journal_ && s->store && i + 1 < s->components.size()) journal_->Update(s->rec);
            s->payload = out.record->response.result ? out.record->response.result->text()
                                                     : std::string("{}");
            (*step)(i + 1);
        };
        if (nested) {
            if (s->depth + 1 > kMaxSequenceDepth ||
                s->budget->nested_sequences.fetch_add(1) + 1 > kMaxNestedSequences) {
                return finish(common::ActivationResponse::Error(ActivationStatus::kApplicationError,
                                                                std::string(kMsgSequenceTooLong)));
            }
            RunSequence(std::move(sub), s->depth + 1, std::move(on_done), s->budget);
        } else {
            s->budget->atomic_actions.fetch_add(1);
            Activate(std::move(sub), std::move(on_done));
        }
    };
    (*step)(0);
}

}  // namespace wisp::controller
