#include <wisp/cluster/component_claim.hpp>

#include <algorithm>
#include <future>
#include <iterator>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/common/ids.hpp>
#include <wisp/common/status.hpp>

namespace wisp::cluster {

using wisp::v1::ComponentHeartbeat;

namespace {

/// Heartbeats are tiny and only the recent ones matter.
constexpr messaging::TopicConfig kTopicConfig{.max_message_bytes = 4096,
                                              .retention_bytes = 1024 * 1024};

std::string StateName(ComponentHeartbeat::State s) {
    switch (s) {
        case ComponentHeartbeat::STARTING:
            return "starting";
        case ComponentHeartbeat::RUNNING:
            return "running";
        case ComponentHeartbeat::LEAVING:
            return "leaving";
        default:
            return "unknown";
    }
}

std::string Conflict(const std::string& component, const std::string& other) {
    return fmt::format(
        "another {} is running (incarnation {} sent heartbeats on the bus): two processes may "
        "not share one id. Stop the other process, or start this one with another --id",
        component, other);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ComponentClaim>> ComponentClaim::Acquire(
    messaging::MessagingProvider& bus, ComponentClaimConfig config) {
    if (config.component.empty()) return absl::InvalidArgumentError("no component id to claim");
    if (!config.progress) {
        config.progress = [](const std::string& line) { spdlog::info("{}", line); };
    }
    std::unique_ptr<ComponentClaim> claim(new ComponentClaim(bus, std::move(config)));
    WISP_RETURN_IF_ERROR(claim->Claim());
    claim->thread_ = std::thread([c = claim.get()] { c->Run(); });
    return claim;
}

ComponentClaim::ComponentClaim(messaging::MessagingProvider& bus, ComponentClaimConfig config)
    : bus_(bus), config_(std::move(config)), incarnation_(common::ActivationId::Generate().str()) {}

ComponentClaim::~ComponentClaim() { Release(); }

absl::Status ComponentClaim::Send(int state) { return SendOn(*producer_, state); }

absl::Status ComponentClaim::SendOn(messaging::MessageProducer& producer, int state) {
    ComponentHeartbeat hb;
    hb.set_component(config_.component);
    hb.set_incarnation(incarnation_);
    hb.set_state(static_cast<ComponentHeartbeat::State>(state));
    return producer.Send(config_.topic, hb.SerializeAsString());
}

absl::Status ComponentClaim::Claim() {
    WISP_RETURN_IF_ERROR(bus_.EnsureTopic(config_.topic, kTopicConfig));
    producer_ = bus_.GetProducer();
    // A fresh group per incarnation, never committed: every claimant reads the whole topic.
    consumer_ = bus_.GetConsumer(
        config_.topic, fmt::format("{}-{}-{}", config_.topic, config_.component, incarnation_),
        256);
    WISP_RETURN_IF_ERROR(Send(ComponentHeartbeat::STARTING));

    // 1. The history, up to the probe: the last state of each other incarnation of this id.
    std::map<std::string, ComponentHeartbeat::State> others;
    const auto bus_deadline = std::chrono::steady_clock::now() + config_.bus_timeout;
    bool probe_seen = false;
    while (!probe_seen) {
        if (std::chrono::steady_clock::now() > bus_deadline) {
            return absl::DeadlineExceededError(fmt::format(
                "claiming {}: the bus did not deliver this process's heartbeat on {} within {} "
                "ms; is the broker up?",
                config_.component, config_.topic, config_.bus_timeout.count()));
        }
        auto batch = consumer_->Peek(std::chrono::milliseconds(200));
        if (!batch.ok()) return batch.status();
        for (const auto& m : *batch) {
            ComponentHeartbeat hb;
            if (!hb.ParseFromString(m.payload) || hb.component() != config_.component) continue;
            if (hb.incarnation() == incarnation_) {
                probe_seen = true;
                break;
            }
            others[hb.incarnation()] = hb.state();
        }
    }
    std::erase_if(others, [](const auto& kv) { return kv.second == ComponentHeartbeat::LEAVING; });
    if (others.empty()) return absl::OkStatus();

    // 2. Someone held or claimed this id and did not say goodbye: watch for its heartbeats.
    config_.progress(fmt::format(
        "{}: another {} (incarnation {}, last {}) is on the bus and did not say goodbye; "
        "watching {} ms for its heartbeats (a live one keeps the id, a killed one is replaced)",
        config_.component, config_.component, others.begin()->first,
        StateName(others.begin()->second), config_.lease.count()));
    const auto start = std::chrono::steady_clock::now();
    auto next_beat = start + config_.heartbeat_interval;
    while (true) {
        const auto now = std::chrono::steady_clock::now();
        if (now - start >= config_.lease) break;
        if (now >= next_beat) {
            WISP_RETURN_IF_ERROR(Send(ComponentHeartbeat::STARTING));
            next_beat = now + config_.heartbeat_interval;
        }
        const auto wait =
            std::min(
                std::chrono::duration_cast<std::chrono::milliseconds>(start + config_.lease - now),
                std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - now)) +
            std::chrono::milliseconds(1);
        auto batch = consumer_->Peek(wait);
        if (!batch.ok()) return batch.status();
        for (const auto& m : *batch) {
            ComponentHeartbeat hb;
            if (!hb.ParseFromString(m.payload) || hb.component() != config_.component ||
                hb.incarnation() == incarnation_) {
                continue;
            }
            if (hb.state() == ComponentHeartbeat::RUNNING ||
                (hb.state() == ComponentHeartbeat::STARTING && hb.incarnation() < incarnation_)) {
                (void)Send(ComponentHeartbeat::LEAVING);
                return absl::AlreadyExistsError(Conflict(config_.component, hb.incarnation()));
            }
        }
    }
    config_.progress(fmt::format("{}: no heartbeat from an earlier holder in {} ms; the id is ours",
                                 config_.component, config_.lease.count()));
    return absl::OkStatus();
}

namespace {

/// "controller12" is of kind "controller"; "controllerX" and "controller" are not.
bool OfKind(std::string_view id, std::string_view kind) {
    if (id.size() <= kind.size() || id.substr(0, kind.size()) != kind) return false;
    for (char c : id.substr(kind.size())) {
        if (c < '0' || c > '9') return false;
    }
    return true;
}

}  // namespace

int ComponentClaim::LiveCount(std::string_view kind) const {
    int live = OfKind(config_.component, kind) ? 1 : 0;
    // Within the lease, but never less than ten heartbeats: a few late beats (a loaded host)
    // are no departure; a killed component still counts that long (throttles a bit tighter).
    const auto since =
        std::chrono::steady_clock::now() -
        std::max<std::chrono::milliseconds>(config_.lease, 10 * config_.heartbeat_interval);
    std::lock_guard lock(live_mu_);
    for (const auto& [id, incarnations] : last_seen_) {
        if (!OfKind(id, kind)) continue;
        for (const auto& [incarnation, seen] : incarnations) {
            if (seen >= since) {
                ++live;
                break;
            }
        }
    }
    return live;
}

void ComponentClaim::NoteOther(const std::string& id, const std::string& incarnation,
                               bool leaving) {
    std::lock_guard lock(live_mu_);
    auto it = last_seen_.find(id);
    if (leaving) {
        if (it == last_seen_.end()) return;
        incarnations_seen_ -= it->second.erase(incarnation);
        if (it->second.empty()) {
            last_seen_.erase(it);
            spdlog::info("{}: {} left (incarnation {} said goodbye)", config_.component, id,
                         incarnation);
        }
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (it != last_seen_.end()) {
        auto inc = it->second.find(incarnation);
        if (inc != it->second.end()) {
            inc->second = now;
            return;
        }
    }
    // Bounded: killed incarnations are forgotten once stale; a flood of new ones is ignored.
    if (incarnations_seen_ >= 4096) {
        const auto stale = now - 2 * std::max<std::chrono::milliseconds>(
                                         config_.lease, 10 * config_.heartbeat_interval);
        for (auto i = last_seen_.begin(); i != last_seen_.end();) {
            incarnations_seen_ -=
                std::erase_if(i->second, [&](const auto& kv) { return kv.second < stale; });
            i = i->second.empty() ? last_seen_.erase(i) : std::next(i);
        }
        if (incarnations_seen_ >= 4096) return;
    }
    auto& incarnations = last_seen_[id];
    if (incarnations.empty()) {
        spdlog::info("{}: {} is on the bus (incarnation {})", config_.component, id, incarnation);
    }
    incarnations[incarnation] = now;
    ++incarnations_seen_;
}

void ComponentClaim::Run() {
    bool failing = false;
    auto next_beat = std::chrono::steady_clock::now();
    while (!stopping_.load()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_beat) {
            // A late beat (a stalled host or bus) makes the others count this one gone for a
            // while: say so, with how late it was.
            if (now - next_beat > 3 * config_.heartbeat_interval) {
                spdlog::warn(
                    "{}: heartbeat {} ms late (the host or the bus stalled)", config_.component,
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - next_beat).count());
            }
            absl::Status sent = Send(ComponentHeartbeat::RUNNING);
            // Release() closed the producer before this beat: not the bus's failure (the
            // goodbye still goes out). A beat it gave up on (Unavailable) is.
            if (stopping_.load() && absl::IsFailedPrecondition(sent)) break;
            if (!sent.ok() && !failing) {
                spdlog::warn("{}: sending a heartbeat failed: {}", config_.component,
                             sent.ToString());
            }
            failing = !sent.ok();
            failing_.store(failing);
            next_beat = now + config_.heartbeat_interval;
        }
        auto batch = consumer_->Peek(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         next_beat - std::chrono::steady_clock::now()) +
                                     std::chrono::milliseconds(1));
        if (!batch.ok()) {
            if (stopping_.load()) break;
            continue;  // the bus logs its own trouble; the next beat retries
        }
        for (const auto& m : *batch) {
            ComponentHeartbeat hb;
            if (!hb.ParseFromString(m.payload)) continue;
            if (hb.component() != config_.component) {
                NoteOther(hb.component(), hb.incarnation(),
                          hb.state() == ComponentHeartbeat::LEAVING);
                continue;
            }
            if (hb.incarnation() == incarnation_ || hb.state() != ComponentHeartbeat::RUNNING) {
                continue;
            }
            ++conflicts_;
            if (reported_.insert(hb.incarnation()).second) {
                spdlog::error("{}: {}", config_.component,
                              Conflict(config_.component, hb.incarnation()));
            }
        }
    }
}

void ComponentClaim::Release() {
    {
        std::lock_guard<std::mutex> lock(release_mu_);
        if (released_) return;
        released_ = true;
    }
    stopping_.store(true);
    if (consumer_) consumer_->Wakeup();
    // A heartbeat the bus does not take (a broker gone or stalled) would hold the join for the
    // bus's whole send timeout: the producer's Close() gives it up after its close timeout.
    if (producer_) producer_->Close();
    if (thread_.joinable()) thread_.join();
    if (consumer_) consumer_->Close();
    if (!producer_) return;
    if (failing_.load()) {
        spdlog::warn(
            "{}: no goodbye on {}: the bus did not take the last heartbeat (the others see the id "
            "free after the lease)",
            config_.component, config_.topic);
        return;
    }
    // The goodbye goes through a producer of its own (the heartbeats' one is closed), and waits
    // for the bus at most the lease: later it tells the others nothing (they count the id free
    // after the lease). Then its producer's Close() gives it up.
    std::unique_ptr<messaging::MessageProducer> goodbye = bus_.GetProducer();
    auto sending = std::async(std::launch::async, [this, &goodbye] {
        return SendOn(*goodbye, ComponentHeartbeat::LEAVING);
    });
    if (sending.wait_for(config_.lease) != std::future_status::ready) goodbye->Close();
    absl::Status sent = sending.get();
    if (!sent.ok()) {
        spdlog::warn("{}: saying goodbye failed: {}", config_.component, sent.ToString());
    }
    goodbye->Close();
}

namespace {

/// "invoker12" of kind "invoker" -> 12; -1 for another kind or a number too large for an id.
int IndexOf(std::string_view id, std::string_view kind) {
    if (!OfKind(id, kind) || id.size() - kind.size() > 9) return -1;
    int n = 0;
    for (char c : id.substr(kind.size())) n = n * 10 + (c - '0');
    return n;
}

/// The indexes of `kind` held by live processes: reads the heartbeats up to a probe of its own
/// (a LEAVING heartbeat of the bare kind, which no claim counts), then watches up to the lease
/// for RUNNING heartbeats of the ids the history left unfinished; returns early once all of
/// them were heard from. Ids that did not beat in the lease were killed (free to take over).
[[nodiscard]] absl::StatusOr<std::set<int>> LiveIndexes(messaging::MessagingProvider& bus,
                                                        std::string_view kind,
                                                        const ComponentClaimConfig& config) {
    WISP_RETURN_IF_ERROR(bus.EnsureTopic(config.topic, kTopicConfig));
    const std::string incarnation = common::ActivationId::Generate().str();
    auto producer = bus.GetProducer();
    auto consumer = bus.GetConsumer(
        config.topic, fmt::format("{}-{}-auto-{}", config.topic, kind, incarnation), 256);
    struct Closer {
        messaging::MessageProducer& p;
        messaging::MessageConsumer& c;
        ~Closer() {
            c.Close();
            p.Close();
        }
    } closer{*producer, *consumer};
    ComponentHeartbeat probe;
    probe.set_component(std::string(kind));
    probe.set_incarnation(incarnation);
    probe.set_state(ComponentHeartbeat::LEAVING);
    WISP_RETURN_IF_ERROR(producer->Send(config.topic, probe.SerializeAsString()));

    // index -> incarnation -> its last state, up to the probe.
    std::map<int, std::map<std::string, ComponentHeartbeat::State>> history;
    const auto bus_deadline = std::chrono::steady_clock::now() + config.bus_timeout;
    for (bool probe_seen = false; !probe_seen;) {
        if (std::chrono::steady_clock::now() > bus_deadline) {
            return absl::DeadlineExceededError(fmt::format(
                "choosing a free {} id: the bus did not deliver this process's heartbeat on {} "
                "within {} ms; is the broker up?",
                kind, config.topic, config.bus_timeout.count()));
        }
        auto batch = consumer->Peek(std::chrono::milliseconds(200));
        if (!batch.ok()) return batch.status();
        for (const auto& m : *batch) {
            ComponentHeartbeat hb;
            if (!hb.ParseFromString(m.payload)) continue;
            if (hb.incarnation() == incarnation) {
                probe_seen = true;
                break;
            }
            const int index = IndexOf(hb.component(), kind);
            if (index >= 0) history[index][hb.incarnation()] = hb.state();
        }
    }
    std::set<int> unfinished;
    for (const auto& [index, incarnations] : history) {
        for (const auto& [inc, state] : incarnations) {
            if (state != ComponentHeartbeat::LEAVING) unfinished.insert(index);
        }
    }
    std::set<int> live;
    if (unfinished.empty()) return live;

    const auto until = std::chrono::steady_clock::now() + config.lease;
    while (!std::includes(live.begin(), live.end(), unfinished.begin(), unfinished.end())) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        auto batch =
            consumer->Peek(std::chrono::duration_cast<std::chrono::milliseconds>(until - now) +
                           std::chrono::milliseconds(1));
        if (!batch.ok()) return batch.status();
        for (const auto& m : *batch) {
            ComponentHeartbeat hb;
            if (!hb.ParseFromString(m.payload) || hb.state() != ComponentHeartbeat::RUNNING) {
                continue;
            }
            const int index = IndexOf(hb.component(), kind);
            if (index >= 0) live.insert(index);
        }
    }
    return live;
}

}  // namespace

int ComponentClaim::index() const {
    size_t digits = config_.component.size();
    while (digits > 0 && config_.component[digits - 1] >= '0' &&
           config_.component[digits - 1] <= '9') {
        --digits;
    }
    return IndexOf(config_.component, std::string_view(config_.component).substr(0, digits));
}

absl::StatusOr<std::unique_ptr<ComponentClaim>> ComponentClaim::AcquireLowestFree(
    messaging::MessagingProvider& bus, std::string_view kind, ComponentClaimConfig config,
    int max_index) {
    if (kind.empty()) return absl::InvalidArgumentError("no component kind to claim an id of");
    if (!config.progress) {
        config.progress = [](const std::string& line) { spdlog::info("{}", line); };
    }
    WISP_ASSIGN_OR_RETURN(const std::set<int> live, LiveIndexes(bus, kind, config));
    if (!live.empty()) {
        std::string ids;
        for (int i : live) ids += fmt::format("{}{}{}", ids.empty() ? "" : ", ", kind, i);
        config.progress(fmt::format("{} id auto: live on the bus: {}", kind, ids));
    }
    for (int index = 0; index <= max_index; ++index) {
        if (live.count(index) > 0) continue;
        config.component = fmt::format("{}{}", kind, index);
        auto claim = Acquire(bus, config);
        if (claim.ok()) {
            config.progress(fmt::format("{} id auto: claimed {}", kind, config.component));
            return claim;
        }
        if (claim.status().code() != absl::StatusCode::kAlreadyExists) return claim.status();
        config.progress(fmt::format(
            "{} id auto: {} was claimed by a process that started at the same time; trying the "
            "next id",
            kind, config.component));
    }
    return absl::ResourceExhaustedError(
        fmt::format("every {} id from 0 to {} is held by a live process; stop one, or give this "
                    "one an explicit --id",
                    kind, max_index));
}

}  // namespace wisp::cluster
