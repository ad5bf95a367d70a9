import { fileTypeFromBuffer } from 'file-type';
import sharp, { type Metadata, type OutputInfo, type SharpOptions } from 'sharp';
import { ImageInputError } from './errors.js';
import type { RgbImage } from './resample.js';

/** Bounds applied before any pixel is decoded. */
export interface ImageLimits {
  /** Largest accepted encoded file, in bytes. */
  maxBytes: number;
  /** Largest accepted declared width x height (first frame), checked from the header. */
  maxPixels: number;
}

/** 20 MiB of encoded bytes, 40 megapixels declared. */
export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
});

export interface SniffedType {
  /** File extension style name from content sniffing, e.g. `jpg`, `png`, `webp`, `avif`, `gif`, `tif`, `heic`. */
  format: string;
  mime: string;
}

/** Raster formats this runtime decodes (by sniffed extension). HEIC/HEIF depend on the libvips build. */
const DECODABLE = new Set(['jpg', 'png', 'apng', 'webp', 'avif', 'gif', 'tif', 'heic']);

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
  rgb: RgbImage;
  source: { format: string; width: number; height: number };
}

function describeBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

/** Prebuilt sharp binaries decode AVIF through libheif but carry no HEVC decoder for HEIC. */
function heicDecodable(): boolean {
  const suffixes = sharp.format.heif?.input.fileSuffix ?? [];
  return suffixes.includes('.heic') || suffixes.includes('.heif');
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
  if (format === 'heic' && /heif|codec|decod|unsupported|compression/i.test(message)) {
    return new ImageInputError(
      'unsupported_format',
      'HEIC/HEIF images cannot be decoded by this build of libvips (it has no HEVC decoder); convert the image to JPEG or PNG',
      { cause },
    );
  }
  const firstLine = message.split('\n')[0] ?? message;
  return new ImageInputError('corrupt', `the ${format} image is corrupt: ${firstLine}`, { cause });
}

/**
 * Decode an encoded image into 8-bit RGB exactly as Pillow's `Image.open(...).convert("RGB")` sees it,
 * after EXIF auto-orientation:
 * - alpha is dropped, not composited (the stored colour under transparent pixels is kept);
 * - grayscale is replicated into three channels, palettes are expanded;
 * - 16-bit single-channel grayscale is clipped to 255 (Pillow's `I;16` -> `RGB`), other 16-bit
 *   images keep their high byte (Pillow's `;16B` unpackers);
 * - embedded ICC profiles are not applied (Pillow does not apply them either); CMYK is converted
 *   arithmetically as Pillow's `cmyk2rgb` does;
 * - animated images give their first frame.
 */
export async function decodeImage(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): Promise<DecodedImage> {
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
      `${sniffed.mime} images are not supported (use JPEG, PNG, WebP, AVIF, GIF or TIFF)`,
    );
  }
  const format = sniffed.format === 'apng' ? 'png' : sniffed.format;
  if (format === 'heic' && !heicDecodable()) {
    throw new ImageInputError(
      'unsupported_format',
      'HEIC/HEIF images cannot be decoded by this build of libvips (it has no HEVC decoder); convert the image to JPEG or PNG',
    );
  }
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
  if (declaredWidth * declaredHeight > limits.maxPixels) {
    throw new ImageInputError(
      'too_many_pixels',
      `the image declares ${declaredWidth}x${declaredHeight} pixels, more than the limit of ${limits.maxPixels} pixels`,
    );
  }

  // Pillow reads single-channel 16-bit images as I;16 and clips them to 255 when converting to RGB.
  const grey16 = meta.channels === 1 && meta.depth === 'ushort';
  // Pillow converts CMYK to RGB arithmetically (no colour management); keep the decoded CMYK to do the same.
  const cmyk = meta.space === 'cmyk';
  let data: Buffer;
  let info: OutputInfo;
  try {
    let pipeline = sharp(bytes, inputOptions).autoOrient();
    if (grey16) pipeline = pipeline.toColourspace('grey16').raw({ depth: 'ushort' });
    else if (cmyk) pipeline = pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw();
    // removeAlpha drops the band as convert("RGB") does (no compositing, colour under alpha 0 kept).
    else pipeline = pipeline.removeAlpha().raw();
    ({ data, info } = await pipeline.toBuffer({ resolveWithObject: true }));
  } catch (cause) {
    throw classifyDecodeFailure(format, cause, bytes);
  }

  const { width, height, channels } = info;
  const n = width * height;
  if (!grey16 && !cmyk && channels === 3) {
    return { rgb: { data: new Uint8Array(data.buffer, data.byteOffset, n * 3), width, height }, source: { format, width, height } };
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
      rgb[o] = data[s]!;
      rgb[o + 1] = data[s + 1]!;
      rgb[o + 2] = data[s + 2]!;
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
  return { rgb: { data: rgb, width, height }, source: { format, width, height } };
}
