// Test images made here, byte by byte, so that the tests need no binary files of their own:
// a tiny PNG encoder, and a camera EXIF block written into a JPEG from the shared corpora.
import { deflateSync } from "node:zlib";

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * An 8-bit RGB PNG of width x height; `pixel(x, y)` gives [r, g, b]. Options: `keepRows` stores
 * only the first rows (a sound header over pixel data that stops short: it fails to decode),
 * `padding` adds a private ancillary chunk of that many bytes (decoders skip it) to reach a size.
 */
export function makePng(width, height, pixel, { keepRows = height, padding = 0 } = {}) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc(height * (1 + 3 * width));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + 3 * width); // each row starts with filter type 0
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), row + 1 + 3 * x);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    // "paDd": ancillary (p), private (a), reserved bit clear (D), safe to copy (d).
    ...(padding > 0 ? [chunk("paDd", Buffer.alloc(padding, 0x5a))] : []),
    chunk("IDAT", deflateSync(rows.subarray(0, keepRows * (1 + 3 * width)))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** A small PNG made `bytes` long exactly (with a padding chunk); `seed` makes its pixels its own. */
export function pngOfSize(bytes, seed) {
  const pixel = (x, y) => [(x * 7 + seed) & 255, (y * 13 + seed * 3) & 255, (seed * 29) & 255];
  const bare = makePng(16, 16, pixel).length;
  if (bytes < bare + 13) throw new Error(`a PNG of ${bytes} bytes is too small to pad`);
  const png = makePng(16, 16, pixel, { padding: bytes - bare - 12 });
  if (png.length !== bytes) throw new Error(`pngOfSize: ${png.length} bytes, not ${bytes}`);
  return png;
}

// ---- EXIF -------------------------------------------------------------------------------------
const ASCII = 2, SHORT = 3, LONG = 4, RATIONAL = 5;

const ascii = (tag, text) => ({ tag, type: ASCII, count: text.length + 1, data: Buffer.from(`${text}\0`, "latin1") });
const short = (tag, value) => ({ tag, type: SHORT, count: 1, inline: value });
const rational = (tag, num, den) => {
  const data = Buffer.alloc(8);
  data.writeUInt32BE(num, 0);
  data.writeUInt32BE(den, 4);
  return { tag, type: RATIONAL, count: 1, data };
};

/** One big-endian TIFF IFD at `offset`: its table, then the values that do not fit inline. */
function ifd(entries, offset) {
  entries = [...entries].sort((a, b) => a.tag - b.tag);
  const table = Buffer.alloc(2 + 12 * entries.length + 4);
  table.writeUInt16BE(entries.length, 0);
  let dataOffset = offset + table.length;
  const data = [];
  entries.forEach((e, i) => {
    const at = 2 + 12 * i;
    table.writeUInt16BE(e.tag, at);
    table.writeUInt16BE(e.type, at + 2);
    table.writeUInt32BE(e.count, at + 4);
    if (e.data && e.data.length > 4) {
      table.writeUInt32BE(dataOffset, at + 8);
      data.push(e.data);
      dataOffset += e.data.length + (e.data.length % 2); // values start on word boundaries
      if (e.data.length % 2) data.push(Buffer.alloc(1));
    } else if (e.data) {
      e.data.copy(table, at + 8);
    } else if (e.type === SHORT) {
      table.writeUInt16BE(e.inline, at + 8);
    } else {
      table.writeUInt32BE(e.inline, at + 8);
    }
  });
  return Buffer.concat([table, ...data]);
}

/**
 * `jpeg` with its EXIF replaced by a camera's: make, model, lens, the time taken, exposure,
 * aperture, ISO and focal length (orientation 1).
 */
export function withCameraExif(jpeg, camera) {
  const exifEntries = [
    rational(0x829a, 1, camera.exposureDenominator), // ExposureTime
    rational(0x829d, Math.round(camera.fNumber * 10), 10), // FNumber
    short(0x8827, camera.iso), // PhotographicSensitivity
    ascii(0x9003, camera.takenAt), // DateTimeOriginal "YYYY:MM:DD HH:MM:SS"
    rational(0x920a, Math.round(camera.focalLengthMm * 10), 10), // FocalLength
    ascii(0xa434, camera.lens), // LensModel
  ];
  const ifd0Entries = (exifOffset) => [
    ascii(0x010f, camera.make),
    ascii(0x0110, camera.model),
    short(0x0112, 1), // Orientation: as stored
    { tag: 0x8769, type: LONG, count: 1, inline: exifOffset }, // the Exif IFD
  ];
  const ifd0Length = ifd(ifd0Entries(0), 8).length;
  const tiff = Buffer.concat([
    Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x08]), // "MM", 42, IFD0 at 8
    ifd(ifd0Entries(8 + ifd0Length), 8),
    ifd(exifEntries, 8 + ifd0Length),
  ]);
  const payload = Buffer.concat([Buffer.from("Exif\0\0", "latin1"), tiff]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);

  // Keep every segment but the old EXIF APP1; put the new one right after SOI.
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error("not a JPEG");
  const kept = [];
  let at = 2;
  while (at < jpeg.length) {
    if (jpeg[at] !== 0xff) throw new Error(`bad JPEG segment at ${at}`);
    const marker = jpeg[at + 1];
    if (marker === 0xda) {
      kept.push(jpeg.subarray(at)); // start of scan: the rest is image data
      break;
    }
    const length = jpeg.readUInt16BE(at + 2);
    const segment = jpeg.subarray(at, at + 2 + length);
    const isExif = marker === 0xe1 && segment.subarray(4, 10).toString("latin1") === "Exif\0\0";
    if (!isExif) kept.push(segment);
    at += 2 + length;
  }
  return Buffer.concat([jpeg.subarray(0, 2), app1, payload, ...kept]);
}
