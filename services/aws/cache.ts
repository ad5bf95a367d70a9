import { createClient } from 'redis';
import type { Logger } from 'pino';
import type { Config } from '../core/config.js';
import { PK } from '../core/keys.js';

type RedisClient = ReturnType<typeof createClient>;

export interface CacheOptions {
  /** redis:// or rediss:// URL; undefined disables the cache (every read is a miss). */
  url: string | undefined;
  keyPrefix: string;
  logger: Logger;
  /** RBAC user (Valkey/Redis ACL); absent: the default user. */
  username?: string;
  /** The user's password (AUTH / HELLO on every connect). */
  password?: string;
  /** Upper bound of every cache call in ms; past it the call counts as a miss. @default 150 */
  timeoutMs?: number;
}

/**
 * Redis read-through cache. Failure-tolerant by design: every call is bounded by a short timeout,
 * commands are not queued while disconnected, and any error is a miss (reads) or a no-op (writes).
 * DynamoDB stays the source of truth, so a Redis outage costs latency, never a failed request or
 * job. The client reconnects on its own (backoff capped at 2 s); an outage is logged once, and the
 * recovery once.
 */
export class Cache {
  private readonly client: RedisClient | undefined;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly prefix: string;
  private degraded = false;
  private connecting: Promise<void> = Promise.resolve();

  constructor(options: CacheOptions) {
    this.logger = options.logger;
    this.prefix = options.keyPrefix;
    this.timeoutMs = options.timeoutMs ?? 150;
    if (!options.url) {
      this.logger.warn('BLIPLINE_REDIS_URL is not set: the Redis cache is disabled (reads go to DynamoDB)');
      return;
    }
    this.client = createClient({
      url: options.url,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      disableOfflineQueue: true,
      socket: {
        connectTimeout: 1_000,
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2_000),
      },
    });
    this.client.on('error', (error: Error) => this.markDown(error));
    this.client.on('ready', () => {
      if (this.degraded) this.logger.info('redis cache reachable again');
      this.degraded = false;
    });
    this.connecting = this.client.connect().then(
      () => undefined,
      (error: unknown) => this.markDown(error),
    );
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  get ready(): boolean {
    return this.client?.isReady === true;
  }

  private markDown(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn({ err: error }, 'redis cache unavailable: treating reads as misses until it is back');
  }

  private async bounded<T>(op: (client: RedisClient) => Promise<T>): Promise<T | undefined> {
    const client = this.client;
    if (!client || !client.isReady) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        op(client),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), this.timeoutMs);
        }),
      ]);
    } catch (error) {
      this.markDown(error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Parsed JSON value, or undefined on a miss, a timeout or any Redis error. */
  async getJson<T>(key: string, parse: (value: unknown) => T): Promise<T | undefined> {
    const raw = await this.bounded((c) => c.get(this.prefix + key));
    if (typeof raw !== 'string') return undefined;
    try {
      return parse(JSON.parse(raw));
    } catch (error) {
      this.logger.warn({ err: error, key }, 'ignoring an unreadable cache entry');
      return undefined;
    }
  }

  /** Stores a JSON value with a TTL; `onlyIfAbsent` never overwrites a (fresher) existing value. */
  async setJson(key: string, value: unknown, ttlSeconds: number, options: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    const out = await this.bounded((c) =>
      c.set(this.prefix + key, JSON.stringify(value), { expiration: { type: 'EX', value: ttlSeconds }, ...(options.onlyIfAbsent ? { condition: 'NX' as const } : {}) }),
    );
    return out === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.bounded((c) => c.del(this.prefix + key));
  }

  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    // A close while the first connect is in flight would leave its socket behind: let it settle (bounded).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.connecting, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
    try {
      if (client.isReady) await client.close();
      else if (client.isOpen) client.destroy();
    } catch {
      client.destroy();
    }
  }
}

/** The cache the configuration describes: URL, key prefix, RBAC user and password. */
export function createCache(config: Pick<Config, 'redisUrl' | 'redisKeyPrefix' | 'redisUsername' | 'redisPassword'>, logger: Logger): Cache {
  return new Cache({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, logger, username: config.redisUsername, password: config.redisPassword });
}

/** Cache key names (under the configured prefix). */
export const CACHE_KEYS = {
  image: (imageId: string) => `image:${imageId}`,
  caption: (model: string, sha256: string, prompt?: string) => PK.caption(model, sha256, prompt),
} as const;
