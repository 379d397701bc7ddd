// wisp-admin invoker list|status|drain|enable (admin/README.md "Invokers").
#include <wisp/admin/invoker_admin.hpp>

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/v1/activation.pb.h>
#include <wisp/v1/invoker.grpc.pb.h>

namespace wisp::admin {

namespace {

using wisp::v1::InvokerStatusResponse;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kProgram = "wisp-admin";

int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string StateName(InvokerStatusResponse::State state) {
    switch (state) {
        case InvokerStatusResponse::ENABLED:
            return "enabled";
        case InvokerStatusResponse::DRAINING:
            return "draining";
        case InvokerStatusResponse::DRAINED:
            return "drained";
        case InvokerStatusResponse::STOPPING:
            return "stopping";
        default:
            return "unknown";
    }
}

/// One invoker's answer (or why there is none).
struct Answer {
    std::string endpoint;
    grpc::Status status;
    InvokerStatusResponse response;
};

class Control {
  public:
    Control(const std::string& endpoint, const InvokerAdminOptions& options)
        : endpoint_(endpoint),
          options_(options),
          stub_(wisp::v1::InvokerControl::NewStub(
              grpc::CreateChannel(endpoint, grpc::InsecureChannelCredentials()))) {}

    Answer Call(InvokerAction action) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
        context.AddMetadata("authorization", "Bearer " + options_.token);
        Answer answer{.endpoint = endpoint_};
        switch (action) {
            case InvokerAction::kDrain:
                answer.status =
                    stub_->Drain(&context, wisp::v1::InvokerDrainRequest(), &answer.response);
                break;
            case InvokerAction::kEnable:
                answer.status =
                    stub_->Enable(&context, wisp::v1::InvokerEnableRequest(), &answer.response);
                break;
            default:
                answer.status =
                    stub_->Status(&context, wisp::v1::InvokerStatusRequest(), &answer.response);
                break;
        }
        if (answer.response.control_endpoint().empty()) {
            answer.response.set_control_endpoint(endpoint_);
        }
        return answer;
    }

  private:
    std::string endpoint_;
    const InvokerAdminOptions& options_;
    std::unique_ptr<wisp::v1::InvokerControl::Stub> stub_;
};

/// One line, saying what to do next.
std::string ErrorLine(const Answer& a) {
    switch (a.status.error_code()) {
        case grpc::StatusCode::UNAUTHENTICATED:
            return fmt::format("{}: invoker at {} refused the call: {}", kProgram, a.endpoint,
                               a.status.error_message());
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
            return fmt::format(
                "{}: invoker at {} did not answer ({}): is it running, with a control token? "
                "`wisp-admin invoker list --kafka HOST:PORT` shows the invokers and their "
                "control endpoints",
                kProgram, a.endpoint, a.status.error_message());
        default:
            return fmt::format("{}: invoker at {} failed: {} ({})", kProgram, a.endpoint,
                               a.status.error_message(), static_cast<int>(a.status.error_code()));
    }
}

std::string InvokerName(const InvokerStatusResponse& r) {
    return fmt::format("invoker{}", r.instance().instance());
}

void PrintStatusTable(const std::vector<Answer>& answers, std::ostream& out) {
    out << fmt::format("{:<10} {:<22} {:<9} {:>9} {:>8} {:>15}  {}\n", "INVOKER", "ENDPOINT",
                       "STATE", "IN-FLIGHT", "BUFFERED", "MEMORY (MB)",
                       "CONTAINERS busy/idle/paused/prewarm/starting");
    for (const Answer& a : answers) {
        if (!a.status.ok()) continue;
        const InvokerStatusResponse& r = a.response;
        const auto& c = r.containers();
        out << fmt::format("{:<10} {:<22} {:<9} {:>9} {:>8} {:>15}  {}/{}/{}/{}/{}\n",
                           InvokerName(r), r.control_endpoint(), StateName(r.state()),
                           r.in_flight(), r.buffered(),
                           fmt::format("{}/{}", r.memory_in_use_mb(), r.user_memory_mb()), c.busy(),
                           c.idle(), c.paused(), c.prewarm(), c.starting());
    }
}

void WriteStatusJson(rapidjson::Writer<rapidjson::StringBuffer>& w, const Answer& a) {
    const InvokerStatusResponse& r = a.response;
    w.StartObject();
    w.Key("invoker");
    w.String(InvokerName(r).c_str());
    w.Key("instance");
    w.Int(r.instance().instance());
    w.Key("endpoint");
    w.String(a.endpoint.c_str());
    if (!a.status.ok()) {
        w.Key("error");
        w.String(a.status.error_message().c_str());
        w.EndObject();
        return;
    }
    w.Key("state");
    w.String(StateName(r.state()).c_str());
    w.Key("in_flight");
    w.Int(r.in_flight());
    w.Key("buffered");
    w.Int(r.buffered());
    w.Key("memory_in_use_mb");
    w.Int64(r.memory_in_use_mb());
    w.Key("user_memory_mb");
    w.Int64(r.user_memory_mb());
    w.Key("containers");
    w.StartObject();
    const auto& c = r.containers();
    for (const auto& [k, v] : {std::pair<const char*, int>{"busy", c.busy()},
                               {"idle", c.idle()},
                               {"paused", c.paused()},
                               {"prewarm", c.prewarm()},
                               {"starting", c.starting()}}) {
        w.Key(k);
        w.Int(v);
    }
    w.EndObject();
    w.Key("cold_starts");
    w.Int64(r.cold_starts());
    w.Key("warm_starts");
    w.Int64(r.warm_starts());
    w.Key("prewarm_starts");
    w.Int64(r.prewarm_starts());
    w.EndObject();
}

void PrintStatusJson(const std::vector<Answer>& answers, std::ostream& out) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartArray();
    for (const Answer& a : answers) WriteStatusJson(w, a);
    w.EndArray();
    out << buffer.GetString() << "\n";
}

int List(const std::vector<KnownInvoker>& invokers, const InvokerAdminOptions& options,
         std::ostream& out) {
    if (options.json) {
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
        w.StartArray();
        for (const KnownInvoker& k : invokers) {
            w.StartObject();
            w.Key("invoker");
            w.String(fmt::format("invoker{}", k.instance).c_str());
            w.Key("instance");
            w.Int(k.instance);
            w.Key("endpoint");
            w.String(k.endpoint.c_str());
            w.Key("enabled");
            w.Bool(k.enabled);
            w.Key("user_memory_mb");
            w.Int64(k.user_memory_mb);
            w.Key("last_ping_ms_ago");
            w.Int64(std::max<int64_t>(0, NowMs() - k.sent_at_ms));
            w.EndObject();
        }
        w.EndArray();
        out << buffer.GetString() << "\n";
        return 0;
    }
    if (invokers.empty()) {
        out << "no invoker pinged on " << options.topic_prefix << "health in the last "
            << options.listen.count() << " ms\n";
        return 0;
    }
    out << fmt::format("{:<10} {:<22} {:<9} {:>12}\n", "INVOKER", "ENDPOINT", "PINGS",
                       "MEMORY (MB)");
    for (const KnownInvoker& k : invokers) {
        out << fmt::format("{:<10} {:<22} {:<9} {:>12}\n", fmt::format("invoker{}", k.instance),
                           k.endpoint.empty() ? "-" : k.endpoint,
                           k.enabled ? "enabled" : "disabled", k.user_memory_mb);
    }
    return 0;
}

}  // namespace

absl::StatusOr<std::vector<KnownInvoker>> DiscoverInvokers(messaging::MessagingProvider& bus,
                                                           std::chrono::milliseconds listen) {
    const std::string topic = "health";
    // A group of its own that never commits: every run reads the retained pings from the start
    // and leaves nothing behind.
    std::random_device rd;
    const std::string group = fmt::format("wisp-admin-{}-{:08x}", ::getpid(), rd());
    auto consumer = bus.GetConsumer(topic, group, 512);
    const int64_t start_ms = NowMs();
    // Live: pinged since shortly before we started listening (pings come every second).
    const int64_t live_since_ms = start_ms - 2000;
    const auto listen_end = Clock::now() + listen;
    const auto give_up = listen_end + std::chrono::seconds(60);  // a very long history
    std::map<int32_t, KnownInvoker> latest;
    while (true) {
        auto batch = consumer->Peek(std::chrono::milliseconds(200));
        if (!batch.ok()) {
            consumer->Close();
            return batch.status();
        }
        bool caught_up = batch->empty();
        for (const messaging::Message& m : *batch) {
            wisp::v1::PingMessage ping;
            if (!ping.ParseFromString(m.payload)) continue;
            // Pings without a send time (older invokers) count as sent when read.
            const int64_t sent = ping.sent_at_ms() > 0 ? ping.sent_at_ms() : NowMs();
            caught_up = sent >= live_since_ms;
            KnownInvoker& k = latest[ping.name().instance()];
            if (sent < k.sent_at_ms) continue;
            k = KnownInvoker{.instance = ping.name().instance(),
                             .endpoint = ping.control_endpoint(),
                             .enabled = ping.is_enabled(),
                             .user_memory_mb = ping.name().user_memory_mb(),
                             .sent_at_ms = sent};
        }
        const auto now = Clock::now();
        if ((now >= listen_end && caught_up) || now >= give_up) break;
    }
    consumer->Close();
    std::vector<KnownInvoker> out;
    for (auto& [instance, k] : latest) {
        if (k.sent_at_ms >= live_since_ms) out.push_back(std::move(k));
    }
    return out;
}

int RunInvokerCommand(const InvokerAdminOptions& options, messaging::MessagingProvider* bus,
                      std::ostream& out, std::ostream& err) {
    const bool discover = options.action == InvokerAction::kList || options.all;
    std::vector<std::string> endpoints = options.endpoints;
    std::vector<KnownInvoker> known;
    if (discover) {
        if (bus == nullptr) {
            err << kProgram
                << ": error: finding the invokers needs the deployment's bus: pass --kafka "
                   "HOST:PORT (or set WISP_KAFKA), or name one with --invoker HOST:PORT\n";
            return 2;
        }
        auto found = DiscoverInvokers(*bus, options.listen);
        if (!found.ok()) {
            err << kProgram << ": cannot read the invokers' pings on " << options.topic_prefix
                << "health: " << found.status().message() << " (is Kafka running?)\n";
            return 1;
        }
        known = std::move(*found);
        if (options.action == InvokerAction::kList) return List(known, options, out);
        if (known.empty()) {
            err << kProgram << ": no invoker pinged on " << options.topic_prefix
                << "health in the last " << options.listen.count()
                << " ms: are they running? (check --kafka and --topic-prefix)\n";
            return 1;
        }
        for (const KnownInvoker& k : known) {
            if (k.endpoint.empty()) {
                err << kProgram << ": invoker" << k.instance
                    << " serves no control service (start it with --control-token); skipped\n";
                continue;
            }
            endpoints.push_back(k.endpoint);
        }
    }
    if (endpoints.empty()) {
        err << kProgram
            << ": error: which invoker? pass --invoker HOST:PORT, or --all with --kafka "
               "HOST:PORT (`wisp-admin invoker list` shows them)\n";
        return 2;
    }
    if (options.token.empty()) {
        err << kProgram
            << ": error: no control token: pass --control-token (or set WISP_CONTROL_TOKEN, or "
               "--control-token-file) with the token the invokers were started with\n";
        return 2;
    }

    std::vector<std::unique_ptr<Control>> controls;
    for (const std::string& e : endpoints)
        controls.push_back(std::make_unique<Control>(e, options));
    std::vector<Answer> answers;
    int failed = 0;
    for (auto& control : controls) {
        answers.push_back(control->Call(options.action));
        if (!answers.back().status.ok()) {
            ++failed;
            err << ErrorLine(answers.back()) << "\n";
        }
    }

    if (options.action == InvokerAction::kDrain && options.wait) {
        // Poll until every invoker that answered is DRAINED, a line on err per change.
        const auto deadline = Clock::now() + options.wait_timeout;
        std::vector<std::string> last(answers.size());
        while (true) {
            bool all_drained = true;
            for (size_t i = 0; i < answers.size(); ++i) {
                if (!answers[i].status.ok()) continue;
                const InvokerStatusResponse& r = answers[i].response;
                const std::string line = fmt::format(
                    "{} ({}): {}, {} in flight, {} buffered", InvokerName(r), answers[i].endpoint,
                    StateName(r.state()), r.in_flight(), r.buffered());
                if (line != last[i]) err << line << "\n";
                last[i] = line;
                all_drained &= r.state() == InvokerStatusResponse::DRAINED;
            }
            if (all_drained) break;
            if (Clock::now() >= deadline) {
                err << kProgram << ": not drained after " << options.wait_timeout.count() / 1000
                    << " s: activations are still running; wait longer (--timeout SECONDS) or "
                       "see `wisp-admin invoker status`\n";
                return 1;
            }
            std::this_thread::sleep_for(options.poll_interval);
            for (size_t i = 0; i < answers.size(); ++i) {
                if (!answers[i].status.ok()) continue;
                Answer next = controls[i]->Call(InvokerAction::kStatus);
                if (!next.status.ok()) {
                    err << ErrorLine(next) << "\n";
                    return 1;
                }
                answers[i] = std::move(next);
            }
        }
    }

    if (options.json) {
        PrintStatusJson(answers, out);
    } else if (failed < static_cast<int>(answers.size())) {
        PrintStatusTable(answers, out);
    }
    return failed > 0 ? 1 : 0;
}

}  // namespace wisp::admin
