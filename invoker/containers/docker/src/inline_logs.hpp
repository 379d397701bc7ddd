#pragma once
// Inline logs: the log lines a Wisp action proxy sends after the /run result when asked with
// `X-Wisp-Logs: inline` (runtimes/README.md), turned into the activation's Container::Logs
// exactly as the json-file path (LogAssembler) would have: docker's time format, the same
// limit rule and truncation flag.
#include <cstdint>
#include <string>
#include <string_view>

#include <wisp/invoker/container.hpp>

namespace wisp::invoker::docker {

/// The request header line that asks a Wisp proxy for inline logs.
inline constexpr std::string_view kInlineLogsHeader = "X-Wisp-Logs: inline\r\n";

/// Unix nanoseconds as docker's json-file writes them (Go's RFC3339Nano: trailing zeros of the
/// fraction dropped, no fraction at all when it is zero), e.g. "2026-11-23T06:05:01.1234567Z".
std::string FormatDockerTime(int64_t unix_nanos);

/// `logs` ("<unix nanos> <stdout|stderr> <text>\n" per line) as an activation's Logs: line texts
/// count against `limit_bytes`; the first line that would pass it and every later one are
/// dropped and `truncated` is set, as is it when the proxy dropped lines (`proxy_truncated`).
/// Lines that do not have this form are skipped. `complete` is always true (no sentinels).
Container::Logs ParseInlineLogs(std::string_view logs, bool proxy_truncated, int64_t limit_bytes);

}  // namespace wisp::invoker::docker
