#pragma once
// What wsk prints: `ok:` lines, entity list tables, the activation table, summaries, the
// `error:` line. Colour (green ok:, bold names, red error:) only when stdout is a terminal.
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "wsk_error.hpp"

namespace wsk {

/// Decides colour once per process: stdout is a TTY and NO_COLOR is unset.
void InitColor();
void SetColor(bool enabled);
bool ColorEnabled();

std::string Green(const std::string& s);
std::string Bold(const std::string& s);
std::string Red(const std::string& s);
/// "ok: " (green on a TTY).
std::string Ok();

enum class EntityKind { kAction, kTrigger, kRule, kPackage };

/// A list table: bold header ("actions", ...) then one `%-70s` row per entity: "/ns/name",
/// "private|shared", plus the kind (actions) or status (rules). `name_sort` sorts by name.
std::string FormatEntityList(EntityKind kind, const rapidjson::Value& entities, bool name_sort);
/// "namespaces" + one name per line.
std::string FormatNamespaceList(const rapidjson::Value& names);

/// Go's time.Duration printing for whole milliseconds: "0s", "35ms", "1.5s", "2m3.004s".
std::string FormatDurationMs(int64_t ms);
/// The `wsk activation list` table (header + rows); times in the local time zone.
std::string FormatActivationTable(const rapidjson::Value& activations);
/// "Xxx...yyy": Go's TruncateStr.
std::string TruncateMiddle(const std::string& s, size_t max_len);
/// A stored log line without its "<timestamp> stdout: " prefix.
std::string StripLogTimestamp(const std::string& line);

/// `wsk action|trigger|package|rule get --summary`.
std::string FormatSummary(EntityKind kind, const rapidjson::Value& entity);

/// "error: <message>\n" (+ "Run 'wsk --help' for usage.\n"); empty when nothing is displayed.
std::string FormatError(const WskError& error);

}  // namespace wsk
