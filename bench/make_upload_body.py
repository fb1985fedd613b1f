#!/usr/bin/env python3
"""Builds the request bodies of the upload benchmark (bench/run.sh), standard library only.

Writes into OUT_DIR:
  upload.jpg   a real baseline JPEG of exactly --size bytes (default 204800 = 200 KiB)
  upload.json  the seed's JSON body {"filename", "content_type", "image_base64"} for that JPEG
  layout.txt   shell-sourceable offsets: RAW_OFFSET, RAW_LEN, B64_OFFSET, B64_LEN

The JPEG starts with SOI and then a COM (comment) segment whose payload begins at byte 6. Bytes
6..11 of the file (RAW_LEN = 6) are therefore COM payload, and because 6 is a multiple of 3 they
are exactly the base64 characters 8..15 of image_base64 (B64_LEN = 8). The wrk scripts overwrite
those bytes (nginx) / those base64 characters (imgup) from a per-request counter: any value is a
valid comment, so every request is still a valid JPEG, with a different SHA-256.

No image encoder is installed on the benchmark machine (no ImageMagick, Pillow or cjpeg), so the
JPEG is encoded here: the quantized DCT coefficients of a 4:4:4 YCbCr picture (a smooth colour
gradient with deterministic pseudo-random texture) are Huffman-coded with the standard tables
of ITU T.81 Annex K. Any JPEG decoder decodes it; the entropy-coded data (~188 KB) is what a
photo of this size would carry, and a COM segment pads the file to the exact size.
"""
import argparse
import base64
import json
import os
import random
import struct

# ITU T.81 Annex K.3: typical Huffman tables (luminance DC and AC), used for all components.
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
AC_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D]
AC_VALS = bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282"
    "090a161718191a25262728292a3435363738393a434445464748494a535455565758595a"
    "636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4"
    "a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3"
    "e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa")
# Annex K.1 luminance quantization table (zig-zag order is irrelevant: it is stored as given).
QUANT = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40,
         57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
         55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100,
         103, 99]


def huffman_codes(bits, vals):
    """Canonical Huffman codes: symbol -> (code, length)."""
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1-bits


def category(value):
    return abs(value).bit_length()


def encode_block(writer, coefs, prev_dc, dc_codes, ac_codes):
    diff = coefs[0] - prev_dc
    size = category(diff)
    writer.put(*dc_codes[size])
    if size:
        writer.put(diff if diff > 0 else diff + (1 << size) - 1, size)
    run = 0
    last = max((i for i in range(1, 64) if coefs[i]), default=0)
    for i in range(1, last + 1):
        if coefs[i] == 0:
            run += 1
            continue
        while run > 15:
            writer.put(*ac_codes[0xF0])  # ZRL
            run -= 16
        size = category(coefs[i])
        writer.put(*ac_codes[(run << 4) | size])
        writer.put(coefs[i] if coefs[i] > 0 else coefs[i] + (1 << size) - 1, size)
        run = 0
    if last < 63:
        writer.put(*ac_codes[0x00])  # EOB
    return coefs[0]


def entropy_data(width, height, ac_count, seed):
    rng = random.Random(seed)
    dc_codes = huffman_codes(DC_BITS, DC_VALS)
    ac_codes = huffman_codes(AC_BITS, AC_VALS)
    writer = BitWriter()
    prev = [0, 0, 0]
    bw, bh = width // 8, height // 8
    for by in range(bh):
        for bx in range(bw):
            fx, fy = bx / bw, by / bh
            # DC in quantized units (x16 / 8 = pixel offset from 128): a smooth gradient.
            dcs = [round(50 * (fx + fy) - 50), round(30 * fx - 15), round(30 * fy - 15)]
            for c in range(3):
                coefs = [0] * 64
                coefs[0] = dcs[c]
                count = ac_count if c == 0 else ac_count // 3
                for i in range(1, count + 1):
                    amplitude = max(1, 12 // i)
                    coefs[i] = rng.randint(-amplitude, amplitude)
                prev[c] = encode_block(writer, coefs, prev[c], dc_codes, ac_codes)
    writer.flush()
    return bytes(writer.out)


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def build_jpeg(size, width, height, ac_count, seed):
    # No JFIF APP0 (it would have to come before the COM): components 1, 2, 3 mean YCbCr.
    tables = (
        segment(0xDB, b"\x00" + bytes(QUANT))
        + segment(0xC0, struct.pack(">BHHB", 8, height, width, 3)
                  + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00")
        + segment(0xC4, b"\x00" + bytes(DC_BITS) + bytes(DC_VALS))
        + segment(0xC4, b"\x10" + bytes(AC_BITS) + AC_VALS)
        + segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"))
    scan = entropy_data(width, height, ac_count, seed)
    fixed = 2 + 4 + len(tables) + len(scan) + 2  # SOI, COM header, ..., EOI
    pad = size - fixed
    if not 6 <= pad <= 65533:
        raise SystemExit(f"cannot pad to {size} bytes: entropy data is {len(scan)} bytes "
                         f"(COM payload would be {pad}); change --ac-count")
    head = b"imgup-bench COM: bytes 6..11 of the file vary per request. "
    comment = (b"\x00" * 6 + head + b"." * pad)[:pad]
    return b"\xff\xd8" + segment(0xFE, comment) + tables + scan + b"\xff\xd9"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--size", type=int, default=200 * 1024)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=768)
    parser.add_argument("--ac-count", type=int, default=18)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()

    jpeg = build_jpeg(args.size, args.width, args.height, args.ac_count, args.seed)
    assert len(jpeg) == args.size
    raw_offset, raw_len = 6, 6
    assert jpeg[2:4] == b"\xff\xfe" and raw_offset + raw_len <= 4 + struct.unpack(">H", jpeg[4:6])[0]

    prefix = '{"filename":"bench.jpg","content_type":"image/jpeg","image_base64":"'
    body = prefix + base64.b64encode(jpeg).decode("ascii") + '"}'
    json.loads(body)  # well-formed
    b64_offset, b64_len = len(prefix) + raw_offset // 3 * 4, raw_len // 3 * 4

    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "upload.jpg"), "wb") as f:
        f.write(jpeg)
    with open(os.path.join(args.out_dir, "upload.json"), "w", encoding="ascii") as f:
        f.write(body)
    with open(os.path.join(args.out_dir, "layout.txt"), "w", encoding="ascii") as f:
        f.write(f"RAW_OFFSET={raw_offset}\nRAW_LEN={raw_len}\n"
                f"B64_OFFSET={b64_offset}\nB64_LEN={b64_len}\n"
                f"JPEG_BYTES={len(jpeg)}\nJSON_BYTES={len(body)}\n")


if __name__ == "__main__":
    main()
