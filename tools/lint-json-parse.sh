#!/usr/bin/env bash
# Fails when any C++ source parses JSON without the one bounded parser.
#
# Every JSON text from outside a process (REST bodies, action container answers, store documents,
# bus messages, Docker answers, CLI input) is parsed by wisp::json::ParseBounded /
# ParseBoundedSax (common/bounded/include/wisp/common/bounded_json.hpp), usually through
# wisp::common::ParseJson. rapidjson's own entry points recurse without a depth limit (a body of
# a million '[' crashed wisp-standalone) and stop silently at a NUL byte, so calling them is an
# error everywhere else — tests included, so that nobody copies an unbounded call from a test.
#
# Usage: tools/lint-json-parse.sh [repo-root]   (exit 1 and a list of file:line on a finding)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The only file allowed to drive rapidjson's reader.
allowed='^common/bounded/include/wisp/common/bounded_json\.hpp:'

# Member calls .Parse(...)/.Parse<...>(...)/.ParseStream/.ParseInsitu on any object (a
# Document, a Reader), and naming rapidjson's reader types at all. A line that is not JSON (an
# HTTP parser's Parse, say) carries the marker `lint-json: not JSON` to say so.
pattern='(\.|->)[[:space:]]*Parse(Stream|Insitu)?[[:space:]]*[<(]|rapidjson::(Generic)?Reader\b|\bGenericReader\b'

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' '*.h' '*.cc' | grep -v '^build')
else
  files=$(find . -name '*.cpp' -o -name '*.hpp' -o -name '*.h' | sed 's|^\./||' | grep -v '^build')
fi

findings=$(echo "$files" | xargs -r grep -nE "$pattern" 2>/dev/null |
           grep -vE "$allowed" | grep -v 'lint-json: not JSON' || true)
if [[ -n $findings ]]; then
  echo "lint-json-parse: JSON parsed outside the bounded parser:" >&2
  echo "$findings" >&2
  echo "lint-json-parse: use wisp::common::ParseJson(text, doc) (<wisp/common/json.hpp>), or" \
       "wisp::json::ParseBounded/ParseBoundedSax (<wisp/common/bounded_json.hpp>) where" \
       "wisp::common is not linked; see common/README.md \"Parsing JSON\"." >&2
  exit 1
fi
echo "lint-json-parse: every JSON parse goes through the bounded parser"
