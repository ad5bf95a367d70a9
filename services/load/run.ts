import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import autocannon from 'autocannon';
import type { Logger } from 'pino';
import { startServer } from '../api/server.js';
import { createDynamoClient, createS3Client, createSqsClient } from '../aws/clients.js';
import { bundle as buildBundle, CLI_ENTRY } from '../build/cli-bundle.js';
import { RecordStore } from '../aws/record-store.js';
import { loadConfig } from '../core/config.js';
import { repoRoot } from '../core/paths.js';
import { idForObjectKey } from '../core/ids.js';
import type { ImageRecord } from '../core/records.js';
import { startLocalStack } from '../local/index.js';
import { makeLoadImages, type LoadImage } from './images.js';
import { spawnWorker } from './worker-process.js';

export interface LoadOptions {
  images: number;
  /** Share of the objects that are byte-identical copies of others. @default 0.3 */
  duplicateRatio: number;
  /** Captioning model for the worker (dir or Hub id). */
  model: string;
  /** Parallel PutObject calls. */
  uploadConcurrency: number;
  /** Give up waiting for records after this long without progress. */
  stallTimeoutMs: number;
  /** autocannon run against GET /v1/images/{id}. */
  httpSeconds: number;
  httpConnections: number;
  logger: Logger;
}

/** The line `npm run load -- --json` prints first (contract in issue 8). */
export interface LoadReport {
  images: number;
  distinct: number;
  inferences: number;
  done: number;
  failed: number;
  lost: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  imagesPerSec: number;
  peakRssMiB: number;
  /** the worker's peak RSS when it was ready (models loaded), before any image */
  readyRssMiB: number;
}

/** The second line: the status route under autocannon with a warm cache. */
export interface HttpReport {
  route: string;
  connections: number;
  durationS: number;
  requests: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  cache: string;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next]!;
        next += 1;
        await fn(item);
      }
    }),
  );
}

const isFinal = (r: ImageRecord | undefined): r is ImageRecord => r?.status === 'done' || r?.status === 'failed';

/**
 * Starts a local stack and one `blipline worker` child, drops the images, waits until every object
 * has a final record (or progress stalls), then measures the status route with autocannon.
 */
export async function runLoad(options: LoadOptions): Promise<{ load: LoadReport; http: HttpReport }> {
  const { logger } = options;
  const runId = randomUUID().slice(0, 8);
  logger.info({ images: options.images }, 'generating images');
  const images = await makeLoadImages(options.images, options.duplicateRatio, runId);
  const distinct = new Set(images.map((i) => i.sha256)).size;

  const stack = await startLocalStack({ logger: logger.child({ component: 'local-stack' }) });
  const env = stack.env();
  for (const [k, v] of Object.entries(env)) process.env[k] = v;
  const config = loadConfig({ ...env, LOG_LEVEL: 'warn' });
  // The worker runs as the image runs it: the CLI bundled on plain Node, so its RSS is production's.
  const { file: bundle } = await buildBundle({ entry: CLI_ENTRY, outDir: path.join(repoRoot, '.cache/blipline/load'), name: 'blipline' });
  const worker = spawnWorker({ env, model: options.model, logLevel: 'info', bundle });
  const s3: S3Client = createS3Client(config);
  const sqs = createSqsClient(config);
  const records = new RecordStore(createDynamoClient(config), config.table, { ttlDays: 1 });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await worker.ready;
    const readyRssMiB = worker.peakRssMiB();
    logger.info({ workerPid: worker.pid, distinct }, 'worker ready; dropping images');

    const uploadedAt = new Map<string, number>();
    const started = Date.now();
    await mapLimit(images, options.uploadConcurrency, async (image: LoadImage) => {
      await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: image.key, Body: image.bytes, ContentType: image.contentType }));
      uploadedAt.set(image.key, Date.now());
    });
    logger.info({ uploadMs: Date.now() - started }, 'all images uploaded; waiting for records');

    // Poll records until every object is final, or nothing has changed for stallTimeoutMs.
    const finals = new Map<string, ImageRecord>();
    let lastProgress = Date.now();
    while (finals.size < images.length && Date.now() - lastProgress < options.stallTimeoutMs) {
      const before = finals.size;
      const open = images.filter((i) => !finals.has(i.key));
      await mapLimit(open, 16, async (image) => {
        const r = await records.getImage(idForObjectKey(image.key, stack.objectIdSecret));
        if (isFinal(r)) finals.set(image.key, r);
      });
      if (finals.size > before) lastProgress = Date.now();
      if (finals.size < images.length) await new Promise((r) => setTimeout(r, 500));
    }
    const queue = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: config.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    logger.info({ final: finals.size, queue: queue.Attributes }, 'drained');

    const latencies = [...finals].map(([key, r]) => Date.parse(r.updatedAt) - (uploadedAt.get(key) ?? started)).sort((a, b) => a - b);
    const lastDone = Math.max(...[...finals.values()].map((r) => Date.parse(r.updatedAt)), started + 1);
    const load: LoadReport = {
      images: images.length,
      distinct,
      inferences: worker.inferences(),
      done: [...finals.values()].filter((r) => r.status === 'done').length,
      failed: [...finals.values()].filter((r) => r.status === 'failed').length,
      lost: images.length - finals.size,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      imagesPerSec: Math.round((finals.size / ((lastDone - started) / 1000)) * 100) / 100,
      peakRssMiB: worker.peakRssMiB(),
      readyRssMiB,
    };

    // The status route with a warm cache: the API as a Node server on the same stack.
    // The dropped objects are the operator's: their records are read with an operator token.
    server = await startServer({ config, port: 0, logger: logger.child({ component: 'api' }, { level: 'warn' }) });
    const headers = { authorization: `Bearer ${await stack.oidc.token('operator')}` };
    const ids = [...finals.values()].slice(0, 100).map((r) => r.imageId);
    for (const id of ids) await fetch(`${server.url}/v1/images/${id}`, { headers }).then((r) => r.arrayBuffer());
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { cache: string };
    const result = await autocannon({
      url: server.url,
      connections: options.httpConnections,
      duration: options.httpSeconds,
      requests: ids.map((id) => ({ method: 'GET', path: `/v1/images/${id}`, headers })),
    });
    const http: HttpReport = {
      route: 'GET /v1/images/{imageId}',
      connections: options.httpConnections,
      durationS: options.httpSeconds,
      requests: result.requests.total,
      requestsPerSec: Math.round(result.requests.average),
      p50Ms: result.latency.p50,
      p99Ms: result.latency.p99,
      errors: result.errors,
      non2xx: result.non2xx,
      cache: health.cache,
    };
    return { load, http };
  } finally {
    await worker.stop(30_000);
    await server?.close();
    s3.destroy();
    sqs.destroy();
    await stack.stop();
  }
}
