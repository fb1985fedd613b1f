"""GET/PATCH/DELETE /images/{id}, GET /images/{id}/content."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    blob_bytes,
    blob_files,
    corpus_file,
    db_rows,
    expect_problem,
    image_blobs,
    jpeg_with_comment,
    sha256,
    unique_png,
    variant_files,
    webp_info,
)

UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.fixture
def image(client):
    """A processed (status "ready") image and its bytes."""
    data = unique_png(6, 4)
    rec = client.upload_ready(data, filename="fixture.png", tags=["one"], description="first")
    return rec, data


# --- GET /images/{id} --------------------------------------------------------------------------


def test_get_record(client, image):
    rec, _ = image
    r = client.get(f"/images/{rec['id']}")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == "application/json"
    assert r.json() == rec
    assert "duplicate" not in r.json()


def test_get_unknown_id(client):
    r = client.get(f"/images/{UNKNOWN_ID}")
    expect_problem(r, 404, "not_found")


@pytest.mark.parametrize("bad", ["not-a-ulid", "0" * 27, "01arz3ndektsv4rrffq69g5fav", "%2e%2e%2fimgup.db",
                                 "ILOU0000000000000000000000"])
def test_get_malformed_id(client, bad):
    r = client.get(f"/images/{bad}")
    expect_problem(r, 404, "not_found")


# --- PATCH /images/{id} ------------------------------------------------------------------------


def test_patch_tags_and_description(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"tags": ["a", "b"], "description": "changed"})
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["tags"] == ["a", "b"] and new["description"] == "changed"
    unchanged = {k: v for k, v in new.items() if k not in ("tags", "description")}
    assert unchanged == {k: v for k, v in rec.items() if k not in ("tags", "description")}
    assert client.get(f"/images/{rec['id']}").json() == new


def test_patch_only_description_keeps_tags(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"description": "only this"})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["one"] and r.json()["description"] == "only this"


def test_patch_only_tags_keeps_description(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"tags": ["z"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["z"] and r.json()["description"] == "first"


def test_patch_clears_tags_and_description(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"tags": [], "description": ""})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == [] and r.json()["description"] == ""


def test_patch_empty_object_changes_nothing(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={})
    assert r.status_code == 200, r.text
    assert r.json() == rec


def test_patch_ignores_other_fields(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"filename": "hacked.png", "sha256": "0" * 64,
                                                    "key": "originals/other/x", "description": "ok"})
    assert r.status_code == 200, r.text
    new = r.json()
    assert (new["filename"], new["sha256"], new["key"]) == (rec["filename"], rec["sha256"], rec["key"])


def test_patch_invalid_json(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", data=b"{tags: [", headers={"Content-Type": "application/json"})
    expect_problem(r, 400, "invalid_json")
    assert client.get(f"/images/{rec['id']}").json() == rec


BAD_PATCHES = [
    ({"tags": "a"}, "invalid_field"),
    ({"tags": [1]}, "invalid_field"),
    ({"tags": [""]}, "invalid_field"),
    ({"description": 3}, "invalid_field"),
    ({"tags": ["t" * 65]}, "field_too_long"),
    ({"description": "d" * 2001}, "field_too_long"),
]


@pytest.mark.parametrize("body,code", BAD_PATCHES, ids=[json.dumps(b)[:40] for b, _ in BAD_PATCHES])
def test_patch_bad_fields(client, image, body, code):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json=body)
    expect_problem(r, 400, code)
    assert client.get(f"/images/{rec['id']}").json() == rec, "a refused PATCH must change nothing"


def test_patch_21_tags(client, image):
    rec, _ = image
    r = client.patch(f"/images/{rec['id']}", json={"tags": [f"t{i}" for i in range(21)]})
    expect_problem(r, 400, {"invalid_field", "field_too_long"})
    assert client.get(f"/images/{rec['id']}").json() == rec


def test_patch_unknown_id(client):
    r = client.patch(f"/images/{UNKNOWN_ID}", json={"description": "x"})
    expect_problem(r, 404, "not_found")


# --- DELETE /images/{id} -----------------------------------------------------------------------


def test_delete(client, server, image):
    rec, _ = image
    assert blob_bytes(server.data_dir, rec["key"]) is not None
    assert image_blobs(server.data_dir, rec["id"]) == {rec["key"]} | variant_files("local", rec["id"])
    assert db_rows(server.data_dir, "SELECT id FROM images WHERE id = ?", (rec["id"],))
    r = client.delete(f"/images/{rec['id']}")
    assert r.status_code == 204
    assert r.content == b""
    assert blob_bytes(server.data_dir, rec["key"]) is None, f"{rec['key']} still stored after DELETE"
    assert image_blobs(server.data_dir, rec["id"]) == set(), "DELETE must remove the original and every variant"
    assert not [f for f in blob_files(server.data_dir) if f.startswith(f"variants/local/{rec['id']}")]
    assert not db_rows(server.data_dir, "SELECT id FROM images WHERE id = ?", (rec["id"],)), "row still in images"
    expect_problem(client.get(f"/images/{rec['id']}"), 404, "not_found")
    expect_problem(client.get(f"/images/{rec['id']}/content"), 404, "not_found")
    expect_problem(client.get(f"/images/{rec['id']}/content", params={"variant": "thumb"}), 404, "not_found")
    expect_problem(client.get(f"/images/{rec['id']}/similar"), 404, "not_found")
    expect_problem(client.delete(f"/images/{rec['id']}"), 404, "not_found")


def test_delete_unknown_id(client):
    expect_problem(client.delete(f"/images/{UNKNOWN_ID}"), 404, "not_found")


def test_upload_again_after_delete_is_new(client, image):
    rec, data = image
    assert client.delete(f"/images/{rec['id']}").status_code == 204
    r = client.upload_json(data, filename="again.png")
    assert r.status_code == 201, r.text
    assert r.json()["id"] != rec["id"] and r.json()["duplicate"] is False


def test_delete_keeps_other_images(client, server, image):
    rec, _ = image
    other = client.upload_ok(unique_png())
    assert client.delete(f"/images/{rec['id']}").status_code == 204
    assert client.get(f"/images/{other['id']}").status_code == 200
    assert blob_bytes(server.data_dir, other["key"]) is not None


# --- GET /images/{id}/content ------------------------------------------------------------------


def test_content_headers(client, image):
    rec, data = image
    r = client.get(f"/images/{rec['id']}/content")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["Content-Type"].split(";")[0] == "image/png"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Disposition"] == "inline; filename*=UTF-8''fixture.png"
    assert r.headers["ETag"] == f'"{sha256(data)}"'
    assert "private" in r.headers["Cache-Control"]
    assert int(r.headers["Content-Length"]) == len(data)


def test_content_of_a_jpeg(client):
    data = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_5.jpg"), b"content")
    rec = client.upload_ok(data, filename="l5.jpg", content_type="image/jpeg")
    r = client.get(rec["urls"]["content"])
    assert r.content == data and r.headers["Content-Type"].split(";")[0] == "image/jpeg"


def test_content_disposition_encodes_the_file_name(client):
    name = 'café "x"; a=b.png'
    rec = client.upload_ok(unique_png(), filename=name)
    r = client.get(rec["urls"]["content"])
    assert r.headers["Content-Disposition"] == "inline; filename*=UTF-8''" + quote(name, safe="")


def test_if_none_match_gives_304(client, image):
    rec, data = image
    etag = client.get(f"/images/{rec['id']}/content").headers["ETag"]
    r = client.get(f"/images/{rec['id']}/content", headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == etag


def test_if_none_match_with_a_list_of_etags(client, image):
    """RFC 9110 13.1.2: If-None-Match holds a list of entity tags."""
    rec, data = image
    etag = f'"{sha256(data)}"'
    assert client.get(rec["urls"]["content"], headers={"If-None-Match": f'"nope", {etag}'}).status_code == 304


def test_if_none_match_star(client, image):
    rec, _ = image
    assert client.get(rec["urls"]["content"], headers={"If-None-Match": "*"}).status_code == 304


def test_if_none_match_weak_comparison(client, image):
    """RFC 9110 13.1.2: If-None-Match uses the weak comparison (W/"x" matches "x")."""
    rec, data = image
    assert client.get(rec["urls"]["content"], headers={"If-None-Match": f'W/"{sha256(data)}"'}).status_code == 304


def test_if_none_match_other_etag_gives_200(client, image):
    rec, data = image
    r = client.get(f"/images/{rec['id']}/content", headers={"If-None-Match": '"' + "0" * 64 + '"'})
    assert r.status_code == 200 and r.content == data


def test_variant_original_explicit(client, image):
    rec, data = image
    r = client.get(f"/images/{rec['id']}/content", params={"variant": "original"})
    assert r.status_code == 200 and r.content == data


@pytest.mark.parametrize("variant", ["thumb", "medium"])
def test_variant_of_a_ready_image(client, image, variant):
    rec, data = image
    v = rec["variants"][variant]
    r = client.get(f"/images/{rec['id']}/content", params={"variant": variant})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == v["content_type"] == "image/webp"
    assert len(r.content) == v["size_bytes"] and r.content != data
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["ETag"] == f'"{sha256(r.content)}"', "a variant's ETag is the hash of its own bytes"
    assert client.get(rec["urls"]["content"], params={"variant": variant},
                      headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    info = webp_info(r.content)
    assert (info.width, info.height) == (v["width"], v["height"]) == (6, 4), "a 6x4 image is never upscaled"


@pytest.mark.parametrize("variant", ["bogus", "", "ORIGINAL", "../original"])
def test_bogus_variant(client, image, variant):
    rec, _ = image
    r = client.get(f"/images/{rec['id']}/content", params={"variant": variant})
    expect_problem(r, 400, "invalid_query")


def test_content_unknown_id(client):
    expect_problem(client.get(f"/images/{UNKNOWN_ID}/content"), 404, "not_found")


@pytest.mark.parametrize("bad", ["%2e%2e%2f%2e%2e%2fimgup.db", "..%2F..%2F..%2Fetc%2Fpasswd", "not-an-id",
                                 "01ARZ3NDEKTSV4RRFFQ69G5FA%00"])
def test_content_malformed_id(client, bad):
    r = client.get(f"/images/{bad}/content")
    expect_problem(r, 404, "not_found")
    assert b"root:" not in r.content
