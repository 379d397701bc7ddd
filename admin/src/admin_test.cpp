// wisp-admin command logic against a real SQLite store: the output lines and exit codes a user
// sees, and that what it writes is what the controller's identity lookup reads.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <wisp/admin/admin.hpp>
#include <wisp/cluster/cache_invalidation.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/ids.hpp>
#include <wisp/messaging/inprocess_messaging_provider.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/store/open_store.hpp>

namespace {

using wisp::admin::AdminCommands;
using wisp::admin::CreateUserOptions;
using wisp::admin::ListUsersOptions;
using wisp::common::AuthKey;
using wisp::common::NamespaceLimits;

constexpr std::string_view kKeyA =
    "11111111-2222-4333-8444-555555555555:"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

// A temporary directory removed at the end of the test, also on failure.
class TempDir {
  public:
    TempDir()
        : path_(std::filesystem::temp_directory_path() /
                ("wisp_admin_test_" + wisp::common::RandomAlphanumeric(12))) {
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string StoreUri() const { return "sqlite:" + (path_ / "w.db").string(); }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

std::unique_ptr<wisp::store::ArtifactStore> OpenStore(const std::string& uri) {
    auto store = wisp::store::OpenArtifactStore(uri);
    REQUIRE(store.ok());
    return std::move(*store);
}

// Runs commands against one store, capturing both streams per call.
struct Harness {
    TempDir dir;
    std::unique_ptr<wisp::store::ArtifactStore> store = OpenStore(dir.StoreUri());
    std::ostringstream out, err;
    AdminCommands cmd{*store, out, err};

    void Reset() {
        out.str("");
        err.str("");
    }
    std::string CreateUser(const std::string& subject, std::optional<std::string> ns = {},
                           std::optional<std::string> auth = {}) {
        Reset();
        CreateUserOptions o;
        o.subject = subject;
        o.namespace_name = std::move(ns);
        o.auth = std::move(auth);
        REQUIRE(cmd.CreateUser(o) == 0);
        std::string key = out.str();
        REQUIRE(!key.empty());
        key.pop_back();  // "\n"
        Reset();
        return key;
    }
};

std::vector<std::string> Lines(const std::string& s) {
    std::vector<std::string> lines;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool IsUuidKey(const std::string& s) {
    static const std::regex re(
        "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:"
        "[A-Za-z0-9]{64}$");
    return std::regex_match(s, re);
}

}  // namespace

TEST_CASE("init creates the well-known guest and whisk.system subjects", "[admin]") {
    Harness h;
    REQUIRE(h.cmd.Init() == 0);
    CHECK(Lines(h.out.str()) ==
          std::vector<std::string>{
              R"(Subject "guest" created with namespace "guest")",
              R"(Subject "whisk.system" created with namespace "whisk.system")"});

    auto guest = h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kGuestAuth));
    REQUIRE(guest.ok());
    CHECK(guest->subject == "guest");
    CHECK(guest->namespace_name == "guest");
    auto system = h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kSystemAuth));
    REQUIRE(system.ok());
    CHECK(system->subject == "whisk.system");
    CHECK(system->namespace_name == "whisk.system");

    SECTION("is idempotent") {
        h.Reset();
        REQUIRE(h.cmd.Init() == 0);
        CHECK(Lines(h.out.str()) ==
              std::vector<std::string>{R"(Subject "guest" already initialized)",
                                       R"(Subject "whisk.system" already initialized)"});
        auto subject = h.store->GetSubject("guest");
        REQUIRE(subject.ok());
        CHECK(subject->doc.namespaces.size() == 1);
    }
}

TEST_CASE("init refuses to overwrite another guest key", "[admin]") {
    Harness h;
    h.CreateUser("guest1", std::nullopt, std::string(kKeyA));  // unrelated subject
    REQUIRE(h.store->PutSubject({"guest", {{"guest", *AuthKey::Parse(kKeyA)}}, false}, "").ok());
    REQUIRE(h.cmd.Init() == 1);
    CHECK(h.err.str().find(R"(Subject "guest" holds another key for namespace "guest")") !=
          std::string::npos);
    CHECK(h.err.str().find("--revoke") != std::string::npos);
    // whisk.system is still created.
    CHECK(h.out.str() == "Subject \"whisk.system\" created with namespace \"whisk.system\"\n");
}

TEST_CASE("init adds the well-known namespace to an existing subject", "[admin]") {
    Harness h;
    h.CreateUser("guest", std::string("other"));
    REQUIRE(h.cmd.Init() == 0);
    CHECK(Lines(h.out.str()).front() == R"(Namespace "guest" added to subject "guest")");
    CHECK(h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kGuestAuth)).ok());
}

TEST_CASE("init with random keys: fresh per store, kept, well-known ones replaced", "[admin]") {
    using wisp::admin::InitKeys;
    using wisp::admin::OwnNamespaceKey;
    static const std::regex uuid_v4_key(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}:[A-Za-z0-9]{64}$");
    Harness h;
    REQUIRE(h.cmd.Init(InitKeys::kRandom) == 0);
    CHECK(Lines(h.out.str()) ==
          std::vector<std::string>{
              R"(Subject "guest" created with namespace "guest")",
              R"(Subject "whisk.system" created with namespace "whisk.system")"});
    auto guest = OwnNamespaceKey(*h.store, "guest");
    REQUIRE(guest.ok());
    auto system = OwnNamespaceKey(*h.store, "whisk.system");
    REQUIRE(system.ok());
    CHECK(std::regex_match(guest->Compact(), uuid_v4_key));
    CHECK(std::regex_match(system->Compact(), uuid_v4_key));
    CHECK(guest->Compact() != wisp::common::kGuestAuth);
    CHECK(system->Compact() != wisp::common::kSystemAuth);
    CHECK_FALSE(h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kGuestAuth)).ok());
    auto identity = h.store->GetIdentityByKey(*guest);
    REQUIRE(identity.ok());
    CHECK(identity->namespace_name == "guest");

    // Another store gets another key; the same store keeps its key.
    Harness other;
    REQUIRE(other.cmd.Init(InitKeys::kRandom) == 0);
    CHECK(OwnNamespaceKey(*other.store, "guest")->Compact() != guest->Compact());
    h.Reset();
    REQUIRE(h.cmd.Init(InitKeys::kRandom) == 0);
    CHECK(Lines(h.out.str()) ==
          std::vector<std::string>{R"(Subject "guest" already initialized)",
                                   R"(Subject "whisk.system" already initialized)"});
    CHECK(OwnNamespaceKey(*h.store, "guest")->Compact() == guest->Compact());

    // --well-known-guest-key: OpenWhisk's keys again, in place of the random ones ...
    h.Reset();
    REQUIRE(h.cmd.Init(InitKeys::kRestoreWellKnown) == 0);
    CHECK(Lines(h.out.str()).front() ==
          R"(Namespace "guest" has OpenWhisk's well-known key again)");
    CHECK(OwnNamespaceKey(*h.store, "guest")->Compact() == wisp::common::kGuestAuth);
    CHECK(h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kGuestAuth)).ok());
    CHECK_FALSE(h.store->GetIdentityByKey(*guest).ok());
    // ... and a store holding a well-known key (an older wisp-standalone) gets a random one.
    h.Reset();
    REQUIRE(h.cmd.Init(InitKeys::kRandom) == 0);
    CHECK(Lines(h.out.str()).front() ==
          R"(Namespace "guest" had OpenWhisk's well-known key; it has a new random key now)");
    auto rotated = OwnNamespaceKey(*h.store, "guest");
    REQUIRE(rotated.ok());
    CHECK(std::regex_match(rotated->Compact(), uuid_v4_key));
    CHECK_FALSE(h.store->GetIdentityByKey(*AuthKey::Parse(wisp::common::kGuestAuth)).ok());
    CHECK(OwnNamespaceKey(*h.store, "nobody1").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("user create prints a uuid:key that whois resolves", "[admin]") {
    Harness h;
    const std::string key = h.CreateUser("alice1");
    CHECK(IsUuidKey(key));

    REQUIRE(h.cmd.Whois(key) == 0);
    CHECK(h.out.str() == "subject: alice1\nnamespace: alice1\n");

    auto identity = h.store->GetIdentityByKey(*AuthKey::Parse(key));
    REQUIRE(identity.ok());
    CHECK(identity->subject == "alice1");
    h.Reset();

    SECTION("get prints the key of the default namespace") {
        h.Reset();
        REQUIRE(h.cmd.GetUser("alice1", std::nullopt, false) == 0);
        CHECK(h.out.str() == key + "\n");
    }
    SECTION("the same namespace again is an error") {
        CreateUserOptions o;
        o.subject = "alice1";
        REQUIRE(h.cmd.CreateUser(o) == 1);
        CHECK(h.err.str() == "Namespace already exists\n");
        CHECK(h.out.str().empty());
    }
    SECTION("another namespace is added to the subject") {
        const std::string key2 = h.CreateUser("alice1", std::string("shared"));
        CHECK(key2 != key);
        REQUIRE(h.cmd.GetUser("alice1", std::string("shared"), false) == 0);
        CHECK(h.out.str() == key2 + "\n");
        h.Reset();
        REQUIRE(h.cmd.GetUser("alice1", std::nullopt, true) == 0);
        CHECK(Lines(h.out.str()) == std::vector<std::string>{"alice1\t" + key, "shared\t" + key2});
        h.Reset();
        REQUIRE(h.cmd.Whois(key2) == 0);
        CHECK(h.out.str() == "subject: alice1\nnamespace: shared\n");
    }
    SECTION("--revoke replaces the key") {
        CreateUserOptions o;
        o.subject = "alice1";
        o.revoke = true;
        REQUIRE(h.cmd.CreateUser(o) == 0);
        std::string fresh = h.out.str();
        fresh.pop_back();
        CHECK(IsUuidKey(fresh));
        CHECK(fresh != key);
        h.Reset();
        CHECK(h.cmd.Whois(key) == 1);
        CHECK(h.cmd.Whois(fresh) == 0);
    }
    SECTION("get of an unknown namespace or subject fails") {
        REQUIRE(h.cmd.GetUser("alice1", std::string("nope1"), false) == 1);
        CHECK(h.err.str() == "namespace \"nope1\" not found for \"alice1\"\n");
        h.Reset();
        REQUIRE(h.cmd.GetUser("nobody", std::nullopt, false) == 1);
        CHECK(h.err.str() == "Failed to get subject (subject \"nobody\" does not exist)\n");
    }
}

TEST_CASE("user create with -u stores the given key", "[admin]") {
    Harness h;
    const std::string key = h.CreateUser("bobby", std::nullopt, std::string(kKeyA));
    CHECK(key == kKeyA);
    REQUIRE(h.cmd.Whois(kKeyA) == 0);
    CHECK(h.out.str() == "subject: bobby\nnamespace: bobby\n");

    SECTION("an uppercase or undashed uuid is normalized") {
        const std::string upper = "ABCDEF00112233445566778899AABBCC:" + std::string(64, 'b');
        const std::string stored = h.CreateUser("carol", std::nullopt, upper);
        CHECK(stored == "abcdef00-1122-3344-5566-778899aabbcc:" + std::string(64, 'b'));
    }
}

TEST_CASE("user create rejects bad input with wskadmin's messages", "[admin]") {
    Harness h;
    auto create = [&](std::string subject, std::optional<std::string> auth,
                      std::optional<std::string> ns = {}) {
        h.Reset();
        CreateUserOptions o;
        o.subject = std::move(subject);
        o.auth = std::move(auth);
        o.namespace_name = std::move(ns);
        return h.cmd.CreateUser(o);
    };
    CHECK(create("abcd", std::nullopt) == 2);
    CHECK(h.err.str() == "Subject name must be at least 5 characters\n");
    CHECK(create("  abcd  ", std::nullopt) == 2);  // trimmed first
    CHECK(create("abcde", std::nullopt, std::string("  ")) == 2);
    CHECK(h.err.str() == "Namespace must not be empty\n");
    CHECK(create("abcde", std::nullopt, std::string("a/b")) == 2);
    CHECK(h.err.str().find("Namespace \"a/b\" is not a valid name") == 0);
    CHECK(create("abcde", std::string("not-a-uuid:") + std::string(64, 'k')) == 2);
    CHECK(h.err.str() == "authorization id is not a valid UUID\n");
    CHECK(create("abcde", std::string("11111111-2222-4333-8444-555555555555:short")) == 2);
    CHECK(h.err.str() == "authorization key must be at least 64 characters long\n");
    CHECK(create("abcde",
                 std::string("11111111-2222-4333-8444-555555555555:") + std::string(65, 'k')) == 2);
    CHECK(h.err.str() == "authorization key must be at most 64 characters long\n");
    CHECK(create("abcde", std::string("nocolon")) == 2);
    CHECK(h.err.str() == "failed to determine authorization id and key: nocolon\n");
    // Nothing was stored.
    auto subjects = h.store->ListSubjects();
    REQUIRE(subjects.ok());
    CHECK(subjects->empty());
}

TEST_CASE("user create -g and -s", "[admin]") {
    Harness h;
    CreateUserOptions o;
    o.subject = "ghost";
    o.gen_only = true;
    REQUIRE(h.cmd.CreateUser(o) == 0);
    std::string key = h.out.str();
    key.pop_back();
    CHECK(IsUuidKey(key));
    CHECK(absl::IsNotFound(h.store->GetSubject("ghost").status()));

    h.Reset();
    o.gen_only = false;
    o.silent = true;
    REQUIRE(h.cmd.CreateUser(o) == 0);
    CHECK(h.out.str().empty());
    CHECK(h.store->GetSubject("ghost").ok());
}

TEST_CASE("user delete removes a namespace or the subject", "[admin]") {
    Harness h;
    const std::string key = h.CreateUser("dave1");
    const std::string key2 = h.CreateUser("dave1", std::string("team1"));

    REQUIRE(h.cmd.DeleteUser("dave1", std::string("team1")) == 0);
    CHECK(h.out.str() == "Namespace deleted\n");
    h.Reset();
    CHECK(h.cmd.Whois(key2) == 1);
    CHECK(h.cmd.Whois(key) == 0);

    h.Reset();
    REQUIRE(h.cmd.DeleteUser("dave1", std::string("team1")) == 1);
    CHECK(h.err.str() == "Namespace \"team1\" does not exist for \"dave1\"\n");

    h.Reset();
    REQUIRE(h.cmd.DeleteUser("dave1", std::nullopt) == 0);
    CHECK(h.out.str() == "Subject deleted\n");
    CHECK(absl::IsNotFound(h.store->GetSubject("dave1").status()));
    h.Reset();
    CHECK(h.cmd.Whois(key) == 1);

    h.Reset();
    REQUIRE(h.cmd.DeleteUser("dave1", std::nullopt) == 1);
    CHECK(h.err.str() == "Failed to delete subject (subject \"dave1\" does not exist)\n");
    h.Reset();
    REQUIRE(h.cmd.DeleteUser("  ", std::nullopt) == 2);
    CHECK(h.err.str() == "Subject must not be empty\n");
}

TEST_CASE("user list shows the identities of a namespace", "[admin]") {
    Harness h;
    const std::string a = h.CreateUser("userA", std::string("space1"));
    const std::string b = h.CreateUser("userB", std::string("space1"));

    ListUsersOptions o;
    o.namespace_name = "space1";
    REQUIRE(h.cmd.ListUsers(o) == 0);  // one identity unless told otherwise
    CHECK(Lines(h.out.str()) == std::vector<std::string>{a + "\tuserA"});

    h.Reset();
    o.all = true;
    REQUIRE(h.cmd.ListUsers(o) == 0);
    CHECK(Lines(h.out.str()) == std::vector<std::string>{a + "\tuserA", b + "\tuserB"});

    h.Reset();
    o.keys_only = true;
    REQUIRE(h.cmd.ListUsers(o) == 0);
    CHECK(Lines(h.out.str()) == std::vector<std::string>{a, b});

    h.Reset();
    o.all = false;
    o.pick = 2;
    REQUIRE(h.cmd.ListUsers(o) == 0);
    CHECK(Lines(h.out.str()) == std::vector<std::string>{a, b});

    h.Reset();
    o.pick = 0;
    REQUIRE(h.cmd.ListUsers(o) == 2);
    CHECK(h.err.str() == "pick at least 1 identity to show\n");

    h.Reset();
    o.pick = 1;
    o.namespace_name = "empty";
    REQUIRE(h.cmd.ListUsers(o) == 0);
    CHECK(h.out.str() == "no identities found for namespace \"empty\"\n");
}

TEST_CASE("user block and unblock", "[admin]") {
    Harness h;
    const std::string key = h.CreateUser("erin1");
    h.CreateUser("frank", std::string("erin1"));

    REQUIRE(h.cmd.Block({"erin1"}) == 0);
    CHECK(h.out.str() == "\"erin1\" blocked successfully\n");
    CHECK(absl::IsNotFound(h.store->GetIdentityByKey(*AuthKey::Parse(key)).status()));
    h.Reset();
    REQUIRE(h.cmd.Whois(key) == 1);
    CHECK(h.err.str() == "Subject id is not recognized\n");
    CHECK(h.out.str().empty());

    // A blocked subject's identities are not listed; others sharing the namespace are.
    h.Reset();
    ListUsersOptions o;
    o.namespace_name = "erin1";
    o.all = true;
    REQUIRE(h.cmd.ListUsers(o) == 0);
    REQUIRE(Lines(h.out.str()).size() == 1);
    CHECK(Lines(h.out.str()).front().ends_with("\tfrank"));

    h.Reset();
    CreateUserOptions c;
    c.subject = "erin1";
    c.namespace_name = "more1";
    REQUIRE(h.cmd.CreateUser(c) == 1);
    CHECK(h.err.str() == "The subject you want to edit is blocked\n");

    h.Reset();
    REQUIRE(h.cmd.Unblock({"erin1"}) == 0);
    CHECK(h.out.str() == "\"erin1\" unblocked successfully\n");
    h.Reset();
    REQUIRE(h.cmd.Whois(key) == 0);
    CHECK(h.out.str() == "subject: erin1\nnamespace: erin1\n");

    SECTION("the exit code counts the subjects that failed") {
        h.Reset();
        REQUIRE(h.cmd.Block({"erin1", "nobody", "ghost2", " "}) == 2);
        CHECK(h.out.str() == "\"erin1\" blocked successfully\n");
        CHECK(Lines(h.err.str()) ==
              std::vector<std::string>{
                  R"(Failed to block "nobody" (subject "nobody" does not exist))",
                  R"(Failed to block "ghost2" (subject "ghost2" does not exist))"});
    }
}

TEST_CASE("whois of an unknown or malformed key", "[admin]") {
    Harness h;
    REQUIRE(h.cmd.Whois(kKeyA) == 1);
    CHECK(h.err.str() == "Subject id is not recognized\n");
    h.Reset();
    REQUIRE(h.cmd.Whois("nocolon") == 2);
    CHECK(h.err.str() == "failed to determine authorization id and key: nocolon\n");
}

TEST_CASE("limits set, get and delete", "[admin]") {
    Harness h;
    REQUIRE(h.cmd.GetLimits("space1") == 0);
    CHECK(h.out.str() == "No limits found, default system limits apply\n");

    h.Reset();
    NamespaceLimits l;
    l.invocations_per_minute = 1;
    l.allowed_kinds = std::vector<std::string>{"nodejs:20", "python:3"};
    REQUIRE(h.cmd.SetLimits("space1", l) == 0);
    CHECK(h.out.str() == "Limits successfully set for \"space1\"\n");

    h.Reset();
    REQUIRE(h.cmd.GetLimits("space1") == 0);
    CHECK(Lines(h.out.str()) ==
          std::vector<std::string>{"invocationsPerMinute = 1",
                                   "allowedKinds = ['nodejs:20', 'python:3']"});

    // A second set merges: given fields replace, the others stay.
    h.Reset();
    NamespaceLimits more;
    more.invocations_per_minute = 5;
    more.store_activations = false;
    more.concurrent_invocations = 0;
    more.fires_per_minute = 7;
    more.min_action_memory = 128;
    more.max_action_memory = 1024;
    more.min_action_logs = 0;
    more.max_action_logs = 5;
    more.min_action_timeout = 100;
    more.max_action_timeout = 600000;
    more.min_action_concurrency = 1;
    more.max_action_concurrency = 10;
    more.max_parameter_size = 1048576;
    more.max_payload_size = 2 * 1048576;
    more.truncation_size = 1000;
    REQUIRE(h.cmd.SetLimits("space1", more) == 0);
    h.Reset();
    REQUIRE(h.cmd.GetLimits("space1") == 0);
    CHECK(Lines(h.out.str()) == std::vector<std::string>{
                                    "invocationsPerMinute = 5",
                                    "firesPerMinute = 7",
                                    "concurrentInvocations = 0",
                                    "allowedKinds = ['nodejs:20', 'python:3']",
                                    "storeActivations = False",
                                    "minActionMemory = 128",
                                    "maxActionMemory = 1024",
                                    "minActionLogs = 0",
                                    "maxActionLogs = 5",
                                    "minActionTimeout = 100",
                                    "maxActionTimeout = 600000",
                                    "minActionConcurrency = 1",
                                    "maxActionConcurrency = 10",
                                    "maxParameterSize = 1 MB",
                                    "maxPayloadSize = 2 MB",
                                    "truncationSize = 1000 B",
                                });
    auto stored = h.store->GetLimits("space1");
    REQUIRE(stored.ok());
    CHECK(stored->doc.invocations_per_minute == 5);
    CHECK(stored->doc.allowed_kinds == std::vector<std::string>{"nodejs:20", "python:3"});

    h.Reset();
    REQUIRE(h.cmd.DeleteLimits("space1") == 0);
    CHECK(h.out.str() == "Limits deleted\n");
    h.Reset();
    REQUIRE(h.cmd.GetLimits("space1") == 0);
    CHECK(h.out.str() == "No limits found, default system limits apply\n");
    h.Reset();
    REQUIRE(h.cmd.DeleteLimits("space1") == 1);
    CHECK(h.err.str() ==
          "Failed to delete limits (limits for namespace \"space1\" does not exist)\n");
}

// ---- the CLI (argument parsing, store selection) ------------------------------------------------

namespace {

struct CliResult {
    int rc;
    std::string out, err;
};

CliResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), "wisp-admin");
    std::ostringstream out, err;
    const int rc = wisp::admin::RunAdmin(args, out, err, wisp::store::OpenArtifactStore);
    return {rc, out.str(), err.str()};
}

std::string Chomp(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

}  // namespace

TEST_CASE("cli: create, whois, init and guest", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();

    auto created = Cli({"user", "create", "alice1", "--store", store});
    REQUIRE(created.rc == 0);
    const std::string key = Chomp(created.out);
    CHECK(IsUuidKey(key));
    CHECK(created.err.empty());

    auto whois = Cli({"--store", store, "user", "whois", key});
    REQUIRE(whois.rc == 0);
    CHECK(whois.out == "subject: alice1\nnamespace: alice1\n");

    REQUIRE(Cli({"init", "--store", store}).rc == 0);
    auto guest = Cli({"user", "whois", std::string(wisp::common::kGuestAuth), "--store", store});
    REQUIRE(guest.rc == 0);
    CHECK(guest.out == "subject: guest\nnamespace: guest\n");
}

TEST_CASE("cli: init --random-keys makes and then keeps random keys", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    REQUIRE(Cli({"--store", store, "init", "--random-keys"}).rc == 0);
    auto guest = Cli({"--store", store, "user", "get", "guest"});
    REQUIRE(guest.rc == 0);
    const std::string key = Chomp(guest.out);
    CHECK(IsUuidKey(key));
    CHECK(key != wisp::common::kGuestAuth);
    // Idempotent: a second run keeps the key.
    auto again = Cli({"--store", store, "init", "--random-keys"});
    REQUIRE(again.rc == 0);
    CHECK(again.out.find(R"(Subject "guest" already initialized)") != std::string::npos);
    CHECK(Chomp(Cli({"--store", store, "user", "get", "guest"}).out) == key);
}

TEST_CASE("cli: wskadmin's -ns spelling and flags", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();

    auto created = Cli({"--store", store, "user", "create", "userA", "-ns", "space1"});
    REQUIRE(created.rc == 0);
    const std::string key = Chomp(created.out);
    auto b =
        Cli({"--store", store, "user", "create", "userB", "-ns=space1", "-u", std::string(kKeyA)});
    REQUIRE(b.rc == 0);
    CHECK(b.out == std::string(kKeyA) + "\n");

    auto list = Cli({"--store", store, "user", "list", "space1", "-a"});
    REQUIRE(list.rc == 0);
    CHECK(list.out == key + "\tuserA\n" + std::string(kKeyA) + "\tuserB\n");
    list = Cli({"--store", store, "user", "list", "space1", "-k", "-p", "2"});
    CHECK(list.out == key + "\n" + std::string(kKeyA) + "\n");

    auto get = Cli({"--store", store, "user", "get", "userA", "-ns", "space1"});
    REQUIRE(get.rc == 0);
    CHECK(get.out == key + "\n");
    get = Cli({"--store", store, "user", "get", "userA", "--all"});
    CHECK(get.out == "space1\t" + key + "\n");

    auto gen = Cli({"user", "create", "whoever", "-g", "--store", "bogus:nowhere"});
    REQUIRE(gen.rc == 0);  // -g needs no store
    CHECK(IsUuidKey(Chomp(gen.out)));

    auto blocked = Cli({"--store", store, "user", "block", "userA", "userB"});
    REQUIRE(blocked.rc == 0);
    CHECK(blocked.out == "\"userA\" blocked successfully\n\"userB\" blocked successfully\n");
    auto whois = Cli({"--store", store, "user", "whois", key});
    CHECK(whois.rc == 1);
    CHECK(whois.err == "Subject id is not recognized\n");
    REQUIRE(Cli({"--store", store, "user", "unblock", "userA"}).rc == 0);
    CHECK(Cli({"--store", store, "user", "whois", key}).rc == 0);

    auto del = Cli({"--store", store, "user", "delete", "userB", "-ns", "space1"});
    REQUIRE(del.rc == 0);
    CHECK(del.out == "Namespace deleted\n");
    del = Cli({"--store", store, "user", "delete", "userB"});
    REQUIRE(del.rc == 0);
    CHECK(del.out == "Subject deleted\n");
}

TEST_CASE("cli: limits", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    auto r = Cli({"--store", store, "limits", "get", "space1"});
    REQUIRE(r.rc == 0);
    CHECK(r.out == "No limits found, default system limits apply\n");

    r = Cli({"--store", store, "limits", "set", "space1", "--invocationsPerMinute", "1",
             "--allowedKinds", "nodejs:20", "python:3", "--storeActivations", "false",
             "--maxParameterSize", "512 KB", "--maxActionMemory", "1024"});
    REQUIRE(r.rc == 0);
    CHECK(r.out == "Limits successfully set for \"space1\"\n");
    r = Cli({"--store", store, "limits", "get", "space1"});
    REQUIRE(r.rc == 0);
    CHECK(Lines(r.out) ==
          std::vector<std::string>{
              "invocationsPerMinute = 1", "allowedKinds = ['nodejs:20', 'python:3']",
              "storeActivations = False", "maxActionMemory = 1024", "maxParameterSize = 512 KB"});
    r = Cli({"--store", store, "limits", "set", "space1", "--allowedKinds", "go:1.21,java:8",
             "--storeActivations", "YES"});
    REQUIRE(r.rc == 0);
    r = Cli({"--store", store, "limits", "get", "space1"});
    CHECK(Lines(r.out)[1] == "allowedKinds = ['go:1.21', 'java:8']");
    CHECK(Lines(r.out)[2] == "storeActivations = True");

    r = Cli({"--store", store, "limits", "delete", "space1"});
    REQUIRE(r.rc == 0);
    CHECK(r.out == "Limits deleted\n");
    r = Cli({"--store", store, "limits", "delete", "space1"});
    CHECK(r.rc == 1);
}

TEST_CASE("cli: limits set --maxKeepWarm is stored, shown and merged", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    auto r = Cli({"--store", store, "limits", "set", "space1", "--maxKeepWarm", "5"});
    REQUIRE(r.rc == 0);
    r = Cli({"--store", store, "limits", "set", "space1", "--invocationsPerMinute", "7"});
    REQUIRE(r.rc == 0);
    r = Cli({"--store", store, "limits", "get", "space1"});
    REQUIRE(r.rc == 0);
    CHECK(Lines(r.out) == std::vector<std::string>{"invocationsPerMinute = 7", "maxKeepWarm = 5"});
    CHECK(Cli({"--store", store, "limits", "set", "space1", "--maxKeepWarm", "-1"}).rc == 2);
    r = Cli({"limits", "set", "-h"});
    CHECK(r.out.find("--maxKeepWarm") != std::string::npos);
}

TEST_CASE("cli: usage errors exit 2 with one line and a hint", "[admin][cli]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    auto expect_usage = [](const CliResult& r, std::string_view hint) {
        CHECK(r.rc == 2);
        CHECK(r.out.empty());
        auto lines = Lines(r.err);
        REQUIRE(lines.size() == 2);
        CHECK(lines[0].starts_with("wisp-admin: error: "));
        CHECK(lines[1] == "Run '" + std::string(hint) + " --help' for more information.");
    };
    expect_usage(Cli({}), "wisp-admin");
    expect_usage(Cli({"frobnicate"}), "wisp-admin");
    expect_usage(Cli({"user"}), "wisp-admin user");
    expect_usage(Cli({"--store", store, "user", "create"}), "wisp-admin user create");
    expect_usage(Cli({"--store", store, "limits", "set", "ns1", "--invocationsPerMinute", "x"}),
                 "wisp-admin limits set");
    expect_usage(Cli({"--store", store, "limits", "set", "ns1", "--invocationsPerMinute", "-1"}),
                 "wisp-admin limits set");
    auto bad_bool = Cli({"--store", store, "limits", "set", "ns1", "--storeActivations", "maybe"});
    expect_usage(bad_bool, "wisp-admin limits set");
    CHECK(bad_bool.err.find("argument --storeActivations: maybe is not a valid boolean.") !=
          std::string::npos);
    auto bad_size = Cli({"--store", store, "limits", "set", "ns1", "--maxPayloadSize", "1 TB"});
    expect_usage(bad_size, "wisp-admin limits set");
    CHECK(bad_size.err.find("Size Unit not supported.") != std::string::npos);

    // Validation done by the command itself: one line, exit 2.
    auto short_name = Cli({"--store", store, "user", "create", "abc"});
    CHECK(short_name.rc == 2);
    CHECK(short_name.err == "Subject name must be at least 5 characters\n");
}

TEST_CASE("cli: help exits 0", "[admin][cli]") {
    auto r = Cli({"--help"});
    CHECK(r.rc == 0);
    CHECK(r.out.find("user") != std::string::npos);
    r = Cli({"user", "create", "--help"});
    CHECK(r.rc == 0);
    CHECK(r.out.find("--revoke") != std::string::npos);
    r = Cli({"limits", "set", "-h"});
    CHECK(r.rc == 0);
    CHECK(r.out.find("--maxActionConcurrency") != std::string::npos);
}

TEST_CASE("cli: store selection", "[admin][cli]") {
    using wisp::admin::ResolveStoreUri;
    CHECK(ResolveStoreUri(std::string("sqlite:/x/y.db")) == "sqlite:/x/y.db");
    ::setenv("WISP_STORE_USER", "admin", 1);
    ::setenv("WISP_STORE_PASSWORD", "p@ss/word", 1);
    CHECK(ResolveStoreUri(std::string("couchdb:http://db:5984")) ==
          "couchdb:http://admin:p%40ss%2Fword@db:5984");
    CHECK(ResolveStoreUri(std::string("couchdb:http://u:p@db:5984")) ==
          "couchdb:http://u:p@db:5984");
    CHECK(ResolveStoreUri(std::string("sqlite:/x/y.db")) == "sqlite:/x/y.db");
    ::unsetenv("WISP_STORE_USER");
    ::unsetenv("WISP_STORE_PASSWORD");

    const char* old_env = std::getenv("WISP_STORE");
    const std::optional<std::string> saved =
        old_env ? std::optional<std::string>(old_env) : std::nullopt;
    const char* old_home = std::getenv("HOME");
    const std::optional<std::string> saved_home =
        old_home ? std::optional<std::string>(old_home) : std::nullopt;

    TempDir dir;
    ::setenv("WISP_STORE", dir.StoreUri().c_str(), 1);
    CHECK(ResolveStoreUri(std::nullopt) == dir.StoreUri());
    auto r = Cli({"user", "create", "envuser"});
    CHECK(r.rc == 0);
    CHECK(std::filesystem::exists(dir.path() / "w.db"));

    ::unsetenv("WISP_STORE");
    ::setenv("HOME", dir.path().c_str(), 1);
    CHECK(ResolveStoreUri(std::nullopt) == "sqlite:" + (dir.path() / ".wisp/wisp.db").string());
    r = Cli({"init"});  // creates $HOME/.wisp
    CHECK(r.rc == 0);
    CHECK(std::filesystem::exists(dir.path() / ".wisp/wisp.db"));

    if (saved) ::setenv("WISP_STORE", saved->c_str(), 1);
    if (saved_home) ::setenv("HOME", saved_home->c_str(), 1);

    auto bad = Cli({"user", "get", "alice1", "--store", "bogus:x"});
    CHECK(bad.rc != 0);
    REQUIRE(Lines(bad.err).size() == 1);
    CHECK(bad.err.starts_with("wisp-admin: cannot open store \"bogus:x\": "));
    // A directory that cannot exist: its parent is a regular file.
    { std::ofstream(dir.path() / "file") << "x"; }
    auto missing_dir =
        Cli({"user", "get", "alice1", "--store", "sqlite:" + (dir.path() / "file/w.db").string()});
    CHECK(missing_dir.rc == 1);
    REQUIRE(Lines(missing_dir.err).size() == 1);
    CHECK(missing_dir.err.starts_with("wisp-admin: cannot open store "));
}

TEST_CASE("cli: the store URI's password is never printed", "[admin][cli][secrets]") {
    const std::string uri = "couchdb:http://admin:pw0rd-s3cret@127.0.0.1:1/?prefix=w_";
    std::ostringstream out, err;
    const int rc = wisp::admin::RunAdmin(
        {"wisp-admin", "-v", "user", "get", "alice1", "--store", uri}, out, err,
        [](std::string_view) -> absl::StatusOr<std::unique_ptr<wisp::store::ArtifactStore>> {
            return absl::UnavailableError("CouchDB is unreachable");
        });
    CHECK(rc == 1);
    INFO(err.str());
    CHECK(err.str().find("pw0rd-s3cret") == std::string::npos);
    CHECK(err.str().find("wisp-admin: using store couchdb:http://admin:***@127.0.0.1:1/") !=
          std::string::npos);
    CHECK(err.str().find("cannot open store \"couchdb:http://admin:***@127.0.0.1:1/?prefix=w_\"") !=
          std::string::npos);
}

// ---- --kafka: key changes announced on cacheInvalidation
// ------------------------------------------

namespace {

// The test's one bus, handed to RunAdmin as if it were opened from --kafka.
class BorrowedBus final : public wisp::messaging::MessagingProvider {
  public:
    explicit BorrowedBus(wisp::messaging::MessagingProvider& bus) : bus_(bus) {}
    absl::Status EnsureTopic(std::string_view topic,
                             const wisp::messaging::TopicConfig& config) override {
        return bus_.EnsureTopic(topic, config);
    }
    std::unique_ptr<wisp::messaging::MessageProducer> GetProducer() override {
        return bus_.GetProducer();
    }
    std::unique_ptr<wisp::messaging::MessageConsumer> GetConsumer(std::string_view topic,
                                                                  std::string_view group_id,
                                                                  int max_peek) override {
        return bus_.GetConsumer(topic, group_id, max_peek);
    }

  private:
    wisp::messaging::MessagingProvider& bus_;
};

// What a controller's CacheInvalidation hands its handler.
struct Seen {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> ids;
    bool WaitFor(size_t n) {
        std::unique_lock<std::mutex> lock(mu);
        return cv.wait_for(lock, std::chrono::seconds(10), [&] { return ids.size() >= n; });
    }
};

}  // namespace

TEST_CASE("cli: --kafka announces changed subjects on cacheInvalidation", "[admin][cli][bus]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    wisp::messaging::InProcessMessagingProvider bus;
    Seen seen;
    auto controller = wisp::cluster::CacheInvalidation::Start(
        bus, {.instance_id = "controller0", .long_poll = std::chrono::milliseconds(100)},
        [&seen](const std::string& id) {
            std::lock_guard<std::mutex> lock(seen.mu);
            seen.ids.push_back(id);
            seen.cv.notify_all();
        });
    REQUIRE(controller.ok());
    std::vector<wisp::admin::BusOptions> opened;
    auto open_bus = [&](const wisp::admin::BusOptions& options)
        -> absl::StatusOr<std::unique_ptr<wisp::messaging::MessagingProvider>> {
        opened.push_back(options);
        return std::make_unique<BorrowedBus>(bus);
    };
    auto run = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "wisp-admin");
        std::ostringstream out, err;
        const int rc =
            wisp::admin::RunAdmin(args, out, err, wisp::store::OpenArtifactStore, open_bus);
        return CliResult{rc, out.str(), err.str()};
    };

    REQUIRE(run({"--store", store, "user", "create", "carol1"}).rc == 0);
    auto blocked = run({"--store", store, "user", "block", "carol1", "--kafka", "127.0.0.1:9",
                        "--topic-prefix", "t1_"});
    REQUIRE(blocked.rc == 0);
    CHECK(blocked.err.empty());
    REQUIRE(seen.WaitFor(1));
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].bootstrap == "127.0.0.1:9");
    CHECK(opened[0].topic_prefix == "t1_");
    REQUIRE(run({"--store", store, "--kafka", "x:1", "user", "unblock", "carol1"}).rc == 0);
    REQUIRE(
        run({"--store", store, "--kafka", "x:1", "limits", "set", "team1", "--firesPerMinute", "3"})
            .rc == 0);
    REQUIRE(seen.WaitFor(3));
    {
        std::lock_guard<std::mutex> lock(seen.mu);
        CHECK(seen.ids == std::vector<std::string>{"carol1", "carol1", "team1"});
    }
    // Reading commands open no bus.
    REQUIRE(run({"--store", store, "--kafka", "x:1", "user", "get", "carol1"}).rc == 0);
    CHECK(opened.size() == 3);
}

TEST_CASE(
    "cli: without --kafka a key change says when controllers see it; an unreachable bus "
    "changes nothing",
    "[admin][cli][bus]") {
    TempDir dir;
    const std::string store = dir.StoreUri();
    ::unsetenv("WISP_KAFKA");
    auto created = Cli({"--store", store, "user", "create", "dave12"});
    REQUIRE(created.rc == 0);
    CHECK(created.err.empty());  // a new key is in nobody's cache
    const std::string key = Chomp(created.out);

    auto blocked = Cli({"--store", store, "user", "block", "dave12"});
    REQUIRE(blocked.rc == 0);
    CHECK(
        blocked.err.find("note: running controllers see this change when their auth cache expires "
                         "(within 5 s); pass --kafka") == 0);
    REQUIRE(Cli({"--store", store, "user", "unblock", "dave12"}).rc == 0);

    std::ostringstream out, err;
    const int rc = wisp::admin::RunAdmin(
        {"wisp-admin", "--store", store, "--kafka", "127.0.0.1:1", "user", "block", "dave12"}, out,
        err, wisp::store::OpenArtifactStore,
        [](const wisp::admin::BusOptions&)
            -> absl::StatusOr<std::unique_ptr<wisp::messaging::MessagingProvider>> {
            return absl::UnavailableError("no broker answered");
        });
    CHECK(rc == 1);
    CHECK(err.str() ==
          "wisp-admin: cannot reach Kafka at 127.0.0.1:1: no broker answered (nothing was "
          "changed)\n");
    CHECK(Cli({"--store", store, "user", "whois", key}).rc == 0);  // still unblocked
}
