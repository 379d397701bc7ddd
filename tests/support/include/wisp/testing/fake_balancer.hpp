#pragma once
// FakeBalancer: a LoadBalancer for tests (and fuzzers) that drive the controller without a bus
// or invokers. It "runs" every published activation itself, in order, on one worker thread: the
// record is what an invoker would write (namespace, name, subject, ids, the "path" annotation,
// start and end), its response comes from a callback (default: success with {}), the record is
// stored when a store is given, and the ResultCallback gets it.
//
// Header-only and linking nothing but the loadbalancer interface, the store interface and
// wisp::common, so that the fuzz tree (no invoker, no test support library) can use it too.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <absl/status/status.h>

#include <wisp/common/activation.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/parameters.hpp>
#include <wisp/loadbalancer/load_balancer.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::testing {

class FakeBalancer final : public loadbalancer::LoadBalancer {
  public:
    /// Sets the response of an activation's record (every other field is filled in already).
    /// Runs on the worker thread.
    using Respond = std::function<void(const wisp::v1::ActivationMessage& msg,
                                       common::ActivationRecord& record)>;

    struct Options {
        /// Where completed records are written, as an invoker does (nullptr: nowhere).
        store::ArtifactStore* store = nullptr;
        /// Null: every activation succeeds with the result {}.
        Respond respond;
        int64_t start_ms = 1000;
        int64_t duration_ms = 5;
    };

    FakeBalancer() : FakeBalancer(Options{}) {}
    explicit FakeBalancer(Options options)
        : options_(std::move(options)), worker_([this] { Work(); }) {}
    ~FakeBalancer() override { Shutdown(); }

    /// The respond callback the controller tests use: the result is the arguments plus
    /// {"ran":"<action>"}; an application error ("failed on purpose") when the arguments' JSON
    /// contains `fail_marker` or is not an object. A whisk error when the arguments do not
    /// survive a round trip through Parameters (never expected: the controller sends an object).
    static Respond ArgumentsPlusRan(std::string fail_marker) {
        return [fail_marker = std::move(fail_marker)](const wisp::v1::ActivationMessage& msg,
                                                      common::ActivationRecord& record) {
            const std::string& content = msg.content_json();
            auto params = common::Parameters::FromObjectJson(content.empty() ? "{}" : content);
            if (!params.ok() || content.find(fail_marker) != std::string::npos) {
                record.response = common::ActivationResponse::Error(
                    common::ActivationStatus::kApplicationError, "failed on purpose");
                return;
            }
            params->Set("ran", common::JsonValue::String(msg.action().name()));
            auto result = common::JsonValue::Parse(params->ToObjectJson());
            if (!result.ok()) {
                record.response = common::ActivationResponse::Error(
                    common::ActivationStatus::kWhiskError, "the arguments did not round-trip");
                return;
            }
            record.response.result = *std::move(result);
        };
    }

    /// Queues the activation; refused with `status` while FailPublish(status) is in force, and
    /// with Unavailable after Shutdown().
    [[nodiscard]] absl::Status Publish(const loadbalancer::ActionPlacement& placement,
                                       wisp::v1::ActivationMessage msg,
                                       loadbalancer::ResultCallback on_result) override {
        std::lock_guard lock(mu_);
        if (stopped_) return absl::UnavailableError("the balancer is shut down");
        if (!publish_status_.ok()) return publish_status_;
        ++in_flight_[msg.user().namespace_uuid()];
        ++published_;
        last_content_ = msg.content_json();
        last_placement_ = placement;
        queue_.push_back({placement, std::move(msg), std::move(on_result)});
        cv_.notify_all();
        return absl::OkStatus();
    }

    /// Records the keep-warm order (keep_warm_orders()); "invoker" 0.
    [[nodiscard]] absl::StatusOr<int32_t> PublishKeepWarm(
        const loadbalancer::ActionPlacement& placement, wisp::v1::ActivationMessage msg) override {
        std::lock_guard lock(mu_);
        if (stopped_) return absl::UnavailableError("the balancer is shut down");
        if (!publish_status_.ok()) return publish_status_;
        last_keep_warm_placement_ = placement;
        keep_warm_orders_.push_back(std::move(msg));
        return 0;
    }
    /// The keep-warm orders PublishKeepWarm() got, in order.
    std::vector<wisp::v1::ActivationMessage> keep_warm_orders() const {
        std::lock_guard lock(mu_);
        return keep_warm_orders_;
    }

    int64_t ActiveActivationsFor(std::string_view namespace_uuid) const override {
        std::lock_guard lock(mu_);
        auto it = in_flight_.find(std::string(namespace_uuid));
        return it == in_flight_.end() ? 0 : it->second;
    }
    int64_t TotalActiveActivations() const override {
        std::lock_guard lock(mu_);
        int64_t n = 0;
        for (const auto& [uuid, count] : in_flight_) n += count;
        return n;
    }
    std::vector<loadbalancer::InvokerHealthInfo> InvokerHealth() const override {
        return {{"invoker0", "up"}};
    }
    void SetForcedCompletionHandler(loadbalancer::ForcedCompletionHandler handler) override {
        std::lock_guard lock(forced_mu_);
        forced_handler_ = std::move(handler);
    }

    /// What a balancer does when the forced completion timeout of every queued (Hold()) activation
    /// fires: each leaves the queue, the forced completion handler gets it ("invoker0",
    /// `timeout`), then its callback DeadlineExceeded. Returns how many.
    int ForceCompleteQueued(std::chrono::milliseconds timeout) {
        std::deque<Job> jobs;
        {
            std::lock_guard lock(mu_);
            jobs.swap(queue_);
            for (const auto& job : jobs) --in_flight_[job.msg.user().namespace_uuid()];
            idle_cv_.notify_all();
        }
        for (auto& job : jobs) {
            {
                std::lock_guard lock(forced_mu_);
                if (forced_handler_) {
                    forced_handler_(loadbalancer::ForcedCompletionFor(job.msg, 0, timeout));
                }
            }
            if (job.on_result) {
                loadbalancer::ActivationResult result;
                result.activation_id = job.msg.activation_id();
                result.status = absl::DeadlineExceededError("completed by force");
                job.on_result(std::move(result));
            }
        }
        return static_cast<int>(jobs.size());
    }

    /// Releases a Hold(), completes what was published and stops the worker; later Publish()
    /// calls are refused.
    void Shutdown() override {
        {
            std::lock_guard lock(mu_);
            if (stopped_) return;
            stopped_ = true;
            hold_ = false;
            cv_.notify_all();
        }
        worker_.join();
    }

    /// From now on Publish() answers `status` (OkStatus() accepts again).
    void FailPublish(absl::Status status) {
        std::lock_guard lock(mu_);
        publish_status_ = std::move(status);
    }
    /// Keeps published activations in flight (not completed) until Release().
    void Hold() {
        std::lock_guard lock(mu_);
        hold_ = true;
    }
    void Release() {
        std::lock_guard lock(mu_);
        hold_ = false;
        cv_.notify_all();
    }
    /// Waits until nothing is queued or running, also what callbacks published meanwhile (the
    /// next component of a sequence). Release() a Hold() first.
    void Drain() {
        std::unique_lock lock(mu_);
        idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    }

    /// The placement of the last activation Publish() accepted.
    loadbalancer::ActionPlacement last_placement() const {
        std::lock_guard lock(mu_);
        return last_placement_;
    }
    /// Activations accepted by Publish() so far.
    int published() const {
        std::lock_guard lock(mu_);
        return published_;
    }
    /// The arguments (content_json) of the last accepted activation.
    std::string last_content() const {
        std::lock_guard lock(mu_);
        return last_content_;
    }

  private:
    struct Job {
        loadbalancer::ActionPlacement placement;
        wisp::v1::ActivationMessage msg;
        loadbalancer::ResultCallback on_result;
    };

    void Work() {
        std::unique_lock lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return (stopped_ || !queue_.empty()) && !hold_; });
            if (queue_.empty()) return;  // stopped, and everything published is complete
            Job job = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
            lock.unlock();
            Complete(job);
            lock.lock();
            busy_ = false;
            if (queue_.empty()) idle_cv_.notify_all();
        }
    }

    void Complete(Job& job) {
        const wisp::v1::ActivationMessage& msg = job.msg;
        common::ActivationRecord record;
        record.namespace_path = common::EntityPath({msg.user().namespace_name()});
        record.name = msg.action().name();
        record.subject = msg.user().subject();
        if (auto id = common::ActivationId::Parse(msg.activation_id()); id.ok()) {
            record.activation_id = *id;
        }
        if (auto cause = common::ActivationId::Parse(msg.cause()); cause.ok()) {
            record.cause = *cause;
        }
        record.start_ms = options_.start_ms;
        record.end_ms = options_.start_ms + options_.duration_ms;
        record.annotations.Set("path", common::JsonValue::String(job.placement.fqn));
        record.response.result = common::JsonValue::EmptyObject();
        if (options_.respond) options_.respond(msg, record);
        if (options_.store != nullptr) (void)options_.store->PutActivation(record);
        {
            // Out of flight before the callback: a sequence publishes its next component there.
            std::lock_guard lock(mu_);
            --in_flight_[msg.user().namespace_uuid()];
        }
        if (job.on_result) {
            loadbalancer::ActivationResult result;
            result.activation_id = msg.activation_id();
            result.record = std::move(record);
            job.on_result(std::move(result));
        }
    }

    const Options options_;
    std::mutex forced_mu_;
    loadbalancer::ForcedCompletionHandler forced_handler_;
    mutable std::mutex mu_;
    loadbalancer::ActionPlacement last_placement_;
    loadbalancer::ActionPlacement last_keep_warm_placement_;
    std::vector<wisp::v1::ActivationMessage> keep_warm_orders_;
    std::condition_variable cv_;       // the worker: a job, a release or the stop
    std::condition_variable idle_cv_;  // Drain(): nothing queued or running
    std::deque<Job> queue_;
    std::map<std::string, int64_t> in_flight_;
    absl::Status publish_status_;
    int published_ = 0;
    std::string last_content_;
    bool hold_ = false;
    bool busy_ = false;
    bool stopped_ = false;
    std::thread worker_;  // last: starts once everything above exists
};

}  // namespace wisp::testing
