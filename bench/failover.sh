#!/bin/bash
# bench/failover.sh: failover times of the end-to-end scenarios, ours against
# the same scenario with the heartbeat agents (IPaddr2, Filesystem, pgsql,
# VirtualDomain), median of RUNS runs each, as a Markdown table.
#
#   bench/failover.sh [RUNS] [SCENARIO-FILTER...]     (default 5 runs; filters:
#        service_stack, vm_migrates, split_network, farm, migrating_vm1,
#        drbd_stack: ours only, on the DRBD simulator)
#
# Each run is a full test (tests/it/e2e_*.rs: a fresh cluster, the exact pcs
# commands of docs/cookbook.md, the kill or the move); the tests print
# `E2E-MEASURE scenario=.. agents=.. metric=.. seconds=..` lines, collected
# here. A set of agents this binary does not have yet is skipped by the test
# and shows as "-".
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(service_stack vm_migrates split_network)
rows=$(mktemp /var/tmp/e2e-failover.XXXXXX)
trap 'rm -f "$rows"' EXIT
cargo test --no-run --quiet --test it
for r in $(seq "$runs"); do
    for f in "${filters[@]}"; do
        echo "failover.sh: run $r/$runs: $f" >&2
        cargo test --quiet --test it -- \
            --include-ignored --test-threads=1 --nocapture "$f" 2>&1 |
            tee -a "$rows.log" | grep '^E2E-MEASURE' >> "$rows" || true
    done
done
rm -f "$rows.log"
python3 - "$rows" "$runs" <<'PY'
import collections, os, statistics, sys, time
rows, runs = sys.argv[1], sys.argv[2]
data = collections.defaultdict(list)
for line in open(rows):
    kv = dict(w.split("=", 1) for w in line.split()[1:])
    data[(kv["scenario"], kv["metric"], kv["agents"])].append(float(kv["seconds"]))
keys = sorted({(s, m) for s, m, _ in data}, key=lambda k: k[0])
def cell(v):
    if not v:
        return "-"
    return f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f}, n={len(v)})"
print(f"failover ({time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} CPUs, "
      f"load {open('/proc/loadavg').read().split()[0]}), seconds, median (min-max, runs):\n")
print("| scenario | measured from -> to | heartbeat agents | ours | ours / heartbeat |")
print("|---|---|---:|---:|---:|")
for s, m in keys:
    hb, ours = data.get((s, m, "heartbeat"), []), data.get((s, m, "rust"), [])
    # a ratio of near-zero overlaps means nothing
    ratio = (f"{statistics.median(ours) / statistics.median(hb):.2f}"
             if hb and ours and statistics.median(hb) >= 0.5 else "-")
    print(f"| {s} | {m} | {cell(hb)} | {cell(ours)} | {ratio} |")
PY
