#!/usr/bin/env python3
"""s3_event_relay.py: S3 event notifications on this machine (make run-lambda).

versitygw posts its bucket notifications to a webhook (`--event-webhook-url`). This program is
that webhook: it turns each of versitygw's records into exactly what AWS S3 sends to Lambda (the
record of `sam local generate-event s3 put`, tests/lambda/fixtures/aws/s3-put.json), and invokes
the processor function under AWS's Lambda emulator the way Lambda invokes a function for S3,
asynchronously: the webhook is answered at once, invocations run one at a time in the background,
a function error is retried twice with backoff, and then the event goes to a dead-letter folder
(one JSON file per event, in the shape of Lambda's on-failure destination record). The object
stays in the bucket.

What versitygw's records differ in (measured with v1.8.0), and what AWS sends instead:
- the key is not URL-encoded: AWS encodes it as a form value (`+` for a space, `/` kept);
- eventName is "s3:ObjectCreated:Put": AWS's has no "s3:" prefix;
- the bucket ARN is "arn:aws:s3:::/BUCKET/KEY": AWS's is "arn:aws:s3:::BUCKET";
- userIdentity and ownerIdentity say "PrincipalId": AWS's say "principalId";
- eventTime has no milliseconds, the sequencer is a decimal counter, eTag is quoted, versionId is
  null, the request ids are empty, and every record carries glacierEventData.
- for a browser form upload (POST Object, the presigned POST of `POST /uploads`) the key is empty
  and the ARN names only the bucket: the relay finds the object in the bucket instead (the newest
  object under a --prefix with the record's ETag and size, not yet relayed in that version),
  through S3 with the
  endpoint and keys of --aws-env (DATA/aws-local.env, read when first needed: it is written once
  versitygw runs, after the relay has started).
A record that cannot be relayed (a keyless one whose object is not found, one that is not an S3
record, a body that is not JSON) is not dropped: it is logged ("unrelayable record", with the
reason) and written to the dead-letter folder like an event whose retries ran out, with condition
"Unrelayable" (Relay.cannot_relay says what the letter holds).
At start versitygw posts a test event ({"Event": "s3:TestEvent"}) and exits when nothing answers;
it is answered and not relayed (AWS sends such a test event to SQS and SNS, never to Lambda).

Only ObjectCreated events of keys under a --prefix (originals/ and uploads/, where the forms of
POST /uploads stage their bytes, ADR 15) go to the function: the two event notifications of
infra/template.yaml (the processor writes variants/ itself).

Why Python and not C++ inside imgup: this runs only on a developer's machine to stand in for S3's
notification service; nothing of it is deployed, and its one job is reshaping JSON and retrying.

Usage: s3_event_relay.py --function-url URL --dlq DIR [--port 0] [--prefix P ...]
       [--backoff 1.0] [--retries 2] [--aws-env DATA/aws-local.env]
Prints "s3-event-relay: listening on http://127.0.0.1:PORT" when it answers. SIGTERM or SIGINT
stops it after the invocation in flight.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import quote_plus


def aws_time(text: str) -> str:
    """"2026-12-02T15:27:23Z" → "2026-12-02T15:27:23.000Z" (AWS's eventTime has milliseconds)."""
    try:
        when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        try:
            when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            when = datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def aws_key(key: str) -> str:
    """The object key as S3 puts it in an event: form-encoded, a space as "+", "/" kept."""
    return quote_plus(key, safe="/")


def principal(identity) -> dict:
    identity = identity or {}
    return {"principalId": identity.get("principalId") or identity.get("PrincipalId") or ""}


def sequencer(value) -> str:
    text = str(value or "0")
    return f"{int(text):016X}" if text.isdigit() else text


def to_aws_record(record: dict, configuration_id: str = "imgup-processor") -> dict:
    """One of versitygw's records as AWS S3 sends it to Lambda."""
    s3 = record.get("s3") or {}
    bucket = (s3.get("bucket") or {}).get("name", "")
    obj = s3.get("object") or {}
    out_object = {
        "key": aws_key(obj.get("key", "")),
        "size": int(obj.get("size") or 0),
        "eTag": str(obj.get("eTag") or "").strip('"'),
        "sequencer": sequencer(obj.get("sequencer")),
    }
    if obj.get("versionId"):
        out_object["versionId"] = obj["versionId"]
    if out_object["eTag"] == "":
        del out_object["eTag"]  # as for a delete
    name = str(record.get("eventName", ""))
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": record.get("awsRegion") or "us-east-1",
        "eventTime": aws_time(record.get("eventTime", "")),
        "eventName": name[3:] if name.startswith("s3:") else name,
        "userIdentity": principal(record.get("userIdentity")),
        "requestParameters": {
            "sourceIPAddress": (record.get("requestParameters") or {}).get("sourceIPAddress", "127.0.0.1")},
        "responseElements": {
            "x-amz-request-id": (record.get("responseElements") or {}).get("x-amz-request-id")
            or secrets.token_hex(8).upper(),
            "x-amz-id-2": (record.get("responseElements") or {}).get("x-amz-id-2")
            or base64.b64encode(secrets.token_bytes(48)).decode(),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": principal((s3.get("bucket") or {}).get("ownerIdentity")),
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": out_object,
        },
    }


PREFIXES = ("originals/", "uploads/")


def events_to_send(notification: dict, prefixes=PREFIXES, find_key=None,
                   unrelayable: Optional[list] = None) -> list[dict]:
    """The AWS events ({"Records": [record]}, one record each, as S3 sends them) for versitygw's
    notification `notification`: ObjectCreated records under one of `prefixes` only; none for a test
    event. `find_key(bucket, etag, size)` names the object of a record without a key (a form
    POST's), or None. A record that cannot be sent (it names no object, or is not an S3 record)
    is appended to `unrelayable` as (record, reason)."""
    def cannot(record, reason: str) -> None:
        if unrelayable is not None:
            unrelayable.append((record, reason))

    records = notification.get("Records") or []
    if not isinstance(records, list):
        cannot(records, "Records is not a list")
        return []
    out = []
    for record in records:
        try:
            if not str(record.get("eventName", "")).removeprefix("s3:").startswith("ObjectCreated:"):
                continue
            s3 = record.get("s3") or {}
            bucket = (s3.get("bucket") or {}).get("name", "")
            obj = s3.get("object") or {}
            key = obj.get("key", "")
            etag, size = str(obj.get("eTag") or "").strip('"'), int(obj.get("size") or 0)
            to_aws_record(record)
        except (AttributeError, TypeError, ValueError) as e:
            cannot(record, f"not an S3 event record: {e!r}")
            continue
        if not key:
            if find_key is None:
                cannot(record, "no key, and no way to look it up (the relay runs without --aws-env)")
                continue
            try:
                found = find_key(bucket, etag, size)
            except Exception as e:  # S3 did not answer the lookup: this record's failure only
                cannot(record, f"no key, and looking it up in bucket {bucket} failed: {e!r}")
                continue
            if not found:
                cannot(record, f"no key, and no object under {' or '.join(prefixes)} in bucket {bucket} with ETag {etag} "
                       f"and size {size} that an earlier record did not name")
                continue
            record = json.loads(json.dumps(record))
            record["s3"]["object"]["key"] = key = found
        if not key.startswith(tuple(prefixes)):
            continue
        out.append({"Records": [to_aws_record(record)]})
    return out


class KeyFinder:
    """The object a keyless record (versitygw's for a form POST) is about: the newest object under
    `prefixes` with its ETag and size that no earlier keyless record named in that version (its
    last-modified time: the same form posted again with the same bytes is another object)."""

    def __init__(self, aws_env_file: Path, prefixes=PREFIXES):
        self.aws_env_file = aws_env_file
        self.prefixes = tuple(prefixes)
        self.named: set[tuple] = set()
        self._s3 = None

    def client(self):
        if self._s3 is None:
            import boto3
            from botocore.config import Config
            env = dict(line.split("=", 1) for line in self.aws_env_file.read_text().splitlines() if "=" in line)
            self._s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name=env["AWS_REGION"],
                                    aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                                    config=Config(s3={"addressing_style": "path"}))
        return self._s3

    def __call__(self, bucket: str, etag: str, size: int) -> Optional[str]:
        candidates = []
        for prefix in self.prefixes:
            for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    version = (bucket, obj["Key"], etag, obj["LastModified"])
                    if obj["ETag"].strip('"') == etag and obj["Size"] == size and version not in self.named:
                        candidates.append((obj["LastModified"], obj["Key"]))
        if not candidates:
            return None
        modified, key = max(candidates)
        self.named.add((bucket, key, etag, modified))
        return key


def invoke(url: str, event: dict, timeout: float) -> tuple[bool, int, bytes]:
    """(ok, HTTP status, payload) of one synchronous invocation on the emulator; ok is False for a
    function error (errorType/errorMessage, a non-200) or no answer."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
            failed = bool(response.headers.get("X-Amz-Function-Error"))
    except urllib.error.HTTPError as e:
        return False, e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return False, 0, str(e).encode()
    try:
        doc = json.loads(payload)
        failed = failed or (isinstance(doc, dict) and "errorType" in doc and "errorMessage" in doc)
    except ValueError:
        pass
    return not failed and status == 200, status, payload


class Relay:
    def __init__(self, function_url: str, dlq: Path, retries: int = 2, backoff: float = 1.0,
                 prefixes=PREFIXES, timeout: float = 900.0, log=sys.stderr, find_key=None):
        self.find_key = find_key
        self.function_url = function_url
        self.dlq = dlq
        self.retries = retries
        self.backoff = backoff
        self.prefixes = tuple(prefixes)
        self.timeout = timeout
        self.log = log
        self.queue: "queue.Queue[Optional[dict]]" = queue.Queue()
        self.stopping = threading.Event()
        self.worker = threading.Thread(target=self._run, daemon=True)

    def say(self, **fields) -> None:
        fields = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields}
        print(json.dumps(fields), file=self.log, flush=True)

    def accept(self, notification: dict) -> int:
        unrelayable: list = []
        events = events_to_send(notification, self.prefixes, self.find_key, unrelayable)
        for record, reason in unrelayable:
            self.cannot_relay(record, reason)
        for event in events:
            self.queue.put(event)
        return len(events)

    def cannot_relay(self, record, reason: str) -> Path:
        """A record the function cannot be invoked with (S3 would not have sent it, or the relay
        cannot make it what S3 sends): said in the log, and a letter in the dead-letter folder, as
        for an event whose retries ran out, so that the upload it was about is not lost unseen.
        The letter's condition is "Unrelayable", its requestPayload the event as far as the record
        converts (else null), its versitygwRecord the record as versitygw sent it."""
        self.say(msg="unrelayable record", reason=reason, record=record)
        try:
            event = {"Records": [to_aws_record(record)]}
        except (AttributeError, TypeError, ValueError):
            event = None
        return self._write_letter({
            "requestContext": {"condition": "Unrelayable", "approximateInvokeCount": 0},
            "requestPayload": event,
            "responseContext": None,
            "responsePayload": {"errorType": "Relay.unrelayable", "errorMessage": reason},
            "versitygwRecord": record,
        })

    def deliver(self, event: dict) -> bool:
        """Invokes the function with `event` up to 1 + retries times (Lambda's asynchronous
        invocation); after the last failure the event goes to the dead-letter folder."""
        key = event["Records"][0]["s3"]["object"]["key"]
        attempts = 0
        status, payload = 0, b""
        while True:
            attempts += 1
            ok, status, payload = invoke(self.function_url, event, self.timeout)
            if ok:
                self.say(msg="delivered", key=key, attempts=attempts)
                return True
            self.say(msg="function error", key=key, attempt=attempts, status=status,
                     error=payload[:500].decode(errors="replace"))
            if attempts > self.retries or self.stopping.is_set():
                break
            # Lambda waits about 1 min, then 2 min; here seconds (--backoff) to the same shape.
            if self.stopping.wait(self.backoff * (2 ** (attempts - 1))):
                break
        self.dead_letter(event, attempts, status, payload)
        return False

    def dead_letter(self, event: dict, attempts: int, status: int, payload: bytes) -> Path:
        try:
            response = json.loads(payload)
        except ValueError:
            response = payload.decode(errors="replace")
        path = self._write_letter({
            "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": attempts},
            "requestPayload": event,
            "responseContext": {"statusCode": status, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": response,
        })
        self.say(msg="dead-lettered", key=event["Records"][0]["s3"]["object"]["key"], attempts=attempts,
                 file=str(path))
        return path

    def _write_letter(self, parts: dict) -> Path:
        """A file in the dead-letter folder in the shape of Lambda's on-failure destination record."""
        self.dlq.mkdir(parents=True, exist_ok=True)
        request_id = secrets.token_hex(16)
        record = {
            "version": "1.0",
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            **parts,
        }
        record["requestContext"] = {"requestId": request_id, "functionArn": self.function_url,
                                    **parts["requestContext"]}
        path = self.dlq / f"{time.strftime('%Y%m%dT%H%M%S')}-{request_id[:12]}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, path)
        return path

    def _run(self) -> None:
        while True:
            event = self.queue.get()
            if event is None:
                return
            try:
                self.deliver(event)
            except Exception as e:  # one bad event must not stop the relay
                self.say(msg="relay error", error=repr(e))

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.stopping.set()
        self.queue.put(None)
        self.worker.join(timeout=self.timeout)


def make_server(relay: Relay, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                notification = json.loads(body)
            except ValueError as e:
                notification, problem = body.decode(errors="replace"), f"the webhook's body is not JSON: {e}"
            else:
                problem = "" if isinstance(notification, dict) else "the webhook's body is not a JSON object"
            if problem:
                relay.cannot_relay(notification, problem)
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            queued = relay.accept(notification)
            if queued:
                relay.say(msg="queued", events=queued)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.daemon_threads = True
    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--function-url", required=True)
    parser.add_argument("--dlq", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", action="append", dest="prefixes",
                        help="relay ObjectCreated under this prefix (repeatable; default: "
                        + " and ".join(PREFIXES) + ")")
    parser.add_argument("--retries", type=int, default=2)
    parser.add_argument("--backoff", type=float, default=1.0)
    parser.add_argument("--aws-env", type=Path, help="KEY=value lines with the S3 endpoint and keys "
                        "(DATA/aws-local.env): to find the object of a form POST's keyless record")
    args = parser.parse_args()

    prefixes = tuple(args.prefixes or PREFIXES)
    finder = KeyFinder(args.aws_env, prefixes) if args.aws_env else None
    relay = Relay(args.function_url, args.dlq, args.retries, args.backoff, prefixes, find_key=finder)
    server = make_server(relay, args.port)
    relay.start()

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"s3-event-relay: listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    relay.stop()
    print("s3-event-relay: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
