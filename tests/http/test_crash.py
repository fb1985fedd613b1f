"""kill -9 during 200 concurrent uploads, then restart on the same data dir: every acknowledged
upload is there with the right bytes, nothing is torn, every record gets processed, and `imgup fsck`
leaves a clean store."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from imgup_testkit import Client, blob_files, db_rows, make_png, run_cli, sha256, variant_files

N = 200
WORKERS = 32
KILL_AFTER_ACKS = 30


def test_kill_9_during_concurrent_uploads(start_server, contract):
    srv = start_server()
    # 200 distinct images (random pixels, ~27 KB each).
    payloads = [make_png(96, 96) for _ in range(N)]
    by_sha = {sha256(p): p for p in payloads}
    assert len(by_sha) == N

    client = Client(srv.url, contract)  # one connection per upload
    acked: dict[str, bytes] = {}
    lock = threading.Lock()
    first_acks = threading.Event()

    def upload(i: int):
        try:
            r = client.upload_json(payloads[i], filename=f"crash{i:03d}.png")
        except requests.RequestException:
            return "lost"
        assert r.status_code == 201, f"upload {i}: {r.status_code} {r.text[:300]}"
        rec = r.json()
        assert rec["sha256"] == sha256(payloads[i])
        with lock:
            acked[rec["id"]] = payloads[i]
            if len(acked) >= KILL_AFTER_ACKS:
                first_acks.set()
        return "acked"

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(upload, i) for i in range(N)]
        assert first_acks.wait(30), "the server acknowledged too few uploads"
        srv.kill()
        outcomes = [f.result() for f in futures]  # re-raises contract violations and wrong answers
    client.close()
    killed_at = len(acked)
    assert killed_at < N, "every upload finished before the kill: the test did not crash anything in flight"
    assert outcomes.count("acked") == killed_at

    # --- restart on the same data dir -----------------------------------------------------------
    srv.start()
    c = Client(srv.url, contract)
    data_dir = srv.data_dir

    # Every acknowledged upload is there, record and bytes.
    for image_id, data in acked.items():
        r = c.get(f"/images/{image_id}")
        assert r.status_code == 200, f"acknowledged upload {image_id} lost after kill -9: {r.status_code}"
        assert r.json()["sha256"] == sha256(data) and r.json()["size_bytes"] == len(data)
        content = c.get(f"/images/{image_id}/content")
        assert content.status_code == 200 and content.content == data, f"{image_id}: bytes differ"

    # No record without its complete content (acknowledged or not).
    rows = db_rows(data_dir)
    row_ids = {row["id"] for row in rows}
    assert set(acked) <= row_ids
    for row in rows:
        blob = data_dir / "blobs" / row["key"]
        assert blob.exists(), f"record {row['id']} has no blob {row['key']}"
        body = blob.read_bytes()
        assert sha256(body) == row["sha256"], f"record {row['id']}: blob bytes do not match its sha256"
        assert by_sha.get(row["sha256"]) == body, f"record {row['id']}: bytes no client sent"
        content = c.get(f"/images/{row['id']}/content")
        assert content.status_code == 200 and content.content == body

    # No torn file among the originals: every file holds exactly what some client sent.
    originals = data_dir / "blobs" / "originals"
    for f in originals.rglob("*"):
        if f.is_file():
            assert sha256(f.read_bytes()) in by_sha, f"torn or foreign blob {f.relative_to(data_dir)}"

    listed = []
    cursor = None
    while True:
        page = c.get("/images", params={"limit": 100, **({"cursor": cursor} if cursor else {})}).json()
        listed += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(listed) == row_ids

    # Records the kill left "processing" are picked up again: once idle, every one is ready, with
    # exactly its two variants.
    srv.wait_idle()
    statuses = {row["id"]: row["status"] for row in db_rows(data_dir, "SELECT id, status FROM images")}
    assert set(statuses.values()) == {"ready"}, {s: list(statuses.values()).count(s) for s in set(statuses.values())}
    variants = {f for f in blob_files(data_dir) if f.startswith("variants/")}
    assert variants == {v for i in row_ids for v in variant_files("local", i)}, "missing or orphan variants"

    c.close()
    assert srv.stop() == 0

    # --- fsck: repairs leftovers, then the store is clean --------------------------------------
    first = run_cli("fsck", "--json", "--data", str(data_dir))
    assert first.returncode == 0, f"fsck exit {first.returncode}: {first.stdout!r} {first.stderr!r}"
    report = json.loads(first.stdout)
    assert set(report) >= {"clean", "orphan_blobs", "records_without_blob", "temp_files_removed"}
    assert report["records_without_blob"] == [], report
    for entry in report["orphan_blobs"]:
        assert not any(image_id in str(entry) for image_id in acked), f"fsck calls an acknowledged upload orphan: {entry}"

    second = run_cli("fsck", "--json", "--data", str(data_dir))
    assert second.returncode == 0
    report2 = json.loads(second.stdout)
    assert report2 == {**report2, "clean": True, "orphan_blobs": [], "records_without_blob": [],
                       "temp_files_removed": 0}, report2
    tmp = data_dir / "blobs" / ".tmp"
    assert not tmp.exists() or not any(tmp.iterdir()), f"temp files left: {list(tmp.iterdir())}"

    # And the repaired store still serves every acknowledged upload.
    srv.start()
    c = Client(srv.url, contract)
    for image_id, data in acked.items():
        assert c.get(f"/images/{image_id}/content").content == data
    # The bytes of an upload that was lost can be sent again.
    lost = [p for p in payloads if sha256(p) not in {r["sha256"] for r in rows}]
    if lost:
        assert c.upload_json(lost[0]).status_code == 201
    c.close()
