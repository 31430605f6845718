#!/usr/bin/env python3
"""Measure one command's cost per call: median wall time, median CPU time
(user+system of the command and every descendant it waited for, from
wait4's rusage), and programs exec'd and processes forked per call (one
extra run under strace -f). Appends one JSON line per case to --out.

  bench/measure.py --out rows.jsonl --label NAME [--runs N] [--netns NS]
                   [--env K=V ...] -- COMMAND ARGS...

The command runs with exactly the given environment plus PATH and
OCF_ROOT, stdin from /dev/null, output discarded.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time


def run_once(argv, env):
    t0 = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - t0) / 1e6
    cpu = (ru.ru_utime + ru.ru_stime) * 1e3
    return os.waitstatus_to_exitcode(status), wall, cpu


def count_forks(argv, env):
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as f:
        subprocess.run(["strace", "-f", "-qq", "-o", f.name, "-e",
                        "trace=execve,clone,clone3,fork,vfork"] + argv,
                       env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        text = f.read()
    execs = sum(1 for l in text.splitlines() if "execve(" in l and "= 0" in l)
    forks = sum(1 for l in text.splitlines()
                if any(c + "(" in l for c in ("clone", "clone3", "fork", "vfork"))
                and "CLONE_THREAD" not in l and "resumed" not in l)
    return execs, forks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--netns")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("cmd", nargs="+")
    a = ap.parse_args()
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "OCF_ROOT": "/usr/lib/ocf"}
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    if a.netns:
        # Enter the namespace once, in this process: every run then pays
        # nothing for it (not an `ip netns exec` fork per call).
        # (os.setns needs Python 3.12; Debian 12 has 3.11: call libc directly.)
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{a.netns}", os.O_RDONLY)
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns {a.netns}")
        os.close(fd)
    for _ in range(a.warmup):
        run_once(a.cmd, env)
    rcs, walls, cpus = set(), [], []
    for _ in range(a.runs):
        rc, wall, cpu = run_once(a.cmd, env)
        rcs.add(rc); walls.append(wall); cpus.append(cpu)
    execs, forks = (None, None) if a.no_strace else count_forks(a.cmd, env)
    row = {"label": a.label, "rc": sorted(rcs), "runs": a.runs,
           "wall_ms": round(statistics.median(walls), 3),
           "cpu_ms": round(statistics.median(cpus), 3),
           "execs": execs, "forks": forks}
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{a.label:40s} rc={row['rc']} wall={row['wall_ms']:.2f}ms "
          f"cpu={row['cpu_ms']:.2f}ms execs={execs} forks={forks}", file=sys.stderr)


if __name__ == "__main__":
    main()
