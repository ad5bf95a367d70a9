// Child process of the benchmark: loads a model through the public runtime API (as the worker
// does), reports when the first caption is done, then measures one-image captions and batches of
// eight, and finally its peak resident memory. One JSON object per line on stdout.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadBlip } from '../blip/index.js';
import { peakRssKiB } from '../core/process-memory.js';
import { median } from './stats.js';

const argsSchema = z.object({
  model: z.string(),
  precision: z.enum(['fp32', 'int8']),
  threads: z.number().int().positive(),
  cacheDir: z.string(),
  images: z.array(z.string()).min(1),
  tokens: z.number().int().positive(),
  runs: z.number().int().nonnegative(),
  batch: z.number().int().positive(),
  /** decoder rows generated together; absent = the runtime's default */
  decoderRows: z.number().int().positive().optional(),
  /** 'vqa': answer `question` about each image instead of captioning */
  task: z.enum(['caption', 'vqa']).default('caption'),
  question: z.string().default('what is the person doing?'),
});
export type ProbeArgs = z.input<typeof argsSchema>;

export type ProbeMessage =
  | { event: 'first-caption'; sinceProcessStartMs: number; loadMs: number; cacheHit: boolean; tokens: number }
  | { event: 'done'; captionMs: number[]; batchMs: number[]; captionsPerSecBatch: number; peakRssMiB: number; rssAfterMiB: number }
  | { event: 'vqa'; visionMs: number[]; questionMs: number[]; decodeMsPerToken: number[]; answerMs: number[]; answerTokens: number[]; peakRssMiB: number };

/** This process's peak resident memory: VmHWM on Linux (maxrss would include the benchmark's pre-exec fork), else maxrss. */
function peakRssMiB(): number {
  return (peakRssKiB() ?? process.resourceUsage().maxRSS) / 1024;
}

function send(message: ProbeMessage): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

function readPixels(file: string): { pixelValues: Float32Array; height: number; width: number } {
  const bytes = readFileSync(file);
  const pixelValues = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const side = Math.round(Math.sqrt(pixelValues.length / 3));
  return { pixelValues, height: side, width: side };
}

async function vqa(args: z.infer<typeof argsSchema>): Promise<void> {
  const images = args.images.map(readPixels);
  const model = await loadBlip({ model: args.model, precision: args.precision, threads: args.threads, cacheDir: args.cacheDir });
  const options = { maxNewTokens: args.tokens };
  const result = { visionMs: [] as number[], questionMs: [] as number[], decodeMsPerToken: [] as number[], answerMs: [] as number[], answerTokens: [] as number[] };
  await model.ask([images[0]!], args.question, options); // warm-up
  for (let i = 0; i < args.runs; i++) {
    const t0 = performance.now();
    const [answer] = await model.ask([images[i % images.length]!], args.question, options);
    result.answerMs.push(performance.now() - t0);
    const timings = answer!.timingsMs;
    const tokens = Math.max(1, answer!.tokenIds.length - 1);
    result.visionMs.push(timings.vision ?? Number.NaN);
    result.questionMs.push(timings.question ?? Number.NaN);
    result.decodeMsPerToken.push((timings.decode ?? Number.NaN) / tokens);
    result.answerTokens.push(tokens);
  }
  await model.dispose();
  send({ event: 'vqa', ...result, peakRssMiB: peakRssMiB() });
}

async function main(): Promise<void> {
  const args = argsSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
  if (args.task === 'vqa') return vqa(args);
  const images = args.images.map(readPixels);
  const options = { maxNewTokens: args.tokens, minNewTokens: args.tokens };
  const loadStarted = performance.now();
  const model = await loadBlip({
    model: args.model, precision: args.precision, threads: args.threads, cacheDir: args.cacheDir,
    ...(args.decoderRows ? { decoderRows: args.decoderRows } : {}),
  });
  const loadMs = performance.now() - loadStarted;
  const [first] = await model.caption([images[0]!], options);
  send({
    event: 'first-caption', sinceProcessStartMs: performance.now(), loadMs, cacheHit: model.startup.cacheHit,
    tokens: (first?.tokenIds.length ?? 1) - 1,
  });
  const captionMs: number[] = [];
  const batchMs: number[] = [];
  const batchImages = Array.from({ length: args.batch }, (_, i) => images[i % images.length]!);
  if (args.runs > 0) {
    await model.caption([images[1 % images.length]!], options); // warm-up
    for (let i = 0; i < args.runs; i++) {
      const t0 = performance.now();
      await model.caption([images[i % images.length]!], options);
      captionMs.push(performance.now() - t0);
    }
    await model.caption(batchImages, options); // warm-up at the batch shape
    for (let i = 0; i < args.runs; i++) {
      const t0 = performance.now();
      await model.caption(batchImages, options);
      batchMs.push(performance.now() - t0);
    }
  }
  const rssAfterMiB = process.memoryUsage().rss / 2 ** 20;
  await model.dispose();
  send({
    event: 'done', captionMs, batchMs,
    captionsPerSecBatch: batchMs.length ? (args.batch * 1000) / median(batchMs) : 0,
    peakRssMiB: peakRssMiB(), rssAfterMiB,
  });
}

await main();
