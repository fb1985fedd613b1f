"""The CLI in the same binary: `imgup keys add/ls/rm --data DIR` and `imgup upload/ls/get/rm
--url URL [--key KEY]` against a running server."""

from __future__ import annotations

import json
import os
import time

import pytest

from imgup_testkit import (
    EXIF_ORIENTATION,
    PNGSUITE,
    SVG,
    blob_files,
    corpus_file,
    db_rows,
    expect_problem,
    jpeg_with_comment,
    run_cli,
    sha256,
    ulids_in,
    unique_png,
    variant_files,
)


def out(proc) -> str:
    return proc.stdout.decode("utf-8", "replace")


def all_bytes_under(path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(path.rglob("*")) if f.is_file())


# --- keys ----------------------------------------------------------------------------------------


def test_keys_add_ls_rm_roundtrip(tmp_path):
    data = tmp_path / "data"
    added = run_cli("keys", "add", "alice", "--data", str(data), check=True)
    lines = out(added).splitlines()
    assert len(lines) == 1, f"keys add must print only the key: {out(added)!r}"
    key = lines[0].strip()
    assert len(key) >= 20 and " " not in key

    listed = run_cli("keys", "ls", "--data", str(data), check=True)
    assert "alice" in out(listed)
    assert key not in out(listed), "keys ls must not show the key"

    # Stored hashed only: the key appears nowhere in the data dir (db, WAL, anything).
    blob = all_bytes_under(data)
    assert key.encode() not in blob, "the API key is stored in clear"
    assert (data / "imgup.db").exists()

    again = run_cli("keys", "add", "alice", "--data", str(data))
    assert again.returncode != 0, "adding an existing name must fail"
    assert out(run_cli("keys", "ls", "--data", str(data), check=True)).count("alice") == 1

    run_cli("keys", "rm", "alice", "--data", str(data), check=True)
    assert "alice" not in out(run_cli("keys", "ls", "--data", str(data), check=True))
    assert run_cli("keys", "rm", "alice", "--data", str(data)).returncode != 0, "removing a missing key must fail"


def test_keys_are_distinct_and_only_hashed(tmp_path):
    data = tmp_path / "data"
    keys = [out(run_cli("keys", "add", f"user{i}", "--data", str(data), check=True)).strip() for i in range(5)]
    assert len(set(keys)) == 5
    blob = all_bytes_under(data)
    for k in keys:
        assert k.encode() not in blob
    listed = out(run_cli("keys", "ls", "--data", str(data), check=True))
    assert all(f"user{i}" in listed for i in range(5))


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", ""])
def test_key_name_cannot_escape_the_blob_dir(tmp_path, start_server, make_client, name):
    """A key name is an owner and part of blob keys (originals/{owner}/{id}): a name that would
    leave the blob directory must be refused, or at least never lead outside it."""
    data = tmp_path / "data"
    proc = run_cli("keys", "add", name, "--data", str(data))
    if proc.returncode != 0:
        return
    key = out(proc).strip()
    srv = start_server(data_dir=data)
    c = make_client(srv, key)
    rec = c.upload_ok(unique_png())
    stored = (data / "blobs" / rec["key"]).resolve()
    assert stored.is_relative_to((data / "blobs" / "originals").resolve()), rec["key"]
    assert stored.exists()


# --- the client commands ---------------------------------------------------------------------


@pytest.fixture
def cli_server(start_server):
    return start_server()


def test_upload_ls_get_rm(cli_server, make_client, tmp_path):
    url = cli_server.url
    c = make_client(cli_server)
    png = unique_png(7, 3)
    jpg = jpeg_with_comment(corpus_file(EXIF_ORIENTATION / "Landscape_1.jpg"), b"cli")
    (tmp_path / "a.png").write_bytes(png)
    (tmp_path / "b.jpg").write_bytes(jpg)

    up = run_cli("upload", str(tmp_path / "a.png"), str(tmp_path / "b.jpg"), "--url", url, check=True)
    ids = list(dict.fromkeys(ulids_in(out(up))))
    assert len(ids) == 2, f"upload should print the two new ids: {out(up)!r}"
    records = {i: c.get(f"/images/{i}").json() for i in ids}
    by_name = {r["filename"]: r for r in records.values()}
    assert set(by_name) == {"a.png", "b.jpg"}
    assert by_name["a.png"]["content_type"] == "image/png" and by_name["b.jpg"]["content_type"] == "image/jpeg"
    assert c.get(by_name["a.png"]["urls"]["content"]).content == png
    assert c.get(by_name["b.jpg"]["urls"]["content"]).content == jpg

    ls = run_cli("ls", "--url", url, check=True)
    assert set(ids) <= set(ulids_in(out(ls)))
    # The two files went up in parallel, so either may be the newer one: ls lists newest first,
    # which for time-sortable ids is descending id order.
    listed = [i for i in ulids_in(out(ls)) if i in ids]
    assert listed == sorted(ids, reverse=True), "ls: newest first"

    a_id = by_name["a.png"]["id"]
    got = run_cli("get", a_id, "--url", url, check=True)
    assert a_id in out(got) and "a.png" in out(got)

    saved = tmp_path / "saved.png"
    run_cli("get", a_id, "--url", url, "-o", str(saved), check=True)
    assert saved.read_bytes() == png

    run_cli("rm", a_id, "--url", url, check=True)
    expect_problem(c.get(f"/images/{a_id}"), 404, "not_found")
    assert not (cli_server.data_dir / "blobs" / by_name["a.png"]["key"]).exists()
    assert not db_rows(cli_server.data_dir, "SELECT id FROM images WHERE id = ?", (a_id,))
    assert a_id not in out(run_cli("ls", "--url", url, check=True))

    assert run_cli("get", a_id, "--url", url).returncode != 0, "get of a deleted id must fail"
    assert run_cli("rm", a_id, "--url", url).returncode != 0, "rm of a deleted id must fail"


def test_get_follows_the_content_redirect(start_server, make_client, tmp_path):
    """With --content-redirect (always so on Lambda) content is a 302 to a one-time URL: `imgup
    get -o` follows it (without the API key: the URL is its own credential)."""
    srv = start_server(args=["--content-redirect"])
    png = unique_png(6, 5)
    rec = make_client(srv).upload_ok(png)
    saved = tmp_path / "saved.png"
    run_cli("get", rec["id"], "--url", srv.url, "-o", str(saved), check=True)
    assert saved.read_bytes() == png


def test_upload_same_file_twice(cli_server, tmp_path):
    f = tmp_path / "same.png"
    f.write_bytes(unique_png())
    first = ulids_in(out(run_cli("upload", str(f), "--url", cli_server.url, check=True)))
    second = ulids_in(out(run_cli("upload", str(f), "--url", cli_server.url, check=True)))
    assert first and second and first[0] == second[0]
    assert len(db_rows(cli_server.data_dir)) == 1


def test_upload_of_a_refused_file_fails(cli_server, tmp_path):
    f = tmp_path / "evil.svg"
    f.write_bytes(SVG)
    proc = run_cli("upload", str(f), "--url", cli_server.url)
    assert proc.returncode != 0
    assert db_rows(cli_server.data_dir) == []


def test_unreachable_server_fails(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(unique_png())
    for args in (["upload", str(f)], ["ls"], ["get", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], ["rm", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]):
        proc = run_cli(*args, "--url", "http://127.0.0.1:1", timeout=30)
        assert proc.returncode != 0, args


def test_cli_with_keys(start_server, make_client, tmp_path):
    srv = start_server(keys=["alice", "bob"])
    f = tmp_path / "k.png"
    data = unique_png()
    f.write_bytes(data)

    assert run_cli("upload", str(f), "--url", srv.url).returncode != 0, "no key: must fail"
    assert run_cli("upload", str(f), "--url", srv.url, "--key", "wrong").returncode != 0
    assert db_rows(srv.data_dir) == []

    ids = ulids_in(out(run_cli("upload", str(f), "--url", srv.url, "--key", srv.keys["alice"], check=True)))
    assert ids
    rec = make_client(srv, srv.keys["alice"]).get(f"/images/{ids[0]}").json()
    assert rec["key"] == f"originals/alice/{ids[0]}" and rec["sha256"] == sha256(data)

    assert ids[0] in out(run_cli("ls", "--url", srv.url, "--key", srv.keys["alice"], check=True))
    assert ids[0] not in out(run_cli("ls", "--url", srv.url, "--key", srv.keys["bob"], check=True))
    assert run_cli("get", ids[0], "--url", srv.url, "--key", srv.keys["bob"]).returncode != 0
    assert run_cli("rm", ids[0], "--url", srv.url, "--key", srv.keys["bob"]).returncode != 0
    run_cli("rm", ids[0], "--url", srv.url, "--key", srv.keys["alice"], check=True)
    assert db_rows(srv.data_dir) == []


# --- fsck ------------------------------------------------------------------------------------


def _fsck(data, *extra):
    proc = run_cli("fsck", "--json", "--data", str(data), *extra)
    return proc, (json.loads(proc.stdout) if proc.stdout.strip() else None)


@pytest.mark.local_only("imgup fsck works on a data directory's folder and SQLite")
def test_fsck_on_a_clean_store(cli_server, make_client):
    c = make_client(cli_server)
    rec = c.upload_ready(unique_png())
    c.close()
    assert cli_server.stop() == 0
    files = blob_files(cli_server.data_dir)
    assert variant_files("local", rec["id"]) <= files
    proc, report = _fsck(cli_server.data_dir)
    assert proc.returncode == 0, proc.stderr
    assert report["clean"] is True and report["orphan_blobs"] == [] and report["records_without_blob"] == []
    assert report["temp_files_removed"] == 0
    assert blob_files(cli_server.data_dir) == files, "fsck of a clean store removed something (variants?)"
    text = run_cli("fsck", "--data", str(cli_server.data_dir))
    assert text.returncode == 0 and out(text).strip(), "fsck without --json prints a summary"


@pytest.mark.local_only("imgup fsck works on a data directory's folder and SQLite")
def test_fsck_repairs_leftovers(cli_server, make_client):
    """Plant what a crash can leave (an old temp file, an orphan blob, a record whose blob is
    gone): fsck reports each, repairs, and a second run finds the store clean."""
    c = make_client(cli_server)
    kept = c.upload_ready(unique_png())
    broken = c.upload_ready(unique_png())
    c.close()
    assert cli_server.stop() == 0
    data = cli_server.data_dir
    day_ago = time.time() - 86400
    tmp_dir = data / "blobs" / ".tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    temp = tmp_dir / "upload-leftover.tmp"
    temp.write_bytes(b"partial")
    orphan_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    orphan = data / "blobs" / "originals" / "local" / orphan_id
    orphan.write_bytes(unique_png())
    broken_variants = [data / "blobs" / v for v in variant_files("local", broken["id"])]
    for f in (temp, orphan, *broken_variants):
        os.utime(f, (day_ago, day_ago))
    (data / "blobs" / broken["key"]).unlink()

    proc, report = _fsck(data)
    assert proc.returncode == 0, f"fsck must repair and exit 0: {proc.stdout!r} {proc.stderr!r}"
    assert report["clean"] is False, "leftovers were found, so the store was not clean"
    assert any(orphan_id in str(e) for e in report["orphan_blobs"]), report
    assert any(broken["id"] in str(e) for e in report["records_without_blob"]), report
    assert report["temp_files_removed"] >= 1
    assert not temp.exists() and not orphan.exists()
    files = blob_files(data)
    assert not variant_files("local", broken["id"]) & files, "the variants of a record fsck removed must go too"
    assert variant_files("local", kept["id"]) <= files and kept["key"] in files
    assert not any(kept["id"] in str(e) for e in report["orphan_blobs"] + report["records_without_blob"])

    proc, report = _fsck(data)
    assert proc.returncode == 0
    assert (report["clean"], report["orphan_blobs"], report["records_without_blob"], report["temp_files_removed"]) == (
        True, [], [], 0), report

    cli_server.start()
    c = make_client(cli_server)
    assert c.get(f"/images/{kept['id']}").status_code == 200
    r = c.get(f"/images/{broken['id']}/content")
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        assert sha256(r.content) == broken["sha256"]


def test_folder_upload_of_pngsuite_in_parallel(cli_server, make_client):
    """A folder upload: every valid PngSuite file is stored, every x*.png is reported refused, the
    exit code says something failed, and --json gives a machine-readable account of each file."""
    folder = PNGSUITE
    files = sorted(p.name for p in folder.iterdir() if p.suffix == ".png")
    bad = {name for name in files if name.startswith("x")}
    proc = run_cli("upload", str(folder), "--jobs", "4", "--json", "--url", cli_server.url)
    assert proc.returncode == 1, "a folder with refused files must exit non-zero"
    report = json.loads(out(proc))
    by_name = {os.path.basename(item["file"]): item for item in report["files"]}
    assert set(by_name) == set(files)
    assert {n for n, item in by_name.items() if not item["ok"]} == bad
    for name in bad:
        assert by_name[name]["status"] in (415, 422), (name, by_name[name])
        assert by_name[name]["error"], name
    good = [by_name[n] for n in files if n not in bad]
    assert all(item["ok"] and item["record"]["id"] for item in good)
    assert report["failed"] == len(bad)
    assert report["stored"] + report["duplicates"] == len(good)
    # PngSuite holds byte-identical files under different names: those come back as duplicates
    # of a stored record, not as new records.
    stored_ids = {item["record"]["id"] for item in good}
    assert len(db_rows(cli_server.data_dir)) == len(stored_ids) == report["stored"]

    # The same folder again: everything valid is now a duplicate, nothing new is stored.
    again = json.loads(out(run_cli("upload", str(folder), "-j", "2", "--json", "--url", cli_server.url)))
    assert again["stored"] == 0 and again["duplicates"] == len(good) and again["failed"] == len(bad)

    # Without --json: a line per stored id on stdout, the refused files named on stderr.
    plain = run_cli("upload", str(folder / "xs1n0g01.png"), str(folder / "basn0g01.png"), "--url", cli_server.url)
    assert plain.returncode == 1
    assert "xs1n0g01.png" in plain.stderr.decode() and "1 failed" in plain.stderr.decode()
    assert len(ulids_in(out(plain))) == 1
