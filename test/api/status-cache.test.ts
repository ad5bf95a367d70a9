import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../services/api/app.js';
import { createApiDeps } from '../../services/api/deps.js';
import { createLogger } from '../../services/core/logger.js';
import { uploadKey } from '../../services/core/keys.js';
import { authHeader } from '../support/auth.js';
import { useLocalStack } from '../support/local-stack.js';
import { configFor } from '../pipeline/support.js';

const stack = useLocalStack();
let deps: ReturnType<typeof createApiDeps>;
let app: ReturnType<typeof createApp>;
let prefix: string;
let alice: { authorization: string };
let redis: ReturnType<typeof createClient>;

beforeAll(async () => {
  const config = configFor(stack());
  prefix = config.redisKeyPrefix;
  deps = createApiDeps(config, createLogger({ level: 'silent' }));
  app = createApp(deps);
  alice = await authHeader(stack(), 'alice');
  redis = createClient({ url: stack().redisUrl });
  await redis.connect();
});
afterAll(async () => {
  await redis?.quit();
  await deps?.close();
});

/** An upload of alice's, queued as after its upload event was accepted. */
async function queuedUpload(): Promise<string> {
  const created = (await (await app.request('/v1/uploads', { method: 'POST', headers: { 'Content-Type': 'application/json', ...alice }, body: JSON.stringify({ contentType: 'image/png', contentLength: 10 }) })).json()) as { imageId: string };
  await deps.records.acceptObject({ imageId: created.imageId, objectKey: uploadKey(created.imageId), sequencer: '01', model: 'm', upload: true });
  return created.imageId;
}

describe('the status route caches records in Redis', () => {
  it('fills the cache on a miss: open records for 5 s, final ones for 1 h', async () => {
    const imageId = await queuedUpload();
    const key = `${prefix}image:${imageId}`;
    expect(await redis.exists(key)).toBe(0);
    expect((await app.request(`/v1/images/${imageId}`, { headers: alice })).status).toBe(200);
    const openTtl = await redis.ttl(key);
    expect(openTtl).toBeGreaterThan(0);
    expect(openTtl).toBeLessThanOrEqual(5);

    await deps.records.finishImage(imageId, '01', { status: 'done', model: 'm', caption: 'a cat', tokenIds: [30522, 1037, 102] });
    await redis.del(key);
    expect(await (await app.request(`/v1/images/${imageId}`, { headers: alice })).json()).toMatchObject({ status: 'done', caption: 'a cat' });
    const finalTtl = await redis.ttl(key);
    expect(finalTtl).toBeGreaterThan(3_500);
    expect(finalTtl).toBeLessThanOrEqual(3_600);
  });

  it('answers from the cache, and its refill after a miss never overwrites a value written meanwhile (SET NX)', async () => {
    const imageId = await queuedUpload();
    const key = `${prefix}image:${imageId}`;
    const stored = await deps.records.getImage(imageId);
    const fresher = { ...stored, status: 'done', caption: 'from the worker', updatedAt: new Date().toISOString() };
    await redis.set(key, JSON.stringify(fresher), { expiration: { type: 'EX', value: 60 } });
    const answer = (await (await app.request(`/v1/images/${imageId}`, { headers: alice })).json()) as { caption?: string; status: string };
    expect(answer).toMatchObject({ status: 'done', caption: 'from the worker' });

    // The race: the API's read missed, the worker then wrote the fresher record, then the API refills.
    const missing = Object.create(deps.cache) as typeof deps.cache;
    missing.getJson = async () => undefined;
    const racing = createApp({ ...deps, cache: missing });
    expect(await (await racing.request(`/v1/images/${imageId}`, { headers: alice })).json()).toMatchObject({ status: 'queued' });
    expect(JSON.parse((await redis.get(key)) ?? '{}')).toMatchObject({ status: 'done', caption: 'from the worker' });
    expect(await redis.ttl(key)).toBeGreaterThan(5);
  });
});
