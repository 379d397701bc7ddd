// wsk api create/get/delete/list as the Go CLI (apache/openwhisk-cli commands/api.go) makes
// them: calls of the built-in web endpoints /whisk.system/apimgmt/{createApi,getApi,deleteApi}
// with the V2 query (spaceguid = the key's UUID, accesstoken = APIGW_ACCESS_TOKEN or
// "DUMMY TOKEN") and the same output lines.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "api_doc.hpp"
#include "command_support.hpp"
#include "commands.hpp"
#include "json_out.hpp"
#include "output.hpp"

namespace wsk {

std::vector<std::string> PathParameterNames(const std::string& path) {
    std::vector<std::string> out;
    std::stringstream ss(path);
    std::string seg;
    while (std::getline(ss, seg, '/')) {
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            std::string name = seg.substr(1, seg.size() - 2);
            if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
        }
    }
    return out;
}

rapidjson::Value PathParametersJson(const std::vector<std::string>& names,
                                    rapidjson::Document::AllocatorType& a) {
    rapidjson::Value out(rapidjson::kArrayType);
    for (const auto& name : names) {
        rapidjson::Value p(rapidjson::kObjectType);
        p.AddMember("name", rapidjson::Value(name.c_str(), a), a);
        p.AddMember("in", "path", a);
        const std::string description = "Default description for '" + name + "'";
        p.AddMember("description", rapidjson::Value(description.c_str(), a), a);
        p.AddMember("required", true, a);
        p.AddMember("type", "string", a);
        out.PushBack(p, a);
    }
    return out;
}

using rapidjson::Document;
using rapidjson::Value;

namespace {

constexpr const char* kMgmt = "web/whisk.system/apimgmt/";

WskError UsageError(std::string msg) {
    WskError e = WskError::General(std::move(msg), true);
    return e;
}

std::string Upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

Status CheckVerb(const std::string& verb) {
    static const std::set<std::string> kVerbs = {"GET",   "PUT",  "POST",   "DELETE",
                                                 "PATCH", "HEAD", "OPTIONS"};
    if (kVerbs.count(Upper(verb)) == 0) {
        return UsageError("'" + verb +
                          "' is not a valid API verb.  Valid values are: [GET PUT POST DELETE "
                          "PATCH HEAD OPTIONS]");
    }
    return std::nullopt;
}

Status CheckPath(const std::string& path) {
    if (path.empty() || path[0] != '/') return UsageError("'" + path + "' must begin with '/'.");
    return std::nullopt;
}

/// "?spaceguid=..&accesstoken=.." (the V2 query the Go CLI always sends).
std::string V2Query(const Session& s) {
    const std::string guid = s.config.auth.substr(0, s.config.auth.find(':'));
    std::string token = "DUMMY TOKEN";
    if (!s.config.props_file.empty()) {
        const Props props = ReadPropsFile(s.config.props_file);
        if (auto it = props.find("APIGW_ACCESS_TOKEN"); it != props.end() && !it->second.empty()) {
            token = it->second;
        }
    }
    return "spaceguid=" + EscapeQuery(guid) + "&accesstoken=" + EscapeQuery(token);
}

std::string Str(const Value& obj, const char* key) {
    if (!obj.IsObject()) return "";
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

const Value* Member(const Value& obj, const char* key) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(key);
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string TrimSlash(std::string s) {
    if (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

/// "/ns[/pkg]/action" of an operation's x-openwhisk, "" without one.
std::string ActionOf(const Value& op) {
    const Value* ow = Member(op, "x-openwhisk");
    if (!ow || !ow->IsObject()) return "";
    const std::string pkg = Str(*ow, "package");
    return "/" + Str(*ow, "namespace") + (pkg.empty() ? "" : "/" + pkg) + "/" + Str(*ow, "action");
}

struct Row {
    std::string action, verb, api_name, base_path, rel_path, url;
};

/// The rows of the APIs in `apis` (getApi's "apis"), filtered by path and verb.
std::vector<Row> Rows(const Value& apis, const std::string& rel, const std::string& verb) {
    std::vector<Row> rows;
    if (!apis.IsArray()) return rows;
    for (const auto& item : apis.GetArray()) {
        const Value* value = Member(item, "value");
        if (!value) continue;
        const Value* sw = Member(*value, "apidoc");
        if (!sw) continue;
        const std::string base_url = TrimSlash(Str(*value, "gwApiUrl"));
        const Value* info = Member(*sw, "info");
        const std::string name = info ? Str(*info, "title") : "";
        const Value* paths = Member(*sw, "paths");
        if (!paths || !paths->IsObject()) continue;
        for (const auto& p : paths->GetObject()) {
            const std::string path = p.name.GetString();
            if (!rel.empty() && path != rel) continue;
            if (!p.value.IsObject()) continue;
            for (const auto& op : p.value.GetObject()) {
                const std::string v = op.name.GetString();
                if (!verb.empty() && Lower(v) != Lower(verb)) continue;
                rows.push_back(
                    Row{ActionOf(op.value), v, name, Str(*sw, "basePath"), path, base_url + path});
            }
        }
    }
    return rows;
}

std::string Format(const char* fmt, const std::string& a, const std::string& b,
                   const std::string& c, const std::string& d) {
    const int n = std::snprintf(nullptr, 0, fmt, a.c_str(), b.c_str(), c.c_str(), d.c_str());
    std::string out(static_cast<size_t>(n) + 1, '\0');
    std::snprintf(out.data(), out.size(), fmt, a.c_str(), b.c_str(), c.c_str(), d.c_str());
    out.resize(static_cast<size_t>(n));
    return out;
}

void EmitYaml(YAML::Emitter& e, const Value& v) {
    if (v.IsObject()) {
        e << YAML::BeginMap;
        for (const auto& m : v.GetObject()) {
            e << YAML::Key << m.name.GetString() << YAML::Value;
            EmitYaml(e, m.value);
        }
        e << YAML::EndMap;
    } else if (v.IsArray()) {
        e << YAML::BeginSeq;
        for (const auto& x : v.GetArray()) EmitYaml(e, x);
        e << YAML::EndSeq;
    } else if (v.IsString()) {
        e << v.GetString();
    } else if (v.IsBool()) {
        e << (v.GetBool() ? "true" : "false");
    } else if (v.IsNull()) {
        e << YAML::Null;
    } else {
        e << CompactJson(v);
    }
}

/// A JSON (or, for .yaml/.yml, YAML) swagger file as JSON text; the Go CLI's checks.
Result<std::string> ReadSwagger(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return UsageError("Error reading swagger file '" + file + "': open " + file +
                          ": no such file or directory");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const bool yaml = file.size() > 5 && (file.substr(file.size() - 5) == ".yaml" ||
                                          file.substr(file.size() - 4) == ".yml");
    Document d;
    if (yaml) {
        try {
            YAML::Node node = YAML::Load(text);
            std::function<Value(const YAML::Node&)> conv = [&](const YAML::Node& n) -> Value {
                auto& a = d.GetAllocator();
                if (n.IsMap()) {
                    Value o(rapidjson::kObjectType);
                    for (const auto& kv : n) {
                        o.AddMember(Value(kv.first.as<std::string>().c_str(), a), conv(kv.second),
                                    a);
                    }
                    return o;
                }
                if (n.IsSequence()) {
                    Value arr(rapidjson::kArrayType);
                    for (const auto& x : n) arr.PushBack(conv(x), a);
                    return arr;
                }
                if (n.IsNull()) return Value();
                const std::string sv = n.as<std::string>();
                if (n.Tag() != "!") {
                    if (sv == "true") return Value(true);
                    if (sv == "false") return Value(false);
                    Document num;
                    if (ParseJsonText(sv, num).empty() && num.IsNumber()) {
                        return Value(num, a);
                    }
                }
                return Value(sv.c_str(), a);
            };
            Value root = conv(node);
            d.CopyFrom(root, d.GetAllocator());
        } catch (const YAML::Exception& e) {
            return WskError::General(std::string("Unable to parse YAML configuration file: ") +
                                     e.what());
        }
    } else if (!ParseJsonText(text, d).empty()) {
        return UsageError("Error parsing swagger file '" + file + "': invalid JSON");
    }
    if (!d.IsObject() || Str(d, "basePath").empty() || Str(d, "swagger").empty() ||
        !Member(d, "info") || !Member(d, "paths")) {
        return UsageError(
            "Swagger file is invalid (missing basePath, info, paths, or swagger fields)");
    }
    if (Str(d, "basePath")[0] != '/') {
        return UsageError("Swagger file basePath must start with a leading slash (/)");
    }
    return CompactJson(d);
}

}  // namespace

Status ApiCreate(Session& s, const std::vector<std::string>& args_in, const ApiFlags& f) {
    std::vector<std::string> args = args_in;
    Document body(rapidjson::kObjectType);
    auto& a = body.GetAllocator();
    auto str = [&a](const std::string& v) { return Value(v.c_str(), a); };
    Value apidoc(rapidjson::kObjectType);
    std::string base_path = "/", rel_path, verb;
    QualifiedName q;
    bool swagger_mode = false;
    if (args.empty() && f.config_file.empty()) {
        return UsageError(
            "Invalid argument(s). Specify a swagger file or specify an API base path with an API "
            "path, an API verb, and an action name.");
    }
    if (args.empty()) {
        auto swagger = ReadSwagger(f.config_file);
        if (!swagger.ok()) {
            WskError e = swagger.error();
            e.message = "Unable to parse swagger file: " + e.message;
            return e;
        }
        swagger_mode = true;
        apidoc.AddMember("namespace", str(s.config.ns), a);
        apidoc.AddMember("swagger", str(*swagger), a);
    } else {
        if (auto e = CheckArgs(args, 3, 4,
                               "Specify a swagger file or specify an API base path with an API "
                               "path, an API verb, and an action name.")) {
            return e;
        }
        bool base_is_name = false;
        if (args.size() == 4) {
            base_is_name = args[0].empty() || args[0][0] != '/';
            if (!PathParameterNames(args[0]).empty()) {
                return UsageError("The base path '" + args[0] +
                                  "' cannot have parameters. Only the relative path supports path "
                                  "parameters.");
            }
            base_path = args[0];
            args.erase(args.begin());
        }
        if (auto e = CheckPath(args[0])) return e;
        rel_path = args[0];
        const auto params = PathParameterNames(rel_path);
        if (!params.empty() && f.response_type != "http") {
            return UsageError("A response type of 'http' is required when using path parameters.");
        }
        if (auto e = CheckVerb(args[1])) return e;
        verb = Upper(args[1]);
        auto qn = ParseQualifiedName(args[2]);
        if (!qn.ok()) {
            WskError e = qn.error();
            e.message = "'" + args[2] + "' is not a valid action name: " + e.message;
            e.display_usage = true;
            return e;
        }
        q = *qn;
        std::string api_name;
        if (!f.api_name.empty()) {
            if (base_is_name) return UsageError("An API name can only be specified once.");
            api_name = f.api_name;
        }
        // The action must be a web action; its require-whisk-auth becomes the secure key.
        const std::string shown = "/" + q.ns + "/" + q.entity_name;
        auto action = s.client->Do("GET", Collection(q, "actions") + "?code=false", std::nullopt);
        if (!action.ok()) return action.error().Wrap("Unable to get action '" + shown + "'");
        const Value* annotations = Member(action->json, "annotations");
        const Value* web = annotations ? FindKeyValue(*annotations, "web-export") : nullptr;
        if (!web || !web->IsBool() || !web->GetBool()) {
            return UsageError("Action '" + shown +
                              "' is not a web action. Issue 'wsk action update \"" + shown +
                              "\" --web true' to convert the action to a web action.");
        }
        const Value* secure =
            annotations ? FindKeyValue(*annotations, "require-whisk-auth") : nullptr;
        auto base_url = ApiBaseUrl(s.config.apihost);
        if (!base_url.ok()) return base_url.error();
        apidoc.AddMember("namespace", str(s.config.ns), a);
        apidoc.AddMember("gatewayBasePath", str(base_path), a);
        apidoc.AddMember("gatewayPath", str(rel_path), a);
        apidoc.AddMember("gatewayMethod", str(verb), a);
        if (!base_is_name) apidoc.AddMember("id", str("API:" + s.config.ns + ":" + base_path), a);
        if (!api_name.empty()) apidoc.AddMember("apiName", str(api_name), a);
        if (!params.empty()) apidoc.AddMember("pathParameters", PathParametersJson(params, a), a);
        Value act(rapidjson::kObjectType);
        act.AddMember("name", str(q.entity_name), a);
        act.AddMember("namespace", str(q.ns), a);
        act.AddMember("backendMethod", str(verb), a);
        act.AddMember("backendUrl",
                      str(*base_url + "/v1/web/" + q.ns + "/" +
                          (q.package.empty() ? "default" : q.package) + "/" + q.entity + ".http"),
                      a);
        act.AddMember("authkey", str(s.config.auth), a);
        if (secure && !secure->IsNull() && !(secure->IsBool() && !secure->GetBool())) {
            act.AddMember("secureKey", Value(*secure, a), a);
        }
        apidoc.AddMember("action", act, a);
    }
    body.AddMember("apidoc", apidoc, a);
    const std::string query = "?responsetype=" + EscapeQuery(f.response_type) + "&" + V2Query(s);
    auto r = s.client->Do("POST", std::string(kMgmt) + "createApi.http" + query, CompactJson(body));
    if (!r.ok()) return r.error().Wrap("Unable to create API");
    const std::string base_url = TrimSlash(Str(r->json, "gwApiUrl"));
    if (!swagger_mode) {
        Print(s, Ok() + "created API " + TrimSlash(base_path) + rel_path + " " + verb +
                     " for action " + Bold("/" + q.ns + "/" + q.entity_name) + "\n" + base_url +
                     rel_path + "\n");
        return std::nullopt;
    }
    const Value* sw = Member(r->json, "apidoc");
    const Value* paths = sw ? Member(*sw, "paths") : nullptr;
    if (!paths || !paths->IsObject()) return std::nullopt;
    const std::string bp = TrimSlash(Str(*sw, "basePath"));
    for (const auto& p : paths->GetObject()) {
        if (!p.value.IsObject()) continue;
        for (const auto& op : p.value.GetObject()) {
            const std::string action = ActionOf(op.value);
            Print(s, Ok() + "created API " + bp + p.name.GetString() + " " + op.name.GetString() +
                         (action.empty() ? "" : " for action " + Bold(action)) + "\n" + base_url +
                         p.name.GetString() + "\n");
        }
    }
    return std::nullopt;
}

Status ApiGet(Session& s, const std::vector<std::string>& args, const ApiGetFlags& f) {
    if (auto e = CheckArgs(args, 1, 1, "An API base path or API name is required.")) return e;
    const std::string format = Lower(f.format);
    if (format != "json" && format != "yaml") {
        return WskError::General("Invalid format type: " + f.format);
    }
    auto r = s.client->Do(
        "GET",
        std::string(kMgmt) + "getApi.http?basepath=" + EscapeQuery(args[0]) + "&" + V2Query(s),
        std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to get API '" + args[0] + "'");
    const Value* apis = Member(r->json, "apis");
    const Value* shown = nullptr;
    if (apis && apis->IsArray() && !apis->Empty()) {
        const Value* value = Member((*apis)[0], "value");
        shown = value && f.full ? value : (value ? Member(*value, "apidoc") : nullptr);
    }
    if (!shown) return WskError::General("API does not exist for basepath " + args[0]);
    if (format == "yaml") {
        YAML::Emitter e;
        EmitYaml(e, *shown);
        Print(s, std::string(e.c_str()) + "\n\n");
    } else {
        Print(s, PrettyJson(*shown));
    }
    return std::nullopt;
}

Status ApiDelete(Session& s, const std::vector<std::string>& args) {
    if (auto e = CheckArgs(args, 1, 3,
                           "An API base path or API name is required.  An optional API relative "
                           "path and operation may also be provided.")) {
        return e;
    }
    std::string query = "?basepath=" + EscapeQuery(args[0]);
    std::string verb;
    if (args.size() > 1) {
        if (auto e = CheckPath(args[1])) return e;
        query += "&relpath=" + EscapeQuery(args[1]);
    }
    if (args.size() > 2) {
        if (auto e = CheckVerb(args[2])) return e;
        verb = Upper(args[2]);
        query += "&operation=" + EscapeQuery(verb);
    }
    auto r = s.client->Do(
        "DELETE", std::string(kMgmt) + "deleteApi.http" + query + "&" + V2Query(s), std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to delete API");
    if (args.size() == 1) {
        Print(s, Ok() + "deleted API " + args[0] + "\n");
    } else if (args.size() == 2) {
        Print(s, Ok() + "deleted " + args[1] + " from " + args[0] + "\n");
    } else {
        Print(s, Ok() + "deleted " + args[1] + " " + verb + " from " + args[0] + "\n");
    }
    return std::nullopt;
}

Status ApiList(Session& s, const std::vector<std::string>& args, const ApiListFlags& f) {
    if (auto e = CheckArgs(args, 0, 3,
                           "Optional parameters are: API base path (or API name), API relative "
                           "path and operation.")) {
        return e;
    }
    std::string query;
    std::string rel, verb;
    if (args.empty()) {
        query = "?limit=" + std::to_string(f.limit) + "&skip=" + std::to_string(f.skip);
    } else {
        query = "?basepath=" + EscapeQuery(args[0]);
        if (args.size() > 1) {
            if (auto e = CheckPath(args[1])) return e;
            rel = args[1];
            query += "&relpath=" + EscapeQuery(rel);
        }
        if (args.size() > 2) {
            if (auto e = CheckVerb(args[2])) return e;
            verb = Upper(args[2]);
            query += "&operation=" + EscapeQuery(verb);
        }
    }
    auto r = s.client->Do("GET", std::string(kMgmt) + "getApi.http" + query + "&" + V2Query(s),
                          std::nullopt);
    if (!r.ok()) return r.error().Wrap("Unable to obtain the API list");
    const Value* apis = Member(r->json, "apis");
    std::vector<Row> rows = apis ? Rows(*apis, rel, verb) : std::vector<Row>{};
    if (f.name_sort) {
        std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
            return Lower(x.base_path + x.rel_path + x.verb) <
                   Lower(y.base_path + y.rel_path + y.verb);
        });
    }
    std::string out = Ok() + "APIs\n";
    if (f.full) {
        for (const auto& row : rows) {
            out += "Action: " + row.action + "\n   API Name: " + row.api_name +
                   "\n   Base path: " + row.base_path + "\n   Path: " + row.rel_path +
                   "\n   Verb: " + row.verb + "\n   URL: " + row.url + "\n";
        }
        Print(s, out);
        return std::nullopt;
    }
    if (rows.empty()) {
        out += Bold(Format("%-30s %7s %20s  %s", "Action", "Verb", "API Name", "URL")) + "\n";
        Print(s, out);
        return std::nullopt;
    }
    size_t action_w = 0, name_w = 0;
    for (const auto& row : rows) {
        action_w = std::max(action_w, row.action.size());
        name_w = std::max(name_w, row.api_name.size());
    }
    action_w = std::min<size_t>(40, std::max<size_t>(6, action_w));
    name_w = std::min<size_t>(30, std::max<size_t>(8, name_w));
    const std::string fmt =
        "%-" + std::to_string(action_w) + "s %7s %" + std::to_string(name_w + 1) + "s  %s\n";
    out += Bold(Format(fmt.c_str(), "Action", "Verb", "API Name", "URL"));
    for (const auto& row : rows) {
        out += Format(fmt.c_str(), row.action.substr(0, action_w), row.verb,
                      row.api_name.substr(0, name_w), row.url);
    }
    Print(s, out);
    return std::nullopt;
}

}  // namespace wsk
