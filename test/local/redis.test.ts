import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { ephemeralRangeStart, PORT_LOCK_DIR } from '../../services/local/port-reservation.js';
import { useLocalStack } from '../support/local-stack.js';

// An own redis-server that tests can stop and start again (Redis outage).
const stack = useLocalStack({ redis: 'own' });

async function ping(url: string): Promise<string> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 1000 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

describe("local stack with redis: 'own'", () => {
  it('runs its own redis-server on a reserved 127.0.0.1 port', async () => {
    const s = stack();
    expect(s.redisMode).toBe('own');
    expect(s.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(s.redisUrl).not.toBe('redis://127.0.0.1:6379');
    expect(s.env().BLIPLINE_REDIS_URL).toBe(s.redisUrl);
    expect(await ping(s.redisUrl!)).toBe('PONG');
  });

  it('stops and starts Redis on the same URL for outage tests, the port reserved meanwhile', async () => {
    const s = stack();
    const port = Number(new URL(s.redisUrl!).port);
    expect(port).toBeLessThan(ephemeralRangeStart());
    await s.stopRedis();
    expect(await ping(s.redisUrl!)).toMatch(/^failed/);
    // another stack starting now cannot take the port while Redis is down
    expect(await readFile(path.join(PORT_LOCK_DIR, `${port}.lock`), 'utf8')).toBe(String(process.pid));
    await s.startRedis();
    expect(await ping(s.redisUrl!)).toBe('PONG');
  });
});
