import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { spawnManaged, type ManagedChild } from './child.js';
import { LocalStackError } from './errors.js';
import { LOCALHOST } from './net.js';
import { type PortReservation, reservePort } from './port-reservation.js';

export const SHARED_REDIS_URL = `redis://${LOCALHOST}:6379`;
const INSTALL_REDIS = 'install Redis (Debian: apt-get install redis-server)';

/** Whether a Redis server answers PING at `url`. */
export async function redisAnswers(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A random key prefix so that several stacks can share one Redis. */
export function randomRedisPrefix(): string {
  return `blipline-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` (used on stop for the shared Redis; never FLUSHALL). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const client = createClient({ url, socket: { connectTimeout: 500, reconnectStrategy: false } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) await client.unlink(keys);
    }
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A `redis-server` child on a reserved port, without persistence; can be stopped and started again. */
export class OwnRedis {
  readonly port: number;
  readonly url: string;
  private child: ManagedChild | undefined;

  private constructor(private readonly reservation: PortReservation) {
    this.port = reservation.port;
    this.url = `redis://${LOCALHOST}:${this.port}`;
  }

  /** `reserve` hands out the ports to try (tests pass one that yields a taken port first). */
  static async start(reserve: () => Promise<PortReservation> = reservePort): Promise<OwnRedis> {
    // redis-server cannot listen on port 0 (it means "no TCP"): it gets a reserved port, and another one
    // when it reports the port taken anyway (by a program that does not honour the reservations).
    for (let attempt = 1; ; attempt++) {
      const redis = new OwnRedis(await reserve());
      try {
        await redis.start();
        return redis;
      } catch (error) {
        await redis.close();
        if (attempt >= 3 || !(error instanceof LocalStackError && error.code === 'port_in_use')) throw error;
      }
    }
  }

  /** Starts the server again on the same port (after `stop()`); no-op while it runs. */
  async start(): Promise<void> {
    if (this.child && this.child.exitReason() === undefined) return;
    const child = spawnManaged('redis-server', [
      '--port',
      String(this.port),
      '--bind',
      LOCALHOST,
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    this.child = child;
    try {
      // its own words, not "something answers on the port"
      await child.waitForOutput(/Ready to accept connections/, 10_000);
    } catch (cause) {
      await child.stop();
      const reason = child.exitReason() ?? String(cause);
      const output = child.outputTail();
      throw new LocalStackError(
        'redis',
        reason.includes('ENOENT') ? 'missing_dependency' : /Address already in use/.test(output) ? 'port_in_use' : 'start_failed',
        `redis-server did not start (${reason}); ${INSTALL_REDIS}.${output ? `\n${output}` : ''}`,
        { cause },
      );
    }
  }

  /** Stops the server (for outage tests); the port stays reserved for `start()`, so no other stack takes it meanwhile. */
  async stop(): Promise<void> {
    await this.child?.stop();
  }

  /** Stops the server for good and frees its port. */
  async close(): Promise<void> {
    await this.stop();
    await this.reservation.release();
  }
}
