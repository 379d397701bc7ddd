#include <wisp/common/exec.hpp>

#include <catch2/catch.hpp>

#include <wisp/common/activation.hpp>
#include <wisp/common/entities.hpp>
#include <wisp/common/platform_arch.hpp>

using namespace wisp::common;

TEST_CASE("binary detection: base64 archives vs plain code", "[exec]") {
    // "PK\x03\x04..." (a zip header) in base64.
    CHECK(LooksLikeBinaryArchive("UEsDBBQAAAAIAA=="));
    CHECK(LooksLikeBinaryArchive("  UEsDBBQAAAAIAA==\n"));
    // gzip (tgz) magic 1f 8b.
    CHECK(LooksLikeBinaryArchive("H4sIAAAAAAAAAw=="));
    // an empty zip (end of central directory only)
    CHECK(LooksLikeBinaryArchive("UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="));
    CHECK_FALSE(LooksLikeBinaryArchive("def main(args):\n    return args\n"));
    CHECK_FALSE(LooksLikeBinaryArchive("function main(p) { return p }"));
    CHECK_FALSE(LooksLikeBinaryArchive(""));
    CHECK_FALSE(LooksLikeBinaryArchive("    "));
    CHECK_FALSE(LooksLikeBinaryArchive("abcd"));             // valid base64, not an archive
    CHECK_FALSE(LooksLikeBinaryArchive("UEsDBBQAAAAIAA="));  // length % 4 != 0
    CHECK_FALSE(LooksLikeBinaryArchive("UEsD BBQAAAAIAA=="));
    CHECK_FALSE(LooksLikeBinaryArchive("UEsDBBQAAAA=IAA="));  // padding in the middle
    CHECK_FALSE(LooksLikeBinaryArchive("===="));
}

TEST_CASE("ExecKind", "[exec]") {
    CHECK(ExecKind(Exec(CodeExec{"python:3.11", "x", false, std::nullopt})) == "python:3.11");
    CHECK(ExecKind(Exec(BlackboxExec{"img", std::nullopt, false, std::nullopt})) == "blackbox");
    CHECK(ExecKind(Exec(SequenceExec{})) == "sequence");
}

TEST_CASE("built-in manifest kinds and aliases", "[exec]") {
    const auto& m = RuntimeManifest::BuiltIn();
    CHECK(m.ResolveKind("python:3.11").value() == "python:3.11");
    CHECK(m.ResolveKind("python:3").value() == "python:3.11");
    CHECK(m.ResolveKind("python:default").value() == "python:3.11");
    CHECK(m.ResolveKind("nodejs:18").value() == "nodejs:18");
    CHECK(m.ResolveKind("nodejs:default").value() == "nodejs:18");
    REQUIRE(m.Find("python:3.11") != nullptr);
    CHECK(m.Find("python:3.11")->image == "wisp/action-python:3.11");
    CHECK(m.Find("python:3.11")->is_default);
    CHECK(m.Find("nodejs:18")->image == "wisp/action-nodejs:18");
    CHECK(m.Find("python:default") == nullptr);
    // What `wsk --native` sends, with or without a tag, runs the local native image.
    REQUIRE(m.blackboxes().size() == 1);
    for (std::string_view image : {"openwhisk/dockerskeleton", "openwhisk/dockerskeleton:latest"}) {
        const auto* box = m.FindBlackbox(image);
        REQUIRE(box != nullptr);
        CHECK(box->image == "openwhisk/dockerskeleton:latest");
        CHECK(box->local_image == "wisp/action-native:latest");
    }
    CHECK(m.FindBlackbox("openwhisk/dockerskeleton:nightly") == nullptr);
    CHECK(m.FindBlackbox("someone/else") == nullptr);
    // Stem cells come from runtimes/runtimes.json.
    REQUIRE(m.Find("python:3.11")->stem_cells.size() == 1);
    CHECK(m.Find("python:3.11")->stem_cells[0] == RuntimeManifest::StemCell{1, 256});
    auto bad = m.ResolveKind("java:8");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(bad.status().message() ==
          "The specified runtime 'java:8' is not supported by this platform. Valid values are: "
          "'blackbox', 'nodejs:18', 'nodejs:default', 'python:3', 'python:3.11', "
          "'python:default', 'sequence'.");
}

TEST_CASE("manifest from OpenWhisk's runtimes.json shape", "[exec]") {
    auto m = RuntimeManifest::FromJson(R"({
      "runtimes": {
        "nodejs": [
          {"kind": "nodejs:18", "image": {"prefix": "openwhisk", "name": "action-nodejs-v18",
           "tag": "nightly"}, "deprecated": false},
          {"kind": "nodejs:20", "default": true, "image": {"prefix": "openwhisk",
           "name": "action-nodejs-v20", "tag": "nightly"},
           "stemCells": [{"initialCount": 2, "memory": "256 MB"}]}
        ],
        "java": [
          {"kind": "java:8", "default": true, "requireMain": true,
           "image": {"prefix": "openwhisk", "name": "java8action", "tag": "nightly"},
           "attached": {"attachmentName": "jarfile", "attachmentType": "application/java-archive"}}
        ],
        "python": [{"kind": "python:2", "deprecated": true, "image": {"name": "py2"}}]
      },
      "blackboxes": [{"prefix": "openwhisk", "name": "dockerskeleton", "tag": "nightly"}]
    })");
    REQUIRE(m.ok());
    CHECK(m->kinds().size() == 4);
    CHECK(m->ResolveKind("nodejs:default").value() == "nodejs:20");
    CHECK(m->ResolveKind("java:default").value() == "java:8");
    CHECK(m->Find("nodejs:20")->image == "openwhisk/action-nodejs-v20:nightly");
    CHECK(m->Find("java:8")->requires_main);
    CHECK(m->Find("python:2")->deprecated);
    CHECK(m->Find("python:2")->image == "py2");
    CHECK_FALSE(m->ResolveKind("python:default").ok());
    REQUIRE(m->blackboxes().size() == 1);
    CHECK(m->blackboxes()[0].image == "openwhisk/dockerskeleton:nightly");
    CHECK(m->blackboxes()[0].local_image == "openwhisk/dockerskeleton:nightly");
    CHECK(m->FindBlackbox("openwhisk/dockerskeleton") == nullptr);  // :latest is another tag
    CHECK(m->Find("nodejs:20")->stem_cells == std::vector<RuntimeManifest::StemCell>{{2, 256}});
    CHECK(m->Find("nodejs:18")->stem_cells.empty());

    CHECK_FALSE(RuntimeManifest::FromJson("[]").ok());
    CHECK_FALSE(RuntimeManifest::FromJson(R"({"runtimes":{"x":[{"image":"a"}]}})").ok());
    CHECK_FALSE(RuntimeManifest::FromJson(R"({"runtimes":{"x":{}}})").ok());
    CHECK_FALSE(RuntimeManifest::FromJson(
                    R"({"runtimes":{"x":[{"kind":"x:1","stemCells":[{"initialCount":1}]}]}})")
                    .ok());
    CHECK_FALSE(
        RuntimeManifest::FromJson(
            R"({"runtimes":{"x":[{"kind":"x:1","stemCells":[{"initialCount":1,"memory":"lots"}]}]}})")
            .ok());
    CHECK_FALSE(
        RuntimeManifest::FromJson(R"({"runtimes":{"x":[{"kind":"x:1","aliases":"x"}]}})").ok());
    auto gb = RuntimeManifest::FromJson(
        R"({"runtimes":{"x":[{"kind":"x:1","aliases":["x:one"],"stemCells":[{"initialCount":3,"memory":"1 GB"}]}]}})");
    REQUIRE(gb.ok());
    CHECK(gb->ResolveKind("x:one").value() == "x:1");
    CHECK(gb->Find("x:1")->stem_cells == std::vector<RuntimeManifest::StemCell>{{3, 1024}});
}

TEST_CASE("image tags", "[exec]") {
    CHECK(WithDefaultTag("openwhisk/dockerskeleton") == "openwhisk/dockerskeleton:latest");
    CHECK(WithDefaultTag("a/b:1.2") == "a/b:1.2");
    CHECK(WithDefaultTag("localhost:5000/img") == "localhost:5000/img:latest");
    CHECK(WithDefaultTag("localhost:5000/img:x") == "localhost:5000/img:x");
    CHECK(WithDefaultTag("img@sha256:abc") == "img@sha256:abc");
}

TEST_CASE("entity type names", "[entities]") {
    CHECK(EntityTypeName(EntityType::kAction) == "action");
    CHECK(EntityTypeName(EntityType::kPackage) == "package");
    CHECK(EntityCollectionName(EntityType::kTrigger) == "triggers");
    CHECK(EntityCollectionName(EntityType::kRule) == "rules");
    CHECK(RuleStatusName(RuleStatus::kInactive) == "inactive");
    Rule r;
    r.name = "r";
    WhiskEntity e = r;
    CHECK(TypeOf(e) == EntityType::kRule);
    CHECK(HeaderOf(e).name == "r");
    HeaderOf(e).name = "s";
    CHECK(std::get<Rule>(e).name == "s");
    CHECK(PackageBinding{"whisk.system", "utils"}.Fqn().ToString() == "/whisk.system/utils");
}

TEST_CASE("activation helpers", "[activation]") {
    CHECK(ActivationStatusName(ActivationStatus::kSuccess) == "success");
    CHECK(ActivationStatusName(ActivationStatus::kApplicationError) == "application error");
    CHECK(ActivationStatusName(ActivationStatus::kDeveloperError) == "action developer error");
    CHECK(ActivationStatusName(ActivationStatus::kWhiskError) == "whisk internal error");
    auto err = ActivationResponse::Error(ActivationStatus::kDeveloperError, "bad \"thing\"");
    CHECK_FALSE(err.success());
    CHECK(err.result->text() == R"({"error":"bad \"thing\""})");

    ActivationRecord r;
    r.namespace_path = EntityPath::Parse("guest").value();
    r.name = "hello";
    r.activation_id = ActivationId::Parse("c7bb1339cb4f40e3a6ccead6c99f804e").value();
    CHECK(r.DocId() == "guest/c7bb1339cb4f40e3a6ccead6c99f804e");
    r.start_ms = 100;
    CHECK_FALSE(r.duration().has_value());
    r.end_ms = 150;
    CHECK(r.duration() == 50);
    r.duration_ms = 7;
    CHECK(r.duration() == 7);

    CHECK(r.FilterName() == "hello");
    r.annotations.Set("path", JsonValue::String("guest/pkg/hello"));
    CHECK(r.FilterName() == "pkg/hello");
    r.annotations.Set("path", JsonValue::String("guest/hello"));
    CHECK(r.FilterName() == "hello");
    r.annotations.Set("binding", JsonValue::String("guest/mybinding"));
    CHECK(r.FilterName() == "mybinding/hello");
}

TEST_CASE("the runtime images of the host's architecture", "[exec][arch]") {
    CHECK(ImageForMachine("wisp/action-python:3.11", "x86_64") == "wisp/action-python:3.11");
    CHECK(ImageForMachine("wisp/action-python:3.11", "aarch64") == "wisp/action-python:3.11-arm64");
    CHECK(ImageForMachine("wisp/action-python:3.11", "arm64") == "wisp/action-python:3.11-arm64");
    CHECK(ImageForMachine("wisp/action-native", "aarch64") == "wisp/action-native:latest-arm64");
    CHECK(ImageForMachine("host:5000/wisp/x:1-arm64", "aarch64") == "host:5000/wisp/x:1-arm64");
    CHECK(ImageForMachine("wisp/x@sha256:abcd", "aarch64") == "wisp/x@sha256:abcd");
    CHECK(ImageForMachine("wisp/x:1", "armv7l") == "wisp/x:1");
    CHECK(ImageForMachine("wisp/x:1", "") == "wisp/x:1");

    // kubernetes.io/arch of the node an invoker's action pods must run on.
    CHECK(PlatformArch("x86_64") == "amd64");
    CHECK(PlatformArch("aarch64") == "arm64");
    CHECK(PlatformArch("arm64") == "arm64");
    CHECK(PlatformArch("s390x") == "s390x");
    CHECK(PlatformArch("") == "");

    const auto& built_in = RuntimeManifest::BuiltIn();
    const auto amd64 = built_in.ForMachine("x86_64");
    REQUIRE(amd64.Find("python:3.11") != nullptr);
    CHECK(amd64.Find("python:3.11")->image == "wisp/action-python:3.11");
    CHECK(amd64.FindBlackbox("openwhisk/dockerskeleton")->local_image ==
          "wisp/action-native:latest");

    const auto arm64 = built_in.ForMachine("aarch64");
    REQUIRE(arm64.Find("python:3.11") != nullptr);
    CHECK(arm64.Find("python:3.11")->image == "wisp/action-python:3.11-arm64");
    CHECK(arm64.Find("nodejs:18")->image == "wisp/action-nodejs:18-arm64");
    CHECK(arm64.ResolveKind("python:3").value() == "python:3.11");  // kinds and aliases stay
    CHECK(arm64.Find("python:3.11")->stem_cells == built_in.Find("python:3.11")->stem_cells);
    const auto* box = arm64.FindBlackbox("openwhisk/dockerskeleton");
    REQUIRE(box != nullptr);
    CHECK(box->image == "openwhisk/dockerskeleton:latest");  // what the user named
    CHECK(box->local_image == "wisp/action-native:latest-arm64");
    // The built-in manifest itself is untouched.
    CHECK(built_in.Find("python:3.11")->image == "wisp/action-python:3.11");

    const std::string host = HostMachine();
    CHECK(!host.empty());
}
