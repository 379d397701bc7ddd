// wsk namespace list/get.
#include "commands.hpp"

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

using rapidjson::Value;

Status NamespaceList(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 0, 0, "No arguments are required.")) return e;
    auto r = s.client->Do("GET", "namespaces", std::nullopt);
    if (!r.ok()) {
        WskError e = r.error().Wrap("Unable to obtain the list of available namespaces");
        return e;
    }
    Print(s, FormatNamespaceList(r->json));
    return std::nullopt;
}

Status NamespaceGet(Session& s, const std::vector<std::string>& args, bool name_sort) {
    if (!(args.size() == 1 && args[0] == "/_")) {
        if (auto e = CheckArgs(args, 0, 0, "No arguments are required.")) return e;
    }
    ListFlags f;
    f.limit = 0;
    f.name_sort = name_sort;
    struct Part {
        const char* collection;
        const char* title;
        EntityKind kind;
    };
    std::string out = "Entities in namespace: " + Bold("default") + "\n";
    for (const Part& p : {Part{"packages", "Packages", EntityKind::kPackage},
                          Part{"actions", "Actions", EntityKind::kAction},
                          Part{"triggers", "Triggers", EntityKind::kTrigger},
                          Part{"rules", "Rules", EntityKind::kRule}}) {
        auto r = s.client->Do("GET", std::string("namespaces/_/") + p.collection + ListQuery(0, 0),
                              std::nullopt);
        if (!r.ok()) {
            return r.error().Wrap(
                std::string("Unable to obtain the list of entities for "
                            "namespace 'default'"));
        }
        if (p.kind == EntityKind::kRule && r->json.IsArray()) {
            auto& alloc = r->json.GetAllocator();
            for (auto& rule : r->json.GetArray()) {
                if (!rule.IsObject() || !rule.HasMember("name") || !rule["name"].IsString())
                    continue;
                const std::string name = rule["name"].GetString();
                auto g =
                    s.client->Do("GET", "namespaces/_/rules/" + EscapePath(name), std::nullopt);
                if (!g.ok()) return g.error().Wrap("Unable to get status of rule '" + name + "'");
                if (g->json.IsObject() && g->json.HasMember("status")) {
                    rule.RemoveMember("status");
                    rule.AddMember("status", Value(g->json["status"], alloc), alloc);
                }
            }
        }
        out += FormatEntityList(p.kind, r->json, f.name_sort);
    }
    Print(s, out);
    return std::nullopt;
}

}  // namespace wsk
