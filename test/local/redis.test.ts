import { readFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { ephemeralRangeStart, PORT_LOCK_DIR, reservePort } from '../../services/local/port-reservation.js';
import { OwnRedis } from '../../services/local/redis.js';
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

describe('OwnRedis on a port another program took', () => {
  it('is not fooled by the program answering there: it sees its own bind failure and starts on another port', async () => {
    const squatter = createServer((socket) => socket.on('error', () => undefined).end('+PONG\r\n'));
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const ports: number[] = [];
    let first = true;
    const reserve = async () => {
      // first a "reservation" of the squatted port, as if the squatter ignored the lock files
      const reservation = first ? { port: taken, release: async () => undefined } : await reservePort();
      first = false;
      ports.push(reservation.port);
      return reservation;
    };
    try {
      const redis = await OwnRedis.start(reserve);
      try {
        expect(ports).toHaveLength(2);
        expect(ports[0]).toBe(taken);
        expect(redis.port).toBe(ports[1]);
        expect(await ping(redis.url)).toBe('PONG');
      } finally {
        await redis.close();
      }
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });
});
