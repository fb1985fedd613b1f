"""Where the AWS peers of the Python tests are (scripts/with-aws-peers.sh says so in the
environment), and what a test does without them: fail under `make test` and CI
(IMGUP_REQUIRE_AWS_PEERS=1, CI=true), skip when run by hand."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from dataclasses import dataclass

import pytest

REGION = os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1")


@dataclass(frozen=True)
class Peer:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    region: str = REGION

    def tool_env(self, **extra: str) -> dict[str, str]:
        """The environment for tests/aws's tools (s3_tool, dynamo_tool) signing for this peer."""
        env = dict(os.environ)
        env.update(
            IMGUP_TEST_AWS_ACCESS_KEY_ID=self.access_key_id,
            IMGUP_TEST_AWS_SECRET_ACCESS_KEY=self.secret_access_key,
            IMGUP_TEST_AWS_REGION=self.region,
        )
        env.update(extra)
        return env

    def boto3_args(self) -> dict[str, str]:
        return dict(
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


def required() -> bool:
    return os.environ.get("IMGUP_REQUIRE_AWS_PEERS") == "1" or os.environ.get("CI") == "true"


def missing(what: str) -> None:
    """Fails or skips the calling test, saying what is missing."""
    message = f"{what}: run under scripts/with-aws-peers.sh (make test does)"
    if required():
        pytest.fail(message)
    pytest.skip(message)


def s3_peer() -> Peer:
    """versitygw, with its root user's keys."""
    endpoint = os.environ.get("IMGUP_TEST_S3_ENDPOINT", "")
    key = os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "")
    if not (endpoint and key and secret):
        missing("no S3 peer (IMGUP_TEST_S3_ENDPOINT and its keys)")
    return Peer(endpoint, key, secret)


def dynamodb_peer() -> Peer:
    """moto in its auth mode, with its IAM user's keys."""
    endpoint = os.environ.get("IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT", "")
    key = os.environ.get("IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID", "")
    secret = os.environ.get("IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY", "")
    if not (endpoint and key and secret):
        missing("no DynamoDB peer in auth mode (IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT and its keys)")
    return Peer(endpoint, key, secret)


def tool(variable: str) -> str:
    path = os.environ.get(variable, "")
    if not path:
        missing(f"{variable} is not set (the Makefile's targets set it)")
    return path


def run_tool(argv: list[str], env: dict[str, str], stdin: bytes = b""):
    """Runs a tests/aws tool: (exit status, stdout bytes, stderr text, the attempts it reported
    on its "attempts: N" line, or None)."""
    done = subprocess.run(argv, input=stdin, capture_output=True, timeout=120, env=env)
    stderr = done.stderr.decode(errors="replace")
    found = re.findall(r"^attempts: (\d+)$", stderr, re.M)
    return done.returncode, done.stdout, stderr, int(found[-1]) if found else None


def scratch_bucket(peer: Peer, prefix: str):
    """A new bucket on the S3 peer (made and emptied with boto3), for a fixture to yield from."""
    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}), **peer.boto3_args())
    name = prefix + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    yield name
    for entry in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)
