#!/usr/bin/env python3
"""imgup's two Lambda functions beside the seed's Python peer (bench/seed_python/: awslambdaric,
boto3, Pillow), in the same run, under the same AWS Lambda Runtime Interface Emulator, against
the same S3 (versitygw) and DynamoDB (moto). Run it inside scripts/with-aws-peers.sh (which
starts the peers and says where they are); `make bench-lambda` does:

  ./scripts/with-aws-peers.sh .venv/bin/python bench/lambda_seed_peer.py [--init 20] [--warm 50]
      [--process 5] [--only init,warm,rss,process]

What it measures (issue 11, Performance), each side alternating with the other:
- init: the emulator's `INIT REPORT (durationMs: ...)` of one fresh emulator per sample, for the
  API functions (imgup: GET /health; Python: a small upload) and the processors (imgup: AWS's S3
  put sample, a key that is no original; Python: an event with no record);
- warm: the `REPORT ... Duration` of the seed's upload of a 200 KB JPEG (different bytes every
  time) on one warm instance each, after 3 warm-up invocations;
- rss: the peak resident memory (VmHWM in /proc of the function's process) of a fresh instance
  after one upload whose event is 6 MB (a 4.4 MB JPEG; imgup's body limit raised to take it),
  beside the emulator's `Max Memory Used` (which is a constant under the emulator);
- process: a 12 MP JPEG uploaded through each side's API function, then its S3 put event to
  each side's processor (a warm instance: the first record, which starts imgup's pixel worker,
  is reported apart): the processor's `REPORT ... Duration`, event to completed record.

Binaries: IMGUP_LAMBDA_API_BIN (default: build/lambda/api.zip's bootstrap when the zip exists,
else build/release, else build/dev imgup-lambda-api), IMGUP_LAMBDA_PROCESSOR_BIN (the same for
processor.zip / imgup-lambda-processor; its pixel worker is the imgup-pixel-worker beside it, or
IMGUP_PIXEL_WORKER), IMGUP_BIN (imgup, for init-aws). Prints every sample, the medians, the
ratios and the load average.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/lambda"))
sys.path.insert(0, str(ROOT / "bench"))
from rie import Emulator, rie_bin  # noqa: E402
from make_upload_body import build_jpeg  # noqa: E402

FIXTURES = ROOT / "tests/lambda/fixtures/aws"
_REPORT = re.compile(r"^REPORT RequestId: (\S+).*?\tDuration: ([0-9.]+) ms.*?Max Memory Used: (\d+) MB",
                     re.M)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def binary(variable: str, zip_name: str, program: str) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable])
    archive = ROOT / "build/lambda" / zip_name
    if archive.exists():
        unpacked = ROOT / "build/lambda" / archive.stem
        stamp = unpacked / ".from-zip"
        if not stamp.exists() or stamp.stat().st_mtime < archive.stat().st_mtime:
            with zipfile.ZipFile(archive) as z:
                z.extractall(unpacked)
            for member in unpacked.rglob("*"):  # zipfile drops the modes
                if member.is_file():
                    member.chmod(0o755)
            stamp.touch()
        return unpacked / "bootstrap"
    for preset in ("release", "dev"):
        if (ROOT / "build" / preset / program).exists():
            return ROOT / "build" / preset / program
    raise SystemExit(f"no {program}: make package, or cmake --build --preset dev --target {program}")


def http_event(method: str, path: str, body: str | None = None) -> dict:
    """AWS's HTTP API sample at stage prod with a JWT authorizer naming the owner 'bench'."""
    event = fixture("http-api-proxy.json")
    event.update(rawPath=f"/prod{path}", rawQueryString="", body=body, isBase64Encoded=False)
    event.pop("queryStringParameters", None)
    event.pop("cookies", None)
    event["requestContext"]["stage"] = "prod"
    event["requestContext"]["http"].update(method=method, path=f"/prod{path}")
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "bench"}, "scopes": None}}
    event["headers"]["content-type"] = "application/json"
    return event


def upload_event(jpeg: bytes) -> dict:
    return http_event("POST", "/upload", json.dumps(
        {"filename": "photo.jpg", "content_type": "image/jpeg",
         "image_base64": base64.b64encode(jpeg).decode()}))


def s3_put(bucket: str, key: str) -> dict:
    event = fixture("s3-put.json")
    event["Records"][0]["s3"]["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    event["Records"][0]["s3"]["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    return event


def with_comment(jpeg: bytes, text: bytes) -> bytes:
    """`jpeg` with a COM segment carrying `text` right after SOI: other bytes, same image."""
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def padded(jpeg: bytes, size: int) -> bytes:
    """`jpeg` grown to `size` bytes with COM segments (each at most 65,535 bytes)."""
    out = jpeg
    while len(out) < size:
        n = min(65533, size - len(out) - 4)
        out = with_comment(out, b"." * max(n, 0))
    return out


def median(values):
    return statistics.median(values) if values else float("nan")


class Side:
    """One function under its emulator settings: a name, its command and its environment."""

    def __init__(self, name: str, command: Path, env: dict[str, str]):
        self.name, self.command, self.env = name, command, env

    def start(self, work: Path) -> Emulator:
        folder = work / f"{self.name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        return Emulator(self.command, folder, self.env)


def reports(emulator) -> list[tuple[str, float, int]]:
    return [(rid, float(d), int(mb)) for rid, d, mb in _REPORT.findall(emulator.log())]


def wait_reports(emulator, count: int) -> list[tuple[str, float, int]]:
    """The REPORT lines once there are `count` of them (the emulator writes the line as the
    answer leaves, so it may trail the answer by a moment)."""
    for _ in range(200):
        found = reports(emulator)
        if len(found) >= count:
            return found
        time.sleep(0.01)
    raise AssertionError(f"expected {count} REPORT lines:\n{emulator.log()[-3000:]}")


def function_pid(emulator) -> int:
    """The function's process: the emulator's child."""
    children = []
    for task in Path(f"/proc/{emulator.proc.pid}/task").iterdir():
        children += (task / "children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def vm_hwm_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def tree_cpu_ms(emulator) -> float:
    """User + system CPU time of every process under the emulator (the function and, for imgup's
    processor, its pixel worker), the emulator itself left out: load-independent, unlike a
    duration on this shared machine (and imgup's pixel worker runs at SCHED_IDLE, which a loaded
    machine starves)."""
    parents, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) * _TICK_MS
    total, root = 0.0, emulator.proc.pid
    for pid in cpu:
        ancestor = parents.get(pid)
        while ancestor and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root:
            total += cpu[pid]
    return total


def answer_of(emulator, event) -> dict:
    r = emulator.invoke(event)
    assert r.status_code == 200, r.text[:500]
    return r.json()


def created(answer: dict) -> dict:
    assert answer.get("statusCode") == 201, str(answer)[:500]
    return json.loads(answer["body"])


def bench_init(imgup_api, py_api, imgup_proc, py_proc, n, work, small_jpeg, out):
    health = http_event("GET", "/health")
    cases = [("api", imgup_api, health, 200), ("api", py_api, upload_event(small_jpeg), 201),
             ("processor", imgup_proc, fixture("s3-put.json"), None),
             ("processor", py_proc, {"Records": []}, None)]
    samples = {side.name: [] for _, side, _, _ in cases}
    for i in range(n):
        for _, side, event, status in cases:
            emulator = side.start(work)
            try:
                answer = answer_of(emulator, event)
                if status is not None:
                    assert answer.get("statusCode") == status, answer
                found = emulator.init_reports()
                assert len(found) == 1, emulator.log()[-2000:]
                samples[side.name].append(found[0])
            finally:
                emulator.stop()
    out["init"] = samples
    for name, values in samples.items():
        print(f"init {name}: median {median(values):.1f} ms  min {min(values):.1f}  max "
              f"{max(values):.1f}  [{' '.join(f'{v:.1f}' for v in values)}]", flush=True)


def bench_warm(imgup_api, py_api, n, work, jpeg, out):
    sides = [imgup_api, py_api]
    emulators = [side.start(work) for side in sides]
    try:
        count = 0
        cpu = [[], []]
        for round_ in range(n + 3):
            for k, emulator in enumerate(emulators):
                count += 1
                body = bytearray(jpeg)
                body[6:12] = count.to_bytes(6, "big")  # COM payload: other bytes, same image
                before = tree_cpu_ms(emulator)
                created(answer_of(emulator, upload_event(bytes(body))))
                if round_ >= 3:
                    cpu[k].append(tree_cpu_ms(emulator) - before)
        out["warm"], out["warm_cpu"] = {}, {}
        for side, emulator, spent in zip(sides, emulators, cpu):
            durations = [d for _, d, _ in wait_reports(emulator, n + 3)[3:]]
            out["warm"][side.name] = durations
            out["warm_cpu"][side.name] = spent
            print(f"warm 200 KB upload {side.name}: median {median(durations):.2f} ms  min "
                  f"{min(durations):.2f}  max {max(durations):.2f}; CPU {sum(spent) / len(spent):.2f} "
                  f"ms per upload (mean)", flush=True)
    finally:
        for emulator in emulators:
            emulator.stop()


def bench_rss(imgup_api, py_api, work, jpeg, out):
    out["rss"] = {}
    for side in (imgup_api, py_api):
        emulator = side.start(work)
        try:
            event = upload_event(jpeg)
            size = len(json.dumps(event))
            created(answer_of(emulator, event))
            pid = function_pid(emulator)
            hwm = vm_hwm_kb(pid)
            _, _, reported = wait_reports(emulator, 1)[0]
        finally:
            emulator.stop()
        out["rss"][side.name] = {"event_bytes": size, "vm_hwm_kb": hwm, "max_memory_used_mb": reported}
        print(f"rss {side.name}: {size / 1e6:.2f} MB event → VmHWM {hwm / 1024:.1f} MiB "
              f"(the emulator's Max Memory Used: {reported} MB)", flush=True)


def bench_process(imgup_api, py_api, imgup_proc, py_proc, n, work, photo, buckets, out):
    apis = {"imgup": imgup_api.start(work), "python": py_api.start(work)}
    procs = {"imgup": imgup_proc.start(work), "python": py_proc.start(work)}
    durations = {"imgup": [], "python": []}
    uploads = {"imgup": [], "python": []}  # the API function's time for the same 2.9 MB upload
    cpu = {"imgup": [], "python": []}
    try:
        for i in range(n + 1):
            for who in ("imgup", "python"):
                record = created(answer_of(apis[who], upload_event(
                    with_comment(photo, f"bench {who} {i} {uuid.uuid4()}".encode()))))
                uploads[who].append(wait_reports(apis[who], i + 1)[i][1])
                before = tree_cpu_ms(procs[who])
                answer = answer_of(procs[who], s3_put(buckets[who], record["key"]))
                cpu[who].append(tree_cpu_ms(procs[who]) - before)
                status = answer["records"][0].get("outcome", answer["records"][0].get("status"))
                assert status == "ready", answer
                durations[who].append(wait_reports(procs[who], i + 1)[i][1])
    finally:
        for emulator in list(apis.values()) + list(procs.values()):
            emulator.stop()
    out["upload_photo"] = {}
    for who, side in (("imgup", imgup_api), ("python", py_api)):
        rest = uploads[who][1:]  # the first one includes the init
        out["upload_photo"][side.name] = rest
        print(f"warm {len(photo) / 1e6:.1f} MB upload {side.name}: median {median(rest):.1f} ms  "
              f"min {min(rest):.1f}  max {max(rest):.1f}", flush=True)
    out["process"] = {}
    for who, side in (("imgup", imgup_proc), ("python", py_proc)):
        first, rest = durations[who][0], durations[who][1:]
        out["process"][side.name] = {"first": first, "warm": rest, "cpu": cpu[who][1:]}
        print(f"process 12 MP {side.name}: first record {first:.1f} ms; warm median "
              f"{median(rest):.1f} ms  min {min(rest):.1f}  max {max(rest):.1f}; CPU median "
              f"{median(cpu[who][1:]):.0f} ms (function and workers)", flush=True)


# AWS Lambda's price, x86_64, US East (N. Virginia), first tier (aws.amazon.com/lambda/pricing,
# as of 2026-12): per GB-second of billed duration (rounded up to the ms) and per request. Since
# 2025-08-01 the init phase of on-demand functions is billed too, for every runtime.
PRICE_GB_S = 0.0000166667
PRICE_REQUEST = 0.20 / 1e6
MEMORY_MB = {"api": 128, "processor": 1024}
COLD_SHARE = 0.01  # one invocation in a hundred starts an instance


def bill_per_million(duration_ms: float, init_ms: float, memory_mb: int) -> float:
    billed_s = (math.ceil(duration_ms) + COLD_SHARE * math.ceil(init_ms)) / 1000
    return 1e6 * (billed_s * memory_mb / 1024 * PRICE_GB_S + PRICE_REQUEST)


def print_cost(out: dict) -> None:
    """The Lambda bill per million 3 MB uploads (the 2.9 MB photo: one API invocation and one
    processor invocation each), from this run's medians."""
    print(f"Lambda bill per million 2.9 MB uploads (x86_64, us-east-1, ${PRICE_GB_S}/GB-s, "
          f"$0.20 per million requests, API {MEMORY_MB['api']} MB, processor "
          f"{MEMORY_MB['processor']} MB, {COLD_SHARE:.0%} cold starts):")
    for who in ("imgup", "python"):
        api_ms = median(out["upload_photo"][f"{who}-api"])
        proc_ms = median(out["process"][f"{who}-processor"]["warm"])
        init = out.get("init", {})
        api_init = median(init.get(f"{who}-api", [0]))
        proc_init = median(init.get(f"{who}-processor", [0]))
        api = bill_per_million(api_ms, api_init, MEMORY_MB["api"])
        proc = bill_per_million(proc_ms, proc_init, MEMORY_MB["processor"])
        print(f"  {who}: API {api_ms:.1f} ms → ${api:.2f}; processor {proc_ms:.1f} ms → "
              f"${proc:.2f}; total ${api + proc:.2f}")


def make_photo(python: str, work: Path) -> bytes:
    """A 12 MP (4000x3000) JPEG, made with the peer's Pillow: gradients, a fractal and noise, so
    that it compresses like a phone's photo (2.9 MB) rather than like a flat picture."""
    path = work / "photo12mp.jpg"
    subprocess.run([python, "-c", f"""
from PIL import Image
w, h = 4000, 3000
grad = Image.linear_gradient("L").resize((w, h))
fract = Image.effect_mandelbrot((w, h), (-2.2, -1.2, 1.0, 1.2), 60)
noise = Image.effect_noise((w, h), 40)
r = Image.blend(grad, noise, 0.4)
g = Image.blend(fract, grad.rotate(90).resize((w, h)), 0.5)
b = Image.blend(noise, fract, 0.5)
Image.merge("RGB", (r, g, b)).save({str(path)!r}, "JPEG", quality=85)
"""], check=True)
    return path.read_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", type=int, default=20)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--process", type=int, default=5)
    parser.add_argument("--only", default="init,warm,rss,process")
    parser.add_argument("--json", help="also write the samples here")
    args = parser.parse_args()
    parts = set(args.only.split(","))

    for var in ("IMGUP_TEST_S3_ENDPOINT", "IMGUP_TEST_DYNAMODB_ENDPOINT"):
        if not os.environ.get(var):
            print(f"{var} is not set: run inside scripts/with-aws-peers.sh", file=sys.stderr)
            return 2
    if not rie_bin().exists():
        print(f"{rie_bin()} not found: make lambda-tools", file=sys.stderr)
        return 2
    python = subprocess.run([str(ROOT / "bench/seed_python/install.sh")], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
    py_version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout.strip()
    api_bin = binary("IMGUP_LAMBDA_API_BIN", "api.zip", "imgup-lambda-api")
    proc_bin = binary("IMGUP_LAMBDA_PROCESSOR_BIN", "processor.zip", "imgup-lambda-processor")
    imgup = Path(os.environ.get("IMGUP_BIN") or next(
        p for p in (ROOT / "build/release/imgup", ROOT / "build/dev/imgup") if p.exists()))

    run = uuid.uuid4().hex[:8]
    region = os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1")
    # Both, as Lambda sets them (botocore reads AWS_DEFAULT_REGION).
    aws = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region,
           "AWS_ACCESS_KEY_ID": os.environ["IMGUP_TEST_AWS_ACCESS_KEY_ID"],
           "AWS_SECRET_ACCESS_KEY": os.environ["IMGUP_TEST_AWS_SECRET_ACCESS_KEY"],
           "AWS_ENDPOINT_URL_S3": os.environ["IMGUP_TEST_S3_ENDPOINT"],
           "AWS_ENDPOINT_URL_DYNAMODB": os.environ["IMGUP_TEST_DYNAMODB_ENDPOINT"],
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024"}
    buckets = {"imgup": f"imgup-bench-{run}", "python": f"seed-bench-{run}"}
    imgup_env = dict(aws, IMGUP_STORAGE="aws", IMGUP_BUCKET=buckets["imgup"],
                     IMGUP_TABLE=f"imgup-bench-{run}", IMGUP_CURSOR_SECRET="bench-cursor-secret-0",
                     IMGUP_MAX_BODY_BYTES=str(6 * 1024 * 1024))
    if os.environ.get("IMGUP_PIXEL_WORKER"):
        imgup_env["IMGUP_PIXEL_WORKER"] = os.environ["IMGUP_PIXEL_WORKER"]
    py_env = dict(aws, SEED_BUCKET=buckets["python"], SEED_TABLE=f"seed-bench-{run}")

    # The stores: imgup's by its own init-aws, the peer's with boto3 (this venv's, from moto).
    subprocess.run([str(imgup), "init-aws"], check=True, capture_output=True,
                   env={**os.environ, **imgup_env})
    import boto3
    session = boto3.session.Session(aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
                                    region_name=aws["AWS_REGION"])
    session.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL_S3"]).create_bucket(
        Bucket=buckets["python"])
    session.client("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL_DYNAMODB"]).create_table(
        TableName=py_env["SEED_TABLE"], BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])

    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        seed_dir = ROOT / "bench/seed_python"
        sides = {}
        for name, module in (("python-api", "api_handler"), ("python-processor", "processor_handler")):
            script = work / f"bootstrap-{name}"
            # What Lambda's python3.11 runtime does: awslambdaric running module.handler.
            script.write_text(f"#!/bin/sh\ncd {seed_dir} && exec {python} -m awslambdaric "
                              f"{module}.handler\n")
            script.chmod(0o755)
            sides[name] = Side(name, script, py_env)
        imgup_api = Side("imgup-api", api_bin, imgup_env)
        imgup_proc = Side("imgup-processor", proc_bin, imgup_env)
        print(f"imgup API function {api_bin}; processor {proc_bin}; Python peer {py_version} "
              f"({python}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
              flush=True)
        small = build_jpeg(200 * 1024, 1024, 768, 18, 20261125)
        if "init" in parts:
            bench_init(imgup_api, sides["python-api"], imgup_proc, sides["python-processor"],
                       args.init, work, small, out)
        if "warm" in parts:
            bench_warm(imgup_api, sides["python-api"], args.warm, work, small, out)
        if "rss" in parts:
            big = padded(small, 4_400_000)
            bench_rss(imgup_api, sides["python-api"], work, big, out)
        if "process" in parts:
            photo = make_photo(python, work)
            print(f"12 MP JPEG: {len(photo)} bytes", flush=True)
            bench_process(imgup_api, sides["python-api"], imgup_proc, sides["python-processor"],
                          args.process, work, photo, buckets, out)

    print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if "init" in out:
        a, p = median(out["init"]["imgup-api"]), median(out["init"]["python-api"])
        print(f"API init: imgup {a:.1f} ms vs Python {p:.1f} ms: {p / a:.1f}x faster "
              f"(target <= 15 ms and >= 20x)")
        a, p = median(out["init"]["imgup-processor"]), median(out["init"]["python-processor"])
        print(f"processor init: imgup {a:.1f} ms vs Python {p:.1f} ms (target <= 40 ms)")
    if "warm" in out:
        a, p = median(out["warm"]["imgup-api"]), median(out["warm"]["python-api"])
        print(f"warm upload: imgup {a:.2f} ms vs Python {p:.2f} ms: {a / p:.3f} of it "
              f"(target <= 0.2)")
        a, p = (statistics.mean(out["warm_cpu"][k]) for k in ("imgup-api", "python-api"))
        print(f"warm upload, CPU time of the function: imgup {a:.2f} ms vs Python {p:.2f} ms: "
              f"{a / p:.3f} of it")
    if "rss" in out:
        print(f"6 MB upload peak RSS: imgup {out['rss']['imgup-api']['vm_hwm_kb'] / 1024:.1f} MiB "
              f"vs Python {out['rss']['python-api']['vm_hwm_kb'] / 1024:.1f} MiB (target <= 64)")
    if "process" in out:
        a = median(out["process"]["imgup-processor"]["warm"])
        p = median(out["process"]["python-processor"]["warm"])
        print(f"12 MP event to record: imgup {a:.1f} ms vs Pillow {p:.1f} ms: {a / p:.2f} of it "
              f"(target <= 0.5)")
        a = median(out["process"]["imgup-processor"]["cpu"])
        p = median(out["process"]["python-processor"]["cpu"])
        print(f"12 MP event to record, CPU time: imgup {a:.0f} ms vs Pillow {p:.0f} ms: "
              f"{a / p:.2f} of it")
    if "process" in out:
        print_cost(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
