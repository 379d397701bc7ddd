// wsk: the command tree (CLI11), configuration, and the exit code. The commands themselves are in
// <resource>_commands.cpp; see README.md for the command list and the deviations from the Go CLI.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "output.hpp"

namespace {

using wsk::Status;

const char* Getenv(const char* name) { return std::getenv(name); }

wsk::Result<std::string> ReadParamFile(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        wsk::WskError e =
            wsk::WskError::Usage("File '" + path + "' is not a valid file or it does not exist");
        e.message = "Failed to parse arguments: " + e.message;
        return e;
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int Finish(const Status& status) {
    if (!status) return 0;
    std::cerr << wsk::FormatError(*status) << std::flush;
    return status->exit_code;
}

// A bash completion script for the command tree: subcommands and flags per command path.
std::string BashCompletion(const CLI::App& root) {
    std::map<std::string, std::string> words;  // "action create" -> "--kind --main ..."
    std::function<void(const CLI::App*, const std::string&)> walk = [&](const CLI::App* app,
                                                                        const std::string& path) {
        std::string w;
        for (const CLI::App* sub : app->get_subcommands({})) {
            w += sub->get_name() + " ";
            walk(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
        }
        for (const CLI::Option* opt : app->get_options({})) {
            for (const auto& l : opt->get_lnames()) w += "--" + l + " ";
            for (const auto& sn : opt->get_snames()) w += "-" + sn + " ";
        }
        if (!w.empty()) w.pop_back();
        words[path] = w;
    };
    walk(&root, "");
    std::string out =
        "# bash completion for wsk (wsk sdk install bashauto)\n"
        "_wsk_completions() {\n"
        "    local cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
        "    local path=\"\" i\n"
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        "        case \"${COMP_WORDS[i]}\" in\n"
        "            -*) ;;\n"
        "            *) path=\"${path:+$path }${COMP_WORDS[i]}\" ;;\n"
        "        esac\n"
        "    done\n"
        "    local words=\"\"\n"
        "    case \"$path\" in\n";
    // Deepest paths first so "action create ..." wins over "action ...".
    std::vector<std::pair<std::string, std::string>> ordered(words.begin(), words.end());
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
        return std::count(a.first.begin(), a.first.end(), ' ') >
               std::count(b.first.begin(), b.first.end(), ' ');
    });
    for (const auto& [path, w] : ordered) {
        if (path.empty()) continue;
        out += "        \"" + path + "\" | \"" + path + " \"*) words=\"" + w + "\" ;;\n";
    }
    out += "        *) words=\"" + words[""] + "\" ;;\n";
    out +=
        "    esac\n"
        "    COMPREPLY=($(compgen -W \"${words}\" -- \"${cur}\"))\n"
        "}\n"
        "complete -o default -F _wsk_completions wsk\n";
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    wsk::InitColor();

    std::vector<std::string> args(argv, argv + argc);
    auto kv = wsk::ExtractKeyValueArgs(args, ReadParamFile);
    if (!kv.ok()) return Finish(kv.error());

    wsk::Session s;
    s.out = &std::cout;
    s.err = &std::cerr;
    s.kv = *kv;

    CLI::App app{"OpenWhisk cloud computing command line interface.", "wsk"};
    app.option_defaults()->always_capture_default(false);
    app.add_flag("-v,--verbose", s.flags.verbose, "verbose output");
    app.add_flag("-d,--debug", s.flags.debug, "debug level output");
    app.add_option("--cert", s.flags.cert, "client cert");
    app.add_option("--key", s.flags.key, "client key");
    app.add_option("-u,--auth", s.flags.auth, "authorization KEY");
    app.add_option("--apihost", s.flags.apihost, "whisk API HOST");
    app.add_option("--apiversion", s.flags.apiversion, "whisk API VERSION");
    app.add_flag("-i,--insecure", s.flags.insecure, "bypass certificate checking");
    app.fallthrough();
    app.set_help_all_flag("--help-all", "help for all commands");

    std::function<Status()> run;
    std::vector<std::string> pos;
    auto leaf = [&](CLI::App* parent, const std::string& name, const std::string& desc,
                    std::function<Status()> fn) {
        CLI::App* c = parent->add_subcommand(name, desc);
        c->add_option("args", pos, "arguments");
        c->callback([&run, fn] { run = fn; });
        return c;
    };
    auto group = [&](const std::string& name, const std::string& desc) {
        CLI::App* g = app.add_subcommand(name, desc);
        g->fallthrough();
        return g;
    };

    // ---- action
    wsk::ActionFlags af;
    std::optional<int> timeout, memory, logsize, concurrency;
    std::string web, web_secure;
    auto action = group("action", "work with actions");
    for (bool update : {false, true}) {
        auto c = leaf(action, update ? "update" : "create",
                      update ? "update an existing action, or create an action if it does not exist"
                             : "create a new action",
                      [&, update]() -> Status {
                          af.timeout = timeout;
                          af.memory = memory;
                          af.logsize = logsize;
                          af.concurrency = concurrency;
                          if (!web.empty()) af.web = web;
                          if (!web_secure.empty()) af.web_secure = web_secure;
                          return wsk::ActionCreate(s, pos, af, update);
                      });
        c->add_flag("--native", af.exec.native,
                    "treat ACTION as native action (zip file provides a compatible executable "
                    "to run)");
        c->add_option("--docker", af.exec.docker,
                      "use provided docker image (a path on DockerHub) to run the action");
        c->add_flag("--copy", af.copy, "treat ACTION as the name of an existing action");
        c->add_flag("--sequence", af.exec.sequence,
                    "treat ACTION as comma separated sequence of actions to invoke");
        c->add_option("--kind", af.exec.kind,
                      "the KIND of the action runtime (example: swift:default, nodejs:default)");
        c->add_option("--main", af.exec.main, "the name of the action entry point");
        c->add_option("-t,--timeout", timeout,
                      "the timeout LIMIT in milliseconds after which the action is terminated");
        c->add_option("-m,--memory", memory, "the maximum memory LIMIT in MB for the action");
        c->add_option("-l,--logsize", logsize, "the maximum log size LIMIT in MB for the action");
        c->add_option("-c,--concurrency", concurrency,
                      "the maximum intra-container concurrent activation LIMIT for the action");
        c->add_option("--web", web,
                      "treat ACTION as a web action, a raw HTTP web action, or as a standard "
                      "action; yes | true = web action, raw = raw HTTP web action, no | false = "
                      "standard action");
        c->add_option("--web-secure", web_secure,
                      "secure the web action. where SECRET is true, false, or any string. Only "
                      "valid when the ACTION is a web action");
        if (update) {
            c->add_option("--del-annotation", af.del_annotations,
                          "the list of annotations to be deleted from the action");
        }
    }
    bool blocking = false, result = false;
    {
        auto c = leaf(action, "invoke", "invoke action",
                      [&] { return wsk::ActionInvoke(s, pos, blocking, result); });
        c->add_flag("-b,--blocking", blocking, "blocking invoke");
        c->add_flag("-r,--result", result,
                    "blocking invoke; show only activation result (unless there is a failure)");
    }
    wsk::ActionGetFlags agf;
    std::string save_as;
    {
        auto c = leaf(action, "get", "get action", [&] {
            if (!save_as.empty()) agf.save_as = save_as;
            return wsk::ActionGet(s, pos, agf);
        });
        c->add_flag("-s,--summary", agf.summary,
                    "summarize action details; parameters with prefix \"*\" are bound, \"**\" are "
                    "bound and finalized");
        c->add_flag("-r,--url", agf.url, "get action url");
        c->add_option("--save-as", save_as, "file to save action code to");
        c->add_flag("--save", agf.save, "save action code to file corresponding with action name");
    }
    leaf(action, "delete", "delete action", [&] { return wsk::ActionDelete(s, pos); });
    wsk::ListFlags lf;
    auto list_flags = [&](CLI::App* c, const std::string& what) {
        c->add_option("-s,--skip", lf.skip,
                      "exclude the first SKIP number of " + what + " from the result");
        c->add_option("-l,--limit", lf.limit,
                      "only return LIMIT number of " + what + " from the collection");
        c->add_flag("-n,--name-sort", lf.name_sort, "sorts a list alphabetically by entity name");
    };
    list_flags(
        leaf(action, "list", "list all actions in a namespace or actions contained in a package",
             [&] { return wsk::ActionList(s, pos, lf); }),
        "actions");

    // ---- trigger
    std::string feed;
    bool summary = false;
    auto trigger = group("trigger", "work with triggers");
    for (bool update : {false, true}) {
        auto c =
            leaf(trigger, update ? "update" : "create",
                 update ? "update an existing trigger, or create a trigger if it does not exist"
                        : "create new trigger",
                 [&, update] { return wsk::TriggerCreate(s, pos, feed, update); });
        if (!update) c->add_option("-f,--feed", feed, "trigger feed ACTION_NAME");
    }
    leaf(trigger, "fire", "fire trigger event", [&] { return wsk::TriggerFire(s, pos); });
    leaf(trigger, "get", "get trigger", [&] {
        return wsk::TriggerGet(s, pos, summary);
    })->add_flag("-s,--summary", summary, "summarize trigger details");
    leaf(trigger, "delete", "delete trigger", [&] { return wsk::TriggerDelete(s, pos); });
    list_flags(
        leaf(trigger, "list", "list all triggers", [&] { return wsk::TriggerList(s, pos, lf); }),
        "triggers");

    // ---- rule
    bool disable = false;
    auto rule = group("rule", "work with rules");
    leaf(rule, "create", "create new rule", [&] { return wsk::RuleCreate(s, pos, false); });
    leaf(rule, "update", "update an existing rule, or create a rule if it does not exist",
         [&] { return wsk::RuleCreate(s, pos, true); });
    leaf(rule, "enable", "enable rule", [&] { return wsk::RuleSetState(s, pos, true); });
    leaf(rule, "disable", "disable rule", [&] { return wsk::RuleSetState(s, pos, false); });
    leaf(rule, "status", "get rule status", [&] { return wsk::RuleStatus(s, pos); });
    leaf(rule, "get", "get rule", [&] {
        return wsk::RuleGet(s, pos, summary);
    })->add_flag("-s,--summary", summary, "summarize rule details");
    leaf(rule, "delete", "delete rule", [&] {
        return wsk::RuleDelete(s, pos, disable);
    })->add_flag("--disable", disable, "automatically disable rule before deleting it");
    list_flags(leaf(rule, "list", "list all rules", [&] { return wsk::RuleList(s, pos, lf); }),
               "rules");

    // ---- activation
    wsk::ActivationFlags actf;
    auto activation = group("activation", "work with activations");
    {
        auto c = leaf(activation, "list", "list activations",
                      [&] { return wsk::ActivationList(s, pos, actf); });
        c->add_option("-s,--skip", actf.skip,
                      "exclude the first SKIP number of activations from the result");
        c->add_option("-l,--limit", actf.limit,
                      "only return LIMIT number of activations from the collection with a "
                      "maximum LIMIT of 200 activations");
        c->add_flag("-f,--full", actf.full, "include full activation description");
        c->add_option("--upto", actf.upto,
                      "return activations with timestamps earlier than UPTO; measured in "
                      "milliseconds since Th, 01, Jan 1970");
        c->add_option("--since", actf.since,
                      "return activations with timestamps later than SINCE; measured in "
                      "milliseconds since Th, 01, Jan 1970");
    }
    {
        auto c = leaf(activation, "get", "get activation",
                      [&] { return wsk::ActivationGet(s, pos, actf); });
        c->add_flag("-s,--summary", actf.summary, "summarize activation details");
        c->add_flag("-l,--last", actf.last, "retrieves the last activation");
        c->add_flag("-g,--logs", actf.logs,
                    "emit only the logs, stripped of time stamps and stream identifier");
    }
    {
        auto c = leaf(activation, "logs", "get the logs of an activation",
                      [&] { return wsk::ActivationLogs(s, pos, actf); });
        c->add_flag("-l,--last", actf.last, "retrieves the last activation");
        c->add_flag("-r,--strip", actf.strip, "strip timestamp and stream information");
    }
    leaf(activation, "result", "get the result of an activation", [&] {
        return wsk::ActivationResult(s, pos, actf);
    })->add_flag("-l,--last", actf.last, "retrieves the last activation");
    {
        auto c = leaf(activation, "poll",
                      "poll continuously for log messages from currently running actions",
                      [&] { return wsk::ActivationPoll(s, pos, actf); });
        c->add_option("-e,--exit", actf.exit_after, "stop polling after SECONDS seconds");
        c->add_option("--since-seconds", actf.since_seconds,
                      "start polling for activations SECONDS seconds ago");
        c->add_option("--since-minutes", actf.since_minutes,
                      "start polling for activations MINUTES minutes ago");
        c->add_option("--since-hours", actf.since_hours,
                      "start polling for activations HOURS hours ago");
        c->add_option("--since-days", actf.since_days,
                      "start polling for activations DAYS days ago");
    }

    // ---- package
    std::string shared;
    bool overwrite = false;
    auto package = group("package", "work with packages");
    for (bool update : {false, true}) {
        leaf(package, update ? "update" : "create",
             update ? "update an existing package, or create a package if it does not exist"
                    : "create a new package",
             [&, update] { return wsk::PackageCreate(s, pos, shared, update); })
            ->add_option("--shared", shared,
                         "package visibility SCOPE; yes = shared, no = private");
    }
    leaf(package, "bind", "bind parameters to a package", [&] {
        return wsk::PackageBind(s, pos, overwrite);
    })->add_flag("-o,--overwrite", overwrite, "overwrite bind");
    leaf(package, "get", "get package", [&] {
        return wsk::PackageGet(s, pos, summary);
    })->add_flag("-s,--summary", summary, "summarize package details");
    leaf(package, "delete", "delete package", [&] { return wsk::PackageDelete(s, pos); });
    list_flags(
        leaf(package, "list", "list all packages", [&] { return wsk::PackageList(s, pos, lf); }),
        "packages");

    // ---- namespace, list
    auto ns = group("namespace", "work with namespaces");
    leaf(ns, "list", "list available namespaces", [&] { return wsk::NamespaceList(s, pos); });
    leaf(ns, "get", "get triggers, actions, and rules in the registry for namespace", [&] {
        return wsk::NamespaceGet(s, pos, lf.name_sort);
    })->add_flag("-n,--name-sort", lf.name_sort, "sorts a list alphabetically by entity name");
    leaf(&app, "list", "list entities in the current namespace", [&] {
        return wsk::NamespaceGet(s, pos, lf.name_sort);
    })->add_flag("-n,--name-sort", lf.name_sort, "sorts a list alphabetically by entity name");

    // ---- property
    wsk::PropertyFlags pf;
    auto property = group("property", "work with whisk properties");
    leaf(property, "set", "set property", [&] { return wsk::PropertySet(s); });
    {
        auto c =
            leaf(property, "unset", "unset property", [&] { return wsk::PropertyUnset(s, pf); });
        c->add_flag("--cert", pf.cert, "client cert");
        c->add_flag("--key", pf.key, "Client key");
        c->add_flag("--auth", pf.auth, "authorization key");
        c->add_flag("--apihost", pf.apihost, "whisk API host");
        c->add_flag("--apiversion", pf.apiversion, "whisk API version");
        c->add_flag("--namespace", pf.ns, "whisk namespace");
    }
    {
        auto c = leaf(property, "get", "get property", [&] { return wsk::PropertyGet(s, pf); });
        c->add_flag("--cert", pf.cert, "client cert");
        c->add_flag("--key", pf.key, "Client key");
        c->add_flag("--auth", pf.auth, "authorization key");
        c->add_flag("--apihost", pf.apihost, "whisk API host");
        c->add_flag("--apiversion", pf.apiversion, "whisk API version");
        c->add_flag("--apibuild", pf.apibuild, "whisk API build version");
        c->add_flag("--apibuildno", pf.apibuildno, "whisk API build number");
        c->add_flag("--cliversion", pf.cliversion, "whisk CLI version");
        c->add_flag("--namespace", pf.ns, "whisk namespace");
        c->add_flag("--all", pf.all, "all properties");
        c->add_option("-o,--output", pf.output, "Output format in std|raw");
    }

    // ---- api (API routes)
    wsk::ApiFlags apif;
    wsk::ApiGetFlags apigf;
    wsk::ApiListFlags apilf;
    auto api = group("api", "work with APIs");
    // One subcommand only: a verb argument ("get", "delete") is then not taken for `api get`.
    api->require_subcommand(0, 1);
    {
        auto c =
            leaf(api, "create", "create a new API", [&] { return wsk::ApiCreate(s, pos, apif); });
        c->add_option("-n,--apiname", apif.api_name,
                      "Friendly name of the API; ignored when CFG_FILE is specified (default "
                      "BASE_PATH)");
        c->add_option("-c,--config-file", apif.config_file,
                      "CFG_FILE containing API configuration in swagger JSON format");
        c->add_option("--response-type", apif.response_type,
                      "Set the web action response TYPE. Possible values are html, http, json, "
                      "text, svg");
        c = leaf(api, "get", "get API details", [&] { return wsk::ApiGet(s, pos, apigf); });
        c->add_flag("-f,--full", apigf.full, "display full API configuration details");
        c->add_option("--format", apigf.format, "Specify the API output TYPE, either json or yaml");
        leaf(api, "delete", "delete an API", [&] { return wsk::ApiDelete(s, pos); });
        c = leaf(api, "list", "list APIs", [&] { return wsk::ApiList(s, pos, apilf); });
        c->add_option("-s,--skip", apilf.skip,
                      "exclude the first SKIP number of actions from the result");
        c->add_option("-l,--limit", apilf.limit,
                      "only return LIMIT number of actions from the collection");
        c->add_flag("-n,--name-sort", apilf.name_sort,
                    "sorts a list alphabetically by order of [BASE_PATH | API_NAME], API_PATH, "
                    "then API_VERB; only applicable within the limit/skip returned entity block");
        c->add_flag("-f,--full", apilf.full, "display full description of each API");
    }

    // ---- project (wskdeploy manifests)
    wsk::ProjectFlags projf;
    auto project = group("project", "The OpenWhisk Project Management Tool");
    for (bool deploy : {true, false}) {
        auto c =
            leaf(project, deploy ? "deploy" : "undeploy",
                 deploy ? "Deploy an OpenWhisk project (manifest.yaml)"
                        : "Undeploy an OpenWhisk project (by manifest or --projectname)",
                 [&, deploy]() -> Status {
                     if (auto e = wsk::CheckArgs(pos, 0, 0, "No arguments are expected.")) {
                         return e;
                     }
                     return deploy ? wsk::ProjectDeploy(s, projf) : wsk::ProjectUndeploy(s, projf);
                 });
        c->add_option("-m,--manifest", projf.manifest, "path to manifest file");
        c->add_option("-d,--deployment", projf.deployment, "path to deployment file");
        c->add_option("--project", projf.project_dir, "path to the project folder (default .)");
        c->add_option("--projectname", projf.project_name, "name of the project");
        c->add_flag("-v,--verbose", projf.verbose, "verbose output (Info: and Warning: lines)");
    }

    // ---- sdk
    bool to_stdout = false;
    auto sdk = group("sdk", "work with the sdk");
    leaf(sdk, "install",
         "install SDK artifacts, where valid COMPONENT values are docker, ios, and bashauto",
         [&]() -> Status {
             if (pos.empty()) {
                 return wsk::WskError::General(
                     "The SDK component argument is missing. One component (docker, ios, or "
                     "bashauto) must be specified",
                     true);
             }
             if (pos[0] != "bashauto") {
                 if (pos[0] == "docker" || pos[0] == "ios") {
                     return wsk::WskError::General("The " + pos[0] +
                                                   " SDK installation failed: not available "
                                                   "from this client (Wisp ships no SDK archives)");
                 }
                 return wsk::WskError::General(
                     "The SDK component argument '" + pos[0] +
                         "' is invalid. Valid components are docker, ios and bashauto",
                     true);
             }
             const std::string script = BashCompletion(app);
             if (to_stdout) {
                 std::cout << script;
                 return std::nullopt;
             }
             const std::string file = "wsk_cli_bash_completion.sh";
             std::ofstream out(file);
             out << script;
             if (!out) {
                 return wsk::WskError::General("Unable to generate '" + file + "': write failed");
             }
             std::cout << "The bash auto-completion script (" << file
                       << ") is installed in the current directory.\nTo enable command line "
                          "completion of wsk commands, source the auto completion script into "
                          "your bash environment\n";
             return std::nullopt;
         })
        ->add_flag("-s,--stdout", to_stdout, "prints bash command completion script to stdout");

    std::vector<const char*> cargv;
    for (const auto& a : args) cargv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(cargv.size()), cargv.data());
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        return Finish(wsk::WskError{e.what(), wsk::kExitUsage, true});
    }

    if (!run) {
        // A group without a command (`wsk action`): its help, as cobra prints it.
        const CLI::App* chosen = &app;
        while (true) {
            auto subs = chosen->get_subcommands();
            if (subs.empty()) break;
            chosen = subs.front();
        }
        std::cout << chosen->help();
        return 0;
    }

    const wsk::Props props = wsk::ReadPropsFile(wsk::PropsFilePath(Getenv));
    s.config = wsk::ResolveConfig(props, s.flags, Getenv);
    s.config.props_file = wsk::PropsFilePath(Getenv);
    s.client = std::make_unique<wsk::WhiskClient>(s.config);
    const int rc = Finish(run());
    curl_global_cleanup();
    return rc;
}
