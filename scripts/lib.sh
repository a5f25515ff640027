# Shared by scripts/*.sh: install what mailferry's tests, demo and benchmarks need.
# shellcheck shell=bash

export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        step "apt-get update"
        "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    step "apt-get install -y $*"
    # Keep package post-installs from starting system services (Dovecot's): policy-rc.d exit 101
    # makes invoke-rc.d skip them. Only remove the file if we created it.
    local created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    "${SUDO[@]}" apt-get install -y "$@"
    if [ "$created_policy" -eq 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
}

# Dovecot: the IMAP server that tests, the demo and the benchmarks start (one throwaway instance
# each, with its own config; the distro's service is never used).
ensure_dovecot() {
    if have dovecot && have doveadm; then
        step "dovecot already installed: $( (dovecot --version || /usr/sbin/dovecot --version) 2>/dev/null)"
        return
    fi
    apt_install dovecot-imapd
    # If the distro's instance got started anyway, stop it (its own pid file only).
    for pidfile in /run/dovecot/master.pid /var/run/dovecot/master.pid; do
        if [ -f "$pidfile" ]; then
            pid="$(cat "$pidfile")"
            if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                step "stopping the distro's Dovecot (pid $pid) started by the package install"
                "${SUDO[@]}" kill "$pid" || true
            fi
            break
        fi
    done
    have dovecot || { echo "error: dovecot still not found after installing dovecot-imapd" >&2; exit 1; }
    step "installed $(/usr/sbin/dovecot --version)"
}

ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck disable=SC1091
        . "$HOME/.cargo/env"
    fi
    command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found (install Rust with rustup)" >&2; exit 1; }
}

# PostgreSQL: the server the store's PostgreSQL tests run against (crates/store/tests/postgres.rs
# reads its URL from MAILFERRY_TEST_PG; without a server they fail). Uses, in this order:
#   - MAILFERRY_TEST_PG if it is already set (never printed: it may hold a password);
#   - a server answering on 127.0.0.1:$MAILFERRY_TEST_PG_PORT (default 5432), as user postgres;
#   - else a throwaway cluster: installs postgresql if its binaries are missing (the distro's
#     cluster is not started), runs initdb in a temporary directory owned by the postgres user
#     (trust authentication, loopback only, its socket in that directory) on that port, or on a
#     free one if something else holds it, and stops and removes it when the calling script exits.
ensure_postgres() {
    if [ -n "${MAILFERRY_TEST_PG:-}" ]; then
        step "PostgreSQL for the tests: MAILFERRY_TEST_PG is set, using that server"
        return
    fi
    local port="${MAILFERRY_TEST_PG_PORT:-5432}"
    if pg_answers "$port"; then
        export MAILFERRY_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres"
        step "PostgreSQL already answers on 127.0.0.1:$port: the tests use it"
        return
    fi

    local bin
    bin="$(pg_bindir)"
    if [ -z "$bin" ]; then
        apt_install postgresql
        bin="$(pg_bindir)"
        [ -n "$bin" ] || { echo "error: initdb not found after installing postgresql" >&2; exit 1; }
    fi
    # something that is not PostgreSQL on the port (or a server we may not use): take a free one
    while port_taken "$port"; do port=$((port + 1)); done

    local owner="" dir
    dir="$(mktemp -d "${TMPDIR:-/tmp}/mailferry-pg.XXXXXX")"
    if [ "$(id -u)" -eq 0 ]; then
        # initdb refuses to run as root: the cluster belongs to the postgres user
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/false postgres
        owner=postgres
        chown postgres: "$dir"
    fi
    as_pg() { if [ -n "$owner" ]; then runuser -u "$owner" -- "$@"; else "$@"; fi; }

    step "starting a throwaway PostgreSQL cluster in $dir on 127.0.0.1:$port"
    as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-instructions --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; echo "error: initdb failed" >&2; exit 1; }
    # loopback only, socket in the cluster's directory; durability is not needed for tests
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null \
        || { cat "$dir/server.log" >&2; echo "error: the throwaway PostgreSQL did not start" >&2; exit 1; }
    MF_PG_DIR="$dir"
    MF_PG_BIN="$bin"
    MF_PG_OWNER="$owner"
    add_exit_trap stop_throwaway_postgres
    export MAILFERRY_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres"
    pg_answers "$port" || { echo "error: the throwaway PostgreSQL does not answer on port $port" >&2; exit 1; }
}

stop_throwaway_postgres() {
    [ -n "${MF_PG_DIR:-}" ] || return 0
    if [ -n "${MF_PG_OWNER:-}" ]; then
        runuser -u "$MF_PG_OWNER" -- "$MF_PG_BIN/pg_ctl" -D "$MF_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    else
        "$MF_PG_BIN/pg_ctl" -D "$MF_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$MF_PG_DIR"
    MF_PG_DIR=""
}

# The directory of initdb and pg_ctl: on PATH, else the newest under /usr/lib/postgresql (Debian).
pg_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; fi
}

# True if a PostgreSQL server accepts connections on 127.0.0.1:$1.
pg_answers() {
    local isready
    isready="$(command -v pg_isready || true)"
    [ -n "$isready" ] || { local b; b="$(pg_bindir)"; [ -n "$b" ] && isready="$b/pg_isready"; }
    if [ -n "$isready" ] && [ -x "$isready" ]; then
        "$isready" -q -h 127.0.0.1 -p "$1" -t 3
    else
        return 1  # no client tools: we install them and start our own
    fi
}

# True if anything listens on 127.0.0.1:$1.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Adds a command to the EXIT trap, keeping what is there.
add_exit_trap() {
    local prev
    prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
    # shellcheck disable=SC2064
    trap "${prev:+$prev; }$1" EXIT
}
