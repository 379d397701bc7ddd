#pragma once
// Loopback ports for tests that start real peers.
#include <chrono>
#include <string>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace wisp::testing {

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
/// Another process may take it before the caller binds it; peers that accept "--port 0" are
/// better when available. Unavailable when no socket can be bound.
[[nodiscard]] absl::StatusOr<int> FindFreeLoopbackPort();

/// Polls until `host:port` accepts a TCP connection or `timeout` passes (then
/// DeadlineExceeded). Blocks the calling thread.
[[nodiscard]] absl::Status WaitForTcpPort(const std::string& host, int port,
                                          std::chrono::milliseconds timeout);

}  // namespace wisp::testing
