"""POST /uploads (issue D, item 4; docs/adr/0015-presigned-uploads.md): images past the inline
limit. The server answers a form in the shape of boto3's generate_presigned_post, which these
tests post with `requests` exactly as a boto3 user does (`requests.post(url, data=fields,
files={"file": ...})`); on `imgup serve` (both storages) the form is the server's own one-time
URL, and the bytes are checked against what was declared and committed when they arrive.

Runs on local storage (`make http`) and on S3 + DynamoDB (`make http-aws`): the same states and
failures, the bytes read back from the folder or the bucket."""

from __future__ import annotations

import sqlite3
import time

import pytest
import requests

from imgup_testkit import (
    ULID_RE,
    blob_bytes,
    expect_problem,
    make_png,
)

INLINE = 65536  # the inline limit of these servers: the images below are larger
OWNER = "local"


@pytest.fixture(scope="module")
def big_server(module_server_factory):
    return module_server_factory(args=["--max-body-bytes", str(INLINE)])


@pytest.fixture
def big(big_server, make_client):
    return make_client(big_server)


def big_png() -> bytes:
    data = make_png(200, 200)  # random pixels: ~120 KB, past the inline limit
    assert len(data) > INLINE
    return data


def start(client, data: bytes, *, content_type: str = "image/png", filename: str = "big.png",
          size: int | None = None) -> dict:
    r = client.post("/uploads", json={"filename": filename, "content_type": content_type,
                                      "size_bytes": len(data) if size is None else size})
    assert r.status_code == 201, f"POST /uploads: {r.status_code} {r.text}"
    return r.json()


def post_form(form: dict, data: bytes, content_type: str = "image/png") -> requests.Response:
    """What a boto3 user does with generate_presigned_post's answer."""
    return requests.post(form["url"], data=form["fields"],
                         files={"file": ("big.png", data, content_type)}, timeout=30)


def test_the_inline_limit_points_to_post_uploads(big):
    r = big.post("/upload", data=big_png(), headers={"Content-Type": "image/png"})
    problem = expect_problem(r, 413, "payload_too_large")
    assert str(INLINE) in problem["detail"] and "POST /uploads" in problem["detail"]
    limits = big.get("/health").json()["limits"]
    assert limits["max_body_bytes"] == INLINE
    assert limits["max_upload_bytes"] > INLINE


def test_presigned_upload_becomes_a_ready_image(big, big_server):
    data = big_png()
    form = start(big, data)
    assert ULID_RE.match(form["id"])
    assert form["status"] == "awaiting_upload"
    assert form["url"].startswith("http://") and isinstance(form["fields"], dict)
    # The form stores under a staging key; only the bytes validated there become the original.
    assert form["fields"]["key"] == f"uploads/{OWNER}/{form['id']}"
    assert form["fields"]["Content-Type"] == "image/png"
    # Pending: GET shows it, the list does not, nothing is stored yet.
    pending = big.get(f"/images/{form['id']}").json()
    assert pending["status"] == "awaiting_upload" and pending["size_bytes"] == len(data)
    assert form["id"] not in [i["id"] for i in big.get("/images?limit=100").json()["items"]]
    assert blob_bytes(big_server.data_dir, form["fields"]["key"]) is None

    r = post_form(form, data)
    assert r.status_code == 204, r.text
    record = big.wait_processed(form["id"])
    assert record["status"] == "ready", record
    assert record["size_bytes"] == len(data) and record["width"] == 200
    assert set(record["variants"]) == {"thumb", "medium"}
    assert record["key"] == f"originals/{OWNER}/{form['id']}"
    assert blob_bytes(big_server.data_dir, record["key"]) == data
    assert blob_bytes(big_server.data_dir, form["fields"]["key"]) is None  # committed: gone
    assert form["id"] in [i["id"] for i in big.get("/images?limit=100").json()["items"]]
    content = big.get(f"/images/{form['id']}/content")
    assert content.status_code in (200, 302, 307)


def test_a_form_is_good_once(big):
    data = big_png()
    form = start(big, data)
    assert post_form(form, data).status_code == 204
    again = post_form(form, data)
    assert again.status_code == 403 and again.json()["code"] == "url_used", again.text
    assert big.wait_processed(form["id"])["status"] == "ready"


def test_a_file_past_the_declared_size_is_refused(big, big_server):
    data = big_png()
    form = start(big, data, size=len(data) - 1)
    r = post_form(form, data)
    assert r.status_code == 413 and r.json()["code"] == "entity_too_large", r.text
    assert blob_bytes(big_server.data_dir, form["fields"]["key"]) is None
    assert big.get(f"/images/{form['id']}").json()["status"] == "awaiting_upload"


def test_bytes_that_are_not_the_declared_type_fail_and_are_deleted(big, big_server):
    data = big_png()
    form = start(big, data, content_type="image/jpeg", filename="big.jpg")
    # The form allows image/jpeg; the bytes are a PNG.
    assert post_form(form, data, content_type="image/jpeg").status_code == 204
    record = big.get(f"/images/{form['id']}").json()
    assert record["status"] == "failed", record
    assert record["failure_reason"].startswith("content_type_mismatch"), record
    assert blob_bytes(big_server.data_dir, form["fields"]["key"]) is None
    assert blob_bytes(big_server.data_dir, f"originals/{OWNER}/{form['id']}") is None
    assert form["id"] not in [i["id"] for i in big.get("/images?limit=100").json()["items"]]


@pytest.mark.local_only("the failure is made by holding SQLite's write lock")
def test_a_commit_the_store_cannot_take_answers_503_and_the_form_stays_usable(big, big_server):
    """The form's bytes are committed in the request: when the metadata store cannot take the
    record (here: another process holds SQLite's write lock past the server's busy timeout), the
    answer is 503 and the one-time form is not used up, so the client posts it again."""
    data = big_png()
    form = start(big, data)
    lock = sqlite3.connect(big_server.data_dir / "imgup.db", timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        failed = post_form(form, data)
    finally:
        lock.close()
    problem = expect_problem(failed, 503, "storage_unavailable")
    assert "post the same form again" in problem["detail"], problem
    assert big.get(f"/images/{form['id']}").json()["status"] == "awaiting_upload"

    again = post_form(form, data)
    assert again.status_code == 204, again.text
    record = big.wait_processed(form["id"])
    assert record["status"] == "ready", record
    assert blob_bytes(big_server.data_dir, record["key"]) == data
    assert blob_bytes(big_server.data_dir, form["fields"]["key"]) is None
    used = post_form(form, data)
    assert used.status_code == 403 and used.json()["code"] == "url_used", used.text


def test_the_same_bytes_again_answer_the_first_image(big):
    data = big_png()
    first = start(big, data)
    assert post_form(first, data).status_code == 204
    big.wait_processed(first["id"])
    second = start(big, data)
    assert post_form(second, data).status_code == 204
    answer = big.get(f"/images/{second['id']}").json()
    assert answer["id"] == first["id"] and answer["duplicate"] is True


@pytest.mark.parametrize("body, status, code", [
    ({"filename": "a.svg", "content_type": "image/svg+xml", "size_bytes": 100000}, 415, "unsupported_media_type"),
    ({"filename": "a.png", "content_type": "image/png", "size_bytes": 0}, 400, "invalid_field"),
    ({"filename": "a.png", "content_type": "image/png", "size_bytes": 1 << 40}, 400, "invalid_field"),
    ({"filename": "a.png", "content_type": "image/png", "size_bytes": -5}, 400, "invalid_field"),
    ({"filename": "", "content_type": "image/png", "size_bytes": 100000}, 400, "invalid_field"),
    ({"filename": "x" * 2000, "content_type": "image/png", "size_bytes": 100000}, 400, "field_too_long"),
    ({"content_type": "image/png", "size_bytes": 100000}, 400, "missing_field"),
    ({"filename": "a.png", "size_bytes": 100000}, 400, "missing_field"),
    ({"filename": "a.png", "content_type": "image/png"}, 400, "missing_field"),
])
def test_bad_input_is_refused(big, body, status, code):
    expect_problem(big.post("/uploads", json=body), status, code)


def test_an_expired_form_is_refused_and_its_upload_forgotten(module_server_factory, make_client):
    srv = module_server_factory(args=["--max-body-bytes", str(INLINE), "--upload-ttl", "1"])
    client = make_client(srv)
    data = big_png()
    form = start(client, data)
    assert client.get(f"/images/{form['id']}").json()["status"] == "awaiting_upload"
    time.sleep(2.2)  # past the form's expiry (1 s, counted in whole seconds)
    r = post_form(form, data)
    assert r.status_code == 403 and r.json()["code"] == "url_expired", r.text
    assert blob_bytes(srv.data_dir, form["fields"]["key"]) is None
    # The pending upload lasts as long again as its form: then it is gone.
    time.sleep(1.0)
    expect_problem(client.get(f"/images/{form['id']}"), 404, "not_found")


# --- the CLI: files past the inline limit go through POST /uploads -------------------------------


def test_cli_uploads_a_large_file_through_post_uploads(big, big_server, tmp_path):
    from imgup_testkit import run_cli, ulids_in
    data = big_png()
    small = make_png(4, 4)
    (tmp_path / "big.png").write_bytes(data)
    (tmp_path / "small.png").write_bytes(small)
    up = run_cli("upload", str(tmp_path / "big.png"), str(tmp_path / "small.png"), "--wait",
                 "--url", big_server.url, check=True, timeout=120)
    ids = list(dict.fromkeys(ulids_in(up.stdout.decode())))
    assert len(ids) == 2, up.stdout.decode()
    records = {r["filename"]: r for r in (big.get(f"/images/{i}").json() for i in ids)}
    assert records["big.png"]["status"] == "ready" and records["big.png"]["size_bytes"] == len(data)
    assert blob_bytes(big_server.data_dir, records["big.png"]["key"]) == data
    assert records["small.png"]["size_bytes"] == len(small)
    # The server logged the big one's arrival through the form, not an inline upload.
    arrivals = [r for r in big_server.log_records() if r.get("msg") == "upload arrived"]
    assert any(r.get("id") == records["big.png"]["id"] for r in arrivals), arrivals

    again = run_cli("upload", str(tmp_path / "big.png"), "--url", big_server.url, check=True, timeout=60)
    assert records["big.png"]["id"] in ulids_in(again.stdout.decode())
