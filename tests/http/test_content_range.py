"""Range requests on image content (issue 12, item 10): 206 with the asked bytes and
Content-Range, `Accept-Ranges: bytes` on every answer with bytes, 416 with `bytes */SIZE` for a
range past the end, the whole bytes for what a server may ignore (several ranges, If-Range of
another version). Every exchange is checked against docs/openapi.json."""

from __future__ import annotations

import pytest

from imgup_testkit import expect_problem, unique_png


@pytest.fixture(scope="module")
def image(module_server):
    import requests

    data = unique_png(64, 48)
    r = requests.post(f"{module_server.url}/upload?filename=range.png", data=data,
                      headers={"Content-Type": "image/png"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json(), data


@pytest.fixture
def rc(module_server, make_client):
    return make_client(module_server)


def content(rc, rec, **headers):
    return rc.get(f"/images/{rec['id']}/content", headers=headers)


def test_a_whole_answer_says_ranges_are_accepted(rc, image):
    rec, data = image
    r = content(rc, rec)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("asked, start, end", [
    ("bytes=0-9", 0, 10),
    ("bytes=10-", 10, None),
    ("bytes=-5", -5, None),
    ("bytes=3-3", 3, 4),
    ("bytes=20-999999", 20, None),
])
def test_one_range_gives_206_with_those_bytes(rc, image, asked, start, end):
    rec, data = image
    r = content(rc, rec, Range=asked)
    assert r.status_code == 206, r.text
    part = data[start:end]
    assert r.content == part
    first = start if start >= 0 else len(data) + start
    assert r.headers["Content-Range"] == f"bytes {first}-{first + len(part) - 1}/{len(data)}"
    assert r.headers["Content-Length"] == str(len(part))
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["Content-Type"] == "image/png"


def test_a_range_past_the_end_gives_416_with_the_size(rc, image):
    rec, data = image
    r = content(rc, rec, Range=f"bytes={len(data)}-")
    expect_problem(r, 416, "range_not_satisfiable")
    assert r.headers["Content-Range"] == f"bytes */{len(data)}"


@pytest.mark.parametrize("asked", ["bytes=0-1,5-6", "bytes=9-2", "pages=1-2", "bytes=x-"])
def test_what_the_server_may_ignore_gives_the_whole_bytes(rc, image, asked):
    rec, data = image
    r = content(rc, rec, Range=asked)
    assert r.status_code == 200 and r.content == data


def test_if_range_applies_the_range_only_to_the_same_version(rc, image):
    rec, data = image
    etag = f'"{rec["sha256"]}"'
    same = content(rc, rec, Range="bytes=0-3", **{"If-Range": etag})
    assert same.status_code == 206 and same.content == data[:4]
    other = content(rc, rec, Range="bytes=0-3", **{"If-Range": '"another-version"'})
    assert other.status_code == 200 and other.content == data


def test_a_variant_in_ranges_reassembles(rc, image):
    rec, _ = image
    ready = rc.wait_processed(rec["id"])
    assert ready["status"] == "ready"
    whole = rc.get(f"/images/{rec['id']}/content?variant=thumb").content
    parts = [rc.get(f"/images/{rec['id']}/content?variant=thumb", headers={"Range": f"bytes={i}-{i + 99}"})
             for i in range(0, len(whole), 100)]
    assert all(p.status_code == 206 for p in parts)
    assert b"".join(p.content for p in parts) == whole
