#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <regex>
#include <set>

#include "entity_args.hpp"

namespace wsk {
namespace {

bool g_color = false;

std::string Str(const rapidjson::Value& v, const char* key) {
    if (!v.IsObject()) return "";
    auto it = v.FindMember(key);
    if (it == v.MemberEnd() || !it->value.IsString()) return "";
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

int64_t Int(const rapidjson::Value& v, const char* key) {
    if (!v.IsObject()) return 0;
    auto it = v.FindMember(key);
    if (it == v.MemberEnd() || !it->value.IsNumber()) return 0;
    return it->value.IsInt64() ? it->value.GetInt64() : static_cast<int64_t>(it->value.GetDouble());
}

std::string PadRight(const std::string& s, size_t width) {
    return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string AnnotationString(const rapidjson::Value& entity, const char* key) {
    if (!entity.IsObject() || !entity.HasMember("annotations")) return "";
    const rapidjson::Value* v = FindKeyValue(entity["annotations"], key);
    return v != nullptr && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

const char* const kStatusCodes[] = {"success", "application error", "developer error",
                                    "internal error"};

}  // namespace

void InitColor() {
    const char* no_color = std::getenv("NO_COLOR");
    g_color = isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0');
}
void SetColor(bool enabled) { g_color = enabled; }
bool ColorEnabled() { return g_color; }

std::string Green(const std::string& s) { return g_color ? "\033[32m" + s + "\033[0m" : s; }
std::string Bold(const std::string& s) { return g_color ? "\033[1m" + s + "\033[0m" : s; }
std::string Red(const std::string& s) { return g_color ? "\033[31m" + s + "\033[0m" : s; }
std::string Ok() { return Green("ok:") + " "; }

std::string FormatEntityList(EntityKind kind, const rapidjson::Value& entities, bool name_sort) {
    static const char* kHeaders[] = {"actions", "triggers", "rules", "packages"};
    std::string out = Bold(kHeaders[static_cast<int>(kind)]) + "\n";
    if (!entities.IsArray()) return out;
    std::vector<const rapidjson::Value*> rows;
    for (auto& e : entities.GetArray()) rows.push_back(&e);
    if (name_sort) {
        // Go's Compare: actions and packages by name within the namespace, others by name.
        std::stable_sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
            const std::string an = Str(*a, "namespace") + "/" + Str(*a, "name");
            const std::string bn = Str(*b, "namespace") + "/" + Str(*b, "name");
            std::string al = an;
            std::string bl = bn;
            std::transform(al.begin(), al.end(), al.begin(), ::tolower);
            std::transform(bl.begin(), bl.end(), bl.begin(), ::tolower);
            return al < bl;
        });
    }
    for (const auto* e : rows) {
        const std::string fqn = "/" + Str(*e, "namespace") + "/" + Str(*e, "name");
        std::string publish = "private";
        if (kind == EntityKind::kPackage && e->HasMember("publish") && (*e)["publish"].IsBool() &&
            (*e)["publish"].GetBool()) {
            publish = "shared";
        }
        switch (kind) {
            case EntityKind::kAction:
                out +=
                    PadRight(fqn, 70) + " " + publish + " " + AnnotationString(*e, "exec") + "\n";
                break;
            case EntityKind::kRule:
                out += PadRight(fqn, 70) + " " + PadRight(publish, 20) + " " + Str(*e, "status") +
                       "\n";
                break;
            default:
                out += PadRight(fqn, 70) + " " + publish + "\n";
        }
    }
    return out;
}

std::string FormatNamespaceList(const rapidjson::Value& names) {
    std::string out = Bold("namespaces") + "\n";
    if (!names.IsArray()) return out;
    for (auto& n : names.GetArray()) {
        if (n.IsString()) out += std::string(n.GetString()) + "\n";
    }
    return out;
}

std::string FormatDurationMs(int64_t ms) {
    if (ms == 0) return "0s";
    std::string sign;
    if (ms < 0) {
        sign = "-";
        ms = -ms;
    }
    if (ms < 1000) return sign + std::to_string(ms) + "ms";
    const int64_t hours = ms / 3600000;
    const int64_t minutes = (ms / 60000) % 60;
    const int64_t secs = (ms / 1000) % 60;
    const int64_t frac = ms % 1000;
    std::string s = std::to_string(secs);
    if (frac != 0) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), ".%03lld", static_cast<long long>(frac));
        std::string f = buf;
        while (f.back() == '0') f.pop_back();
        s += f;
    }
    s += "s";
    if (hours > 0) return sign + std::to_string(hours) + "h" + std::to_string(minutes) + "m" + s;
    if (minutes > 0) return sign + std::to_string(minutes) + "m" + s;
    return sign + s;
}

std::string TruncateMiddle(const std::string& s, size_t max_len) {
    if (s.size() <= max_len) return s;
    size_t mid = max_len / 2;
    const size_t upp = std::min(s.size(), s.size() - mid + 3);
    if (max_len % 2 != 0) ++mid;
    return s.substr(0, mid) + "..." + s.substr(upp);
}

std::string FormatActivationTable(const rapidjson::Value& activations) {
    std::vector<const rapidjson::Value*> rows;
    if (activations.IsArray()) {
        for (auto& a : activations.GetArray()) rows.push_back(&a);
    }
    if (rows.empty()) return "\n";  // Go prints the (empty) default header line
    auto kind_of = [](const rapidjson::Value& a) {
        std::string k = AnnotationString(a, "kind");
        return k.empty() ? std::string("unknown") : k;
    };
    auto status_of = [](const rapidjson::Value& a) {
        const int64_t code = Int(a, "statusCode");
        return std::string(code > 0 && code < 4 ? kStatusCodes[code] : kStatusCodes[0]);
    };
    size_t kind_w = 4;
    size_t status_w = 7;  // "success"
    for (const auto* a : rows) {
        kind_w = std::max(kind_w, kind_of(*a).size());
        status_w = std::max(status_w, status_of(*a).size());
    }
    status_w = std::max<size_t>(status_w, 6);
    std::string out;
    // Header: "%-19s %-32s %-<k>s %-6s%-10s %-<s>s %-6s\n"
    out += Bold(PadRight("Datetime", 19) + " " + PadRight("Activation ID", 32) + " " +
                PadRight("Kind", kind_w) + " " + PadRight("Start", 6) + PadRight("Duration", 10) +
                " " + PadRight("Status", status_w) + " " + PadRight("Entity", 6) + "\n");
    for (const auto* a : rows) {
        const int64_t start = Int(*a, "start");
        const time_t secs = static_cast<time_t>(start / 1000);
        struct tm tm {};
        localtime_r(&secs, &tm);
        char when[96];
        std::snprintf(when, sizeof(when), "%d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        int64_t duration = Int(*a, "duration") == 0 ? 0 : Int(*a, "end") - start;
        bool cold =
            a->HasMember("annotations") && FindKeyValue((*a)["annotations"], "initTime") != nullptr;
        const std::string fqn = TruncateMiddle(Str(*a, "namespace"), 20) + "/" +
                                TruncateMiddle(Str(*a, "name"), 30) + ":" +
                                TruncateMiddle(Str(*a, "version"), 20);
        out += std::string(when) + " " + PadRight(Str(*a, "activationId"), 32) + " " +
               PadRight(kind_of(*a), kind_w) + " " + PadRight(cold ? "cold" : "warm", 5) + " " +
               PadRight(FormatDurationMs(duration), 10) + " " + PadRight(status_of(*a), status_w) +
               " " + fqn + "\n";
    }
    return out;
}

std::string StripLogTimestamp(const std::string& line) {
    static const std::regex kLog(
        R"(\d{4}-[01]{1}\d{1}-[0-3]{1}\d{1}T[0-2]{1}\d{1}:[0-6]{1}\d{1}:[0-6]{1}\d{1}.\d+Z( *(stdout|stderr):)?\s(.*))");
    std::smatch m;
    if (std::regex_search(line, m, kLog) && m.size() > 3 && m[3].length() > 0) return m[3].str();
    return line;
}

std::string FormatSummary(EntityKind kind, const rapidjson::Value& e) {
    auto full_name = [](const std::string& ns, const std::string& pkg, const std::string& name) {
        if (!ns.empty() && !pkg.empty() && !name.empty()) return "/" + ns + "/" + pkg + "/" + name;
        if (!ns.empty() && !pkg.empty()) return "/" + ns + "/" + pkg;
        if (!ns.empty() && !name.empty()) return "/" + ns + "/" + name;
        if (!ns.empty()) return "/" + ns;
        return std::string();
    };
    auto params_of = [](const rapidjson::Value& ent) {
        std::vector<std::string> bound;
        if (ent.HasMember("parameters") && ent["parameters"].IsArray()) {
            for (auto& kv : ent["parameters"].GetArray()) {
                if (kv.IsObject() && kv.HasMember("key") && kv["key"].IsString())
                    bound.push_back(kv["key"].GetString());
            }
        }
        std::set<std::string> all(bound.begin(), bound.end());
        const rapidjson::Value* annots =
            ent.HasMember("annotations") ? &ent["annotations"] : nullptr;
        bool final_ = false;
        if (annots != nullptr) {
            const rapidjson::Value* f = FindKeyValue(*annots, "final");
            final_ = f != nullptr && f->IsBool() && f->GetBool();
            const rapidjson::Value* p = FindKeyValue(*annots, "parameters");
            if (p != nullptr && p->IsArray()) {
                for (auto& d : p->GetArray()) {
                    if (d.IsObject() && d.HasMember("name") && d["name"].IsString())
                        all.insert(d["name"].GetString());
                }
            }
        }
        std::string out;
        for (const auto& name : all) {
            if (!out.empty()) out += ", ";
            if (std::find(bound.begin(), bound.end(), name) != bound.end())
                out += final_ ? "**" : "*";
            out += name;
        }
        return out;
    };
    auto entity_summary = [](const std::string& type, const std::string& name,
                             const std::string& description, std::string params) {
        std::string out;
        if (params.empty()) params = "none defined";
        if (!description.empty()) {
            out += Bold(type) + " " + name + ": " + description + "\n";
        } else if (params != "none defined") {
            std::string p = params;
            p.erase(std::remove(p.begin(), p.end(), '*'), p.end());
            const auto last = p.rfind(',');
            std::string desc = "Returns a result based on parameter";
            if (last != std::string::npos) {
                desc += "s " + p.substr(0, last) + " and" + p.substr(last + 1);
            } else {
                desc += " " + p;
            }
            out += Bold(type) + " " + name + ": " + desc + "\n";
        } else {
            out += Bold(type) + " " + name + "\n";
        }
        out += "   (" + Bold("parameters") + ": " + params + ")\n";
        return out;
    };
    const std::string ns = Str(e, "namespace");
    const std::string name = Str(e, "name");
    switch (kind) {
        case EntityKind::kAction:
            return entity_summary("action", full_name(ns, "", name),
                                  AnnotationString(e, "description"), params_of(e));
        case EntityKind::kTrigger:
            return entity_summary("trigger", full_name(ns, "", name),
                                  AnnotationString(e, "description"), params_of(e));
        case EntityKind::kRule:
            return Bold("rule") + " " + full_name(ns, "", name) + "\n   (" + Bold("status") + ": " +
                   Str(e, "status") + ")\n";
        case EntityKind::kPackage: {
            std::string out = entity_summary("package", full_name(ns, name, ""),
                                             AnnotationString(e, "description"), params_of(e));
            for (const char* list : {"actions", "feeds"}) {
                if (!e.HasMember(list) || !e[list].IsArray()) continue;
                for (auto& a : e[list].GetArray()) {
                    out += entity_summary(std::string(list) == "actions" ? " action" : " feed  ",
                                          full_name(ns, name, Str(a, "name")),
                                          AnnotationString(a, "description"), params_of(a));
                }
            }
            return out;
        }
    }
    return "";
}

std::string FormatError(const WskError& error) {
    std::string out;
    if (error.display_msg && error.exit_code != 0) {
        out += Red("error: ") + error.message + "\n";
    }
    if (error.display_usage) out += "Run 'wsk --help' for usage.\n";
    return out;
}

}  // namespace wsk
