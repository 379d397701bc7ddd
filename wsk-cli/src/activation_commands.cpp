// wsk activation list/get/logs/result/poll.
#include "commands.hpp"

#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

using rapidjson::Value;

namespace {

Status LastActivation(Session& s, std::vector<std::string>& args, const ActivationFlags& f) {
    if (!f.last) return std::nullopt;
    auto r = s.client->Do("GET", "namespaces/_/activations" + ListQuery(1, 0), std::nullopt);
    if (!r.ok()) return r.error();
    if (!r->json.IsArray() || r->json.Empty()) {
        return WskError::General("Activation list does not contain any activations.", true);
    }
    args.insert(args.begin(), ActivationIdOf(r->json[0]));
    return std::nullopt;
}

}  // namespace

Status ActivationList(Session& s, const std::vector<std::string>& args, const ActivationFlags& f) {
    if (auto e = CheckArgs(args, 0, 1, "An optional namespace is the only valid argument."))
        return e;
    std::string ns = "_";
    std::string name;
    if (args.size() == 1) {
        auto q = Name(args[0]);
        if (!q.ok()) return q.error();
        ns = q->ns;
        const bool namespace_only =
            args[0].size() > 1 && args[0][0] == '/' && args[0].find('/', 1) == std::string::npos;
        if (!namespace_only) name = q->entity_name;
    }
    std::string query = ListQuery(f.limit, f.skip);
    if (!name.empty()) query += "&name=" + EscapeQuery(name);
    if (f.since > 0) query += "&since=" + std::to_string(f.since);
    if (f.upto > 0) query += "&upto=" + std::to_string(f.upto);
    if (f.full) query += "&docs=true";
    // The Go client always lists activations of "_" (the caller's namespace).
    auto r = s.client->Do("GET", "namespaces/_/activations" + query, std::nullopt);
    if (!r.ok()) {
        return r.error().Wrap("Unable to obtain the list of activations for namespace '" +
                              std::string(ns == "_" ? "default" : ns) + "'");
    }
    if (f.full) {
        std::string out = Bold("activations") + "\n";
        if (r->json.IsArray()) {
            for (auto& a : r->json.GetArray()) out += PrettyJson(a, ActivationShape());
        }
        Print(s, out);
    } else {
        Print(s, FormatActivationTable(r->json));
    }
    return std::nullopt;
}

Status ActivationGet(Session& s, std::vector<std::string> args, const ActivationFlags& f) {
    if (auto e = LastActivation(s, args, f)) return e->Wrap("Unable to get activation");
    if (auto e = CheckArgs(args, 1, 2, "An activation ID is required.")) return e;
    std::string field;
    const Field* shape_field = nullptr;
    if (args.size() > 1) {
        field = args[1];
        shape_field = FindField(ActivationShape(), field);
        if (shape_field == nullptr)
            return WskError::General("Invalid field filter '" + field + "'.");
    }
    const std::string& id = args[0];
    RequestOptions opts;
    opts.activation_record = true;
    auto r = s.client->Do("GET", "namespaces/_/activations/" + EscapePath(id), std::nullopt, opts);
    if (!r.ok()) return r.error().Wrap("Unable to get activation '" + id + "'");
    const auto& a = r->json;
    if (f.summary) {
        std::string ns =
            a.HasMember("namespace") && a["namespace"].IsString() ? a["namespace"].GetString() : "";
        std::string name = a.HasMember("name") && a["name"].IsString() ? a["name"].GetString() : "";
        std::string status;
        const Value* result = nullptr;
        if (a.HasMember("response") && a["response"].IsObject()) {
            const auto& resp = a["response"];
            if (resp.HasMember("status") && resp["status"].IsString())
                status = resp["status"].GetString();
            if (resp.HasMember("result")) result = &resp["result"];
        }
        int64_t end = a.HasMember("end") && a["end"].IsInt64() ? a["end"].GetInt64() : 0;
        const time_t secs = static_cast<time_t>(end / 1000);
        struct tm tm {};
        localtime_r(&secs, &tm);
        char when[64];
        std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
        rapidjson::Value null_value;
        Print(s, "activation result for '/" + ns + "/" + name + "' (" + status + " at " + when +
                     ")\n" + PrettyJson(result != nullptr ? *result : null_value));
        return std::nullopt;
    }
    if (f.logs) {
        std::string out;
        if (a.HasMember("logs") && a["logs"].IsArray()) {
            for (auto& l : a["logs"].GetArray()) {
                if (l.IsString()) out += StripLogTimestamp(l.GetString()) + "\n";
            }
        }
        Print(s, out);
        return std::nullopt;
    }
    if (shape_field != nullptr) {
        Print(s, Ok() + "got activation " + Bold(id) + ", displaying field " + Bold(field) + "\n");
        Print(s, PrettyJsonField(a, *shape_field));
        return std::nullopt;
    }
    Print(s, Ok() + "got activation " + Bold(id) + "\n" + PrettyJson(a, ActivationShape()));
    return std::nullopt;
}

Status ActivationLogs(Session& s, std::vector<std::string> args, const ActivationFlags& f) {
    if (auto e = LastActivation(s, args, f)) return e->Wrap("Unable to get logs for activation");
    if (auto e = CheckArgs(args, 1, 1, "An activation ID is required.")) return e;
    const std::string& id = args[0];
    auto r =
        s.client->Do("GET", "namespaces/_/activations/" + EscapePath(id) + "/logs", std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get logs for activation '" + id + "'");
    std::string out;
    if (r->json.IsObject() && r->json.HasMember("logs") && r->json["logs"].IsArray()) {
        for (auto& l : r->json["logs"].GetArray()) {
            if (!l.IsString()) continue;
            out += (f.strip ? StripLogTimestamp(l.GetString()) : std::string(l.GetString())) + "\n";
        }
    }
    Print(s, out);
    return std::nullopt;
}

Status ActivationResult(Session& s, std::vector<std::string> args, const ActivationFlags& f) {
    if (auto e = LastActivation(s, args, f)) return e->Wrap("Unable to get result for activation");
    if (auto e = CheckArgs(args, 1, 1, "An activation ID is required.")) return e;
    const std::string& id = args[0];
    auto r =
        s.client->Do("GET", "namespaces/_/activations/" + EscapePath(id) + "/result", std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get result for activation '" + id + "'");
    rapidjson::Value null_value;
    const Value& result =
        r->json.IsObject() && r->json.HasMember("result") ? r->json["result"] : null_value;
    Print(s, PrettyJson(result));
    return std::nullopt;
}

Status ActivationPoll(Session& s, const std::vector<std::string>& args, const ActivationFlags& f) {
    std::string name;
    if (args.size() == 1) {
        name = args[0];
    } else if (auto e =
                   CheckArgs(args, 0, 1, "An optional namespace is the only valid argument.")) {
        return e;
    }
    Print(s, "Enter Ctrl-c to exit.\n");
    auto now_ms = [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    };
    int64_t since = 0;
    const int64_t back =
        ((static_cast<int64_t>(f.since_days) * 24 + f.since_hours) * 60 + f.since_minutes) * 60 +
        f.since_seconds;
    if (back == 0) {
        auto r = s.client->Do("GET", "namespaces/_/activations" + ListQuery(1, 0) + "&docs=true",
                              std::nullopt);
        if (!r.ok()) {
            since = now_ms();
        } else if (r->json.IsArray() && !r->json.Empty() && r->json[0].HasMember("start") &&
                   r->json[0]["start"].IsInt64()) {
            since = r->json[0]["start"].GetInt64() + 1;
        }
    } else {
        since = now_ms() - back * 1000;
    }
    Print(s, "Polling for activation logs\n");
    std::set<std::string> reported;
    const auto started = std::chrono::steady_clock::now();
    while (true) {
        if (f.exit_after > 0) {
            const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count();
            if (elapsed > f.exit_after) return std::nullopt;
        }
        std::string query = ListQuery(0, 0) + "&since=" + std::to_string(since) + "&docs=true";
        if (!name.empty()) query += "&name=" + EscapeQuery(name);
        auto r = s.client->Do("GET", "namespaces/_/activations" + query, std::nullopt);
        if (r.ok() && r->json.IsArray()) {
            for (auto& a : r->json.GetArray()) {
                const std::string id = ActivationIdOf(a);
                if (reported.count(id) == 0) {
                    const std::string aname =
                        a.HasMember("name") && a["name"].IsString() ? a["name"].GetString() : "";
                    rapidjson::Value null_value;
                    Print(s, "\nActivation: '" + aname + "' (" + id + ")\n" +
                                 PrettyJson(a.HasMember("logs") ? a["logs"] : null_value));
                    reported.insert(id);
                }
                if (a.HasMember("start") && a["start"].IsInt64() && a["start"].GetInt64() > since) {
                    since = a["start"].GetInt64() + 1;
                }
            }
        }
        std::this_thread::sleep_for(std::chrono::seconds(2));
    }
}

}  // namespace wsk
