#!/usr/bin/env bash
# Runs all of mailferry's tests: `bash scripts/test.sh [extra cargo-nextest args]`.
#
# Works on a fresh Debian machine (as root) and on a developer machine: installs what the tests
# need when it is missing, then runs the whole workspace under cargo-nextest. CI calls it via
# .ci/run. Tests start their own throwaway Dovecot instances (crates/testkit); the distro's
# Dovecot service is never started or used.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ensure_dovecot

# --- PostgreSQL -----------------------------------------------------------------------------
# The store's PostgreSQL tests need a server: the one on 127.0.0.1:5432 if it answers, else a
# throwaway cluster started here (and stopped on exit); its URL goes to them as MAILFERRY_TEST_PG.
ensure_postgres

# --- Rust tools -----------------------------------------------------------------------------
ensure_cargo
if command -v cargo-nextest >/dev/null 2>&1; then
    step "cargo-nextest already installed: $(cargo nextest --version 2>/dev/null | head -n1)"
else
    step "cargo install cargo-nextest --locked"
    cargo install cargo-nextest --locked
fi

# --- Tests ----------------------------------------------------------------------------------
step "cargo nextest run --workspace --no-fail-fast $*"
cargo nextest run --workspace --no-fail-fast "$@"

# --- API fuzzing ----------------------------------------------------------------------------
# Schemathesis (PyPI) against a real `mailferry serve` in a loopback-only network namespace:
# any 5xx or any answer the OpenAPI document does not describe fails the run.
step "bash scripts/api-fuzz.sh"
bash scripts/api-fuzz.sh

# --- Dashboard in a browser -----------------------------------------------------------------
# Headless Chromium (Debian's) driven by playwright-core (tests/browser/) against a real
# `mailferry serve` and two seeded Dovecots, in a loopback-only network namespace.
step "bash scripts/browser-tests.sh"
bash scripts/browser-tests.sh
step "all tests passed"
