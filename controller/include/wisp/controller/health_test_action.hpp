#pragma once
// The invoker health test action (wire §7): `whisk.system/invokerHealthTestAction<controller id>`,
// nodejs:default, `function main(p){return p}`, 128 MB. The sharding balancer publishes it to an
// Unhealthy or Unresponsive invoker; the invoker runs it like any action, so it must exist in
// the store. Each controller has its own (OpenWhisk's InvokerPool.prepare creates it at start).
#include <cstdint>
#include <string_view>

#include <absl/status/status.h>

#include <wisp/common/exec.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::controller {

/// Creates the health test action of `controller_id` unless it exists (an existing one is left
/// as it is; a concurrent create by another process counts as success). Blocks on the store.
/// Errors: those of the store (Unavailable: the store is down; the message says so), and
/// FailedPrecondition when the manifest has no nodejs runtime.
[[nodiscard]] absl::Status EnsureHealthTestAction(store::ArtifactStore& store,
                                                  const common::RuntimeManifest& manifest,
                                                  std::string_view controller_id, int64_t now_ms);

}  // namespace wisp::controller
