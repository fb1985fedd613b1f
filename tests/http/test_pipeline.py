"""The image pipeline as a user sees it over HTTP: an upload answers 201 "processing", then a worker
derives the variants (thumb: long edge 256, medium: long edge 1024, WebP, never upscaled), EXIF,
BlurHash placeholder, dominant colour, perceptual hash and pixel facts, and the record becomes
"ready" -- or "failed", and then its bytes are never served. GET /images/{id}/similar finds the
owner's near-duplicates. Records a crash left "processing" are processed after a restart.

WebP files are checked by parsing their RIFF structure here (no image library needed)."""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    LAMBDA,
    Client,
    PNG_SIG,
    PNGSUITE,
    VARIANT_EDGES,
    WebpInfo,
    assert_processing_record,
    assert_same_upload,
    blob_bytes,
    blob_files,
    blurhash_components,
    corpus_file,
    db_rows,
    expect_problem,
    hamming,
    image_blobs,
    jpeg_with_comment,
    png_size,
    sha256,
    variant_files,
    webp_info,
)

UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
HEX_COLOR = re.compile(r"^#[0-9a-f]{6}$")
PHASH = re.compile(r"^[0-9a-f]{16}$")


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def fit(width: int, height: int, edge: int) -> tuple[int, int]:
    """The size of a (width x height) image fitted inside edge x edge, never upscaled (the short
    side rounded to nearest)."""
    if max(width, height) <= edge:
        return width, height
    if width >= height:
        return edge, max(1, round(height * edge / width))
    return max(1, round(width * edge / height)), edge


def assert_fits(rec: dict) -> None:
    """The record's variants have the sizes its displayed size gives."""
    assert set(rec["variants"]) == set(VARIANT_EDGES), rec["variants"]
    for name, edge in VARIANT_EDGES.items():
        v = rec["variants"][name]
        ew, eh = fit(rec["width"], rec["height"], edge)
        assert v["content_type"] == "image/webp", v
        assert max(v["width"], v["height"]) == max(ew, eh), f"{name}: {v} for {rec['width']}x{rec['height']}"
        assert abs(v["width"] - ew) <= 1 and abs(v["height"] - eh) <= 1, (
            f"{name}: {v['width']}x{v['height']}, expected about {ew}x{eh} for {rec['width']}x{rec['height']}")


def fetch_variant(client, rec: dict, name: str) -> tuple[bytes, WebpInfo]:
    """GET content?variant=name: WebP bytes whose own header gives the size the record says."""
    r = client.get(rec["urls"]["content"], params={"variant": name})
    assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].split(";")[0] == "image/webp"
    if LAMBDA:
        # S3 served the bytes (the API function's presigned redirect), and S3 cannot send
        # X-Content-Type-Options: a presigned GET overrides only Content-Type, Content-Language,
        # Expires, Cache-Control, Content-Disposition and Content-Encoding. What keeps the bytes
        # from being taken for something else there is the exact type the URL was signed with
        # (above) and inline display under the file's name; the ETag is S3's own, the MD5.
        assert r.headers["Content-Disposition"].startswith("inline; filename*=UTF-8''"), r.headers
        assert r.headers["ETag"] == f'"{hashlib.md5(r.content).hexdigest()}"'
    else:
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["ETag"] == f'"{sha256(r.content)}"'
    v = rec["variants"][name]
    assert len(r.content) == v["size_bytes"], f"{name}: {len(r.content)} bytes, record says {v['size_bytes']}"
    info = webp_info(r.content)
    assert (info.width, info.height) == (v["width"], v["height"]), (
        f"{name}: the WebP header says {info.width}x{info.height}, the record {v['width']}x{v['height']}")
    return r.content, info


def assert_ready_derivations(rec: dict) -> None:
    """What every ready record carries."""
    assert rec["status"] == "ready" and "failure_reason" not in rec, rec
    assert_fits(rec)
    blurhash_components(rec["placeholder"])
    assert HEX_COLOR.match(rec["dominant_color"]), rec["dominant_color"]
    assert PHASH.match(rec["phash"]), rec["phash"]
    assert rec["bit_depth"] in (1, 2, 4, 8, 16) and rec["bands"] in (1, 2, 3, 4), rec
    assert rec["has_alpha"] == (rec["bands"] in (2, 4)), rec
    assert rec["animated"] is False and rec["frame_count"] == 1, rec


def assert_failed(client, data_dir, rec: dict, *, quarantined: bool, data: bytes) -> None:
    """A failed image: a reason, nothing derived, its bytes never served, no variant left, and its
    original removed (default) or moved to quarantine/{owner}/{id}."""
    assert rec["status"] == "failed", rec
    assert isinstance(rec.get("failure_reason"), str) and rec["failure_reason"].strip(), rec
    assert rec["variants"] == {}
    assert all(rec[k] is None for k in ("placeholder", "dominant_color", "phash", "exif")), rec
    for params in ({}, {"variant": "original"}, {"variant": "thumb"}, {"variant": "medium"}):
        expect_problem(client.get(rec["urls"]["content"], params=params), 422, "image_failed")
    assert client.get(f"/images/{rec['id']}/similar").json() == {"items": []}
    quarantine = f"quarantine/local/{rec['id']}"
    if quarantined:
        assert rec["key"] == quarantine
        assert image_blobs(data_dir, rec["id"]) == {quarantine}, "only the quarantined original may remain"
        assert blob_bytes(data_dir, quarantine) == data
    else:
        assert rec["key"] == ""
        assert image_blobs(data_dir, rec["id"]) == set(), "a failed image's original is removed, no variant stays"


def unique_jpeg(name: str, tag: str) -> bytes:
    """A corpus JPEG made unique by a COM segment (so that no other test's upload is a duplicate)."""
    return jpeg_with_comment(corpus_file(EXIF_ORIENTATION / name), f"pipeline:{tag}".encode())


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, i = [], 8
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append((data[i + 4:i + 8], data[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_with_idat(data: bytes, make_idat) -> bytes:
    """The PNG rebuilt with one IDAT holding make_idat(raw scanlines), every CRC right: the chunk
    structure stays valid, so only the full decode can tell."""
    chunks = png_chunks(data)
    raw = zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT"))
    out, done = PNG_SIG, False
    for kind, payload in chunks:
        if kind == b"IDAT":
            if not done:
                out += png_chunk(b"IDAT", make_idat(raw))
                done = True
        else:
            out += png_chunk(kind, payload)
    return out


def png_with_cut_zlib_stream(name: str) -> bytes:
    """A PngSuite file whose IDAT zlib stream stops half-way (a truncated file, with the chunk's
    length and CRC rewritten so that the header check passes)."""
    def cut(raw: bytes) -> bytes:
        stream = zlib.compress(raw, 9)
        return stream[: len(stream) // 2]

    return png_with_idat(corpus_file(PNGSUITE / name), cut)


# --- a JPEG with camera EXIF and GPS ------------------------------------------------------------

GPS_MARKER = b"IMGUP-GPS-MARKER-7f3a9c"
CAMERA_MAKE = "ImgupTestCam"
EXIF_EXPECTED = {
    "make": CAMERA_MAKE,
    "model": "Model X1",
    "lens": "Imgup 50mm F1.8",
    "taken_at": "2024-06-01T12:34:56+02:00",
    "exposure": "1/250",
    "f_number": 2.8,
    "iso": 200,
    "focal_length_mm": 50.0,
    "orientation": 1,
}
GPS_EXPECTED = {"gps_latitude": 48 + 51 / 60 + 29.64 / 3600, "gps_longitude": 2 + 17 / 60 + 40.2 / 3600,
                "gps_altitude_m": 35.0}


def _tiff(ifds: list[list[tuple[int, int, int, bytes]]]) -> bytes:
    """A little-endian TIFF with the given IFDs, laid out one after the other. Each entry is
    (tag, type, count, value bytes); a LONG entry whose value is ("ifd", n) points at IFD n."""
    sizes = [2 + 12 * len(entries) + 4 for entries in ifds]
    data_sizes = [sum(len(v) + (len(v) & 1) for _, _, _, v in entries if isinstance(v, bytes) and len(v) > 4)
                  for entries in ifds]
    offsets, at = [], 8
    for size, extra in zip(sizes, data_sizes):
        offsets.append(at)
        at += size + extra
    out = bytearray(b"II*\x00" + struct.pack("<I", offsets[0]))
    for n, entries in enumerate(ifds):
        data_at = offsets[n] + sizes[n]
        head, tail = bytearray(struct.pack("<H", len(entries))), bytearray()
        for tag, typ, count, value in sorted(entries, key=lambda e: e[0]):
            if isinstance(value, tuple):
                value = struct.pack("<I", offsets[value[1]])
            if len(value) <= 4:
                head += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
            else:
                head += struct.pack("<HHII", tag, typ, count, data_at + len(tail))
                tail += value + (b"\x00" if len(value) & 1 else b"")
        out += head + struct.pack("<I", 0) + tail
    return bytes(out)


def _ascii(text: str) -> tuple[int, int, bytes]:
    raw = text.encode() + b"\x00"
    return 2, len(raw), raw


def _rationals(*pairs) -> tuple[int, int, bytes]:
    return 5, len(pairs), b"".join(struct.pack("<II", n, d) for n, d in pairs)


def exif_app1() -> bytes:
    ifd0 = [(0x010F, *_ascii(CAMERA_MAKE)), (0x0110, *_ascii("Model X1")), (0x0112, 3, 1, struct.pack("<H", 1)),
            (0x8769, 4, 1, ("ifd", 1)), (0x8825, 4, 1, ("ifd", 2))]
    exif = [(0x829A, *_rationals((1, 250))), (0x829D, *_rationals((28, 10))), (0x8827, 3, 1, struct.pack("<H", 200)),
            (0x9003, *_ascii("2024:06:01 12:34:56")), (0x9011, *_ascii("+02:00")),
            (0x920A, *_rationals((50, 1))), (0xA434, *_ascii("Imgup 50mm F1.8"))]
    method = b"ASCII\x00\x00\x00" + GPS_MARKER
    gps = [(0x0000, 1, 4, bytes([2, 3, 0, 0])), (0x0001, *_ascii("N")),
           (0x0002, *_rationals((48, 1), (51, 1), (2964, 100))), (0x0003, *_ascii("E")),
           (0x0004, *_rationals((2, 1), (17, 1), (4020, 100))), (0x0005, 1, 1, b"\x00"),
           (0x0006, *_rationals((35, 1))), (0x001B, 7, len(method), method)]
    payload = b"Exif\x00\x00" + _tiff([ifd0, exif, gps])
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_gps(tag: str) -> bytes:
    """Landscape_1 with its own APP1 replaced by camera EXIF and GPS, and a COM segment holding
    a <script> (neither may reach a variant)."""
    src = corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg")
    out, i = bytearray(src[:2]), 2
    while True:
        marker = src[i + 1]
        if marker == 0xDA:
            break
        length = struct.unpack(">H", src[i + 2:i + 4])[0]
        if not (marker == 0xE1 and src[i + 4:i + 10] == b"Exif\x00\x00"):
            out += src[i:i + 2 + length]
        i += 2 + length
    segments = bytes(out[2:])
    comment = f"<script>alert('{tag}')</script>".encode()
    return (src[:2] + exif_app1() + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + segments
            + src[i:])


def assert_variant_carries_no_metadata(data: bytes, info: WebpInfo) -> None:
    assert not {"EXIF", "XMP "} & set(info.chunks), f"metadata chunks in a variant: {info.chunks}"
    assert not info.vp8x_flags & (WebpInfo.VP8X_EXIF | WebpInfo.VP8X_XMP), hex(info.vp8x_flags)
    assert GPS_MARKER not in data, "GPS data reached a variant"
    assert CAMERA_MAKE.encode() not in data, "EXIF reached a variant"
    assert b"<script>" not in data, "the COM segment's <script> reached a variant"


# ---------------------------------------------------------------------------------------------
# processing -> ready, variants, metadata
# ---------------------------------------------------------------------------------------------


def test_upload_goes_from_processing_to_ready(client, server):
    data = unique_jpeg("Landscape_5.jpg", "ready")
    up = client.upload_json(data, filename="l5.jpg", content_type="image/jpeg")
    assert up.status_code == 201, up.text
    rec = up.json()
    assert_processing_record(rec)
    assert (rec["width"], rec["height"]) == (1800, 1200), "displayed size, from the header, at once"

    ready = client.wait_processed(rec["id"])
    assert_same_upload(rec, ready)
    assert_ready_derivations(ready)
    assert (ready["width"], ready["height"], ready["format"]) == (1800, 1200, "jpeg")
    medium = ready["variants"]["medium"]
    assert medium == {"width": 1024, "height": 683, "size_bytes": medium["size_bytes"], "content_type": "image/webp"}
    assert (ready["variants"]["thumb"]["width"], ready["variants"]["thumb"]["height"]) == (256, 171)
    # Landscape_5 is stored 1200x1800 with EXIF orientation 5: upright variants are landscape.
    for name in ("thumb", "medium"):
        body, info = fetch_variant(client, ready, name)
        assert max(info.width, info.height) == VARIANT_EDGES[name] and info.width > info.height
        assert not info.has_alpha
    # The file's EXIF holds the orientation tag and nothing else the record reports.
    assert ready["exif"] == {"orientation": 5}
    assert (ready["bit_depth"], ready["bands"], ready["has_alpha"], ready["animated"], ready["frame_count"]) == (
        8, 3, False, False, 1)
    # The original is still served as it was sent.
    assert client.get(ready["urls"]["content"]).content == data
    assert image_blobs(server.data_dir, rec["id"]) == {rec["key"]} | variant_files("local", rec["id"])
    server.wait_idle()
    if not LAMBDA:  # the API function has no pipeline to count: the processor runs on S3's events
        assert client.get("/health").json()["processing"] == 0
    # Listed as it is now.
    listed = {x["id"]: x for x in client.get("/images", params={"limit": 100}).json()["items"]}
    assert listed[rec["id"]] == ready


def test_placeholder_is_a_blurhash(client):
    rec = client.upload_ready(unique_jpeg("Portrait_1.jpg", "blurhash"), content_type="image/jpeg")
    nx, ny = blurhash_components(rec["placeholder"])
    assert 1 <= nx <= 9 and 1 <= ny <= 9
    assert len(rec["placeholder"]) == 4 + 2 * nx * ny
    assert HEX_COLOR.match(rec["dominant_color"])


ORIENTATION_JPEGS = sorted(p.name for p in EXIF_ORIENTATION.glob("*.jpg")) if EXIF_ORIENTATION.exists() else []


@pytest.fixture(scope="module")
def orientation_records(module_server, contract):
    """All 18 exif-orientation files, processed, by name."""
    c = Client(module_server.url, contract)
    names = ORIENTATION_JPEGS
    assert len(names) == 18
    ups = {n: c.upload_ok(corpus_file(EXIF_ORIENTATION / n), filename=n, content_type="image/jpeg") for n in names}
    module_server.wait_idle()
    out = {n: c.get(f"/images/{u['id']}").json() for n, u in ups.items()}
    c.close()
    return out


@pytest.mark.parametrize("name", ORIENTATION_JPEGS)
def test_every_orientation_comes_out_upright(orientation_records, make_client, module_server, name):
    """Landscape_N is 1800x1200 and Portrait_N 1200x1800, variants included, and their pixels are
    those of Landscape_1 / Portrait_1: the perceptual hash (taken from the oriented pixels) and the
    dominant colour agree, where a mirrored or turned image would not."""
    rec = orientation_records[name]
    assert_ready_derivations(rec)
    landscape = name.startswith("Landscape")
    assert (rec["width"], rec["height"]) == ((1800, 1200) if landscape else (1200, 1800))
    expected_medium = (1024, 683) if landscape else (683, 1024)
    assert (rec["variants"]["medium"]["width"], rec["variants"]["medium"]["height"]) == expected_medium
    reference = orientation_records["Landscape_1.jpg" if landscape else "Portrait_1.jpg"]
    assert hamming(rec["phash"], reference["phash"]) <= 6, (
        f"{name}: phash {rec['phash']} vs {reference['phash']}: the pixels are not oriented like the reference")
    ref_rgb = [int(reference["dominant_color"][i:i + 2], 16) for i in (1, 3, 5)]
    rgb = [int(rec["dominant_color"][i:i + 2], 16) for i in (1, 3, 5)]
    assert max(abs(a - b) for a, b in zip(rgb, ref_rgb)) <= 24, (rec["dominant_color"], reference["dominant_color"])
    c = make_client(module_server)
    for variant in ("thumb", "medium"):
        fetch_variant(c, rec, variant)


def with_orientation(jpeg: bytes, value: int) -> bytes:
    """The JPEG with its EXIF orientation entry (big-endian SHORT, as in the corpus) set to value."""
    entry = b"\x01\x12\x00\x03\x00\x00\x00\x01"
    at = jpeg.index(entry, jpeg.index(b"Exif\x00\x00")) + len(entry)
    return jpeg[:at] + struct.pack(">H", value) + jpeg[at + 2:]


@pytest.mark.parametrize("orientation", [2, 3, 4])
def test_orientation_check_tells_a_mirror_apart(orientation_records, module_server, make_client, orientation):
    """The check above can fail: Landscape_1's pixels shown mirrored, turned or flipped (its tag
    changed to 2, 3 or 4) keep the size but are far from Landscape_1 by perceptual hash."""
    c = make_client(module_server)
    data = with_orientation(corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg"), orientation)
    rec = c.upload_ready(data, filename=f"mirror{orientation}.jpg", content_type="image/jpeg")
    assert (rec["width"], rec["height"]) == (1800, 1200)
    assert rec["exif"]["orientation"] == orientation
    assert hamming(rec["phash"], orientation_records["Landscape_1.jpg"]["phash"]) > 12


def test_small_image_is_never_upscaled(client):
    """A 32x32 PngSuite file gets 32x32 variants."""
    data = corpus_file(PNGSUITE / "basn2c08.png")
    r = client.upload_json(data, filename="basn2c08.png")
    assert r.status_code in (200, 201), r.text  # the session server may hold it already
    rec = client.wait_processed(r.json()["id"])
    assert_ready_derivations(rec)
    assert (rec["width"], rec["height"], rec["bit_depth"], rec["bands"], rec["has_alpha"]) == (32, 32, 8, 3, False)
    for name in ("thumb", "medium"):
        _, info = fetch_variant(client, rec, name)
        assert (info.width, info.height) == (32, 32)


@pytest.mark.parametrize("name,bit_depth,bands", [("basn6a16.png", 16, 4), ("basn4a08.png", 8, 2),
                                                  ("basn0g16.png", 16, 1)])
def test_pixel_facts_and_alpha_kept(client, name, bit_depth, bands):
    data = corpus_file(PNGSUITE / name)
    r = client.upload_json(data, filename=name)
    assert r.status_code in (200, 201), r.text
    rec = client.wait_processed(r.json()["id"])
    assert_ready_derivations(rec)
    assert (rec["bit_depth"], rec["bands"], rec["has_alpha"]) == (bit_depth, bands, bands in (2, 4))
    for variant in ("thumb", "medium"):
        _, info = fetch_variant(client, rec, variant)
        assert info.has_alpha == rec["has_alpha"], f"{name} {variant}: alpha {'lost' if rec['has_alpha'] else 'added'}"


VALID_PNGS = sorted(p.name for p in PNGSUITE.glob("*.png") if not p.name.startswith("x")) if PNGSUITE.exists() else []


def test_every_valid_pngsuite_file_gets_its_variants(start_server, make_client):
    """The corpora README: every valid PngSuite file is accepted with the right size and gets its
    derived variants (WebP bytes of the recorded size, never larger than the original)."""
    assert len(VALID_PNGS) == 161
    srv = start_server()
    c = make_client(srv)
    files = {n: corpus_file(PNGSUITE / n) for n in VALID_PNGS}

    def upload(name):
        r = c.upload_json(files[name], filename=name)
        assert r.status_code in (200, 201), f"{name}: {r.status_code} {r.text[:300]}"
        return name, r.json()["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = dict(pool.map(upload, VALID_PNGS))
    srv.wait_idle()

    def check(name):
        rec = c.get(f"/images/{ids[name]}").json()
        assert rec["status"] == "ready", f"{name}: {rec['status']} {rec.get('failure_reason')}"
        assert (rec["width"], rec["height"]) == png_size(files[name]), name
        assert_ready_derivations(rec)
        for variant in ("thumb", "medium"):
            fetch_variant(c, rec, variant)
        return rec["id"]

    with ThreadPoolExecutor(8) as pool:
        done = set(pool.map(check, VALID_PNGS))
    expected = {f for i in done for f in variant_files("local", i)}
    assert {f for f in blob_files(srv.data_dir) if f.startswith("variants/")} == expected


# ---------------------------------------------------------------------------------------------
# EXIF and GPS
# ---------------------------------------------------------------------------------------------


def test_exif_in_the_record_and_gps_dropped_by_default(client):
    data = jpeg_with_gps("default")
    assert GPS_MARKER in data
    rec = client.upload_ready(data, filename="gps.jpg", content_type="image/jpeg")
    assert (rec["width"], rec["height"]) == (1800, 1200)
    assert rec["exif"] == EXIF_EXPECTED, "camera EXIF in the record, and no gps_* member by default"
    for name in ("thumb", "medium"):
        body, info = fetch_variant(client, rec, name)
        assert_variant_carries_no_metadata(body, info)


def test_keep_gps_shows_gps_to_the_owner_only(start_server, make_client):
    srv = start_server(args=["--keep-gps"], keys=["alice", "bob"])
    alice = make_client(srv, srv.keys["alice"])
    bob = make_client(srv, srv.keys["bob"])
    rec = alice.upload_ready(jpeg_with_gps("keep"), filename="gps.jpg", content_type="image/jpeg")
    exif = dict(rec["exif"])
    gps = {k: exif.pop(k) for k in list(exif) if k.startswith("gps_")}
    assert exif == EXIF_EXPECTED
    assert set(gps) == set(GPS_EXPECTED), gps
    for k, v in GPS_EXPECTED.items():
        assert abs(gps[k] - v) < 1e-4, (k, gps[k], v)
    listed = alice.get("/images").json()["items"]
    assert [x["exif"] for x in listed if x["id"] == rec["id"]] == [rec["exif"]]
    # Nobody else sees the record, and no variant carries the location.
    expect_problem(bob.get(f"/images/{rec['id']}"), 404, "not_found")
    assert rec["id"] not in {x["id"] for x in bob.get("/images").json()["items"]}
    for name in ("thumb", "medium"):
        body, info = fetch_variant(alice, rec, name)
        assert_variant_carries_no_metadata(body, info)


# ---------------------------------------------------------------------------------------------
# Similar images
# ---------------------------------------------------------------------------------------------


def test_similar_finds_the_owners_near_duplicates_only(start_server, make_client):
    srv = start_server(keys=["alice", "bob"])
    alice = make_client(srv, srv.keys["alice"])
    bob = make_client(srv, srv.keys["bob"])

    photo = alice.upload_ready(unique_jpeg("Landscape_1.jpg", "similar-photo"), filename="photo.jpg",
                               content_type="image/jpeg")
    assert alice.get(f"/images/{photo['id']}/similar").json() == {"items": []}, "nothing similar yet"
    # Resized and recompressed copies: the server's own variants, uploaded back as WebP.
    medium, _ = fetch_variant(alice, photo, "medium")
    thumb, _ = fetch_variant(alice, photo, "thumb")
    copy = alice.upload_ready(medium, filename="copy.webp", content_type="image/webp")
    small = alice.upload_ready(thumb, filename="small.webp", content_type="image/webp")
    assert (copy["width"], copy["height"]) == (1024, 683)
    unrelated = [alice.upload_ready(unique_jpeg("Portrait_1.jpg", "similar-other"), filename="other.jpg",
                                    content_type="image/jpeg"),
                 alice.upload_ready(corpus_file(PNGSUITE / "basn2c08.png"), filename="basn2c08.png")]
    # Bob holds the same photo and copy: never part of alice's answers.
    bob_photo = bob.upload_ready(unique_jpeg("Landscape_1.jpg", "similar-photo"), content_type="image/jpeg")
    bob_copy = bob.upload_ready(medium, filename="copy.webp", content_type="image/webp")
    bob_ids = {bob_photo["id"], bob_copy["id"]}

    r = alice.get(f"/images/{photo['id']}/similar")
    assert r.status_code == 200
    items = r.json()["items"]
    by_id = {x["id"]: x for x in items}
    assert copy["id"] in by_id and small["id"] in by_id, f"the resized copies are not found: {items}"
    for x in items:
        assert x["distance"] == hamming(photo["phash"], x["phash"]) <= 10, x
        assert {k: v for k, v in x.items() if k != "distance"} == alice.get(f"/images/{x['id']}").json()
    assert [x["distance"] for x in items] == sorted(x["distance"] for x in items), "nearest first"
    assert photo["id"] not in by_id, "an image is not its own near-duplicate"
    for other in unrelated:
        assert hamming(photo["phash"], other["phash"]) > 10
        assert other["id"] not in by_id, f"an unrelated image is called similar: {other['filename']}"
    assert not bob_ids & set(by_id)

    # Every distance: all of alice's other images, still none of bob's.
    everything = alice.get(f"/images/{photo['id']}/similar", params={"max_distance": 64, "limit": 100}).json()["items"]
    assert {x["id"] for x in everything} == {copy["id"], small["id"]} | {o["id"] for o in unrelated}
    assert [x["distance"] for x in everything] == sorted(x["distance"] for x in everything)
    exact = alice.get(f"/images/{photo['id']}/similar", params={"max_distance": 0}).json()["items"]
    assert all(x["distance"] == 0 for x in exact) and {x["id"] for x in exact} <= set(by_id)
    one = alice.get(f"/images/{photo['id']}/similar", params={"limit": 1, "max_distance": 64}).json()["items"]
    assert [x["id"] for x in one] == [everything[0]["id"]]

    # From the copy's side, the original is found.
    back = alice.get(f"/images/{copy['id']}/similar").json()["items"]
    assert photo["id"] in {x["id"] for x in back}
    # Bob sees his own pair, never alice's; alice's id is 404 for him.
    bob_items = bob.get(f"/images/{bob_photo['id']}/similar", params={"max_distance": 64}).json()["items"]
    assert {x["id"] for x in bob_items} == {bob_copy["id"]}
    expect_problem(bob.get(f"/images/{photo['id']}/similar"), 404, "not_found")


@pytest.mark.parametrize("params", [{"max_distance": "65"}, {"max_distance": "-1"}, {"max_distance": "x"},
                                    {"max_distance": "1.5"}, {"max_distance": ""}, {"limit": "0"}, {"limit": "101"},
                                    {"limit": "abc"}], ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_similar_bad_query(client, params):
    r = client.upload_json(corpus_file(PNGSUITE / "basn0g08.png"), filename="basn0g08.png")
    assert r.status_code in (200, 201)
    expect_problem(client.get(f"/images/{r.json()['id']}/similar", params=params), 400, "invalid_query")


def test_similar_of_an_unknown_image(client):
    expect_problem(client.get(f"/images/{UNKNOWN_ID}/similar"), 404, "not_found")
    expect_problem(client.get("/images/not-an-id/similar"), 404, "not_found")


def test_similar_is_empty_while_processing(start_server, make_client):
    """Until an image has its hash, nothing is similar to it (with one worker busy on earlier
    uploads, the last upload waits in the queue)."""
    srv = start_server(args=["--workers", "1"])
    c = make_client(srv)
    for i in range(3):
        c.upload_ok(unique_jpeg(f"Landscape_{i + 1}.jpg", f"queue-{i}"), content_type="image/jpeg")
    last = c.upload_ok(unique_jpeg("Landscape_1.jpg", "queued"), content_type="image/jpeg")
    items = c.get(f"/images/{last['id']}/similar", params={"max_distance": 64}).json()["items"]
    if c.get(f"/images/{last['id']}").json()["status"] == "processing":
        assert items == []
    srv.wait_idle()
    items = c.get(f"/images/{last['id']}/similar").json()["items"]
    assert len(items) == 3, "once processed, the three other copies of the photo are found"


def test_a_burst_past_the_queue_is_answered_at_once_and_processed_from_the_store(start_server, make_client):
    """With room for 2 ids in memory and 1 worker, 12 uploads in a row are all answered 201 at
    once (none waits for processing); /health counts what is still waiting, and every record ends
    "ready" with its variants: the ones past the window are fetched from the store."""
    srv = start_server(args=["--workers", "1", "--queue", "2"])
    c = make_client(srv)
    ups = [c.upload_ok(unique_jpeg(f"Landscape_{i % 8 + 1}.jpg", f"burst-{i}"), content_type="image/jpeg")
           for i in range(12)]
    waiting = c.get("/health").json()["processing"]
    statuses = [c.get(f"/images/{u['id']}").json()["status"] for u in ups]
    assert waiting >= 1 or all(s == "ready" for s in statuses), (waiting, statuses)
    srv.wait_idle()
    for up in ups:
        rec = c.get(f"/images/{up['id']}").json()
        assert rec["status"] == "ready", f"{up['id']}: {rec['status']} {rec.get('failure_reason')}"
        assert_ready_derivations(rec)
    assert not db_rows(srv.data_dir, "SELECT id FROM images WHERE status = 'processing'")


# ---------------------------------------------------------------------------------------------
# Failed processing
# ---------------------------------------------------------------------------------------------


def _half_jpeg(tag: str) -> bytes:
    data = unique_jpeg("Landscape_2.jpg", tag)
    return data[: len(data) // 2]


FAILING = {
    "jpeg-cut-in-half": (_half_jpeg, "image/jpeg"),
    "png-zlib-stream-cut": (lambda tag: png_with_cut_zlib_stream("basn2c16.png"), "image/png"),
}


def _failing(case: str, tag: str) -> tuple[bytes, str]:
    make, ctype = FAILING[case]
    data = make(tag)
    if ctype == "image/png":
        # Unique bytes per call: a tEXt chunk before IEND.
        data = data[:-12] + png_chunk(b"tEXt", b"Comment\x00" + tag.encode()) + data[-12:]
    return data, ctype


@pytest.mark.parametrize("case", sorted(FAILING))
def test_image_that_fails_the_full_decode(client, server, case):
    data, ctype = _failing(case, f"fail-{case}")
    up = client.upload_json(data, filename="broken", content_type=ctype)
    assert up.status_code == 201, f"the header check must accept it (only the full decode fails): {up.text}"
    assert_processing_record(up.json())
    rec = client.wait_processed(up.json()["id"])
    assert_same_upload({k: v for k, v in up.json().items() if k != "key"}, {k: v for k, v in rec.items() if k != "key"})
    server.wait_idle()
    # Where it runs by default: imgup serve removes a failed original (--failed-originals remove),
    # the processor function quarantines it (IMGUP_FAILED_ORIGINALS=quarantine, ADR 11), for the
    # bucket's lifecycle to expire.
    assert_failed(client, server.data_dir, rec, quarantined=LAMBDA, data=data)
    # Still listed, as failed.
    listed = {x["id"]: x for x in client.get("/images", params={"limit": 100}).json()["items"]}
    assert listed[rec["id"]] == rec


@pytest.mark.parametrize("case", sorted(FAILING))
def test_failed_original_is_quarantined_by_policy(start_server, make_client, case):
    srv = start_server(args=["--failed-originals", "quarantine"])
    c = make_client(srv)
    data, ctype = _failing(case, f"quarantine-{case}")
    up = c.upload_json(data, filename="broken", content_type=ctype)
    assert up.status_code == 201, up.text
    rec = c.wait_processed(up.json()["id"])
    srv.wait_idle()
    assert_failed(c, srv.data_dir, rec, quarantined=True, data=data)
    assert blob_bytes(srv.data_dir, f"originals/local/{rec['id']}") is None


def test_delete_of_a_failed_image(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    data, ctype = _failing("jpeg-cut-in-half", "delete-failed")
    rec = c.wait_processed(c.upload_json(data, content_type=ctype).json()["id"])
    assert rec["status"] == "failed"
    r = c.delete(f"/images/{rec['id']}")
    assert r.status_code == 204, f"DELETE of a failed image: {r.status_code} {r.text}"
    expect_problem(c.get(f"/images/{rec['id']}"), 404, "not_found")
    assert image_blobs(srv.data_dir, rec["id"]) == set()


# libvips 8.14's threadpool could finish a pull before the worker whose strip failed had reported
# it, so this file came out "ready" (missing rows black) in about 1-4% of uploads; 60 uploads of
# the same bytes must all fail, and for the decode.
def test_png_with_missing_scanlines_always_fails(start_server, make_client):
    srv = start_server()
    c = make_client(srv)
    base = png_with_idat(corpus_file(PNGSUITE / "basn2c08.png"), lambda raw: zlib.compress(raw[: len(raw) // 2]))

    def one(i):
        data = base[:-12] + png_chunk(b"tEXt", f"Comment\x00missing-rows-{i}".encode()) + base[-12:]
        up = c.upload_json(data, filename="short.png")
        assert up.status_code == 201, up.text
        return up.json()["id"]

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(one, range(60)))
    srv.wait_idle()
    records = [c.get(f"/images/{i}").json() for i in ids]
    statuses = [r["status"] for r in records]
    assert statuses == ["failed"] * len(ids), (
        f"the same truncated PNG (half its rows) ended: {dict((s, statuses.count(s)) for s in set(statuses))}")
    reasons = {r["failure_reason"].split(":")[0] for r in records}
    assert reasons == {"decode_failed"}, reasons


# ---------------------------------------------------------------------------------------------
# Changes while processing; restart
# ---------------------------------------------------------------------------------------------


def test_patch_while_processing_is_kept(client, server):
    up = client.upload_ok(unique_jpeg("Portrait_2.jpg", "patch-race"), content_type="image/jpeg")
    r = client.patch(f"/images/{up['id']}", json={"tags": ["early"], "description": "set while processing"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "processing", "the test needs the PATCH to land while processing"
    rec = client.wait_processed(up["id"])
    assert rec["status"] == "ready"
    assert (rec["tags"], rec["description"]) == (["early"], "set while processing"), "processing undid the PATCH"


def test_delete_while_processing_leaves_nothing(start_server, make_client):
    srv = start_server(args=["--workers", "1"])
    c = make_client(srv)
    up = c.upload_ok(unique_jpeg("Landscape_6.jpg", "delete-race"), content_type="image/jpeg")
    r = c.delete(f"/images/{up['id']}")
    assert r.status_code == 204, r.text
    srv.wait_idle()
    expect_problem(c.get(f"/images/{up['id']}"), 404, "not_found")
    assert image_blobs(srv.data_dir, up["id"]) == set(), "a deleted image's variants were written after the DELETE"


def test_restart_processes_records_left_processing(start_server, make_client):
    """SIGKILL with uploads still queued (one worker), restart on the same data dir: every record
    becomes ready, with exactly its variants, and nothing stays queued."""
    srv = start_server(args=["--workers", "1"])
    c = make_client(srv)
    uploads = [c.upload_ok(unique_jpeg(f"{kind}_{n}.jpg", "restart"), content_type="image/jpeg")
               for kind in ("Landscape", "Portrait") for n in range(1, 5)]
    srv.kill()
    left = {r["id"] for r in db_rows(srv.data_dir, "SELECT id FROM images WHERE status = 'processing'")}
    assert left, "every upload was processed before the kill: the test did not leave anything to resume"

    srv.start()
    c = make_client(srv)
    srv.wait_idle()
    assert c.get("/health").json()["processing"] == 0
    for up in uploads:
        rec = c.get(f"/images/{up['id']}").json()
        assert rec["status"] == "ready", f"{up['id']} after restart: {rec['status']} {rec.get('failure_reason')}"
        assert_same_upload(up, rec)
        assert_ready_derivations(rec)
        fetch_variant(c, rec, "thumb")
    expected = {u["key"] for u in uploads} | {f for u in uploads for f in variant_files("local", u["id"])}
    assert {f for f in blob_files(srv.data_dir) if not f.startswith(".tmp/")} == expected
