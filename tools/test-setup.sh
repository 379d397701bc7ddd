#!/usr/bin/env bash
# Installs what the test suites need beyond Debian packages (idempotent, quiet when present):
#   pouchdb-server (npm) into .cache/npm — the CouchDB peer of the store contract tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/npm
if [[ ! -x $cache/node_modules/.bin/pouchdb-server ]]; then
  echo "test-setup: installing pouchdb-server@4.2.0 into $cache (about a minute)"
  mkdir -p "$cache"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error pouchdb-server@4.2.0 >/dev/null)
fi
