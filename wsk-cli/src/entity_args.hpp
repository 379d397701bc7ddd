#pragma once
// The pure parts of turning a command line into REST requests: the -p/-a/-P/-A pre-pass, key/value
// JSON building, qualified names, the action `exec` from a file and flags, web annotations.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "wsk_error.hpp"

namespace wsk {

/// One `-p K V` / `-P FILE` (and the annotation twins) in command-line order: each is a JSON
/// object text ({"K": V}, or the file's content), merged left to right.
struct KeyValueArgs {
    std::vector<std::string> params;
    std::vector<std::string> annotations;
    std::vector<std::string> feed_params;     // -F/--feed-param
    std::vector<std::string> trigger_params;  // -T/--trigger-param
    bool param_flag_seen = false;
};

/// Removes `-p K V`, `--param K V`, `-a K V`, `--annotation K V`, `-F`, `-T` (two words) and
/// `-P F`, `--param-file F`, `-A F`, `--annotation-file F` (one word, the file is read) from
/// `argv` (argv[0] kept), as the Go CLI does before flag parsing: a value such as "-1" is then
/// never mistaken for a flag. `read_file` returns nullopt for a missing file.
[[nodiscard]] Result<KeyValueArgs> ExtractKeyValueArgs(
    std::vector<std::string>& argv,
    const std::function<Result<std::string>(const std::string&)>& read_file);

/// `{"K": V}` where V is the JSON value when `value` parses as JSON, else the string.
std::string KeyValueJson(const std::string& key, const std::string& value);

/// Merges the JSON object texts (later keys win, first position kept) into `out` (an object).
/// Error: "invalid character ..." style message when a text is not a JSON object.
[[nodiscard]] Status MergeJsonObjects(const std::vector<std::string>& texts, rapidjson::Value& out,
                                      rapidjson::Document::AllocatorType& alloc);
/// The same, as [{"key":K,"value":V}, ...].
[[nodiscard]] Status KeyValueArray(const std::vector<std::string>& texts, rapidjson::Value& out,
                                   rapidjson::Document::AllocatorType& alloc);

/// Names as typed: "a", "pkg/a", "/ns/a", "/ns/pkg/a"; namespace "_" when not given.
struct QualifiedName {
    std::string ns = "_";
    std::string package;      // "" when none
    std::string entity_name;  // "pkg/a" or "a": the path after the namespace
    std::string entity;       // "a"
};
/// Error "A valid qualified name must be specified." (exit 149).
[[nodiscard]] Result<QualifiedName> ParseQualifiedName(const std::string& name);
/// "/ns/name" for a reference in a body (rule trigger/action, sequence components).
std::string FullyQualified(const std::string& name, const std::string& ns = "_");

/// The kind for a file extension (".py" -> "python:default"); error for ".zip" (needs --kind)
/// and for unknown extensions ("'.x' is not a supported action runtime"), exit 2.
[[nodiscard]] Result<std::string> KindFromExtension(const std::string& ext);
/// The extension of a path including the dot, "" when none (as Go's filepath.Ext).
std::string FileExtension(const std::string& path);
/// .zip, .jar and .balx artifacts are uploaded base64-encoded.
bool IsBinaryArtifact(const std::string& ext);

struct ExecFlags {
    std::string kind;
    std::string main;
    std::string docker;
    bool native = false;
    bool sequence = false;
};

/// The `exec` object for `action create|update NAME [ARTIFACT]`; `artifact_content` is the
/// file's content (already read). Sequence components are "/_/a" style references.
[[nodiscard]] Status BuildExec(const std::optional<std::string>& artifact,
                               const std::optional<std::string>& artifact_content,
                               const ExecFlags& flags, rapidjson::Value& exec,
                               rapidjson::Document::AllocatorType& alloc);

/// Applies `--web MODE` to an annotations array (web-export, raw-http, final); error for a mode
/// other than yes|true|raw|no|false.
[[nodiscard]] Status ApplyWebFlag(const std::string& mode, rapidjson::Value& annotations,
                                  rapidjson::Document::AllocatorType& alloc);
/// `--web-secure SECRET`: true -> a random number, false -> removes require-whisk-auth, any
/// other string -> that string.
void ApplyWebSecureFlag(const std::string& secret, rapidjson::Value& annotations,
                        std::vector<std::string>& del_annotations,
                        rapidjson::Document::AllocatorType& alloc);

/// Sets annotations[key] = value, replacing an existing entry.
void SetKeyValue(rapidjson::Value& array, const std::string& key, rapidjson::Value value,
                 rapidjson::Document::AllocatorType& alloc);
const rapidjson::Value* FindKeyValue(const rapidjson::Value& array, const std::string& key);

}  // namespace wsk
