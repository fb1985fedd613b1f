"""Shared by the infrastructure tests (tests/infra): where the template and the tools are (a plain
module, not a conftest: tests/lambda has a conftest of its own, and test_iam imports from there).

The tools (cfn-lint, sam, checkov) live in venvs of their own under
${IMGUP_TOOLS_DIR:-~/.cache/imgup/tools}, installed by scripts/install-infra-tools.sh
(make infra-tools); a test that needs one and does not find it fails, naming the script.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# IMGUP_TEMPLATE: another template to test (a changed copy), infra/template.yaml by default.
TEMPLATE = Path(os.environ.get("IMGUP_TEMPLATE", ROOT / "infra" / "template.yaml"))
TOOLS = Path(os.environ.get("IMGUP_TOOLS_DIR", Path.home() / ".cache/imgup/tools"))


def tool(path: str) -> Path:
    found = TOOLS / path
    if not found.exists():
        pytest.fail(f"{found} not found: run scripts/install-infra-tools.sh (make infra-tools)")
    return found
