#!/bin/bash
# demo.sh: build ocf-rs, install it as the `rust` OCF provider, start a
# one-node Corosync + Pacemaker cluster (no systemd needed), create resources
# with pcs and show crm_mon.
#
#   scripts/demo.sh          set up and run the demo (as root, Debian 12)
#   scripts/demo.sh down     stop the demo cluster and remove what it made
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=/run/ocf-rs-demo
mkdir -p "$RUN"

down() {
    tests/harness/cluster.sh down || true
    rm -rf "$RUN"
}

if [ "${1:-}" = down ]; then down; exit 0; fi

command -v cargo >/dev/null || { echo "demo.sh: install a Rust toolchain >= 1.88 (rustup) first" >&2; exit 1; }
scripts/install-deps.sh
cargo build --release --quiet
install -m 755 target/release/ocf-rs /usr/local/sbin/ocf-rs
/usr/local/sbin/ocf-rs install
tests/harness/cluster.sh up

echo "== pcs resource create (dummy)"
pcs resource create demo-dummy ocf:rust:dummy state="$RUN/demo-dummy.state" \
    op monitor interval=10s timeout=20s
for _ in $(seq 60); do
    crm_mon -1 | grep -q 'demo-dummy.*Started' && break
    sleep 0.5
done
crm_mon -1 --include=all
echo
echo "The cluster keeps running: try 'crm_mon', 'pcs status', 'pcs resource disable demo-dummy'."
echo "Stop it with: scripts/demo.sh down"
