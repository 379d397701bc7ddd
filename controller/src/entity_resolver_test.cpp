// EntityResolver on its own: entitlement, bindings, parameter merge and its entity cache, without
// the HTTP layer (the REST tests in controller_test.cpp cover the same rules through the routes).
#include "entity_resolver.hpp"

#include <catch2/catch.hpp>

#include <wisp/common/clock.hpp>
#include <wisp/common/identity.hpp>
#include <wisp/common/json.hpp>
#include <wisp/store/open_store.hpp>

namespace wisp::controller {
namespace {

using common::Action;
using common::EntityPath;
using common::FullyQualifiedName;
using common::JsonValue;
using common::Package;

/// Time stands still: the cache never expires within a test.
class StillClock final : public common::Clock {
  public:
    int64_t NowMs() const override { return 1700000000000; }
    int64_t MonotonicNs() const override { return 0; }
};

common::Identity Who(const std::string& ns) {
    common::Identity who;
    who.subject = ns;
    who.namespace_name = ns;
    return who;
}

Action NodeAction(EntityPath path, std::string name) {
    Action a;
    a.namespace_path = std::move(path);
    a.name = std::move(name);
    a.exec = common::CodeExec{"nodejs:20", "function main(){}", false, std::nullopt};
    return a;
}

Package MakePackage(const std::string& ns, std::string name, bool publish) {
    Package p;
    p.namespace_path = EntityPath({ns});
    p.name = std::move(name);
    p.publish = publish;
    return p;
}

struct ResolverFixture {
    std::unique_ptr<store::ArtifactStore> store =
        store::OpenArtifactStore("sqlite::memory:").value();
    StillClock clock;
    EntityResolver resolver{*store, clock, std::chrono::milliseconds(60000)};
};

}  // namespace

TEST_CASE("EntityResolver: a bound package's action merges package < binding < action",
          "[entity_resolver]") {
    ResolverFixture f;
    Package shared = MakePackage("other", "lib", /*publish=*/true);
    shared.parameters.Set("from", JsonValue::String("package"));
    shared.parameters.Set("p", JsonValue::String("package"));
    REQUIRE(f.store->PutEntity(shared, "").ok());
    Action a = NodeAction(EntityPath({"other", "lib"}), "hello");
    a.parameters.Set("a", JsonValue::String("action"));
    REQUIRE(f.store->PutEntity(a, "").ok());
    Package binding = MakePackage("guest", "mine", /*publish=*/false);
    binding.binding = common::PackageBinding{"other", "lib"};
    binding.parameters.Set("from", JsonValue::String("binding"));
    REQUIRE(f.store->PutEntity(binding, "").ok());

    auto r = f.resolver.ResolveAction(Who("guest"),
                                      FullyQualifiedName{EntityPath({"guest", "mine"}), "hello"});
    REQUIRE(r.ok());
    CHECK(r->binding == "guest/mine");
    CHECK(r->action.namespace_path.ToString() == "other/lib");
    CHECK(r->action.parameters.Get("from")->text() == "\"binding\"");
    CHECK(r->action.parameters.Get("p")->text() == "\"package\"");
    CHECK(r->action.parameters.Get("a")->text() == "\"action\"");
}

TEST_CASE(
    "EntityResolver: entitlement — 403 naming the resource for another namespace, 404 for "
    "the caller's own missing package",
    "[entity_resolver]") {
    ResolverFixture f;
    REQUIRE(f.store->PutEntity(MakePackage("other", "private", /*publish=*/false), "").ok());
    REQUIRE(f.store->PutEntity(NodeAction(EntityPath({"other", "private"}), "x"), "").ok());
    REQUIRE(f.store->PutEntity(NodeAction(EntityPath({"other"}), "y"), "").ok());

    auto in_private = f.resolver.ResolveAction(
        Who("guest"), FullyQualifiedName{EntityPath({"other", "private"}), "x"});
    REQUIRE(in_private.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(in_private.status().message() ==
          "The supplied authentication is not authorized to access 'other/private/x'.");
    auto top_level =
        f.resolver.ResolveAction(Who("guest"), FullyQualifiedName{EntityPath({"other"}), "y"});
    CHECK(top_level.status().code() == absl::StatusCode::kPermissionDenied);
    auto own_missing = f.resolver.ResolveAction(
        Who("guest"), FullyQualifiedName{EntityPath({"guest", "nope"}), "x"});
    CHECK(own_missing.status().code() == absl::StatusCode::kNotFound);

    CHECK(CheckOwnNamespace(Who("guest"), "guest", "guest").ok());
    CHECK(CheckOwnNamespace(Who("guest"), "other", "other/t").code() ==
          absl::StatusCode::kPermissionDenied);
}

TEST_CASE("EntityResolver: reads actions through its cache until Invalidate", "[entity_resolver]") {
    ResolverFixture f;
    const FullyQualifiedName fqn{EntityPath({"guest"}), "cached"};
    Action a = NodeAction(EntityPath({"guest"}), "cached");
    a.parameters.Set("v", JsonValue::Number(1));
    auto rev = f.store->PutEntity(a, "");
    REQUIRE(rev.ok());
    REQUIRE(f.resolver.ResolveAction(Who("guest"), fqn)->action.parameters.Get("v")->text() == "1");

    // Written behind the resolver's back (as another controller would): the cache still answers.
    a.parameters.Set("v", JsonValue::Number(2));
    REQUIRE(f.store->PutEntity(a, *rev).ok());
    CHECK(f.resolver.ResolveAction(Who("guest"), fqn)->action.parameters.Get("v")->text() == "1");
    // A REST read (cached = false) sees the store: a GET after a write or delete through another
    // controller is never stale.
    CHECK(f.resolver.ResolveAction(Who("guest"), fqn, /*cached=*/false)
              ->action.parameters.Get("v")
              ->text() == "2");

    f.resolver.Invalidate(fqn.DocId());
    CHECK(f.resolver.ResolveAction(Who("guest"), fqn)->action.parameters.Get("v")->text() == "2");

    // Deleted behind the resolver's back: the store read says 404 at once.
    auto current = f.store->GetEntity(common::EntityType::kAction, fqn);
    REQUIRE(current.ok());
    REQUIRE(f.store->DeleteEntity(common::EntityType::kAction, fqn, current->rev).ok());
    CHECK(f.resolver.ResolveAction(Who("guest"), fqn)->action.parameters.Get("v")->text() == "2");
    CHECK(f.resolver.ResolveAction(Who("guest"), fqn, /*cached=*/false).status().code() ==
          absl::StatusCode::kNotFound);
}

}  // namespace wisp::controller
