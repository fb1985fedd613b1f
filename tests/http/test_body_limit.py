"""--max-body-bytes: a body over the limit gets 413 payload_too_large at once, before the server
reads it, and nothing is stored. These tests speak HTTP on a raw socket so that they can send the
head and only the start of the body, and see that the answer does not wait for the rest."""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
import uuid

import pytest

from imgup_testkit import (
    assert_nothing_left,
    expect_problem,
    make_png,
    store_state,
    unique_png,
)

LIMIT = 65536
FAST = 2.0  # seconds: the answer must not wait for a body that never comes


@pytest.fixture(scope="module")
def small_server(module_server_factory):
    return module_server_factory(args=["--max-body-bytes", str(LIMIT)])


@pytest.fixture
def small(small_server, make_client):
    return make_client(small_server)


def check_413(resp) -> None:
    problem = expect_problem(resp, 413, "payload_too_large")
    assert str(LIMIT) in problem["detail"], f"the detail must name the limit in bytes: {problem['detail']!r}"
    # The limit, the flag that raises it, and the way around it (issue D, item 4).
    assert "--max-body-bytes" in problem["detail"], f"the detail must name the flag: {problem['detail']!r}"
    assert "POST /uploads" in problem["detail"], f"the detail must name POST /uploads: {problem['detail']!r}"
    assert resp.elapsed < FAST, f"413 took {resp.elapsed:.2f}s: the server waited for the body"


def test_json_over_limit_is_refused_before_the_body_is_read(small, small_server):
    before = store_state(small_server.data_dir)
    big = random.randbytes(LIMIT * 2)
    body = json.dumps({"filename": "big.png", "content_type": "image/png",
                       "image_base64": base64.b64encode(big).decode()}).encode()
    # Announce the whole body, send only its first 1000 bytes, wait for the answer.
    r = small.raw("POST", "/upload", {"Content-Type": "application/json"}, body[:1000], content_length=len(body))
    check_413(r)
    assert_nothing_left(small_server.data_dir, before)


def test_raw_over_limit_is_refused_before_the_body_is_read(small, small_server):
    before = store_state(small_server.data_dir)
    data = make_png(200, 200)  # ~120 KB of random pixels
    assert len(data) > LIMIT
    r = small.raw("POST", "/upload?filename=big.png", {"Content-Type": "image/png"}, data[:1000],
                  content_length=len(data))
    check_413(r)
    assert_nothing_left(small_server.data_dir, before)


def test_huge_content_length_is_refused_at_once(small, small_server):
    before = store_state(small_server.data_dir)
    r = small.raw("POST", "/upload?filename=huge.png", {"Content-Type": "image/png"}, unique_png()[:100],
                  content_length=50 * 1024 * 1024 * 1024)
    check_413(r)
    assert_nothing_left(small_server.data_dir, before)


def test_multipart_over_limit_is_refused(small, small_server):
    before = store_state(small_server.data_dir)
    boundary = uuid.uuid4().hex
    data = make_png(200, 200)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    r = small.raw("POST", "/upload", {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body[:1000],
                  content_length=len(body))
    check_413(r)
    assert_nothing_left(small_server.data_dir, before)


def test_whole_body_over_limit_sent(small, small_server):
    """A client that sends its whole (over-limit) body still gets the 413 answer."""
    before = store_state(small_server.data_dir)
    data = make_png(160, 160)
    assert LIMIT < len(data) < 2 * LIMIT
    r = small.raw("POST", "/upload?filename=big.png", {"Content-Type": "image/png"}, data)
    expect_problem(r, 413, "payload_too_large")
    assert_nothing_left(small_server.data_dir, before)


def test_body_just_under_the_limit_is_accepted(small):
    for side in range(150, 100, -1):
        data = make_png(side, side)
        if len(data) <= LIMIT:
            break
    assert LIMIT - 2000 < len(data) <= LIMIT
    r = small.post("/upload?filename=fits.png", data=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    assert small.get(r.json()["urls"]["content"]).content == data


def test_health_says_the_limit(small):
    """The page learns the limit here (issue G, item 6) instead of assuming the default."""
    r = small.get("/health")
    assert r.status_code == 200
    # And how large an image POST /uploads takes past it (issue D, item 4).
    assert r.json()["limits"] == {"max_body_bytes": LIMIT, "max_upload_bytes": 64 << 20,
                                  "upload_form_ttl_s": 900}, r.json()


def test_server_still_serves_after_413(small):
    r = small.raw("POST", "/upload?filename=big.png", {"Content-Type": "image/png"}, b"\x89PNG",
                  content_length=LIMIT + 1)
    assert r.status == 413
    assert small.get("/health").status_code == 200


def test_patch_over_limit(small, small_server):
    rec = small.upload_ready(unique_png())  # processed first: only the PATCH could change it
    body = json.dumps({"description": "d" * (LIMIT + 10)}).encode()
    r = small.raw("PATCH", f"/images/{rec['id']}", {"Content-Type": "application/json"}, body[:1000],
                  content_length=len(body))
    check_413(r)
    assert small.get(f"/images/{rec['id']}").json() == rec


def test_body_far_over_limit_sent_whole_without_expect(small_server):
    """A client that writes its whole body before it reads (Python's http.client, no
    Expect: 100-continue) gets the 413 rather than a reset under its send, however large the
    body it announced."""
    before = store_state(small_server.data_dir)
    size = 32 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=30) as sock:
        sock.sendall((f"POST /upload?filename=big.png HTTP/1.1\r\nHost: 127.0.0.1:{small_server.port}\r\n"
                      f"Content-Type: image/png\r\nContent-Length: {size}\r\n\r\n").encode())
        try:
            sock.sendall(bytes(size))
        except (BrokenPipeError, ConnectionResetError) as err:
            raise AssertionError(f"the server reset the connection while the body was being sent: {err!r}")
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        body = resp.read()
    assert resp.status == 413, body
    assert json.loads(body)["code"] == "payload_too_large"
    assert_nothing_left(small_server.data_dir, before)
