"""Pixel work that cannot take the host down (issue F, items 1 and 3-6), as a user sees it: image
bombs end "failed" with processing_timeout at their deadline and free their worker at once, a
stop does not wait for them, a record whose processing keeps taking the server down fails as
processing_crashed, memory has a budget that jobs wait for, a failure that is not the image's
own keeps the original, and the bytes of a failed image can be uploaded again.

The bombs come from tests/bombs.py. The worker processes are found through /proc: the server
starts them with TMPDIR under its data directory (DIR/tmp/worker-*)."""

from __future__ import annotations

import os
import struct
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imgup_testkit import PROCESSING_TIMEOUT, db_rows, expect_problem, jpeg_with_comment, corpus_file, EXIF_ORIENTATION

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bombs  # noqa: E402  (tests/bombs.py)

SANITIZED = os.environ.get("IMGUP_SANITIZED") == "1"


def pixel_workers(data_dir: Path) -> list[int]:
    """Pids of the live pixel workers whose temp dir is under `data_dir`."""
    marker = f"TMPDIR={(data_dir / 'tmp').resolve()}/worker-".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def wait_for(what: str, predicate, timeout: float = PROCESSING_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.02)


def temp_files(data_dir: Path) -> list[Path]:
    tmp = data_dir / "tmp"
    return [p for p in tmp.rglob("*") if p.is_file()] if tmp.exists() else []


def original_path(data_dir: Path, image_id: str) -> Path:
    return data_dir / "blobs" / "originals" / "local" / image_id


def interlaced_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A flat Adam7-interlaced RGB PNG: tiny on the wire, but a decoder must hold the whole image
    (width * height * 3 bytes) before the first row is complete."""
    z = zlib.compressobj(1)
    parts = []
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        w, h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if w and h:
            row = b"\0" + bytes(rgb) * w
            parts += [z.compress(row) for _ in range(h)]
    idat = b"".join(parts) + z.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))


JPEG_BOMBS = {
    # The review's shapes, full size: libjpeg reads every scan before the first row.
    "progressive-10000x10000-2647-scans": lambda: bombs.jpeg_progressive_bomb(),
    "repeated-4096x4096-17641-scans": lambda: bombs.jpeg_repeated_scans_bomb(),
}


def test_bombs_end_at_their_deadline_and_free_the_worker(start_server, make_client):
    """Before: the progressive bomb ran 71 s and the repeated-scans one 89 s with a 5 s deadline,
    while a tiny PNG waited behind them. Now each is killed at its deadline (failed,
    processing_timeout), its temp files go with it, and the one worker is free at once."""
    srv = start_server(args=["--workers", "1", "--max-decode-ms", "1500"])
    c = make_client(srv)
    ids = {}
    for name, make in JPEG_BOMBS.items():
        up = c.upload_json(make(), filename=f"{name}.jpg", content_type="image/jpeg")
        assert up.status_code == 201, f"{name}: {up.status_code} {up.text[:300]}"
        ids[name] = up.json()["id"]
    small = c.upload_json(bombs.flat_png(8, 8, 0x11), filename="small.png", content_type="image/png")
    assert small.status_code == 201, small.text
    for name, image_id in ids.items():
        rec = c.wait_processed(image_id)
        assert rec["status"] == "failed", f"{name}: {rec['status']}"
        assert rec["failure_reason"].startswith("processing_timeout"), f"{name}: {rec['failure_reason']}"
    assert c.wait_processed(small.json()["id"])["status"] == "ready"
    srv.wait_idle()
    assert temp_files(srv.data_dir) == [], "a killed job's temp files are removed with it"


def test_a_stop_does_not_wait_for_jobs_in_flight(start_server, make_client):
    """Before: SIGTERM took 3 min 24 s with bombs in flight. Now the workers are killed, the
    server exits 0 at once, the records stay "processing" with their originals (not failed, no
    attempt counted), and no worker outlives the server."""
    srv = start_server(args=["--workers", "2", "--max-decode-ms", "600000"])
    c = make_client(srv)
    ids = [c.upload_json(make(), content_type="image/jpeg").json()["id"] for make in JPEG_BOMBS.values()]
    wait_for("both bombs in a worker", lambda: len(pixel_workers(srv.data_dir)) == 2)
    time.sleep(0.3)  # well into the decode
    assert srv.stop() == 0  # srv.stop() fails the test after 15 s
    assert pixel_workers(srv.data_dir) == [], "a pixel worker outlived the server"
    rows = {r["id"]: r for r in db_rows(srv.data_dir, "SELECT id, status, attempts FROM images")}
    for image_id in ids:
        assert rows[image_id]["status"] == "processing", rows[image_id]
        assert rows[image_id]["attempts"] == 0, "an attempt ended by a stop must not count"
        assert original_path(srv.data_dir, image_id).exists()
    assert temp_files(srv.data_dir) == []


def test_a_record_that_keeps_taking_the_server_down_fails_as_crashed(start_server, make_client):
    """A record whose processing is in flight at every crash is tried at every start: after 3
    attempts that never came back it is failed (processing_crashed) instead of crash-looping, and
    its original is kept."""
    srv = start_server(args=["--workers", "1", "--max-decode-ms", "600000"])
    c = make_client(srv)
    image_id = c.upload_json(bombs.jpeg_repeated_scans_bomb(), content_type="image/jpeg").json()["id"]
    for crash in range(3):
        wait_for(f"the record in a worker (crash {crash + 1})", lambda: pixel_workers(srv.data_dir))
        srv.kill()  # SIGKILL: no graceful anything, as a crash of the process would be
        wait_for("the worker to die with the server", lambda: not pixel_workers(srv.data_dir), timeout=10)
        srv.start()
    c = make_client(srv)
    rec = c.wait_processed(image_id)
    assert rec["status"] == "failed"
    assert rec["failure_reason"].startswith("processing_crashed"), rec["failure_reason"]
    assert original_path(srv.data_dir, image_id).exists(), "not the image's proven fault: the original is kept"
    rows = db_rows(srv.data_dir, f"SELECT attempts FROM images WHERE id = '{image_id}'")
    assert rows[0]["attempts"] == 4, "three attempts that never came back, and the one that gave up"


def test_out_of_memory_is_retried_and_keeps_the_original(start_server, make_client):
    """Before: under a memory limit one of two big uploads ended failed and its original was
    deleted. A job over the memory budget is killed and retried (alone, with backoff); after 3
    attempts the record fails with out_of_memory and the original stays."""
    srv = start_server(args=["--processing-memory-mb", "64"])
    c = make_client(srv)
    png = interlaced_png(6000, 6000, (10, 120, 200))  # 108 MB of pixels held at once
    up = c.upload_json(png, filename="big.png", content_type="image/png")
    assert up.status_code == 201, up.text
    rec = c.wait_processed(up.json()["id"])
    assert rec["status"] == "failed"
    assert rec["failure_reason"].startswith("out_of_memory"), rec["failure_reason"]
    assert "original is kept" in rec["failure_reason"]
    assert original_path(srv.data_dir, rec["id"]).read_bytes() == png
    logged = [r for r in srv.log_records() if r.get("msg") == "processed" and r.get("id") == rec["id"]]
    assert [r.get("level") for r in logged] == ["warn", "warn", "info"], logged


@pytest.mark.skipif(SANITIZED, reason="AddressSanitizer's own memory does not fit this budget")
def test_big_jobs_wait_for_room_in_the_memory_budget(start_server, make_client):
    """Two valid images that each need most of the budget: the second waits for the first, and
    both end ready."""
    srv = start_server(args=["--processing-memory-mb", "300", "--workers", "2"])
    c = make_client(srv)
    pngs = [interlaced_png(6000, 6000, (i * 40, 100, 50)) for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        ups = list(pool.map(lambda p: c.upload_json(p, filename="big.png", content_type="image/png"), pngs))
    for up in ups:
        assert up.status_code == 201, up.text
        rec = c.wait_processed(up.json()["id"])
        assert rec["status"] == "ready", rec.get("failure_reason")
        assert (rec["width"], rec["height"]) == (6000, 6000)


def test_the_bytes_of_a_failed_image_can_be_uploaded_again(start_server, make_client):
    """Before: a re-upload answered 200 with the failed record as a duplicate. Now the failed
    record makes way and the upload starts afresh (201, a new id, "processing")."""
    srv = start_server()
    c = make_client(srv)
    jpeg = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_3.jpg"), b"retry-after-failure")
    broken = jpeg[: len(jpeg) // 2]
    first = c.wait_processed(c.upload_json(broken, content_type="image/jpeg").json()["id"])
    assert first["status"] == "failed"
    again = c.upload_json(broken, content_type="image/jpeg")
    assert again.status_code == 201, f"{again.status_code}: a failed record must not answer as a duplicate"
    assert again.json()["id"] != first["id"]
    assert again.json()["status"] == "processing"
    expect_problem(c.get(f"/images/{first['id']}"), 404, "not_found")
    assert c.wait_processed(again.json()["id"])["status"] == "failed"
    srv.wait_idle()


def test_temp_files_are_bounded_and_live_under_the_data_dir(start_server, make_client):
    """Before: one 20 KB bomb made libvips write a 77 GB temp file into /tmp. libvips spills an
    image over 100 MB to a temp file: a 6000x6000 WebP canvas (144 MB of RGBA) does. With an 8 MB
    allowance the job fails (temp_space_exceeded) instead of filling the disc, and nothing is
    left under DIR/tmp."""
    srv = start_server(args=["--processing-temp-mb", "8"])
    c = make_client(srv)
    up = c.upload_json(bombs.webp_canvas_bomb(6000, 6000, 2), filename="canvas.webp", content_type="image/webp")
    assert up.status_code == 201, up.text
    rec = c.wait_processed(up.json()["id"])
    assert rec["status"] == "failed"
    assert rec["failure_reason"].startswith("temp_space_exceeded"), rec["failure_reason"]
    srv.wait_idle()
    assert temp_files(srv.data_dir) == []
