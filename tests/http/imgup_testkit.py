"""Shared helpers for the black-box HTTP suite: the server process, the validating client, image
builders and checks on the data directory.

Nothing here knows how the server is written; it only sees the binary, HTTP and the files the
storage layout documents (DIR/imgup.db, DIR/blobs/originals/{owner}/{id},
DIR/blobs/variants/{owner}/{id}/{thumb,medium}.webp, DIR/blobs/quarantine/{owner}/{id}, DIR/blobs/.tmp/).

IMGUP_TEST_STORAGE=aws runs every server on S3 + DynamoDB instead (`imgup serve --storage aws`):
each data dir gets a fresh bucket and table on the peers of scripts/with-aws-peers.sh (made with
`imgup init-aws`), and the same helpers read the bucket's keys and the table's records instead of
blobs/ and imgup.db (`blob_files`, `blob_bytes`, `db_rows` over the scanned records). Tests that
are about the local storage itself are skipped there, with the reason (conftest.py).

Uploads are processed asynchronously: a new upload answers 201 with status "processing" and a
worker pool derives variants and metadata afterwards. `Server.wait_idle()` waits until nothing is
queued or running (GET /health "processing" == 0) and no record is left "processing";
`store_state()` waits for that before it snapshots a running server's store, so that a variant
written late by an earlier upload is never mistaken for something a refused request left behind.
`Client.wait_processed()` / `Client.upload_ready()` wait for one record.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import json
import os
import random
import re
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import parse_qs, urlparse

import requests
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.util import json_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

REPO = Path(__file__).resolve().parents[2]
# tests/: the helpers shared with the stack tests (tests/run_aws, tests/run_lambda).
sys.path.insert(0, str(REPO / "tests"))
from local_stack import read_env_file  # noqa: E402
SPEC_PATH = REPO / "docs" / "openapi.json"
CORPORA = Path(os.environ.get("IMGUP_CORPORA", REPO.parent / "shared" / "corpora")).resolve()
PNGSUITE = CORPORA / "pngsuite" / "png"
EXIF_ORIENTATION = CORPORA / "exif-orientation"

ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
ULID_IN_TEXT = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
LISTENING_RE = re.compile(r"imgup: listening on (http://127\.0\.0\.1:(\d+))\s*$")

HTTP_TIMEOUT = 15  # seconds; no request of this suite should come near it
# Seconds an upload may take to leave "processing" (sanitizer builds are several times slower).
PROCESSING_TIMEOUT = float(os.environ.get("IMGUP_PROCESSING_TIMEOUT", "60"))

# Record members the pipeline fills in (or changes) after the upload; everything else a record
# holds is fixed at upload time (tags and description change only through PATCH).
DERIVED_FIELDS = frozenset({"status", "failure_reason", "variants", "exif", "placeholder", "dominant_color", "phash",
                            "bit_depth", "bands", "has_alpha", "animated", "frame_count", "icc_profile"})
VARIANT_EDGES = {"thumb": 256, "medium": 1024}


def imgup_bin() -> Path:
    return Path(os.environ.get("IMGUP_BIN", REPO / "build" / "dev" / "imgup")).resolve()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# The storage the servers run on (IMGUP_TEST_STORAGE)
# ---------------------------------------------------------------------------------------------

STORAGE = os.environ.get("IMGUP_TEST_STORAGE", "local")
assert STORAGE in ("local", "aws", "lambda"), f"IMGUP_TEST_STORAGE must be local, aws or lambda, not {STORAGE!r}"
# lambda: every server is `make run-lambda`'s stack (scripts/run-lambda.sh on the server's data
# dir: the API function under AWS's Lambda emulator behind `imgup gateway`, the processor fed by
# versitygw's S3 events, S3 + DynamoDB on versitygw and moto), and the store helpers read its
# bucket and table. The functions are IMGUP_LAMBDA_API_BIN and IMGUP_LAMBDA_PROCESSOR_BIN;
# IMGUP_GATEWAY (http or rest) picks the payload version.
LAMBDA = STORAGE == "lambda"
# imgup serve's flags for what the API function always does (content is a redirect to a
# presigned S3 GET: a response over Lambda's 6 MB is never attempted).
LAMBDA_ALWAYS = frozenset({"--content-redirect"})
AWS = STORAGE in ("aws", "lambda")

# The record columns db_rows offers on aws (the names of SQLite's images table).
_RECORD_COLUMNS = ("id", "owner", "filename", "content_type", "format", "key", "sha256", "status",
                   "failure_reason", "size_bytes", "width", "height", "description", "attempts",
                   "uploaded_at_ms", "phash")


class AwsStore:
    """The bucket and table of one data dir on the peers (scripts/with-aws-peers.sh)."""

    _n = itertools.count()

    def __init__(self, stack_env: Optional[Mapping[str, str]] = None):
        if stack_env is not None:  # a run-lambda stack's own peers, bucket and table (aws-local.env)
            self.bucket = stack_env["IMGUP_BUCKET"]
            self.table = stack_env["IMGUP_TABLE"]
            self.region = stack_env["AWS_REGION"]
            self.s3_endpoint = stack_env["AWS_ENDPOINT_URL_S3"]
            self.dynamodb_endpoint = stack_env["AWS_ENDPOINT_URL_DYNAMODB"]
            self.access_key = stack_env["AWS_ACCESS_KEY_ID"]
            self.secret_key = stack_env["AWS_SECRET_ACCESS_KEY"]
            self._s3 = None
            self._dynamodb = None
            return
        missing = [v for v in ("IMGUP_TEST_S3_ENDPOINT", "IMGUP_TEST_DYNAMODB_ENDPOINT") if not os.environ.get(v)]
        if missing:
            raise AssertionError(f"IMGUP_TEST_STORAGE=aws needs the AWS peers ({', '.join(missing)} unset): "
                                 "run inside scripts/with-aws-peers.sh (make http-aws)")
        suffix = f"{os.getpid()}-{next(self._n)}-{random.getrandbits(32):08x}"
        self.bucket = f"imgup-http-{suffix}"
        self.table = f"imgup-http-{suffix}"
        self.region = os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1")
        self.s3_endpoint = os.environ["IMGUP_TEST_S3_ENDPOINT"]
        self.dynamodb_endpoint = os.environ["IMGUP_TEST_DYNAMODB_ENDPOINT"]
        self.access_key = os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing")
        self.secret_key = os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "testing")
        self._s3 = None
        self._dynamodb = None

    def env(self) -> dict[str, str]:
        """What `imgup` needs in its environment to reach them (and nothing of the user's)."""
        return {"AWS_ENDPOINT_URL_S3": self.s3_endpoint, "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
                "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key,
                "AWS_REGION": self.region, "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}

    def args(self) -> list[str]:
        return ["--storage", "aws", "--bucket", self.bucket, "--table", self.table]

    def create(self) -> None:
        run_cli("init-aws", "--bucket", self.bucket, "--table", self.table, env=self.env(), check=True)

    @property
    def s3(self):
        if self._s3 is None:
            import boto3
            from botocore.config import Config as BotoConfig
            self._s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name=self.region,
                                    aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                                    config=BotoConfig(s3={"addressing_style": "path"}))
        return self._s3

    @property
    def dynamodb(self):
        if self._dynamodb is None:
            import boto3
            self._dynamodb = boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint, region_name=self.region,
                                          aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)
        return self._dynamodb

    def blob_keys(self) -> frozenset:
        keys = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys.update(o["Key"] for o in page.get("Contents", []))
        return frozenset(keys)

    def blob_bytes(self, key: str) -> Optional[bytes]:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def records(self) -> list[dict]:
        """Every image record item of the table, as plain values."""
        from boto3.dynamodb.types import TypeDeserializer
        des = TypeDeserializer()
        out = []
        for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=self.table, ConsistentRead=True, FilterExpression="kind = :k",
                ExpressionAttributeValues={":k": {"S": "image"}}):
            out += [{k: des.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        return out


_AWS_STORES: dict[str, AwsStore] = {}


def aws_store(data_dir: Path, create: bool = True) -> Optional[AwsStore]:
    """The bucket and table standing in for `data_dir` on aws (made at the first call); None on
    local storage."""
    if not AWS:
        return None
    name = str(Path(data_dir).resolve())
    with _SERVERS_LOCK:
        store = _AWS_STORES.get(name)
    if store is None and LAMBDA:
        # The stack's own, known once scripts/run-lambda.sh has written its aws-local.env.
        env_file = Path(data_dir) / "aws-local.env"
        if not env_file.exists():
            return None
        store = AwsStore(read_env_file(env_file))
        with _SERVERS_LOCK:
            store = _AWS_STORES.setdefault(name, store)
    if store is None and create:
        store = AwsStore()
        store.create()
        with _SERVERS_LOCK:
            store = _AWS_STORES.setdefault(name, store)
    return store


# ---------------------------------------------------------------------------------------------
# The server process
# ---------------------------------------------------------------------------------------------

# The server last started on each data dir (resolved path), so that store_state(data_dir) can wait
# for its pipeline to be idle.
_SERVERS_BY_DIR: dict[str, "Server"] = {}
_SERVERS_LOCK = threading.Lock()


def server_for(data_dir: Path) -> Optional["Server"]:
    with _SERVERS_LOCK:
        srv = _SERVERS_BY_DIR.get(str(Path(data_dir).resolve()))
    return srv if srv is not None and srv.running else None


class Server:
    """One `imgup serve` process on an ephemeral port."""

    def __init__(self, data_dir: Path, args: Iterable[str] = (), *, log_dir: Optional[Path] = None):
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.log_dir = Path(log_dir or self.data_dir.parent)
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.port = 0
        self.stderr_lines: list[str] = []
        self.returncode: Optional[int] = None
        self.keys: dict[str, str] = {}
        self._ready = threading.Event()
        self._stdout_path: Optional[Path] = None
        self._generation = itertools.count()

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> "Server":
        binary = imgup_bin()
        if not binary.exists():
            raise AssertionError(f"imgup binary not found at {binary} (build it: ninja -C build/dev imgup)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        gen = next(self._generation)
        self._stdout_path = self.log_dir / f"{self.data_dir.name}.stdout.{gen}.log"
        self.stderr_lines = []
        self.returncode = None
        self._ready.clear()
        cmd = [str(binary), "serve", "--host", "127.0.0.1", "--port", "0", "--data", str(self.data_dir),
               *self.args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
        popen_extra = {}
        if LAMBDA:
            cmd, env, popen_extra = self._lambda_stack(env)
            timeout = max(timeout, 90.0)
        elif (store := aws_store(self.data_dir)) is not None:
            cmd += store.args()
            env.update(store.env())
        with open(self._stdout_path, "wb") as stdout:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                                         env=env, **popen_extra)
        threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                rc = self.proc.poll()
                if rc is None:
                    self._kill_all()
                raise AssertionError(f"{' '.join(cmd)} did not print its listening line "
                                     f"(exit code {rc}); stderr:\n" + "".join(self.stderr_lines))
        with _SERVERS_LOCK:
            _SERVERS_BY_DIR[str(self.data_dir.resolve())] = self
        return self

    def _lambda_stack(self, env: dict[str, str]):
        """The command, environment and Popen arguments of scripts/run-lambda.sh on this data dir
        (IMGUP_TEST_STORAGE=lambda): the gateway on a free port, the functions of the build under
        test, the relay retrying at once (the suite's processing time limit is the local one)."""
        import pytest
        # What the API function always does, a flag of imgup serve's asks for: no difference.
        args = [a for a in self.args if a not in LAMBDA_ALWAYS]
        if args:
            pytest.skip(f"imgup serve's own flags ({' '.join(self.args)}): the Lambda stack has none "
                        "(its functions are configured by their environment)")
        env = dict(env)
        env.update({"PORT": "0", "DATA": str(self.data_dir), "IMGUP_BIN": str(imgup_bin()),
                    "IMGUP_RELAY_BACKOFF": "0.2", "GATEWAY": os.environ.get("IMGUP_GATEWAY", "http")})
        for name in ("IMGUP_LAMBDA_API_BIN", "IMGUP_LAMBDA_PROCESSOR_BIN", "IMGUP_PIXEL_WORKER", "IMGUP_TOOLS_DIR",
                     "IMGUP_RIE"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        # SIGINT as a terminal leaves it (a background job's shell starts with it ignored). A
        # session of its own, so that a hard kill reaches every process of the stack
        # (_kill_all): SIGKILL to the script alone would leave its children running.
        extra = {"preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                 "start_new_session": True}
        return [str(REPO / "scripts" / "run-lambda.sh")], env, extra

    def function_logs(self) -> str:
        """What the stack's functions wrote (IMGUP_TEST_STORAGE=lambda): their emulators' logs."""
        logs = self.data_dir / "logs"
        return "".join((logs / f"{name}.log").read_text("utf-8", "replace")
                       for name in ("api", "processor") if (logs / f"{name}.log").exists())

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.stderr_lines.append(line)
            m = LISTENING_RE.search(line)
            if m and not self._ready.is_set():
                self.url = m.group(1)
                self.port = int(m.group(2))
                self._ready.set()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait, return the exit code (a graceful stop must give 0)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_all()
                raise AssertionError(f"imgup serve did not exit within {timeout}s of SIGTERM")
        self.returncode = self.proc.returncode
        if LAMBDA and self.returncode == 143:
            self.returncode = 0  # run-lambda.sh exits 143 after stopping everything on SIGTERM
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, at once: no graceful anything."""
        assert self.proc is not None
        self._kill_all()
        self.returncode = self.proc.returncode

    def _kill_all(self) -> None:
        """SIGKILL to the server, or on the Lambda stack to every process of run-lambda.sh's
        session (its own: _lambda_stack), and waits for it."""
        assert self.proc is not None
        if LAMBDA:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            self.proc.kill()
        self.proc.wait()

    # -- what it wrote -----------------------------------------------------------------------
    def stdout_text(self) -> str:
        if LAMBDA:
            # The API function's request log lines, among its emulator's own.
            return "".join(line for line in self.function_logs().splitlines(keepends=True)
                           if line.startswith("{") and '"request_id"' in line)
        return self._stdout_path.read_text("utf-8", "replace") if self._stdout_path else ""

    def log_records(self) -> list[dict]:
        out = []
        for line in self.stdout_text().splitlines():
            line = line.strip()
            if line:
                out.append(json.loads(line))
        return out

    def wait_for_log(self, request_id: str, timeout: float = 3.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stdout_text().splitlines():
                if request_id in line:
                    rec = json.loads(line)
                    if rec.get("request_id") == request_id:
                        return rec
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line on stdout for request_id {request_id!r} within {timeout}s; "
                                     f"stdout so far:\n{self.stdout_text()[-3000:]}")
            time.sleep(0.05)

    def describe(self) -> str:
        return f"imgup serve {self.url} data={self.data_dir} args={self.args}"

    # -- the image pipeline ------------------------------------------------------------------
    def health(self) -> dict:
        """GET /health (plain requests: pollers need no contract check; test_service checks it)."""
        r = requests.get(self.url + "/health", timeout=HTTP_TIMEOUT, headers={"Connection": "close"})
        assert r.status_code == 200, f"GET /health: {r.status_code} {r.text[:300]}"
        body = r.json()
        if LAMBDA:
            # No queue in the API function: the processor works off S3 events; what is still to do
            # shows as records "processing" (records_processing).
            body.setdefault("processing", 0)
        assert isinstance(body.get("processing"), int) and body["processing"] >= 0, (
            f"GET /health must say how many images are queued or being processed: {body}")
        return body

    def records_processing(self) -> int:
        """Records the store holds with status "processing"."""
        if not AWS and not (self.data_dir / "imgup.db").exists():
            return 0
        return db_rows(self.data_dir, "SELECT COUNT(*) AS n FROM images WHERE status = 'processing'")[0]["n"]

    def wait_idle(self, timeout: float = PROCESSING_TIMEOUT) -> None:
        """Waits until the pipeline has nothing queued or running (GET /health "processing" == 0)
        and no record is left "processing" (after a restart, the records a crash left behind are
        queued again by the server itself, not at once). Fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            pending = self.health()["processing"]
            stuck = self.records_processing() if pending == 0 else -1
            if pending == 0 and stuck == 0:
                # Settled twice in a row: a record queued between the two reads would show.
                if self.health()["processing"] == 0 and self.records_processing() == 0:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.describe()}: not idle after {timeout}s: /health processing={pending}, "
                                     f"records still 'processing' in the store: {self.records_processing()}")
            time.sleep(0.01)


def run_cli(*args: str, timeout: float = 30, check: bool = False, input: Optional[bytes] = None,
            env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    # The CLI reads IMGUP_URL, IMGUP_API_KEY, IMGUP_DATA_DIR...: run it with none of them set
    # (but for those in `env`).
    extra = dict(env or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
    env.update(extra)
    proc = subprocess.run([str(imgup_bin()), *args], capture_output=True, timeout=timeout, input=input, env=env,
                          cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"imgup {' '.join(args)} exited {proc.returncode}\nstdout:\n"
                             f"{proc.stdout.decode(errors='replace')}\nstderr:\n{proc.stderr.decode(errors='replace')}")
    return proc


def key_store_args(data_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The arguments and environment of `imgup keys ...` for the store of `data_dir`."""
    store = aws_store(data_dir)
    if store is None:
        return ["--data", str(data_dir)], {}
    return ["--data", str(data_dir), *store.args()], store.env()


def run_keys(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """`imgup keys ARGS` on the store of `data_dir` (checked)."""
    store_args, env = key_store_args(data_dir)
    return run_cli("keys", *args, *store_args, env=env, check=True)


def add_key(data_dir: Path, name: str) -> str:
    args, env = key_store_args(data_dir)
    proc = run_cli("keys", "add", name, *args, env=env, check=True)
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"`imgup keys add` must print exactly the key, got {proc.stdout!r}"
    return lines[0].strip()


def stop_checked(srv: Server, what: str) -> None:
    """Stops a running server with SIGTERM and asserts the graceful exit code 0."""
    if srv.proc is None:
        return
    if srv.running:
        rc = srv.stop()
        assert rc == 0, (f"{what}: a graceful stop (SIGTERM) must exit 0, got {rc}; stderr:\n"
                         + "".join(srv.stderr_lines[-50:]))
    # Sanitizer builds (IMGUP_BIN=.../asan): UBSan reports do not change the exit code.
    text = "".join(srv.stderr_lines) + (srv.function_logs() if LAMBDA else "")
    for marker in ("runtime error:", "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer"):
        assert marker not in text, f"{what}: sanitizer report on stderr:\n{text[-4000:]}"


class ServerFactory:
    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._servers: list[Server] = []
        self._n = itertools.count()

    def __call__(self, *, data_dir: Optional[Path] = None, args: Iterable[str] = (),
                 keys: Iterable[str] = ()) -> Server:
        """Starts `imgup serve` on `data_dir` (a fresh one when omitted), after `imgup keys add`
        for every name in `keys`; the keys are in `server.keys`."""
        if data_dir is None:
            data_dir = self._tmp.mktemp(f"srv{next(self._n)}") / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        srv = Server(data_dir, args, log_dir=data_dir.parent)
        if LAMBDA:
            # The stack's table exists once it runs; the API function looks for keys until it
            # has found some, so keys added now count from the first request on.
            srv.start()
            self._servers.append(srv)
            for name in keys:
                srv.keys[name] = add_key(data_dir, name)
            return srv
        for name in keys:
            srv.keys[name] = add_key(data_dir, name)
        srv.start()
        self._servers.append(srv)
        return srv

    def close(self) -> None:
        errors = []
        for srv in self._servers:
            try:
                stop_checked(srv, srv.describe())
            except AssertionError as e:  # stop every server before reporting
                errors.append(str(e))
        assert not errors, "\n".join(errors)


# ---------------------------------------------------------------------------------------------
# OpenAPI validation of every exchange
# ---------------------------------------------------------------------------------------------


class _OARequest:
    def __init__(self, method: str, url: str, headers: Mapping[str, str], body: Optional[bytes]):
        u = urlparse(url)
        self.host_url = f"{u.scheme}://{u.netloc}"
        self.path = u.path
        self.method = method.lower()
        self.body = body
        h = Headers(list(headers.items()))
        self.content_type = (h.get("Content-Type") or "").lower()
        self.parameters = RequestParameters(query=ImmutableMultiDict(parse_qs(u.query, keep_blank_values=True)),
                                            header=h, cookie=ImmutableMultiDict())


class _OAResponse:
    def __init__(self, status: int, headers: Headers, data: bytes):
        self.status_code = status
        self.headers = headers
        self.data = data
        self.content_type = (headers.get("Content-Type") or "").lower()


class ContractViolation(AssertionError):
    pass


class RequestNotParseable(Exception):
    pass


class Contract:
    """docs/openapi.json, and the checks every response of the suite goes through."""

    def __init__(self, path: Path = SPEC_PATH):
        self.path = path
        self.doc = json.loads(path.read_text())
        self.openapi = OpenAPI.from_dict(
            self.doc, config=Config(extra_media_type_deserializers={"application/problem+json": json_loads}))
        self.checked = 0
        self.seen: set[tuple[str, str, int]] = set()  # (path template, method, status)
        self._lock = threading.Lock()

    def schema_validator(self, pointer: str) -> OAS31Validator:
        return OAS31Validator({**self.doc, "$ref": pointer})

    def check(self, method: str, url: str, req_headers: Mapping[str, str], req_body: Optional[bytes],
              status: int, resp_headers: Headers, resp_body: bytes, *, undocumented: Optional[str] = None) -> None:
        """Raises ContractViolation when the exchange does not conform to the document.

        undocumented: None for a documented operation; "path" when the test sends a path the API
        does not have (then a 404 not_found problem is required); "method" when it sends a method
        the path does not have (then a 405 method_not_allowed problem with Allow is required).
        """
        where = f"{method.upper()} {url} -> {status}"
        problems: list[str] = []
        rid = resp_headers.get("X-Request-Id")
        if not rid:
            problems.append("missing or empty X-Request-Id header")
        ctype = (resp_headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if status in (204, 304) and resp_body:
            problems.append(f"a {status} answer must have no body, got {len(resp_body)} bytes")
        if ctype == "application/problem+json":
            problems += self._problem_semantics(status, resp_headers, resp_body)
        elif status >= 400:
            problems.append(f"an error answer must be application/problem+json, got Content-Type {ctype!r}")

        req = _OARequest(method, url, req_headers, req_body)
        resp = _OAResponse(status, resp_headers, resp_body)
        if undocumented:
            problems += self._check_undocumented(undocumented, req, status, resp_headers, resp_body)
        else:
            try:
                request_errors = list(self.openapi.iter_request_errors(req))
            except Exception as err:  # noqa: BLE001 - openapi-core's own parsers can fail on garbage bodies
                request_errors = [RequestNotParseable(f"openapi-core could not parse the request: {err!r}")]
                template = self._template(req)
                if template is None:
                    request_errors.append(PathNotFound(req.path))
                elif req.method not in self.doc["paths"][template]:
                    request_errors.append(OperationNotFound(req.path, req.method))
            for err in request_errors:
                if isinstance(err, (PathNotFound, OperationNotFound)):
                    problems.append(f"the request's path/method is not in the document: {err!r}")
                elif status < 400:
                    # The server accepted a request the document says is invalid: one of them is wrong.
                    problems.append(f"the server answered {status} to a request the document rejects: "
                                    f"{err!r} caused by {err.__cause__!r}")
            if not any(isinstance(e, (PathNotFound, OperationNotFound)) for e in request_errors):
                try:
                    self.openapi.validate_response(req, resp)
                except Exception as err:  # noqa: BLE001 - openapi-core raises several types
                    cause = err.__cause__
                    detail = getattr(cause, "schema_errors", None) or cause
                    problems.append(f"response does not match the document: {err!r}: {detail!r}")
                with self._lock:
                    self.seen.add((self._template(req) or "?", method.lower(), status))
        with self._lock:
            self.checked += 1
        if problems:
            body_preview = resp_body[:600].decode("utf-8", "replace")
            raise ContractViolation(f"{where}: " + "; ".join(problems) +
                                    f"\nresponse headers: {dict(resp_headers)}\nresponse body: {body_preview}")

    def _template(self, req: _OARequest) -> Optional[str]:
        for template in self.doc["paths"]:
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(rx, req.path):
                return template
        return None

    def _problem_semantics(self, status: int, headers: Headers, body: bytes) -> list[str]:
        try:
            doc = json.loads(body)
        except ValueError:
            return [f"problem+json body is not JSON: {body[:200]!r}"]
        errs = [e.message for e in self.schema_validator("#/components/schemas/Problem").iter_errors(doc)]
        if errs:
            return [f"problem body does not match Problem: {errs}"]
        out = []
        if doc["status"] != status:
            out.append(f"problem status {doc['status']} != HTTP status {status}")
        if doc["type"] != f"urn:imgup:problem:{doc['code']}":
            out.append(f"problem type {doc['type']!r} != urn:imgup:problem:{doc['code']}")
        if doc["request_id"] != headers.get("X-Request-Id"):
            out.append(f"problem request_id {doc['request_id']!r} != X-Request-Id {headers.get('X-Request-Id')!r}")
        return out

    def _check_undocumented(self, kind: str, req: _OARequest, status: int, headers: Headers, body: bytes
                            ) -> list[str]:
        errs = list(self.openapi.iter_request_errors(req))
        found = not any(isinstance(e, (PathNotFound, OperationNotFound)) for e in errs)
        if found:
            return [f"test said {kind} is undocumented but the document has {req.method.upper()} {req.path}"]
        out = []
        if kind == "path":
            if status != 404:
                out.append(f"an unknown path must give 404, got {status}")
            pointer = "#/components/responses/NotFound/content/application~1problem+json/schema"
        elif kind == "method":
            if self._template(req) is None:
                out.append("test said the method is undocumented, but the path is unknown too")
            if status != 405:
                out.append(f"a known path with an undocumented method must give 405, got {status}")
            if not headers.get("Allow"):
                out.append("405 without an Allow header")
            pointer = "#/components/responses/MethodNotAllowed/content/application~1problem+json/schema"
        else:
            raise ValueError(kind)
        try:
            doc = json.loads(body)
        except ValueError:
            return out + ["body is not JSON"]
        out += [e.message for e in self.schema_validator(pointer).iter_errors(doc)]
        return out


class Client:
    """requests.Session whose every exchange is checked against the OpenAPI document."""

    def __init__(self, base_url: str, contract: Contract, *, key: Optional[str] = None, key_style: str = "bearer",
                 keep_alive: bool = False):
        self.base_url = base_url.rstrip("/")
        self.contract = contract
        self.session = requests.Session()
        if not keep_alive:
            # One connection per request by default: a test's leftover response objects then hold
            # no open connection that would delay the server's graceful stop. Keep-alive has its
            # own tests (keep_alive=True).
            self.session.headers["Connection"] = "close"
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        if key is not None:
            if key_style == "bearer":
                self.session.headers["Authorization"] = f"Bearer {key}"
            else:
                self.session.headers["x-api-key"] = key
        self.key = key
        self.key_style = key_style

    def _session(self) -> requests.Session:
        # requests.Session is not thread-safe; give each thread its own with the same headers.
        if threading.current_thread() is threading.main_thread():
            return self.session
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers.update(self.session.headers)
            self._local.session = s
            with self._sessions_lock:
                self._sessions.append(s)
        return s

    def close(self) -> None:
        """Closes every connection this client holds (idle keep-alive ones included)."""
        self.session.close()
        with self._sessions_lock:
            for s in self._sessions:
                s.close()
            self._sessions.clear()

    def request(self, method: str, path: str, *, undocumented: Optional[str] = None, **kw) -> requests.Response:
        kw.setdefault("timeout", HTTP_TIMEOUT)
        # On the Lambda stack the API function answers content with a redirect to a presigned S3
        # GET (a response over Lambda's 6 MB is never attempted): a client follows it to the bytes.
        follow = LAMBDA and "allow_redirects" not in kw and method in ("GET", "HEAD") and "/content" in path
        kw.setdefault("allow_redirects", False)
        resp = self._session().request(method, self.base_url + path, **kw)
        prep = resp.request
        body = prep.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.contract.check(prep.method, prep.url, dict(prep.headers), body, resp.status_code,
                            Headers(list(resp.headers.items())), resp.content, undocumented=undocumented)
        if follow and resp.status_code in (302, 303, 307) and resp.headers.get("Location", "").startswith("http"):
            headers = {k: v for k, v in (kw.get("headers") or {}).items()
                       if k.lower() in ("range", "if-range", "if-none-match", "if-match", "if-modified-since")}
            resp = requests.request(method, resp.headers["Location"], headers=headers, timeout=kw["timeout"],
                                    allow_redirects=False)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences --------------------------------------------------------------------------
    def upload_json(self, data: bytes, *, filename: str = "image.png", content_type: str = "image/png",
                    **extra) -> requests.Response:
        payload = {"filename": filename, "content_type": content_type,
                   "image_base64": base64.b64encode(data).decode("ascii"), **extra}
        return self.post("/upload", json=payload)

    def upload_ok(self, data: bytes, **kw) -> dict:
        r = self.upload_json(data, **kw)
        assert r.status_code == 201, f"upload refused: {r.status_code} {r.text}"
        return r.json()

    def wait_processed(self, image_id: str, timeout: float = PROCESSING_TIMEOUT) -> dict:
        """Polls GET /images/{id} until the record leaves "processing"; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(f"/images/{image_id}")
            assert r.status_code == 200, f"GET /images/{image_id} while waiting for processing: {r.status_code} {r.text}"
            rec = r.json()
            if rec["status"] != "processing":
                return rec
            if time.monotonic() > deadline:
                raise AssertionError(f"image {image_id} still 'processing' after {timeout}s: {rec}")
            time.sleep(0.01)

    def upload_ready(self, data: bytes, **kw) -> dict:
        """A new upload (201, "processing") that then becomes "ready": returns the ready record
        (as GET /images/{id} gives it, without "duplicate")."""
        rec = self.upload_ok(data, **kw)
        assert_processing_record(rec)
        final = self.wait_processed(rec["id"])
        assert final["status"] == "ready", f"upload {rec['id']} ended {final['status']}: {final.get('failure_reason')}"
        assert_same_upload(rec, final)
        return final

    def raw(self, method: str, path: str, head_extra: Mapping[str, str], body_prefix: bytes, *,
            content_length: Optional[int] = None, send_rest: bytes = b"", timeout: float = 10.0,
            undocumented: Optional[str] = None) -> "RawResponse":
        """A hand-written HTTP/1.1 exchange on a fresh socket (for early answers such as 413)."""
        return raw_exchange(self, method, path, head_extra, body_prefix, content_length=content_length,
                            send_rest=send_rest, timeout=timeout, undocumented=undocumented)


@dataclass
class RawResponse:
    status: int
    headers: Headers
    body: bytes
    elapsed: float  # seconds from the end of the request head to the full answer

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(client: Client, method: str, path: str, head_extra: Mapping[str, str], body_prefix: bytes, *,
                 content_length: Optional[int], send_rest: bytes, timeout: float, undocumented: Optional[str]
                 ) -> RawResponse:
    u = urlparse(client.base_url)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        headers = {"Host": u.netloc, "User-Agent": "imgup-tests", "Connection": "close"}
        headers.update({k: v for k, v in client.session.headers.items()
                        if k.lower() in ("authorization", "x-api-key")})
        headers.update(head_extra)
        if content_length is None:
            content_length = len(body_prefix) + len(send_rest)
        headers["Content-Length"] = str(content_length)
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        sock.sendall(head.encode("latin-1"))
        t0 = time.monotonic()
        try:
            if body_prefix:
                sock.sendall(body_prefix)
            if send_rest:
                sock.sendall(send_rest)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before taking the whole body
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
            body = resp.read()
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no complete answer within {timeout}s to {method} {path} "
                                 f"(Content-Length {content_length}, {len(body_prefix)} body bytes sent)")
        elapsed = time.monotonic() - t0
        hdrs = Headers(list(resp.getheaders()))
        req_headers = dict(headers)
        # The validator sees the part of the body that was sent (it only reads it for 2xx answers).
        client.contract.check(method, client.base_url + path, req_headers, body_prefix + send_rest, resp.status,
                              hdrs, body, undocumented=undocumented)
        return RawResponse(resp.status, hdrs, body, elapsed)
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------
# The data directory
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreState:
    blob_files: frozenset
    image_ids: frozenset


def blob_files(data_dir: Path) -> frozenset:
    if (store := aws_store(data_dir, create=False)) is not None:
        return store.blob_keys()
    if AWS:
        return frozenset()
    root = Path(data_dir) / "blobs"
    if not root.exists():
        return frozenset()
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def db_rows(data_dir: Path, sql: str = "SELECT id, owner, filename, content_type, key, sha256 FROM images",
            params: tuple = ()) -> list[sqlite3.Row]:
    if AWS:
        return _aws_rows(data_dir, sql, params)
    db = Path(data_dir) / "imgup.db"
    assert db.exists(), f"{db} does not exist"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _aws_rows(data_dir: Path, sql: str, params: tuple) -> list[sqlite3.Row]:
    """`sql` over the table's records, loaded into an in-memory `images` table with SQLite's
    column names, so that a test's query reads the same on both storages."""
    store = aws_store(data_dir, create=False)
    con = sqlite3.connect(":memory:")
    con.row_factory = sqlite3.Row
    try:
        con.execute(f"CREATE TABLE images ({', '.join(_RECORD_COLUMNS)})")
        rows = [] if store is None else store.records()
        con.executemany(f"INSERT INTO images VALUES ({', '.join('?' * len(_RECORD_COLUMNS))})",
                        [tuple(_sql_value(r.get(c, 0 if c == "attempts" else None)) for c in _RECORD_COLUMNS)
                         for r in rows])
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _sql_value(value):
    from decimal import Decimal
    return int(value) if isinstance(value, Decimal) else value


def blob_bytes(data_dir: Path, key: str) -> Optional[bytes]:
    """The bytes stored under `key` (the local blobs/ folder or the bucket); None when absent."""
    if (store := aws_store(data_dir, create=False)) is not None:
        return store.blob_bytes(key)
    path = Path(data_dir) / "blobs" / key
    return path.read_bytes() if path.is_file() else None


def image_ids(data_dir: Path) -> frozenset:
    return frozenset(r["id"] for r in db_rows(data_dir, "SELECT id FROM images"))


def store_state(data_dir: Path) -> StoreState:
    """Every file under blobs/ (originals/, variants/, quarantine/, .tmp/) and every image id.
    When a server runs on `data_dir`, waits for its pipeline to be idle first (see wait_idle)."""
    srv = server_for(data_dir)
    if srv is not None:
        srv.wait_idle()
    return StoreState(blob_files(data_dir), image_ids(data_dir))


def assert_nothing_left(data_dir: Path, before: StoreState) -> None:
    after = store_state(data_dir)
    new_files = sorted(after.blob_files - before.blob_files)
    new_rows = sorted(after.image_ids - before.image_ids)
    assert not new_files, f"refused upload left files under blobs/: {new_files}"
    assert not new_rows, f"refused upload left rows in images: {new_rows}"


def image_blobs(data_dir: Path, image_id: str) -> set[str]:
    """Every file under blobs/ that belongs to image `image_id` (original, variants, quarantine)."""
    return {f for f in blob_files(data_dir) if image_id in Path(f).parts}


def variant_files(owner: str, image_id: str) -> set[str]:
    """The blob files (relative to blobs/) of a ready image's two variants."""
    return {f"variants/{owner}/{image_id}/{name}.webp" for name in VARIANT_EDGES}


# ---------------------------------------------------------------------------------------------
# Records and what the pipeline derives
# ---------------------------------------------------------------------------------------------


def assert_processing_record(rec: dict) -> None:
    """A record just uploaded: "processing", nothing derived yet."""
    assert rec["status"] == "processing", f"a new upload must answer status 'processing': {rec}"
    derived = {k: rec[k] for k in ("exif", "placeholder", "dominant_color", "phash", "bit_depth", "bands",
                                   "has_alpha", "animated", "frame_count", "icc_profile")}
    assert all(v is None for v in derived.values()), f"derived members set before processing: {derived}"
    assert rec["variants"] == {}, rec["variants"]
    assert "failure_reason" not in rec


def assert_same_upload(before: dict, after: dict) -> None:
    """The members fixed at upload time are the same in both records."""
    keep = (set(before) | set(after)) - DERIVED_FIELDS - {"duplicate"}
    diff = {k: (before.get(k), after.get(k)) for k in sorted(keep) if before.get(k) != after.get(k)}
    assert not diff, f"processing changed members fixed at upload (before, after): {diff}"


def hamming(a_hex: str, b_hex: str) -> int:
    return bin(int(a_hex, 16) ^ int(b_hex, 16)).count("1")


BLURHASH_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def blurhash_components(text: str) -> tuple[int, int]:
    """Checks a BlurHash string's structure (Wolt's specification); returns (nx, ny)."""
    assert isinstance(text, str) and len(text) >= 6, f"not a BlurHash: {text!r}"
    bad = [c for c in text if c not in BLURHASH_ALPHABET]
    assert not bad, f"BlurHash {text!r} has characters outside base83: {bad}"
    size_flag = BLURHASH_ALPHABET.index(text[0])
    nx, ny = size_flag % 9 + 1, size_flag // 9 + 1
    assert len(text) == 4 + 2 * nx * ny, f"BlurHash {text!r}: {nx}x{ny} components need {4 + 2 * nx * ny} characters"
    return nx, ny


@dataclass
class WebpInfo:
    width: int
    height: int
    chunks: list  # fourcc strings in file order
    vp8x_flags: int  # 0 without a VP8X chunk
    has_alpha: bool  # VP8X alpha flag, or VP8L's alpha_is_used bit

    VP8X_ICC, VP8X_ALPHA, VP8X_EXIF, VP8X_XMP, VP8X_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02


def webp_info(data: bytes) -> WebpInfo:
    """Parses a WebP file's RIFF structure and its dimensions (VP8, VP8L or VP8X)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", f"not a WebP file: {data[:16]!r}"
    riff_size = struct.unpack("<I", data[4:8])[0]
    assert riff_size + 8 == len(data), f"RIFF size {riff_size} + 8 != file size {len(data)}"
    chunks, size, flags, alpha = [], None, 0, False
    i = 12
    while i < len(data):
        assert i + 8 <= len(data), "truncated chunk header"
        fourcc = data[i:i + 4].decode("latin-1")
        n = struct.unpack("<I", data[i + 4:i + 8])[0]
        payload = data[i + 8:i + 8 + n]
        assert len(payload) == n, f"chunk {fourcc!r} truncated"
        chunks.append(fourcc)
        if fourcc == "VP8X":
            flags = payload[0]
            size = (int.from_bytes(payload[4:7], "little") + 1, int.from_bytes(payload[7:10], "little") + 1)
            alpha = bool(flags & WebpInfo.VP8X_ALPHA)
        elif fourcc == "VP8 " and size is None:
            assert payload[3:6] == b"\x9d\x01\x2a", "VP8 key frame start code missing"
            w, h = struct.unpack("<HH", payload[6:10])
            size = (w & 0x3FFF, h & 0x3FFF)
        elif fourcc == "VP8L" and size is None:
            assert payload[0] == 0x2F, "VP8L signature missing"
            bits = struct.unpack("<I", payload[1:5])[0]
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
            alpha = alpha or bool((bits >> 28) & 1)
        i += 8 + n + (n & 1)
    assert size is not None, f"no VP8/VP8L/VP8X chunk in {chunks}"
    return WebpInfo(size[0], size[1], chunks, flags, alpha)


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

_png_counter = itertools.count()
_png_lock = threading.Lock()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


PNG_SIG = b"\x89PNG\r\n\x1a\n"


def png_ihdr(width: int, height: int, bit_depth: int = 8, color_type: int = 2) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))


def make_png(width: int, height: int, pixels: Optional[bytes] = None, *, level: int = 6) -> bytes:
    """A valid 8-bit RGB PNG. `pixels` is width*height*3 bytes (random when omitted)."""
    if pixels is None:
        pixels = random.randbytes(width * height * 3)
    assert len(pixels) == width * height * 3
    stride = width * 3
    raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))
    return PNG_SIG + png_ihdr(width, height) + _chunk(b"IDAT", zlib.compress(raw, level)) + _chunk(b"IEND", b"")


def unique_png(width: int = 8, height: int = 8) -> bytes:
    """A small PNG whose bytes no other call returns (the first pixels carry a counter)."""
    with _png_lock:
        n = next(_png_counter)
    seed = struct.pack(">QQ", n, random.getrandbits(64))
    pixels = (seed + random.randbytes(width * height * 3))[: width * height * 3]
    return make_png(width, height, pixels)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIG and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_header_declaring(width: int, height: int) -> bytes:
    """A PNG with a valid IHDR declaring width x height, a tiny IDAT and IEND."""
    return (PNG_SIG + png_ihdr(width, height) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def jpeg_with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The same JPEG with a COM segment after SOI: still valid, different bytes."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) stored in the first SOFn marker (before EXIF orientation)."""
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, f"bad marker at {i}"
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    raise AssertionError("no SOF marker")


def gif(width: int = 1, height: int = 1, color: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A minimal valid GIF89a, every pixel `color`."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)
    palette = bytes(color) + b"\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    # LZW: min code size 2, clear code, then pixel 0 repeated, end code. Encode with a simple
    # "clear before every code" scheme so that the code width stays 3 bits.
    codes = []
    for _ in range(width * height):
        codes += [4, 0]
    codes.append(5)
    bits, nbits, out = 0, 0, bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += 3
        while nbits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        out.append(bits & 0xFF)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + bytes(out[i:i + 255]) for i in range(0, len(out), 255))
    return header + palette + image + b"\x02" + blocks + b"\x00" + b"\x3b"


# 1x1 WebP images (the well-known feature-detection samples).
WEBP_LOSSY = base64.b64decode("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
WEBP_LOSSLESS = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")

SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>\n')
HTML = b"<!DOCTYPE html>\n<html><head><title>x</title></head><body><script>alert(1)</script></body></html>\n"
PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\n"
       b"endobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
TEXT = b"just some text, not an image\n"


def corpus_file(path: Path) -> bytes:
    if not path.exists():
        raise AssertionError(f"corpus file {path} missing (IMGUP_CORPORA={CORPORA})")
    return path.read_bytes()


def ulids_in(text: str) -> list[str]:
    return ULID_IN_TEXT.findall(text)


def expect_problem(resp, status: int, codes) -> dict:
    """Asserts a problem+json answer with this status and one of `codes`; returns its body."""
    if isinstance(codes, str):
        codes = {codes}
    got_status = resp.status_code if hasattr(resp, "status_code") else resp.status
    text = resp.text if hasattr(resp, "text") else resp.body.decode("utf-8", "replace")
    assert got_status == status, f"expected {status} {sorted(codes)}, got {got_status}: {text[:500]}"
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    assert ctype == "application/problem+json", f"Content-Type {ctype!r}"
    body = resp.json()
    assert body["code"] in codes, f"expected code in {sorted(codes)}, got {body['code']!r}: {body}"
    assert body["status"] == status
    return body
