#pragma once
// Docker image references (distribution/reference's grammar) and the operator's allow list of
// blackbox images.
//
//   reference      := name [ ":" tag ] [ "@" digest ]
//   name           := [domain "/"] path-component ["/" path-component]*     (≤ 255 chars)
//   domain         := domain-component ["." domain-component]* [":" port]
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//   digest         := algorithm ":" [0-9a-fA-F]{32,}   algorithm := [A-Za-z][A-Za-z0-9]* ([+._-]
//   …)*
//
// The first component is a domain when it contains '.' or ':' or is "localhost"; otherwise the
// image is on Docker Hub (docker.io, "library/" for one-component names).
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/statusor.h>

namespace wisp::common {

/// Longest accepted reference (name 255 + tag 128 + digest, as docker).
inline constexpr size_t kMaxImageReferenceLength = 512;

struct ImageRef {
    std::string domain;  // as written; empty when none was given (Docker Hub)
    std::string path;    // "openwhisk/dockerskeleton"
    std::string tag;     // empty when none was given
    std::string digest;  // "sha256:…"; empty when none was given

    /// The registry and path docker resolves the name to: "docker.io/library/python",
    /// "ghcr.io/org/img", "localhost:5000/x".
    std::string CanonicalName() const;
};

/// Parses `text` by Docker's reference grammar. InvalidArgument with the reason when it is not
/// a valid reference (uppercase path, '..', '?', '#', spaces, empty components, too long, ...).
[[nodiscard]] absl::StatusOr<ImageRef> ParseImageRef(std::string_view text);

/// True when `image` (a valid reference) is allowed by `allowed`: an empty list allows every
/// image (OpenWhisk's behaviour); otherwise an entry allows the images whose canonical name
/// (see ImageRef::CanonicalName) equals it or continues it after a '/': "docker.io" allows all
/// of Docker Hub, "ghcr.io/acme" everything under ghcr.io/acme/, "openwhisk/dockerskeleton"
/// (normalised like an image name, so docker.io/openwhisk/dockerskeleton) that image. An entry
/// may end with '/'. Invalid references are never allowed.
bool ImageAllowed(std::string_view image, const std::vector<std::string>& allowed);

/// Splits a comma- or space-separated list of allow-list entries (flag and environment values).
std::vector<std::string> SplitImageAllowList(std::string_view text);

}  // namespace wisp::common
