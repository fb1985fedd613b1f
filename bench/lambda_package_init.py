#!/usr/bin/env python3
"""Cold starts of several builds of a Lambda function side by side, as bench/lambda_init.py
measures one (the emulator's `INIT REPORT (durationMs: ...)`, one fresh emulator per sample):
round after round, one sample of each candidate per round in turn, so that the machine's load
falls on all of them alike. The API function is invoked with GET /health as an HTTP API event,
on S3 + DynamoDB settings that nothing answers (its package has no local storage; its init
opens no connection); with --processor, the processor, on local storage, with AWS's S3 put
sample for a key it ignores (its init starts no pixel worker: the first image does, ADR 11).

  bench/lambda_package_init.py [--processor] [N=20] NAME=PATH ...   # PATH: a binary or a bootstrap
  bench/lambda_package_init.py 20 plain=build/package/imgup-lambda-api \\
      zip=/tmp/api/bootstrap                          # after `unzip build/lambda/api.zip -d /tmp/api`
  bench/lambda_package_init.py --processor 20 zip=/tmp/processor/bootstrap

Prints each candidate's samples, median, min and max (docs/adr/0012-packaging.md has its numbers).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/lambda"))
from rie import Emulator  # noqa: E402


def health_event() -> dict:
    event = json.loads((ROOT / "tests/lambda/fixtures/aws/http-api-proxy.json").read_text())
    event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
    event["requestContext"]["http"].update(method="GET", path="/health")
    event["requestContext"].pop("authorizer")
    return event


def s3_put_ignored() -> dict:
    return json.loads((ROOT / "tests/lambda/fixtures/aws/s3-put.json").read_text())  # key test/key


def sample(path: Path, workdir: Path, env: dict[str, str], event: dict) -> float:
    workdir.mkdir()
    emulator = Emulator(path, workdir, env)
    try:
        answer = emulator.invoke(event).json()
        ok = answer.get("statusCode") == 200 or answer.get("records", [{}])[0].get("outcome") == "ignored"
        assert ok, (answer, emulator.log())
        reports = emulator.init_reports()
        assert len(reports) == 1, emulator.log()
        return reports[0]
    finally:
        emulator.stop()


def main() -> int:
    args = sys.argv[1:]
    processor = bool(args) and args[0] == "--processor"
    if processor:
        args.pop(0)
    n = int(args.pop(0)) if args and args[0].isdigit() else 20
    candidates = {}
    for arg in args:
        name, _, path = arg.partition("=")
        candidates[name] = Path(path).resolve()
        if not candidates[name].exists():
            print(f"{path} not found", file=sys.stderr)
            return 2
    if not candidates:
        print(__doc__, file=sys.stderr)
        return 2
    event = s3_put_ignored() if processor else health_event()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    with tempfile.TemporaryDirectory() as tmp:
        env = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(Path(tmp) / "data"), "TMPDIR": tmp}
        if not processor:
            # The packaged API function has S3 + DynamoDB only; its init opens no connection and
            # /health reads no store, so nothing needs to answer at this endpoint.
            env = {"IMGUP_STORAGE": "aws", "IMGUP_BUCKET": "bench", "IMGUP_TABLE": "bench",
                   "IMGUP_CURSOR_SECRET": "bench-cursor-secret-16", "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": "/dev/null",
                   "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
        for i in range(n + 1):
            order = list(candidates.items())
            if i % 2:
                order.reverse()
            for name, path in order:
                value = sample(path, Path(tmp) / f"{name}-{i}", env, event)
                if i > 0:  # the first round warms the page cache (and makes the database)
                    samples[name].append(value)
    print(f"INIT REPORT durationMs, {n} fresh emulators each, interleaved "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end):")
    for name, values in samples.items():
        print(f"  {name:12} median {statistics.median(values):6.1f}  min {min(values):6.1f}  "
              f"max {max(values):6.1f}   " + " ".join(f"{v:.1f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
