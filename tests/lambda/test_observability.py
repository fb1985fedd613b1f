"""What CloudWatch Logs gets from both functions, read from what they print under AWS's Lambda
Runtime Interface Emulator (the emulator's output is the function's stdout and stderr, with its
own START/END/REPORT lines): one JSON object per line, carrying the invocation's request id (the
emulator passes no X-Ray trace id: the unit tests check that one), and the metrics in CloudWatch's Embedded Metric Format (emf.py checks each line
against the specification). The metric names, units and dimensions are what the SAM template's
alarms and the README's metrics section name."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import requests

import emf
from test_api_function import body_json, http_api, seed_upload_v2
from test_processor_function import SEED_PNG, png_with_pixel_data, s3_put

_START = re.compile(r"^START RequestId: (\S+)", re.M)


def trace_header() -> tuple[str, str]:
    """A fresh X-Ray trace header and its trace id."""
    root = f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=1", root


def invoke(emulator, event: dict, trace: str) -> dict:
    """The function's answer to `event`, invoked with `trace` as X-Amzn-Trace-Id (which the
    emulator hands to the function as Lambda-Runtime-Trace-Id, as Lambda does)."""
    r = requests.post(emulator.url, data=json.dumps(event), headers={"X-Amzn-Trace-Id": trace},
                      timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def json_lines(emulator, expected: int) -> list[dict]:
    """Every line the function printed, once `expected` of them carry a request id (a line may
    trail the answer it belongs to by a moment): each must be one JSON object (the emulator's own
    lines, START/END/REPORT and its bracketed log lines, are not the function's)."""
    for _ in range(100):
        lines = parse_lines(emulator)
        if sum(1 for line in lines if "request_id" in line) >= expected:
            break
        time.sleep(0.05)
    return lines


def parse_lines(emulator) -> list[dict]:
    out = []
    for line in emulator.log().splitlines():
        if line.startswith(("START RequestId:", "END RequestId:", "REPORT RequestId:",
                            "INIT REPORT", "INIT START", "EXTENSION", "TELEMETRY")):
            continue
        if re.match(r"^\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}", line) or not line.strip():
            continue  # the emulator's own log ("02 Dec 2026 15:00:00,000 [INFO] (rapid) ...")
        document = json.loads(line)  # fails the test on a line that is not JSON
        assert isinstance(document, dict), line
        if "_aws" in document:
            emf.validate(line)
        out.append(document)
    return out


def upload_event(png: bytes, filename: str = "photo.png", content_type: str = "image/png") -> dict:
    event = seed_upload_v2()
    event["body"] = json.dumps({"filename": filename, "content_type": content_type,
                                "image_base64": base64.b64encode(png).decode()})
    event["isBase64Encoded"] = False
    event["requestContext"]["requestId"] = f"apigw-{uuid.uuid4()}"
    return event


def request_line(lines: list[dict], request_id: str) -> dict:
    found = [line for line in lines if line.get("msg") == "request" and
             line.get("request_id") == request_id]
    assert len(found) == 1, (request_id, lines)
    return found[0]


def test_api_function_logs_each_request_as_json_with_its_ids_and_metrics(start_function):
    api = start_function()
    sent = []  # (event, trace id, answer)
    for event in (upload_event(SEED_PNG),  # 201
                  upload_event(SEED_PNG),  # 200, the same bytes again
                  upload_event(b"GIF89a not really", "a.gif", "image/gif"),  # 415 or 422
                  ):
        header, root = trace_header()
        sent.append((event, root, invoke(api, event, header)))
    bad = upload_event(SEED_PNG)
    bad["body"] = '{"filename": "a.png", "content_type": "image/png", "image_base64": "@@@"}'
    header, root = trace_header()
    sent.append((bad, root, invoke(api, bad, header)))
    listing = http_api("GET", "/images")
    listing["requestContext"]["requestId"] = "apigw-list"
    header, root = trace_header()
    sent.append((listing, root, invoke(api, listing, header)))
    statuses = [answer["statusCode"] for _, _, answer in sent]
    assert statuses[:2] == [201, 200] and statuses[3] == 400 and statuses[4] == 200, statuses
    assert statuses[2] in (415, 422), statuses

    lines = json_lines(api, len(sent))
    invocation_ids = _START.findall(api.log())
    assert len(invocation_ids) == len(sent)
    seen = []
    for (event, root, answer), invocation_id in zip(sent, invocation_ids):
        # The X-Request-Id a client gets, the request id of the log line and the emulator's id
        # of the invocation are one id.
        assert answer["headers"]["X-Request-Id"] == invocation_id
        line = request_line(lines, invocation_id)
        # aws-lambda-rie hands no Lambda-Runtime-Trace-Id to the function (its tracer is a no-op
        # that drops X-Amzn-Trace-Id); the unit tests (api_function_test, processor_function_test)
        # check the trace id on the line. Whatever arrives must be the invocation's.
        assert line.get("trace_id") in (None, root)
        assert line["apigw_request_id"] == event["requestContext"]["requestId"]
        assert line["status"] == answer["statusCode"]
        assert line["owner"] == "ann"
        assert line["route"] in ("/upload", "/images")
        assert isinstance(line["duration_ms"], (int, float))
        assert line["level"] == ("info" if answer["statusCode"] < 400 else "warn")
        seen.append(line)

    created, duplicate, refused, malformed, listed = seen
    size = len(SEED_PNG)
    assert created["image_bytes"] == size
    assert emf.metrics_of(created) == {
        "Uploads": ("Count", 1, [["Function"]]),
        "UploadBytes": ("Bytes", size, [["Function"]]),
        "UploadTime": ("Milliseconds", created["UploadTime"], [["Function"]]),
    }
    assert created["UploadTime"] >= 0 and created["Function"] == "api"
    assert created["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "imgup"
    assert emf.metrics_of(duplicate) == {"DuplicateUploads": ("Count", 1, [["Function"]])}
    for line, (_, _, answer) in ((refused, sent[2]), (malformed, sent[3])):
        code = body_json(answer)["code"]
        assert line["error_code"] == code
        assert line["Reason"] == code
        assert emf.metrics_of(line) == {
            "Rejections": ("Count", 1, [["Function"], ["Function", "Reason"]])}
    assert malformed["error_code"] == "invalid_base64"
    assert "_aws" not in listed, "a request that counts nothing has no metrics"


def test_processor_logs_each_record_with_its_outcome_and_metrics(start_function,
                                                                 start_processor):
    api = start_function()
    processor = start_processor()
    good = body_json(invoke(api, upload_event(SEED_PNG), trace_header()[0]))
    poison = png_with_pixel_data(b"\x00" * 42)  # well-formed chunks, pixel data not zlib
    bad = body_json(invoke(api, upload_event(poison), trace_header()[0]))

    traces = []
    answers = []
    for record in (good, bad):
        header, root = trace_header()
        traces.append(root)
        answers.append(invoke(processor, s3_put(record["key"]), header))
    assert [a["records"][0]["outcome"] for a in answers] == ["ready", "failed"], answers

    lines = json_lines(processor, 2)
    invocation_ids = _START.findall(processor.log())
    assert len(invocation_ids) == 2
    by_key = {line["key"]: line for line in lines if "key" in line and "outcome" in line}
    ready, failed = by_key[good["key"]], by_key[bad["key"]]
    for line, invocation_id, root, record in ((ready, invocation_ids[0], traces[0], good),
                                              (failed, invocation_ids[1], traces[1], bad)):
        assert line["request_id"] == invocation_id
        assert line.get("trace_id") in (None, root)  # see above: the emulator passes none
        assert line["owner"] == "ann"
        assert line["id"] == record["id"]
        assert line["Function"] == "processor"
    assert ready["outcome"] == "ready" and "error_code" not in ready
    assert emf.metrics_of(ready) == {
        "ImagesProcessed": ("Count", 1, [["Function"]]),
        "ProcessingTime": ("Milliseconds", ready["duration_ms"], [["Function"]]),
    }
    assert failed["outcome"] == "failed" and failed["error_code"] == "decode_failed"
    assert failed["Reason"] == "decode_failed"
    assert emf.metrics_of(failed) == {
        "ProcessingTime": ("Milliseconds", failed["duration_ms"], [["Function"]]),
        "ProcessingFailures": ("Count", 1, [["Function"], ["Function", "Reason"]]),
    }


def test_the_validator_refuses_what_the_spec_forbids():
    """emf.validate must be able to fail: each of these breaks one rule of the specification."""
    good = {"_aws": {"Timestamp": 1764680000000, "CloudWatchMetrics": [
        {"Namespace": "imgup", "Dimensions": [["Function"]],
         "Metrics": [{"Name": "Uploads", "Unit": "Count"}]}]}, "Function": "api", "Uploads": 1}
    emf.validate(json.dumps(good))
    broken = []
    for change in (
        lambda d: d["_aws"].update(Timestamp=1764680000),  # seconds, not ms
        lambda d: d.pop("Uploads"),  # a metric without its value
        lambda d: d.update(Uploads="1"),  # a value that is not a number
        lambda d: d.update(Function=7),  # a dimension that is not a string
        lambda d: d.pop("Function"),  # a dimension without its value
        lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Files"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].pop("Namespace"),
        lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Extra=1),
    ):
        document = json.loads(json.dumps(good))
        change(document)
        try:
            emf.validate(json.dumps(document))
        except AssertionError:
            broken.append(True)
    assert len(broken) == 8
