"""What tests/run_aws and tests/run_lambda share: scripts/run-aws.sh or scripts/run-lambda.sh run
as a child in a session of its own, its output collected until it serves, and stopped as Ctrl-C
stops it; a hard kill reaches every process of the stack, not only the script. Also the helpers
both tests use on what the stack serves (data/aws-local.env, an image's processing).

Imported as tests/bombs.py is: the test module puts tests/ on sys.path.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import zlib
from pathlib import Path
from typing import Optional

import requests

ROOT = Path(__file__).resolve().parents[1]
PROCESSING_TIMEOUT = float(os.environ.get("IMGUP_PROCESSING_TIMEOUT", "60"))
LISTENING = re.compile(r"imgup: listening on (http://127\.0\.0\.1:\d+)")


def unique_png(width: int = 32, height: int = 24) -> bytes:
    """A valid 8-bit RGB PNG of random pixels (bytes no other call returns)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (data/aws-local.env)."""
    values = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            values[key] = value
    return values


def wait_ready(url: str, image_id: str, timeout: float = PROCESSING_TIMEOUT) -> dict:
    """GET /images/{id} until it is no longer "processing"; the record."""
    deadline = time.monotonic() + timeout
    while True:
        record = requests.get(f"{url}/images/{image_id}", timeout=30).json()
        if record["status"] != "processing":
            return record
        assert time.monotonic() < deadline, f"still processing after {timeout}s: {record}"
        time.sleep(0.1)


def _stat(pid: int) -> Optional[list[str]]:
    """The fields of /proc/PID/stat after the command's name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running, and not a zombie (gone for our purposes, though not yet reaped)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """Every living process of process group `pgid`, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and fields[0] != "Z" \
                and int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


class LocalStack:
    """`script` (run-aws.sh, run-lambda.sh) with `env`, until interrupt(). Its stdout and stderr
    are collected (text()); `url` is what its "imgup: listening on" line says. Fails the test when
    it does not serve within `start_timeout`, after killing everything it started."""

    def __init__(self, script: Path, env: dict[str, str], start_timeout: float, what: str):
        self.what = what
        self.lines: list[str] = []
        self.listening = threading.Event()
        self.url = ""
        # SIGINT as a terminal leaves it: under scripts/with-aws-peers.sh the tests run as a
        # background job, which a non-interactive shell starts with SIGINT ignored, and a shell
        # cannot trap a signal ignored at its start. A session of its own: the script's children
        # (peers, emulators, relay, gateway) share its process group, which kill() ends whole.
        self.proc = subprocess.Popen([str(script)], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.pgid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + start_timeout
        while not self.listening.wait(0.1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                ended = self.proc.poll() is not None
                self.kill()
                self.reader.join(10)  # all it printed, for the failure's message
                raise AssertionError(f"{what} {'ended' if ended else f'did not serve within {start_timeout} s'}:\n"
                                     + self.text())

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            if not self.listening.is_set() and (m := LISTENING.search(line)):
                self.url = m.group(1)
                self.listening.set()

    def text(self) -> str:
        return "".join(self.lines)

    def members(self) -> list[int]:
        """Every living process of the stack (its process group)."""
        return group_members(self.pgid)

    def kill(self) -> None:
        """SIGKILL to every process of the stack; returns once none is left."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        # The script's orphans die when the kernel gets to them, not when killpg returns.
        deadline = time.monotonic() + 10
        while (left := self.members()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not left, f"{self.what}: still running after SIGKILL to its process group: {left}"

    def interrupt(self, timeout: float = 60) -> int:
        """SIGINT, as Ctrl-C; the exit code. Should the script not stop, everything it started is
        killed before the test fails."""
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.what} did not stop within {timeout} s of SIGINT:\n" + self.text())

