#!/bin/bash
# test.sh: the whole test suite, from a fresh Debian 12 machine (as root).
#
#   scripts/test.sh            install packages, lint, build, run every test
#
# It installs every Debian package the tests use (scripts/install-deps.sh),
# then runs cargo fmt/clippy, builds the Debian package (scripts/package.sh:
# a release build) and runs the unit and integration tests. The
# integration tests start what they need themselves: a one-node Corosync +
# Pacemaker cluster, network namespaces, loop devices, database servers,
# libvirtd. Tests that share machine-wide state (the cluster) take a lock.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS

command -v cargo >/dev/null || {
    echo "test.sh: cargo not found: install a Rust toolchain >= 1.88 (rustup) first" >&2
    exit 1
}
scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== Debian package (tests/it/package.rs installs it in a private mount namespace)"
scripts/package.sh

echo "== tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
echo "test.sh: all green in $((SECONDS - t0)) s"
