"""Uploads past the inline limit on the serverless path (issue D, item 4; ADR 15), under AWS's
Lambda Runtime Interface Emulator: the API function's inline limit at its boundary (what fits in
Lambda's 6 MB payload once API Gateway has base64-encoded the body), and with the S3 and
DynamoDB peers (versitygw + moto, scripts/with-aws-peers.sh): POST /uploads through the API
function, S3's presigned POST posted to versitygw with `requests` as a boto3 user does (the bytes
land under the staging key uploads/{owner}/{id}), the S3 event of the staged object (AWS's
sample, as the processor tests build it) to the processor function → committed: the validated
bytes under originals/, whose own event → the record ready and its variants in the bucket; the
ticket's TTL attribute read back with boto3; bytes that are not the declared type → the upload
failed with the reason and the staged object gone; the form posted again after the commit (the
attack of issue D's staging fix) → deleted, the image's bytes unchanged."""

from __future__ import annotations

import json
import os
import random
import struct
import threading
import zlib

import pytest
import requests

from test_api_function import body_json, http_api, proxy_response
from test_processor_function import SEED_PNG, png_with_pixel_data, s3_put

# apps/lambda_api/config.hpp: (6 MiB - 64 KiB) * 3 / 4, the default IMGUP_MAX_BODY_BYTES.
LAMBDA_INLINE_LIMIT = (6 * 1024 * 1024 - 64 * 1024) // 4 * 3


def png_of_size(size: int) -> bytes:
    """A PNG of exactly `size` bytes: the seed's header, one IDAT of random bytes, IEND. It
    passes the request path's checks (the header); only the pipeline would decode it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = SEED_PNG[:SEED_PNG.index(b"IDAT") - 4]
    fixed = len(header) + len(chunk(b"IDAT", b"")) + len(chunk(b"IEND", b""))
    return header + chunk(b"IDAT", random.randbytes(size - fixed)) + chunk(b"IEND", b"")


def raw_upload(data: bytes) -> dict:
    import base64
    event = http_api("POST", "/upload", query="filename=big.png")
    event["headers"]["content-type"] = "image/png"
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return event


def test_the_inline_limit_follows_from_lambdas_payload_limit(start_function):
    fn = start_function()
    health = body_json(proxy_response(fn, http_api("GET", "/health")))
    assert health["limits"]["max_body_bytes"] == LAMBDA_INLINE_LIMIT
    assert health["limits"]["max_upload_bytes"] > LAMBDA_INLINE_LIMIT

    under = raw_upload(png_of_size(LAMBDA_INLINE_LIMIT))
    assert len(json.dumps(under)) < 6 * 1024 * 1024  # the event itself fits in Lambda's payload
    created = proxy_response(fn, under)
    assert created["statusCode"] == 201, created["body"][:500]
    assert body_json(created)["size_bytes"] == LAMBDA_INLINE_LIMIT

    over = proxy_response(fn, raw_upload(png_of_size(LAMBDA_INLINE_LIMIT + 1)))
    assert over["statusCode"] == 413, over
    problem = body_json(over)
    assert problem["code"] == "payload_too_large"
    assert str(LAMBDA_INLINE_LIMIT) in problem["detail"] and "POST /uploads" in problem["detail"]


def test_post_uploads_answers_a_form_and_a_pending_record(start_function):
    fn = start_function()
    event = http_api("POST", "/uploads")
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps({"filename": "big.png", "content_type": "image/png", "size_bytes": 9_000_000})
    created = proxy_response(fn, event)
    assert created["statusCode"] == 201, created
    form = body_json(created)
    assert form["fields"]["key"] == f"uploads/ann/{form['id']}"
    pending = body_json(proxy_response(fn, http_api("GET", f"/images/{form['id']}")))
    assert pending["status"] == "awaiting_upload" and pending["size_bytes"] == 9_000_000
    listed = body_json(proxy_response(fn, http_api("GET", "/images")))
    assert form["id"] not in [i["id"] for i in listed["items"]]


@pytest.fixture
def aws_stack(start_function, start_processor, aws_peer_store):
    """The API and processor functions on a fresh bucket and table of the AWS peers."""
    settings = dict(IMGUP_STORAGE="aws", IMGUP_DATA_DIR="", IMGUP_BUCKET=aws_peer_store.name,
                    IMGUP_TABLE=aws_peer_store.name, IMGUP_CURSOR_SECRET="lambda-test-cursor-secret",
                    **aws_peer_store.env)

    class Stack:
        bucket = aws_peer_store.name
        api = start_function(**settings)
        processor = start_processor(**settings)
        s3 = aws_peer_store.client("s3")
        dynamodb = aws_peer_store.client("dynamodb")

        def keys(self, prefix: str) -> list[str]:
            listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
            return sorted(o["Key"] for o in listed.get("Contents", []))

        def ticket(self, owner: str, image_id: str):
            return self.dynamodb.get_item(TableName=self.bucket, ConsistentRead=True,
                                          Key={"PK": {"S": f"OWNER#{owner}"}, "SK": {"S": f"UPLOAD#{image_id}"}}).get("Item")

    return Stack()


def start_upload(api, data: bytes, content_type: str) -> dict:
    event = http_api("POST", "/uploads")
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps({"filename": "big.png", "content_type": content_type, "size_bytes": len(data)})
    created = proxy_response(api, event)
    assert created["statusCode"] == 201, created
    return body_json(created)


def post_form(form: dict, data: bytes, content_type: str) -> requests.Response:
    """What a boto3 user does with generate_presigned_post's answer."""
    return requests.post(form["url"], data=form["fields"], files={"file": ("big.png", data, content_type)},
                         timeout=30)


def deliver(processor, key: str) -> dict:
    r = processor.invoke(s3_put(key))
    assert r.status_code == 200, r.text
    assert "errorType" not in r.json(), f"{r.text}\n{processor.log()}"
    return r.json()["records"][0]


def content_of(api, image_id: str) -> bytes:
    """GET /images/{id}/content as a client gets it: the function's 302, then S3's answer."""
    answer = proxy_response(api, http_api("GET", f"/images/{image_id}/content"))
    assert answer["statusCode"] == 302, answer
    return requests.get(answer["headers"]["Location"], timeout=30).content


def test_a_presigned_upload_through_s3_and_its_event_becomes_ready(aws_stack):
    data = SEED_PNG
    form = start_upload(aws_stack.api, data, "image/png")
    staged = form["fields"]["key"]
    key = f"originals/ann/{form['id']}"
    assert staged == f"uploads/ann/{form['id']}"
    assert form["url"].startswith(os.environ["IMGUP_TEST_S3_ENDPOINT"]), form["url"]
    assert "policy" in form["fields"] and "x-amz-signature" in form["fields"], form["fields"]

    # The pending upload's TTL, as DynamoDB reads it: epoch seconds in `expires_at`, on the
    # table's TTL attribute.
    item = aws_stack.ticket("ann", form["id"])
    assert item["state"] == {"S": "awaiting_upload"}
    expires_at = int(item["expires_at"]["N"])
    assert expires_at == -(-int(item["expires_at_ms"]["N"]) // 1000)
    ttl = aws_stack.dynamodb.describe_time_to_live(TableName=aws_stack.bucket)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at" and ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING")

    # Past the declared size: S3 (versitygw) refuses the form and stores nothing.
    too_big = post_form(form, data + b"\0", "image/png")
    assert too_big.status_code == 400 and b"EntityTooLarge" in too_big.content, too_big.text
    assert aws_stack.keys("uploads/") == []

    assert post_form(form, data, "image/png").status_code == 204
    assert aws_stack.keys("uploads/") == [staged] and aws_stack.keys("originals/") == []
    # The staged object's event commits it, without pixel work: the original, no variants yet.
    assert deliver(aws_stack.processor, staged)["outcome"] == "committed"
    assert aws_stack.keys("uploads/") == [] and aws_stack.keys("originals/") == [key]
    assert aws_stack.keys("variants/") == []
    assert aws_stack.ticket("ann", form["id"]) is None  # committed: the ticket is gone
    assert '"outcome":"committed"' in aws_stack.processor.log()
    # Delivered again: no ticket awaits, nothing changes.
    assert deliver(aws_stack.processor, staged)["outcome"] == "ignored"
    # The Put under originals/ raised the original's own event: processed as an inline upload.
    for _ in range(2):  # delivered twice: one record, one set of variants
        assert deliver(aws_stack.processor, key)["outcome"] == "ready"
    record = body_json(proxy_response(aws_stack.api, http_api("GET", f"/images/{form['id']}")))
    assert record["status"] == "ready" and set(record["variants"]) == {"thumb", "medium"}, record
    assert aws_stack.keys(f"variants/ann/{form['id']}/") == sorted(
        f"variants/ann/{form['id']}/{v}.webp" for v in ("thumb", "medium"))
    original = aws_stack.s3.get_object(Bucket=aws_stack.bucket, Key=key)
    assert original["Body"].read() == data and original["ContentType"] == "image/png"


def test_the_form_posted_again_after_the_commit_changes_nothing(aws_stack):
    """The attack: an S3 form can be posted any number of times until it expires. Posted again
    once the image is ready, with an HTML file sent as image/png or with another image, the new
    bytes stay under the staging key, their event deletes them, and the image's bytes (in the
    bucket and through GET /images/{id}/content) are the validated ones."""
    data = SEED_PNG
    html = b"<!doctype html><script>alert(document.cookie)</script>" + b" " * (len(data) - 60)
    other = png_with_pixel_data(b"\x00" * 42)  # well-formed chunks: passes the commit's checks
    form = start_upload(aws_stack.api, data, "image/png")
    staged, key = form["fields"]["key"], f"originals/ann/{form['id']}"
    assert post_form(form, data, "image/png").status_code == 204
    assert deliver(aws_stack.processor, staged)["outcome"] == "committed"
    assert deliver(aws_stack.processor, key)["outcome"] == "ready"
    before = body_json(proxy_response(aws_stack.api, http_api("GET", f"/images/{form['id']}")))
    assert content_of(aws_stack.api, form["id"]) == data

    for again in (html[:len(data)], other):
        assert post_form(form, again, "image/png").status_code == 204  # S3 takes it: the form is valid
        assert aws_stack.keys("uploads/") == [staged]
        assert aws_stack.s3.get_object(Bucket=aws_stack.bucket, Key=key)["Body"].read() == data
        outcome = deliver(aws_stack.processor, staged)
        assert outcome["outcome"] == "ignored" and outcome["reason"].startswith("no_ticket"), outcome
        assert aws_stack.keys("uploads/") == []  # the staged object is gone
        assert aws_stack.s3.get_object(Bucket=aws_stack.bucket, Key=key)["Body"].read() == data
        assert content_of(aws_stack.api, form["id"]) == data
        after = body_json(proxy_response(aws_stack.api, http_api("GET", f"/images/{form['id']}")))
        assert after == before


def test_the_staged_event_ten_times_at_once_leaves_one_record_and_one_set_of_variants(
        aws_stack, start_processor, aws_peer_store):
    settings = dict(IMGUP_STORAGE="aws", IMGUP_DATA_DIR="", IMGUP_BUCKET=aws_peer_store.name,
                    IMGUP_TABLE=aws_peer_store.name, **aws_peer_store.env)
    instances = [aws_stack.processor] + [start_processor(**settings) for _ in range(4)]
    data = SEED_PNG
    form = start_upload(aws_stack.api, data, "image/png")
    staged, key = form["fields"]["key"], f"originals/ann/{form['id']}"
    assert post_form(form, data, "image/png").status_code == 204

    def at_once(event_key: str) -> list[dict]:
        # Two rounds of five concurrent deliveries: the emulator runs one invocation at a time
        # per instance, so each round has the event in five processes at once.
        answers: list = [None] * 10

        def one(i: int) -> None:
            answers[i] = instances[i % 5].invoke(s3_put(event_key))

        for first in (0, 5):
            threads = [threading.Thread(target=one, args=(i,)) for i in range(first, first + 5)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for r in answers:
            assert r.status_code == 200 and "errorType" not in r.json(), r.text
        return [r.json()["records"][0]["outcome"] for r in answers]

    staged_outcomes = at_once(staged)
    assert "committed" in staged_outcomes and set(staged_outcomes) <= {"committed", "ignored"}, staged_outcomes
    assert aws_stack.keys("uploads/") == [] and aws_stack.keys("originals/") == [key]
    assert set(at_once(key)) == {"ready"}
    listed = body_json(proxy_response(aws_stack.api, http_api("GET", "/images")))
    assert [item["id"] for item in listed["items"]] == [form["id"]]
    assert aws_stack.keys("variants/") == sorted(
        f"variants/ann/{form['id']}/{v}.webp" for v in ("thumb", "medium"))
    assert aws_stack.s3.get_object(Bucket=aws_stack.bucket, Key=key)["Body"].read() == data
    assert aws_stack.ticket("ann", form["id"]) is None


def test_bytes_that_are_not_the_declared_type_fail_the_record_and_are_deleted(aws_stack):
    form = start_upload(aws_stack.api, SEED_PNG, "image/jpeg")
    key = form["fields"]["key"]
    assert post_form(form, SEED_PNG, "image/jpeg").status_code == 204  # S3 checks the field only
    r = aws_stack.processor.invoke(s3_put(key))
    assert r.status_code == 200, r.text
    outcome = r.json()["records"][0]
    assert outcome["outcome"] == "failed" and outcome["reason"].startswith("content_type_mismatch"), outcome
    assert aws_stack.keys(key) == []
    assert aws_stack.keys("originals/") == []
    record = body_json(proxy_response(aws_stack.api, http_api("GET", f"/images/{form['id']}")))
    assert record["status"] == "failed" and record["failure_reason"].startswith("content_type_mismatch")
    # A second delivery changes nothing.
    again = aws_stack.processor.invoke(s3_put(key)).json()["records"][0]
    assert again["outcome"] == "failed", again
    # The form is S3's, good until it expires: bytes posted again after the refusal are deleted
    # on their event too, not left at a key no record names.
    assert post_form(form, SEED_PNG, "image/jpeg").status_code == 204
    assert aws_stack.keys(key) == [key]
    reposted = aws_stack.processor.invoke(s3_put(key)).json()["records"][0]
    assert reposted["outcome"] == "failed", reposted
    assert aws_stack.keys(key) == []
