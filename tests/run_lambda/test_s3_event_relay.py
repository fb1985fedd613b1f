"""scripts/s3_event_relay.py, the S3 event notifications of `make run-lambda`: versitygw's records
become exactly what AWS S3 sends to Lambda (AWS's own sample, `sam local generate-event s3 put`,
tests/lambda/fixtures/aws/s3-put.json), and the processor is invoked as Lambda invokes a function
asynchronously: a function error is retried twice with backoff, then the event goes to the
dead-letter folder. The processor here is a stub HTTP server (the whole stack's version of these
tests, with the real processor under the emulator, is in test_run_lambda.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
AWS_FIXTURES = ROOT / "tests/lambda/fixtures/aws"

_spec = importlib.util.spec_from_file_location("s3_event_relay", ROOT / "scripts/s3_event_relay.py")
relay_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(relay_module)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def shape(value, path: str = "") -> set[str]:
    """Every member path of a JSON document with its type: what two documents must share."""
    if isinstance(value, dict):
        out = {f"{path}/"}
        for key, item in value.items():
            out |= shape(item, f"{path}/{key}")
        return out
    if isinstance(value, list):
        out = {f"{path}[]"}
        for item in value:
            out |= shape(item, f"{path}[]")
        return out
    return {f"{path}:{type(value).__name__}"}


def test_a_versitygw_record_becomes_the_record_aws_sends():
    # Measured: versitygw v1.8.0's notification for `aws s3 cp f.txt "s3://bkt/originals/a b+c/é.txt"`.
    notification = load(FIXTURES / "versitygw-put.json")
    original = notification["Records"][0]
    assert original["eventName"] == "s3:ObjectCreated:Put"
    assert original["s3"]["bucket"]["arn"] == "arn:aws:s3:::/bkt/originals/a b+c/é.txt"

    events = relay_module.events_to_send(notification)
    assert len(events) == 1
    event = events[0]
    sample = load(AWS_FIXTURES / "s3-put.json")
    # The same members, of the same types, as AWS's sample: nothing missing, nothing extra
    # (versitygw's glacierEventData, its null versionId and its PrincipalId spelling are gone).
    assert shape(event) == shape(sample)
    record = event["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {"name": "bkt", "ownerIdentity": {"principalId": "AKIATEST"},
                                      "arn": "arn:aws:s3:::bkt"}
    # URL-encoded as S3 does: "+" for a space, "%2B" for a plus, UTF-8 escaped, "/" kept.
    assert record["s3"]["object"]["key"] == "originals/a+b%2Bc/%C3%A9.txt"
    assert unquote_plus(record["s3"]["object"]["key"]) == "originals/a b+c/é.txt"
    assert record["s3"]["object"]["size"] == 3
    assert record["s3"]["object"]["eTag"] == "764efa883dda1e11db47671c4a3bbd9e"
    assert re.fullmatch(r"[0-9A-F]{16,}", record["s3"]["object"]["sequencer"])
    # The time in AWS's format, milliseconds included.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sample["Records"][0]["eventTime"])
    assert record["eventTime"] == "2026-12-02T15:27:23.000Z"
    assert record["eventSource"] == "aws:s3" and record["awsRegion"] == "us-east-1"
    assert record["responseElements"]["x-amz-request-id"]


def test_only_objects_created_under_originals_and_uploads_go_to_the_processor():
    assert relay_module.events_to_send(load(FIXTURES / "versitygw-test-event.json")) == []
    notification = load(FIXTURES / "versitygw-put.json")
    record = notification["Records"][0]
    # What the forms of POST /uploads stage (ADR 15): the processor commits or refuses it.
    staged = json.loads(json.dumps(notification))
    staged["Records"][0]["s3"]["object"]["key"] = "uploads/local/01KD5TESTSTAGED0000000000000"
    assert [e["Records"][0]["s3"]["object"]["key"] for e in relay_module.events_to_send(staged)] == [
        "uploads/local/01KD5TESTSTAGED0000000000000"]
    assert relay_module.events_to_send(staged, prefixes=("originals/",)) == []
    variant = json.loads(json.dumps(notification))
    variant["Records"][0]["s3"]["object"]["key"] = "variants/local/X/thumb.webp"
    assert relay_module.events_to_send(variant) == []
    removed = json.loads(json.dumps(notification))
    removed["Records"][0]["eventName"] = "s3:ObjectRemoved:Delete"
    assert relay_module.events_to_send(removed) == []
    copied = json.loads(json.dumps(notification))
    copied["Records"][0]["eventName"] = "s3:ObjectCreated:CompleteMultipartUpload"
    assert [e["Records"][0]["eventName"] for e in relay_module.events_to_send(copied)] == [
        "ObjectCreated:CompleteMultipartUpload"]
    assert record["eventName"] == "s3:ObjectCreated:Put"  # the notification was not changed


class StubProcessor:
    """An emulator's invoke endpoint whose function fails the first `failures` invocations (as
    the emulator answers a function error: 200 with errorType and errorMessage)."""

    def __init__(self, failures: int):
        self.failures = failures
        self.events: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                stub.events.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if len(stub.events) <= stub.failures:
                    body = json.dumps({"errorType": "Imgup.record_not_yet", "errorMessage": "no record yet"})
                else:
                    body = json.dumps({"records": [{"outcome": "ready"}]})
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2015-03-31/functions/function/invocations"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_processor():
    stubs = []

    def make(failures: int) -> StubProcessor:
        stubs.append(StubProcessor(failures))
        return stubs[-1]

    yield make
    for stub in stubs:
        stub.close()


def aws_event() -> dict:
    return relay_module.events_to_send(load(FIXTURES / "versitygw-put.json"))[0]


def test_a_function_error_is_retried_twice_then_the_event_is_dead_lettered(stub_processor, tmp_path):
    processor = stub_processor(failures=100)
    relay = relay_module.Relay(processor.url, tmp_path / "dlq", backoff=0.01, log=open("/dev/null", "w"))
    event = aws_event()
    assert relay.deliver(event) is False
    assert processor.events == [event] * 3  # the first invocation and two retries, the same event
    letters = list((tmp_path / "dlq").glob("*.json"))
    assert len(letters) == 1
    letter = load(letters[0])
    assert letter["requestPayload"] == event
    assert letter["requestContext"]["condition"] == "RetriesExhausted"
    assert letter["requestContext"]["approximateInvokeCount"] == 3
    assert letter["responsePayload"]["errorType"] == "Imgup.record_not_yet"


def test_an_event_that_succeeds_on_a_retry_is_not_dead_lettered(stub_processor, tmp_path):
    processor = stub_processor(failures=1)
    relay = relay_module.Relay(processor.url, tmp_path / "dlq", backoff=0.01, log=open("/dev/null", "w"))
    assert relay.deliver(aws_event()) is True
    assert len(processor.events) == 2
    assert not (tmp_path / "dlq").exists()


def test_no_function_listening_is_a_failure_too(tmp_path):
    relay = relay_module.Relay("http://127.0.0.1:9/2015-03-31/functions/function/invocations", tmp_path / "dlq",
                               retries=1, backoff=0.01, timeout=2, log=open("/dev/null", "w"))
    assert relay.deliver(aws_event()) is False
    assert load(next((tmp_path / "dlq").glob("*.json")))["requestContext"]["approximateInvokeCount"] == 2


def test_the_webhook_answers_at_once_and_invokes_in_the_background(stub_processor, tmp_path):
    processor = stub_processor(failures=0)
    relay = relay_module.Relay(processor.url, tmp_path / "dlq", backoff=0.01, log=open("/dev/null", "w"))
    server = relay_module.make_server(relay, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    relay.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/events"
        # versitygw's start-up test event must be answered 200, or versitygw exits.
        assert requests.post(url, data=(FIXTURES / "versitygw-test-event.json").read_bytes(), timeout=5).status_code == 200
        assert requests.post(url, data=(FIXTURES / "versitygw-put.json").read_bytes(), timeout=5).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
        relay.stop()
    assert [e["Records"][0]["s3"]["object"]["key"] for e in processor.events] == ["originals/a+b%2Bc/%C3%A9.txt"]


def keyless(notification: dict) -> dict:
    """versitygw's record for a form POST: no key, the ARN names only the bucket."""
    out = json.loads(json.dumps(notification))
    out["Records"][0]["eventName"] = "s3:ObjectCreated:Post"
    out["Records"][0]["s3"]["object"]["key"] = ""
    return out


def test_a_record_that_names_no_object_is_logged_and_dead_lettered_not_dropped(stub_processor, tmp_path):
    processor = stub_processor(failures=0)
    log = tmp_path / "relay.log"
    with open(log, "w") as out:
        relay = relay_module.Relay(processor.url, tmp_path / "dlq", backoff=0.01, log=out,
                                   find_key=lambda bucket, etag, size: None)
        posted = keyless(load(FIXTURES / "versitygw-put.json"))
        assert relay.accept(posted) == 0
        # Not a record at all, and a record whose size is not a number.
        assert relay.accept({"Records": ["garbage"]}) == 0
        broken = load(FIXTURES / "versitygw-put.json")
        broken["Records"][0]["s3"]["object"]["size"] = "many"
        assert relay.accept(broken) == 0
    assert processor.events == []
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    said = [line for line in lines if line["msg"] == "unrelayable record"]
    assert len(said) == 3, lines
    assert "no key" in said[0]["reason"] and "764efa883dda1e11db47671c4a3bbd9e" in said[0]["reason"]
    assert said[0]["record"] == posted["Records"][0]
    assert said[1]["record"] == "garbage"
    letters = [load(path) for path in sorted((tmp_path / "dlq").glob("*.json"))]
    assert len(letters) == 3
    by_reason = {letter["responsePayload"]["errorMessage"]: letter for letter in letters}
    assert set(by_reason) == {line["reason"] for line in said}
    letter = by_reason[said[0]["reason"]]
    assert letter["requestContext"]["condition"] == "Unrelayable"
    assert letter["requestContext"]["approximateInvokeCount"] == 0
    assert letter["versitygwRecord"] == posted["Records"][0]
    # As far as it converts, the event the function would have had (its key unknown).
    assert letter["requestPayload"]["Records"][0]["eventName"] == "ObjectCreated:Post"
    assert letter["requestPayload"]["Records"][0]["s3"]["object"]["key"] == ""
    assert by_reason[said[1]["reason"]]["requestPayload"] is None


def test_a_keyless_record_without_a_way_to_find_its_key_is_not_dropped_silently(tmp_path):
    relay = relay_module.Relay("http://127.0.0.1:9/unused", tmp_path / "dlq", log=open("/dev/null", "w"))
    assert relay.accept(keyless(load(FIXTURES / "versitygw-put.json"))) == 0
    [letter] = [load(path) for path in (tmp_path / "dlq").glob("*.json")]
    assert "--aws-env" in letter["responsePayload"]["errorMessage"]


def test_a_failing_key_lookup_is_the_letter_s_reason(tmp_path):
    def lookup(bucket, etag, size):
        raise ConnectionError("S3 did not answer")

    relay = relay_module.Relay("http://127.0.0.1:9/unused", tmp_path / "dlq", log=open("/dev/null", "w"),
                               find_key=lookup)
    notification = load(FIXTURES / "versitygw-put.json")
    notification["Records"].append(keyless(notification)["Records"][0])
    assert relay.accept(notification) == 1  # the keyed record still goes
    [letter] = [load(path) for path in (tmp_path / "dlq").glob("*.json")]
    assert "S3 did not answer" in letter["responsePayload"]["errorMessage"]


def test_a_webhook_body_that_is_not_json_is_logged_and_dead_lettered(tmp_path):
    log = tmp_path / "relay.log"
    with open(log, "w") as out:
        relay = relay_module.Relay("http://127.0.0.1:9/unused", tmp_path / "dlq", log=out)
        server = relay_module.make_server(relay, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/events"
            assert requests.post(url, data=b"{not json", timeout=5).status_code == 400
            assert requests.post(url, data=b"[1, 2]", timeout=5).status_code == 400
        finally:
            server.shutdown()
            server.server_close()
    said = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["msg"] for line in said] == ["unrelayable record"] * 2, said
    assert said[0]["record"] == "{not json"
    assert len(list((tmp_path / "dlq").glob("*.json"))) == 2
