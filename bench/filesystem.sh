#!/bin/bash
# bench/filesystem.sh: ocf:rust:filesystem against ocf:heartbeat:Filesystem,
# same loop device, same mount point, same parameters, same run:
#   1. monitor at depth 0 and depth 10 of a mounted ext4 loop device;
#   2. stop of a busy mount (a process has its cwd inside);
#   3. monitor with 10,000 more mounts in the table, in a private mount
#      namespace (unshare -m) so the host's table is never flooded.
# Prints Markdown tables.
#
#   bench/filesystem.sh [RUNS] [STOP_RUNS]      (default 200, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
stop_runs=${2:-10}
cargo build --release --quiet
work=$(mktemp -d /var/tmp/fsa-bench.XXXXXX)
mnt=/mnt/fsa-bench-$$
loop=
cleanup() {
    umount -l "$mnt" 2>/dev/null || true
    [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
    rm -rf "$work"; rmdir "$mnt" /mnt/fsa-bench-many 2>/dev/null || true
}
trap cleanup EXIT
truncate -s 300M "$work/fs.img"
loop=$(losetup -f --show "$work/fs.img")
mkfs.ext4 -q -F "$loop"
ln -s "$PWD/target/release/ocf-rs" "$work/filesystem"
ours=$work/filesystem
hb=/usr/lib/ocf/resource.d/heartbeat/Filesystem
params=(--env OCF_RESKEY_device="$loop" --env OCF_RESKEY_directory="$mnt" --env OCF_RESKEY_fstype=ext4
        --env OCF_RESOURCE_INSTANCE=bench --env OCF_RESKEY_CRM_meta_timeout=20000)
rec=(--env OCF_RESKEY_CRM_meta_interval=20000)
rows=$work/monitor.jsonl stops=$work/stop.jsonl many=$work/many.jsonl
env OCF_ROOT=/usr/lib/ocf OCF_RESKEY_device="$loop" OCF_RESKEY_directory="$mnt" OCF_RESKEY_fstype=ext4 \
    OCF_RESOURCE_INSTANCE=bench "$ours" start >/dev/null 2>&1
m() { bench/measure.py --runs "$runs" "${params[@]}" "${rec[@]}" "$@"; }
m --out "$rows" --label "floor: /bin/true" -- /bin/true
m --out "$rows" --label "ocf:rust:filesystem monitor depth 0" -- "$ours" monitor
m --out "$rows" --label "ocf:heartbeat:Filesystem monitor depth 0" -- "$hb" monitor
m --out "$rows" --label "ocf:rust:filesystem monitor depth 10" --env OCF_CHECK_LEVEL=10 -- "$ours" monitor
m --out "$rows" --label "ocf:heartbeat:Filesystem monitor depth 10" --env OCF_CHECK_LEVEL=10 -- "$hb" monitor

# 10,000 extra mounts (tmpfs, mounted by one python process through mount(2))
# in a private namespace; the measurements run inside it.
unshare -m --propagation private /bin/bash -s -- "$work" "$runs" "$many" "$ours" "$hb" "${params[@]}" "${rec[@]}" <<'INNER'
set -euo pipefail
work=$1 runs=$2 many=$3 ours=$4 hb=$5; shift 5
mkdir -p /mnt/fsa-bench-many
mount -t tmpfs fsa-bench-many /mnt/fsa-bench-many
/usr/bin/python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for i in range(10000):
    d = f"/mnt/fsa-bench-many/{i}".encode()
    os.mkdir(d)
    if libc.mount(b"fsa-many", d, b"tmpfs", 0, b"size=64k") != 0:
        raise OSError(ctypes.get_errno(), "mount " + d.decode())
PY
echo "mounts in the table: $(wc -l < /proc/self/mountinfo)" >&2
bench/measure.py --out "$many" --runs "$runs" "$@" --label "ocf:rust:filesystem monitor, 10k mounts" -- "$ours" monitor
bench/measure.py --out "$many" --runs "$runs" "$@" --label "ocf:heartbeat:Filesystem monitor, 10k mounts" -- "$hb" monitor
INNER

env OCF_ROOT=/usr/lib/ocf OCF_RESKEY_device="$loop" OCF_RESKEY_directory="$mnt" OCF_RESKEY_fstype=ext4 \
    OCF_RESOURCE_INSTANCE=bench "$ours" stop >/dev/null 2>&1
s() { bench/filesystem_stop.py --out "$stops" --runs "$stop_runs" "${params[@]}" "$@"; }
s --label "ocf:rust:filesystem stop, busy mount" "$ours"
s --label "ocf:heartbeat:Filesystem stop, busy mount" "$hb"

info="$(date -u +%F), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
bench/report.py "$rows" --ours "ocf:rust:filesystem monitor depth 0" --floor "floor: /bin/true" \
  --title "filesystem monitor, ext4 on a loop device ($info)"
echo
bench/report.py "$many" --ours "ocf:rust:filesystem monitor, 10k mounts" \
  --title "filesystem monitor with 10,000 more mounts in the table (private mount namespace)"
echo
bench/report.py "$stops" --ours "ocf:rust:filesystem stop, busy mount" \
  --title "filesystem stop of a busy mount (one process with its cwd inside; start and holder set up before each timed stop)"
