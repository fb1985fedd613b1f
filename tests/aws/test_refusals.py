"""What imgup says when a peer refuses it: a wrong secret, an unknown access key id (versitygw and
moto in its auth mode both check SigV4), and a clock too far off (versitygw checks the signing
time). Each refusal is tried once, not retried, and the error names the cause.

Through tests/aws/s3_tool (S3BlobStore) and tests/aws/dynamo_tool (DynamoMetadataStore's client).
"""

from __future__ import annotations

import secrets

import pytest

import peers

boto3 = pytest.importorskip("boto3")


def run_tool(argv, env, stdin=b""):
    status, _, stderr, attempts = peers.run_tool(argv, env, stdin)
    return status, stderr, attempts


@pytest.fixture()
def s3peer():
    return peers.s3_peer()


@pytest.fixture()
def bucket(s3peer):
    yield from peers.scratch_bucket(s3peer, "imgup-refusals-")


def s3_put(s3peer, bucket, **env):
    return run_tool(
        [peers.tool("IMGUP_S3_TOOL"), bucket, "put", "originals/a/1", "image/png"],
        s3peer.tool_env(IMGUP_TEST_S3_ENDPOINT=s3peer.endpoint, **env),
        stdin=b"\x89PNG\r\n\x1a\n",
    )


def test_versitygw_refuses_a_wrong_secret_and_imgup_says_the_secret_is_wrong(s3peer, bucket):
    status, stderr, attempts = s3_put(
        s3peer, bucket, IMGUP_TEST_AWS_SECRET_ACCESS_KEY=s3peer.secret_access_key + "x"
    )
    assert status == 1
    assert stderr.startswith("storage_error: The blob store refused imgup's credentials.")
    assert "403 SignatureDoesNotMatch" in stderr
    assert "the secret access key is wrong for this access key id" in stderr
    assert attempts == 1


def test_versitygw_refuses_an_unknown_access_key_id(s3peer, bucket):
    status, stderr, attempts = s3_put(s3peer, bucket, IMGUP_TEST_AWS_ACCESS_KEY_ID="AKIANOSUCHKEY0000000")
    assert status == 1
    assert stderr.startswith("storage_error: The blob store refused imgup's credentials.")
    assert "the access key id is not known to the service" in stderr
    assert attempts == 1


@pytest.mark.parametrize("skew_s", [-3600, 3600])
def test_a_clock_an_hour_off_is_named_as_the_cause(s3peer, bucket, skew_s):
    status, stderr, attempts = s3_put(s3peer, bucket, IMGUP_TEST_CLOCK_SKEW_S=str(skew_s))
    assert status == 1
    assert stderr.startswith(
        "clock_skewed: The blob store refused the request: this server's clock is too far from "
        "the storage service's. Set the clock right (NTP)."
    ), stderr
    assert "RequestTimeTooSkewed" in stderr
    assert "the service's clock says" in stderr
    assert attempts == 1


@pytest.fixture()
def dynamopeer():
    return peers.dynamodb_peer()


def dynamo_create(dynamopeer, table, **env):
    return run_tool(
        [peers.tool("IMGUP_DYNAMO_TOOL"), dynamopeer.endpoint, table, "create"],
        dynamopeer.tool_env(**env),
    )


def test_moto_in_auth_mode_refuses_a_wrong_secret_and_imgup_says_the_secret_is_wrong(dynamopeer):
    table = "imgup-refusals-" + secrets.token_hex(6)
    status, stderr, attempts = dynamo_create(
        dynamopeer, table, IMGUP_TEST_AWS_SECRET_ACCESS_KEY=dynamopeer.secret_access_key + "x"
    )
    assert status == 1
    assert "storage_error: The metadata store refused imgup's credentials." in stderr
    assert "403 SignatureDoesNotMatch" in stderr  # moto's XML answer, parsed
    assert "the secret access key is wrong for this access key id" in stderr
    assert attempts == 1
    dynamodb = boto3.client("dynamodb", **dynamopeer.boto3_args())
    assert table not in dynamodb.list_tables()["TableNames"]


def test_moto_in_auth_mode_refuses_an_unknown_access_key_id(dynamopeer):
    status, stderr, attempts = dynamo_create(
        dynamopeer, "imgup-refusals-" + secrets.token_hex(6),
        IMGUP_TEST_AWS_ACCESS_KEY_ID="AKIANOSUCHKEY0000000",
    )
    assert status == 1
    assert "storage_error: The metadata store refused imgup's credentials." in stderr
    assert "InvalidClientTokenId" in stderr
    assert "the access key id is not known to the service" in stderr
    assert attempts == 1
