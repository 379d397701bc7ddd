// wsk action create/update/invoke/get/delete/list.
#include "commands.hpp"

#include <filesystem>
#include <fstream>

#include <wisp/common/base64.hpp>

#include "command_support.hpp"
#include "json_out.hpp"
#include "output.hpp"
#include "put_body.hpp"

namespace wsk {

using rapidjson::Value;

Status ActionCreate(Session& s, const std::vector<std::string>& args, const ActionFlags& f,
                    bool update) {
    if (auto e = CheckArgs(args, 1, 2,
                           update ? "An action name is required. A code artifact is optional."
                                  : "An action name and code artifact are required."))
        return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto parse_error = [](const WskError& e) {
        WskError w = e;
        w.message = "Invalid argument(s). " + e.message;
        w.display_usage = true;
        return w;
    };
    PutBody body;
    body.SetName(*q);
    auto& alloc = body.alloc();
    Value& params = body.parameters();
    Value& annotations = body.annotations();
    if (auto e = body.AddParameters(s.kv.params)) return e;
    if (auto e = body.AddAnnotations(s.kv.annotations)) return e;
    if (!f.exec.kind.empty() && !f.exec.docker.empty()) {
        return parse_error(
            WskError{"Cannot specify both --kind and --docker at the same time.", kExitNotAllowed});
    }
    Value exec(rapidjson::kObjectType);
    bool has_exec = false;
    if (f.copy) {
        if (args.size() < 2) {
            return parse_error(WskError::Usage("An action name and code artifact are required."));
        }
        auto src = Name(args[1]);
        if (!src.ok()) return src.error();
        auto r = s.client->Do("GET", Collection(*src, "actions") + "?code=true", std::nullopt);
        if (!r.ok()) {
            return r.error().Wrap("Unable to get action '" + src->entity_name + "'", true);
        }
        const auto& existing = r->json;
        if (existing.HasMember("exec")) {
            exec.CopyFrom(existing["exec"], alloc);
            if (exec.IsObject()) exec.RemoveMember("binary");
            has_exec = true;
        }
        for (const char* key : {"parameters", "annotations"}) {
            if (existing.HasMember(key) && existing[key].IsArray()) {
                Value& into = std::string(key) == "parameters" ? params : annotations;
                for (auto& kv : existing[key].GetArray()) into.PushBack(Value(kv, alloc), alloc);
            }
        }
    } else if (f.exec.sequence || args.size() > 1 || !f.exec.docker.empty()) {
        std::optional<std::string> artifact;
        std::optional<std::string> content;
        if (args.size() > 1) {
            artifact = args[1];
            if (!f.exec.sequence) {
                auto c = ReadArtifact(args[1]);
                if (!c.ok()) return parse_error(c.error());
                content = *c;
            }
        }
        if (auto e = BuildExec(artifact, content, f.exec, exec, alloc)) return parse_error(*e);
        has_exec = true;
    } else if (!update) {
        return parse_error(WskError::Usage("An action name and code artifact are required."));
    }

    std::vector<std::string> del_annotations = f.del_annotations;
    if (f.web || f.web_secure) {
        // On update, --web/--web-secure carry the existing annotations forward when no -a was
        // given, so the other annotations survive the overwrite.
        rapidjson::Document existing;
        bool have_existing = false;
        if (update) {
            auto r = s.client->Do("GET", Collection(*q, "actions") + "?code=false", std::nullopt);
            if (r.ok()) {
                existing.CopyFrom(r->json, existing.GetAllocator());
                have_existing = existing.IsObject();
            } else if (r.error().exit_code != 148) {
                return r.error().Wrap("Unable to get action '" + q->entity_name + "'", true);
            }
        }
        if (have_existing && s.kv.annotations.empty() && existing.HasMember("annotations") &&
            existing["annotations"].IsArray()) {
            for (auto& kv : existing["annotations"].GetArray()) {
                annotations.PushBack(Value(kv, alloc), alloc);
            }
        }
        if (f.web) {
            if (auto e = ApplyWebFlag(*f.web, annotations, alloc)) return parse_error(*e);
        }
        if (f.web_secure) {
            const Value* web = FindKeyValue(annotations, "web-export");
            bool is_web = web != nullptr && web->IsBool() && web->GetBool();
            if (!is_web && have_existing && !f.web && existing.HasMember("annotations")) {
                const Value* ew = FindKeyValue(existing["annotations"], "web-export");
                is_web = ew != nullptr && ew->IsBool() && ew->GetBool();
            }
            if (!is_web) {
                return parse_error(WskError::Usage(
                    "The --web-secure option is only valid when the --web option is enabled."));
            }
            ApplyWebSecureFlag(*f.web_secure, annotations, del_annotations, alloc);
        }
    }

    if (has_exec) body.Add("exec", std::move(exec));
    if (update) body.SetDelAnnotations(std::move(del_annotations));
    body.SetLimits({f.timeout, f.memory, f.logsize, f.concurrency});

    auto r = s.client->Do("PUT", Collection(*q, "actions") + "?overwrite=" + BoolText(update),
                          body.Finish());
    if (!r.ok()) {
        return r.error().Wrap((update ? "Unable to update action '" : "Unable to create action '") +
                                  q->entity_name + "'",
                              true);
    }
    Print(s, Ok() + (update ? "updated" : "created") + " action " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status ActionInvoke(Session& s, const std::vector<std::string>& args, bool blocking_flag,
                    bool result) {
    if (auto e = CheckArgs(args, 1, 1, "An action name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(s.kv.params, payload, payload.GetAllocator())) return e;
    const bool blocking = blocking_flag || result;
    const bool header = !result;
    RequestOptions opts;
    opts.exit_on_timeout = blocking;
    opts.result_only = result;
    auto r = s.client->Do("POST",
                          Collection(*q, "actions") + "?blocking=" + BoolText(blocking) +
                              "&result=" + BoolText(result),
                          CompactJson(payload), opts);
    const std::string who = "/" + q->ns + "/" + q->entity_name;
    auto print_invocation = [&](std::ostream& os, const rapidjson::Value& response) {
        if (header) {
            os << Ok() << "invoked " << Bold("/" + q->ns) << "/" << Bold(q->entity_name)
               << " with id " << Bold(ActivationIdOf(response)) << "\n";
        }
        if (blocking) os << PrettyJson(response);
        os << std::flush;
    };
    if (r.ok()) {
        print_invocation(*s.out, r->json);
        return std::nullopt;
    }
    const WskError& err = r.error();
    const auto& last = s.client->last_response().json;
    if (blocking && err.timed_out) {
        *s.err << Ok() << "invoked " << Bold("/" + q->ns) << "/" << Bold(q->entity_name)
               << ", but the request has not yet finished, with id " << Bold(ActivationIdOf(last))
               << "\n"
               << std::flush;
        return err;
    }
    if (blocking && err.application_error) {
        print_invocation(*s.err, last);
        return err;
    }
    return err.Wrap("Unable to invoke action '" + q->entity_name + "'", true);
}

Status ActionGet(Session& s, const std::vector<std::string>& args, const ActionGetFlags& f) {
    if (auto e = CheckArgs(args, 1, 2, "An action name is required.")) return e;
    std::string field;
    const Field* shape_field = nullptr;
    if (!f.url && !f.summary && args.size() > 1) {
        field = args[1];
        shape_field = FindField(ActionShape(), field);
        if (shape_field == nullptr) return WskError::Usage("Invalid field filter '" + field + "'.");
    }
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const bool fetch_code = f.save || f.save_as.has_value();
    auto r = s.client->Do("GET", Collection(*q, "actions") + "?code=" + BoolText(fetch_code),
                          std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get action '" + q->entity_name + "'", true);
    const auto& action = r->json;
    if (f.url) {
        auto base = ApiBaseUrl(s.config.apihost);
        if (!base.ok()) return base.error();
        std::string ns = q->ns;
        if (action.IsObject() && action.HasMember("namespace") && action["namespace"].IsString()) {
            ns = action["namespace"].GetString();
            ns = ns.substr(0, ns.find('/'));
        }
        const Value* web = action.HasMember("annotations")
                               ? FindKeyValue(action["annotations"], "web-export")
                               : nullptr;
        std::string url;
        if (web != nullptr && web->IsBool() && web->GetBool()) {
            url = *base + "/" + s.config.apiversion + "/web/" + EscapeQuery(ns) + "/" +
                  (q->package.empty() ? "default" : EscapeQuery(q->package)) + "/" +
                  EscapeQuery(q->entity);
        } else {
            url = *base + "/" + s.config.apiversion + "/namespaces/" + EscapeQuery(ns) +
                  "/actions/" + (q->package.empty() ? "" : EscapeQuery(q->package) + "/") +
                  EscapeQuery(q->entity);
        }
        Print(s, Ok() + "got action " + Bold(q->entity) + "\n" + url + "\n");
        return std::nullopt;
    }
    if (f.summary) {
        Print(s, FormatSummary(EntityKind::kAction, action));
        return std::nullopt;
    }
    if (fetch_code) {
        const Value* exec = action.HasMember("exec") ? &action["exec"] : nullptr;
        std::string kind = exec != nullptr && exec->HasMember("kind") && (*exec)["kind"].IsString()
                               ? (*exec)["kind"].GetString()
                               : "";
        const std::string runtime = kind.substr(0, kind.find(':'));
        const bool binary = exec != nullptr && exec->HasMember("binary") &&
                            (*exec)["binary"].IsBool() && (*exec)["binary"].GetBool();
        const bool has_code =
            exec != nullptr && exec->HasMember("code") && (*exec)["code"].IsString();
        if (runtime == "blackbox" && !has_code && !binary) {
            return WskError::Usage("Cannot save Docker images");
        }
        if (runtime == "sequence") return WskError::Usage("Cannot save action sequences");
        std::string code = has_code ? (*exec)["code"].GetString() : "";
        std::string filename = f.save_as.value_or("");
        if (binary) {
            auto bytes = wisp::common::Base64Decode(code);
            if (!bytes) return WskError::General("The action's code is not valid base64");
            code = std::move(*bytes);
            if (filename.empty()) {
                filename = q->entity + (runtime == "java"        ? ".jar"
                                        : runtime == "ballerina" ? ".balx"
                                                                 : ".zip");
            }
        } else if (filename.empty()) {
            static const std::pair<const char*, const char*> kExt[] = {
                {"nodejs", ".js"}, {"python", ".py"}, {"swift", ".swift"}, {"php", ".php"},
                {"ruby", ".rb"},   {"rust", ".rs"},   {"go", ".go"}};
            filename = q->entity;
            for (const auto& [rt, ext] : kExt) {
                if (runtime == rt) filename += ext;
            }
        }
        std::error_code ec;
        if (std::filesystem::exists(filename, ec)) {
            return WskError::Usage("The file '" + filename + "' already exists");
        }
        std::ofstream out(filename, std::ios::binary);
        out << code;
        if (!out) {
            return WskError::General("Cannot create file '" + filename + "': write failed");
        }
        const std::string saved =
            (std::filesystem::current_path(ec) / filename).lexically_normal().string();
        Print(s, Ok() + "saved action code to " + Bold(saved) + "\n");
        return std::nullopt;
    }
    if (shape_field != nullptr) {
        Print(s, Ok() + "got action " + Bold(q->entity_name) + ", displaying field " + Bold(field) +
                     "\n" + PrettyJsonField(action, *shape_field));
        return std::nullopt;
    }
    Print(s,
          Ok() + "got action " + Bold(q->entity_name) + "\n" + PrettyJson(action, ActionShape()));
    return std::nullopt;
}

Status ActionDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "An action name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("DELETE", Collection(*q, "actions"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete action '" + q->entity_name + "'", true);
    Print(s, Ok() + "deleted action " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status ActionList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    if (auto e = CheckArgs(args, 0, 1, "An optional namespace is the only valid argument."))
        return e;
    std::string path = "namespaces/_/actions";
    std::string ns = "_";
    if (args.size() == 1) {
        auto q = Name(args[0]);
        if (!q.ok()) return q.error();
        ns = q->ns;
        // "/ns" names a namespace; "pkg" or "/ns/pkg" a package.
        const bool namespace_only =
            args[0].size() > 1 && args[0][0] == '/' && args[0].find('/', 1) == std::string::npos;
        path = "namespaces/" + EscapePath(ns) + "/actions";
        if (!namespace_only) path += "/" + EscapePath(q->entity_name) + "/";
    } else if (args.empty()) {
        path = "namespaces/_/actions";
    }
    auto r = s.client->Do("GET", path + ListQuery(f.limit, f.skip), std::nullopt);
    if (!r.ok()) {
        return r.error().Wrap("Unable to obtain the list of actions for namespace '" +
                                  std::string(ns == "_" ? "default" : ns) + "'",
                              true);
    }
    Print(s, FormatEntityList(EntityKind::kAction, r->json, f.name_sort));
    return std::nullopt;
}

}  // namespace wsk
