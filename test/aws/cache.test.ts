import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Cache } from '../../services/aws/cache.js';
import { createLogger } from '../../services/core/logger.js';
import { OwnRedis } from '../../services/local/redis.js';
import { waitFor } from '../pipeline/support.js';

const logger = createLogger({ level: 'silent' });
let redis: OwnRedis;
let cache: Cache;

beforeAll(async () => {
  redis = await OwnRedis.start();
  cache = new Cache({ url: redis.url, keyPrefix: 'cache-test:', logger, timeoutMs: 150 });
  await waitFor(async () => cache.ready, (r) => r, 10_000, 'redis ready');
});

afterAll(async () => {
  await cache?.close();
  await redis?.stop();
});

describe('Cache', () => {
  it('reads back what it wrote, honours NX, and ignores unreadable entries', async () => {
    expect(await cache.setJson('k1', { a: 1 }, 60)).toBe(true);
    expect(await cache.getJson('k1', (v) => z.object({ a: z.number() }).parse(v))).toEqual({ a: 1 });
    expect(await cache.setJson('k1', { a: 2 }, 60, { onlyIfAbsent: true })).toBe(false);
    expect(await cache.getJson('k1', (v) => z.object({ a: z.string() }).parse(v))).toBeUndefined();
    expect(await cache.getJson('missing', (v) => v)).toBeUndefined();
  });

  it('turns a Redis outage into misses, then reconnects on its own', async () => {
    await cache.setJson('k2', 'before', 60);
    await redis.stop();
    for (let i = 0; i < 5; i += 1) {
      expect(await cache.getJson('k2', (v) => v)).toBeUndefined();
      expect(await cache.setJson('k2', 'during', 60)).toBe(false);
    }
    await redis.start();
    await waitFor(async () => cache.setJson('k3', 'after', 60), (ok) => ok, 15_000, 'reconnect');
    expect(await cache.getJson('k3', (v) => v)).toBe('after');
  });

  it('is a permanent miss without a URL', async () => {
    const disabled = new Cache({ url: undefined, keyPrefix: 'x:', logger });
    expect(disabled.enabled).toBe(false);
    expect(await disabled.setJson('a', 1, 10)).toBe(false);
    expect(await disabled.getJson('a', (v) => v)).toBeUndefined();
    await disabled.close();
  });
});
