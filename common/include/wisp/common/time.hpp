#pragma once
// RFC 3339 timestamps as nanoseconds since the Unix epoch (container log lines from docker and
// the Kubernetes API carry them).
#include <cstdint>
#include <string>
#include <string_view>

#include <absl/status/statusor.h>

namespace wisp::common {

/// "2026-11-23T12:38:07.423818976Z" as nanoseconds since the Unix epoch: 'T', 't' or ' ' between
/// date and time, any number of fraction digits (those after the ninth are dropped), 'Z', 'z'
/// or a "+hh:mm"/"-hh:mm" offset. InvalidArgument when malformed.
[[nodiscard]] absl::StatusOr<int64_t> ParseRfc3339Nanos(std::string_view text);

/// Nanoseconds since the Unix epoch as RFC 3339 in UTC with 9 fraction digits
/// ("2026-11-23T12:38:07.423818976Z").
std::string FormatRfc3339Nanos(int64_t unix_nanos);

}  // namespace wisp::common
