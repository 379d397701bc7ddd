// wsk rule create/update/enable/disable/status/get/delete/list.
#include "commands.hpp"

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

using rapidjson::Value;

Status RuleCreate(Session& s, const std::vector<std::string>& args, bool update) {
    if (auto e = CheckArgs(args, 3, 3, "A rule, trigger and action name are required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("name", Value(q->entity_name.c_str(), alloc), alloc);
    body.AddMember("status", "", alloc);
    body.AddMember("trigger", Value(FullyQualified(args[1]).c_str(), alloc), alloc);
    body.AddMember("action", Value(FullyQualified(args[2]).c_str(), alloc), alloc);
    auto r = s.client->Do("PUT", Collection(*q, "rules") + "?overwrite=" + BoolText(update),
                          CompactJson(body));
    if (!r.ok()) {
        return r.error().Wrap((update ? "Unable to update rule '" : "Unable to create rule '") +
                              q->entity_name + "'");
    }
    Print(s, Ok() + (update ? "updated" : "created") + " rule " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status RuleSetState(Session& s, const std::vector<std::string>& args, bool enable) {
    if (auto e = CheckArgs(args, 1, 1, "A rule name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("POST", Collection(*q, "rules"),
                          std::string(R"({"status":")") + (enable ? "active" : "inactive") +
                              R"(","trigger":null,"action":null})");
    if (!r.ok()) {
        return r.error().Wrap((enable ? "Unable to enable rule '" : "Unable to disable rule '") +
                              q->entity_name + "'");
    }
    Print(s, Ok() + (enable ? "enabled" : "disabled") + " rule " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status RuleStatus(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A rule name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, "rules"), std::nullopt);
    if (!r.ok()) {
        return r.error().Wrap("Unable to get status of rule '" + q->entity_name + "'", true);
    }
    std::string status =
        r->json.IsObject() && r->json.HasMember("status") && r->json["status"].IsString()
            ? r->json["status"].GetString()
            : "";
    Print(s, Ok() + "rule " + Bold(q->entity_name) + " is " + Bold(status) + "\n");
    return std::nullopt;
}

Status RuleGet(Session& s, const std::vector<std::string>& args, bool summary) {
    return EntityGet(s, args, summary, "rule", "rules", EntityKind::kRule, RuleShape());
}

Status RuleDelete(Session& s, const std::vector<std::string>& args, bool disable) {
    if (auto e = CheckArgs(args, 1, 1, "A rule name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    if (disable) {
        auto r = s.client->Do("POST", Collection(*q, "rules"),
                              std::string(R"({"status":"inactive","trigger":null,"action":null})"));
        if (!r.ok()) return r.error().Wrap("Unable to disable rule '" + q->entity_name + "'");
    }
    auto r = s.client->Do("DELETE", Collection(*q, "rules"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete rule '" + q->entity_name + "'");
    Print(s, Ok() + "deleted rule " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status RuleList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    return EntityList(s, args, f, "rules", "rules", EntityKind::kRule);
}

}  // namespace wsk
