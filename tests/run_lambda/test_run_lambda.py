"""`make run-lambda` (scripts/run-lambda.sh) seen from outside: the API through `imgup gateway` and
the API function under AWS's Lambda emulator, an upload made ready by the processor function that
versitygw's S3 event reached through the relay, a poison object dead-lettered after the retries
with its original kept, data/aws-local.env, the logs, API Gateway's own answers (stage, payload
limit, a failing function), and Ctrl-C leaving no process behind.

Needs the peers (make aws-peers), the emulator (make lambda-tools) and the functions:
IMGUP_LAMBDA_API_BIN and IMGUP_LAMBDA_PROCESSOR_BIN (make run-lambda-test gives the dev build's;
without them the script's own choice: build/lambda/api.zip and the processor). IMGUP_BIN is the
imgup of `init-aws` and `gateway` (build/dev/imgup).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_stack import (  # noqa: E402  (tests/local_stack.py)
    LISTENING, PROCESSING_TIMEOUT, LocalStack, alive, free_port, read_env_file, unique_png, wait_ready)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("IMGUP_BIN", ROOT / "build/dev/imgup")).resolve()
TOOLS = Path(os.environ.get("IMGUP_TOOLS_DIR", Path.home() / ".cache/imgup/tools"))
ENV_NAMES = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_REGION", "IMGUP_BUCKET", "IMGUP_TABLE", "IMGUP_API_FUNCTION_URL", "IMGUP_PROCESSOR_FUNCTION_URL"}


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [str(p) for p in (BIN, TOOLS / "bin/versitygw", TOOLS / "bin/aws-lambda-rie", ROOT / ".venv/bin/moto_server")
               if not p.exists()]
    if missing:
        pytest.fail(f"missing {missing}: make build aws-peers lambda-tools")


def descendants(pid: int) -> set[int]:
    """Every living process under `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def run_lambda_env(data: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGUP_", "AWS_"))}
    env.update({"PORT": str(port), "DATA": str(data), "IMGUP_BIN": str(BIN), "IMGUP_RELAY_BACKOFF": "0.2"})
    env.update({k: v for k, v in os.environ.items()
                if k in ("IMGUP_TOOLS_DIR", "IMGUP_LAMBDA_API_BIN", "IMGUP_LAMBDA_PROCESSOR_BIN", "IMGUP_PIXEL_WORKER")})
    env.update(extra)
    return env


class RunLambda(LocalStack):
    """scripts/run-lambda.sh on `data`, until interrupt()."""

    def __init__(self, data: Path, port: int = 0, **extra: str):
        super().__init__(ROOT / "scripts/run-lambda.sh", run_lambda_env(data, port, extra), 120, "run-lambda.sh")
        self.data = data
        self.env = read_env_file(data / "aws-local.env")

    def s3(self):
        return boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL_S3"], region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                            config=BotoConfig(s3={"addressing_style": "path"}))

    def s3_v4(self):
        """A client whose presigned POSTs are SigV4 (what versitygw checks)."""
        return boto3.client("s3", endpoint_url=self.env["AWS_ENDPOINT_URL_S3"], region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
                            config=BotoConfig(signature_version="s3v4", s3={"addressing_style": "path"}))

    def log(self, name: str) -> str:
        path = self.data / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def wait_for(what: str, check, timeout: float = PROCESSING_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"no {what} after {timeout}s"
        time.sleep(0.1)
    return result


def test_run_lambda_serves_processes_dead_letters_and_stops_everything(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    stack = RunLambda(data, port)
    try:
        assert stack.url == f"http://127.0.0.1:{port}"  # PORT= is the gateway's port
        png = unique_png()
        seed = {"filename": "seed.png", "content_type": "image/png", "image_base64": base64.b64encode(png).decode()}
        r = requests.post(stack.url + "/upload", json=seed, timeout=30)
        assert r.status_code == 201, r.text
        assert r.headers["apigw-requestid"]  # API Gateway's, beside the function's own X-Request-Id
        created = r.json()
        assert created["status"] == "processing"
        # Made ready by the processor function, which only versitygw's event (through the relay)
        # tells of the upload.
        record = wait_ready(stack.url, created["id"])
        assert record["status"] == "ready", record
        assert set(record["variants"]) == {"thumb", "medium"}
        assert requests.get(f"{stack.url}/images/{created['id']}/content", timeout=30).content == png
        s3 = stack.s3()
        bucket = stack.env["IMGUP_BUCKET"]
        assert s3.get_object(Bucket=bucket, Key=record["key"])["Body"].read() == png
        for name in ("thumb", "medium"):
            s3.head_object(Bucket=bucket, Key=f"variants/local/{created['id']}/{name}.webp")

        # data/aws-local.env: run-aws's lines and each emulator's invoke URL, which takes any event.
        assert set(stack.env) == ENV_NAMES
        health_event = {"version": "2.0", "routeKey": "$default", "rawPath": "/health", "rawQueryString": "",
                        "headers": {"host": "127.0.0.1"}, "isBase64Encoded": False,
                        "requestContext": {"http": {"method": "GET", "path": "/health", "sourceIp": "127.0.0.1"},
                                           "stage": "$default", "requestId": "direct"}}
        direct = requests.post(stack.env["IMGUP_API_FUNCTION_URL"], json=health_event, timeout=30).json()
        assert direct["statusCode"] == 200, direct
        assert json.loads(direct["body"])["status"] == "ok", direct

        # A poison object: an original no upload made (no record). The processor fails on it, is
        # retried twice, and the event goes to data/dlq/; the object stays in the bucket.
        key = "originals/local/01KD5TESTDEADBEEF000000000"
        s3.put_object(Bucket=bucket, Key=key, Body=png, ContentType="image/png")
        # The same through a browser form's POST (a presigned POST, as POST /uploads gives):
        # versitygw's record for it has no key, and the relay finds the object by its ETag.
        posted = "originals/local/01KD5TESTP0STED00000000000"
        form = stack.s3_v4().generate_presigned_post(bucket, posted, Fields={"Content-Type": "image/png"},
                                                     Conditions=[{"Content-Type": "image/png"}], ExpiresIn=300)
        sent = requests.post(form["url"], data=form["fields"], files={"file": ("p.png", png[:-1], "image/png")},
                             timeout=30)
        assert sent.status_code == 204, sent.text
        letters = wait_for("dead letters", lambda: len(list((data / "dlq").glob("*.json"))) >= 2 and
                           sorted((data / "dlq").glob("*.json")))
        by_key = {}
        for path in letters:
            doc = json.loads(path.read_text())
            by_key[doc["requestPayload"]["Records"][0]["s3"]["object"]["key"]] = doc
        assert set(by_key) == {quote_plus(key, safe="/"), posted}, by_key.keys()
        assert by_key[posted]["requestPayload"]["Records"][0]["eventName"] == "ObjectCreated:Post"
        letter = by_key[quote_plus(key, safe="/")]
        assert letter["requestPayload"]["Records"][0]["s3"]["object"]["key"] == quote_plus(key, safe="/")
        assert letter["requestContext"]["approximateInvokeCount"] == 3
        assert letter["responsePayload"]["errorType"].startswith("Imgup."), letter
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == png

        # Each emulator's output in its log: the functions' own JSON lines among the emulator's.
        assert "INIT REPORT" in stack.log("api") and '"request_id"' in stack.log("api")
        assert "INIT REPORT" in stack.log("processor") and created["id"] in stack.log("processor")
        assert letter["responsePayload"]["errorType"] in stack.log("processor")

        # API Gateway's own answers: an event over Lambda's 6 MB payload limit is refused 413 by
        # API Gateway, not by the function.
        big = requests.post(stack.url + "/upload?filename=big.png", data=os.urandom(7 * 1024 * 1024),
                            headers={"Content-Type": "image/png"}, timeout=60)
        assert big.status_code == 413
        assert big.json() == {"message": "Request Entity Too Large"}
    finally:
        pids = descendants(stack.proc.pid)
        code = stack.interrupt()
    assert code == 130, stack.text()
    assert len(pids) >= 6, stack.text()  # moto, relay, versitygw, two emulators (and functions), gateway
    left = [pid for pid in pids if alive(pid)]
    assert not left, f"still running after Ctrl-C: {left}\n{stack.text()}"
    assert not stack.members(), f"still running in the stack's process group: {stack.members()}"
    assert_no_sanitizer_report(stack)


def assert_no_sanitizer_report(stack: RunLambda) -> None:
    """Sanitizer builds (IMGUP_LAMBDA_*_BIN of the asan preset) report into the functions' logs."""
    for name in ("api", "processor", "gateway.stderr"):
        text = stack.log(name)
        for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer"):
            assert marker not in text, f"sanitizer report in {name}.log:\n{text[-4000:]}"


def test_a_rest_api_with_a_stage_and_a_failing_function(tmp_path):
    data = tmp_path / "data"
    stack = RunLambda(data, 0, GATEWAY="rest", STAGE="prod")
    try:
        assert requests.get(stack.url + "/prod/health", timeout=30).status_code == 200
        outside = requests.get(stack.url + "/health", timeout=30)
        assert outside.status_code == 404 and outside.json() == {"message": "Not Found"}
        png = unique_png()
        r = requests.post(stack.url + "/prod/upload?filename=a%20b.png", data=png,
                          headers={"Content-Type": "image/png"}, timeout=30)
        assert r.status_code == 201, r.text
        assert r.headers["x-amzn-requestid"]
        record = wait_ready(stack.url + "/prod", r.json()["id"])
        assert record["status"] == "ready" and record["filename"] == "a b.png", record
        page = requests.get(stack.url + "/prod/images", timeout=30).json()
        assert [i["id"] for i in page["items"]] == [record["id"]]

        # A gateway in front of a function that fails on API Gateway events (the processor):
        # API Gateway's 502, whatever the function said.
        gateway = subprocess.Popen([str(BIN), "gateway", "--port", "0", "--function-url",
                                    stack.env["IMGUP_PROCESSOR_FUNCTION_URL"]],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in gateway.stderr:
                if m := LISTENING.search(line):
                    break
            else:
                pytest.fail("imgup gateway did not listen")
            failed = requests.get(m.group(1) + "/health", timeout=30)
            assert failed.status_code == 502
            assert failed.json() == {"message": "Internal Server Error"}
        finally:
            gateway.send_signal(signal.SIGTERM)
            assert gateway.wait(30) == 0
    finally:
        code = stack.interrupt()
    assert code == 130, stack.text()
    assert_no_sanitizer_report(stack)
