"""The template checks can fail: scripts/infra-check.sh on infra/template.yaml exits 0, and on a
copy broken in one way per tool exits 1, naming each tool and what it found:

- cfn-lint: a property CloudFormation does not have;
- `sam validate` (SAM's translation of the template): an S3 event of a bucket that is not in the
  template, which only SAM can wire (cfn-lint lets it be);
- checkov: a bucket whose public ACLs are not blocked, and two of the template's justified skips
  removed, whose findings must come back (so a skip is what silences them, not a blind check).

One run each (~15-60 s on a loaded machine: the tools start Python and load their rule sets)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra_env import ROOT, TEMPLATE, tool

CHECK = ROOT / "scripts" / "infra-check.sh"


def run_check(template: Path) -> subprocess.CompletedProcess:
    for needed in ("sam-venv/bin/sam", "sam-venv/bin/cfn-lint", "checkov-venv/bin/checkov"):
        tool(needed)
    return subprocess.run([str(CHECK), str(template)], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the template no longer holds exactly one {old!r}"
    return text.replace(old, new)


def without_skip(text: str, check_id: str) -> str:
    start = text.index(f"          - id: {check_id}\n")
    end = text.index("\n", text.index("comment:", start)) + 1
    while text[end:].startswith("              "):  # a folded comment's other lines
        end = text.index("\n", end) + 1
    return text[:start] + text[end:]


def test_the_template_has_no_finding():
    result = run_check(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_each_tool_fails_on_the_break_it_must_catch(tmp_path):
    text = TEMPLATE.read_text()
    text = replace_once(text, "      BillingMode: PAY_PER_REQUEST\n",
                        "      BillingMode: PAY_PER_REQUEST\n      Autoscale: true\n")
    # The first of the processor's two S3 events (originals/, uploads/).
    text = replace_once(text, "        OriginalCreated:\n          Type: S3\n          Properties:\n"
                        "            Bucket: !Ref ImagesBucket\n",
                        "        OriginalCreated:\n          Type: S3\n          Properties:\n"
                        "            Bucket: images-elsewhere\n")
    text = replace_once(text, "        BlockPublicAcls: true\n", "        BlockPublicAcls: false\n")
    text = without_skip(without_skip(text, "CKV_AWS_21"), "CKV_AWS_119")
    broken = tmp_path / "template.yaml"
    broken.write_text(text)

    result = run_check(broken)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    failed = [l for l in result.stderr.splitlines() if "findings from" in l]
    assert failed, output
    tools = set(failed[-1].split("findings from ", 1)[1].split(","))
    assert tools == {"cfn-lint", "sam validate", "sam validate --lint", "checkov"}, failed[-1]
    assert "Autoscale" in output  # cfn-lint's
    assert "S3 events must reference an S3 bucket in the same template" in output  # SAM's
    for check_id in ("CKV_AWS_53", "CKV_AWS_21", "CKV_AWS_119"):  # checkov's
        assert f"Check: {check_id}" in output, check_id
