"""S3BlobStore against boto3 (PyPI), both on the same versitygw bucket.

boto3 reads what imgup's S3BlobStore wrote (bytes, content type, the SHA-256 checksum S3 kept)
and imgup reads and lists what boto3 wrote; imgup's presigned GET is fetched and its presigned
POST form posted by Python requests, as a browser would; the form's fields are boto3's
generate_presigned_post's, and its signature is recomputed here from the policy by the S3
documentation's steps.

Through tests/aws/s3_tool (S3BlobStore as a command). The peer comes from
scripts/with-aws-peers.sh; without it these tests fail under `make test`
(IMGUP_REQUIRE_AWS_PEERS=1) and skip when run by hand.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess

import boto3
import pytest
import requests
from botocore.config import Config

ENDPOINT = os.environ.get("IMGUP_TEST_S3_ENDPOINT", "")
REGION = os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1")
ACCESS_KEY = os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "")
SECRET_KEY = os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "")
TOOL = os.environ.get("IMGUP_S3_TOOL", "")


def _require_peer() -> None:
    missing = [
        name
        for name, value in [
            ("IMGUP_TEST_S3_ENDPOINT", ENDPOINT),
            ("IMGUP_TEST_AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("IMGUP_S3_TOOL", TOOL),
        ]
        if not value
    ]
    if missing:
        message = (
            f"no S3 peer or tool: {', '.join(missing)} not set; run under "
            "scripts/with-aws-peers.sh with IMGUP_S3_TOOL=build/dev/tests/aws/s3_tool "
            "(make s3-differential does)"
        )
        if os.environ.get("IMGUP_REQUIRE_AWS_PEERS") == "1" or os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture()
def s3():
    _require_peer()
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@pytest.fixture()
def bucket(s3):
    name = "imgup-diff-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    yield name
    listed = s3.list_objects_v2(Bucket=name).get("Contents", [])
    for entry in listed:
        s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def tool(bucket: str, *args: str, data: bytes = b"") -> bytes:
    done = subprocess.run(
        [TOOL, bucket, *args], input=data, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def tool_json(bucket: str, *args: str):
    return json.loads(tool(bucket, *args))


def test_boto3_reads_what_imgup_wrote(s3, bucket):
    data = secrets.token_bytes(200 * 1024)
    tool(bucket, "put", "originals/alice/01J1", "image/jpeg", data=data)

    got = s3.get_object(Bucket=bucket, Key="originals/alice/01J1", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ContentType"] == "image/jpeg"
    assert got["ContentLength"] == len(data)
    assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_imgup_reads_and_lists_what_boto3_wrote(s3, bucket):
    written = {}
    for i in range(7):
        key = f"variants/bob/01J{i}/thumb.webp"
        written[key] = secrets.token_bytes(100 + i)
        s3.put_object(Bucket=bucket, Key=key, Body=written[key], ContentType="image/webp")
    s3.put_object(Bucket=bucket, Key="originals/bob/01J1", Body=b"x")

    for key, data in written.items():
        assert tool(bucket, "get", key) == data
    head = tool_json(bucket, "head", "variants/bob/01J3/thumb.webp")
    assert head["size_bytes"] == 103
    boto_time = s3.head_object(Bucket=bucket, Key="variants/bob/01J3/thumb.webp")["LastModified"]
    assert head["modified_ms"] == int(boto_time.timestamp() * 1000)

    # imgup's pages of 3 walk what boto3 lists, in the same order.
    pages = tool_json(bucket, "list", "variants/", "3")
    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert all(page["next_token"] for page in pages[:-1]) and not pages[-1]["next_token"]
    listed = [item["key"] for page in pages for item in page["items"]]
    boto_listed = [
        entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, Prefix="variants/")["Contents"]
    ]
    assert listed == boto_listed == sorted(written)

    assert tool_json(bucket, "delete-prefix", "variants/bob/")["removed"] == 7
    left = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [entry["Key"] for entry in left] == ["originals/bob/01J1"]


def test_a_presigned_get_works_from_requests(s3, bucket):
    s3.put_object(Bucket=bucket, Key="originals/alice/01J1", Body=b"jpeg bytes",
                  ContentType="image/jpeg")
    url = tool(bucket, "presign-get", "originals/alice/01J1", "60", "image/jpeg",
               'attachment; filename="photo 1.jpg"').decode().strip()
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.content == b"jpeg bytes"
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="photo 1.jpg"'

    # The same parameters as boto3's own presigned URL, signature and time aside.
    mine = requests.utils.urlparse(url)
    theirs = requests.utils.urlparse(s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "originals/alice/01J1",
                "ResponseContentType": "image/jpeg",
                "ResponseContentDisposition": 'attachment; filename="photo 1.jpg"'},
        ExpiresIn=60))
    assert mine.path == theirs.path

    def names(query: str) -> set[str]:
        return {part.split("=", 1)[0] for part in query.split("&")}

    assert names(mine.query) == names(theirs.query)


def test_a_presigned_post_works_from_requests_and_looks_like_boto3s(s3, bucket):
    post = tool_json(bucket, "presign-post", "uploads/alice/01J1", "image/png", "100", "60")
    fields = post["fields"]
    names = [name for name, _ in fields]
    theirs = s3.generate_presigned_post(
        bucket, "uploads/alice/01J1", Fields={"Content-Type": "image/png"},
        Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 1, 100]],
        ExpiresIn=60)
    assert post["url"] == theirs["url"]
    assert set(names) == set(theirs["fields"])
    assert names[0] == "key" and names[-2:] == ["policy", "x-amz-signature"]
    values = dict(fields)

    # The signature is the HMAC of the base64 policy under the day's signing key.
    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    day, region, service = values["x-amz-credential"].split("/")[1:4]
    key = mac(mac(mac(mac(("AWS4" + SECRET_KEY).encode(), day), region), service), "aws4_request")
    assert values["x-amz-signature"] == hmac.new(
        key, values["policy"].encode(), hashlib.sha256).hexdigest()
    policy = json.loads(base64.b64decode(values["policy"]))
    their_policy = json.loads(base64.b64decode(theirs["fields"]["policy"]))
    assert sorted(map(json.dumps, policy["conditions"])) == sorted(
        map(json.dumps, their_policy["conditions"]))

    # Posted as a browser posts it: the fields in order, the file last.
    png = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(50)
    answer = requests.post(post["url"], data=fields, files={"file": ("a.png", png)}, timeout=10)
    assert answer.status_code == 204, answer.text
    got = s3.get_object(Bucket=bucket, Key="uploads/alice/01J1")
    assert got["Body"].read() == png
    assert got["ContentType"] == "image/png"

    too_large = requests.post(post["url"], data=fields, files={"file": ("a.png", b"x" * 101)},
                              timeout=10)
    assert too_large.status_code == 400 and "EntityTooLarge" in too_large.text
    other_key = [(n, "uploads/alice/01J2" if n == "key" else v) for n, v in fields]
    refused = requests.post(post["url"], data=other_key, files={"file": ("a.png", b"x")},
                            timeout=10)
    assert refused.status_code == 403, refused.text
    keys = [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["uploads/alice/01J1"]
