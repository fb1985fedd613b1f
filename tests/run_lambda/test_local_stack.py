"""tests/local_stack.py's LocalStack, which runs scripts/run-lambda.sh and scripts/run-aws.sh for
their tests: a script that fails to start, or never serves, leaves none of what it started
running (a stand-in script here, which starts a child and leaves it behind as a crashed
run-lambda.sh would leave its peers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_stack import LocalStack, alive  # noqa: E402  (tests/local_stack.py)


def stand_in(tmp_path: Path, then: str) -> Path:
    """A script that starts a long sleep in the background, says its pid, then runs `then`."""
    script = tmp_path / "stack.sh"
    script.write_text(f"#!/bin/bash\nsleep 600 </dev/null >/dev/null 2>&1 &\necho \"child $!\"\n{then}\n")
    script.chmod(0o755)
    return script


def child_pid(text: str) -> int:
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith("child ")))


@pytest.mark.parametrize("then, start_timeout", [("exit 1", 60), ("wait", 1)], ids=["exits", "never-serves"])
def test_a_stack_that_does_not_serve_leaves_nothing_running(tmp_path, then, start_timeout):
    with pytest.raises(AssertionError) as failed:
        LocalStack(stand_in(tmp_path, then), {"PATH": "/usr/bin:/bin"}, start_timeout, "stack.sh")
    assert "stack.sh" in str(failed.value)
    child = child_pid(str(failed.value))
    assert not alive(child), f"the script's child {child} still runs"


def test_a_stack_that_serves_is_stopped_whole(tmp_path):
    script = stand_in(tmp_path, "echo 'imgup: listening on http://127.0.0.1:1'\nwait")
    stack = LocalStack(script, {"PATH": "/usr/bin:/bin"}, 60, "stack.sh")
    try:
        assert stack.url == "http://127.0.0.1:1"
        child = child_pid(stack.text())
        assert alive(child) and child in stack.members()
    finally:
        stack.kill()
    assert not alive(child) and not stack.members()
