/**
 * HEIC/HEIF through libheif compiled to WebAssembly (`heic-decode`): the first top-level image, with the
 * file's rotation and mirroring (`irot`/`imir`) applied by libheif, 8-bit RGB (10-bit images are reduced
 * to 8 bits by libheif). The declared size is checked before any pixel is decoded.
 */
import heicDecode from 'heic-decode';
import { ImageInputError, tooManyPixels } from './errors.js';
import type { RgbImage } from './resample.js';

function firstLine(cause: unknown): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  return message.split('\n')[0] ?? message;
}

/** An ISO-BMFF file is a sequence of sized boxes: one that runs past the end of the file was cut short. */
function boxRunsPastEnd(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  while (p + 8 <= bytes.length) {
    let size = view.getUint32(p);
    if (size === 1 && p + 16 <= bytes.length) size = Number(view.getBigUint64(p + 8));
    if (size === 0) return false;
    if (size < 8) return false;
    p += size;
  }
  return p > bytes.length;
}

/**
 * libheif-js reports a failed decode with `console.log("Decoding image failed", handle, error)`, which would
 * land on stdout (the CLI's JSON lines, the worker's log stream). While a decode runs, that one message is
 * kept off stdout and its reason goes into the error instead; every other console.log passes through.
 */
let decodesRunning = 0;
let lastFailure: string | undefined;
let passThrough: typeof console.log = console.log;
function libheifReport(...args: unknown[]): void {
  if (args[0] !== 'Decoding image failed') return passThrough(...args);
  const message = (args[2] as { message?: unknown } | undefined)?.message;
  lastFailure = typeof message === 'string' ? message.trim() : 'libheif could not decode it';
}

async function quietly<T>(run: () => Promise<T>): Promise<T> {
  if (decodesRunning++ === 0) {
    passThrough = console.log;
    console.log = libheifReport;
  }
  try {
    return await run();
  } finally {
    if (--decodesRunning === 0) console.log = passThrough;
  }
}

export async function decodeHeic(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  if (boxRunsPastEnd(bytes)) {
    throw new ImageInputError('truncated', 'the heic image is truncated (the file ends before its pixel data does)');
  }
  let images: Awaited<ReturnType<typeof heicDecode.all>>;
  try {
    images = await heicDecode.all({ buffer: bytes });
  } catch (cause) {
    throw new ImageInputError('corrupt', `the heic image is corrupt: ${firstLine(cause)}`, { cause });
  }
  try {
    const first = images[0];
    if (!first) throw new ImageInputError('corrupt', 'the heic image is corrupt: it holds no image');
    if (!(first.width > 0 && first.height > 0)) throw new ImageInputError('corrupt', 'the heic image header declares no dimensions');
    if (first.width * first.height > maxPixels) {
      throw tooManyPixels(first.width, first.height, maxPixels);
    }
    let decoded: Awaited<ReturnType<typeof first.decode>>;
    try {
      lastFailure = undefined;
      decoded = await quietly(() => first.decode());
    } catch (cause) {
      const reason = lastFailure ?? firstLine(cause);
      if (/unexpected end of file/i.test(reason)) {
        throw new ImageInputError('truncated', `the heic image is truncated (${reason})`, { cause });
      }
      throw new ImageInputError('corrupt', `the heic image is corrupt: ${reason}`, { cause });
    }
    const { width, height, data } = decoded;
    const n = width * height;
    const rgb = new Uint8Array(n * 3);
    for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
      rgb[o] = data[s]!;
      rgb[o + 1] = data[s + 1]!;
      rgb[o + 2] = data[s + 2]!;
    }
    return { data: rgb, width, height };
  } finally {
    images.dispose();
  }
}
