#!/usr/bin/env python3
"""Time `stop` of a busy mount: per run, start the resource with the same
agent, put a `sleep` in the mount as its working directory, then measure
only the stop (wall, and CPU of the agent and every process it waited for,
from wait4). Appends one row in bench/measure.py's JSON format.

  bench/filesystem_stop.py --out rows.jsonl --label NAME --runs N
                           --env K=V ... -- AGENT
The environment must name OCF_RESKEY_directory.
"""
import argparse, json, os, statistics, subprocess, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("agent")
    a = ap.parse_args()
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "OCF_ROOT": "/usr/lib/ocf"}
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    mnt = env["OCF_RESKEY_directory"]
    quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rcs, walls, cpus = set(), [], []
    for _ in range(a.runs):
        subprocess.run([a.agent, "start"], env=env, check=True, **quiet)
        holder = subprocess.Popen(["sleep", "600"], cwd=mnt, **quiet)
        time.sleep(0.05)
        t0 = time.perf_counter_ns()
        pid = os.fork()
        if pid == 0:
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.execve(a.agent, [a.agent, "stop"], env)
            finally:
                os._exit(127)
        _, status, ru = os.wait4(pid, 0)
        walls.append((time.perf_counter_ns() - t0) / 1e6)
        cpus.append((ru.ru_utime + ru.ru_stime) * 1e3)
        rcs.add(os.waitstatus_to_exitcode(status))
        holder.kill()
        holder.wait()
        with open("/proc/self/mountinfo") as f:
            if any(l.split(" ")[4] == mnt for l in f):
                sys.exit(f"{a.label}: {mnt} still mounted after stop")
    row = {"label": a.label, "rc": sorted(rcs), "runs": a.runs,
           "wall_ms": round(statistics.median(walls), 3),
           "cpu_ms": round(statistics.median(cpus), 3), "execs": None, "forks": None}
    with open(a.out, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"{a.label:40s} rc={row['rc']} wall={row['wall_ms']:.2f}ms cpu={row['cpu_ms']:.2f}ms",
          file=sys.stderr)


if __name__ == "__main__":
    main()
