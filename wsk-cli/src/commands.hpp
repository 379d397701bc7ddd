#pragma once
// The wsk commands: each takes its positional arguments and flags, talks REST through
// WhiskClient, prints what the reference CLI prints, and returns the error that sets the exit
// code (nullopt = exit 0).
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "entity_args.hpp"
#include "whisk_client.hpp"
#include "wsk_error.hpp"
#include "wskprops.hpp"

namespace wsk {

struct Session {
    Config config;
    GlobalFlags flags;
    KeyValueArgs kv;
    std::ostream* out;
    std::ostream* err;
    std::unique_ptr<WhiskClient> client;
};

struct ActionFlags {
    ExecFlags exec;
    bool copy = false;
    std::optional<int> timeout, memory, logsize, concurrency;
    std::optional<std::string> web, web_secure;
    std::vector<std::string> del_annotations;
};
[[nodiscard]] Status ActionCreate(Session& s, const std::vector<std::string>& args,
                                  const ActionFlags& f, bool update);
[[nodiscard]] Status ActionInvoke(Session& s, const std::vector<std::string>& args, bool blocking,
                                  bool result);
struct ActionGetFlags {
    bool summary = false;
    bool url = false;
    bool save = false;
    std::optional<std::string> save_as;
};
[[nodiscard]] Status ActionGet(Session& s, const std::vector<std::string>& args,
                               const ActionGetFlags& f);
[[nodiscard]] Status ActionDelete(Session& s, const std::vector<std::string>& args);

struct ListFlags {
    int skip = 0;
    int limit = 30;
    bool name_sort = false;
};
[[nodiscard]] Status ActionList(Session& s, const std::vector<std::string>& args,
                                const ListFlags& f);

[[nodiscard]] Status TriggerCreate(Session& s, const std::vector<std::string>& args,
                                   const std::string& feed, bool update);
[[nodiscard]] Status TriggerFire(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status TriggerGet(Session& s, const std::vector<std::string>& args, bool summary);
[[nodiscard]] Status TriggerDelete(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status TriggerList(Session& s, const std::vector<std::string>& args,
                                 const ListFlags& f);

[[nodiscard]] Status RuleCreate(Session& s, const std::vector<std::string>& args, bool update);
[[nodiscard]] Status RuleSetState(Session& s, const std::vector<std::string>& args, bool enable);
[[nodiscard]] Status RuleStatus(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status RuleGet(Session& s, const std::vector<std::string>& args, bool summary);
[[nodiscard]] Status RuleDelete(Session& s, const std::vector<std::string>& args, bool disable);
[[nodiscard]] Status RuleList(Session& s, const std::vector<std::string>& args, const ListFlags& f);

[[nodiscard]] Status PackageCreate(Session& s, const std::vector<std::string>& args,
                                   const std::string& shared, bool update);
[[nodiscard]] Status PackageBind(Session& s, const std::vector<std::string>& args, bool overwrite);
[[nodiscard]] Status PackageGet(Session& s, const std::vector<std::string>& args, bool summary);
[[nodiscard]] Status PackageDelete(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status PackageList(Session& s, const std::vector<std::string>& args,
                                 const ListFlags& f);

struct ActivationFlags {
    int skip = 0;
    int limit = 30;
    bool full = false;
    int64_t since = 0;
    int64_t upto = 0;
    bool last = false;
    bool summary = false;
    bool logs = false;
    bool strip = false;
    int exit_after = 0;
    int since_seconds = 0, since_minutes = 0, since_hours = 0, since_days = 0;
};
[[nodiscard]] Status ActivationList(Session& s, const std::vector<std::string>& args,
                                    const ActivationFlags& f);
[[nodiscard]] Status ActivationGet(Session& s, std::vector<std::string> args,
                                   const ActivationFlags& f);
[[nodiscard]] Status ActivationLogs(Session& s, std::vector<std::string> args,
                                    const ActivationFlags& f);
[[nodiscard]] Status ActivationResult(Session& s, std::vector<std::string> args,
                                      const ActivationFlags& f);
[[nodiscard]] Status ActivationPoll(Session& s, const std::vector<std::string>& args,
                                    const ActivationFlags& f);

[[nodiscard]] Status NamespaceList(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status NamespaceGet(Session& s, const std::vector<std::string>& args, bool name_sort);

struct PropertyFlags {
    bool cert = false, key = false, auth = false, apihost = false, apiversion = false;
    bool apibuild = false, apibuildno = false, cliversion = false, ns = false, all = false;
    std::string output = "std";
};
[[nodiscard]] Status PropertySet(Session& s);
[[nodiscard]] Status PropertyUnset(Session& s, const PropertyFlags& f);
[[nodiscard]] Status PropertyGet(Session& s, const PropertyFlags& f);

/// `wsk project deploy|undeploy` (wskdeploy manifests; project_commands.cpp).
struct ProjectFlags {
    std::string manifest;           // -m/--manifest ("" = manifest.yaml|.yml in project_dir)
    std::string deployment;         // -d/--deployment ("" = deployment.yaml|.yml if present)
    std::string project_dir = ".";  // --project
    std::string project_name;       // --projectname
    bool verbose = false;           // -v: Info:/Warning: lines
};
[[nodiscard]] Status ProjectDeploy(Session& s, const ProjectFlags& f);
[[nodiscard]] Status ProjectUndeploy(Session& s, const ProjectFlags& f);

/// `wsk api create|get|delete|list` (API routes through /whisk.system/apimgmt; api_commands.cpp).
struct ApiFlags {
    std::string api_name;                // -n/--apiname
    std::string config_file;             // -c/--config-file (swagger JSON or YAML)
    std::string response_type = "json";  // --response-type json|http|html|text|svg
};
struct ApiGetFlags {
    std::string format = "json";  // --format json|yaml
    bool full = false;            // -f/--full: the whole value, not only the swagger
};
struct ApiListFlags {
    int limit = 30;
    int skip = 0;
    bool name_sort = false;  // -n/--name-sort
    bool full = false;       // -f/--full
};
[[nodiscard]] Status ApiCreate(Session& s, const std::vector<std::string>& args, const ApiFlags& f);
[[nodiscard]] Status ApiGet(Session& s, const std::vector<std::string>& args, const ApiGetFlags& f);
[[nodiscard]] Status ApiDelete(Session& s, const std::vector<std::string>& args);
[[nodiscard]] Status ApiList(Session& s, const std::vector<std::string>& args,
                             const ApiListFlags& f);

/// "Invalid argument(s). <required>" / "Invalid argument(s): a, b. <required>" (exit 1).
[[nodiscard]] Status CheckArgs(const std::vector<std::string>& args, size_t min, size_t max,
                               const std::string& required);

inline constexpr const char* kCliVersion = "wisp-0.1.0";

}  // namespace wsk
