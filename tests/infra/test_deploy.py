"""`make deploy` and `make destroy` without AWS credentials: each refuses, saying how to
configure them, before building or contacting anything — run in a network namespace of its own
(`unshare -n`: no network at all, so a test run can never reach AWS), with a HOME and AWS
configuration files that hold nothing, and no AWS_* variable."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from infra_env import ROOT, TOOLS, tool


def run_without_credentials(target: str, tmp_path: Path,
                            credentials: Path | None = None) -> subprocess.CompletedProcess:
    tool("sam-venv/bin/sam")
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.fail("unshare (util-linux) not found: it keeps this test off the network")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), IMGUP_TOOLS_DIR=str(TOOLS), AWS_REGION="us-east-1",
               AWS_CONFIG_FILE=str(home / "no-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(credentials or home / "no-credentials"))
    # As root a plain `unshare -n`; as a user, in a user namespace of its own (-r).
    command = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-r", "-n"]
    return subprocess.run(command + ["make", "-C", str(ROOT), "--no-print-directory", target],
                          env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("target", ["deploy", "destroy"])
def test_refuses_without_aws_credentials(target, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in (ROOT / "build/lambda").glob("*.zip")} \
        if (ROOT / "build/lambda").exists() else {}
    result = run_without_credentials(target, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"{target}: no AWS credentials are configured, so nothing was built or deployed" in output
    assert "aws configure" in output
    assert "make package" not in output and "sam deploy" not in result.stdout
    after = {p: p.stat().st_mtime_ns for p in (ROOT / "build/lambda").glob("*.zip")} \
        if (ROOT / "build/lambda").exists() else {}
    assert after == before, "nothing was built"


def test_with_credentials_destroy_goes_past_the_check(tmp_path):
    """The check tells credentials from none: with (made-up) keys, destroy goes on to ask
    CloudFormation for the stack, which fails here, offline, before anything is deleted."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAEXAMPLEEXAMPLE00\n"
        "aws_secret_access_key = madeupmadeupmadeupmadeupmadeupmadeup0000\n")
    result = run_without_credentials("destroy", tmp_path, credentials=home / "credentials")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "destroy: AWS credentials from shared-credentials-file" in output
    assert "no AWS credentials" not in output
    assert "Type the stack's name" not in output, "it never reached the confirmation"
