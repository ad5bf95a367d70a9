/**
 * Measures whether captioning a receive's distinct images in one model call beats one call per
 * image: `npx tsx bin/measure-batching.ts [MODEL_DIR] [--threads N] [--rounds N]`.
 * Prints one JSON line per batch size with the median ms per image over the rounds.
 */
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadBlip } from '../services/blip/index.js';
import { fixturesDir } from '../services/core/config.js';

const USAGE = 'usage: npx tsx bin/measure-batching.ts [MODEL_DIR] [--threads N] [--rounds N]';
const argsSchema = z.object({
  threads: z.coerce.number().int().min(1).default(availableParallelism()),
  rounds: z.coerce.number().int().min(1),
  positionals: z.array(z.string()).max(1),
});

function readArgs(): z.infer<typeof argsSchema> {
  try {
    const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string' }, rounds: { type: 'string', default: '3' } } });
    const parsed = argsSchema.safeParse({ ...values, positionals });
    if (parsed.success) return parsed.data;
    process.stderr.write(`measure-batching: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}\n${USAGE}\n`);
  } catch (error) {
    process.stderr.write(`measure-batching: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  }
  process.exit(2);
}

const fixtures = fixturesDir();
const args = readArgs();
const modelDir = args.positionals[0] ?? path.join(fixtures, 'blip-tiny-captioning');
const imagesDir = path.join(fixtures, 'images');
const files = (await readdir(imagesDir)).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
const images = await Promise.all(files.map((f) => readFile(path.join(imagesDir, f)).then((b) => new Uint8Array(b))));
const model = await loadBlip({ model: modelDir, threads: args.threads });
await model.caption(images.slice(0, 2)); // warm-up

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const batch of [1, 3, images.length]) {
  const perImage: number[] = [];
  for (let round = 0; round < args.rounds; round += 1) {
    const started = performance.now();
    for (let i = 0; i < images.length; i += batch) await model.caption(images.slice(i, i + batch));
    perImage.push((performance.now() - started) / images.length);
  }
  process.stdout.write(`${JSON.stringify({ model: model.name, images: images.length, batch, msPerImage: Math.round(median(perImage) * 10) / 10 })}\n`);
}
await model.dispose();
