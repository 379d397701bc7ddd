// The ArtifactStore contract: one suite, run against every backend (RocksDB env_basic_test
// style). It uses only the public interface; each backend's binary supplies MakeFreshStore()
// (contract_backend.hpp). What passes for SQLite must pass for CouchDB.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>

#include <wisp/common/entity_json.hpp>
#include <wisp/common/json.hpp>
#include <wisp/common/status.hpp>
#include <wisp/store/artifact_store.hpp>
#include <wisp/testing/catch_status.hpp>

#include "contract_backend.hpp"

using namespace wisp::common;
using wisp::contract::BackendName;
using wisp::contract::MakeFreshStore;
using wisp::store::ActivationQuery;
using wisp::store::ArtifactStore;
using wisp::store::ListOptions;

// ---- readable failures ---------------------------------------------------------------------

namespace {

/// Concatenates anything printable (absl::StrCat in Debian's absl does not take
/// std::string_view).
template <class... Args>
std::string Cat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

std::string Shorten(std::string s) {
    constexpr size_t kMax = 2000;
    if (s.size() > kMax) s = Cat(s.substr(0, kMax), "... (", s.size(), " bytes)");
    return s;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Action> {
    static std::string convert(const Action& v) { return Shorten(ActionToJson(v)); }
};
template <>
struct StringMaker<Trigger> {
    static std::string convert(const Trigger& v) { return Shorten(TriggerToJson(v)); }
};
template <>
struct StringMaker<Rule> {
    static std::string convert(const Rule& v) { return Shorten(RuleToJson(v)); }
};
template <>
struct StringMaker<Package> {
    static std::string convert(const Package& v) { return Shorten(PackageToJson(v)); }
};
template <>
struct StringMaker<WhiskEntity> {
    static std::string convert(const WhiskEntity& v) { return Shorten(EntityToJson(v)); }
};
template <>
struct StringMaker<ActivationRecord> {
    static std::string convert(const ActivationRecord& v) {
        return Shorten(ActivationToJson(v, ActivationJsonForm::kStored));
    }
};
template <>
struct StringMaker<Subject> {
    static std::string convert(const Subject& v) { return SubjectToJson(v); }
};
template <>
struct StringMaker<NamespaceLimits> {
    static std::string convert(const NamespaceLimits& v) { return NamespaceLimitsToJson(v); }
};
template <>
struct StringMaker<Identity> {
    static std::string convert(const Identity& v) {
        return Cat("{subject:", v.subject, ", namespace:", v.namespace_name,
                   ", auth:", v.auth.Compact(), ", rights:", v.rights.size(),
                   ", limits:", NamespaceLimitsToJson(v.limits), "}");
    }
};
}  // namespace Catch

namespace {

// ---- helpers ---------------------------------------------------------------------------------

template <class T>
T OkOr(absl::StatusOr<T> r, const char* expr, int line) {
    INFO(BackendName() << ": " << expr << " (line " << line << ") -> " << r.status().ToString());
    REQUIRE(r.ok());
    return std::move(r).value();
}
void OkOr(const absl::Status& s, const char* expr, int line) {
    INFO(BackendName() << ": " << expr << " (line " << line << ") -> " << s.ToString());
    REQUIRE(s.ok());
}
/// Requires `expr` (Status or StatusOr) to be ok; yields the value of a StatusOr.
#define OK(expr) OkOr((expr), #expr, __LINE__)

absl::StatusCode CodeOf(const absl::Status& s) { return s.code(); }
template <class T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& r) {
    return r.status().code();
}
[[maybe_unused]] std::string MessageOf(const absl::Status& s) { return std::string(s.message()); }
template <class T>
std::string MessageOf(const absl::StatusOr<T>& r) {
    return std::string(r.status().message());
}

/// "guest" or "guest/pkg" without validation (the store must not care about name rules).
EntityPath Path(std::string_view path) {
    std::vector<std::string> segments;
    size_t start = 0;
    while (true) {
        const size_t slash = path.find('/', start);
        segments.emplace_back(path.substr(start, slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return EntityPath(std::move(segments));
}

FullyQualifiedName Fqn(std::string_view path, std::string_view name) {
    return {Path(path), std::string(name)};
}

JsonValue J(std::string_view text) {
    auto v = JsonValue::Parse(text);
    if (!v.ok()) FAIL("bad JSON literal in the test: " << text);  // Catch only on failure
    return *v;
}

Action MakeAction(std::string_view path, std::string_view name, int64_t updated_ms = 1000) {
    Action a;
    a.namespace_path = Path(path);
    a.name = std::string(name);
    a.version = SemVer{0, 0, 1};
    a.updated_ms = updated_ms;
    a.exec = CodeExec{.kind = "python:3.11",
                      .code = "def main(args):\n    return {\"greeting\": \"hi\"}\n",
                      .binary = false,
                      .main = "main"};
    a.parameters.Set("greeting", JsonValue::String("hello"));
    a.annotations.Set("exec", JsonValue::String("python:3.11"));
    a.annotations.Set("provide-api-key", JsonValue::Bool(false));
    return a;
}

Trigger MakeTrigger(std::string_view ns, std::string_view name, int64_t updated_ms = 1000) {
    Trigger t;
    t.namespace_path = Path(ns);
    t.name = std::string(name);
    t.updated_ms = updated_ms;
    t.parameters.Set("source", JsonValue::String("contract"));
    return t;
}

Rule MakeRule(std::string_view ns, std::string_view name, int64_t updated_ms = 1000) {
    Rule r;
    r.namespace_path = Path(ns);
    r.name = std::string(name);
    r.updated_ms = updated_ms;
    r.trigger = Fqn(ns, "t");
    r.action = Fqn(ns, "a");
    return r;
}

Package MakePackage(std::string_view ns, std::string_view name, int64_t updated_ms = 1000) {
    Package p;
    p.namespace_path = Path(ns);
    p.name = std::string(name);
    p.updated_ms = updated_ms;
    p.parameters.Set("region", JsonValue::String("eu"));
    return p;
}

std::vector<std::string> Names(const std::vector<WhiskEntity>& entities) {
    std::vector<std::string> out;
    for (const auto& e : entities) out.push_back(HeaderOf(e).name);
    return out;
}

ActivationRecord MakeActivation(std::string_view ns, std::string_view name, int64_t start_ms,
                                std::optional<std::string> path_annotation = std::nullopt) {
    ActivationRecord r;
    r.namespace_path = Path(ns);
    r.name = std::string(name);
    r.subject = Cat("subject-", ns);
    r.activation_id = ActivationId::Generate();
    r.start_ms = start_ms;
    r.end_ms = start_ms + 7;
    r.response.status = ActivationStatus::kSuccess;
    r.response.result = J(R"({"payload":"Hello John"})");
    r.response.size = 24;
    r.logs = {"2024-05-01T10:00:00.123456789Z stdout: hi",
              "2024-05-01T10:00:00.223456789Z stderr: warning"};
    r.version = SemVer{0, 0, 3};
    r.annotations.Set("limits", J(R"({"timeout":60000,"memory":256,"logs":10,"concurrency":1})"));
    r.annotations.Set("path", JsonValue::String(path_annotation.value_or(Cat(ns, "/", name))));
    r.annotations.Set("kind", JsonValue::String("python:3.11"));
    r.annotations.Set("timeout", JsonValue::Bool(false));
    r.annotations.Set("waitTime", JsonValue::Number(12));
    return r;
}

std::vector<std::string> Ids(const std::vector<ActivationRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.activation_id.str());
    return out;
}

Subject MakeSubject(std::string_view name, std::vector<std::string> namespaces) {
    Subject s;
    s.subject = std::string(name);
    for (auto& ns : namespaces) s.namespaces.push_back({std::move(ns), AuthKey::Generate()});
    return s;
}

bool LooksLikeRevision(const std::string& rev, int generation) {
    const std::string prefix = Cat(generation, "-");
    if (rev.rfind(prefix, 0) != 0) return false;
    const std::string hex = rev.substr(prefix.size());
    return hex.size() == 32 && std::all_of(hex.begin(), hex.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// ---- entities --------------------------------------------------------------------------------

std::vector<WhiskEntity> RichEntities() {
    std::vector<WhiskEntity> out;

    Action code = MakeAction("guest", "hello", 1700000000001);
    code.version = SemVer{1, 2, 3};
    code.publish = true;
    code.limits = ActionLimits{.timeout_ms = 3000,
                               .memory_mb = 512,
                               .logs_mb = 2,
                               .concurrency = 1,
                               .instances = std::nullopt};
    code.parameters = Parameters(std::vector<Parameter>{
        {.key = "name", .value = JsonValue::String("John"), .init = false, .encryption = {}},
        {.key = "nested",
         .value = J(R"({"list":[1,2.5,true,null,"x"],"obj":{"k":"v"},"neg":-42})"),
         .init = false,
         .encryption = {}},
        {.key = "dbUrl", .value = JsonValue::String("https://db"), .init = true, .encryption = {}},
    });
    code.annotations.Set("web-export", JsonValue::Bool(true));
    code.annotations.Set("description", JsonValue::String("says \"hi\"\n\ttabbed\\"));
    out.emplace_back(code);

    Action blackbox = MakeAction("guest", "native", 1700000000002);
    blackbox.exec = BlackboxExec{.image = "openwhisk/dockerskeleton",
                                 .code = "#!/bin/bash\necho '{\"ok\":true}'\n",
                                 .binary = false,
                                 .main = std::nullopt};
    blackbox.annotations.Set("exec", JsonValue::String("blackbox"));
    out.emplace_back(blackbox);

    Action sequence = MakeAction("guest", "seq", 1700000000003);
    sequence.exec = SequenceExec{{Fqn("guest", "hello"), Fqn("guest/utils", "upper")}};
    sequence.parameters = Parameters();
    sequence.parameters.Set("_actions", J(R"(["/guest/hello","/guest/utils/upper"])"));
    sequence.annotations.Set("exec", JsonValue::String("sequence"));
    out.emplace_back(sequence);

    Action packaged = MakeAction("guest/utils", "upper", 1700000000004);
    out.emplace_back(packaged);

    Trigger trigger = MakeTrigger("guest", "every-minute", 1700000000005);
    trigger.annotations.Set("feed", JsonValue::String("/whisk.system/alarms/alarm"));
    trigger.rules["guest/r1"] = ReducedRule{Fqn("guest", "hello"), RuleStatus::kActive};
    trigger.rules["guest/r2"] = ReducedRule{Fqn("guest/utils", "upper"), RuleStatus::kInactive};
    out.emplace_back(trigger);

    Rule rule = MakeRule("guest", "r1", 1700000000006);
    rule.trigger = Fqn("guest", "every-minute");
    rule.action = Fqn("guest/utils", "upper");
    rule.version = SemVer{0, 0, 2};
    out.emplace_back(rule);

    Package package = MakePackage("guest", "utils", 1700000000007);
    package.publish = true;
    package.annotations.Set("description", JsonValue::String("utilities"));
    out.emplace_back(package);

    Package binding = MakePackage("guest", "my-utils", 1700000000008);
    binding.binding = PackageBinding{"whisk.system", "utils"};
    binding.annotations.Set("binding", J(R"({"namespace":"whisk.system","name":"utils"})"));
    out.emplace_back(binding);

    return out;
}

TEST_CASE("entities: every type round-trips exactly", "[contract][entities]") {
    auto store = MakeFreshStore();
    for (const WhiskEntity& entity : RichEntities()) {
        const EntityHeader& header = HeaderOf(entity);
        INFO(BackendName() << ": " << EntityTypeName(TypeOf(entity)) << " "
                           << header.Fqn().DocId());
        const std::string rev = OK(store->PutEntity(entity, ""));
        CHECK(LooksLikeRevision(rev, 1));
        auto got = OK(store->GetEntity(TypeOf(entity), header.Fqn()));
        CHECK(got.rev == rev);
        CHECK(got.doc == entity);
    }
    // The typed convenience.
    auto action = OK(store->Get<Action>(Fqn("guest", "hello")));
    CHECK(action.doc == std::get<Action>(RichEntities()[0]));
    auto package = OK(store->Get<Package>(Fqn("guest", "my-utils")));
    REQUIRE(package.doc.binding.has_value());
    CHECK(package.doc.binding->namespace_name == "whisk.system");
}

TEST_CASE("entities: create conflicts within and across types", "[contract][entities]") {
    auto store = MakeFreshStore();
    OK(store->PutEntity(MakeAction("guest", "a"), ""));

    SECTION("same type -> AlreadyExists") {
        auto r = store->PutEntity(MakeAction("guest", "a", 2000), "");
        CHECK(CodeOf(r) == absl::StatusCode::kAlreadyExists);
        CHECK(MessageOf(r) == kMsgResourceExists);
        CHECK(OK(store->Get<Action>(Fqn("guest", "a"))).doc.updated_ms == 1000);
    }
    SECTION("another type with the same id -> FailedPrecondition") {
        for (const WhiskEntity& other : std::vector<WhiskEntity>{
                 MakeTrigger("guest", "a"), MakeRule("guest", "a"), MakePackage("guest", "a")}) {
            auto r = store->PutEntity(other, "");
            INFO(EntityTypeName(TypeOf(other)));
            CHECK(CodeOf(r) == absl::StatusCode::kFailedPrecondition);
            CHECK(MessageOf(r) == kMsgTypeMismatch);
        }
        OK(store->PutEntity(MakeTrigger("guest", "t"), ""));
        auto r = store->PutEntity(MakeAction("guest", "t"), "");
        CHECK(CodeOf(r) == absl::StatusCode::kFailedPrecondition);
        CHECK(MessageOf(r) == kMsgTypeMismatch);
    }
    SECTION("a packaged action does not clash with a root action of the same name") {
        OK(store->PutEntity(MakeAction("guest/pkg", "a"), ""));
        CHECK(OK(store->Get<Action>(Fqn("guest/pkg", "a"))).doc.namespace_path ==
              Path("guest/pkg"));
        CHECK(OK(store->Get<Action>(Fqn("guest", "a"))).doc.namespace_path == Path("guest"));
    }
    SECTION("an action named like a package clashes with the package") {
        OK(store->PutEntity(MakePackage("guest", "pkg"), ""));
        auto r = store->PutEntity(MakeAction("guest", "pkg"), "");
        CHECK(CodeOf(r) == absl::StatusCode::kFailedPrecondition);
    }
    SECTION("the same name in another namespace is another document") {
        OK(store->PutEntity(MakeTrigger("other", "a"), ""));
        OK(store->Get<Trigger>(Fqn("other", "a")));
    }
}

TEST_CASE("entities: updates need the current revision", "[contract][entities]") {
    auto store = MakeFreshStore();
    Action a = MakeAction("guest", "a");
    const std::string rev1 = OK(store->PutEntity(a, ""));

    a.version = a.version.UpPatch();
    a.updated_ms = 2000;
    a.parameters.Set("greeting", JsonValue::String("bonjour"));
    const std::string rev2 = OK(store->PutEntity(a, rev1));
    CHECK(rev2 != rev1);
    CHECK(LooksLikeRevision(rev2, 2));
    auto got = OK(store->Get<Action>(Fqn("guest", "a")));
    CHECK(got.rev == rev2);
    CHECK(got.doc == a);

    SECTION("stale revision -> Aborted, nothing overwritten") {
        Action stale = a;
        stale.parameters.Set("greeting", JsonValue::String("lost"));
        CHECK(CodeOf(store->PutEntity(stale, rev1)) == absl::StatusCode::kAborted);
        auto after = OK(store->Get<Action>(Fqn("guest", "a")));
        CHECK(after.rev == rev2);
        CHECK(after.doc == a);
    }
    SECTION("a made-up revision -> Aborted") {
        CHECK(CodeOf(store->PutEntity(a, "2-00000000000000000000000000000000")) ==
              absl::StatusCode::kAborted);
    }
    SECTION("update of a missing document -> Aborted") {
        CHECK(CodeOf(store->PutEntity(MakeAction("guest", "missing"), rev1)) ==
              absl::StatusCode::kAborted);
        CHECK(CodeOf(store->Get<Action>(Fqn("guest", "missing"))) == absl::StatusCode::kNotFound);
    }
    SECTION("update through another type -> FailedPrecondition") {
        Trigger t = MakeTrigger("guest", "a");
        CHECK(CodeOf(store->PutEntity(t, rev2)) == absl::StatusCode::kFailedPrecondition);
    }
    SECTION("successive updates chain revisions") {
        std::string rev = rev2;
        for (int i = 0; i < 3; ++i) {
            a.version = a.version.UpPatch();
            rev = OK(store->PutEntity(a, rev));
        }
        CHECK(LooksLikeRevision(rev, 5));
        CHECK(OK(store->Get<Action>(Fqn("guest", "a"))).doc.version == SemVer{0, 0, 5});
    }
}

TEST_CASE("entities: get and delete", "[contract][entities]") {
    auto store = MakeFreshStore();
    const std::string rev = OK(store->PutEntity(MakeAction("guest", "a"), ""));

    SECTION("missing -> NotFound") {
        auto r = store->GetEntity(EntityType::kAction, Fqn("guest", "nope"));
        CHECK(CodeOf(r) == absl::StatusCode::kNotFound);
        CHECK(MessageOf(r) == kMsgResourceDoesNotExist);
        CHECK(CodeOf(store->DeleteEntity(EntityType::kAction, Fqn("guest", "nope"), "")) ==
              absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->GetEntity(EntityType::kAction, Fqn("nobody", "a"))) ==
              absl::StatusCode::kNotFound);
    }
    SECTION("wrong type -> FailedPrecondition") {
        for (EntityType t : {EntityType::kTrigger, EntityType::kRule, EntityType::kPackage}) {
            auto r = store->GetEntity(t, Fqn("guest", "a"));
            CHECK(CodeOf(r) == absl::StatusCode::kFailedPrecondition);
            CHECK(MessageOf(r) == kMsgTypeMismatch);
            CHECK(CodeOf(store->DeleteEntity(t, Fqn("guest", "a"), "")) ==
                  absl::StatusCode::kFailedPrecondition);
        }
        OK(store->Get<Action>(Fqn("guest", "a")));
    }
    SECTION("delete with the current revision") {
        OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), rev));
        CHECK(CodeOf(store->Get<Action>(Fqn("guest", "a"))) == absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), rev)) ==
              absl::StatusCode::kNotFound);
    }
    SECTION("delete without a revision") {
        OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), ""));
        CHECK(CodeOf(store->Get<Action>(Fqn("guest", "a"))) == absl::StatusCode::kNotFound);
    }
    SECTION("delete with a stale revision -> Aborted, document kept") {
        Action updated = MakeAction("guest", "a", 2000);
        OK(store->PutEntity(updated, rev));
        CHECK(CodeOf(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), rev)) ==
              absl::StatusCode::kAborted);
        CHECK(OK(store->Get<Action>(Fqn("guest", "a"))).doc == updated);
    }
    SECTION("a deleted id can be created again, with any type") {
        OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), ""));
        Trigger t = MakeTrigger("guest", "a");
        const std::string trev = OK(store->PutEntity(t, ""));
        auto got = OK(store->Get<Trigger>(Fqn("guest", "a")));
        CHECK(got.doc == t);
        CHECK(got.rev == trev);
        CHECK(CodeOf(store->Get<Action>(Fqn("guest", "a"))) ==
              absl::StatusCode::kFailedPrecondition);
    }
}

TEST_CASE("entities: lists are newest first with skip, limit and count", "[contract][entities]") {
    auto store = MakeFreshStore();
    // Written out of order; `updated` decides the order.
    for (int64_t updated : {3000, 1000, 5000, 2000, 4000}) {
        OK(store->PutEntity(MakeAction("guest", Cat("a", updated / 1000), updated), ""));
    }
    OK(store->PutEntity(MakeTrigger("guest", "t1", 9000), ""));
    OK(store->PutEntity(MakeRule("guest", "r1", 9000), ""));
    OK(store->PutEntity(MakePackage("guest", "p1", 9000), ""));

    const EntityPath guest = Path("guest");
    auto all = OK(store->ListEntities(EntityType::kAction, guest, {}));
    CHECK(Names(all) == std::vector<std::string>{"a5", "a4", "a3", "a2", "a1"});
    for (const auto& e : all) CHECK(TypeOf(e) == EntityType::kAction);
    CHECK(all.front() == WhiskEntity(MakeAction("guest", "a5", 5000)));

    CHECK(Names(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 1, .limit = 2}))) ==
          std::vector<std::string>{"a4", "a3"});
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 0, .limit = 3}))) ==
          std::vector<std::string>{"a5", "a4", "a3"});
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 3, .limit = 0}))) ==
          std::vector<std::string>{"a2", "a1"});
    CHECK(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 5, .limit = 0})).empty());
    CHECK(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 10, .limit = 2})).empty());
    CHECK(OK(store->CountEntities(EntityType::kAction, guest)) == 5);

    CHECK(Names(OK(store->ListEntities(EntityType::kTrigger, guest, {}))) ==
          std::vector<std::string>{"t1"});
    CHECK(Names(OK(store->ListEntities(EntityType::kRule, guest, {}))) ==
          std::vector<std::string>{"r1"});
    CHECK(Names(OK(store->ListEntities(EntityType::kPackage, guest, {}))) ==
          std::vector<std::string>{"p1"});
    CHECK(OK(store->CountEntities(EntityType::kTrigger, guest)) == 1);

    // An update moves an entity to the front.
    auto a1 = OK(store->Get<Action>(Fqn("guest", "a1")));
    a1.doc.updated_ms = 6000;
    OK(store->PutEntity(a1.doc, a1.rev));
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, guest, {.skip = 0, .limit = 2}))) ==
          std::vector<std::string>{"a1", "a5"});
    // A delete removes it from lists and counts.
    OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a5"), ""));
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, guest, {}))) ==
          std::vector<std::string>{"a1", "a4", "a3", "a2"});
    CHECK(OK(store->CountEntities(EntityType::kAction, guest)) == 4);

    // Empty namespaces list nothing.
    CHECK(OK(store->ListEntities(EntityType::kAction, Path("empty"), {})).empty());
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("empty"))) == 0);
}

TEST_CASE("entities: a root listing includes packaged actions, a package path only its own",
          "[contract][entities]") {
    auto store = MakeFreshStore();
    OK(store->PutEntity(MakePackage("guest", "pkg", 100), ""));
    OK(store->PutEntity(MakePackage("guest", "pkg2", 100), ""));
    OK(store->PutEntity(MakeAction("guest", "root1", 1000), ""));
    OK(store->PutEntity(MakeAction("guest/pkg", "inner1", 2000), ""));
    OK(store->PutEntity(MakeAction("guest/pkg", "inner2", 3000), ""));
    OK(store->PutEntity(MakeAction("guest/pkg2", "other", 4000), ""));
    OK(store->PutEntity(MakeAction("guest/pkg", "root1", 500), ""));  // same name as a root one

    auto root = OK(store->ListEntities(EntityType::kAction, Path("guest"), {}));
    CHECK(Names(root) == std::vector<std::string>{"other", "inner2", "inner1", "root1", "root1"});
    CHECK(HeaderOf(root[0]).namespace_path == Path("guest/pkg2"));
    CHECK(HeaderOf(root[3]).namespace_path == Path("guest"));
    CHECK(HeaderOf(root[4]).namespace_path == Path("guest/pkg"));
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("guest"))) == 5);

    auto pkg = OK(store->ListEntities(EntityType::kAction, Path("guest/pkg"), {}));
    CHECK(Names(pkg) == std::vector<std::string>{"inner2", "inner1", "root1"});
    for (const auto& e : pkg) CHECK(HeaderOf(e).namespace_path == Path("guest/pkg"));
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("guest/pkg"))) == 3);
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, Path("guest/pkg"),
                                       {.skip = 1, .limit = 1}))) ==
          std::vector<std::string>{"inner1"});
    CHECK(OK(store->ListEntities(EntityType::kAction, Path("guest/none"), {})).empty());
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("guest/none"))) == 0);
    // Packages themselves are listed at the root only.
    CHECK(OK(store->CountEntities(EntityType::kPackage, Path("guest"))) == 2);
}

TEST_CASE("entities: namespaces are isolated", "[contract][entities]") {
    auto store = MakeFreshStore();
    // Names chosen to catch prefix-range mistakes ("guest" vs "guest2", "guest-x").
    for (std::string_view ns : {"guest", "guest2", "guest-x", "gues"}) {
        OK(store->PutEntity(MakeAction(ns, "a"), ""));
        OK(store->PutEntity(MakeAction(Cat(ns, "/pkg"), "b"), ""));
        OK(store->PutEntity(MakeTrigger(ns, "t"), ""));
    }
    for (std::string_view ns : {"guest", "guest2", "guest-x", "gues"}) {
        INFO(ns);
        auto actions = OK(store->ListEntities(EntityType::kAction, Path(ns), {}));
        REQUIRE(actions.size() == 2);
        for (const auto& e : actions) CHECK(HeaderOf(e).namespace_path.root() == ns);
        CHECK(OK(store->CountEntities(EntityType::kAction, Path(ns))) == 2);
        CHECK(OK(store->CountEntities(EntityType::kTrigger, Path(ns))) == 1);
        CHECK(OK(store->CountEntities(EntityType::kAction, Path(Cat(ns, "/pkg")))) == 1);
    }
    OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a"), ""));
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("guest2"))) == 2);
    OK(store->Get<Action>(Fqn("guest2", "a")));
}

TEST_CASE("entities: unicode values and every name character", "[contract][entities]") {
    // Entity names are ASCII (OpenWhisk's \w is Java's [a-zA-Z_0-9]) but may hold ' ', '@',
    // '.', '&' and '-', which need escaping in URLs; values carry any Unicode.
    auto store = MakeFreshStore();
    const std::vector<std::string> names = {"a b@c.d&e-f", "_x", "9.9", "with space", "a&b"};
    int64_t updated = 1000;
    for (const std::string& name : names) {
        Action a = MakeAction("guest", name, updated++);
        a.parameters.Set("emoji", JsonValue::String("🚀 héllo 中文 \u00e9 \xF0\x9F\x98\x80"));
        a.parameters.Set("obj", J(R"({"clé":"välue","数":[1,"二"],"escaped":"\u00e9\n\"q\""})"));
        a.parameters.Set("ключ", JsonValue::String("значение"));
        a.annotations.Set("description", JsonValue::String("Ωmega ≠ alpha, café, 中文"));
        INFO(name);
        const std::string rev = OK(store->PutEntity(a, ""));
        auto got = OK(store->Get<Action>(Fqn("guest", name)));
        CHECK(got.doc == a);
        CHECK(got.rev == rev);
    }
    OK(store->PutEntity(MakeAction("guest/my pkg@x", "in pkg", updated++), ""));
    CHECK(OK(store->Get<Action>(Fqn("guest/my pkg@x", "in pkg"))).doc.name == "in pkg");
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, Path("guest/my pkg@x"), {}))) ==
          std::vector<std::string>{"in pkg"});
    auto all = OK(store->ListEntities(EntityType::kAction, Path("guest"), {}));
    CHECK(Names(all) ==
          std::vector<std::string>{"in pkg", "a&b", "with space", "9.9", "_x", "a b@c.d&e-f"});
    OK(store->DeleteEntity(EntityType::kAction, Fqn("guest", "a&b"), ""));
    CHECK(CodeOf(store->Get<Action>(Fqn("guest", "a&b"))) == absl::StatusCode::kNotFound);

    // Unicode in activation records and subjects too.
    ActivationRecord r = MakeActivation("guest", "with space", 1000);
    r.response.result = J(R"({"greeting":"¡Hola, señor! 你好 🎉"})");
    r.logs = {"2024-05-01T10:00:00.1Z stdout: ünïcödé 🎉"};
    OK(store->PutActivation(r));
    CHECK(OK(store->GetActivation("guest", r.activation_id)) == r);

    // Subject names are free text (wskadmin only asks for 5 characters): any Unicode goes.
    Subject s = MakeSubject("jürgen-müller 中文 🎉", {"juergen"});
    OK(store->PutSubject(s, ""));
    CHECK(OK(store->GetSubject("jürgen-müller 中文 🎉")).doc == s);
    CHECK(OK(store->GetIdentityByKey(s.namespaces[0].auth)).subject == "jürgen-müller 中文 🎉");
    CHECK(CodeOf(store->GetSubject("jurgen-muller")) == absl::StatusCode::kNotFound);
}

TEST_CASE("entities: a 1 MB parameter document round-trips", "[contract][entities]") {
    auto store = MakeFreshStore();
    Action a = MakeAction("guest", "big");
    std::string big;
    big.reserve(1 << 20);
    while (big.size() < (1 << 20)) big += "0123456789abcdef-é-";
    a.parameters.Set("big", JsonValue::String(big));
    a.parameters.Set("more", JsonValue::String(std::string(1000, 'z')));
    const std::string rev = OK(store->PutEntity(a, ""));
    auto got = OK(store->Get<Action>(Fqn("guest", "big")));
    CHECK(got.doc == a);
    // And an update of the big document.
    a.parameters.Set("more", JsonValue::String("changed"));
    OK(store->PutEntity(a, rev));
    CHECK(OK(store->Get<Action>(Fqn("guest", "big"))).doc == a);
    CHECK(OK(store->ListEntities(EntityType::kAction, Path("guest"), {})).front() ==
          WhiskEntity(a));
}

// ---- subjects, identities, limits ------------------------------------------------------------

TEST_CASE("subjects: put, get, list, update, delete", "[contract][subjects]") {
    auto store = MakeFreshStore();
    Subject alice = MakeSubject("alice-subject", {"alice", "alice-shared"});
    Subject bob = MakeSubject("bob-subject", {"bob"});
    Subject carol = MakeSubject("carol-subject", {"carol"});
    carol.blocked = true;

    const std::string arev = OK(store->PutSubject(alice, ""));
    OK(store->PutSubject(carol, ""));
    OK(store->PutSubject(bob, ""));

    auto got = OK(store->GetSubject("alice-subject"));
    CHECK(got.doc == alice);
    CHECK(got.rev == arev);
    CHECK(OK(store->GetSubject("carol-subject")).doc == carol);

    auto all = OK(store->ListSubjects());
    CHECK(all == std::vector<Subject>{alice, bob, carol});  // sorted by subject

    CHECK(CodeOf(store->PutSubject(alice, "")) == absl::StatusCode::kAlreadyExists);
    CHECK(CodeOf(store->GetSubject("nobody-subject")) == absl::StatusCode::kNotFound);

    alice.namespaces.push_back({"alice-third", AuthKey::Generate()});
    const std::string arev2 = OK(store->PutSubject(alice, arev));
    CHECK(arev2 != arev);
    CHECK(OK(store->GetSubject("alice-subject")).doc == alice);
    CHECK(CodeOf(store->PutSubject(alice, arev)) == absl::StatusCode::kAborted);
    CHECK(CodeOf(store->PutSubject(MakeSubject("dave-subject", {"dave"}), arev)) ==
          absl::StatusCode::kAborted);

    CHECK(CodeOf(store->DeleteSubject("alice-subject", arev)) == absl::StatusCode::kAborted);
    OK(store->DeleteSubject("alice-subject", arev2));
    CHECK(CodeOf(store->GetSubject("alice-subject")) == absl::StatusCode::kNotFound);
    CHECK(CodeOf(store->DeleteSubject("alice-subject", "")) == absl::StatusCode::kNotFound);
    OK(store->DeleteSubject("bob-subject", ""));
    CHECK(OK(store->ListSubjects()) == std::vector<Subject>{carol});
}

TEST_CASE("identities: lookup by key", "[contract][subjects]") {
    auto store = MakeFreshStore();
    Subject alice = MakeSubject("alice-subject", {"alice", "shared"});
    Subject bob = MakeSubject("bob-subject", {"bob", "shared"});
    Subject mallory = MakeSubject("mallory-subject", {"mallory", "shared"});
    mallory.blocked = true;
    OK(store->PutSubject(alice, ""));
    OK(store->PutSubject(bob, ""));
    const std::string mrev = OK(store->PutSubject(mallory, ""));

    NamespaceLimits alice_limits;
    alice_limits.invocations_per_minute = 7;
    alice_limits.concurrent_invocations = 3;
    alice_limits.allowed_kinds = std::vector<std::string>{"python:3.11", "blackbox"};
    alice_limits.store_activations = false;
    OK(store->PutLimits("alice", alice_limits));

    SECTION("each namespace of a subject has its own key and limits") {
        Identity id = OK(store->GetIdentityByKey(alice.namespaces[0].auth));
        Identity expected;
        expected.subject = "alice-subject";
        expected.namespace_name = "alice";
        expected.auth = alice.namespaces[0].auth;
        expected.limits = alice_limits;
        CHECK(id == expected);

        Identity shared = OK(store->GetIdentityByKey(alice.namespaces[1].auth));
        CHECK(shared.subject == "alice-subject");
        CHECK(shared.namespace_name == "shared");
        CHECK(shared.auth == alice.namespaces[1].auth);
        CHECK(shared.limits.empty());

        Identity b = OK(store->GetIdentityByKey(bob.namespaces[0].auth));
        CHECK(b.subject == "bob-subject");
        CHECK(b.namespace_name == "bob");
    }
    SECTION("a wrong key or uuid is not found") {
        AuthKey wrong_key = alice.namespaces[0].auth;
        wrong_key.key = AuthKey::Generate().key;
        CHECK(CodeOf(store->GetIdentityByKey(wrong_key)) == absl::StatusCode::kNotFound);
        AuthKey wrong_uuid = alice.namespaces[0].auth;
        wrong_uuid.uuid = AuthKey::Generate().uuid;
        CHECK(CodeOf(store->GetIdentityByKey(wrong_uuid)) == absl::StatusCode::kNotFound);
        // Alice's uuid with Bob's key.
        AuthKey mixed{alice.namespaces[0].auth.uuid, bob.namespaces[0].auth.key};
        CHECK(CodeOf(store->GetIdentityByKey(mixed)) == absl::StatusCode::kNotFound);
    }
    SECTION("a blocked subject never matches; unblocking restores it") {
        CHECK(CodeOf(store->GetIdentityByKey(mallory.namespaces[0].auth)) ==
              absl::StatusCode::kNotFound);
        mallory.blocked = false;
        OK(store->PutSubject(mallory, mrev));
        CHECK(OK(store->GetIdentityByKey(mallory.namespaces[0].auth)).namespace_name == "mallory");
    }
    SECTION("limits changes are visible through the identity") {
        NamespaceLimits changed;
        changed.fires_per_minute = 1;
        OK(store->PutLimits("alice", changed));
        CHECK(OK(store->GetIdentityByKey(alice.namespaces[0].auth)).limits == changed);
        OK(store->DeleteLimits("alice"));
        CHECK(OK(store->GetIdentityByKey(alice.namespaces[0].auth)).limits.empty());
    }
    SECTION("removed namespaces and deleted subjects stop matching") {
        auto current = OK(store->GetSubject("alice-subject"));
        Subject trimmed = alice;
        trimmed.namespaces.erase(trimmed.namespaces.begin());
        OK(store->PutSubject(trimmed, current.rev));
        CHECK(CodeOf(store->GetIdentityByKey(alice.namespaces[0].auth)) ==
              absl::StatusCode::kNotFound);
        OK(store->GetIdentityByKey(alice.namespaces[1].auth));
        OK(store->DeleteSubject("alice-subject", ""));
        CHECK(CodeOf(store->GetIdentityByKey(alice.namespaces[1].auth)) ==
              absl::StatusCode::kNotFound);
    }
    SECTION("identities in a namespace: every unblocked owner") {
        auto shared = OK(store->ListIdentitiesInNamespace("shared"));
        std::set<std::string> subjects;
        for (const Identity& id : shared) {
            subjects.insert(id.subject);
            CHECK(id.namespace_name == "shared");
        }
        CHECK(subjects == std::set<std::string>{"alice-subject", "bob-subject"});
        CHECK(shared.size() == 2);
        auto alone = OK(store->ListIdentitiesInNamespace("alice"));
        REQUIRE(alone.size() == 1);
        CHECK(alone[0].auth == alice.namespaces[0].auth);
        CHECK(alone[0].limits == alice_limits);
        CHECK(OK(store->ListIdentitiesInNamespace("nobody")).empty());
        CHECK(OK(store->ListIdentitiesInNamespace("mallory")).empty());
    }
}

TEST_CASE("limits: put, get, replace, delete", "[contract][subjects]") {
    auto store = MakeFreshStore();
    CHECK(CodeOf(store->GetLimits("guest")) == absl::StatusCode::kNotFound);
    CHECK(CodeOf(store->DeleteLimits("guest")) == absl::StatusCode::kNotFound);

    NamespaceLimits limits;
    limits.invocations_per_minute = 120;
    limits.concurrent_invocations = 10;
    limits.fires_per_minute = 30;
    limits.allowed_kinds = std::vector<std::string>{"python:3.11", "nodejs:18"};
    limits.store_activations = true;
    limits.min_action_memory = 128;
    limits.max_action_memory = 1024;
    limits.max_action_timeout = 600000;
    limits.max_parameter_size = 2097152;
    OK(store->PutLimits("guest", limits));
    auto got = OK(store->GetLimits("guest"));
    CHECK(got.doc == limits);
    CHECK(!got.rev.empty());

    NamespaceLimits replaced;
    replaced.store_activations = false;
    OK(store->PutLimits("guest", replaced));
    auto got2 = OK(store->GetLimits("guest"));
    CHECK(got2.doc == replaced);
    CHECK(got2.rev != got.rev);

    OK(store->PutLimits("guest2", NamespaceLimits{}));
    CHECK(OK(store->GetLimits("guest2")).doc.empty());

    OK(store->DeleteLimits("guest"));
    CHECK(CodeOf(store->GetLimits("guest")) == absl::StatusCode::kNotFound);
    OK(store->GetLimits("guest2"));
}

// ---- activations -----------------------------------------------------------------------------

TEST_CASE("activations: put, get, replace, delete", "[contract][activations]") {
    auto store = MakeFreshStore();
    ActivationRecord r = MakeActivation("guest", "hello", 1700000000000);
    r.cause = ActivationId::Generate();
    r.publish = true;
    OK(store->PutActivation(r));
    CHECK(OK(store->GetActivation("guest", r.activation_id)) == r);

    SECTION("every response kind round-trips") {
        ActivationRecord failed = MakeActivation("guest", "hello", 1700000000100);
        failed.response = ActivationResponse::Error(ActivationStatus::kDeveloperError,
                                                    "The action exceeded its time limits.");
        failed.logs.clear();
        ActivationRecord trigger = MakeActivation("guest", "t", 1700000000200);
        trigger.end_ms = 0;
        trigger.annotations = Annotations();
        trigger.response.result = J(R"({"fired":"ça 🚀"})");
        trigger.response.size = std::nullopt;
        trigger.logs = {R"({"statusCode":0,"success":true,"activationId":"x","rule":"guest/r"})"};
        ActivationRecord whisk = MakeActivation("guest", "hello", 1700000000300);
        whisk.response = ActivationResponse::Error(ActivationStatus::kWhiskError, "boom");
        ActivationRecord app = MakeActivation("guest", "hello", 1700000000400);
        app.response = ActivationResponse::Error(ActivationStatus::kApplicationError, "nope");
        ActivationRecord sequence = MakeActivation("guest", "seq", 1700000000500);
        sequence.duration_ms = 3;  // the sum of its components, not end - start
        sequence.logs = {ActivationId::Generate().str(), ActivationId::Generate().str()};
        sequence.annotations.Set("topmost", JsonValue::Bool(true));
        sequence.annotations.Set("kind", JsonValue::String("sequence"));
        for (const auto& rec : {failed, trigger, whisk, app, sequence}) {
            OK(store->PutActivation(rec));
            CHECK(OK(store->GetActivation("guest", rec.activation_id)) == rec);
        }
    }
    SECTION("storing the same id again replaces the record") {
        ActivationRecord again = r;
        again.end_ms = r.end_ms + 100;
        again.response.result = J(R"({"payload":"second"})");
        OK(store->PutActivation(again));
        OK(store->PutActivation(again));
        CHECK(OK(store->GetActivation("guest", r.activation_id)) == again);
        CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 1);
        CHECK(OK(store->ListActivations({.namespace_name = "guest"})) ==
              std::vector<ActivationRecord>{again});
    }
    SECTION("missing, other namespace, delete") {
        CHECK(OK(store->HasActivation("guest", r.activation_id)));
        CHECK_FALSE(OK(store->HasActivation("guest", ActivationId::Generate())));
        CHECK_FALSE(OK(store->HasActivation("other", r.activation_id)));
        CHECK(CodeOf(store->GetActivation("guest", ActivationId::Generate())) ==
              absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->GetActivation("other", r.activation_id)) ==
              absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->DeleteActivation("other", r.activation_id)) ==
              absl::StatusCode::kNotFound);
        OK(store->DeleteActivation("guest", r.activation_id));
        CHECK(CodeOf(store->GetActivation("guest", r.activation_id)) ==
              absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->DeleteActivation("guest", r.activation_id)) ==
              absl::StatusCode::kNotFound);
        CHECK_FALSE(OK(store->HasActivation("guest", r.activation_id)));
        CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 0);
    }
}

TEST_CASE("activations: CreateActivation is create-only; the first writer's record stays",
          "[contract][activations][create-only]") {
    auto store = MakeFreshStore();
    ActivationRecord first = MakeActivation("guest", "hello", 1700000000000);
    OK(store->CreateActivation(first));
    CHECK(OK(store->GetActivation("guest", first.activation_id)) == first);

    // A late invoker result (or a second forced completion) for the same id loses.
    ActivationRecord late = first;
    late.end_ms = first.end_ms + 100;
    late.response = ActivationResponse::Error(ActivationStatus::kWhiskError, "forced");
    CHECK(store->CreateActivation(late).code() == absl::StatusCode::kAlreadyExists);
    CHECK(OK(store->GetActivation("guest", first.activation_id)) == first);
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 1);

    // Also against a record PutActivation stored; the same id in another namespace is another
    // record.
    ActivationRecord put = MakeActivation("guest", "other", 1700000000100);
    OK(store->PutActivation(put));
    CHECK(store->CreateActivation(put).code() == absl::StatusCode::kAlreadyExists);
    ActivationRecord elsewhere = first;
    elsewhere.namespace_path = Path("other");
    OK(store->CreateActivation(elsewhere));
    CHECK(OK(store->GetActivation("other", first.activation_id)) == elsewhere);
    CHECK(store->CreateActivation(ActivationRecord{}).code() == absl::StatusCode::kInvalidArgument);

    // Concurrent writers of one id: exactly one wins, and its record is the stored one.
    constexpr int kWriters = 6;
    ActivationRecord contended = MakeActivation("guest", "contended", 1700000000200);
    std::vector<ActivationRecord> versions;
    for (int t = 0; t < kWriters; ++t) {
        ActivationRecord v = contended;
        v.end_ms = contended.end_ms + t;
        versions.push_back(v);
    }
    std::vector<absl::StatusCode> codes(kWriters);
    std::vector<std::thread> threads;
    for (int t = 0; t < kWriters; ++t) {
        threads.emplace_back([&, t] { codes[t] = store->CreateActivation(versions[t]).code(); });
    }
    for (auto& t : threads) t.join();
    int winner = -1;
    for (int t = 0; t < kWriters; ++t) {
        if (codes[t] == absl::StatusCode::kOk) {
            CHECK(winner == -1);
            winner = t;
        } else {
            CHECK(codes[t] == absl::StatusCode::kAlreadyExists);
        }
    }
    REQUIRE(winner >= 0);
    CHECK(OK(store->GetActivation("guest", contended.activation_id)) == versions[winner]);
}

TEST_CASE("activations: CreateActivations stores a batch create-only, one status per record",
          "[contract][activations][batch]") {
    auto store = MakeFreshStore();
    ActivationRecord existing = MakeActivation("guest", "first", 1700000000000);
    OK(store->CreateActivation(existing));
    ActivationRecord late = existing;
    late.response = ActivationResponse::Error(ActivationStatus::kWhiskError, "forced");
    std::vector<ActivationRecord> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(MakeActivation("guest", "b", 1700000001000 + i));
    batch.push_back(late);                // AlreadyExists: the first writer's record stays
    batch.push_back(ActivationRecord{});  // InvalidArgument: the others are still stored
    batch.push_back(MakeActivation("other", "b", 1700000002000));
    auto statuses = OK(store->CreateActivations(batch));
    REQUIRE(statuses.size() == batch.size());
    for (int i = 0; i < 20; ++i) {
        CHECK(statuses[i].ok());
        CHECK(OK(store->GetActivation("guest", batch[i].activation_id)) == batch[i]);
    }
    CHECK(statuses[20].code() == absl::StatusCode::kAlreadyExists);
    CHECK(OK(store->GetActivation("guest", existing.activation_id)) == existing);
    CHECK(statuses[21].code() == absl::StatusCode::kInvalidArgument);
    CHECK(statuses[22].ok());
    CHECK(OK(store->GetActivation("other", batch[22].activation_id)) == batch[22]);
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 21);
    // Writing the batch again (a retry after an ambiguous outage) stores nothing twice.
    auto again = OK(store->CreateActivations(std::span(batch).first(20)));
    for (const auto& st : again) CHECK(st.code() == absl::StatusCode::kAlreadyExists);
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 21);
    CHECK(OK(store->CreateActivations({})).empty());
}

TEST_CASE("activations: DeleteActivationsBefore removes the oldest of every namespace in batches",
          "[contract][activations][retention]") {
    auto store = MakeFreshStore();
    const int64_t t0 = 1700000000000;
    std::vector<ActivationRecord> old_records, kept;
    for (int i = 0; i < 7; ++i) {
        old_records.push_back(MakeActivation(i % 2 ? "guest" : "other", "a", t0 + i));
        OK(store->CreateActivation(old_records.back()));
    }
    for (int i = 0; i < 3; ++i) {
        kept.push_back(MakeActivation("guest", "a", t0 + 1000 + i));
        OK(store->CreateActivation(kept.back()));
    }
    CHECK(store->DeleteActivationsBefore(t0 + 1000, 0).status().code() ==
          absl::StatusCode::kInvalidArgument);
    // Oldest first, at most `limit` per call; fewer than the limit: nothing older is left.
    CHECK(OK(store->DeleteActivationsBefore(t0 + 1000, 3)) == 3);
    for (int i = 0; i < 3; ++i) {
        CHECK(store
                  ->GetActivation(old_records[i].namespace_path.ToString(),
                                  old_records[i].activation_id)
                  .status()
                  .code() == absl::StatusCode::kNotFound);
    }
    CHECK(OK(store->DeleteActivationsBefore(t0 + 1000, 3)) == 3);
    CHECK(OK(store->DeleteActivationsBefore(t0 + 1000, 3)) == 1);
    CHECK(OK(store->DeleteActivationsBefore(t0 + 1000, 3)) == 0);  // idempotent
    CHECK(OK(store->CountActivations({.namespace_name = "other"})) == 0);
    // The cutoff is exclusive; what is kept is whole (result and logs) and still listed.
    auto listed = OK(store->ListActivations({.namespace_name = "guest"}));
    REQUIRE(listed.size() == 3);
    CHECK(listed[0] == kept[2]);
    CHECK(listed[2] == kept[0]);
    CHECK(OK(store->DeleteActivationsBefore(kept[0].start_ms, 10)) == 0);
    // A deleted id can be written again (a redelivered activation's record).
    OK(store->CreateActivation(old_records[1]));
    CHECK(OK(store->GetActivation("guest", old_records[1].activation_id)) == old_records[1]);
}

TEST_CASE("activations: a list running beside retention never shows part of a record",
          "[contract][activations][retention]") {
    auto store = MakeFreshStore();
    const int64_t t0 = 1700000000000;
    std::vector<ActivationRecord> records;
    for (int i = 0; i < 60; ++i) records.push_back(MakeActivation("guest", "a", t0 + i));
    for (const auto& st : OK(store->CreateActivations(records))) CHECK(st.ok());
    std::atomic<bool> done{false};
    std::thread sweeper([&] {
        while (true) {
            auto n = store->DeleteActivationsBefore(t0 + 1000, 5);
            if (!n.ok() || *n == 0) break;
        }
        done = true;
    });
    int lists = 0;
    while (!done || lists == 0) {
        auto listed = store->ListActivations({.namespace_name = "guest"});
        if (!listed.ok()) continue;
        ++lists;
        for (const auto& r : *listed) {
            // Every listed record is exactly one that was written: result and logs included.
            auto it = std::find_if(records.begin(), records.end(), [&](const ActivationRecord& w) {
                return w.activation_id == r.activation_id;
            });
            REQUIRE(it != records.end());
            CHECK(r == *it);
        }
    }
    sweeper.join();
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 0);
    CHECK(OK(store->ListActivations({.namespace_name = "guest"})).empty());
}

TEST_CASE("activations: newest first, since/upto, skip/limit, count", "[contract][activations]") {
    auto store = MakeFreshStore();
    std::vector<ActivationRecord> records;
    for (int64_t start : {3000, 1000, 6000, 2000, 5000, 4000}) {
        records.push_back(MakeActivation("guest", "a", start));
        OK(store->PutActivation(records.back()));
    }
    auto by_start = [&](int64_t start) {
        for (const auto& r : records) {
            if (r.start_ms == start) return r.activation_id.str();
        }
        FAIL("no record starting at " << start);
        return std::string();
    };
    auto ids = [&](std::vector<int64_t> starts) {
        std::vector<std::string> out;
        for (int64_t s : starts) out.push_back(by_start(s));
        return out;
    };

    auto all = OK(store->ListActivations({.namespace_name = "guest"}));
    CHECK(Ids(all) == ids({6000, 5000, 4000, 3000, 2000, 1000}));
    CHECK(all[0] == records[2]);
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 6);

    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .skip = 1, .limit = 2}))) ==
          ids({5000, 4000}));
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .skip = 4}))) ==
          ids({2000, 1000}));
    CHECK(OK(store->ListActivations({.namespace_name = "guest", .skip = 6})).empty());
    CHECK(OK(store->CountActivations({.namespace_name = "guest", .skip = 4, .limit = 1})) == 6);

    // Both bounds are inclusive.
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .since_ms = 4000}))) ==
          ids({6000, 5000, 4000}));
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .upto_ms = 2000}))) ==
          ids({2000, 1000}));
    CHECK(Ids(OK(store->ListActivations(
              {.namespace_name = "guest", .since_ms = 2000, .upto_ms = 4500}))) ==
          ids({4000, 3000, 2000}));
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest",
                                         .since_ms = 2000,
                                         .upto_ms = 5000,
                                         .skip = 1,
                                         .limit = 2}))) == ids({4000, 3000}));
    CHECK(OK(store->CountActivations(
              {.namespace_name = "guest", .since_ms = 2000, .upto_ms = 4500})) == 3);
    CHECK(OK(store->ListActivations({.namespace_name = "guest", .since_ms = 7000})).empty());
    CHECK(OK(store->CountActivations({.namespace_name = "guest", .upto_ms = 999})) == 0);
}

TEST_CASE("activations: name filter", "[contract][activations]") {
    auto store = MakeFreshStore();
    ActivationRecord plain = MakeActivation("guest", "a", 1000, "guest/a");
    ActivationRecord packaged = MakeActivation("guest", "a", 2000, "guest/pkg/a");
    ActivationRecord other = MakeActivation("guest", "b", 3000, "guest/b");
    ActivationRecord no_path = MakeActivation("guest", "a", 4000);
    no_path.annotations.Remove("path");
    // Invoked through the binding guest/bound of /whisk.system/utils: path is the bound package.
    ActivationRecord bound = MakeActivation("guest", "echo", 5000, "whisk.system/utils/echo");
    bound.annotations.Set("binding", JsonValue::String("guest/bound"));
    ActivationRecord packaged_b = MakeActivation("guest", "b", 6000, "guest/pkg/b");
    for (const auto& r : {plain, packaged, other, no_path, bound, packaged_b}) {
        OK(store->PutActivation(r));
    }
    REQUIRE(plain.FilterName() == "a");
    REQUIRE(packaged.FilterName() == "pkg/a");
    REQUIRE(no_path.FilterName() == "a");

    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .name = "a"}))) ==
          Ids({no_path, plain}));
    CHECK(OK(store->CountActivations({.namespace_name = "guest", .name = "a"})) == 2);
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .name = "pkg/a"}))) ==
          Ids({packaged}));
    CHECK(Ids(OK(store->ListActivations({.namespace_name = "guest", .name = "pkg/b"}))) ==
          Ids({packaged_b}));
    CHECK(Ids(OK(store->ListActivations(
              {.namespace_name = "guest", .name = bound.FilterName()}))) == Ids({bound}));
    CHECK(OK(store->ListActivations({.namespace_name = "guest", .name = "nope"})).empty());
    CHECK(OK(store->CountActivations({.namespace_name = "guest", .name = "pkg"})) == 0);
    // Combined with the other filters.
    CHECK(Ids(OK(store->ListActivations(
              {.namespace_name = "guest", .name = "a", .since_ms = 2000}))) == Ids({no_path}));
    CHECK(Ids(OK(store->ListActivations(
              {.namespace_name = "guest", .name = "a", .skip = 1, .limit = 5}))) == Ids({plain}));
    CHECK(OK(store->CountActivations({.namespace_name = "guest", .name = "a", .upto_ms = 3000})) ==
          1);
}

TEST_CASE("activations: other namespaces are invisible", "[contract][activations]") {
    auto store = MakeFreshStore();
    for (std::string_view ns : {"guest", "guest2", "gues", "other"}) {
        for (int i = 0; i < 3; ++i) OK(store->PutActivation(MakeActivation(ns, "a", 1000 + i)));
    }
    ActivationRecord mine = MakeActivation("guest", "a", 5000);
    OK(store->PutActivation(mine));
    for (std::string_view ns : {"guest2", "gues", "other"}) {
        INFO(ns);
        auto list = OK(store->ListActivations({.namespace_name = std::string(ns)}));
        CHECK(list.size() == 3);
        for (const auto& r : list) CHECK(r.namespace_path == Path(ns));
        CHECK(OK(store->CountActivations({.namespace_name = std::string(ns), .name = "a"})) == 3);
    }
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 4);
    CHECK(OK(store->ListActivations({.namespace_name = "guest", .limit = 1}))[0] == mine);
    CHECK(OK(store->ListActivations({.namespace_name = "nobody"})).empty());
}

// ---- concurrency -----------------------------------------------------------------------------

/// Errors seen by worker threads, asserted on the test thread (Catch2 is not thread-safe).
class Errors {
  public:
    void Add(std::string e) {
        std::lock_guard lock(mu_);
        errors_.push_back(std::move(e));
    }
    std::vector<std::string> Take() {
        std::lock_guard lock(mu_);
        return std::move(errors_);
    }

  private:
    std::mutex mu_;
    std::vector<std::string> errors_;
};

TEST_CASE("journal: put, list per controller, replace, remove", "[contract][journal]") {
    auto store = MakeFreshStore();
    auto entry = [](std::string controller, std::string_view name, int64_t recover_after) {
        wisp::store::JournalEntry e;
        e.controller = std::move(controller);
        e.record = MakeActivation("guest", name, 1700000000000);
        e.record.end_ms = 0;
        e.record.annotations.Set("path", JsonValue::String(Cat("guest/", name)));
        e.recover_after_ms = recover_after;
        return e;
    };
    auto ids = [](const std::vector<wisp::store::JournalEntry>& entries) {
        std::set<std::string> out;
        for (const auto& e : entries) out.insert(e.record.activation_id.str());
        return out;
    };
    std::vector<wisp::store::JournalEntry> mine;
    for (int i = 0; i < 5; ++i) mine.push_back(entry("controller0", Cat("a", i), 1000 + i));
    std::vector<wisp::store::JournalEntry> theirs{entry("controller1", "b", 7)};
    OK(store->PutJournalEntries(mine));
    OK(store->PutJournalEntries(theirs));
    for (const auto& e : mine) CHECK_FALSE(e.rev.empty());

    auto listed = OK(store->ListJournalEntries("controller0", 0));
    REQUIRE(listed.size() == 5);
    CHECK(ids(listed) == ids(mine));
    for (const auto& e : listed) {
        CHECK(e.controller == "controller0");
        const auto it = std::find_if(mine.begin(), mine.end(), [&](const auto& m) {
            return m.record.activation_id == e.record.activation_id;
        });
        REQUIRE(it != mine.end());
        CHECK(e.record == it->record);
        CHECK(e.recover_after_ms == it->recover_after_ms);
    }
    CHECK(OK(store->ListJournalEntries("controller0", 2)).size() == 2);
    CHECK(ids(OK(store->ListJournalEntries("controller1", 0))) == ids(theirs));
    CHECK(OK(store->ListJournalEntries("controller", 0)).empty());  // a prefix is not a match
    CHECK(OK(store->ListJournalEntries("controller2", 0)).empty());
    // No activation record was written by journaling.
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 0);

    SECTION("replace: last writer wins, with or without the revision read") {
        std::vector<wisp::store::JournalEntry> update{mine[0]};
        update[0].record.logs = {"component-1", "component-2"};
        update[0].recover_after_ms = 99;
        OK(store->PutJournalEntries(update));
        std::vector<wisp::store::JournalEntry> blind{mine[1]};
        blind[0].rev.clear();
        blind[0].recover_after_ms = 42;
        OK(store->PutJournalEntries(blind));
        auto again = OK(store->ListJournalEntries("controller0", 0));
        REQUIRE(again.size() == 5);
        for (const auto& e : again) {
            if (e.record.activation_id == mine[0].record.activation_id) {
                CHECK(e.record.logs == std::vector<std::string>{"component-1", "component-2"});
                CHECK(e.recover_after_ms == 99);
            }
            if (e.record.activation_id == mine[1].record.activation_id) {
                CHECK(e.recover_after_ms == 42);
            }
        }
    }
    SECTION("remove: by id, with or without the revision, idempotent, scoped") {
        std::vector<wisp::store::JournalEntry> gone{mine[0], mine[1]};
        gone[1].rev.clear();
        OK(store->RemoveJournalEntries(gone));
        OK(store->RemoveJournalEntries(gone));  // already gone: fine
        std::vector<wisp::store::JournalEntry> other{theirs[0]};
        other[0].controller = "controller0";  // same id under another controller: untouched
        OK(store->RemoveJournalEntries(other));
        CHECK(ids(OK(store->ListJournalEntries("controller0", 0))) ==
              ids({mine[2], mine[3], mine[4]}));
        CHECK(OK(store->ListJournalEntries("controller1", 0)).size() == 1);
        OK(store->RemoveJournalEntries({}));
    }
    SECTION("invalid entries write nothing") {
        std::vector<wisp::store::JournalEntry> bad{entry("controller9", "x", 1), entry("", "y", 1)};
        CHECK(CodeOf(store->PutJournalEntries(bad)) == absl::StatusCode::kInvalidArgument);
        CHECK(OK(store->ListJournalEntries("controller9", 0)).empty());
    }
}

TEST_CASE("concurrency: read-modify-write from 8 threads loses no update",
          "[contract][concurrency]") {
    constexpr int kThreads = 8;
    constexpr int kUpdatesPerThread = 12;
    constexpr int kMaxAttempts = 2000;
    auto store = MakeFreshStore();
    Action counter = MakeAction("guest", "counter");
    counter.parameters = Parameters();
    counter.parameters.Set("count", JsonValue::Number(0));
    OK(store->PutEntity(counter, ""));

    std::atomic<int> successes{0}, retries{0};
    Errors errors;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kUpdatesPerThread; ++i) {
                bool done = false;
                for (int attempt = 0; attempt < kMaxAttempts && !done; ++attempt) {
                    auto current = store->Get<Action>(Fqn("guest", "counter"));
                    if (!current.ok()) {
                        errors.Add(Cat("get: ", current.status().ToString()));
                        return;
                    }
                    Action next = current->doc;
                    const int64_t count = std::stoll(next.parameters.Get("count")->text());
                    next.parameters.Set("count", JsonValue::Number(count + 1));
                    next.parameters.Set(Cat("t", t, "-", i), JsonValue::Number(count));
                    next.version = next.version.UpPatch();
                    next.updated_ms = current->doc.updated_ms + 1;
                    auto put = store->PutEntity(next, current->rev);
                    if (put.ok()) {
                        successes.fetch_add(1);
                        done = true;
                    } else if (put.status().code() == absl::StatusCode::kAborted) {
                        retries.fetch_add(1);
                    } else {
                        errors.Add(Cat("put: ", put.status().ToString()));
                        return;
                    }
                }
                if (!done) {
                    errors.Add("gave up after too many conflicts");
                    return;
                }
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(errors.Take().empty());
    INFO(BackendName() << ": " << successes.load() << " updates, " << retries.load()
                       << " conflicts retried");
    REQUIRE(successes.load() == kThreads * kUpdatesPerThread);
    auto final_doc = OK(store->Get<Action>(Fqn("guest", "counter"))).doc;
    CHECK(final_doc.parameters.Get("count")->text() ==
          std::to_string(kThreads * kUpdatesPerThread));
    CHECK(final_doc.parameters.size() == static_cast<size_t>(1 + kThreads * kUpdatesPerThread));
    CHECK(final_doc.version == SemVer{0, 0, 1 + kThreads * kUpdatesPerThread});
}

TEST_CASE("concurrency: parallel creates, one winner per id, readers alongside writers",
          "[contract][concurrency]") {
    constexpr int kThreads = 8;
    constexpr int kCreatesPerThread = 10;
    auto store = MakeFreshStore();
    // Built here: Catch2 (used by the builders' checks) is not thread-safe.
    std::vector<std::vector<ActivationRecord>> activations(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        for (int i = 0; i < kCreatesPerThread; ++i) {
            activations[t].push_back(MakeActivation("guest", Cat("c-", t, "-", i), 1000 * t + i));
        }
    }
    std::atomic<int> contended_wins{0}, contended_losses{0};
    Errors errors;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            auto contended = store->PutEntity(MakeAction("guest", "contended", t), "");
            if (contended.ok()) {
                contended_wins.fetch_add(1);
            } else if (contended.status().code() == absl::StatusCode::kAlreadyExists) {
                contended_losses.fetch_add(1);
            } else {
                errors.Add(Cat("contended: ", contended.status().ToString()));
            }
            for (int i = 0; i < kCreatesPerThread; ++i) {
                const std::string name = Cat("c-", t, "-", i);
                auto put = store->PutEntity(MakeAction("guest", name, 2000 + i), "");
                if (!put.ok()) errors.Add(Cat(name, ": ", put.status().ToString()));
                if (auto st = store->PutActivation(activations[t][i]); !st.ok()) {
                    errors.Add(Cat("activation: ", st.ToString()));
                }
                // Readers alongside the writers.
                auto list = store->ListEntities(EntityType::kAction, Path("guest"),
                                                {.skip = 0, .limit = 5});
                if (!list.ok()) errors.Add(Cat("list: ", list.status().ToString()));
                auto count = store->CountActivations({.namespace_name = "guest"});
                if (!count.ok()) errors.Add(Cat("count: ", count.status().ToString()));
                auto get = store->Get<Action>(Fqn("guest", name));
                if (!get.ok()) errors.Add(Cat("get: ", get.status().ToString()));
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(errors.Take().empty());
    CHECK(contended_wins.load() == 1);
    CHECK(contended_losses.load() == kThreads - 1);
    CHECK(OK(store->CountEntities(EntityType::kAction, Path("guest"))) ==
          kThreads * kCreatesPerThread + 1);
    CHECK(OK(store->ListEntities(EntityType::kAction, Path("guest"), {})).size() ==
          static_cast<size_t>(kThreads * kCreatesPerThread + 1));
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == kThreads * kCreatesPerThread);
}

// ---- system documents ------------------------------------------------------------------------

using wisp::store::SystemDoc;

SystemDoc Sys(std::string kind, std::string id, std::string body, int64_t updated_ms = 1000) {
    return SystemDoc{std::move(kind), std::move(id), std::move(body), updated_ms, ""};
}

/// Whether two JSON texts hold equal values (a backend may store another spelling).
bool SameJson(std::string_view a, std::string_view b) {
    rapidjson::Document da, db;
    if (!ParseJson(a, da).ok() || !ParseJson(b, db).ok()) return false;
    return da == db;
}

std::vector<std::string> DocIds(const std::vector<SystemDoc>& docs) {
    std::vector<std::string> out;
    for (const auto& d : docs) out.push_back(d.id);
    return out;
}

TEST_CASE("system docs: create-only, get, compare-and-set update, delete",
          "[contract][system-docs]") {
    auto store = MakeFreshStore();
    const std::string rev1 = OK(store->PutSystemDoc(
        Sys("alarm", "guest/every-minute", R"({"cron":"* * * * *","n":1})", 1700000000000), ""));
    CHECK(LooksLikeRevision(rev1, 1));

    SystemDoc got = OK(store->GetSystemDoc("alarm", "guest/every-minute"));
    CHECK(got.kind == "alarm");
    CHECK(got.id == "guest/every-minute");
    CHECK(SameJson(got.body, R"({"cron":"* * * * *","n":1})"));
    CHECK(got.updated_ms == 1700000000000);
    CHECK(got.rev == rev1);

    // Create-only: the id is taken (the first writer's body stays).
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "guest/every-minute", R"({"n":2})"), "")) ==
          absl::StatusCode::kAlreadyExists);
    CHECK(SameJson(OK(store->GetSystemDoc("alarm", "guest/every-minute")).body,
                   R"({"cron":"* * * * *","n":1})"));
    // The same id under another kind is another document.
    OK(store->PutSystemDoc(Sys("alarm-fire", "guest/every-minute", R"({"state":"claimed"})"), ""));
    CHECK(SameJson(OK(store->GetSystemDoc("alarm-fire", "guest/every-minute")).body,
                   R"({"state":"claimed"})"));

    // Compare-and-set: the revision read wins once; a stale one is Aborted.
    const std::string rev2 = OK(
        store->PutSystemDoc(Sys("alarm", "guest/every-minute", R"({"n":2})", 1700000000001), rev1));
    CHECK(LooksLikeRevision(rev2, 2));
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "guest/every-minute", R"({"n":3})"), rev1)) ==
          absl::StatusCode::kAborted);
    got = OK(store->GetSystemDoc("alarm", "guest/every-minute"));
    CHECK(SameJson(got.body, R"({"n":2})"));
    CHECK(got.updated_ms == 1700000000001);
    CHECK(got.rev == rev2);
    // An update of a document that does not exist (or was deleted meanwhile) is Aborted.
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "guest/absent", R"({})"), rev2)) ==
          absl::StatusCode::kAborted);
    CHECK(CodeOf(store->GetSystemDoc("alarm", "guest/absent")) == absl::StatusCode::kNotFound);

    // Delete: stale revision Aborted, current revision OK, then NotFound.
    CHECK(store->DeleteSystemDoc("alarm", "guest/every-minute", rev1).code() ==
          absl::StatusCode::kAborted);
    OK(store->DeleteSystemDoc("alarm", "guest/every-minute", rev2));
    CHECK(CodeOf(store->GetSystemDoc("alarm", "guest/every-minute")) ==
          absl::StatusCode::kNotFound);
    CHECK(store->DeleteSystemDoc("alarm", "guest/every-minute", "").code() ==
          absl::StatusCode::kNotFound);
    CHECK(store->DeleteSystemDoc("alarm", "guest/every-minute", rev2).code() ==
          absl::StatusCode::kNotFound);
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "guest/every-minute", R"({"n":4})"), rev2)) ==
          absl::StatusCode::kAborted);
    // Without a revision: whatever is current.
    OK(store->DeleteSystemDoc("alarm-fire", "guest/every-minute", ""));
    CHECK(CodeOf(store->GetSystemDoc("alarm-fire", "guest/every-minute")) ==
          absl::StatusCode::kNotFound);

    // A deleted id can be created again, from generation 1 or later (CouchDB keeps counting).
    const std::string again =
        OK(store->PutSystemDoc(Sys("alarm", "guest/every-minute", R"({"n":5})"), ""));
    CHECK(again != rev2);
    CHECK(SameJson(OK(store->GetSystemDoc("alarm", "guest/every-minute")).body, R"({"n":5})"));
}

TEST_CASE("system docs: ids with any character round-trip", "[contract][system-docs]") {
    auto store = MakeFreshStore();
    const std::vector<std::string> ids = {
        "guest/with space",     "a?b#c&d=e%2F", "_leading-underscore", "ünïcødé/日本/😀", "..", "/",
        std::string(1024, 'x'),
    };
    for (const std::string& id : ids) {
        INFO(id);
        OK(store->PutSystemDoc(Sys("route", id, Cat(R"({"id":)", "\"", id, "\"}")), ""));
    }
    for (const std::string& id : ids) {
        INFO(id);
        SystemDoc d = OK(store->GetSystemDoc("route", id));
        CHECK(d.id == id);
        CHECK(SameJson(d.body, Cat(R"({"id":)", "\"", id, "\"}")));
    }
    CHECK(OK(store->ListSystemDocs("route", "", "", 100)).size() == ids.size());
    for (const std::string& id : ids) OK(store->DeleteSystemDoc("route", id, ""));
    CHECK(OK(store->ListSystemDocs("route", "", "", 100)).empty());
}

TEST_CASE("system docs: create-only has exactly one winner among racing writers",
          "[contract][system-docs][concurrency]") {
    constexpr int kIds = 10;
    constexpr int kWriters = 4;
    auto store = MakeFreshStore();
    std::vector<std::vector<absl::StatusCode>> codes(kIds, std::vector<absl::StatusCode>(kWriters));
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
        threads.emplace_back([&, w] {
            ready.fetch_add(1);
            while (ready.load() < kWriters) std::this_thread::yield();  // start together
            for (int i = 0; i < kIds; ++i) {
                auto put = store->PutSystemDoc(
                    Sys("alarm-fire", Cat("guest/t/", 1700000000000 + i),
                        Cat(R"({"controller":")", w, R"(","state":"claimed"})")),
                    "");
                codes[i][w] = put.status().code();
            }
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kIds; ++i) {
        int winner = -1;
        for (int w = 0; w < kWriters; ++w) {
            INFO("id " << i << " writer " << w);
            if (codes[i][w] == absl::StatusCode::kOk) {
                CHECK(winner == -1);
                winner = w;
            } else {
                CHECK(codes[i][w] == absl::StatusCode::kAlreadyExists);
            }
        }
        REQUIRE(winner >= 0);
        // The stored claim is the winner's.
        CHECK(
            SameJson(OK(store->GetSystemDoc("alarm-fire", Cat("guest/t/", 1700000000000 + i))).body,
                     Cat(R"({"controller":")", winner, R"(","state":"claimed"})")));
    }
}

TEST_CASE("system docs: compare-and-set updates from 4 threads lose none",
          "[contract][system-docs][concurrency]") {
    constexpr int kThreads = 4;
    constexpr int kUpdatesPerThread = 8;
    constexpr int kMaxAttempts = 2000;
    auto store = MakeFreshStore();
    OK(store->PutSystemDoc(Sys("counter", "c", R"({"count":0})"), ""));
    Errors errors;
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kUpdatesPerThread; ++i) {
                bool done = false;
                for (int attempt = 0; attempt < kMaxAttempts && !done; ++attempt) {
                    auto current = store->GetSystemDoc("counter", "c");
                    if (!current.ok()) return errors.Add(current.status().ToString());
                    rapidjson::Document body;
                    if (!ParseJson(current->body, body).ok() || !body.IsObject() ||
                        !body.HasMember("count") || !body["count"].IsInt64()) {
                        return errors.Add(Cat("bad body ", current->body));
                    }
                    const int64_t next = body["count"].GetInt64() + 1;
                    auto put = store->PutSystemDoc(
                        Sys("counter", "c", Cat(R"({"count":)", next, "}")), current->rev);
                    if (put.ok()) {
                        done = true;
                    } else if (put.status().code() == absl::StatusCode::kAborted) {
                        conflicts.fetch_add(1);
                    } else {
                        return errors.Add(put.status().ToString());
                    }
                }
                if (!done) return errors.Add("gave up after too many conflicts");
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(errors.Take().empty());
    INFO(BackendName() << ": " << conflicts.load() << " conflicts retried");
    SystemDoc final_doc = OK(store->GetSystemDoc("counter", "c"));
    CHECK(SameJson(final_doc.body, Cat(R"({"count":)", kThreads * kUpdatesPerThread, "}")));
    CHECK(LooksLikeRevision(final_doc.rev, 1 + kThreads * kUpdatesPerThread));
}

TEST_CASE("system docs: lists by prefix in id order, paged with after_id and limit",
          "[contract][system-docs]") {
    auto store = MakeFreshStore();
    // Inserted out of order; "guest/é" sorts after "guest/z" (bytes), "guest/Z" before "guest/a".
    const std::vector<std::string> guest = {"guest/b", "guest/a",        "guest/z",  "guest/é",
                                            "guest/Z", "guest/a/nested", "guest/a b"};
    for (const std::string& id : guest) {
        OK(store->PutSystemDoc(Sys("alarm", id, Cat(R"({"id":")", id, "\"}"), 7), ""));
    }
    OK(store->PutSystemDoc(Sys("alarm", "guest2/x", "{}"), ""));
    OK(store->PutSystemDoc(Sys("alarm", "guesT/x", "{}"), ""));
    OK(store->PutSystemDoc(Sys("alarm", "other/y", "{}"), ""));
    OK(store->PutSystemDoc(Sys("alarm-fire", "guest/a", "{}"), ""));  // another kind

    const std::vector<std::string> sorted = {"guest/Z", "guest/a", "guest/a b", "guest/a/nested",
                                             "guest/b", "guest/z", "guest/é"};
    auto all = OK(store->ListSystemDocs("alarm", "guest/", "", 100));
    CHECK(DocIds(all) == sorted);
    for (const SystemDoc& d : all) {
        CHECK(d.kind == "alarm");
        CHECK(SameJson(d.body, Cat(R"({"id":")", d.id, "\"}")));
        CHECK(d.updated_ms == 7);
        CHECK(LooksLikeRevision(d.rev, 1));
        CHECK(d.rev == OK(store->GetSystemDoc("alarm", d.id)).rev);
    }
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "guest/a", "", 100))) ==
          std::vector<std::string>{"guest/a", "guest/a b", "guest/a/nested"});
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "guest", "", 100))) ==
          std::vector<std::string>{"guest/Z", "guest/a", "guest/a b", "guest/a/nested", "guest/b",
                                   "guest/z", "guest/é", "guest2/x"});
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "", "", 100))) ==
          std::vector<std::string>{"guesT/x", "guest/Z", "guest/a", "guest/a b", "guest/a/nested",
                                   "guest/b", "guest/z", "guest/é", "guest2/x", "other/y"});
    CHECK(OK(store->ListSystemDocs("alarm", "nobody/", "", 100)).empty());
    CHECK(OK(store->ListSystemDocs("no-such-kind", "", "", 100)).empty());

    // Paging: limit 3, then after the last id seen.
    std::vector<std::string> paged;
    std::string after;
    int pages = 0;
    while (true) {
        auto page = OK(store->ListSystemDocs("alarm", "guest/", after, 3));
        REQUIRE(page.size() <= 3);
        if (page.empty()) break;
        ++pages;
        for (const SystemDoc& d : page) paged.push_back(d.id);
        after = page.back().id;
        REQUIRE(pages <= 4);
    }
    CHECK(paged == sorted);
    CHECK(pages == 3);
    // after_id need not exist; one before the prefix's range changes nothing.
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "guest/", "guest/a0", 100))) ==
          std::vector<std::string>{"guest/b", "guest/z", "guest/é"});
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "guest/", "a", 2))) ==
          std::vector<std::string>{"guest/Z", "guest/a"});
    CHECK(OK(store->ListSystemDocs("alarm", "guest/", "guest/é", 100)).empty());
    CHECK(DocIds(OK(store->ListSystemDocs("alarm", "", "guest2/x", 100))) ==
          std::vector<std::string>{"other/y"});

    // A limit below 1 is refused; above 1000 it is capped (the SQLite suite checks the cap).
    CHECK(CodeOf(store->ListSystemDocs("alarm", "", "", 0)) == absl::StatusCode::kInvalidArgument);
    CHECK(CodeOf(store->ListSystemDocs("alarm", "", "", -1)) == absl::StatusCode::kInvalidArgument);
    CHECK(OK(store->ListSystemDocs("alarm", "", "", 1000000)).size() == 10);
}

TEST_CASE("system docs: a bad kind, id or body is InvalidArgument", "[contract][system-docs]") {
    auto store = MakeFreshStore();
    constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
    const std::string kind64 = "a" + std::string(63, '-');
    OK(store->PutSystemDoc(Sys(kind64, "x", "{}"), ""));
    OK(store->PutSystemDoc(Sys("a0-z9", "x", "{}"), ""));
    for (const std::string& kind :
         {std::string(), std::string("Alarm"), std::string("1alarm"), std::string("-alarm"),
          std::string("alarm_fire"), std::string("alarm/fire"), std::string("al arm"),
          std::string("alarm\xc3\xa9"), "a" + std::string(64, 'b')}) {
        INFO("kind '" << kind << "'");
        CHECK(CodeOf(store->PutSystemDoc(Sys(kind, "x", "{}"), "")) == kInvalid);
        CHECK(CodeOf(store->GetSystemDoc(kind, "x")) == kInvalid);
        CHECK(store->DeleteSystemDoc(kind, "x", "").code() == kInvalid);
        CHECK(CodeOf(store->ListSystemDocs(kind, "", "", 10)) == kInvalid);
    }

    OK(store->PutSystemDoc(Sys("alarm", std::string(1024, 'i'), "{}"), ""));
    for (const std::string& id :
         {std::string(), std::string(1025, 'i'), std::string("a\0b", 3), std::string(1, '\0'),
          std::string("a\xff"), std::string("\xc3")}) {
        INFO("id of " << id.size() << " bytes");
        CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", id, "{}"), "")) == kInvalid);
        CHECK(CodeOf(store->GetSystemDoc("alarm", id)) == kInvalid);
        CHECK(store->DeleteSystemDoc("alarm", id, "").code() == kInvalid);
    }

    for (const std::string& body :
         {std::string(), std::string("[]"), std::string(R"("text")"), std::string("42"),
          std::string("null"), std::string("not json"), std::string(R"({"a":1)"),
          std::string(R"({"a":1} {})"), std::string("{\"a\":\"\xff\"}")}) {
        INFO("body '" << body << "'");
        CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "bad-body", body), "")) == kInvalid);
    }
    // At most 1 MiB: exactly 1048576 bytes is fine, one more is not (also on update).
    const std::string prefix = R"({"pad":")";
    const std::string big = prefix + std::string((1 << 20) - prefix.size() - 2, 'p') + "\"}";
    REQUIRE(big.size() == 1u << 20);
    const std::string rev = OK(store->PutSystemDoc(Sys("alarm", "big", big), ""));
    CHECK(SameJson(OK(store->GetSystemDoc("alarm", "big")).body, big));
    const std::string too_big = prefix + std::string((1 << 20) - prefix.size() - 1, 'p') + "\"}";
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "too-big", too_big), "")) == kInvalid);
    CHECK(CodeOf(store->PutSystemDoc(Sys("alarm", "big", too_big), rev)) == kInvalid);
    CHECK(CodeOf(store->GetSystemDoc("alarm", "too-big")) == absl::StatusCode::kNotFound);
    CHECK(OK(store->GetSystemDoc("alarm", "big")).rev == rev);
    CHECK(CodeOf(store->GetSystemDoc("alarm", "bad-body")) == absl::StatusCode::kNotFound);
}

TEST_CASE("system docs: never part of entity, activation, subject or namespace listings",
          "[contract][system-docs]") {
    auto store = MakeFreshStore();
    // Kinds and ids that look like other documents' ids in the same namespace.
    const std::vector<std::pair<std::string, std::string>> docs = {
        {"alarm", "guest/every-minute"}, {"action", "guest/hello"},
        {"trigger", "guest/t"},          {"activation", "guest/0123456789abcdef0123456789abcdef"},
        {"limits", "guest/limits"},      {"subject", "guest"},
        {"journal", "0/guest"},          {"whisks", "guest"},
    };
    for (const auto& [kind, id] : docs) {
        OK(store->PutSystemDoc(
            Sys(kind, id,
                R"({"exec":{"kind":"nodejs:20"},"parameters":[],"subject":"s","namespaces":[],)"
                R"("trigger":"t","action":"a","binding":{},"start":1,"namespace":"guest"})"),
            ""));
    }
    for (EntityType type :
         {EntityType::kAction, EntityType::kTrigger, EntityType::kRule, EntityType::kPackage}) {
        CHECK(OK(store->ListEntities(type, Path("guest"), {})).empty());
        CHECK(OK(store->CountEntities(type, Path("guest"))) == 0);
        CHECK(CodeOf(store->GetEntity(type, Fqn("guest", "hello"))) == absl::StatusCode::kNotFound);
        CHECK(CodeOf(store->GetEntity(type, Fqn("guest", "every-minute"))) ==
              absl::StatusCode::kNotFound);
    }
    CHECK(OK(store->ListActivations({.namespace_name = "guest"})).empty());
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 0);
    CHECK(OK(store->ListSubjects()).empty());
    CHECK(OK(store->ListIdentitiesInNamespace("guest")).empty());
    CHECK(CodeOf(store->GetLimits("guest")) == absl::StatusCode::kNotFound);
    CHECK(CodeOf(store->GetSubject("guest")) == absl::StatusCode::kNotFound);
    CHECK(OK(store->ListJournalEntries("0", 0)).empty());

    // Entities, subjects, limits and records with the same ids live beside them.
    OK(store->PutEntity(MakeAction("guest", "hello"), ""));
    OK(store->PutEntity(MakeTrigger("guest", "every-minute"), ""));
    Subject subject = MakeSubject("guest", {"guest"});
    OK(store->PutSubject(subject, ""));
    OK(store->PutLimits("guest", NamespaceLimits{.invocations_per_minute = 9}));
    OK(store->PutActivation(MakeActivation("guest", "hello", 1700000000000)));
    CHECK(Names(OK(store->ListEntities(EntityType::kAction, Path("guest"), {}))) ==
          std::vector<std::string>{"hello"});
    CHECK(Names(OK(store->ListEntities(EntityType::kTrigger, Path("guest"), {}))) ==
          std::vector<std::string>{"every-minute"});
    CHECK(OK(store->CountActivations({.namespace_name = "guest"})) == 1);
    CHECK(OK(store->ListSubjects()).size() == 1);
    CHECK(OK(store->ListIdentitiesInNamespace("guest")).size() == 1);
    CHECK(OK(store->GetLimits("guest")).doc.invocations_per_minute == 9);
    for (const auto& [kind, id] : docs) {
        INFO(kind << " " << id);
        CHECK(OK(store->GetSystemDoc(kind, id)).id == id);
    }
    CHECK(OK(store->ListSystemDocs("alarm", "guest/", "", 100)).size() == 1);
    // Deleting the entities leaves the system documents, and the reverse.
    OK(store->DeleteEntity(EntityType::kTrigger, Fqn("guest", "every-minute"), ""));
    OK(store->GetSystemDoc("alarm", "guest/every-minute"));
    OK(store->DeleteSystemDoc("action", "guest/hello", ""));
    OK(store->Get<Action>(Fqn("guest", "hello")));
}

}  // namespace
