"""The Lambda zips that `make package` writes (scripts/package-lambda.sh), checked as Lambda's
provided.al2023 runtime would meet them:

- each zip has an executable `bootstrap` at its root;
- every library an ELF in it asks for is in it, and every symbol version it asks of a library
  (GLIBC_2.x of libc, GLIBCXX of libstdc++, ...) is one that the bundled library defines; the
  glibc it requires is either bundled or at most Amazon Linux 2023's 2.34;
- the packaged `bootstrap` runs with none of this Debian host's libraries in sight (a mount
  namespace with tmpfs over every library folder, hide_libs.py), under AWS's Lambda Runtime
  Interface Emulator, and answers API Gateway events made from AWS's own samples.

Environment: IMGUP_LAMBDA_PACKAGES (default build/lambda), IMGUP_RIE (tests/lambda/rie.py),
IMGUP_BUSYBOX (default /bin/busybox, Debian's busybox-static: the /bin/sh of the hidden world).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/lambda"))
from rie import Emulator, rie_bin  # noqa: E402

PACKAGES = Path(os.environ.get("IMGUP_LAMBDA_PACKAGES", ROOT / "build/lambda"))
FIXTURES = ROOT / "tests/lambda/fixtures/aws"
BUSYBOX = Path(os.environ.get("IMGUP_BUSYBOX", "/bin/busybox"))
HIDE_LIBS = Path(__file__).resolve().parent / "hide_libs.py"
AL2023_GLIBC = (2, 34)
GLIBC_FILES = {"libc.so.6", "ld-linux-x86-64.so.2"}
# glibc's libraries: the system's (Amazon Linux 2023's) when a package does not bring its own.
GLIBC_LIBRARIES = GLIBC_FILES | {"libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                                 "libresolv.so.2", "libutil.so.1"}


def zips() -> list[Path]:
    return sorted(PACKAGES.glob("*.zip"))


@pytest.fixture(scope="module")
def api_zip() -> Path:
    path = PACKAGES / "api.zip"
    if not path.exists():
        pytest.fail(f"{path} not found: run `make package`")
    return path


def unzip(zip_path: Path, into: Path) -> Path:
    """Unzips keeping the Unix modes (Lambda does; Python's extractall does not)."""
    with zipfile.ZipFile(zip_path) as z:
        for info in z.infolist():
            target = Path(z.extract(info, into))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    return into


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def objdump_p(path: Path) -> str:
    return subprocess.run(["objdump", "-p", str(path)], check=True, capture_output=True,
                          text=True).stdout


def needed(dump: str) -> list[str]:
    return re.findall(r"^\s+NEEDED\s+(\S+)$", dump, re.M)


def version_references(dump: str) -> dict[str, set[str]]:
    """`objdump -p`'s "Version References": library → the symbol versions asked of it."""
    refs: dict[str, set[str]] = {}
    section = dump.partition("Version References:")[2]
    current = None
    for line in section.splitlines():
        if m := re.match(r"\s+required from (\S+):", line):
            current = refs.setdefault(m.group(1), set())
        elif current is not None and (m := re.match(r"\s+0x[0-9a-f]+ 0x[0-9a-f]+ \d+ (\S+)", line)):
            current.add(m.group(1))
        elif line.strip() and not line.startswith(" "):
            break
    return refs


def version_definitions(dump: str) -> set[str]:
    section = dump.partition("Version definitions:")[2].partition("\n\n")[0]
    return set(re.findall(r"^\d+ 0x[0-9a-f]+ 0x[0-9a-f]+ (\S+)", section, re.M))


def glibc_version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.removeprefix("GLIBC_").split("."))


@pytest.mark.parametrize("zip_path", zips(), ids=lambda p: p.name)
def test_each_zip_is_a_complete_package(zip_path: Path, tmp_path: Path):
    root = unzip(zip_path, tmp_path)
    bootstrap = root / "bootstrap"
    assert bootstrap.is_file() and os.access(bootstrap, os.X_OK), "no executable bootstrap at the root"
    elves = [p for p in sorted(root.rglob("*")) if p.is_file() and is_elf(p)]
    assert any(p.parent.name == "bin" for p in elves), "no function in bin/"
    bundled = {p.name: p for p in elves if p.parent.name == "lib"}
    definitions = {name: version_definitions(objdump_p(p)) for name, p in bundled.items()}

    glibc_bundled = GLIBC_FILES <= bundled.keys()
    problems = []
    newest_glibc = (0,)
    for elf in elves:
        dump = objdump_p(elf)
        for lib in needed(dump):
            if lib not in bundled and (glibc_bundled or lib not in GLIBC_LIBRARIES):
                problems.append(f"{elf.relative_to(root)} needs {lib}, which is not in lib/")
        for lib, versions in version_references(dump).items():
            for version in versions:
                if version.startswith("GLIBC_") and version[6].isdigit():
                    newest_glibc = max(newest_glibc, glibc_version(version))
                if lib in definitions and version not in definitions[lib]:
                    problems.append(f"{elf.relative_to(root)} needs {version} of {lib}, which the "
                                    f"bundled {lib} does not define")
    assert not problems, "\n".join(problems)
    # Either the package brings its own glibc, or what it asks of Amazon Linux 2023's is there.
    assert glibc_bundled or newest_glibc <= AL2023_GLIBC, (
        f"needs GLIBC_{'.'.join(map(str, newest_glibc))} and bundles no glibc; AL2023 has 2.34")
    print(f"{zip_path.name}: {len(elves)} ELF files, newest GLIBC version asked "
          f"{'.'.join(map(str, newest_glibc))}, glibc bundled: {glibc_bundled}")


def hidden(command: list[str]) -> list[str]:
    """`command`, run in a mount namespace where the host's libraries are hidden."""
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    return unshare + [sys.executable, str(HIDE_LIBS), str(BUSYBOX)] + command


@pytest.fixture
def unpacked_api(api_zip: Path, tmp_path: Path) -> Path:
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} not found: make deps installs busybox-static")
    return unzip(api_zip, tmp_path / "task")


def test_the_hiding_works_a_debian_binary_does_not_run(unpacked_api: Path):
    """Without this, the test below could pass on the host's libraries."""
    binary = next((unpacked_api / "bin").iterdir())
    r = subprocess.run(hidden([str(binary)]), capture_output=True, text=True, timeout=60)
    assert r.returncode == 127, r
    assert "No such file or directory" in r.stderr  # its ELF interpreter, /lib64/ld-linux..., is gone
    # And outside the namespace nothing changed.
    assert Path("/etc/ld.so.cache").stat().st_size > 0


def test_the_packaged_bootstrap_starts_with_the_host_libraries_hidden(unpacked_api: Path):
    # Not under the emulator: the function says it needs AWS_LAMBDA_RUNTIME_API and exits 2.
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    r = subprocess.run(hidden([str(unpacked_api / "bootstrap")]), capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 2, r
    assert "AWS_LAMBDA_RUNTIME_API is not set" in r.stderr


def health_event() -> dict:
    event = json.loads((FIXTURES / "http-api-proxy.json").read_text())
    event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
    event.pop("queryStringParameters", None)
    event.pop("cookies", None)
    event["requestContext"]["http"].update(method="GET", path="/health")
    event["requestContext"].pop("authorizer")
    return event


def seed_upload_event() -> dict:
    """AWS's HTTP API sample carrying the seed's upload, as user "ann" of a JWT authorizer."""
    event = json.loads((FIXTURES / "http-api-proxy-seed-upload.json").read_text())
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": "ann"}, "scopes": None}}
    return event


def test_the_packaged_api_function_answers_under_the_emulator_with_the_host_libraries_hidden(
        unpacked_api: Path, tmp_path: Path):
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    # The emulator (the stand-in for Lambda's own service) runs on the host; the function it
    # starts enters the namespace first.
    wrapper = tmp_path / "bootstrap-hidden"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in hidden([str(unpacked_api / "bootstrap")])) + "\n")
    wrapper.chmod(0o755)
    workdir = tmp_path / "fn"
    workdir.mkdir()
    emulator = Emulator(wrapper, workdir, {"IMGUP_STORAGE": "local",
                                           "IMGUP_DATA_DIR": str(tmp_path / "data")})
    try:
        r = emulator.invoke(health_event())
        assert r.status_code == 200, (r.text, emulator.log())
        answer = r.json()
        assert answer["statusCode"] == 200, (answer, emulator.log())
        assert json.loads(answer["body"])["status"] == "ok"

        r = emulator.invoke(seed_upload_event())
        created = r.json()
        assert created["statusCode"] == 201, (created, emulator.log())
        record = json.loads(created["body"])
        assert record["filename"] == "photo.png" and record["content_type"] == "image/png"
        assert (record["width"], record["height"]) == (4, 4)
        # The record is in the function's SQLite database, the bytes in its folder.
        assert (tmp_path / "data" / "imgup.db").exists()
        assert list((tmp_path / "data" / "blobs").rglob(record["id"]))
        assert "INIT RTDONE(status: success)" in emulator.log()
    finally:
        emulator.stop()
