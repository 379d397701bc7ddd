#pragma once
// wisp::console_assets: the web console (console/) as built by tools/build-console.sh, compiled
// into the binary (cmake/EmbedConsole.cmake generates the definition). Linked by wisp-standalone
// and wisp-controller only; they pass the table as ControllerConfig::console_assets.
#include <span>

#include <wisp/controller/static_asset.hpp>

namespace wisp::console {

/// Every file of the console's build ("index.html", "assets/..."); empty when the build was
/// configured with WISP_CONSOLE=OFF (then /console/ answers 404). Static storage.
std::span<const controller::StaticAsset> EmbeddedAssets();

}  // namespace wisp::console
