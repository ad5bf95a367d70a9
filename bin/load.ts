// `npm run load`: drops N images into a local stack served by one `blipline worker` child process and
// reports throughput, upload->done latency, inferences vs distinct contents and worker RSS, then runs
// autocannon against GET /v1/images/{id} with a warm cache. See README "Reliability and load".
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { cacheRoot } from '../services/bench/checkpoints.js';
import { KERNEL_SETS, runOnKernels } from '../services/bench/isa/index.js';
import { fixturesDir, runtimeEnv } from '../services/core/config.js';
import { createLogger } from '../services/core/logger.js';
import { runLoad } from '../services/load/index.js';

const defaultModel = path.join(fixturesDir(), 'blip-tiny-captioning');

const USAGE = `usage: npm run load -- [--images 1000] [--duplicates 0.3] [--model DIR|HUB_ID] [--concurrency 16]
                     [--http-seconds 10] [--connections 10] [--stall-seconds 120] [--kernels native|avx2] [--json]
Default model: the tiny fixture checkpoint (${defaultModel}).
--json prints one line: {"images","distinct","inferences","done","failed","lost","p50Ms","p95Ms","p99Ms","imagesPerSec","peakRssMiB","readyRssMiB",
"http": {"route","connections","durationS","requests","requestsPerSec","p50Ms","p99Ms","errors","non2xx","cache"}}.`;

const argsSchema = z.object({
  images: z.coerce.number().int().min(1).max(100_000),
  duplicates: z.coerce.number().min(0).max(0.95),
  model: z.string().min(1),
  concurrency: z.coerce.number().int().min(1).max(256),
  'http-seconds': z.coerce.number().int().min(1).max(600),
  connections: z.coerce.number().int().min(1).max(1_000),
  'stall-seconds': z.coerce.number().int().min(5).max(3_600),
  kernels: z.enum(KERNEL_SETS),
  json: z.boolean(),
  help: z.boolean(),
});

async function main(): Promise<number> {
  let raw;
  try {
    raw = parseArgs({
      args: process.argv.slice(2),
      options: {
        images: { type: 'string', default: '1000' },
        duplicates: { type: 'string', default: '0.3' },
        model: { type: 'string', default: runtimeEnv('BLIPLINE_MODEL') ?? defaultModel },
        concurrency: { type: 'string', default: '16' },
        'http-seconds': { type: 'string', default: '10' },
        connections: { type: 'string', default: '10' },
        'stall-seconds': { type: 'string', default: '120' },
        kernels: { type: 'string', default: 'native' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    process.stderr.write(`load: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 2;
  }
  const parsed = argsSchema.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`load: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}\n${USAGE}\n`);
    return 2;
  }
  const args = parsed.data;
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const rerun = await runOnKernels(args.kernels, cacheRoot());
  if (rerun !== undefined) return rerun;
  const logger = createLogger({ name: 'load', destination: process.stderr });
  const { load, http } = await runLoad({
    images: args.images,
    duplicateRatio: args.duplicates,
    model: args.model,
    uploadConcurrency: args.concurrency,
    stallTimeoutMs: args['stall-seconds'] * 1000,
    httpSeconds: args['http-seconds'],
    httpConnections: args.connections,
    logger,
  });
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ ...load, http })}\n`);
  } else {
    process.stdout.write(
      [
        `images ${load.images} (${load.distinct} distinct contents): ${load.done} done, ${load.failed} failed, ${load.lost} lost`,
        `inferences ${load.inferences} (distinct ${load.distinct})`,
        `throughput ${load.imagesPerSec} images/s; upload->done p50 ${load.p50Ms} ms, p95 ${load.p95Ms} ms, p99 ${load.p99Ms} ms`,
        `worker peak RSS ${load.peakRssMiB} MiB (${load.readyRssMiB} MiB when ready)`,
        `${http.route} (cache ${http.cache}, ${http.connections} connections, ${http.durationS} s): ${http.requestsPerSec} req/s, p50 ${http.p50Ms} ms, p99 ${http.p99Ms} ms, ${http.errors} errors, ${http.non2xx} non-2xx`,
        '',
      ].join('\n'),
    );
  }
  return load.lost === 0 ? 0 : 1;
}

process.exitCode = await main();
