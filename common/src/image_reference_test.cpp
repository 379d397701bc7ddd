#include <wisp/common/image_reference.hpp>

#include <string>

#include <catch2/catch.hpp>

using wisp::common::ImageAllowed;
using wisp::common::ParseImageRef;
using wisp::common::SplitImageAllowList;

TEST_CASE("image references: valid ones parse", "[image_reference]") {
    auto r = ParseImageRef("openwhisk/dockerskeleton");
    REQUIRE(r.ok());
    CHECK(r->domain.empty());
    CHECK(r->path == "openwhisk/dockerskeleton");
    CHECK(r->tag.empty());
    CHECK(r->CanonicalName() == "docker.io/openwhisk/dockerskeleton");

    r = ParseImageRef("python:3.11-slim");
    REQUIRE(r.ok());
    CHECK(r->path == "python");
    CHECK(r->tag == "3.11-slim");
    CHECK(r->CanonicalName() == "docker.io/library/python");

    r = ParseImageRef("localhost:5000/team/img_a__b.c--d:v1");
    REQUIRE(r.ok());
    CHECK(r->domain == "localhost:5000");
    CHECK(r->path == "team/img_a__b.c--d");
    CHECK(r->tag == "v1");

    r = ParseImageRef("ghcr.io/Org-1/x");  // uppercase is fine in a domain, not in a path
    CHECK(!r.ok());
    r = ParseImageRef("GHCR.io/org/x@sha256:" + std::string(64, 'a'));
    REQUIRE(r.ok());
    CHECK(r->domain == "GHCR.io");
    CHECK(r->digest == "sha256:" + std::string(64, 'a'));
    CHECK(r->tag.empty());

    r = ParseImageRef("wisp/action-python:3.11");
    REQUIRE(r.ok());
    CHECK(ParseImageRef("a").ok());
    CHECK(ParseImageRef("my.registry:443/a/b/c:latest@sha256:" + std::string(32, '0')).ok());
    CHECK(ParseImageRef(std::string(255, 'a') + ":" + std::string(128, 't')).ok());
}

TEST_CASE("image references: hostile and malformed ones are refused", "[image_reference]") {
    const std::string refused[] = {
        "",
        "../etc/passwd",
        "a/../b",
        "a/./b",
        "img?x=1",
        "img#frag",
        "img name",
        " img",
        "img\n",
        "Python",
        "python:",
        "python:.bad",
        "python:-bad",
        "python:" + std::string(129, 't'),
        std::string(256, 'a'),
        std::string(600, 'a'),
        "a//b",
        "/a",
        "a/",
        "a__-b",
        "a___b",
        "-a",
        "a-",
        "a@sha256:short",
        "a@:0123456789abcdef0123456789abcdef",
        "a@sha256:" + std::string(32, 'g'),
        "bad_host.com/x",
        "host.com:port/x",
        "host.com:123456/x",
        "-host.com/x",
        "images/x/json?y",
        "x%2F..",
        "a:b:c",
        "a\\b",
        std::string("a\0b", 3),
    };
    for (const auto& text : refused) {
        INFO(text);
        auto r = ParseImageRef(text);
        CHECK(!r.ok());
        if (!r.ok()) {
            CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
            CHECK(std::string(r.status().message())
                      .find("is not a valid container image "
                            "reference") != std::string::npos);
        }
    }
}

TEST_CASE("image allow list", "[image_reference]") {
    const std::vector<std::string> none;
    CHECK(ImageAllowed("anything/at:all", none));
    CHECK(!ImageAllowed("../bad", none));  // invalid is never allowed

    const std::vector<std::string> list = {"ghcr.io/acme/", "openwhisk/dockerskeleton",
                                           "localhost:5000", "python"};
    CHECK(ImageAllowed("ghcr.io/acme/tool:1", list));
    CHECK(ImageAllowed("ghcr.io/acme/sub/tool", list));
    CHECK(!ImageAllowed("ghcr.io/acmeevil/tool", list));
    CHECK(!ImageAllowed("ghcr.io/other/tool", list));
    CHECK(ImageAllowed("openwhisk/dockerskeleton", list));
    CHECK(ImageAllowed("docker.io/openwhisk/dockerskeleton:latest", list));
    CHECK(!ImageAllowed("openwhisk/dockerskeleton2", list));
    CHECK(!ImageAllowed("evil.io/openwhisk/dockerskeleton", list));
    CHECK(ImageAllowed("localhost:5000/x/y", list));
    CHECK(!ImageAllowed("localhost:5001/x/y", list));
    CHECK(!ImageAllowed("localhost/x", list));
    CHECK(ImageAllowed("python:3.12", list));
    CHECK(ImageAllowed("docker.io/library/python", list));
    CHECK(!ImageAllowed("someone/python", list));

    CHECK(ImageAllowed("anything/here", {"docker.io"}));
    CHECK(!ImageAllowed("quay.io/anything/here", {"docker.io"}));
    CHECK(!ImageAllowed("x", {"../bad", ""}));

    CHECK(SplitImageAllowList(" ghcr.io/acme, docker.io/openwhisk  localhost:5000,,") ==
          std::vector<std::string>{"ghcr.io/acme", "docker.io/openwhisk", "localhost:5000"});
    CHECK(SplitImageAllowList("").empty());
}
