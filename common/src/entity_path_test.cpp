#include <wisp/common/entity_path.hpp>

#include <catch2/catch.hpp>

using namespace wisp::common;

namespace {
std::string Msg(const absl::Status& s) { return std::string(s.message()); }
}  // namespace

TEST_CASE("entity names follow OpenWhisk's rule", "[names]") {
    for (const char* ok : {"a", "_", "9", "hello", "a b", "a@b.c&d-e", "a.", "a-", "a@", "a&",
                           "A_Z", "_private", "hello world x"}) {
        INFO(ok);
        CHECK(IsValidEntityName(ok));
        CHECK(ValidateEntityName(ok).ok());
    }
    for (const char* bad : {"", " a", "a ", "-a", ".a", "@a", "&a", "a/b", "a$", "a:b", "ä", "aé",
                            "a\tb", "a\nb", "a\"b", "a\\b", "a+b", "a#"}) {
        INFO(bad);
        CHECK_FALSE(IsValidEntityName(bad));
        auto st = ValidateEntityName(bad);
        CHECK(st.code() == absl::StatusCode::kInvalidArgument);
        CHECK(Msg(st) == "The name of the entity contains illegal characters.");
    }
}

TEST_CASE("entity names are at most 256 characters", "[names]") {
    CHECK(IsValidEntityName(std::string(256, 'a')));
    CHECK_FALSE(IsValidEntityName(std::string(257, 'a')));
    CHECK(Msg(ValidateEntityName(std::string(257, 'a'))) ==
          "Name segement longer than allowed: 257 > 256.");
    CHECK(IsValidEntityName("a" + std::string(254, ' ') + "b"));
}

TEST_CASE("EntityPath parses namespaces and package paths", "[names]") {
    auto root = EntityPath::Parse("guest");
    REQUIRE(root.ok());
    CHECK(root->IsRoot());
    CHECK(root->root() == "guest");
    CHECK(root->PackageName().empty());
    CHECK(root->ToString() == "guest");

    auto pkg = EntityPath::Parse("guest/utils");
    REQUIRE(pkg.ok());
    CHECK_FALSE(pkg->IsRoot());
    CHECK(pkg->PackageName() == "utils");
    CHECK(pkg->Parent() == *root);
    CHECK(root->Add("utils") == *pkg);
    CHECK(pkg->ToString() == "guest/utils");

    CHECK(EntityPath::Parse("_/p")->Resolve("guest").ToString() == "guest/p");
    CHECK(EntityPath::Parse("other/p")->Resolve("guest").ToString() == "other/p");

    CHECK(EntityPath::Parse("gu$st").status().message() ==
          "The namespace contains illegal characters.");
    CHECK(EntityPath::Parse(std::string(257, 'n')).status().message() ==
          "Namespace longer than allowed: 257 > 256.");
    CHECK(EntityPath::Parse("guest/" + std::string(257, 'p')).status().message() ==
          "Name segement longer than allowed: 257 > 256.");
    for (const char* bad : {"", "/guest", "guest/", "a/b/c", "gu est ", "a//b"}) {
        INFO(bad);
        CHECK(EntityPath::Parse(bad).status().code() == absl::StatusCode::kInvalidArgument);
    }
}

TEST_CASE("FullyQualifiedName::Parse handles every reference form", "[names]") {
    auto a = FullyQualifiedName::Parse("name", "guest");
    REQUIRE(a.ok());
    CHECK(a->ToString() == "/guest/name");
    CHECK(a->DocId() == "guest/name");
    CHECK(a->Namespace() == "guest");

    auto b = FullyQualifiedName::Parse("pkg/name", "guest");
    REQUIRE(b.ok());
    CHECK(b->path.ToString() == "guest/pkg");
    CHECK(b->name == "name");

    auto c = FullyQualifiedName::Parse("/ns/name", "guest");
    REQUIRE(c.ok());
    CHECK(c->ToString() == "/ns/name");

    auto d = FullyQualifiedName::Parse("/ns/pkg/name", "guest");
    REQUIRE(d.ok());
    CHECK(d->path.ToString() == "ns/pkg");
    CHECK(d->DocId() == "ns/pkg/name");

    auto e = FullyQualifiedName::Parse("/_/name", "guest");
    REQUIRE(e.ok());
    CHECK(e->ToString() == "/guest/name");

    auto f = FullyQualifiedName::Parse("/_/pkg/name", "");
    REQUIRE(f.ok());
    CHECK(f->ToString() == "/_/pkg/name");
    CHECK(f->Resolve("me").ToString() == "/me/pkg/name");
}

TEST_CASE("FullyQualifiedName::Parse rejects malformed references", "[names]") {
    for (const char* bad : {"", "/", "/ns", "/ns/", "a/b/c", "/a/b/c/d", "//a", "/ns/na$me",
                            "/ns//name", "/ns/ name"}) {
        INFO(bad);
        auto r = FullyQualifiedName::Parse(bad, "guest");
        CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
    }
    CHECK_FALSE(FullyQualifiedName::Parse("name", "").ok());  // relative needs a namespace
    CHECK(Msg(FullyQualifiedName::Parse("/a/b/c/d", "guest").status()) ==
          "The fully qualified name of the entity must contain at least the namespace and the "
          "name of the entity.");
    CHECK(Msg(FullyQualifiedName::Parse("/ns/" + std::string(257, 'x'), "g").status()) ==
          "Name segement longer than allowed: 257 > 256.");
}
