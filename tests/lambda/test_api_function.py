"""imgup-lambda-api under AWS's Lambda Runtime Interface Emulator, invoked with API Gateway
events built from AWS's own samples (fixtures/aws, `sam local generate-event`): the seed's upload
through both payload versions, list, get, 404, content through the stage, a body over the
limit, the Authenticator for events without an authorizer, an invocation error that leaves the
loop serving, and an init error."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aws"


def aws_event(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def http_api(method: str, path: str, stage: str = "prod", sub: str | None = "ann",
             query: str = "") -> dict:
    """AWS's HTTP API sample as API Gateway sends it at `stage` (the stage in front of rawPath),
    with a JWT authorizer naming `sub` (none when None)."""
    event = aws_event("http-api-proxy.json")
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event["rawPath"] = raw_path
    event["rawQueryString"] = query
    event.pop("queryStringParameters", None)
    event.pop("cookies", None)
    event["requestContext"]["stage"] = stage
    event["requestContext"]["http"].update(method=method, path=raw_path)
    if sub is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    event["body"] = None
    event["isBase64Encoded"] = False
    return event


def seed_upload_v2(stage: str = "prod", sub: str | None = "ann") -> dict:
    event = aws_event("http-api-proxy-seed-upload.json")
    sample = http_api("POST", "/upload", stage=stage, sub=sub)
    event["rawPath"] = sample["rawPath"]
    event["requestContext"] = sample["requestContext"]
    return event


def proxy_response(emulator, event) -> dict:
    """The function's answer to `event`, which must be a proxy response."""
    r = emulator.invoke(event)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert "statusCode" in answer, answer
    return answer


def body_json(answer: dict):
    assert answer["isBase64Encoded"] is False
    return json.loads(answer["body"])


def seed_png(event: dict) -> bytes:
    body = event["body"]
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return base64.b64decode(json.loads(body)["image_base64"])


def test_upload_list_get_content_and_404_through_an_http_api_stage(start_function):
    fn = start_function()
    upload = seed_upload_v2()
    created = proxy_response(fn, upload)
    assert created["statusCode"] == 201, created
    record = body_json(created)
    assert record["filename"] == "photo.png"
    assert record["content_type"] == "image/png"
    assert (record["width"], record["height"]) == (4, 4)
    assert record["key"] == f"originals/ann/{record['id']}"
    assert record["status"] == "processing"  # no processor function wired in here
    # Links go back through the stage.
    assert created["headers"]["Location"] == f"/prod/images/{record['id']}"
    assert record["urls"]["self"] == f"/prod/images/{record['id']}"
    assert created["headers"]["Content-Type"] == "application/json"

    again = proxy_response(fn, upload)
    assert again["statusCode"] == 200
    assert body_json(again)["duplicate"] is True

    listed = proxy_response(fn, http_api("GET", "/images", query="limit=10"))
    assert listed["statusCode"] == 200
    assert [item["id"] for item in body_json(listed)["items"]] == [record["id"]]

    got = proxy_response(fn, http_api("GET", f"/images/{record['id']}"))
    assert got["statusCode"] == 200
    assert body_json(got)["sha256"] == record["sha256"]

    # Another owner's view: nothing.
    assert proxy_response(fn, http_api("GET", f"/images/{record['id']}", sub="bob"))["statusCode"] == 404
    missing = proxy_response(fn, http_api("GET", "/images/01J00000000000000000000000"))
    assert missing["statusCode"] == 404
    assert missing["headers"]["Content-Type"] == "application/problem+json"
    assert body_json(missing)["code"] == "not_found"

    # Content: a redirect to a presigned URL under the stage, which the function answers with
    # the bytes, base64-encoded in the proxy response.
    content = proxy_response(fn, http_api("GET", f"/images/{record['id']}/content"))
    assert content["statusCode"] == 302, content
    location = content["headers"]["Location"]
    assert location.startswith("/prod/blobs/object?"), location
    path, _, query = location[len("/prod"):].partition("?")
    blob = proxy_response(fn, http_api("GET", path, query=query, sub=None))
    assert blob["statusCode"] == 200, blob
    assert blob["isBase64Encoded"] is True
    assert base64.b64decode(blob["body"]) == seed_png(upload)
    assert blob["headers"]["Content-Type"] == "image/png"


def test_the_seed_upload_through_a_rest_api_with_an_api_key_id(start_function):
    fn = start_function()
    event = aws_event("aws-proxy-seed-upload.json")
    event["requestContext"]["identity"]["apiKeyId"] = "k3y1d"
    created = proxy_response(fn, event)
    assert created["statusCode"] == 201, created
    record = body_json(created)
    assert record["key"] == f"originals/k3y1d/{record['id']}"
    assert created["multiValueHeaders"]["Location"] == [f"/prod/images/{record['id']}"]
    assert created["multiValueHeaders"]["X-Request-Id"][0]


def test_a_body_over_the_limit_is_413(start_function):
    fn = start_function(IMGUP_MAX_BODY_BYTES="1000")
    event = http_api("POST", "/upload")
    event["body"] = base64.b64encode(b"\xff" * 1001).decode()
    event["isBase64Encoded"] = True
    event["headers"]["content-type"] = "image/jpeg"
    answer = proxy_response(fn, event)
    assert answer["statusCode"] == 413
    assert body_json(answer)["code"] == "payload_too_large"


def test_events_without_an_authorizer_go_to_the_authenticator(start_function, imgup_binary, tmp_path):
    fn = start_function()
    # No key yet: keyless mode serves loopback names only, and API Gateway's host is not one.
    refused = proxy_response(fn, seed_upload_v2(sub=None))
    assert refused["statusCode"] == 403
    assert body_json(refused)["code"] == "forbidden_host"

    key = subprocess.run([str(imgup_binary), "keys", "add", "carol", "--data", str(tmp_path / "data")],
                         check=True, capture_output=True, text=True).stdout.strip().split()[-1]
    assert key.startswith("imgup_"), key
    event = seed_upload_v2(sub=None)
    assert proxy_response(fn, event)["statusCode"] == 401
    event["headers"]["x-api-key"] = key
    created = proxy_response(fn, event)
    assert created["statusCode"] == 201, created
    assert body_json(created)["key"].startswith("originals/carol/")


def test_a_failed_invocation_leaves_the_loop_serving(start_function):
    fn = start_function()
    assert proxy_response(fn, http_api("GET", "/health"))["statusCode"] == 200
    for not_an_event in ({"Records": [{"eventSource": "aws:s3"}]}, "not json at all"):
        r = fn.invoke(not_an_event)
        error = r.json()
        assert error["errorType"] == "Imgup.not_an_api_gateway_event", error
        assert "not an API Gateway proxy event" in error["errorMessage"]
    health = proxy_response(fn, http_api("GET", "/health"))
    assert health["statusCode"] == 200
    # The same process served it all: one init.
    log = fn.log()
    assert log.count("INIT START(type: on-demand, phase: init)") == 1, log
    assert "Runtime exited" not in log
    assert '"msg":"invocation failed"' in log


def test_an_init_failure_posts_an_init_error(start_function, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    fn = start_function(IMGUP_DATA_DIR=str(blocker / "data"))
    r = fn.invoke(http_api("GET", "/health"))
    assert r.status_code == 502, r.text
    error = r.json()
    assert error["errorType"] == "Imgup.storage_unavailable", error
    assert "data directory" in error["errorMessage"]
    log = fn.log()
    assert "INIT RTDONE(status: error)" in log
    assert '"msg":"init failed"' in log


def test_a_configuration_error_is_an_init_error(start_function):
    fn = start_function(IMGUP_STORAGE="local", IMGUP_DATA_DIR="")
    error = fn.invoke(http_api("GET", "/health")).json()
    assert error["errorType"] == "Imgup.invalid_config", error
    assert "IMGUP_DATA_DIR" in error["errorMessage"]


def test_the_cold_start_is_read_from_the_init_report(start_function):
    fn = start_function()
    assert proxy_response(fn, http_api("GET", "/health"))["statusCode"] == 200
    reports = fn.init_reports()
    assert len(reports) == 1 and reports[0] > 0, fn.log()


def test_an_upload_on_aws_storage_lands_in_the_bucket_and_the_table(start_function, aws_peer_store):
    """IMGUP_STORAGE=aws: the function on S3 + DynamoDB (the peers of scripts/with-aws-peers.sh),
    the bucket and table made by `imgup init-aws`; what the seed's upload stored is read back
    with boto3, and content answers with a redirect to a presigned S3 URL that serves the bytes."""
    import requests

    name, aws, s3_endpoint = aws_peer_store.name, aws_peer_store.env, aws_peer_store.s3_endpoint
    fn = start_function(IMGUP_STORAGE="aws", IMGUP_DATA_DIR="", IMGUP_BUCKET=name, IMGUP_TABLE=name,
                        IMGUP_CURSOR_SECRET="lambda-test-cursor-secret", **aws)
    upload = seed_upload_v2(sub="ann")
    created = proxy_response(fn, upload)
    assert created["statusCode"] == 201, created
    record = body_json(created)
    assert record["key"] == f"originals/ann/{record['id']}"

    s3 = aws_peer_store.client("s3")
    obj = s3.get_object(Bucket=name, Key=record["key"])
    assert obj["Body"].read() == seed_png(upload)
    assert obj["ContentType"] == "image/png"
    item = aws_peer_store.client("dynamodb").get_item(
        TableName=name, ConsistentRead=True,
        Key={"PK": {"S": "OWNER#ann"}, "SK": {"S": f"IMAGE#{record['id']}"}})["Item"]
    assert item["status"] == {"S": "processing"}  # the processor function is not wired in here
    assert item["sha256"] == {"S": record["sha256"]}

    again = proxy_response(fn, upload)
    assert again["statusCode"] == 200 and body_json(again)["duplicate"] is True
    listed = proxy_response(fn, http_api("GET", "/images", sub="ann"))
    assert [i["id"] for i in body_json(listed)["items"]] == [record["id"]]
    assert body_json(proxy_response(fn, http_api("GET", "/images", sub="bob")))["items"] == []

    # Content: a redirect straight to S3 (a presigned GET, checked by versitygw), not to the function.
    content = proxy_response(fn, http_api("GET", f"/images/{record['id']}/content", sub="ann"))
    assert content["statusCode"] == 302, content
    location = content["headers"]["Location"]
    assert location.startswith(f"{s3_endpoint}/{name}/{record['key']}?"), location
    assert "X-Amz-Signature=" in location
    assert requests.get(location, timeout=10).content == seed_png(upload)
