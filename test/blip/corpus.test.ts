import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { decodeImage, differenceStats, preprocessRgb, readProcessorConfig, type ProcessorConfig, type RgbImage } from '../../services/blip/processing/index.js';
import { captioningModelDir } from '../support/fixtures.js';

/**
 * The real-image corpus (test/blip/corpus, made from Debian packages by make-corpus.sh) against its Pillow
 * references: decoded RGB identical for every format Pillow reads; HEIC (reference: libheif's own decode)
 * within a few levels, and every model input within the fixture tolerances.
 */
const corpusDir = path.join(import.meta.dirname, 'corpus');
const manifestSchema = z.object({
  pillow: z.string(),
  images: z.array(z.object({ file: z.string(), what: z.string(), reference: z.enum(['pillow', 'heif-convert']), size: z.tuple([z.number(), z.number()]) })),
});
const manifest = manifestSchema.parse(JSON.parse(readFileSync(path.join(corpusDir, 'manifest.json'), 'utf8')));

async function reference(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(path.join(corpusDir, 'reference', `${file}.png`)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

let config: ProcessorConfig;
beforeAll(async () => {
  config = await readProcessorConfig(captioningModelDir);
});

describe('real-image corpus against Pillow', () => {
  it('lists the corpus', () => {
    expect(manifest.images.length).toBeGreaterThanOrEqual(30);
  });

  for (const entry of manifest.images) {
    it(`${entry.file}: ${entry.what}`, async () => {
      const decoded = await decodeImage(readFileSync(path.join(corpusDir, 'images', entry.file)));
      const expected = await reference(entry.file);
      expect([decoded.rgb.width, decoded.rgb.height]).toEqual(entry.size);
      expect(decoded.source).toEqual({ format: path.extname(entry.file).slice(1), width: entry.size[0], height: entry.size[1] });
      const orientation = /jpeg_orientation_(\d)/.exec(entry.file)?.[1];
      expect(decoded.orientation).toBe(orientation ? Number(orientation) : 1);
      const rgbDiff = differenceStats(decoded.rgb.data, expected.data);
      const input = differenceStats(preprocessRgb(decoded.rgb, config).pixelValues, preprocessRgb(expected, config).pixelValues);
      if (entry.reference === 'pillow') {
        expect(rgbDiff.max).toBe(0);
      } else {
        // libheif 1.23 (WebAssembly) against Debian's libheif 1.15: YCbCr -> RGB rounding differs by a level or two.
        expect(rgbDiff.max).toBeLessThanOrEqual(2);
      }
      // 10-bit HEIC: the two libheif versions reduce 10 bits to 8 differently (mean 0.56 levels, measured).
      const tolerance = entry.file === 'heic_10bit.heic' ? { max: 0.06, mean: 0.01 } : { max: 0.05, mean: 5e-3 };
      expect(input.max).toBeLessThanOrEqual(tolerance.max);
      expect(input.mean).toBeLessThanOrEqual(tolerance.mean);
    });
  }
});
