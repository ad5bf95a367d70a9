import { fileTypeFromBuffer } from 'file-type';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { type BitmapHeader, decodeBitmapPixels, readBmpHeader } from './bmp.js';
import { ImageInputError, tooManyPixels } from './errors.js';
import { type GifFirstFrame, gifFirstFrame, type Rgb } from './gif.js';
import { decodeHeic } from './heic.js';
import { pickIcoEntry, readIcoBitmapHeader } from './ico.js';
import type { RgbImage } from './resample.js';

/** Bounds applied before any pixel is decoded. */
export interface ImageLimits {
  /** Largest accepted encoded file, in bytes. */
  maxBytes: number;
  /** Largest accepted declared width x height (first frame) decoded at full size, checked from the header. */
  maxPixels: number;
  /**
   * Largest accepted declared width x height of a JPEG larger than `maxPixels`: it is decoded shrunk on load
   * (1/2, 1/4 or 1/8, the least that fits `maxPixels`), keeping both sides at least `DecodeOptions.minSide`.
   * @default 268435456 (16384 x 16384)
   */
  maxShrinkPixels?: number;
}

/** 64 MiB of encoded bytes, 40 megapixels decoded, JPEGs up to 256 megapixels shrunk on load. */
export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxShrinkPixels: 16384 * 16384,
});

export interface DecodeOptions {
  /** A JPEG shrunk on load keeps both sides at least this long (twice the model input). @default 768 */
  minSide?: number;
}

export interface SniffedType {
  /** File extension style name from content sniffing, e.g. `jpg`, `png`, `webp`, `avif`, `gif`, `tif`, `heic`. */
  format: string;
  mime: string;
}

/** Raster formats this runtime decodes (by sniffed extension). */
const DECODABLE = new Set(['jpg', 'png', 'apng', 'webp', 'avif', 'gif', 'tif', 'heic', 'bmp', 'ico']);

/**
 * Identify an encoded file by its content (magic numbers), not its name.
 * Returns undefined when the content is not a recognised binary format (text, SVG, empty...).
 */
export async function sniffImageType(bytes: Uint8Array): Promise<SniffedType | undefined> {
  if (bytes.length === 0) return undefined;
  const result = await fileTypeFromBuffer(bytes);
  return result ? { format: result.ext, mime: result.mime } : undefined;
}

export interface DecodedImage {
  /** The pixels the model sees before resizing: full size, or shrunk on load for very large JPEGs. */
  rgb: RgbImage;
  /** Sniffed format and the image's full size after orientation. */
  source: { format: string; width: number; height: number };
  /** The EXIF orientation tag that was applied (1 when absent; HEIC's irot/imir are applied by libheif). */
  orientation: number;
}

function describeBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

const TRUNCATION = /premature end|truncat|unexpected end|end of (file|stream|data|input)|not enough data|incomplete|short read/i;

const PNG_IEND = Buffer.from('IEND', 'ascii');

/** libpng reports truncation and corruption alike ("read error"); a PNG without its end chunk was cut short. */
function pngLacksEnd(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).lastIndexOf(PNG_IEND) < 0;
}

/** A RIFF (WebP) file declares its length in its header: shorter means it was cut. */
function riffShorterThanDeclared(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return true;
  const declared = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(4) + 8;
  return bytes.length < declared;
}

function looksCut(format: string, bytes: Uint8Array): boolean {
  if (format === 'png') return pngLacksEnd(bytes);
  if (format === 'webp') return riffShorterThanDeclared(bytes);
  return false;
}

function classifyDecodeFailure(format: string, cause: unknown, bytes: Uint8Array): ImageInputError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/pixel limit/i.test(message)) {
    return new ImageInputError('too_many_pixels', `the ${format} image has more pixels than allowed`, { cause });
  }
  if (TRUNCATION.test(message) || looksCut(format, bytes)) {
    return new ImageInputError('truncated', `the ${format} image is truncated (the file ends before its pixel data does)`, {
      cause,
    });
  }
  const firstLine = message.split('\n')[0] ?? message;
  return new ImageInputError('corrupt', `the ${format} image is corrupt: ${firstLine}`, { cause });
}

/** Bitmaps (BMP, and ICO's bitmap entries) are bounded by the header before any pixel is read. */
function decodeBitmap(bytes: Uint8Array, header: BitmapHeader, format: string, limits: ImageLimits): RgbImage {
  if (header.width * header.height > limits.maxPixels) throw tooManyPixels(header.width, header.height, limits.maxPixels);
  return decodeBitmapPixels(bytes, header, format);
}

/**
 * The JPEG shrink-on-load factor for an image of `width` x `height` (after orientation): the least of 2, 4
 * and 8 whose result fits `maxPixels` with both sides at least `minSide`; undefined when none does.
 */
export function jpegShrinkFactor(width: number, height: number, maxPixels: number, minSide: number): number | undefined {
  for (const factor of [2, 4, 8]) {
    const w = Math.ceil(width / factor);
    const h = Math.ceil(height / factor);
    if (Math.min(w, h) < minSide) return undefined;
    if (w * h <= maxPixels) return factor;
  }
  return undefined;
}

/**
 * Decode an encoded image into 8-bit RGB exactly as Pillow's `Image.open(...).convert("RGB")` sees it,
 * after EXIF auto-orientation:
 * - alpha is dropped, not composited (the stored colour under transparent pixels is kept); a GIF's
 *   transparent pixels and the canvas outside its first frame take the palette colour of the frame's
 *   transparent index (index 0 without one), as Pillow gives them;
 * - grayscale is replicated into three channels, palettes are expanded;
 * - 16-bit single-channel grayscale is clipped to 255 (Pillow's `I;16` -> `RGB`), other 16-bit
 *   images keep their high byte (Pillow's `;16B` unpackers);
 * - embedded ICC profiles are not applied (Pillow does not apply them either); CMYK is converted
 *   arithmetically as Pillow's `cmyk2rgb` does;
 * - animated images give their first frame; BMP as Pillow's `BmpImagePlugin` (bmp.ts); ICO its largest,
 *   deepest entry; HEIC/HEIF its first image through libheif (heic.ts);
 * - a JPEG above `limits.maxPixels` (up to `limits.maxShrinkPixels`) is decoded shrunk on load to 1/2, 1/4
 *   or 1/8 (`jpegShrinkFactor`), never below `options.minSide` on either side.
 */
export async function decodeImage(
  bytes: Uint8Array,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
  options: DecodeOptions = {},
): Promise<DecodedImage> {
  if (bytes.length === 0) throw new ImageInputError('empty', 'the image file is empty (0 bytes)');
  if (bytes.length > limits.maxBytes) {
    throw new ImageInputError(
      'too_large',
      `the image file is ${describeBytes(bytes.length)}, more than the limit of ${describeBytes(limits.maxBytes)}`,
    );
  }
  const sniffed = await sniffImageType(bytes);
  if (!sniffed) {
    throw new ImageInputError('not_an_image', 'the file is not an image (its content matches no raster image format)');
  }
  if (!sniffed.mime.startsWith('image/')) {
    throw new ImageInputError('not_an_image', `the file is not an image (its content is ${sniffed.mime})`);
  }
  if (!DECODABLE.has(sniffed.format)) {
    throw new ImageInputError(
      'unsupported_format',
      `${sniffed.mime} images are not supported (use JPEG, PNG, WebP, AVIF, GIF, TIFF, BMP, ICO or HEIC)`,
    );
  }
  const format = sniffed.format === 'apng' ? 'png' : sniffed.format;
  const whole = (rgb: RgbImage, orientation = 1): DecodedImage => ({ rgb, source: { format, width: rgb.width, height: rgb.height }, orientation });
  if (format === 'bmp') return whole(decodeBitmap(bytes, readBmpHeader(bytes), format, limits));
  if (format === 'heic') return whole(await decodeHeic(bytes, limits.maxPixels));
  if (format === 'ico') {
    const entry = pickIcoEntry(bytes);
    if (!entry.png) return whole(decodeBitmap(bytes, readIcoBitmapHeader(bytes, entry), format, limits));
    const png = bytes.subarray(entry.offset, entry.offset + entry.size);
    try {
      const decoded = await decodeWithSharp(png, 'png', limits, options);
      return { ...decoded, source: { ...decoded.source, format } };
    } catch (error) {
      if (!(error instanceof ImageInputError)) throw error;
      throw new ImageInputError(error.code, error.message.replace('the png image', "the ico image's PNG entry"), { cause: error });
    }
  }
  return decodeWithSharp(bytes, format, limits, options);
}

/** The formats libvips reads: JPEG, PNG, WebP, AVIF, GIF, TIFF (and PNG entries of ICO files). */
async function decodeWithSharp(bytes: Uint8Array, format: string, limits: ImageLimits, options: DecodeOptions): Promise<DecodedImage> {
  const inputOptions: SharpOptions = {
    failOn: 'error',
    limitInputPixels: limits.maxPixels,
    ignoreIcc: true,
    pages: 1,
    page: 0,
  };

  // Header only: reject decompression bombs before any pixel is decoded.
  // (metadata reads the header only; the pixel limit is enforced again by libvips when decoding).
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { ...inputOptions, limitInputPixels: false }).metadata();
  } catch (cause) {
    throw classifyDecodeFailure(format, cause, bytes);
  }
  const declaredWidth = meta.width;
  const declaredHeight = meta.pageHeight ?? meta.height;
  if (!declaredWidth || !declaredHeight) {
    throw new ImageInputError('corrupt', `the ${format} image header declares no dimensions`);
  }
  const orientation = meta.orientation ?? 1;
  const [width, height] = orientation >= 5 ? [declaredHeight, declaredWidth] : [declaredWidth, declaredHeight];
  let shrink: { width: number; height: number } | undefined;
  if (declaredWidth * declaredHeight > limits.maxPixels) {
    const maxShrinkPixels = limits.maxShrinkPixels ?? DEFAULT_IMAGE_LIMITS.maxShrinkPixels!;
    const factor =
      format === 'jpg' && declaredWidth * declaredHeight <= maxShrinkPixels
        ? jpegShrinkFactor(width, height, limits.maxPixels, options.minSide ?? 768)
        : undefined;
    if (factor === undefined) {
      throw tooManyPixels(declaredWidth, declaredHeight, format === 'jpg' ? maxShrinkPixels : limits.maxPixels);
    }
    shrink = { width: Math.ceil(width / factor), height: Math.ceil(height / factor) };
    inputOptions.limitInputPixels = maxShrinkPixels;
  }

  // Pillow reads single-channel 16-bit images as I;16 and clips them to 255 when converting to RGB.
  const grey16 = meta.channels === 1 && meta.depth === 'ushort';
  // Pillow converts CMYK to RGB arithmetically (no colour management); keep the decoded CMYK to do the same.
  const cmyk = meta.space === 'cmyk';
  let data: Buffer;
  let info: OutputInfo;
  try {
    let pipeline = sharp(bytes, inputOptions).autoOrient();
    // libjpeg decodes at 1/2, 1/4 or 1/8 scale (sharp picks the DCT scale and reduces the rest).
    if (shrink) pipeline = pipeline.resize({ ...shrink, fit: 'fill', fastShrinkOnLoad: true });
    if (grey16) pipeline = pipeline.toColourspace('grey16').raw({ depth: 'ushort' });
    else if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw();
    // Alpha is dropped below as convert("RGB") does (no compositing, colour under alpha 0 kept).
    else pipeline = pipeline.raw();
    ({ data, info } = await pipeline.toBuffer({ resolveWithObject: true }));
  } catch (cause) {
    throw classifyDecodeFailure(format, cause, bytes);
  }
  const frame = format === 'gif' ? gifFirstFrame(bytes) : undefined;
  const rgb = toRgb(data, info, { grey16, cmyk, uncovered: frame?.colour });
  if (frame) paintOutsideFrame(rgb, frame);
  return { rgb, source: { format, width, height }, orientation };
}

/** libvips leaves the canvas outside a GIF's first frame black when the GIF has no transparency. */
function paintOutsideFrame(rgb: RgbImage, frame: GifFirstFrame): void {
  const { width, height, data } = rgb;
  const right = frame.left + frame.width;
  const bottom = frame.top + frame.height;
  for (let y = 0; y < height; y++) {
    const inside = y >= frame.top && y < bottom;
    for (let x = 0; x < width; x++) {
      if (inside && x >= frame.left && x < right) continue;
      const o = 3 * (y * width + x);
      data[o] = frame.colour[0];
      data[o + 1] = frame.colour[1];
      data[o + 2] = frame.colour[2];
    }
  }
}

/** libvips' decoded bands -> packed RGB as Pillow's `convert("RGB")`. */
function toRgb(data: Buffer, info: OutputInfo, how: { grey16: boolean; cmyk: boolean; uncovered: Rgb | undefined }): RgbImage {
  const { width, height, channels } = info;
  const n = width * height;
  const { grey16, cmyk, uncovered } = how;
  if (!grey16 && !cmyk && channels === 3) {
    return { data: new Uint8Array(data.buffer, data.byteOffset, n * 3), width, height };
  }
  const rgb = new Uint8Array(n * 3);
  if (grey16) {
    const words = new Uint16Array(data.buffer, data.byteOffset, n);
    for (let i = 0, o = 0; i < n; i++, o += 3) {
      const w = words[i]!;
      const v = w > 255 ? 255 : w;
      rgb[o] = v;
      rgb[o + 1] = v;
      rgb[o + 2] = v;
    }
  } else if (cmyk && channels >= 4) {
    // Pillow's cmyk2rgb: nk = 255 - k; channel = nk - MULDIV255(ink, nk).
    for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
      const nk = 255 - data[s + 3]!;
      for (let c = 0; c < 3; c++) {
        const t = data[s + c]! * nk + 128;
        const v = nk - (((t >> 8) + t) >> 8);
        rgb[o + c] = v < 0 ? 0 : v;
      }
    }
  } else if (channels === 3) {
    rgb.set(data.subarray(0, n * 3));
  } else if (channels === 4) {
    for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
      const fill = uncovered && data[s + 3] === 0;
      rgb[o] = fill ? uncovered[0] : data[s]!;
      rgb[o + 1] = fill ? uncovered[1] : data[s + 1]!;
      rgb[o + 2] = fill ? uncovered[2] : data[s + 2]!;
    }
  } else if (channels === 1 || channels === 2) {
    for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 3) {
      const v = data[s]!;
      rgb[o] = v;
      rgb[o + 1] = v;
      rgb[o + 2] = v;
    }
  } else {
    throw new ImageInputError('unsupported_format', `images with ${channels} channels are not supported`);
  }
  return { data: rgb, width, height };
}
