"""The README's examples stay true (issue 12, item 1): every shell block marked
`<!-- readme-test -->` (the line before its fence) runs, in README order, with bash against a
server of this test's own, from a temp folder that holds a real photo (over 128 KiB: the size at
which passing base64 as one argument breaks) as `photo.jpg`.

Put in before a block runs: the server's URL for `http://127.0.0.1:8080` (and as IMGUP_URL for
the CLI), the id of photo.jpg on the server for `ID` (uploaded first when no block has), a real
cursor for `NEXT_CURSOR_FROM_THE_LAST_PAGE`, the binary under test for `./build/dev/imgup`, and a
temp data dir for `--data ./data` (the keys example must not turn the server keyed). curl fails
on any HTTP error (`--fail-with-body`), and every command must succeed (`set -euo pipefail`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from imgup_testkit import EXIF_ORIENTATION, REPO, corpus_file, imgup_bin, sha256, unique_png

MARK = "<!-- readme-test -->"
README = REPO / "README.md"
ARG_MAX_ONE = 128 * 1024  # Linux's limit on one argument (MAX_ARG_STRLEN)

PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
"""


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of each shell block marked runnable."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        fence = lines[i + 1].strip() if i + 1 < len(lines) else ""
        assert fence in ("```sh", "```bash"), f"README.md:{i + 1}: {MARK} must be followed by a ```sh fence"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        blocks.append((i + 2, "\n".join(lines[i + 2:end])))
    return blocks


def test_the_readme_marks_its_examples():
    blocks = runnable_blocks(README.read_text("utf-8"))
    codes = [code for _, code in blocks]
    assert len(blocks) >= 7, f"only {len(blocks)} runnable blocks: were marks removed?"
    assert any("image_base64" in code for code in codes), "the seed's upload example must be run"
    assert any("imgup upload" in code for code in codes), "a CLI example must be run"


def photo_id(client, digest: str) -> str | None:
    cursor = ""
    while True:
        page = client.get("/images?limit=100" + (f"&cursor={cursor}" if cursor else "")).json()
        for item in page["items"]:
            if item["sha256"] == digest:
                return item["id"]
        cursor = page["next_cursor"]
        if not cursor:
            return None


def test_every_marked_example_runs(start_server, make_client, tmp_path):
    photo = corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg")
    assert len(photo) > ARG_MAX_ONE, "the photo must be big enough to break a one-argument body"
    work = tmp_path / "work"
    work.mkdir()
    (work / "photo.jpg").write_bytes(photo)
    digest = sha256(photo)

    server = start_server()
    c = make_client(server)
    for _ in range(2):  # a server that holds images: the list example gets a real cursor
        c.upload_ok(unique_png())
    cursor = c.get("/images?limit=1").json()["next_cursor"]
    assert cursor

    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
    env["IMGUP_URL"] = server.url
    ran = []
    for line, code in runnable_blocks(README.read_text("utf-8")):
        script = (code.replace("http://127.0.0.1:8080", server.url)
                  .replace("NEXT_CURSOR_FROM_THE_LAST_PAGE", cursor)
                  .replace("./build/dev/imgup", str(imgup_bin()))
                  .replace("--data ./data", f"--data {tmp_path / 'keys-data'}"))
        if re.search(r"\bID\b", script):
            image_id = photo_id(c, digest)
            if image_id is None:
                image_id = c.upload_ok(photo, filename="photo.jpg", content_type="image/jpeg")["id"]
            assert c.wait_processed(image_id)["status"] == "ready"
            script = re.sub(r"\bID\b", image_id, script)
        proc = subprocess.run(["bash", "-c", PRELUDE + script], cwd=work, env=env, capture_output=True,
                              timeout=180)
        assert proc.returncode == 0, (
            f"README.md:{line}: the example failed (exit {proc.returncode}):\n{script}\n--- stdout:\n"
            f"{proc.stdout.decode(errors='replace')[-2000:]}\n--- stderr:\n{proc.stderr.decode(errors='replace')[-2000:]}")
        ran.append((line, code, proc))

    # What the seed's example answered: the record of photo.jpg, all of it.
    seed = next(proc for _, code, proc in ran if "image_base64" in code)
    record = json.loads(seed.stdout)
    assert record["filename"] == "photo.jpg" and record["content_type"] == "image/jpeg"
    assert record["size_bytes"] == len(photo) and record["sha256"] == digest

    # The CLI example's get --variant wrote the thumb beside the photo.
    assert list(work.glob("*-thumb.webp")), "imgup get ID --variant thumb wrote no file here"
