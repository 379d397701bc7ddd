#pragma once
// InvokerControl: the gRPC service an invoker serves for its operator (proto/wisp/v1/
// invoker.proto; `wisp-admin invoker status|drain|enable`).
//
//   Status  pool counts by container state, memory in use / user memory, in-flight, buffered,
//           the state: ENABLED, DRAINING (no new work; activations still in flight or
//           buffered), DRAINED (no new work, nothing left), STOPPING (SIGTERM)
//   Drain   the pings say is_enabled=false: controllers stop sending work; what is on the
//           invoker's topic already still runs (nothing published is lost)
//   Enable  the pings say is_enabled=true again
//
// Security: every call must carry `authorization: Bearer <token>` (compared in constant time;
// otherwise UNAUTHENTICATED). The server refuses to start without a token; it listens on
// 127.0.0.1 unless told otherwise, and says in the log that a non-loopback address carries the
// token in plaintext (no TLS).
#include <memory>
#include <string>
#include <string_view>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <wisp/v1/invoker.pb.h>
#include <wisp/invoker/container_pool.hpp>

namespace wisp::invoker {

class InvokerReactive;
class InvokerService;

/// What the control service reads and switches (the running invoker, or a fake in tests).
class InvokerControlTarget {
  public:
    virtual ~InvokerControlTarget() = default;
    /// The current status, control_endpoint left empty. Thread-safe; does not block on I/O.
    virtual wisp::v1::InvokerStatusResponse Status() const = 0;
    /// Enable (true) or drain (false). Thread-safe, idempotent, returns at once.
    virtual void SetEnabled(bool enabled) = 0;
};

/// The state from the switches and the load: STOPPING wins; enabled → ENABLED; else DRAINING
/// while anything is in flight or buffered, DRAINED when nothing is.
wisp::v1::InvokerStatusResponse::State InvokerStateOf(bool enabled, bool stopping, int in_flight,
                                                      int buffered);

/// Container counts, memory and start counters of `stats` into `out`.
void FillPoolStatus(const ContainerPoolStats& stats, int64_t user_memory_mb,
                    wisp::v1::InvokerStatusResponse& out);

/// The target of a running wisp-invoker: the reactive's enabled switch (its pings) and
/// outstanding activations, the service's pool. Both must outlive it.
class ReactiveControlTarget final : public InvokerControlTarget {
  public:
    ReactiveControlTarget(InvokerReactive& reactive, InvokerService& service,
                          wisp::v1::InvokerInstanceId instance);
    wisp::v1::InvokerStatusResponse Status() const override;
    void SetEnabled(bool enabled) override;

  private:
    InvokerReactive& reactive_;
    InvokerService& service_;
    const wisp::v1::InvokerInstanceId instance_;
};

struct InvokerControlOptions {
    /// HOST:PORT to listen on; port 0 picks a free port (see endpoint()).
    std::string listen = "127.0.0.1:0";
    /// The shared token every call must present; must not be empty.
    std::string token;
};

class InvokerControlServer {
  public:
    /// Serves `target` (which must outlive the server). Errors: FailedPrecondition (no token),
    /// InvalidArgument (listen is not HOST:PORT), Unavailable (cannot listen there).
    [[nodiscard]] static absl::StatusOr<std::unique_ptr<InvokerControlServer>> Start(
        InvokerControlTarget& target, InvokerControlOptions options);
    /// Shutdown().
    ~InvokerControlServer();
    InvokerControlServer(const InvokerControlServer&) = delete;
    InvokerControlServer& operator=(const InvokerControlServer&) = delete;

    /// HOST:PORT the service listens on (the chosen port when 0 was asked for).
    const std::string& endpoint() const;
    /// Ends pending calls and stops listening. Idempotent.
    void Shutdown();

    struct Impl;

  private:
    explicit InvokerControlServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// The token from `token` (--control-token / WISP_CONTROL_TOKEN) or else the first line of
/// `token_file` (--control-token-file / WISP_CONTROL_TOKEN_FILE), surrounding whitespace
/// removed; empty when neither is given. Errors: NotFound / InvalidArgument for a file that
/// cannot be read or holds no token.
[[nodiscard]] absl::StatusOr<std::string> ResolveControlToken(const std::string& token,
                                                              const std::string& token_file);

/// Whether the two strings are equal, in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// Whether HOST of HOST:PORT is a loopback address (127.0.0.0/8, ::1, localhost).
bool IsLoopbackListen(std::string_view listen);

}  // namespace wisp::invoker
