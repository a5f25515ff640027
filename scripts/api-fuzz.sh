#!/usr/bin/env bash
# Schemathesis against a real `mailferry serve`: generates requests for every operation of
# /api/v1/openapi.json (valid and invalid ones) and fails on any server error (5xx), any status
# code, content type or response body that the document does not describe.
#
#   bash scripts/api-fuzz.sh   # MAILFERRY_FUZZ_EXAMPLES (default 30) cases per operation,
#                              # MAILFERRY_FUZZ_SEED to explore other cases
#
# The server runs on a throwaway data directory with a token made by `mailferry token create`.
# Server and Schemathesis run inside a network namespace of their own that has only loopback
# (`unshare -n`), so the endpoint tests that the fuzzer asks for (random hosts) reach nothing
# but this machine; they must still answer with a documented status, never 500.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

EXAMPLES="${MAILFERRY_FUZZ_EXAMPLES:-30}"
SEED="${MAILFERRY_FUZZ_SEED:-20260101}"   # fixed, so a run is reproducible; change it to explore
PORT=18080

# --- Schemathesis (PyPI) --------------------------------------------------------------------
ST="$(command -v schemathesis || true)"
if [ -z "$ST" ]; then
    VENV="${XDG_CACHE_HOME:-$HOME/.cache}/mailferry/schemathesis-venv"
    if [ ! -x "$VENV/bin/schemathesis" ]; then
        have python3 || apt_install python3
        python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
        step "pip install schemathesis (into $VENV)"
        "$VENV/bin/pip" install --quiet schemathesis
    fi
    ST="$VENV/bin/schemathesis"
fi
step "$("$ST" --version)"
have unshare || apt_install util-linux
have ip || apt_install iproute2

# --- mailferry and a pair of throwaway Dovecots ----------------------------------------------
ensure_dovecot
ensure_cargo
step "cargo build -p mailferry -p mailferry-testkit --bins"
cargo build -p mailferry -p mailferry-testkit --bins --quiet
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
MF="$TARGET_DIR/debug/mailferry"
FIXTURE="$TARGET_DIR/debug/mailferry-fixture"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TOKEN="$("$MF" --data-dir "$WORK/data" token create schemathesis 2>/dev/null)"

# Real resources for the path parameters, so the operations on one reach the engine (not only
# its 404): endpoints fuzz-src/fuzz-dst, batch fuzz with two mailboxes.
cat > "$WORK/schemathesis.toml" <<'TOML'
[[operations]]
include-path-regex = "^/api/v1/endpoints/[{]"
parameters = { "path.name" = "fuzz-src" }

[[operations]]
include-path-regex = "^/api/v1/batches/[{]"
parameters = { "path.name" = "fuzz" }

[[operations]]
include-path-regex = "^/api/v1/users/[{]"
parameters = { "path.email" = "user1@example.test" }
TOML

# --- the run, inside a loopback-only network namespace ----------------------------------------
step "schemathesis run http://127.0.0.1:$PORT/api/v1/openapi.json (isolated network namespace)"
export MF FIXTURE WORK PORT TOKEN ST EXAMPLES SEED
unshare --net bash -euo pipefail -c '
    ip link set lo up
    "$FIXTURE" "$WORK/fixture" 20 2 2>"$WORK/fixture.log" &
    FIX=$!
    trap "touch \"$WORK/fixture/stop\"; wait $FIX 2>/dev/null || true" EXIT
    for _ in $(seq 1 300); do
        [ -f "$WORK/fixture/fixture.env" ] && break
        kill -0 "$FIX" 2>/dev/null || { cat "$WORK/fixture.log" >&2; exit 1; }
        sleep 0.2
    done
    . "$WORK/fixture/fixture.env"
    export ADMIN_PW
    mf() { "$MF" --data-dir "$WORK/data" "$@" >/dev/null; }
    first="${USERS%% *}"
    mf endpoint create fuzz-src --host "$SRC_HOST" --port "$SRC_PORT" --admin "$ADMIN" --password-env ADMIN_PW         --impersonation master-user --test-mailbox "$first" --ca-file "$SRC_CA"
    mf endpoint create fuzz-dst --host "$DST_HOST" --port "$DST_PORT" --admin "$ADMIN" --password-env ADMIN_PW         --impersonation master-user --test-mailbox "$first" --ca-file "$DST_CA"
    { echo EmailAddress; for u in $USERS; do echo "$u"; done; } > "$WORK/users.csv"
    mf batch create fuzz --csv "$WORK/users.csv" --source fuzz-src --target fuzz-dst

    MAILFERRY_TIMEOUT=3 RUST_LOG=warn "$MF" --data-dir "$WORK/data" serve --listen "127.0.0.1:$PORT" --tick 1 \
        2>"$WORK/serve.log" &
    SERVER=$!
    status=0
    cd "$WORK"   # Schemathesis keeps its cache (.schemathesis/) in the working directory
    "$ST" --config-file "$WORK/schemathesis.toml" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
        -H "Authorization: Bearer $TOKEN" \
        --wait-for-schema 60 \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection \
        --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 60 \
        --phases examples,coverage,fuzzing,stateful \
        --report junit --report-dir "$WORK/report" || status=$?
    kill -TERM "$SERVER"
    if ! wait "$SERVER"; then
        echo "mailferry serve did not stop cleanly on SIGTERM" >&2
        status=1
    fi
    if grep -q "panicked" "$WORK/serve.log"; then
        echo "mailferry serve panicked:" >&2
        grep -A5 "panicked" "$WORK/serve.log" >&2
        status=1
    fi
    if grep -qF "$ADMIN_PW" "$WORK/serve.log"; then
        echo "the server log contains the administrator password" >&2
        status=1
    fi
    exit $status
' || { echo "schemathesis found problems; the server log ends with:" >&2; tail -n 50 "$WORK/serve.log" >&2 || true; exit 1; }
step "schemathesis: no findings"
