"""The Lambda zips that `make package` writes (scripts/package-lambda.sh), checked as Lambda's
provided.al2023 runtime would meet them:

- both zips are there, each within its size budget (api.zip 5 MB, processor.zip 25 MB), with an
  executable `bootstrap` at its root;
- every library an ELF in it asks for is in it, and every symbol version it asks of a library
  (GLIBC_2.x of libc, GLIBCXX of libstdc++, ...) is one that the bundled library defines; the
  glibc it requires is either bundled or at most Amazon Linux 2023's 2.34;
- the packaged `bootstrap`s run with none of this Debian host's libraries in sight (a mount
  namespace with tmpfs over every library folder, hide_libs.py), under AWS's Lambda Runtime
  Interface Emulator: the API function answers API Gateway events made from AWS's own samples,
  and the processor, its pixel worker on sharp's libvips, turns a real S3 event into variants
  in the bucket and a ready item in the table (the AWS peers of scripts/with-aws-peers.sh);
- the processor's variants and image facts are those the Debian-libvips build makes.

Environment: IMGUP_LAMBDA_PACKAGES (default build/lambda), IMGUP_RIE (tests/lambda/rie.py),
IMGUP_BUSYBOX (default /bin/busybox, Debian's busybox-static: the /bin/sh of the hidden world),
IMGUP_BIN (default build/dev/imgup: `init-aws`), IMGUP_LAMBDA_API_BIN and
IMGUP_LAMBDA_PROCESSOR_BIN (default build/dev/...: the Debian-libvips build to compare with),
IMGUP_CORPORA (default ../shared/corpora), the peers' IMGUP_TEST_* variables.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import struct
import subprocess
import sys
import urllib.parse
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/lambda"))
sys.path.insert(0, str(ROOT / "tests/aws"))
from peers import missing  # noqa: E402
from rie import Emulator, rie_bin  # noqa: E402

PACKAGES = Path(os.environ.get("IMGUP_LAMBDA_PACKAGES", ROOT / "build/lambda"))
# Issue D's budgets, in bytes (millions: a zip of 4.99 MiB is over 5 MB).
BUDGETS = {"api.zip": 5_000_000, "processor.zip": 25_000_000}
FIXTURES = ROOT / "tests/lambda/fixtures/aws"
CORPORA = Path(os.environ.get("IMGUP_CORPORA", ROOT.parent / "shared" / "corpora"))
BUSYBOX = Path(os.environ.get("IMGUP_BUSYBOX", "/bin/busybox"))
HIDE_LIBS = Path(__file__).resolve().parent / "hide_libs.py"
AL2023_GLIBC = (2, 34)
GLIBC_FILES = {"libc.so.6", "ld-linux-x86-64.so.2"}
# glibc's libraries: the system's (Amazon Linux 2023's) when a package does not bring its own.
GLIBC_LIBRARIES = GLIBC_FILES | {"libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
                                 "libresolv.so.2", "libutil.so.1"}


def package(name: str) -> Path:
    path = PACKAGES / name
    if not path.exists():
        pytest.fail(f"{path} not found: run `make package`")
    return path


@pytest.fixture(scope="module")
def api_zip() -> Path:
    return package("api.zip")


@pytest.fixture(scope="module")
def processor_zip() -> Path:
    return package("processor.zip")


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


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_each_zip_is_within_its_size_budget(name: str):
    size = package(name).stat().st_size
    print(f"{name}: {size} bytes, budget {BUDGETS[name]}")
    assert size <= BUDGETS[name], f"{name} is {size} bytes, over its budget of {BUDGETS[name]}"


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_each_zip_is_a_complete_package(name: str, tmp_path: Path):
    zip_path = package(name)
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


def unpacked(zip_path: Path, into: Path) -> Path:
    """The zip unzipped for a run in the hidden world (which needs busybox as its /bin/sh)."""
    if not BUSYBOX.exists():
        pytest.fail(f"{BUSYBOX} not found: make deps installs busybox-static")
    return unzip(zip_path, into)


@pytest.fixture
def unpacked_api(api_zip: Path, tmp_path: Path) -> Path:
    return unpacked(api_zip, tmp_path / "task")


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
    """The API function of the package is built with S3 + DynamoDB only (no SQLite in the zip):
    its init opens no connection, so /health answers with any AWS configuration, and local
    storage is an init error that says why. The seed's upload through it is in the S3 event
    test below, on the peers."""
    aws = {"IMGUP_STORAGE": "aws", "IMGUP_BUCKET": "imgup-package", "IMGUP_TABLE": "imgup-package",
           "IMGUP_CURSOR_SECRET": "package-test-cursor-secret", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"}
    emulator = hidden_emulator(unpacked_api / "bootstrap", tmp_path, aws)
    try:
        answer = invoke_json(emulator, health_event())
        assert answer["statusCode"] == 200, (answer, emulator.log())
        assert json.loads(answer["body"])["status"] == "ok"
        assert "INIT RTDONE(status: success)" in emulator.log()
    finally:
        emulator.stop()

    emulator = hidden_emulator(unpacked_api / "bootstrap", tmp_path,
                               {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(tmp_path / "data")})
    try:
        error = emulator.invoke(health_event()).json()  # the emulator's 502 for an init error
        assert error.get("errorType") == "Imgup.invalid_config", (error, emulator.log())
        assert "IMGUP_STORAGE=local is not in this build" in error["errorMessage"]
        assert not (tmp_path / "data").exists()
    finally:
        emulator.stop()


# --- The processor's package -------------------------------------------------------------------


@pytest.fixture
def unpacked_processor(processor_zip: Path, tmp_path: Path) -> Path:
    return unpacked(processor_zip, tmp_path / "processor-task")


def test_the_processor_zip_carries_its_pixel_worker_and_only_sharps_libvips(unpacked_processor: Path):
    root = unpacked_processor
    assert (root / "bin/imgup-lambda-processor").is_file()
    assert (root / "bin/imgup-pixel-worker").is_file()
    launcher = root / "imgup-pixel-worker"
    assert os.access(launcher, os.X_OK) and "ld-linux-x86-64.so.2" in launcher.read_text()
    assert 'IMGUP_PIXEL_WORKER="$here/imgup-pixel-worker"' in (root / "bootstrap").read_text()
    libs = sorted(p.name for p in (root / "lib").iterdir())
    assert [n for n in libs if n.startswith("libvips")] == [
        n for n in libs if n.startswith("libvips-cpp.so.8.")], libs
    assert len([n for n in libs if n.startswith("libvips")]) == 1, libs
    # None of Debian's libvips stack: no GLib, no ImageMagick, no poppler, no modules folder.
    for name in libs:
        assert not name.startswith(("libglib", "libMagick", "libpoppler", "libheif", "libicu")), name
    assert not any(p.is_dir() for p in (root / "lib").iterdir()), "no module folders"
    # HEIC: libheif is linked into the worker, its only codec libde265 beside it; no encoder
    # (x265 is GPL), no AV1 codec (sharp's libvips has its own for AVIF).
    assert "libde265.so.0" in libs, libs
    for name in libs:
        assert not name.startswith(("libx265", "libaom", "libdav1d")), name
    # libvips is LGPL-3.0-or-later: its notice travels with it.
    notice = (root / "licenses/NOTICE.md").read_text()
    assert "LGPL-3.0-or-later" in notice and "libvips-cpp.so" in notice


def test_the_packaged_processor_and_its_worker_start_with_the_host_libraries_hidden(
        unpacked_processor: Path):
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_RUNTIME_API"}
    r = subprocess.run(hidden([str(unpacked_processor / "bootstrap")]), capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 2, r
    assert "AWS_LAMBDA_RUNTIME_API is not set" in r.stderr
    # The worker's launcher, given a flag it does not know: its usage, from the worker itself,
    # so the loader found every library it needs (libvips-cpp.so among them).
    r = subprocess.run(hidden([str(unpacked_processor / "imgup-pixel-worker"), "--no-such-flag", "1"]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r
    assert "started by imgup-lambda-processor" in r.stderr


def hidden_emulator(bootstrap: Path, tmp_path: Path, env: dict[str, str]) -> Emulator:
    """The emulator (the stand-in for Lambda's own service) on the host, running `bootstrap` in
    a namespace where the host's libraries are hidden."""
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    workdir = tmp_path / f"fn-{bootstrap.parent.name}-{random.getrandbits(24):06x}"
    workdir.mkdir()
    wrapper = workdir / "bootstrap-hidden"
    wrapper.write_text("#!/bin/sh\nexec " + " ".join(f"'{a}'" for a in hidden([str(bootstrap)])) + "\n")
    wrapper.chmod(0o755)
    return Emulator(wrapper, workdir, env)


def s3_put(bucket: str, key: str) -> dict:
    """AWS's S3 put sample (`sam local generate-event s3 put`) for `key` in `bucket`, the key
    URL-encoded as S3 encodes it."""
    event = json.loads((FIXTURES / "s3-put.json").read_text())
    s3 = event["Records"][0]["s3"]
    s3["bucket"].update(name=bucket, arn=f"arn:aws:s3:::{bucket}")
    s3["object"]["key"] = urllib.parse.quote_plus(key, safe="/")
    return event


def upload_event(data: bytes, filename: str, content_type: str, sub: str = "ann") -> dict:
    """The seed's upload of `data` in AWS's HTTP API sample, as `sub` of a JWT authorizer."""
    event = seed_upload_event()
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    event["body"] = json.dumps({"filename": filename, "content_type": content_type,
                                "image_base64": base64.b64encode(data).decode()})
    event["isBase64Encoded"] = False
    return event


def get_event(path: str, sub: str = "ann") -> dict:
    """AWS's HTTP API sample for GET `path`, as `sub` of a JWT authorizer."""
    event = health_event()
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": sub}, "scopes": None}}
    return event


def invoke_json(emulator: Emulator, event: dict) -> dict:
    r = emulator.invoke(event)
    assert r.status_code == 200, (r.text, emulator.log())
    return r.json()


def corpus(name: str) -> bytes:
    path = CORPORA / name
    if not path.exists():
        pytest.fail(f"{path} not found (IMGUP_CORPORA)")
    return path.read_bytes()


def aws_peers() -> dict[str, str]:
    s3 = os.environ.get("IMGUP_TEST_S3_ENDPOINT")
    dynamodb = os.environ.get("IMGUP_TEST_DYNAMODB_ENDPOINT")
    if not (s3 and dynamodb):
        missing("no AWS peers (IMGUP_TEST_S3_ENDPOINT, IMGUP_TEST_DYNAMODB_ENDPOINT)")
    return {"AWS_ENDPOINT_URL_S3": s3, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb,
            "AWS_ACCESS_KEY_ID": os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "testing"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "testing"),
            "AWS_REGION": os.environ.get("IMGUP_TEST_AWS_REGION", "us-east-1"),
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true"}


def imgup_bin() -> Path:
    path = Path(os.environ.get("IMGUP_BIN", ROOT / "build/dev/imgup"))
    if not path.exists():
        pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    return path


def webp_size(data: bytes) -> tuple[int, int]:
    """Width and height from a WebP's VP8 / VP8L / VP8X header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP", data[:16]
    kind = data[12:16]
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    assert kind == b"VP8X", kind
    return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1


def test_the_packaged_processor_makes_the_variants_of_a_real_s3_event_with_the_host_libraries_hidden(
        unpacked_api: Path, unpacked_processor: Path, tmp_path: Path):
    """Both packaged functions, each in the hidden world, on S3 + DynamoDB (versitygw + moto): a
    photo uploaded through the API function, then S3's event for its key to the processor, whose
    pixel worker (sharp's libvips, through the bundled loader) makes the variants."""
    import boto3
    from botocore.config import Config as BotoConfig

    aws = aws_peers()
    name = f"imgup-package-{os.getpid()}-{random.getrandbits(32):08x}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGUP_", "AWS_"))}
    init = subprocess.run([str(imgup_bin()), "init-aws", "--bucket", name, "--table", name],
                          env={**env, **aws}, capture_output=True, text=True, timeout=60)
    assert init.returncode == 0, init.stderr
    settings = {"IMGUP_STORAGE": "aws", "IMGUP_BUCKET": name, "IMGUP_TABLE": name,
                "IMGUP_CURSOR_SECRET": "package-test-cursor-secret", **aws}

    photo = corpus("exif-orientation/Landscape_6.jpg")
    api = hidden_emulator(unpacked_api / "bootstrap", tmp_path, settings)
    processor = hidden_emulator(unpacked_processor / "bootstrap", tmp_path,
                                {**settings, "TMPDIR": str(tmp_path)})
    try:
        created = invoke_json(api, upload_event(photo, "photo.jpg", "image/jpeg"))
        assert created["statusCode"] == 201, (created, api.log())
        record = json.loads(created["body"])
        answer = invoke_json(processor, s3_put(name, record["key"]))
        assert answer.get("records") == [
            {"key": record["key"], "outcome": "ready", "status": "ready"}], (answer, processor.log())
        assert "INIT RTDONE(status: success)" in processor.log()
    finally:
        api.stop()
        processor.stop()

    creds = dict(region_name=aws["AWS_REGION"], aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"])
    s3 = boto3.client("s3", endpoint_url=aws["AWS_ENDPOINT_URL_S3"],
                      config=BotoConfig(s3={"addressing_style": "path"}), **creds)
    item = boto3.client("dynamodb", endpoint_url=aws["AWS_ENDPOINT_URL_DYNAMODB"], **creds).get_item(
        TableName=name, ConsistentRead=True,
        Key={"PK": {"S": "OWNER#ann"}, "SK": {"S": f"IMAGE#{record['id']}"}})["Item"]
    assert item["status"] == {"S": "ready"}, item
    owner, image_id = record["key"].split("/")[1:]
    listed = s3.list_objects_v2(Bucket=name, Prefix=f"variants/{owner}/{image_id}/")
    assert sorted(o["Key"] for o in listed.get("Contents", [])) == [
        f"variants/{owner}/{image_id}/medium.webp", f"variants/{owner}/{image_id}/thumb.webp"]
    # Stored 1200 x 1800 with EXIF orientation 6: displayed upright, 1800 x 1200, and so are the
    # variants, shrunk to their long edges (256, 1024).
    assert (record["width"], record["height"]) == (1800, 1200)
    thumb = s3.get_object(Bucket=name, Key=f"variants/{owner}/{image_id}/thumb.webp")["Body"].read()
    medium = s3.get_object(Bucket=name, Key=f"variants/{owner}/{image_id}/medium.webp")["Body"].read()
    assert webp_size(thumb) == (256, 171)
    assert webp_size(medium) == (1024, 683)
    assert s3.get_object(Bucket=name, Key=record["key"])["Body"].read() == photo


# --- The same variants as with Debian's libvips ----------------------------------------------------


def png_rgba(width: int, height: int) -> bytes:
    """A gradient RGBA PNG with a soft alpha edge."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (
            x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height),
            255 if x < width * 3 // 4 else 128))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def converted(tool: list[str], source: Path, out: Path) -> bytes:
    r = subprocess.run(tool[:1] + [a.replace("IN", str(source)).replace("OUT", str(out)) for a in tool[1:]],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (tool, r.stderr)
    return out.read_bytes()


def dev_functions() -> tuple[Path, Path]:
    """The dev build's API and processor functions: the processor's pixel worker on Debian's
    libvips 8.14."""
    api = Path(os.environ.get("IMGUP_LAMBDA_API_BIN", ROOT / "build/dev/imgup-lambda-api"))
    processor = Path(os.environ.get("IMGUP_LAMBDA_PROCESSOR_BIN",
                                    ROOT / "build/dev/imgup-lambda-processor"))
    for path in (api, processor):
        if not path.exists():
            pytest.fail(f"{path} not found: build it (cmake --build --preset dev)")
    if not rie_bin().exists():
        pytest.fail(f"{rie_bin()} not found: run scripts/install-lambda-tools.sh")
    return api, processor


def process_uploads(api_bin: Path, processor_bootstrap: Path, data: Path, hide: bool,
                    images: dict[str, tuple[str, bytes]], tmp_path: Path) -> dict[str, dict]:
    """Each image uploaded through `api_bin` to local storage in `data`, then S3's event for it
    to the processor (in the hidden world when `hide`): filename → the record as GET /images/{id}
    answers it, each variant with the size its WebP header says ("decoded"); "outcome" and
    "answer" when the processor did not make it ready."""
    settings = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(data), "TMPDIR": str(tmp_path)}
    workdir = tmp_path / f"api-{data.name}"
    workdir.mkdir()
    api = Emulator(api_bin, workdir, settings)
    if hide:
        processor = hidden_emulator(processor_bootstrap, tmp_path, settings)
    else:
        workdir = tmp_path / f"processor-{data.name}"
        workdir.mkdir()
        processor = Emulator(processor_bootstrap, workdir, settings)
    records = {}
    try:
        for filename, (content_type, data_bytes) in images.items():
            created = invoke_json(api, upload_event(data_bytes, filename, content_type))
            assert created["statusCode"] == 201, (filename, created)
            record = json.loads(created["body"])
            answer = invoke_json(processor, s3_put("local", record["key"]))
            got = invoke_json(api, get_event(f"/images/{record['id']}"))
            assert got["statusCode"] == 200, got
            stored = json.loads(got["body"])
            stored["answer"] = answer
            owner, image_id = record["key"].split("/")[1:]
            for name in stored.get("variants") or {}:
                blob = data / "blobs" / f"variants/{owner}/{image_id}/{name}.webp"
                stored["variants"][name]["decoded"] = webp_size(blob.read_bytes())
                stored["variants"][name]["path"] = blob
            records[filename] = stored
    finally:
        api.stop()
        processor.stop()
    return records


def ppm_samples(webp: Path, tmp_path: Path) -> bytes:
    """The RGB samples of a WebP, decoded by dwebp (Debian's `webp`, make deps)."""
    out = tmp_path / f"{webp.parent.name}-{webp.stem}-{random.getrandbits(24):06x}.ppm"
    r = subprocess.run(["dwebp", "-quiet", str(webp), "-ppm", "-o", str(out)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data[:2] == b"P6", data[:16]
    return data.split(b"\n", 3)[3]  # P6, size, maxval 255, then the samples


def mean_sample_gap(a: Path, b: Path, tmp_path: Path) -> float:
    pa, pb = ppm_samples(a, tmp_path), ppm_samples(b, tmp_path)
    assert len(pa) == len(pb)
    return sum(abs(x - y) for x, y in zip(pa, pb)) / len(pa)


def test_the_packaged_processor_makes_what_the_debian_libvips_build_makes(
        unpacked_processor: Path, tmp_path: Path):
    """The same uploads (JPEG with EXIF orientation, PNG with alpha, WebP, AVIF) processed by
    the dev build (Debian's libvips 8.14) and by the packaged processor (sharp's libvips 8.18,
    the host's libraries hidden), each on a local data directory: the records and variants
    agree."""
    dev_api, dev_processor = dev_functions()
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(corpus("exif-orientation/Landscape_6.jpg"))
    images = {
        "photo.jpg": ("image/jpeg", (src / "photo.jpg").read_bytes()),
        "alpha.png": ("image/png", png_rgba(640, 400)),
        "photo.webp": ("image/webp", converted(["cwebp", "-quiet", "-q", "70", "IN", "-o", "OUT"],
                                               src / "photo.jpg", src / "photo.webp")),
        "photo.avif": ("image/avif", converted(["heif-enc", "-A", "-q", "50", "-p", "speed=9", "IN",
                                                "-o", "OUT"], src / "photo.jpg", src / "photo.avif")),
    }
    debian = process_uploads(dev_api, dev_processor, tmp_path / "debian", False, images, tmp_path)
    packaged = process_uploads(dev_api, unpacked_processor / "bootstrap", tmp_path / "packaged",
                               True, images, tmp_path)
    same = ("status", "width", "height", "format", "bit_depth", "bands", "has_alpha", "animated",
            "frame_count", "exif")
    report = []
    for filename in images:
        a, b = debian[filename], packaged[filename]
        assert a["status"] == "ready", (filename, a["answer"])
        for field in same:
            assert a.get(field) == b.get(field), (filename, field, a.get(field), b.get(field))
        assert {n: (v["width"], v["height"], v["content_type"], v["decoded"])
                for n, v in a["variants"].items()} == {
            n: (v["width"], v["height"], v["content_type"], v["decoded"])
            for n, v in b["variants"].items()}, filename
        # Pixels from two libvips versions (and two libwebp encodes of them) agree to within a
        # few levels: each variant decoded (dwebp), the mean difference of its samples, and the
        # perceptual hashes a few of their 64 bits apart at most. (The dominant colour is the
        # fullest of 4096 colour cells: where two cells are nearly tied, as in this photo's
        # dark ground and sky, it may go either way; reported, not compared.)
        gaps = {n: mean_sample_gap(a["variants"][n]["path"], b["variants"][n]["path"], tmp_path)
                for n in a["variants"]}
        phash_bits = bin(int(a["phash"], 16) ^ int(b["phash"], 16)).count("1")
        sizes = {n: (a["variants"][n]["size_bytes"], b["variants"][n]["size_bytes"])
                 for n in a["variants"]}
        report.append(f"{filename}: mean sample gap {gaps}, phash bits apart {phash_bits}, "
                      f"dominant colour {a['dominant_color']} / {b['dominant_color']}, variant "
                      f"bytes (debian, packaged) {sizes}, placeholder "
                      f"{'same' if a['placeholder'] == b['placeholder'] else 'differs'}")
        assert all(gap <= 6 for gap in gaps.values()), (filename, gaps)
        assert phash_bits <= 8, (filename, a["phash"], b["phash"])
    print("\n".join(report))


def boxes(data: bytes, offset: int = 0, end: int | None = None) -> list[tuple[bytes, bytes]]:
    """The ISO BMFF boxes of `data[offset:end]`: (type, the whole box)."""
    end = len(data) if end is None else end
    out = []
    while offset < end:
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        assert size >= 8, "no 64-bit or open-ended boxes in heif-enc's files"
        out.append((kind, data[offset:offset + size]))
        offset += size
    return out


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def with_irot(heic: bytes, quarter_turns_ccw: int) -> bytes:
    """`heic` (heif-enc's: ftyp, meta, mdat) with an irot property on its primary item, as an
    iPhone writes one: the stored pixels turned for display by the container, not by EXIF.
    The meta box grows by 10 bytes (irot and its ipma entry), so every file offset in iloc moves
    by as much."""
    top = boxes(heic)
    assert [k for k, _ in top] == [b"ftyp", b"meta", b"mdat"], [k for k, _ in top]
    meta = top[1][1]
    children = boxes(meta, 12)
    primary = next(struct.unpack(">H", b[12:14])[0] for k, b in children if k == b"pitm")
    rebuilt = []
    for kind, whole in children:
        if kind == b"iprp":
            ipco, ipma = boxes(whole, 8)
            assert ipco[0] == b"ipco" and ipma[0] == b"ipma"
            index = len(boxes(ipco[1], 8)) + 1
            new_ipco = box(b"ipco", ipco[1][8:] + box(b"irot", bytes([quarter_turns_ccw & 3])))
            body = bytearray(ipma[1][8:])  # version, flags, entry count, entries
            version, flags = body[0], int.from_bytes(body[1:4], "big")
            assert version == 0 and not flags & 1, "heif-enc writes short ipma entries"
            at, entries = 8, int.from_bytes(body[4:8], "big")
            for _ in range(entries):
                item, count = struct.unpack(">HB", body[at:at + 3])
                if item == primary:
                    body[at + 2] = count + 1
                    body[at + 3 + count:at + 3 + count] = bytes([0x80 | index])  # essential
                    break
                at += 3 + count
            else:
                raise AssertionError("no ipma entry for the primary item")
            rebuilt.append(box(b"iprp", new_ipco + box(b"ipma", bytes(body))))
        else:
            rebuilt.append(whole)
    grown = 10
    out = []
    for whole in rebuilt:
        if whole[4:8] == b"iloc":
            b = bytearray(whole)
            version = b[8]
            offset_size, length_size = b[12] >> 4, b[12] & 15
            base_size, index_size = b[13] >> 4, (b[13] & 15 if version in (1, 2) else 0)
            assert version in (0, 1) and offset_size in (4, 8) and base_size in (0, 4, 8)
            at, count = 16, int.from_bytes(b[14:16], "big")
            for _ in range(count):
                at += 2  # item_ID
                method = 0
                if version == 1:
                    method = int.from_bytes(b[at:at + 2], "big") & 15
                    at += 2
                at += 2  # data_reference_index
                base = int.from_bytes(b[at:at + base_size], "big") if base_size else 0
                if base_size and method == 0 and base:
                    b[at:at + base_size] = (base + grown).to_bytes(base_size, "big")
                at += base_size
                extents = int.from_bytes(b[at:at + 2], "big")
                at += 2
                for _ in range(extents):
                    at += index_size
                    if method == 0 and not base:
                        value = int.from_bytes(b[at:at + offset_size], "big")
                        b[at:at + offset_size] = (value + grown).to_bytes(offset_size, "big")
                    at += offset_size + length_size
            whole = bytes(b)
        out.append(whole)
    new_meta = struct.pack(">I4s", 12 + sum(map(len, out)), b"meta") + meta[8:12] + b"".join(out)
    assert len(new_meta) == len(meta) + grown
    return top[0][1] + new_meta + top[2][1]


def test_the_packaged_processor_makes_the_variants_of_a_heic(unpacked_processor: Path,
                                                             tmp_path: Path):
    """HEIC (HEVC), which sharp's libvips cannot decode: the packaged pixel worker decodes it with
    its own libheif (libde265 only, scripts/install-libheif.sh), and makes what the dev build
    (Debian's libvips) makes. The file is the JPEG test's photo, stored sideways (1200 x 1800)
    as a camera stores it, with an irot property that turns it upright for display, as an
    iPhone's HEIC does (its EXIF orientation 6 stays, informative only): both builds show it
    1800 x 1200, the same way up as the JPEG with EXIF orientation 6."""
    dev_api, dev_processor = dev_functions()
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(corpus("exif-orientation/Landscape_6.jpg"))
    heic = converted(["heif-enc", "-q", "50", "IN", "-o", "OUT"], src / "photo.jpg",
                     src / "photo.heic")
    images = {"photo.jpg": ("image/jpeg", (src / "photo.jpg").read_bytes()),
              "upright.heic": ("image/heic", with_irot(heic, 3)),  # 270° anticlockwise
              "plain.heic": ("image/heic", heic)}
    debian = process_uploads(dev_api, dev_processor, tmp_path / "debian", False, images, tmp_path)
    packaged = process_uploads(dev_api, unpacked_processor / "bootstrap", tmp_path / "packaged",
                               True, images, tmp_path)
    shown = {"photo.jpg": (1800, 1200), "upright.heic": (1800, 1200),
             # No irot: displayed as stored, whatever its EXIF says (ISO/IEC 23008-12).
             "plain.heic": (1200, 1800)}
    report = []
    for filename, (width, height) in shown.items():
        a, b = debian[filename], packaged[filename]
        assert a["status"] == "ready", (filename, a["answer"])
        assert b["status"] == "ready", (filename, b["answer"])
        for record in (a, b):
            assert (record["width"], record["height"]) == (width, height), (filename, record)
            assert sorted(record["variants"]) == ["medium", "thumb"], (filename, record)
            long_edge = {"thumb": 256, "medium": 1024}
            for name, variant in record["variants"].items():
                scale = long_edge[name] / max(width, height)
                assert variant["decoded"] == (round(width * scale), round(height * scale)), (
                    filename, name, variant)
        for field in ("format", "bit_depth", "bands", "has_alpha", "exif"):
            assert a.get(field) == b.get(field), (filename, field, a.get(field), b.get(field))
        gaps = {n: mean_sample_gap(a["variants"][n]["path"], b["variants"][n]["path"], tmp_path)
                for n in a["variants"]}
        report.append(f"{filename}: debian vs packaged, mean sample gap {gaps}")
        assert all(gap <= 6 for gap in gaps.values()), (filename, gaps)
    assert packaged["upright.heic"]["exif"]["orientation"] == 6
    # The right way up: the HEIC turned by its irot looks like the JPEG turned by its EXIF (two
    # lossy encodes of one photo), and not like the same turned any other way.
    for build in (debian, packaged):
        upright = {n: mean_sample_gap(build["upright.heic"]["variants"][n]["path"],
                                      build["photo.jpg"]["variants"][n]["path"], tmp_path)
                   for n in ("thumb", "medium")}
        report.append(f"upright.heic vs photo.jpg: mean sample gap {upright}")
        assert all(gap <= 12 for gap in upright.values()), upright
    print("\n".join(report))
