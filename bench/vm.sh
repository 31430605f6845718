#!/bin/bash
# bench/vm.sh: the cost of one `monitor` of ocf:rust:vm against
# ocf:heartbeat:VirtualDomain on the same running libvirt domain (QEMU TCG,
# qemu:///system), with /bin/true as the floor; then again with 50 more
# (inactive) domains defined. Same machine, same run, same parameters
# (utilization updates off for both: outside a cluster they only fail).
# Prints Markdown tables.
#
#   bench/vm.sh [RUNS]        (default 100; VirtualDomain takes ~0.1 s a call)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
cargo build --release --quiet
tests/harness/vm-libvirtd.sh system
work=$(mktemp -d /var/tmp/vma-bench.XXXXXX)
uri=qemu:///system
dom=vma-bench-$$
extra=()
cleanup() {
    virsh -c "$uri" destroy "$dom" >/dev/null 2>&1 || true
    virsh -c "$uri" undefine "$dom" >/dev/null 2>&1 || true
    for d in "${extra[@]}"; do virsh -c "$uri" undefine "$d" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
ln -s "$PWD/target/release/ocf-rs" "$work/vm"
xml() {  # NAME -> a disk-less, OS-less 64 MiB domain
    # One element per line: VirtualDomain finds the name with sed.
    cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}
xml "$dom" > "$work/dom.xml"
rows=$work/rows.jsonl
env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=bench OCF_RESKEY_config="$work/dom.xml" \
    OCF_RESKEY_CRM_meta_timeout=60000 "$work/vm" start >/dev/null 2>&1
[ "$(virsh -c "$uri" domstate "$dom")" = running ]
common=(--env OCF_RESKEY_CRM_meta_interval=10000 --env OCF_RESKEY_CRM_meta_timeout=30000
        --env OCF_RESOURCE_INSTANCE=bench --env HA_RSCTMP="$work"
        --env OCF_RESKEY_config="$work/dom.xml" --env OCF_RESKEY_hypervisor="$uri"
        --env OCF_RESKEY_autoset_utilization_cpu=false
        --env OCF_RESKEY_autoset_utilization_hv_memory=false
        --env OCF_RESKEY_autoset_utilization_host_memory=false)
m() { bench/measure.py --out "$rows" --runs "$runs" "${common[@]}" "$@"; }
round() {  # LABEL-SUFFIX
    m --label "floor: /bin/true$1" -- /bin/true
    m --label "ocf:rust:vm monitor$1" -- "$work/vm" monitor
    m --label "ocf:heartbeat:VirtualDomain monitor$1" -- \
        /usr/lib/ocf/resource.d/heartbeat/VirtualDomain monitor
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
round ""
bench/report.py "$rows" --ours "ocf:rust:vm monitor" --floor "floor: /bin/true" \
  --title "vm monitor, 1 running domain ($(date -u +%F), $(nproc) CPUs, load $(load))"
for i in $(seq 1 50); do
    d=vma-bench-$$-x$i; extra+=("$d")
    xml "$d" > "$work/x.xml"; virsh -c "$uri" define "$work/x.xml" >/dev/null
done
: > "$rows"
round " (+50 defined)"
echo
bench/report.py "$rows" --ours "ocf:rust:vm monitor (+50 defined)" \
  --floor "floor: /bin/true (+50 defined)" \
  --title "vm monitor, 1 running + 50 defined domains (load $(load))"
