#!/usr/bin/env python3
"""Checks that every include in src/ goes down the rooms, never up (docs/adr/0005-rooms.md).

A static library only pulls in the objects a binary uses, so an upward dependency can link by
luck; this check makes the direction a rule. Exit 1 with each offending include."""

import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Each room and the rooms it may include (besides itself).
ALLOWED = {
    "base": set(),
    "codecs": {"base"},
    "domain": {"base", "codecs"},
    "services": {"base", "codecs", "domain"},
    "api": {"base", "codecs", "domain", "services"},
    "runtime": {"base", "codecs", "domain"},
    "aws": {"base", "codecs"},
    "imaging": {"base", "codecs", "domain"},
    "adapters": {"base", "codecs", "domain"},
    # The AWS adapters speak to S3 and DynamoDB through the AWS client.
    "adapters/aws": {"base", "codecs", "domain", "adapters", "aws"},
    "transport": {"base", "codecs", "domain", "services", "api"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/', re.M)

bad = []
for path in sorted(SRC.rglob("*.[ch]pp")):
    parts = path.relative_to(SRC).parts
    # A sub-room (a folder inside a room) may have rules of its own.
    room = "/".join(parts[:2]) if "/".join(parts[:2]) in ALLOWED else parts[0]
    if room not in ALLOWED:
        bad.append(f"{path}: in no known room (add it to scripts/check_rooms.py)")
        continue
    for target in INCLUDE.findall(path.read_text()):
        if target != room.split("/")[0] and target not in ALLOWED[room]:
            bad.append(f"{path.relative_to(SRC.parent)}: {room} includes {target}/")
for line in bad:
    print(line)
print(f"rooms: {'clean' if not bad else f'{len(bad)} upward include(s)'}")
sys.exit(1 if bad else 0)
