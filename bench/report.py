#!/usr/bin/env python3
"""Print the rows bench/measure.py wrote as a Markdown table, with each
row's wall time as a ratio to --ours (how many times slower than our
agent) and to --floor (/bin/true).

  bench/report.py rows.jsonl --ours LABEL [--floor LABEL] [--title TEXT]
"""
import argparse, json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("rows")
    ap.add_argument("--ours", required=True)
    ap.add_argument("--floor")
    ap.add_argument("--title")
    a = ap.parse_args()
    rows = [json.loads(l) for l in open(a.rows) if l.strip()]
    by = {r["label"]: r for r in rows}
    ours = by[a.ours]["wall_ms"]
    floor = by[a.floor]["wall_ms"] if a.floor else None
    if a.title:
        print(f"#### {a.title}\n")
    head = "| case | rc | wall ms (median) | CPU ms (median) | execs | forks | x ours |"
    sep = "|---|---|---:|---:|---:|---:|---:|"
    if floor:
        head += " x /bin/true |"
        sep += "---:|"
    print(head); print(sep)
    for r in rows:
        line = (f"| {r['label']} | {','.join(map(str, r['rc']))} | {r['wall_ms']:.2f} | "
                f"{r['cpu_ms']:.2f} | {r['execs'] if r['execs'] is not None else '-'} | "
                f"{r['forks'] if r['forks'] is not None else '-'} | {r['wall_ms'] / ours:.1f} |")
        if floor:
            line += f" {r['wall_ms'] / floor:.2f} |"
        print(line)
    print(f"\n{rows[0]['runs']} runs per case after warm-up; CPU is user+system of the "
          "call and every process it waited for.")


if __name__ == "__main__":
    main()
