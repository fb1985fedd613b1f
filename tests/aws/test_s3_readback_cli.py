"""The AWS CLI (PyPI awscli, in the test venv) reads back what S3BlobStore wrote: the bytes, the
content type, the SHA-256 checksum S3 keeps (x-amz-checksum-sha256, asked for with
--checksum-mode ENABLED) and the server-side encryption the object was stored with.

On versitygw (the strict S3 peer): bytes, content type, checksum. versitygw takes the
x-amz-server-side-encryption header and keeps nothing of it (its HeadObject never names one), so
the encryption is read back from moto's S3 (the second S3 peer), which keeps it as S3 does (but
returns no checksum on HeadObject).

Through tests/aws/s3_tool; the peers come from scripts/with-aws-peers.sh.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess

import pytest

import peers

AWS_CLI = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".venv", "bin", "aws")
IMAGE = b"\xff\xd8\xff\xe0" + os.urandom(64 * 1024) + b"\xff\xd9"


def aws(peer: peers.Peer, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=peer.access_key_id,
        AWS_SECRET_ACCESS_KEY=peer.secret_access_key,
        AWS_DEFAULT_REGION=peer.region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", peer.endpoint, "--output", "json", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    return done


def moto_s3_peer() -> peers.Peer:
    endpoint = os.environ.get("IMGUP_TEST_DYNAMODB_ENDPOINT", "")
    if not endpoint:
        peers.missing("no moto (IMGUP_TEST_DYNAMODB_ENDPOINT)")
    return peers.Peer(endpoint, "testing", "testing")  # moto in its default mode takes any key


@pytest.fixture()
def peer():
    return peers.s3_peer()


def scratch_bucket(peer):
    name = "imgup-cli-" + secrets.token_hex(6)
    aws(peer, "s3api", "create-bucket", "--bucket", name)
    yield name
    aws(peer, "s3", "rm", f"s3://{name}", "--recursive")
    aws(peer, "s3api", "delete-bucket", "--bucket", name)


@pytest.fixture()
def bucket(peer):
    yield from scratch_bucket(peer)


@pytest.fixture()
def moto():
    return moto_s3_peer()


@pytest.fixture()
def moto_bucket(moto):
    yield from scratch_bucket(moto)


def put(peer, bucket, key, data, content_type, **env):
    done = subprocess.run(
        [peers.tool("IMGUP_S3_TOOL"), bucket, "put", key, content_type],
        input=data, capture_output=True, timeout=120,
        env=peer.tool_env(IMGUP_TEST_S3_ENDPOINT=peer.endpoint, **env),
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_the_aws_cli_reads_back_the_bytes_type_and_checksum(peer, bucket, tmp_path):
    key = "originals/alice/01JDX3S9Q7M6V2B8R4T0YH5KCE"
    put(peer, bucket, key, IMAGE, "image/jpeg")
    head = json.loads(
        aws(peer, "s3api", "head-object", "--bucket", bucket, "--key", key,
            "--checksum-mode", "ENABLED").stdout
    )
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == len(IMAGE)
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(IMAGE).digest()).decode()
    out = tmp_path / "object"
    aws(peer, "s3", "cp", f"s3://{bucket}/{key}", str(out))
    assert out.read_bytes() == IMAGE
    listed = json.loads(aws(peer, "s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [(key, len(IMAGE))]


def test_the_server_side_encryption_asked_for_is_the_objects(moto, moto_bucket):
    key = "originals/alice/01JDX3S9Q7M6V2B8R4T0YH5KCF"
    put(moto, moto_bucket, key, IMAGE, "image/jpeg", IMGUP_TEST_S3_SSE="AES256")
    head = json.loads(
        aws(moto, "s3api", "head-object", "--bucket", moto_bucket, "--key", key).stdout
    )
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == len(IMAGE)
