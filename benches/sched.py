"""Who held the benchmark's cores while it waited (`SCHED=1 bash benches/run.sh`).

    python3 benches/sched.py PERF_DATA SERVER_PID [THRESHOLD_MS]

Reads a `perf sched record -a` trace of one wrk run and prints one line: how
many times the server's busiest thread or wrk was ready to run but waited at
least THRESHOLD_MS (1 by default) for its core, and which other tasks ran on
that core meanwhile, with how long they held it in all. Every request in
flight waits as long as that, so these waits are what a row's p99.9 is made
of when it sits at a few milliseconds whatever its p50. The server's own
threads are named `server:<thread>`; everything else is the host's
(neighbours' processes, kernel threads).
"""
import collections
import re
import subprocess
import sys


def main():
    data, server_pid = sys.argv[1], sys.argv[2]
    threshold_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    text = subprocess.run(["perf", "sched", "timehist", "-i", data],
                          capture_output=True, text=True).stdout
    # time [cpu] task[tid/pid] wait delay run (times in ms, the stamp in s).
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$", line)
        if not m:
            continue
        stamp, cpu, task, _wait, delay, run = m.groups()
        ids = re.search(r"\[(\d+)(?:/(\d+))?\]$", task)
        name = re.sub(r"\[[^\]]*\]$", "", task)
        pid = ids.group(2) or ids.group(1) if ids else ""
        if name.startswith("<idle>"):
            continue
        rows.append((float(stamp), int(cpu), name, pid, float(delay), float(run), task))
    if not rows:
        print("sched: no trace")
        return
    # The server's busiest thread and wrk are the benchmark; every other task is a holder.
    runtime = collections.Counter()
    for r in rows:
        if r[3] == server_pid:
            runtime[r[6]] += r[5]
    worker = runtime.most_common(1)[0][0] if runtime else None
    def label(r):
        return f"server:{r[2]}" if r[3] == server_pid else r[2]
    by_cpu = collections.defaultdict(list)
    for r in rows:
        by_cpu[r[1]].append(r)
    waits = {"server": 0, "wrk": 0}
    held = collections.Counter()
    held_ms = collections.Counter()
    for r in rows:
        stamp, cpu, name, pid, delay, run, task = r
        who = "server" if task == worker else "wrk" if name == "wrk" else None
        if who is None or delay < threshold_ms or delay > 1000:
            continue
        waits[who] += 1
        start, end = stamp - (run + delay) / 1000, stamp - run / 1000
        for o in by_cpu[cpu]:
            o_start, o_end = o[0] - o[5] / 1000, o[0]
            if o_end > start and o_start < end and o[6] != task:
                held[label(o)] += 1
                held_ms[label(o)] += (min(o_end, end) - max(o_start, start)) * 1000
    top = ", ".join(f"{k} {held[k]}x {held_ms[k]:.1f} ms" for k, _ in held_ms.most_common(6))
    print(f"waits >= {threshold_ms:g} ms: server {waits['server']}, wrk {waits['wrk']}; held by: {top or 'nothing'}")


if __name__ == "__main__":
    main()
