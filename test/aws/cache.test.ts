import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Cache, createCache } from '../../services/aws/cache.js';
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

describe('Cache with an RBAC user (as on ElastiCache)', () => {
  const username = `cache-test-${process.pid}`;
  const password = 'a-long-test-password-for-acl';
  let admin: ReturnType<typeof createClient>;

  beforeAll(async () => {
    admin = createClient({ url: redis.url });
    await admin.connect();
    // Limited like the stack's user: its own key prefix, no dangerous commands.
    await admin.sendCommand(['ACL', 'SETUSER', username, 'on', `>${password}`, '~acl-test:*', '+@all', '-@dangerous']);
  });
  afterAll(async () => {
    await admin?.sendCommand(['ACL', 'DELUSER', username]);
    await admin?.close();
  });

  it('authenticates as the user and works under its prefix', async () => {
    const authed = createCache(
      { redisUrl: redis.url, redisKeyPrefix: 'acl-test:', redisUsername: username, redisPassword: password },
      logger,
    );
    await waitFor(async () => authed.ready, (r) => r, 10_000, 'authenticated cache ready');
    expect(await authed.setJson('k', { ok: true }, 60)).toBe(true);
    expect(await authed.getJson('k', (v) => z.object({ ok: z.boolean() }).parse(v))).toEqual({ ok: true });
    expect(await admin.get('acl-test:k')).toBe('{"ok":true}');
    await authed.close();
  });

  it('with a wrong password it never becomes ready and every read is a miss', async () => {
    const wrong = createCache({ redisUrl: redis.url, redisKeyPrefix: 'acl-test:', redisUsername: username, redisPassword: 'wrong-password' }, logger);
    await admin.set('acl-test:present', '"value"');
    // The failed AUTH is the outcome the client reports: wait until the first connect settled.
    await waitFor(async () => (await admin.sendCommand(['ACL', 'LOG'])) as unknown[], (log) => log.length > 0, 10_000, 'auth failure logged');
    expect(wrong.ready).toBe(false);
    expect(await wrong.getJson('present', (v) => v)).toBeUndefined();
    await wrong.close();
  });
});
