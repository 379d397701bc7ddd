#pragma once
// An in-memory ContainerFactory for unit tests: containers answer /init and /run through a
// scriptable handler, count what the pool does to them (create, pause, resume, destroy) and
// hold log lines the handler writes. Thread-safe.
//
// Like a real backend (the ContainerFactory contract, tests/contract/container_contract.cpp): a
// destroyed container no longer answers (Init/Run: kConnectionLost); RemoveOrphans(id) destroys
// the live containers labelled wisp.invoker=<id> and counts them; with set_images() only those
// images exist (ImageExists, Create fails NotFound / FailedPrecondition for the others).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>
#include <rapidjson/document.h>

#include <wisp/common/json.hpp>
#include <wisp/invoker/container.hpp>

namespace wisp::invoker::testing {

class FakeContainerFactory;

/// What a fake container answers to one request.
struct FakeReply {
    ProxyResponse::Failure failure = ProxyResponse::Failure::kNone;
    int status = 200;
    std::string body = "{\"ok\":true}";
    bool oom = false;  // WasOomKilled() answers true afterwards
    /// Log lines written during the request; sentinels follow (after a /run or a failed /init)
    /// unless `no_sentinels`.
    std::vector<LogLine> logs;
    bool no_sentinels = false;
};

/// The state of one fake container; outlives the Container object (the factory keeps it), so
/// tests can inspect destroyed containers.
class FakeContainer {
  public:
    FakeContainer(FakeContainerFactory& factory, std::string id, ContainerSpec spec)
        : factory_(factory), id_(std::move(id)), spec_(std::move(spec)) {}

    const std::string& id() const { return id_; }
    int64_t memory_mb() const { return spec_.memory_mb; }
    const ContainerSpec& spec() const { return spec_; }

    [[nodiscard]] absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                     std::chrono::milliseconds timeout);
    [[nodiscard]] absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                                    std::chrono::milliseconds timeout);
    [[nodiscard]] absl::Status Pause();
    [[nodiscard]] absl::Status Resume();
    [[nodiscard]] absl::Status Destroy();
    /// Unimplemented (as an OpenWhisk image) unless the factory's set_resettable(true); then
    /// what the action left (files(), the unread output) is gone.
    [[nodiscard]] absl::Status Reset();
    [[nodiscard]] absl::StatusOr<bool> WasOomKilled() { return oom_.load(); }
    /// False once destroyed or killed (`docker kill` from outside: Kill()).
    [[nodiscard]] absl::StatusOr<bool> Running() { return !destroyed_.load() && !killed_.load(); }
    /// Killed from outside the pool: answers nothing any more, Running() is false; the pool's
    /// Destroy() still counts once it comes.
    void Kill() { killed_ = true; }
    /// What a handler's action "leaves behind" in the container (a file, a process): reset
    /// empties it.
    void Leave(const std::string& thing) {
        std::lock_guard<std::mutex> lock(mu_);
        left_.push_back(thing);
    }
    std::vector<std::string> left() const {
        std::lock_guard<std::mutex> lock(mu_);
        return left_;
    }
    int resets() const { return resets_.load(); }
    [[nodiscard]] absl::StatusOr<Container::Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                              std::chrono::milliseconds wait);
    /// The factory's set_logs_at_hand() (a Wisp proxy that sends the logs with /run's answer).
    [[nodiscard]] bool LogsAtHand();

    int inits() const { return inits_.load(); }
    int runs() const { return runs_.load(); }
    bool paused() const { return paused_.load(); }
    bool destroyed() const { return destroyed_.load(); }
    std::string last_init_body() const {
        std::lock_guard<std::mutex> lock(mu_);
        return last_init_;
    }
    std::string last_run_body() const {
        std::lock_guard<std::mutex> lock(mu_);
        return last_run_;
    }
    /// Sentinels requested by the last CollectLogs.
    int last_sentinels() const { return last_sentinels_.load(); }

  private:
    ProxyResponse Answer(std::string_view path, const std::string& body);

    FakeContainerFactory& factory_;
    const std::string id_;
    const ContainerSpec spec_;
    mutable std::mutex mu_;
    std::string last_init_, last_run_;
    std::vector<LogLine> log_;  // unread output (sentinel lines included)
    std::vector<std::string> left_;
    std::atomic<int> inits_{0}, runs_{0}, last_sentinels_{-1}, resets_{0};
    std::atomic<bool> paused_{false}, destroyed_{false}, oom_{false}, killed_{false};
    friend class FakeContainerFactory;
};

/// The Container the pool owns: forwards to the shared FakeContainer.
class FakeContainerHandle final : public Container {
  public:
    explicit FakeContainerHandle(std::shared_ptr<FakeContainer> state) : s_(std::move(state)) {}
    const std::string& id() const override { return s_->id(); }
    int64_t memory_mb() const override { return s_->memory_mb(); }
    [[nodiscard]] absl::StatusOr<ProxyResponse> Init(const std::string& body,
                                                     std::chrono::milliseconds timeout) override {
        return s_->Init(body, timeout);
    }
    [[nodiscard]] absl::StatusOr<ProxyResponse> Run(const std::string& body,
                                                    std::chrono::milliseconds timeout) override {
        return s_->Run(body, timeout);
    }
    [[nodiscard]] absl::Status Pause() override { return s_->Pause(); }
    [[nodiscard]] absl::Status Resume() override { return s_->Resume(); }
    [[nodiscard]] absl::Status Destroy() override { return s_->Destroy(); }
    [[nodiscard]] absl::Status Reset() override { return s_->Reset(); }
    [[nodiscard]] absl::StatusOr<bool> WasOomKilled() override { return s_->WasOomKilled(); }
    [[nodiscard]] absl::StatusOr<bool> Running() override { return s_->Running(); }
    [[nodiscard]] absl::StatusOr<Logs> CollectLogs(int sentinels, int64_t limit_bytes,
                                                   std::chrono::milliseconds wait) override {
        return s_->CollectLogs(sentinels, limit_bytes, wait);
    }
    [[nodiscard]] bool LogsAtHand() override { return s_->LogsAtHand(); }

  private:
    std::shared_ptr<FakeContainer> s_;
};

class FakeContainerFactory final : public ContainerFactory {
  public:
    /// (container, "/init" | "/run", request body) -> reply. Runs on the requesting thread; may
    /// block (to hold a container busy) or advance a ManualClock (to take time).
    using Handler =
        std::function<FakeReply(FakeContainer& c, std::string_view path, const std::string& body)>;

    FakeContainerFactory() = default;

    void set_handler(Handler h) {
        std::lock_guard<std::mutex> lock(mu_);
        handler_ = std::move(h);
    }
    /// Create() fails with `status` while set.
    void set_create_error(absl::Status status) {
        std::lock_guard<std::mutex> lock(mu_);
        create_error_ = std::move(status);
    }
    /// Called at the start of every Create(), on the creating thread, without the factory's lock:
    /// may block (a slow `docker run`) until the test lets it go.
    void set_create_hook(std::function<void(const ContainerSpec&)> hook) {
        std::lock_guard<std::mutex> lock(mu_);
        create_hook_ = std::move(hook);
    }
    /// Pause()/Resume() fail while set.
    void set_pause_error(absl::Status s) {
        std::lock_guard<std::mutex> lock(mu_);
        pause_error_ = std::move(s);
    }
    /// Reset() works (a Wisp image's proxy) while set; default: Unimplemented.
    void set_resettable(bool on) {
        std::lock_guard<std::mutex> lock(mu_);
        resettable_ = on;
    }
    /// LogsAtHand() of every container answers `on` (default false: RESULT goes before the logs).
    void set_logs_at_hand(bool on) {
        std::lock_guard<std::mutex> lock(mu_);
        logs_at_hand_ = on;
    }
    void set_resume_error(absl::Status s) {
        std::lock_guard<std::mutex> lock(mu_);
        resume_error_ = std::move(s);
    }
    /// The images that exist (ImageExists, Create); unset (the default): every image exists.
    void set_images(std::set<std::string> images) {
        std::lock_guard<std::mutex> lock(mu_);
        images_ = std::move(images);
    }
    /// Orphans RemoveOrphans() reports for an invoker id, on top of the live containers
    /// labelled with it.
    void add_orphans(const std::string& invoker_id, int n) {
        std::lock_guard<std::mutex> lock(mu_);
        orphans_[invoker_id] += n;
    }

    [[nodiscard]] absl::StatusOr<std::unique_ptr<Container>> Create(
        const ContainerSpec& spec) override {
        std::function<void(const ContainerSpec&)> hook;
        {
            std::lock_guard<std::mutex> lock(mu_);
            hook = create_hook_;
        }
        if (hook) hook(spec);
        std::lock_guard<std::mutex> lock(mu_);
        if (!create_error_.ok()) return create_error_;
        if (images_ && images_->count(spec.image) == 0) {
            if (spec.pull_if_missing) {
                return absl::FailedPreconditionError("Failed to pull container image '" +
                                                     spec.image + "'.");
            }
            return absl::NotFoundError("image '" + spec.image + "' does not exist (fake)");
        }
        ++creates_;
        auto c = std::make_shared<FakeContainer>(*this, "fake" + std::to_string(creates_), spec);
        all_.push_back(c);
        specs_.push_back(spec);
        return std::unique_ptr<Container>(std::make_unique<FakeContainerHandle>(c));
    }
    [[nodiscard]] absl::StatusOr<int> RemoveOrphans(std::string_view invoker_id) override {
        std::lock_guard<std::mutex> lock(mu_);
        orphan_calls_.emplace_back(invoker_id);
        int n = 0;
        for (const auto& c : all_) {
            auto label = c->spec().labels.find("wisp.invoker");
            if (label == c->spec().labels.end() || label->second != invoker_id) continue;
            if (!c->destroyed_.exchange(true)) ++n;
        }
        auto it = orphans_.find(std::string(invoker_id));
        if (it != orphans_.end()) {
            n += it->second;
            orphans_.erase(it);
        }
        return n;
    }
    [[nodiscard]] absl::StatusOr<bool> ImageExists(std::string_view image) override {
        std::lock_guard<std::mutex> lock(mu_);
        return !images_ || images_->count(std::string(image)) > 0;
    }

    int creates() const {
        std::lock_guard<std::mutex> lock(mu_);
        return creates_;
    }
    int pauses() const { return pauses_.load(); }
    int resumes() const { return resumes_.load(); }
    int destroys() const { return destroys_.load(); }
    std::vector<ContainerSpec> specs() const {
        std::lock_guard<std::mutex> lock(mu_);
        return specs_;
    }
    std::vector<std::string> orphan_calls() const {
        std::lock_guard<std::mutex> lock(mu_);
        return orphan_calls_;
    }
    /// The i-th container created (valid for the factory's lifetime).
    FakeContainer* container(size_t i) const {
        std::lock_guard<std::mutex> lock(mu_);
        return i < all_.size() ? all_[i].get() : nullptr;
    }
    FakeContainer* find(const std::string& id) const {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& c : all_) {
            if (c->id() == id) return c.get();
        }
        return nullptr;
    }

  private:
    friend class FakeContainer;
    FakeReply Handle(FakeContainer& c, std::string_view path, const std::string& body) {
        Handler h;
        {
            std::lock_guard<std::mutex> lock(mu_);
            h = handler_;
        }
        if (h) return h(c, path, body);
        return DefaultReply(path, body);
    }

  public:
    /// Default: /init -> 200 {"ok":true}; /run -> 200 with the request's value.
    static FakeReply DefaultReply(std::string_view path, const std::string& body) {
        FakeReply reply;
        if (path == "/run") {
            rapidjson::Document d;
            if (common::ParseJson(body, d).ok() && d.IsObject() && d.HasMember("value")) {
                reply.body = common::ToCompactJson(d["value"]);
            }
        }
        return reply;
    }

  private:
    mutable std::mutex mu_;
    Handler handler_;
    absl::Status create_error_;
    std::function<void(const ContainerSpec&)> create_hook_;
    absl::Status pause_error_;
    absl::Status resume_error_;
    bool resettable_ = false;
    bool logs_at_hand_ = false;
    int creates_ = 0;
    std::vector<std::shared_ptr<FakeContainer>> all_;
    std::vector<ContainerSpec> specs_;
    std::optional<std::set<std::string>> images_;
    std::map<std::string, int> orphans_;
    std::vector<std::string> orphan_calls_;
    std::atomic<int> pauses_{0}, resumes_{0}, destroys_{0};
};

inline ProxyResponse FakeContainer::Answer(std::string_view path, const std::string& body) {
    ProxyResponse r;
    r.started = std::chrono::steady_clock::now();
    if (destroyed_ || killed_) {  // nothing listens any more
        r.failure = ProxyResponse::Failure::kConnectionLost;
        r.finished = r.started;
        return r;
    }
    FakeReply reply = factory_.Handle(*this, path, body);
    r.failure = reply.failure;
    r.status = reply.status;
    r.body = reply.body;
    if (reply.oom) oom_ = true;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& l : reply.logs) log_.push_back(l);
        // Like wisp-action-proxy: sentinels after every run and after a failed init.
        const bool init_ok = path == "/init" && reply.failure == ProxyResponse::Failure::kNone &&
                             reply.status == 200;
        if (!reply.no_sentinels && !init_ok) {
            log_.push_back({"2024-01-01T00:00:00.000000000Z", "stdout", "XXX_SENTINEL"});
            log_.push_back({"2024-01-01T00:00:00.000000000Z", "stderr", "XXX_SENTINEL"});
        }
    }
    r.finished = std::chrono::steady_clock::now();
    return r;
}

inline absl::StatusOr<ProxyResponse> FakeContainer::Init(const std::string& body,
                                                         std::chrono::milliseconds) {
    ++inits_;
    {
        std::lock_guard<std::mutex> lock(mu_);
        last_init_ = body;
    }
    return Answer("/init", body);
}

inline absl::StatusOr<ProxyResponse> FakeContainer::Run(const std::string& body,
                                                        std::chrono::milliseconds) {
    ++runs_;
    {
        std::lock_guard<std::mutex> lock(mu_);
        last_run_ = body;
    }
    return Answer("/run", body);
}

inline absl::Status FakeContainer::Pause() {
    {
        std::lock_guard<std::mutex> lock(factory_.mu_);
        if (!factory_.pause_error_.ok()) return factory_.pause_error_;
    }
    ++factory_.pauses_;
    paused_ = true;
    return absl::OkStatus();
}

inline absl::Status FakeContainer::Resume() {
    {
        std::lock_guard<std::mutex> lock(factory_.mu_);
        if (!factory_.resume_error_.ok()) return factory_.resume_error_;
    }
    ++factory_.resumes_;
    paused_ = false;
    return absl::OkStatus();
}

inline bool FakeContainer::LogsAtHand() {
    std::lock_guard<std::mutex> lock(factory_.mu_);
    return factory_.logs_at_hand_;
}

inline absl::Status FakeContainer::Reset() {
    {
        std::lock_guard<std::mutex> lock(factory_.mu_);
        if (!factory_.resettable_) {
            return absl::UnimplementedError("this container cannot be reset; create a new one");
        }
    }
    if (destroyed_) return absl::UnavailableError("the container is gone");
    std::lock_guard<std::mutex> lock(mu_);
    left_.clear();
    log_.clear();
    ++resets_;
    return absl::OkStatus();
}

inline absl::Status FakeContainer::Destroy() {
    if (!destroyed_.exchange(true)) ++factory_.destroys_;
    return absl::OkStatus();
}

inline absl::StatusOr<Container::Logs> FakeContainer::CollectLogs(int sentinels,
                                                                  int64_t limit_bytes,
                                                                  std::chrono::milliseconds) {
    last_sentinels_ = sentinels;
    Container::Logs out;
    std::lock_guard<std::mutex> lock(mu_);
    int seen = 0;
    size_t consumed = 0;
    int64_t bytes = 0;
    for (; consumed < log_.size(); ++consumed) {
        const auto& line = log_[consumed];
        if (line.text == "XXX_SENTINEL") {
            ++seen;
            if (sentinels > 0 && seen >= sentinels) {
                ++consumed;
                break;
            }
            continue;
        }
        const auto size = static_cast<int64_t>(line.text.size());
        if (bytes + size > limit_bytes) {
            out.truncated = true;
            continue;  // dropped
        }
        bytes += size;
        out.lines.push_back(line);
    }
    out.complete = sentinels == 0 || seen >= sentinels;
    log_.erase(log_.begin(), log_.begin() + static_cast<long>(consumed));
    return out;
}

}  // namespace wisp::invoker::testing
