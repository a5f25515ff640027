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
