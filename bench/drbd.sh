#!/bin/bash
# bench/drbd.sh: the cost of one `monitor` of ocf:rust:drbd against
# ocf:linbit:drbd (drbd-utils 9.22) on the same simulated DRBD 9 resource:
# Secondary, connected, every disk UpToDate (score 10000). Same machine,
# same run. Prints a Markdown table.
#
#   bench/drbd.sh [RUNS]        (default 50)
#
# There is no DRBD kernel module here, so both agents run against the DRBD
# SIMULATOR (tests/sim/drbd-simulator, first on PATH): its drbdadm,
# drbdsetup and crm_attribute (which records the score). What had to be faked
# for linbit's agent: it tests `-f /proc/drbd`, which cannot be created, so it
# runs as a copy (with its drbd.shellfuncs.sh) whose one line
# `test -f /proc/drbd` reads `test -f "${DRBD_SIM_PROC_DRBD:-/proc/drbd}"`;
# its `test -b` on the device finds the block node the simulator mknod's.
# Ours reads the same simulated /proc/drbd through its OCF_RS_DRBD_PROC hook.
# The simulator is Python (~25 ms a call), so the "one simulated drbdsetup"
# row is the floor both agents pay per tool call; the fork counts are the
# figure that carries over to real DRBD.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
cargo build --release --quiet
work=$(mktemp -d /var/tmp/ocf-rs-bench-drbd.XXXXXX)
trap 'rm -rf "$work"' EXIT
sim=tests/sim/drbd-simulator
"$sim" init "$work/c" --nodes node1,node2 >/dev/null
node=$work/c/node1
touch "$work/drbd.conf"
"$node/bin/drbdadm" adjust r0
"$work/c/node2/bin/drbdadm" adjust r0
ln -s "$PWD/target/release/ocf-rs" "$work/drbd"
mkdir "$work/linbit"
cp /usr/lib/ocf/resource.d/linbit/drbd /usr/lib/ocf/resource.d/linbit/drbd.shellfuncs.sh "$work/linbit/"
sed -i 's|test -f /proc/drbd|test -f "${DRBD_SIM_PROC_DRBD:-/proc/drbd}"|' "$work/linbit/drbd"
[ "$(diff /usr/lib/ocf/resource.d/linbit/drbd "$work/linbit/drbd" | grep -c '^>')" = 1 ] || {
    echo "bench/drbd.sh: patching linbit's agent did not change exactly one line" >&2; exit 1; }
# The same state replayed by tiny /bin/sh scripts (recorded from the simulator
# here): what each agent costs on its own when a tool answers in ~1 ms, as
# real drbdsetup does.
replay=$work/replay
mkdir "$replay"
"$node/bin/drbdsetup" events2 --now r0 > "$replay/events2"
"$node/bin/drbdadm" --version > "$replay/version"
"$node/bin/drbdadm" -c "$work/drbd.conf" sh-dev r0 > "$replay/sh-dev"
for tool in drbdadm drbdsetup; do
    printf '#!/bin/sh\ncase "$*" in\n*events2*) cat %s/events2 ;;\n*--version*) cat %s/version ;;\n*sh-dev*) cat %s/sh-dev ;;\nesac\n' \
        "$replay" "$replay" "$replay" > "$replay/$tool"
done
printf '#!/bin/sh\necho "<pacemaker-result><status code=\\"0\\" message=\\"OK\\"/></pacemaker-result>"\n' > "$replay/crm_attribute"
chmod +x "$replay"/drbdadm "$replay"/drbdsetup "$replay"/crm_attribute
plain_path=$PATH
export PATH="$node/bin:$PATH"
rows=$work/rows.jsonl
common=(--env OCF_RESKEY_CRM_meta_interval=20000 --env OCF_RESKEY_CRM_meta_timeout=20000
        --env OCF_RESOURCE_INSTANCE=bench --env OCF_RESKEY_drbd_resource=r0
        --env OCF_RESKEY_drbdconf="$work/drbd.conf" --env OCF_RESKEY_crm_feature_set=3.16.2
        --env OCF_RESKEY_CRM_meta_notify=true --env OCF_RESKEY_CRM_meta_clone_max=2
        --env OCF_RESKEY_CRM_meta_clone_node_max=1 --env OCF_RESKEY_CRM_meta_master_max=1
        --env OCF_RESKEY_CRM_meta_master_node_max=1)
m() { bench/measure.py --out "$rows" --runs "$runs" "${common[@]}" "$@"; }
m --label "floor: /bin/true" -- /bin/true
m --label "floor: one simulated drbdsetup events2" -- "$node/bin/drbdsetup" events2 --now r0
m --label "ocf:rust:drbd monitor" --env OCF_RS_DRBD_PROC="$node/proc-drbd" -- "$work/drbd" monitor
m --label "ocf:linbit:drbd monitor" --env DRBD_SIM_PROC_DRBD="$node/proc-drbd" -- "$work/linbit/drbd" monitor
PATH="$replay:$plain_path" m --label "ocf:rust:drbd monitor, replayed tools" \
  --env OCF_RS_DRBD_PROC="$node/proc-drbd" -- "$work/drbd" monitor
PATH="$replay:$plain_path" m --label "ocf:linbit:drbd monitor, replayed tools" \
  --env DRBD_SIM_PROC_DRBD="$node/proc-drbd" -- "$work/linbit/drbd" monitor
grep -q '"master-bench@node1": "10000"' "$node/attrs.json" || {
    echo "bench/drbd.sh: the score is not 10000: $(cat "$node/attrs.json")" >&2; exit 1; }
bench/report.py "$rows" --ours "ocf:rust:drbd monitor" --floor "floor: /bin/true" \
  --title "drbd monitor, simulated DRBD 9 Secondary, connected, UpToDate ($(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
