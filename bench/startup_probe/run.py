#!/usr/bin/env python3
"""Process start of the HTTP client probes (docs/adr/0008-aws-http-client.md).

    bench/startup_probe/run.py [BUILD_DIR] [RUNS]

Runs each probe RUNS times (default 300), interleaved so that the machine's load falls on all of
them alike, each a posix_spawn to exit timed with a monotonic clock, and prints the median and
the 90th percentile of the wall time, the median CPU time (user + system, less sensitive to
the load of a shared machine), with the number of shared libraries `ldd` lists for each probe."""
import os
import statistics
import subprocess
import sys
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build/release"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
probes = ["probe_none", "probe_beast", "probe_curl", "probe_trust"]
paths = {p: os.path.join(build, "bench", p) for p in probes}
times = {p: [] for p in probes}
cpu = {p: [] for p in probes}
devnull = os.open(os.devnull, os.O_WRONLY)

for p in probes:  # warm the page cache
    subprocess.run([paths[p]], stdout=devnull, check=True)
for _ in range(runs):
    for p in probes:
        start = time.perf_counter()
        pid = os.posix_spawn(paths[p], [paths[p]], os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status, usage = os.wait4(pid, 0)
        times[p].append((time.perf_counter() - start) * 1000)
        cpu[p].append((usage.ru_utime + usage.ru_stime) * 1000)
        if status != 0:
            sys.exit(f"{p} failed")

print(f"{'probe':<12} {'libs':>5} {'median ms':>10} {'p90 ms':>8} {'cpu median ms':>14}")
for p in probes:
    libs = len(subprocess.run(["ldd", paths[p]], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines())
    t = sorted(times[p])
    print(f"{p:<12} {libs:>5} {statistics.median(t):>10.2f} {t[int(len(t) * 0.9)]:>8.2f} "
          f"{statistics.median(cpu[p]):>14.2f}")
