#pragma once
// Architecture names across tools: `uname -m` says x86_64/aarch64, Docker, Go and Kubernetes
// say amd64/arm64. Kept out of exec.hpp (included almost everywhere) on purpose.
#include <string>
#include <string_view>

namespace wisp::common {

/// The architecture name Docker, Go and Kubernetes (the node label `kubernetes.io/arch`) give a
/// `uname -m` machine (common::HostMachine()): "x86_64" -> "amd64", "aarch64"/"arm64" ->
/// "arm64"; any other machine as given ("" stays "").
std::string PlatformArch(std::string_view machine);

}  // namespace wisp::common
