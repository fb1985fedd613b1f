#!/usr/bin/env python3
"""Image bombs against `imgup serve`, and the cost of running pixel work in worker processes
(issue F; numbers in bench/README.md, "Image bombs").

    bench/bombs.py [--imgup build/release/imgup] [--process-bench build/release/imgup_process_bench]

1. One server (`--max-decode-ms 5000`, the review's setting; defaults otherwise, one worker) on a
   fresh data dir. Each full-size bomb of tests/bombs.py is uploaded in turn, and until its
   record leaves "processing" the script samples every 10 ms: the peak resident memory of the
   pixel workers (VmHWM) and of the server, and the disc space under DIR/tmp (the workers' temp
   files) and under $TMPDIR. Then an 8x8 PNG: the time until it is ready.
   The GIF and WebP bombs again on a server whose --max-pixels lets them through.
2. A stop with two bombs in flight (`--max-decode-ms 600000`): the time from SIGTERM to exit.
3. The cost of the isolation per normal job: imgup_process_bench on a 12 MP camera JPEG in
   process (at SCHED_IDLE, as `imgup serve` ran pixel work before) and with --sandbox,
   alternating, same run.

Prints a Markdown table; exits 0 whatever the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import bombs  # noqa: E402

LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")


def status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def disc_usage(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


class Server:
    def __init__(self, binary: Path, data: Path, *args: str):
        env = dict(os.environ, TMPDIR=str(data.parent / "tmpdir"))
        (data.parent / "tmpdir").mkdir(parents=True, exist_ok=True)
        self.tmpdir = data.parent / "tmpdir"
        self.data = data
        self.proc = subprocess.Popen([str(binary), "serve", "--port", "0", "--data", str(data), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        line = b""
        while not (m := LISTENING.search(line)):
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise SystemExit("imgup serve did not start")
        self.url = m.group(1).decode()

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str = "") -> tuple[int, dict]:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": ctype} if ctype else {})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def upload(self, data: bytes, name: str, ctype: str) -> tuple[int, dict]:
        return self.request("POST", f"/upload?filename={name}", data, ctype)


def measure_bomb(srv: Server, name: str, data: bytes, ctype: str) -> dict:
    start = time.monotonic()
    code, body = srv.upload(data, name, ctype)
    row = {"bomb": name, "bytes": len(data), "upload": code, "worker_mb": 0.0, "temp_mb": 0.0, "tmpdir_mb": 0.0}
    if code != 201:
        row.update(outcome=f"{code} {body.get('code')}", seconds=time.monotonic() - start)
        return row
    image_id = body["id"]
    worker_kb = 0
    while True:
        for pid in children(srv.proc.pid):
            worker_kb = max(worker_kb, status_kb(pid, "VmHWM"))
        row["temp_mb"] = max(row["temp_mb"], disc_usage(srv.data / "tmp") / 2**20)
        row["tmpdir_mb"] = max(row["tmpdir_mb"], disc_usage(srv.tmpdir) / 2**20)
        _, rec = srv.request("GET", f"/images/{image_id}")
        if rec.get("status") != "processing":
            break
        time.sleep(0.01)
    row.update(seconds=time.monotonic() - start, worker_mb=worker_kb / 1024,
               outcome=f"{rec['status']} {rec.get('failure_reason', '').split(':')[0]}".strip())
    return row


def process_bench(binary: Path, file: Path, sandbox: bool, iterations: int) -> float:
    # In process as `imgup serve` ran it before (the pixel work at SCHED_IDLE: chrt --idle), or
    # in a pixel worker (which puts itself at SCHED_IDLE).
    args = ([str(binary), "--sandbox"] if sandbox else ["chrt", "--idle", "0", str(binary)]) + [
        str(file), str(iterations)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"median ([0-9.]+) ms", out).group(1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--imgup", default=str(ROOT / "build" / "release" / "imgup"))
    parser.add_argument("--process-bench", default=str(ROOT / "build" / "release" / "imgup_process_bench"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="imgup-bombs-"))
    try:
        shapes = [
            ("gif-canvas-10000x10000x900.gif", bombs.gif_canvas_bomb(), "image/gif"),
            ("webp-canvas-10000x10000x900.webp", bombs.webp_canvas_bomb(), "image/webp"),
            ("jpeg-progressive-10000x10000-2647-scans.jpg", bombs.jpeg_progressive_bomb(), "image/jpeg"),
            ("jpeg-repeated-4096x4096-17641-scans.jpg", bombs.jpeg_repeated_scans_bomb(), "image/jpeg"),
            ("avif-ispe-1x1-over-12000x12000.avif", bombs.avif_ispe_bomb(work / "cache"), "image/avif"),
        ]
        srv = Server(Path(args.imgup), work / "a" / "data", "--max-decode-ms", "5000", "--workers", "1")
        rows = [measure_bomb(srv, name, data, ctype) for name, data, ctype in shapes]
        small = measure_bomb(srv, "8x8.png", bombs.flat_png(8, 8, 0x22), "image/png")
        server_mb = status_kb(srv.proc.pid, "VmHWM") / 1024
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(60)

        print("| bomb | bytes | upload | outcome | seconds | worker peak RSS MB | temp MB (DIR/tmp) | $TMPDIR MB |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows + [small]:
            print(f"| {r['bomb']} | {r['bytes']} | {r['upload']} | {r['outcome']} | {r['seconds']:.2f} | "
                  f"{r['worker_mb']:.0f} | {r['temp_mb']:.1f} | {r['tmpdir_mb']:.1f} |")
        print(f"\nserver peak RSS over all of the above: {server_mb:.0f} MB")

        # 1b. The animations again with the upload caps raised far enough to let them through, so
        # that the pixel worker meets them: only their first frame is decoded.
        srv = Server(Path(args.imgup), work / "c" / "data", "--max-decode-ms", "5000", "--workers", "1",
                     "--max-pixels", "100000000000")
        raised = [measure_bomb(srv, name, data, ctype) for name, data, ctype in shapes[:2]]
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(60)
        print("\nWith `--max-pixels 100000000000` (frames x canvas under the cap):\n")
        print("| bomb | outcome | seconds | worker peak RSS MB | temp MB (DIR/tmp) | $TMPDIR MB |")
        print("|---|---|---|---|---|---|")
        for r in raised:
            print(f"| {r['bomb']} | {r['outcome']} | {r['seconds']:.2f} | {r['worker_mb']:.0f} | "
                  f"{r['temp_mb']:.1f} | {r['tmpdir_mb']:.1f} |")

        # 2. A stop with two bombs in flight.
        srv = Server(Path(args.imgup), work / "b" / "data", "--max-decode-ms", "600000", "--workers", "2")
        for make in (bombs.jpeg_progressive_bomb, bombs.jpeg_repeated_scans_bomb):
            srv.upload(make(), "bomb.jpg", "image/jpeg")
        while len(children(srv.proc.pid)) < 2:
            time.sleep(0.01)
        time.sleep(1.0)
        start = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(300)
        print(f"\nSIGTERM with 2 bombs in flight: exit {code} after {time.monotonic() - start:.2f} s")

        # 3. The cost of the isolation per normal job.
        camera = work / "camera.jpg"
        subprocess.run([args.process_bench, "--make-camera",
                        str(ROOT.parent / "shared" / "corpora" / "exif-orientation" / "Landscape_1.jpg"),
                        str(camera)], check=True)
        inproc, sandboxed = [], []
        for _ in range(args.rounds):
            inproc.append(process_bench(Path(args.process_bench), camera, False, args.iterations))
            sandboxed.append(process_bench(Path(args.process_bench), camera, True, args.iterations))
        a, b = statistics.median(inproc), statistics.median(sandboxed)
        print(f"\n12 MP camera JPEG, median job ms per round ({args.iterations} jobs a round): in process "
              f"{' / '.join(f'{v:.1f}' for v in inproc)}; sandboxed {' / '.join(f'{v:.1f}' for v in sandboxed)}; "
              f"median of rounds {a:.1f} vs {b:.1f} ms: {100 * (b - a) / a:+.1f}%")
    finally:
        subprocess.run(["rm", "-rf", str(work)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
