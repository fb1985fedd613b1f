#!/usr/bin/env python3
"""botocore's SigV4 signer on the PutObject that bench/aws/sign_bench.cpp signs, timed the same
way: many calls in a loop, the time per call, the median of 3 repetitions (Google Benchmark's
aggregate in run.sh). The payload hash is given in x-amz-content-sha256, as imgup's request carries
it, so botocore does not hash the body either: S3SigV4Auth.add_auth builds the canonical request,
the string to sign, derives the key and signs (and reads the clock, as it always does).

Usage: sign_botocore.py [MIN_TIME_S]
prints one JSON line {"ns_per_op": wall, "cpu_ns_per_op": this thread's CPU, "runs", "cpu_runs"}
"""

import json
import statistics
import sys
import time

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PAYLOAD_HASH = "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"


def request() -> AWSRequest:
    return AWSRequest(
        method="PUT",
        url="https://s3.eu-west-1.amazonaws.com/imgup-images/originals/alice/01JDX3S9Q7M6V2B8R4T0YH5KCE",
        headers={
            "Content-Type": "image/jpeg",
            "x-amz-checksum-sha256": "X3C/GKCGAHAW6UiwSu07ghA6Nr6kF1W2zd+vEKzjxu8=",
            "X-Amz-Content-SHA256": PAYLOAD_HASH,
        },
        data=b"",
    )


def main() -> None:
    min_time = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    signer = S3SigV4Auth(
        Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "s3",
        "eu-west-1",
    )
    # A fresh request per call (add_auth adds its headers to the request it is given); making
    # it is timed apart and taken off.
    # Wall time and this thread's CPU time, as Google Benchmark's real_time and cpu_time.
    runs, cpu_runs = [], []
    for _ in range(3):
        n, elapsed, cpu = 0, 0.0, 0.0
        while elapsed < min_time:
            batch = [request() for _ in range(1000)]
            start, start_cpu = time.perf_counter(), time.thread_time()
            for r in batch:
                signer.add_auth(r)
            elapsed += time.perf_counter() - start
            cpu += time.thread_time() - start_cpu
            n += len(batch)
        runs.append(elapsed / n * 1e9)
        cpu_runs.append(cpu / n * 1e9)
    assert "Authorization" in batch[0].headers
    print(json.dumps({"ns_per_op": statistics.median(runs), "cpu_ns_per_op":
                      statistics.median(cpu_runs), "runs": runs, "cpu_runs": cpu_runs}))


if __name__ == "__main__":
    main()
