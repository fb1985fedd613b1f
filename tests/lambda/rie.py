"""AWS's Lambda Runtime Interface Emulator (aws-lambda-rie) running one of imgup's functions.

Always started with both address flags on loopback ports the kernel picked: without them it
listens on 0.0.0.0:8080, and it runs any flag it does not know (even --help) as the function.
Stopped by its PID (SIGTERM: it SIGKILLs the function itself), then its process group is
killed, so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

import requests

INVOKE_PATH = "/2015-03-31/functions/function/invocations"
_INIT_REPORT = re.compile(r"INIT REPORT\s*\(durationMs:\s*([0-9.]+)\)")


def rie_bin() -> Path:
    default = Path(os.environ.get("IMGUP_TOOLS_DIR", Path.home() / ".cache/imgup/tools")) / "bin/aws-lambda-rie"
    return Path(os.environ.get("IMGUP_RIE", default))


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    def __init__(self, function: Path, workdir: Path, env: dict[str, str]):
        self.port = free_loopback_port()
        self.api_port = free_loopback_port()
        while self.api_port == self.port:
            self.api_port = free_loopback_port()
        self.log_path = workdir / f"rie-{self.port}.log"
        self._log = open(self.log_path, "wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("IMGUP_")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [str(rie_bin()),
             "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{self.api_port}",
             str(function)],
            cwd=workdir, env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}{INVOKE_PATH}"
        self._wait_listening()

    def _wait_listening(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"aws-lambda-rie exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"aws-lambda-rie did not listen within {timeout} s:\n{self.log()}")

    def invoke(self, event) -> requests.Response:
        data = event if isinstance(event, (bytes, str)) else json.dumps(event)
        return requests.post(self.url, data=data, timeout=60)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def init_reports(self) -> list[float]:
        """The durationMs of each INIT REPORT line: the cold start as the emulator measures it
        (its REPORT line's Init Duration is a constant)."""
        return [float(m) for m in _INIT_REPORT.findall(self.log())]

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a function the emulator left behind
        except ProcessLookupError:
            pass
        self._log.close()
        return self.proc.returncode
