// What the wsk commands share: argument checks, names and REST paths, parameter and
// annotation arguments, printing, and the entity list commands.
#include "command_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

using rapidjson::Value;

namespace {

std::string ReadWholeFile(const std::string& path, bool& ok) {
    std::ifstream in(path, std::ios::binary);
    ok = static_cast<bool>(in);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    return ss.str();
}

}  // namespace

Result<std::string> ReadArtifact(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        return WskError::Usage("File '" + path + "' is not a valid file or it does not exist");
    }
    bool ok = false;
    std::string content = ReadWholeFile(path, ok);
    if (!ok) {
        return WskError::General("Unable to read the file '" + path + "': permission denied", true);
    }
    return content;
}

std::string Collection(const QualifiedName& q, const char* kind) {
    return "namespaces/" + EscapePath(q.ns) + "/" + kind + "/" + EscapePath(q.entity_name);
}

std::string BoolText(bool b) { return b ? "true" : "false"; }

Result<QualifiedName> Name(const std::string& arg) {
    auto q = ParseQualifiedName(arg);
    if (!q.ok()) {
        WskError e = q.error();
        e.message = "'" + arg + "' is not a valid qualified name: " + e.message;
        e.display_usage = true;
        return e;
    }
    return q;
}

Status KeyValues(const std::vector<std::string>& texts, Value& out,
                 rapidjson::Document::AllocatorType& alloc, bool annotation) {
    if (auto err = KeyValueArray(texts, out, alloc)) {
        std::string list;
        for (const auto& t : texts) list += (list.empty() ? "" : ", ") + QuoteJson(t);
        return err->Wrap(std::string(annotation ? "Invalid annotation argument '"
                                                : "Invalid parameter argument '") +
                             "[]string{" + list + "}'",
                         true);
    }
    return std::nullopt;
}

Status ParamsObject(const std::vector<std::string>& texts, Value& out,
                    rapidjson::Document::AllocatorType& alloc) {
    if (auto err = MergeJsonObjects(texts, out, alloc)) {
        std::string list;
        for (const auto& t : texts) list += (list.empty() ? "" : ", ") + QuoteJson(t);
        return err->Wrap("Invalid parameter argument '[]string{" + list + "}'", true);
    }
    return std::nullopt;
}

void Print(Session& s, const std::string& text) { *s.out << text << std::flush; }

std::string ActivationIdOf(const rapidjson::Value& v) {
    if (v.IsObject() && v.HasMember("activationId") && v["activationId"].IsString()) {
        return v["activationId"].GetString();
    }
    return "";
}

// The list query the Go client sends: limit and skip always.
std::string ListQuery(int limit, int skip) {
    return "?limit=" + std::to_string(limit) + "&skip=" + std::to_string(skip);
}

Status CheckArgs(const std::vector<std::string>& args, size_t min, size_t max,
                 const std::string& required) {
    if (args.size() < min) return WskError::General("Invalid argument(s). " + required, true);
    if (args.size() > max) {
        std::string extra;
        for (size_t i = max; i < args.size(); ++i) extra += (i > max ? ", " : "") + args[i];
        return WskError::General("Invalid argument(s): " + extra + ". " + required, true);
    }
    return std::nullopt;
}

Status EntityGet(Session& s, const std::vector<std::string>& args, bool summary, const char* what,
                 const char* collection, EntityKind kind, const Shape& shape) {
    const std::string w = what;
    if (auto e = CheckArgs(args, 1, 2, "A " + w + " name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, collection), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get " + w + " '" + q->entity_name + "'");
    if (summary) {
        Print(s, FormatSummary(kind, r->json));
    } else if (args.size() > 1 && r->json.IsObject() && r->json.HasMember(args[1].c_str())) {
        Print(s, Ok() + "got " + w + " " + Bold(q->entity_name) + ", displaying field " +
                     Bold(args[1]) + "\n" + PrettyJson(r->json[args[1].c_str()]));
    } else {
        Print(s,
              Ok() + "got " + w + " " + Bold(q->entity_name) + "\n" + PrettyJson(r->json, shape));
    }
    return std::nullopt;
}

Result<std::string> NamespaceArg(const std::vector<std::string>& args) {
    if (args.empty()) return std::string("_");
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    if (!(args[0].size() > 1 && args[0][0] == '/' && args[0].find('/', 1) == std::string::npos)) {
        return WskError::General("An entity name, '" + args[0] +
                                     "', was provided instead of a namespace. Valid namespaces "
                                     "are of the following format: /NAMESPACE.",
                                 true);
    }
    return q->ns;
}

Status EntityList(Session& s, const std::vector<std::string>& args, const ListFlags& f,
                  const char* collection, const char* what, EntityKind kind) {
    if (auto e = CheckArgs(args, 0, 1, "An optional namespace is the only valid argument."))
        return e;
    auto ns = NamespaceArg(args);
    if (!ns.ok()) return ns.error();
    auto r = s.client->Do(
        "GET", "namespaces/" + EscapePath(*ns) + "/" + collection + ListQuery(f.limit, f.skip),
        std::nullopt);
    if (!r.ok()) {
        return r.error().Wrap(std::string("Unable to obtain the list of ") + what +
                              " for namespace '" + (*ns == "_" ? "default" : *ns) + "'");
    }
    if (kind == EntityKind::kRule && r->json.IsArray()) {
        // The list view carries no status: ask for each rule (as the Go CLI does).
        auto& alloc = r->json.GetAllocator();
        for (auto& rule : r->json.GetArray()) {
            if (!rule.IsObject() || !rule.HasMember("name") || !rule["name"].IsString()) continue;
            const std::string name = rule["name"].GetString();
            auto g =
                s.client->Do("GET", "namespaces/" + EscapePath(*ns) + "/rules/" + EscapePath(name),
                             std::nullopt);
            if (!g.ok()) {
                return g.error().Wrap("Unable to get status of rule '" + name + "'");
            }
            if (g->json.IsObject() && g->json.HasMember("status")) {
                rule.RemoveMember("status");
                rule.AddMember("status", Value(g->json["status"], alloc), alloc);
            }
        }
    }
    Print(s, FormatEntityList(kind, r->json, f.name_sort));
    return std::nullopt;
}

}  // namespace wsk
