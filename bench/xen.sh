#!/bin/bash
# bench/xen.sh: one `monitor` of ocf:rust:xen against ocf:heartbeat:Xen on
# the same running domain of the xl SIMULATOR (tests/sim/xl; there is no
# Xen hypervisor here), same run. The simulator is a Python program, so each
# xl call costs a Python start-up: the xl calls per monitor are the figure
# to read, and the wall time shows what they cost.
#
#   bench/xen.sh [RUNS]          (default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}
cargo build --release --quiet
work=$(mktemp -d /var/tmp/ocf-rs-bench-xen.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/sim"
cat > "$work/bin/xl" <<WRAP
#!/bin/sh
XL_SIM_DIR=$work/sim exec $PWD/tests/sim/xl "\$@"
WRAP
chmod 755 "$work/bin/xl"
ln -s "$PWD/target/release/ocf-rs" "$work/xen"
printf 'name = "bench"\nmemory = 256\nvcpus = 2\n' > "$work/bench.cfg"
export PATH="$work/bin:$PATH"
xl create "$work/bench.cfg" >/dev/null
rows=$work/rows.jsonl
common=(--env "PATH=$PATH" --env OCF_RESKEY_CRM_meta_interval=10000 --env OCF_RESKEY_CRM_meta_timeout=30000
        --env OCF_RESOURCE_INSTANCE=bench --env "OCF_RESKEY_xmfile=$work/bench.cfg")
m() { bench/measure.py --out "$rows" --runs "$runs" "${common[@]}" "$@"; }
m --label "floor: /bin/true" -- /bin/true
m --label "one simulated 'xl list' call" -- xl list bench
m --label "ocf:rust:xen monitor" -- "$work/xen" monitor
m --label "ocf:heartbeat:Xen monitor" -- /usr/lib/ocf/resource.d/heartbeat/Xen monitor
before=$(wc -l < "$work/sim/calls.log")
env OCF_RESKEY_CRM_meta_interval=10000 OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_xmfile="$work/bench.cfg" \
    "$work/xen" monitor >/dev/null 2>&1 </dev/null || true
mid=$(wc -l < "$work/sim/calls.log")
env OCF_ROOT=/usr/lib/ocf OCF_RESKEY_CRM_meta_interval=10000 OCF_RESOURCE_INSTANCE=bench \
    OCF_RESKEY_xmfile="$work/bench.cfg" /usr/lib/ocf/resource.d/heartbeat/Xen monitor >/dev/null 2>&1 || true
after=$(wc -l < "$work/sim/calls.log")
bench/report.py "$rows" --ours "ocf:rust:xen monitor" --floor "floor: /bin/true" \
  --title "xen monitor on the xl simulator ($(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "xl calls per monitor: ocf:rust:xen $((mid - before)), ocf:heartbeat:Xen $((after - mid))"
