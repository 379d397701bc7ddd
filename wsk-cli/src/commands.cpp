#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "json_out.hpp"
#include "output.hpp"

namespace wsk {
namespace {

using rapidjson::Value;

std::string ReadWholeFile(const std::string& path, bool& ok) {
    std::ifstream in(path, std::ios::binary);
    ok = static_cast<bool>(in);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    return ss.str();
}

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

}  // namespace

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

// ---- actions ---------------------------------------------------------------------------------

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
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("namespace", Value(q->ns.c_str(), alloc), alloc);
    body.AddMember("name", Value(q->entity_name.c_str(), alloc), alloc);

    Value params(rapidjson::kArrayType);
    Value annotations(rapidjson::kArrayType);
    if (!s.kv.params.empty()) {
        if (auto e = KeyValues(s.kv.params, params, alloc, false)) return e;
    }
    if (!s.kv.annotations.empty()) {
        if (auto e = KeyValues(s.kv.annotations, annotations, alloc, true)) return e;
    }
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

    if (has_exec) body.AddMember("exec", exec, alloc);
    if (!annotations.Empty()) body.AddMember("annotations", annotations, alloc);
    if (update && !del_annotations.empty()) {
        Value del(rapidjson::kArrayType);
        for (const auto& k : del_annotations) del.PushBack(Value(k.c_str(), alloc), alloc);
        body.AddMember("delAnnotations", del, alloc);
    }
    if (!params.Empty()) body.AddMember("parameters", params, alloc);
    if (f.timeout || f.memory || f.logsize || f.concurrency) {
        Value limits(rapidjson::kObjectType);
        if (f.timeout) limits.AddMember("timeout", *f.timeout, alloc);
        if (f.memory) limits.AddMember("memory", *f.memory, alloc);
        if (f.logsize) limits.AddMember("logs", *f.logsize, alloc);
        if (f.concurrency) limits.AddMember("concurrency", *f.concurrency, alloc);
        body.AddMember("limits", limits, alloc);
    }

    auto r = s.client->Do("PUT", Collection(*q, "actions") + "?overwrite=" + BoolText(update),
                          CompactJson(body));
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
            code = Base64Decode(code);
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

// ---- triggers --------------------------------------------------------------------------------

namespace {

Status InvokeFeed(Session& s, const std::string& feed, const std::string& lifecycle,
                  const QualifiedName& trigger, bool print) {
    auto fq = Name(feed);
    if (!fq.ok()) return fq.error();
    std::vector<std::string> texts = s.kv.params;
    texts.push_back(KeyValueJson("lifecycleEvent", QuoteJson(lifecycle)));
    texts.push_back(
        KeyValueJson("triggerName", QuoteJson("/" + trigger.ns + "/" + trigger.entity_name)));
    texts.push_back(KeyValueJson("authKey", QuoteJson(s.config.auth)));
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(texts, payload, payload.GetAllocator())) return e;
    RequestOptions opts;
    opts.exit_on_timeout = true;
    auto r = s.client->Do("POST", Collection(*fq, "actions") + "?blocking=true&result=false",
                          CompactJson(payload), opts);
    if (!r.ok()) {
        if (r.error().application_error) *s.err << PrettyJson(s.client->last_response().json);
        return r.error();
    }
    if (print) {
        Print(s, Ok() + "invoked " + Bold("/" + fq->ns) + "/" + Bold(fq->entity_name) +
                     " with id " + Bold(ActivationIdOf(r->json)) + "\n" + PrettyJson(r->json));
    }
    return std::nullopt;
}

std::string FeedOf(const rapidjson::Value& trigger) {
    if (!trigger.IsObject() || !trigger.HasMember("annotations")) return "";
    const Value* v = FindKeyValue(trigger["annotations"], "feed");
    return v != nullptr && v->IsString() ? v->GetString() : "";
}

}  // namespace

Status TriggerCreate(Session& s, const std::vector<std::string>& args, const std::string& feed,
                     bool update) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const std::string path = Collection(*q, "triggers");
    if (update) {
        auto existing = s.client->Do("GET", path, std::nullopt);
        if (!existing.ok() && existing.error().exit_code == 148) {
            return TriggerCreate(s, args, feed, false);
        }
        if (!existing.ok()) {
            return existing.error().Wrap("Unable to get trigger '" + q->entity_name + "'");
        }
        const std::string existing_feed = FeedOf(existing->json);
        if (!existing_feed.empty()) {
            if (auto e = InvokeFeed(s, existing_feed, "UPDATE", *q, false)) {
                return e->Wrap("Unable to create trigger '" + q->entity_name + "'");
            }
            Print(s, Ok() + "updated trigger " + Bold(q->entity_name) + "\n");
            return std::nullopt;
        }
    }
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("name", Value(q->entity_name.c_str(), alloc), alloc);
    Value annotations(rapidjson::kArrayType);
    Value params(rapidjson::kArrayType);
    std::vector<std::string> annot_texts = s.kv.annotations;
    std::string feed_fqn;
    if (!feed.empty() && !update) {
        auto fq = Name(feed);
        if (!fq.ok()) return fq.error();
        feed_fqn = "/" + fq->ns + "/" + fq->entity_name;
        annot_texts.push_back(KeyValueJson("feed", QuoteJson(feed_fqn)));
    }
    if (auto e = KeyValues(annot_texts, annotations, alloc, true)) return e;
    if (feed_fqn.empty()) {
        if (auto e = KeyValues(s.kv.params, params, alloc, false)) return e;
    }
    if (!annotations.Empty()) body.AddMember("annotations", annotations, alloc);
    if (!params.Empty()) body.AddMember("parameters", params, alloc);
    auto r = s.client->Do("PUT", path + "?overwrite=" + BoolText(update), CompactJson(body));
    if (!r.ok()) {
        return r.error().Wrap(
            (update ? "Unable to update trigger '" : "Unable to create trigger '") +
            q->entity_name + "'");
    }
    if (!feed_fqn.empty()) {
        if (auto e = InvokeFeed(s, feed_fqn, "CREATE", *q, true)) {
            (void)s.client->Do("DELETE", path, std::nullopt);
            return e->Wrap("Unable to configure feed '" + feed_fqn + "'")
                .Wrap("Unable to create trigger '" + q->entity_name + "'");
        }
    }
    Print(s, Ok() + (update ? "updated" : "created") + " trigger " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

Status TriggerFire(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    rapidjson::Document payload(rapidjson::kObjectType);
    if (auto e = ParamsObject(s.kv.params, payload, payload.GetAllocator())) return e;
    auto r = s.client->Do("POST", Collection(*q, "triggers"), CompactJson(payload));
    if (!r.ok()) return r.error().Wrap("Unable to fire trigger '" + q->entity_name + "'");
    Print(s, Ok() + "triggered " + Bold("/" + q->ns) + "/" + Bold(q->entity_name) + " with id " +
                 Bold(ActivationIdOf(r->json)) + "\n");
    return std::nullopt;
}

Status TriggerGet(Session& s, const std::vector<std::string>& args, bool summary) {
    if (auto e = CheckArgs(args, 1, 2, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, "triggers"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get trigger '" + q->entity_name + "'");
    if (summary) {
        Print(s, FormatSummary(EntityKind::kTrigger, r->json));
    } else if (args.size() > 1 && r->json.IsObject() && r->json.HasMember(args[1].c_str())) {
        Print(s, Ok() + "got trigger " + Bold(q->entity_name) + ", displaying field " +
                     Bold(args[1]) + "\n" + PrettyJson(r->json[args[1].c_str()]));
    } else {
        Print(s, Ok() + "got trigger " + Bold(q->entity_name) + "\n" +
                     PrettyJson(r->json, TriggerShape()));
    }
    return std::nullopt;
}

Status TriggerDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 1, "A trigger name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    const std::string path = Collection(*q, "triggers");
    auto existing = s.client->Do("GET", path, std::nullopt);
    if (!existing.ok()) {
        return existing.error().Wrap("Unable to delete trigger '" + q->entity_name + "'");
    }
    const std::string feed = FeedOf(existing->json);
    if (!feed.empty()) {
        if (auto e = InvokeFeed(s, feed, "DELETE", *q, false)) {
            return e->Wrap("Unable to delete trigger '" + q->entity_name + "'");
        }
    }
    auto r = s.client->Do("DELETE", path, std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete trigger '" + q->entity_name + "'");
    Print(s, Ok() + "deleted trigger " + Bold(q->entity_name) + "\n");
    return std::nullopt;
}

namespace {

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

}  // namespace

Status TriggerList(Session& s, const std::vector<std::string>& args, const ListFlags& f) {
    return EntityList(s, args, f, "triggers", "triggers", EntityKind::kTrigger);
}

// ---- rules -----------------------------------------------------------------------------------

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
    if (auto e = CheckArgs(args, 1, 2, "A rule name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, "rules"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get rule '" + q->entity_name + "'");
    if (summary) {
        Print(s, FormatSummary(EntityKind::kRule, r->json));
    } else if (args.size() > 1 && r->json.IsObject() && r->json.HasMember(args[1].c_str())) {
        Print(s, Ok() + "got rule " + Bold(q->entity_name) + ", displaying field " + Bold(args[1]) +
                     "\n" + PrettyJson(r->json[args[1].c_str()]));
    } else {
        Print(s,
              Ok() + "got rule " + Bold(q->entity_name) + "\n" + PrettyJson(r->json, RuleShape()));
    }
    return std::nullopt;
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

// ---- packages --------------------------------------------------------------------------------

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
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    body.AddMember("namespace", Value(q->ns.c_str(), alloc), alloc);
    body.AddMember("name", Value(q->entity_name.c_str(), alloc), alloc);
    if (!shared.empty()) body.AddMember("publish", lower == "yes", alloc);
    Value annotations(rapidjson::kArrayType);
    Value params(rapidjson::kArrayType);
    if (auto e = KeyValues(s.kv.annotations, annotations, alloc, true)) return e;
    if (auto e = KeyValues(s.kv.params, params, alloc, false)) return e;
    if (!annotations.Empty()) body.AddMember("annotations", annotations, alloc);
    if (!params.Empty()) body.AddMember("parameters", params, alloc);
    auto r = s.client->Do("PUT", Collection(*q, "packages") + "?overwrite=" + BoolText(update),
                          CompactJson(body));
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
    rapidjson::Document body(rapidjson::kObjectType);
    auto& alloc = body.GetAllocator();
    Value annotations(rapidjson::kArrayType);
    Value params(rapidjson::kArrayType);
    if (auto e = KeyValues(s.kv.annotations, annotations, alloc, true)) return e;
    if (auto e = KeyValues(s.kv.params, params, alloc, false)) return e;
    if (!annotations.Empty()) body.AddMember("annotations", annotations, alloc);
    if (!params.Empty()) body.AddMember("parameters", params, alloc);
    Value binding(rapidjson::kObjectType);
    binding.AddMember("namespace", Value(pkg->ns.c_str(), alloc), alloc);
    binding.AddMember("name", Value(pkg->entity_name.c_str(), alloc), alloc);
    body.AddMember("binding", binding, alloc);
    auto r =
        s.client->Do("PUT", Collection(*bind, "packages") + "?overwrite=" + BoolText(overwrite),
                     CompactJson(body));
    if (!r.ok()) return r.error().Wrap("Binding creation failed");
    Print(s, Ok() + "created binding " + Bold(args[1]) + "\n");
    return std::nullopt;
}

Status PackageGet(Session& s, const std::vector<std::string>& args, bool summary) {
    if (auto e = CheckArgs(args, 1, 2, "A package name is required.")) return e;
    auto q = Name(args[0]);
    if (!q.ok()) return q.error();
    auto r = s.client->Do("GET", Collection(*q, "packages"), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get package '" + q->entity_name + "'");
    if (summary) {
        Print(s, FormatSummary(EntityKind::kPackage, r->json));
    } else if (args.size() > 1 && r->json.IsObject() && r->json.HasMember(args[1].c_str())) {
        Print(s, Ok() + "got package " + Bold(q->entity_name) + ", displaying field " +
                     Bold(args[1]) + "\n" + PrettyJson(r->json[args[1].c_str()]));
    } else {
        Print(s, Ok() + "got package " + Bold(q->entity_name) + "\n" +
                     PrettyJson(r->json, PackageShape()));
    }
    return std::nullopt;
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

// ---- activations -----------------------------------------------------------------------------

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

// ---- namespaces ------------------------------------------------------------------------------

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

// ---- properties ------------------------------------------------------------------------------

Status PropertySet(Session& s) {
    Props props = ReadPropsFile(s.config.props_file);
    std::string ok;
    if (!s.flags.cert.empty()) {
        props["CERT"] = s.flags.cert;
        ok += Ok() + "client cert set. Run 'wsk property get --cert' to see the new value.\n";
    }
    if (!s.flags.key.empty()) {
        props["KEY"] = s.flags.key;
        ok += Ok() + "client key set. Run 'wsk property get --key' to see the new value.\n";
    }
    if (!s.flags.auth.empty()) {
        props["AUTH"] = s.flags.auth;
        ok += Ok() + "whisk auth set. Run 'wsk property get --auth' to see the new value.\n";
    }
    Status deferred;
    if (!s.flags.apihost.empty()) {
        auto base = ApiBaseUrl(s.flags.apihost);
        if (!base.ok()) {
            deferred =
                WskError::General("Unable to set API host value; the API host value '" +
                                      s.flags.apihost + "' is invalid: " + base.error().message,
                                  true);
        } else {
            props["APIHOST"] = s.flags.apihost;
            ok += Ok() + "whisk API host set to " + Bold(s.flags.apihost) + "\n";
        }
    }
    if (!s.flags.apiversion.empty()) {
        props["APIVERSION"] = s.flags.apiversion;
        ok += Ok() + "whisk API version set to " + Bold(s.flags.apiversion) + "\n";
    }
    if (auto e = WritePropsFile(s.config.props_file, props)) {
        return e->Wrap("Unable to set the property value(s)");
    }
    Print(s, ok);
    return deferred;
}

Status PropertyUnset(Session& s, const PropertyFlags& f) {
    Props props = ReadPropsFile(s.config.props_file);
    std::string ok;
    if (f.cert) {
        props.erase("CERT");
        ok += Ok() + "client cert unset.\n";
    }
    if (f.key) {
        props.erase("KEY");
        ok += Ok() + "client key unset.\n";
    }
    if (f.auth) {
        props.erase("AUTH");
        ok += Ok() + "whisk auth unset.\n";
    }
    if (f.apihost) {
        props.erase("APIHOST");
        ok += Ok() + "whisk API host unset.\n";
    }
    if (f.apiversion) {
        props.erase("APIVERSION");
        ok += Ok() + "whisk API version unset; the default value of " + Bold("v1") +
              " will be used.\n";
    }
    if (f.ns) {
        props.erase("NAMESPACE");
        ok += Ok() + "whisk namespace unset";
        ok += "; the default value of " + Bold("_") + " will be used.\n";
    }
    if (auto e = WritePropsFile(s.config.props_file, props)) {
        return e->Wrap("Unable to unset the property value");
    }
    Print(s, ok);
    return std::nullopt;
}

Status PropertyGet(Session& s, const PropertyFlags& f_in) {
    PropertyFlags f = f_in;
    std::string format = "std";
    if (f.output != "std") {
        if (f.output != "raw") return WskError::General("Supported output format are std|raw");
        format = "raw";
    }
    if (!(f.all || f.cert || f.key || f.auth || f.apiversion || f.cliversion || f.ns ||
          f.apibuild || f.apihost || f.apibuildno)) {
        f.all = true;
    }
    auto namespace_of = [&]() -> std::string {
        auto r = s.client->Do("GET", "namespaces", std::nullopt);
        if (!r.ok() || !r->json.IsArray() || r->json.Empty() || !r->json[0].IsString()) {
            return "_";
        }
        return r->json[0].GetString();
    };
    std::string out;
    auto prop = [&](const std::string& label, const std::string& value, bool one_tab = false) {
        if (format == "raw") {
            out += Bold(value) + "\n";
        } else {
            out += label + (one_tab ? "\t" : "\t\t") + Bold(value) + "\n";
        }
    };
    if (f.all) {
        if (format != "std") {
            return WskError::General("--output|-o raw only supported with specific property type");
        }
        prop("whisk API host", s.config.apihost);
        prop("whisk auth", s.config.auth);
        prop("whisk namespace", namespace_of());
        prop("client cert", s.config.cert);
        prop("Client key", s.config.key);
        prop("whisk API version", s.config.apiversion, true);
        prop("whisk CLI version", kCliVersion, true);
    } else {
        if (f.apihost) prop("whisk API host", s.config.apihost);
        if (f.auth) prop("whisk auth", s.config.auth);
        if (f.ns) prop("whisk namespace", namespace_of());
        if (f.cert) prop("client cert", s.config.cert);
        if (f.key) prop("Client key", s.config.key);
        if (f.cliversion) prop("whisk CLI version", kCliVersion, true);
        if (f.apiversion) prop("whisk API version", s.config.apiversion, true);
    }
    Status err;
    if (f.all || f.apibuild || f.apibuildno) {
        std::string build = "Unknown";
        std::string build_no = "Unknown";
        auto info = s.client->Info();
        if (info.ok() && info->json.IsObject()) {
            if (info->json.HasMember("build") && info->json["build"].IsString())
                build = info->json["build"].GetString();
            if (info->json.HasMember("buildno") && info->json["buildno"].IsString())
                build_no = info->json["buildno"].GetString();
        } else if (!info.ok()) {
            err = info.error().Wrap("Unable to obtain API build information");
        }
        if (f.all) {
            prop("whisk API build", build);
            prop("whisk API build number", build_no, true);
        } else {
            if (f.apibuild) prop("whisk API build", build);
            if (f.apibuildno) prop("whisk API build number", build_no, true);
        }
    }
    Print(s, out);
    return err;
}

}  // namespace wsk
