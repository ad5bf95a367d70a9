import { describe, expect, it } from 'vitest';
import { backoffDelay, nextPollDelay, POLL_BACKOFF } from '../../services/web/src/state/backoff.js';

describe('poll backoff', () => {
  it('grows exponentially from the base and is capped', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 50].map((n) => backoffDelay(n, 1));
    expect(ceilings[0]).toBe(POLL_BACKOFF.baseMs);
    expect(ceilings[1]).toBe(Math.round(POLL_BACKOFF.baseMs * POLL_BACKOFF.factor));
    for (let i = 1; i < ceilings.length; i += 1) expect(ceilings[i]).toBeGreaterThanOrEqual(ceilings[i - 1] as number);
    expect(ceilings.at(-1)).toBe(POLL_BACKOFF.capMs);
    expect(Math.max(...ceilings)).toBeLessThanOrEqual(POLL_BACKOFF.capMs);
  });

  it('keeps half of each delay fixed and jitters the other half', () => {
    for (const n of [0, 3, 20]) {
      const ceiling = backoffDelay(n, 1);
      expect(backoffDelay(n, 0)).toBe(Math.round(ceiling / 2));
      const mid = backoffDelay(n, 0.5);
      expect(mid).toBeGreaterThan(backoffDelay(n, 0));
      expect(mid).toBeLessThan(ceiling);
    }
  });

  it('clamps odd inputs', () => {
    expect(backoffDelay(-3, 2)).toBe(POLL_BACKOFF.baseMs);
    expect(backoffDelay(2.7, -1)).toBe(backoffDelay(2, 0));
  });

  it('waits at least as long as a Retry-After asks, up to 30 s', () => {
    expect(nextPollDelay(0, 0, null)).toBe(backoffDelay(0, 0));
    expect(nextPollDelay(0, 0, 10_000)).toBe(10_000);
    expect(nextPollDelay(0, 0, 600_000)).toBe(30_000);
    expect(nextPollDelay(20, 1, 10)).toBe(POLL_BACKOFF.capMs);
  });
});
