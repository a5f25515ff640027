#!/usr/bin/env bash
# Runs all of mailferry's tests: `bash scripts/test.sh [extra cargo-nextest args]`.
#
# Works on a fresh Debian machine (as root) and on a developer machine: installs what the tests
# need when it is missing, then runs the whole workspace under cargo-nextest. CI calls it via
# .ci/run. Tests start their own throwaway Dovecot instances (crates/testkit); the distro's
# Dovecot service is never started or used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi

APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        step "apt-get update"
        "${SUDO[@]}" apt-get update
        APT_UPDATED=1
    fi
    step "apt-get install -y $*"
    "${SUDO[@]}" apt-get install -y "$@"
}

# --- Dovecot (IMAP server the integration tests run, one instance per test) -------------------
if have dovecot && have doveadm; then
    step "dovecot already installed: $( (dovecot --version || /usr/sbin/dovecot --version) 2>/dev/null)"
else
    # Keep the package's post-install from starting the system Dovecot service: policy-rc.d
    # exit 101 makes invoke-rc.d skip it. Only remove the file if we created it.
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
        created_policy=1
    fi
    apt_install dovecot-imapd
    if [ "$created_policy" -eq 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
    # Belt and braces: if the distro's instance got started anyway, stop it (its pid file only;
    # the tests' own instances keep their pid files in their temp dirs).
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
fi

# --- PostgreSQL -----------------------------------------------------------------------------
# TODO(postgres): not needed yet. When the store gets a PostgreSQL backend, install and start it
# here (apt_install postgresql; start a throwaway cluster or the service) before running tests.

# --- Rust tools -----------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found (install Rust via rustup)" >&2; exit 1; }

if command -v cargo-nextest >/dev/null 2>&1; then
    step "cargo-nextest already installed: $(cargo nextest --version 2>/dev/null | head -n1)"
else
    step "cargo install cargo-nextest --locked"
    cargo install cargo-nextest --locked
fi

# --- Tests ----------------------------------------------------------------------------------
step "cargo nextest run --workspace --no-fail-fast $*"
cargo nextest run --workspace --no-fail-fast "$@"
step "all tests passed"
