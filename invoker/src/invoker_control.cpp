#include <wisp/invoker/invoker_control.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <mutex>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <wisp/v1/invoker.grpc.pb.h>
#include <wisp/invoker/invoker_reactive.hpp>
#include <wisp/invoker/invoker_service.hpp>

namespace wisp::invoker {

namespace {

using wisp::v1::InvokerStatusResponse;

std::string_view Trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

constexpr std::string_view kBearer = "Bearer ";

class ControlService final : public wisp::v1::InvokerControl::Service {
  public:
    ControlService(InvokerControlTarget& target, std::string token)
        : target_(target), token_(std::move(token)) {}

    void set_endpoint(std::string endpoint) {
        std::lock_guard<std::mutex> lock(mu_);
        endpoint_ = std::move(endpoint);
    }

    grpc::Status Status(grpc::ServerContext* context, const wisp::v1::InvokerStatusRequest*,
                        InvokerStatusResponse* response) override {
        if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
        Fill(*response);
        return grpc::Status::OK;
    }

    grpc::Status Drain(grpc::ServerContext* context, const wisp::v1::InvokerDrainRequest*,
                       InvokerStatusResponse* response) override {
        if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
        spdlog::info("control: drain requested by {}", context->peer());
        target_.SetEnabled(false);
        Fill(*response);
        return grpc::Status::OK;
    }

    grpc::Status Enable(grpc::ServerContext* context, const wisp::v1::InvokerEnableRequest*,
                        InvokerStatusResponse* response) override {
        if (grpc::Status auth = Authorize(*context); !auth.ok()) return auth;
        spdlog::info("control: enable requested by {}", context->peer());
        target_.SetEnabled(true);
        Fill(*response);
        return grpc::Status::OK;
    }

  private:
    grpc::Status Authorize(const grpc::ServerContext& context) const {
        const auto& metadata = context.client_metadata();
        auto it = metadata.find("authorization");
        if (it == metadata.end()) {
            return {grpc::StatusCode::UNAUTHENTICATED,
                    "this invoker's control service needs its token: pass --control-token (or "
                    "set WISP_CONTROL_TOKEN) with the token the invoker was started with"};
        }
        std::string_view value(it->second.data(), it->second.size());
        const bool bearer = value.starts_with(kBearer);
        if (bearer) value.remove_prefix(kBearer.size());
        if (!bearer || !ConstantTimeEquals(value, token_)) {
            spdlog::warn("control: refused a call from {} with a wrong token", context.peer());
            return {grpc::StatusCode::UNAUTHENTICATED,
                    "wrong control token: use the token the invoker was started with "
                    "(its --control-token, WISP_CONTROL_TOKEN or --control-token-file)"};
        }
        return grpc::Status::OK;
    }

    void Fill(InvokerStatusResponse& response) const {
        response = target_.Status();
        std::lock_guard<std::mutex> lock(mu_);
        response.set_control_endpoint(endpoint_);
    }

    InvokerControlTarget& target_;
    const std::string token_;
    mutable std::mutex mu_;
    std::string endpoint_;  // known once the server listens
};

}  // namespace

InvokerStatusResponse::State InvokerStateOf(bool enabled, bool stopping, int in_flight,
                                            int buffered) {
    if (stopping) return InvokerStatusResponse::STOPPING;
    if (enabled) return InvokerStatusResponse::ENABLED;
    return in_flight > 0 || buffered > 0 ? InvokerStatusResponse::DRAINING
                                         : InvokerStatusResponse::DRAINED;
}

void FillPoolStatus(const ContainerPoolStats& stats, int64_t user_memory_mb,
                    InvokerStatusResponse& out) {
    wisp::v1::InvokerContainerCounts& c = *out.mutable_containers();
    c.set_starting(stats.starting);
    c.set_prewarm(stats.prewarm);
    c.set_busy(stats.busy);
    c.set_idle(stats.idle);
    c.set_paused(stats.paused);
    out.set_buffered(stats.buffered);
    out.set_memory_in_use_mb(stats.used_mb);
    out.set_user_memory_mb(user_memory_mb);
    out.set_cold_starts(stats.cold_starts);
    out.set_warm_starts(stats.warm_starts);
    out.set_prewarm_starts(stats.prewarm_starts);
}

ReactiveControlTarget::ReactiveControlTarget(InvokerReactive& reactive, InvokerService& service,
                                             wisp::v1::InvokerInstanceId instance)
    : reactive_(reactive), service_(service), instance_(std::move(instance)) {}

InvokerStatusResponse ReactiveControlTarget::Status() const {
    InvokerStatusResponse out;
    *out.mutable_instance() = instance_;
    FillPoolStatus(service_.pool().Stats(), service_.pool().config().user_memory_mb, out);
    out.set_in_flight(reactive_.outstanding());
    out.set_state(
        InvokerStateOf(reactive_.enabled(), reactive_.stopping(), out.in_flight(), out.buffered()));
    return out;
}

void ReactiveControlTarget::SetEnabled(bool enabled) { reactive_.SetEnabled(enabled); }

struct InvokerControlServer::Impl {
    std::unique_ptr<ControlService> service;
    std::unique_ptr<grpc::Server> server;
    std::string endpoint;
    bool shut_down = false;
};

InvokerControlServer::InvokerControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

InvokerControlServer::~InvokerControlServer() { Shutdown(); }

const std::string& InvokerControlServer::endpoint() const { return impl_->endpoint; }

void InvokerControlServer::Shutdown() {
    if (impl_->shut_down) return;
    impl_->shut_down = true;
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    impl_->server->Wait();
}

absl::StatusOr<std::unique_ptr<InvokerControlServer>> InvokerControlServer::Start(
    InvokerControlTarget& target, InvokerControlOptions options) {
    if (options.token.empty()) {
        return absl::FailedPreconditionError(
            "the invoker control service needs a token: set --control-token (or "
            "WISP_CONTROL_TOKEN, or --control-token-file) to a secret shared with wisp-admin");
    }
    const size_t colon = options.listen.rfind(':');
    const std::string host = colon == std::string::npos ? "" : options.listen.substr(0, colon);
    const std::string port = colon == std::string::npos ? "" : options.listen.substr(colon + 1);
    const bool port_ok = !port.empty() && port.size() <= 5 &&
                         port.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoi(port) <= 65535;
    if (host.empty() || !port_ok) {
        return absl::InvalidArgumentError("--control-listen \"" + options.listen +
                                          "\" is not HOST:PORT (e.g. 127.0.0.1:0 for any free "
                                          "port on loopback)");
    }
    auto impl = std::make_unique<Impl>();
    impl->service = std::make_unique<ControlService>(target, options.token);
    grpc::ServerBuilder builder;
    int selected_port = 0;
    // gRPC sets SO_REUSEPORT by default: a second invoker asking for a taken port would then
    // share it silently. A taken port must be an error.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &selected_port);
    builder.RegisterService(impl->service.get());
    impl->server = builder.BuildAndStart();
    if (!impl->server || selected_port == 0) {
        if (impl->server) impl->server->Shutdown();
        return absl::UnavailableError("the invoker control service cannot listen on " +
                                      options.listen +
                                      ": is the port taken? pick another --control-listen (port "
                                      "0 picks a free one)");
    }
    impl->endpoint = host + ":" + std::to_string(selected_port);
    impl->service->set_endpoint(impl->endpoint);
    if (IsLoopbackListen(options.listen)) {
        spdlog::info("control service on {} (gRPC InvokerControl, token required)", impl->endpoint);
    } else {
        spdlog::warn(
            "control service on {} (gRPC InvokerControl, token required): not loopback and "
            "without TLS, so the token crosses the network in plaintext; keep the address on a "
            "private network",
            impl->endpoint);
    }
    return std::unique_ptr<InvokerControlServer>(new InvokerControlServer(std::move(impl)));
}

absl::StatusOr<std::string> ResolveControlToken(const std::string& token,
                                                const std::string& token_file) {
    if (!token.empty()) return std::string(Trim(token));
    if (token_file.empty()) return std::string();
    std::ifstream in(token_file);
    if (!in) {
        return absl::NotFoundError("cannot read the control token file " + token_file +
                                   ": does it exist and is it readable? (--control-token-file / "
                                   "WISP_CONTROL_TOKEN_FILE)");
    }
    std::string line;
    std::getline(in, line);
    const std::string trimmed(Trim(line));
    if (trimmed.empty()) {
        return absl::InvalidArgumentError("the control token file " + token_file +
                                          " is empty: write the token on its first line");
    }
    return trimmed;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
    // Walks the longer length whatever the content; a length difference still fails.
    const size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

bool IsLoopbackListen(std::string_view listen) {
    const size_t colon = listen.rfind(':');
    std::string_view host = colon == std::string_view::npos ? listen : listen.substr(0, colon);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace wisp::invoker
