#pragma once
// Catch2 prints an absl::StatusCode by name ("NOT_FOUND") in failed assertions.
#include <string>

#include <absl/status/status.h>
#include <catch2/catch.hpp>

namespace Catch {
template <>
struct StringMaker<absl::StatusCode> {
    static std::string convert(absl::StatusCode c) { return absl::StatusCodeToString(c); }
};
}  // namespace Catch
