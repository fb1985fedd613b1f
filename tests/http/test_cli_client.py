"""What a person sees of the client commands (issue 12, item 8): `imgup ls` with a STATUS column,
paging and a hint; `imgup rm` of several ids; `imgup get` as a summary (JSON with --json) and
`--variant` without `-o`; `imgup upload --wait` with each file's final state; Ctrl-C printing
what finished; "waiting for the server" once the bytes are sent; connection errors naming the
URL; 503 retried. Servers that misbehave on purpose (503, a hanging upload) are small Python
stubs on 127.0.0.1, port 0."""

from __future__ import annotations

import json
import os
import pty
import random
import re
import select
import signal
import socket
import subprocess
import threading
import time
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imgup_testkit import (
    PNG_SIG,
    _chunk,
    db_rows,
    imgup_bin,
    png_ihdr,
    run_cli,
    ulids_in,
    unique_png,
)


def out(proc) -> str:
    return proc.stdout.decode("utf-8", "replace")


def err(proc) -> str:
    return proc.stderr.decode("utf-8", "replace")


def png_missing_rows() -> bytes:
    """A PNG whose header is whole but whose pixel data stops half-way: stored at upload (the
    header is fine), then `failed` with `decode_failed`."""
    width = height = 32
    raw = b"".join(b"\x00" + random.randbytes(width * 3) for _ in range(height))
    return PNG_SIG + png_ihdr(width, height) + _chunk(b"IDAT", zlib.compress(raw[: len(raw) // 2])) + _chunk(
        b"IEND", b"")


@pytest.fixture(scope="module")
def srv(module_server_factory):
    return module_server_factory()


# --- ls ------------------------------------------------------------------------------------------


def test_ls_has_a_status_column_pages_and_says_when_more_exist(start_server, make_client):
    server = start_server()
    c = make_client(server)
    ids = [c.upload_ok(unique_png())["id"] for _ in range(5)]
    newest_first = sorted(ids, reverse=True)
    ready = c.wait_processed(ids[0])
    assert ready["status"] == "ready"

    first = run_cli("ls", "--limit", "2", "--url", server.url, check=True)
    header, *rows = out(first).splitlines()
    assert header.split()[:3] == ["ID", "STATUS", "TYPE"], header
    assert [r.split()[0] for r in rows] == newest_first[:2]
    assert all(r.split()[1] in ("processing", "ready") for r in rows), rows
    hint = re.search(r"imgup ls --cursor (\S+)", err(first))
    assert hint and "--all" in err(first), f"ls must say how to see the rest: {err(first)!r}"

    second = run_cli("ls", "--limit", "2", "--cursor", hint.group(1), "--url", server.url, check=True)
    assert ulids_in(out(second)) == newest_first[2:4]

    every = run_cli("ls", "--limit", "2", "--all", "--url", server.url, check=True)
    assert ulids_in(out(every)) == newest_first
    assert out(every).count("STATUS") == 1, "one header for all pages"
    assert "--cursor" not in err(every), "nothing more to see after --all"
    row = next(line for line in out(every).splitlines() if line.startswith(ids[0]))
    assert row.split()[1] == "ready", row

    page = json.loads(out(run_cli("ls", "--all", "--limit", "2", "--json", "--url", server.url, check=True)))
    assert [i["id"] for i in page["items"]] == newest_first and page["next_cursor"] is None
    page = json.loads(out(run_cli("ls", "--limit", "2", "--json", "--url", server.url, check=True)))
    assert len(page["items"]) == 2 and isinstance(page["next_cursor"], str)


# --- rm ------------------------------------------------------------------------------------------


def test_rm_takes_several_ids_and_goes_on_past_a_missing_one(start_server, make_client):
    server = start_server()
    c = make_client(server)
    ids = [c.upload_ok(unique_png())["id"] for _ in range(3)]
    missing = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    proc = run_cli("rm", ids[0], missing, ids[1], ids[2], "--url", server.url)
    assert proc.returncode == 1, "one id was not there: exit 1"
    assert missing in err(proc) and "not_found" in err(proc), err(proc)
    assert set(ulids_in(out(proc))) == set(ids), out(proc)
    assert db_rows(server.data_dir) == [], "every existing id was deleted"

    more = [c.upload_ok(unique_png())["id"] for _ in range(2)]
    report = json.loads(out(run_cli("rm", *more, "--json", "--url", server.url, check=True)))
    assert report == [{"id": more[0], "deleted": True}, {"id": more[1], "deleted": True}]


# --- get -----------------------------------------------------------------------------------------


def test_get_prints_a_summary_and_json_only_when_asked(srv, make_client):
    c = make_client(srv)
    png = unique_png(12, 9)
    rec = c.upload_ready(png, filename="summary.png", tags=["cat", "sofa"], description="on the sofa")
    proc = run_cli("get", rec["id"], "--url", srv.url, check=True)
    text = out(proc)
    assert not text.lstrip().startswith("{"), f"get must be readable, not JSON: {text!r}"
    fields = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in text.splitlines() if " " in line}
    assert fields["id"] == rec["id"]
    assert "summary.png" in text and "ready" in fields["status"]
    assert "image/png" in text and "12x9" in text
    assert "cat, sofa" in text and "on the sofa" in text
    assert re.search(r"thumb\s+image/webp, \d+x\d+", text), text
    assert f"{srv.url}/images/{rec['id']}/content" in text

    as_json = json.loads(out(run_cli("get", rec["id"], "--json", "--url", srv.url, check=True)))
    assert as_json == c.get(f"/images/{rec['id']}").json()


def test_get_of_a_failed_image_says_why(srv, make_client):
    c = make_client(srv)
    rec = c.wait_processed(c.upload_ok(png_missing_rows(), filename="broken.png")["id"])
    assert rec["status"] == "failed"
    text = out(run_cli("get", rec["id"], "--url", srv.url, check=True))
    status = next(line for line in text.splitlines() if line.startswith("status"))
    assert "failed" in status and rec["failure_reason"].split(":")[0] in status, status
    assert "corrupt" in status, status


def test_get_variant_without_o_says_where_the_bytes_went(srv, make_client, tmp_path):
    c = make_client(srv)
    rec = c.upload_ready(unique_png(40, 30))
    thumb = c.get(f"/images/{rec['id']}/content?variant=thumb").content

    proc = run_cli("get", rec["id"], "--variant", "thumb", "--url", srv.url, cwd=tmp_path, check=True)
    written = tmp_path / f"{rec['id']}-thumb.webp"
    assert written.read_bytes() == thumb
    assert written.name in err(proc) and "thumb" in err(proc), err(proc)
    assert out(proc) == "", "the bytes went to the file, not to stdout"

    again = run_cli("get", rec["id"], "--variant", "thumb", "--url", srv.url, cwd=tmp_path)
    assert again.returncode != 0 and "-o" in err(again), "never over an existing file without -o"
    assert written.read_bytes() == thumb

    original = run_cli("get", rec["id"], "--variant", "original", "--url", srv.url, cwd=tmp_path, check=True)
    assert (tmp_path / f"{rec['id']}.png").read_bytes() == c.get(f"/images/{rec['id']}/content").content
    assert f"{rec['id']}.png" in err(original)

    to_stdout = run_cli("get", rec["id"], "--variant", "thumb", "-o", "-", "--url", srv.url, check=True)
    assert to_stdout.stdout == thumb


# --- upload --wait -------------------------------------------------------------------------------


def test_upload_wait_reports_each_final_state_and_reason(srv, tmp_path):
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    good.write_bytes(unique_png(20, 20))
    bad.write_bytes(png_missing_rows())

    proc = run_cli("upload", str(good), str(bad), "--wait", "--url", srv.url, timeout=120)
    assert proc.returncode == 1, "an image that failed processing makes --wait exit 1"
    good_line = next(line for line in out(proc).splitlines() if line.rstrip().endswith("good.png"))
    bad_line = next(line for line in out(proc).splitlines() if "bad.png" in line)
    assert good_line.split()[1] == "ready", good_line
    assert bad_line.split()[1] == "failed" and "decode_failed" in bad_line, bad_line
    assert "1 ready, 1 failed" in err(proc), err(proc)

    (tmp_path / "good2.png").write_bytes(unique_png(20, 20))
    report = json.loads(out(run_cli("upload", str(tmp_path / "good2.png"), str(bad), "--wait", "--json",
                                    "--url", srv.url, timeout=120)))
    by_name = {os.path.basename(f["file"]): f for f in report["files"]}
    assert by_name["good2.png"]["final_status"] == "ready"
    assert by_name["good2.png"]["record"]["status"] == "ready" and by_name["good2.png"]["record"]["variants"]
    assert by_name["bad.png"]["final_status"] == "failed"
    assert by_name["bad.png"]["failure_reason"].startswith("decode_failed")
    assert (report["ready"], report["processing_failed"], report["still_processing"]) == (1, 1, 0)


# --- errors the network gives --------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_errors_name_the_url_tried(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(unique_png())
    url = f"http://127.0.0.1:{closed_port()}"
    for args in (["upload", str(f)], ["ls"], ["get", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], ["rm", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]):
        proc = run_cli(*args, "--url", url)
        assert proc.returncode != 0, args
        assert f"cannot reach {url}/" in err(proc), (args, err(proc))


@contextmanager
def stub_server(handler_class):
    """A threaded HTTP server on 127.0.0.1, port 0, serving `handler_class`; shut down after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def send_json(handler: BaseHTTPRequestHandler, status: int, value) -> None:
    body = json.dumps(value).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def test_a_503_is_retried_with_backoff():
    seen = []

    class Busy(BaseHTTPRequestHandler):
        busy_answers = 2

        def do_GET(self):
            seen.append(self.path)
            if len(seen) <= self.busy_answers:
                self.send_response(503)
                self.send_header("Retry-After", "0")  # keeps the test quick: no wait
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            send_json(self, 200, {"items": [], "next_cursor": None})

        def log_message(self, *args):
            pass

    with stub_server(Busy) as (_, url):
        proc = run_cli("ls", "--url", url, check=True)
        assert len(seen) == 3, f"two 503s, then the answer: {seen}"
        assert err(proc).count("503, retrying") == 2, err(proc)

    seen.clear()
    Busy.busy_answers = 1000
    with stub_server(Busy) as (_, url):
        proc = run_cli("ls", "--url", url)
        assert proc.returncode != 0, "a server that stays busy is a failure, in the end"
        assert len(seen) == 5, f"five attempts in all: {seen}"
        assert "503" in err(proc)


# --- Ctrl-C and the progress bar -----------------------------------------------------------------


def test_ctrl_c_prints_what_finished_and_the_bar_says_waiting_for_the_server(tmp_path):
    """The first upload is answered; the second's bytes are all read and then never answered.
    On a terminal, the bar of the second says "waiting for the server"; Ctrl-C then ends the
    command with a summary: one stored, one cut off, the rest not started."""
    record = {"id": "01JDQ8C7W3Z6K2M4T5V8X9Y0AB", "status": "processing", "filename": "a.png"}
    release = threading.Event()
    bodies = []

    class Hangs(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            if len(bodies) > 1:
                release.wait(60)
                return
            send_json(self, 201, record)

        def log_message(self, *args):
            pass

    files = []
    for name in ("a.png", "b.png", "c.png", "d.png"):
        files.append(tmp_path / name)
        files[-1].write_bytes(unique_png(64, 64))

    with stub_server(Hangs) as (_, url):
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
        proc = subprocess.Popen([str(imgup_bin()), "upload", "-j", "1", *map(str, files), "--url", url],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
        os.close(slave)
        screen = b""
        try:
            deadline = time.monotonic() + 30
            while not re.search(rb"stored .*a\.png[\s\S]*b\.png +waiting for the server", screen):
                assert time.monotonic() < deadline, f"no 'waiting for the server' on the terminal: {screen!r}"
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    screen += os.read(master, 65536)
            proc.send_signal(signal.SIGINT)
            stdout, _ = proc.communicate(timeout=30)
            while True:
                ready, _, _ = select.select([master], [], [], 0.2)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal's other end is closed
                    break
                if not chunk:
                    break
                screen += chunk
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        text = screen.decode("utf-8", "replace")
        assert proc.returncode == 130, f"exit {proc.returncode}: {text}"
        assert "interrupted (Ctrl-C): 1 stored, 0 duplicate(s) skipped, 0 failed, 1 cut off, 2 not started" in text, text
        assert ulids_in(stdout.decode()) == [record["id"]], "what finished is printed"
        assert len(bodies) == 2, "no upload starts after Ctrl-C"
