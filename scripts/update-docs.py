#!/usr/bin/env python3
"""Refresh the generated parameter/action tables in docs/agents/<agent>.md
from `ocf-rs doc <agent>` (tests/it/docs.rs fails when a page drifts), and the
manual pages man/ocf_rust_<agent>.7 and man/ocf-rs.8 from `ocf-rs man`
(tests/it/man.rs fails when one drifts).

  scripts/update-docs.py [path/to/ocf-rs]     (default target/debug/ocf-rs)
"""
import os, re, subprocess, sys
binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/ocf-rs"
agents = [l.split("\t")[0] for l in subprocess.run([binary, "list"], capture_output=True,
                                                     text=True, check=True).stdout.splitlines()]
for name in agents:
    path = f"docs/agents/{name}.md"
    doc = subprocess.run([binary, "doc", name], capture_output=True, text=True, check=True).stdout
    text = open(path).read()
    # The generated block: the parameter table's header through the end of the action table.
    pat = re.compile(r"\| parameter \| type \|.*?\n\| action \| timeout \|[^\n]*\n(?:\|[^\n]*\n)*", re.S)
    new, n = pat.subn(lambda m: doc, text, count=1)
    if n == 0:
        print(f"{path}: no generated table found; paste `ocf-rs doc {name}` into it", file=sys.stderr)
        continue
    if new != text:
        open(path, "w").write(new)
        print(f"updated {path}")

os.makedirs("man", exist_ok=True)
pages = {f"man/ocf_rust_{name}.7": name for name in agents}
pages["man/ocf-rs.8"] = "ocf-rs"
for path, name in pages.items():
    page = subprocess.run([binary, "man", name], capture_output=True, text=True, check=True).stdout
    old = open(path).read() if os.path.exists(path) else None
    if page != old:
        open(path, "w").write(page)
        print(f"updated {path}")
for f in sorted(os.listdir("man")):
    if f"man/{f}" not in pages:
        os.remove(f"man/{f}")
        print(f"removed man/{f} (no such agent any more)")
