"""Starting the server (issue 12, item 9): a busy port is said to be busy, and nothing is created
on disk first; `make run PORT=...` serves on that port; the first API key on a data directory
that holds keyless (`local`) images says how to keep them, and offers it."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from imgup_testkit import REPO, add_key, db_rows, imgup_bin, run_cli, unique_png


def err(proc) -> str:
    return proc.stderr.decode("utf-8", "replace")


def test_a_busy_port_is_named_and_nothing_is_created(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        data = tmp_path / "data"
        proc = run_cli("serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(data), timeout=30)
    assert proc.returncode != 0
    text = err(proc)
    assert f"127.0.0.1:{port}" in text and "Address already in use" in text, text
    assert "--port" in text, f"the message says what to do: {text!r}"
    assert not data.exists(), "a start that cannot listen must leave no data directory (or database) behind"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_run_takes_the_port(tmp_path):
    """`make run PORT=P DATA=D` serves on P (`-o build`: the binary is already built)."""
    binary = REPO / "build" / "dev" / "imgup"
    if not binary.exists():
        pytest.skip(f"make run serves {binary}, which is not built")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_") and k not in ("PORT", "MAKEFLAGS")}
    proc = subprocess.Popen(["make", "--no-print-directory", "-o", "build", "run", f"PORT={port}",
                             f"DATA={tmp_path / 'data'}"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        seen = b""
        deadline = time.monotonic() + 30
        while not re.search(rb"listening on \S+\n", seen):
            assert proc.poll() is None and time.monotonic() < deadline, f"make run did not serve: {seen!r}"
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                seen += os.read(proc.stderr.fileno(), 4096)
        assert f"listening on http://127.0.0.1:{port}".encode() in seen, seen
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=10).json()["status"] == "ok"
        assert (tmp_path / "data" / "imgup.db").exists()
    finally:
        # make and the imgup it started are the only members of the session started here.
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def keyless_store_with_images(start_server, make_client, count: int) -> Path:
    srv = start_server()
    c = make_client(srv)
    for _ in range(count):
        c.upload_ok(unique_png())
    c.close()
    assert srv.stop() == 0
    return srv.data_dir


def test_first_key_on_keyless_images_says_how_to_keep_them(start_server, make_client):
    data = keyless_store_with_images(start_server, make_client, 2)
    proc = run_cli("keys", "add", "alice", "--data", str(data), check=True)
    assert len(proc.stdout.decode().split()) == 1, "only alice's key on stdout"
    text = err(proc)
    assert "2 image(s)" in text and "'local'" in text, text
    assert f"imgup keys add local --data {data}" in text, text
    assert [line.split()[0] for line in run_cli("keys", "ls", "--data", str(data), check=True).stdout.decode().splitlines()] == ["alice"]

    # The second key says nothing more: keyless mode already ended with the first.
    second = run_cli("keys", "add", "bob", "--data", str(data), check=True)
    assert "image(s)" not in err(second)


def test_keep_local_adds_the_key_that_reaches_them(start_server, make_client):
    data = keyless_store_with_images(start_server, make_client, 3)
    proc = run_cli("keys", "add", "alice", "--keep-local", "--data", str(data), check=True)
    alice_key, local_key = proc.stdout.decode().split()
    assert "key 'local' added" in err(proc), err(proc)
    names = sorted(line.split()[0] for line in run_cli("keys", "ls", "--data", str(data), check=True)
                   .stdout.decode().splitlines())
    assert names == ["alice", "local"]

    srv = start_server(data_dir=data)
    as_local = make_client(srv, local_key).get("/images?limit=100").json()["items"]
    assert len(as_local) == 3 and {r["id"] for r in as_local} == {r["id"] for r in db_rows(data)}
    assert make_client(srv, alice_key).get("/images").json()["items"] == []


def test_first_key_offers_to_keep_them_on_a_terminal(start_server, make_client):
    data = keyless_store_with_images(start_server, make_client, 1)
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
    proc = subprocess.Popen([str(imgup_bin()), "keys", "add", "alice", "--data", str(data)], stdin=slave,
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    screen = b""
    try:
        deadline = time.monotonic() + 30
        while b"[Y/n]" not in screen:
            assert time.monotonic() < deadline and proc.poll() is None, f"no question asked: {screen!r}"
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                screen += os.read(master, 4096)
        os.write(master, b"\n")  # the default: yes
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0
    assert len(stdout.decode().split()) == 2, f"alice's key, then local's: {stdout!r}"
    names = sorted(line.split()[0] for line in run_cli("keys", "ls", "--data", str(data), check=True)
                   .stdout.decode().splitlines())
    assert names == ["alice", "local"]


def test_a_refused_network_address_creates_nothing(tmp_path):
    data = tmp_path / "data"
    proc = run_cli("serve", "--host", "0.0.0.0", "--port", "0", "--data", str(data), timeout=30)
    assert proc.returncode != 0 and "without API keys" in err(proc), err(proc)
    assert not data.exists(), "refused before anything was created"
