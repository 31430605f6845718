#!/bin/bash
# fuzz.sh: run every cargo-fuzz target (fuzz/fuzz_targets) for a while each.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default 600 s each, every target
#
# Needs the nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz
# (`cargo install cargo-fuzz`). Each target's corpus is kept in
# fuzz/corpus/<target> (not committed) and seeded from fuzz/seeds/<target>
# when that exists. Prints one line per target: time, executions, crashes.
# A crash leaves its input in fuzz/artifacts/<target>/ and this script
# exits 1. CI runs the bounded property tests of the same parsers instead
# (cargo test), not this.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^ocf-rs-fuzz$')
fi
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "corpus/$t/" 2> /dev/null
    log=$(mktemp)
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=4096 \
        -print_final_stats=1 > "$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        echo "fuzz: $t: ${secs} s, ${execs:-?} executions, no crash"
    else
        failed=1
        echo "fuzz: $t: FAILED (exit $rc) after ${execs:-?} executions:"
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -5
    fi
    rm -f "$log"
done
exit $failed
