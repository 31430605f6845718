#!/bin/bash
# demo.sh: a two-node Corosync + Pacemaker cluster on this machine
# (one network, mount, UTS and PID namespace per node, a shared loop disk:
# tests/harness/ns-cluster.sh) running the service stack of docs/cookbook.md
# (filesystem -> floating IP -> PostgreSQL), then crm_mon. As root, Debian 12.
#
#   scripts/demo.sh            up, create the stack, show crm_mon
#   scripts/demo.sh down       stop the cluster and remove what it made
#
# The pcs commands are read from docs/cookbook.md (scenario 1), which is
# generated from the table the end-to-end tests run. Our agents are used when
# this build has them, else the heartbeat agents (the demo says which).
# Then try:  tests/harness/ns-cluster.sh kill 1      (and watch node2 take over)
#            tests/harness/ns-cluster.sh exec 2 crm_mon
#            tests/harness/ns-cluster.sh client psql -h 203.0.113.100 -U postgres -c 'SELECT 1'
set -euo pipefail
cd "$(dirname "$0")/.."
H=tests/harness/ns-cluster.sh
if [ "${1:-}" = down ]; then exec "$H" down; fi

command -v cargo > /dev/null || { echo "demo.sh: install a Rust toolchain >= 1.88 first" >&2; exit 1; }
scripts/install-deps.sh
cargo build --release --quiet
# OCF_RS_PROVIDER: install under another provider name (default rust), e.g. to
# leave a machine's `rust` provider alone
prov=${OCF_RS_PROVIDER:-rust}
bin=/usr/local/sbin/ocf-rs
[ "$prov" = rust ] || bin=/usr/local/lib/ocf-rs/$prov/ocf-rs
install -D -m 755 target/release/ocf-rs "$bin"
"$bin" install --provider "$prov"
set=ours
for a in filesystem ipaddr database; do
    "$bin" list | cut -f1 | grep -qx "$a" || set=heartbeat
done
[ $set = ours ] || echo "demo.sh: this build lacks filesystem/ipaddr/database: using the heartbeat agents"
"$H" up 2
"$H" prep-pg /srv/e2e-pg
DISK=$("$H" disk)
# The create commands of scenario 1: the first ```sh block (ours) or the second
# (heartbeat) under "## 1.", up to the standby step.
block=1
[ $set = heartbeat ] && block=2
mapfile -t cmds < <(awk -v want="$block" '
    /^## / { in1 = ($0 ~ /^## 1\./) }
    in1 && /^```sh/ { n++; inblock = 1; next }
    in1 && /^```/ { inblock = 0; next }
    in1 && inblock && n == want && /^pcs / && !/ node (un)?standby / { print }
' docs/cookbook.md)
for c in "${cmds[@]}"; do
    c=${c//\$DISK/$DISK}
    c=${c//ocf:rust:/ocf:$prov:}
    echo "+ $c"
    read -r -a argv <<< "$c"
    "$H" exec 1 "${argv[@]}"
done
for _ in $(seq 120); do
    "$H" exec 1 crm_mon -1 | grep -q 'stack-db.*Started' && break
    sleep 1
done
"$H" exec 1 crm_mon -1
echo
echo "The cluster keeps running. Stop it with: scripts/demo.sh down"
