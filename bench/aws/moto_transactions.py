#!/usr/bin/env python3
"""TransactWriteItems on `make run-aws`'s DynamoDB (scripts/moto_server.py) as its table grows,
with moto's own whole-table backups (--stock-transactions) and with the item-level backups
scripts/moto_server.py installs, in the same run. Each transaction is an upload's: two
conditional Puts (the record and its sha256 marker) in a table of ~300-byte items.

    .venv/bin/python bench/aws/moto_transactions.py            # after `make aws-peers`
    BENCH_SIZES=0,1000,3000 BENCH_TRANSACTIONS=30 .venv/bin/python bench/aws/moto_transactions.py

Both servers are started here on free loopback ports and stopped by PID at the end.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "0,1000,3000").split(",")]
TRANSACTIONS = int(os.environ.get("BENCH_TRANSACTIONS", "30"))


def start(extra: list[str], log: Path) -> tuple[subprocess.Popen, str]:
    """scripts/moto_server.py on a free port; its request log goes to `log` (a pipe would fill)."""
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts/moto_server.py"), "-p", "0", *extra],
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}"
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit(f"bench: moto_server.py did not start (see {log})")


def measure(endpoint: str) -> list[float]:
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="bench", aws_secret_access_key="bench")
    table = "bench-" + secrets.token_hex(3)
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}])
    medians, items = [], 0
    for size in SIZES:
        while items < size:
            dynamodb.put_item(TableName=table, Item={"pk": {"S": f"owner#{items % 10}"},
                                                     "sk": {"S": f"image#{items}"}, "body": {"S": "x" * 300}})
            items += 1
        times = []
        for i in range(TRANSACTIONS):
            started = time.perf_counter()
            dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": {"pk": {"S": "owner#new"}, "sk": {"S": f"image#{size}-{i}"}}}},
                {"Put": {"TableName": table, "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": {"pk": {"S": "sha256#new"}, "sk": {"S": f"{size}-{i}"}}}},
            ])
            times.append((time.perf_counter() - started) * 1e3)
        items += 2 * TRANSACTIONS
        medians.append(statistics.median(times))
    return medians


def main() -> None:
    print(f"== load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    results = {}
    work = tempfile.mkdtemp(prefix="imgup-moto-bench.")
    for label, extra in (("moto's own backups", ["--stock-transactions"]), ("item-level backups", [])):
        proc, endpoint = start(extra, Path(work) / "moto.log")
        try:
            results[label] = measure(endpoint)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    shutil.rmtree(work)
    print(f"{'items in the table':>20} | " + " | ".join(f"{label:>20}" for label in results))
    for row, size in enumerate(SIZES):
        print(f"{size:>20} | " + " | ".join(f"{results[label][row]:>17.2f} ms" for label in results))
    print(f"== load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
