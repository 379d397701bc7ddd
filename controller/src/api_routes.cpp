// API routes: the apimgmt endpoints and serving (api_routes.hpp).
#include "api_routes.hpp"

#include <algorithm>
#include <cctype>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <wisp/common/bounded_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>
#include <wisp/common/tid_log.hpp>

namespace wisp::controller {

namespace routes {

std::string OperationId(std::string_view method, std::string_view rel_path) {
    std::string out;
    for (char c : method) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool word_start = true;
    for (char c : rel_path) {
        const bool word_char = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
        if (!word_char) {
            word_start = true;
            continue;
        }
        out += static_cast<char>(word_start ? std::toupper(static_cast<unsigned char>(c))
                                            : std::tolower(static_cast<unsigned char>(c)));
        word_start = false;
    }
    return out;
}

namespace {

std::vector<std::string_view> Segments(std::string_view p) {
    std::vector<std::string_view> out;
    for (auto s : common::Split(p, '/')) {
        if (!s.empty()) out.push_back(s);
    }
    return out;
}

bool IsParam(std::string_view seg) {
    return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

}  // namespace

bool MatchTemplate(std::string_view tmpl, std::string_view path,
                   std::vector<std::pair<std::string, std::string>>& params) {
    const auto t = Segments(tmpl);
    const auto p = Segments(path);
    if (t.size() != p.size()) return false;
    std::vector<std::pair<std::string, std::string>> found;
    for (size_t i = 0; i < t.size(); ++i) {
        if (IsParam(t[i])) {
            found.emplace_back(std::string(t[i].substr(1, t[i].size() - 2)), std::string(p[i]));
        } else if (t[i] != p[i]) {
            return false;
        }
    }
    params = std::move(found);
    return true;
}

std::optional<WebUrl> ParseBackendUrl(std::string_view url) {
    constexpr std::string_view kWeb = "/api/v1/web/";
    const auto at = url.find(kWeb);
    if (at == std::string_view::npos) return std::nullopt;
    auto target = web::ParseWebPath(url.substr(at + kWeb.size()));
    if (!target || !target->extra_path.empty()) return std::nullopt;
    WebUrl out{.ns = target->ns,
               .package = target->package,
               .action = target->action,
               .extension = target->extension};
    // No extension is .http on the web route; upstream's URLs always carry one.
    return out;
}

}  // namespace routes

namespace {

using rapidjson::Document;
using rapidjson::Value;

constexpr std::string_view kNotUsed = "Not Used";

std::string Compact(const Value& v) { return common::ToCompactJson(v); }

std::optional<web::Extension> ParseExtension(std::string_view s) {
    if (s == "http") return web::Extension::kHttp;
    if (s == "json") return web::Extension::kJson;
    if (s == "html") return web::Extension::kHtml;
    if (s == "svg") return web::Extension::kSvg;
    if (s == "text") return web::Extension::kText;
    return std::nullopt;
}

/// The management call's parameters: the query overlaid by a JSON object body (body wins).
struct Params {
    Document body;
    const HttpRequest* req = nullptr;

    /// The value of `name` as a string (a non-string body value is its JSON text).
    std::optional<std::string> Str(std::string_view name) const {
        if (body.IsObject()) {
            auto it = body.FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
            if (it != body.MemberEnd()) {
                if (it->value.IsString()) return std::string(it->value.GetString());
                if (it->value.IsNull()) return std::nullopt;
                return Compact(it->value);
            }
        }
        return req->Query(name);
    }
    const Value* Member(std::string_view name) const {
        if (!body.IsObject()) return nullptr;
        auto it = body.FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
        return it == body.MemberEnd() ? nullptr : &it->value;
    }
};

const Value* Get(const Value& obj, std::string_view key) {
    if (!obj.IsObject()) return nullptr;
    auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
    return it == obj.MemberEnd() ? nullptr : &it->value;
}

std::string GetString(const Value& obj, std::string_view key) {
    const Value* v = Get(obj, key);
    return v && v->IsString() ? std::string(v->GetString()) : std::string();
}

bool HasNonEmpty(const Value& obj, std::string_view key) {
    const Value* v = Get(obj, key);
    if (!v || v->IsNull()) return false;
    if (v->IsString()) return v->GetStringLength() > 0;
    return true;
}

Value Str(std::string_view s, Document::AllocatorType& a) {
    return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

void SetMember(Value& obj, std::string_view key, Value v, Document::AllocatorType& a) {
    if (auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
        it != obj.MemberEnd()) {
        it->value = std::move(v);
        return;
    }
    obj.AddMember(Str(key, a), std::move(v), a);
}

Value& Child(Value& obj, std::string_view key, Document::AllocatorType& a) {
    if (auto it = obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())));
        it != obj.MemberEnd() && it->value.IsObject()) {
        return it->value;
    }
    SetMember(obj, key, Value(rapidjson::kObjectType), a);
    return obj.FindMember(Value(rapidjson::StringRef(key.data(), key.size())))->value;
}

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool IsVerb(std::string_view v) {
    return v == "get" || v == "put" || v == "post" || v == "delete" || v == "patch" ||
           v == "head" || v == "options";
}

std::string DocId(std::string_view ns, std::string_view base_path) {
    return common::Cat(ns, "/", base_path);
}

/// The assembly's operation-switch cases (created when missing).
Value& SwitchCases(Value& swagger, Document::AllocatorType& a) {
    Value& assembly = Child(Child(swagger, "x-ibm-configuration", a), "assembly", a);
    Value* execute = nullptr;
    if (auto it = assembly.FindMember("execute"); it != assembly.MemberEnd() && it->value.IsArray())
        execute = &it->value;
    if (!execute) {
        SetMember(assembly, "execute", Value(rapidjson::kArrayType), a);
        execute = &assembly.FindMember("execute")->value;
    }
    if (execute->Empty() || !(*execute)[0].IsObject()) {
        execute->Clear();
        execute->PushBack(Value(rapidjson::kObjectType), a);
    }
    Value& sw = Child((*execute)[0], "operation-switch", a);
    if (auto it = sw.FindMember("case"); it == sw.MemberEnd() || !it->value.IsArray()) {
        SetMember(sw, "case", Value(rapidjson::kArrayType), a);
    }
    return sw.FindMember("case")->value;
}

void RemoveCase(Value& swagger, std::string_view operation_id, Document::AllocatorType& a) {
    Value& cases = SwitchCases(swagger, a);
    for (auto it = cases.Begin(); it != cases.End();) {
        const Value* ops = Get(*it, "operations");
        bool hit = false;
        if (ops && ops->IsArray()) {
            for (const auto& o : ops->GetArray())
                hit |= o.IsString() && o.GetString() == operation_id;
        }
        it = hit ? cases.Erase(it) : it + 1;
    }
}

/// Upstream V2 rewrites "_" in x-openwhisk's namespace and url to the caller's namespace.
void ResolveDefaultNamespace(Value& swagger, const std::string& ns, Document::AllocatorType& a) {
    auto* paths = const_cast<Value*>(Get(swagger, "paths"));
    if (!paths || !paths->IsObject()) return;
    for (auto& path : paths->GetObject()) {
        if (!path.value.IsObject()) continue;
        for (auto& op : path.value.GetObject()) {
            auto* ow = const_cast<Value*>(Get(op.value, "x-openwhisk"));
            if (!ow || !ow->IsObject() || GetString(*ow, "namespace") != "_") continue;
            SetMember(*ow, "namespace", Str(ns, a), a);
            std::string url = GetString(*ow, "url");
            const std::string from = "/api/v1/web/_/";
            if (auto at = url.find(from); at != std::string::npos) {
                url.replace(at, from.size(), common::Cat("/api/v1/web/", ns, "/"));
                SetMember(*ow, "url", Str(url, a), a);
            }
        }
    }
}

}  // namespace

// ---- helpers -----------------------------------------------------------------------------------

std::string ApiRoutesHandler::GwApiUrl(const std::string& ns, std::string_view base_path) const {
    std::string host = config_.api_host;
    while (!host.empty() && host.back() == '/') host.pop_back();
    std::string_view bp = base_path;
    while (!bp.empty() && bp.front() == '/') bp.remove_prefix(1);
    while (!bp.empty() && bp.back() == '/') bp.remove_suffix(1);
    std::string url = common::Cat(host, "/api/", ns);
    if (!bp.empty()) url += common::Cat("/", bp);
    return url;
}

void ApiRoutesHandler::ReplyJson(const CallPtr& call, int status, std::string body) {
    HttpResponse resp;
    resp.status = status;
    resp.body = std::move(body);
    resp.SetHeader("Content-Type", "application/json");
    web_.Answer(call, std::move(resp), WebHandler::Cors::kWebDefaults);
}

void ApiRoutesHandler::Fail(const CallPtr& call, std::string_view text) {
    Document d(rapidjson::kObjectType);
    d.AddMember("error", Str(text, d.GetAllocator()), d.GetAllocator());
    ReplyJson(call, 502, Compact(d));
}

absl::StatusOr<std::optional<store::SystemDoc>> ApiRoutesHandler::FindApi(const std::string& ns,
                                                                          const std::string& key) {
    if (!key.empty() && key[0] == '/') {
        auto doc = store_.GetSystemDoc(routes::kRouteDocKind, DocId(ns, key));
        if (doc.ok()) return std::optional<store::SystemDoc>(*std::move(doc));
        if (doc.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
        return doc.status();
    }
    auto docs = store_.ListSystemDocs(routes::kRouteDocKind, ns + "/", "", 1000);
    if (!docs.ok()) return docs.status();
    for (auto& doc : *docs) {
        Document d;
        if (!json::ParseBounded(doc.body, d).empty()) continue;
        const Value* apidoc = Get(d, "apidoc");
        const Value* info = apidoc ? Get(*apidoc, "info") : nullptr;
        if (info && GetString(*info, "title") == key) {
            return std::optional<store::SystemDoc>(std::move(doc));
        }
    }
    return std::nullopt;
}

// ---- management ---------------------------------------------------------------------------------

void ApiRoutesHandler::HandleManagement(const CallPtr& call, std::string_view rest) {
    std::string_view name = rest.substr(routes::kManagementPrefix.size());
    for (std::string_view ext : {".http", ".json"}) {
        if (name.size() > ext.size() && name.substr(name.size() - ext.size()) == ext) {
            name.remove_suffix(ext.size());
        }
    }
    if (name != "createApi" && name != "getApi" && name != "deleteApi") {
        HttpResponse resp =
            HttpResponse::Json(404, ErrorBody(common::kMsgResourceDoesNotExist, call->tid));
        return web_.Answer(call, std::move(resp), WebHandler::Cors::kNone);
    }
    if (call->req.method == "OPTIONS") {
        HttpResponse resp;
        resp.status = 200;
        return web_.Answer(call, std::move(resp), WebHandler::Cors::kWebDefaults);
    }
    // __ow_user: the namespace of valid credentials.
    std::optional<std::string> ns;
    if (call->req.HasHeader("authorization")) {
        auto who = auth_.Authenticate(call->req.Header("authorization"), call->req.remote_address);
        if (who.ok()) {
            ns = who->namespace_name;
        } else if (who.status().code() == absl::StatusCode::kResourceExhausted) {
            return ReplyJson(call, 429, ErrorBody(ClientMessageFor(who.status()), call->tid));
        }
    }
    if (!ns) {
        return Fail(call, name == "createApi" ? "A valid auth key is required."
                                              : "Invalid authentication.");
    }
    if (name == "createApi") return CreateApi(call, *ns);
    if (name == "getApi") return GetApi(call, *ns);
    return DeleteApi(call, *ns);
}

void ApiRoutesHandler::CreateApi(const CallPtr& call, const std::string& ns) {
    Params params;
    params.req = &call->req;
    if (!call->req.body.empty() && !json::ParseBounded(call->req.body, params.body).empty()) {
        return Fail(call, "apidoc field cannot be parsed. Ensure it is valid JSON.");
    }
    if (ns == "v1") {
        return Fail(call,
                    "API creation failure: the namespace 'v1' cannot have APIs on this platform "
                    "(/api/v1 is the REST API).");
    }
    // apidoc: an object, or JSON text (query or body string).
    Document apidoc;
    if (const Value* m = params.Member("apidoc"); m && m->IsObject()) {
        apidoc.CopyFrom(*m, apidoc.GetAllocator());
    } else if (auto text = params.Str("apidoc")) {
        if (!json::ParseBounded(*text, apidoc).empty() || !apidoc.IsObject()) {
            return Fail(call, "apidoc field cannot be parsed. Ensure it is valid JSON.");
        }
    } else {
        return Fail(call, "apidoc is required.");
    }
    auto& a = apidoc.GetAllocator();
    if (!HasNonEmpty(apidoc, "namespace"))
        return Fail(call, "apidoc is missing the namespace field");
    const Value* swagger_in = Get(apidoc, "swagger");
    const bool has_swagger = swagger_in && !swagger_in->IsNull();
    if (has_swagger && HasNonEmpty(apidoc, "gatewayBasePath")) {
        return Fail(call,
                    "swagger and gatewayBasePath are mutually exclusive and cannot be specified "
                    "together.");
    }
    std::string response_type = params.Str("responsetype").value_or("json");
    if (!ParseExtension(response_type)) response_type = "json";

    Document swagger;
    std::string base_path;
    // Writes the whole API under (namespace, basePath): created when `rev` is empty, else that
    // revision replaced. Aborted/AlreadyExists: another writer came first (read again, retry; each
    // round has a winner, so 20 rounds cover 20 writers of one API at once).
    const auto write = [&](const std::string& rev) {
        Document body(rapidjson::kObjectType);
        auto& ba = body.GetAllocator();
        body.AddMember("namespace", Str(ns, ba), ba);
        body.AddMember("apidoc", Value(swagger, ba), ba);
        const store::SystemDoc doc{.kind = std::string(routes::kRouteDocKind),
                                   .id = DocId(ns, base_path),
                                   .body = Compact(body),
                                   .updated_ms = clock_.NowMs()};
        return store_.PutSystemDoc(doc, rev);
    };
    const auto retry = [](const absl::Status& st, int attempt) {
        return attempt < 20 && (st.code() == absl::StatusCode::kAborted ||
                                st.code() == absl::StatusCode::kAlreadyExists);
    };
    constexpr std::string_view kCreateFailure = "API creation failure: ";
    if (has_swagger) {
        if (swagger_in->IsString()) {
            if (!json::ParseBounded(swagger_in->GetString(), swagger).empty() ||
                !swagger.IsObject()) {
                return Fail(call, "apidoc field cannot be parsed. Ensure it is valid JSON.");
            }
        } else if (swagger_in->IsObject()) {
            swagger.CopyFrom(*swagger_in, swagger.GetAllocator());
        } else {
            return Fail(call, "apidoc field cannot be parsed. Ensure it is valid JSON.");
        }
        for (std::string_view f : {"basePath", "paths", "info"}) {
            if (!HasNonEmpty(swagger, f)) {
                return Fail(call, common::Cat("swagger is missing the ", f, " field."));
            }
        }
        base_path = GetString(swagger, "basePath");
        if (base_path.empty() || base_path[0] != '/') {
            return Fail(call,
                        "API creation failure: Swagger file basePath must start with a "
                        "leading slash (/)");
        }
        ResolveDefaultNamespace(swagger, ns, swagger.GetAllocator());
        for (int attempt = 0;; ++attempt) {
            auto cur = store_.GetSystemDoc(routes::kRouteDocKind, DocId(ns, base_path));
            if (!cur.ok() && cur.status().code() != absl::StatusCode::kNotFound) {
                return Fail(call, common::Cat(kCreateFailure, ClientMessageFor(cur.status())));
            }
            auto put = write(cur.ok() ? cur->rev : "");
            if (put.ok()) break;
            if (!retry(put.status(), attempt)) {
                return Fail(call, common::Cat(kCreateFailure, ClientMessageFor(put.status())));
            }
        }
    } else {
        for (std::string_view f : {"gatewayBasePath", "gatewayPath", "gatewayMethod"}) {
            if (!HasNonEmpty(apidoc, f)) {
                return Fail(call, common::Cat("apidoc is missing the ", f, " field"));
            }
        }
        const Value* action = Get(apidoc, "action");
        if (!action || !action->IsObject())
            return Fail(call, "apidoc is missing the action field.");
        for (std::string_view f : {"backendMethod", "backendUrl", "namespace", "name", "authkey"}) {
            if (!HasNonEmpty(*action, f)) {
                return Fail(call, common::Cat("action is missing the ", f, " field."));
            }
        }
        base_path = GetString(apidoc, "gatewayBasePath");
        const std::string given_base = base_path;  // an API name when without '/' (Go CLI)
        const std::string rel_path = GetString(apidoc, "gatewayPath");
        const std::string method = Lower(GetString(apidoc, "gatewayMethod"));
        if (base_path.empty() || base_path[0] != '/') base_path = "/" + base_path;
        if (base_path.find('{') != std::string::npos) {
            return Fail(call, common::Cat("API creation failure: The base path (", base_path,
                                          ") cannot have parameters. Only the relative path "
                                          "supports path parameters."));
        }
        if (rel_path.find('{') != std::string::npos && response_type != "http") {
            return Fail(call,
                        "API creation failure: The action must use a response type of '.http' in "
                        "order to receive the path parameters.");
        }
        if (!IsVerb(method)) {
            return Fail(
                call, common::Cat("API creation failure: '", method, "' is not a valid API verb."));
        }
        if (!routes::ParseBackendUrl(GetString(*action, "backendUrl"))) {
            return Fail(call,
                        "API creation failure: action.backendUrl is not a web action URL "
                        "(https://HOST/api/v1/web/NAMESPACE/PACKAGE/ACTION.EXT).");
        }
        // The action: "pkg/action" or "action" of namespace action.namespace ("_" = caller).
        std::string action_ns = GetString(*action, "namespace");
        if (action_ns == "_") action_ns = ns;
        std::string action_name = GetString(*action, "name");
        std::string package;
        if (auto slash = action_name.find('/'); slash != std::string::npos) {
            package = action_name.substr(0, slash);
            action_name = action_name.substr(slash + 1);
        }
        std::string host = config_.api_host;
        while (!host.empty() && host.back() == '/') host.pop_back();
        const std::string url =
            common::Cat(host, "/api/v1/web/", action_ns, "/", package.empty() ? "default" : package,
                        "/", action_name, ".", response_type);

        // The tenant's API by basePath, or a new one, with this operation set; read again
        // and merged again when another writer came first.
        for (int attempt = 0;; ++attempt) {
            swagger.SetNull();
            auto existing = store_.GetSystemDoc(routes::kRouteDocKind, DocId(ns, base_path));
            if (existing.ok()) {
                Document stored;
                if (json::ParseBounded(existing->body, stored).empty()) {
                    if (const Value* sw = Get(stored, "apidoc"); sw && sw->IsObject()) {
                        swagger.CopyFrom(*sw, swagger.GetAllocator());
                    }
                }
            } else if (existing.status().code() != absl::StatusCode::kNotFound) {
                return Fail(call, common::Cat(kCreateFailure, ClientMessageFor(existing.status())));
            }
            auto& sa = swagger.GetAllocator();
            if (!swagger.IsObject()) {
                swagger.SetObject();
                std::string title = GetString(apidoc, "apiName");
                if (title.empty()) title = given_base;
                swagger.AddMember("swagger", "2.0", sa);
                Value info(rapidjson::kObjectType);
                info.AddMember("title", Str(title, sa), sa);
                info.AddMember("version", "1.0.0", sa);
                swagger.AddMember("info", std::move(info), sa);
                swagger.AddMember("basePath", Str(base_path, sa), sa);
                swagger.AddMember("paths", Value(rapidjson::kObjectType), sa);
                Value cfg(rapidjson::kObjectType);
                cfg.AddMember("assembly", Value(rapidjson::kObjectType), sa);
                Value cors(rapidjson::kObjectType);
                cors.AddMember("enabled", true, sa);
                cfg.AddMember("cors", std::move(cors), sa);
                swagger.AddMember("x-ibm-configuration", std::move(cfg), sa);
            }
            const std::string op_id = routes::OperationId(method, rel_path);
            Value op(rapidjson::kObjectType);
            op.AddMember("operationId", Str(op_id, sa), sa);
            if (const Value* pp = Get(apidoc, "pathParameters");
                pp && pp->IsArray() && !pp->Empty()) {
                op.AddMember("parameters", Value(*pp, sa), sa);
            }
            Value ow(rapidjson::kObjectType);
            ow.AddMember("namespace", Str(action_ns, sa), sa);
            ow.AddMember("package", Str(package, sa), sa);
            ow.AddMember("action", Str(action_name, sa), sa);
            ow.AddMember("url", Str(url, sa), sa);
            op.AddMember("x-openwhisk", std::move(ow), sa);
            Value responses(rapidjson::kObjectType);
            Value def(rapidjson::kObjectType);
            def.AddMember("description", "Default response", sa);
            responses.AddMember("default", std::move(def), sa);
            op.AddMember("responses", std::move(responses), sa);
            Value& paths = Child(swagger, "paths", sa);
            Value& path_item = Child(paths, rel_path, sa);
            SetMember(path_item, method, std::move(op), sa);

            // The operation-switch case (the index is reused when the operationId exists).
            const std::string secure_key = GetString(*action, "secureKey");
            Value the_case(rapidjson::kObjectType);
            Value ops(rapidjson::kArrayType);
            ops.PushBack(Str(op_id, sa), sa);
            the_case.AddMember("operations", std::move(ops), sa);
            Value exec(rapidjson::kArrayType);
            Value invoke(rapidjson::kObjectType);
            Value inv(rapidjson::kObjectType);
            inv.AddMember("target-url",
                          Str(response_type == "http" ? url + "$(request.path)" : url, sa), sa);
            inv.AddMember("verb", "keep", sa);
            invoke.AddMember("invoke", std::move(inv), sa);
            exec.PushBack(std::move(invoke), sa);
            if (!secure_key.empty()) {
                Value set(rapidjson::kObjectType);
                set.AddMember("set", "message.headers.X-Require-Whisk-Auth", sa);
                set.AddMember("value", Str(secure_key, sa), sa);
                Value actions(rapidjson::kArrayType);
                actions.PushBack(std::move(set), sa);
                Value sv(rapidjson::kObjectType);
                sv.AddMember("actions", std::move(actions), sa);
                Value item(rapidjson::kObjectType);
                item.AddMember("set-variable", std::move(sv), sa);
                exec.PushBack(std::move(item), sa);
            }
            the_case.AddMember("execute", std::move(exec), sa);
            Value& cases = SwitchCases(swagger, sa);
            bool replaced = false;
            for (auto& c : cases.GetArray()) {
                const Value* o = Get(c, "operations");
                if (o && o->IsArray() && !o->Empty() && (*o)[0].IsString() &&
                    (*o)[0].GetString() == op_id) {
                    c = std::move(the_case);
                    replaced = true;
                    break;
                }
            }
            if (!replaced) cases.PushBack(std::move(the_case), sa);
            auto put = write(existing.ok() ? existing->rev : "");
            if (put.ok()) break;
            if (!retry(put.status(), attempt)) {
                return Fail(call, common::Cat(kCreateFailure, ClientMessageFor(put.status())));
            }
        }
    }
    (void)a;

    Document value(rapidjson::kObjectType);
    auto& va = value.GetAllocator();
    value.AddMember("namespace", Str(kNotUsed, va), va);
    value.AddMember("gwApiActivated", true, va);
    value.AddMember("tenantId", Str(kNotUsed, va), va);
    value.AddMember("gwApiUrl", Str(GwApiUrl(ns, base_path), va), va);
    value.AddMember("apidoc", Value(swagger, va), va);
    common::TidLog(call->tid).info("API {} of namespace {} written", base_path, ns);
    ReplyJson(call, 200, Compact(value));
}

void ApiRoutesHandler::GetApi(const CallPtr& call, const std::string& ns) {
    Params params;
    params.req = &call->req;
    if (!call->req.body.empty()) (void)json::ParseBounded(call->req.body, params.body);
    const std::string format = params.Str("outputFormat").value_or("swagger");
    if (format != "swagger" && format != "apigw") {
        return Fail(call, "Invalid outputFormat value. Valid values are: apigw, swagger");
    }
    const std::string key = params.Str("basepath").value_or("");
    int64_t limit = 0;
    int64_t skip = 0;
    try {
        limit = std::stoll(params.Str("limit").value_or("0"));
        skip = std::stoll(params.Str("skip").value_or("0"));
    } catch (const std::exception&) {
        limit = 0;
        skip = 0;
    }
    std::vector<store::SystemDoc> docs;
    if (!key.empty()) {
        auto found = FindApi(ns, key);
        if (!found.ok()) return Fail(call, ClientMessageFor(found.status()));
        if (*found) docs.push_back(**found);
    } else {
        std::string after;
        while (true) {
            auto page = store_.ListSystemDocs(routes::kRouteDocKind, ns + "/", after, 1000);
            if (!page.ok()) return Fail(call, ClientMessageFor(page.status()));
            for (auto& d : *page) docs.push_back(std::move(d));
            if (page->size() < 1000) break;
            after = docs.back().id;
        }
    }
    Document out(rapidjson::kObjectType);
    auto& oa = out.GetAllocator();
    Value apis(rapidjson::kArrayType);
    int64_t index = 0;
    for (const auto& doc : docs) {
        if (index++ < skip) continue;
        if (limit > 0 && static_cast<int64_t>(apis.Size()) >= limit) break;
        Document stored;
        if (!json::ParseBounded(doc.body, stored).empty()) continue;
        const Value* sw = Get(stored, "apidoc");
        if (!sw) continue;
        Value value(rapidjson::kObjectType);
        value.AddMember("namespace", Str(kNotUsed, oa), oa);
        value.AddMember("gwApiActivated", true, oa);
        value.AddMember("tenantId", Str(kNotUsed, oa), oa);
        value.AddMember("gwApiUrl", Str(GwApiUrl(ns, GetString(*sw, "basePath")), oa), oa);
        value.AddMember("apidoc", Value(*sw, oa), oa);
        Value item(rapidjson::kObjectType);
        item.AddMember("id", Str(kNotUsed, oa), oa);
        item.AddMember("key", Str(kNotUsed, oa), oa);
        item.AddMember("value", std::move(value), oa);
        apis.PushBack(std::move(item), oa);
    }
    out.AddMember("apis", std::move(apis), oa);
    ReplyJson(call, 200, Compact(out));
}

void ApiRoutesHandler::DeleteApi(const CallPtr& call, const std::string& ns) {
    Params params;
    params.req = &call->req;
    if (!call->req.body.empty()) (void)json::ParseBounded(call->req.body, params.body);
    const std::string key = params.Str("basepath").value_or("");
    const std::string rel_path = params.Str("relpath").value_or("");
    const std::string operation = Lower(params.Str("operation").value_or(""));
    if (key.empty()) return Fail(call, "basepath is required.");
    if (!operation.empty() && rel_path.empty()) {
        return Fail(call, "When specifying an operation, the path is required.");
    }
    constexpr std::string_view kFailure = "API deletion failure: ";
    // Read, change, write with the revision read; another writer in between: read again.
    const auto changed_meanwhile = [](const absl::Status& st, int attempt) {
        return attempt < 20 && st.code() == absl::StatusCode::kAborted;
    };
    for (int attempt = 0;; ++attempt) {
        auto found = FindApi(ns, key);
        if (!found.ok()) return Fail(call, common::Cat(kFailure, ClientMessageFor(found.status())));
        if (!*found) return Fail(call, common::Cat(kFailure, "API '", key, "' does not exist."));
        store::SystemDoc doc = **found;
        bool delete_all = rel_path.empty();
        if (!delete_all) {
            Document stored;
            if (!json::ParseBounded(doc.body, stored).empty() || !Get(stored, "apidoc")) {
                return Fail(call, common::Cat(kFailure, "the stored API cannot be read."));
            }
            auto& sa = stored.GetAllocator();
            Value& swagger = stored.FindMember("apidoc")->value;
            Value& paths = Child(swagger, "paths", sa);
            auto path_it = paths.FindMember(Str(rel_path, sa));
            if (path_it == paths.MemberEnd() || !path_it->value.IsObject()) {
                return Fail(
                    call, common::Cat(kFailure, "path '", rel_path, "' does not exist in the API"));
            }
            std::vector<std::string> removed_ops;
            if (operation.empty()) {
                for (auto& op : path_it->value.GetObject()) {
                    removed_ops.push_back(GetString(op.value, "operationId"));
                }
                paths.RemoveMember(path_it);
            } else {
                auto op_it = path_it->value.FindMember(Str(operation, sa));
                if (op_it == path_it->value.MemberEnd()) {
                    return Fail(call,
                                common::Cat(kFailure, "path '", rel_path, "' with operation '",
                                            operation, "' does not exist in the API"));
                }
                removed_ops.push_back(GetString(op_it->value, "operationId"));
                path_it->value.RemoveMember(op_it);
                if (path_it->value.ObjectEmpty()) paths.RemoveMember(path_it);
            }
            for (const auto& id : removed_ops) {
                if (!id.empty()) RemoveCase(swagger, id, sa);
            }
            if (paths.ObjectEmpty()) {
                delete_all = true;
            } else {
                doc.body = Compact(stored);
                doc.updated_ms = clock_.NowMs();
                auto put = store_.PutSystemDoc(doc, doc.rev);
                if (!put.ok()) {
                    if (changed_meanwhile(put.status(), attempt)) continue;
                    return Fail(call, common::Cat(kFailure, ClientMessageFor(put.status())));
                }
            }
        }
        if (delete_all) {
            auto st = store_.DeleteSystemDoc(doc.kind, doc.id, doc.rev);
            if (!st.ok() && st.code() != absl::StatusCode::kNotFound) {
                if (changed_meanwhile(st, attempt)) continue;
                return Fail(call, common::Cat(kFailure, ClientMessageFor(st)));
            }
        }
        break;
    }
    ReplyJson(call, 200, "{}");
}

// ---- serving ------------------------------------------------------------------------------------

void ApiRoutesHandler::Serve(const CallPtr& call, std::string_view rest) {
    constexpr auto kGateway = WebHandler::Cors::kGateway;
    const auto not_found = [&] {
        web_.Answer(call,
                    HttpResponse::Json(404, ErrorBody(common::kMsgResourceDoesNotExist, call->tid)),
                    kGateway);
    };
    // Before any lookup, as for web actions: an oversized body gets 413 whatever the route.
    if (web_.RejectOversized(call, kGateway)) return;
    const auto slash = rest.find('/');
    const std::string ns(rest.substr(0, slash));
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (ns.empty() || ns == "v1") return not_found();
    auto docs = store_.ListSystemDocs(routes::kRouteDocKind, ns + "/", "", 1000);
    if (!docs.ok()) {
        common::TidLog(call->tid).warn("API routes of '{}': {}", ns,
                                       common::MessageOf(docs.status()));
        return web_.Answer(
            call,
            HttpResponse::Json(common::HttpStatusFor(docs.status()),
                               ErrorBody(ClientMessageFor(docs.status()), call->tid)),
            kGateway);
    }
    // The longest basePath that prefixes the path.
    const store::SystemDoc* best = nullptr;
    std::string best_base;
    std::string_view best_rel;
    for (const auto& doc : *docs) {
        std::string base = doc.id.substr(ns.size() + 1);
        while (base.size() > 1 && base.back() == '/') base.pop_back();
        std::string_view rel;
        if (base == "/") {
            rel = path;
        } else if (path == base) {
            rel = "";
        } else if (path.size() > base.size() && path.substr(0, base.size()) == base &&
                   path[base.size()] == '/') {
            rel = path.substr(base.size());
        } else {
            continue;
        }
        if (!best || base.size() > best_base.size()) {
            best = &doc;
            best_base = base;
            best_rel = rel;
        }
    }
    if (!best) return not_found();
    Document stored;
    if (!json::ParseBounded(best->body, stored).empty()) return not_found();
    const Value* swagger = Get(stored, "apidoc");
    const Value* paths = swagger ? Get(*swagger, "paths") : nullptr;
    if (!paths || !paths->IsObject()) return not_found();
    // Literal paths first, then templates.
    const Value* item = nullptr;
    std::vector<std::pair<std::string, std::string>> path_params;
    for (int pass = 0; pass < 2 && !item; ++pass) {
        for (const auto& p : paths->GetObject()) {
            const std::string_view tmpl(p.name.GetString(), p.name.GetStringLength());
            const bool is_template = tmpl.find('{') != std::string_view::npos;
            if ((pass == 0) == is_template) continue;
            std::vector<std::pair<std::string, std::string>> found;
            if (routes::MatchTemplate(tmpl, best_rel, found)) {
                item = &p.value;
                path_params = std::move(found);
                break;
            }
        }
    }
    if (!item || !item->IsObject()) return not_found();
    const std::string method = Lower(call->req.method);
    const bool cors_enabled = [&] {
        const Value* cfg = Get(*swagger, "x-ibm-configuration");
        const Value* cors = cfg ? Get(*cfg, "cors") : nullptr;
        const Value* enabled = cors ? Get(*cors, "enabled") : nullptr;
        return !(enabled && enabled->IsBool() && !enabled->GetBool());
    }();
    const auto cors = cors_enabled ? kGateway : WebHandler::Cors::kNone;
    const Value* op = Get(*item, method);
    if (!op && method == "options" && cors_enabled) {
        HttpResponse resp;
        resp.status = 200;
        return web_.Answer(call, std::move(resp), kGateway);
    }
    if (!op) {
        std::string allowed;
        for (const auto& m : item->GetObject()) {
            std::string verb(m.name.GetString());
            for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            allowed += allowed.empty() ? verb : ", " + verb;
        }
        HttpResponse resp = HttpResponse::Json(
            405, ErrorBody(common::Cat("HTTP method not allowed, supported methods: ", allowed),
                           call->tid));
        resp.SetHeader("Allow", allowed);
        return web_.Answer(call, std::move(resp), cors);
    }
    const Value* ow = Get(*op, "x-openwhisk");
    if (!ow) return not_found();
    auto target_url = routes::ParseBackendUrl(GetString(*ow, "url"));
    if (!target_url) return not_found();
    auto owner = auth_.IdentityOfNamespace(target_url->ns);
    if (!owner.ok()) return not_found();

    // The secure key of the operation's case, sent as the gateway does.
    const std::string op_id = GetString(*op, "operationId");
    if (const Value* cfg = Get(*swagger, "x-ibm-configuration")) {
        const Value* assembly = Get(*cfg, "assembly");
        const Value* execute = assembly ? Get(*assembly, "execute") : nullptr;
        if (execute && execute->IsArray() && !execute->Empty()) {
            const Value* sw = Get((*execute)[0], "operation-switch");
            const Value* cases = sw ? Get(*sw, "case") : nullptr;
            if (cases && cases->IsArray()) {
                for (const auto& c : cases->GetArray()) {
                    const Value* ops = Get(c, "operations");
                    if (!ops || !ops->IsArray() || ops->Empty() || !(*ops)[0].IsString() ||
                        (*ops)[0].GetString() != op_id) {
                        continue;
                    }
                    const Value* exec = Get(c, "execute");
                    if (!exec || !exec->IsArray()) continue;
                    for (const auto& step : exec->GetArray()) {
                        const Value* set_var = Get(step, "set-variable");
                        const Value* acts = set_var ? Get(*set_var, "actions") : nullptr;
                        if (!acts || !acts->IsArray()) continue;
                        for (const auto& s : acts->GetArray()) {
                            if (GetString(s, "set") == "message.headers.X-Require-Whisk-Auth") {
                                auto& headers = call->req.headers;
                                std::erase_if(headers, [](const auto& h) {
                                    return h.first == web::kRequireWhiskAuthHeader;
                                });
                                headers.emplace_back(std::string(web::kRequireWhiskAuthHeader),
                                                     GetString(s, "value"));
                            }
                        }
                    }
                }
            }
        }
    }

    common::EntityPath entity_path({target_url->ns});
    if (target_url->package) entity_path = entity_path.Add(*target_url->package);
    WebHandler::Target target{
        .owner = *std::move(owner),
        .fqn = common::FullyQualifiedName{entity_path, target_url->action},
        .extension = target_url->extension,
        // As upstream's target-url + $(request.path) for http: the path after /api/<tenant>.
        .extra_path = target_url->extension == web::Extension::kHttp ? std::string(path) : "",
        .cors = cors == kGateway ? kGateway : WebHandler::Cors::kWebDefaults};
    for (auto& [name, value] : path_params) {
        target.path_params.Set(name, common::JsonValue::String(value));
    }
    web_.Run(call, std::move(target));
}

}  // namespace wisp::controller
