#pragma once
// wisp-admin: the wskadmin equivalent. Manages subjects (users, namespaces, keys) and
// per-namespace limits directly in the ArtifactStore, like OpenWhisk's tools/admin/wskadmin
// does against the CouchDB `subjects` database.
//
// Every command writes its result to `out`, its error messages to `err`, and returns the
// process exit code:
//   0  success
//   1  failure: the subject, namespace or limits document is missing or blocked, the store
//      refused the write (block/unblock return the number of subjects that failed)
//   2  usage: bad arguments (short subject name, malformed uuid:key, bad option value)
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

#include <wisp/common/identity.hpp>
#include <wisp/common/limits.hpp>
#include <wisp/messaging/messaging_provider.hpp>
#include <wisp/store/artifact_store.hpp>

namespace wisp::admin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

/// `user create SUBJECT [-ns NS] [-u uuid:key] [-r] [-g] [-s]`.
struct CreateUserOptions {
    std::string subject;
    std::optional<std::string> namespace_name;  // defaults to the subject
    std::optional<std::string> auth;            // "uuid:key"; generated when absent
    bool revoke = false;    // replace the key of an existing namespace of the subject
    bool gen_only = false;  // print a fresh uuid:key, store nothing
    bool silent = false;    // do not print the key
};

/// `user list NS [-p N | -a] [-k]`.
struct ListUsersOptions {
    std::string namespace_name;
    int64_t pick = 1;  // wskadmin shows one identity unless told otherwise
    bool all = false;
    bool keys_only = false;
};

/// The keys `Init` gives the `guest` and `whisk.system` namespaces.
enum class InitKeys {
    /// OpenWhisk's well-known development keys (wire §2); a namespace holding another key is
    /// an error (1) with a hint. `wisp-admin init`.
    kWellKnown,
    /// The well-known keys, replacing any other key of those namespaces
    /// (`wisp-standalone --well-known-guest-key`).
    kRestoreWellKnown,
    /// A random key (AuthKey::Generate, CSPRNG) for a namespace Init creates, and in place of
    /// a well-known key found; other keys are kept (wisp-standalone's default: any web page
    /// could drive a platform that accepts the well-known keys through CORS).
    kRandom,
};

/// The command logic, one method per command. Not thread-safe; blocks on the store.
class AdminCommands {
  public:
    AdminCommands(store::ArtifactStore& store, std::ostream& out, std::ostream& err)
        : store_(store), out_(out), err_(err) {}

    /// Creates the `guest` and `whisk.system` subjects, with the keys `keys` says (default:
    /// the well-known keys of wire §2). Idempotent: a subject already holding a fitting key is
    /// left alone.
    int Init(InitKeys keys = InitKeys::kWellKnown);

    int CreateUser(const CreateUserOptions& opts);
    /// Prints the key of `namespace_name` (default: the subject's own), or with `all` every
    /// `namespace\tuuid:key` of the subject.
    int GetUser(std::string_view subject, const std::optional<std::string>& namespace_name,
                bool all);
    /// Deletes the subject, or with `namespace_name` only that namespace of it.
    int DeleteUser(std::string_view subject, const std::optional<std::string>& namespace_name);
    int ListUsers(const ListUsersOptions& opts);
    /// Prints `subject: S` and `namespace: N` for the owner of an unblocked `uuid:key`.
    int Whois(std::string_view auth);
    int Block(const std::vector<std::string>& subjects);
    int Unblock(const std::vector<std::string>& subjects);

    /// Merges the given (set) fields into the namespace's limits, keeping the others.
    int SetLimits(std::string_view namespace_name, const common::NamespaceLimits& given);
    /// `key = value` lines in wskadmin's order and format.
    int GetLimits(std::string_view namespace_name);
    int DeleteLimits(std::string_view namespace_name);

    /// Validates `-u uuid:key` (or generates one) with wskadmin's rules and messages; prints
    /// the error to `err` and returns nullopt when invalid (exit code 2).
    static std::optional<common::AuthKey> ResolveCredentials(const std::optional<std::string>& auth,
                                                             std::ostream& err);

  private:
    int ChangeBlocked(const std::vector<std::string>& subjects, bool blocked);

    store::ArtifactStore& store_;
    std::ostream& out_;
    std::ostream& err_;
};

/// The key of `subject`'s own namespace (the one named like the subject, e.g. guest's),
/// NotFound when there is none.
[[nodiscard]] absl::StatusOr<common::AuthKey> OwnNamespaceKey(store::ArtifactStore& store,
                                                              std::string_view subject);

/// Sizes in OpenWhisk's ByteSize syntax ("1 MB", "512 KB"): the one copy lives in wisp::common.
using common::FormatByteSize;
using common::ParseByteSize;

/// Where the store is: `--store` if given, else $WISP_STORE, else "sqlite:$HOME/.wisp/wisp.db".
/// A couchdb: URI without user info gets $WISP_STORE_USER / $WISP_STORE_PASSWORD (%-encoded).
std::string ResolveStoreUri(const std::optional<std::string>& flag);

using StoreOpener =
    std::function<absl::StatusOr<std::unique_ptr<store::ArtifactStore>>(std::string_view uri)>;

/// Where `--kafka` (else $WISP_KAFKA) and `--topic-prefix` (else $WISP_TOPIC_PREFIX) point.
struct BusOptions {
    std::string bootstrap;
    std::string topic_prefix;
};

/// Opens the bus and checks that it answers (the program passes a Kafka opener).
using BusOpener = std::function<absl::StatusOr<std::unique_ptr<messaging::MessagingProvider>>(
    const BusOptions& options)>;

/// The sender id of wisp-admin's cacheInvalidation messages.
inline constexpr std::string_view kAdminInstanceId = "wisp-admin";

/// How long a controller may keep a changed key when nobody announces the change
/// (ControllerConfig::auth_cache_ttl's default), for the message saying so.
inline constexpr int kAuthCacheTtlSeconds = 5;

/// The whole CLI: parses `args` (args[0] = program name), opens the store with `open` (the
/// program passes store::OpenArtifactStore: the library links no backend) and runs the command.
/// Usage errors print one line and a hint to --help on `err` and return 2.
///
/// With `--kafka` (or $WISP_KAFKA), commands that change keys or limits (user create, delete,
/// block, unblock, limits set/delete) announce the subjects (or namespace) they changed on
/// `cacheInvalidation` through `open_bus`, as the components do, so every running controller
/// drops its cached identities at once; the bus is opened before the store is touched (an
/// unreachable bus changes nothing, exit 1). Without it such a command says on `err` that
/// running controllers see the change when their auth cache expires.
int RunAdmin(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
             const StoreOpener& open, const BusOpener& open_bus = nullptr);

}  // namespace wisp::admin
