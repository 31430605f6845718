#!/bin/bash
# bench/dummy.sh: the cost of one `monitor` of ocf:rust:dummy against
# ocf:heartbeat:Dummy and ocf:pacemaker:Dummy on a running resource, with
# /bin/true as the floor. Same machine, same run. Prints a Markdown table.
#
#   bench/dummy.sh [RUNS]        (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
cargo build --release --quiet
work=$(mktemp -d /var/tmp/ocf-rs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$PWD/target/release/ocf-rs" "$work/dummy"
rows=$work/rows.jsonl
common=(--env OCF_RESKEY_CRM_meta_interval=10000 --env OCF_RESKEY_CRM_meta_timeout=20000)
start() {  # start AGENT STATE
    env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_state="$2" "$1" start >/dev/null
}
start "$work/dummy" "$work/rust.state"
start /usr/lib/ocf/resource.d/heartbeat/Dummy "$work/hb.state"
start /usr/lib/ocf/resource.d/pacemaker/Dummy "$work/pm.state"
m() { bench/measure.py --out "$rows" --runs "$runs" "${common[@]}" "$@"; }
m --label "floor: /bin/true" -- /bin/true
m --label "ocf:rust:dummy monitor" --env OCF_RESKEY_state="$work/rust.state" \
  --env OCF_RESOURCE_INSTANCE=bench -- "$work/dummy" monitor
m --label "ocf:heartbeat:Dummy monitor" --env OCF_RESKEY_state="$work/hb.state" \
  --env OCF_RESOURCE_INSTANCE=bench -- /usr/lib/ocf/resource.d/heartbeat/Dummy monitor
m --label "ocf:pacemaker:Dummy monitor" --env OCF_RESKEY_state="$work/pm.state" \
  --env OCF_RESOURCE_INSTANCE=bench -- /usr/lib/ocf/resource.d/pacemaker/Dummy monitor
bench/report.py "$rows" --ours "ocf:rust:dummy monitor" --floor "floor: /bin/true" \
  --title "dummy monitor ($(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
