"""POST /upload with bad input: every case is its own test, answers 4xx application/problem+json
with a stable code, and leaves nothing behind (no file under DIR/blobs, no row in images)."""

from __future__ import annotations

import base64
import json
import random

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    HTML,
    PDF,
    PNG_SIG,
    PNGSUITE,
    SVG,
    TEXT,
    assert_nothing_left,
    corpus_file,
    expect_problem,
    gif,
    jpeg_with_comment,
    make_png,
    png_header_declaring,
    png_ihdr,
    store_state,
    unique_png,
    variant_files,
)

B64 = lambda data: base64.b64encode(data).decode("ascii")  # noqa: E731


@pytest.fixture(scope="module")
def server(module_server):
    """This module's own server, for `client`, `nothing_left` and `data_dir`. Each test checks
    that its refusal left nothing in the whole store, and a snapshot of a store on S3 + DynamoDB
    lists every object and item: on the session server, after the images of the modules before
    this one, that took ~5 s a test over the Lambda stack (0.1 s on a fresh store)."""
    return module_server


def seed(**over):
    body = {"filename": "x.png", "content_type": "image/png", "image_base64": B64(unique_png())}
    body.update(over)
    return body


def jpeg_bytes(tag: bytes = b"bad-input") -> bytes:
    return jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg"), tag)


# --- malformed JSON ---------------------------------------------------------------------------


def test_invalid_json(client, nothing_left):
    r = client.post("/upload", data=b'{"filename": "a.png", "content_type": ', headers={"Content-Type": "application/json"})
    expect_problem(r, 400, "invalid_json")
    nothing_left()


def test_invalid_json_trailing_garbage(client, nothing_left):
    body = json.dumps(seed()) + " }"
    r = client.post("/upload", data=body.encode(), headers={"Content-Type": "application/json"})
    expect_problem(r, 400, "invalid_json")
    nothing_left()


def test_json_body_not_an_object(client, nothing_left):
    r = client.post("/upload", json=[seed()])
    expect_problem(r, 400, {"invalid_json", "invalid_field"})
    nothing_left()


def test_empty_json_body(client, nothing_left):
    r = client.post("/upload", data=b"", headers={"Content-Type": "application/json"})
    expect_problem(r, 400, {"invalid_json", "empty_body"})
    nothing_left()


# --- missing, empty, wrongly typed and overlong fields ------------------------------------------


@pytest.mark.parametrize("field", ["filename", "content_type", "image_base64"])
def test_missing_field(client, nothing_left, field):
    body = seed()
    del body[field]
    r = client.post("/upload", json=body)
    problem = expect_problem(r, 400, "missing_field")
    assert field in problem["detail"], f"the detail should name the field: {problem}"
    nothing_left()


@pytest.mark.parametrize("field", ["filename", "content_type"])
def test_empty_string_field(client, nothing_left, field):
    r = client.post("/upload", json=seed(**{field: ""}))
    expect_problem(r, 400, "invalid_field")
    nothing_left()


def test_empty_image_base64(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64=""))
    expect_problem(r, 400, {"invalid_field", "empty_body"})
    nothing_left()


WRONG_TYPES = [
    ("filename", 123),
    ("filename", True),
    ("filename", ["a.png"]),
    ("content_type", ["image/png"]),
    ("content_type", 7),
    ("image_base64", 123),
    ("image_base64", {"data": "AAAA"}),
    ("image_base64", None),
    ("tags", "cat"),
    ("tags", [1, 2]),
    ("tags", [["nested"]]),
    ("tags", {"a": 1}),
    ("description", 5),
    ("description", ["text"]),
]


@pytest.mark.parametrize("field,value", WRONG_TYPES, ids=[f"{f}={json.dumps(v)}" for f, v in WRONG_TYPES])
def test_wrong_type(client, nothing_left, field, value):
    r = client.post("/upload", json=seed(**{field: value}))
    problem = expect_problem(r, 400, "invalid_field")
    assert field in problem["detail"], f"the detail should name the field: {problem}"
    nothing_left()


def test_empty_tag(client, nothing_left):
    r = client.post("/upload", json=seed(tags=["ok", ""]))
    expect_problem(r, 400, "invalid_field")
    nothing_left()


def test_filename_of_1025_bytes(client, nothing_left):
    r = client.post("/upload", json=seed(filename="a" * 1021 + ".png"))
    expect_problem(r, 400, "field_too_long")
    nothing_left()


def test_filename_of_10000_characters(client, nothing_left):
    r = client.post("/upload", json=seed(filename="a" * 10000))
    problem = expect_problem(r, 400, "field_too_long")
    assert "filename" in problem["detail"]
    nothing_left()


def test_filename_limit_counts_utf8_bytes(client, nothing_left):
    # 513 characters, 1026 bytes in UTF-8.
    r = client.post("/upload", json=seed(filename="é" * 513))
    expect_problem(r, 400, "field_too_long")
    nothing_left()


def test_description_of_2001_characters(client, nothing_left):
    r = client.post("/upload", json=seed(description="d" * 2001))
    expect_problem(r, 400, "field_too_long")
    nothing_left()


def test_tag_of_65_characters(client, nothing_left):
    r = client.post("/upload", json=seed(tags=["t" * 65]))
    expect_problem(r, 400, "field_too_long")
    nothing_left()


def test_21_tags(client, nothing_left):
    r = client.post("/upload", json=seed(tags=[f"t{i}" for i in range(21)]))
    expect_problem(r, 400, {"field_too_long", "invalid_field"})
    nothing_left()


# --- base64 ------------------------------------------------------------------------------------


def _b64_with_url_alphabet() -> str:
    while True:
        text = B64(PNG_SIG + random.randbytes(60))
        if "+" in text or "/" in text:
            return text.replace("+", "-").replace("/", "_")


BAD_BASE64 = {
    "not-base64": "!!!!not base64!!!!",
    "truncated-quantum": B64(unique_png())[:-1],
    "padding-in-the-middle": "iVBO=w0KGgo=",
    "url-alphabet": _b64_with_url_alphabet(),
    "embedded-newline": (lambda t: t[:76] + "\n" + t[76:])(B64(unique_png(16, 16))),
    "embedded-space": (lambda t: t[:8] + " " + t[8:])(B64(unique_png())),
    "data-url-with-bad-base64": "data:image/png;base64,%%%%",
}


def _unpadded() -> str:
    # Really missing padding: a PNG whose base64 ends with '=', with the '=' removed.
    while True:
        text = B64(unique_png())
        if text.endswith("="):
            return text.rstrip("=")


BAD_BASE64["missing-padding"] = _unpadded()


@pytest.mark.parametrize("case", sorted(BAD_BASE64))
def test_invalid_base64(client, nothing_left, case):
    r = client.post("/upload", json=seed(image_base64=BAD_BASE64[case]))
    expect_problem(r, 400, "invalid_base64")
    nothing_left()


def test_data_url_with_nothing_after_it(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64="data:image/png;base64,"))
    expect_problem(r, 400, {"empty_body", "invalid_field"})
    nothing_left()


# --- zero bytes, truncated and degenerate images ---------------------------------------------


def test_raw_zero_bytes(client, nothing_left):
    r = client.post("/upload?filename=empty.png", data=b"", headers={"Content-Type": "image/png"})
    expect_problem(r, 400, "empty_body")
    nothing_left()


def test_multipart_zero_byte_file(client, nothing_left):
    r = client.post("/upload", files={"file": ("empty.png", b"", "image/png")})
    expect_problem(r, 400, "empty_body")
    nothing_left()


TRUNCATED = {
    "png-signature-only": PNG_SIG,
    "png-half-ihdr": (PNG_SIG + png_ihdr(10, 10))[:20],
    "png-ihdr-no-crc": (PNG_SIG + png_ihdr(10, 10))[:-4],
    "jpeg-magic-only": b"\xff\xd8\xff",
    "jpeg-cut-in-app0": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "jpeg-no-sof": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    "gif-header-only": b"GIF89a\x0a",
}
TRUNCATED_TYPE = {"png": "image/png", "jpe": "image/jpeg", "gif": "image/gif"}


@pytest.mark.parametrize("case", sorted(TRUNCATED))
def test_truncated_image_header(client, nothing_left, case):
    r = client.post("/upload", json=seed(image_base64=B64(TRUNCATED[case]), content_type=TRUNCATED_TYPE[case[:3]]))
    expect_problem(r, 422, "invalid_image")
    nothing_left()


def test_truncated_real_jpeg(client, nothing_left):
    data = corpus_file(EXIF_ORIENTATION / "Portrait_3.jpg")
    # Cut inside the APP1 (EXIF) segment, long before the frame header.
    r = client.post("/upload", json=seed(image_base64=B64(data[:100]), content_type="image/jpeg"))
    expect_problem(r, 422, "invalid_image")
    nothing_left()


@pytest.mark.parametrize("w,h", [(0, 10), (10, 0), (0, 0)])
def test_png_of_zero_size(client, nothing_left, w, h):
    r = client.post("/upload", json=seed(image_base64=B64(png_header_declaring(w, h))))
    expect_problem(r, 422, "invalid_image")
    nothing_left()


def test_gif_of_zero_size(client, nothing_left):
    data = bytearray(gif(1, 1))
    data[6:10] = b"\x00\x00\x00\x00"
    r = client.post("/upload", json=seed(image_base64=B64(bytes(data)), content_type="image/gif"))
    expect_problem(r, 422, "invalid_image")
    nothing_left()


def test_png_declaring_50000x50000(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64=B64(png_header_declaring(50000, 50000))))
    expect_problem(r, 422, "image_too_large")
    nothing_left()


def test_raw_png_declaring_50000x50000(client, nothing_left):
    r = client.post("/upload?filename=big.png", data=png_header_declaring(50000, 50000),
                    headers={"Content-Type": "image/png"})
    expect_problem(r, 422, "image_too_large")
    nothing_left()


def test_pixel_cap_is_configurable_and_inclusive(start_server, make_client):
    srv = start_server(args=["--max-pixels", "10000"])
    c = make_client(srv)
    before = store_state(srv.data_dir)
    expect_problem(c.upload_json(make_png(101, 100)), 422, "image_too_large")
    expect_problem(c.upload_json(make_png(10001, 1)), 422, "image_too_large")
    assert_nothing_left(srv.data_dir, before)
    assert c.upload_json(make_png(100, 100)).status_code == 201


CORRUPT_PNGS = sorted(p.name for p in PNGSUITE.glob("x*.png")) if PNGSUITE.exists() else []


def test_corrupt_corpus_present():
    assert len(CORRUPT_PNGS) == 14


@pytest.mark.parametrize("name", CORRUPT_PNGS)
def test_pngsuite_corrupt_file_is_refused(client, nothing_left, name):
    """The corpora README: every x*.png must be refused with a 4xx problem, leaving nothing."""
    data = corpus_file(PNGSUITE / name)
    r = client.post("/upload", json=seed(filename=name, image_base64=B64(data)))
    assert 400 <= r.status_code < 500, f"{name} was accepted: {r.status_code} {r.text[:300]}"
    expect_problem(r, r.status_code, {"invalid_image", "unsupported_media_type", "content_type_mismatch"})
    nothing_left()


# --- types: not an image, not what was declared ----------------------------------------------


def polyglot_png_html() -> bytes:
    return unique_png() + b"<html><body><script>alert(document.cookie)</script></body></html>"


NOT_IMAGES = {
    "svg-as-svg": (SVG, "image/svg+xml"),
    "svg-as-png": (SVG, "image/png"),
    "html-as-html": (HTML, "text/html"),
    "html-as-png": (HTML, "image/png"),
    "pdf-as-pdf": (PDF, "application/pdf"),
    "pdf-as-jpeg": (PDF, "image/jpeg"),
    "text-as-text": (TEXT, "text/plain"),
    "text-as-gif": (TEXT, "image/gif"),
    "png-as-bmp": (None, "image/bmp"),
    "png-as-octet-stream": (None, "application/octet-stream"),
}


@pytest.mark.parametrize("case", sorted(NOT_IMAGES))
def test_json_not_an_allowed_image(client, nothing_left, case):
    data, declared = NOT_IMAGES[case]
    data = data if data is not None else unique_png()
    r = client.post("/upload", json=seed(image_base64=B64(data), content_type=declared, filename="x"))
    body = expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    if not declared.startswith("image/") or declared in ("image/svg+xml", "image/bmp"):
        assert body["code"] == "unsupported_media_type", body
    nothing_left()


@pytest.mark.parametrize("case", ["svg-as-svg", "html-as-html", "pdf-as-pdf", "text-as-text", "svg-as-png",
                                  "html-as-png"])
def test_raw_not_an_allowed_image(client, nothing_left, case):
    data, declared = NOT_IMAGES[case]
    r = client.post("/upload?filename=x", data=data, headers={"Content-Type": declared})
    expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    nothing_left()


@pytest.mark.parametrize("case", ["svg-as-svg", "html-as-png", "pdf-as-pdf"])
def test_multipart_not_an_allowed_image(client, nothing_left, case):
    data, declared = NOT_IMAGES[case]
    r = client.post("/upload", files={"file": ("x", data, declared)})
    expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    nothing_left()


def test_polyglot_png_html_json(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64=B64(polyglot_png_html()), filename="poly.png"))
    expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    nothing_left()


def test_polyglot_png_html_raw(client, nothing_left):
    r = client.post("/upload?filename=poly.png", data=polyglot_png_html(), headers={"Content-Type": "image/png"})
    expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    nothing_left()


def test_polyglot_png_html_multipart(client, nothing_left):
    r = client.post("/upload", files={"file": ("poly.png", polyglot_png_html(), "image/png")})
    expect_problem(r, 415, {"unsupported_media_type", "content_type_mismatch"})
    nothing_left()


MISMATCHES = {
    "png-declared-jpeg": (lambda: unique_png(), "image/jpeg"),
    "jpeg-declared-png": (lambda: jpeg_bytes(b"mismatch-1"), "image/png"),
    "gif-declared-webp": (lambda: gif(2, 2, (9, 9, 9)), "image/webp"),
    "png-declared-gif": (lambda: unique_png(), "image/gif"),
    "png-declared-avif": (lambda: unique_png(), "image/avif"),
    "jpeg-declared-heic": (lambda: jpeg_bytes(b"mismatch-2"), "image/heic"),
}


@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_declared_type_differs_from_bytes_json(client, nothing_left, case):
    make, declared = MISMATCHES[case]
    r = client.post("/upload", json=seed(image_base64=B64(make()), content_type=declared))
    expect_problem(r, 415, "content_type_mismatch")
    nothing_left()


def test_declared_type_differs_from_bytes_raw(client, nothing_left):
    r = client.post("/upload?filename=a.jpg", data=unique_png(), headers={"Content-Type": "image/jpeg"})
    expect_problem(r, 415, "content_type_mismatch")
    nothing_left()


def test_declared_type_differs_from_bytes_multipart(client, nothing_left):
    r = client.post("/upload", files={"file": ("a.png", jpeg_bytes(b"mismatch-3"), "image/png")})
    expect_problem(r, 415, "content_type_mismatch")
    nothing_left()


# --- request forms -----------------------------------------------------------------------------


def test_raw_body_with_a_non_image_content_type(client, nothing_left):
    r = client.post("/upload?filename=a.png", data=unique_png(), headers={"Content-Type": "text/plain"})
    expect_problem(r, 415, "unsupported_media_type")
    nothing_left()


def test_body_without_content_type(client, nothing_left):
    r = client.post("/upload?filename=a.png", data=unique_png())
    assert "Content-Type" not in r.request.headers
    assert r.status_code in (400, 415), r.text
    expect_problem(r, r.status_code, {"unsupported_media_type", "missing_field", "invalid_field", "invalid_json"})
    nothing_left()


def test_multipart_without_file_part(client, nothing_left):
    r = client.post("/upload", files={"other": ("a.png", unique_png(), "image/png")}, data={"tags": "a"})
    problem = expect_problem(r, 400, "missing_field")
    assert "file" in problem["detail"]
    nothing_left()


def test_multipart_malformed(client, nothing_left):
    r = client.post("/upload", data=b"--nope\r\nthis is not a multipart body",
                    headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 400, r.text
    nothing_left()


def test_multipart_tag_too_long(client, nothing_left):
    r = client.post("/upload", files={"file": ("a.png", unique_png(), "image/png")}, data={"tags": "ok," + "t" * 65})
    expect_problem(r, 400, "field_too_long")
    nothing_left()


def test_raw_filename_too_long(client, nothing_left):
    r = client.post("/upload?filename=" + "a" * 1025, data=unique_png(), headers={"Content-Type": "image/png"})
    expect_problem(r, 400, "field_too_long")
    nothing_left()


# --- file names are sanitised metadata ----------------------------------------------------------

SANITISED = [
    ("../../etc/passwd", "passwd"),
    ("/absolute/path/photo.png", "photo.png"),
    ("a\u0000b.png", "ab.png"),
    ("a\x01\x02\x1f\x7fb.png", "ab.png"),
    ("line\r\nbreak.png", "linebreak.png"),
    ("tab\there.png", "tabhere.png"),
]


@pytest.mark.parametrize("given,stored", SANITISED, ids=[repr(g) for g, _ in SANITISED])
def test_filename_is_sanitised(client, server, given, stored):
    before = store_state(server.data_dir)
    r = client.post("/upload", json=seed(filename=given))
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["filename"] == stored
    assert rec["key"] == f"originals/local/{rec['id']}"
    assert client.get(rec["urls"]["self"]).json()["filename"] == stored
    after = store_state(server.data_dir)  # once processed
    assert after.blob_files - before.blob_files == {rec["key"]} | variant_files("local", rec["id"]), (
        "the only new blobs are originals/local/{id} and variants/local/{id}/{thumb,medium}.webp")
    assert after.image_ids - before.image_ids == {rec["id"]}
    assert not any(c in rec["filename"] for c in "/\x00\r\n\t")


def test_raw_filename_is_sanitised(client):
    r = client.post("/upload", params={"filename": "../../x/evil.png"}, data=unique_png(),
                    headers={"Content-Type": "image/png"})
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "evil.png"


def test_multipart_filename_is_sanitised(client):
    r = client.post("/upload", files={"file": ("../../evil.png", unique_png(), "image/png")})
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "evil.png"


# --- tags and descriptions: the character classes file names are cleaned of --------------------


@pytest.mark.parametrize("field,value", [
    ("description", "on the\u0000sofa"),        # NUL
    ("description", "on the\u0085sofa"),        # C1 control
    ("description", "cat\u202egpj.exe"),        # right-to-left override
    ("description", "\u2066isolated\u2069"),    # bidi isolate
    ("description", "\u200b\u200d\ufeff"),      # zero-width only: shows nothing
    ("tags", ["sofa\u202e"]),
    ("tags", ["\u200b"]),
    ("tags", ["ok", "\u2060\u200c"]),
    ("tags", ["line\nbreak"]),
], ids=["desc-nul", "desc-c1", "desc-rlo", "desc-isolate", "desc-zero-width-only", "tag-rlo", "tag-zwsp-only",
        "tag-joiners-only", "tag-newline"])
def test_annotation_with_disguising_characters(client, nothing_left, field, value):
    r = client.post("/upload", json=seed(**{field: value}))
    expect_problem(r, 400, "invalid_field")
    nothing_left()


def test_patch_annotation_with_disguising_characters(client):
    rec = client.upload_ok(unique_png(), description="before")
    for body in ({"description": "x\u202ey"}, {"description": "a\u0000b"}, {"tags": ["\u200b\u200b"]}):
        expect_problem(client.patch(f"/images/{rec['id']}", json=body), 400, "invalid_field")
    assert client.get(f"/images/{rec['id']}").json()["description"] == "before"


def test_multipart_annotation_with_disguising_characters(client, nothing_left):
    r = client.post("/upload", files={"file": ("a.png", unique_png(), "image/png")},
                    data={"description": "sofa\u202e", "tags": "a,b"})
    expect_problem(r, 400, "invalid_field")
    nothing_left()


def test_annotations_keep_line_breaks_and_joined_emoji(client):
    description = "line one\nline two\twith a tab, \u05e9\u05dc\u05d5\u05dd\u200f and \U0001f469\u200d\U0001f4bb"
    rec = client.upload_ok(unique_png(), description=description, tags=["\U0001f469\u200d\U0001f4bb", "caf\u00e9"])
    assert rec["description"] == description
    assert rec["tags"] == ["\U0001f469\u200d\U0001f4bb", "caf\u00e9"]


# --- base64 and data: URLs ----------------------------------------------------------------------


def test_base64_with_a_trailing_newline_says_so(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64=B64(unique_png()) + "\n"))
    problem = expect_problem(r, 400, "invalid_base64")
    assert "trailing newline" in problem["detail"], problem["detail"]
    assert "padding" not in problem["detail"], problem["detail"]
    nothing_left()


def test_data_url_without_base64_names_the_field_once(client, nothing_left):
    r = client.post("/upload", json=seed(image_base64="data:image/png," + B64(unique_png())))
    problem = expect_problem(r, 400, "invalid_base64")
    assert problem["detail"].count("image_base64:") == 1, problem["detail"]
    nothing_left()


def test_data_url_type_must_match_the_bytes(client, nothing_left):
    """content_type and the bytes agree (PNG), but the data: URL says JPEG."""
    r = client.post("/upload", json=seed(image_base64="data:image/jpeg;base64," + B64(unique_png())))
    problem = expect_problem(r, 415, "content_type_mismatch")
    assert "data:" in problem["detail"], problem["detail"]
    nothing_left()


def test_data_url_of_the_right_type_is_accepted(client):
    data = unique_png()
    r = client.post("/upload", json=seed(image_base64="data:image/png;base64," + B64(data)))
    assert r.status_code == 201, r.text
    assert client.get(r.json()["urls"]["content"]).content == data
