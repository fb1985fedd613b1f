"""`imgup serve --storage aws`, `imgup init-aws` and `make run-aws` (scripts/run-aws.sh), seen from
outside: exit codes, what they print, HTTP, and what lands in the bucket and the table (boto3).

Needs the peers of scripts/with-aws-peers.sh (IMGUP_TEST_S3_ENDPOINT, ...; `make run-aws-test`
runs it inside them); without them every test skips, or fails with IMGUP_REQUIRE_AWS_PEERS=1.
Environment: IMGUP_BIN (default build/dev/imgup).
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_stack import (  # noqa: E402  (tests/local_stack.py)
    LISTENING, LocalStack, alive, free_port, read_env_file, unique_png, wait_ready)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("IMGUP_BIN", ROOT / "build/dev/imgup")).resolve()


@pytest.fixture(scope="session")
def peers() -> dict[str, str]:
    s3 = os.environ.get("IMGUP_TEST_S3_ENDPOINT")
    dynamodb = os.environ.get("IMGUP_TEST_DYNAMODB_ENDPOINT")
    if not (s3 and dynamodb):
        message = "no AWS peers: run inside scripts/with-aws-peers.sh (make run-aws-test)"
        if os.environ.get("IMGUP_REQUIRE_AWS_PEERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    if not BIN.exists():
        pytest.fail(f"{BIN} not found: build it")
    return {
        "AWS_ENDPOINT_URL_S3": s3,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
        "AWS_ACCESS_KEY_ID": os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "testing"),
        "AWS_REGION": os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1"),
        # Nothing of the user's own AWS setup, no instance metadata lookups.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGUP_", "AWS_"))}
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], env=clean_env(env), capture_output=True, text=True, timeout=timeout)


def fresh_name(what: str) -> str:
    return f"imgup-{what}-{os.getpid()}-{random.getrandbits(40):010x}"


def s3_client(env: dict[str, str]):
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        config=BotoConfig(s3={"addressing_style": "path"}))


def dynamodb_client(env: dict[str, str]):
    return boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


# --- imgup init-aws ----------------------------------------------------------------------------


def test_init_aws_creates_the_bucket_and_the_table_and_a_second_run_finds_them(peers):
    bucket, table = fresh_name("b"), fresh_name("t")
    first = run(["init-aws", "--bucket", bucket, "--table", table], peers)
    assert first.returncode == 0, first.stderr
    assert f"created bucket {bucket}" in first.stdout
    assert f"created table {table}" in first.stdout

    s3_client(peers).head_bucket(Bucket=bucket)
    ddb = dynamodb_client(peers)
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert {(k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]} == {("PK", "HASH"), ("SK", "RANGE")}
    assert {i["IndexName"] for i in described["GlobalSecondaryIndexes"]} == {"by_type", "by_phash"}
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == "expires_at" and ttl.get("TimeToLiveStatus") == "ENABLED", ttl

    # Idempotent: the same command again says both exist and succeeds (also through the env).
    second = run(["init-aws"], {**peers, "IMGUP_BUCKET": bucket, "IMGUP_TABLE": table})
    assert second.returncode == 0, second.stderr
    assert f"bucket {bucket} exists" in second.stdout
    assert f"table {table} exists" in second.stdout
    assert "created" not in second.stdout


def test_init_aws_without_a_bucket_or_table_is_a_usage_error(peers):
    proc = run(["init-aws", "--table", fresh_name("t")], peers)
    assert proc.returncode == 2
    assert "no S3 bucket" in proc.stderr and "IMGUP_BUCKET" in proc.stderr


# --- imgup serve --storage aws: the start-up check ----------------------------------------------


@pytest.fixture
def store(peers) -> tuple[str, str]:
    bucket, table = fresh_name("b"), fresh_name("t")
    proc = run(["init-aws", "--bucket", bucket, "--table", table], peers)
    assert proc.returncode == 0, proc.stderr
    return bucket, table


def serve_fails(env: dict[str, str], bucket: str, table: str, tmp_path: Path) -> str:
    """Runs `imgup serve --storage aws`, which must exit non-zero without listening; its stderr."""
    proc = run(["serve", "--storage", "aws", "--bucket", bucket, "--table", table, "--port", "0",
                "--data", str(tmp_path / "data")], env, timeout=90)
    assert proc.returncode != 0, f"serve must not start:\n{proc.stderr}"
    assert "listening on" not in proc.stderr, proc.stderr
    # Sanitizer builds (IMGUP_BIN=build/asan/imgup): a report would also exit non-zero.
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
        assert marker not in proc.stderr, proc.stderr
    return proc.stderr


def test_serve_refuses_to_start_with_a_wrong_secret(peers, store, tmp_path):
    bucket, table = store
    stderr = serve_fails({**peers, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}, bucket, table, tmp_path)
    assert "access denied" in stderr and "credentials" in stderr, stderr
    assert bucket in stderr


def test_serve_refuses_to_start_without_credentials(peers, store, tmp_path):
    bucket, table = store
    env = {k: v for k, v in peers.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    stderr = serve_fails(env, bucket, table, tmp_path)
    assert "no AWS credentials" in stderr, stderr


def test_serve_refuses_to_start_when_the_bucket_is_missing(peers, store, tmp_path):
    _, table = store
    missing = fresh_name("missing")
    stderr = serve_fails(peers, missing, table, tmp_path)
    assert f"S3 bucket '{missing}'" in stderr and "no such bucket" in stderr, stderr


def test_serve_refuses_to_start_when_the_table_is_missing(peers, store, tmp_path):
    bucket, _ = store
    missing = fresh_name("missing")
    stderr = serve_fails(peers, bucket, missing, tmp_path)
    assert f"DynamoDB table '{missing}'" in stderr and "no such table" in stderr, stderr


@pytest.mark.parametrize("service", ["S3", "DYNAMODB"])
def test_serve_refuses_to_start_when_nothing_listens_at_an_endpoint(peers, store, tmp_path, service):
    bucket, table = store
    nowhere = f"http://127.0.0.1:{free_port()}"  # bound and released: nothing listens there
    stderr = serve_fails({**peers, f"AWS_ENDPOINT_URL_{service}": nowhere}, bucket, table, tmp_path)
    assert "nothing answers" in stderr and nowhere in stderr, stderr


def start_serve(env: dict[str, str], bucket: str, table: str, tmp_path: Path) -> tuple[subprocess.Popen, str, list]:
    """`imgup serve --storage aws` on a free port: the process, its URL and its stderr lines up
    to the listening line (the rest is drained in the background)."""
    proc = subprocess.Popen([str(BIN), "serve", "--storage", "aws", "--bucket", bucket, "--table", table,
                             "--port", "0", "--data", str(tmp_path / "data")],
                            env=clean_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if m := LISTENING.search(line):
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, m.group(1), lines
    proc.wait(30)
    raise AssertionError("imgup serve --storage aws did not start:\n" + "".join(lines))


def test_serve_starts_on_a_bucket_and_table_that_answer(peers, store, tmp_path):
    bucket, table = store
    proc, url, lines = start_serve(peers, bucket, table, tmp_path)
    try:
        assert any(f"bucket {bucket}" in line and f"table {table}" in line for line in lines), lines
        assert requests.get(url + "/health", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


# --- make run-aws (scripts/run-aws.sh) ---------------------------------------------------------


class RunAws(LocalStack):
    """scripts/run-aws.sh as a child process; its output collected."""

    def __init__(self, data: Path, port: int):
        env = clean_env({"PORT": str(port), "DATA": str(data), "IMGUP_BIN": str(BIN)})
        env.update({k: v for k, v in os.environ.items() if k == "IMGUP_TOOLS_DIR"})
        super().__init__(ROOT / "scripts/run-aws.sh", env, 90, "run-aws.sh")
        assert self.url == f"http://127.0.0.1:{port}", self.text()

    def pids(self) -> list[int]:
        """Every process the script said it started (the two peers and imgup serve)."""
        found = [int(p) for p in re.findall(r"\(pid (\d+),", self.text())]
        found += [int(p) for p in re.findall(r"imgup serve pid (\d+)", self.text())]
        return found


def test_run_aws_serves_writes_its_env_file_keeps_the_images_and_stops_everything(peers, tmp_path):
    data = tmp_path / "data"
    run_aws = RunAws(data, free_port())
    try:
        payload = {"filename": "seed.png", "content_type": "image/png",
                   "image_base64": base64.b64encode(png := unique_png()).decode()}
        r = requests.post(run_aws.url + "/upload", json=payload, timeout=30)
        assert r.status_code == 201, r.text
        record = wait_ready(run_aws.url, r.json()["id"])
        assert record["status"] == "ready", record
        assert set(record["variants"]) == {"thumb", "medium"}

        # data/aws-local.env: exactly what the AWS CLI or boto3 needs to look at what imgup stored.
        env = read_env_file(data / "aws-local.env")
        assert set(env) == {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID",
                            "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "IMGUP_BUCKET", "IMGUP_TABLE"}
        obj = s3_client(env).get_object(Bucket=env["IMGUP_BUCKET"], Key=record["key"])
        assert obj["Body"].read() == png
        assert obj["ContentType"] == "image/png"
        for name, variant in record["variants"].items():
            head = s3_client(env).head_object(Bucket=env["IMGUP_BUCKET"],
                                              Key=f"variants/local/{record['id']}/{name}.webp")
            assert head["ContentLength"] == variant["size_bytes"]
        item = dynamodb_client(env).get_item(
            TableName=env["IMGUP_TABLE"], ConsistentRead=True,
            Key={"PK": {"S": "OWNER#local"}, "SK": {"S": f"IMAGE#{record['id']}"}})["Item"]
        assert item["status"] == {"S": "ready"}
        assert item["sha256"] == {"S": hashlib.sha256(png).hexdigest()}
        assert item["key"] == {"S": record["key"]}
    finally:
        pids = run_aws.pids()
        code = run_aws.interrupt()
    assert len(pids) == 3, run_aws.text()
    assert code == 130, run_aws.text()
    left = [pid for pid in pids if alive(pid)]
    assert not left, f"still running after SIGINT: {left}\n{run_aws.text()}"
    assert not run_aws.members(), f"still running in the script's process group: {run_aws.members()}"

    # A restart on the same data keeps the image: the bytes in versitygw's folder, the record
    # replayed into moto from its journal.
    again = RunAws(data, free_port())
    try:
        got = requests.get(f"{again.url}/images/{record['id']}", timeout=10)
        assert got.status_code == 200, got.text
        assert got.json()["status"] == "ready"
        assert requests.get(f"{again.url}/images/{record['id']}/content", timeout=10).content == png
        assert [i["id"] for i in requests.get(again.url + "/images", timeout=10).json()["items"]] == [record["id"]]
    finally:
        pids = again.pids()
        assert again.interrupt() == 130
    assert not [pid for pid in pids if alive(pid)]


def test_serve_takes_up_the_records_a_stop_left_processing(peers, store, tmp_path):
    """A record left "processing" with its original in the bucket (what a stop or a crash of
    `imgup serve --storage aws` leaves; written here with boto3 in docs/dynamodb.md's shapes) is
    found at the next start, by the walk of the owner directory, and processed."""
    bucket, table = store
    png = unique_png(48, 32)
    image_id = "01KAAAAAAAAAAAAAAAAAAAAAAA"
    key = f"originals/local/{image_id}"
    s3_client(peers).put_object(Bucket=bucket, Key=key, Body=png, ContentType="image/png")
    ddb = dynamodb_client(peers)
    ddb.put_item(TableName=table, Item={"PK": {"S": "OWNERS"}, "SK": {"S": "local"}, "kind": {"S": "owner"}})
    digest = hashlib.sha256(png).hexdigest()
    ddb.put_item(TableName=table, Item={
        "PK": {"S": "OWNER#local"}, "SK": {"S": f"IMAGE#{image_id}"}, "kind": {"S": "image"},
        "id": {"S": image_id}, "owner": {"S": "local"}, "filename": {"S": "left.png"},
        "content_type": {"S": "image/png"}, "format": {"S": "png"}, "key": {"S": key},
        "sha256": {"S": digest}, "status": {"S": "processing"},
        "uploaded_at_ms": {"N": "1764662400000"}, "size_bytes": {"N": str(len(png))},
        "width": {"N": "48"}, "height": {"N": "32"}, "version": {"N": "0"},
        "type_pk": {"S": "local#image/png"}})
    ddb.put_item(TableName=table, Item={"PK": {"S": "OWNER#local"}, "SK": {"S": f"SHA256#{digest}"},
                                        "kind": {"S": "sha256"}, "image_id": {"S": image_id}})

    proc, url, _ = start_serve(peers, bucket, table, tmp_path)
    try:
        record = wait_ready(url, image_id)
        assert record["status"] == "ready", record
        assert set(record["variants"]) == {"thumb", "medium"}
        item = ddb.get_item(TableName=table, ConsistentRead=True,
                            Key={"PK": {"S": "OWNER#local"}, "SK": {"S": f"IMAGE#{image_id}"}})["Item"]
        assert item["status"] == {"S": "ready"}
        s3_client(peers).head_object(Bucket=bucket, Key=f"variants/local/{image_id}/thumb.webp")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
