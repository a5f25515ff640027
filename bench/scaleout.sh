#!/usr/bin/env bash
# Mailboxes per minute with 1, 2 and 4 worker processes sharing one PostgreSQL:
# `bash bench/scaleout.sh`.
#
# For each worker count: a fresh source/target Dovecot pair (mailferry-fixture: MAILBOXES mailboxes of
# MESSAGES generated messages each), a fresh PostgreSQL database, endpoints with
# --max-concurrent-migrations LIMIT, a batch of every mailbox; then N `mailferry worker`
# processes (--slots SLOTS each) copy it. The time runs from the start of the workers until every
# mailbox is Synced; `mailferry verify` must then exit 0. Prints one line per worker count and
# writes them to bench/results/scaleout.txt.
#
# Environment: MAILBOXES=40 MESSAGES=100 LIMIT=16 SLOTS=4 WORKERS="1 2 4"
#   MAILFERRY_TEST_PG (default postgres://postgres@127.0.0.1:5432/postgres): the server to use.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

MAILBOXES="${MAILBOXES:-40}"
MESSAGES="${MESSAGES:-100}"
LIMIT="${LIMIT:-16}"
SLOTS="${SLOTS:-4}"
WORKERS="${WORKERS:-1 2 4}"
PG="${MAILFERRY_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_BASE="${PG%/*}"

ensure_dovecot
ensure_cargo
command -v psql >/dev/null || apt_install postgresql-client
step "cargo build --release"
cargo build --release -p mailferry -p mailferry-testkit --bins
BIN="$(pwd)/target/release"
mkdir -p bench/results bench/work
OUT=bench/results/scaleout.txt
echo "mailferry scale-out: $(date -u '+%Y-%m-%d %H:%M UTC'), $MAILBOXES mailboxes x $MESSAGES messages, endpoint limit $LIMIT, $SLOTS slots per worker, $(nproc) CPUs" | tee "$OUT"

for n in $WORKERS; do
    work="$(mktemp -d "$(pwd)/bench/work/scaleout.XXXX")"
    db="mf_bench_$$_$n"
    psql "$PG" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    export MAILFERRY_DB="$PG_BASE/$db" MAILFERRY_HOME="$work/data"
    "$BIN/mailferry-fixture" "$work/fixture" "$MESSAGES" "$MAILBOXES" 2>/dev/null &
    fixture=$!
    for _ in $(seq 1 600); do [ -f "$work/fixture/fixture.env" ] && break; sleep 0.2; done
    # shellcheck disable=SC1091
    . "$work/fixture/fixture.env"
    export ADMIN_PW
    first="${USERS%% *}"
    "$BIN/mailferry" endpoint create src --host "$SRC_HOST" --port "$SRC_PORT" --admin "$ADMIN" --password-env ADMIN_PW \
        --impersonation master-user --test-mailbox "$first" --ca-file "$SRC_CA" --max-concurrent-migrations "$LIMIT" >/dev/null
    "$BIN/mailferry" endpoint create dst --host "$DST_HOST" --port "$DST_PORT" --admin "$ADMIN" --password-env ADMIN_PW \
        --test-mailbox "$first" --ca-file "$DST_CA" --max-concurrent-migrations "$LIMIT" >/dev/null
    { echo EmailAddress; for u in $USERS; do echo "$u"; done; } > "$work/users.csv"
    "$BIN/mailferry" batch create b --csv "$work/users.csv" --source src --target dst --no-incremental >/dev/null
    "$BIN/mailferry" batch start b >/dev/null
    start=$(date +%s.%N)
    pids=()
    for _ in $(seq 1 "$n"); do
        "$BIN/mailferry" worker --slots "$SLOTS" 2>>"$work/workers.log" &
        pids+=("$!")
    done
    while true; do
        left=$("$BIN/mailferry" user list --batch b --json | grep -c '"status": "Synced"' || true)
        [ "$left" -ge "$MAILBOXES" ] && break
        sleep 0.5
    done
    end=$(date +%s.%N)
    kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
    verify="$("$BIN/mailferry" verify b 2>&1 | tail -n 1)"
    touch "$work/fixture/stop"; wait "$fixture" 2>/dev/null || true
    psql "$PG" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')
    per_min=$(awk -v n="$MAILBOXES" -v s="$secs" 'BEGIN { print n * 60 / s }')
    printf '%d worker(s): %6.1f s, %6.1f mailboxes/min; verify: %s\n' "$n" "$secs" "$per_min" "$verify" | tee -a "$OUT"
    rm -rf "$work"
done
