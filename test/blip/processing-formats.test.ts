import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadBlip } from '../../services/blip/index.js';
import {
  decodeImage,
  differenceStats,
  ImageInputError,
  jpegShrinkFactor,
  preprocessImage,
  preprocessRgb,
  readProcessorConfig,
  type ProcessorConfig,
} from '../../services/blip/processing/index.js';
import { captioningModelDir, fixturePath } from '../support/fixtures.js';

/** Error paths and limits of the formats decoded outside libvips (BMP, ICO, HEIC), GIF frames and JPEG shrink-on-load. */
const corpusFile = (name: string) => readFileSync(path.join(import.meta.dirname, 'corpus', 'images', name));
const roomy = { maxBytes: 64 * 1024 * 1024, maxPixels: 40_000_000 };

async function errorOf(promise: Promise<unknown>): Promise<ImageInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageInputError);
  return error as ImageInputError;
}

const scratch = await mkdtemp(path.join(os.tmpdir(), 'blipline-formats-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

let config: ProcessorConfig;
beforeAll(async () => {
  config = await readProcessorConfig(captioningModelDir);
});

describe('BMP, ICO and HEIC errors', () => {
  it.each([
    ['bmp_24.bmp', 0.5, /bmp image is truncated/],
    ['bmp_rle8.bmp', 0.5, /RLE data ends early/],
    ['ico_bmp.ico', 0.5, /ico image is truncated/],
    ['ico_png.ico', 0.7, /ico image's PNG entry is truncated/],
    ['heic_8bit.heic', 0.6, /heic image is truncated/],
  ])('%s cut to %s of its length is truncated', async (name, fraction, message) => {
    const bytes = corpusFile(name);
    const err = await errorOf(decodeImage(bytes.subarray(0, Math.floor(bytes.length * fraction))));
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(message);
  });

  it.each(['bmp_24.bmp', 'ico_bmp.ico', 'heic_8bit.heic'])('%s over the pixel limit is refused from its header', async (name) => {
    const err = await errorOf(decodeImage(corpusFile(name), { ...roomy, maxPixels: 1000 }));
    expect(err.code).toBe('too_many_pixels');
    expect(err.message).toMatch(/more than the limit of 1000 pixels/);
  });

  it('a BMP declaring 100000 x 100000 pixels is refused before anything is allocated', async () => {
    const bmp = Buffer.from(corpusFile('bmp_24.bmp'));
    bmp.writeInt32LE(100_000, 18);
    bmp.writeInt32LE(100_000, 22);
    expect((await errorOf(decodeImage(bmp))).code).toBe('too_many_pixels');
  });

  it('a HEIC whose image data is missing is truncated, with libheif\'s reason and nothing printed', async () => {
    const full = corpusFile('heic_8bit.heic');
    const cut = Buffer.from(full.subarray(0, Math.floor(full.length * 0.6)));
    const mdat = cut.indexOf('mdat') - 4;
    cut.writeUInt32BE(cut.length - mdat, mdat); // the boxes fit the file; the item's extent does not
    const printed: unknown[][] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args));
    try {
      const err = await errorOf(decodeImage(cut));
      expect(err.code).toBe('truncated');
      expect(err.message).toMatch(/outside of file bounds/);
      expect(printed).toEqual([]);
    } finally {
      log.mockRestore();
    }
  });

  it('a HEIC declaring 50000 x 50000 pixels (ispe) is refused before libheif decodes it', async () => {
    const heic = Buffer.from(corpusFile('heic_8bit.heic'));
    let patched = 0;
    for (let at = heic.indexOf('ispe'); at >= 0; at = heic.indexOf('ispe', at + 4)) {
      heic.writeUInt32BE(50_000, at + 8);
      heic.writeUInt32BE(50_000, at + 12);
      patched += 1;
    }
    expect(patched).toBeGreaterThan(0);
    const err = await errorOf(decodeImage(heic));
    expect(err.code).toBe('too_many_pixels');
    expect(err.message).toMatch(/50000x50000/);
  });

  it('a BMP with embedded JPEG data (compression 4) or an unknown header is refused with the reason', async () => {
    const jpegBmp = Buffer.from(corpusFile('bmp_24.bmp'));
    jpegBmp.writeUInt32LE(4, 30);
    const unsupported = await errorOf(decodeImage(jpegBmp));
    expect(unsupported.code).toBe('unsupported_format');
    expect(unsupported.message).toMatch(/compression \(4/);

    const oddHeader = Buffer.from(corpusFile('bmp_24.bmp'));
    oddHeader.writeUInt32LE(20, 14);
    expect((await errorOf(decodeImage(oddHeader))).message).toMatch(/header type \(20 bytes\)/);
  });

  it('a 16-bit BMP with a channel layout Pillow refuses is refused', async () => {
    const bmp = Buffer.from(corpusFile('bmp_16_565.bmp'));
    bmp.writeUInt32LE(0x0f00, 54); // red mask 4 bits wide: no Pillow unpacker
    const err = await errorOf(decodeImage(bmp));
    expect(err.code).toBe('unsupported_format');
    expect(err.message).toMatch(/channel masks/);
  });

  it('an ICO whose directory lists no image is corrupt', async () => {
    const err = await errorOf(decodeImage(Buffer.from([0, 0, 1, 0, 0, 0, ...new Array(32).fill(0)])));
    expect(err.code).toBe('corrupt');
  });
});

describe('GIF first frame', () => {
  it('transparent pixels take the palette colour of the transparent index, not black', async () => {
    const gif = corpusFile('gif_logo_transparent.gif');
    const decoded = await decodeImage(gif);
    // Every pixel libvips decodes as alpha 0 is palette entry 255, (250, 240, 200), as Pillow shows it.
    const { data } = await sharp(gif).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const transparent: number[] = [];
    for (let i = 0; i < data.length / 4; i++) if (data[4 * i + 3] === 0) transparent.push(i);
    expect(transparent.length).toBeGreaterThan(100);
    const colours = new Set(transparent.map((i) => [...decoded.rgb.data.subarray(3 * i, 3 * i + 3)].join(',')));
    expect([...colours]).toEqual(['250,240,200']);
  });

  it('the canvas outside the first frame takes the transparent index colour, or palette entry 0 without one', async () => {
    const withIndex = await decodeImage(corpusFile('gif_frame_offset_transparent.gif'));
    expect([...withIndex.rgb.data.subarray(0, 3)]).toEqual([10, 200, 30]);
    const opaque = await decodeImage(corpusFile('gif_frame_offset_opaque.gif'));
    const bottomRight = 3 * (100 * 70 - 1);
    expect([...opaque.rgb.data.subarray(bottomRight, bottomRight + 3)]).toEqual([...opaque.rgb.data.subarray(0, 3)]);
    expect([...opaque.rgb.data.subarray(0, 3)]).not.toEqual([0, 0, 0]);
  });
});

describe('JPEG shrink-on-load', () => {
  it('picks the least factor that fits, never below the floor', () => {
    expect(jpegShrinkFactor(8000, 6000, 40_000_000, 768)).toBe(2);
    expect(jpegShrinkFactor(16330, 12247, 40_000_000, 768)).toBe(4);
    expect(jpegShrinkFactor(16330, 12247, 16_000_000, 768)).toBe(4);
    expect(jpegShrinkFactor(2400, 1800, 1_000_000, 768)).toBeUndefined();
    expect(jpegShrinkFactor(40000, 1000, 10_000_000, 768)).toBeUndefined();
  });

  it('decodes a JPEG over maxPixels at half size and stays close to the full-size model input', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const big = await sharp(photo).resize(2400, 1600, { kernel: 'lanczos3' }).jpeg({ quality: 90 }).toBuffer();
    const limits = { ...roomy, maxPixels: 1_200_000 };
    const shrunk = await decodeImage(big, limits);
    expect(shrunk.source).toEqual({ format: 'jpg', width: 2400, height: 1600 });
    expect([shrunk.rgb.width, shrunk.rgb.height]).toEqual([1200, 800]);

    const full = await preprocessImage(big, config, roomy);
    const small = await preprocessImage(big, config, limits);
    const { max, mean } = differenceStats(small.pixelValues, full.pixelValues);
    expect(max).toBeLessThan(0.5);
    expect(mean).toBeLessThan(0.02);
  });

  it('a model loaded with maxPixels captions a larger JPEG from its shrunk decode instead of refusing it', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const big = new Uint8Array(await sharp(photo).resize(2400, 1600).jpeg({ quality: 90 }).toBuffer());
    const model = await loadBlip({ model: captioningModelDir, cacheDir: scratch, threads: 1, maxPixels: 1_200_000 });
    try {
      const [fromFile] = await model.caption([big], { maxNewTokens: 5 });
      const shrunk = await preprocessImage(big, config, { ...roomy, maxPixels: 1_200_000 });
      const [fromPixels] = await model.caption([shrunk], { maxNewTokens: 5 });
      expect(fromFile?.tokenIds.length).toBeGreaterThan(1);
      expect(fromFile?.tokenIds).toEqual(fromPixels?.tokenIds);
    } finally {
      await model.dispose();
    }
  });

  it('shrinks after orientation: an EXIF-6 JPEG comes out upright at half size', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const big = await sharp(photo).resize(2400, 1600).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer();
    const shrunk = await decodeImage(big, { ...roomy, maxPixels: 1_200_000 });
    expect(shrunk.orientation).toBe(6);
    expect(shrunk.source).toEqual({ format: 'jpg', width: 1600, height: 2400 });
    expect([shrunk.rgb.width, shrunk.rgb.height]).toEqual([800, 1200]);
  });

  it('a PNG over maxPixels is still refused (no shrink-on-load for it)', async () => {
    const png = await sharp({ create: { width: 1500, height: 1000, channels: 3, background: '#808080' } }).png().toBuffer();
    const err = await errorOf(decodeImage(png, { ...roomy, maxPixels: 1_000_000 }));
    expect(err.code).toBe('too_many_pixels');
  });

  it('a JPEG over maxShrinkPixels is refused from its header', async () => {
    const jpeg = await sharp({ create: { width: 1500, height: 1000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const err = await errorOf(decodeImage(jpeg, { ...roomy, maxPixels: 100_000, maxShrinkPixels: 1_000_000 }));
    expect(err.code).toBe('too_many_pixels');
    expect(err.message).toMatch(/limit of 1000000/);
  });
});
