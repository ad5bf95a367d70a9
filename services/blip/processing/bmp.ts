/**
 * BMP and DIB (the bitmaps inside ICO files) decoded to RGB exactly as Pillow's `BmpImagePlugin` +
 * `convert("RGB")` give them: 1/4/8-bit palettes (BGRX or, for OS/2 headers, BGR entries), RLE8 and RLE4,
 * 16-bit 5-5-5 and 5-6-5 (Pillow's `BGR;15`/`BGR;16`: `v * 255 / 31`), 24-bit, 32-bit with the bit-field
 * layouts Pillow accepts (alpha dropped), bottom-up and top-down rows.
 *
 * No npm decoder reproduces these rules (the maintained ones skip RLE, top-down rows or 16-bit, or widen
 * 5-bit channels by shifting), so the format's few rules are written out here, following Pillow's reader.
 */
import { ImageInputError } from './errors.js';
import type { RgbImage } from './resample.js';

const COMPRESSION = { RAW: 0, RLE8: 1, RLE4: 2, BITFIELDS: 3 } as const;

/** 32-bit channel masks Pillow reads (r, g, b, a); any other layout is refused as Pillow refuses it. */
const SUPPORTED_32 = [
  [0xff0000, 0xff00, 0xff, 0x0],
  [0xff000000, 0xff0000, 0xff00, 0x0],
  [0xff000000, 0xff0000, 0xff00, 0xff],
  [0xff, 0xff00, 0xff0000, 0xff000000],
  [0xff0000, 0xff00, 0xff, 0xff000000],
] as const;
const MASK_565 = [0xf800, 0x7e0, 0x1f] as const;
const MASK_555 = [0x7c00, 0x3e0, 0x1f] as const;

export interface BitmapHeader {
  width: number;
  height: number;
  /** True when rows are stored top row first (negative height). */
  topDown: boolean;
  bits: number;
  compression: number;
  /** Byte offset (in the whole buffer) of the pixel data. */
  dataOffset: number;
  /** Palette as RGB triples, for 1/4/8-bit images. */
  palette?: Uint8Array;
  /** Byte index of R, G, B within a 32-bit pixel. */
  byteOrder32?: readonly [number, number, number];
  /** 16-bit layout: 5-6-5 or 5-5-5. */
  is565?: boolean;
}

function corrupt(format: string, why: string): ImageInputError {
  return new ImageInputError('corrupt', `the ${format} image is corrupt: ${why}`);
}

function unsupported(format: string, why: string): ImageInputError {
  return new ImageInputError('unsupported_format', `this ${format} image cannot be decoded: ${why}`);
}

function sameMasks(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Read a bitmap info header that starts at `start`. `fileOffset` is the BMP file header's pixel-data
 * offset (0 for a DIB, whose pixels follow the palette).
 */
export function readBitmapHeader(bytes: Uint8Array, start: number, fileOffset: number, format: string): BitmapHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (start + 16 > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (inside its header)`);
  const headerSize = view.getUint32(start, true);
  let p = start + 4;
  let width: number;
  let height: number;
  let bits: number;
  let compression: number = COMPRESSION.RAW;
  let colours = 0;
  let paletteEntryBytes = 3;
  let topDown = false;
  let masks: number[] | undefined;
  if (headerSize === 12) {
    width = view.getUint16(p, true);
    height = view.getUint16(p + 2, true);
    bits = view.getUint16(p + 6, true);
    p += 8;
  } else if ([40, 52, 56, 64, 108, 124].includes(headerSize)) {
    if (start + headerSize > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (inside its header)`);
    width = view.getInt32(p, true);
    const rawHeight = view.getInt32(p + 4, true);
    topDown = rawHeight < 0;
    height = Math.abs(rawHeight);
    bits = view.getUint16(p + 10, true);
    compression = view.getUint32(p + 12, true);
    colours = view.getUint32(p + 28, true);
    paletteEntryBytes = 4;
    p = start + headerSize;
    if (compression === COMPRESSION.BITFIELDS) {
      if (headerSize >= 52) {
        masks = [0, 1, 2, 3].map((i) => view.getUint32(start + 40 + 4 * i, true));
      } else {
        if (p + 12 > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (inside its bit masks)`);
        masks = [0, 1, 2].map((i) => view.getUint32(p + 4 * i, true));
        masks.push(0);
        p += 12;
      }
    }
  } else {
    throw unsupported(format, `its header type (${headerSize} bytes) is not a BMP header Pillow reads`);
  }
  if (width <= 0 || height <= 0) throw corrupt(format, `it declares ${width}x${height} pixels`);
  if (colours === 0) colours = 2 ** bits;
  const header: BitmapHeader = { width, height, topDown, bits, compression, dataOffset: 0 };

  if (compression === COMPRESSION.BITFIELDS) {
    const m = masks ?? [];
    if (bits === 32 && m[0] === 0 && m[1] === 0 && m[2] === 0 && m[3] === 0) header.byteOrder32 = [2, 1, 0];
    else if (bits === 32 && SUPPORTED_32.some((s) => sameMasks(m, s))) {
      header.byteOrder32 = [m[0]!, m[1]!, m[2]!].map((mask) => Math.log2(mask) >> 3) as unknown as [number, number, number];
    } else if (bits === 24 && sameMasks(m.slice(0, 3), [0xff0000, 0xff00, 0xff])) {
      header.compression = COMPRESSION.RAW;
    } else if (bits === 16 && sameMasks(m.slice(0, 3), MASK_565)) header.is565 = true;
    else if (bits === 16 && sameMasks(m.slice(0, 3), MASK_555)) header.is565 = false;
    else throw unsupported(format, `its ${bits}-bit channel masks are not a layout Pillow reads`);
  } else if (compression === COMPRESSION.RAW) {
    if (bits === 32) header.byteOrder32 = [2, 1, 0];
    if (bits === 16) header.is565 = false;
  } else if (compression === COMPRESSION.RLE8 || compression === COMPRESSION.RLE4) {
    if (bits !== (compression === COMPRESSION.RLE8 ? 8 : 4)) {
      throw corrupt(format, `RLE${compression === COMPRESSION.RLE8 ? 8 : 4} compression with ${bits} bits per pixel`);
    }
  } else {
    throw unsupported(format, `its compression (${compression}, e.g. embedded JPEG or PNG) is not read`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bits)) throw unsupported(format, `its pixel depth (${bits} bits) is not read`);

  if (bits <= 8) {
    if (!(colours > 0 && colours <= 65536)) throw corrupt(format, `its palette size (${colours}) is invalid`);
    const used = Math.min(colours, 256);
    const palette = new Uint8Array(256 * 3);
    if (p + paletteEntryBytes * colours > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (inside its palette)`);
    for (let i = 0; i < used; i++) {
      const o = p + i * paletteEntryBytes;
      palette[3 * i] = bytes[o + 2]!;
      palette[3 * i + 1] = bytes[o + 1]!;
      palette[3 * i + 2] = bytes[o]!;
    }
    header.palette = palette;
    p += paletteEntryBytes * colours;
  }
  // Pillow: a file offset pointing right after the header of a paletted image is taken to skip the palette.
  let offset = fileOffset;
  if (offset !== 0 && offset === 14 + headerSize && bits <= 8) offset += 4 * colours;
  header.dataOffset = offset || p;
  return header;
}

/** Expand RLE8/RLE4 data into one index per pixel, rows in file order, as Pillow's `BmpRleDecoder`. */
function expandRle(bytes: Uint8Array, header: BitmapHeader, format: string): Uint8Array {
  const { width, height } = header;
  const rle4 = header.compression === COMPRESSION.RLE4;
  const total = width * height;
  const out = new Uint8Array(total);
  let n = 0;
  let x = 0;
  let p = header.dataOffset;
  const push = (v: number) => {
    if (n < total) out[n] = v;
    n++;
  };
  while (n < total) {
    if (p + 2 > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (its RLE data ends early)`);
    const count = bytes[p]!;
    const value = bytes[p + 1]!;
    p += 2;
    if (count > 0) {
      const runs = x + count > width ? Math.max(0, width - x) : count;
      for (let i = 0; i < runs; i++) push(rle4 ? (i % 2 === 0 ? value >> 4 : value & 0x0f) : value);
      x += runs;
    } else if (value === 0) {
      while (n % width !== 0) push(0);
      x = 0;
    } else if (value === 1) {
      break;
    } else if (value === 2) {
      if (p + 2 > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (its RLE data ends early)`);
      const skip = bytes[p]! + bytes[p + 1]! * width;
      p += 2;
      for (let i = 0; i < skip; i++) push(0);
      x = n % width;
    } else {
      // Pillow reads value / 2 bytes (rounded down) for an RLE4 run, two pixels per byte, as here.
      const byteCount = rle4 ? value >> 1 : value;
      if (p + byteCount > bytes.length) throw new ImageInputError('truncated', `the ${format} image is truncated (its RLE data ends early)`);
      for (let i = 0; i < byteCount; i++) {
        const b = bytes[p + i]!;
        if (rle4) {
          push(b >> 4);
          push(b & 0x0f);
        } else push(b);
      }
      p += byteCount;
      x += value;
      // Runs are aligned to 16-bit words of the file.
      if (p % 2 !== 0) p += 1;
    }
  }
  return out;
}

/** Decode the pixels described by `header` (from `readBitmapHeader`) into RGB, top row first. */
export function decodeBitmapPixels(bytes: Uint8Array, header: BitmapHeader, format: string): RgbImage {
  const { width, height, bits, palette } = header;
  const rgb = new Uint8Array(width * height * 3);
  const rowOf = (fileRow: number) => (header.topDown ? fileRow : height - 1 - fileRow);
  if (header.compression === COMPRESSION.RLE8 || header.compression === COMPRESSION.RLE4) {
    const indices = expandRle(bytes, header, format);
    for (let r = 0; r < height; r++) {
      const o = rowOf(r) * width * 3;
      for (let c = 0; c < width; c++) {
        const k = 3 * indices[r * width + c]!;
        rgb.set(palette!.subarray(k, k + 3), o + 3 * c);
      }
    }
    return { data: rgb, width, height };
  }
  const stride = ((width * bits + 31) >> 3) & ~3;
  if (header.dataOffset + stride * height > bytes.length) {
    throw new ImageInputError('truncated', `the ${format} image is truncated (the file ends before its pixel data does)`);
  }
  const [rByte, gByte, bByte] = header.byteOrder32 ?? [2, 1, 0];
  for (let r = 0; r < height; r++) {
    const src = header.dataOffset + r * stride;
    let o = rowOf(r) * width * 3;
    for (let c = 0; c < width; c++, o += 3) {
      if (bits <= 8) {
        const perByte = 8 / bits;
        const byte = bytes[src + Math.floor(c / perByte)]!;
        const shift = 8 - bits * ((c % perByte) + 1);
        const k = 3 * ((byte >> shift) & ((1 << bits) - 1));
        rgb[o] = palette![k]!;
        rgb[o + 1] = palette![k + 1]!;
        rgb[o + 2] = palette![k + 2]!;
      } else if (bits === 16) {
        const v = bytes[src + 2 * c]! | (bytes[src + 2 * c + 1]! << 8);
        if (header.is565) {
          rgb[o] = Math.floor((((v >> 11) & 31) * 255) / 31);
          rgb[o + 1] = Math.floor((((v >> 5) & 63) * 255) / 63);
        } else {
          rgb[o] = Math.floor((((v >> 10) & 31) * 255) / 31);
          rgb[o + 1] = Math.floor((((v >> 5) & 31) * 255) / 31);
        }
        rgb[o + 2] = Math.floor(((v & 31) * 255) / 31);
      } else if (bits === 24) {
        const s = src + 3 * c;
        rgb[o] = bytes[s + 2]!;
        rgb[o + 1] = bytes[s + 1]!;
        rgb[o + 2] = bytes[s]!;
      } else {
        const s = src + 4 * c;
        rgb[o] = bytes[s + rByte]!;
        rgb[o + 1] = bytes[s + gByte]!;
        rgb[o + 2] = bytes[s + bByte]!;
      }
    }
  }
  return { data: rgb, width, height };
}

/** A `.bmp` file: the 14-byte file header, then a bitmap. */
export function readBmpHeader(bytes: Uint8Array): BitmapHeader {
  if (bytes.length < 18 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw corrupt('bmp', 'it does not start with a BMP file header');
  const fileOffset = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(10, true);
  return readBitmapHeader(bytes, 14, fileOffset, 'bmp');
}
