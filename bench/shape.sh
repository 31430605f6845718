#!/bin/bash
# bench/shape.sh: the code's shape, for before/after comparisons of a
# restructuring: product lines, unsafe blocks, the largest source files,
# release binary size, the time to build every test from a clean target
# directory, and the dummy monitor against /bin/true (with its fork count).
#
#   bench/shape.sh [--no-build-time]      run from any checkout
#
# "Product code" is src/ and agents/*/src without test modules (a
# `#[cfg(test)]` item and everything after it, and files only tests use).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'EOF'
import glob, re, os
files = sorted(glob.glob('src/**/*.rs', recursive=True) + glob.glob('agents/*/src/**/*.rs', recursive=True))
test_only = re.compile(r'(^|/)(tests|props|proptests|invariants)\.rs$')
total = code = unsafe = 0
sizes = []
per_file_unsafe = {}
for f in files:
    if test_only.search(f):
        continue
    lines = open(f, encoding='utf-8', errors='replace').read().split('\n')
    cut = len(lines)
    for i, l in enumerate(lines):
        # an inline test module (`mod tests {`), not a `mod x;` declaration
        if l.strip() == '#[cfg(test)]' and any(x.lstrip().startswith(('mod ', 'pub mod ')) and x.rstrip().endswith('{') for x in lines[i+1:i+3]):
            cut = i
            break
    body = lines[:cut]
    total += len(body)
    code += sum(1 for l in body if l.strip() and not l.strip().startswith('//'))
    n = sum(len(re.findall(r'\bunsafe\s*(\{|fn\b|impl\b|extern\b)', l)) for l in body if not l.strip().startswith('//'))
    unsafe += n
    if n:
        per_file_unsafe[f] = n
    sizes.append((len(lines), f))
print(f"product code: {total} lines ({code} non-blank, non-comment) in {len(files)} files")
print(f"unsafe (blocks, fns, impls) outside tests: {unsafe}")
for f, n in sorted(per_file_unsafe.items(), key=lambda x: -x[1]):
    print(f"    {n:3d} {f}")
sizes.sort(reverse=True)
print("largest source files: " + ", ".join(f"{f} ({n})" for n, f in sizes[:5]))
print(f"files over 800 lines: {sum(1 for n, _ in sizes if n > 800)}")
EOF
cargo build --release --quiet
echo "release binary: $(stat -c %s target/release/ocf-rs) bytes"
if [ "${1:-}" != --no-build-time ]; then
    t=$(mktemp -d /var/tmp/ocf-rs-shape.XXXXXX)
    s=$SECONDS
    CARGO_TARGET_DIR=$t cargo build --workspace --tests --quiet
    echo "test build from a clean target directory: $((SECONDS - s)) s ($(nproc) CPUs)"
    rm -rf "$t"
fi
work=$(mktemp -d /var/tmp/ocf-rs-shape.XXXXXX)
trap 'rm -rf "$work"' EXIT
ln -s "$PWD/target/release/ocf-rs" "$work/dummy"
env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=b OCF_RESKEY_state="$work/s" "$work/dummy" start > /dev/null
forks=$(env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=b OCF_RESKEY_state="$work/s" \
    strace -f -qq -e trace=clone,clone3,fork,vfork -o "$work/st" "$work/dummy" monitor > /dev/null; grep -c . "$work/st" || true)
echo "dummy monitor forks and threads (clone/fork calls): $forks"
e="env OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=b OCF_RESKEY_state=$work/s"
hyperfine -N -w 20 -r 500 --export-json "$work/h.json" "$e /bin/true" "$e $work/dummy monitor" > /dev/null
python3 - "$work/h.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))['results']
t, d = r[0]['median'] * 1000, r[1]['median'] * 1000
print(f"dummy monitor: {d:.2f} ms median against /bin/true {t:.2f} ms (both through env): {d / t:.2f}x")
EOF
