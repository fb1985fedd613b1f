"""/health, /openapi.json, routing (404/405), request ids, the request log, graceful stop."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time

import pytest
from openapi_spec_validator import validate as validate_spec
from werkzeug.datastructures import Headers

from imgup_testkit import AWS, LAMBDA, SPEC_PATH, blob_files, expect_problem, make_png, sha256, unique_png

UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
STABLE_CODES = {"invalid_json", "missing_field", "invalid_field", "field_too_long", "invalid_base64", "empty_body",
                "invalid_multipart", "payload_too_large", "unsupported_media_type", "content_type_mismatch",
                "invalid_image", "image_too_large", "image_failed", "not_found", "unauthorized",
                "method_not_allowed", "invalid_query", "invalid_cursor", "internal", "invalid_request",
                "headers_too_large", "forbidden_host", "cross_origin",
                # presigned URLs of the local blob store, and a transport's trusted principal
                "signature_mismatch", "url_expired", "url_used", "policy_violation",
                "entity_too_small", "entity_too_large", "invalid_principal",
                # a Range past the end of image content
                "range_not_satisfiable"}


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["version"]
    if LAMBDA:
        # The API function has no pipeline to count (the processor function runs on S3's
        # events), and its inline limit is what fits Lambda's 6 MB payload once base64-encoded.
        assert "processing" not in body, body
        assert body["limits"] == {"max_body_bytes": 4_669_440, "max_upload_bytes": 64 << 20,
                                  "upload_form_ttl_s": 900}, body
        return
    assert isinstance(body["processing"], int) and body["processing"] >= 0
    # The limit the page sizes its uploads by (issue G, item 6): the default --max-body-bytes.
    # Past it, POST /uploads takes images up to --max-upload-bytes (issue D, item 4).
    assert body["limits"] == {"max_body_bytes": 10 * 1024 * 1024, "max_upload_bytes": 64 << 20,
                              "upload_form_ttl_s": 900}, body


def test_openapi_document_is_valid_3_1():
    doc = json.loads(SPEC_PATH.read_text())
    assert doc["openapi"].startswith("3.1.")
    validate_spec(doc)


def test_served_openapi_is_docs_openapi_json(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == json.loads(SPEC_PATH.read_text()), (
        "GET /openapi.json differs from docs/openapi.json (rebuild the binary after editing the document)")


def test_document_lists_every_stable_code(contract):
    assert set(contract.doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]) == STABLE_CODES


def test_document_security(contract):
    doc = contract.doc
    assert doc["security"] == [{}, {"bearer": []}, {"apiKey": []}]
    assert doc["components"]["securitySchemes"]["bearer"] == {**doc["components"]["securitySchemes"]["bearer"],
                                                              "type": "http", "scheme": "bearer"}
    assert doc["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []


def test_every_documented_operation_is_routed(client, contract):
    """No documented path+method answers 404-unknown-path or 405 (on S3, but the local blob
    store's presigned-URL routes under /blobs/: S3 answers its own URLs)."""
    for path, item in contract.doc["paths"].items():
        if AWS and path.startswith("/blobs/"):
            continue
        concrete = path.replace("{id}", UNKNOWN_ID)
        for method in ("get", "post", "patch", "delete", "put"):
            if method not in item:
                continue
            kw = {}
            if method in ("post", "patch"):
                kw["json"] = {}
            r = client.request(method.upper(), concrete, **kw)
            assert r.status_code != 405, f"{method.upper()} {path} is documented but answers 405"
            if "{id}" not in path:
                assert r.status_code != 404, f"{method.upper()} {path} is documented but answers 404"


@pytest.mark.parametrize("path", ["/nope", "/images/x/y/z", "/uploadz", "/upload/extra", "/IMAGES",
                                  "/openapi.yaml"])
def test_unknown_path(client, path):
    r = client.get(path, undocumented="path")
    expect_problem(r, 404, "not_found")


ALLOW = {
    "/upload": {"POST"},
    "/images": {"GET"},
    f"/images/{UNKNOWN_ID}": {"GET", "PATCH", "DELETE"},
    f"/images/{UNKNOWN_ID}/content": {"GET"},
    f"/images/{UNKNOWN_ID}/similar": {"GET"},
    "/health": {"GET"},
    "/openapi.json": {"GET"},
}
WRONG = [("/upload", "GET"), ("/upload", "PUT"), ("/upload", "DELETE"), ("/images", "POST"), ("/images", "DELETE"),
         (f"/images/{UNKNOWN_ID}", "POST"), (f"/images/{UNKNOWN_ID}", "PUT"), (f"/images/{UNKNOWN_ID}/content", "DELETE"),
         (f"/images/{UNKNOWN_ID}/similar", "POST"),
         ("/health", "POST"), ("/openapi.json", "DELETE")]


@pytest.mark.parametrize("path,method", WRONG)
def test_wrong_method(client, path, method, nothing_left):
    r = client.request(method, path, undocumented="method", **({"data": b"x"} if method in ("POST", "PUT") else {}))
    expect_problem(r, 405, "method_not_allowed")
    allowed = {m.strip().upper() for m in r.headers["Allow"].split(",")}
    assert ALLOW[path] <= allowed <= ALLOW[path] | {"HEAD", "OPTIONS"}, r.headers["Allow"]
    nothing_left()


def test_request_id_in_problem_equals_header(client):
    r = client.get(f"/images/{UNKNOWN_ID}")
    assert r.json()["request_id"] == r.headers["X-Request-Id"]


def test_log_line_per_request(client, server):
    rec = client.upload_ok(unique_png(), filename="logged.png")
    r = client.get(f"/images/{rec['id']}")
    line = server.wait_for_log(r.headers["X-Request-Id"])
    assert set(line) >= {"ts", "level", "msg", "request_id", "owner", "method", "route", "path", "status",
                         "bytes_in", "bytes_out", "duration_ms"}
    assert (line["level"], line["msg"], line["owner"], line["method"], line["route"], line["path"], line["status"]) == (
        "info", "request", "local", "GET", "/images/{id}", f"/images/{rec['id']}", 200)
    assert line["bytes_out"] == len(r.content)
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0


def test_log_line_of_an_upload_and_an_error(client, server):
    data = unique_png(20, 20)
    r = client.post("/upload?filename=l.png", data=data, headers={"Content-Type": "image/png"})
    line = server.wait_for_log(r.headers["X-Request-Id"])
    assert (line["method"], line["route"], line["status"], line["bytes_in"]) == ("POST", "/upload", 201, len(data))
    bad = client.get("/images", params={"limit": "0"})
    line = server.wait_for_log(bad.headers["X-Request-Id"])
    assert (line["route"], line["status"]) == ("/images", 400)


def test_every_stdout_line_is_json(client, server):
    client.get("/health")
    time.sleep(0.2)
    for line in server.stdout_text().splitlines():
        if line.strip():
            json.loads(line)


def test_sigterm_finishes_in_flight_request(start_server, make_client, contract):
    """SIGTERM while an upload's body is still arriving: the upload completes (201), the record is
    there after a restart, and the process exits 0."""
    srv = start_server()
    c = make_client(srv)
    data = make_png(64, 64)
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    head = (f"POST /upload?filename=inflight.png HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
            f"Content-Type: image/png\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
    sock.sendall(head + data[:100])
    time.sleep(0.3)
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    sock.sendall(data[100:])
    resp = http.client.HTTPResponse(sock, method="POST")
    resp.begin()
    raw = resp.read()
    sock.close()
    contract.check("POST", f"{srv.url}/upload?filename=inflight.png", {"Content-Type": "image/png"}, data,
                   resp.status, Headers(list(resp.getheaders())), raw)
    assert resp.status == 201, f"in-flight upload not finished: {resp.status} {raw[:300]!r}"
    assert srv.proc.wait(15) == 0
    body = json.loads(raw)
    srv.start()
    c = make_client(srv)
    got = c.get(f"/images/{body['id']}/content")
    assert got.status_code == 200 and got.content == data and body["sha256"] == sha256(data)


def test_sigterm_right_after_start(start_server):
    """The listening line means ready: a SIGTERM sent at once must stop the server too."""
    for _ in range(25):
        srv = start_server()
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(5)
        except Exception:
            srv.kill()
            raise AssertionError("SIGTERM sent right after the listening line: still running 5 s later")
        assert rc == 0


def test_sigterm_with_an_idle_keep_alive_connection(start_server, make_client):
    """Graceful stop finishes in-flight requests; an idle keep-alive connection has none, so the
    stop must not wait for the keep-alive timeout."""
    srv = start_server()
    c = make_client(srv, keep_alive=True)
    assert c.get("/health").status_code == 200  # the connection stays open, idle
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    rc = srv.proc.wait(15)
    took = time.monotonic() - t0
    assert rc == 0
    assert took < 2.0, f"SIGTERM with one idle keep-alive connection took {took:.1f}s to stop"


def test_sigint_stops_with_exit_code_0(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    assert c.get("/health").status_code == 200
    c.close()
    srv.proc.send_signal(signal.SIGINT)
    try:
        assert srv.proc.wait(15) == 0
    finally:
        if srv.running:
            srv.kill()


def test_restart_keeps_everything(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    data = unique_png()
    rec = c.upload_ready(data, tags=["kept"])
    c.close()
    assert srv.stop() == 0
    srv.start()
    c = make_client(srv)
    assert c.get(f"/images/{rec['id']}").json() == rec
    assert c.get(f"/images/{rec['id']}/content").content == data
    assert c.upload_json(data).status_code == 200


def test_concurrent_uploads_of_the_same_bytes_store_one_image(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    data = unique_png(32, 32)
    results = []

    def go():
        results.append(c.upload_json(data))

    threads = [threading.Thread(target=go) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] * 15 + [201], statuses
    assert len({r.json()["id"] for r in results}) == 1
    assert len(c.get("/images").json()["items"]) == 1
    assert len([f for f in blob_files(srv.data_dir) if f.startswith("originals/")]) == 1


def test_idle_connections_do_not_block_the_server(start_server, make_client):
    """Connections that are open but send nothing (idle keep-alive clients, slow clients) must not
    keep other clients from being served."""
    srv = start_server()
    idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(40)]
    try:
        time.sleep(0.2)
        c = make_client(srv)
        t0 = time.monotonic()
        assert c.get("/health").status_code == 200
        took = time.monotonic() - t0
        assert took < 1.0, f"GET /health took {took:.1f}s while 40 idle connections were open"
    finally:
        for s in idle:
            s.close()


def test_keep_alive_connection_serves_several_requests(start_server, make_client):
    srv = start_server()
    c = make_client(srv, keep_alive=True)
    rec = c.upload_ok(unique_png())
    for _ in range(3):
        assert c.get(f"/images/{rec['id']}").status_code == 200
        assert c.get("/images").status_code == 200
    assert c.delete(f"/images/{rec['id']}").status_code == 204
    c.close()
