import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { spawnManaged, type ManagedChild } from './child.js';
import { LocalStackError } from './errors.js';
import { LOCALHOST, freePort, waitForPort } from './net.js';

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

/** A `redis-server` child on a free port, without persistence; can be stopped and started again. */
export class OwnRedis {
  readonly port: number;
  readonly url: string;
  private child: ManagedChild | undefined;

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://${LOCALHOST}:${port}`;
  }

  static async start(): Promise<OwnRedis> {
    // A free port can be taken between probing it and redis-server binding it: try a few ports.
    for (let attempt = 1; ; attempt++) {
      const redis = new OwnRedis(await freePort());
      try {
        await redis.start();
        return redis;
      } catch (error) {
        if (attempt >= 3 || (error instanceof LocalStackError && error.code === 'missing_dependency')) throw error;
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
      await waitForPort(this.port, { deadlineMs: 10_000, aborted: child.exitReason });
    } catch (cause) {
      await child.stop();
      const reason = child.exitReason() ?? String(cause);
      throw new LocalStackError(
        'redis',
        reason.includes('ENOENT') ? 'missing_dependency' : 'start_failed',
        `redis-server did not start (${reason}); ${INSTALL_REDIS}.${child.outputTail() ? `\n${child.outputTail()}` : ''}`,
        { cause },
      );
    }
  }

  /** Stops the server (for outage tests); the port stays reserved for `start()`. */
  async stop(): Promise<void> {
    await this.child?.stop();
  }
}
