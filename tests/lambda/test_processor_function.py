"""imgup-lambda-processor under AWS's Lambda Runtime Interface Emulator, beside imgup-lambda-api
on one local data directory: an image uploaded through the API function (the seed's upload, an
API Gateway event), then AWS's S3 put sample (fixtures/aws/s3-put.json, `sam local
generate-event s3 put`) carrying its key, URL-encoded as S3 sends it. What a user sees: the
invocation's answer or error, the record through the API function, the bytes in the data
directory."""

from __future__ import annotations

import base64
import json
import sqlite3
import struct
import threading
import urllib.parse
import zlib
from pathlib import Path

from test_api_function import (aws_event, body_json, http_api, proxy_response, seed_png,
                               seed_upload_v2)

SEED_PNG = seed_png(aws_event("http-api-proxy-seed-upload.json"))


def s3_put(key: str, sample: str = "s3-put.json") -> dict:
    """AWS's sample event for the object `key`, the key URL-encoded as S3 encodes it ('+' for a
    space)."""
    event = aws_event(sample)
    event["Records"][0]["s3"]["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    return event


def png_with_pixel_data(idat: bytes) -> bytes:
    """The seed's PNG (its signature and IHDR) with `idat` as its pixel data, then IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data)))
    header = SEED_PNG[:SEED_PNG.index(b"IDAT") - 4]
    return header + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(api, png: bytes = SEED_PNG) -> dict:
    event = seed_upload_v2()
    event["body"] = json.dumps({"filename": "photo.png", "content_type": "image/png",
                                "image_base64": base64.b64encode(png).decode()})
    event["isBase64Encoded"] = False
    created = proxy_response(api, event)
    assert created["statusCode"] == 201, created
    record = body_json(created)
    assert record["status"] == "processing", record
    return record


def record_of(api, image_id: str) -> dict:
    answer = proxy_response(api, http_api("GET", f"/images/{image_id}"))
    assert answer["statusCode"] == 200, answer
    return body_json(answer)


def blobs(data: Path, image_id: str) -> list[str]:
    """Every blob key stored for the image, sorted."""
    root = data / "blobs"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and image_id in str(p.relative_to(root)))


def process(processor, key: str) -> dict:
    r = processor.invoke(s3_put(key))
    assert r.status_code == 200, r.text
    return r.json()


def expect_one_ready_image(api, data: Path, record: dict) -> None:
    stored = record_of(api, record["id"])
    assert stored["status"] == "ready", stored
    assert set(stored["variants"]) == {"thumb", "medium"}
    for variant in stored["variants"].values():
        assert variant["content_type"] == "image/webp"
    owner, image_id = record["key"].split("/")[1:]
    assert blobs(data, image_id) == sorted([
        record["key"], f"variants/{owner}/{image_id}/medium.webp",
        f"variants/{owner}/{image_id}/thumb.webp"])
    for name in ("thumb", "medium"):
        webp = (data / "blobs" / f"variants/{owner}/{image_id}/{name}.webp").read_bytes()
        assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
        assert len(webp) == stored["variants"][name]["size_bytes"]


def test_an_upload_then_its_s3_put_event_makes_the_record_ready(start_function, start_processor,
                                                                tmp_path):
    api = start_function()
    processor = start_processor()
    record = upload(api)
    answer = process(processor, record["key"])
    assert answer["records"] == [{"key": record["key"], "outcome": "ready", "status": "ready"}]
    expect_one_ready_image(api, tmp_path / "data", record)
    log = processor.log()
    assert '"outcome":"ready"' in log
    assert "INIT RTDONE(status: success)" in log


def test_an_event_before_its_record_fails_and_a_later_delivery_succeeds(
        start_function, start_processor, tmp_path):
    api = start_function()
    record = upload(api)
    # The moment between the upload's two writes: the original stored, the record not yet.
    db = sqlite3.connect(tmp_path / "data" / "imgup.db")
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM images WHERE id = ?", (record["id"],)).fetchone())
    db.execute("DELETE FROM images WHERE id = ?", (record["id"],))
    db.commit()

    processor = start_processor()
    r = processor.invoke(s3_put(record["key"]))
    assert r.status_code == 200, r.text
    error = r.json()
    assert error["errorType"] == "Imgup.record_not_yet", error
    assert record["key"] in error["errorMessage"]
    assert "not stored yet" in processor.log()

    columns = ", ".join(row)
    db.execute(f"INSERT INTO images ({columns}) VALUES ({', '.join('?' * len(row))})",
               tuple(row.values()))
    db.commit()
    db.close()
    answer = process(processor, record["key"])
    assert answer["records"][0]["outcome"] == "ready", answer
    expect_one_ready_image(api, tmp_path / "data", record)


def test_the_same_event_ten_times_leaves_one_record_and_one_set_of_variants(
        start_function, start_processor, tmp_path):
    api = start_function()
    processor = start_processor()
    record = upload(api)
    for _ in range(10):
        assert process(processor, record["key"])["records"][0]["outcome"] == "ready"
    expect_one_ready_image(api, tmp_path / "data", record)
    assert processor.log().count('"msg":"processed"') == 10
    listed = body_json(proxy_response(api, http_api("GET", "/images")))
    assert [item["id"] for item in listed["items"]] == [record["id"]]


def test_the_same_event_delivered_at_once_to_three_instances(start_function, start_processor,
                                                            tmp_path):
    api = start_function()
    instances = [start_processor() for _ in range(3)]
    record = upload(api)
    answers: list = [None] * 9

    def deliver(i: int) -> None:
        answers[i] = instances[i % 3].invoke(s3_put(record["key"]))

    # Three rounds of three concurrent deliveries: the emulator runs one invocation at a time per
    # instance, so each round has the event in three processes at once.
    for round_start in (0, 3, 6):
        threads = [threading.Thread(target=deliver, args=(i,))
                   for i in range(round_start, round_start + 3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for r in answers:
        assert r.status_code == 200, r.text
        assert r.json()["records"][0]["outcome"] == "ready", r.json()
    expect_one_ready_image(api, tmp_path / "data", record)


def test_a_poison_image_fails_its_record_keeps_the_original_and_succeeds(
        start_function, start_processor, tmp_path):
    api = start_function()
    processor = start_processor()
    # Every chunk of the PNG is well formed, CRCs included (what the API function checks), but
    # the pixel data is not zlib: only the full decode in the processor finds out.
    poison = png_with_pixel_data(b"\x00" * 42)
    record = upload(api, poison)
    answer = process(processor, record["key"])
    assert answer["records"][0]["outcome"] == "failed", answer
    assert answer["records"][0]["reason"].startswith("decode_failed"), answer
    stored = record_of(api, record["id"])
    assert stored["status"] == "failed"
    assert stored["failure_reason"].startswith("decode_failed"), stored
    assert stored.get("variants", {}) == {}
    owner, image_id = record["key"].split("/")[1:]
    kept = tmp_path / "data" / "blobs" / "quarantine" / owner / image_id
    assert kept.read_bytes() == poison, "the original, kept aside under quarantine/"
    assert blobs(tmp_path / "data", image_id) == [f"quarantine/{owner}/{image_id}"]
    # Delivered again, nothing changes.
    assert process(processor, record["key"])["records"][0]["outcome"] == "failed"
    assert kept.read_bytes() == poison


def test_other_keys_and_events_are_ignored(start_function, start_processor, tmp_path):
    api = start_function()
    processor = start_processor()
    record = upload(api)
    owner, image_id = record["key"].split("/")[1:]
    for event in (s3_put(record["key"], sample="s3-delete.json"),
                  s3_put(f"variants/{owner}/{image_id}/thumb.webp"),
                  s3_put("uploads/my summer photo+1.jpg"),
                  aws_event("s3-put.json")):
        r = processor.invoke(event)
        assert r.status_code == 200, r.text
        assert r.json()["records"][0]["outcome"] == "ignored", r.json()
    assert record_of(api, record["id"])["status"] == "processing"
    assert '"key":"uploads/my summer photo+1.jpg"' in processor.log(), "the key, decoded"


def test_an_event_that_is_not_s3s_is_an_invocation_error(start_processor):
    processor = start_processor()
    r = processor.invoke(aws_event("http-api-proxy.json"))
    assert r.status_code == 200, r.text
    assert r.json()["errorType"] == "Imgup.not_an_s3_event", r.json()
    # The loop goes on serving.
    assert process(processor, "test/key")["records"][0]["outcome"] == "ignored"


def test_a_missing_pixel_worker_is_an_init_error(start_processor, tmp_path):
    processor = start_processor(IMGUP_PIXEL_WORKER=str(tmp_path / "no-such-worker"))
    error = processor.invoke(s3_put("test/key")).json()
    assert error["errorType"] == "Imgup.no_pixel_worker", error
    assert "no-such-worker" in error["errorMessage"]
    assert "INIT RTDONE(status: error)" in processor.log()
