#!/usr/bin/env bash
# End-to-end check of the wisp-admin binary against a temporary SQLite store:
#   user create alice1  -> prints uuid:key;  user whois <it> -> alice1
#   init                -> guest, whisk.system; user whois <guest key> -> guest
# plus the exit codes of a few failures. Usage: admin_cli_test.sh path/to/wisp-admin
set -uo pipefail

BIN=${1:?usage: $0 path/to/wisp-admin}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wisp_admin_cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
STORE="sqlite:$TMP/w.db"
GUEST_KEY=23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run EXPECTED_RC EXPECTED_STDOUT args... ; EXPECTED_STDOUT "*" = don't check
run() {
    local want_rc=$1 want_out=$2
    shift 2
    local out rc
    out=$("$BIN" "$@" 2>"$TMP/stderr")
    rc=$?
    if [[ $rc -ne $want_rc ]]; then
        fail "wisp-admin $* exited $rc, want $want_rc (stderr: $(cat "$TMP/stderr"))"
    fi
    if [[ $want_out != "*" && $out != "$want_out" ]]; then
        fail "wisp-admin $* printed [$out], want [$want_out]"
    fi
    LAST_OUT=$out
}

# The acceptance: create, then whois resolves it.
run 0 "*" user create alice1 --store "$STORE"
KEY=$LAST_OUT
if [[ ! $KEY =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[A-Za-z0-9]{64}$ ]]; then
    fail "user create printed [$KEY], not a uuid:key"
fi
run 0 $'subject: alice1\nnamespace: alice1' user whois "$KEY" --store "$STORE"

# init, then the guest key resolves to guest; init again is fine.
run 0 $'Subject "guest" created with namespace "guest"\nSubject "whisk.system" created with namespace "whisk.system"' \
    init --store "$STORE"
run 0 $'subject: guest\nnamespace: guest' user whois "$GUEST_KEY" --store "$STORE"
run 0 $'Subject "guest" already initialized\nSubject "whisk.system" already initialized' \
    init --store "$STORE"

# Failures and their exit codes.
run 1 "" user create alice1 --store "$STORE"                       # Namespace already exists
run 2 "" user create abc --store "$STORE"                          # subject too short
run 2 "" user bogus --store "$STORE"                               # usage
# Unknown key: change the last character (to one it is not, so this cannot collide).
if [[ ${KEY: -1} == x ]]; then OTHER_KEY="${KEY%?}y"; else OTHER_KEY="${KEY%?}x"; fi
run 1 "" user whois "$OTHER_KEY" --store "$STORE"                  # unknown key
run 0 '"alice1" blocked successfully' user block alice1 --store "$STORE"
run 1 "" user whois "$KEY" --store "$STORE"                        # blocked
run 0 "Subject deleted" user delete alice1 --store "$STORE"

# WISP_STORE selects the store when --store is absent.
out=$(WISP_STORE="$STORE" "$BIN" user whois "$GUEST_KEY") || fail "whois with WISP_STORE exited $?"
[[ $out == $'subject: guest\nnamespace: guest' ]] || fail "whois with WISP_STORE printed [$out]"

if [[ $failures -ne 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "admin_cli_test: all checks passed"
