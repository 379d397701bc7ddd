// The console is served by the controller from the binary at /console/ (CMake embeds the build
// output). WISP_CONSOLE_OUT moves the output into the CMake build tree.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/console/",
  build: {
    outDir: process.env.WISP_CONSOLE_OUT ?? "dist",
    emptyOutDir: true,
    // Strict CSP (script-src 'self'): no inline scripts, no data: URLs for assets, no
    // modulepreload polyfill injected into the page.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    globals: true,
  },
});
