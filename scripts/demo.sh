#!/usr/bin/env bash
# The main job, end to end, on the embedded SQLite store: `bash scripts/demo.sh`.
#
# Installs Dovecot if missing, builds mailferry, starts a throwaway source and target IMAP
# server on loopback (mailferry-fixture: a generated mailbox per user, TLS with a test CA,
# a migration administrator), then does what an administrator does: create both endpoints
# (each tested before it is created), create a batch from a CSV, run the initial sync with
# progress, and print the report. State lives in ./demo-data (recreated on every run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

MESSAGES="${MESSAGES:-500}"
USERS_COUNT="${USERS_COUNT:-3}"

ensure_dovecot
ensure_cargo
step "cargo build --release (mailferry and the demo's server fixture)"
cargo build --release -p mailferry -p mailferry-testkit --bins
BIN="$(pwd)/target/release"

DATA="$(pwd)/demo-data"
rm -rf "$DATA"
mkdir -p "$DATA/fixture"
step "starting a source and a target Dovecot with $USERS_COUNT mailboxes of $MESSAGES messages"
"$BIN/mailferry-fixture" "$DATA/fixture" "$MESSAGES" "$USERS_COUNT" &
FIXTURE_PID=$!
trap 'touch "$DATA/fixture/stop"; wait "$FIXTURE_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    [ -f "$DATA/fixture/fixture.env" ] && break
    kill -0 "$FIXTURE_PID" 2>/dev/null || { echo "error: the fixture did not start" >&2; exit 1; }
    sleep 0.2
done
# shellcheck disable=SC1091
. "$DATA/fixture/fixture.env"
export ADMIN_PW
export MAILFERRY_HOME="$DATA/mailferry"
mf() { echo "+ mailferry $*"; "$BIN/mailferry" "$@"; }
first_user="${USERS%% *}"

step "1. endpoints: tested before they are created"
mf endpoint create source --host "$SRC_HOST" --port "$SRC_PORT" --security tls \
    --admin "$ADMIN" --password-env ADMIN_PW --impersonation master-user \
    --test-mailbox "$first_user" --ca-file "$SRC_CA"
mf endpoint create target --host "$DST_HOST" --port "$DST_PORT" --security tls \
    --admin "$ADMIN" --password-env ADMIN_PW --impersonation authzid \
    --test-mailbox "$first_user" --ca-file "$DST_CA"
mf endpoint list

step "2. a batch from a CSV"
{
    echo "EmailAddress,UserName,Password"
    for u in $USERS; do echo "$u,,"; done
} > "$DATA/users.csv"
cat "$DATA/users.csv"
mf batch create demo --csv "$DATA/users.csv" --source source --target target

step "3. the initial sync"
mf batch start demo --wait

step "4. an incremental sync copies nothing twice"
mf batch sync demo --wait

step "5. the report"
mf batch report demo
mf user show "$first_user"
step "done: the state is in $MAILFERRY_HOME (mailferry --data-dir $MAILFERRY_HOME batch show demo)"
