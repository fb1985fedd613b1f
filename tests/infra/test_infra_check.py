"""The template checks can fail: scripts/infra-check.sh on copies of infra/template.yaml, each
broken in a way that one of its tools must catch, exits 1 naming that tool — and on the template
itself exits 0 (make infra-check runs it first).

Each break is the kind of edit a person might make: a property CloudFormation does not have
(cfn-lint), an S3 event of a bucket that is not in the template (SAM's translation), a
public bucket (checkov), and a skip that gives no reason is still a skip, so the check that
matters is that removing a justified skip brings its finding back.

Each run takes ~15 s (the three tools start Python and load their rule sets)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, TEMPLATE, tool

CHECK = ROOT / "scripts" / "infra-check.sh"


def run_check(template: Path) -> subprocess.CompletedProcess:
    for needed in ("sam-venv/bin/sam", "sam-venv/bin/cfn-lint", "checkov-venv/bin/checkov"):
        tool(needed)
    return subprocess.run([str(CHECK), str(template)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def broken(tmp_path: Path, old: str, new: str) -> Path:
    text = TEMPLATE.read_text()
    assert text.count(old) == 1, f"the template no longer holds exactly one {old!r}"
    path = tmp_path / "template.yaml"
    path.write_text(text.replace(old, new))
    return path


def findings_line(result: subprocess.CompletedProcess) -> str:
    lines = [l for l in result.stderr.splitlines() if "findings from" in l]
    assert lines, result.stdout + result.stderr
    return lines[-1]


def test_the_template_has_no_finding():
    result = run_check(TEMPLATE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


def test_cfn_lint_fails_on_a_property_cloudformation_does_not_have(tmp_path):
    template = broken(tmp_path, "      BillingMode: PAY_PER_REQUEST\n",
                      "      BillingMode: PAY_PER_REQUEST\n      Autoscale: true\n")
    result = run_check(template)
    assert result.returncode == 1
    assert "cfn-lint" in findings_line(result)
    assert "Autoscale" in result.stdout


def test_sam_validate_fails_on_an_s3_event_of_a_bucket_elsewhere(tmp_path):
    # SAM can only wire the notification of a bucket in the same template; cfn-lint lets it be.
    template = broken(tmp_path, "            Bucket: !Ref ImagesBucket\n",
                      "            Bucket: images-elsewhere\n")
    result = run_check(template)
    assert result.returncode == 1
    assert "sam validate" in findings_line(result)
    assert "S3 events must reference an S3 bucket in the same template" in result.stdout + result.stderr


def test_checkov_fails_on_a_public_bucket(tmp_path):
    template = broken(tmp_path, "        BlockPublicAcls: true\n", "        BlockPublicAcls: false\n")
    result = run_check(template)
    assert result.returncode == 1
    assert "checkov" in findings_line(result)
    assert "CKV_AWS_53" in result.stdout  # "Ensure S3 bucket has block public ACLS enabled"


@pytest.mark.parametrize("check_id", ["CKV_AWS_21", "CKV_AWS_119"])
def test_a_skip_removed_brings_its_finding_back(tmp_path, check_id):
    text = TEMPLATE.read_text()
    start = text.index(f"          - id: {check_id}\n")
    end = text.index("\n", text.index("comment:", start))
    # The comment may be folded over several lines: drop them all.
    rest = text[end + 1:]
    while rest.startswith("              "):
        rest = rest[rest.index("\n") + 1:]
    path = tmp_path / "template.yaml"
    path.write_text(text[:start] + rest)
    result = run_check(path)
    assert result.returncode == 1
    assert "checkov" in findings_line(result)
    assert check_id in result.stdout
