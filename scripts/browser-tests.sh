#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by
# playwright-core from tests/browser/) against a real `mailferry serve` and a pair of throwaway
# Dovecots with seeded mailboxes (mailferry-fixture).
#
#   bash scripts/browser-tests.sh       # screenshots land in tests/browser/screenshots/
#
# Installs what is missing (chromium, node/npm, dovecot) and the npm packages of
# tests/browser/ from its package-lock.json; never downloads a browser of its own. Fixture,
# server and browser run inside a network namespace with only loopback (`unshare -n`): the
# wizard's discovery and the browser reach nothing but this machine.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

PORT="${MAILFERRY_BROWSER_PORT:-18090}"
MESSAGES="${MAILFERRY_BROWSER_MESSAGES:-40}"   # per mailbox
USERS="${MAILFERRY_BROWSER_USERS:-3}"

# --- tools ------------------------------------------------------------------------------------
[ -x /usr/bin/chromium ] || apt_install chromium
have node || apt_install nodejs
have npm || apt_install npm
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
    || { echo "error: node >= 18 is needed for its test runner (found $(node --version))" >&2; exit 1; }
have unshare || apt_install util-linux
have ip || apt_install iproute2
ensure_dovecot
ensure_cargo
step "$(/usr/bin/chromium --version 2>/dev/null | head -n1), node $(node --version)"

step "npm ci (tests/browser: playwright-core, no browser download)"
( cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error )

step "cargo build -p mailferry -p mailferry-testkit --bins"
cargo build -p mailferry -p mailferry-testkit --bins --quiet
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
MF="$TARGET_DIR/debug/mailferry"
FIXTURE="$TARGET_DIR/debug/mailferry-fixture"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TOKEN="$("$MF" --data-dir "$WORK/data" token create browser-tests 2>/dev/null)"
rm -rf tests/browser/screenshots

# --- the run, inside a loopback-only network namespace -----------------------------------------
step "fixture + mailferry serve on 127.0.0.1:$PORT + node --test tests/browser (isolated network namespace)"
export MF FIXTURE WORK PORT TOKEN MESSAGES USERS
status=0
unshare --net bash -euo pipefail -c '
    ip link set lo up
    "$FIXTURE" "$WORK/fixture" "$MESSAGES" "$USERS" 2>"$WORK/fixture.log" &
    FIX=$!
    SERVER=""
    stop_all() {
        if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
        touch "$WORK/fixture/stop"
        wait "$FIX" 2>/dev/null || true
    }
    trap stop_all EXIT
    for _ in $(seq 1 300); do
        [ -f "$WORK/fixture/fixture.env" ] && break
        kill -0 "$FIX" 2>/dev/null || { cat "$WORK/fixture.log" >&2; exit 1; }
        sleep 0.2
    done
    [ -f "$WORK/fixture/fixture.env" ] || { echo "the fixture did not start" >&2; cat "$WORK/fixture.log" >&2; exit 1; }
    set -a; . "$WORK/fixture/fixture.env"; set +a

    MAILFERRY_TIMEOUT=10 RUST_LOG=warn "$MF" --data-dir "$WORK/data" serve --listen "127.0.0.1:$PORT" --tick 1 \
        2>"$WORK/serve.log" &
    SERVER=$!
    up=0
    for _ in $(seq 1 150); do
        if node -e "fetch(\"http://127.0.0.1:$PORT/healthz\").then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then up=1; break; fi
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.2
    done
    [ "$up" = 1 ] || { echo "mailferry serve did not come up:" >&2; cat "$WORK/serve.log" >&2; exit 1; }

    status=0
    ( cd tests/browser && BASE_URL="http://127.0.0.1:$PORT" node --test --test-concurrency=1 --test-reporter=spec dashboard.test.js ) || status=$?

    kill -TERM "$SERVER"
    if ! wait "$SERVER"; then echo "mailferry serve did not stop cleanly on SIGTERM" >&2; status=1; fi
    SERVER=""
    if grep -q "panicked" "$WORK/serve.log"; then echo "mailferry serve panicked:" >&2; grep -A5 "panicked" "$WORK/serve.log" >&2; status=1; fi
    if grep -qF "$ADMIN_PW" "$WORK/serve.log"; then echo "the server log contains the administrator password" >&2; status=1; fi
    if [ "$status" -ne 0 ]; then echo "--- the server log ends with:" >&2; tail -n 40 "$WORK/serve.log" >&2 || true; fi
    exit $status
' || status=$?

if [ "$status" -ne 0 ]; then
    echo "browser tests failed (screenshots so far: tests/browser/screenshots/)" >&2
    exit "$status"
fi
step "browser tests passed; screenshots in tests/browser/screenshots/"
