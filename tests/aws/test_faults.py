"""The AWS adapters through faults: a small proxy (fault_proxy.py) between imgup's client and the
peers (versitygw for S3, moto in its auth mode for DynamoDB) answers for them, cuts uploads
half-way and loses answers, and the tests look at what a user would see: the tool's outcome and
error, how many attempts reached the proxy, and what is in the bucket or the table afterwards
(read there directly with boto3, not through the proxy).

S3BlobStore through tests/aws/s3_tool, DynamoMetadataStore through tests/aws/dynamo_tool, each
with the retry policy the test gives (tests/aws/tool_env.hpp). No timing is asserted: attempt
counts and outcomes only.
"""

from __future__ import annotations

import hashlib
import os
import secrets

import pytest

import peers
from fault_proxy import (
    DYNAMO_INTERNAL,
    INTERNAL_ERROR,
    SLOW_DOWN,
    THROTTLING,
    Answer,
    DropMidBody,
    FaultProxy,
    LoseAnswer,
)

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

# Fast retries, so that the tests do not wait on the production backoff; the count is the test's.
FAST = {"IMGUP_TEST_RETRY_BASE_MS": "1", "IMGUP_TEST_RETRY_CAP_MS": "5"}


run_tool = peers.run_tool


# ---------------------------------------------------------------------------------------------
# S3


@pytest.fixture()
def s3peer():
    return peers.s3_peer()


@pytest.fixture()
def s3(s3peer):
    return boto3.client(
        "s3", config=Config(s3={"addressing_style": "path"}), **s3peer.boto3_args()
    )


@pytest.fixture()
def bucket(s3peer):
    yield from peers.scratch_bucket(s3peer, "imgup-faults-")


@pytest.fixture()
def s3proxy(s3peer):
    proxy = FaultProxy(s3peer.endpoint)
    yield proxy
    proxy.stop()


def put(s3peer, proxy, bucket, key, data, **env):
    tool = peers.tool("IMGUP_S3_TOOL")
    return run_tool(
        [tool, bucket, "put", key, "image/jpeg"],
        s3peer.tool_env(IMGUP_TEST_S3_ENDPOINT=proxy.url, **FAST, **env),
        stdin=data,
    )


def objects(s3, bucket):
    return {e["Key"]: e["Size"] for e in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


IMAGE = os.urandom(200 * 1024)


def test_s3_slowdown_n_times_then_success_is_retried_and_stores_one_object(
    s3peer, s3, bucket, s3proxy
):
    s3proxy.add(Answer(status=503, body=SLOW_DOWN, times=3, method="PUT"))
    status, _, stderr, attempts = put(s3peer, s3proxy, bucket, "originals/a/1", IMAGE)
    assert status == 0, stderr
    assert attempts == 4
    assert [r.fault for r in s3proxy.seen("PUT")] == ["answer"] * 3 + ["pass"]
    assert objects(s3, bucket) == {"originals/a/1": len(IMAGE)}
    assert s3.get_object(Bucket=bucket, Key="originals/a/1")["Body"].read() == IMAGE


def test_s3_500_forever_ends_after_the_configured_attempts_with_storage_unavailable(
    s3peer, s3, bucket, s3proxy
):
    s3proxy.add(Answer(status=500, body=INTERNAL_ERROR))
    for max_attempts in (3, 6):
        before = len(s3proxy.seen("PUT"))
        status, _, stderr, attempts = put(
            s3peer, s3proxy, bucket, "originals/a/2", IMAGE,
            IMGUP_TEST_RETRY_MAX_ATTEMPTS=str(max_attempts),
        )
        assert status == 1
        assert stderr.startswith("storage_unavailable: The blob store is temporarily unavailable.")
        assert "500 InternalError" in stderr
        assert attempts == max_attempts
        assert len(s3proxy.seen("PUT")) - before == max_attempts
    assert objects(s3, bucket) == {}  # nothing half-written


def test_s3_retries_stop_at_the_configured_total_time(s3peer, s3, bucket, s3proxy):
    # Each answer takes 0.3 s and the call may take 1 s: whatever the machine's load, no attempt
    # starts after the first 1 s, so at most 4 are made (of the 50 allowed).
    s3proxy.add(Answer(status=500, body=INTERNAL_ERROR, delay_s=0.3))
    status, _, stderr, attempts = put(
        s3peer, s3proxy, bucket, "originals/a/3", IMAGE,
        IMGUP_TEST_RETRY_MAX_ATTEMPTS="50", IMGUP_TEST_RETRY_MAX_TOTAL_MS="1000",
    )
    assert status == 1
    assert stderr.startswith("storage_unavailable:")
    assert 1 <= attempts <= 4
    assert len(s3proxy.seen("PUT")) == attempts
    assert objects(s3, bucket) == {}


def test_s3_retry_after_is_honoured_and_one_beyond_the_budget_ends_the_call(
    s3peer, s3, bucket, s3proxy
):
    # Retry-After within the call's time: waited for, then tried again (and stored).
    s3proxy.add(Answer(status=503, body=SLOW_DOWN, headers={"Retry-After": "1"}, times=1))
    status, _, stderr, attempts = put(s3peer, s3proxy, bucket, "originals/a/4", IMAGE)
    assert status == 0, stderr
    assert attempts == 2
    # Retry-After past the call's 10 s: not waited for, the throttling is returned at once.
    s3proxy.add(Answer(status=503, body=SLOW_DOWN, headers={"Retry-After": "3600"}))
    status, _, stderr, attempts = put(s3peer, s3proxy, bucket, "originals/a/5", IMAGE)
    assert status == 1
    assert stderr.startswith("storage_unavailable:")
    assert "SlowDown" in stderr
    assert attempts == 1
    assert objects(s3, bucket) == {"originals/a/4": len(IMAGE)}


def test_s3_an_upload_cut_off_half_way_is_sent_again_and_stored_whole(
    s3peer, s3, bucket, s3proxy
):
    s3proxy.add(DropMidBody(times=2, method="PUT"))
    status, _, stderr, attempts = put(s3peer, s3proxy, bucket, "originals/a/6", IMAGE)
    assert status == 0, stderr
    assert attempts == 3
    assert objects(s3, bucket) == {"originals/a/6": len(IMAGE)}
    stored = s3.get_object(Bucket=bucket, Key="originals/a/6", ChecksumMode="ENABLED")
    assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(IMAGE).digest()


def test_s3_uploads_always_cut_off_fail_cleanly_and_leave_no_object(
    s3peer, s3, bucket, s3proxy
):
    s3proxy.add(DropMidBody(method="PUT"))
    status, _, stderr, attempts = put(
        s3peer, s3proxy, bucket, "originals/a/7", IMAGE, IMGUP_TEST_RETRY_MAX_ATTEMPTS="3"
    )
    assert status == 1
    assert stderr.startswith("storage_unavailable:")
    assert "connection_failed" in stderr
    assert attempts == 3
    assert objects(s3, bucket) == {}


def test_s3_a_lost_answer_is_retried_and_the_object_is_stored_once(s3peer, s3, bucket, s3proxy):
    s3proxy.add(LoseAnswer(times=1, method="PUT"))
    status, _, stderr, attempts = put(s3peer, s3proxy, bucket, "originals/a/8", IMAGE)
    assert status == 0, stderr
    assert attempts == 2
    assert objects(s3, bucket) == {"originals/a/8": len(IMAGE)}
    assert s3.get_object(Bucket=bucket, Key="originals/a/8")["Body"].read() == IMAGE


# ---------------------------------------------------------------------------------------------
# DynamoDB (moto in its auth mode: the proxy passes the signature on untouched)


@pytest.fixture()
def dynamopeer():
    return peers.dynamodb_peer()


@pytest.fixture()
def dynamodb(dynamopeer):
    return boto3.client("dynamodb", **dynamopeer.boto3_args())


@pytest.fixture()
def dynamoproxy(dynamopeer):
    proxy = FaultProxy(dynamopeer.endpoint)
    yield proxy
    proxy.stop()


@pytest.fixture()
def table(dynamopeer, dynamodb):
    name = "imgup-faults-" + secrets.token_hex(6)
    status, _, stderr, _ = run_tool(
        [peers.tool("IMGUP_DYNAMO_TOOL"), dynamopeer.endpoint, name, "create"],
        dynamopeer.tool_env(),
    )
    assert status == 0, stderr
    yield name
    dynamodb.delete_table(TableName=name)


def dynamo(dynamopeer, proxy, table, *step, **env):
    return run_tool(
        [peers.tool("IMGUP_DYNAMO_TOOL"), proxy.url, table, *step],
        dynamopeer.tool_env(**FAST, **env),
    )


def scan(dynamodb, table):
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items.extend(page["Items"])
    return sorted((item["PK"]["S"], item["SK"]["S"]) for item in items)


ID = "01JDX3S9Q7M6V2B8R4T0YH5KCE"
SHA = "ab" * 32
# What one inserted record is in the table (docs/dynamodb.md): the image item, its content marker
# and the owner's directory entry.
ONE_RECORD = sorted(
    [("OWNER#alice", f"IMAGE#{ID}"), ("OWNER#alice", f"SHA256#{SHA}"), ("OWNERS", "alice")]
)


def test_dynamodb_throttling_n_times_then_success_is_retried_and_writes_one_record(
    dynamopeer, dynamodb, table, dynamoproxy
):
    dynamoproxy.add(
        Answer(status=400, body=THROTTLING, times=2, target_suffix=".TransactWriteItems")
    )
    status, _, stderr, attempts = dynamo(dynamopeer, dynamoproxy, table, "insert", "alice", ID, SHA)
    assert status == 0, stderr
    assert attempts == 3
    assert [r.fault for r in dynamoproxy.seen("POST", ".TransactWriteItems")] == [
        "answer", "answer", "pass"]
    assert scan(dynamodb, table) == ONE_RECORD
    status, out, stderr, _ = dynamo(dynamopeer, dynamoproxy, table, "get", "alice", ID)
    assert status == 0, stderr
    assert b'"sha256":"' + SHA.encode() in out


def test_dynamodb_500_forever_ends_after_the_configured_attempts_and_writes_nothing(
    dynamopeer, dynamodb, table, dynamoproxy
):
    dynamoproxy.add(Answer(status=500, body=DYNAMO_INTERNAL))
    status, _, stderr, attempts = dynamo(
        dynamopeer, dynamoproxy, table, "insert", "alice", ID, SHA,
        IMGUP_TEST_RETRY_MAX_ATTEMPTS="4",
    )
    assert status == 1
    assert "storage_unavailable: The metadata store is temporarily unavailable." in stderr
    assert attempts == 4
    assert scan(dynamodb, table) == []


def test_dynamodb_a_request_cut_off_half_way_is_sent_again(
    dynamopeer, dynamodb, table, dynamoproxy
):
    dynamoproxy.add(DropMidBody(times=1, target_suffix=".TransactWriteItems"))
    status, _, stderr, attempts = dynamo(dynamopeer, dynamoproxy, table, "insert", "alice", ID, SHA)
    assert status == 0, stderr
    assert attempts == 2
    assert scan(dynamodb, table) == ONE_RECORD
