#pragma once
// wskdeploy's manifest.yaml / deployment.yaml (apache/openwhisk-wskdeploy parsers/*.go), parsed
// with yaml-cpp into a deploy plan. Strict like yaml.UnmarshalStrict: an unknown key is an error.
// Every error names the file, the line (1-based) and the field path:
//   manifest.yaml:12: packages.club.actions.getBooks.limits.timeout: must be an integer
// $ENV substitution happens here (client side, with the given getenv), as wskdeploy does it.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsk_error.hpp"

namespace wsk::project {

using Getenv = std::function<const char*(const char*)>;

/// Where a manifest element was written: its line (1-based) and its field path.
struct Where {
    int line = 0;
    std::string path;  // "packages.club.actions.getBooks"
};

/// One parameter or annotation: the name and its value as compact JSON text.
struct KeyValue {
    std::string key;
    std::string json;
    Where where;
};
using KeyValues = std::vector<KeyValue>;

struct Action {
    std::string name;
    Where where;
    std::string function;  // the file, resolved against the manifest's folder ("" = none)
    std::optional<std::string> code;
    std::string runtime;  // as written ("" = from the file's extension)
    std::string main;
    std::string docker;  // image ("" = none); native: openwhisk/dockerskeleton
    bool native = false;
    std::optional<std::string> web;  // "true", "raw" or "false"
    bool conductor = false;
    KeyValues annotations;
    KeyValues inputs;
    std::optional<int> timeout, memory, logsize;
};

struct Sequence {
    std::string name;
    Where where;
    std::vector<std::string> actions;  // as written ("a", "pkg/b", "/ns/pkg/c")
    std::optional<std::string> web;
    KeyValues annotations;
};

struct Trigger {
    std::string name;
    Where where;
    std::string feed;  // "" = a plain trigger
    KeyValues inputs;
    KeyValues annotations;
};

struct Rule {
    std::string name;
    Where where;
    std::string trigger;
    std::string action;  // as written; a bare name is in the rule's package
    KeyValues annotations;
};

/// One API endpoint: apiName -> basePath -> relPath -> action -> {method, response}.
struct Api {
    std::string api_name;
    std::string base_path;  // "/club"
    std::string rel_path;   // "/books/{isbn}"
    std::string action;     // an action or sequence of the same package
    std::string method;     // upper case
    std::string response;   // "" = server default (json); "http" with path parameters
    Where where;
};

struct Package {
    std::string name;  // "default": actions, sequences and rules live in the namespace
    Where where;
    std::string version = "0.0.1";
    std::string license = "unlicensed";
    bool is_public = false;
    KeyValues inputs;
    KeyValues annotations;
    std::vector<Action> actions;
    std::vector<Sequence> sequences;
    std::vector<Trigger> triggers;
    std::vector<Rule> rules;
    std::vector<Api> apis;

    bool IsDefault() const { return name == "default"; }
};

struct Manifest {
    std::string file;          // as shown in messages and stored in whisk-managed.file
    std::string project_name;  // "" when the manifest names no project
    std::string hash;          // ProjectHash of the manifest text
    std::vector<Package> packages;
    std::vector<std::string> warnings;  // shown with -v
};

/// Parses manifest `text`; `file` names it in errors, `dir` resolves `function` paths.
[[nodiscard]] Result<Manifest> ParseManifest(std::string_view text, const std::string& file,
                                             const std::string& dir, const Getenv& getenv);

/// Applies a deployment.yaml (`file` names it in errors): project name (must match), package,
/// action and trigger inputs and annotations override the manifest's keys (new keys are added).
[[nodiscard]] Status ApplyDeployment(Manifest& manifest, std::string_view text,
                                     const std::string& file, const Getenv& getenv);

/// wskdeploy's $ENV interpolation of one string: "$NAME" (the whole value) -> the variable,
/// "${NAME}" anywhere -> the variable, "$${NAME}" -> the literal "${NAME}"; unset -> "".
std::string InterpolateEnv(const std::string& value, const Getenv& getenv);

/// The managed annotation's projectHash: SHA-1 (lower-case hex) of "OpenWhisk", the size as one
/// UTF-8 code point, "golang\0" and the manifest's bytes (wskdeploy's generateProjectHash).
std::string ProjectHash(std::string_view manifest_text);

}  // namespace wsk::project
