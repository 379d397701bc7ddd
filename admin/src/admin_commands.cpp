// The wskadmin commands against an ArtifactStore. Output lines, argument rules and exit codes
// follow apache/openwhisk tools/admin/wskadmin; where the Python tool leaks a CouchDB response
// body ("Failed to get subject (<body>)") we print a readable reason instead.
#include <algorithm>
#include <array>
#include <cctype>
#include <ostream>
#include <string>
#include <utility>

#include <wisp/admin/admin.hpp>
#include <wisp/common/entity_path.hpp>
#include <wisp/common/status.hpp>
#include <wisp/common/strings.hpp>

namespace wisp::admin {

namespace {

using common::AsciiLower;
using common::AuthKey;
using common::NamespaceEntry;
using common::NamespaceLimits;
using common::Subject;
using common::TrimAsciiSpace;

// The reason shown in parentheses after "Failed to ...".
std::string Reason(const absl::Status& status, std::string_view what) {
    if (absl::IsNotFound(status)) return std::string(what) + " does not exist";
    return std::string(status.message());
}

std::string SubjectNotFound(std::string_view subject) {
    return "subject \"" + std::string(subject) + "\"";
}

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Python's uuid.UUID() accepts 32 hex digits, optionally dashed, in braces or with a "urn:uuid:"
// prefix; we accept the canonical dashed form and the undashed one and normalize to canonical
// lowercase.
std::optional<std::string> NormalizeUuid(std::string_view s) {
    std::string hex;
    if (s.size() == 36) {
        for (size_t i = 0; i < s.size(); ++i) {
            const bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
            if (dash_pos) {
                if (s[i] != '-') return std::nullopt;
            } else {
                if (!IsHex(s[i])) return std::nullopt;
                hex.push_back(s[i]);
            }
        }
    } else if (s.size() == 32) {
        if (!std::all_of(s.begin(), s.end(), IsHex)) return std::nullopt;
        hex = std::string(s);
    } else {
        return std::nullopt;
    }
    hex = AsciiLower(hex);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

// Python's repr() of a str, for `allowedKinds = ['nodejs:20', 'python:3']`.
std::string PyRepr(std::string_view s) {
    const bool use_double =
        s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
    const char quote = use_double ? '"' : '\'';
    std::string r(1, quote);
    for (char c : s) {
        if (c == '\\' || c == quote) r.push_back('\\');
        r.push_back(c);
    }
    r.push_back(quote);
    return r;
}

std::string PyRepr(const std::vector<std::string>& list) {
    std::string r = "[";
    for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) r += ", ";
        r += PyRepr(list[i]);
    }
    return r + "]";
}

bool ValidNamespace(std::string_view ns, std::ostream& err) {
    if (common::IsValidEntityName(ns)) return true;
    err << "Namespace \"" << ns
        << "\" is not a valid name: use letters, digits, '_', '@', '.', '&', '-' and inner "
           "spaces, starting with a letter, digit or '_'\n";
    return false;
}

template <class T>
void Merge(std::optional<T>& into, const std::optional<T>& given) {
    if (given) into = given;
}

}  // namespace

// ---- credentials ------------------------------------------------------------------------------

std::optional<AuthKey> AdminCommands::ResolveCredentials(const std::optional<std::string>& auth,
                                                         std::ostream& err) {
    if (!auth) return AuthKey::Generate();
    const std::string& given = *auth;
    const size_t colon = given.find(':');
    if (colon == std::string::npos || given.find(':', colon + 1) != std::string::npos) {
        err << "failed to determine authorization id and key: " << given << "\n";
        return std::nullopt;
    }
    std::optional<std::string> uuid = NormalizeUuid(std::string_view(given).substr(0, colon));
    if (!uuid) {
        err << "authorization id is not a valid UUID\n";
        return std::nullopt;
    }
    std::string key = given.substr(colon + 1);
    if (key.size() < 64) {
        err << "authorization key must be at least 64 characters long\n";
        return std::nullopt;
    }
    // wskadmin accepts longer keys, but OpenWhisk's Secret (and Wisp's authentication) only
    // ever matches exactly 64 characters: such a key could never log in.
    if (key.size() > 64) {
        err << "authorization key must be at most 64 characters long\n";
        return std::nullopt;
    }
    return AuthKey{std::move(*uuid), std::move(key)};
}

// ---- init -------------------------------------------------------------------------------------

int AdminCommands::Init(InitKeys keys) {
    const std::array<std::pair<std::string_view, std::string_view>, 2> well_known = {{
        {common::kGuestSubject, common::kGuestAuth},
        {common::kSystemSubject, common::kSystemAuth},
    }};
    int rc = kExitOk;
    for (const auto& [name, compact] : well_known) {
        auto parsed = AuthKey::Parse(compact);
        WISP_CHECK(parsed.ok());
        const AuthKey& known = *parsed;
        const std::string subject(name);
        auto fresh = [&] { return keys == InitKeys::kRandom ? AuthKey::Generate() : known; };

        auto existing = store_.GetSubject(subject);
        if (!existing.ok() && !absl::IsNotFound(existing.status())) {
            err_ << "Failed to initialize \"" << subject << "\" (" << existing.status().message()
                 << ")\n";
            rc = kExitFailure;
            continue;
        }
        if (!existing.ok()) {
            auto put =
                store_.PutSubject(Subject{subject, {NamespaceEntry{subject, fresh()}}, false}, "");
            if (!put.ok()) {
                err_ << "Failed to create subject \"" << subject << "\" (" << put.status().message()
                     << ")\n";
                rc = kExitFailure;
                continue;
            }
            out_ << "Subject \"" << subject << "\" created with namespace \"" << subject << "\"\n";
            continue;
        }

        Subject doc = existing->doc;
        auto it = std::find_if(doc.namespaces.begin(), doc.namespaces.end(),
                               [&](const NamespaceEntry& ns) { return ns.name == subject; });
        std::string done;
        if (it == doc.namespaces.end()) {
            doc.namespaces.push_back(NamespaceEntry{subject, fresh()});
            done = "Namespace \"" + subject + "\" added to subject \"" + subject + "\"";
        } else if (keys == InitKeys::kRandom && it->auth == known) {
            it->auth = AuthKey::Generate();
            done = "Namespace \"" + subject +
                   "\" had OpenWhisk's well-known key; it has a new random key now";
        } else if (keys == InitKeys::kRestoreWellKnown && it->auth != known) {
            it->auth = known;
            done = "Namespace \"" + subject + "\" has OpenWhisk's well-known key again";
        } else if (keys == InitKeys::kWellKnown && it->auth != known) {
            err_ << "Subject \"" << subject << "\" holds another key for namespace \"" << subject
                 << "\"; to reset it to the well-known key run: wisp-admin user create " << subject
                 << " -u " << compact << " --revoke\n";
            rc = kExitFailure;
            continue;
        } else {
            out_ << "Subject \"" << subject << "\" already initialized";
            if (doc.blocked) out_ << " (blocked; run: wisp-admin user unblock " << subject << ")";
            out_ << "\n";
            continue;
        }
        auto put = store_.PutSubject(doc, existing->rev);
        if (!put.ok()) {
            err_ << "Failed to update subject \"" << subject << "\" (" << put.status().message()
                 << ")\n";
            rc = kExitFailure;
            continue;
        }
        out_ << done << "\n";
    }
    return rc;
}

[[nodiscard]] absl::StatusOr<AuthKey> OwnNamespaceKey(store::ArtifactStore& store,
                                                      std::string_view subject) {
    auto doc = store.GetSubject(std::string(subject));
    if (!doc.ok()) return doc.status();
    for (const auto& ns : doc->doc.namespaces) {
        if (ns.name == subject) return ns.auth;
    }
    const std::string name(subject);
    return absl::NotFoundError("subject \"" + name + "\" has no namespace \"" + name + "\"");
}

// ---- user ---------------------------------------------------------------------------------------

int AdminCommands::CreateUser(const CreateUserOptions& opts) {
    const std::string subject(TrimAsciiSpace(opts.subject));
    if (subject.size() < common::kMinSubjectLength) {
        err_ << "Subject name must be at least 5 characters\n";
        return kExitUsage;
    }
    if (opts.namespace_name && TrimAsciiSpace(*opts.namespace_name).empty()) {
        err_ << "Namespace must not be empty\n";
        return kExitUsage;
    }
    const std::string desired_ns =
        opts.namespace_name ? std::string(TrimAsciiSpace(*opts.namespace_name)) : subject;
    if (!ValidNamespace(desired_ns, err_)) return kExitUsage;

    std::optional<AuthKey> auth = ResolveCredentials(opts.auth, err_);
    if (!auth) return kExitUsage;
    if (opts.gen_only) {
        out_ << auth->Compact() << "\n";
        return kExitOk;
    }

    auto existing = store_.GetSubject(subject);
    absl::StatusOr<std::string> put;
    if (!existing.ok()) {
        if (!absl::IsNotFound(existing.status())) {
            err_ << "Failed to create subject (" << existing.status().message() << ")\n";
            return kExitFailure;
        }
        put = store_.PutSubject(Subject{subject, {NamespaceEntry{desired_ns, *auth}}, false}, "");
    } else {
        Subject doc = existing->doc;
        if (doc.blocked) {
            err_ << "The subject you want to edit is blocked\n";
            return kExitFailure;
        }
        const auto matches =
            std::count_if(doc.namespaces.begin(), doc.namespaces.end(),
                          [&](const NamespaceEntry& ns) { return ns.name == desired_ns; });
        if (matches == 0) {
            doc.namespaces.push_back(NamespaceEntry{desired_ns, *auth});
        } else if (opts.revoke) {
            if (matches > 1) {
                err_ << "Namespace is not unique\n";
                return kExitFailure;
            }
            for (auto& ns : doc.namespaces) {
                if (ns.name == desired_ns) ns.auth = *auth;
            }
        } else {
            err_ << "Namespace already exists\n";
            return kExitFailure;
        }
        put = store_.PutSubject(doc, existing->rev);
    }
    if (!put.ok()) {
        err_ << "Failed to create subject (" << put.status().message() << ")\n";
        return kExitFailure;
    }
    if (!opts.silent) out_ << auth->Compact() << "\n";
    return kExitOk;
}

int AdminCommands::GetUser(std::string_view subject_arg,
                           const std::optional<std::string>& namespace_name, bool all) {
    const std::string subject(TrimAsciiSpace(subject_arg));
    auto doc = store_.GetSubject(subject);
    if (!doc.ok()) {
        err_ << "Failed to get subject (" << Reason(doc.status(), SubjectNotFound(subject))
             << ")\n";
        return kExitFailure;
    }
    if (all) {
        for (const auto& ns : doc->doc.namespaces) {
            out_ << ns.name << "\t" << ns.auth.Compact() << "\n";
        }
        return kExitOk;
    }
    const std::string wanted = namespace_name ? *namespace_name : subject;
    std::vector<const NamespaceEntry*> found;
    for (const auto& ns : doc->doc.namespaces) {
        if (ns.name == wanted) found.push_back(&ns);
    }
    if (found.size() != 1) {
        err_ << "namespace \"" << wanted << "\" not found for \"" << subject << "\"\n";
        return kExitFailure;
    }
    out_ << found.front()->auth.Compact() << "\n";
    return kExitOk;
}

int AdminCommands::DeleteUser(std::string_view subject_arg,
                              const std::optional<std::string>& namespace_name) {
    const std::string subject(TrimAsciiSpace(subject_arg));
    if (subject.empty()) {
        err_ << "Subject must not be empty\n";
        return kExitUsage;
    }
    if (namespace_name && TrimAsciiSpace(*namespace_name).empty()) {
        err_ << "Namespace must not be empty\n";
        return kExitUsage;
    }
    auto prev = store_.GetSubject(subject);
    if (!prev.ok()) {
        err_ << "Failed to delete subject (" << Reason(prev.status(), SubjectNotFound(subject))
             << ")\n";
        return kExitFailure;
    }
    if (!namespace_name) {
        absl::Status st = store_.DeleteSubject(subject, prev->rev);
        if (!st.ok()) {
            err_ << "Failed to delete subject (" << Reason(st, SubjectNotFound(subject)) << ")\n";
            return kExitFailure;
        }
        out_ << "Subject deleted\n";
        return kExitOk;
    }
    const std::string to_delete(TrimAsciiSpace(*namespace_name));
    Subject doc = prev->doc;
    const size_t before = doc.namespaces.size();
    std::erase_if(doc.namespaces, [&](const NamespaceEntry& ns) { return ns.name == to_delete; });
    if (doc.namespaces.size() == before) {
        err_ << "Namespace \"" << to_delete << "\" does not exist for \"" << subject << "\"\n";
        return kExitFailure;
    }
    auto put = store_.PutSubject(doc, prev->rev);
    if (!put.ok()) {
        err_ << "Failed to remove namespace (" << put.status().message() << ")\n";
        return kExitFailure;
    }
    out_ << "Namespace deleted\n";
    return kExitOk;
}

int AdminCommands::ListUsers(const ListUsersOptions& opts) {
    if (opts.pick < 1) {
        err_ << "pick at least 1 identity to show\n";
        return kExitUsage;
    }
    auto identities = store_.ListIdentitiesInNamespace(opts.namespace_name);
    if (!identities.ok()) {
        err_ << "Failed to get namespace key (" << identities.status().message() << ")\n";
        return kExitFailure;
    }
    if (identities->empty()) {
        out_ << "no identities found for namespace \"" << opts.namespace_name << "\"\n";
        return kExitOk;
    }
    size_t n = identities->size();
    if (!opts.all) n = std::min(n, static_cast<size_t>(opts.pick));
    for (size_t i = 0; i < n; ++i) {
        const auto& id = (*identities)[i];
        out_ << id.auth.Compact();
        if (!opts.keys_only) out_ << "\t" << id.subject;
        out_ << "\n";
    }
    return kExitOk;
}

int AdminCommands::Whois(std::string_view auth) {
    const size_t colon = auth.find(':');
    if (colon == std::string_view::npos) {
        err_ << "failed to determine authorization id and key: " << auth << "\n";
        return kExitUsage;
    }
    AuthKey key{std::string(auth.substr(0, colon)), std::string(auth.substr(colon + 1))};
    auto identity = store_.GetIdentityByKey(key);
    if (!identity.ok()) {
        if (absl::IsNotFound(identity.status())) {
            // wskadmin prints this and exits 0; wskadmin-next fails. A failing exit code is what
            // a script checking a key needs.
            err_ << "Subject id is not recognized\n";
        } else {
            err_ << "Failed to get subject (" << identity.status().message() << ")\n";
        }
        return kExitFailure;
    }
    out_ << "subject: " << identity->subject << "\n";
    out_ << "namespace: " << identity->namespace_name << "\n";
    return kExitOk;
}

int AdminCommands::ChangeBlocked(const std::vector<std::string>& subjects, bool blocked) {
    const std::string_view verb = blocked ? "block" : "unblock";
    int failed = 0;
    for (const auto& raw : subjects) {
        const std::string subject(TrimAsciiSpace(raw));
        if (subject.empty()) continue;
        auto doc = store_.GetSubject(subject);
        absl::Status st = doc.status();
        if (st.ok()) {
            Subject updated = doc->doc;
            updated.blocked = blocked;
            st = store_.PutSubject(updated, doc->rev).status();
        }
        if (!st.ok()) {
            err_ << "Failed to " << verb << " \"" << subject << "\" ("
                 << Reason(st, SubjectNotFound(subject)) << ")\n";
            ++failed;
            continue;
        }
        out_ << "\"" << subject << "\" " << verb << "ed successfully\n";
    }
    // wskadmin exits with the number of failures; keep it below the shell's special codes.
    return std::min(failed, 125);
}

int AdminCommands::Block(const std::vector<std::string>& subjects) {
    return ChangeBlocked(subjects, true);
}

int AdminCommands::Unblock(const std::vector<std::string>& subjects) {
    return ChangeBlocked(subjects, false);
}

// ---- limits -------------------------------------------------------------------------------------

int AdminCommands::SetLimits(std::string_view namespace_name, const NamespaceLimits& given) {
    NamespaceLimits limits;
    auto existing = store_.GetLimits(namespace_name);
    if (existing.ok()) {
        limits = existing->doc;
    } else if (!absl::IsNotFound(existing.status())) {
        err_ << "Failed to set limits (" << existing.status().message() << ")\n";
        return kExitFailure;
    }
    Merge(limits.invocations_per_minute, given.invocations_per_minute);
    Merge(limits.fires_per_minute, given.fires_per_minute);
    Merge(limits.concurrent_invocations, given.concurrent_invocations);
    Merge(limits.allowed_kinds, given.allowed_kinds);
    Merge(limits.store_activations, given.store_activations);
    Merge(limits.min_action_memory, given.min_action_memory);
    Merge(limits.max_action_memory, given.max_action_memory);
    Merge(limits.min_action_logs, given.min_action_logs);
    Merge(limits.max_action_logs, given.max_action_logs);
    Merge(limits.min_action_timeout, given.min_action_timeout);
    Merge(limits.max_action_timeout, given.max_action_timeout);
    Merge(limits.min_action_concurrency, given.min_action_concurrency);
    Merge(limits.max_action_concurrency, given.max_action_concurrency);
    Merge(limits.max_parameter_size, given.max_parameter_size);
    Merge(limits.max_payload_size, given.max_payload_size);
    Merge(limits.truncation_size, given.truncation_size);
    Merge(limits.max_keep_warm, given.max_keep_warm);

    absl::Status st = store_.PutLimits(namespace_name, limits);
    if (!st.ok()) {
        err_ << "Failed to set limits (" << st.message() << ")\n";
        return kExitFailure;
    }
    out_ << "Limits successfully set for \"" << namespace_name << "\"\n";
    return kExitOk;
}

int AdminCommands::GetLimits(std::string_view namespace_name) {
    auto doc = store_.GetLimits(namespace_name);
    if (!doc.ok()) {
        if (absl::IsNotFound(doc.status())) {
            out_ << "No limits found, default system limits apply\n";
            return kExitOk;
        }
        err_ << "Failed to get limits (" << doc.status().message() << ")\n";
        return kExitFailure;
    }
    const NamespaceLimits& l = doc->doc;
    auto line = [&](std::string_view key, const std::string& value) {
        out_ << key << " = " << value << "\n";
    };
    auto num = [&](std::string_view key, const std::optional<int64_t>& v) {
        if (v) line(key, std::to_string(*v));
    };
    auto size = [&](std::string_view key, const std::optional<int64_t>& v) {
        if (v) line(key, FormatByteSize(*v));
    };
    // wskadmin's order; values printed as Python prints them.
    num("invocationsPerMinute", l.invocations_per_minute);
    num("firesPerMinute", l.fires_per_minute);
    num("concurrentInvocations", l.concurrent_invocations);
    if (l.allowed_kinds) line("allowedKinds", PyRepr(*l.allowed_kinds));
    if (l.store_activations) line("storeActivations", *l.store_activations ? "True" : "False");
    num("minActionMemory", l.min_action_memory);
    num("maxActionMemory", l.max_action_memory);
    num("minActionLogs", l.min_action_logs);
    num("maxActionLogs", l.max_action_logs);
    num("minActionTimeout", l.min_action_timeout);
    num("maxActionTimeout", l.max_action_timeout);
    num("minActionConcurrency", l.min_action_concurrency);
    num("maxActionConcurrency", l.max_action_concurrency);
    size("maxParameterSize", l.max_parameter_size);
    size("maxPayloadSize", l.max_payload_size);
    size("truncationSize", l.truncation_size);
    num("maxKeepWarm", l.max_keep_warm);  // Wisp's own, after wskadmin's
    return kExitOk;
}

int AdminCommands::DeleteLimits(std::string_view namespace_name) {
    const std::string what = "limits for namespace \"" + std::string(namespace_name) + "\"";
    auto doc = store_.GetLimits(namespace_name);
    absl::Status st = doc.status();
    if (st.ok()) st = store_.DeleteLimits(namespace_name);
    if (!st.ok()) {
        err_ << "Failed to delete limits (" << Reason(st, what) << ")\n";
        return kExitFailure;
    }
    out_ << "Limits deleted\n";
    return kExitOk;
}

}  // namespace wisp::admin
