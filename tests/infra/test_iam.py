"""IAM, tested: the policies infra/template.yaml gives each function, applied in moto (its auth
mode: every request signed and checked against the caller's IAM policies), let every API route
and the processor work — and refuse what they should not.

How: the template's Policies and Environment of ApiFunction and ProcessorFunction are read and
their intrinsics resolved for one stack (tests/infra/cfn.py: a stack id, so a bucket name, and
a table name); a moto server of this test's own gets an IAM user per function with exactly
those statements, the bucket, the table built from the template's own table properties, and a
second bucket and table; then AWS's Lambda emulator runs imgup-lambda-api and
imgup-lambda-processor (as tests/lambda does) with each user's keys and the template's
environment, moto as their S3 and DynamoDB.

What moto 5 (5.2.1 here) checks, measured by this test itself (`moto_scopes_dynamodb`) and
before it by hand:
- S3 statements are evaluated with their resources: a PutObject allowed on
  `bucket/originals/*` works there and is refused on `bucket/other/...` and on another bucket.
  So S3 scoping is tested in moto.
- DynamoDB statements match only with `Resource: "*"`: a table-scoped allow is refused even on
  its own table. And moto names a transaction's permission `dynamodb:TransactWriteItems`, an
  action IAM does not have (AWS authorises each Put/Update/Delete/ConditionCheck inside it by
  that action). So, while moto behaves so, the DynamoDB statements go to moto with `Resource:
  "*"` and `TransactWriteItems` added where the statement grants PutItem, UpdateItem and
  DeleteItem (what imgup's transactions hold; moto cannot check the actions inside one, so
  one missing from a statement that has the others shows only on AWS): moto tests the
  *actions* (DeleteTable, Scan, CreateTable refused; every route's calls allowed), and the
  *resource* scoping is checked statically (every DynamoDB statement names only the table and
  its indexes, test_policies_name_only_the_stacks_bucket_and_table). If a later moto scopes
  DynamoDB resources, the statements go unchanged and another table is refused in moto too.
- A GET of a missing key without s3:ListBucket: S3 answers 403, moto 404 (NoSuchKey). The
  template grants ListBucket for that reason; moto cannot show the difference.
- Presigned URLs answer 500 in auth mode (docs/dynamodb.md): a content redirect is checked by
  its signature's key id and by the same user's GetObject of that key, not by following it.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

import cfn
from infra_env import ROOT, TEMPLATE

sys.path.insert(0, str(ROOT / "tests" / "lambda"))
from rie import Emulator, free_loopback_port, rie_bin  # noqa: E402
from test_api_function import body_json, http_api, proxy_response, seed_upload_v2  # noqa: E402
from test_processor_function import SEED_PNG, png_with_pixel_data, s3_put  # noqa: E402

REGION = "us-east-1"
OWNER = "8f1c2b7e-3a4d-4e5f-9a6b-7c8d9e0f1a2b"  # a Cognito sub
ADMIN_POLICY = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def binary(variable: str, name: str) -> Path:
    path = Path(os.environ.get(variable, ROOT / "build/dev" / name))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev --target {name})")
    return path


class Moto:
    """moto server (scripts/moto_server.py: moto's app, one request at a time) on a free
    loopback port, stopped by its PID."""

    def __init__(self, workdir: Path):
        self.port = free_loopback_port()
        self.log = open(workdir / "moto.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts/moto_server.py"), "-H", "127.0.0.1", "-p",
             str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto exited: {(workdir / 'moto.log').read_text()}")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=2).read()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto did not answer within 30 s")

    def client(self, service: str, keys: tuple[str, str]):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=keys[0], aws_secret_access_key=keys[1])

    def start_auth(self) -> None:
        # text/plain: moto reads the raw body (scripts/moto_auth_setup.py).
        request = urllib.request.Request(self.endpoint + "/moto-api/reset-auth", data=b"0",
                                         method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=30).read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def for_moto(statements: list[dict], scopes_dynamodb: bool) -> list[dict]:
    """The statements as moto can evaluate them (the module's docstring says why)."""
    if scopes_dynamodb:
        return statements
    out = []
    for statement in statements:
        statement = copy.deepcopy(statement)
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith("dynamodb:") for a in actions):
            assert all(a.startswith("dynamodb:") for a in actions), "one service per statement"
            statement["Resource"] = "*"
            # imgup's transactions hold Puts, Updates and Deletes (no ConditionCheck): moto
            # may run them only for a statement that grants all three, so that a policy missing
            # one of them fails here as it would on AWS for some transaction.
            if {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= set(actions):
                actions = actions + ["dynamodb:TransactWriteItems"]
            statement["Action"] = actions
        out.append(statement)
    return out


class World:
    """One moto with the stack's bucket and table, another bucket and table, and a user per
    function holding that function's policy."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.template = cfn.load(TEMPLATE)
        self.stack = cfn.Stack(stack_uuid=str(uuid.uuid4()), table="imgup-iam-images")
        self.api_env = cfn.environment(self.template, "ApiFunction", self.stack)
        self.processor_env = cfn.environment(self.template, "ProcessorFunction", self.stack)
        self.bucket = self.api_env["IMGUP_BUCKET"]
        self.table = self.api_env["IMGUP_TABLE"]
        self.other_bucket = "imgup-another-bucket"
        self.other_table = "imgup-another-table"
        self.statements = {
            name: cfn.policy_statements(self.template, name, self.stack)
            for name in ("ApiFunction", "ProcessorFunction")}
        self.moto = Moto(workdir)
        try:
            self._populate()
        except BaseException:
            self.moto.stop()
            raise

    def _user(self, iam, name: str, statements: list[dict]) -> tuple[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": statements}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def _populate(self) -> None:
        iam = self.moto.client("iam", ("setup", "setup"))
        self.admin = self._user(iam, "admin", ADMIN_POLICY)
        # The probe: GetItem allowed on the stack's table only, as the template scopes it.
        probe = self._user(iam, "probe", [{"Effect": "Allow", "Action": "dynamodb:GetItem",
                                           "Resource": self.stack.table_arn}])
        self.moto.start_auth()
        s3 = self.moto.client("s3", self.admin)
        for bucket in (self.bucket, self.other_bucket):
            s3.create_bucket(Bucket=bucket)
        table = cfn.function(self.template, "ImagesTable")
        dynamodb = self.moto.client("dynamodb", self.admin)
        for name in (self.table, self.other_table):
            dynamodb.create_table(
                TableName=name, BillingMode=table["BillingMode"],
                AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"],
                GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"])
            dynamodb.update_time_to_live(TableName=name,
                                         TimeToLiveSpecification=table["TimeToLiveSpecification"])
        try:
            self.moto.client("dynamodb", probe).get_item(TableName=self.table,
                                                         Key={"PK": {"S": "x"}, "SK": {"S": "x"}})
            self.moto_scopes_dynamodb = True
        except botocore.exceptions.ClientError:
            self.moto_scopes_dynamodb = False
        iam = self.moto.client("iam", self.admin)
        self.keys = {name: self._user(iam, name, for_moto(statements, self.moto_scopes_dynamodb))
                     for name, statements in self.statements.items()}

    def function_env(self, name: str, **overrides: str) -> dict[str, str]:
        env = dict(self.api_env if name == "ApiFunction" else self.processor_env)
        access_key, secret = self.keys[name]
        env.update(AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret,
                   AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION,
                   AWS_ENDPOINT_URL_S3=self.moto.endpoint,
                   AWS_ENDPOINT_URL_DYNAMODB=self.moto.endpoint,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   TMPDIR=str(self.workdir))
        env.update(overrides)
        return env

    def objects(self, prefix: str = "", bucket: str | None = None) -> dict[str, bytes]:
        s3 = self.moto.client("s3", self.admin)
        # No Prefix parameter: moto's auth mode miscomputes the signature of "prefix=a%2F".
        listed = s3.list_objects_v2(Bucket=bucket or self.bucket)
        return {o["Key"]: s3.get_object(Bucket=bucket or self.bucket, Key=o["Key"])["Body"].read()
                for o in listed.get("Contents", []) if o["Key"].startswith(prefix)}

    def items(self, table: str | None = None) -> list[dict]:
        return self.moto.client("dynamodb", self.admin).scan(TableName=table or self.table)["Items"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    w = World(tmp_path_factory.mktemp("iam"))
    yield w
    w.moto.stop()


@pytest.fixture
def functions(world, tmp_path):
    """start(name, **env) → an Emulator running that function with its user's keys."""
    started: list[Emulator] = []
    binaries = {"ApiFunction": binary("IMGUP_LAMBDA_API_BIN", "imgup-lambda-api"),
                "ProcessorFunction": binary("IMGUP_LAMBDA_PROCESSOR_BIN", "imgup-lambda-processor")}

    def start(name: str, **env: str) -> Emulator:
        workdir = tmp_path / f"{name}{len(started)}"
        workdir.mkdir()
        emulator = Emulator(binaries[name], workdir, world.function_env(name, **env))
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


def call(fn, method: str, path: str, query: str = "", body: dict | None = None) -> dict:
    event = http_api(method, path, stage="$default", sub=OWNER, query=query)
    if body is not None:
        event["body"] = json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return proxy_response(fn, event)


def upload(fn, png: bytes) -> dict:
    event = seed_upload_v2(stage="$default", sub=OWNER)
    event["body"] = json.dumps({"filename": "photo.png", "content_type": "image/png",
                                "image_base64": base64.b64encode(png).decode()})
    event["isBase64Encoded"] = False
    return proxy_response(fn, event)


def s3_event(world, key: str) -> dict:
    event = s3_put(key)
    event["Records"][0]["s3"]["bucket"].update(name=world.bucket,
                                               arn=f"arn:aws:s3:::{world.bucket}")
    return event


def process(processor, world, key: str) -> dict:
    r = processor.invoke(s3_event(world, key))
    assert r.status_code == 200, r.text
    assert "errorType" not in r.json(), f"{r.text}\n{processor.log()}"
    return r.json()


def presigned_key_id(location: str) -> str:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    return query["X-Amz-Credential"][0].split("/")[0]


# The API's routes (docs/openapi.json) that the function serves on S3 + DynamoDB; /blobs/* are
# the local storage's signed URLs (on AWS, S3 signs them). The page's routes are not in the
# document: GET / is added here.
LOCAL_ONLY = {("get", "/blobs/object"), ("post", "/blobs/upload")}
COVERED = {("post", "/upload"), ("post", "/uploads"), ("get", "/images"), ("get", "/images/{id}"),
           ("patch", "/images/{id}"), ("delete", "/images/{id}"), ("get", "/images/{id}/content"),
           ("get", "/images/{id}/similar"), ("get", "/health"), ("get", "/openapi.json")}


def test_the_route_list_below_is_every_route_of_the_api():
    document = json.loads((ROOT / "docs/openapi.json").read_text())
    routes = {(method, path) for path, item in document["paths"].items()
              for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert routes - LOCAL_ONLY == COVERED, (
        "a route was added to or removed from the API: run it through the API function in "
        "test_every_api_route_and_the_processor_work_with_the_templates_policies")


def test_policies_name_only_the_stacks_bucket_and_table(world):
    bucket_arn = f"arn:aws:s3:::{world.bucket}"
    table_resources = {world.stack.table_arn, world.stack.table_arn + "/index/*"}
    forbidden = {"dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:UpdateTable",
                 "dynamodb:Scan", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:PutObjectAcl"}
    for name, statements in world.statements.items():
        assert statements, name
        for statement in statements:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            assert not any("*" in a for a in actions), (name, actions)
            assert not forbidden & set(actions), (name, actions)
            for resource in resources:
                if all(a.startswith("dynamodb:") for a in actions):
                    # moto cannot check this one (module docstring): the table and its indexes only.
                    assert resource in table_resources, (name, resource)
                else:
                    assert all(a.startswith("s3:") for a in actions), (name, actions)
                    assert resource == bucket_arn or resource.startswith(bucket_arn + "/"), (
                        name, resource)
                    assert resource != bucket_arn + "/*", f"{name}: a prefix, not the whole bucket"
    # Who may do what under each prefix (ADR 15): the API function writes originals (inline
    # uploads) and signs the forms of uploads/, which it never reads; the processor reads and
    # deletes what the forms stage, writes the validated bytes as originals, and the variants.
    def grants(name: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for statement in world.statements[name]:
            for resource in statement["Resource"]:
                prefix = resource.removeprefix(bucket_arn + "/").removesuffix("*")
                out.setdefault(prefix, set()).update(
                    a for a in statement["Action"] if a.startswith("s3:"))
        return out
    api, processor = grants("ApiFunction"), grants("ProcessorFunction")
    assert api["uploads/"] == {"s3:PutObject"}, api
    assert "s3:PutObject" in api["originals/"] and "s3:PutObject" not in api["variants/"], api
    assert processor["uploads/"] == {"s3:GetObject", "s3:DeleteObject"}, processor
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= processor["originals/"], processor
    assert "s3:PutObject" in processor["variants/"], processor


def test_every_api_route_and_the_processor_work_with_the_templates_policies(world, functions):
    api = functions("ApiFunction")
    created = upload(api, SEED_PNG)
    assert created["statusCode"] == 201, f"{created}\n{api.log()}"
    record = body_json(created)
    image_id = record["id"]
    key = f"originals/{OWNER}/{image_id}"
    assert record["key"] == key
    assert world.objects("originals/") == {key: SEED_PNG}, "the bytes, in the stack's bucket"

    again = upload(api, SEED_PNG)
    assert again["statusCode"] == 200 and body_json(again)["duplicate"] is True

    patched = call(api, "PATCH", f"/images/{image_id}",
                   body={"tags": ["cat"], "description": "on the sofa"})
    assert patched["statusCode"] == 200, patched
    described = call(api, "PATCH", f"/images/{image_id}", body={"description": "asleep"})
    assert described["statusCode"] == 200, described  # an UpdateItem, not a transaction
    assert call(api, "GET", f"/images/{image_id}")["statusCode"] == 200
    for query in ("limit=10", "content_type=image/png", "tag=cat",
                  "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"):
        listed = call(api, "GET", "/images", query=query)
        assert listed["statusCode"] == 200, (query, listed)
        assert [i["id"] for i in body_json(listed)["items"]] == [image_id], query

    content = call(api, "GET", f"/images/{image_id}/content")
    assert content["statusCode"] == 302, content
    location = content["headers"]["Location"]
    assert f"/{world.bucket}/{key}" in location, location
    assert presigned_key_id(location) == world.keys["ApiFunction"][0]
    api_s3 = world.moto.client("s3", world.keys["ApiFunction"])
    assert api_s3.get_object(Bucket=world.bucket, Key=key)["Body"].read() == SEED_PNG

    # The processor, on the S3 event of the original, with its own user.
    processor = functions("ProcessorFunction")
    outcome = process(processor, world, key)
    assert outcome["records"][0]["outcome"] == "ready", f"{outcome}\n{processor.log()}"
    ready = body_json(call(api, "GET", f"/images/{image_id}"))
    assert ready["status"] == "ready", ready
    variant_keys = sorted(world.objects("variants/"))
    assert variant_keys == sorted(f"variants/{OWNER}/{image_id}/{v}.webp" for v in ("medium", "thumb"))

    thumb = call(api, "GET", f"/images/{image_id}/content", query="variant=thumb")
    assert thumb["statusCode"] == 302, thumb
    assert f"variants/{OWNER}/{image_id}/thumb.webp" in thumb["headers"]["Location"]
    similar = call(api, "GET", f"/images/{image_id}/similar")
    assert similar["statusCode"] == 200, similar

    for path in ("/health", "/openapi.json", "/"):
        event = http_api("GET", path, stage="$default", sub=None)
        assert proxy_response(api, event)["statusCode"] == 200, path

    deleted = call(api, "DELETE", f"/images/{image_id}")
    assert deleted["statusCode"] == 204, f"{deleted}\n{api.log()}"
    assert world.objects() == {}, "the original and every variant gone"
    assert not [i for i in world.items() if i.get("kind", {}).get("S") == "image"]


def test_a_presigned_upload_works_with_the_templates_policies(world, functions):
    """POST /uploads (ADR 15): the API function's user signs S3's POST policy, the form lands at
    the staging key uploads/{owner}/{id}, the processor's user commits the bytes on its S3 event
    (reads and deletes the staged object, writes the original), and processes the original on
    the original's own event.

    moto's auth mode cannot take a form: it reads an Authorization header that a browser-style
    POST does not have (KeyError, a 500). S3 accepts a form when its signer may PutObject the
    key, so the test checks that the form is signed with the API function's key and then puts
    the bytes with that key, which moto does check against the template's policy."""
    api = functions("ApiFunction")
    started = call(api, "POST", "/uploads",
                   body={"filename": "big.png", "content_type": "image/png", "size_bytes": len(SEED_PNG)})
    assert started["statusCode"] == 201, f"{started}\n{api.log()}"
    form = body_json(started)
    staged = f"uploads/{OWNER}/{form['id']}"
    key = f"originals/{OWNER}/{form['id']}"
    assert form["fields"]["key"] == staged, form
    assert form["fields"]["x-amz-credential"].split("/")[0] == world.keys["ApiFunction"][0], form
    api_s3 = world.moto.client("s3", world.keys["ApiFunction"])
    api_s3.put_object(Bucket=world.bucket, Key=staged, Body=SEED_PNG, ContentType="image/png")
    assert world.objects() == {staged: SEED_PNG}, "the form's bytes, in the stack's bucket"
    assert body_json(call(api, "GET", f"/images/{form['id']}"))["status"] == "awaiting_upload"

    processor = functions("ProcessorFunction")
    committed = process(processor, world, staged)
    assert committed["records"][0]["outcome"] == "committed", f"{committed}\n{processor.log()}"
    assert world.objects() == {key: SEED_PNG}, "the validated bytes under originals/, none staged"
    outcome = process(processor, world, key)
    assert outcome["records"][0]["outcome"] == "ready", f"{outcome}\n{processor.log()}"
    ready = body_json(call(api, "GET", f"/images/{form['id']}"))
    assert ready["status"] == "ready", ready
    deleted = call(api, "DELETE", f"/images/{form['id']}")
    assert deleted["statusCode"] == 204, f"{deleted}\n{api.log()}"
    assert world.objects() == {}


def test_a_failed_image_is_quarantined_by_the_processor_and_deleted_by_the_api(world, functions):
    api = functions("ApiFunction")
    poison = png_with_pixel_data(b"\x00" * 42)
    created = upload(api, poison)
    assert created["statusCode"] == 201, created
    record = body_json(created)
    processor = functions("ProcessorFunction")
    outcome = process(processor, world, record["key"])
    assert outcome["records"][0]["outcome"] == "failed", outcome
    quarantined = f"quarantine/{OWNER}/{record['id']}"
    assert world.objects() == {quarantined: poison}
    deleted = call(api, "DELETE", f"/images/{record['id']}")
    assert deleted["statusCode"] == 204, f"{deleted}\n{api.log()}"
    assert world.objects() == {}


def refused(what: str, operation) -> None:
    try:
        operation()
    except botocore.exceptions.ClientError as error:
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403, (what, error.response)
        return
    pytest.fail(f"allowed: {what}")


@pytest.mark.parametrize("name", ["ApiFunction", "ProcessorFunction"])
def test_each_functions_user_is_refused_what_the_template_does_not_grant(world, name):
    keys = world.keys[name]
    s3 = world.moto.client("s3", keys)
    dynamodb = world.moto.client("dynamodb", keys)
    key = {"PK": {"S": f"OWNER#{OWNER}"}, "SK": {"S": "IMAGE#x"}}
    for what, operation in {
        "PutObject, another bucket": lambda: s3.put_object(
            Bucket=world.other_bucket, Key=f"variants/{OWNER}/x/thumb.webp", Body=b"x"),
        "GetObject, another bucket": lambda: s3.get_object(
            Bucket=world.other_bucket, Key=f"originals/{OWNER}/x"),
        "ListObjects, another bucket": lambda: s3.list_objects_v2(Bucket=world.other_bucket),
        "PutObject, outside the prefixes": lambda: s3.put_object(
            Bucket=world.bucket, Key="elsewhere/x", Body=b"x"),
        "DeleteBucket": lambda: s3.delete_bucket(Bucket=world.bucket),
        "PutBucketPolicy": lambda: s3.put_bucket_policy(Bucket=world.bucket, Policy="{}"),
        "DeleteTable": lambda: dynamodb.delete_table(TableName=world.table),
        "DeleteTable, another table": lambda: dynamodb.delete_table(TableName=world.other_table),
        "CreateTable": lambda: dynamodb.create_table(
            TableName="imgup-new-table", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}]),
        "Scan": lambda: dynamodb.scan(TableName=world.table),
    }.items():
        refused(f"{name}: {what}", operation)
    if name == "ProcessorFunction":
        # It reads and deletes what the forms stage; staging is the forms' (the API's signature).
        refused("ProcessorFunction: PutObject under uploads/", lambda: s3.put_object(
            Bucket=world.bucket, Key=f"uploads/{OWNER}/x", Body=b"x"))
    else:
        refused("ApiFunction: PutObject of a variant", lambda: s3.put_object(
            Bucket=world.bucket, Key=f"variants/{OWNER}/x/thumb.webp", Body=b"x"))
        # It signs the forms of uploads/ and never reads or removes what they stage.
        world.moto.client("s3", world.admin).put_object(
            Bucket=world.bucket, Key=f"uploads/{OWNER}/staged", Body=b"x")
        refused("ApiFunction: GetObject under uploads/", lambda: s3.get_object(
            Bucket=world.bucket, Key=f"uploads/{OWNER}/staged"))
        refused("ApiFunction: DeleteObject under uploads/", lambda: s3.delete_object(
            Bucket=world.bucket, Key=f"uploads/{OWNER}/staged"))
        world.moto.client("s3", world.admin).delete_object(
            Bucket=world.bucket, Key=f"uploads/{OWNER}/staged")
    if world.moto_scopes_dynamodb:
        refused(f"{name}: GetItem, another table",
                lambda: dynamodb.get_item(TableName=world.other_table, Key=key))
    else:
        # moto cannot refuse it (module docstring); the statements name only the stack's table,
        # which test_policies_name_only_the_stacks_bucket_and_table checks.
        assert world.statements[name]
    # The same users work on their own bucket and table (so the refusals above are the
    # policy's, not broken keys).
    dynamodb.get_item(TableName=world.table, Key=key)
    s3.list_objects_v2(Bucket=world.bucket)
    assert world.objects(bucket=world.other_bucket) == {}
    assert world.items(world.other_table) == []


def test_the_api_function_pointed_at_another_bucket_is_refused(world, functions):
    api = functions("ApiFunction", IMGUP_BUCKET=world.other_bucket)
    answer = upload(api, SEED_PNG)
    assert answer["statusCode"] >= 500, answer
    assert body_json(answer)["code"] in ("storage_error", "storage_unavailable"), answer
    assert "AccessDenied" in api.log(), "the function logs S3's refusal"
    assert world.objects(bucket=world.other_bucket) == {}
