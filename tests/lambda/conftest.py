"""Fixtures of the Lambda tests: imgup's API and processor functions under AWS's Lambda Runtime
Interface Emulator (rie.py), invoked with API Gateway and S3 events made from AWS's own samples
(fixtures/aws).

Environment: IMGUP_LAMBDA_API_BIN (default build/dev/imgup-lambda-api),
IMGUP_LAMBDA_PROCESSOR_BIN (default build/dev/imgup-lambda-processor), IMGUP_BIN (default
build/dev/imgup, to add an API key), IMGUP_RIE (default
${IMGUP_TOOLS_DIR:-~/.cache/imgup/tools}/bin/aws-lambda-rie, installed by
scripts/install-lambda-tools.sh).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rie import Emulator, rie_bin

ROOT = Path(__file__).resolve().parents[2]
INIT_DURATIONS: list[float] = []


def pytest_terminal_summary(terminalreporter):
    if INIT_DURATIONS:
        values = sorted(INIT_DURATIONS)
        median = values[len(values) // 2]
        terminalreporter.write_line(
            "lambda: imgup-lambda-api INIT REPORT durationMs " +
            ", ".join(f"{v:.1f}" for v in INIT_DURATIONS) +
            f" (median {median:.1f}; aws-lambda-rie, this machine under its load)")


def function_binary(variable: str, default: str) -> Path:
    """A function's binary (from `variable`, else build/dev/`default`), failing the test when it
    or the emulator is missing."""
    path = Path(os.environ.get(variable, ROOT / "build/dev" / default))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    return path


@pytest.fixture(scope="session")
def api_binary() -> Path:
    return function_binary("IMGUP_LAMBDA_API_BIN", "imgup-lambda-api")


@pytest.fixture(scope="session")
def imgup_binary() -> Path:
    path = Path(os.environ.get("IMGUP_BIN", ROOT / "build/dev/imgup"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    return path


@pytest.fixture
def start_function(api_binary, tmp_path):
    """start_function(**env) → an Emulator running the API function with IMGUP_STORAGE=local on
    a fresh data directory (unless env says otherwise); stopped after the test, its INIT REPORT
    durations kept for the summary."""
    started: list[Emulator] = []

    def start(**env: str) -> Emulator:
        settings = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(tmp_path / "data")}
        settings.update(env)
        workdir = tmp_path / f"fn{len(started)}"
        workdir.mkdir()
        emulator = Emulator(api_binary, workdir, settings)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        if emulator.proc.poll() is None and "INIT RTDONE(status: success)" in emulator.log():
            INIT_DURATIONS.extend(emulator.init_reports()[:1])
        emulator.stop()


@pytest.fixture(scope="session")
def processor_binary() -> Path:
    return function_binary("IMGUP_LAMBDA_PROCESSOR_BIN", "imgup-lambda-processor")


@pytest.fixture
def start_processor(processor_binary, tmp_path):
    """start_processor(**env) → an Emulator running the processor function with
    IMGUP_STORAGE=local on the same data directory as start_function's (unless env says
    otherwise); stopped after the test."""
    started: list[Emulator] = []

    def start(**env: str) -> Emulator:
        settings = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(tmp_path / "data"),
                    "TMPDIR": str(tmp_path)}
        settings.update(env)
        workdir = tmp_path / f"processor{len(started)}"
        workdir.mkdir()
        emulator = Emulator(processor_binary, workdir, settings)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
