#!/usr/bin/env bash
# Installs what the test suites need beyond Debian packages (idempotent, quiet when present):
#   pouchdb-server (npm) into .cache/npm — the CouchDB peer of the store contract tests;
#   openwhisk (npm, the OpenWhisk JS client) into .cache/npm — tests/e2e/openwhisk_client_test.js;
#   Debian's chromium (apt) — the console's browser test (tests/browser), driven by playwright-core
#   from console/node_modules (npm ci of console/package-lock.json, done by the build).
# The npm packages come from the npm cache when offline (--prefer-offline); a failure names the package.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/npm

# npm_install PACKAGE@VERSION WHAT: installs into $cache unless that version is already there.
npm_install() {
    local spec=$1 what=$2
    echo "test-setup: installing $spec into $cache ($what)"
    mkdir -p "$cache"
    if ! (cd "$cache" && npm install --prefer-offline --save-exact --no-audit --no-fund --loglevel=error \
            "$spec" >/dev/null); then
        echo "test-setup: npm could not install $spec (offline and not in the npm cache?);" \
             "the tests that need it will fail until it is installed" >&2
        return 1
    fi
}

if [[ ! -x $cache/node_modules/.bin/pouchdb-server ]]; then
    npm_install pouchdb-server@4.2.0 "about a minute"
fi
# The version check reads package.json, so a different openwhisk version is replaced.
if ! grep -qs '"version": "3.21.9"' "$cache/node_modules/openwhisk/package.json"; then
    # Not fatal: only openwhisk_client_e2e_test needs it, and it says so when it is missing.
    npm_install openwhisk@3.21.9 "the JS client for the e2e tests; a few seconds" || true
fi

# The console's browser test drives /usr/bin/chromium (playwright-core's executablePath).
if [[ ! -x /usr/bin/chromium ]]; then
    echo "test-setup: installing chromium (apt; the console's browser test; about a minute)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
            >/dev/null; then
        # Stale package lists on a fresh machine: refresh once and retry.
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends chromium >/dev/null ||
            echo "test-setup: apt-get could not install chromium; console_browser_test will fail" >&2
    fi
fi
