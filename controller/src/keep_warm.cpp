#include "keep_warm.hpp"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

#include <wisp/common/entity_path.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

namespace {

/// An integer in JSON text ("2", "-1"); nullopt for anything else (2.5, "2", true, 1e3).
std::optional<int64_t> JsonInteger(const std::string& text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    size_t i = text[0] == '-' ? 1 : 0;
    if (i == text.size()) return std::nullopt;
    int64_t n = 0;
    for (; i < text.size(); ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        n = n * 10 + (text[i] - '0');
    }
    return text[0] == '-' ? -n : n;
}

}  // namespace

absl::StatusOr<int64_t> KeepWarm::CountOf(const common::Action& action) {
    const common::JsonValue* v = action.annotations.Get(kAnnotation);
    if (v == nullptr) return 0;
    auto n = JsonInteger(v->text());
    if (!n || *n < 0) {
        return absl::InvalidArgumentError(common::Cat(
            "The annotation 'keep-warm' must be an integer of 0 or more (the initialised "
            "containers kept for the action), not ",
            v->text().substr(0, 64), "."));
    }
    return *n;
}

absl::StatusOr<int64_t> KeepWarm::Validate(const common::Action& action,
                                           const common::NamespaceLimits& ns,
                                           const common::SystemLimits& system) {
    auto n = CountOf(action);
    if (!n.ok()) return n.status();
    const int64_t limit = ns.max_keep_warm.value_or(system.max_keep_warm);
    if (*n > limit) {
        return absl::InvalidArgumentError(common::Cat(
            "The annotation 'keep-warm' asks for ", *n,
            " containers, more than the namespace's limit maxKeepWarm of ", limit,
            " (an operator raises it with `wisp-admin limits set <namespace> --maxKeepWarm N`)."));
    }
    return *n;
}

KeepWarm::KeepWarm(store::ArtifactStore& store, Activator& activator, common::Clock& clock,
                   const common::SystemLimits& system_limits, std::chrono::milliseconds refresh)
    : store_(store),
      activator_(activator),
      clock_(clock),
      system_limits_(system_limits),
      refresh_(refresh) {}

KeepWarm::~KeepWarm() { Stop(); }

std::chrono::milliseconds KeepWarm::OrderTtl() const {
    return std::max(std::chrono::milliseconds(30000), 3 * refresh_);
}

void KeepWarm::Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable() || stop_ || refresh_.count() <= 0) return;
    thread_ = std::thread([this] { Loop(); });
}

void KeepWarm::Stop() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
}

void KeepWarm::Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
        lock.unlock();
        Refresh();
        lock.lock();
        cv_.wait_for(lock, refresh_, [&] { return stop_; });
    }
}

void KeepWarm::Register(const common::Action& action, int64_t count, std::string_view tid) {
    const std::string id = action.Fqn().DocId();
    store::SystemDoc doc{std::string(kDocKind), id, common::Cat("{\"count\":", count, "}"),
                         clock_.NowMs(), ""};
    // Create, or update whatever revision is there.
    auto put = store_.PutSystemDoc(doc, "");
    if (absl::IsAlreadyExists(put.status())) {
        auto current = store_.GetSystemDoc(kDocKind, id);
        if (current.ok()) put = store_.PutSystemDoc(doc, current->rev);
    }
    if (!put.ok()) {
        common::TidLog(std::string(tid))
            .warn("keep-warm of {}: not registered for the refresh: {}", id,
                  put.status().ToString());
    }
}

void KeepWarm::ActionWritten(const common::Identity& who, const common::Action& action,
                             const std::string& revision, int64_t previous, std::string_view tid) {
    auto n = CountOf(action);
    const int64_t count = n.ok() ? *n : 0;
    if (count == 0 && previous == 0) return;
    const std::string id = action.Fqn().DocId();
    if (count == 0) {
        auto st = store_.DeleteSystemDoc(kDocKind, id, "");
        if (!st.ok() && !absl::IsNotFound(st)) {
            common::TidLog(std::string(tid))
                .warn("keep-warm of {}: not unregistered: {}", id, st.ToString());
        }
    }
    auto home =
        activator_.PublishKeepWarm(who, action, revision, static_cast<int>(count), OrderTtl());
    if (!home.ok()) {
        common::TidLog(std::string(tid))
            .warn(
                "keep-warm of {}: the order (count {}) was not published: {}; the refresh "
                "retries",
                id, count, home.status().ToString());
    }
}

void KeepWarm::ActionDeleted(const common::Identity& who, const common::Action& action,
                             std::string_view tid) {
    auto n = CountOf(action);
    if (!n.ok() || *n == 0) return;
    const std::string id = action.Fqn().DocId();
    auto st = store_.DeleteSystemDoc(kDocKind, id, "");
    if (!st.ok() && !absl::IsNotFound(st)) {
        common::TidLog(std::string(tid))
            .warn("keep-warm of {}: not unregistered: {}", id, st.ToString());
    }
    // The invoker also drops the order when it finds the action gone; this is only sooner.
    (void)activator_.PublishKeepWarm(who, action, "", 0, OrderTtl());
}

int KeepWarm::Refresh() {
    int published = 0;
    std::string after;
    while (true) {
        auto docs = store_.ListSystemDocs(kDocKind, "", after, 500);
        if (!docs.ok()) {
            if (absl::IsUnimplemented(docs.status())) {
                if (!warned_unsupported_) {
                    spdlog::debug(
                        "keep-warm: the store keeps no system documents; orders are "
                        "published only when actions are written");
                    warned_unsupported_ = true;
                }
            } else {
                spdlog::warn("keep-warm: cannot list the keep-warm actions: {}",
                             docs.status().ToString());
            }
            return published;
        }
        for (const auto& doc : *docs) {
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (stop_) return published;
            }
            auto fqn = common::FullyQualifiedName::Parse("/" + doc.id, "");
            if (!fqn.ok()) continue;
            auto action = store_.Get<common::Action>(*fqn);
            if (!action.ok()) {
                if (absl::IsNotFound(action.status())) {
                    (void)store_.DeleteSystemDoc(kDocKind, doc.id, doc.rev);  // deleted elsewhere
                }
                continue;
            }
            auto identities = store_.ListIdentitiesInNamespace(fqn->Namespace());
            if (!identities.ok() || identities->empty()) continue;  // nobody to run it as
            const common::Identity& who = identities->front();
            auto n = CountOf(action->doc);
            int64_t count = n.ok() ? *n : 0;
            if (count == 0) {
                (void)store_.DeleteSystemDoc(kDocKind, doc.id, doc.rev);
                continue;
            }
            count =
                std::min(count, who.limits.max_keep_warm.value_or(system_limits_.max_keep_warm));
            auto home = activator_.PublishKeepWarm(who, action->doc, action->rev,
                                                   static_cast<int>(count), OrderTtl());
            if (home.ok()) {
                ++published;
            } else {
                spdlog::debug("keep-warm of {}: not published: {}", doc.id,
                              home.status().ToString());
            }
        }
        if (docs->size() < 500) break;
        after = docs->back().id;
    }
    return published;
}

}  // namespace wisp::controller
