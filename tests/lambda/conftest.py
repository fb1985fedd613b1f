"""Fixtures of the Lambda tests: imgup's API and processor functions under AWS's Lambda Runtime
Interface Emulator (rie.py), invoked with API Gateway and S3 events made from AWS's own samples
(fixtures/aws).

Environment: IMGUP_LAMBDA_API_BIN (default build/dev/imgup-lambda-api),
IMGUP_LAMBDA_PROCESSOR_BIN (default build/dev/imgup-lambda-processor), IMGUP_BIN (default
build/dev/imgup, to add an API key), IMGUP_RIE (default
${IMGUP_TOOLS_DIR:-~/.cache/imgup/tools}/bin/aws-lambda-rie, installed by
scripts/install-lambda-tools.sh).
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from rie import Emulator, rie_bin

ROOT = Path(__file__).resolve().parents[2]
INIT_DURATIONS: list[float] = []


def pytest_terminal_summary(terminalreporter):
    if INIT_DURATIONS:
        values = sorted(INIT_DURATIONS)
        median = values[len(values) // 2]
        terminalreporter.write_line(
            "lambda: imgup-lambda-api INIT REPORT durationMs " +
            ", ".join(f"{v:.1f}" for v in INIT_DURATIONS) +
            f" (median {median:.1f}; aws-lambda-rie, this machine under its load)")


def function_binary(variable: str, default: str) -> Path:
    """A function's binary (from `variable`, else build/dev/`default`), failing the test when it
    or the emulator is missing."""
    path = Path(os.environ.get(variable, ROOT / "build/dev" / default))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    return path


@pytest.fixture(scope="session")
def api_binary() -> Path:
    return function_binary("IMGUP_LAMBDA_API_BIN", "imgup-lambda-api")


@pytest.fixture(scope="session")
def imgup_binary() -> Path:
    path = Path(os.environ.get("IMGUP_BIN", ROOT / "build/dev/imgup"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    return path


@pytest.fixture
def start_function(api_binary, tmp_path):
    """start_function(**env) → an Emulator running the API function with IMGUP_STORAGE=local on
    a fresh data directory (unless env says otherwise); stopped after the test, its INIT REPORT
    durations kept for the summary."""
    started: list[Emulator] = []

    def start(**env: str) -> Emulator:
        settings = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(tmp_path / "data")}
        settings.update(env)
        workdir = tmp_path / f"fn{len(started)}"
        workdir.mkdir()
        emulator = Emulator(api_binary, workdir, settings)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        if emulator.proc.poll() is None and "INIT RTDONE(status: success)" in emulator.log():
            INIT_DURATIONS.extend(emulator.init_reports()[:1])
        emulator.stop()


@pytest.fixture(scope="session")
def processor_binary() -> Path:
    return function_binary("IMGUP_LAMBDA_PROCESSOR_BIN", "imgup-lambda-processor")


@pytest.fixture
def start_processor(processor_binary, tmp_path):
    """start_processor(**env) → an Emulator running the processor function with
    IMGUP_STORAGE=local on the same data directory as start_function's (unless env says
    otherwise); stopped after the test."""
    started: list[Emulator] = []

    def start(**env: str) -> Emulator:
        settings = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(tmp_path / "data"),
                    "TMPDIR": str(tmp_path)}
        settings.update(env)
        workdir = tmp_path / f"processor{len(started)}"
        workdir.mkdir()
        emulator = Emulator(processor_binary, workdir, settings)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@dataclass
class AwsPeerStore:
    """A fresh bucket and table (one name) on the AWS peers, made by `imgup init-aws`."""
    name: str
    env: dict  # the AWS_* variables a function (or the CLI) needs to reach them
    s3_endpoint: str
    dynamodb_endpoint: str

    def client(self, service: str):
        import boto3
        from botocore.config import Config as BotoConfig
        endpoint = self.s3_endpoint if service == "s3" else self.dynamodb_endpoint
        config = BotoConfig(s3={"addressing_style": "path"}) if service == "s3" else None
        return boto3.client(service, endpoint_url=endpoint, config=config, region_name=self.env["AWS_REGION"],
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])


@pytest.fixture
def aws_peer_store(imgup_binary) -> AwsPeerStore:
    """The S3 and DynamoDB peers of scripts/with-aws-peers.sh, with a bucket and table of the
    test's own; skipped without the peers (failed when IMGUP_REQUIRE_AWS_PEERS=1)."""
    s3_endpoint = os.environ.get("IMGUP_TEST_S3_ENDPOINT")
    dynamodb_endpoint = os.environ.get("IMGUP_TEST_DYNAMODB_ENDPOINT")
    if not (s3_endpoint and dynamodb_endpoint):
        message = "no AWS peers: run inside scripts/with-aws-peers.sh"
        if os.environ.get("IMGUP_REQUIRE_AWS_PEERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    aws = {"AWS_ENDPOINT_URL_S3": s3_endpoint, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
           "AWS_ACCESS_KEY_ID": os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing"),
           "AWS_SECRET_ACCESS_KEY": os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "testing"),
           "AWS_REGION": os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1"),
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_EC2_METADATA_DISABLED": "true"}
    name = f"imgup-lambda-{os.getpid()}-{random.getrandbits(32):08x}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGUP_", "AWS_"))}
    init = subprocess.run([str(imgup_binary), "init-aws", "--bucket", name, "--table", name],
                          env={**env, **aws}, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    return AwsPeerStore(name, aws, s3_endpoint, dynamodb_endpoint)
