// The manifest and deployment parsers (see manifest.hpp). yaml-cpp reads the text; this file
// walks the tree with the field path at hand, so every error can say file:line: path: what.
#include "manifest.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <regex>
#include <set>

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "entity_args.hpp"
#include "json_out.hpp"

namespace wsk::project {
namespace {

using rapidjson::Value;
using Alloc = rapidjson::Document::AllocatorType;

/// Thrown inside this file only; ParseManifest/ApplyDeployment turn it into a WskError.
struct Failure {
    std::string message;
};

std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string Trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::string Join(std::initializer_list<const char*> words) {
    std::string out;
    for (const char* w : words) out += (out.empty() ? "" : ", ") + std::string(w);
    return out;
}

std::string Child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

class Reader {
  public:
    Reader(std::string file, Getenv getenv) : file_(std::move(file)), getenv_(std::move(getenv)) {}

    [[noreturn]] void Fail(const YAML::Node& at, const std::string& path,
                           const std::string& what) const {
        FailAt(Line(at), path, what);
    }
    [[noreturn]] void FailAt(int line, const std::string& path, const std::string& what) const {
        std::string msg = file_;
        if (line > 0) msg += ":" + std::to_string(line);
        msg += ": ";
        if (!path.empty()) msg += path + ": ";
        throw Failure{msg + what};
    }

    static int Line(const YAML::Node& n) {
        const YAML::Mark m = n.Mark();
        return m.line >= 0 ? m.line + 1 : 0;
    }

    /// The entries of a mapping (a null node is an empty mapping), keys checked against
    /// `allowed` (empty = any key) and for duplicates.
    std::vector<std::pair<YAML::Node, YAML::Node>> Entries(
        const YAML::Node& node, const std::string& path,
        std::initializer_list<const char*> allowed = {}) const {
        std::vector<std::pair<YAML::Node, YAML::Node>> out;
        if (!node.IsDefined() || node.IsNull()) return out;
        if (!node.IsMap()) Fail(node, path, "must be a mapping");
        std::set<std::string> seen;
        for (YAML::const_iterator it = node.begin(); it != node.end(); ++it) {
            const YAML::detail::iterator_value entry = *it;
            YAML::Node key = entry.first;
            YAML::Node value = entry.second;
            if (!key.IsScalar()) Fail(key, path, "keys must be plain names");
            const std::string k = key.Scalar();
            if (allowed.size() > 0 && std::none_of(allowed.begin(), allowed.end(),
                                                   [&](const char* a) { return k == a; })) {
                Fail(key, Child(path, k), "unknown field (expected one of: " + Join(allowed) + ")");
            }
            if (!seen.insert(k).second) Fail(key, Child(path, k), "duplicate key");
            out.emplace_back(key, value);
        }
        return out;
    }

    std::string String(const YAML::Node& n, const std::string& path, bool interpolate) const {
        if (!n.IsScalar()) Fail(n, path, "must be a string");
        return interpolate ? InterpolateEnv(n.Scalar(), getenv_) : n.Scalar();
    }

    /// A name key (package, sequence, trigger, rule names are interpolated; action names not).
    std::string Name(const YAML::Node& key, const std::string& path, bool interpolate) const {
        std::string name = String(key, path, interpolate);
        if (name.empty()) Fail(key, path, "the name is empty after $ENV interpolation");
        return name;
    }

    int64_t Integer(const YAML::Node& n, const std::string& path) const {
        static const std::regex kInt("[-+]?[0-9]+");
        if (!n.IsScalar() || n.Tag() == "!" || !std::regex_match(n.Scalar(), kInt)) {
            Fail(n, path, "must be an integer");
        }
        try {
            return std::stoll(n.Scalar());
        } catch (...) {
            Fail(n, path, "must be an integer");
        }
    }

    static std::optional<bool> BoolText(const std::string& s) {
        static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "Yes",
                                                    "YES",  "on",   "On",   "ON"};
        static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "No",
                                                     "NO",    "off",   "Off",   "OFF"};
        if (kTrue.count(s)) return true;
        if (kFalse.count(s)) return false;
        return std::nullopt;
    }

    bool Bool(const YAML::Node& n, const std::string& path) const {
        std::optional<bool> b;
        if (n.IsScalar() && n.Tag() != "!") b = BoolText(n.Scalar());
        if (!b) Fail(n, path, "must be true or false");
        return *b;
    }

    /// "true" / "raw" / "false" for web and web-export.
    std::string Web(const YAML::Node& n, const std::string& path) const {
        if (n.IsScalar()) {
            const std::string v = Lower(n.Scalar());
            if (v == "true" || v == "yes") return "true";
            if (v == "raw") return "raw";
            if (v == "false" || v == "no") return "false";
        }
        Fail(n, path, "must be true, yes, raw, false or no");
    }

    /// A YAML value as JSON (plain scalars typed as YAML 1.1 does; strings interpolated).
    Value Json(const YAML::Node& n, const std::string& path, Alloc& a) const {
        if (!n.IsDefined() || n.IsNull()) return Value(rapidjson::kNullType);
        if (n.IsSequence()) {
            Value arr(rapidjson::kArrayType);
            size_t i = 0;
            for (const auto& item : n) {
                arr.PushBack(Json(item, path + "[" + std::to_string(i++) + "]", a), a);
            }
            return arr;
        }
        if (n.IsMap()) {
            Value obj(rapidjson::kObjectType);
            for (const auto& [k, v] : Entries(n, path)) {
                obj.AddMember(Value(k.Scalar().c_str(), a), Json(v, Child(path, k.Scalar()), a), a);
            }
            return obj;
        }
        const std::string& s = n.Scalar();
        if (n.Tag() != "!") {
            static const std::regex kInt("[-+]?[0-9]+");
            static const std::regex kFloat(
                "[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+");
            if (s == "~" || s == "null" || s == "Null" || s == "NULL") {
                return Value(rapidjson::kNullType);
            }
            if (auto b = BoolText(s)) return Value(*b);
            if (std::regex_match(s, kInt)) {
                try {
                    return Value(static_cast<int64_t>(std::stoll(s)));
                } catch (...) {
                }
            }
            if (std::regex_match(s, kFloat)) return Value(std::stod(s));
        }
        const std::string v = InterpolateEnv(s, getenv_);
        return Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), a);
    }

    /// Parameters: `name: value` or `name: {type, value, default, description, required}`.
    KeyValues Params(const YAML::Node& node, const std::string& path) const {
        KeyValues out;
        for (const auto& [k, v] : Entries(node, path)) {
            const std::string name = k.Scalar();
            const std::string p = Child(path, name);
            rapidjson::Document d;
            Value value = IsMultiline(v) ? Multiline(v, p, d.GetAllocator())
                                         : SingleLine(v, p, d.GetAllocator());
            out.push_back({name, CompactJson(value), {Line(k), p}});
        }
        return out;
    }

    /// Annotations: any value (strings interpolated).
    KeyValues Annotations(const YAML::Node& node, const std::string& path) const {
        KeyValues out;
        for (const auto& [k, v] : Entries(node, path)) {
            const std::string p = Child(path, k.Scalar());
            rapidjson::Document d;
            Value value = Json(v, p, d.GetAllocator());
            if (k.Scalar() == "require-whisk-auth") {
                const bool ok = (value.IsString() && value.GetStringLength() > 0) ||
                                value.IsBool() ||
                                (value.IsInt64() && value.GetInt64() > 0 &&
                                 value.GetInt64() < (int64_t{1} << 53));
                if (!ok) {
                    Fail(v, p,
                         "must be a non-empty string, an integer between 1 and 2^53-1 or "
                         "a boolean");
                }
            }
            out.push_back({k.Scalar(), CompactJson(value), {Line(k), p}});
        }
        return out;
    }

  private:
    static bool IsMultiline(const YAML::Node& v) {
        if (!v.IsMap()) return false;
        for (const char* key : {"type", "value", "default", "description", "required"}) {
            if (v[key].IsDefined()) return true;
        }
        return false;
    }

    Value ZeroOf(const std::string& type, Alloc& a) const {
        if (type == "string") return Value("", a);
        if (type == "integer") return Value(0);
        if (type == "float") return Value(0.0);
        if (type == "boolean") return Value(false);
        return Value(rapidjson::kObjectType);  // json
    }

    Value SingleLine(const YAML::Node& v, const std::string& path, Alloc& a) const {
        if (v.IsScalar() && v.Tag() != "!") {
            const std::string& s = v.Scalar();
            if (s == "string" || s == "integer" || s == "float" || s == "boolean" || s == "json") {
                return ZeroOf(s, a);
            }
        }
        return Json(v, path, a);
    }

    Value Typed(const YAML::Node& v, const std::string& type, const std::string& path,
                Alloc& a) const {
        if (type == "string") {
            if (!v.IsScalar()) Fail(v, path, "must be a string");
            const std::string s = InterpolateEnv(v.Scalar(), getenv_);
            return Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
        }
        if (type == "integer") {
            if (v.IsScalar() && v.Tag() != "!" && v.Scalar().rfind('$', 0) == 0) {
                const std::string s = Trim(InterpolateEnv(v.Scalar(), getenv_));
                try {
                    size_t used = 0;
                    const long long n = std::stoll(s, &used);
                    if (used == s.size()) return Value(static_cast<int64_t>(n));
                } catch (...) {
                }
                Fail(v, path, "must be an integer ($ENV gave '" + s + "')");
            }
            return Value(Integer(v, path));
        }
        if (type == "float") {
            Value j = Json(v, path, a);
            if (!j.IsNumber()) Fail(v, path, "must be a number");
            return Value(j.GetDouble());
        }
        if (type == "boolean") return Value(Bool(v, path));
        // json: a mapping (or sequence), or a string holding JSON.
        if (v.IsMap() || v.IsSequence()) return Json(v, path, a);
        if (v.IsScalar()) {
            rapidjson::Document d;
            const std::string text = InterpolateEnv(v.Scalar(), getenv_);
            if (!ParseJsonText(text, d).empty()) Fail(v, path, "must be a JSON value");
            return Value(d, a);
        }
        Fail(v, path, "must be a JSON value");
    }

    Value Multiline(const YAML::Node& v, const std::string& path, Alloc& a) const {
        (void)Entries(v, path, {"type", "value", "default", "description", "required"});
        std::string type;
        if (v["type"].IsDefined()) {
            type = String(v["type"], Child(path, "type"), false);
            if (type != "string" && type != "integer" && type != "float" && type != "boolean" &&
                type != "json") {
                Fail(v["type"], Child(path, "type"),
                     "must be one of string, integer, float, boolean, json");
            }
        }
        const bool required =
            v["required"].IsDefined() && Bool(v["required"], Child(path, "required"));
        const YAML::Node value = v["value"];
        const YAML::Node fallback = v["default"];
        const bool value_empty =
            !value.IsDefined() || value.IsNull() ||
            (value.IsScalar() && InterpolateEnv(value.Scalar(), getenv_).empty());
        const bool use_default = value_empty && fallback.IsDefined() && !fallback.IsNull();
        const YAML::Node& given = use_default ? fallback : value;
        const std::string field = Child(path, use_default ? "default" : "value");
        Value out;
        if (!given.IsDefined() || given.IsNull()) {
            out = type.empty() ? Value("", a) : ZeroOf(type, a);
        } else if (type.empty()) {
            out = Json(given, field, a);
        } else {
            out = Typed(given, type, field, a);
        }
        const bool zero = out.IsNull() || (out.IsString() && out.GetStringLength() == 0) ||
                          (out.IsObject() && out.MemberCount() == 0);
        if (required && zero) {
            Fail(v, path,
                 "a required input has no value, even after applying interpolation using env. "
                 "variables");
        }
        return out;
    }

    std::string file_;
    Getenv getenv_;
};

YAML::Node Load(std::string_view text, const std::string& file) {
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        std::string msg = file;
        if (e.mark.line >= 0) msg += ":" + std::to_string(e.mark.line + 1);
        throw Failure{msg + ": not valid YAML: " + e.msg};
    }
}

std::string KindFromRuntime(const std::string& runtime) {
    return runtime.find(':') == std::string::npos ? runtime + ":default" : runtime;
}

class ManifestParser {
  public:
    ManifestParser(const Reader& r, std::string dir, Getenv getenv)
        : r_(r), dir_(std::move(dir)), getenv_(std::move(getenv)) {}

    void Root(const YAML::Node& root, Manifest& m) {
        if (root.IsNull() || !root.IsDefined()) r_.FailAt(1, "", "the manifest is empty");
        const auto entries = r_.Entries(root, "", {"project", "packages"});
        std::optional<YAML::Node> packages;
        std::string packages_path;
        for (const auto& [k, v] : entries) {
            if (k.Scalar() == "packages" && v.IsDefined() && !v.IsNull() && v.size() > 0) {
                packages.emplace(v);
                packages_path = "packages";
            }
        }
        const YAML::Node project = root["project"];
        if (project.IsDefined() && !project.IsNull()) {
            for (const auto& [k, v] :
                 r_.Entries(project, "project",
                            {"name", "namespace", "credential", "apiHost", "apigwAccessToken",
                             "version", "inputs", "config", "packages"})) {
                const std::string key = k.Scalar();
                if (key == "name") m.project_name = r_.String(v, "project.name", true);
                if (key == "config") {
                    r_.Fail(k, "project.config",
                            "swagger files are not supported yet; use packages.<p>.apis");
                }
                if (key == "inputs") (void)r_.Params(v, "project.inputs");
                if (key == "packages" && !packages) {
                    packages.emplace(v);
                    packages_path = "project.packages";
                }
            }
        }
        if (!packages) r_.Fail(root, "packages", "the manifest defines no packages");
        for (const auto& [k, v] : r_.Entries(*packages, packages_path)) {
            m.packages.push_back(Pkg(k, v, Child(packages_path, k.Scalar()), m));
        }
        if (m.packages.empty()) r_.Fail(root, "packages", "the manifest defines no packages");
    }

  private:
    Package Pkg(const YAML::Node& key, const YAML::Node& node, const std::string& path,
                Manifest& m) {
        Package p;
        p.name = r_.Name(key, path, true);
        p.where = {Reader::Line(key), path};
        bool version_set = false, license_set = false;
        const auto entries =
            r_.Entries(node, path,
                       {"version", "license", "public", "inputs", "annotations", "actions",
                        "sequences", "triggers", "rules", "apis", "dependencies", "namespace",
                        "credential", "apiHost", "apigwAccessToken", "description"});
        // The inputs first: "$NAME" names of triggers, sequences and rules may refer to them.
        for (const auto& [k, v] : entries) {
            if (k.Scalar() == "inputs") p.inputs = PackageInputs(v, Child(path, "inputs"));
        }
        inputs_ = &p.inputs;
        for (const auto& [k, v] : entries) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            if (f == "inputs") continue;
            if (f == "version") {
                p.version = r_.String(v, fp, true);
                version_set = true;
            } else if (f == "license") {
                p.license = r_.String(v, fp, true);
                license_set = true;
            } else if (f == "public") {
                p.is_public = r_.Bool(v, fp);
            } else if (f == "annotations") {
                p.annotations = r_.Annotations(v, fp);
            } else if (f == "actions") {
                for (const auto& [ak, av] : r_.Entries(v, fp)) {
                    p.actions.push_back(ActionOf(ak, av, Child(fp, ak.Scalar())));
                }
            } else if (f == "sequences") {
                for (const auto& [sk, sv] : r_.Entries(v, fp)) {
                    p.sequences.push_back(SequenceOf(sk, sv, Child(fp, sk.Scalar())));
                }
            } else if (f == "triggers") {
                for (const auto& [tk, tv] : r_.Entries(v, fp)) {
                    p.triggers.push_back(TriggerOf(tk, tv, Child(fp, tk.Scalar())));
                }
            } else if (f == "rules") {
                for (const auto& [rk, rv] : r_.Entries(v, fp)) {
                    p.rules.push_back(RuleOf(rk, rv, Child(fp, rk.Scalar())));
                }
            } else if (f == "apis") {
                Apis(v, fp, p.apis);
            } else if (f == "dependencies") {
                if (v.IsDefined() && !v.IsNull() && v.size() > 0) {
                    r_.Fail(k, fp, "dependencies are not supported yet");
                }
            } else if (f == "description") {
                (void)r_.String(v, fp, false);
            }
        }
        if (!version_set && !p.IsDefault()) {
            m.warnings.push_back("Package [" + p.name + "]: version not specified, using 0.0.1.");
        }
        if (!license_set && !p.IsDefault()) {
            m.warnings.push_back("Package [" + p.name +
                                 "]: license not specified, using unlicensed.");
        }
        CheckNames(p);
        for (Api& api : p.apis) {
            bool found = false;
            for (Action& a : p.actions) {
                if (a.name != api.action) continue;
                found = true;
                if (a.web != "true" && a.web != "raw") {
                    m.warnings.push_back("API [" + api.api_name + "]: action [" + a.name +
                                         "] is not a web action; it is made one.");
                    a.web = "true";
                }
            }
            for (Sequence& s : p.sequences) {
                if (s.name != api.action) continue;
                found = true;
                if (s.web != "true" && s.web != "raw") {
                    m.warnings.push_back("API [" + api.api_name + "]: sequence [" + s.name +
                                         "] is not a web action; it is made one.");
                    s.web = "true";
                }
            }
            if (!found) {
                r_.FailAt(api.where.line, api.where.path,
                          "Action/Sequence [" + api.action +
                              "] is missing from manifest file, "
                              "API [" +
                              api.api_name +
                              "] can only be created based on the "
                              "action/sequence from manifest file.");
            }
        }
        return p;
    }

    /// Package inputs; an input whose value is "" takes the environment variable of its name.
    KeyValues PackageInputs(const YAML::Node& node, const std::string& path) const {
        KeyValues inputs = r_.Params(node, path);
        for (KeyValue& kv : inputs) {
            const char* env = getenv_ ? getenv_(kv.key.c_str()) : nullptr;
            if (kv.json == "\"\"" && env != nullptr) kv.json = QuoteJson(env);
        }
        return inputs;
    }

    /// A trigger/rule reference or name: "$NAME" naming a package input (with a string value)
    /// takes that value; else $ENV interpolation.
    std::string Reference(const YAML::Node& n, const std::string& path) const {
        const std::string raw = r_.String(n, path, false);
        if (inputs_ != nullptr && raw.size() > 1 && raw[0] == '$') {
            for (const KeyValue& kv : *inputs_) {
                if (kv.key != raw.substr(1)) continue;
                rapidjson::Document d;
                if (ParseJsonText(kv.json, d).empty() && d.IsString() && d.GetStringLength() > 0) {
                    return d.GetString();
                }
            }
        }
        return InterpolateEnv(raw, getenv_);
    }

    std::string NameOf(const YAML::Node& key, const std::string& path) const {
        const std::string name = Reference(key, path);
        if (name.empty()) r_.Fail(key, path, "the name is empty after $ENV interpolation");
        return name;
    }

    void CheckNames(const Package& p) const {
        std::set<std::string> names;
        for (const auto& a : p.actions) {
            if (!names.insert(a.name).second) {
                r_.FailAt(a.where.line, a.where.path, "the name is used twice in the package");
            }
        }
        for (const auto& s : p.sequences) {
            if (!names.insert(s.name).second) {
                r_.FailAt(s.where.line, s.where.path,
                          "the name is used by an action of the package");
            }
        }
    }

    Action ActionOf(const YAML::Node& key, const YAML::Node& node, const std::string& path) {
        Action a;
        a.name = r_.Name(key, path, false);
        a.where = {Reader::Line(key), path};
        std::optional<std::string> web, web_export;
        std::optional<YAML::Node> function_node;
        for (const auto& [k, v] : r_.Entries(
                 node, path, {"function",  "location",   "code",    "runtime",    "main",
                              "docker",    "native",     "web",     "web-export", "annotations",
                              "limits",    "inputs",     "outputs", "conductor",  "version",
                              "namespace", "credential", "include", "exclude",    "description"})) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            if (f == "function" || f == "location") {
                if (function_node) r_.Fail(k, fp, "function is given twice");
                function_node.emplace(v);
                a.function = r_.String(v, fp, true);
                if (a.function.empty()) r_.Fail(v, fp, "must name a file");
            } else if (f == "code") {
                a.code = r_.String(v, fp, false);
            } else if (f == "runtime") {
                a.runtime = r_.String(v, fp, false);
            } else if (f == "main") {
                a.main = r_.String(v, fp, false);
            } else if (f == "docker") {
                a.docker = r_.String(v, fp, true);
            } else if (f == "native") {
                a.native = r_.Bool(v, fp);
            } else if (f == "web") {
                web = r_.Web(v, fp);
            } else if (f == "web-export") {
                web_export = r_.Web(v, fp);
            } else if (f == "annotations") {
                a.annotations = r_.Annotations(v, fp);
            } else if (f == "inputs") {
                a.inputs = r_.Params(v, fp);
            } else if (f == "outputs") {
                (void)r_.Params(v, fp);
            } else if (f == "conductor") {
                a.conductor = r_.Bool(v, fp);
            } else if (f == "limits") {
                Limits(v, fp, a);
            } else if (f == "version" || f == "description") {
                (void)r_.String(v, fp, true);
            }
        }
        a.web = web ? web : web_export;
        if (a.code && function_node) {
            r_.Fail(node["code"], Child(path, "code"), "code and function cannot both be given");
        }
        if (a.code && a.runtime.empty()) {
            r_.Fail(node["code"], Child(path, "runtime"), "code needs a runtime");
        }
        if (!a.code && !function_node && a.docker.empty() && !a.native) {
            r_.Fail(key, path, "an action needs function, code or docker");
        }
        if (function_node) {
            const std::string fp = Child(path, "function");
            if (a.function.rfind("http://", 0) == 0 || a.function.rfind("https://", 0) == 0) {
                r_.Fail(*function_node, fp, "functions at a URL are not supported yet");
            }
            std::filesystem::path file(a.function);
            if (file.is_relative()) file = std::filesystem::path(dir_) / file;
            std::error_code ec;
            if (std::filesystem::is_directory(file, ec)) {
                r_.Fail(*function_node, fp, "directories are not supported yet (give one file)");
            }
            if (!std::filesystem::is_regular_file(file, ec)) {
                r_.Fail(*function_node, fp,
                        "file '" + file.lexically_normal().string() + "' does not exist");
            }
            a.function = file.lexically_normal().string();
            if (a.runtime.empty() && a.docker.empty() && !a.native) {
                const std::string ext = FileExtension(a.function);
                auto kind = KindFromExtension(ext);
                if (!kind.ok() || IsBinaryArtifact(ext)) {
                    r_.Fail(*function_node, fp,
                            "runtime is missing and the extension '" + ext +
                                "' does not name one; add runtime: <kind>");
                }
            }
        }
        if (!a.runtime.empty()) a.runtime = KindFromRuntime(a.runtime);
        return a;
    }

    void Limits(const YAML::Node& node, const std::string& path, Action& a) const {
        for (const auto& [k, v] :
             r_.Entries(node, path,
                        {"timeout", "memorySize", "logSize", "concurrentActivations",
                         "userInvocationRate", "codeSize", "parameterSize"})) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            const int64_t n = r_.Integer(v, fp);
            if (n > INT32_MAX || n < INT32_MIN) r_.Fail(v, fp, "is out of range");
            if (f == "timeout" && n >= 100) a.timeout = static_cast<int>(n);
            if (f == "memorySize" && n >= 128) a.memory = static_cast<int>(n);
            if (f == "logSize" && n >= 0) a.logsize = static_cast<int>(n);
        }
    }

    Sequence SequenceOf(const YAML::Node& key, const YAML::Node& node, const std::string& path) {
        Sequence s;
        s.name = NameOf(key, path);
        s.where = {Reader::Line(key), path};
        std::optional<std::string> web, web_export;
        for (const auto& [k, v] :
             r_.Entries(node, path, {"actions", "web", "web-export", "annotations"})) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            if (f == "actions") {
                const std::string list = r_.String(v, fp, false);
                size_t start = 0;
                while (true) {
                    const size_t comma = list.find(',', start);
                    const std::string part = Trim(InterpolateEnv(
                        Trim(list.substr(
                            start, comma == std::string::npos ? std::string::npos : comma - start)),
                        getenv_));
                    if (part.empty()) r_.Fail(v, fp, "an empty action name in the list");
                    s.actions.push_back(part);
                    if (comma == std::string::npos) break;
                    start = comma + 1;
                }
            } else if (f == "web") {
                web = r_.Web(v, fp);
            } else if (f == "web-export") {
                web_export = r_.Web(v, fp);
            } else if (f == "annotations") {
                s.annotations = r_.Annotations(v, fp);
            }
        }
        s.web = web ? web : web_export;
        if (s.actions.empty()) r_.Fail(key, Child(path, "actions"), "a sequence needs actions");
        return s;
    }

    Trigger TriggerOf(const YAML::Node& key, const YAML::Node& node, const std::string& path) {
        Trigger t;
        t.name = NameOf(key, path);
        t.where = {Reader::Line(key), path};
        for (const auto& [k, v] :
             r_.Entries(node, path,
                        {"feed", "source", "inputs", "annotations", "namespace", "credential"})) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            if (f == "feed" || f == "source") {
                t.feed = r_.String(v, fp, true);
            } else if (f == "inputs") {
                t.inputs = r_.Params(v, fp);
            } else if (f == "annotations") {
                t.annotations = r_.Annotations(v, fp);
            }
        }
        return t;
    }

    Rule RuleOf(const YAML::Node& key, const YAML::Node& node, const std::string& path) {
        Rule rule;
        rule.name = NameOf(key, path);
        rule.where = {Reader::Line(key), path};
        for (const auto& [k, v] :
             r_.Entries(node, path, {"trigger", "source", "action", "function", "annotations"})) {
            const std::string f = k.Scalar();
            const std::string fp = Child(path, f);
            if (f == "trigger" || f == "source") {
                rule.trigger = Reference(v, fp);
            } else if (f == "action" || f == "function") {
                rule.action = Reference(v, fp);
            } else if (f == "annotations") {
                rule.annotations = r_.Annotations(v, fp);
            }
        }
        if (rule.trigger.empty()) r_.Fail(key, Child(path, "trigger"), "a rule needs a trigger");
        if (rule.action.empty()) r_.Fail(key, Child(path, "action"), "a rule needs an action");
        return rule;
    }

    void Apis(const YAML::Node& node, const std::string& path, std::vector<Api>& out) const {
        static const std::set<std::string> kMethods = {"GET",   "PUT",  "POST",   "DELETE",
                                                       "PATCH", "HEAD", "OPTIONS"};
        static const std::set<std::string> kResponses = {"json", "http", "html", "text", "svg"};
        for (const auto& [nk, nv] : r_.Entries(node, path)) {
            const std::string np = Child(path, nk.Scalar());
            for (const auto& [bk, bv] : r_.Entries(nv, np)) {
                const std::string bp = Child(np, bk.Scalar());
                std::string base = InterpolateEnv(bk.Scalar(), getenv_);
                if (!base.empty() && base[0] == '/') base.erase(0, 1);
                if (base.empty() || base.find('/') != std::string::npos ||
                    base.find('{') != std::string::npos || base.find('}') != std::string::npos) {
                    r_.Fail(bk, bp,
                            "API Gateway base path [" + bk.Scalar() +
                                "] is invalid. It must be one path segment without {parameters}");
                }
                for (const auto& [rk, rv] : r_.Entries(bv, bp)) {
                    const std::string rp = Child(bp, rk.Scalar());
                    std::string rel = InterpolateEnv(rk.Scalar(), getenv_);
                    if (rel.empty() || rel[0] != '/') rel = "/" + rel;
                    const bool has_params = rel.find('{') != std::string::npos;
                    for (const auto& [ak, av] : r_.Entries(rv, rp)) {
                        const std::string ap = Child(rp, ak.Scalar());
                        Api api;
                        api.api_name = nk.Scalar();
                        api.base_path = "/" + base;
                        api.rel_path = rel;
                        api.action = ak.Scalar();
                        api.where = {Reader::Line(ak), ap};
                        if (av.IsScalar()) {
                            api.method = av.Scalar();
                            if (!kMethods.count(api.method)) {
                                r_.Fail(av, ap,
                                        "method must be one of GET, PUT, POST, DELETE, "
                                        "PATCH, HEAD, OPTIONS");
                            }
                        } else {
                            for (const auto& [fk, fv] :
                                 r_.Entries(av, ap, {"method", "response"})) {
                                const std::string fp = Child(ap, fk.Scalar());
                                const std::string value = r_.String(fv, fp, false);
                                if (fk.Scalar() == "method") {
                                    std::string upper = value;
                                    for (char& c : upper) {
                                        c = static_cast<char>(
                                            std::toupper(static_cast<unsigned char>(c)));
                                    }
                                    if (!kMethods.count(upper)) {
                                        r_.Fail(fv, fp,
                                                "must be one of GET, PUT, POST, DELETE, PATCH, "
                                                "HEAD, OPTIONS");
                                    }
                                    api.method = upper;
                                } else {
                                    if (!kResponses.count(value)) {
                                        r_.Fail(fv, fp,
                                                "must be one of json, http, html, text, svg");
                                    }
                                    api.response = value;
                                }
                            }
                            if (api.method.empty()) r_.Fail(ak, Child(ap, "method"), "is missing");
                        }
                        if (has_params) api.response = "http";
                        out.push_back(api);
                    }
                }
            }
        }
    }

    const Reader& r_;
    std::string dir_;
    Getenv getenv_;
    const KeyValues* inputs_ = nullptr;  // the package being parsed
};

/// Deployment overrides: the deployment's values replace the manifest's keys, new keys are added.
void Override(KeyValues& into, const KeyValues& from) {
    for (const KeyValue& kv : from) {
        auto it = std::find_if(into.begin(), into.end(),
                               [&](const KeyValue& x) { return x.key == kv.key; });
        if (it != into.end()) {
            it->json = kv.json;
            it->where = kv.where;
        } else {
            into.push_back(kv);
        }
    }
}

void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;  // Go: invalid -> U+FFFD
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace

std::string InterpolateEnv(const std::string& value, const Getenv& getenv) {
    auto lookup = [&](const std::string& name) -> std::string {
        const char* v = getenv ? getenv(name.c_str()) : nullptr;
        return v != nullptr ? v : "";
    };
    static const std::regex kWhole("\\$([A-Za-z_][A-Za-z0-9_]*)");
    std::smatch m;
    if (std::regex_match(value, m, kWhole)) return lookup(m[1].str());
    std::string out;
    size_t i = 0;
    while (i < value.size()) {
        if (value.compare(i, 3, "$${") == 0) {
            const size_t close = value.find('}', i + 3);
            if (close != std::string::npos) {
                out += value.substr(i + 1, close - i);  // the literal "${NAME}"
                i = close + 1;
                continue;
            }
        }
        if (value.compare(i, 2, "${") == 0) {
            const size_t close = value.find('}', i + 2);
            if (close != std::string::npos) {
                out += lookup(value.substr(i + 2, close - i - 2));
                i = close + 1;
                continue;
            }
        }
        out += value[i++];
    }
    return out;
}

std::string ProjectHash(std::string_view manifest_text) {
    std::string header = "OpenWhisk";
    AppendUtf8(header, static_cast<uint32_t>(std::min<size_t>(manifest_text.size(), 0xFFFFFFFF)));
    header += std::string("golang\0", 7);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
    EVP_DigestUpdate(ctx, header.data(), header.size());
    EVP_DigestUpdate(ctx, manifest_text.data(), manifest_text.size());
    EVP_DigestFinal_ex(ctx, digest, &len);
    EVP_MD_CTX_free(ctx);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 15];
    }
    return out;
}

Result<Manifest> ParseManifest(std::string_view text, const std::string& file,
                               const std::string& dir, const Getenv& getenv) {
    try {
        Reader reader(file, getenv);
        Manifest m;
        m.file = file;
        m.hash = ProjectHash(text);
        ManifestParser parser(reader, dir, getenv);
        parser.Root(Load(text, file), m);
        return m;
    } catch (const Failure& f) {
        return WskError::General(f.message);
    } catch (const YAML::Exception& e) {
        return WskError::General(file + ": " + e.what());
    }
}

Status ApplyDeployment(Manifest& m, std::string_view text, const std::string& file,
                       const Getenv& getenv) {
    try {
        Reader r(file, getenv);
        const YAML::Node root = Load(text, file);
        if (!root.IsDefined() || root.IsNull()) return std::nullopt;
        std::optional<YAML::Node> packages;
        std::string packages_path;
        for (const auto& [k, v] : r.Entries(root, "", {"project", "packages"})) {
            if (k.Scalar() == "packages" && v.IsDefined() && !v.IsNull() && v.size() > 0) {
                packages.emplace(v);
                packages_path = "packages";
            }
        }
        if (const YAML::Node project = root["project"]; project.IsDefined() && !project.IsNull()) {
            for (const auto& [k, v] : r.Entries(project, "project",
                                                {"name", "namespace", "credential", "apiHost",
                                                 "apigwAccessToken", "inputs", "packages"})) {
                if (k.Scalar() == "name") {
                    const std::string name = r.String(v, "project.name", true);
                    if (!m.project_name.empty() && name != m.project_name) {
                        r.Fail(v, "project.name",
                               "the project name [" + name + "] differs from the manifest's [" +
                                   m.project_name + "]");
                    }
                    m.project_name = name;
                } else if (k.Scalar() == "packages" && !packages) {
                    packages.emplace(v);
                    packages_path = "project.packages";
                } else if (k.Scalar() == "inputs") {
                    (void)r.Params(v, "project.inputs");
                }
            }
        }
        if (!packages) return std::nullopt;
        for (const auto& [pk, pv] : r.Entries(*packages, packages_path)) {
            const std::string pp = Child(packages_path, pk.Scalar());
            const std::string pname = r.Name(pk, pp, true);
            auto pkg = std::find_if(m.packages.begin(), m.packages.end(),
                                    [&](const Package& p) { return p.name == pname; });
            if (pkg == m.packages.end()) {
                m.warnings.push_back("Package [" + pname + "] of " + file +
                                     " is not in the manifest; ignored.");
                continue;
            }
            for (const auto& [k, v] :
                 r.Entries(pv, pp,
                           {"inputs", "annotations", "actions", "triggers", "namespace",
                            "credential", "apiHost", "apigwAccessToken"})) {
                const std::string f = k.Scalar();
                const std::string fp = Child(pp, f);
                if (f == "inputs") Override(pkg->inputs, r.Params(v, fp));
                if (f == "annotations") Override(pkg->annotations, r.Annotations(v, fp));
                if (f == "actions") {
                    for (const auto& [ak, av] : r.Entries(v, fp)) {
                        const std::string ap = Child(fp, ak.Scalar());
                        auto act =
                            std::find_if(pkg->actions.begin(), pkg->actions.end(),
                                         [&](const Action& a) { return a.name == ak.Scalar(); });
                        const auto fields =
                            r.Entries(av, ap, {"inputs", "annotations", "namespace", "credential"});
                        if (act == pkg->actions.end()) {
                            m.warnings.push_back("Action [" + ak.Scalar() + "] of " + file +
                                                 " is not in the manifest; ignored.");
                            continue;
                        }
                        for (const auto& [fk, fv] : fields) {
                            const std::string ffp = Child(ap, fk.Scalar());
                            if (fk.Scalar() == "inputs") Override(act->inputs, r.Params(fv, ffp));
                            if (fk.Scalar() == "annotations") {
                                Override(act->annotations, r.Annotations(fv, ffp));
                            }
                        }
                    }
                }
                if (f == "triggers") {
                    for (const auto& [tk, tv] : r.Entries(v, fp)) {
                        const std::string tp = Child(fp, tk.Scalar());
                        const std::string tname = r.Name(tk, tp, true);
                        auto trig = std::find_if(pkg->triggers.begin(), pkg->triggers.end(),
                                                 [&](const Trigger& t) { return t.name == tname; });
                        const auto fields =
                            r.Entries(tv, tp, {"inputs", "annotations", "namespace", "credential"});
                        if (trig == pkg->triggers.end()) {
                            m.warnings.push_back("Trigger [" + tname + "] of " + file +
                                                 " is not in the manifest; ignored.");
                            continue;
                        }
                        for (const auto& [fk, fv] : fields) {
                            const std::string ffp = Child(tp, fk.Scalar());
                            if (fk.Scalar() == "inputs") Override(trig->inputs, r.Params(fv, ffp));
                            if (fk.Scalar() == "annotations") {
                                Override(trig->annotations, r.Annotations(fv, ffp));
                            }
                        }
                    }
                }
            }
        }
        return std::nullopt;
    } catch (const Failure& f) {
        return WskError::General(f.message);
    } catch (const YAML::Exception& e) {
        return WskError::General(file + ": " + e.what());
    }
}

}  // namespace wsk::project
