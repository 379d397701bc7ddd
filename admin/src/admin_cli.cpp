// Argument parsing for wisp-admin (CLI11), store selection, and dispatch to AdminCommands.
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <CLI/CLI.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/admin/invoker_admin.hpp>
#include <wisp/cluster/cache_invalidation.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::admin {

namespace {

constexpr std::string_view kProgram = "wisp-admin";
constexpr std::string_view kDefaultStoreFile = ".wisp/wisp.db";

// wskadmin (Python argparse) spells the namespace option "-ns", which CLI11 would read as "-n"
// with the value "s": rewrite it to "--namespace" before parsing.
std::vector<std::string> RewriteLegacyOptions(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    out.reserve(args.size());
    bool after_dashdash = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (i == 0 || after_dashdash) {
            out.push_back(a);
            continue;
        }
        if (a == "--") after_dashdash = true;
        if (a == "-ns") {
            out.emplace_back("--namespace");
        } else if (a.starts_with("-ns=")) {
            out.push_back("--namespace=" + a.substr(4));
        } else {
            out.push_back(a);
        }
    }
    return out;
}

// "wisp-admin user create": the commands parsed before an error, for the --help hint.
std::string CommandPath(const CLI::App& app) {
    std::string path(kProgram);
    const CLI::App* cur = &app;
    while (true) {
        auto subs = cur->get_subcommands();
        if (subs.empty()) break;
        cur = subs.front();
        path += " " + cur->get_name();
    }
    return path;
}

[[nodiscard]] absl::StatusOr<bool> ParseBool(std::string_view s) {
    std::string v(s);
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v == "yes" || v == "true") return true;
    if (v == "no" || v == "false") return false;
    return absl::InvalidArgumentError(std::string(s) + " is not a valid boolean.");
}

// A usage error found after CLI11 accepted the syntax (a value's content is wrong).
int UsageError(std::ostream& err, std::string_view command, std::string_view message) {
    err << kProgram << ": error: " << message << "\n";
    err << "Run '" << command << " --help' for more information.\n";
    return kExitUsage;
}

// CLI11's NonNegativeNumber prints its range up to DBL_MAX; say it plainly.
CLI::Validator NonNegative() {
    return CLI::Validator(
        [](std::string& value) -> std::string {
            std::string_view v = value;
            while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) {
                v.remove_prefix(1);
            }
            if (!v.empty() && v.front() == '-') return "must not be negative, got " + value;
            return {};
        },
        "N>=0");
}

enum class Command {
    kNone,
    kInit,
    kUserCreate,
    kUserGet,
    kUserDelete,
    kUserList,
    kUserWhois,
    kUserBlock,
    kUserUnblock,
    kLimitsSet,
    kLimitsGet,
    kLimitsDelete,
    kInvoker,
};

std::string EnvOr(const std::string& value, const char* name) {
    if (!value.empty()) return value;
    const char* env = std::getenv(name);
    return env != nullptr ? env : "";
}

std::string TrimSpace(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

}  // namespace

std::string ResolveStoreUri(const std::optional<std::string>& flag) {
    // CouchDB credentials may come from the environment, as for the components (they stay out
    // of process listings and survive URL-special characters).
    const auto with_credentials = [](std::string uri) {
        if (!uri.starts_with("couchdb:")) return uri;
        const char* user = std::getenv("WISP_STORE_USER");
        const char* password = std::getenv("WISP_STORE_PASSWORD");
        return common::WithUserInfo(uri, user != nullptr ? user : "",
                                    password != nullptr ? password : "");
    };
    if (flag && !flag->empty()) return with_credentials(*flag);
    if (const char* env = std::getenv("WISP_STORE"); env != nullptr && *env != '\0') {
        return with_credentials(env);
    }
    const char* home = std::getenv("HOME");
    std::filesystem::path base = (home != nullptr && *home != '\0') ? home : ".";
    return "sqlite:" + (base / kDefaultStoreFile).string();
}

int RunAdmin(const std::vector<std::string>& raw_args, std::ostream& out, std::ostream& err,
             const StoreOpener& open, const BusOpener& open_bus) {
    const std::vector<std::string> args = RewriteLegacyOptions(raw_args);

    CLI::App app{
        "Wisp admin command line tool: manages subjects, keys and namespace limits "
        "directly in the store (OpenWhisk's wskadmin).",
        std::string(kProgram)};
    app.require_subcommand(1);
    app.fallthrough();  // --store and -v are accepted after the command too

    std::string store_flag;
    bool verbose = false;
    app.add_option("--store", store_flag,
                   "the store: sqlite:PATH or couchdb:http://user:password@host:port "
                   "(default: $WISP_STORE, else sqlite:$HOME/.wisp/wisp.db; CouchDB "
                   "credentials may come from WISP_STORE_USER/WISP_STORE_PASSWORD instead)");
    app.add_flag("-v,--verbose", verbose, "verbose output");
    BusOptions bus_options;
    app.add_option("--kafka", bus_options.bootstrap,
                   "Kafka bootstrap servers (host:port[,...]) of a distributed deployment: key "
                   "and limit changes are announced on its cacheInvalidation topic, so running "
                   "controllers see them at once (default: $WISP_KAFKA; without it they see "
                   "them when their auth cache expires, within 5 s)");
    app.add_option("--topic-prefix", bus_options.topic_prefix,
                   "the deployment's Kafka topic prefix, as given to its components (default: "
                   "$WISP_TOPIC_PREFIX)");

    Command cmd = Command::kNone;
    auto on = [&cmd](CLI::App* sub, Command c) {
        sub->fallthrough();
        sub->callback([&cmd, c] { cmd = c; });
    };

    // ---- init
    CLI::App* init = app.add_subcommand(
        "init", "create the well-known guest and whisk.system subjects and their keys");
    on(init, Command::kInit);
    bool random_keys = false;
    init->add_flag("--random-keys", random_keys,
                   "random keys instead of OpenWhisk's well-known ones (for a deployment others "
                   "can reach): for the subjects it creates and in place of a well-known key "
                   "found; other keys are kept. Print them with: wisp-admin user get guest");

    // ---- user
    CLI::App* user = app.add_subcommand("user", "manage users");
    user->require_subcommand(1);
    user->fallthrough();

    CreateUserOptions create_opts;
    std::string create_ns, create_auth;
    CLI::App* create = user->add_subcommand("create", "create a user and show authorization key");
    create->add_option("subject", create_opts.subject, "the subject to create")->required();
    CLI::Option* create_auth_opt = create->add_option(
        "-u,--auth", create_auth, "the uuid:key to initialize the subject authorization key with");
    CLI::Option* create_ns_opt =
        create->add_option("--namespace", create_ns,
                           "create key for given namespace instead (defaults to subject id); "
                           "also spelled -ns");
    create->add_flag("-r,--revoke", create_opts.revoke,
                     "revoke the existing key of the namespace and create a new one");
    create->add_flag("-g,--genonly", create_opts.gen_only,
                     "generate a uuid and key but do not store them");
    create->add_flag("-s,--silent", create_opts.silent, "do not show the new key on the console");
    on(create, Command::kUserCreate);

    std::string subject, user_ns;
    bool all = false;
    CLI::App* get = user->add_subcommand("get", "get authorization key for user");
    get->add_option("subject", subject, "the subject to get key for")->required();
    CLI::Option* get_ns_opt = get->add_option(
        "--namespace", user_ns,
        "the namespace to get the key for, defaults to subject id; also spelled -ns");
    get->add_flag("-a,--all", all, "list all namespaces and their keys");
    on(get, Command::kUserGet);

    CLI::App* del = user->add_subcommand("delete", "delete a user");
    del->add_option("subject", subject, "the subject to delete")->required();
    CLI::Option* del_ns_opt = del->add_option(
        "--namespace", user_ns, "delete key for given namespace only; also spelled -ns");
    on(del, Command::kUserDelete);

    ListUsersOptions list_opts;
    CLI::App* list =
        user->add_subcommand("list", "list authorization keys associated with a namespace");
    list->add_option("namespace", list_opts.namespace_name, "the namespace to lookup")->required();
    list->add_option("-p,--pick", list_opts.pick, "show no more than N identities (default 1)");
    list->add_flag("-a,--all", list_opts.all, "show all identities");
    list->add_flag("-k,--key", list_opts.keys_only, "show only the keys");
    on(list, Command::kUserList);

    std::string whois_key;
    CLI::App* whois = user->add_subcommand("whois", "identify user from an authorization key");
    whois->add_option("authkey", whois_key, "the credentials to look up 'uuid:key'")->required();
    on(whois, Command::kUserWhois);

    std::vector<std::string> subjects;
    CLI::App* block = user->add_subcommand("block", "block one or more users");
    block->add_option("subjects", subjects, "one or more users to block")->required();
    on(block, Command::kUserBlock);
    CLI::App* unblock = user->add_subcommand("unblock", "unblock one or more users");
    unblock->add_option("subjects", subjects, "one or more users to unblock")->required();
    on(unblock, Command::kUserUnblock);

    // ---- limits
    CLI::App* limits = app.add_subcommand("limits", "manage namespace-specific limits");
    limits->require_subcommand(1);
    limits->fallthrough();

    std::string limits_ns;
    common::NamespaceLimits given;
    std::string store_activations, max_parameter_size, max_payload_size, truncation_size;
    CLI::App* set = limits->add_subcommand("set", "set limits for a given namespace");
    set->add_option("namespace", limits_ns, "the namespace to set limits for")->required();
    struct IntLimit {
        const char* name;
        std::optional<int64_t>* field;
        const char* help;
    };
    int64_t int_values[12] = {};
    const IntLimit int_limits[] = {
        {"--invocationsPerMinute", &given.invocations_per_minute, "invocations per minute allowed"},
        {"--firesPerMinute", &given.fires_per_minute, "trigger fires per minute allowed"},
        {"--concurrentInvocations", &given.concurrent_invocations,
         "concurrent invocations allowed for this namespace"},
        {"--minActionMemory", &given.min_action_memory,
         "minimum action memory size for this namespace (MB)"},
        {"--maxActionMemory", &given.max_action_memory,
         "maximum action memory size for this namespace (MB)"},
        {"--minActionLogs", &given.min_action_logs,
         "minimum activation log size for this namespace (MB)"},
        {"--maxActionLogs", &given.max_action_logs,
         "maximum activation log size for this namespace (MB)"},
        {"--minActionTimeout", &given.min_action_timeout,
         "minimum action time limit for this namespace (ms)"},
        {"--maxActionTimeout", &given.max_action_timeout,
         "maximum action time limit for this namespace (ms)"},
        {"--minActionConcurrency", &given.min_action_concurrency,
         "minimum action concurrency limit for this namespace"},
        {"--maxActionConcurrency", &given.max_action_concurrency,
         "maximum action concurrency limit for this namespace"},
        {"--maxKeepWarm", &given.max_keep_warm,
         "largest keep-warm annotation (initialised containers kept per action) for this "
         "namespace (Wisp's own; default 2)"},
    };
    static_assert(std::size(int_limits) == std::size(int_values));
    std::vector<CLI::Option*> int_options;
    for (size_t i = 0; i < std::size(int_limits); ++i) {
        int_options.push_back(set->add_option(int_limits[i].name, int_values[i], int_limits[i].help)
                                  ->check(NonNegative()));
    }
    std::vector<std::string> allowed_kinds;
    CLI::Option* kinds_opt =
        set->add_option(
               "--allowedKinds", allowed_kinds,
               "list of runtime kinds allowed in this namespace (space or comma separated)")
            ->delimiter(',');
    CLI::Option* store_act_opt =
        set->add_option("--storeActivations", store_activations,
                        "enable or disable storing of activations for this namespace (true|false)");
    CLI::Option* param_size_opt =
        set->add_option("--maxParameterSize", max_parameter_size,
                        "maximum parameter size for this namespace (e.g. \"1 MB\")");
    CLI::Option* payload_size_opt =
        set->add_option("--maxPayloadSize", max_payload_size,
                        "maximum payload size for this namespace (e.g. \"1 MB\")");
    CLI::Option* truncation_opt =
        set->add_option("--truncationSize", truncation_size,
                        "activation truncation size for this namespace (e.g. \"1 MB\")");
    on(set, Command::kLimitsSet);

    CLI::App* limits_get = limits->add_subcommand(
        "get", "get limits for a given namespace (if none exist, system defaults apply)");
    limits_get->add_option("namespace", limits_ns, "the namespace to get limits for")->required();
    on(limits_get, Command::kLimitsGet);

    CLI::App* limits_del = limits->add_subcommand(
        "delete", "delete limits for a given namespace (system defaults apply)");
    limits_del->add_option("namespace", limits_ns, "the namespace to delete limits for")
        ->required();
    on(limits_del, Command::kLimitsDelete);

    // ---- invoker (the invokers' control service; no store)
    CLI::App* invoker = app.add_subcommand(
        "invoker",
        "list the invokers of a distributed deployment, show their status, drain "
        "or enable them (their InvokerControl gRPC service)");
    invoker->require_subcommand(1);
    invoker->fallthrough();
    InvokerAdminOptions inv;
    std::string control_token, control_token_file;
    int64_t wait_timeout_s = 600, listen_ms = 2500;
    invoker->add_option("--invoker", inv.endpoints,
                        "HOST:PORT of an invoker's control service (repeatable; "
                        "`wisp-admin invoker list` shows them)");
    invoker->add_flag("--all", inv.all,
                      "every invoker pinging on the health topic (needs --kafka)");
    invoker->add_flag("--json", inv.json, "print JSON instead of a table");
    invoker->add_option("--control-token", control_token,
                        "the invokers' control token (default: $WISP_CONTROL_TOKEN)");
    invoker->add_option("--control-token-file", control_token_file,
                        "a file whose first line is the control token (default: "
                        "$WISP_CONTROL_TOKEN_FILE)");
    invoker
        ->add_option("--listen-ms", listen_ms,
                     "how long list and --all listen to the health topic (default 2500)")
        ->check(NonNegative());
    struct InvokerSub {
        const char* name;
        const char* help;
        InvokerAction action;
    };
    CLI::App* drain_cmd = nullptr;
    for (const InvokerSub& sub : {
             InvokerSub{"list", "the invokers pinging on health: endpoint, pings enabled or not",
                        InvokerAction::kList},
             InvokerSub{"status",
                        "state (enabled, draining, drained), in-flight, buffered, memory and "
                        "containers of --invoker HOST:PORT or --all",
                        InvokerAction::kStatus},
             InvokerSub{"drain",
                        "take no new work (pings say disabled), finish what is in flight; "
                        "--wait until drained",
                        InvokerAction::kDrain},
             InvokerSub{"enable", "take work again", InvokerAction::kEnable},
         }) {
        CLI::App* c = invoker->add_subcommand(sub.name, sub.help);
        c->fallthrough();
        c->callback([&cmd, &inv, action = sub.action] {
            cmd = Command::kInvoker;
            inv.action = action;
        });
        if (sub.action == InvokerAction::kDrain) drain_cmd = c;
    }
    drain_cmd->add_flag("--wait", inv.wait, "wait until every invoker is drained, with progress");
    drain_cmd->add_option("--timeout", wait_timeout_s, "--wait gives up after SECONDS (600)")
        ->check(NonNegative());

    // ---- parse
    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());
        if (!reversed.empty()) reversed.pop_back();  // the program name
        app.parse(reversed);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        return UsageError(err, CommandPath(app), e.what());
    }
    const std::string command_path = CommandPath(app);

    if (cmd == Command::kInvoker) {
        bus_options.bootstrap = EnvOr(bus_options.bootstrap, "WISP_KAFKA");
        bus_options.topic_prefix = EnvOr(bus_options.topic_prefix, "WISP_TOPIC_PREFIX");
        inv.topic_prefix = bus_options.topic_prefix;
        inv.listen = std::chrono::milliseconds(listen_ms);
        inv.wait_timeout = std::chrono::seconds(wait_timeout_s);
        inv.token = TrimSpace(EnvOr(control_token, "WISP_CONTROL_TOKEN"));
        const std::string token_file = EnvOr(control_token_file, "WISP_CONTROL_TOKEN_FILE");
        if (inv.token.empty() && !token_file.empty()) {
            std::ifstream in(token_file);
            std::string line;
            if (!in || !std::getline(in, line) || TrimSpace(line).empty()) {
                err << kProgram << ": cannot read a control token from " << token_file
                    << ": write the token on its first line, or pass --control-token\n";
                return kExitFailure;
            }
            inv.token = TrimSpace(line);
        }
        std::unique_ptr<messaging::MessagingProvider> invoker_bus;
        if ((inv.action == InvokerAction::kList || inv.all) && !bus_options.bootstrap.empty()) {
            if (!open_bus) {
                return UsageError(err, command_path, "--kafka is not supported by this program");
            }
            auto opened = open_bus(bus_options);
            if (!opened.ok()) {
                err << kProgram << ": cannot reach Kafka at " << bus_options.bootstrap << ": "
                    << opened.status().message() << "\n";
                return kExitFailure;
            }
            invoker_bus = std::move(*opened);
        }
        return RunInvokerCommand(inv, invoker_bus.get(), out, err);
    }

    // Values whose content CLI11 cannot check.
    if (cmd == Command::kLimitsSet) {
        for (size_t i = 0; i < std::size(int_limits); ++i) {
            if (int_options[i]->count() > 0) *int_limits[i].field = int_values[i];
        }
        if (kinds_opt->count() > 0) given.allowed_kinds = allowed_kinds;
        if (store_act_opt->count() > 0) {
            auto b = ParseBool(store_activations);
            if (!b.ok()) {
                return UsageError(
                    err, command_path,
                    "argument --storeActivations: " + std::string(b.status().message()));
            }
            given.store_activations = *b;
        }
        const std::pair<CLI::Option*, std::pair<const std::string*, std::optional<int64_t>*>>
            sizes[] = {
                {param_size_opt, {&max_parameter_size, &given.max_parameter_size}},
                {payload_size_opt, {&max_payload_size, &given.max_payload_size}},
                {truncation_opt, {&truncation_size, &given.truncation_size}},
            };
        for (const auto& [opt, target] : sizes) {
            if (opt->count() == 0) continue;
            auto bytes = ParseByteSize(*target.first);
            if (!bytes.ok()) {
                return UsageError(
                    err, command_path,
                    "argument " + opt->get_name() + ": " + std::string(bytes.status().message()));
            }
            *target.second = *bytes;
        }
    }
    if (cmd == Command::kUserCreate) {
        if (create_ns_opt->count() > 0) create_opts.namespace_name = create_ns;
        if (create_auth_opt->count() > 0) create_opts.auth = create_auth;
    }
    std::optional<std::string> ns_opt;
    if (get_ns_opt->count() > 0 || del_ns_opt->count() > 0) ns_opt = user_ns;

    // `user create -g` only generates a key: no store needed.
    if (cmd == Command::kUserCreate && create_opts.gen_only) {
        std::optional<common::AuthKey> key =
            AdminCommands::ResolveCredentials(create_opts.auth, err);
        if (!key) return kExitUsage;
        out << key->Compact() << "\n";
        return kExitOk;
    }

    // ---- the bus: commands that change keys or limits announce what they changed.
    std::vector<std::string> changed;  // subjects, or a namespace for its limits
    bool note_without_bus = true;      // a cached key may be stale until the TTL
    switch (cmd) {
        case Command::kUserCreate:
            changed = {create_opts.subject};
            note_without_bus = create_opts.revoke;  // a new key is in nobody's cache
            break;
        case Command::kUserDelete:
            changed = {subject};
            break;
        case Command::kUserBlock:
        case Command::kUserUnblock:
            changed = subjects;
            break;
        case Command::kLimitsSet:
        case Command::kLimitsDelete:
            changed = {limits_ns};
            break;
        default:
            break;
    }
    if (bus_options.bootstrap.empty()) {
        if (const char* env = std::getenv("WISP_KAFKA"); env != nullptr) {
            bus_options.bootstrap = env;
        }
    }
    if (bus_options.topic_prefix.empty()) {
        if (const char* env = std::getenv("WISP_TOPIC_PREFIX"); env != nullptr) {
            bus_options.topic_prefix = env;
        }
    }
    std::unique_ptr<messaging::MessagingProvider> bus;
    if (!changed.empty() && !bus_options.bootstrap.empty()) {
        if (!open_bus) {
            return UsageError(err, command_path, "--kafka is not supported by this program");
        }
        auto opened = open_bus(bus_options);
        if (!opened.ok()) {
            err << kProgram << ": cannot reach Kafka at " << bus_options.bootstrap << ": "
                << opened.status().message() << " (nothing was changed)\n";
            return kExitFailure;
        }
        bus = std::move(*opened);
    }

    // ---- store
    const std::optional<std::string> flag =
        store_flag.empty() ? std::nullopt : std::optional<std::string>(store_flag);
    const std::string uri = ResolveStoreUri(flag);
    const char* env_store = std::getenv("WISP_STORE");
    if (!flag && (env_store == nullptr || *env_store == '\0')) {
        // The default location: make its directory so a first run just works.
        std::error_code ec;
        std::filesystem::create_directories(
            std::filesystem::path(uri.substr(std::string_view("sqlite:").size())).parent_path(),
            ec);
    }
    if (verbose) err << kProgram << ": using store " << common::RedactUri(uri) << "\n";
    auto store = open(uri);
    if (!store.ok()) {
        err << kProgram << ": cannot open store \"" << common::RedactUri(uri)
            << "\": " << store.status().message() << "\n";
        return absl::IsInvalidArgument(store.status()) ? kExitUsage : kExitFailure;
    }

    AdminCommands commands(**store, out, err);
    const int rc = [&] {
        switch (cmd) {
            case Command::kInit:
                return commands.Init(random_keys ? wisp::admin::InitKeys::kRandom
                                                 : wisp::admin::InitKeys::kWellKnown);
            case Command::kUserCreate:
                return commands.CreateUser(create_opts);
            case Command::kUserGet:
                return commands.GetUser(subject, ns_opt, all);
            case Command::kUserDelete:
                return commands.DeleteUser(subject, ns_opt);
            case Command::kUserList:
                return commands.ListUsers(list_opts);
            case Command::kUserWhois:
                return commands.Whois(whois_key);
            case Command::kUserBlock:
                return commands.Block(subjects);
            case Command::kUserUnblock:
                return commands.Unblock(subjects);
            case Command::kLimitsSet:
                return commands.SetLimits(limits_ns, given);
            case Command::kLimitsGet:
                return commands.GetLimits(limits_ns);
            case Command::kLimitsDelete:
                return commands.DeleteLimits(limits_ns);
            case Command::kInvoker:  // handled above
            case Command::kNone:
                break;
        }
        return UsageError(err, command_path, "a command is required");
    }();
    // block/unblock return the number of subjects that failed: announce when any changed.
    const bool any_changed =
        !changed.empty() &&
        (rc == kExitOk || ((cmd == Command::kUserBlock || cmd == Command::kUserUnblock) &&
                           rc < static_cast<int>(subjects.size())));
    if (!any_changed) return rc;
    if (!bus) {
        if (note_without_bus) {
            err << "note: running controllers see this change when their auth cache expires "
                   "(within "
                << kAuthCacheTtlSeconds
                << " s); pass --kafka HOST:PORT (or set WISP_KAFKA) to announce it to a "
                   "distributed deployment at once\n";
        }
        return rc;
    }
    const absl::Status announced = cluster::AnnounceInvalidations(
        *bus, {.instance_id = std::string(kAdminInstanceId)}, changed);
    if (!announced.ok()) {
        err << kProgram << ": the change is stored, but announcing it on Kafka at "
            << bus_options.bootstrap << " failed: " << announced.message()
            << "; running controllers see it when their auth cache expires (within "
            << kAuthCacheTtlSeconds << " s)\n";
        return rc == kExitOk ? kExitFailure : rc;
    }
    if (verbose) err << kProgram << ": announced on cacheInvalidation\n";
    return rc;
}

}  // namespace wisp::admin
