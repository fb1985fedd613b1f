#!/usr/bin/env python3
"""A Lambda function's cold start as AWS's Lambda Runtime Interface Emulator measures it: the
`INIT REPORT (durationMs: ...)` line of N fresh emulators (its REPORT line's Init Duration is a
constant), each started on free loopback ports, invoked once, and stopped. The API function is
invoked with GET /health as an HTTP API event; the processor function with AWS's S3 put sample
(its key is no original's: the record is ignored, no pixel worker starts). Prints each sample and
the median.

  bench/lambda_init.py [N=20] [api|processor] [local|aws]    # after `make lambda-tools` and a build
  IMGUP_LAMBDA_API_BIN=build/release/imgup-lambda-api bench/lambda_init.py
  IMGUP_LAMBDA_PROCESSOR_BIN=build/release/imgup-lambda-processor bench/lambda_init.py 20 processor

The function runs on the local stores (IMGUP_STORAGE=local) on a data directory made once, so
that every sample but the first opens an existing database, as a warm-disk Lambda would; or, with
`aws`, on S3 + DynamoDB (IMGUP_STORAGE=aws) at endpoints that nothing answers: the init opens the
stores without a network call (and GET /health makes none), so no peer is needed.
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
from rie import Emulator, rie_bin  # noqa: E402


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    function = sys.argv[2] if len(sys.argv) > 2 else "api"
    storage = sys.argv[3] if len(sys.argv) > 3 else "local"
    if function == "processor":
        binary = Path(os.environ.get("IMGUP_LAMBDA_PROCESSOR_BIN",
                                     ROOT / "build/dev/imgup-lambda-processor"))
        event = json.loads((ROOT / "tests/lambda/fixtures/aws/s3-put.json").read_text())
    else:
        binary = Path(os.environ.get("IMGUP_LAMBDA_API_BIN", ROOT / "build/dev/imgup-lambda-api"))
        event = json.loads((ROOT / "tests/lambda/fixtures/aws/http-api-proxy.json").read_text())
        event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
        event["requestContext"]["http"].update(method="GET", path="/health")
        event["requestContext"].pop("authorizer")
    if not binary.exists() or not rie_bin().exists():
        print(f"need {binary} and {rie_bin()} (make build lambda-tools)", file=sys.stderr)
        return 2
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(Path(tmp) / "data")}
        if storage == "aws":
            env = {"IMGUP_STORAGE": "aws", "IMGUP_BUCKET": "bench", "IMGUP_TABLE": "bench",
                   "IMGUP_CURSOR_SECRET": "bench-cursor-secret", "AWS_REGION": "us-east-1",
                   "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench",
                   "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": "/dev/null",
                   "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        for i in range(n + 1):
            workdir = Path(tmp) / f"run{i}"
            workdir.mkdir()
            emulator = Emulator(binary, workdir, env)
            try:
                answer = emulator.invoke(event).json()
                if function == "processor":
                    assert answer["records"][0]["outcome"] == "ignored", answer
                else:
                    assert answer.get("statusCode") == 200, answer
                reports = emulator.init_reports()
                assert len(reports) == 1, emulator.log()
            finally:
                emulator.stop()
            if i > 0:  # the first run made the database
                samples.append(reports[0])
    print(f"{binary.name} (IMGUP_STORAGE={storage}) INIT REPORT durationMs, {n} fresh emulators:")
    print("  " + " ".join(f"{s:.1f}" for s in samples))
    print(f"  median {statistics.median(samples):.1f}  min {min(samples):.1f}  "
          f"max {max(samples):.1f}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
