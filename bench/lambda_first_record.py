#!/usr/bin/env python3
"""What the processor function's first record costs over the next ones: the pixel worker (and
libvips in it) starts at the first record, not at init. N fresh processor emulators beside one
API function on a local data directory; each processes three new uploads of the seed's 4x4 PNG
(made distinct by a tEXt chunk). Prints the emulator's REPORT Duration of the first and of the
later records, medians over the N instances.

  bench/lambda_first_record.py [N=10]     # after `make lambda-tools` and a build
"""

from __future__ import annotations

import os
import re
import statistics
import struct
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/lambda"))
from rie import Emulator, rie_bin  # noqa: E402
from test_processor_function import SEED_PNG, s3_put, upload  # noqa: E402

_DURATION = re.compile(r"^REPORT RequestId: \S+.*?\tDuration: ([0-9.]+) ms", re.M)


def distinct_png(n: int) -> bytes:
    text = b"imgup\x00" + str(n).encode()
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return SEED_PNG[:33] + chunk + SEED_PNG[33:]  # after the signature and IHDR


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    api_bin = Path(os.environ.get("IMGUP_LAMBDA_API_BIN", ROOT / "build/dev/imgup-lambda-api"))
    processor_bin = Path(os.environ.get("IMGUP_LAMBDA_PROCESSOR_BIN",
                                        ROOT / "build/dev/imgup-lambda-processor"))
    if not api_bin.exists() or not processor_bin.exists() or not rie_bin().exists():
        print("need both functions and aws-lambda-rie (make build lambda-tools)", file=sys.stderr)
        return 2
    first, later = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = {"IMGUP_STORAGE": "local", "IMGUP_DATA_DIR": str(Path(tmp) / "data"), "TMPDIR": tmp}
        (Path(tmp) / "api").mkdir()
        api = Emulator(api_bin, Path(tmp) / "api", env)
        try:
            count = 0
            for i in range(n):
                workdir = Path(tmp) / f"processor{i}"
                workdir.mkdir()
                processor = Emulator(processor_bin, workdir, env)
                try:
                    for _ in range(3):
                        count += 1
                        record = upload(api, distinct_png(count))
                        answer = processor.invoke(s3_put(record["key"])).json()
                        assert answer["records"][0]["outcome"] == "ready", answer
                    durations = [float(d) for d in _DURATION.findall(processor.log())]
                    assert len(durations) == 3, processor.log()
                finally:
                    processor.stop()
                first.append(durations[0])
                later.extend(durations[1:])
        finally:
            api.stop()
    print(f"imgup-lambda-processor REPORT Duration, {n} fresh instances, 3 records each (4x4 PNG):")
    print(f"  first record  median {statistics.median(first):.1f} ms  min {min(first):.1f}  "
          f"max {max(first):.1f}")
    print(f"  later records median {statistics.median(later):.1f} ms  min {min(later):.1f}  "
          f"max {max(later):.1f}  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
