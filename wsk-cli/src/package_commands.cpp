// wsk package create/update/bind/get/delete/list.
#include "commands.hpp"

#include <algorithm>

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "put_body.hpp"

namespace wsk {

using rapidjson::Value;

Status PackageCreate(Session& s, const std::vector<std::string>& args, const std::string& shared,
                     bool update) {
    if (auto e = CheckArgs(args, 1, 1, "A package name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    std::string lower = shared;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (!shared.empty() && lower != "yes" && lower != "no") {
        return WskError::General("Cannot use value '" + shared + "' for shared.", true);
    }
    PutBody body;
    body.SetName(*q);
    if (!shared.empty()) body.Add("publish", Value(lower == "yes"));
    if (auto e = body.AddAnnotations(s.kv.annotations)) return e;
    if (auto e = body.AddParameters(s.kv.params)) return e;
    auto r = s.client->Do("PUT", Collection(*q, "packages") + "?overwrite=" + BoolText(update),
                          body.Finish());
    if (!r.ok()) {
        if (update) return r.error().Wrap("Package update failed");
        return r.error().Wrap("Unable to create package '" + q->entity_name + "'");
    }
    Print(s, Ok() + (update ? "updated" : "created") + " package " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status PackageBind(Session& s, const std::vector<std::string>& args, bool overwrite) {
    if (auto e = CheckArgs(args, 2, 2, "A package name and binding name are required.")) return e;
    auto pkg = Name(args[0]);
    if (!pkg.ok()) return pkg.error();
    auto bind = Name(args[1]);
    if (!bind.ok()) return bind.error();
    PutBody body;
    if (auto e = body.AddAnnotations(s.kv.annotations)) return e;
    if (auto e = body.AddParameters(s.kv.params)) return e;
    auto& alloc = body.alloc();
    Value binding(rapidjson::kObjectType);
    binding.AddMember("namespace", Value(pkg->ns.c_str(), alloc), alloc);
    binding.AddMember("name", Value(pkg->entity_name.c_str(), alloc), alloc);
    body.AddLast("binding", std::move(binding));
    auto r = s.client->Do(
        "PUT", Collection(*bind, "packages") + "?overwrite=" + BoolText(overwrite), body.Finish());
    if (!r.ok()) return r.error().Wrap("Binding creation failed");
    Print(s, Ok() + "created binding " + Bold(args[1]) + "\n");
    return std::nullopt;
}

Status PackageGet(Session& s, const std::vector<std::string>& args, bool summary) {
    return EntityGet(s, args, summary, "package", "packages", EntityKind::kPackage, PackageShape());
}

Status PackageDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A package name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("DELETE", Collection(*q, "packages"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete package '" + q->entity_name + "'");
    Print(s, Ok() + "deleted package " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status PackageList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    return EntityList(s, args, f, "packages", "packages", EntityKind::kPackage);
}

}  // namespace wsk
