"""Request framing (RFC 9112): what the server does with a request head whose body length or
target is ambiguous. Raw sockets, because an HTTP library would not send these heads. Each
refusal is a 400 invalid_request after which the connection closes, so that bytes the client
sent after the head are never read as a request of their own."""

from __future__ import annotations

import json
import re
import socket

import pytest

from imgup_testkit import assert_nothing_left, store_state, unique_png

STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    """Sends `raw` on a fresh connection and returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                return out
            out += chunk
        return out


def responses(raw: bytes) -> list[tuple[int, dict]]:
    """The (status, problem or {}) of every response in `raw`, in order."""
    out = []
    starts = [m.start() for m in re.finditer(rb"(?:^|(?<=\r\n))HTTP/1\.[01] \d{3} ", raw)]
    for i, start in enumerate(starts):
        part = raw[start:starts[i + 1] if i + 1 < len(starts) else len(raw)]
        status = int(STATUS_LINE.match(part).group(1))
        head, _, body = part.partition(b"\r\n\r\n")
        problem = {}
        if b"application/problem+json" in head.lower():
            problem = json.loads(body[:body.rindex(b"}") + 1])
        out.append((status, problem))
    return out


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"


def test_transfer_encoding_not_ending_in_chunked_is_refused_and_closes(client, server):
    """`chunked, gzip`: the body's length is unknown. A request hidden in the body must not run."""
    rec = client.upload_ok(unique_png())
    smuggled = (f"DELETE /images/{rec['id']} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Connection: close\r\n\r\n").encode()
    head = (f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Transfer-Encoding: chunked, gzip\r\n\r\n").encode()
    got = responses(exchange(server.port, head + smuggled))
    assert [status for status, _ in got] == [400], f"one 400, then the connection closes; got {got}"
    assert got[0][1]["code"] == "invalid_request"
    assert client.get(f"/images/{rec['id']}").status_code == 200, "the smuggled DELETE ran"


@pytest.mark.parametrize("te", ["chunked, gzip", "gzip", "chunked, identity", "chunked\r\nTransfer-Encoding: gzip"])
def test_transfer_encoding_whose_last_coding_is_not_chunked(server, te):
    head = (f"POST /upload?filename=a.png HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/png\r\n"
            f"Transfer-Encoding: {te}\r\n\r\n").encode()
    smuggled = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    got = responses(exchange(server.port, head + smuggled))
    assert [status for status, _ in got] == [400], got
    assert got[0][1]["code"] == "invalid_request"


@pytest.mark.parametrize("te", ["gzip, chunked", "deflate,chunked", "gzip\r\nTransfer-Encoding: chunked"])
def test_a_transfer_coding_before_chunked_is_not_ignored(server, te):
    """`gzip, chunked` frames the body, but its bytes are gzip: storing them as they came would be
    wrong, and the server does not decode gzip. Refused, and nothing is stored."""
    before = store_state(server.data_dir)
    data = unique_png()
    head = (f"POST /upload?filename=a.png HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/png\r\n"
            f"Transfer-Encoding: {te}\r\n\r\n").encode()
    got = responses(exchange(server.port, head + chunked(data)))
    assert len(got) == 1 and got[0][0] == 400, got
    assert got[0][1]["code"] == "invalid_request"
    assert_nothing_left(server.data_dir, before)


def test_chunked_alone_still_works(server):
    data = unique_png()
    head = (f"POST /upload?filename=a.png HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/png\r\n"
            f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    got = responses(exchange(server.port, head + chunked(data)))
    assert [status for status, _ in got] == [201], got


def test_http_1_1_without_host_is_400(server):
    got = responses(exchange(server.port, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert [status for status, _ in got] == [400], got
    assert got[0][1]["code"] == "invalid_request"
    assert "Host" in got[0][1]["detail"]


def test_two_host_fields_are_400(server):
    raw = (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nHost: example.com\r\n"
           f"Connection: close\r\n\r\n").encode()
    got = responses(exchange(server.port, raw))
    assert [status for status, _ in got] == [400], got


def test_http_1_0_without_host_is_served(server):
    got = responses(exchange(server.port, b"GET /health HTTP/1.0\r\n\r\n"))
    assert [status for status, _ in got] == [200], got
