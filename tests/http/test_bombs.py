"""Image bombs (issue F) as a user meets them: small versions of tests/bombs.py's shapes, on a
server with a small --max-pixels so that every case stays fast. An animation is capped on frames
× canvas at upload; one within the caps is processed from its first frame only; an AVIF whose
ispe lies about its AV1 frame is refused.

The servers run with TMPDIR in the test's own temp dir: a bomb that got as far as libvips would
write its temporary files there, not in /tmp."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imgup_testkit import assert_nothing_left, expect_problem, store_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import bombs  # noqa: E402  (tests/bombs.py)

MAX_PIXELS = 10_000_000


@pytest.fixture
def bomb_server(start_server, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the server inherits the test's environment
    return start_server(args=["--max-pixels", str(MAX_PIXELS)])


@pytest.fixture(scope="session")
def avif_cache(tmp_path_factory) -> Path:
    """heif-enc's encodes, made once per session."""
    return tmp_path_factory.mktemp("avif-cache")


@pytest.mark.parametrize("shape,content_type", [
    ("gif", "image/gif"),
    ("webp", "image/webp"),
])
def test_animation_over_frames_times_canvas_is_refused(bomb_server, make_client, shape, content_type):
    # 200 frames of a 1000x1000 canvas: each frame is a tenth of the cap, the animation 20 times it.
    data = (bombs.gif_canvas_bomb if shape == "gif" else bombs.webp_canvas_bomb)(1000, 1000, 200)
    assert len(data) < 20_000
    c = make_client(bomb_server)
    before = store_state(bomb_server.data_dir)
    body = expect_problem(c.upload_json(data, filename=f"bomb.{shape}", content_type=content_type),
                          422, "image_too_large")
    assert "200 frames" in body["detail"] and "1000x1000" in body["detail"], body
    assert "frames × canvas" in body["detail"], body
    assert_nothing_left(bomb_server.data_dir, before)


def test_animation_within_the_caps_is_ready_from_its_first_frame(bomb_server, make_client):
    # 40 frames of 1x1 on a 500x400 canvas; the last frame's bitstream is garbage. Only the first
    # frame is decoded, so the image is ready, with the frame count read from the container.
    data = bytearray(bombs.webp_canvas_bomb(500, 400, 40))
    vp8l = data.rfind(b"VP8L")
    data[vp8l + 8 + 5:vp8l + 8 + 13] = b"\xff" * 8  # the last frame's entropy-coded data
    c = make_client(bomb_server)
    rec = c.upload_ready(bytes(data), filename="anim.webp", content_type="image/webp")
    assert (rec["width"], rec["height"]) == (500, 400)
    assert rec["animated"] is True
    assert rec["frame_count"] == 40


@pytest.mark.parametrize("ispe", [(1, 1), (100, 50)])
def test_avif_whose_ispe_lies_about_its_frame_is_refused(bomb_server, make_client, avif_cache, ispe):
    # heif-enc's 1500x1500 AVIF with its ispe rewritten: today's code stored the 1x1 one "ready",
    # 1x1, after decoding the whole 1500x1500 frame.
    data = bombs.avif_ispe_bomb(avif_cache, size=1500, ispe=ispe)
    c = make_client(bomb_server)
    before = store_state(bomb_server.data_dir)
    body = expect_problem(c.upload_json(data, filename="bomb.avif", content_type="image/avif"),
                          422, "invalid_image")
    assert "1500x1500" in body["detail"], body
    assert_nothing_left(bomb_server.data_dir, before)
