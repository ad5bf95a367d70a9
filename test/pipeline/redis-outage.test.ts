import { readFile } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { createS3Client } from '../../services/aws/clients.js';
import type { Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { Metrics } from '../../services/core/metrics.js';
import type { ImageRecord } from '../../services/core/records.js';
import { createWorker } from '../../services/worker/deps.js';
import { fixturePath } from '../support/fixtures.js';
import { authHeader } from '../support/auth.js';
import { useLocalStack } from '../support/local-stack.js';
import { Counting, loadCaptioner } from './models.js';
import type { BlipModel } from '../../services/blip/index.js';
import { configFor, waitFor } from './support.js';

// The stack's own redis-server, so stopping it affects nobody else.
const stack = useLocalStack({ redis: 'own' });
const logger = createLogger({ level: 'silent' });
let config: Config;
let api: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
let worker: ReturnType<typeof createWorker>;
let counting: Counting;
let model: BlipModel | undefined;
const metrics = new Metrics({ service: 'worker', sink: null });

const drop = async (key: string, file: string) =>
  createS3Client(config).send(new PutObjectCommand({ Bucket: config.bucket, Key: key, Body: await readFile(fixturePath('images', file)) }));
const status = async (key: string) => {
  const res = await app.request(`/v1/objects?key=${encodeURIComponent(key)}`, { headers: await authHeader(stack(), 'operator') });
  return { code: res.status, body: (await res.json()) as ImageRecord };
};
const final = (r: { code: number; body: ImageRecord }) => r.code === 200 && (r.body.status === 'done' || r.body.status === 'failed');

beforeAll(async () => {
  config = configFor(stack());
  const loaded = await loadCaptioner();
  model = loaded.model;
  counting = new Counting(loaded.captioner);
  api = createApiDeps(config, logger);
  app = createApp(api);
  worker = createWorker(config, { captioner: counting }, { logger, metrics, worker: { waitSeconds: 1 } });
  void worker.worker.start();
});

afterAll(async () => {
  await worker?.worker.stop();
  await worker?.close();
  await api?.close();
  await model?.dispose();
});

describe('with Redis stopped', () => {
  it('keeps captioning, deduplicating and answering status from DynamoDB, and uses the cache again once Redis is back', async () => {
    await drop('outage/before.png', 'gradient_640x480.png');
    expect((await waitFor(() => status('outage/before.png'), final, 30_000, 'before')).body.status).toBe('done');
    expect((await (await app.request('/healthz')).json()) as { cache: string }).toMatchObject({ cache: 'ready' });

    await stack().stopRedis();
    await drop('outage/during-1.jpg', 'photo_astronaut.jpg');
    await drop('outage/during-2.jpg', 'photo_astronaut.jpg');
    const one = await waitFor(() => status('outage/during-1.jpg'), final, 30_000, 'during-1');
    const two = await waitFor(() => status('outage/during-2.jpg'), final, 30_000, 'during-2');
    expect([one.body.status, two.body.status]).toEqual(['done', 'done']);
    expect(two.body.tokenIds).toEqual(one.body.tokenIds);
    expect(counting.images).toBe(2); // gradient + astronaut once: dedup through DynamoDB alone
    expect((await status('outage/before.png')).body.status).toBe('done');
    expect((await (await app.request('/healthz')).json()) as { cache: string }).toMatchObject({ cache: 'unavailable' });

    await stack().startRedis();
    await waitFor(async () => api.cache.ready, (ready) => ready, 15_000, 'API cache reconnected');
    await drop('outage/after.png', 'photo_astronaut.jpg');
    const after = await waitFor(() => status('outage/after.png'), final, 30_000, 'after');
    expect(after.body).toMatchObject({ status: 'done', cacheHit: true });
    expect(counting.images).toBe(2);
    // The status route refilled the cache.
    expect(await api.cache.getJson(`image:${after.body.imageId}`, (v) => v)).toMatchObject({ status: 'done' });
  });
});
