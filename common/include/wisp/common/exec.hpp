#pragma once
// What an action runs (wire §1.4 `exec`).
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <absl/status/statusor.h>
#include <wisp/common/entity_path.hpp>

namespace wisp::common {

/// Source or an archive for a managed runtime: {"kind":"python:3.11","code":...,"main"?}.
struct CodeExec {
    std::string kind;  // concrete kind, never "<family>:default"
    std::string code;
    bool binary = false;  // base64 archive (zip/jar/tgz), computed from `code`
    std::optional<std::string> main;
    bool operator==(const CodeExec&) const = default;
};

/// A Docker image speaking the action protocol: {"kind":"blackbox","image":...,"code"?,"main"?}.
struct BlackboxExec {
    std::string image;
    std::optional<std::string> code;
    bool binary = false;
    std::optional<std::string> main;
    bool operator==(const BlackboxExec&) const = default;
};

/// {"kind":"sequence","components":["/ns/a", ...]}.
struct SequenceExec {
    std::vector<FullyQualifiedName> components;
    bool operator==(const SequenceExec&) const = default;
};

using Exec = std::variant<CodeExec, BlackboxExec, SequenceExec>;

inline constexpr std::string_view kBlackboxKind = "blackbox";
inline constexpr std::string_view kSequenceKind = "sequence";
/// What `wsk --native` sends.
inline constexpr std::string_view kNativeSkeletonImage = "openwhisk/dockerskeleton";

/// "python:3.11", "blackbox" or "sequence".
std::string ExecKind(const Exec& exec);

/// OpenWhisk's `binary` rule for string code: trimmed, non-empty, length % 4 == 0 and valid
/// base64 whose decoded bytes start like a zip/jar/tgz archive.
bool LooksLikeBinaryArchive(std::string_view code);

/// The kinds this platform runs: runtimes/runtimes.json, shaped like OpenWhisk's manifest
/// (wire §8).
class RuntimeManifest {
  public:
    /// Containers started ahead of time (not initialised) for a kind.
    struct StemCell {
        int count = 1;
        int64_t memory_mb = 256;
        bool operator==(const StemCell&) const = default;
    };
    struct Kind {
        std::string kind;   // "python:3.11"
        std::string image;  // "wisp/action-python:3.11"
        bool is_default = false;
        bool requires_main = false;
        bool deprecated = false;
        std::vector<StemCell> stem_cells = {};
    };
    /// A blackbox image that is never pulled and whose logs carry sentinels.
    struct Blackbox {
        std::string image;        // "openwhisk/dockerskeleton:latest" (always tagged)
        std::string local_image;  // the image that runs in its place ("wisp/action-native:latest")
    };

    /// runtimes/runtimes.json as compiled into the binary: python:3.11 (default of python,
    /// alias python:3), nodejs:18 (default of nodejs), openwhisk/dockerskeleton -> the native
    /// image.
    static const RuntimeManifest& BuiltIn();
    /// Parses a runtimes.json document (OpenWhisk's manifest shape:
    /// {"runtimes":{"python":[{"kind":..,"image":{...},"default":true,"aliases":[..],
    /// "stemCells":[{"initialCount":1,"memory":"256 MB"}]}]},"blackboxes":[{"prefix","name",
    /// "tag","localImage"?:{...}}]}). InvalidArgument on a malformed manifest.
    [[nodiscard]] static absl::StatusOr<RuntimeManifest> FromJson(std::string_view json);

    /// Resolves "python:default" / "python:3" aliases to the concrete kind. InvalidArgument
    /// "The specified runtime 'x' is not supported by this platform. Valid values are: ..."
    [[nodiscard]] absl::StatusOr<std::string> ResolveKind(std::string_view kind) const;
    const Kind* Find(std::string_view concrete_kind) const;
    const std::vector<Kind>& kinds() const { return kinds_; }
    const std::vector<Blackbox>& blackboxes() const { return blackboxes_; }
    /// The manifest's blackbox for `image` ("openwhisk/dockerskeleton" and its ":latest" are the
    /// same image), or nullptr for an image that must be pulled.
    const Blackbox* FindBlackbox(std::string_view image) const;
    /// This manifest on a host whose `uname -m` is `machine`: every kind's image and every
    /// blackbox's local image as ImageForMachine() names it (x86_64: unchanged).
    RuntimeManifest ForMachine(std::string_view machine) const;

    RuntimeManifest(std::vector<Kind> kinds, std::vector<std::string> aliases_from,
                    std::vector<std::string> aliases_to, std::vector<Blackbox> blackboxes);

  private:
    std::vector<Kind> kinds_;
    std::vector<std::string> alias_from_, alias_to_;
    std::vector<Blackbox> blackboxes_;
};

/// "img" -> "img:latest"; "img:tag", "host:5000/img" -> unchanged / "host:5000/img:latest".
std::string WithDefaultTag(std::string_view image);

/// The local runtime image to run on a host whose `uname -m` is `machine`. The runtime images are
/// built per architecture by tools/build-runtime-images.sh, which tags every image it builds for
/// arm64 "<tag>-arm64" (on an arm64 host it also keeps the plain tag; on amd64 the plain tag is
/// the amd64 image), so: "aarch64"/"arm64" -> "<image>:<tag>-arm64" ("wisp/action-python:3.11"
/// -> "wisp/action-python:3.11-arm64", untagged -> "latest-arm64"); any other machine, an image
/// pinned by digest, or a tag already ending in "-arm64" -> unchanged.
std::string ImageForMachine(std::string_view image, std::string_view machine);

/// This host's machine name as `uname -m` prints it ("x86_64", "aarch64"); "" when unknown.
std::string HostMachine();

}  // namespace wisp::common
