#pragma once
// StaticAsset: one file the controller serves as is (the web console's build, embedded in the
// binary by wisp::console_assets; ControllerConfig::console_assets).
#include <string_view>

namespace wisp::controller {

/// Views into storage that outlives the controller (the generated table is static).
struct StaticAsset {
    /// Relative to the mount point, no leading '/': "index.html", "assets/index-abc123.js".
    std::string_view path;
    /// The Content-Type header: "text/html; charset=utf-8", "text/javascript; charset=utf-8".
    std::string_view content_type;
    /// The bytes (may hold NULs).
    std::string_view body;
    /// The ETag header, quoted: "\"9f86d081884c7d659a2f\"" (a hash of `body`).
    std::string_view etag;
};

}  // namespace wisp::controller
