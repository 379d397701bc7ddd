#pragma once
// Pieces of the createApi apidoc (whisk.system/apimgmt) that `wsk api create` and
// `wsk project deploy` both send; defined in api_commands.cpp.
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace wsk {

/// The {x} names of a path's segments, once each, in order: "/books/{isbn}/{isbn}" -> {"isbn"}.
std::vector<std::string> PathParameterNames(const std::string& path);

/// apidoc.pathParameters as the Go CLI sends it: per name {name, in: "path", description,
/// required: true, type: "string"}.
rapidjson::Value PathParametersJson(const std::vector<std::string>& names,
                                    rapidjson::Document::AllocatorType& a);

}  // namespace wsk
