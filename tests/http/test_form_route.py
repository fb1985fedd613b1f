"""POST /blobs/upload, the server's own one-time form (POST /uploads on `imgup serve`, both
storages; docs/adr/0015-presigned-uploads.md), as someone without a form meets it: the URL is
checked before the body is read, so a forged, used or oversized one is answered at once and the
server does not read the body it was announced. And the form's URL is at the origin the client
addressed: https behind a TLS proxy that says so.

The requests here are written on a socket: the header and the first bytes of a body, then the
answer is read before the rest of the body is sent."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests

from imgup_testkit import HTTP_TIMEOUT, LAMBDA, unique_png

pytestmark = pytest.mark.skipif(LAMBDA, reason="Lambda stack: the form is S3's presigned POST there, "
                                "which S3 checks (the API function has no form route of its own on S3)")

BOUNDARY = "imgup-form-route"
ANNOUNCED = 64 << 20  # --max-upload-bytes' default: a body the server would read whole
FIRST = 64 << 10  # what is sent of it before the answer is read


def send_head(url: str, target: str, length: int, first: bytes) -> socket.socket:
    """A socket on which the request line, the header and `first` bytes of the body are sent."""
    where = urlsplit(url)
    sock = socket.create_connection((where.hostname, where.port), timeout=HTTP_TIMEOUT)
    head = (f"POST {target} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n")
    sock.sendall(head.encode() + first)
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The answer, read until the server closes its side: status, headers (lower-case names),
    body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def target_of(form_url: str) -> str:
    where = urlsplit(form_url)
    return f"{where.path}?{where.query}"


def forged_target() -> str:
    """A form URL in the shape of the server's (policy: key, type, max, expiry, nonce) that it
    did not sign."""
    policy = base64.urlsafe_b64encode(b"originals/local/01KAAAAAAAAAAAAAAAAAAAAAAA\nimage/png\n"
                                      b"67108864\n99999999999999\n1\n").rstrip(b"=").decode()
    return f"/blobs/upload?policy={policy}&x-imgup-signature={'A' * 43}"


def refused_before_the_body(url: str, target: str, status: int, code: str, length: int = ANNOUNCED) -> socket.socket:
    sock = send_head(url, target, length, b"x" * FIRST)
    got, headers, body = read_answer(sock)
    assert got == status, body[:500]
    assert json.loads(body)["code"] == code
    assert headers.get("connection") == "close"
    return sock


@pytest.mark.parametrize("target", [forged_target(), "/blobs/upload"], ids=["forged", "no-signature"])
def test_a_form_url_the_server_did_not_sign_is_refused_before_its_body_is_read(server, target):
    sock = refused_before_the_body(server.url, target, 403, "signature_mismatch")
    try:
        # The server closed the connection without reading the 64 MiB it was announced: the rest
        # does not go through (at most a few MiB are drained so that the answer is not lost).
        with pytest.raises(OSError):
            sock.sendall(b"x" * (ANNOUNCED - FIRST))
    finally:
        sock.close()


def start_upload(client, size: int, **headers: str) -> dict:
    r = client.post("/uploads", json={"filename": "a.png", "content_type": "image/png", "size_bytes": size},
                    headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_used_form_is_refused_before_its_body_is_read(server, client):
    png = unique_png()
    form = start_upload(client, len(png))
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.png", png, "image/png")},
                         timeout=HTTP_TIMEOUT)
    assert sent.status_code == 204, sent.text
    refused_before_the_body(server.url, target_of(form["url"]), 403, "url_used").close()


def test_a_body_announced_past_the_form_s_size_is_refused_before_it_is_read(server, client):
    form = start_upload(client, 100_000)
    # The form's fields and multipart framing have 64 KiB beside the file.
    refused_before_the_body(server.url, target_of(form["url"]), 413, "payload_too_large",
                            length=100_000 + (64 << 10) + 1).close()
    # The form was not used up by the refusal.
    png = unique_png()
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.png", png, "image/png")},
                         timeout=HTTP_TIMEOUT)
    assert sent.status_code == 204, sent.text


def test_the_form_url_is_at_the_origin_the_client_addressed(server, client):
    where = urlsplit(server.url)
    assert start_upload(client, 1000)["url"].startswith(f"http://{where.netloc}/blobs/upload?")
    # Behind a TLS proxy, which says what the client used.
    assert start_upload(client, 1000, **{"X-Forwarded-Proto": "https"})["url"].startswith(
        f"https://{where.netloc}/blobs/upload?")
    assert start_upload(client, 1000, Forwarded="for=192.0.2.60;proto=https")["url"].startswith(
        f"https://{where.netloc}/blobs/upload?")
