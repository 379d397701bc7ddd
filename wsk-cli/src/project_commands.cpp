// wsk project deploy|undeploy: wskdeploy's manifest deployment (apache/openwhisk-wskdeploy
// deployers/servicedeployer.go) over our REST client. Deploy order: packages, actions, sequences,
// triggers (feeds through the feed protocol), rules (then activated), APIs, then the managed
// refresh; every entity carries the `whisk-managed` annotation of the project, which is how the
// refresh and `undeploy --projectname` find what the project created.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <wisp/common/base64.hpp>

#include "api_doc.hpp"
#include "command_support.hpp"
#include "commands.hpp"
#include "feed_lifecycle.hpp"
#include "json_out.hpp"
#include "manifest.hpp"
#include "output.hpp"
#include "put_body.hpp"

namespace wsk {

using project::Manifest;
using project::Package;
using rapidjson::Value;

namespace {

constexpr const char* kDeployFailed =
    "Error: Deployment did not complete successfully. Run `wskdeploy undeploy` to remove "
    "partially deployed assets.\n";
constexpr const char* kUndeployFailed = "Error: Undeployment did not complete successfully.\n";
constexpr const char* kApisUnavailable = "apis: API routes are not available on this platform yet";

std::string ReadText(const std::string& path, bool& ok) {
    std::ifstream in(path, std::ios::binary);
    ok = static_cast<bool>(in);
    std::stringstream ss;
    if (in) ss << in.rdbuf();
    return ss.str();
}

/// The first of `names` in `dir` that exists, as shown to the user ("manifest.yaml" for ".").
std::string FindDefault(const std::string& dir, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        const std::filesystem::path p = (std::filesystem::path(dir) / n).lexically_normal();
        std::error_code ec;
        if (std::filesystem::is_regular_file(p, ec)) return p.string();
    }
    return "";
}

QualifiedName Q(const std::string& entity_name) {
    QualifiedName q;
    q.entity_name = entity_name;
    const auto slash = entity_name.find('/');
    q.package = slash == std::string::npos ? "" : entity_name.substr(0, slash);
    q.entity = slash == std::string::npos ? entity_name : entity_name.substr(slash + 1);
    return q;
}

std::string Member(const Value& v, const char* key) {
    if (!v.IsObject()) return "";
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

/// The whisk-managed annotation's {projectName, projectHash} of an entity, or empty strings.
std::pair<std::string, std::string> ManagedOf(const Value& entity) {
    if (!entity.IsObject() || !entity.HasMember("annotations")) return {};
    const Value* m = FindKeyValue(entity["annotations"], "whisk-managed");
    if (m == nullptr || !m->IsObject()) return {};
    return {Member(*m, "projectName"), Member(*m, "projectHash")};
}

std::string Pair(const std::string& key, const std::string& json) {
    return "{" + QuoteJson(key) + ":" + json + "}";
}

std::vector<std::string> Texts(const project::KeyValues& kvs) {
    std::vector<std::string> out;
    for (const auto& kv : kvs) out.push_back(Pair(kv.key, kv.json));
    return out;
}

/// A project's entity on the server, as collected for the refresh and undeploy by name.
struct Found {
    std::string kind;  // "rule", "trigger", "action", "package"
    std::string name;  // "pkg/a" for actions in packages
    std::string hash;
    std::string feed;  // triggers
};

class Deployer {
  public:
    Deployer(Session& s, Manifest& m, bool verbose) : s_(s), m_(m), verbose_(verbose) {}

    void Info(const std::string& text) const {
        if (verbose_) *s_.out << "Info: " << text << "\n" << std::flush;
    }

    /// The managed annotation (a JSON object text), or "" without a project name.
    std::string ManagedJson() const {
        if (m_.project_name.empty()) return "";
        return "{\"projectName\":" + QuoteJson(m_.project_name) +
               ",\"projectHash\":" + QuoteJson(m_.hash) + ",\"file\":" + QuoteJson(m_.file) +
               ",\"projectDeps\":[]}";
    }

    std::vector<std::string> AnnotationTexts(const project::KeyValues& kvs) const {
        std::vector<std::string> out = Texts(kvs);
        if (const std::string managed = ManagedJson(); !managed.empty()) {
            out.push_back(Pair("whisk-managed", managed));
        }
        return out;
    }

    [[nodiscard]] Status Put(const std::string& kind, const std::string& shown,
                             const std::string& path, std::string body) {
        Info("Deploying " + kind + " [" + shown + "] ...");
        auto r = s_.client->Do("PUT", path + "?overwrite=true", body);
        if (!r.ok()) return r.error().Wrap("Unable to deploy " + kind + " [" + shown + "]");
        Info(kind + " [" + shown + "] has been successfully deployed.");
        return std::nullopt;
    }

    // ---- deploy ------------------------------------------------------------------------------

    [[nodiscard]] Status DeployPackage(const Package& p) {
        if (p.IsDefault()) return std::nullopt;
        PutBody body;
        body.SetName(Q(p.name));
        body.Add("publish", Value(p.is_public));
        if (auto e = body.AddAnnotations(AnnotationTexts(p.annotations))) return e;
        if (auto e = body.AddParameters(Texts(p.inputs))) return e;
        return Put("package", p.name, Collection(Q(p.name), "packages"), body.Finish());
    }

    std::string InPackage(const Package& p, const std::string& name) const {
        return p.IsDefault() ? name : p.name + "/" + name;
    }

    [[nodiscard]] Status DeployAction(const Package& p, const project::Action& a) {
        const std::string name = InPackage(p, a.name);
        PutBody body;
        body.SetName(Q(name));
        auto& alloc = body.alloc();
        Value exec(rapidjson::kObjectType);
        std::string kind = a.runtime;
        std::optional<std::string> code = a.code;
        if (!a.function.empty()) {
            bool ok = false;
            std::string content = ReadText(a.function, ok);
            if (!ok) return WskError::General("Unable to read the file '" + a.function + "'");
            const std::string ext = FileExtension(a.function);
            if (IsBinaryArtifact(ext)) content = wisp::common::Base64Encode(content);
            code = content;
            if (a.docker.empty() && !a.native && !kind.empty() && !KnownKind(kind)) {
                Warn("Invalid or missing runtime [" + kind +
                     "] specified in manifest for the "
                     "action [" +
                     name + "]; the kind comes from the file's extension.");
                kind.clear();
            }
            if (kind.empty() && a.docker.empty() && !a.native) {
                auto k = KindFromExtension(ext);
                if (!k.ok()) return k.error();
                kind = *k;
            }
        } else if (a.code && !KnownKind(kind)) {
            return WskError::General("Invalid or missing runtime [" + kind +
                                     "] specified in manifest for the action [" + name + "].");
        }
        std::string image;
        if (!a.docker.empty() || a.native) {
            kind = "blackbox";
            image = a.native ? "openwhisk/dockerskeleton" : a.docker;
        }
        exec.AddMember("kind", Value(kind.c_str(), alloc), alloc);
        if (code) {
            exec.AddMember(
                "code", Value(code->c_str(), static_cast<rapidjson::SizeType>(code->size()), alloc),
                alloc);
        }
        if (!image.empty()) exec.AddMember("image", Value(image.c_str(), alloc), alloc);
        if (!a.main.empty()) exec.AddMember("main", Value(a.main.c_str(), alloc), alloc);
        body.Add("exec", std::move(exec));
        if (auto e = body.AddAnnotations(Texts(a.annotations))) return e;
        if (a.web) {
            if (auto e = ApplyWebFlag(*a.web, body.annotations(), alloc)) return e;
        }
        if (a.conductor) SetKeyValue(body.annotations(), "conductor", Value(true), alloc);
        if (auto e = AddManaged(body)) return e;
        if (auto e = body.AddParameters(Texts(a.inputs))) return e;
        body.SetLimits({a.timeout, a.memory, a.logsize, std::nullopt});
        return Put("action", name, Collection(Q(name), "actions"), body.Finish());
    }

    void Warn(const std::string& text) const {
        if (verbose_) *s_.out << "Warning: " << text << "\n" << std::flush;
    }

    /// Whether the platform offers `kind` (its `GET /` runtimes, deprecated ones excluded;
    /// "<family>:default" for a known family). True when the platform does not say.
    bool KnownKind(const std::string& kind) {
        if (!runtimes_loaded_) {
            runtimes_loaded_ = true;
            auto r = s_.client->Root();
            if (r.ok() && r->json.IsObject() && r->json.HasMember("runtimes") &&
                r->json["runtimes"].IsObject()) {
                for (const auto& family : r->json["runtimes"].GetObject()) {
                    if (!family.value.IsArray()) continue;
                    kinds_.insert(std::string(family.name.GetString()) + ":default");
                    for (const auto& k : family.value.GetArray()) {
                        const bool deprecated = k.IsObject() && k.HasMember("deprecated") &&
                                                k["deprecated"].IsBool() &&
                                                k["deprecated"].GetBool();
                        if (!deprecated) kinds_.insert(Member(k, "kind"));
                    }
                }
            }
        }
        return kinds_.empty() || kinds_.count(kind) > 0;
    }

    [[nodiscard]] Status AddManaged(PutBody& body) {
        const std::string managed = ManagedJson();
        if (managed.empty()) return std::nullopt;
        rapidjson::Document d;
        (void)ParseJsonText(managed, d);
        SetKeyValue(body.annotations(), "whisk-managed", Value(d, body.alloc()), body.alloc());
        return std::nullopt;
    }

    /// A sequence component or rule action as "/ns/pkg/a": a bare name is in the package.
    std::string Component(const Package& p, const std::string& ref) const {
        if (!ref.empty() && ref[0] == '/') return ref;
        if (ref.find('/') != std::string::npos) return "/_/" + ref;
        return "/_/" + InPackage(p, ref);
    }

    [[nodiscard]] Status DeploySequence(const Package& p, const project::Sequence& seq) {
        const std::string name = InPackage(p, seq.name);
        PutBody body;
        body.SetName(Q(name));
        auto& alloc = body.alloc();
        Value exec(rapidjson::kObjectType);
        exec.AddMember("kind", "sequence", alloc);
        Value components(rapidjson::kArrayType);
        for (const auto& c : seq.actions) {
            components.PushBack(Value(Component(p, c).c_str(), alloc), alloc);
        }
        exec.AddMember("components", components, alloc);
        body.Add("exec", std::move(exec));
        if (auto e = body.AddAnnotations(Texts(seq.annotations))) return e;
        if (seq.web) {
            if (auto e = ApplyWebFlag(*seq.web, body.annotations(), alloc)) return e;
        }
        if (auto e = AddManaged(body)) return e;
        return Put("sequence", name, Collection(Q(name), "actions"), body.Finish());
    }

    [[nodiscard]] Status DeployTrigger(const project::Trigger& t) {
        const QualifiedName q = Q(t.name);
        const std::string path = Collection(q, "triggers");
        PutBody body;
        body.SetName(q, false);
        std::vector<std::string> annotations = Texts(t.annotations);
        std::string feed;
        if (!t.feed.empty()) {
            feed = FullyQualified(t.feed);
            annotations.push_back(KeyValueJson("feed", QuoteJson(feed)));
            // An existing feed trigger first stops its feed (the CREATE below starts it again).
            auto existing = s_.client->Do("GET", path, std::nullopt);
            if (existing.ok()) {
                if (const std::string old = FeedOf(existing->json); !old.empty()) {
                    (void)ConfigureFeed(s_, old, WithLifecycle({}, "DELETE", q, s_),
                                        FeedOutput::kQuiet);
                }
            }
        }
        if (const std::string managed = ManagedJson(); !managed.empty()) {
            annotations.push_back(Pair("whisk-managed", managed));
        }
        if (auto e = body.AddAnnotations(annotations)) return e;
        if (feed.empty()) {
            if (auto e = body.AddParameters(Texts(t.inputs))) return e;
        }
        if (auto e = Put("trigger", t.name, path, body.Finish())) return e;
        if (feed.empty()) return std::nullopt;
        Info("Invoking the feed [" + feed + "] of trigger [" + t.name + "] ...");
        if (auto e = ConfigureFeed(s_, feed, WithLifecycle(Texts(t.inputs), "CREATE", q, s_),
                                   FeedOutput::kQuiet)) {
            (void)s_.client->Do("DELETE", path, std::nullopt);
            return e->Wrap("Unable to deploy trigger [" + t.name + "]");
        }
        return std::nullopt;
    }

    [[nodiscard]] Status DeployRule(const Package& p, const project::Rule& rule) {
        const QualifiedName q = Q(rule.name);
        PutBody body;
        body.SetName(q, false);
        auto& alloc = body.alloc();
        body.Add("trigger", Value(FullyQualified(rule.trigger).c_str(), alloc));
        body.Add("action", Value(Component(p, rule.action).c_str(), alloc));
        if (auto e = body.AddAnnotations(AnnotationTexts(rule.annotations))) return e;
        if (auto e = Put("rule", rule.name, Collection(q, "rules"), body.Finish())) return e;
        auto r = s_.client->Do("POST", Collection(q, "rules"),
                               R"({"status":"active","trigger":null,"action":null})");
        if (!r.ok()) return r.error().Wrap("Unable to activate rule [" + rule.name + "]");
        return std::nullopt;
    }

    /// One createApi per endpoint; nullopt, the error, or kApisUnavailable (the platform
    /// answered 404: no route management).
    [[nodiscard]] Status DeployApi(const Package& p, const project::Api& api) {
        auto base = ApiBaseUrl(s_.config.apihost);
        if (!base.ok()) return base.error();
        const std::string pkg = p.IsDefault() ? "default" : p.name;
        rapidjson::Document d(rapidjson::kObjectType);
        auto& a = d.GetAllocator();
        Value doc(rapidjson::kObjectType);
        auto str = [&](const std::string& v) { return Value(v.c_str(), a); };
        doc.AddMember("namespace", "_", a);
        doc.AddMember("gatewayBasePath", str(api.base_path), a);
        doc.AddMember("gatewayPath", str(api.rel_path), a);
        doc.AddMember("gatewayMethod", str(api.method), a);
        doc.AddMember("id", str("API:_:" + api.rel_path), a);
        doc.AddMember("apiName", str(api.api_name), a);
        if (const auto names = PathParameterNames(api.rel_path); !names.empty()) {
            doc.AddMember("pathParameters", PathParametersJson(names, a), a);
        }
        Value action(rapidjson::kObjectType);
        action.AddMember("name", str(InPackage(p, api.action)), a);
        action.AddMember("namespace", "_", a);
        action.AddMember("backendMethod", str(api.method), a);
        action.AddMember("backendUrl", str(*base + "/v1/web/_/" + pkg + "/" + api.action + ".http"),
                         a);
        action.AddMember("authkey", str(s_.config.auth), a);
        if (const std::string key = SecureKeyOf(p, api.action); !key.empty()) {
            action.AddMember("secureKey", str(key), a);
        }
        doc.AddMember("action", action, a);
        d.AddMember("apidoc", doc, a);
        const std::string guid = s_.config.auth.substr(0, s_.config.auth.find(':'));
        std::string query =
            "?responsetype=" + EscapeQuery(api.response.empty() ? "json" : api.response) +
            "&spaceguid=" + EscapeQuery(guid) + "&accesstoken=DUMMY%20TOKEN";
        const std::string shown = api.base_path + api.rel_path + " " + api.method;
        Info("Deploying api [" + shown + "] ...");
        auto r = s_.client->Do("POST", "web/whisk.system/apimgmt/createApi.http" + query,
                               CompactJson(d));
        if (!r.ok()) {
            if (s_.client->last_response().status == 404) {
                return WskError::General(kApisUnavailable);
            }
            return r.error().Wrap("Unable to deploy api [" + shown + "]");
        }
        Info("api [" + shown + "] has been successfully deployed.");
        return std::nullopt;
    }

    std::string SecureKeyOf(const Package& p, const std::string& action) const {
        for (const auto& act : p.actions) {
            if (act.name != action) continue;
            for (const auto& kv : act.annotations) {
                if (kv.key != "require-whisk-auth") continue;
                rapidjson::Document d;
                (void)ParseJsonText(kv.json, d);
                if (d.IsString()) return d.GetString();
                if (d.IsInt64()) return std::to_string(d.GetInt64());
            }
        }
        return "";
    }

    [[nodiscard]] Status Deploy() {
        for (const auto& w : m_.warnings) Warn(w);
        for (const auto& p : m_.packages) {
            if (auto e = DeployPackage(p)) return e;
        }
        for (const auto& p : m_.packages) {
            for (const auto& a : p.actions) {
                if (auto e = DeployAction(p, a)) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& seq : p.sequences) {
                if (auto e = DeploySequence(p, seq)) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& t : p.triggers) {
                if (auto e = DeployTrigger(t)) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& rule : p.rules) {
                if (auto e = DeployRule(p, rule)) return e;
            }
        }
        Status apis_unavailable;
        for (const auto& p : m_.packages) {
            for (const auto& api : p.apis) {
                if (auto e = DeployApi(p, api)) {
                    if (e->message != kApisUnavailable) return e;
                    apis_unavailable = e;
                    break;
                }
            }
            if (apis_unavailable) break;
        }
        if (!m_.project_name.empty()) {
            if (auto e = Refresh()) return e;
        }
        return apis_unavailable;
    }

    // ---- what the server holds for the project -----------------------------------------------

    /// GET of a whole collection (pages of 200).
    [[nodiscard]] Status ListAll(const std::string& collection, rapidjson::Document& out) {
        out.SetArray();
        for (int skip = 0;; skip += 200) {
            auto r = s_.client->Do("GET", "namespaces/_/" + collection + ListQuery(200, skip),
                                   std::nullopt);
            if (!r.ok()) return r.error().Wrap("Unable to list the " + collection);
            if (!r->json.IsArray()) break;
            const size_t n = r->json.Size();
            for (auto& e : r->json.GetArray())
                out.PushBack(Value(e, out.GetAllocator()), out.GetAllocator());
            if (n < 200) break;
        }
        return std::nullopt;
    }

    /// The entities of project `name` on the server, in delete order: rules, triggers, actions,
    /// packages.
    [[nodiscard]] Result<std::vector<Found>> Collect(const std::string& name) {
        std::vector<Found> rules, triggers, actions, packages;
        std::set<std::string> seen_actions;
        rapidjson::Document list;
        if (auto e = ListAll("rules", list)) return *e;
        for (const auto& e : list.GetArray()) {
            auto [project, hash] = ManagedOf(e);
            if (project == name) rules.push_back({"rule", Member(e, "name"), hash, ""});
        }
        if (auto e = ListAll("triggers", list)) return *e;
        for (const auto& e : list.GetArray()) {
            auto [project, hash] = ManagedOf(e);
            if (project != name) continue;
            Found f{"trigger", Member(e, "name"), hash, ""};
            if (e.HasMember("annotations")) {
                const Value* feed = FindKeyValue(e["annotations"], "feed");
                if (feed != nullptr && feed->IsString()) f.feed = feed->GetString();
            }
            triggers.push_back(f);
        }
        auto add_action = [&](const std::string& full, const std::string& hash) {
            if (seen_actions.insert(full).second) actions.push_back({"action", full, hash, ""});
        };
        if (auto e = ListAll("actions", list)) return *e;
        for (const auto& e : list.GetArray()) {
            auto [project, hash] = ManagedOf(e);
            if (project != name) continue;
            const std::string ns = Member(e, "namespace");
            const auto slash = ns.find('/');
            const std::string full = slash == std::string::npos
                                         ? Member(e, "name")
                                         : ns.substr(slash + 1) + "/" + Member(e, "name");
            add_action(full, hash);
        }
        if (auto e = ListAll("packages", list)) return *e;
        for (const auto& e : list.GetArray()) {
            auto [project, hash] = ManagedOf(e);
            if (project != name) continue;
            if (e.HasMember("binding") && e["binding"].IsObject()) continue;
            const std::string pkg = Member(e, "name");
            packages.push_back({"package", pkg, hash, ""});
            auto g = s_.client->Do("GET", Collection(Q(pkg), "packages"), std::nullopt);
            if (!g.ok()) return g.error().Wrap("Unable to get package [" + pkg + "]");
            if (g->json.IsObject() && g->json.HasMember("actions") &&
                g->json["actions"].IsArray()) {
                for (const auto& a : g->json["actions"].GetArray()) {
                    auto [ap, ah] = ManagedOf(a);
                    if (ap == name) add_action(pkg + "/" + Member(a, "name"), ah);
                }
            }
        }
        std::vector<Found> out;
        for (auto* group : {&rules, &triggers, &actions, &packages}) {
            out.insert(out.end(), group->begin(), group->end());
        }
        return out;
    }

    [[nodiscard]] Status Delete(const Found& f) {
        const QualifiedName q = Q(f.name);
        if (f.kind == "trigger" && !f.feed.empty()) {
            (void)ConfigureFeed(s_, f.feed, WithLifecycle({}, "DELETE", q, s_), FeedOutput::kQuiet);
        }
        const char* collection = f.kind == "rule"      ? "rules"
                                 : f.kind == "trigger" ? "triggers"
                                 : f.kind == "package" ? "packages"
                                                       : "actions";
        auto r = s_.client->Do("DELETE", Collection(q, collection), std::nullopt);
        if (!r.ok() && s_.client->last_response().status != 404) {
            return r.error().Wrap("Unable to undeploy " + f.kind + " [" + f.name + "]");
        }
        return std::nullopt;
    }

    /// After a deploy: the project's entities whose hash is not this manifest's were removed
    /// from the manifest; they go.
    [[nodiscard]] Status Refresh() {
        auto found = Collect(m_.project_name);
        if (!found.ok()) return found.error();
        for (const Found& f : *found) {
            if (f.hash == m_.hash) continue;
            *s_.out << "Deleting " << f.kind << " [" << f.name
                    << "] which was removed from the current managed project [" << m_.project_name
                    << "] as part of undeployment.\n"
                    << std::flush;
            if (auto e = Delete(f)) return e;
        }
        return std::nullopt;
    }

    // ---- undeploy ------------------------------------------------------------------------------

    [[nodiscard]] Status UndeployByName(const std::string& name) {
        auto found = Collect(name);
        if (!found.ok()) return found.error();
        for (const Found& f : *found) {
            Info("Undeploying " + f.kind + " [" + f.name + "] ...");
            if (auto e = Delete(f)) return e;
            Info(f.kind + " [" + f.name + "] has been successfully undeployed.");
        }
        return std::nullopt;
    }

    /// Deletes one manifest entity if a GET finds it (and, with a project name, it is this
    /// project's).
    [[nodiscard]] Status UndeployOne(const std::string& kind, const std::string& name,
                                     const char* collection) {
        const QualifiedName q = Q(name);
        auto g = s_.client->Do("GET", Collection(q, collection), std::nullopt);
        if (!g.ok()) {
            if (s_.client->last_response().status == 404) {
                Info(kind + " [" + name + "] does not exist; skipped.");
                return std::nullopt;
            }
            return g.error().Wrap("Unable to get " + kind + " [" + name + "]");
        }
        if (!m_.project_name.empty() && ManagedOf(g->json).first != m_.project_name) {
            *s_.out << "Warning: " << kind << " [" << name << "] is not managed by project ["
                    << m_.project_name << "]; it is left alone.\n"
                    << std::flush;
            return std::nullopt;
        }
        Info("Undeploying " + kind + " [" + name + "] ...");
        Found f{kind == "sequence" ? "action" : kind, name, "", FeedOf(g->json)};
        if (auto e = Delete(f)) return e;
        Info(kind + " [" + name + "] has been successfully undeployed.");
        return std::nullopt;
    }

    [[nodiscard]] Status UndeployApis() {
        for (const auto& p : m_.packages) {
            for (const auto& api : p.apis) {
                const std::string guid = s_.config.auth.substr(0, s_.config.auth.find(':'));
                const std::string query = "?basepath=" + EscapeQuery(api.base_path) +
                                          "&relpath=" + EscapeQuery(api.rel_path) +
                                          "&operation=" + EscapeQuery(api.method) +
                                          "&spaceguid=" + EscapeQuery(guid) +
                                          "&accesstoken=DUMMY%20TOKEN";
                auto r = s_.client->Do("DELETE", "web/whisk.system/apimgmt/deleteApi.http" + query,
                                       std::nullopt);
                if (!r.ok()) {
                    if (s_.client->last_response().status == 404) return std::nullopt;
                    Info("api [" + api.base_path + api.rel_path + " " + api.method +
                         "] was not deleted: " + r.error().message);
                }
            }
        }
        return std::nullopt;
    }

    [[nodiscard]] Status UndeployManifest() {
        if (auto e = UndeployApis()) return e;
        for (const auto& p : m_.packages) {
            for (const auto& rule : p.rules) {
                if (auto e = UndeployOne("rule", rule.name, "rules")) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& t : p.triggers) {
                if (auto e = UndeployOne("trigger", t.name, "triggers")) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& seq : p.sequences) {
                if (auto e = UndeployOne("sequence", InPackage(p, seq.name), "actions")) return e;
            }
        }
        for (const auto& p : m_.packages) {
            for (const auto& a : p.actions) {
                if (auto e = UndeployOne("action", InPackage(p, a.name), "actions")) return e;
            }
        }
        for (const auto& p : m_.packages) {
            if (p.IsDefault()) continue;
            if (auto e = UndeployOne("package", p.name, "packages")) return e;
        }
        return std::nullopt;
    }

  private:
    Session& s_;
    Manifest& m_;
    bool verbose_;
    bool runtimes_loaded_ = false;
    std::set<std::string> kinds_;  // empty: the platform did not list its runtimes
};

/// Reads and parses the manifest (and the deployment file) named by the flags.
[[nodiscard]] Result<Manifest> Load(const ProjectFlags& f,
                                    const std::function<const char*(const char*)>& getenv) {
    std::string manifest = f.manifest;
    if (manifest.empty()) {
        manifest = FindDefault(f.project_dir, {"manifest.yaml", "manifest.yml"});
        if (manifest.empty()) {
            return WskError::General("Manifest file not found at path [" +
                                     (std::filesystem::path(f.project_dir) / "manifest.yaml")
                                         .lexically_normal()
                                         .string() +
                                     "].");
        }
    }
    bool ok = false;
    const std::string text = ReadText(manifest, ok);
    std::error_code ec;
    if (!ok || !std::filesystem::is_regular_file(manifest, ec)) {
        return WskError::General("Manifest file not found at path [" + manifest + "].");
    }
    const std::string dir = std::filesystem::path(manifest).parent_path().string();
    auto m = project::ParseManifest(text, manifest, dir.empty() ? "." : dir, getenv);
    if (!m.ok()) return m;
    std::string deployment = f.deployment;
    if (deployment.empty()) {
        deployment = FindDefault(f.project_dir, {"deployment.yaml", "deployment.yml"});
    }
    if (!deployment.empty()) {
        const std::string dtext = ReadText(deployment, ok);
        if (!ok || !std::filesystem::is_regular_file(deployment, ec)) {
            return WskError::General("Deployment file not found at path [" + deployment + "].");
        }
        if (auto e = project::ApplyDeployment(*m, dtext, deployment, getenv)) return *e;
    }
    if (!f.project_name.empty()) {
        if (!m->project_name.empty() && m->project_name != f.project_name) {
            return WskError::General("The project name [" + f.project_name +
                                     "] differs from the manifest's [" + m->project_name + "].");
        }
        m->project_name = f.project_name;
    }
    return m;
}

const char* Getenv(const char* name) { return std::getenv(name); }

}  // namespace

Status ProjectDeploy(Session& s, const ProjectFlags& f) {
    auto m = Load(f, Getenv);
    if (!m.ok()) return m.error();
    Deployer d(s, *m, f.verbose);
    if (auto e = d.Deploy()) {
        *s.err << kDeployFailed << std::flush;
        WskError err = *e;
        err.display_msg = true;
        err.display_usage = false;
        err.exit_code = kExitGeneral;
        return err;
    }
    Print(s, "Success: Deployment completed successfully.\n");
    return std::nullopt;
}

Status ProjectUndeploy(Session& s, const ProjectFlags& f) {
    Manifest by_name;
    Result<Manifest> m = by_name;
    if (f.project_name.empty() || !f.manifest.empty()) {
        m = Load(f, Getenv);
        if (!m.ok()) return m.error();
    } else {
        m->project_name = f.project_name;
    }
    Deployer d(s, *m, f.verbose);
    Status e = (f.project_name.empty() || !f.manifest.empty()) ? d.UndeployManifest()
                                                               : d.UndeployByName(f.project_name);
    if (e) {
        *s.err << kUndeployFailed << std::flush;
        WskError err = *e;
        err.display_msg = true;
        err.display_usage = false;
        err.exit_code = kExitGeneral;
        return err;
    }
    Print(s, "Success: Undeployment completed successfully.\n");
    return std::nullopt;
}

}  // namespace wsk
