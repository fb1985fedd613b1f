"""The checker every response goes through must itself catch mismatches (no server needed)."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import Headers

from imgup_testkit import ContractViolation

ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
URL = "http://127.0.0.1:9"
RECORD = {
    "id": ID, "filename": "a.png", "content_type": "image/png", "format": "png",
    "uploaded_at": "2026-11-25T17:32:58.123Z", "key": f"originals/local/{ID}", "size_bytes": 10, "width": 1,
    "height": 1, "sha256": "a" * 64, "status": "ready", "variants": {}, "exif": None, "placeholder": None,
    "dominant_color": None, "phash": None, "tags": [], "description": "",
    "urls": {"self": f"/images/{ID}", "content": f"/images/{ID}/content"},
    "bit_depth": None, "bands": None, "has_alpha": None, "animated": None, "frame_count": None, "icc_profile": None,
}
PROBLEM = {"type": "urn:imgup:problem:not_found", "title": "Not Found", "status": 404, "detail": "No such image",
           "code": "not_found", "request_id": "r1"}
JSON = {"Content-Type": "application/json", "X-Request-Id": "r1"}
PJSON = {"Content-Type": "application/problem+json", "X-Request-Id": "r1"}


def check(contract, method, path, status, headers, body, req_headers=None, req_body=None, **kw):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    contract.check(method, URL + path, req_headers or {}, req_body, status, Headers(list(headers.items())), data, **kw)


def test_conforming_exchanges_pass(contract):
    check(contract, "GET", f"/images/{ID}", 200, JSON, RECORD)
    check(contract, "GET", f"/images/{ID}", 404, PJSON, PROBLEM)
    ready = {**RECORD, "variants": {"thumb": {"width": 1, "height": 1, "size_bytes": 40, "content_type": "image/webp"}},
             "exif": {"make": "X", "orientation": 1}, "placeholder": "00TI:j", "dominant_color": "#0a0b0c",
             "phash": "0123456789abcdef", "bit_depth": 8, "bands": 3, "has_alpha": False, "animated": False,
             "frame_count": 1, "icc_profile": "sRGB"}
    check(contract, "GET", f"/images/{ID}", 200, JSON, ready)
    check(contract, "GET", f"/images/{ID}", 200, JSON,
          {**RECORD, "status": "failed", "key": "", "failure_reason": "decode_failed: truncated"})
    check(contract, "GET", f"/images/{ID}/similar", 200, JSON, {"items": [{**ready, "distance": 3}]})
    check(contract, "GET", "/health", 200, JSON, {"status": "ok", "version": "1", "processing": 0,
                                                     "limits": {"max_body_bytes": 10485760}})
    check(contract, "DELETE", f"/images/{ID}", 204, {"X-Request-Id": "r1"}, b"")
    up = json.dumps({"filename": "a.png", "content_type": "image/png", "image_base64": "iVBORw0KGgo="}).encode()
    check(contract, "POST", "/upload", 201, {**JSON, "Location": f"/images/{ID}"}, {**RECORD, "duplicate": False},
          {"Content-Type": "application/json"}, up)
    check(contract, "GET", "/nope", 404, PJSON, PROBLEM, undocumented="path")
    check(contract, "PUT", "/upload", 405, {**PJSON, "Allow": "POST"},
          {**PROBLEM, "status": 405, "code": "method_not_allowed", "type": "urn:imgup:problem:method_not_allowed"},
          undocumented="method")


@pytest.mark.parametrize("case", [
    "no-request-id", "undocumented-status", "extra-member", "missing-member", "wrong-type", "bad-dominant-color",
    "similar-without-distance", "health-processing-negative", "problem-id-mismatch",
    "problem-type-mismatch", "problem-as-json", "wrong-code-for-status", "unknown-path", "unknown-method",
    "accepted-invalid-request", "upload-without-duplicate", "201-without-location", "204-with-body",
    "401-without-www-authenticate", "405-without-allow",
])
def test_mismatches_are_caught(contract, case):
    args = {
        "no-request-id": ("GET", f"/images/{ID}", 200, {"Content-Type": "application/json"}, RECORD),
        "undocumented-status": ("GET", f"/images/{ID}", 418, PJSON, {**PROBLEM, "status": 418}),
        "extra-member": ("GET", f"/images/{ID}", 200, JSON, {**RECORD, "owner": "local"}),
        "missing-member": ("GET", f"/images/{ID}", 200, JSON, {k: v for k, v in RECORD.items() if k != "sha256"}),
        "wrong-type": ("GET", f"/images/{ID}", 200, JSON, {**RECORD, "width": "1"}),
        "bad-dominant-color": ("GET", f"/images/{ID}", 200, JSON, {**RECORD, "dominant_color": "#FFF"}),
        "similar-without-distance": ("GET", f"/images/{ID}/similar", 200, JSON, {"items": [RECORD]}),
        "health-processing-negative": ("GET", "/health", 200, JSON, {"status": "ok", "version": "1", "processing": -1,
                                                                           "limits": {"max_body_bytes": 1}}),
        "problem-id-mismatch": ("GET", f"/images/{ID}", 404, PJSON, {**PROBLEM, "request_id": "other"}),
        "problem-type-mismatch": ("GET", f"/images/{ID}", 404, PJSON, {**PROBLEM, "type": "about:blank"}),
        "problem-as-json": ("GET", f"/images/{ID}", 404, JSON, PROBLEM),
        "wrong-code-for-status": ("GET", f"/images/{ID}", 404, PJSON,
                                  {**PROBLEM, "code": "invalid_json", "type": "urn:imgup:problem:invalid_json"}),
        "unknown-path": ("GET", "/nope", 200, JSON, {}),
        "unknown-method": ("PUT", f"/images/{ID}", 200, JSON, RECORD),
        "accepted-invalid-request": ("GET", "/images?limit=0", 200, JSON, {"items": [], "next_cursor": None}),
        "upload-without-duplicate": ("POST", "/upload", 201, {**JSON, "Location": f"/images/{ID}"}, RECORD,
                                     {"Content-Type": "image/png"}, b"\x89PNG"),
        "201-without-location": ("POST", "/upload", 201, JSON, {**RECORD, "duplicate": False},
                                 {"Content-Type": "image/png"}, b"\x89PNG"),
        "204-with-body": ("DELETE", f"/images/{ID}", 204, {"X-Request-Id": "r1"}, b"{}"),
        "401-without-www-authenticate": ("GET", "/images", 401, PJSON,
                                         {**PROBLEM, "status": 401, "code": "unauthorized",
                                          "type": "urn:imgup:problem:unauthorized"}),
        "405-without-allow": ("PUT", "/upload", 405, PJSON,
                              {**PROBLEM, "status": 405, "code": "method_not_allowed",
                               "type": "urn:imgup:problem:method_not_allowed"}),
    }[case]
    kw = {"undocumented": "method"} if case == "405-without-allow" else {}
    with pytest.raises(ContractViolation):
        check(contract, *args, **kw)
