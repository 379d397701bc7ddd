#pragma once
// Private to the wsk commands (the <resource>_commands.cpp files): what they share.
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "commands.hpp"
#include "entity_args.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "wsk_error.hpp"

namespace wsk {

/// A code artifact named on the command line, with the reference CLI's errors.
[[nodiscard]] Result<std::string> ReadArtifact(const std::string& path);

/// "namespaces/<ns>/<kind>/<name>", escaped.
std::string Collection(const QualifiedName& q, const char* kind);
std::string BoolText(bool b);
/// A qualified name from an argument, with "'x' is not a valid qualified name: ..." on error.
[[nodiscard]] Result<QualifiedName> Name(const std::string& arg);

/// -p/-a texts as a key-value array (OpenWhisk's parameters/annotations form).
[[nodiscard]] Status KeyValues(const std::vector<std::string>& texts, rapidjson::Value& out,
                               rapidjson::Document::AllocatorType& alloc, bool annotation);
/// -p texts as one JSON object (an invoke or fire payload).
[[nodiscard]] Status ParamsObject(const std::vector<std::string>& texts, rapidjson::Value& out,
                                  rapidjson::Document::AllocatorType& alloc);

void Print(Session& s, const std::string& text);
/// The "activationId" member of a response, or "".
std::string ActivationIdOf(const rapidjson::Value& v);
/// The list query the Go client sends: limit and skip always.
std::string ListQuery(int limit, int skip);

/// The namespace argument of a list command ("/ns"; "_" when absent).
[[nodiscard]] Result<std::string> NamespaceArg(const std::vector<std::string>& args);
/// `wsk trigger|rule|package get NAME [FIELD]` (`what` is "trigger", `collection` "triggers").
[[nodiscard]] Status EntityGet(Session& s, const std::vector<std::string>& args, bool summary,
                               const char* what, const char* collection, EntityKind kind,
                               const Shape& shape);
/// `wsk trigger|rule|package list`.
[[nodiscard]] Status EntityList(Session& s, const std::vector<std::string>& args,
                                const ListFlags& f, const char* collection, const char* what,
                                EntityKind kind);

}  // namespace wsk
