#include "entity_args.hpp"

#include <chrono>
#include <random>

#include <rapidjson/error/en.h>

#include <wisp/common/base64.hpp>

#include "json_out.hpp"

namespace wsk {
namespace {

bool IsValidJson(const std::string& text) {
    rapidjson::Document d;
    return ParseJsonText(text, d).empty();
}

// Go's split of "-p K V" args: two words after the flag.
Status TakeKeyValue(std::vector<std::string>& argv, size_t i, std::vector<std::string>& into,
                    const char* invalid_what) {
    if (i + 2 >= argv.size()) {
        std::string msg = "Arguments for '" + argv[i] + "' must be a key/value pair";
        if (invalid_what != nullptr) msg = std::string(invalid_what) + msg;
        return WskError::General("Failed to parse arguments: " + msg, true);
    }
    into.push_back(KeyValueJson(argv[i + 1], argv[i + 2]));
    argv.erase(argv.begin() + static_cast<long>(i), argv.begin() + static_cast<long>(i) + 3);
    return std::nullopt;
}

}  // namespace

Result<KeyValueArgs> ExtractKeyValueArgs(
    std::vector<std::string>& argv,
    const std::function<Result<std::string>(const std::string&)>& read_file) {
    KeyValueArgs out;
    size_t i = 1;
    while (i < argv.size()) {
        const std::string& a = argv[i];
        if (a == "--") break;
        const bool param_file = a == "-P" || a == "--param-file";
        const bool annot_file = a == "-A" || a == "--annotation-file";
        if (param_file || annot_file) {
            const char* what = param_file ? "The parameter arguments are invalid: "
                                          : "The annotation arguments are invalid: ";
            if (i + 1 >= argv.size()) {
                return WskError::General(std::string("Failed to parse arguments: ") + what +
                                             "An argument must be provided for '" + a + "'",
                                         true);
            }
            auto content = read_file(argv[i + 1]);
            if (!content.ok()) return content.error();
            (param_file ? out.params : out.annotations).push_back(*content);
            if (param_file) out.param_flag_seen = true;
            argv.erase(argv.begin() + static_cast<long>(i),
                       argv.begin() + static_cast<long>(i) + 2);
        } else if (a == "-p" || a == "--param") {
            out.param_flag_seen = true;
            if (auto s = TakeKeyValue(argv, i, out.params, "The parameter arguments are invalid: "))
                return *s;
        } else if (a == "-a" || a == "--annotation") {
            if (auto s = TakeKeyValue(argv, i, out.annotations,
                                      "The annotation arguments are invalid: "))
                return *s;
        } else if (a == "-F" || a == "--feed-param") {
            if (auto s = TakeKeyValue(argv, i, out.feed_params, nullptr)) return *s;
        } else if (a == "-T" || a == "--trigger-param") {
            if (auto s = TakeKeyValue(argv, i, out.trigger_params, nullptr)) return *s;
        } else {
            ++i;
        }
    }
    return out;
}

std::string KeyValueJson(const std::string& key, const std::string& value) {
    if (IsValidJson(value)) return "{" + QuoteJson(key) + ": " + value + "}";
    return "{" + QuoteJson(key) + ": " + QuoteJson(value) + "}";
}

Status MergeJsonObjects(const std::vector<std::string>& texts, rapidjson::Value& out,
                        rapidjson::Document::AllocatorType& alloc) {
    if (!out.IsObject()) out.SetObject();
    for (const std::string& text : texts) {
        rapidjson::Document d(&alloc);
        if (std::string problem = ParseJsonText(text, d); !problem.empty()) {
            return WskError::General(problem, true);
        }
        if (!d.IsObject()) {
            return WskError::General("json: cannot unmarshal a non-object into a key/value map",
                                     true);
        }
        for (auto& m : d.GetObject()) {
            auto it = out.FindMember(m.name);
            if (it != out.MemberEnd()) {
                it->value.CopyFrom(m.value, alloc);
            } else {
                out.AddMember(rapidjson::Value(m.name, alloc), rapidjson::Value(m.value, alloc),
                              alloc);
            }
        }
    }
    return std::nullopt;
}

Status KeyValueArray(const std::vector<std::string>& texts, rapidjson::Value& out,
                     rapidjson::Document::AllocatorType& alloc) {
    rapidjson::Value merged(rapidjson::kObjectType);
    if (auto s = MergeJsonObjects(texts, merged, alloc)) return s;
    out.SetArray();
    for (auto& m : merged.GetObject()) {
        rapidjson::Value kv(rapidjson::kObjectType);
        kv.AddMember("key", rapidjson::Value(m.name, alloc), alloc);
        kv.AddMember("value", rapidjson::Value(m.value, alloc), alloc);
        out.PushBack(kv, alloc);
    }
    return std::nullopt;
}

Result<QualifiedName> ParseQualifiedName(const std::string& raw) {
    const WskError invalid{"A valid qualified name must be specified.", kExitNotAllowed};
    std::string name = raw;
    std::vector<std::string> parts;
    {
        size_t start = 0;
        while (true) {
            const auto slash = name.find('/', start);
            parts.push_back(name.substr(start, slash - start));
            if (slash == std::string::npos) break;
            start = slash + 1;
        }
    }
    // "ns/pkg/a" (three parts, no leading slash) names a namespace too.
    if (parts.size() == 3 && !parts[0].empty()) {
        name = "/" + name;
        parts.insert(parts.begin(), "");
    }
    QualifiedName q;
    if (!name.empty() && name[0] == '/') {
        if (parts.size() < 3 || parts.size() > 4) return invalid;
        for (size_t i = 1; i < parts.size(); ++i) {
            if (parts[i].empty() || parts[i] == ".") return invalid;
        }
        q.ns = parts[1];
        q.entity_name = parts[2];
        if (parts.size() == 4) {
            q.package = parts[2];
            q.entity_name += "/" + parts[3];
        }
        q.entity = parts.back();
    } else {
        if (name.empty() || name == ".") return invalid;
        if (parts.size() > 2) return invalid;
        for (const auto& p : parts) {
            if (p.empty()) return invalid;
        }
        q.entity = parts.back();
        if (parts.size() == 2) q.package = parts[0];
        q.entity_name = name;
    }
    return q;
}

std::string FullyQualified(const std::string& raw, const std::string& ns) {
    std::string name = raw;
    size_t slashes = 0;
    for (char c : name) slashes += c == '/' ? 1 : 0;
    if (slashes == 2 && !name.empty() && name[0] != '/') name = "/" + name;
    if (!name.empty() && name[0] == '/') return name;
    return "/" + ns + "/" + name;
}

std::string FileExtension(const std::string& path) {
    for (size_t i = path.size(); i > 0; --i) {
        const char c = path[i - 1];
        if (c == '/') break;
        if (c == '.') return path.substr(i - 1);
    }
    return "";
}

Result<std::string> KindFromExtension(const std::string& ext) {
    static const std::pair<const char*, const char*> kKinds[] = {
        {".swift", "swift:default"}, {".js", "nodejs:default"}, {".py", "python:default"},
        {".jar", "java:default"},    {".php", "php:default"},   {".rb", "ruby:default"},
        {".rs", "rust:default"},     {".go", "go:default"},     {".balx", "ballerina:default"},
    };
    for (const auto& [e, kind] : kKinds) {
        if (ext == e) return std::string(kind);
    }
    if (ext == ".zip") {
        return WskError::Usage(
            "creating an action from a .zip artifact requires specifying the action kind "
            "explicitly");
    }
    return WskError::Usage("'" + ext + "' is not a supported action runtime");
}

bool IsBinaryArtifact(const std::string& ext) {
    return ext == ".zip" || ext == ".jar" || ext == ".balx";
}

Status BuildExec(const std::optional<std::string>& artifact,
                 const std::optional<std::string>& artifact_content, const ExecFlags& flags,
                 rapidjson::Value& exec, rapidjson::Document::AllocatorType& alloc) {
    exec.SetObject();
    if (flags.sequence) {
        if (!artifact) return WskError::Usage("An action name and code artifact are required.");
        exec.AddMember("kind", "sequence", alloc);
        rapidjson::Value components(rapidjson::kArrayType);
        size_t start = 0;
        while (true) {
            const auto comma = artifact->find(',', start);
            const std::string part = artifact->substr(start, comma - start);
            components.PushBack(rapidjson::Value(FullyQualified(part).c_str(), alloc), alloc);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        exec.AddMember("components", components, alloc);
        return std::nullopt;
    }
    if (!artifact && flags.docker.empty()) {
        return WskError::Usage("An action name and code artifact are required.");
    }
    std::string ext;
    std::string code;
    if (artifact) {
        ext = FileExtension(*artifact);
        code = artifact_content.value_or("");
        if (IsBinaryArtifact(ext)) code = wisp::common::Base64Encode(code);
    }
    std::string kind;
    std::string image;
    if (!flags.kind.empty()) {
        kind = flags.kind;
    } else if (!flags.docker.empty() || flags.native) {
        kind = "blackbox";
        image = flags.native ? "openwhisk/dockerskeleton" : flags.docker;
    } else {
        auto k = KindFromExtension(ext);
        if (!k.ok()) return k.error();
        kind = *k;
    }
    exec.AddMember("kind", rapidjson::Value(kind.c_str(), alloc), alloc);
    if (artifact) exec.AddMember("code", rapidjson::Value(code.c_str(), code.size(), alloc), alloc);
    if (!image.empty()) exec.AddMember("image", rapidjson::Value(image.c_str(), alloc), alloc);
    if (!flags.main.empty()) {
        exec.AddMember("main", rapidjson::Value(flags.main.c_str(), alloc), alloc);
    } else if (kind == "java") {
        return WskError::Usage(
            "Java actions require --main to specify the fully-qualified name of the main class");
    }
    return std::nullopt;
}

const rapidjson::Value* FindKeyValue(const rapidjson::Value& array, const std::string& key) {
    if (!array.IsArray()) return nullptr;
    for (auto& e : array.GetArray()) {
        if (e.IsObject() && e.HasMember("key") && e["key"].IsString() &&
            key == e["key"].GetString()) {
            auto it = e.FindMember("value");
            return it == e.MemberEnd() ? nullptr : &it->value;
        }
    }
    return nullptr;
}

void SetKeyValue(rapidjson::Value& array, const std::string& key, rapidjson::Value value,
                 rapidjson::Document::AllocatorType& alloc) {
    if (!array.IsArray()) array.SetArray();
    for (auto& e : array.GetArray()) {
        if (e.IsObject() && e.HasMember("key") && e["key"].IsString() &&
            key == e["key"].GetString()) {
            auto it = e.FindMember("value");
            if (it != e.MemberEnd()) {
                it->value = value;
            } else {
                e.AddMember("value", value, alloc);
            }
            return;
        }
    }
    rapidjson::Value kv(rapidjson::kObjectType);
    kv.AddMember("key", rapidjson::Value(key.c_str(), alloc), alloc);
    kv.AddMember("value", value, alloc);
    array.PushBack(kv, alloc);
}

Status ApplyWebFlag(const std::string& mode_in, rapidjson::Value& annotations,
                    rapidjson::Document::AllocatorType& alloc) {
    std::string mode;
    for (char c : mode_in) mode += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool web;
    bool raw = false;
    if (mode == "yes" || mode == "true") {
        web = true;
    } else if (mode == "raw") {
        web = true;
        raw = true;
    } else if (mode == "no" || mode == "false") {
        web = false;
    } else {
        return WskError::Usage("Invalid argument '" + mode_in +
                               "' for --web flag. Valid input consist of 'yes', 'true', 'raw', "
                               "'false', or 'no'.");
    }
    SetKeyValue(annotations, "web-export", rapidjson::Value(web), alloc);
    SetKeyValue(annotations, "raw-http", rapidjson::Value(raw), alloc);
    SetKeyValue(annotations, "final", rapidjson::Value(web), alloc);
    return std::nullopt;
}

void ApplyWebSecureFlag(const std::string& secret, rapidjson::Value& annotations,
                        std::vector<std::string>& del_annotations,
                        rapidjson::Document::AllocatorType& alloc) {
    std::string lower;
    for (char c : secret) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "false") {
        if (annotations.IsArray()) {
            auto arr = annotations.GetArray();
            for (auto it = arr.Begin(); it != arr.End();) {
                if (it->IsObject() && it->HasMember("key") && (*it)["key"].IsString() &&
                    std::string((*it)["key"].GetString()) == "require-whisk-auth") {
                    it = arr.Erase(it);
                } else {
                    ++it;
                }
            }
        }
        del_annotations.push_back("require-whisk-auth");
        return;
    }
    if (lower == "true") {
        std::mt19937_64 rng(
            static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
        const int64_t n = static_cast<int64_t>(rng() & ((uint64_t{1} << 53) - 1));
        SetKeyValue(annotations, "require-whisk-auth", rapidjson::Value(n), alloc);
        return;
    }
    SetKeyValue(annotations, "require-whisk-auth", rapidjson::Value(secret.c_str(), alloc), alloc);
}

}  // namespace wsk
