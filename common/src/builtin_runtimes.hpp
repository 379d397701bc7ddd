#pragma once
#include <string_view>

namespace wisp::common::internal {

/// runtimes/runtimes.json, compiled in (generated from builtin_runtimes.cpp.in at configure time).
extern const std::string_view kBuiltInRuntimesJson;

}  // namespace wisp::common::internal
