import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGE_LIMITS,
  decodeImage,
  differenceStats,
  ImageInputError,
  parseProcessorConfig,
  preprocessImage,
  preprocessRgb,
  readProcessorConfig,
  sniffImageType,
  type ProcessorConfig,
} from '../../services/blip/processing/index.js';
import { captioningModelDir, fixturePath, readF32 } from '../support/fixtures.js';
import { pngDeclaring } from './images/png.js';

const FIXTURE_IMAGES = [
  'gradient_640x480.png',
  'alpha_300x500.png',
  'gray_200x200.png',
  'wide_1200x100.png',
  'tiny_7x5.png',
  'photo_chelsea.jpg',
  'photo_coffee.jpg',
  'photo_astronaut.jpg',
  'photo_rocket.jpg',
];

function diffStats(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  return differenceStats(a, b);
}

async function expectImageError(promise: Promise<unknown>, code: ImageInputError['code']): Promise<ImageInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageInputError);
  const err = error as ImageInputError;
  expect(err.code).toBe(code);
  expect(err.message.length).toBeGreaterThan(10);
  return err;
}

let config: ProcessorConfig;
beforeAll(async () => {
  config = await readProcessorConfig(captioningModelDir);
});

describe('readProcessorConfig', () => {
  it('reads the fields of the fixture preprocessor_config.json', () => {
    expect(config).toEqual({
      doConvertRgb: true,
      doResize: true,
      size: { kind: 'fixed', height: 384, width: 384 },
      resample: 3,
      doRescale: true,
      rescaleFactor: 0.00392156862745098,
      doNormalize: true,
      imageMean: [0.48145466, 0.4578275, 0.40821073],
      imageStd: [0.26862954, 0.26130258, 0.27577711],
    });
  });

  it('accepts shortest_edge sizes and integer sizes, and rejects unknown filters', () => {
    expect(parseProcessorConfig({ size: { shortest_edge: 224 } }).size).toEqual({ kind: 'shortestEdge', shortestEdge: 224 });
    expect(parseProcessorConfig({ size: 224 }).size).toEqual({ kind: 'fixed', height: 224, width: 224 });
    expect(() => parseProcessorConfig({ resample: 9 })).toThrow(/resample/);
    expect(() => parseProcessorConfig({ size: { height: -1, width: 3 } })).toThrow(/size/);
  });

  it('names the file when it is missing', async () => {
    await expect(readProcessorConfig(fixturePath('images'))).rejects.toThrow(/preprocessor_config\.json/);
  });
});

describe('preprocessImage on the fixture images', () => {
  for (const name of FIXTURE_IMAGES) {
    it(`matches the Pillow reference for ${name}`, async () => {
      const bytes = readFileSync(fixturePath('images', name));
      const out = await preprocessImage(bytes, config);
      expect(out.height).toBe(384);
      expect(out.width).toBe(384);
      expect(out.pixelValues.length).toBe(3 * 384 * 384);
      const { max, mean } = diffStats(out.pixelValues, readF32(`pixel_values/${name}.f32`));
      console.info(`pixel values ${name}: max abs diff ${max}, mean abs diff ${mean}`);
      expect(max).toBeLessThanOrEqual(0.05);
      expect(mean).toBeLessThanOrEqual(5e-3);
      if (name.endsWith('.png')) {
        // Lossless input: decode, Pillow-exact resize and float32 normalisation reproduce the reference bit for bit.
        expect(max).toBe(0);
      }
    });
  }

  it('reports the decoded source format and size', async () => {
    const out = await preprocessImage(readFileSync(fixturePath('images', 'photo_chelsea.jpg')), config);
    expect(out.source).toEqual({ format: 'jpg', width: 451, height: 300 });
  });
});

describe('resize, rescale and normalise options', () => {
  const rgb = { data: new Uint8Array([0, 128, 255, 10, 20, 30, 200, 100, 50, 255, 255, 255]), width: 2, height: 2 };

  it('rescales without normalising when do_normalize is false', () => {
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false });
    const out = preprocessRgb(rgb, c);
    expect(out.height).toBe(2);
    expect(Array.from(out.pixelValues.subarray(0, 4))).toEqual([0, 10 / 255, 200 / 255, 1].map(Math.fround));
  });

  it('resizes the shortest edge keeping the aspect ratio', () => {
    const c = parseProcessorConfig({ size: { shortest_edge: 4 }, resample: 2 });
    const wide = { data: new Uint8Array(10 * 5 * 3).fill(77), width: 10, height: 5 };
    const out = preprocessRgb(wide, c);
    expect([out.height, out.width]).toEqual([4, 8]);
  });

  it('supports every Pillow filter id (nearest, lanczos, bilinear, bicubic, box, hamming)', () => {
    const flat = { data: new Uint8Array(9 * 7 * 3).fill(200), width: 9, height: 7 };
    for (const resample of [0, 1, 2, 3, 4, 5]) {
      const c = parseProcessorConfig({ size: { height: 5, width: 13 }, resample, do_normalize: false, do_rescale: false });
      const out = preprocessRgb(flat, c);
      expect(out.pixelValues.length).toBe(3 * 5 * 13);
      // A flat image stays flat under any normalised filter.
      expect(new Set(out.pixelValues)).toEqual(new Set([200]));
    }
  });
});

describe('decoding', () => {
  it('applies the EXIF orientation (6: rotate 90 degrees clockwise)', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const { data, info } = await sharp(photo).resize(120, 80).raw().toBuffer({ resolveWithObject: true });
    const rotatedJpeg = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(rotatedJpeg).metadata()).orientation).toBe(6);

    // The stored (unrotated) pixels, rotated explicitly: what an upright decode must give.
    const stored = await sharp(rotatedJpeg, { autoOrient: false }).raw().toBuffer({ resolveWithObject: true });
    expect([stored.info.width, stored.info.height]).toEqual([120, 80]);
    const upright = await sharp(stored.data, { raw: { width: 120, height: 80, channels: 3 } })
      .rotate(90)
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([upright.info.width, upright.info.height]).toEqual([80, 120]);

    const out = await preprocessImage(rotatedJpeg, config);
    expect(out.source).toEqual({ format: 'jpg', width: 80, height: 120 });
    const expected = preprocessRgb({ data: new Uint8Array(upright.data), width: 80, height: 120 }, config);
    expect(diffStats(out.pixelValues, expected.pixelValues).max).toBe(0);
    const unrotated = preprocessRgb({ data: new Uint8Array(stored.data), width: 120, height: 80 }, config);
    expect(diffStats(out.pixelValues, unrotated.pixelValues).mean).toBeGreaterThan(0.05);
  });

  it('takes the first frame of an animated GIF', async () => {
    const red = [250, 0, 0, 255];
    const blue = [0, 0, 250, 255];
    const frames = new Uint8Array([...Array(16).fill(red).flat(), ...Array(16).fill(blue).flat()]);
    const gif = await sharp(frames, { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } })
      .gif({ loop: 0, delay: [100, 100] })
      .toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const out = await preprocessImage(gif, c);
    expect(out.source).toEqual({ format: 'gif', width: 4, height: 4 });
    expect(Array.from(out.pixelValues.subarray(0, 16))).toEqual(Array(16).fill(250));
    expect(Array.from(out.pixelValues.subarray(32, 48))).toEqual(Array(16).fill(0));
  });

  it('drops alpha without compositing and expands grayscale, like convert("RGB")', async () => {
    const rgba = new Uint8Array([10, 20, 30, 0, 40, 50, 60, 128, 70, 80, 90, 255, 1, 2, 3, 0]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const out = await preprocessImage(png, c);
    expect(Array.from(out.pixelValues)).toEqual([10, 40, 70, 1, 20, 50, 80, 2, 30, 60, 90, 3]);

    const gray = await sharp(new Uint8Array([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toBuffer();
    const g = await preprocessImage(gray, c);
    expect(Array.from(g.pixelValues)).toEqual([0, 100, 200, 255, 0, 100, 200, 255, 0, 100, 200, 255]);
  });

  it('reduces 16-bit images as Pillow does (grayscale clipped, colour high byte)', async () => {
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const g16 = await sharp(new Uint16Array([0, 100, 256, 65535]), { raw: { width: 2, height: 2, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer();
    expect((await sharp(g16).metadata()).depth).toBe('ushort');
    const g = await preprocessImage(g16, c);
    expect(Array.from(g.pixelValues.subarray(0, 4))).toEqual([0, 100, 255, 255]);

    const rgb16 = await sharp(new Uint16Array([0, 256, 65535, 511, 512, 40000]), { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const r = await preprocessImage(rgb16, c);
    expect(Array.from(r.pixelValues)).toEqual([0, 1, 1, 2, 255, 156]);
  });

  it('converts CMYK JPEGs arithmetically as Pillow does (no colour management)', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const cmykJpeg = await sharp(photo).resize(64, 48).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(cmykJpeg).metadata()).space).toBe('cmyk');
    const ink = await sharp(cmykJpeg, { ignoreIcc: true }).pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer();
    const expected: number[] = [];
    for (let i = 0; i < 64 * 48; i++) {
      const nk = 255 - ink[i * 4 + 3]!;
      for (let ch = 0; ch < 3; ch++) expected.push(Math.round(nk - (ink[i * 4 + ch]! * nk) / 255));
    }
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const out = await preprocessImage(cmykJpeg, c);
    const hwc: number[] = [];
    for (let i = 0; i < 64 * 48; i++) for (let ch = 0; ch < 3; ch++) hwc.push(out.pixelValues[ch * 64 * 48 + i]!);
    // Pillow's MULDIV255 rounds like (a*b)/255 to the nearest integer, except on rare exact halves.
    expect(Math.max(...hwc.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThanOrEqual(1);
  });

  it('decodes WebP, AVIF and TIFF', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_coffee.jpg'));
    const c = parseProcessorConfig({ do_resize: false, do_normalize: false, do_rescale: false });
    const reference = await preprocessImage(await sharp(photo).png().toBuffer(), c);
    const webp = await preprocessImage(await sharp(photo).webp({ lossless: true }).toBuffer(), c);
    expect(webp.source.format).toBe('webp');
    expect(diffStats(webp.pixelValues, reference.pixelValues).max).toBe(0);
    const tiff = await preprocessImage(await sharp(photo).tiff({ compression: 'lzw' }).toBuffer(), c);
    expect(tiff.source.format).toBe('tif');
    expect(diffStats(tiff.pixelValues, reference.pixelValues).max).toBe(0);
    const avif = await preprocessImage(await sharp(photo).avif({ quality: 90, effort: 0 }).toBuffer(), c);
    expect(avif.source).toEqual({ format: 'avif', width: 600, height: 400 });
    expect(diffStats(avif.pixelValues, reference.pixelValues).mean).toBeLessThan(8);
  });
});

describe('bad inputs fail with a clear code', () => {
  it('empty', async () => {
    await expectImageError(preprocessImage(new Uint8Array(0), config), 'empty');
  });

  it('a text file', async () => {
    const err = await expectImageError(
      preprocessImage(Buffer.from('this is a text file that someone named photo.jpg\n'), config),
      'not_an_image',
    );
    expect(err.message).toMatch(/not an image/);
  });

  it('an SVG (vector, not accepted even though libvips could render it)', async () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>';
    await expectImageError(preprocessImage(Buffer.from(svg), config), 'not_an_image');
    await expectImageError(preprocessImage(Buffer.from(`<?xml version="1.0"?>\n${svg}`), config), 'not_an_image');
  });

  it('a truncated JPEG', async () => {
    const jpeg = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const err = await expectImageError(preprocessImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), config), 'truncated');
    expect(err.message).toMatch(/truncated/);
  });

  it('a truncated PNG', async () => {
    const png = readFileSync(fixturePath('images', 'gradient_640x480.png'));
    await expectImageError(preprocessImage(png.subarray(0, Math.floor(png.length / 2)), config), 'truncated');
  });

  it('truncated WebP, GIF and AVIF files', async () => {
    const photo = readFileSync(fixturePath('images', 'photo_coffee.jpg'));
    const small = sharp(photo).resize(150, 100);
    for (const encoded of [
      await small.clone().webp({ quality: 80 }).toBuffer(),
      await small.clone().gif().toBuffer(),
      await small.clone().avif({ effort: 0 }).toBuffer(),
    ]) {
      await expectImageError(preprocessImage(encoded.subarray(0, Math.floor(encoded.length * 0.6)), config), 'truncated');
    }
  });

  it('a PNG declaring 50000x50000 pixels is refused from its header', async () => {
    const bomb = pngDeclaring(50000, 50000);
    expect(bomb.length).toBeLessThan(200_000);
    const err = await expectImageError(preprocessImage(bomb, config), 'too_many_pixels');
    expect(err.message).toMatch(/50000x50000/);
  });

  it('a file over the byte limit', async () => {
    const jpeg = readFileSync(fixturePath('images', 'photo_chelsea.jpg'));
    const err = await expectImageError(
      preprocessImage(jpeg, config, { ...DEFAULT_IMAGE_LIMITS, maxBytes: 1000 }),
      'too_large',
    );
    expect(err.message).toMatch(/limit/);
  });

  it('a format that is an image but not supported (JPEG XL)', async () => {
    // A JPEG XL codestream signature: sniffed as an image, not decoded here.
    const jxl = Buffer.concat([Buffer.from([0xff, 0x0a]), Buffer.alloc(64)]);
    expect((await sniffImageType(jxl))?.mime).toBe('image/jxl');
    const err = await expectImageError(preprocessImage(jxl, config), 'unsupported_format');
    expect(err.message).toMatch(/image\/jxl/);
  });

  it('a 1x1 24-bit BMP decodes to its one pixel', async () => {
    // File header, BITMAPINFOHEADER, one padded row (stored blue, green, red).
    const bmp = Buffer.alloc(58);
    bmp.write('BM', 0, 'ascii');
    bmp.writeUInt32LE(58, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14);
    bmp.writeInt32LE(1, 18);
    bmp.writeInt32LE(1, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    bmp.writeUInt32LE(4, 34);
    bmp.set([30, 20, 10], 54);
    const decoded = await decodeImage(bmp);
    expect(decoded.source).toEqual({ format: 'bmp', width: 1, height: 1 });
    expect([...decoded.rgb.data]).toEqual([10, 20, 30]);
  });

  it('a HEIC file that holds only its header is corrupt', async () => {
    // An ISO-BMFF file with the `heic` brand (header only).
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic', 'ascii'),
      Buffer.from([0, 0, 0, 0]),
      Buffer.from('mif1heic', 'ascii'),
      Buffer.alloc(64),
    ]);
    expect((await sniffImageType(heic))?.format).toBe('heic');
    const err = await expectImageError(preprocessImage(heic, config), 'corrupt');
    expect(err.message).toMatch(/heic/);
  });

  it('corrupt files', async () => {
    const png = Buffer.from(readFileSync(fixturePath('images', 'gradient_640x480.png')));
    png[5000] = png[5000]! ^ 0xff; // inside IDAT: its CRC no longer matches
    await expectImageError(preprocessImage(png, config), 'corrupt');

    const jpeg = Buffer.from(readFileSync(fixturePath('images', 'photo_chelsea.jpg')));
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg[sof + 4] = 7; // sample precision 7 bits: not a valid baseline JPEG
    const err = await expectImageError(preprocessImage(jpeg, config), 'corrupt');
    expect(err.message).toMatch(/precision/);
  });
});

describe('sniffImageType', () => {
  it('identifies by content', async () => {
    expect(await sniffImageType(readFileSync(fixturePath('images', 'photo_rocket.jpg')))).toEqual({ format: 'jpg', mime: 'image/jpeg' });
    expect(await sniffImageType(readFileSync(fixturePath('images', 'tiny_7x5.png')))).toEqual({ format: 'png', mime: 'image/png' });
    expect(await sniffImageType(Buffer.from('plain text'))).toBeUndefined();
    expect(await sniffImageType(new Uint8Array(0))).toBeUndefined();
  });
});
