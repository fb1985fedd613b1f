#!/usr/bin/env python3
"""Times a job made of whole commands run one after the other (bench/pipeline.sh, issue 3).

    time_cmds.py LABEL ITERATIONS WARMUP -- CMD1 ARGS... ::: CMD2 ARGS... [::: ...]

One job = every command once, in order; the job's wall time is the sum of the commands' wall
times, its CPU time the sum of their user + system time, and its peak RSS the largest maxrss of
any one of the commands (each is its own process). Every command is started by fork/exec, without
a shell, and reaped with os.wait4, which gives that child's own rusage. A command that exits
non-zero stops the script with its stderr. Prints one line:
    CMD_RESULT label=... median_ms=... min_ms=... mean_ms=... cpu_ms=... rss_mb=...
"""
import os
import statistics
import subprocess
import sys
import time


def run_once(argv):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1e3
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"time_cmds: {' '.join(argv)} exited {proc.returncode}: {err}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1e3, usage.ru_maxrss / 1024


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.exit(__doc__)
    label, iterations, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    commands, current = [], []
    for arg in sys.argv[5:]:
        if arg == ":::":
            commands.append(current)
            current = []
        else:
            current.append(arg)
    commands.append(current)

    walls, cpus, rss = [], [], 0.0
    for i in range(warmup + iterations):
        job_wall = job_cpu = 0.0
        for argv in commands:
            wall, cpu, maxrss = run_once(argv)
            job_wall += wall
            job_cpu += cpu
            rss = max(rss, maxrss)
        if i >= warmup:
            walls.append(job_wall)
            cpus.append(job_cpu)
    print(
        f"CMD_RESULT label={label} iterations={iterations} "
        f"median_ms={sorted(walls)[len(walls) // 2]:.1f} min_ms={min(walls):.1f} "
        f"mean_ms={statistics.fmean(walls):.1f} cpu_ms={statistics.fmean(cpus):.1f} "
        f"rss_mb={rss:.1f}"
    )


if __name__ == "__main__":
    main()
