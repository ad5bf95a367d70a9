/**
 * Measures JPEG shrink-on-load on large photos: `npx tsx bin/measure-large-photos.ts [--megapixels 24,48,108,200]
 * [--max-pixels 16000000]`. Each fixture photo is enlarged (Lanczos) to each size and saved as a quality-90 JPEG;
 * it is then preprocessed twice in a child process of its own, at full size (the reference) and with the
 * runtime's rule for `--max-pixels`, and the two model inputs and the fixture model's greedy captions are
 * compared. Prints one JSON line per photo and size: shrink factor, max/mean difference of the model input,
 * whether the greedy token ids are equal, and the peak RSS (MiB) of each child.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { z } from 'zod';
import { loadBlip } from '../services/blip/index.js';
import { differenceStats, jpegShrinkFactor, preprocessImage, readProcessorConfig, shrinkFloor } from '../services/blip/processing/index.js';
import { fixturesDir } from '../services/core/config.js';

const PHOTOS = ['photo_chelsea.jpg', 'photo_coffee.jpg', 'photo_astronaut.jpg', 'photo_rocket.jpg'];
const modelDir = path.join(fixturesDir(), 'blip-tiny-captioning');

/** Child: preprocess one file under the given pixel limit, write the pixel values, report peak RSS. */
async function child(file: string, maxPixels: number, out: string): Promise<void> {
  const config = await readProcessorConfig(modelDir);
  const bytes = new Uint8Array(await readFile(file));
  const result = await preprocessImage(bytes, config, { maxBytes: 1 << 30, maxPixels, maxShrinkPixels: 1 << 30 });
  await writeFile(out, Buffer.from(result.pixelValues.buffer, result.pixelValues.byteOffset, result.pixelValues.byteLength));
  process.stdout.write(`${JSON.stringify({ peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`);
}

function runChild(file: string, maxPixels: number, out: string): number {
  const stdout = execFileSync(process.execPath, [...process.execArgv, import.meta.filename, '--child', file, '--max-pixels', String(maxPixels), '--out', out], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return z.object({ peakRssMiB: z.number() }).parse(JSON.parse(stdout.trim().split('\n').pop() ?? '')).peakRssMiB;
}

const { values } = parseArgs({
  options: { child: { type: 'string' }, out: { type: 'string' }, 'max-pixels': { type: 'string', default: '16000000' }, megapixels: { type: 'string', default: '24,48,108,200' } },
});
const maxPixels = z.coerce.number().int().positive().parse(values['max-pixels']);
if (values.child) {
  await child(values.child, maxPixels, z.string().parse(values.out));
} else {
  const sizes = z.array(z.coerce.number().positive()).parse(values.megapixels.split(','));
  const dir = await mkdtemp(path.join(os.tmpdir(), 'large-photos-'));
  const model = await loadBlip({ model: modelDir, cacheDir: path.join(dir, 'graphs') });
  const config = await readProcessorConfig(modelDir);
  const readF32 = async (file: string) => {
    const b = await readFile(file);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  try {
    for (const mp of sizes) {
      for (const photo of PHOTOS) {
        const source = sharp(path.join(fixturesDir(), 'images', photo));
        const meta = await source.metadata();
        const scale = Math.sqrt((mp * 1e6) / (meta.width! * meta.height!));
        const width = Math.round(meta.width! * scale);
        const height = Math.round(meta.height! * scale);
        const file = path.join(dir, `${photo}-${mp}mp.jpg`);
        await sharp(path.join(fixturesDir(), 'images', photo), { limitInputPixels: false })
          .resize(width, height, { kernel: 'lanczos3' })
          .jpeg({ quality: 90 })
          .toFile(file);
        const fullOut = path.join(dir, 'full.f32');
        const shrinkOut = path.join(dir, 'shrink.f32');
        const fullRss = runChild(file, 1 << 30, fullOut);
        const shrinkRss = runChild(file, maxPixels, shrinkOut);
        const [full, shrunk] = [await readF32(fullOut), await readF32(shrinkOut)];
        const { max, mean } = differenceStats(full, shrunk);
        const [a, b] = await model.caption([
          { pixelValues: full, height: 384, width: 384 },
          { pixelValues: shrunk, height: 384, width: 384 },
        ]);
        const factor = width * height > maxPixels ? jpegShrinkFactor(width, height, maxPixels, shrinkFloor(config)) : 1;
        const encodedMiB = Number(((await readFile(file)).length / 2 ** 20).toFixed(1));
        process.stdout.write(
          `${JSON.stringify({ photo, megapixels: mp, width, height, encodedMiB, maxPixels, shrink: factor, inputMax: Number(max.toFixed(4)), inputMean: Number(mean.toFixed(5)), greedyEqual: JSON.stringify(a!.tokenIds) === JSON.stringify(b!.tokenIds), fullPeakRssMiB: fullRss, shrinkPeakRssMiB: shrinkRss })}\n`,
        );
        await rm(file);
      }
    }
  } finally {
    await model.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
