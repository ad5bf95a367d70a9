/**
 * In-memory token bucket per client: `ratePerMinute` tokens refill continuously, the bucket holds
 * at most `burst`. Chosen over a Redis-backed limiter so the limit keeps working when Redis is down
 * and costs no round trip; the price is that each API instance (Lambda execution environment,
 * Node server) counts on its own. On AWS the HTTP API stage throttling is the global limit; this
 * one stops a single client from minting thousands of presigned URLs through one instance.
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();

  constructor(
    private readonly ratePerMinute: number,
    private readonly burst: number = ratePerMinute,
    private readonly now: () => number = () => Date.now(),
    private readonly maxClients = 10_000,
  ) {}

  /** Takes one token for `client`; returns 0 when allowed, otherwise the seconds until one is available. */
  take(client: string): number {
    const now = this.now();
    const perMs = this.ratePerMinute / 60_000;
    const bucket = this.buckets.get(client) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updated) * perMs);
    bucket.updated = now;
    this.buckets.delete(client);
    this.buckets.set(client, bucket); // most recently used last
    if (this.buckets.size > this.maxClients) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
  }
}
