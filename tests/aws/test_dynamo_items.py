"""boto3 reads back what DynamoMetadataStore wrote, in the shapes docs/dynamodb.md documents.

tests/aws/dynamo_tool (IMGUP_DYNAMO_TOOL) creates a table on the DynamoDB peer
(IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT, moto in its auth mode under scripts/with-aws-peers.sh, with its
IAM user's keys; IMGUP_TEST_DYNAMODB_ENDPOINT without it), writes three records and an
API key through the adapter, and prints the records as the port sees them. Here an independent
client, boto3 (PyPI), describes the table and scans it: every item must have exactly the keys,
attributes and types the document gives, and the indexes must answer the documented queries. A
change of the item shapes must change the document and this test together.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from decimal import Decimal

import pytest

boto3 = pytest.importorskip("boto3")
from boto3.dynamodb.types import TypeDeserializer  # noqa: E402

AUTH = bool(os.environ.get("IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT"))
ENDPOINT = os.environ.get(
    "IMGUP_TEST_DYNAMODB_AUTH_ENDPOINT" if AUTH else "IMGUP_TEST_DYNAMODB_ENDPOINT", ""
)
ACCESS_KEY = os.environ.get(
    "IMGUP_TEST_DYNAMODB_AUTH_ACCESS_KEY_ID" if AUTH else "IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing"
)
SECRET_KEY = os.environ.get(
    "IMGUP_TEST_DYNAMODB_AUTH_SECRET_ACCESS_KEY" if AUTH else "IMGUP_TEST_AWS_SECRET_ACCESS_KEY",
    "testing",
)
REGION = os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1")
TOOL_ENV = dict(
    os.environ,
    IMGUP_TEST_AWS_ACCESS_KEY_ID=ACCESS_KEY,
    IMGUP_TEST_AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    IMGUP_TEST_AWS_REGION=REGION,
)
TOOL = os.environ.get("IMGUP_DYNAMO_TOOL", "")
REQUIRED = os.environ.get("IMGUP_REQUIRE_AWS_PEERS") == "1" or os.environ.get("CI") == "true"

if not ENDPOINT or not TOOL:
    MESSAGE = (
        "IMGUP_TEST_DYNAMODB_ENDPOINT and IMGUP_DYNAMO_TOOL are not both set: run `make dynamo` "
        "(the DynamoDB peer is started by scripts/with-aws-peers.sh)"
    )
    if REQUIRED:
        raise RuntimeError(MESSAGE)
    pytest.skip(MESSAGE, allow_module_level=True)


@pytest.fixture(scope="module")
def client():
    return boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture(scope="module")
def written(client):
    """(table, what dynamo_tool wrote), the table deleted afterwards."""
    table = f"imgup-readback-{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [TOOL, ENDPOINT, table], capture_output=True, text=True, timeout=120, env=TOOL_ENV
    )
    try:
        assert done.returncode == 0, done.stderr
        yield table, json.loads(done.stdout)
    finally:
        try:
            client.delete_table(TableName=table)
        except client.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture(scope="module")
def items(client, written):
    table, _ = written
    found = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        found.extend(page["Items"])
    return found


def by_kind(items, kind):
    return [item for item in items if item["kind"] == {"S": kind}]


def S(text):
    return {"S": text}


def N(number):
    return {"N": str(number)}


def image_item(record, attempts, version):
    """The documented image item of a record (docs/dynamodb.md, "The image record")."""
    item = {
        "PK": S(f"OWNER#{record['owner']}"),
        "SK": S(f"IMAGE#{record['id']}"),
        "kind": S("image"),
        "version": N(version),
        "type_pk": S(f"{record['owner']}#{record['content_type']}"),
    }
    for name in ("id", "owner", "filename", "content_type", "format", "key", "sha256", "status"):
        item[name] = S(record[name])
    for name in ("uploaded_at_ms", "size_bytes", "width", "height"):
        item[name] = N(record[name])
    for name in ("failure_reason", "exif_json", "placeholder", "dominant_color", "phash",
                 "description"):
        if record[name]:
            item[name] = S(record[name])
    if record["phash"]:
        item["phash_pk"] = S(record["owner"])
    if record["tags"]:
        item["tags"] = {"L": [S(tag) for tag in record["tags"]]}
    if record["variants"]:
        item["variants"] = {"M": {
            name: {"M": {
                "width": N(v["width"]), "height": N(v["height"]),
                "size_bytes": N(v["size_bytes"]), "content_type": S(v["content_type"]),
                "key": S(v["key"]), "sha256": S(v["sha256"]),
            }} for name, v in record["variants"].items()
        }}
    if record["info"]:
        info = record["info"]
        item["info"] = {"M": {
            "bit_depth": N(info["bit_depth"]), "bands": N(info["bands"]),
            "has_alpha": {"BOOL": info["has_alpha"]}, "animated": {"BOOL": info["animated"]},
            "frame_count": N(info["frame_count"]), "icc_profile": S(info["icc_profile"]),
        }}
    if attempts:
        item["attempts"] = N(attempts)
    return item


def test_the_table_has_the_documented_keys_and_indexes(client, written):
    table, _ = written
    description = client.describe_table(TableName=table)["Table"]
    assert description["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {index["IndexName"]: index for index in description["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"by_type", "by_phash"}
    assert indexes["by_type"]["KeySchema"] == [
        {"AttributeName": "type_pk", "KeyType": "HASH"},
        {"AttributeName": "id", "KeyType": "RANGE"},
    ]
    assert indexes["by_type"]["Projection"] == {
        "ProjectionType": "INCLUDE", "NonKeyAttributes": ["uploaded_at_ms"]}
    assert indexes["by_phash"]["KeySchema"] == [
        {"AttributeName": "phash_pk", "KeyType": "HASH"},
        {"AttributeName": "id", "KeyType": "RANGE"},
    ]
    assert indexes["by_phash"]["Projection"] == {
        "ProjectionType": "INCLUDE", "NonKeyAttributes": ["phash"]}
    types = {d["AttributeName"]: d["AttributeType"] for d in description["AttributeDefinitions"]}
    assert types == {"PK": "S", "SK": "S", "type_pk": "S", "phash_pk": "S", "id": "S"}


def test_every_item_is_of_a_documented_kind(items):
    kinds = sorted(item["kind"]["S"] for item in items)
    assert kinds == sorted(
        ["image"] * 3 + ["sha256"] * 3 + ["tag"] * 3 + ["owner"] * 2 + ["apikey", "apikey_hash"])


def test_image_items_hold_exactly_the_documented_attributes(items, written):
    _, wrote = written
    images = {item["id"]["S"]: item for item in by_kind(items, "image")}
    for record in wrote["records"]:
        attempts = wrote["attempts"].get(record["id"], 0)
        # Only the first record had its tags changed (once).
        version = 1 if record["id"] == wrote["records"][0]["id"] else 0
        assert images[record["id"]] == image_item(record, attempts, version), record["id"]


def test_boto3_deserialises_an_image_item_into_plain_values(items, written):
    _, wrote = written
    record = wrote["records"][0]
    item = next(i for i in by_kind(items, "image") if i["id"]["S"] == record["id"])
    value = {name: TypeDeserializer().deserialize(v) for name, v in item.items()}
    assert value["tags"] == ["holiday", "sunset"]  # a list: the order is kept
    assert value["size_bytes"] == Decimal(5_000_000_000)  # beyond 32 bits
    assert value["variants"]["thumb"]["width"] == Decimal(256)
    assert value["info"]["has_alpha"] is True
    assert json.loads(value["exif_json"]) == {"make": "Canon", "iso": 100}


def test_each_record_claims_its_bytes_with_a_marker(items, written):
    _, wrote = written
    markers = {(m["PK"]["S"], m["SK"]["S"]): m for m in by_kind(items, "sha256")}
    for record in wrote["records"]:
        key = (f"OWNER#{record['owner']}", f"SHA256#{record['sha256']}")
        assert markers[key] == {
            "PK": S(key[0]), "SK": S(key[1]), "kind": S("sha256"), "image_id": S(record["id"])}


def test_tag_entries_follow_the_current_tags(items, written):
    _, wrote = written
    expected = []
    for record in wrote["records"]:
        for tag in dict.fromkeys(record["tags"]):
            expected.append({
                "PK": S(f"TAG#{record['owner']}#{tag}"), "SK": S(record["id"]), "kind": S("tag"),
                "content_type": S(record["content_type"]),
                "uploaded_at_ms": N(record["uploaded_at_ms"]),
            })
    key = lambda item: (item["PK"]["S"], item["SK"]["S"])  # noqa: E731
    assert sorted(by_kind(items, "tag"), key=key) == sorted(expected, key=key)
    # "beach" was replaced by "sunset": its entry went with it.
    assert not [i for i in items if i["PK"]["S"].endswith("#beach")]


def test_owners_and_api_keys(items, written):
    _, wrote = written
    assert sorted(i["SK"]["S"] for i in by_kind(items, "owner")) == ["alice", "bob"]
    assert all(i["PK"] == S("OWNERS") and len(i) == 3 for i in by_kind(items, "owner"))
    key = wrote["keys"][0]
    assert by_kind(items, "apikey") == [{
        "PK": S("APIKEYS"), "SK": S(f"NAME#{key['name']}"), "kind": S("apikey"),
        "name": S(key["name"]), "key_sha256": S(key["key_sha256"]),
        "created_ms": N(key["created_ms"]),
    }]
    assert by_kind(items, "apikey_hash") == [{
        "PK": S(f"APIKEY#{key['key_sha256']}"), "SK": S("APIKEY"), "kind": S("apikey_hash"),
        "name": S(key["name"]),
    }]


def test_the_indexes_answer_the_documented_queries(client, written):
    table, wrote = written
    full, minimal, failed = wrote["records"]
    jpegs = client.query(
        TableName=table, IndexName="by_type", KeyConditionExpression="type_pk = :t",
        ExpressionAttributeValues={":t": S("alice#image/jpeg")}, ScanIndexForward=False)
    assert [i["id"]["S"] for i in jpegs["Items"]] == [minimal["id"], full["id"]]
    assert set(jpegs["Items"][0]) == {"PK", "SK", "type_pk", "id", "uploaded_at_ms"}
    hashed = client.query(
        TableName=table, IndexName="by_phash", KeyConditionExpression="phash_pk = :o",
        ExpressionAttributeValues={":o": S("alice")})
    assert [(i["id"]["S"], i["phash"]["S"]) for i in hashed["Items"]] == [
        (full["id"], full["phash"])]
    assert client.query(
        TableName=table, IndexName="by_phash", KeyConditionExpression="phash_pk = :o",
        ExpressionAttributeValues={":o": S("bob")})["Items"] == []
    newest_first = client.query(
        TableName=table, KeyConditionExpression="PK = :p AND begins_with(SK, :i)",
        ExpressionAttributeValues={":p": S("OWNER#alice"), ":i": S("IMAGE#")},
        ScanIndexForward=False, ConsistentRead=True)
    assert [i["id"]["S"] for i in newest_first["Items"]] == [minimal["id"], full["id"]]
    assert failed["status"] == "failed"


AWS_CLI = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".venv", "bin", "aws")


def aws_cli(*args):
    """The AWS CLI (PyPI awscli, in the test venv) against the DynamoDB peer, its JSON answer."""
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [AWS_CLI, "--endpoint-url", ENDPOINT, "--output", "json", "dynamodb", *args],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_aws_cli_reads_every_item_as_documented(items, written):
    """A third reader, the AWS CLI, sees the very items boto3 saw (and so the documented shapes),
    and a record's item read by its key has the documented attributes."""
    table, wrote = written
    scanned = aws_cli("scan", "--table-name", table, "--consistent-read")["Items"]
    key = lambda item: (item["PK"]["S"], item["SK"]["S"])  # noqa: E731
    assert sorted(scanned, key=key) == sorted(items, key=key)
    record = wrote["records"][0]
    got = aws_cli(
        "get-item", "--table-name", table, "--consistent-read", "--key",
        json.dumps({"PK": S(f"OWNER#{record['owner']}"), "SK": S(f"IMAGE#{record['id']}")}),
    )["Item"]
    assert got == image_item(record, wrote["attempts"].get(record["id"], 0), 1)
