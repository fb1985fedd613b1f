#!/usr/bin/env python3
"""Process start to exit of a few programs, side by side (docs/adr/0012-packaging.md): each run
a posix_spawn to exit (any exit status), interleaved so that the machine's load falls on all of
them alike; prints the median and p90 wall time and the median CPU time (user + system of the
child and what it waited for, from wait4: steadier than wall time on a shared machine).

  bench/spawn_times.py RUNS NAME=PROGRAM ...
  bench/spawn_times.py 200 plain=build/release/imgup-lambda-api zip=/tmp/api/bootstrap

The API function exits at once without AWS_LAMBDA_RUNTIME_API (removed here), so its time is
its loading: the dynamic loader, relocations, static constructors."""
import os
import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
programs = dict(arg.split("=", 1) for arg in sys.argv[2:])
env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
devnull = os.open(os.devnull, os.O_WRONLY)
wall = {name: [] for name in programs}
cpu = {name: [] for name in programs}
for name, path in programs.items():  # warm the page cache
    subprocess.run([path], stdout=devnull, stderr=devnull, env=env)
for _ in range(runs):
    for name, path in programs.items():
        start = time.perf_counter()
        pid = os.posix_spawn(path, [path], env, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1),
                                                               (os.POSIX_SPAWN_DUP2, devnull, 2)])
        _, _, usage = os.wait4(pid, 0)
        wall[name].append((time.perf_counter() - start) * 1000)
        cpu[name].append((usage.ru_utime + usage.ru_stime) * 1000)
print(f"{runs} runs each, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
print(f"{'program':<14} {'wall median':>12} {'wall p90':>9} {'cpu median':>11}  (ms)")
for name in programs:
    w = sorted(wall[name])
    print(f"{name:<14} {statistics.median(w):12.2f} {w[int(len(w) * 0.9)]:9.2f} "
          f"{statistics.median(cpu[name]):11.2f}")
