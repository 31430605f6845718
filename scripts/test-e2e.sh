#!/bin/bash
# test-e2e.sh: every end-to-end scenario of docs/cookbook.md on a real 2- and
# 3-node Corosync + Pacemaker cluster on this machine (one network, mount, UTS
# and PID namespace per node: tests/harness/ns-cluster.sh), as root.
#
#   scripts/test-e2e.sh [FILTER]     e.g. scripts/test-e2e.sh farm
#
# scripts/test.sh (CI) runs scenarios 1, 2 and 7 (tests/it/e2e_service.rs,
# tests/it/e2e_vm.rs, tests/it/e2e_drbd.rs) and the truthful-state scenario
# (tests/it/e2e_truth.rs: refused parameters and a vanished device link never run
# anything twice); this also runs the slower 3 to 6 (tests/it/e2e_more.rs,
# #[ignore]d in CI). Every scenario but 4 and 7 runs with
# the heartbeat agents and with ours. Each test prints its measured times as `E2E-MEASURE ...` lines
# (bench/failover.sh turns them into the table in docs/benchmarks.md).
# About 7 minutes (both sets of agents, 2 CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
command -v cargo > /dev/null || { echo "test-e2e.sh: install a Rust toolchain >= 1.88 first" >&2; exit 1; }
[ "${E2E_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh
# one multi-node cluster at a time (they also take /run/ocf-rs-e2e.lock)
cargo test --test it -- cookbook:: e2e_ \
    --include-ignored --test-threads=1 --nocapture "$@"
echo "test-e2e.sh: all green in $((SECONDS - t0)) s"
