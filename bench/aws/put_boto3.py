#!/usr/bin/env python3
"""COUNT sequential PutObjects of SIZE bytes with boto3 over one connection (max_pool_connections
1), the same work as bench/aws/put_bench.cpp: bodies that differ by their first 8 bytes, a SHA-256
checksum (ChecksumAlgorithm SHA256) and a signed payload, one warm-up put first.

Usage: put_boto3.py BUCKET COUNT SIZE
  -> {"puts": COUNT, "seconds": S, "puts_per_s": R, "cpu_ms_per_put": this process's CPU / put}
The peer from the same variables as the C++ side (scripts/with-aws-peers.sh).
"""

import json
import os
import random
import struct
import sys
import time

import boto3
from botocore.config import Config


def main() -> None:
    bucket, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["IMGUP_TEST_S3_ENDPOINT"],
        region_name=os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ["IMGUP_TEST_AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["IMGUP_TEST_AWS_SECRET_ACCESS_KEY"],
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=1,
            retries={"max_attempts": 1},
        ),
    )
    body = bytearray(random.Random(42).randbytes(size))

    def put(n: int) -> None:
        body[:8] = struct.pack("<q", n)
        s3.put_object(
            Bucket=bucket, Key=f"bench/boto3/{n}", Body=bytes(body), ContentType="image/jpeg",
            ChecksumAlgorithm="SHA256",
        )

    put(-1)
    start, start_cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        put(n)
    took, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(json.dumps({"puts": count, "seconds": took, "puts_per_s": count / took,
                      "cpu_ms_per_put": cpu * 1000 / count}))


if __name__ == "__main__":
    main()
