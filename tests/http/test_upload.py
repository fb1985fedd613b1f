"""POST /upload: the seed's JSON request, multipart, raw bodies, duplicates, real images."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    PNGSUITE,
    ULID_RE,
    WEBP_LOSSLESS,
    WEBP_LOSSY,
    corpus_file,
    db_rows,
    gif,
    jpeg_size,
    jpeg_with_comment,
    assert_processing_record,
    assert_same_upload,
    blob_bytes,
    image_blobs,
    png_size,
    sha256,
    store_state,
    unique_png,
    variant_files,
)


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def test_seed_payload_roundtrip(client, server):
    """The seed's request exactly: {filename, content_type, image_base64} -> 201, then read back."""
    data = unique_png(12, 7)
    before = dt.datetime.now(dt.timezone.utc)
    r = client.post("/upload", json={"filename": "photo.png", "content_type": "image/png",
                                     "image_base64": base64.b64encode(data).decode()})
    after = dt.datetime.now(dt.timezone.utc)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert r.headers["Location"] == f"/images/{rec['id']}"
    assert ULID_RE.match(rec["id"])
    assert rec["duplicate"] is False
    assert rec["filename"] == "photo.png"
    assert rec["content_type"] == "image/png"
    assert rec["format"] == "png"
    assert (rec["width"], rec["height"]) == (12, 7)
    assert rec["size_bytes"] == len(data)
    assert rec["sha256"] == sha256(data)
    assert rec["key"] == f"originals/local/{rec['id']}"
    assert_processing_record(rec)  # status "processing", nothing derived yet
    assert rec["tags"] == [] and rec["description"] == ""
    assert rec["urls"] == {"self": f"/images/{rec['id']}", "content": f"/images/{rec['id']}/content"}
    ts = parse_ts(rec["uploaded_at"])
    assert before - dt.timedelta(seconds=2) <= ts <= after + dt.timedelta(seconds=2)

    got = client.get(rec["urls"]["self"])
    assert got.status_code == 200
    expected = {k: v for k, v in rec.items() if k != "duplicate"}
    if got.json()["status"] == "processing":
        assert got.json() == expected
    ready = client.wait_processed(rec["id"])
    assert ready["status"] == "ready", ready
    assert_same_upload(expected, ready)
    assert set(ready) == set(expected), "the same members, processed or not"
    assert set(ready["variants"]) == {"thumb", "medium"}
    assert client.get(rec["urls"]["self"]).json() == ready

    content = client.get(rec["urls"]["content"])
    assert content.status_code == 200
    assert content.content == data
    assert content.headers["Content-Type"].split(";")[0] == "image/png"

    assert blob_bytes(server.data_dir, rec["key"]) == data
    rows = db_rows(server.data_dir, "SELECT id, owner, filename, content_type, key, sha256 FROM images WHERE id = ?",
                   (rec["id"],))
    assert len(rows) == 1
    row = rows[0]
    assert (row["owner"], row["filename"], row["content_type"], row["key"], row["sha256"]) == (
        "local", "photo.png", "image/png", rec["key"], sha256(data))
    assert image_blobs(server.data_dir, rec["id"]) == {rec["key"]} | variant_files("local", rec["id"])


def test_jpeg_seed_payload(client):
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg"), b"seed-jpeg")
    r = client.upload_json(data, filename="photo.jpg", content_type="image/jpeg")
    assert r.status_code == 201, r.text
    rec = r.json()
    assert (rec["content_type"], rec["format"]) == ("image/jpeg", "jpeg")
    assert (rec["width"], rec["height"]) == (1800, 1200)
    assert client.get(rec["urls"]["content"]).content == data


def test_image_jpg_alias_is_accepted_and_normalised(client):
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Portrait_1.jpg"), b"alias")
    r = client.upload_json(data, filename="p.jpg", content_type="image/jpg")
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == "image/jpeg"


def test_data_url_prefix_is_accepted(client):
    data = unique_png()
    r = client.post("/upload", json={"filename": "d.png", "content_type": "image/png",
                                     "image_base64": "data:image/png;base64," + base64.b64encode(data).decode()})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["sha256"] == sha256(data)
    assert client.get(rec["urls"]["content"]).content == data


def test_tags_description_and_unknown_fields(client):
    data = unique_png()
    r = client.upload_json(data, tags=["cat", "holiday 2026"], description="A cat, on holiday.",
                           unknown_member={"ignored": True}, another=[1, 2])
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["tags"] == ["cat", "holiday 2026"]
    assert rec["description"] == "A cat, on holiday."
    assert "unknown_member" not in rec and "another" not in rec
    assert client.get(rec["urls"]["self"]).json()["tags"] == ["cat", "holiday 2026"]


def test_limits_on_tags_and_description_are_inclusive(client):
    data = unique_png()
    tags = [f"t{i:02d}" + "x" * 60 for i in range(20)]  # 20 tags of 64 chars
    r = client.upload_json(data, tags=tags, description="d" * 2000)
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == tags and len(r.json()["description"]) == 2000


def test_tag_limit_counts_characters(client):
    """A tag is 1..64 characters (not bytes)."""
    tag = "é" * 64  # 128 bytes in UTF-8
    r = client.upload_json(unique_png(), tags=[tag])
    assert r.status_code == 201, r.text
    assert r.json()["tags"] == [tag]


def test_description_limit_counts_characters(client):
    """The description is up to 2000 characters (not bytes)."""
    description = "写" * 2000  # 6000 bytes in UTF-8
    r = client.upload_json(unique_png(), description=description)
    assert r.status_code == 201, r.text
    assert r.json()["description"] == description


def test_filename_of_1024_bytes_is_accepted(client):
    """Up to 1024 bytes are accepted; the stored name is cut to 255 bytes, keeping the extension
    (README: "at most 255 bytes; over 1024 bytes sent is 400")."""
    name = "n" * 1020 + ".png"
    r = client.upload_json(unique_png(), filename=name)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "n" * 251 + ".png"


def test_filename_of_255_bytes_is_kept_whole(client):
    name = "k" * 251 + ".png"
    r = client.upload_json(unique_png(), filename=name)
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == name


def test_unicode_filename_kept(client):
    r = client.upload_json(unique_png(), filename="café – 写真.png")
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "café – 写真.png"


def test_multipart_upload(client):
    data = unique_png(5, 9)
    r = client.post("/upload", files={"file": ("shot.png", data, "image/png")},
                    data={"tags": "a,b", "description": "from a form"})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["duplicate"] is False
    assert r.headers["Location"] == f"/images/{rec['id']}"
    assert (rec["filename"], rec["content_type"], rec["width"], rec["height"]) == ("shot.png", "image/png", 5, 9)
    assert rec["tags"] == ["a", "b"]
    assert rec["description"] == "from a form"
    assert client.get(rec["urls"]["content"]).content == data


def test_multipart_upload_file_only(client):
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg"), b"multipart")
    r = client.post("/upload", files={"file": ("IMG_0001.JPG", data, "image/jpeg")})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert (rec["filename"], rec["content_type"], rec["tags"], rec["description"]) == (
        "IMG_0001.JPG", "image/jpeg", [], "")


def test_raw_upload_with_filename(client):
    data = unique_png(3, 4)
    r = client.post("/upload?filename=raw.png", data=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert (rec["filename"], rec["width"], rec["height"], rec["sha256"]) == ("raw.png", 3, 4, sha256(data))
    assert r.headers["Location"] == f"/images/{rec['id']}"
    assert client.get(rec["urls"]["content"]).content == data


def test_raw_upload_default_filename(client):
    r = client.post("/upload", data=unique_png(), headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "upload"


def test_duplicate_returns_existing_record(client, server):
    data = unique_png()
    first = client.upload_ready(data, filename="one.png")
    state = store_state(server.data_dir)
    again = client.upload_json(data, filename="two.png", tags=["x"])
    assert again.status_code == 200, again.text
    rec = again.json()
    assert rec["duplicate"] is True
    assert {k: v for k, v in rec.items() if k != "duplicate"} == first
    assert store_state(server.data_dir) == state, "a duplicate must not store anything new"


def test_duplicate_of_an_image_still_processing(client, server):
    """A repeated upload while the first is still processing answers the same record and queues
    nothing new: the image is processed once and ends ready."""
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_4.jpg"), b"dup-processing")
    first = client.upload_ok(data, filename="one.jpg", content_type="image/jpeg")
    again = client.upload_json(data, filename="two.jpg", content_type="image/jpeg")
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    assert again.json()["id"] == first["id"]
    assert_same_upload(first, again.json())
    server.wait_idle()
    final = client.get(f"/images/{first['id']}").json()
    assert final["status"] == "ready"
    assert image_blobs(server.data_dir, first["id"]) == {first["key"]} | variant_files("local", first["id"])


def test_duplicate_across_request_forms(client):
    data = unique_png()
    first = client.post("/upload?filename=a.png", data=data, headers={"Content-Type": "image/png"})
    assert first.status_code == 201
    multi = client.post("/upload", files={"file": ("b.png", data, "image/png")})
    assert multi.status_code == 200 and multi.json()["duplicate"] is True
    assert multi.json()["id"] == first.json()["id"]
    js = client.upload_json(data, filename="c.png")
    assert js.status_code == 200 and js.json()["id"] == first.json()["id"]


def test_gif_upload(client):
    data = gif(3, 2, (1, 2, 3))
    r = client.upload_json(data, filename="a.gif", content_type="image/gif")
    assert r.status_code in (200, 201), r.text
    rec = r.json()
    assert (rec["content_type"], rec["format"], rec["width"], rec["height"]) == ("image/gif", "gif", 3, 2)


@pytest.mark.parametrize("data", [WEBP_LOSSY, WEBP_LOSSLESS], ids=["lossy", "lossless"])
def test_webp_upload(client, data):
    r = client.upload_json(data, filename="a.webp", content_type="image/webp")
    assert r.status_code in (200, 201), r.text
    rec = r.json()
    assert (rec["content_type"], rec["format"], rec["width"], rec["height"]) == ("image/webp", "webp", 1, 1)


def test_x_request_ids_are_unique(client):
    ids = {client.get("/health").headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20


# --- real images -----------------------------------------------------------------------------

VALID_PNGS = sorted(p.name for p in PNGSUITE.glob("*.png") if not p.name.startswith("x")) if PNGSUITE.exists() else []
EXIF_JPEGS = sorted(p.name for p in EXIF_ORIENTATION.glob("*.jpg")) if EXIF_ORIENTATION.exists() else []


def test_corpora_present():
    assert len(VALID_PNGS) == 161, f"PngSuite not found or incomplete under {PNGSUITE}"
    assert len(EXIF_JPEGS) == 18, f"exif-orientation not found under {EXIF_ORIENTATION}"


_PNGSUITE_SEEN: dict = {}


@pytest.mark.parametrize("name", VALID_PNGS)
def test_pngsuite_valid_file_is_accepted(module_server, make_client, name):
    client = make_client(module_server)
    data = corpus_file(PNGSUITE / name)
    r = client.upload_json(data, filename=name, content_type="image/png")
    # PngSuite holds six pairs of byte-identical files (e.g. basn6a08/bgan6a08): the second of a
    # pair is a duplicate for the same owner.
    seen = _PNGSUITE_SEEN.setdefault(module_server.url, {})
    if sha256(data) in seen:
        assert r.status_code == 200 and r.json()["duplicate"] is True, f"{name}: {r.status_code} {r.text}"
        assert r.json()["id"] == seen[sha256(data)]
    else:
        assert r.status_code == 201, f"{name}: {r.status_code} {r.text}"
    rec = r.json()
    seen[sha256(data)] = rec["id"]
    assert (rec["width"], rec["height"]) == png_size(data), name
    assert (rec["content_type"], rec["format"], rec["size_bytes"], rec["sha256"]) == (
        "image/png", "png", len(data), sha256(data))
    assert client.get(rec["urls"]["content"]).content == data


@pytest.mark.parametrize("name", EXIF_JPEGS)
def test_exif_orientation_jpeg_is_accepted(module_server, make_client, name):
    client = make_client(module_server)
    data = corpus_file(EXIF_ORIENTATION / name)
    r = client.upload_json(data, filename=name, content_type="image/jpeg")
    assert r.status_code == 201, f"{name}: {r.status_code} {r.text}"
    rec = r.json()
    assert (rec["content_type"], rec["format"], rec["sha256"]) == ("image/jpeg", "jpeg", sha256(data))
    assert client.get(rec["urls"]["content"]).content == data


@pytest.mark.parametrize("name", EXIF_JPEGS)
def test_jpeg_width_height_are_as_displayed(module_server, make_client, name):
    """DESIGN.md: width and height are as displayed, after EXIF orientation (5-8 swap them)."""
    client = make_client(module_server)
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / name), b"orientation")
    stored = jpeg_size(data)
    r = client.upload_json(data, filename=name, content_type="image/jpeg")
    assert r.status_code == 201, r.text
    rec = r.json()
    expected = (1800, 1200) if name.startswith("Landscape") else (1200, 1800)
    assert (rec["width"], rec["height"]) == expected, (
        f"{name}: stored {stored[0]}x{stored[1]}, displayed should be {expected[0]}x{expected[1]}")
