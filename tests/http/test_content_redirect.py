"""Content by URL (issue R, item 10): with --content-redirect, GET /images/{id}/content answers
with a redirect to a one-time presigned URL of the blob store, as the Lambda deployment does
(its answers are limited to 6 MB); the local server answers that URL with the bytes, once. On S3
(IMGUP_TEST_STORAGE=aws) the URL is S3's own presigned GET, good any number of times until it
expires, and S3 (versitygw, which checks the signature) answers it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from imgup_testkit import AWS, aws_store, expect_problem, unique_png


@pytest.fixture(scope="module")
def redirecting_server(module_server_factory):
    return module_server_factory(args=["--content-redirect"])


@pytest.fixture
def client(redirecting_server, make_client):
    return make_client(redirecting_server)


def fetch(client, location: str):
    """The presigned URL's answer: the server's own route, or S3's (not an API exchange)."""
    return requests.get(location, timeout=15) if AWS else client.get(location)


def test_content_is_a_redirect_to_a_url_that_serves_the_bytes_once(client, redirecting_server):
    data = unique_png()
    record = client.upload_ok(data, filename="red dot.png")
    resp = client.get(f"/images/{record['id']}/content", allow_redirects=False)
    assert resp.status_code == 302, resp.text
    assert resp.headers["Cache-Control"] == "private, no-store"
    location = resp.headers["Location"]
    if AWS:
        store = aws_store(redirecting_server.data_dir)
        assert location.startswith(f"{store.s3_endpoint}/{store.bucket}/{record['key']}?"), location
        first = fetch(client, location)
        assert first.status_code == 200, first.text
        assert first.content == data
        assert first.headers["Content-Type"] == "image/png"
        assert "red%20dot.png" in first.headers["Content-Disposition"]
        return
    assert location.startswith("/blobs/object?"), location

    first = client.get(location)
    assert first.status_code == 200, first.text
    assert first.content == data
    assert first.headers["Content-Type"] == "image/png"
    assert "red%20dot.png" in first.headers["Content-Disposition"]
    # The URL is used up; a new request to the content gives a new one.
    expect_problem(client.get(location), 403, "url_used")
    again = client.get(f"/images/{record['id']}/content", allow_redirects=False).headers["Location"]
    assert again != location
    assert client.get(again).content == data


def test_a_url_altered_or_made_up_is_refused(client):
    record = client.upload_ok(unique_png())
    location = client.get(f"/images/{record['id']}/content", allow_redirects=False).headers["Location"]
    if AWS:
        altered = location.replace("X-Amz-Expires=300", "X-Amz-Expires=3000")
        assert altered != location
        assert requests.get(altered, timeout=15).status_code == 403
        return
    query = dict(parse_qsl(urlsplit(location).query))
    query["key"] = query["key"][:-1] + ("A" if query["key"][-1] != "A" else "B")
    expect_problem(client.get("/blobs/object?" + urlencode(query)), 403, "signature_mismatch")
    expect_problem(client.get("/blobs/object?key=originals/local/x"), 403, "signature_mismatch")


def test_an_unchanged_image_is_304_before_any_url(client):
    record = client.upload_ok(unique_png())
    resp = client.get(f"/images/{record['id']}/content",
                      headers={"If-None-Match": f"\"{record['sha256']}\""})
    assert resp.status_code == 304
    assert "Location" not in resp.headers


def test_a_variant_redirects_once_it_exists(client, redirecting_server):
    record = client.upload_ok(unique_png())
    redirecting_server.wait_idle()
    resp = client.get(f"/images/{record['id']}/content?variant=thumb", allow_redirects=False)
    assert resp.status_code == 302, resp.text
    thumb = fetch(client, resp.headers["Location"])
    assert thumb.status_code == 200
    assert thumb.headers["Content-Type"] == "image/webp"
    assert thumb.content[:4] == b"RIFF"
